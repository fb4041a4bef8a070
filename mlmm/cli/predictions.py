"""``mlmm predictions ...``: the prediction log."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._common import (
    EXIT_CHECK,
    ActorOpt,
    JsonOpt,
    WorkspaceOpt,
    console,
    emit,
    emit_json,
    emit_mapping,
    fail,
    lazy_module,
    workspace,
)

P = lazy_module("mlmm.predictions")

app = typer.Typer(help="The prediction log: import, labels, stats, retention, compaction.", no_args_is_help=True)


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="CSV, TSV, Parquet or JSON-lines file.")],
    model: Annotated[str | None, typer.Option("--model", "-m", help="Model of every row (when the file has no model_name column).")] = None,
    strict: Annotated[bool, typer.Option("--strict/--no-strict", help="Quarantine rows of unregistered versions.")] = True,
    batch_id: Annotated[str | None, typer.Option(help="Idempotency key (default: a hash of the file).")] = None,
    max_quarantined: Annotated[float | None, typer.Option(help="Exit 3 when more than this share of rows is quarantined.")] = None,
    allow_duplicates: Annotated[bool, typer.Option(
        "--allow-duplicates", help="Keep rows whose prediction_id the model's log already holds (default: quarantine them).")] = False,
    workspace_path: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Append predictions from a file; bad rows go to quarantine with the reason. All or
    nothing: an import that fails or is killed is never visible, and the next one removes it."""
    try:
        summary = P.log_predictions(workspace(workspace_path), file, model=model, strict=strict, batch_id=batch_id,
                                    on_duplicate="allow" if allow_duplicates else "quarantine")
    except OSError as exc:
        raise fail(_os_failure(f"import of {file}", exc)) from None
    if as_json:
        emit_json(summary.to_dict())
    else:
        if summary.already_imported:
            console.print(f"already imported (batch {summary.batch_id}): nothing to do")
        console.print(
            f"{summary.accepted:,} accepted, {summary.quarantined:,} quarantined "
            f"({summary.rows_per_second:,.0f} rows/s, {summary.files} files)"
        )
        for rule, count in summary.reasons.items():
            console.print(f"  quarantined {count:,} x {rule}, e.g. {summary.examples[rule]}", markup=False)
    if max_quarantined is not None and summary.rows and summary.quarantined / summary.rows > max_quarantined:
        raise fail(f"quarantined {summary.quarantined / summary.rows:.1%} of rows; expected at most {max_quarantined:.1%}", EXIT_CHECK)


@app.command()
def labels(
    file: Annotated[Path, typer.Argument(help="File with prediction_id, actual[, labeled_at].")],
    model: Annotated[str, typer.Option("--model", "-m")],
    unknown: Annotated[str, typer.Option(help="keep or quarantine labels whose prediction is not in the log.")] = "keep",
    workspace_path: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Append late ground-truth labels (the latest label of a prediction wins)."""
    try:
        summary = P.log_labels(workspace(workspace_path), model, file, unknown=unknown)
    except OSError as exc:
        raise fail(_os_failure(f"labels from {file}", exc)) from None
    if as_json:
        emit_json(summary.to_dict())
        return
    console.print(f"{summary.accepted:,} labels accepted, {summary.unknown_ids:,} for unknown predictions, "
                  f"{summary.quarantined:,} quarantined")
    for rule, count in summary.reasons.items():
        console.print(f"  quarantined {count:,} x {rule}, e.g. {summary.examples[rule]}", markup=False)
    if summary.conflicts:
        console.print(f"  {summary.conflicts:,} prediction ids got different labels in this file:", markup=False)
        for example in summary.conflict_examples:
            console.print(f"    {example}", markup=False)


def _os_failure(what: str, exc: OSError) -> str:
    """One line for an import that the operating system stopped (full disk, permissions)."""
    where = f" ({exc.filename})" if exc.filename else ""
    return (f"{what} failed: {exc.strerror or exc}{where}; nothing of it is visible, and the next import or"
            " cleanup removes what it wrote")


@app.command()
def stats(model: Annotated[str | None, typer.Argument()] = None, workspace_path: WorkspaceOpt = None,
          as_json: JsonOpt = False) -> None:
    """Predictions, labels, positive rate and time range per model and version."""
    frame = P.stats(workspace(workspace_path), model)
    if as_json:
        emit_json(frame)
        return
    emit(frame.drop("model_files", "model_bytes", "model_quarantined"), False, "prediction log",
         empty="no predictions logged (try `mlmm demo`)")
    per_model = frame.select("model_name", "model_files", "model_bytes", "model_quarantined").unique().sort("model_name")
    emit(per_model.rename({"model_files": "files", "model_bytes": "bytes", "model_quarantined": "quarantined"}), False, "storage")


@app.command()
def show(
    model: Annotated[str | None, typer.Argument()] = None,
    last: Annotated[int, typer.Option("--last", "-n")] = 20,
    version: Annotated[str | None, typer.Option("--version", "-v")] = None,
    workspace_path: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The newest predictions (labels joined)."""
    frame = workspace(workspace_path).predictions(model, version=version, last_n=last).collect()
    emit(frame, as_json, "predictions", empty="no predictions")


@app.command()
def quarantine(
    since: Annotated[str | None, typer.Option(help="Only rows quarantined since this date.")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n")] = 50,
    workspace_path: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Rows that failed validation, with the reason."""
    frame = P.read_quarantine(workspace(workspace_path), since=since)
    cols = [c for c in ("quarantined_at", "source", "row", "model_name", "rule", "reason") if c in frame.columns]
    emit(frame.select(cols).head(limit), as_json, "quarantine", empty="nothing in quarantine")


@app.command()
def cleanup(
    older_than: Annotated[str | None, typer.Option(help="Retention, e.g. 30d (default: the workspace's retention_days).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only report what would be removed.")] = False,
    workspace_path: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Delete predictions, labels and quarantined rows older than the retention period."""
    result = P.cleanup(workspace(workspace_path), older_than, dry_run=dry_run)
    if as_json:
        emit_json(result.to_dict())
    else:
        verb = "would remove" if dry_run else "removed"
        console.print(f"{verb} {result.files_removed} files, {result.rows:,} rows, {result.bytes_freed:,} bytes "
                      f"({result.partitions} day partitions)")


@app.command()
def compact(
    model: Annotated[str | None, typer.Argument()] = None,
    grace: Annotated[str, typer.Option(help="Keep replaced files this long for running readers.")] = "5m",
    dry_run: Annotated[bool, typer.Option("--dry-run")] = False,
    workspace_path: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Merge small files per partition into one (atomically for readers)."""
    result = P.compact(workspace(workspace_path), model, grace=grace, dry_run=dry_run)
    if as_json:
        emit_json(result.to_dict())
    else:
        console.print(f"{result.partitions} partitions compacted into {result.files_written} files ({result.rows:,} rows); "
                      f"{result.files_removed} replaced files removed")


@app.command()
def anonymize(
    model: Annotated[str, typer.Argument(help="Model name, or '*' for every model.")],
    fields: Annotated[list[str], typer.Argument(help="Feature columns to hash at ingest.")],
    actor: ActorOpt = None,
    workspace_path: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Hash the listed feature columns of MODEL at ingest from now on."""
    rules = P.set_anonymize(workspace(workspace_path), model, fields, actor=actor)
    if as_json:
        emit_json(rules)
    else:
        emit_mapping({k: ", ".join(v) for k, v in rules.items()}, False, "anonymized feature columns")
