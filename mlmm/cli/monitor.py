"""``mlmm monitor ...`` and ``mlmm alerts ...``: performance, degradation, drift, alerts."""

from __future__ import annotations

from typing import Annotated, Any

import polars as pl
import typer

from ._common import (
    EXIT_CHECK,
    ActorOpt,
    JsonOpt,
    ReasonOpt,
    WorkspaceOpt,
    console,
    emit,
    emit_json,
    emit_table,
    fail,
    lazy_module,
    workspace,
)

_MIN_LABELLED = 100  # the library default, kept literal so the module loads lazily (tests/test_cli.py checks)
A = lazy_module("mlmm.alerts")
M = lazy_module("mlmm.monitor")

app = typer.Typer(help="Performance monitoring: metrics, trends, comparisons, degradation, drift, alert checks.",
                  no_args_is_help=True)
alerts_app = typer.Typer(help="The alert log: list, acknowledge, resolve.", no_args_is_help=True)

LastOpt = Annotated[str, typer.Option("--last", help="Window length ending now (or at --until): 24h, 7d, ...")]
UntilOpt = Annotated[str | None, typer.Option("--until", help="End of the window (ISO time; default now).")]
VersionOpt = Annotated[str | None, typer.Option("--version", "-v", help="One version (default: all versions).")]
MinOpt = Annotated[int, typer.Option("--min-labelled", help="Labelled rows needed for a verdict.")]


def _window_args(last: str | None, until: str | None, last_n: int | None = None,
                 since_deploy: str | None = None) -> dict[str, Any]:
    args: dict[str, Any] = {}
    if last_n is not None:
        args["last_n"] = last_n
    elif since_deploy is not None:
        args["since_deploy"] = True if since_deploy == "current" else since_deploy
    elif last is not None:
        args["last"] = last
    if until is not None:
        args["until"] = until
    return args


@app.command()
def summary(
    last: LastOpt = "24h",
    until: UntilOpt = None,
    model: Annotated[list[str] | None, typer.Option("--model", "-m", help="Models (default: production models).")] = None,
    min_labelled: MinOpt = _MIN_LABELLED,
    workspace_path: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """One line per model: accuracy with its interval, floor, degradation, status."""
    frame = M.summary(workspace(workspace_path), models=model, last=last, until=until, min_labelled=min_labelled)
    if as_json:
        emit_json(frame)
        return
    console.print(f"window: {frame.item(0, 'window')}" if frame.height else "no models", markup=False)
    emit_table(frame.select(
        "model", "version", "labelled",
        pl.format("{} [{}, {}]", *[pl.col(c).round(3) for c in ("accuracy", "accuracy_low", "accuracy_high")]).alias("accuracy (95 % CI)"),
        "floor", pl.col("baseline_accuracy").alias("baseline"), "degradation", "status",
    ), "monitoring summary")


@app.command()
def details(
    model: Annotated[str, typer.Argument()],
    version: VersionOpt = None,
    last: LastOpt = "24h",
    until: UntilOpt = None,
    recent: Annotated[int | None, typer.Option("--recent", help="The newest N predictions instead of a time window.")] = None,
    since_deploy: Annotated[str | None, typer.Option("--since-deploy", help="From when VERSION (or 'current') was deployed to production.")] = None,
    min_labelled: MinOpt = _MIN_LABELLED,
    workspace_path: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """All metrics of one model over a window, each with its interval and row count."""
    m = M.metrics(workspace(workspace_path), model, version, min_labelled=min_labelled,
                  **_window_args(last, until, recent, since_deploy))
    if as_json:
        emit_json(m.to_dict())
        return
    console.print(f"{model} {version or '(all versions)'}, {m.window.label}: {m.message}", markup=False)
    emit_table(m.to_frame(), "metrics (Wilson 95 % intervals)")
    emit_table(m.confusion_matrix(), "confusion matrix")


@app.command()
def trends(
    model: Annotated[str, typer.Argument()],
    version: VersionOpt = None,
    interval: Annotated[str, typer.Option("--interval", "-i", help="1h, 1d, 1w or a row count such as 1000rows.")] = "1d",
    last: LastOpt = "30d",
    until: UntilOpt = None,
    by_version: Annotated[bool, typer.Option("--by-version", help="One series per version.")] = False,
    metric: Annotated[str, typer.Option(help="Metric shown in the table.")] = "accuracy",
    workspace_path: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Metrics per interval with Wilson bands."""
    frame = M.trends(workspace(workspace_path), model, version, interval=interval, by_version=by_version,
                     **_window_args(last, until))
    if as_json:
        emit_json(frame)
        return
    if metric not in frame.columns:
        raise fail(f"metric={metric!r}: expected one of accuracy, precision, recall, f1, specificity, fpr, fnr, brier")
    cols = [c for c in ("version", "start", "count", "labelled", metric, f"{metric}_low", f"{metric}_high", "sufficient")
            if c in frame.columns]
    emit_table(frame.select(cols), f"{model} {metric} per {interval}")


@app.command()
def compare(
    model: Annotated[str, typer.Argument()],
    version_a: Annotated[str, typer.Argument()],
    version_b: Annotated[str, typer.Argument()],
    last: LastOpt = "30d",
    until: UntilOpt = None,
    alpha: Annotated[float, typer.Option(help="Significance level.")] = 0.05,
    workspace_path: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Two versions side by side: difference B - A, its interval and p-value."""
    result = M.compare_versions(workspace(workspace_path), model, version_a, version_b, alpha=alpha,
                                **_window_args(last, until))
    if as_json:
        emit_json(result.to_dict())
        return
    emit_table(pl.DataFrame([m.to_dict() for m in result.metrics]).select(
        "metric", pl.col("a").alias(version_a), pl.col("b").alias(version_b), pl.col("difference").alias("b - a"),
        "low", "high", "p_value", "significant"), f"{model}: {version_a} (a) vs {version_b} (b), 95 % Newcombe intervals")
    console.print(result.verdict, markup=False)


@app.command("analyze-errors")
def analyze_errors(
    model: Annotated[str, typer.Argument()],
    version: VersionOpt = None,
    by: Annotated[str | None, typer.Option("--by", help="A feature (default: confidence buckets).")] = None,
    bins: Annotated[int, typer.Option(help="Buckets for confidence or a numeric feature.")] = 10,
    last: LastOpt = "7d",
    until: UntilOpt = None,
    workspace_path: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """False positives and negatives per confidence bucket or feature value, worst first."""
    frame = M.analyze_errors(workspace(workspace_path), model, version, by=by, bins=bins, **_window_args(last, until))
    emit(frame, as_json, f"{model} errors by {by or 'confidence'}", empty="no labelled predictions in the window")


@app.command("data-sufficiency")
def data_sufficiency(
    model: Annotated[str, typer.Argument()],
    last: LastOpt = "30d",
    until: UntilOpt = None,
    min_labelled: MinOpt = _MIN_LABELLED,
    workspace_path: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Predictions and labels per version, and whether they are enough for a verdict."""
    result = M.data_sufficiency(workspace(workspace_path), model, min_labelled=min_labelled, **_window_args(last, until))
    if as_json:
        emit_json(result.to_dict())
        return
    console.print(result.message, markup=False)
    emit_table(result.per_version, "per version")


@app.command()
def degradation(
    model: Annotated[str, typer.Argument()],
    version: VersionOpt = None,
    last: LastOpt = "24h",
    until: UntilOpt = None,
    min_labelled: MinOpt = _MIN_LABELLED,
    workspace_path: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Current metrics against the registry baseline; exit 3 when significantly degraded."""
    result = M.degradation(workspace(workspace_path), model, version, min_labelled=min_labelled,
                           **_window_args(last, until))
    if as_json:
        emit_json(result.to_dict())
    else:
        emit_table(pl.DataFrame([m.to_dict() for m in result.metrics]), f"{model} {result.version} vs {result.baseline_source}")
        console.print(f"{result.level}: {result.message}", markup=False)
    if result.has_degraded:
        raise typer.Exit(EXIT_CHECK)


@app.command()
def drift(
    model: Annotated[str, typer.Argument()],
    version: VersionOpt = None,
    last: LastOpt = "7d",
    until: UntilOpt = None,
    workspace_path: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Concept drift (DDM, Page-Hinkley on errors; KS on confidence); exit 3 when detected."""
    result = M.concept_drift(workspace(workspace_path), model, version, **_window_args(last, until))
    info = result.to_dict()
    if as_json:
        emit_json(info)
    else:
        detections = info.get("detections") or []
        if detections:
            emit_table(pl.DataFrame(detections), f"{model}: concept drift detections")
        ks = info.get("ks") or {}
        console.print(f"drift detected: {info.get('drift_detected')}; KS on confidence: {ks}", markup=False)
    if result.drift_detected:
        raise typer.Exit(EXIT_CHECK)


@app.command()
def check(
    window: Annotated[str | None, typer.Option("--window", help="Metrics window (default: setting monitor_window, 24h).")] = None,
    at: Annotated[str | None, typer.Option("--at", help="Evaluate as of this time (default now).")] = None,
    notify: Annotated[bool, typer.Option("--notify/--no-notify", help="Call the alert_command / alert_webhook hooks.")] = True,
    workspace_path: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Evaluate every alert rule for every production model; log new alerts once; exit 3
    while a critical alert is open."""
    result = A.check(workspace(workspace_path), window=window, at=at, notify=notify)
    if as_json:
        emit_json(result.to_dict())
    else:
        for label, group in (("raised", result.raised), ("worsened", result.worsened), ("cleared", result.cleared)):
            for a in group:
                console.print(f"{label}: [{a.severity}] {a.alert_id}: {a.message}", markup=False)
        if not (result.raised or result.worsened or result.cleared):
            console.print("no change in alerts", markup=False)
        open_frame = pl.DataFrame([a.to_dict() for a in result.open]) if result.open else pl.DataFrame()
        if not open_frame.is_empty():
            emit_table(open_frame.select("alert_id", "severity", "status", "model", "rule", "message"), "open alerts")
    if result.critical_open:
        raise typer.Exit(EXIT_CHECK)


# ----------------------------------------------------------------------------- alerts
@alerts_app.command("list")
def list_(
    status: Annotated[str, typer.Option(help="open (default), closed or all.")] = "open",
    model: Annotated[str | None, typer.Option("--model", "-m")] = None,
    workspace_path: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Alerts by their current state, most severe first."""
    frame = A.list_alerts(workspace(workspace_path), status=status, model=model)
    if as_json:
        emit_json(frame)
        return
    emit_table(frame.select("alert_id", "severity", "status", "rule", "message", "updated_at"),
               f"{status} alerts", empty=f"no {status} alerts")


@alerts_app.command()
def ack(
    alert_id: Annotated[str, typer.Argument()],
    actor: ActorOpt = None,
    reason: ReasonOpt = None,
    workspace_path: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Acknowledge an open alert (it stays open)."""
    alert = A.acknowledge(workspace(workspace_path), alert_id, actor=actor, reason=reason)
    emit_json(alert.to_dict()) if as_json else console.print(f"{alert.alert_id}: acknowledged by {alert.actor}", markup=False)


@alerts_app.command()
def resolve(
    alert_id: Annotated[str, typer.Argument()],
    actor: ActorOpt = None,
    reason: ReasonOpt = None,
    workspace_path: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Close an alert by hand (raised again by the next check if its condition holds)."""
    alert = A.resolve(workspace(workspace_path), alert_id, actor=actor, reason=reason)
    emit_json(alert.to_dict()) if as_json else console.print(f"{alert.alert_id}: resolved by {alert.actor}", markup=False)


@alerts_app.command()
def history(
    alert_id: Annotated[str | None, typer.Argument(help="One alert (default: all).")] = None,
    workspace_path: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Every event of the alert log, oldest first."""
    emit(A.history(workspace(workspace_path), alert_id), as_json, "alert log", empty="the alert log is empty")
