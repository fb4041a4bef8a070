"""Evaluate an A/B test on the prediction log: read both versions' counts, judge them.

The workspace-bound face of :mod:`mlmm.ab.analysis`: :func:`evaluate` reads each version's
metrics from the log over the test's window and calls :func:`mlmm.ab.analysis.analyze`;
:func:`cumulative_lift` reads daily counts and calls
:func:`mlmm.ab.analysis.cumulative_difference`.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
from typing import TYPE_CHECKING, Any

import polars as pl

from .._util import now, to_utc
from .analysis import ABTestResult, ArmMetrics, analyze, cumulative_difference
from .config import ABTestConfig
from .store import get_test

if TYPE_CHECKING:
    from ..workspace import Workspace

__all__ = ["cumulative_lift", "evaluate"]


def _daily_cumulative(ws: Workspace, config: ABTestConfig, since: Any, until: Any) -> pl.DataFrame:
    """Cumulative accuracy counts per day and version (the looks of the sequential test)."""
    from ..predictions import read_predictions

    lf = read_predictions(ws, config.model, since=since, until=until).filter(
        pl.col("version").is_in([config.version_a, config.version_b]) & pl.col("actual").is_not_null())
    daily = (lf.group_by(pl.col("timestamp").dt.truncate("1d").alias("day"), "version")
             .agg(pl.len().alias("n"), (pl.col("prediction") == pl.col("actual")).sum().alias("k")).collect())
    return daily.sort("day")


def evaluate(ws: Workspace, test: str | ABTestConfig, *, since: Any = None, until: Any = None,
             alpha: float | None = None, min_improvement: float | None = None) -> ABTestResult:
    """Evaluate a stored test (by id) or a config over ``since``..``until`` (default: from
    the test's start to now). ``alpha`` / ``min_improvement`` re-judge it with other values
    than the test's own (what-if), without changing the stored test."""
    from ..monitor import metrics

    if isinstance(test, str):
        stored = get_test(ws, test)
        config, test_id = stored.config, stored.test_id
        since = since if since is not None else stored.started_at
        if until is None:
            # the planned window: from the start for duration_days, or until it was stopped
            ends = [t for t in (stored.ended_at,) if t is not None]
            if stored.started_at is not None:
                ends.append(stored.started_at + _dt.timedelta(days=config.duration_days))
            until = min([*ends, now()])
    else:
        config, test_id = test, None
    changes = {k: v for k, v in (("alpha", alpha), ("min_improvement", min_improvement))
               if v is not None and v != getattr(config, k)}
    if changes:
        config = dataclasses.replace(config, **changes)  # validated by ABTestConfig.__post_init__
    what_if = changes if test_id is not None else {}
    s = to_utc(since, "since") if since is not None else None
    u = to_utc(until, "until") if until is not None else now()
    per_version = {version: metrics(ws, config.model, version, since=s, until=u, min_labelled=1)
                   for version in (config.version_a, config.version_b)}
    ma, mb = per_version[config.version_a], per_version[config.version_b]
    a = ArmMetrics.of(config.version_a, ma, config.primary_metric)
    b = ArmMetrics.of(config.version_b, mb, config.primary_metric)
    guardrails = {metric: (ArmMetrics.of(config.version_a, ma, metric), ArmMetrics.of(config.version_b, mb, metric))
                  for metric in config.guardrails}
    # the traffic behind the counts (for the days remaining), needed only when a sample can be planned
    elapsed = None
    if a.value and 0 < a.value < 1:
        first = s
        if first is None:
            from ..predictions import read_predictions

            first = read_predictions(ws, config.model, with_labels=False).filter(
                pl.col("version").is_in([config.version_a, config.version_b])).select(pl.col("timestamp").min()).collect().item()
        elapsed = (u - first).total_seconds() / 86400 if first else None
    return analyze(config, a, b, until=u, since=s, elapsed_days=elapsed, guardrails=guardrails, test_id=test_id,
                   what_if=what_if)


def cumulative_lift(ws: Workspace, test: str | ABTestConfig, *, since: Any = None, until: Any = None) -> pl.DataFrame:
    """Per day: cumulative counts, difference B - A, its always-valid (peeking-safe) interval
    and p-value: the chart of a test's history."""
    config = get_test(ws, test).config if isinstance(test, str) else test
    if isinstance(test, str) and since is None:
        since = get_test(ws, test).started_at
    return cumulative_difference(_daily_cumulative(ws, config, since, until), config)
