"""Charts of feature drift (Altair): the drift statistic per chunk against its threshold, and the
reference vs current distribution of a column. They draw aggregated data only, so a million-row
column makes a small spec.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import polars as pl

from ..errors import ValidationError
from .features import DriftCheck, check_data

if TYPE_CHECKING:
    from ..workspace import Workspace

__all__ = ["distribution_chart", "distribution_charts", "score_chart"]


def score_chart(frame: pl.DataFrame, *, columns: Sequence[str] | None = None, title: str | None = None) -> Any:
    """Drift statistic per chunk and column (from :func:`mlmm.drift.over_time`) against its threshold;
    drifted chunks are filled points."""
    import altair as alt

    data = frame.filter(pl.col("period") != "reference") if "period" in frame.columns else frame
    if columns is not None:
        data = data.filter(pl.col("column").is_in(list(columns)))
    rows = data.select("start", "column", "test", "statistic", "threshold", "drifted").to_dicts()
    for r in rows:
        r["start"] = r["start"].isoformat() if hasattr(r["start"], "isoformat") else r["start"]
    base = alt.Chart(alt.Data(values=rows)).encode(x=alt.X("start:T", title=None))
    line = base.mark_line(point=alt.OverlayMarkDef(filled=True)).encode(
        y=alt.Y("statistic:Q"), color="column:N", tooltip=["column:N", "start:T", "test:N", "statistic:Q", "threshold:Q", "drifted:N"])
    rule = base.mark_line(strokeDash=[6, 3], color="#d62728").encode(y="threshold:Q", detail="column:N")
    return alt.layer(line, rule).properties(width=640, height=220, title=title or "drift statistic per chunk (dashed: threshold)")


def distribution_charts(ws: Workspace, result: DriftCheck, *, max_charts: int = 12, per_row: int = 2) -> Any:
    """Reference vs current distributions of a check's columns, drifted first then by
    statistic, at most ``max_charts``, ``per_row`` to a row (an Altair chart)."""
    import altair as alt

    ref, cur = check_data(ws, result)
    ranked = sorted(result.report.columns, key=lambda c: (not c.drifted, -(c.statistic or 0)))[:max_charts]
    charts = [distribution_chart(ref, cur, c.column) for c in ranked if c.column in ref.columns]
    if not charts:
        raise ValidationError(f"check {result.check_id}: no column to chart")
    return alt.vconcat(*[alt.hconcat(*charts[i:i + per_row]) for i in range(0, len(charts), per_row)])


def distribution_chart(reference: Any, current: Any, column: str, *, bins: int = 30, top: int = 15) -> Any:
    """Reference vs current distribution of one column, aggregated before charting:
    ``bins`` equal-width bins for a numeric column, the ``top`` categories otherwise."""
    import altair as alt

    ref = reference if isinstance(reference, pl.DataFrame) else pl.DataFrame(reference)
    cur = current if isinstance(current, pl.DataFrame) else pl.DataFrame(current)
    if column not in ref.columns or column not in cur.columns:
        raise ValidationError(f"column={column!r}: expected a column of both frames")
    both = pl.concat([ref.select(pl.col(column)).with_columns(pl.lit("reference").alias("side")),
                      cur.select(pl.col(column)).with_columns(pl.lit("current").alias("side"))], how="vertical_relaxed")
    dtype = both.schema[column]
    if dtype.is_numeric() and both.get_column(column).n_unique() > 5:
        values = both.get_column(column).cast(pl.Float64)
        lo, hi = values.drop_nans().min(), values.drop_nans().max()
        width = (hi - lo) / bins if hi is not None and lo is not None and hi > lo else 1.0
        agg = (both.with_columns(((pl.col(column).cast(pl.Float64) - lo) / width).floor().clip(0, bins - 1).alias("b"))
               .group_by("side", "b").agg(pl.len().alias("n")).drop_nulls("b")
               .with_columns((pl.lit(lo) + pl.col("b") * width).alias("x"),
                             (pl.col("n") / pl.col("n").sum().over("side")).alias("share")))
        rows = agg.select("side", "x", "share").to_dicts()
        return alt.Chart(alt.Data(values=rows)).mark_line(interpolate="step-after").encode(
            x=alt.X("x:Q", title=column), y=alt.Y("share:Q", title="share of rows"), color="side:N",
            tooltip=["side:N", "x:Q", "share:Q"]).properties(width=300, height=160, title=column)
    counts = (both.with_columns(pl.col(column).cast(pl.String).fill_null("(missing)"))
              .group_by("side", column).agg(pl.len().alias("n"))
              .with_columns((pl.col("n") / pl.col("n").sum().over("side")).alias("share")))
    keep = counts.group_by(column).agg(pl.col("n").sum()).sort("n", descending=True).head(top).get_column(column)
    rows = counts.filter(pl.col(column).is_in(keep.implode())).rename({column: "category"}).select("side", "category", "share").to_dicts()
    return alt.Chart(alt.Data(values=rows)).mark_bar().encode(
        x=alt.X("category:N", sort="-y", title=column), xOffset="side:N", y=alt.Y("share:Q", title="share of rows"),
        color="side:N", tooltip=["side:N", "category:N", "share:Q"]).properties(width=300, height=160, title=column)
