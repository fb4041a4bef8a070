"""``mlmm workspace ...``: where the data lives and its settings."""

from __future__ import annotations

from typing import Annotated

import typer

from .._util import parse_scalar
from ..errors import ValidationError
from ..registry import ENVIRONMENTS
from ._common import ActorOpt, JsonOpt, ReasonOpt, WorkspaceOpt, console, emit_mapping, workspace

app = typer.Typer(help="The workspace: paths, sizes, settings.", no_args_is_help=True)

_SETTABLE = {"retention_days", "max_future_seconds", "min_timestamp"}


@app.command()
def info(workspace_path: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Paths, schema version, counts and sizes."""
    emit_mapping(workspace(workspace_path).info(), as_json, "workspace")


@app.command("set")
def set_(key: str, value: str, reason: ReasonOpt = None, actor: ActorOpt = None, workspace_path: WorkspaceOpt = None) -> None:
    """Change a setting: retention_days, max_future_seconds, min_timestamp (an ISO time)."""
    if key not in _SETTABLE:
        raise ValidationError(f"key={key!r}: expected one of {', '.join(sorted(_SETTABLE))}")
    if key == "min_timestamp":
        from .._util import to_utc

        parsed = to_utc(value, key).isoformat()
        workspace(workspace_path).set_setting(key, parsed, actor=actor, reason=reason)
        console.print(f"{key} = {parsed}")
        return
    parsed = parse_scalar(value)
    if isinstance(parsed, bool) or not isinstance(parsed, (int, float)) or parsed <= 0:
        raise ValidationError(f"{key}={value!r}: expected a positive number")
    workspace(workspace_path).set_setting(key, parsed, actor=actor, reason=reason)
    console.print(f"{key} = {parsed}")


@app.command("require-approval")
def require_approval(
    env: Annotated[str, typer.Argument(help=", ".join(ENVIRONMENTS))] = "production",
    off: Annotated[bool, typer.Option("--off", help="Remove the rule.")] = False,
    reason: ReasonOpt = None,
    actor: ActorOpt = None,
    workspace_path: WorkspaceOpt = None,
) -> None:
    """Make deploying to ENV need an approval by a different person first."""
    workspace(workspace_path).registry.require_approval(env, not off, actor=actor, reason=reason)
    console.print(f"deploying to {env} {'no longer needs' if off else 'needs'} an approval")
