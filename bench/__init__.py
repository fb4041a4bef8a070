"""Benchmarks of mlmm against the tools users would otherwise pick (issue 3, section 7).

Run with ``python -m bench [--quick] [--only tracking|bulk|registry|monitoring|drift|router|ab|tuning|reports|widgets|s3|spark]`` (``make bench``). Every
area runs mlmm and its peers side by side in one process on the same generated data (numpy,
seeded, in a temporary directory; nothing is downloaded), prints one table per area with
medians and ratios against mlmm, and writes everything to ``bench/results/latest.json``.

Peers that need optional packages (pandas, mlflow: the ``bench`` extra) are imported inside
the functions that use them, so this package imports without them. Evidently (drift area) runs
in its own virtualenv ``.venv-evidently`` (it needs pandas < 3), never in ``.venv``.
"""

from __future__ import annotations

AREAS = ("tracking", "bulk", "registry", "monitoring", "drift", "router", "ab", "tuning", "reports", "widgets", "s3", "spark")

__all__ = ["AREAS"]
