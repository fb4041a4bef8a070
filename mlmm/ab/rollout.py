"""Gradual rollout plans: steps to 100 % with the sample each needs and how long it takes,
and a sample-ratio check of every canary phase already executed (seed ``generateRolloutPlan``).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import polars as pl

from .. import stats as S
from .._util import now, to_utc
from ..errors import ValidationError
from ..window import last_range

if TYPE_CHECKING:
    from ..workspace import Workspace

__all__ = ["RolloutPlan", "rollout_plan"]


@dataclasses.dataclass(frozen=True)
class RolloutPlan:
    """Steps of a gradual rollout with the sample each needs and how long it takes."""

    model: str
    version: str
    steps: pl.DataFrame
    executed: pl.DataFrame
    daily_predictions: float
    label_rate: float

    def to_dict(self) -> dict[str, Any]:
        def rows(frame: pl.DataFrame) -> list[dict[str, Any]]:
            return frame.with_columns(pl.col(pl.Datetime).dt.to_string("%Y-%m-%dT%H:%M:%S%z")).to_dicts()

        return {"model": self.model, "version": self.version, "daily_predictions": self.daily_predictions,
                "label_rate": self.label_rate, "steps": rows(self.steps), "executed_phases": rows(self.executed)}


def rollout_plan(ws: Workspace, model: str, version: str, *, steps: Sequence[float] = (0.10, 0.25, 0.50, 1.0),
                 baseline: float | None = None, regression: float = 0.05, power: float = 0.8, alpha: float = 0.05,
                 traffic_window: str = "7d", until: Any = None, env: str = "production") -> RolloutPlan:
    """A plan to move ``version`` of ``model`` to 100 % (default 10, 25, 50, 100 %).

    Each step but the last lasts until the new version has enough labelled predictions to
    detect a relative ``regression`` of the baseline accuracy (one-sided, ``power``,
    ``alpha``) against the rest of the traffic; its duration follows from the model's recent
    traffic and label rate. Executed canary phases of ``version`` (registry traffic events)
    get a sample-ratio check each: did the version really get its share?
    """
    from ..monitor import metrics

    shares = [float(x) for x in steps]
    if not shares or any(not 0 < x <= 1 for x in shares) or shares != sorted(shares):
        raise ValidationError(f"steps={list(steps)!r}: expected increasing shares in (0, 1]")
    version = str(ws.registry.get(model, version).version)
    u = to_utc(until, "until") if until is not None else now()
    since, _ = last_range(traffic_window, u, field="traffic_window")
    recent = metrics(ws, model, since=since, until=u, min_labelled=1)
    days = (u - since).total_seconds() / 86400
    daily = recent.count / days
    label_rate = recent.labelled / recent.count if recent.count else 0.0
    base = baseline if baseline is not None else (recent.accuracy.value or float(
        dict(ws.registry.get(model, version).performance_metrics).get("accuracy", 0.9)))
    rows = []
    for share in shares:
        if share >= 1:
            rows.append((share, None, None, None, "full traffic: monitor against the floor"))
            continue
        plan = S.proportion_power(base, base * (1 - regression), power=power, alpha=alpha,
                                  ratio=share / (1 - share), alternative="less")
        need_b = plan.required_b
        per_day = daily * label_rate * share
        duration = math.ceil(need_b / per_day) if per_day > 0 else None
        rows.append((share, need_b, plan.required_a, duration,
                     f"{need_b:,} labelled predictions of {version} to catch a {regression:.0%} drop"))
    frame = pl.DataFrame(rows, schema={"share": pl.Float64, "needed_new": pl.Int64, "needed_rest": pl.Int64,
                                       "days": pl.Int64, "note": pl.String}, orient="row")
    return RolloutPlan(model, version, frame, _executed_phases(ws, model, version, env, u), daily, label_rate)


def _executed_phases(ws: Workspace, model: str, version: str, env: str, until: _dt.datetime) -> pl.DataFrame:
    """The canary phases of ``version`` in the registry, each with its logged split and SRM."""
    from ..predictions import read_predictions

    with ws.connect() as con:
        events = con.execute(
            "SELECT ts, kind, version, traffic FROM events WHERE model_name = ? AND environment = ?"
            " AND kind IN ('traffic', 'deployed', 'undeployed') ORDER BY seq", [model, env]).fetchall()
    phases = []
    for i, (ts, kind, ver, traffic) in enumerate(events):
        if kind != "traffic" or ver != version or not traffic:
            continue
        start = ts.replace(tzinfo=_dt.UTC)
        end = events[i + 1][0].replace(tzinfo=_dt.UTC) if i + 1 < len(events) else until
        counts = (read_predictions(ws, model, since=start, until=end, with_labels=False)
                  .group_by(pl.col("version") == version).agg(pl.len()).collect())
        n_new = int(counts.filter(pl.col("version")).get_column("len").sum() or 0)
        n_rest = int(counts.filter(~pl.col("version")).get_column("len").sum() or 0)
        srm = (S.sample_ratio_mismatch([n_rest, n_new], [1 - float(traffic), float(traffic)])
               if n_new + n_rest and 0 < float(traffic) < 1 else None)  # at 100 % there is no split to check
        phases.append((start, end, float(traffic), n_new, n_rest, n_new / max(n_new + n_rest, 1),
                       None if srm is None else srm.p_value, None if srm is None else srm.mismatch))
    return pl.DataFrame(phases, schema={"start": pl.Datetime("us", "UTC"), "end": pl.Datetime("us", "UTC"),
                                        "planned_share": pl.Float64, "new": pl.Int64, "rest": pl.Int64,
                                        "observed_share": pl.Float64, "srm_p": pl.Float64, "srm_mismatch": pl.Boolean},
                        orient="row")
