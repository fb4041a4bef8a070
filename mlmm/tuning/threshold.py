"""Choosing a decision threshold: the best for an objective, compared with the current one,
with a bootstrap interval of the improvement and a sentence that explains it.

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
Youden, W. J. (1950). Index for rating diagnostic tests. Cancer 3, 32-35.
Elkan, C. (2001). The foundations of cost-sensitive learning. IJCAI 2001.
Efron, B. & Tibshirani, R. (1993). An Introduction to the Bootstrap, ch. 13 (percentile interval).
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import polars as pl

from .._util import jsonable
from ..errors import ValidationError
from ._common import (
    METRICS,
    check_choice,
    check_interval,
    check_number,
    divide,
    format_threshold,
    metrics_from_counts,
    prepare_scores,
    row_index,
)
from .curve import grid_thresholds, grid_view, sweep

__all__ = ["DEFAULT_MIN_IMPROVEMENT", "OBJECTIVES", "ThresholdResult", "optimize_threshold"]

log = logging.getLogger("mlmm")

OBJECTIVES = ("f1", "fbeta", "recall_at_precision", "cost", "youden", "accuracy")
"""The objectives :func:`optimize_threshold` can maximize (``"cost"`` is minimized)."""

DEFAULT_MIN_IMPROVEMENT = 0.03  # seed 000: "only apply with 3-5 % improvement"
"""The relative improvement a tuning result needs before it is applied (3 %)."""

_OBJECTIVE_COLUMN = {"f1": "f1", "fbeta": "fbeta", "recall_at_precision": "recall", "cost": "cost",
                     "youden": "youden_j", "accuracy": "accuracy"}
_TIE_RTOL = 1e-12


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
        out = {f.name: jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)
               if f.name not in ("curve", "table")}
        out["changed"] = self.changed
        out["significant"] = self.significant
        if curve:
            out["curve"] = [{k: jsonable(v) for k, v in row.items()} for row in self.curve.iter_rows(named=True)]
        return out

    def __repr__(self) -> str:
        cur = "" if self.current is None else f", current {format_threshold(self.current)} ({self.current_value:.4g})"
        imp = ""
        if self.improvement is not None:
            ci = "" if self.ci_low is None else f" [{self.ci_low:+.1%}, {self.ci_high:+.1%}]"
            imp = f", {self.improvement:+.1%}{ci}, clears {self.min_improvement:.0%}: {'yes' if self.clears_minimum else 'no'}"
        return f"<ThresholdResult {self.objective}: {format_threshold(self.threshold)} ({self.value:.4g}){cur}{imp}>"


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
    v_cur = metrics_from_counts(tp_cur, fp_cur, pos, neg, **kw)[column]
    v_best = metrics_from_counts(tp_best, fp_best, pos, neg, **kw)[column]
    gain = v_cur - v_best if objective == "cost" else v_best - v_cur
    rel = divide(gain, np.abs(v_cur), math.nan)
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
    t_best = format_threshold(best["threshold"])
    if cur is None:
        return (f"{name} {_fmt_value(objective, value)} at threshold {t_best} ({method}); no current threshold"
                " to compare with.")
    t_cur = format_threshold(cur["threshold"])
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
    min_improvement: float = DEFAULT_MIN_IMPROVEMENT,
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
    objective = check_choice(objective, "objective", OBJECTIVES)
    if objective == "recall_at_precision":
        if min_precision is None:
            raise ValidationError("min_precision=None: expected a number in [0, 1] for objective='recall_at_precision'")
        min_precision = check_number(min_precision, "min_precision", minimum=0.0, maximum=1.0)
    if current is not None:
        current = check_number(current, "current")
    min_improvement = check_number(min_improvement, "min_improvement", minimum=0.0)
    confidence = check_number(confidence, "confidence", minimum=0.0, exclusive=True, maximum=1.0)
    if confidence >= 1.0:
        raise ValidationError(f"confidence={confidence!r}: expected a number in (0, 1)")
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 0:
        raise ValidationError(f"n_boot={n_boot!r}: expected an integer >= 0")
    lo_hi = check_interval(bounds, "bounds") if bounds is not None else None

    s, y, _ = prepare_scores(scores, labels, None)
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
        method = f"grid {format_threshold(float(start))} to {format_threshold(float(stop))} by {step:g}"
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
            f" in [{format_threshold(lo_hi[0])}, {format_threshold(lo_hi[1])}]" if lo_hi else "")
        table = curve if lo_hi is None else curve.filter(pl.col("threshold").is_between(lo_hi[0], lo_hi[1]))
    if candidates.size == 0:
        raise ValidationError(f"bounds={bounds!r}, grid={grid!r}: expected at least one candidate threshold")

    rows = row_index(thr, candidates)
    m = {c: curve[c].to_numpy()[rows] for c in METRICS}
    values = _objective_values(m, objective, min_precision)
    if objective == "recall_at_precision" and not np.isfinite(values).any():
        top = int(np.argmax(m["precision"]))
        raise ValidationError(
            f"min_precision={min_precision!r}: no candidate threshold reaches it (highest precision"
            f" {m['precision'][top]:.4f} at threshold {format_threshold(float(candidates[top]))})")
    k = _pick(values, candidates, current)
    best_t = float(candidates[k])
    best = _row_dict(curve, rows[k], best_t)
    column = _OBJECTIVE_COLUMN[objective]
    value = best[column]

    cur = cur_value = improvement = improvement_abs = None
    ci: tuple[float | None, float | None] = (None, None)
    clears = False
    if current is not None:
        cur = _row_dict(curve, row_index(thr, np.asarray([current]))[0], current)
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

