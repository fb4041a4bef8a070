"""Auto-tuning: exact threshold sweeps, threshold choice, adaptive nudges, hyperparameter search.

Everything here is a pure function of arrays or frames: no I/O, no globals, deterministic given
a seed. The workspace services read scores and labels from the prediction log and call these.
Bad input raises :class:`mlmm.errors.ValidationError` naming the argument, its value and what
was expected.

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

========================================  ==========================================================
family                                    functions
========================================  ==========================================================
the curve                                 :func:`sweep` (every distinct threshold, exact,
                                          O(n log n)), :func:`grid_view`, :func:`grid_thresholds`
choosing a threshold                      :func:`optimize_threshold` (:class:`ThresholdResult`)
precision/recall trade-off                :func:`tradeoff_table`, :func:`tradeoff_chart`
nudging from live error rates             :func:`adaptive_adjustment` (:class:`AdaptiveResult`)
hyperparameters                           :func:`grid_search`, :func:`parameter_grid`,
                                          :func:`time_split`
========================================  ==========================================================

How the best threshold is chosen (ties)
---------------------------------------
Candidates are every distinct score (exact search, the default) or the points of a grid
``(start, stop, step)``, restricted to ``bounds``; in the exact search the current threshold and
the lower bound are candidates too, because a threshold between two scores is as good as the
score above it. Among candidates whose objective is within ``1e-12`` (relative) of the best,
the one **closest to the current threshold** wins (so an optimum that includes the current
threshold keeps it: no change for nothing), then the **higher threshold** (fewer rows flagged).

References
----------
Fawcett, T. (2006). An introduction to ROC analysis. Pattern Recognition Letters 27, 861-874.
Youden, W. J. (1950). Index for rating diagnostic tests. Cancer 3, 32-35.
Elkan, C. (2001). The foundations of cost-sensitive learning. IJCAI 2001.
Efron, B. & Tibshirani, R. (1993). An Introduction to the Bootstrap, ch. 13 (percentile interval).
Bergstra, J. & Bengio, Y. (2012). Random search for hyper-parameter optimization. JMLR 13, 281-305.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import datetime as _dt
import itertools
import logging
import math
import multiprocessing
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl

from ._util import jsonable as _jsonable
from .errors import ValidationError

__all__ = [
    "OBJECTIVES",
    "METRICS",
    "ThresholdResult",
    "AdaptiveResult",
    "sweep",
    "grid_thresholds",
    "grid_view",
    "optimize_threshold",
    "tradeoff_table",
    "tradeoff_chart",
    "adaptive_adjustment",
    "parameter_grid",
    "grid_search",
    "time_split",
]

log = logging.getLogger("mlmm")

OBJECTIVES = ("f1", "fbeta", "recall_at_precision", "cost", "youden", "accuracy")
"""The objectives :func:`optimize_threshold` can maximize (``"cost"`` is minimized)."""

METRICS = ("precision", "recall", "fpr", "specificity", "accuracy", "f1", "fbeta", "cost", "youden_j",
           "positive_rate")
"""The metric columns of a :func:`sweep` besides ``threshold, tp, fp, tn, fn``."""

_OBJECTIVE_COLUMN = {"f1": "f1", "fbeta": "fbeta", "recall_at_precision": "recall", "cost": "cost",
                     "youden": "youden_j", "accuracy": "accuracy"}
_TIE_RTOL = 1e-12


# ============================================================================ validation
def _number(value: Any, name: str, *, minimum: float | None = None, exclusive: bool = False,
            maximum: float | None = None) -> float:
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
    x = float(value) if ok else math.nan
    if ok and math.isfinite(x):
        low_ok = minimum is None or (x > minimum if exclusive else x >= minimum)
        if low_ok and (maximum is None or x <= maximum):
            return x
    if minimum is not None and maximum is not None:
        want = f"a number in {'(' if exclusive else '['}{minimum:g}, {maximum:g}]"
    elif minimum is not None:
        want = f"a finite number {'>' if exclusive else '>='} {minimum:g}"
    else:
        want = "a finite number"
    raise ValidationError(f"{name}={value!r}: expected {want}")


def _array(values: Any, name: str) -> np.ndarray:
    if isinstance(values, (pl.Series, pl.Expr)):
        if isinstance(values, pl.Expr):
            raise ValidationError(f"{name}: expected a sequence, array or polars Series, got a polars expression")
        values = values.to_numpy()
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValidationError(f"{name}: expected a 1-D sequence, got shape {arr.shape}")
    return arr


def _scores(values: Any, name: str = "scores") -> np.ndarray:
    arr = _array(values, name)
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == object):
        raise ValidationError(f"{name}: expected numbers, got dtype {arr.dtype}")
    try:
        x = arr.astype(np.float64, copy=False)
    except (TypeError, ValueError):
        raise ValidationError(f"{name}: expected numbers, got {type(values).__name__} of {arr.dtype}") from None
    bad = ~np.isfinite(x)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValidationError(f"{name}[{i}]={float(x[i])!r}: expected a finite number (drop unscored rows first)")
    return x


def _labels(values: Any, n: int, name: str = "labels") -> np.ndarray:
    arr = _array(values, name)
    if arr.size != n:
        raise ValidationError(f"{name}: expected {n} values (one per score), got {arr.size}")
    if arr.dtype == bool:
        return arr
    if not np.issubdtype(arr.dtype, np.number):
        raise ValidationError(f"{name}: expected 0/1 or booleans, got dtype {arr.dtype}")
    ok = (arr == 0) | (arr == 1)
    if not ok.all():
        i = int(np.argmax(~ok))
        raise ValidationError(f"{name}[{i}]={arr[i].item()!r}: expected 0 or 1 (or a boolean)")
    return arr == 1


def _weights(values: Any, n: int) -> np.ndarray:
    w = _scores(values, "weights")
    if w.size != n:
        raise ValidationError(f"weights: expected {n} values (one per score), got {w.size}")
    neg = w < 0
    if neg.any():
        i = int(np.argmax(neg))
        raise ValidationError(f"weights[{i}]={float(w[i])!r}: expected a number >= 0")
    return w


def _choice(value: Any, name: str, choices: Sequence[str]) -> str:
    if value not in choices:
        raise ValidationError(f"{name}={value!r}: expected one of {', '.join(repr(c) for c in choices)}")
    return value


def _interval(value: Any, name: str) -> tuple[float, float]:
    try:
        lo, hi = value
    except (TypeError, ValueError):
        raise ValidationError(f"{name}={value!r}: expected a pair (low, high)") from None
    lo = _number(lo, f"{name}[0]")
    hi = _number(hi, f"{name}[1]")
    if lo > hi:
        raise ValidationError(f"{name}={value!r}: expected low <= high")
    return lo, hi


# ============================================================================ the curve
def _div(num: Any, den: Any, empty: float) -> np.ndarray:
    """``num / den`` with ``empty`` where ``den == 0`` (the 0/0 we define, so no warning)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.asarray(np.true_divide(num, den), dtype=np.float64)
    if np.ndim(den) == 0:
        if den == 0:
            out = np.full(out.shape, empty)
        return out
    zero = np.asarray(den) == 0
    if zero.any():
        out = np.array(out, copy=True) if out.ndim == 0 else out
        out[np.broadcast_to(zero, out.shape)] = empty
    return out


def _metrics(tp: Any, fp: Any, pos: Any, neg: Any, *, beta: float, fp_cost: float, fn_cost: float
             ) -> dict[str, np.ndarray]:
    """Every metric of the sweep from the counts (vectorised; conventions in the module docstring).

    ``pos``/``neg`` are the class totals (scalars for a curve, arrays for bootstrap resamples).
    F-beta is written ``(1 + b^2) tp / (tp + fp + b^2 (tp + fn))``, scikit-learn's form.
    """
    tp = np.asarray(tp, dtype=np.float64)
    fp = np.asarray(fp, dtype=np.float64)
    pos = np.asarray(pos, dtype=np.float64)
    neg = np.asarray(neg, dtype=np.float64)
    fn = pos - tp
    tn = neg - fp
    flagged = tp + fp
    recall = _div(tp, pos, math.nan)
    fpr = _div(fp, neg, math.nan)
    b2 = beta * beta
    return {
        "precision": _div(tp, flagged, 1.0),
        "recall": recall,
        "fpr": fpr,
        "specificity": _div(tn, neg, math.nan),
        "accuracy": _div(tp + tn, pos + neg, math.nan),
        "f1": _div(2.0 * tp, flagged + pos, math.nan),
        "fbeta": _div((1.0 + b2) * tp, flagged + b2 * pos, math.nan),
        "cost": fp_cost * fp + fn_cost * fn,
        "youden_j": recall - fpr,
        "positive_rate": _div(flagged, pos + neg, math.nan),
    }


def _counts_desc(s: np.ndarray, y: np.ndarray, w: np.ndarray | None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct thresholds (descending) and the positives / negatives scoring at or above each."""
    if w is None:
        # Sort each class on its own (SIMD sorts), then merge the two runs with a stable argsort,
        # which timsort does in linear time: faster than one argsort of all scores.
        neg_sorted = np.sort(s[~y])
        pos_sorted = np.sort(s[y])
        merged = np.concatenate([neg_sorted, pos_sorted])
        order = np.argsort(merged, kind="stable")
        values = merged[order][::-1]
        is_pos = (order >= neg_sorted.size)[::-1]
        cum_pos = np.cumsum(is_pos, dtype=np.int64)
        ends = np.flatnonzero(values[1:] != values[:-1])
        ends = np.append(ends, values.size - 1)
        tp = cum_pos[ends]
        fp = (ends + 1) - tp
        return values[ends], tp, fp
    order = np.argsort(s, kind="stable")[::-1]
    values = s[order]
    wy = np.where(y, w, 0.0)[order]
    wn = np.where(y, 0.0, w)[order]
    ends = np.flatnonzero(values[1:] != values[:-1])
    ends = np.append(ends, values.size - 1)
    return values[ends], np.cumsum(wy)[ends], np.cumsum(wn)[ends]


def _prepare(scores: Any, labels: Any, weights: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    s = _scores(scores)
    if s.size == 0:
        raise ValidationError("scores: expected at least one row, got none")
    y = _labels(labels, s.size)
    w = None
    if weights is not None:
        w = _weights(weights, s.size)
        keep = w > 0
        if not keep.any():
            raise ValidationError("weights: expected at least one weight > 0, got all zero")
        if not keep.all():
            s, y, w = s[keep], y[keep], w[keep]
    return s, y, w


def sweep(
    scores: Any,
    labels: Any,
    *,
    weights: Any = None,
    fp_cost: float = 1.0,
    fn_cost: float = 1.0,
    beta: float = 1.0,
) -> pl.DataFrame:
    """Every metric at every distinct threshold, exactly, in O(n log n).

    One sort and cumulative sums give the confusion matrix at each distinct score (the only
    places where it changes); the metrics follow from the counts. Rows are in descending
    threshold order; the first row is ``threshold = inf`` (nothing predicted positive), so that
    every threshold, however high, has a row (see :func:`grid_view`).

    Parameters
    ----------
    scores : 1-D numbers (list, numpy array, polars Series), finite; the score of the positive class.
    labels : 1-D 0/1 or booleans, as long as ``scores``.
    weights : optional non-negative row weights (``sample_weight``); rows of weight 0 are dropped.
        With weights the counts are sums of weights (Float64 columns).
    fp_cost, fn_cost : the cost of one false positive / false negative, for the ``cost`` column.
    beta : the ``beta`` of the ``fbeta`` column (recall weighs ``beta`` times as much as precision).

    Returns
    -------
    polars.DataFrame
        ``threshold, tp, fp, tn, fn, precision, recall, fpr, specificity, accuracy, f1, fbeta,
        cost, youden_j, positive_rate``: ``recall`` is the TPR, ``youden_j = recall - fpr``,
        ``cost = fp_cost * fp + fn_cost * fn``, ``positive_rate`` the share predicted positive.
        Undefined ratios follow the module's conventions (precision 1.0 with nothing predicted
        positive; recall NaN without positives; FPR NaN without negatives).

    Raises
    ------
    ValidationError
        No rows, a non-finite score, a label other than 0/1, negative weights, lengths differ.

    References
    ----------
    Fawcett (2006), algorithm 1 (the ROC curve by one sort). Equal to scikit-learn's
    ``precision_recall_curve`` and ``roc_curve(drop_intermediate=False)`` point for point.

    Examples
    --------
    >>> curve = sweep([0.1, 0.4, 0.35, 0.8, 0.8], [0, 0, 1, 1, 0])
    >>> curve.select("threshold", "tp", "fp", "precision", "recall", "f1")
    shape: (5, 6)
    ┌───────────┬─────┬─────┬───────────┬────────┬──────────┐
    │ threshold ┆ tp  ┆ fp  ┆ precision ┆ recall ┆ f1       │
    │ ---       ┆ --- ┆ --- ┆ ---       ┆ ---    ┆ ---      │
    │ f64       ┆ i64 ┆ i64 ┆ f64       ┆ f64    ┆ f64      │
    ╞═══════════╪═════╪═════╪═══════════╪════════╪══════════╡
    │ inf       ┆ 0   ┆ 0   ┆ 1.0       ┆ 0.0    ┆ 0.0      │
    │ 0.8       ┆ 1   ┆ 1   ┆ 0.5       ┆ 0.5    ┆ 0.5      │
    │ 0.4       ┆ 1   ┆ 2   ┆ 0.333333  ┆ 0.5    ┆ 0.4      │
    │ 0.35      ┆ 2   ┆ 2   ┆ 0.5       ┆ 1.0    ┆ 0.666667 │
    │ 0.1       ┆ 2   ┆ 3   ┆ 0.4       ┆ 1.0    ┆ 0.571429 │
    └───────────┴─────┴─────┴───────────┴────────┴──────────┘
    """
    fp_cost = _number(fp_cost, "fp_cost", minimum=0.0)
    fn_cost = _number(fn_cost, "fn_cost", minimum=0.0)
    beta = _number(beta, "beta", minimum=0.0, exclusive=True)
    s, y, w = _prepare(scores, labels, weights)
    thr, tp, fp = _counts_desc(s, y, w)
    zero = np.zeros(1, dtype=tp.dtype)
    thr = np.concatenate([[np.inf], thr])
    tp = np.concatenate([zero, tp])
    fp = np.concatenate([zero, fp])
    pos, neg = tp[-1], fp[-1]
    fn, tn = pos - tp, neg - fp
    m = _metrics(tp, fp, pos, neg, beta=beta, fp_cost=fp_cost, fn_cost=fn_cost)
    return pl.DataFrame({"threshold": thr, "tp": tp, "fp": fp, "tn": tn, "fn": fn, **m})


def _curve_columns(curve: pl.DataFrame) -> None:
    if not isinstance(curve, pl.DataFrame):
        raise ValidationError(f"curve: expected the polars DataFrame returned by sweep(), got {type(curve).__name__}")
    missing = [c for c in ("threshold", "tp", "fp", "tn", "fn", *METRICS) if c not in curve.columns]
    if missing or curve.height == 0 or curve["threshold"][0] != math.inf:
        raise ValidationError(
            f"curve: expected the frame returned by sweep() (missing columns {missing})" if missing
            else "curve: expected the frame returned by sweep(), starting with the threshold = inf row")


def _row_index(curve_thresholds: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Row of the descending curve whose operating point is ``score >= t``: the last row >= t."""
    ascending = curve_thresholds[::-1]
    at_or_above = curve_thresholds.size - np.searchsorted(ascending, thresholds, side="left")
    return at_or_above - 1


def grid_thresholds(start: float = 0.5, stop: float = 0.9, step: float = 0.05) -> np.ndarray:
    """The thresholds ``start, start + step, ..., <= stop`` (stop included when on the grid).

    Values are rounded to 12 decimals, so ``0.05`` steps give ``0.65``, not ``0.6500000000000001``.

    >>> grid_thresholds(0.5, 0.9, 0.05).tolist()
    [0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9]
    >>> grid_thresholds(0.05, 0.95, 0.05).size
    19
    """
    start = _number(start, "start")
    stop = _number(stop, "stop")
    step = _number(step, "step", minimum=0.0, exclusive=True)
    if stop < start:
        raise ValidationError(f"stop={stop!r}: expected stop >= start={start!r}")
    k = math.floor((stop - start) / step + 1e-9)
    if k > 1_000_000:
        raise ValidationError(f"step={step!r}: expected at most a million grid points from {start!r} to {stop!r}")
    return np.round(start + step * np.arange(k + 1), 12)


def grid_view(
    curve: pl.DataFrame,
    *,
    start: float = 0.5,
    stop: float = 0.9,
    step: float = 0.05,
    thresholds: Sequence[float] | None = None,
) -> pl.DataFrame:
    """The metrics at grid thresholds, read off the exact curve.

    A threshold ``t`` predicts positive the rows with ``score >= t``: the curve's row with the
    smallest threshold ``>= t`` (found by binary search). The result is identical to computing
    the confusion matrix at ``t`` directly, in O(grid size x log distinct scores).

    Parameters
    ----------
    curve : the frame from :func:`sweep`.
    start, stop, step : the grid (:func:`grid_thresholds`); the seed's default 0.5 ... 0.9 by 0.05.
    thresholds : explicit thresholds instead of a grid.

    Returns
    -------
    polars.DataFrame
        The curve's columns with ``threshold`` set to the grid value, one row per grid threshold,
        in ascending threshold order.

    Examples
    --------
    >>> curve = sweep([0.1, 0.4, 0.35, 0.8, 0.8], [0, 0, 1, 1, 0])
    >>> grid_view(curve, start=0.3, stop=0.9, step=0.2).select("threshold", "tp", "fp", "recall")
    shape: (4, 4)
    ┌───────────┬─────┬─────┬────────┐
    │ threshold ┆ tp  ┆ fp  ┆ recall │
    │ ---       ┆ --- ┆ --- ┆ ---    │
    │ f64       ┆ i64 ┆ i64 ┆ f64    │
    ╞═══════════╪═════╪═════╪════════╡
    │ 0.3       ┆ 2   ┆ 2   ┆ 1.0    │
    │ 0.5       ┆ 1   ┆ 1   ┆ 0.5    │
    │ 0.7       ┆ 1   ┆ 1   ┆ 0.5    │
    │ 0.9       ┆ 0   ┆ 0   ┆ 0.0    │
    └───────────┴─────┴─────┴────────┘
    """
    _curve_columns(curve)
    if thresholds is None:
        grid = grid_thresholds(start, stop, step)
    else:
        grid = np.asarray([_number(t, f"thresholds[{i}]") for i, t in enumerate(thresholds)], dtype=np.float64)
    idx = _row_index(curve["threshold"].to_numpy(), grid)
    return curve[idx].with_columns(pl.Series("threshold", grid, dtype=pl.Float64))


# ============================================================================ choosing a threshold
def _fmt_threshold(t: float | None) -> str:
    if t is None:
        return "none"
    if not math.isfinite(t):
        return "inf (nothing flagged)"
    for digits in (2, 3, 4, 5, 6):
        if abs(round(t, digits) - t) < 1e-12:
            return f"{t:.{digits}f}"
    return f"{t:.6g}"


def _fmt_value(objective: str, value: float) -> str:
    if objective == "cost":
        return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"
    return f"{value:.3f}"


def _objective_name(objective: str, beta: float, min_precision: float | None) -> str:
    if objective == "recall_at_precision":
        return f"recall at precision >= {min_precision:g}"
    return {"f1": "F1", "fbeta": f"F{beta:g}", "cost": "cost", "youden": "Youden's J", "accuracy": "accuracy"}[objective]


def _relative(best: float, current: float, objective: str) -> float:
    """Relative improvement, positive = better (cost: the share of cost saved)."""
    gain = current - best if objective == "cost" else best - current
    if current == 0:
        return 0.0 if gain == 0 else math.copysign(math.inf, gain)
    return gain / abs(current)


@dataclasses.dataclass(frozen=True, repr=False)
class ThresholdResult:
    """The best threshold for an objective, compared with the current one.

    ``improvement`` is relative and positive when better: ``(best - current) / |current|`` of the
    objective (for ``"cost"``: the share of the current cost saved). ``ci_low``/``ci_high`` are
    its paired percentile-bootstrap interval with both thresholds held fixed (the choice of the
    best threshold on the same data is not resampled, so the interval is somewhat optimistic).
    ``clears_minimum`` is ``improvement >= min_improvement`` (the seed's "apply only with >= 3 %
    improvement"); for ``"recall_at_precision"`` it is also true when the current threshold misses
    the precision target. Without a current threshold there is nothing to compare: the fields
    about it are ``None`` and ``clears_minimum`` is false.
    """

    objective: str
    threshold: float
    value: float
    metrics: dict[str, float]
    current: float | None
    current_value: float | None
    current_metrics: dict[str, float] | None
    improvement: float | None
    improvement_abs: float | None
    ci_low: float | None
    ci_high: float | None
    confidence: float
    min_improvement: float
    clears_minimum: bool
    explanation: str
    method: str
    candidates: int
    rows: int
    positives: float
    curve: pl.DataFrame = dataclasses.field(compare=False)
    table: pl.DataFrame = dataclasses.field(compare=False)

    @property
    def changed(self) -> bool:
        """Whether the best threshold differs from the current one."""
        return self.current is None or self.threshold != self.current

    @property
    def significant(self) -> bool:
        """Whether the bootstrap interval of the improvement lies above 0."""
        return self.ci_low is not None and self.ci_low > 0

    def to_dict(self, *, curve: bool = False) -> dict[str, Any]:
        """JSON-safe fields (non-finite numbers as ``None``); the curve rows only with ``curve=True``."""
        out = {f.name: _jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)
               if f.name not in ("curve", "table")}
        out["changed"] = self.changed
        out["significant"] = self.significant
        if curve:
            out["curve"] = [{k: _jsonable(v) for k, v in row.items()} for row in self.curve.iter_rows(named=True)]
        return out

    def __repr__(self) -> str:
        cur = "" if self.current is None else f", current {_fmt_threshold(self.current)} ({self.current_value:.4g})"
        imp = ""
        if self.improvement is not None:
            ci = "" if self.ci_low is None else f" [{self.ci_low:+.1%}, {self.ci_high:+.1%}]"
            imp = f", {self.improvement:+.1%}{ci}, clears {self.min_improvement:.0%}: {'yes' if self.clears_minimum else 'no'}"
        return f"<ThresholdResult {self.objective}: {_fmt_threshold(self.threshold)} ({self.value:.4g}){cur}{imp}>"


def _objective_values(m: Mapping[str, np.ndarray], objective: str, min_precision: float | None) -> np.ndarray:
    """The quantity to maximize (cost negated; recall at precision: -inf where infeasible)."""
    if objective == "cost":
        return -np.asarray(m["cost"], dtype=np.float64)
    values = np.asarray(m[_OBJECTIVE_COLUMN[objective]], dtype=np.float64)
    if objective == "recall_at_precision":
        values = np.where(np.asarray(m["precision"]) >= min_precision, values, -np.inf)
    return values


def _pick(values: np.ndarray, thresholds: np.ndarray, current: float | None) -> int:
    """Index of the best value; ties: closest to ``current``, then the higher threshold."""
    best = values.max()
    tied = np.flatnonzero(values >= best - _TIE_RTOL * max(1.0, abs(best)))
    if tied.size == 1:
        return int(tied[0])
    t = thresholds[tied]
    distance = np.abs(t - current) if current is not None else np.zeros_like(t)
    order = np.lexsort((-t, distance))  # last key is primary: distance, then higher threshold
    return int(tied[order[0]])


def _bootstrap_improvement(s: np.ndarray, y: np.ndarray, current: float, best: float, *, objective: str,
                           beta: float, fp_cost: float, fn_cost: float, n_boot: int, confidence: float,
                           seed: int | None) -> tuple[float | None, float | None]:
    """Paired percentile bootstrap of the relative improvement, both thresholds held fixed.

    Each row falls in one of 8 cells (label x flagged at current x flagged at best); resampling
    ``n`` rows with replacement is a multinomial draw of the cell counts, so ``n_boot`` resamples
    of a million rows cost microseconds each and equal the row bootstrap in distribution.
    """
    cell = (y.astype(np.int64) << 2) | ((s >= current).astype(np.int64) << 1) | (s >= best).astype(np.int64)
    counts = np.bincount(cell, minlength=8)
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(s.size, counts / s.size, size=n_boot).astype(np.float64)
    pos, neg = draws[:, 4:].sum(axis=1), draws[:, :4].sum(axis=1)
    tp_cur, fp_cur = draws[:, 6] + draws[:, 7], draws[:, 2] + draws[:, 3]
    tp_best, fp_best = draws[:, 5] + draws[:, 7], draws[:, 1] + draws[:, 3]
    kw = dict(beta=beta, fp_cost=fp_cost, fn_cost=fn_cost)
    column = _OBJECTIVE_COLUMN[objective]
    v_cur = _metrics(tp_cur, fp_cur, pos, neg, **kw)[column]
    v_best = _metrics(tp_best, fp_best, pos, neg, **kw)[column]
    gain = v_cur - v_best if objective == "cost" else v_best - v_cur
    rel = _div(gain, np.abs(v_cur), math.nan)
    rel = rel[np.isfinite(rel)]
    if rel.size < n_boot / 2:
        return None, None
    alpha = 1.0 - confidence
    lo, hi = np.quantile(rel, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


def _row_dict(curve: pl.DataFrame, index: int, threshold: float) -> dict[str, float]:
    row = curve.row(int(index), named=True)
    row["threshold"] = float(threshold)
    return {k: (float(v) if isinstance(v, float) else v) for k, v in row.items()}


def _explain(objective: str, name: str, best: dict[str, float], cur: dict[str, float] | None, value: float,
             current_value: float | None, improvement: float | None, ci: tuple[float | None, float | None],
             clears: bool, min_improvement: float, method: str, min_precision: float | None) -> str:
    t_best = _fmt_threshold(best["threshold"])
    if cur is None:
        return (f"{name} {_fmt_value(objective, value)} at threshold {t_best} ({method}); no current threshold"
                " to compare with.")
    t_cur = _fmt_threshold(cur["threshold"])
    infeasible = objective == "recall_at_precision" and cur["precision"] < min_precision
    if best["threshold"] == cur["threshold"] or (improvement == 0 and not infeasible):
        return (f"{name} {_fmt_value(objective, current_value)} at the current threshold {t_cur} is already the best"
                f" ({method}): keep {t_cur}.")
    if objective == "cost":
        pct = "" if improvement is None or not math.isfinite(improvement) else f"{improvement:.1%} lower"
        ci_text = "" if ci[0] is None else f" [{ci[0]:.1%}, {ci[1]:.1%}]"
        change = f" ({pct}{ci_text})" if pct else ""
    else:
        pct = "" if improvement is None or not math.isfinite(improvement) else f"{improvement:+.1%}"
        ci_text = "" if ci[0] is None else f" [{ci[0]:+.1%}, {ci[1]:+.1%}]"
        change = f" ({pct}{ci_text})" if pct else ""
    change = change.replace("%", " %")
    verb = "lowering" if best["threshold"] < cur["threshold"] else "raising"

    def points(metric: str, label: str) -> str:
        return f"{label} {(best[metric] - cur[metric]) * 100:+.1f} points"

    if objective == "cost":
        side = f"FP {best['fp'] - cur['fp']:+,.0f}, FN {best['fn'] - cur['fn']:+,.0f}"
    elif objective == "youden":
        side = f"{points('recall', 'TPR')}, {points('fpr', 'FPR')}"
    else:
        side = f"{points('recall', 'recall')}, {points('precision', 'precision')}"
    text = (f"{name} {_fmt_value(objective, current_value)} -> {_fmt_value(objective, value)}{change} by {verb} the"
            f" threshold from {t_cur} to {t_best}: {side}")
    if infeasible:
        text += f"; the current threshold misses the precision target ({cur['precision']:.3f} < {min_precision:g})"
    if clears:
        return text + f"; clears the {min_improvement * 100:g} % minimum improvement ({method})."
    return text + f"; below the {min_improvement * 100:g} % minimum improvement: keep {t_cur} ({method})."


def optimize_threshold(
    scores: Any,
    labels: Any,
    *,
    objective: str = "f1",
    current: float | None = None,
    min_precision: float | None = None,
    beta: float = 1.0,
    fp_cost: float = 1.0,
    fn_cost: float = 1.0,
    grid: tuple[float, float, float] | None = None,
    bounds: tuple[float, float] | None = None,
    min_improvement: float = 0.03,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int | None = 0,
) -> ThresholdResult:
    """The threshold that optimizes ``objective``, compared with the ``current`` threshold.

    Objectives: ``"f1"``, ``"fbeta"`` (``beta``), ``"recall_at_precision"`` (the highest recall
    whose precision is ``>= min_precision``), ``"cost"`` (the lowest ``fp_cost * FP + fn_cost *
    FN``), ``"youden"`` (the highest ``TPR - FPR``), ``"accuracy"``. The search is exact over every
    distinct score (``grid=None``, one O(n log n) :func:`sweep`) or over a grid
    ``(start, stop, step)`` read off the same curve (the seed's 0.5 ... 0.9 by 0.05); ``bounds``
    restricts either. Ties: closest to ``current``, then the higher threshold (module docstring).

    Parameters
    ----------
    scores, labels : as for :func:`sweep`; both classes must be present.
    current : the threshold in use, to compare with (any finite number, also outside ``bounds``).
    min_improvement : the relative improvement needed to recommend a change (default 3 %).
    n_boot : bootstrap resamples for the interval of the improvement (0: no interval).
    confidence : the level of that interval.
    seed : the bootstrap's seed (the interval is reproducible given the seed).

    Returns
    -------
    ThresholdResult
        The best threshold and its metrics, the current threshold's, the relative improvement with
        its interval, whether it clears ``min_improvement``, a sentence explaining it, the exact
        curve (``curve``) and the candidate table (``table``: the grid rows, or the curve rows in
        ``bounds``).

    Raises
    ------
    ValidationError
        Only one class in ``labels``; no candidate in ``bounds``; ``"recall_at_precision"``
        without ``min_precision`` or when no candidate reaches it; the checks of :func:`sweep`.

    Examples
    --------
    >>> scores = [0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.65, 0.6, 0.55, 0.5, 0.45, 0.4]
    >>> labels = [1, 1, 1, 0, 1, 1, 0, 1, 0, 0, 0, 0]
    >>> r = optimize_threshold(scores, labels, current=0.8)
    >>> r.threshold, round(r.value, 3), round(r.current_value, 3), r.clears_minimum
    (0.6, 0.857, 0.6, True)
    >>> print(r.explanation)  # doctest: +NORMALIZE_WHITESPACE
    F1 0.600 -> 0.857 (+42.9 % [-10.7 %, +263.8 %]) by lowering the threshold from 0.80 to 0.60:
    recall +50.0 points, precision +0.0 points; clears the 3 % minimum improvement (exact over 12
    distinct scores).
    >>> optimize_threshold(scores, labels, objective="recall_at_precision", min_precision=0.8).threshold
    0.7
    >>> optimize_threshold(scores, labels, objective="cost", fn_cost=3.0, grid=(0.5, 0.9, 0.05)).threshold
    0.6
    """
    objective = _choice(objective, "objective", OBJECTIVES)
    if objective == "recall_at_precision":
        if min_precision is None:
            raise ValidationError("min_precision=None: expected a number in [0, 1] for objective='recall_at_precision'")
        min_precision = _number(min_precision, "min_precision", minimum=0.0, maximum=1.0)
    if current is not None:
        current = _number(current, "current")
    min_improvement = _number(min_improvement, "min_improvement", minimum=0.0)
    confidence = _number(confidence, "confidence", minimum=0.0, exclusive=True, maximum=1.0)
    if confidence >= 1.0:
        raise ValidationError(f"confidence={confidence!r}: expected a number in (0, 1)")
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 0:
        raise ValidationError(f"n_boot={n_boot!r}: expected an integer >= 0")
    lo_hi = _interval(bounds, "bounds") if bounds is not None else None

    s, y, _ = _prepare(scores, labels, None)
    curve = sweep(s, y, fp_cost=fp_cost, fn_cost=fn_cost, beta=beta)
    beta = float(beta)
    fp_cost, fn_cost = float(fp_cost), float(fn_cost)
    positives = int(y.sum())
    if positives == 0 or positives == y.size:
        which = "positives" if positives == 0 else "negatives"
        raise ValidationError(f"labels: expected both classes, got no {which} in {y.size:,} rows: a threshold cannot be tuned")

    thr = curve["threshold"].to_numpy()
    if grid is not None:
        try:
            start, stop, step = grid
        except (TypeError, ValueError):
            raise ValidationError(f"grid={grid!r}: expected (start, stop, step)") from None
        candidates = grid_thresholds(start, stop, step)
        if lo_hi is not None:
            candidates = candidates[(candidates >= lo_hi[0]) & (candidates <= lo_hi[1])]
        method = f"grid {_fmt_threshold(float(start))} to {_fmt_threshold(float(stop))} by {step:g}"
        table = grid_view(curve, thresholds=candidates.tolist()) if candidates.size else curve.clear()
    else:
        distinct = thr[1:]
        extra = []
        if lo_hi is not None:
            distinct = distinct[(distinct >= lo_hi[0]) & (distinct <= lo_hi[1])]
            extra.append(lo_hi[0])
        if current is not None and (lo_hi is None or lo_hi[0] <= current <= lo_hi[1]):
            extra.append(current)
        candidates = np.unique(np.concatenate([distinct, np.asarray(extra, dtype=np.float64)]))[::-1]
        method = f"exact over {thr.size - 1:,} distinct scores" + (
            f" in [{_fmt_threshold(lo_hi[0])}, {_fmt_threshold(lo_hi[1])}]" if lo_hi else "")
        table = curve if lo_hi is None else curve.filter(pl.col("threshold").is_between(lo_hi[0], lo_hi[1]))
    if candidates.size == 0:
        raise ValidationError(f"bounds={bounds!r}, grid={grid!r}: expected at least one candidate threshold")

    rows = _row_index(thr, candidates)
    m = {c: curve[c].to_numpy()[rows] for c in METRICS}
    values = _objective_values(m, objective, min_precision)
    if objective == "recall_at_precision" and not np.isfinite(values).any():
        top = int(np.argmax(m["precision"]))
        raise ValidationError(
            f"min_precision={min_precision!r}: no candidate threshold reaches it (highest precision"
            f" {m['precision'][top]:.4f} at threshold {_fmt_threshold(float(candidates[top]))})")
    k = _pick(values, candidates, current)
    best_t = float(candidates[k])
    best = _row_dict(curve, rows[k], best_t)
    column = _OBJECTIVE_COLUMN[objective]
    value = best[column]

    cur = cur_value = improvement = improvement_abs = None
    ci: tuple[float | None, float | None] = (None, None)
    clears = False
    if current is not None:
        cur = _row_dict(curve, _row_index(thr, np.asarray([current]))[0], current)
        cur_value = cur[column]
        improvement = _relative(value, cur_value, objective)
        improvement_abs = (cur_value - value) if objective == "cost" else (value - cur_value)
        if n_boot > 0:
            ci = _bootstrap_improvement(s, y, current, best_t, objective=objective, beta=beta, fp_cost=fp_cost,
                                        fn_cost=fn_cost, n_boot=int(n_boot), confidence=confidence, seed=seed)
        infeasible = objective == "recall_at_precision" and cur["precision"] < min_precision
        clears = infeasible or improvement >= min_improvement - 1e-12
    name = _objective_name(objective, beta, min_precision)
    explanation = _explain(objective, name, best, cur, value, cur_value, improvement, ci, clears, min_improvement,
                           method, min_precision)
    log.debug("optimize_threshold: %s", explanation)
    return ThresholdResult(
        objective=objective, threshold=best_t, value=value, metrics=best, current=current, current_value=cur_value,
        current_metrics=cur, improvement=improvement, improvement_abs=improvement_abs, ci_low=ci[0], ci_high=ci[1],
        confidence=confidence, min_improvement=min_improvement, clears_minimum=bool(clears), explanation=explanation,
        method=method, candidates=int(candidates.size), rows=int(y.size), positives=positives, curve=curve, table=table)


# ============================================================================ trade-off
def tradeoff_table(
    curve: pl.DataFrame,
    precisions: Sequence[float] = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95),
    *,
    bounds: tuple[float, float] | None = None,
) -> pl.DataFrame:
    """The best recall reachable at each precision target, and the threshold that gives it.

    For each target ``p``: among the curve's thresholds (in ``bounds``) with precision ``>= p``,
    the highest recall; of the thresholds with that recall, the highest (it has the highest
    precision). The ``threshold = inf`` row (nothing flagged) is not a candidate. Targets no
    threshold reaches get nulls.

    Returns
    -------
    polars.DataFrame
        ``target_precision, threshold, precision, recall, f1, fpr, positive_rate, reachable``.

    Examples
    --------
    >>> curve = sweep([0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.65, 0.6], [1, 1, 0, 1, 1, 0, 0, 1])
    >>> tradeoff_table(curve, (0.6, 0.8, 0.99)).select("target_precision", "threshold", "precision", "recall")
    shape: (3, 4)
    ┌──────────────────┬───────────┬───────────┬────────┐
    │ target_precision ┆ threshold ┆ precision ┆ recall │
    │ ---              ┆ ---       ┆ ---       ┆ ---    │
    │ f64              ┆ f64       ┆ f64       ┆ f64    │
    ╞══════════════════╪═══════════╪═══════════╪════════╡
    │ 0.6              ┆ 0.6       ┆ 0.625     ┆ 1.0    │
    │ 0.8              ┆ 0.75      ┆ 0.8       ┆ 0.8    │
    │ 0.99             ┆ 0.9       ┆ 1.0       ┆ 0.4    │
    └──────────────────┴───────────┴───────────┴────────┘
    """
    _curve_columns(curve)
    targets = [_number(p, f"precisions[{i}]", minimum=0.0, maximum=1.0) for i, p in enumerate(precisions)]
    rows = curve.slice(1)
    if bounds is not None:
        lo, hi = _interval(bounds, "bounds")
        rows = rows.filter(pl.col("threshold").is_between(lo, hi))
    thr = rows["threshold"].to_numpy()
    precision = rows["precision"].to_numpy()
    recall = rows["recall"].to_numpy()
    out: dict[str, list[Any]] = {k: [] for k in ("target_precision", "threshold", "precision", "recall", "f1", "fpr",
                                                 "positive_rate", "reachable")}
    for p in targets:
        feasible = np.flatnonzero(precision >= p)
        out["target_precision"].append(p)
        out["reachable"].append(bool(feasible.size))
        if feasible.size == 0:
            for k in ("threshold", "precision", "recall", "f1", "fpr", "positive_rate"):
                out[k].append(None)
            continue
        best_recall = recall[feasible].max()
        # rows are in descending threshold order: the first feasible row with the best recall is the highest threshold
        i = int(feasible[np.flatnonzero(recall[feasible] >= best_recall)[0]])
        out["threshold"].append(float(thr[i]))
        for k in ("precision", "recall", "f1", "fpr", "positive_rate"):
            out[k].append(float(rows[k][i]))
    schema = {k: (pl.Boolean if k == "reachable" else pl.Float64) for k in out}
    return pl.DataFrame(out, schema=schema)


def _downsample(curve: pl.DataFrame, max_points: int) -> pl.DataFrame:
    """At most ~``max_points`` rows: evenly spaced in rank and in threshold, endpoints kept."""
    rows = curve.slice(1)  # the inf row has no place on a threshold axis
    if rows.height <= max_points:
        return rows
    half = max(2, max_points // 2)
    by_rank = np.unique(np.round(np.linspace(0, rows.height - 1, half)).astype(np.int64))
    thr = rows["threshold"].to_numpy()
    grid = np.linspace(thr[-1], thr[0], half)
    by_value = _row_index(curve["threshold"].to_numpy(), grid) - 1
    keep = np.unique(np.concatenate([by_rank, by_value[by_value >= 0]]))
    return rows[keep]


def tradeoff_chart(
    curve: pl.DataFrame,
    *,
    current: float | None = None,
    chosen: float | None = None,
    max_points: int = 300,
    title: str | None = None,
) -> Any:
    """Precision, recall and F1 against the threshold, beside the precision-recall curve (Altair).

    The curve is downsampled to about ``max_points`` rows (evenly in rank and in threshold), so
    a million-score curve still gives a small spec. ``current`` and ``chosen`` thresholds are
    drawn as rules on the left and points on the right.

    >>> curve = sweep([0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.65, 0.6], [1, 1, 0, 1, 1, 0, 0, 1])
    >>> type(tradeoff_chart(curve, current=0.8, chosen=0.6)).__name__
    'HConcatChart'
    """
    import altair as alt

    _curve_columns(curve)
    if isinstance(max_points, bool) or not isinstance(max_points, int) or max_points < 4:
        raise ValidationError(f"max_points={max_points!r}: expected an integer >= 4")
    rows = _downsample(curve, max_points).select("threshold", "precision", "recall", "f1")
    long = [{"threshold": r["threshold"], "metric": k, "value": r[k]}
            for r in rows.iter_rows(named=True) for k in ("precision", "recall", "f1")]
    marks = [(t, name) for t, name in ((current, "current"), (chosen, "chosen")) if t is not None]
    points = []
    if marks:
        view = grid_view(curve, thresholds=[_number(t, name) for t, name in marks])
        for (t, name), r in zip(marks, view.iter_rows(named=True), strict=True):
            points.append({"threshold": t, "which": name, "precision": r["precision"], "recall": r["recall"],
                           "f1": r["f1"]})
    color = alt.Color("which:N", scale=alt.Scale(domain=["current", "chosen"], range=["#555", "#d62728"]),
                      title=None)
    lines = alt.Chart(alt.Data(values=long)).mark_line().encode(
        x=alt.X("threshold:Q", title="threshold"), y=alt.Y("value:Q", title=None, scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("metric:N", title=None), tooltip=["threshold:Q", "metric:N", "value:Q"])
    left = [lines]
    pr = [alt.Chart(alt.Data(values=rows.to_dicts())).mark_line(color="#4c78a8").encode(
        x=alt.X("recall:Q", scale=alt.Scale(domain=[0, 1])), y=alt.Y("precision:Q", scale=alt.Scale(domain=[0, 1])),
        tooltip=["threshold:Q", "precision:Q", "recall:Q", "f1:Q"], order="threshold:Q")]
    if points:
        marked = alt.Chart(alt.Data(values=points))
        left.append(marked.mark_rule(strokeDash=[4, 3]).encode(x="threshold:Q", color=color,
                                                               tooltip=["which:N", "threshold:Q", "f1:Q"]))
        pr.append(marked.mark_point(size=80, filled=True).encode(x="recall:Q", y="precision:Q", color=color,
                                                                 tooltip=["which:N", "threshold:Q", "precision:Q",
                                                                          "recall:Q"]))
    return alt.hconcat(
        alt.layer(*left).properties(width=360, height=240, title="precision, recall and F1 by threshold"),
        alt.layer(*pr).properties(width=240, height=240, title="precision-recall curve"),
    ).resolve_scale(color="independent").properties(title=title or "precision/recall trade-off")


# ============================================================================ adaptive adjustment
@dataclasses.dataclass(frozen=True, repr=False)
class AdaptiveResult:
    """A nudge of the threshold from recent false-positive / false-negative rates.

    ``pressure`` is the signed imbalance the rule acted on (positive: too many false positives,
    so raise the threshold); ``direction`` is ``"raise"``, ``"lower"`` or ``"keep"``.
    """

    current: float
    threshold: float
    direction: str
    change: float
    pressure: float
    fp_rate: float
    fn_rate: float
    target_fp_rate: float | None
    target_fn_rate: float | None
    step: float
    max_step: float
    bounds: tuple[float, float]
    dead_band: float
    limited_by: str | None
    explanation: str

    @property
    def changed(self) -> bool:
        return self.threshold != self.current

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: _jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)}
        out["changed"] = self.changed
        return out

    def __repr__(self) -> str:
        return (f"<AdaptiveResult {self.direction} {_fmt_threshold(self.current)} -> {_fmt_threshold(self.threshold)}"
                f" (FP rate {self.fp_rate:.1%}, FN rate {self.fn_rate:.1%})>")


def adaptive_adjustment(
    current: float,
    *,
    fp_rate: float,
    fn_rate: float,
    target_fp_rate: float | None = None,
    target_fn_rate: float | None = None,
    step: float = 0.05,
    max_step: float = 0.1,
    bounds: tuple[float, float] = (0.5, 0.9),
    dead_band: float = 0.02,
) -> AdaptiveResult:
    """Nudge the threshold from recent false-positive and false-negative rates (the seed's
    ``adaptiveThresholdAdjustment``: "high false-positive rate: suggests a threshold increase").

    The rule, in order:

    1. **Pressure.** Without targets, ``pressure = fp_rate - fn_rate`` (balance the two errors).
       With targets, each rate counts only by how much it exceeds its target:
       ``pressure = max(0, fp_rate - target_fp_rate) - max(0, fn_rate - target_fn_rate)`` (a
       missing target counts as met); both within target means no change.
    2. **Dead band.** ``|pressure| <= dead_band`` (default 2 points): keep the threshold.
    3. **Direction.** Positive pressure (false positives dominate): raise the threshold; negative
       (false negatives dominate): lower it.
    4. **Size.** Whole steps of ``step``, as many as the pressure has steps (rounded up), at most
       ``max_step``: 8 points of pressure with ``step=0.05`` move one step, 12 points two.
    5. **Bounds.** The result is clamped to ``bounds``; a current threshold outside them is
       brought inside (bounds win over the step limit).

    The rates are whatever the caller monitors (``FP / predicted positives``, ``FP / negatives``,
    ...); the rule only compares them with each other or with their targets.

    Examples
    --------
    >>> r = adaptive_adjustment(0.7, fp_rate=0.15, fn_rate=0.03)
    >>> r.threshold, r.direction
    (0.8, 'raise')
    >>> print(r.explanation)
    FP rate 15.0 % vs FN rate 3.0 %: false positives dominate by 12.0 points, so raise the threshold from 0.70 to 0.80 (2 steps of 0.05, at most 0.10 per adjustment).
    >>> adaptive_adjustment(0.7, fp_rate=0.05, fn_rate=0.06).direction
    'keep'
    >>> adaptive_adjustment(0.55, fp_rate=0.02, fn_rate=0.2).threshold
    0.5
    """
    current = _number(current, "current")
    fp_rate = _number(fp_rate, "fp_rate", minimum=0.0, maximum=1.0)
    fn_rate = _number(fn_rate, "fn_rate", minimum=0.0, maximum=1.0)
    if target_fp_rate is not None:
        target_fp_rate = _number(target_fp_rate, "target_fp_rate", minimum=0.0, maximum=1.0)
    if target_fn_rate is not None:
        target_fn_rate = _number(target_fn_rate, "target_fn_rate", minimum=0.0, maximum=1.0)
    step = _number(step, "step", minimum=0.0, exclusive=True)
    max_step = _number(max_step, "max_step", minimum=0.0, exclusive=True)
    if max_step < step:
        raise ValidationError(f"max_step={max_step!r}: expected max_step >= step={step!r}")
    dead_band = _number(dead_band, "dead_band", minimum=0.0)
    lo, hi = _interval(bounds, "bounds")

    if target_fp_rate is None and target_fn_rate is None:
        pressure = fp_rate - fn_rate
        basis = f"FP rate {fp_rate:.1%} vs FN rate {fn_rate:.1%}"
    else:
        excess_fp = max(0.0, fp_rate - target_fp_rate) if target_fp_rate is not None else 0.0
        excess_fn = max(0.0, fn_rate - target_fn_rate) if target_fn_rate is not None else 0.0
        pressure = excess_fp - excess_fn
        parts = [f"FP rate {fp_rate:.1%}" + (f" (target {target_fp_rate:.1%})" if target_fp_rate is not None else ""),
                 f"FN rate {fn_rate:.1%}" + (f" (target {target_fn_rate:.1%})" if target_fn_rate is not None else "")]
        basis = ", ".join(parts)
    basis = basis.replace("%", " %")

    limited_by = None
    if abs(pressure) <= dead_band + 1e-12:
        direction, move = "keep", 0.0
        reason = (f"{basis}: within the dead band of {dead_band * 100:.1f} points" if pressure else f"{basis}: balanced")
    else:
        direction = "raise" if pressure > 0 else "lower"
        steps = max(1, math.ceil(abs(pressure) / step - 1e-9))
        move = steps * step
        if move > max_step + 1e-12:
            steps, move, limited_by = math.floor(max_step / step + 1e-9), max_step, "max_step"
        who = "false positives" if pressure > 0 else "false negatives"
        reason = f"{basis}: {who} dominate by {abs(pressure) * 100:.1f} points"
    target = current + move if direction == "raise" else current - move
    new = round(min(hi, max(lo, target)), 10)
    if new != round(target, 10):
        limited_by = "bounds"
    if direction == "keep" and new == current:
        explanation = f"{reason}, so keep the threshold at {_fmt_threshold(current)}."
    elif direction == "keep":
        explanation = (f"{reason}, but the current threshold {_fmt_threshold(current)} is outside the bounds"
                       f" [{_fmt_threshold(lo)}, {_fmt_threshold(hi)}]: move it to {_fmt_threshold(new)}.")
    else:
        size = f"{steps} step{'s' if steps != 1 else ''} of {_fmt_threshold(step)}" if move == steps * step else \
            _fmt_threshold(move)
        explanation = (f"{reason}, so {direction} the threshold from {_fmt_threshold(current)} to {_fmt_threshold(new)}"
                       f" ({size}, at most {_fmt_threshold(max_step)} per adjustment")
        if limited_by == "bounds":
            explanation += f", clamped to the bounds [{_fmt_threshold(lo)}, {_fmt_threshold(hi)}]"
        explanation += ")."
    if direction != "keep" and new == current:
        direction = "keep"
    return AdaptiveResult(
        current=current, threshold=new, direction=direction, change=round(new - current, 10), pressure=pressure,
        fp_rate=fp_rate, fn_rate=fn_rate, target_fp_rate=target_fp_rate, target_fn_rate=target_fn_rate, step=step,
        max_step=max_step, bounds=(lo, hi), dead_band=dead_band, limited_by=limited_by, explanation=explanation)


# ============================================================================ hyperparameter search
def _grid_axes(grid: Mapping[str, Any]) -> tuple[list[str], list[list[Any]]]:
    if not isinstance(grid, Mapping) or not grid:
        raise ValidationError(f"grid={grid!r}: expected a non-empty dict of parameter name -> list of values")
    names, axes = [], []
    for name, values in grid.items():
        if not isinstance(name, str) or not name:
            raise ValidationError(f"grid key {name!r}: expected a parameter name (a non-empty string)")
        if isinstance(values, (str, bytes, Mapping)) or not hasattr(values, "__iter__"):
            raise ValidationError(f"grid[{name!r}]={values!r}: expected a list of values")
        items = [v.item() if isinstance(v, np.generic) else v for v in values]
        if not items:
            raise ValidationError(f"grid[{name!r}]=[]: expected at least one value")
        if name in ("score", "rank", "point", "seconds"):
            raise ValidationError(f"grid key {name!r}: reserved for the result table; rename the parameter")
        names.append(name)
        axes.append(items)
    return names, axes


def _decode(index: int, names: list[str], axes: list[list[Any]]) -> dict[str, Any]:
    """The ``index``-th point of the product, last parameter varying fastest (as itertools.product)."""
    params = {}
    for name, values in zip(reversed(names), reversed(axes), strict=True):
        index, r = divmod(index, len(values))
        params[name] = values[r]
    return {name: params[name] for name in names}


def _grid_points(grid: Mapping[str, Sequence[Any]], random: int | None, seed: int | None
                 ) -> list[tuple[int, dict[str, Any]]]:
    """``(index in grid order, params)`` of the full grid or of a seeded sample of it."""
    names, axes = _grid_axes(grid)
    total = math.prod(len(a) for a in axes)
    if random is None:
        return [(i, dict(zip(names, combo, strict=True))) for i, combo in enumerate(itertools.product(*axes))]
    if isinstance(random, bool) or not isinstance(random, (int, np.integer)) or random < 1:
        raise ValidationError(f"random={random!r}: expected a budget, an integer >= 1")
    k = min(int(random), total)
    rng = np.random.default_rng(seed)
    if total <= 2**62:
        picked = [int(i) for i in np.sort(rng.choice(total, size=k, replace=False))]
    else:
        chosen: set[int] = set()  # astronomically large grids: rejection sampling of Python ints
        while len(chosen) < k:
            chosen.add(int(rng.integers(0, 2**62)) * total // 2**62)
        picked = sorted(chosen)
    return [(i, _decode(i, names, axes)) for i in picked]


def parameter_grid(grid: Mapping[str, Sequence[Any]], *, random: int | None = None, seed: int | None = 0
                   ) -> list[dict[str, Any]]:
    """The points of a parameter grid, in a fixed order (or a seeded random sample of them).

    Order: the cartesian product in the dict's key order, the last parameter varying fastest
    (``itertools.product``). ``random=k`` samples ``k`` distinct points without replacement
    (seeded; never builds the full product, so huge grids are fine) and keeps them in grid order.

    >>> parameter_grid({"window_size": range(50, 151, 50), "min_cluster_size": [2, 3]})[:3]
    [{'window_size': 50, 'min_cluster_size': 2}, {'window_size': 50, 'min_cluster_size': 3}, {'window_size': 100, 'min_cluster_size': 2}]
    >>> len(parameter_grid({"a": range(1000), "b": range(1000)}, random=5, seed=1))
    5
    """
    return [params for _, params in _grid_points(grid, random, seed)]


def _run_point(evaluate: Callable[[dict[str, Any]], Mapping[str, Any]], params: dict[str, Any]
               ) -> tuple[dict[str, Any], float]:
    started = time.perf_counter()
    out = evaluate(dict(params))
    return (dict(out) if isinstance(out, Mapping) else out), time.perf_counter() - started


class _Progress:
    def __init__(self, progress: bool | Callable[[int, int], None], total: int) -> None:
        self.total = total
        self.callback = progress if callable(progress) else None
        self.stderr = progress is True
        self.done = 0

    def step(self) -> None:
        self.done += 1
        if self.callback is not None:
            self.callback(self.done, self.total)
        elif self.stderr:
            sys.stderr.write(f"\rgrid search: {self.done}/{self.total}")
            if self.done == self.total:
                sys.stderr.write("\n")
            sys.stderr.flush()


def _check_output(out: Any, params: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(out, dict) or "score" not in out:
        raise ValidationError(f"evaluate({params!r}) returned {out!r}: expected a dict with a 'score'")
    score = out["score"]
    ok = isinstance(score, (int, float, np.integer, np.floating)) and not isinstance(score, (bool, np.bool_))
    if not ok or not math.isfinite(float(score)):
        raise ValidationError(f"evaluate({params!r}) returned score={score!r}: expected a finite number")
    clash = [k for k in out if k in params or k in ("rank", "point", "seconds")]
    if clash:
        raise ValidationError(f"evaluate({params!r}) returned keys {clash}: they clash with parameters or result columns")
    return {k: (v.item() if isinstance(v, np.generic) else v) for k, v in out.items()}


def grid_search(
    evaluate: Callable[[dict[str, Any]], Mapping[str, Any]],
    grid: Mapping[str, Sequence[Any]],
    *,
    n_jobs: int = 1,
    executor: Any = None,
    scheduler: str | None = None,
    random: int | None = None,
    seed: int | None = 0,
    progress: bool | Callable[[int, int], None] = True,
    maximize: bool = True,
) -> pl.DataFrame:
    """Score every point of a parameter grid (or a random sample of it) and rank them.

    ``evaluate(params) -> dict`` gets one point as a dict and returns at least ``"score"`` (higher
    is better unless ``maximize=False``) plus any other numbers to keep (``"f1"``, ``"recall"``,
    ...). To avoid leakage it should train on the past and score a later window
    (:func:`time_split`). Points are evaluated in grid order (:func:`parameter_grid`).

    Parallelism: ``n_jobs > 1`` runs points in a ``concurrent.futures.ProcessPoolExecutor`` with the
    ``"spawn"`` start method (safe with the threads of polars, DuckDB and BLAS, unlike ``fork``;
    each worker starts a fresh interpreter, about a second). ``evaluate`` must therefore be
    picklable: a function defined at the top level of an importable module, or a
    ``functools.partial`` of one (not a lambda, nor a function defined in a notebook).
    ``n_jobs=-1`` uses every CPU. Results are collected by point, so the table is identical for any
    ``n_jobs`` as long as ``evaluate`` is deterministic (only ``seconds`` differs).

    On a cluster: ``executor`` runs the points on any ``concurrent.futures.Executor``-like object
    (``submit(fn, *args)`` returning a ``concurrent.futures.Future``), for instance a Dask cluster's
    ``dask.distributed.Client(...).get_executor()``; a ``Client`` itself is accepted too. It is
    used, not shut down. ``scheduler="tcp://host:8786"`` connects a ``dask.distributed.Client``
    for the call and closes it afterwards (``pip install 'mlmm[dask]'``). On Dask, ``evaluate`` is
    scattered once (``Client.scatter``), so the data it carries reaches each worker once rather
    than with every point; the workers need mlmm (and whatever ``evaluate`` imports) installed.
    The table is the same as with ``n_jobs=1`` or the process pool; leave ``n_jobs`` at 1.

    Parameters
    ----------
    grid : parameter name -> list of values (any iterable: ``range(50, 151, 25)``, numpy arrays).
    random : a budget: evaluate this many points sampled without replacement (seeded), the random
        search of Bergstra & Bengio (2012); ``None`` evaluates the full grid.
    progress : ``True`` writes ``grid search: k/N`` to stderr; a callable ``f(done, total)`` is
        called instead (for a rich progress bar); ``False`` is silent.

    Returns
    -------
    polars.DataFrame
        ``rank, point, <params...>, score, <other outputs...>, seconds``, best first. ``rank`` is
        1, 2, ...; equal scores are ranked in grid order. ``point`` is the index in the full grid's
        order (also for a random search).

    Examples
    --------
    >>> def evaluate(p):
    ...     return {"score": -(p["x"] - 2) ** 2 - p["y"], "x2": p["x"] ** 2}
    >>> grid_search(evaluate, {"x": [1, 2, 3], "y": [0, 1]}, progress=False).drop("seconds")
    shape: (6, 6)
    ┌──────┬───────┬─────┬─────┬───────┬─────┐
    │ rank ┆ point ┆ x   ┆ y   ┆ score ┆ x2  │
    │ ---  ┆ ---   ┆ --- ┆ --- ┆ ---   ┆ --- │
    │ u32  ┆ i64   ┆ i64 ┆ i64 ┆ i64   ┆ i64 │
    ╞══════╪═══════╪═════╪═════╪═══════╪═════╡
    │ 1    ┆ 2     ┆ 2   ┆ 0   ┆ 0     ┆ 4   │
    │ 2    ┆ 0     ┆ 1   ┆ 0   ┆ -1    ┆ 1   │
    │ 3    ┆ 3     ┆ 2   ┆ 1   ┆ -1    ┆ 4   │
    │ 4    ┆ 4     ┆ 3   ┆ 0   ┆ -1    ┆ 9   │
    │ 5    ┆ 1     ┆ 1   ┆ 1   ┆ -2    ┆ 1   │
    │ 6    ┆ 5     ┆ 3   ┆ 1   ┆ -2    ┆ 9   │
    └──────┴───────┴─────┴─────┴───────┴─────┘
    """
    if not callable(evaluate):
        raise ValidationError(f"evaluate={evaluate!r}: expected a function params -> dict with a 'score'")
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, (int, np.integer)) or n_jobs == 0 or n_jobs < -1:
        raise ValidationError(f"n_jobs={n_jobs!r}: expected an integer >= 1 or -1 (every CPU)")
    if executor is not None and scheduler is not None:
        raise ValidationError(f"executor={executor!r} and scheduler={scheduler!r}: expected one of them")
    if (executor is not None or scheduler is not None) and n_jobs != 1:
        raise ValidationError(f"n_jobs={n_jobs!r} with an executor or scheduler: expected n_jobs=1"
                              " (the cluster decides how many points run at once)")
    if executor is not None and not callable(getattr(executor, "submit", None)):
        raise ValidationError(f"executor={executor!r}: expected a concurrent.futures.Executor-like object with submit()")
    indexed = _grid_points(grid, random, seed)
    points = [params for _, params in indexed]
    names = list(points[0])
    workers = (os.cpu_count() or 1) if n_jobs == -1 else int(n_jobs)
    workers = min(workers, len(points))
    bar = _Progress(progress, len(points))
    results: list[tuple[dict[str, Any], float] | None] = [None] * len(points)
    if scheduler is not None:
        client = _dask_client(scheduler)
        try:
            _run_all(client, evaluate, points, results, bar)
        finally:
            client.close()
    elif executor is not None:
        _run_all(executor, evaluate, points, results, bar)
    elif workers <= 1:
        for i, params in enumerate(points):
            results[i] = _run_point(evaluate, params)
            bar.step()
    else:
        context = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            _run_all(pool, evaluate, points, results, bar)
    records = []
    for (index, params), item in zip(indexed, results, strict=True):
        assert item is not None
        out = _check_output(item[0], params)
        records.append({"point": index, **params, **out, "seconds": item[1]})
    frame = _records_frame(records, names)
    order = frame.with_columns(pl.col("score").cast(pl.Float64).alias("_key")).sort(
        ["_key", "point"], descending=[maximize, False]).drop("_key")
    log.debug("grid search: %d points, best %s", len(points), order.row(0, named=True))
    return order.with_row_index("rank", offset=1)


def _dask_client(scheduler: str) -> Any:
    """A ``dask.distributed.Client`` connected to ``scheduler`` (``tcp://host:port``)."""
    if not isinstance(scheduler, str) or not scheduler.strip():
        raise ValidationError(f"scheduler={scheduler!r}: expected the address of a Dask scheduler, e.g. 'tcp://host:8786'")
    try:
        from dask.distributed import Client
    except ImportError as exc:
        raise ValidationError(f"scheduler={scheduler!r}: needs dask.distributed: pip install 'mlmm[dask]'") from exc
    try:
        return Client(scheduler.strip())
    except OSError as exc:
        raise ValidationError(f"scheduler={scheduler!r}: cannot connect ({exc}); expected a running Dask scheduler") from None


def _dask(executor: Any) -> tuple[Any, Any] | None:
    """(client, executor) when ``executor`` is a Dask ``Client`` or the executor of one."""
    if not type(executor).__module__.startswith("distributed"):
        return None
    if hasattr(executor, "get_executor"):  # a Client
        return executor, executor.get_executor()
    client = getattr(executor, "_client", None)  # distributed.cfexecutor.ClientExecutor
    return (client, executor) if client is not None else None


def _run_all(executor: Any, evaluate: Callable[[dict[str, Any]], Mapping[str, Any]], points: list[dict[str, Any]],
             results: list[tuple[dict[str, Any], float] | None], bar: _Progress) -> None:
    """Submit every point to ``executor`` and collect the results by point as they finish."""
    task: Any = evaluate
    dask = _dask(executor)
    if dask is not None:
        client, executor = dask
        task = client.scatter(evaluate, hash=False)  # resolved on the worker: its data travels once per worker
    futures = {executor.submit(_run_point, task, params): i for i, params in enumerate(points)}
    try:
        for future in concurrent.futures.as_completed(futures):
            results[futures[future]] = future.result()
            bar.step()
    except BaseException:
        for future in futures:
            future.cancel()
        raise


def _records_frame(records: list[dict[str, Any]], names: list[str]) -> pl.DataFrame:
    columns: dict[str, list[Any]] = {}
    for rec in records:
        for k in rec:
            columns.setdefault(k, [])
    data = {k: [rec.get(k) for rec in records] for k in columns}
    series = []
    for k, values in data.items():
        try:
            series.append(pl.Series(k, values, strict=True))
        except (TypeError, ValueError, pl.exceptions.PolarsError):
            kind = "parameter" if k in names else "output"
            log.debug("grid search: %s column %r has mixed types; stored as text", kind, k)
            series.append(pl.Series(k, [None if v is None else str(v) for v in values], dtype=pl.String))
    return pl.DataFrame(series)


# ============================================================================ time-ordered validation
def _time_value(value: Any, dtype: pl.DataType, name: str) -> Any:
    if isinstance(dtype, pl.Datetime):
        from ._util import to_utc

        t = to_utc(value, name)
        return t if dtype.time_zone else t.replace(tzinfo=None)
    if dtype == pl.Date:
        if isinstance(value, str):
            try:
                return _dt.date.fromisoformat(value)
            except ValueError:
                raise ValidationError(f"{name}={value!r}: expected an ISO date") from None
        if isinstance(value, _dt.datetime):
            return value.date()
        if isinstance(value, _dt.date):
            return value
        raise ValidationError(f"{name}={value!r}: expected a date")
    return _number(value, name)


def time_split(
    frame: pl.DataFrame,
    time_col: str,
    *,
    train_until: Any = None,
    validation_days: float | None = None,
    validation_fraction: float | None = None,
    gap_days: float = 0.0,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split rows by time: train on the past, validate on the later window (no leakage).

    Every validation row is strictly later than every training row. The cut is, by priority:

    * ``train_until``: training is ``time < train_until``; validation ``time >= train_until``
      (up to ``train_until + validation_days`` when that is given);
    * ``validation_days``: validation is the last ``validation_days`` days up to the latest time
      (``time >= max - validation_days``), training everything before;
    * ``validation_fraction`` (default 0.2): the cut is the time below which ``1 - fraction`` of
      the rows fall; rows at the cut's time go to validation, so the cut never splits a timestamp.

    ``gap_days`` drops the rows of that many days before the cut from training (an embargo for
    labels that arrive late). Rows with a null time are in neither part. Numeric time columns
    work with ``train_until`` and ``validation_fraction`` (``*_days`` need a date/datetime).

    Raises
    ------
    ValidationError
        A missing column, an empty training or validation part.

    Examples
    --------
    >>> import datetime as dt
    >>> frame = pl.DataFrame({"day": [dt.date(2026, 1, d) for d in range(1, 11)], "y": range(10)})
    >>> train, valid = time_split(frame, "day", validation_days=3)
    >>> train.height, valid.height, str(train["day"].max()), str(valid["day"].min())
    (7, 3, '2026-01-07', '2026-01-08')
    >>> train, valid = time_split(frame, "day", train_until="2026-01-05", gap_days=1)
    >>> train.height, valid.height
    (3, 6)
    """
    if isinstance(frame, pl.LazyFrame):
        frame = frame.collect()
    if not isinstance(frame, pl.DataFrame):
        raise ValidationError(f"frame: expected a polars DataFrame, got {type(frame).__name__}")
    if time_col not in frame.columns:
        raise ValidationError(f"time_col={time_col!r}: expected one of the columns {frame.columns}")
    dtype = frame.schema[time_col]
    temporal = isinstance(dtype, pl.Datetime) or dtype == pl.Date
    if not temporal and not dtype.is_numeric():
        raise ValidationError(f"time_col={time_col!r}: expected a date, datetime or numeric column, got {dtype}")
    if (validation_days is not None or gap_days) and not temporal:
        raise ValidationError(f"time_col={time_col!r} is {dtype}: validation_days and gap_days need a date or datetime")
    gap_days = _number(gap_days, "gap_days", minimum=0.0)
    t = pl.col(time_col)

    def days(value: float) -> Any:
        delta = _dt.timedelta(days=value)
        return _dt.timedelta(days=math.ceil(value)) if dtype == pl.Date else delta

    if train_until is not None:
        cut = _time_value(train_until, dtype, "train_until")
        valid_mask = t >= cut
        if validation_days is not None:
            valid_mask = valid_mask & (t < cut + days(_number(validation_days, "validation_days", minimum=0.0,
                                                                   exclusive=True)))
    elif validation_days is not None:
        latest = frame[time_col].max()
        if latest is None:
            raise ValidationError(f"time_col={time_col!r}: expected some non-null times")
        span = days(_number(validation_days, "validation_days", minimum=0.0, exclusive=True))
        cut = latest - span + (_dt.timedelta(days=1) if dtype == pl.Date else _dt.timedelta(0))
        valid_mask = t >= cut
    else:
        fraction = 0.2 if validation_fraction is None else _number(
            validation_fraction, "validation_fraction", minimum=0.0, exclusive=True, maximum=1.0)
        times = frame[time_col].drop_nulls().sort()
        if times.len() < 2:
            raise ValidationError(f"time_col={time_col!r}: expected at least 2 non-null times, got {times.len()}")
        cut = times[min(times.len() - 1, int(math.floor(times.len() * (1.0 - fraction))))]
        valid_mask = t >= cut
    train_end = cut - days(gap_days) if gap_days else cut
    train = frame.filter(t < train_end)
    valid = frame.filter(valid_mask)
    if train.height == 0 or valid.height == 0:
        part = "training" if train.height == 0 else "validation"
        raise ValidationError(f"time_split: the {part} part is empty (cut at {cut!r} on {time_col!r})")
    return train, valid
