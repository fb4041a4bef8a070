"""The ``mlmm`` command.

Exit codes: 0 ok, 1 error (one line on stderr naming what was wrong), 2 usage error,
3 a gate or check failed (e.g. too many rows quarantined). Every read command takes
``--json``; the workspace comes from ``--workspace PATH``, else ``MLMM_HOME``, else
``./data/workspace``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from typer.core import TyperGroup

from ..errors import MlmmError
from . import _common
from ._common import (
    EXIT_ERROR,
    EXIT_USAGE,
    ActorOpt,
    JsonOpt,
    ReasonOpt,
    WorkspaceOpt,
    emit,
    emit_mapping,
    fail,
    workspace,
)

if TYPE_CHECKING:
    from ..workspace import Workspace

__all__ = ["app"]


class _Group(TyperGroup):
    """Turns mlmm's own errors into one line on stderr and exit code 1."""

    def invoke(self, ctx):  # type: ignore[no-untyped-def]
        try:
            return super().invoke(ctx)
        except MlmmError as exc:
            raise fail(str(exc), EXIT_ERROR) from None
        except Exception as exc:  # a full disk, a read-only folder: one line, not a traceback
            message = _common.error_message(exc)
            if message is None:
                raise
            raise fail(message, EXIT_ERROR) from None


app = typer.Typer(
    cls=_Group,
    name="mlmm",
    help="mlmm: model registry, prediction logs and decisions for classifiers in production.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)


@app.callback()
def _main(
    workspace_path: Annotated[
        Path | None,
        typer.Option("--workspace", "-w", help="Workspace for every sub-command (default: MLMM_HOME, else ./data/workspace)."),
    ] = None,
) -> None:
    _common.GLOBAL_OPTIONS["workspace"] = workspace_path


from . import ab as _ab  # noqa: E402
from . import drift as _drift  # noqa: E402
from . import models as _models  # noqa: E402
from . import monitor as _monitor  # noqa: E402
from . import predictions as _predictions  # noqa: E402
from . import report as _report  # noqa: E402
from . import schedule as _schedule  # noqa: E402
from . import tune as _tune  # noqa: E402
from . import ws as _workspace  # noqa: E402

app.add_typer(_models.app, name="models")
app.add_typer(_predictions.app, name="predictions")
app.add_typer(_monitor.app, name="monitor")
app.add_typer(_monitor.alerts_app, name="alerts")
app.add_typer(_drift.app, name="drift")
app.add_typer(_ab.app, name="ab")
app.add_typer(_ab.canary_app, name="canary")
app.command("validate")(_ab.validate_command)
app.add_typer(_tune.app, name="tune")
app.add_typer(_report.app, name="report")
app.add_typer(_schedule.app, name="schedule")
app.command("decide")(_schedule.decide)
app.command("decisions")(_schedule.list_decisions)
app.add_typer(_workspace.app, name="workspace")


@app.command()
def deploy(
    model: Annotated[str | None, typer.Argument(help="Model to deploy (omit with --all).", show_default=False)] = None,
    version: Annotated[str | None, typer.Argument(help="Version to deploy (omit with --all).", show_default=False)] = None,
    env: Annotated[str, typer.Option("--env", "-e", help="development, staging or production.")] = "production",
    all_models: Annotated[bool, typer.Option("--all", help="Every model: its latest version, unless it already serves in ENV.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="With --all: list what would be deployed, change nothing.")] = False,
    reason: ReasonOpt = None,
    actor: ActorOpt = None,
    workspace_path: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Deploy VERSION of MODEL to an environment (replaces what serves there), or --all models' latest versions.

    With --all a deploy the approval rule refuses is reported and the others still go; exit 1 if any was refused.
    """
    if all_models:
        if model is not None:
            raise fail("--all deploys every model's latest version: expected no MODEL or VERSION", EXIT_USAGE)
        _deploy_all(workspace(workspace_path), env, dry_run=dry_run, actor=actor, reason=reason, as_json=as_json)
        return
    if model is None or version is None:
        raise fail("deploy: expected MODEL and VERSION, or --all", EXIT_USAGE)
    if dry_run:
        raise fail("--dry-run: only with --all", EXIT_USAGE)
    meta = workspace(workspace_path).registry.deploy(model, version, env=env, actor=actor, reason=reason)
    if as_json:
        _common.emit_json(meta.to_dict())
    else:
        _common.console.print(f"deployed {model} {meta.version} to {env}")


def _deploy_all(ws: Workspace, env: str, *, dry_run: bool, actor: str | None, reason: str | None,
                as_json: bool) -> None:
    """``deploy --all``: one line (or JSON object) per model; exit 1 if any deploy was refused."""
    from ..errors import ApprovalRequiredError

    reg = ws.registry
    needs_approval = reg.approval_required(env)  # also checks ENV
    serving = {r["model_name"]: r["version"] for r in reg.deployments().iter_rows(named=True) if r["environment"] == env}
    results: list[dict[str, str | None]] = []
    for row in reg.models().iter_rows(named=True):
        name, latest = row["model_name"], row["latest"]
        if serving.get(name) == latest:
            outcome, line, detail = "skipped", f"{name} {latest} already in {env}", None
        elif dry_run:
            outcome, line, detail = "would_deploy", f"would deploy {name} {latest} to {env}", None
            if needs_approval:
                line += f" ({env} requires an approval by another actor)"
        else:
            try:
                reg.deploy(name, latest, env=env, actor=actor, reason=reason)
            except ApprovalRequiredError as exc:
                outcome, line, detail = "refused", f"refused: {exc}", str(exc)
            else:
                outcome, line, detail = "deployed", f"deployed {name} {latest} to {env}", None
        results.append({"model_name": name, "version": latest, "environment": env, "outcome": outcome, "reason": detail})
        if not as_json:
            _common.console.print(line, markup=False, highlight=False, soft_wrap=True)
    if as_json:
        _common.emit_json(results)
    elif not results:
        _common.console.print("no models registered")
    refused = sum(r["outcome"] == "refused" for r in results)
    if refused:
        raise fail(f"{refused} of {len(results)} deploys to {env} refused", EXIT_ERROR)


@app.command()
def rollback(
    model: str,
    env: Annotated[str, typer.Option("--env", "-e")] = "production",
    to: Annotated[str | None, typer.Option("--to", help="Version to go back to (default: the previous one).")] = None,
    reason: ReasonOpt = None,
    actor: ActorOpt = None,
    workspace_path: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Roll MODEL back in an environment: end a running canary, else redeploy the previous version."""
    meta = workspace(workspace_path).registry.rollback(model, env=env, to_version=to, actor=actor, reason=reason)
    if as_json:
        _common.emit_json(meta.to_dict())
    else:
        _common.console.print(f"{model} in {env} now serves {meta.version}")


@app.command()
def approve(
    model: str,
    version: str,
    env: Annotated[str, typer.Option("--env", "-e")] = "production",
    reason: ReasonOpt = None,
    actor: ActorOpt = None,
    workspace_path: WorkspaceOpt = None,
) -> None:
    """Approve deploying VERSION of MODEL to an environment (the deployer must be someone else)."""
    workspace(workspace_path).registry.approve(model, version, env=env, actor=actor, reason=reason)
    _common.console.print(f"approved {model} {version} for {env}")


@app.command()
def deployments(
    at: Annotated[str | None, typer.Option("--at", help="Show the state at this time (ISO-8601).")] = None,
    model: Annotated[str | None, typer.Option("--model", "-m")] = None,
    workspace_path: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """What serves where: now, or --at a past time."""
    reg = workspace(workspace_path).registry
    frame = reg.state_as_of(at, name=model) if at else reg.deployments(model)
    emit(frame, as_json, f"deployments{' at ' + at if at else ''}", empty="nothing deployed")


@app.command()
def demo(
    workspace_path: WorkspaceOpt = None,
    rows: Annotated[int | None, typer.Option("--rows", help="Total predictions (default ~243,000 over 30 days).")] = None,
    seed: Annotated[int, typer.Option("--seed")] = 42,
    days: Annotated[int, typer.Option("--days")] = 30,
    end: Annotated[str | None, typer.Option("--end", help="Last hour of the data (default: now).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing workspace.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Build the demo workspace: three models, a month of predictions, late labels, a drift episode."""
    from ..demo import build_demo

    path = workspace_path if workspace_path is not None else _common.GLOBAL_OPTIONS["workspace"]
    say = (lambda _m: None) if as_json else (lambda m: _common.console.print(f"[dim]{m}[/dim]"))
    summary = build_demo(path, seed=seed, rows=rows, days=days, end=end, force=force, progress=say)
    if as_json:
        _common.emit_json(summary.to_dict())
        return
    emit_mapping({
        "workspace": summary.path,
        "time range": f"{summary.start:%Y-%m-%d %H:%M} to {summary.end:%Y-%m-%d %H:%M} UTC",
        "models": ", ".join(summary.models),
        "versions": summary.versions,
        "registry events": summary.events,
        "predictions": f"{summary.predictions:,}",
        "labels": f"{summary.labels:,}",
        "quarantined rows": summary.quarantined,
        "episodes": "; ".join(summary.episodes),
        "seconds": f"{summary.seconds:.1f}",
    }, False, "demo workspace built")
    ws_arg = f" --workspace {path}" if path is not None and str(path) != "data/workspace" else ""
    _common.console.print(
        "\nnext, try:\n"
        f"  mlmm models list{ws_arg}\n"
        f"  mlmm models history n1-detector{ws_arg}\n"
        f"  mlmm predictions stats{ws_arg}\n"
        f"  mlmm deployments --at {summary.start + (summary.end - summary.start) / 2:%Y-%m-%dT%H:%M}{ws_arg}\n"
        f"  mlmm monitor summary{ws_arg}\n"
        f"  mlmm monitor trends waf-behavioral --interval 1d{ws_arg}\n"
        f"  mlmm monitor check{ws_arg}\n"
        "  make lab        (notebooks/ in JupyterLab)"
    )
