"""``mlmm report ...``: run parameterized report notebooks into ``reports/``."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Annotated, Any

import typer

from ..errors import ValidationError
from ._common import (
    EXIT_ERROR,
    ActorOpt,
    JsonOpt,
    WorkspaceOpt,
    console,
    emit_json,
    emit_table,
    fail,
    lazy_module,
    workspace,
)

R = lazy_module("mlmm.reports")

app = typer.Typer(help="Report notebooks: run them with Papermill, list the runs.", no_args_is_help=True)


def _value(text: str) -> Any:
    """A -p value: a plain Python literal (a number, True/False/None, a quoted string, a list or
    dict of plain values), true/false/none in any case, else the text itself.

    Never evaluated into anything else: text that reads as a literal of another type (bytes
    ``b'...'``, a tuple, a set, a complex number, ``...``, a dict with non-str keys, an
    infinite float such as ``1e999``) stays the str it was typed as, and the type check
    against the notebook's default decides whether that is acceptable.
    """
    try:
        value = ast.literal_eval(text)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        low = text.strip().lower()
        return {"true": True, "false": False, "none": None}.get(low, text)
    try:
        R.check_parameter("value", value)
    except ValidationError:
        return text
    return value


def _pairs(tokens: list[str]) -> dict[str, Any]:
    """``-p NAME VALUE`` pairs (Papermill's form), from the command's extra arguments."""
    params: dict[str, Any] = {}
    i = 0
    while i < len(tokens):
        if tokens[i] not in ("-p", "--param"):
            raise ValidationError(f"argument {tokens[i]!r}: expected -p NAME VALUE")
        if i + 2 >= len(tokens):
            raise ValidationError(f"-p {' '.join(tokens[i + 1:])}: expected -p NAME VALUE")
        params[tokens[i + 1]] = _value(tokens[i + 2])
        i += 3
    return params


@app.command("run", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def run_(
    ctx: typer.Context,
    notebook: Annotated[str, typer.Argument(help="A notebook of notebooks/ (name or path); then -p NAME VALUE ...")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Reports directory.")] = Path("reports"),
    show_code: Annotated[bool, typer.Option("--show-code", help="Keep the code cells in the HTML.")] = False,
    job: Annotated[str | None, typer.Option(help="The scheduled job this run belongs to.")] = None,
    actor: ActorOpt = None,
    workspace_path: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Execute NOTEBOOK with parameters; write the executed notebook, HTML and result.json."""
    params = _pairs(list(ctx.args))
    try:
        result = R.run(notebook, params, ws=workspace(workspace_path), output=output, show_code=show_code, job=job,
                       actor=actor)
    except R.ReportFailed as exc:
        raise fail(str(exc), EXIT_ERROR) from None
    if as_json:
        emit_json(result.to_dict())
        return
    console.print(f"{result.notebook}: {result.status} in {result.seconds:.1f} s"
                  + (f"; decision: {result.decision} ({result.reason})" if result.decision else ""), markup=False, soft_wrap=True)
    console.print(f"report: {result.path / 'report.html'}", markup=False, soft_wrap=True)
    console.print(f"index:  {Path(output).resolve() / 'index.html'}", markup=False, soft_wrap=True)


@app.command("list")
def list_(
    notebook: Annotated[str | None, typer.Option("--notebook")] = None,
    workspace_path: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Recorded report runs, newest first."""
    frame = R.runs(workspace(workspace_path), notebook=notebook)
    if as_json:
        emit_json(frame)
        return
    emit_table(frame.select("ts", "notebook", "status", "seconds", "decision", "path"), "report runs",
               empty="no report runs")


@app.command("params")
def params(
    notebook: Annotated[str, typer.Argument()],
    as_json: JsonOpt = False,
) -> None:
    """The parameters a notebook accepts, with defaults."""
    info = R.notebook_parameters(notebook)
    if as_json:
        emit_json(info)
        return
    for name, v in info.items():
        console.print(f"{name} ({v['type'] or 'any'}) = {v['default']!r}  {v['help']}", markup=False)
