"""``mlmm tune ...``: threshold sweeps and grid searches, applied as configuration revisions."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from ..errors import ValidationError
from ._common import (
    ActorOpt,
    JsonOpt,
    ReasonOpt,
    WorkspaceOpt,
    console,
    emit,
    emit_json,
    emit_table,
    lazy_module,
    positive_int,
    workspace,
)

_MIN_IMPROVEMENT = 0.03  # the library default, kept literal so the module loads lazily (tests/test_cli.py checks)
TU = lazy_module("mlmm.tuning")

app = typer.Typer(help="Auto-tuning: decision thresholds and detector parameters.", no_args_is_help=True)

ALIASES = {"window": "window_size", "zscore": "zscore_threshold", "iqr": "iqr_multiplier", "z": "zscore_threshold"}


def _value(text: str) -> Any:
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    try:
        return int(low)
    except ValueError:
        pass
    try:
        return float(low)
    except ValueError:
        return text.strip()


def _grid(params: list[str] | None) -> dict[str, list[Any]] | None:
    if not params:
        return None
    grid: dict[str, list[Any]] = {}
    for item in params:
        key, sep, values = item.partition("=")
        if not sep or not values.strip():
            raise ValidationError(f"param={item!r}: expected NAME=V1,V2,... e.g. window=50,100,200")
        grid[ALIASES.get(key.strip(), key.strip())] = [_value(v) for v in values.split(",") if v.strip()]
    return grid


@app.command()
def threshold(
    model: Annotated[str, typer.Argument()],
    version: Annotated[str | None, typer.Option("--version", "-v", help="Default: the production version.")] = None,
    objective: Annotated[str, typer.Option(help="f1, fbeta, recall_at_precision, cost, youden or accuracy.")] = "f1",
    range_: Annotated[str | None, typer.Option("--range", help="START:STOP (default: the model's tuning_range).")] = None,
    step: Annotated[float | None, typer.Option(help="Grid step (default: the model's tuning_step, 0.05).")] = None,
    exact: Annotated[bool, typer.Option("--exact", help="Every distinct score instead of a grid.")] = False,
    min_precision: Annotated[float | None, typer.Option(help="For recall_at_precision.")] = None,
    min_improvement: Annotated[float, typer.Option(help="Relative improvement needed to apply.")] = _MIN_IMPROVEMENT,
    last: Annotated[str, typer.Option(help="Labelled predictions of this period.")] = "30d",
    until: Annotated[str | None, typer.Option("--until")] = None,
    apply: Annotated[bool, typer.Option("--apply", help="Write the threshold as a new configuration revision if it clears the minimum.")] = False,
    actor: ActorOpt = None,
    reason: ReasonOpt = None,
    workspace_path: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Sweep the decision threshold on the labelled predictions and compare with the current one."""
    grid = None
    if range_ is not None or step is not None:
        lo, hi = (0.5, 0.95)
        if range_ is not None:
            try:
                lo, hi = (float(x) for x in range_.split(":"))
            except ValueError:
                raise ValidationError(f"range={range_!r}: expected START:STOP, e.g. 0.5:0.95") from None
        grid = (lo, hi, step or 0.05)
    run = TU.tune_threshold(workspace(workspace_path), model, version, objective=objective, last=last, until=until,
                            grid=grid, exact=exact, min_precision=min_precision, min_improvement=min_improvement,
                            apply=apply, actor=actor, reason=reason)
    if as_json:
        emit_json(run.to_dict())
        return
    cols = [c for c in ("threshold", "precision", "recall", "f1", "fbeta", "accuracy", "fpr", "cost") if c in run.table.columns]
    if run.table.height <= 40:
        emit_table(run.table.select(cols), f"{model} {run.version}: {run.objective} by threshold")
    console.print(f"{run.run_id}: {run.summary}", markup=False)
    console.print("applied as a new configuration revision" if run.applied else "not applied", markup=False)


@app.command()
def grid(
    model: Annotated[str, typer.Argument()],
    param: Annotated[list[str] | None, typer.Option("--param", "-p", help="NAME=V1,V2,... (repeatable): window, zscore, iqr, log, threshold, rule.")] = None,
    version: Annotated[str | None, typer.Option("--version", "-v")] = None,
    tune_days: Annotated[int, typer.Option(help="Days the parameters are chosen on.")] = 14,
    holdout_days: Annotated[int, typer.Option(help="Later days the winner is judged on.")] = 7,
    until: Annotated[str | None, typer.Option("--until", help="End of the held-out days (default: the newest prediction).")] = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="Worker processes.")] = 1,
    random: Annotated[int | None, typer.Option("--random", help="Random search: this many points of the grid.")] = None,
    min_improvement: Annotated[float, typer.Option(help="Relative F1 improvement on held-out days needed to apply.")] = _MIN_IMPROVEMENT,
    apply: Annotated[bool, typer.Option("--apply")] = False,
    actor: ActorOpt = None,
    reason: ReasonOpt = None,
    workspace_path: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Grid search of the queue detector's parameters with time-ordered validation."""
    run = TU.grid_search_detector(workspace(workspace_path), model, version, grid=_grid(param), tune_days=tune_days,
                                  holdout_days=holdout_days, until=until, n_jobs=jobs, random=random,
                                  min_improvement=min_improvement, apply=apply, progress=not as_json, actor=actor,
                                  reason=reason)
    if as_json:
        emit_json(run.to_dict())
        return
    emit_table(run.table.head(10), f"{model}: best 10 points on the tuning days")
    console.print(f"{run.run_id}: {run.summary}", markup=False)
    console.print("applied as a new configuration revision" if run.applied else "not applied", markup=False)


@app.command()
def adaptive(
    model: Annotated[str, typer.Argument()],
    version: Annotated[str | None, typer.Option("--version", "-v")] = None,
    last: Annotated[str, typer.Option(help="Recent period whose FP/FN rates drive the nudge.")] = "24h",
    until: Annotated[str | None, typer.Option("--until")] = None,
    max_step: Annotated[float, typer.Option(help="Largest change in one adjustment.")] = 0.1,
    apply: Annotated[bool, typer.Option("--apply", help="Write a changed threshold as a configuration revision.")] = False,
    actor: ActorOpt = None,
    reason: ReasonOpt = None,
    workspace_path: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Nudge the threshold from recent false-positive and false-negative rates (seed adaptiveThresholdAdjustment)."""
    result = TU.adaptive(workspace(workspace_path), model, version, last=last, until=until, max_step=max_step,
                         apply=apply, actor=actor, reason=reason)
    if as_json:
        emit_json(result.to_dict())
        return
    console.print(result.explanation + (" (applied)" if apply and result.threshold != result.current else ""), markup=False)


@app.command()
def history(
    model: Annotated[str | None, typer.Argument()] = None,
    limit: Annotated[str | None, typer.Option("--limit", "-n", metavar="N", help="Only the newest N runs.")] = None,
    workspace_path: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Stored tuning runs, newest first."""
    n = positive_int(limit, "--limit")
    frame = TU.history(workspace(workspace_path), model)
    if n is not None:
        frame = frame.head(n)
    if as_json:
        emit_json(frame)
        return
    emit(frame.select("ts", "run_id", "kind", "improvement", "applied", "summary"), False, "tuning runs",
         empty="no tuning runs")
