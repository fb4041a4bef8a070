"""Performance monitoring over the prediction log (seed 000 ``PerformanceMonitor``).

Everything here is computed by polars over the Parquet log: one scan per question, grouped
into a small frame of counts, from which the metrics, their intervals and the charts are
derived. Nothing loads the log into pandas.

Conventions
-----------
- Classes are integers; the positive class is ``1`` (``positive=`` changes it). Precision,
  recall, specificity, FPR and FNR are for that class (one-vs-rest when there are more).
- ``confidence`` is the model's score for the positive class (the demo and the threshold
  tuner use ``prediction = confidence >= threshold``). The Brier score is
  ``mean((confidence - [actual == positive])^2)``; the expected calibration error (ECE) uses
  ten equal-width bins of that score (Naeini et al. 2015).
- Every proportion is an :class:`Estimate`: the value, the Wilson 95 % interval and the
  counts it rests on. F1 is not a proportion; it carries the number of rows it rests on
  (``tp + fp + fn``).
- A window with fewer labelled rows than ``min_labelled`` (default 100, seed 001
  ``ml:data-sufficiency``: "insufficient prediction data (<100 predictions)") is a result
  that says so, never an exception or a NaN.

Modules: :mod:`~mlmm.monitor.classification` (counts to metrics), :mod:`~mlmm.monitor.timeline`,
:mod:`~mlmm.monitor.compare` (versions, error analysis), :mod:`~mlmm.monitor.baseline` and
:mod:`~mlmm.monitor.assessment` (one assessment per model and window). Windows are
:class:`mlmm.window.Window`.
"""

from __future__ import annotations

from ..window import Window, resolve_window
from .assessment import (
    Assessment,
    DataSufficiency,
    assess,
    data_sufficiency,
    floor_of,
    last_prediction_time,
    report_end,
    summary,
)
from .baseline import (
    DEGRADATION_CRITICAL,
    DEGRADATION_WARNING,
    DegradationResult,
    MetricDegradation,
    concept_drift,
    degradation,
)
from .classification import DEFAULT_MIN_LABELLED, PROPORTIONS, Estimate, Metrics, metrics
from .compare import ComparisonResult, MetricComparison, analyze_errors, compare_versions
from .timeline import trend_chart, trends

__all__ = [
    "DEFAULT_MIN_LABELLED",
    "DEGRADATION_CRITICAL",
    "DEGRADATION_WARNING",
    "PROPORTIONS",
    "Assessment",
    "ComparisonResult",
    "DataSufficiency",
    "DegradationResult",
    "Estimate",
    "MetricComparison",
    "MetricDegradation",
    "Metrics",
    "Window",
    "analyze_errors",
    "assess",
    "compare_versions",
    "concept_drift",
    "data_sufficiency",
    "degradation",
    "floor_of",
    "last_prediction_time",
    "report_end",
    "metrics",
    "resolve_window",
    "summary",
    "trend_chart",
    "trends",
]
