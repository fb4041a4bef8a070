"""Charts of an A/B test (altair): each version's metric with its interval, and the
cumulative difference with its always-valid band. Pure: a result or a frame in, a chart out.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from .analysis import ABTestResult

__all__ = ["lift_chart", "result_chart"]


def result_chart(result: ABTestResult) -> Any:
    """The primary metric per version with its Wilson interval."""
    import altair as alt

    rows = [{"version": f"{arm} {m.version}", "value": m.value, "low": m.low, "high": m.high, "n": m.trials}
            for arm, m in (("A", result.a), ("B", result.b)) if m.value is not None]
    base = alt.Chart(alt.Data(values=rows)).encode(y=alt.Y("version:N", title=None))
    points = base.mark_point(filled=True, size=80).encode(
        x=alt.X("value:Q", title=result.config.primary_metric, scale=alt.Scale(zero=False)),
        tooltip=["version:N", "value:Q", "low:Q", "high:Q", "n:Q"])
    return alt.layer(base.mark_rule().encode(x="low:Q", x2="high:Q"), points).properties(
        width=480, height=90, title=f"{result.config.primary_metric} with 95 % intervals")


def lift_chart(cumulative: pl.DataFrame) -> Any:
    """Cumulative difference B - A per day with its always-valid interval: where the band
    leaves zero the test may stop, at any look."""
    import altair as alt

    rows = cumulative.with_columns(pl.col("day").dt.strftime("%Y-%m-%d")).to_dicts()
    base = alt.Chart(alt.Data(values=rows)).encode(x=alt.X("day:T", title=None))
    band = base.mark_area(opacity=0.25).encode(y=alt.Y("ci_low:Q", title="difference B - A"), y2="ci_high:Q")
    line = base.mark_line(point=True).encode(y="difference:Q", tooltip=["day:T", "difference:Q", "ci_low:Q",
                                                                       "ci_high:Q", "p_value:Q", "n_a:Q", "n_b:Q"])
    zero = alt.Chart(alt.Data(values=[{"y": 0}])).mark_rule(strokeDash=[4, 4], color="#555").encode(y="y:Q")
    return alt.layer(band, line, zero).properties(width=560, height=200,
                                                  title="cumulative difference with the always-valid (peeking-safe) interval")
