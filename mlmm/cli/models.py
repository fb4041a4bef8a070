"""``mlmm models ...``: the registry."""

from __future__ import annotations

from typing import Annotated

import typer

from .._util import parse_assignments
from ..errors import ConflictError, ValidationError
from ..registry import PRESETS, Registry
from ._common import (
    ActorOpt,
    JsonOpt,
    ReasonOpt,
    WorkspaceOpt,
    console,
    emit,
    emit_json,
    emit_mapping,
    positive_int,
    since_time,
    workspace,
)

app = typer.Typer(help="The model registry: versions, configuration, metrics, history.", no_args_is_help=True)

KeyValues = Annotated[list[str] | None, typer.Option(help="KEY=VALUE (repeatable).")]


@app.command("list")
def list_models(workspace_path: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """One row per model: type, versions, latest, what serves in production and staging."""
    emit(workspace(workspace_path).registry.models(), as_json, "models", empty="no models registered (try `mlmm demo`)")


@app.command()
def show(name: str, version: Annotated[str | None, typer.Argument()] = None,
         workspace_path: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Everything about one version (default: the latest)."""
    meta = workspace(workspace_path).registry.get(name, version)
    data = meta.to_dict()
    if as_json:
        emit_json(data)
        return
    emit_mapping({k: v for k, v in data.items() if k not in ("configuration", "performance_metrics")},
                 False, f"{meta.name} {meta.version}")
    emit_mapping(data["configuration"], False, f"configuration (revision {meta.config_revision})")
    if data["performance_metrics"]:
        emit_mapping(data["performance_metrics"], False, "performance metrics")


@app.command()
def register(
    name: str,
    version: str,
    model_type: Annotated[str | None, typer.Option("--type", help="supervised, unsupervised, semi_supervised, reinforcement.")] = None,
    preset: Annotated[str | None, typer.Option(help="Start from a preset: n1-detector, waf-behavioral, queue-anomaly.")] = None,
    config: KeyValues = None,
    metric: KeyValues = None,
    tag: KeyValues = None,
    description: Annotated[str | None, typer.Option()] = None,
    reason: ReasonOpt = None,
    actor: ActorOpt = None,
    workspace_path: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Register VERSION of NAME (e.g. `mlmm models register n1-detector 1.2.0 --preset n1-detector --config threshold=0.75`)."""
    metrics = parse_assignments(metric or [], "metric")
    meta = workspace(workspace_path).registry.register(
        name, version, model_type=model_type, preset=preset, config=parse_assignments(config or [], "config"),
        metrics=metrics or None, tags=parse_assignments(tag or [], "tag") if tag else None,
        description=description, actor=actor, reason=reason,
    )
    if as_json:
        emit_json(meta.to_dict())
    else:
        console.print(f"registered {meta.name} {meta.version} ({meta.model_type.value}, config revision 1)")


@app.command("register-presets")
def register_presets(
    version: Annotated[str, typer.Option("--version", "-v", help="Version to register each preset at.")] = "1.0.0",
    reason: ReasonOpt = None,
    actor: ActorOpt = None,
    workspace_path: WorkspaceOpt = None,
) -> None:
    """Register the demo presets (n1-detector, waf-behavioral, queue-anomaly) at VERSION; skips those already there."""
    reg = workspace(workspace_path).registry
    for name in PRESETS:
        try:
            meta = reg.register(name, version, preset=name, actor=actor, reason=reason)
        except ConflictError:  # registered (or soft-deleted) already: idempotent
            console.print(f"{name} {version} already registered", markup=False, highlight=False)
        else:
            console.print(f"registered {meta.name} {meta.version} ({meta.model_type.value}, config revision 1)",
                          markup=False, highlight=False)


@app.command()
def history(
    name: str,
    version: Annotated[str | None, typer.Option("--version", "-v")] = None,
    limit: Annotated[str | None, typer.Option("--limit", "-n", metavar="N", help="Only the newest N events.")] = None,
    since: Annotated[str | None, typer.Option("--since", metavar="WHEN",
                                              help="Only events at or after WHEN: an ISO time or a duration (7d = the last 7 days).")] = None,
    workspace_path: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Every change to a model, oldest first: who, when, why."""
    n = positive_int(limit, "--limit")
    frame = workspace(workspace_path).registry.history(name, version, since=since_time(since) if since is not None else None)
    if n is not None:
        frame = frame.tail(n)
    emit(frame if as_json else frame.drop("seq", "model_name", "environment"), as_json, f"history of {name}")


@app.command()
def diff(name: str, a: str, b: Annotated[str | None, typer.Argument()] = None,
         workspace_path: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Configuration difference: `diff NAME 1.0.0 1.1.0`, `diff NAME 1.1.0@1 1.1.0@3`, or `diff NAME 1.1.0` (vs previous revision)."""
    result = workspace(workspace_path).registry.config_diff(name, a, b)
    if as_json:
        emit_json(result.to_dict())
    elif result.is_empty:
        console.print(f"{result.a} and {result.b} have the same configuration")
    else:
        emit(result.to_frame(), False, f"{name}: {result.a} -> {result.b}")


@app.command("revisions")
def revisions(name: str, version: Annotated[str | None, typer.Argument()] = None,
              workspace_path: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Configuration revisions of a version (default: the latest)."""
    emit(workspace(workspace_path).registry.config_revisions(name, version), as_json, f"revisions of {name}")


@app.command("update-config")
def update_config(
    name: str,
    version: str,
    changes: Annotated[list[str] | None, typer.Argument(help="KEY=VALUE pairs to set.")] = None,
    remove: Annotated[list[str] | None, typer.Option("--remove", help="Configuration key to drop (repeatable).")] = None,
    reason: ReasonOpt = None,
    actor: ActorOpt = None,
    workspace_path: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Change configuration keys of a version: a new revision (`update-config n1-detector 1.1.0 threshold=0.8`)."""
    if not changes and not remove:
        raise ValidationError("changes: expected at least one KEY=VALUE or --remove KEY")
    meta = workspace(workspace_path).registry.update(
        name, version, config=parse_assignments(changes or []), remove=remove or (), actor=actor, reason=reason
    )
    if as_json:
        emit_json(meta.to_dict())
    else:
        console.print(f"{name} {meta.version}: configuration revision {meta.config_revision}")


@app.command()
def update(
    name: str,
    version: str,
    metric: KeyValues = None,
    tag: KeyValues = None,
    description: Annotated[str | None, typer.Option()] = None,
    reason: ReasonOpt = None,
    actor: ActorOpt = None,
    workspace_path: WorkspaceOpt = None,
) -> None:
    """Update metrics (merged), tags (merged) or the description of a version."""
    if not (metric or tag or description):
        raise ValidationError("update: expected --metric, --tag or --description")
    workspace(workspace_path).registry.update(
        name, version, metrics=parse_assignments(metric, "metric") if metric else None,
        tags=parse_assignments(tag, "tag") if tag else None, description=description, actor=actor, reason=reason,
    )
    console.print(f"updated {name} {version}")


@app.command("rollback-config")
def rollback_config(
    name: str,
    version: Annotated[str | None, typer.Option("--version", "-v", help="Default: the production version, else the latest.")] = None,
    to: Annotated[int | None, typer.Option("--to", help="Revision to restore (default: the previous one).")] = None,
    reason: ReasonOpt = None,
    actor: ActorOpt = None,
    workspace_path: WorkspaceOpt = None,
) -> None:
    """Restore an earlier configuration as a new revision."""
    meta = workspace(workspace_path).registry.rollback_config(name, version, to, actor=actor, reason=reason)
    console.print(f"{name} {meta.version}: configuration revision {meta.config_revision} restores revision {to or meta.config_revision - 2}")


@app.command()
def production(workspace_path: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """The version of each model serving in production."""
    models = workspace(workspace_path).registry.get_production_models()
    emit(Registry.to_frame(models), as_json, "production", empty="nothing deployed to production")


@app.command()
def search(
    tag: Annotated[str | None, typer.Option(help="KEY or KEY=VALUE.")] = None,
    metric: Annotated[list[str] | None, typer.Option(help="Condition such as 'accuracy>0.9' (repeatable).")] = None,
    model_type: Annotated[str | None, typer.Option("--type")] = None,
    env: Annotated[str | None, typer.Option("--env")] = None,
    name: Annotated[str | None, typer.Option("--name", help="Substring of the model name.")] = None,
    workspace_path: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Versions matching every filter (e.g. `search --metric 'accuracy>0.9' --tag team`)."""
    found = workspace(workspace_path).registry.search(tag=tag, metric=metric, model_type=model_type, environment=env, name=name)
    emit(Registry.to_frame(found), as_json, "search results", empty="no version matches")


@app.command()
def delete(
    name: str,
    version: Annotated[str | None, typer.Argument(help="Default: every version of the model.")] = None,
    reason: ReasonOpt = None,
    actor: ActorOpt = None,
    workspace_path: WorkspaceOpt = None,
) -> None:
    """Soft-delete a version (or a model); `restore` undoes it."""
    gone = workspace(workspace_path).registry.delete(name, version, actor=actor, reason=reason)
    console.print(f"deleted {name} " + ", ".join(str(m.version) for m in gone))


@app.command()
def restore(name: str, version: str, reason: ReasonOpt = None, actor: ActorOpt = None,
            workspace_path: WorkspaceOpt = None) -> None:
    """Bring back a soft-deleted version."""
    meta = workspace(workspace_path).registry.restore(name, version, actor=actor, reason=reason)
    console.print(f"restored {name} {meta.version}")


