"""The demo: a month of three production classifiers in a workspace, and the demo's queue-anomaly model.

- :mod:`~mlmm.demo.build`: :func:`build_demo` writes the demo workspace (``mlmm ws demo``) and
  :func:`demo_info` reads what it made;
- :mod:`~mlmm.demo.data`: :func:`~mlmm.demo.data.generate`, the synthetic, deterministic month
  (pure: numpy and polars, no I/O), from the story in ``_story`` and the row samplers in ``_sampling``;
- :mod:`~mlmm.demo.queue_anomaly`: :class:`~mlmm.demo.queue_anomaly.QueueAnomalyDetector`, the
  z-score and IQR rules behind the demo's ``queue-anomaly`` model (tuned by :mod:`mlmm.tune`).
"""

from __future__ import annotations

from .build import DemoSummary, build_demo, demo_info

__all__ = ["DemoSummary", "build_demo", "demo_info"]
