"""Tuning runs on the workspace: the :class:`TuningRun` record of one search, appended to the
registry's ``tuning_runs`` table with its result table, and :func:`history` that reads them back."""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING, Any

import polars as pl

from .._util import naive_utc, now

if TYPE_CHECKING:
    from ..workspace import Workspace

__all__ = ["TuningRun", "history", "store_run"]


@dataclasses.dataclass(frozen=True)
class TuningRun:
    """One tuning run: what was searched, the best point, the current one, the decision."""

    run_id: str
    model: str
    version: str
    kind: str  # threshold or grid
    objective: str
    current: dict[str, Any]
    best: dict[str, Any]
    improvement: float | None
    improvement_low: float | None
    improvement_high: float | None
    clears_minimum: bool
    applied: bool
    summary: str
    table: pl.DataFrame
    detail: Any = None

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "model": self.model, "version": self.version, "kind": self.kind,
                "objective": self.objective, "current": self.current, "best": self.best,
                "improvement": self.improvement, "improvement_low": self.improvement_low,
                "improvement_high": self.improvement_high, "clears_minimum": self.clears_minimum,
                "applied": self.applied, "summary": self.summary,
                "table": self.table.head(200).with_columns(pl.col(pl.Datetime).dt.to_string("%Y-%m-%dT%H:%M:%S%z"))
                .to_dicts()}

    def __repr__(self) -> str:
        return f"<TuningRun {self.run_id} {self.model} {self.version} ({self.kind}): {self.summary}>"


def store_run(ws: Workspace, run: TuningRun, actor: str, reason: str | None) -> None:
    """Append ``run`` to the registry's ``tuning_runs`` (its first 2,000 table rows as JSON).

    Parameters
    ----------
    ws : the workspace whose registry keeps the runs.
    run : the run to store.
    actor : who ran it (already resolved, e.g. by :func:`mlmm._util.current_actor`).
    reason : why, or None.
    """
    table = run.table.head(2000).with_columns(pl.col(pl.Datetime).dt.to_string("%Y-%m-%dT%H:%M:%S%z"))
    with ws.connect() as con:
        con.execute(
            "INSERT INTO tuning_runs (ts, run_id, model_name, version, kind, objective, current, best, improvement,"
            " improvement_low, improvement_high, clears_minimum, applied, summary, result_table, actor, reason)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [naive_utc(now()), run.run_id, run.model, run.version, run.kind, run.objective,
             json.dumps(run.current, default=str), json.dumps(run.best, default=str), run.improvement,
             run.improvement_low, run.improvement_high, run.clears_minimum, run.applied, run.summary,
             json.dumps(table.to_dicts(), default=str), actor, reason])


def history(ws: Workspace, model: str | None = None) -> pl.DataFrame:
    """Stored tuning runs, newest first."""
    sql = ("SELECT ts, run_id, model_name, version, kind, objective, improvement, clears_minimum, applied, summary,"
           " actor FROM tuning_runs")
    params: list[Any] = []
    if model is not None:
        sql += " WHERE model_name = ?"
        params.append(model)
    with ws.connect() as con:
        rows = con.execute(sql + " ORDER BY seq DESC", params).fetchall()
    return pl.DataFrame(rows, schema={"ts": pl.Datetime("us"), "run_id": pl.String, "model": pl.String,
                                      "version": pl.String, "kind": pl.String, "objective": pl.String,
                                      "improvement": pl.Float64, "clears_minimum": pl.Boolean, "applied": pl.Boolean,
                                      "summary": pl.String, "actor": pl.String}, orient="row").with_columns(
        pl.col("ts").dt.replace_time_zone("UTC"))
