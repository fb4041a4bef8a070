"""``mlmm drift ...``: feature drift against stored references."""

from __future__ import annotations

from typing import Annotated

import polars as pl
import typer

from ._common import (
    EXIT_CHECK,
    ActorOpt,
    JsonOpt,
    ReasonOpt,
    WorkspaceOpt,
    console,
    emit_json,
    emit_table,
    lazy_module,
    workspace,
)

_SAMPLE_ROWS = 200_000  # the library default, kept literal so the module loads lazily (tests/test_cli.py checks)
F = lazy_module("mlmm.drift")

app = typer.Typer(help="Feature drift: references, checks of a window, drift over time.", no_args_is_help=True)
reference_app = typer.Typer(help="Stored references (a window of the log or a file).", no_args_is_help=True)
app.add_typer(reference_app, name="reference")

ColumnsOpt = Annotated[list[str] | None, typer.Option("--column", "-c", help="A column to test (repeatable; default: all features).")]
VersionOpt = Annotated[str | None, typer.Option("--version", "-v", help="One version (default: all versions).")]
UntilOpt = Annotated[str | None, typer.Option("--until", help="End of last=... windows (ISO time; default now).")]


@reference_app.command("set")
def reference_set(
    model: Annotated[str, typer.Argument()],
    window: Annotated[str | None, typer.Option("--window", help="A window of the log: START..END or last=7d.")] = None,
    file: Annotated[str | None, typer.Option("--file", help="A CSV or Parquet file instead of the log.")] = None,
    version: VersionOpt = None,
    columns: ColumnsOpt = None,
    sample_rows: Annotated[int, typer.Option(help="Rows kept as the raw sample (exact tests).")] = _SAMPLE_ROWS,
    actor: ActorOpt = None,
    reason: ReasonOpt = None,
    workspace_path: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Store the reference a model's features are compared with."""
    ref = F.set_reference(workspace(workspace_path), model, version, window=window, data=file, columns=columns,
                          sample_rows=sample_rows, actor=actor, reason=reason)
    if as_json:
        emit_json(ref.to_dict())
    else:
        console.print(f"{ref.reference_id}: {ref.source}, {ref.rows:,} rows, columns {', '.join(ref.columns)}", markup=False)


@reference_app.command("list")
def reference_list(
    model: Annotated[str | None, typer.Argument()] = None,
    workspace_path: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Stored references, newest first."""
    frame = F.list_references(workspace(workspace_path), model)
    if as_json:
        emit_json(frame)
        return
    emit_table(frame.select("reference_id", "model", "version", "source", "rows", "created_at"), "drift references",
               empty="no stored references")


@app.command()
def check(
    model: Annotated[str, typer.Argument()],
    current: Annotated[str, typer.Option("--current", help="last=24h, or START..END.")] = "last=24h",
    reference: Annotated[str | None, typer.Option("--reference", help="A stored ref-... id (default: the newest), START..END, last=7d, or previous.")] = None,
    version: VersionOpt = None,
    until: UntilOpt = None,
    columns: ColumnsOpt = None,
    test: Annotated[str | None, typer.Option("--test", help="One test for every column (default: automatic).")] = None,
    correction: Annotated[str | None, typer.Option(help="bonferroni, holm or bh across p-value tests.")] = None,
    record: Annotated[bool, typer.Option("--record/--no-record", help="Append the result to the registry.")] = True,
    actor: ActorOpt = None,
    workspace_path: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Compare a window with the reference, per column; exit 3 on dataset drift, 1 when a side
    has no data (insufficient data: no verdict, nothing recorded)."""
    result = F.check(workspace(workspace_path), model, version, current=current, reference=reference, until=until,
                     columns=columns, tests=test, correction=correction, record=record, actor=actor)
    if as_json:
        emit_json(result.to_dict())
    else:
        frame = result.to_frame()
        cols = [c for c in ("column", "test", "statistic", "p_value", "threshold", "drifted", "n_reference", "n_current")
                if c in frame.columns]
        emit_table(frame.select(cols), f"{model}: {result.current} vs {result.reference}")
        for issue in result.report.quality:
            console.print(f"quality: {issue}", markup=False)
        verdict = "DATASET DRIFT" if result.dataset_drift else "no dataset drift"
        console.print(f"{verdict}: {len(result.drifted_columns)} of {len(result.report.columns)} columns drifted"
                      f" (share {result.report.drifted_share:.2f}, threshold {result.report.drift_share:.2f})"
                      + (f": {', '.join(result.drifted_columns)}" if result.drifted_columns else ""), markup=False)
    if result.dataset_drift:
        raise typer.Exit(EXIT_CHECK)


@app.command()
def history(
    model: Annotated[str, typer.Argument()],
    column: Annotated[str | None, typer.Option("--column", "-c")] = None,
    workspace_path: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Recorded checks, one row per check and column."""
    frame = F.history(workspace(workspace_path), model, column=column)
    if as_json:
        emit_json(frame)
        return
    emit_table(frame.select("ts", "window", "column", "test", "statistic", "threshold", "drifted"),
               f"{model}: drift checks", empty="no recorded checks")


@app.command("over-time")
def over_time(
    model: Annotated[str, typer.Argument()],
    window: Annotated[str, typer.Option("--window", help="last=14d or START..END.")] = "last=14d",
    every: Annotated[str, typer.Option("--every", help="Chunk length (1d, 6h, ...).")] = "1d",
    reference: Annotated[str | None, typer.Option("--reference")] = None,
    version: VersionOpt = None,
    until: UntilOpt = None,
    columns: ColumnsOpt = None,
    workspace_path: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Drift statistic per chunk and column against the reference."""
    frame = F.over_time(workspace(workspace_path), model, version, reference=reference, window=window, every=every,
                        until=until, columns=columns)
    if as_json:
        emit_json(frame)
        return
    wide = (frame.filter(pl.col("period") != "reference") if "period" in frame.columns else frame)
    wide = wide.with_columns(pl.when(pl.col("drifted")).then(pl.format("{}*", pl.col("statistic").round(3)))
                             .otherwise(pl.col("statistic").round(3).cast(pl.String)).alias("cell"))
    table = wide.pivot(on="column", index="start", values="cell", aggregate_function="first").sort("start")
    emit_table(table, f"{model}: drift statistic per {every} (* = drifted)")
