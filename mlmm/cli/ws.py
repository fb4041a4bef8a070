"""``mlmm workspace ...``: where the data lives and its settings."""

from __future__ import annotations

import itertools
import textwrap
from typing import Annotated

import typer

from ..registry import ENVIRONMENTS
from ..settings import describe_settings, parse_setting, settable, settings_table, show_value
from ._common import ActorOpt, JsonOpt, ReasonOpt, WorkspaceOpt, console, emit_json, emit_mapping, workspace

app = typer.Typer(help="The workspace: paths, sizes, settings.", no_args_is_help=True)


@app.command()
def info(workspace_path: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Paths, schema version, counts and sizes."""
    emit_mapping(workspace(workspace_path).info(), as_json, "workspace")


@app.command("set")
def set_(
    key: Annotated[str, typer.Argument(help="A setting: `mlmm workspace settings` lists them.")],
    value: Annotated[str, typer.Argument(help="Checked by the setting's type (a number, 24h, an ISO time, true, a URL, ...).")],
    reason: ReasonOpt = None,
    actor: ActorOpt = None,
    workspace_path: WorkspaceOpt = None,
) -> None:
    """Change a setting (recorded with actor and reason; the old value stays in history)."""
    parsed = parse_setting(key, value)
    workspace(workspace_path).set_setting(key, parsed, actor=actor, reason=reason)
    console.print(f"{key} = {show_value(parsed)}", markup=False, highlight=False, soft_wrap=True)


@app.command()
def unset(
    key: Annotated[str, typer.Argument(help="A setting: `mlmm workspace settings` lists them.")],
    reason: ReasonOpt = None,
    actor: ActorOpt = None,
    workspace_path: WorkspaceOpt = None,
) -> None:
    """Return a setting to its default (recorded with actor and reason, like a change)."""
    settable(key)
    ws = workspace(workspace_path)
    ws.unset_setting(key, actor=actor, reason=reason)
    console.print(f"{key} = {show_value(ws.settings().get(key))} (default)", markup=False, highlight=False,
                  soft_wrap=True)


@app.command()
def settings(workspace_path: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Every setting: its value, default, where the value comes from (default or workspace) and meaning."""
    ws = workspace(workspace_path)
    if as_json:
        emit_json(describe_settings(ws))
        return
    console.print(_settings_text(settings_table(ws).to_dicts(), console.width), markup=False, highlight=False,
                  soft_wrap=True)


def _settings_text(rows: list[dict[str, str | None]], width: int) -> str:
    """Columns name, value, default, source, each setting's meaning on an indented line below:
    plain text that fits ``width`` (80 included) and reads the same in a log file."""
    name_w = max(len("name"), *(len(r["name"] or "") for r in rows))
    source_w = len("workspace")
    longest = max(len("default"), *(len(r[k] or "") for r in rows for k in ("value", "default")))
    cell_w = max(10, min(longest, (width - name_w - source_w - 6) // 2))  # value and default share the rest

    def cell(text: str | None) -> list[str]:
        return (textwrap.wrap(text, cell_w, break_on_hyphens=False) or [text]) if text else ["-"]

    def line(*parts: str) -> str:
        name, value, default, source = parts
        return f"{name:<{name_w}}  {value:<{cell_w}}  {default:<{cell_w}}  {source}".rstrip()

    out = [line("name", "value", "default", "source")]
    for r in rows:
        values, defaults = cell(r["value"]), cell(r["default"])
        for i, (value, default) in enumerate(itertools.zip_longest(values, defaults, fillvalue="")):
            out.append(line(r["name"] if i == 0 else "", value, default, r["source"] if i == 0 else ""))
        out += textwrap.wrap(r["meaning"] or "", max(20, width - 4), initial_indent="    ", subsequent_indent="    ")
    return "\n".join(out)


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
