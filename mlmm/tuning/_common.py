"""The internal API shared by the modules of :mod:`mlmm.tuning`: argument checks, the metrics of
a confusion matrix from its counts, and reading rows off the curve of :func:`mlmm.tuning.sweep`."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from ..errors import ValidationError

__all__ = [
    "METRICS",
    "as_array",
    "check_choice",
    "check_curve",
    "check_interval",
    "check_labels",
    "check_number",
    "check_scores",
    "check_weights",
    "divide",
    "format_threshold",
    "metrics_from_counts",
    "prepare_scores",
    "row_index",
]

METRICS = ("precision", "recall", "fpr", "specificity", "accuracy", "f1", "fbeta", "cost", "youden_j",
           "positive_rate")
"""The metric columns of a :func:`mlmm.tuning.sweep` besides ``threshold, tp, fp, tn, fn``."""


# ============================================================================ validation
def check_number(value: Any, name: str, *, minimum: float | None = None, exclusive: bool = False,
                 maximum: float | None = None) -> float:
    """``value`` as a finite float within ``[minimum, maximum]`` (``minimum`` excluded with
    ``exclusive``), or a ValidationError naming ``name``, the value and what was expected."""
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


def as_array(values: Any, name: str) -> np.ndarray:
    """``values`` (a sequence, numpy array or polars Series) as a 1-D numpy array."""
    if isinstance(values, (pl.Series, pl.Expr)):
        if isinstance(values, pl.Expr):
            raise ValidationError(f"{name}: expected a sequence, array or polars Series, got a polars expression")
        values = values.to_numpy()
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValidationError(f"{name}: expected a 1-D sequence, got shape {arr.shape}")
    return arr


def check_scores(values: Any, name: str = "scores") -> np.ndarray:
    """``values`` as finite float64 scores (a NaN or infinite score raises, naming its index)."""
    arr = as_array(values, name)
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


def check_labels(values: Any, n: int, name: str = "labels") -> np.ndarray:
    """``n`` labels (0/1 or booleans) as a boolean array, ``True`` for the positive class."""
    arr = as_array(values, name)
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


def check_weights(values: Any, n: int) -> np.ndarray:
    """``n`` non-negative finite row weights."""
    w = check_scores(values, "weights")
    if w.size != n:
        raise ValidationError(f"weights: expected {n} values (one per score), got {w.size}")
    neg = w < 0
    if neg.any():
        i = int(np.argmax(neg))
        raise ValidationError(f"weights[{i}]={float(w[i])!r}: expected a number >= 0")
    return w


def check_choice(value: Any, name: str, choices: Sequence[str]) -> str:
    """``value`` when it is one of ``choices``."""
    if value not in choices:
        raise ValidationError(f"{name}={value!r}: expected one of {', '.join(repr(c) for c in choices)}")
    return value


def check_interval(value: Any, name: str) -> tuple[float, float]:
    """``value`` as a pair of finite numbers ``(low, high)`` with ``low <= high``."""
    try:
        lo, hi = value
    except (TypeError, ValueError):
        raise ValidationError(f"{name}={value!r}: expected a pair (low, high)") from None
    lo = check_number(lo, f"{name}[0]")
    hi = check_number(hi, f"{name}[1]")
    if lo > hi:
        raise ValidationError(f"{name}={value!r}: expected low <= high")
    return lo, hi


# ============================================================================ metrics from counts
def divide(num: Any, den: Any, empty: float) -> np.ndarray:
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


def metrics_from_counts(tp: Any, fp: Any, pos: Any, neg: Any, *, beta: float, fp_cost: float, fn_cost: float
                        ) -> dict[str, np.ndarray]:
    """Every metric of the sweep from the counts (vectorised; conventions in the :mod:`mlmm.tuning` docstring).

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
    recall = divide(tp, pos, math.nan)
    fpr = divide(fp, neg, math.nan)
    b2 = beta * beta
    return {
        "precision": divide(tp, flagged, 1.0),
        "recall": recall,
        "fpr": fpr,
        "specificity": divide(tn, neg, math.nan),
        "accuracy": divide(tp + tn, pos + neg, math.nan),
        "f1": divide(2.0 * tp, flagged + pos, math.nan),
        "fbeta": divide((1.0 + b2) * tp, flagged + b2 * pos, math.nan),
        "cost": fp_cost * fp + fn_cost * fn,
        "youden_j": recall - fpr,
        "positive_rate": divide(flagged, pos + neg, math.nan),
    }


# ============================================================================ scores and the curve
def prepare_scores(scores: Any, labels: Any, weights: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Checked scores, labels and weights (``None`` when not given), rows of weight 0 dropped."""
    s = check_scores(scores)
    if s.size == 0:
        raise ValidationError("scores: expected at least one row, got none")
    y = check_labels(labels, s.size)
    w = None
    if weights is not None:
        w = check_weights(weights, s.size)
        keep = w > 0
        if not keep.any():
            raise ValidationError("weights: expected at least one weight > 0, got all zero")
        if not keep.all():
            s, y, w = s[keep], y[keep], w[keep]
    return s, y, w


def check_curve(curve: pl.DataFrame) -> None:
    """Raise unless ``curve`` is a frame returned by :func:`mlmm.tuning.sweep`."""
    if not isinstance(curve, pl.DataFrame):
        raise ValidationError(f"curve: expected the polars DataFrame returned by sweep(), got {type(curve).__name__}")
    missing = [c for c in ("threshold", "tp", "fp", "tn", "fn", *METRICS) if c not in curve.columns]
    if missing or curve.height == 0 or curve["threshold"][0] != math.inf:
        raise ValidationError(
            f"curve: expected the frame returned by sweep() (missing columns {missing})" if missing
            else "curve: expected the frame returned by sweep(), starting with the threshold = inf row")


def row_index(curve_thresholds: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Row of the descending curve whose operating point is ``score >= t``: the last row >= t."""
    ascending = curve_thresholds[::-1]
    at_or_above = curve_thresholds.size - np.searchsorted(ascending, thresholds, side="left")
    return at_or_above - 1


def format_threshold(t: float | None) -> str:
    """A threshold with as few decimals as it needs (2 to 6): ``0.80``, ``0.625``."""
    if t is None:
        return "none"
    if not math.isfinite(t):
        return "inf (nothing flagged)"
    for digits in (2, 3, 4, 5, 6):
        if abs(round(t, digits) - t) < 1e-12:
            return f"{t:.{digits}f}"
    return f"{t:.6g}"

