"""Shared pieces of the CLI: the workspace option, output (rich tables or --json), errors."""

from __future__ import annotations

import datetime as _dt
import errno
import importlib.util
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import polars as pl
import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from ..workspace import Workspace

console = Console()
err_console = Console(stderr=True)

WorkspaceOpt = Annotated[
    Path | None,
    typer.Option("--workspace", "-w", help="Workspace directory (default: MLMM_HOME, else ./data/workspace).",
                 show_default=False),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
ActorOpt = Annotated[str | None, typer.Option("--actor", help="Who is acting (default: MLMM_USER or the OS user).")]
ReasonOpt = Annotated[str | None, typer.Option("--reason", "-r", help="Why: recorded in the history.")]

# exit codes (documented in the README): 0 ok, 1 error, 2 usage, 3 a gate or check failed
EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_CHECK = 0, 1, 2, 3

GLOBAL_OPTIONS: dict[str, Any] = {"workspace": None}


def lazy_module(name: str) -> Any:
    """``name`` imported on first attribute access (``importlib.util.LazyLoader``): each CLI
    command loads only the parts of mlmm (and scipy, pyarrow, papermill, ...) it uses, so
    ``mlmm --help`` and a cron tick of ``mlmm schedule run-due`` start fast."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(name)
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module


def workspace(path: Path | None) -> Workspace:
    from ..workspace import open_workspace

    return open_workspace(path if path is not None else GLOBAL_OPTIONS["workspace"])


def _plain(value: Any) -> Any:
    if isinstance(value, (_dt.datetime, _dt.date)):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, float) and value != value:
        return None
    return value


def emit_json(obj: Any) -> None:
    if isinstance(obj, pl.DataFrame):
        obj = obj.to_dicts()
    sys.stdout.write(json.dumps(_plain(obj), indent=2, default=str) + "\n")


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, _dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return str(value)


def emit_table(frame: pl.DataFrame, title: str | None = None, *, empty: str = "nothing to show") -> None:
    if frame.is_empty():
        console.print(f"[dim]{empty}[/dim]")
        return
    table = Table(title=title, show_lines=False, header_style="bold")
    for name in frame.columns:
        table.add_column(name, overflow="fold")
    for row in frame.iter_rows():
        table.add_row(*[_cell(v) for v in row])
    console.print(table)


def emit(frame: pl.DataFrame, as_json: bool, title: str | None = None, *, empty: str = "nothing to show") -> None:
    if as_json:
        emit_json(frame)
    else:
        emit_table(frame, title, empty=empty)


def emit_mapping(data: dict[str, Any], as_json: bool, title: str | None = None) -> None:
    if as_json:
        emit_json(data)
        return
    table = Table(title=title, show_header=False)
    table.add_column("key", style="bold")
    table.add_column("value", overflow="fold")
    for key, value in data.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}={_cell(v)}" for k, v in value.items()) or "-"
        table.add_row(key, _cell(value) if not isinstance(value, str) else value)
    console.print(table)


def error_message(exc: BaseException) -> str | None:
    """The one line to print for an error the commands do not raise on purpose but a person
    must act on: an ``OSError`` (a file of a teammate's workspace this user cannot read, a
    read-only folder, a full disk) becomes ``PATH: cannot read: Permission denied; expected
    ...`` (see :class:`mlmm.errors.StorageError`). None for anything else (a bug: keep the
    traceback). :class:`mlmm.MlmmError` messages are printed as they are."""
    from ..errors import MlmmError, StorageError

    if isinstance(exc, MlmmError):
        return str(exc)
    if isinstance(exc, OSError) and exc.errno is not None:
        # an OSError does not say whether it was reading or writing; these only come from writes
        action = "write" if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS) else "access"
        return str(StorageError.from_os_error(exc, action=action))
    duckdb = sys.modules.get("duckdb")
    if duckdb is not None and isinstance(exc, duckdb.Error):  # e.g. a Parquet file it cannot open
        from ..workspace import os_error_in

        text = " ".join(str(exc).split())
        number = os_error_in(text)
        if number is not None:
            return f"{text}; {StorageError.advice(number, access='access')}"
    return None


def fail(message: str, code: int = EXIT_ERROR) -> typer.Exit:
    err_console.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(code)


def positive_int(text: str | None, option: str) -> int | None:
    """``text`` of an option as a positive integer (None stays None); otherwise a one-line
    usage error naming the option (exit 2), not click's multi-line usage block."""
    if text is None:
        return None
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise fail(f"{option}={text!r}: expected a positive integer", EXIT_USAGE)
    return value


def since_time(text: str, option: str = "--since") -> _dt.datetime:
    """An ISO time, or a duration such as ``7d`` meaning that long before now
    (:func:`mlmm._util.to_utc`, :func:`mlmm._util.parse_duration`)."""
    from ..window import time_or_ago

    return time_or_ago(text, option)
