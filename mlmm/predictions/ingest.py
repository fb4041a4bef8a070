"""Bulk imports of predictions: validate, de-duplicate, anonymize, write one committed batch."""

from __future__ import annotations

import concurrent.futures
import dataclasses
import datetime as _dt
import hashlib
import json
import logging
import os
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from .._storage import StoragePath
from .._util import (
    UTC,
    is_valid_name,
    to_utc,
)
from ..errors import MlmmError, ValidationError
from . import batches, clock, id_index
from .inputs import check_batch_id, file_batch_id, to_frame
from .layout import (
    UPLOAD_THREADS,
    partition_dirs,
    quarantine_path,
    visible_files,
    write_json,
    write_parquet_atomic,
)
from .maintenance import TMP_STALE_SECONDS, sweep_tmp
from .schema import FEATURE_RE, RESERVED
from .validate import Facts, as_quarantined, enforce_types, registered_facts, validate_rows

if TYPE_CHECKING:
    from ..workspace import Workspace


log = logging.getLogger("mlmm")


@dataclasses.dataclass(frozen=True)
class ImportSummary:
    """What an import (or a tracker flush) did.

    ``reasons`` counts quarantined rows per rule; ``examples`` has the first full reason per
    rule (with the row number and the bad value).
    """

    batch_id: str
    source: str
    accepted: int
    quarantined: int
    reasons: dict[str, int]
    examples: dict[str, str]
    files: int
    seconds: float
    already_imported: bool = False
    models: dict[str, int] = dataclasses.field(default_factory=dict)

    @property
    def rows(self) -> int:
        return self.accepted + self.quarantined

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else float("inf")

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["rows"] = self.rows
        return out

    def __repr__(self) -> str:
        head = "already imported: " if self.already_imported else ""
        text = f"<ImportSummary {head}{self.accepted} accepted, {self.quarantined} quarantined from {self.source}"
        if self.reasons:
            text += " (" + ", ".join(f"{k}: {v}" for k, v in self.reasons.items()) + ")"
        return text + ">"


def anonymize_rules(ws: Workspace, model: str | None = None) -> dict[str, list[str]]:
    """Feature columns hashed at ingest, per model (``"*"`` applies to every model)."""
    rules = ws.setting("anonymize", {}) or {}
    if model is None:
        return {k: list(v) for k, v in rules.items()}
    return {model: sorted(set(rules.get("*", [])) | set(rules.get(model, [])))}


def set_anonymize(ws: Workspace, model: str, fields: Iterable[str], *, actor: str | None = None) -> dict[str, list[str]]:
    """Hash the listed feature columns of ``model`` (or ``"*"``) at ingest from now on.

    Values are replaced by the first 16 hex digits of SHA-256 over a per-workspace salt and
    the value, so equal values stay equal (joins and drift still work) but the raw value is
    not stored (seed 001, security: "Anonymize sensitive data in tracking").
    """
    if model != "*" and not is_valid_name(model):
        raise ValidationError(f"model={model!r}: expected a model name or '*'")
    fields = sorted(set(fields))
    for name in fields:
        if not FEATURE_RE.fullmatch(name) or name in RESERVED:
            raise ValidationError(f"field={name!r}: expected a feature column name (not {', '.join(sorted(RESERVED))})")
    rules = dict(ws.setting("anonymize", {}) or {})
    rules[model] = fields
    if not ws.setting("anonymize_salt"):
        ws.set_setting("anonymize_salt", uuid.uuid4().hex, actor=actor, reason="salt for anonymized features")
    ws.set_setting("anonymize", rules, actor=actor, reason=f"anonymize {model}: {', '.join(fields)}")
    return rules


def _anonymize(frame: pl.DataFrame, rules: dict[str, list[str]], salt: str) -> pl.DataFrame:
    if not rules or frame.is_empty():
        return frame
    universal = set(rules.get("*", []))
    parts = []
    for (model,), part in frame.partition_by("model_name", as_dict=True, maintain_order=True).items():
        for name in sorted(universal | set(rules.get(model, []))):
            if name in part.columns:
                values = part.get_column(name).cast(pl.String, strict=False)
                uniques = values.drop_nulls().unique()
                mapping = {
                    v: hashlib.sha256((salt + "\x1f" + v).encode()).hexdigest()[:16] for v in uniques.to_list()
                }
                part = part.with_columns(values.replace_strict(mapping, default=None, return_dtype=pl.String).alias(name))
        parts.append(part)
    return pl.concat(parts, how="diagonal_relaxed")


def _plan_parts(ws: Workspace, frames: dict[str, pl.DataFrame], batch_id: str) -> list[tuple[StoragePath, pl.DataFrame]]:
    """(path, rows) of each part file of a batch: one per model and day."""
    out = []
    for model, frame in sorted(frames.items()):
        if frame.is_empty():
            continue
        frame = frame.with_columns(pl.col("timestamp").dt.date().alias("date"), pl.lit(batch_id).alias("batch_id"))
        for (day,), part in sorted(frame.partition_by("date", as_dict=True).items()):
            folder = ws.predictions_dir / f"model_name={model}" / f"date={day.isoformat()}"
            body = part.drop("model_name", "date", "_row")
            if not body.get_column("timestamp").is_sorted():
                body = body.sort("timestamp")
            out.append((folder / f"part-{batch_id}.parquet", body))
    return out


def _write_parts(ws: Workspace, parts: list[tuple[StoragePath, pl.DataFrame]], durable: bool) -> None:
    def _one(item: tuple[StoragePath, pl.DataFrame]) -> None:
        write_parquet_atomic(item[1], item[0], durable=durable)

    if len(parts) > 1:
        # polars writes without the GIL: a few threads overlap compression and fsync (uploads
        # to a bucket wait on the network: more of them overlap)
        workers = UPLOAD_THREADS if ws.remote else min(4, os.cpu_count() or 2)
        with concurrent.futures.ThreadPoolExecutor(max_workers=min(workers, len(parts))) as pool:
            list(pool.map(_one, parts))
    elif parts:
        _one(parts[0])


def write_quarantine(ws: Workspace, rows: pl.DataFrame, batch_id: str, source: str, when: _dt.datetime) -> int:
    if rows.is_empty():
        return 0
    rows = rows.with_columns(
        pl.lit(source).alias("source"), pl.lit(batch_id).alias("batch_id"),
        pl.lit(when).dt.cast_time_unit("us").alias("quarantined_at"),
    )
    write_parquet_atomic(rows, quarantine_path(ws, batch_id, when))
    return 1


def summarise_reasons(quarantined: pl.DataFrame) -> tuple[dict[str, int], dict[str, str]]:
    if quarantined.is_empty():
        return {}, {}
    counts = quarantined.group_by("rule").agg(pl.len(), pl.col("row").first(), pl.col("reason").first()).sort("rule")
    reasons = {r: n for r, n, _, _ in counts.iter_rows()}
    examples = {r: reason if row is None else f"row {row}: {reason}" for r, _, row, reason in counts.iter_rows()}
    return reasons, examples


def ingest_frame(
    ws: Workspace,
    frame: pl.DataFrame,
    *,
    source: str,
    batch_id: str,
    model: str | None = None,
    strict: bool = True,
    registered: Facts | None = None,
    durable: bool = True,
    settings: dict[str, Any] | None = None,
    rejects: pl.DataFrame | None = None,
    record_path: StoragePath | None = None,
    on_duplicate: str = "quarantine",
    own_ids: str | None = None,
) -> ImportSummary:
    """Validate, check types and ids, and write one batch (see :mod:`mlmm.predictions.batches`).
    ``own_ids``: the prefix of ids the caller generated itself (a tracker's): never logged
    before, so not looked up (they still go into the index)."""
    started = time.perf_counter()
    settings = settings if settings is not None else ws.settings()
    when = clock.now()
    facts = registered if registered is not None else registered_facts(ws)
    min_setting = settings.get("min_timestamp", "2000-01-01T00:00:00Z")
    accepted, quarantined = validate_rows(
        ws, frame, model=model, strict=strict, registered=facts,
        max_future=_dt.timedelta(seconds=float(settings.get("max_future_seconds", 86400))), ingest_time=when,
        batch_id=batch_id, min_time=to_utc(min_setting, "min_timestamp") if min_setting else None,
    )
    moved = [quarantined] + ([rejects] if rejects is not None and rejects.height else [])
    rules = settings.get("anonymize") or {}
    models = sorted(accepted.get_column("model_name").unique().to_list()) if accepted.height else []
    with id_index.model_lock(ws, models):
        if record_path is not None and record_path.exists() and batch_id not in batches.pending(ws):
            return _recorded(record_path)  # the same file, imported by another process while we waited
        if len(models) == 1:
            frames = {models[0]: accepted}  # the usual case: no copy
        else:
            frames = {m: f for (m,), f in accepted.partition_by("model_name", as_dict=True).items()} if models else {}
        new_types: dict[str, dict[str, tuple[pl.DataType, str]]] = {}
        for m in models:
            hashed = set(rules.get("*", [])) | set(rules.get(m, []))
            frames[m], bad, new_types[m] = enforce_types(ws, m, frames[m], facts.declared.get(m, {}), hashed, batch_id)
            moved.append(bad)
        hashes = {m: id_index.hash_ids(f.get_column("prediction_id")) for m, f in frames.items()}
        if on_duplicate == "quarantine":
            for m in models:
                frames[m], dup = _drop_logged(ws, m, frames[m], hashes[m], own_ids)
                if dup.height:
                    moved.append(dup)
                    hashes[m] = id_index.hash_ids(frames[m].get_column("prediction_id"))
        if rules:
            frames = {m: _anonymize(f, rules, str(settings.get("anonymize_salt") or "")) for m, f in frames.items()}
        quarantined = pl.concat([q for q in moved if q.height], how="diagonal_relaxed") if any(q.height for q in moved) \
            else quarantined
        parts = _plan_parts(ws, frames, batch_id)
        if not ws.remote:  # what a writer killed mid-file left in these folders (a tracker's, say)
            _sweep_tmp_in({p.parent for p, _ in parts})
        runs = {m: id_index.run_path(ws, m, batch_id) for m, f in frames.items() if f.height}
        paths = [p for p, _ in parts] + list(runs.values())
        if quarantined.height:
            paths.append(quarantine_path(ws, batch_id, when))
        reasons, examples = summarise_reasons(quarantined)
        per_model = {m: f.height for m, f in frames.items() if f.height}
        summary = ImportSummary(
            batch_id=batch_id, source=source, accepted=sum(per_model.values()), quarantined=quarantined.height,
            reasons=reasons, examples=examples, files=len(parts) + (1 if quarantined.height else 0),
            seconds=0.0, models=per_model,
        )
        def _write_runs() -> None:
            for m, path in runs.items():
                id_index.write_run(path, hashes[m], frames[m].get_column("timestamp").dt.date().cast(pl.Int32).to_numpy(),
                                 durable=durable)

        if len(parts) == 1 and not quarantined.height and record_path is None:
            # one file and nothing else (a tracker flush, typically): its atomic rename is the
            # commit. The id run goes first: a run whose file never came only makes candidates
            # that the files then disprove; a file without its run would let a duplicate in.
            _write_runs()
            _write_parts(ws, parts, durable)
            summary = dataclasses.replace(summary, seconds=time.perf_counter() - started)
        else:
            summary = _write_batch(ws, batch_id, paths, parts, quarantined, source, when, record_path, durable,
                                   _write_runs, summary, started)
        # committed: what follows is upkeep, and a failure of it must not make a caller (a
        # tracker) write the rows again
        try:
            for m, types in new_types.items():
                id_index.record_feature_types(ws, m, types)
            for m in runs:
                id_index.merge_runs(ws, m)
        except (OSError, MlmmError) as exc:
            log.warning("batch %s is committed; updating the index afterwards failed: %s", batch_id, exc)
    return summary


_TMP_SWEPT: dict[str, float] = {}  # folder -> when this process last looked for stale temporary files


def _sweep_tmp_in(folders: Iterable[Path]) -> None:
    """Stale temporary files in the folders a batch writes to, looked for once an hour per folder."""
    wall = time.time()
    for d in folders:
        key = str(d)
        if wall - _TMP_SWEPT.get(key, 0.0) < TMP_STALE_SECONDS or not d.is_dir():
            continue
        _TMP_SWEPT[key] = wall
        sweep_tmp(d.glob(".*.tmp"), wall - TMP_STALE_SECONDS)


def _recorded(record_path: StoragePath) -> ImportSummary:
    """The summary an import record keeps (a second import of the same batch returns it)."""
    record = json.loads(record_path.read_text())
    fields = {f.name for f in dataclasses.fields(ImportSummary)}
    return ImportSummary(**{**{k: v for k, v in record.items() if k in fields}, "already_imported": True})


def _write_batch(ws: Workspace, batch_id: str, paths: list[StoragePath], parts: list[tuple[StoragePath, pl.DataFrame]],
                 quarantined: pl.DataFrame, source: str, when: _dt.datetime, record_path: StoragePath | None,
                 durable: bool, write_runs: Any, summary: ImportSummary, started: float) -> ImportSummary:
    """Several files that become visible at once (:class:`mlmm.predictions.batches.Batch`)."""
    with batches.Batch(ws, batch_id, paths, record=record_path, durable=durable):
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as side:
            index_done = side.submit(write_runs)  # beside the part files (polars and numpy release the GIL)
            _write_parts(ws, parts, durable)
            write_quarantine(ws, quarantined, batch_id, source, when)
            index_done.result()
        summary = dataclasses.replace(summary, seconds=time.perf_counter() - started)
        if record_path is not None:
            record = summary.to_dict()
            record.pop("rows", None)
            record["committed_at"] = clock.now().isoformat()
            write_json(record_path, record)
    return summary


def _model_days(ws: Workspace, model: str) -> Any:
    """A callable: ``[(day, committed files)]`` of ``model``'s log (for the given days only)."""
    def days(only: list[_dt.date] | None = None) -> list[tuple[_dt.date, list[StoragePath]]]:
        lo = hi = None
        if only:
            lo = _dt.datetime.combine(min(only), _dt.time(), UTC)
            hi = _dt.datetime.combine(max(only), _dt.time(), UTC)
        pend = batches.pending(ws)
        wanted = set(only) if only else None
        out = []
        for _, d in partition_dirs(ws.predictions_dir, model, lo, hi):
            day = _dt.date.fromisoformat(d.name.partition("=")[2])
            if wanted is None or day in wanted:
                out.append((day, batches.committed(visible_files(d), pend)))
        return out
    return days


def _drop_logged(ws: Workspace, model: str, frame: pl.DataFrame, hashes: Any,
                 own_ids: str | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Rows whose prediction_id the model's log already holds, moved to quarantine."""
    if frame.is_empty():
        return frame, pl.DataFrame()
    ids = frame.get_column("prediction_id")
    rows = None
    if own_ids:
        rows = np.flatnonzero(~ids.str.starts_with(own_ids).to_numpy())
        if not len(rows):
            return frame, pl.DataFrame()
        ids, hashes = ids.gather(rows), hashes[rows]
    found = id_index.logged_days(ws, model, ids, hashes, _model_days(ws, model))
    if found.is_empty():
        return frame, pl.DataFrame()
    if rows is not None:
        found = found.with_columns(pl.Series("row", rows[found.get_column("row").to_numpy()], dtype=pl.UInt32))
    hit = found.select(pl.col("row").alias("_i"), pl.col("day").dt.to_string("%Y-%m-%d").alias("_day"))
    marked = frame.with_row_index("_i").join(hit, on="_i", how="left", maintain_order="left")
    bad = as_quarantined(marked.filter(pl.col("_day").is_not_null()), "duplicate prediction_id",
                          pl.format("prediction_id='{}': already logged on {}", pl.col("prediction_id"), pl.col("_day")),
                          hide=("_i", "_day"))
    return marked.filter(pl.col("_day").is_null()).drop("_i", "_day"), bad


def log_predictions(
    ws: Workspace,
    data: Any,
    *,
    model: str | None = None,
    strict: bool = True,
    batch_id: str | None = None,
    durable: bool = True,
    on_duplicate: str = "quarantine",
) -> ImportSummary:
    """Append many predictions at once.

    Parameters
    ----------
    data
        A polars, pandas or pyarrow table, a dict of columns, a list of row dicts, or a path
        to a CSV, TSV, Parquet or JSON-lines file. Columns: ``model_name`` (or pass ``model``),
        ``version``, ``prediction``; optional ``timestamp`` (default now), ``actual``,
        ``confidence``, ``prediction_id`` (generated when missing); every other column is a
        feature.
    strict
        Quarantine rows whose model version is not registered (default). ``False`` accepts them.
    batch_id
        Makes the import idempotent: a second import with the same id does nothing and
        returns the first one's summary. For files it defaults to a hash of the content, so
        importing the same file twice (or again after a crash) imports it exactly once.
    durable
        fsync files before renaming them into place (default). ``False`` is faster and still
        atomic, but a power cut may lose the last files.
    on_duplicate
        ``"quarantine"`` (default): a ``prediction_id`` the model's log already holds goes to
        quarantine with the reason "prediction_id 'X' already logged on DAY" (a re-export of
        rows already imported is not imported twice). ``"allow"`` keeps such rows: the id then
        names several predictions and a late label applies to all of them.

    The import is all or nothing for readers: a killed, failed or full-disk import is never
    visible, and the next import (or ``cleanup``, ``compact``) removes what it left
    (:mod:`mlmm.predictions.batches`). A feature column keeps the type it was first accepted with (or
    the type the model's configuration declares in ``feature_types``); a value that cannot
    be read as that type is quarantined with its row.

    Returns
    -------
    ImportSummary
        Rows accepted and quarantined, with the reasons.

    Examples
    --------
    >>> import tempfile, mlmm
    >>> ws = mlmm.open_workspace(tempfile.mkdtemp())
    >>> _ = ws.registry.register("n1-detector", "1.0.0")
    >>> frame = pl.DataFrame({
    ...     "model_name": ["n1-detector"] * 3, "version": ["1.0.0", "1.0.0", "9.9.9"],
    ...     "prediction": [1, 0, 1], "confidence": [0.9, 1.7, 0.8],
    ...     "timestamp": ["2026-01-01T10:00:00Z"] * 3, "query_count": [12, 3, 40]})
    >>> summary = log_predictions(ws, frame)
    >>> summary.accepted, summary.quarantined
    (1, 2)
    >>> summary.reasons
    {'confidence out of [0, 1]': 1, 'unregistered version': 1}
    >>> ws.predictions().select("version", "prediction", "query_count").collect().row(0)
    ('1.0.0', 1, 12.0)
    """
    if on_duplicate not in ("quarantine", "allow"):
        raise ValidationError(f"on_duplicate={on_duplicate!r}: expected 'quarantine' or 'allow'")
    if batch_id is None:
        if isinstance(data, (str, os.PathLike)) and Path(data).is_file():
            batch_id = file_batch_id(Path(data))
        else:
            batch_id = "b" + uuid.uuid4().hex
    check_batch_id(batch_id)
    batches.sweep(ws)  # imports that were killed: their files go (or, complete, are committed)
    record_path = ws.imports_dir / f"{batch_id}.json"
    if batch_id in batches.pending(ws):  # still there after the sweep: its writer is at work
        batches.check_free(ws, batch_id)
    if record_path.exists():
        return _recorded(record_path)
    frame, source, rejects = to_frame(data)
    summary = ingest_frame(ws, frame, source=source, batch_id=batch_id, model=model, strict=strict, durable=durable,
                      rejects=rejects, record_path=record_path, on_duplicate=on_duplicate)
    log.info("imported %s: %d accepted, %d quarantined", source, summary.accepted, summary.quarantined)
    return summary
