"""The precision/recall trade-off of a sweep: the best recall at each precision target, and
the chart of precision, recall and F1 against the threshold beside the precision-recall curve."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from ..errors import ValidationError
from ._common import check_curve, check_interval, check_number, row_index
from .curve import grid_view

__all__ = ["tradeoff_chart", "tradeoff_table"]


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
    >>> from mlmm.tuning import sweep
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
    check_curve(curve)
    targets = [check_number(p, f"precisions[{i}]", minimum=0.0, maximum=1.0) for i, p in enumerate(precisions)]
    rows = curve.slice(1)
    if bounds is not None:
        lo, hi = check_interval(bounds, "bounds")
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
    by_value = row_index(curve["threshold"].to_numpy(), grid) - 1
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

    >>> from mlmm.tuning import sweep
    >>> curve = sweep([0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.65, 0.6], [1, 1, 0, 1, 1, 0, 0, 1])
    >>> type(tradeoff_chart(curve, current=0.8, chosen=0.6)).__name__
    'HConcatChart'
    """
    import altair as alt

    check_curve(curve)
    if isinstance(max_points, bool) or not isinstance(max_points, int) or max_points < 4:
        raise ValidationError(f"max_points={max_points!r}: expected an integer >= 4")
    rows = _downsample(curve, max_points).select("threshold", "precision", "recall", "f1")
    long = [{"threshold": r["threshold"], "metric": k, "value": r[k]}
            for r in rows.iter_rows(named=True) for k in ("precision", "recall", "f1")]
    marks = [(t, name) for t, name in ((current, "current"), (chosen, "chosen")) if t is not None]
    points = []
    if marks:
        view = grid_view(curve, thresholds=[check_number(t, name) for t, name in marks])
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

