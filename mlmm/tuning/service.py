"""Tuning on the workspace: threshold sweeps on the prediction log, adaptive nudges from its recent
error rates, grid search of the queue detector; results applied as configuration revisions.

The pure computation is in the other modules of :mod:`mlmm.tuning`; this one feeds it from the
prediction log and the registry (seed 000 ``AutoTuningEngine``, seed 001 ``ml:tune``):

- :func:`tune_threshold` sweeps the decision threshold of a model's ``confidence`` (the
  positive-class score, ``prediction = confidence >= threshold``) on its labelled predictions,
  over the model's ``tuning_range`` / ``tuning_step`` (seed: 0.05 steps) or every distinct
  score, for an objective (F1 by default), and compares the best with the current
  ``threshold`` of the version's configuration, with a bootstrap interval.
- :func:`adaptive` nudges the threshold from the false-positive and false-negative rates of the
  last hours (:func:`mlmm.tuning.adaptive_adjustment`).
- :func:`grid_search_detector` tunes the queue-anomaly detector's parameters
  (:class:`mlmm.demo.queue_anomaly.QueueAnomalyDetector`) with time-ordered validation: parameters
  are chosen on the tuning days and the winner is judged against the current configuration
  on later held-out days, never seen while choosing.
- A result is applied only when it clears the minimum improvement (3 % relative by
  default, seed: "only apply with 3-5 % improvement"); applying writes a new configuration
  revision whose reason names the tuning run, so ``mlmm models rollback-config`` undoes it.
- Every run is appended to the registry's ``tuning_runs`` with its table (:mod:`mlmm.tuning.runs`).
"""

from __future__ import annotations

import datetime as _dt
import functools
import tempfile
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from .._util import current_actor, now, to_utc
from ..demo.queue_anomaly import QueueAnomalyDetector, f1_on
from ..errors import ValidationError
from ..predictions import read_predictions
from ..window import last_range
from .adjustment import AdaptiveResult, adaptive_adjustment
from .curve import grid_view
from .runs import TuningRun, store_run
from .search import grid_search
from .threshold import DEFAULT_MIN_IMPROVEMENT, optimize_threshold

if TYPE_CHECKING:
    from ..workspace import Workspace

__all__ = ["adaptive", "grid_search_detector", "tune_threshold"]


def _version(ws: Workspace, model: str, version: str | None) -> Any:
    if version is not None:
        return ws.registry.get(model, version)
    return ws.registry.serving_version(model, or_latest=True)


def _float(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return None if out != out else out


def _apply_result(ws: Workspace, model: str, vname: str, changes: dict[str, Any], *, run_id: str, summary: str,
                  clears: bool, min_improvement: float, actor: str | None) -> str | None:
    """Write ``changes`` as a configuration revision whose reason names the tuning run, when the
    result clears the minimum improvement; otherwise return why it was not applied."""
    if not clears:
        return f"Not applied: the improvement does not clear the {min_improvement:.0%} minimum"
    ws.registry.update_config(model, vname, changes, actor=actor, reason=f"tuning run {run_id}: {summary}")
    return None


# ----------------------------------------------------------------------------- thresholds
def tune_threshold(
    ws: Workspace,
    model: str,
    version: str | None = None,
    *,
    objective: str = "f1",
    last: str = "30d",
    until: Any = None,
    grid: tuple[float, float, float] | None = None,
    exact: bool = False,
    min_precision: float | None = None,
    fp_cost: float = 1.0,
    fn_cost: float = 1.0,
    min_improvement: float = DEFAULT_MIN_IMPROVEMENT,
    apply: bool = False,
    actor: str | None = None,
    reason: str | None = None,
    seed: int = 0,
) -> TuningRun:
    """Find the best decision threshold of ``model`` on its labelled predictions.

    ``grid`` is ``(start, stop, step)``; by default the model's ``tuning_range`` and
    ``tuning_step`` (seed: 0.05), else 0.5-0.95. ``exact=True`` searches every distinct score
    instead. The current threshold is the version's ``threshold`` configuration.
    """
    meta = _version(ws, model, version)
    vname = str(meta.version)
    config = dict(meta.configuration)
    if "threshold" not in config:
        raise ValidationError(f"{model} {vname} has no 'threshold' in its configuration; expected one to tune")
    current = float(config["threshold"])
    if grid is None and not exact:
        lo, hi = config.get("tuning_range", [0.5, 0.95])
        grid = (float(lo), float(hi), float(config.get("tuning_step", 0.05)))
    u = to_utc(until, "until") if until is not None else now()
    data = (read_predictions(ws, model, vname, since=last_range(last, u)[0], until=u)
            .filter(pl.col("actual").is_not_null() & pl.col("confidence").is_not_null())
            .select("confidence", "actual").collect())
    if data.height < 100:
        raise ValidationError(f"{model} {vname}: {data.height} labelled predictions with a confidence in the last {last};"
                              " expected at least 100 (seed 001: insufficient prediction data)")
    labels = (data.get_column("actual") == 1).cast(pl.Int8).to_numpy()
    result = optimize_threshold(data.get_column("confidence").to_numpy(), labels, objective=objective,
                                current=current, min_precision=min_precision, fp_cost=fp_cost, fn_cost=fn_cost,
                                grid=None if exact else grid, min_improvement=min_improvement, seed=seed)
    info = result.to_dict()
    best_t = float(info["threshold"])
    run_id = f"tune-{model}-{uuid.uuid4().hex[:8]}"
    clears = bool(info["clears_minimum"])
    applied = False
    summary = str(info["explanation"])
    if apply and clears and abs(best_t - current) <= 1e-12:
        summary += " Not applied: the best threshold is the current one."
    elif apply:
        why_not = _apply_result(ws, model, vname, {"threshold": best_t}, run_id=run_id, summary=summary, clears=clears,
                                min_improvement=min_improvement, actor=actor)
        applied = why_not is None
        summary += "" if applied else f" {why_not}."
    # the search's own table (the grid's rows, or the exact curve); an exact search with a grid shows the grid's rows
    table = grid_view(result.curve, start=grid[0], stop=grid[1], step=grid[2]) if exact and grid is not None \
        else result.table
    imp = info.get("improvement")
    lo_hi = [info.get("ci_low"), info.get("ci_high")]
    run = TuningRun(run_id, model, vname, "threshold", objective, {"threshold": current}, {"threshold": best_t},
                    _float(imp), _float(lo_hi[0]), _float(lo_hi[1]), clears, applied, summary, table, result)
    store_run(ws, run, current_actor(actor), reason)
    return run


def adaptive(ws: Workspace, model: str, version: str | None = None, *, last: str = "24h", until: Any = None,
             step: float | None = None, max_step: float = 0.1, apply: bool = False, actor: str | None = None,
             reason: str | None = None) -> AdaptiveResult:
    """The seed's ``adaptiveThresholdAdjustment`` on the log: the false-positive and
    false-negative rates of the last ``last`` nudge the version's threshold within its
    ``tuning_range`` by at most ``max_step`` (see :func:`mlmm.tuning.adaptive_adjustment`).
    ``apply=True`` writes a changed threshold as a configuration revision."""
    from ..monitor import metrics

    meta = _version(ws, model, version)
    vname = str(meta.version)
    config = dict(meta.configuration)
    if "threshold" not in config:
        raise ValidationError(f"{model} {vname} has no 'threshold' in its configuration; expected one to adjust")
    m = metrics(ws, model, vname, last=last, until=until)
    if not m.sufficient:
        raise ValidationError(f"{model} {vname}: {m.message}")
    lo, hi = config.get("tuning_range", [0.5, 0.9])
    result = adaptive_adjustment(float(config["threshold"]), fp_rate=m.fpr.value or 0.0, fn_rate=m.fnr.value or 0.0,
                                 step=float(step or config.get("tuning_step", 0.05)), max_step=max_step,
                                 bounds=(float(lo), float(hi)))
    if apply and abs(result.threshold - result.current) > 1e-12:
        ws.registry.update_config(model, vname, {"threshold": result.threshold}, actor=actor,
                                  reason=reason or f"adaptive adjustment: {result.explanation}")
    return result


# ----------------------------------------------------------------------------- grid search
def _evaluate_detector(params: Mapping[str, Any], *, base: Mapping[str, Any], since: str, until: str,
                       path: str | None = None, data: pl.DataFrame | None = None) -> dict[str, Any]:
    """Score one parameter point on the tuning days (a top-level function: it runs in a
    worker process). The jobs come from a file on this machine (``path``) or with the call
    (``data``, for workers on other machines)."""
    jobs = data if data is not None else pl.read_parquet(path)
    detector = QueueAnomalyDetector.from_config(base, **dict(params))
    out = detector.predict(jobs)
    window = out.filter((pl.col("timestamp") >= to_utc(since)) & (pl.col("timestamp") < to_utc(until)))
    scores = f1_on(window)
    return {"score": scores["f1"], "precision": scores["precision"], "recall": scores["recall"]}


def _detector_inputs(ws: Workspace, model: str, vname: str, config: Mapping[str, Any]) -> list[str]:
    """The log columns the version's queue detector reads (its metrics and its group), or a
    ValidationError naming the model when its configuration or its log is not a detector's."""
    try:
        detector = QueueAnomalyDetector.from_config(config)
    except (TypeError, ValueError) as exc:  # ValidationError is a ValueError
        raise ValidationError(f"model={model!r} version={vname!r}: its configuration does not describe a queue anomaly"
                              f" detector ({exc}); expected a model such as queue-anomaly") from None
    inputs = [*detector.metrics, detector.group]
    schema = read_predictions(ws, model, with_labels=False).collect_schema()
    missing = [c for c in inputs if c not in schema]
    if missing:
        also = "" if missing == inputs else f" (it reads {', '.join(inputs)})"
        raise ValidationError(
            f"model={model!r}: no queue anomaly detector to tune: its prediction log has no {', '.join(missing)}"
            f" column(s){also}; expected a model that logs the detector's inputs, such as queue-anomaly"
            " (`mlmm tune threshold` tunes the threshold of any model)")
    return inputs


def grid_search_detector(
    ws: Workspace,
    model: str = "queue-anomaly",
    version: str | None = None,
    *,
    grid: Mapping[str, Sequence[Any]] | None = None,
    tune_days: int = 14,
    holdout_days: int = 7,
    warmup_days: int = 3,
    until: Any = None,
    n_jobs: int = 1,
    executor: Any = None,
    scheduler: str | None = None,
    random: int | None = None,
    min_improvement: float = DEFAULT_MIN_IMPROVEMENT,
    apply: bool = False,
    progress: bool = False,
    actor: str | None = None,
    reason: str | None = None,
    seed: int = 0,
) -> TuningRun:
    """Grid (or random, ``random=`` points) search of the detector's parameters.

    Time-ordered validation over the log's last ``warmup_days + tune_days + holdout_days``
    days ending at ``until`` (default: the newest prediction): the first days only fill the
    detector's windows, parameters are ranked by F1 on the tuning days, and the best is
    compared with the version's current configuration on the held-out days that follow.

    Where the points run: ``n_jobs`` worker processes here, or a cluster through ``executor``
    (e.g. ``dask.distributed.Client(...).get_executor()``) or ``scheduler="tcp://host:8786"``,
    as :func:`mlmm.tuning.grid_search`. On a cluster the tuning data travels with the search
    (once per Dask worker) instead of through a temporary file. The result is the same.
    """
    from ..monitor import last_prediction_time

    meta = _version(ws, model, version)
    vname = str(meta.version)
    base = dict(meta.configuration)
    grid = dict(grid or {"window_size": [50, 100, 200], "zscore_threshold": [2.5, 3.0, 3.5],
                         "iqr_multiplier": [1.5, 2.0, 3.0], "log": [False, True]})
    for name, values in grid.items():
        if name not in QueueAnomalyDetector.__dataclass_fields__:
            raise ValidationError(f"param {name!r}: expected one of {', '.join(QueueAnomalyDetector.__dataclass_fields__)}")
        if not values:
            raise ValidationError(f"param {name!r}: expected at least one value")
    end = to_utc(until, "until") if until is not None else last_prediction_time(ws, model)
    if end is None:
        raise ValidationError(f"{model} has no predictions to tune on")
    end = end + _dt.timedelta(microseconds=1)
    hold_start = end - _dt.timedelta(days=holdout_days)
    tune_start = hold_start - _dt.timedelta(days=tune_days)
    start = tune_start - _dt.timedelta(days=warmup_days)
    inputs = _detector_inputs(ws, model, vname, base)
    window = read_predictions(ws, model, since=start, until=end)
    if any(c not in window.collect_schema() for c in inputs):  # the columns exist in the log, not in this window
        raise ValidationError(f"{model}: no predictions with the detector's columns between {start:%Y-%m-%d %H:%M} and"
                              f" {end:%Y-%m-%d %H:%M} UTC; expected >= 100 labelled predictions in the tuning and"
                              " held-out days")
    jobs = window.select(["timestamp", "actual", *inputs]).collect()
    labelled = jobs.filter(pl.col("timestamp") >= tune_start).get_column("actual").is_not_null().sum()
    if labelled < 100:
        raise ValidationError(f"{model}: {labelled} labelled predictions in the tuning and held-out days; expected >= 100")
    with tempfile.TemporaryDirectory(prefix="mlmm-grid-") as tmp:
        path = str(Path(tmp) / "jobs.parquet")
        jobs.write_parquet(path)
        remote = {"data": jobs} if executor is not None or scheduler is not None else {"path": path}
        evaluate = functools.partial(_evaluate_detector, base=base, since=tune_start.isoformat(),
                                     until=hold_start.isoformat(), **remote)
        ranked = grid_search(evaluate, grid, n_jobs=n_jobs, executor=executor, scheduler=scheduler, random=random,
                             seed=seed, progress=progress)
        best_params = {k: ranked.row(0, named=True)[k] for k in grid}
        hold = functools.partial(_evaluate_detector, path=path, base=base, since=hold_start.isoformat(),
                                 until=end.isoformat())
        current_hold = hold({})
        best_hold = hold(best_params)
    cur, new = current_hold["score"], best_hold["score"]
    improvement = (new - cur) / cur if cur > 0 else None
    clears = improvement is not None and improvement >= min_improvement
    run_id = f"grid-{model}-{uuid.uuid4().hex[:8]}"
    current_params = {k: QueueAnomalyDetector.from_config(base).params().get(k, base.get(k)) for k in grid}
    summary = (f"F1 on the {holdout_days} held-out days {cur:.3f} -> {new:.3f}"
               + (f" ({improvement:+.1%})" if improvement is not None else "")
               + f" with {', '.join(f'{k}={v}' for k, v in best_params.items())}"
               f" (was {', '.join(f'{k}={v}' for k, v in current_params.items())});"
               f" chosen on {tune_days} tuning days among {ranked.height} points")
    applied = False
    if apply:
        why_not = _apply_result(ws, model, vname, best_params, run_id=run_id, summary=summary, clears=clears,
                                min_improvement=min_improvement, actor=actor)
        applied = why_not is None
        summary += "" if applied else f". {why_not}"
    run = TuningRun(run_id, model, vname, "grid", "f1", {"params": current_params, **current_hold},
                    {"params": best_params, **best_hold}, improvement, None, None, clears, applied, summary, ranked)
    store_run(ws, run, current_actor(actor), reason)
    return run
