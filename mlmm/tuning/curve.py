"""The exact threshold sweep: every metric at every distinct score in O(n log n), and the
metrics at grid thresholds read off that curve.

References
----------
Fawcett, T. (2006). An introduction to ROC analysis. Pattern Recognition Letters 27, 861-874.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from ..errors import ValidationError
from ._common import METRICS, check_curve, check_number, metrics_from_counts, prepare_scores, row_index

__all__ = ["METRICS", "grid_thresholds", "grid_view", "sweep"]


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
        Undefined ratios follow the package's conventions (precision 1.0 with nothing predicted
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
    fp_cost = check_number(fp_cost, "fp_cost", minimum=0.0)
    fn_cost = check_number(fn_cost, "fn_cost", minimum=0.0)
    beta = check_number(beta, "beta", minimum=0.0, exclusive=True)
    s, y, w = prepare_scores(scores, labels, weights)
    thr, tp, fp = _counts_desc(s, y, w)
    zero = np.zeros(1, dtype=tp.dtype)
    thr = np.concatenate([[np.inf], thr])
    tp = np.concatenate([zero, tp])
    fp = np.concatenate([zero, fp])
    pos, neg = tp[-1], fp[-1]
    fn, tn = pos - tp, neg - fp
    m = metrics_from_counts(tp, fp, pos, neg, beta=beta, fp_cost=fp_cost, fn_cost=fn_cost)
    return pl.DataFrame({"threshold": thr, "tp": tp, "fp": fp, "tn": tn, "fn": fn, **m})



def grid_thresholds(start: float = 0.5, stop: float = 0.9, step: float = 0.05) -> np.ndarray:
    """The thresholds ``start, start + step, ..., <= stop`` (stop included when on the grid).

    Values are rounded to 12 decimals, so ``0.05`` steps give ``0.65``, not ``0.6500000000000001``.

    >>> grid_thresholds(0.5, 0.9, 0.05).tolist()
    [0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9]
    >>> grid_thresholds(0.05, 0.95, 0.05).size
    19
    """
    start = check_number(start, "start")
    stop = check_number(stop, "stop")
    step = check_number(step, "step", minimum=0.0, exclusive=True)
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
    check_curve(curve)
    if thresholds is None:
        grid = grid_thresholds(start, stop, step)
    else:
        grid = np.asarray([check_number(t, f"thresholds[{i}]") for i, t in enumerate(thresholds)], dtype=np.float64)
    idx = row_index(curve["threshold"].to_numpy(), grid)
    return curve[idx].with_columns(pl.Series("threshold", grid, dtype=pl.Float64))

