"""Auto-tuning: exact threshold sweeps, threshold choice, adaptive nudges, hyperparameter search,
and the services that run them on the workspace's prediction log.

The pure core is a set of functions of arrays or frames: no I/O, no globals, deterministic given
a seed. The workspace services (:mod:`mlmm.tuning.service`, :mod:`mlmm.tuning.runs`) read scores
and labels from the prediction log, call them, store every run in the registry and apply a
result as a configuration revision. Bad input raises :class:`mlmm.errors.ValidationError` naming
the argument, its value and what was expected.

Conventions
-----------
* A row is predicted positive when ``score >= threshold`` (inclusive), as in the demo
  (``prediction = confidence >= threshold``) and in scikit-learn's ``precision_recall_curve`` /
  ``roc_curve``. A label is positive when it is ``1`` / ``True``.
* Scores must be finite (a NaN or infinite score raises; drop unscored rows first) and labels
  must be 0/1 or booleans. Rows of weight 0 are dropped, as scikit-learn does.
* Undefined ratios: precision with nothing predicted positive is ``1.0`` (scikit-learn's last
  point of the precision-recall curve); recall/TPR without positives and FPR/specificity without
  negatives are ``NaN``; F-scores are ``NaN`` only when there are no positives and nothing is
  predicted positive. :func:`optimize_threshold` needs both classes and raises otherwise.

==================================  ========================  ==================================================
family                              module                    functions
==================================  ========================  ==================================================
the curve                           :mod:`.curve`             :func:`sweep` (every distinct threshold, exact,
                                                              O(n log n)), :func:`grid_view`,
                                                              :func:`grid_thresholds`
choosing a threshold                :mod:`.threshold`         :func:`optimize_threshold` (:class:`ThresholdResult`)
precision/recall trade-off          :mod:`.tradeoff`          :func:`tradeoff_table`, :func:`tradeoff_chart`
nudging from live error rates       :mod:`.adjustment`        :func:`adaptive_adjustment` (:class:`AdaptiveResult`)
hyperparameters                     :mod:`.search`            :func:`grid_search`, :func:`parameter_grid`,
                                                              :func:`time_split`
on the workspace                    :mod:`.service`           :func:`tune_threshold`, :func:`adaptive`,
                                                              :func:`grid_search_detector`
the runs stored in the registry     :mod:`.runs`              :class:`TuningRun`, :func:`history`
==================================  ========================  ==================================================

References
----------
Fawcett, T. (2006). An introduction to ROC analysis. Pattern Recognition Letters 27, 861-874.
Youden, W. J. (1950). Index for rating diagnostic tests. Cancer 3, 32-35.
Elkan, C. (2001). The foundations of cost-sensitive learning. IJCAI 2001.
Efron, B. & Tibshirani, R. (1993). An Introduction to the Bootstrap, ch. 13 (percentile interval).
Bergstra, J. & Bengio, Y. (2012). Random search for hyper-parameter optimization. JMLR 13, 281-305.
"""

from __future__ import annotations

from .adjustment import AdaptiveResult, adaptive_adjustment
from .curve import METRICS, grid_thresholds, grid_view, sweep
from .runs import TuningRun, history
from .search import grid_search, parameter_grid, time_split
from .service import adaptive, grid_search_detector, tune_threshold
from .threshold import DEFAULT_MIN_IMPROVEMENT, OBJECTIVES, ThresholdResult, optimize_threshold
from .tradeoff import tradeoff_chart, tradeoff_table

__all__ = [
    "DEFAULT_MIN_IMPROVEMENT",
    "METRICS",
    "OBJECTIVES",
    "AdaptiveResult",
    "ThresholdResult",
    "TuningRun",
    "adaptive",
    "adaptive_adjustment",
    "grid_search",
    "grid_search_detector",
    "grid_thresholds",
    "grid_view",
    "history",
    "optimize_threshold",
    "parameter_grid",
    "sweep",
    "time_split",
    "tradeoff_chart",
    "tradeoff_table",
    "tune_threshold",
]
