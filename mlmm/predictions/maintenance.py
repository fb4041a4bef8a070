"""Keeping the log healthy: statistics, retention clean-up and compaction of small files."""

from __future__ import annotations

import dataclasses
import datetime as _dt
import io
import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from .._storage import ObjectPath, StoragePath
from .._util import (
    atomic_write_json,
    fsync_dir,
    parse_duration,
    to_utc,
)
from . import batches, clock, id_index
from .layout import (
    UNDATED,
    day_files,
    label_dirs_of,
    labelled_dir,
    max_statistic,
    num_rows,
    parquet_metadata,
    partition_dirs,
    read_parquet,
    relative,
    rmtree,
    visible_files,
    write_json,
)
from .read import read_predictions, read_quarantine, refresh_labelled
from .schema import MANIFEST_PREFIX, PARQUET_OPTS

if TYPE_CHECKING:
    from ..workspace import Workspace


log = logging.getLogger("mlmm")


def stats(ws: Workspace, model: str | None = None) -> pl.DataFrame:
    """Per model and version: predictions, labelled share, positives, time range, files,
    size, plus quarantined rows per model.

    >>> import tempfile, mlmm
    >>> ws = mlmm.open_workspace(tempfile.mkdtemp())
    >>> _ = ws.registry.register("m", "1.0.0")
    >>> _ = mlmm.log_predictions(ws, {"version": ["1.0.0"] * 4, "prediction": [1, 0, 1, 1], "actual": [1, None, 0, None]}, model="m")
    >>> stats(ws).select("model_name", "version", "predictions", "labelled", "label_coverage", "positive_rate").row(0)
    ('m', '1.0.0', 4, 2, 0.5, 0.75)
    """
    lf = read_predictions(ws, model=model)
    table = (
        lf.group_by("model_name", "version")
        .agg(
            pl.len().alias("predictions"),
            pl.col("actual").is_not_null().sum().alias("labelled"),
            pl.col("prediction").mean().alias("positive_rate"),
            pl.col("confidence").mean().alias("mean_confidence"),
            pl.col("timestamp").min().alias("first"),
            pl.col("timestamp").max().alias("last"),
        )
        .with_columns((pl.col("labelled") / pl.col("predictions")).alias("label_coverage"))
        .sort("model_name", "version")
        .collect()
    )
    table = table.with_columns(pl.col("labelled").cast(pl.Int64), pl.col("predictions").cast(pl.Int64))
    files: dict[str, tuple[int, int]] = {}
    for d, day in day_files(ws, model):
        name = d.parent.name.partition("=")[2]
        for f in day:
            n, b = files.get(name, (0, 0))
            files[name] = (n + 1, b + f.stat().st_size)
    quarantine = read_quarantine(ws)
    q_counts: dict[str, int] = {}
    if quarantine.height and "model_name" in quarantine.columns:
        for name, n in quarantine.group_by("model_name").len().iter_rows():
            q_counts[str(name)] = n
    table = table.with_columns(
        pl.col("model_name").replace_strict({k: v[0] for k, v in files.items()}, default=0, return_dtype=pl.Int64).alias("model_files"),
        pl.col("model_name").replace_strict({k: v[1] for k, v in files.items()}, default=0, return_dtype=pl.Int64).alias("model_bytes"),
        pl.col("model_name").replace_strict(q_counts, default=0, return_dtype=pl.Int64).alias("model_quarantined"),
    )
    return table.select(
        "model_name", "version", "predictions", "labelled", "label_coverage", "positive_rate", "mean_confidence",
        "first", "last", "model_files", "model_bytes", "model_quarantined",
    )


@dataclasses.dataclass(frozen=True)
class MaintenanceSummary:
    """What cleanup or compaction did (or, with ``dry_run``, would do)."""

    action: str
    files_removed: int
    files_written: int
    rows: int
    bytes_freed: int
    partitions: int
    dry_run: bool
    details: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def __repr__(self) -> str:
        verb = "would remove" if self.dry_run else "removed"
        return (f"<MaintenanceSummary {self.action}: {self.partitions} partitions, {verb} {self.files_removed} files"
                f" ({self.rows} rows, {self.bytes_freed} bytes), wrote {self.files_written}>")


def cleanup(ws: Workspace, older_than: Any = None, *, dry_run: bool = False, reference: Any = None) -> MaintenanceSummary:
    """Delete predictions, labels and quarantined rows older than the retention period.

    ``older_than`` is a duration (``"30d"``); default the workspace's ``retention_days``
    setting (30, from seed 000). Whole day-partitions before the cut-off are removed;
    label files go once every label in them is older. Stale temporary files left by
    crashed writers (older than an hour) are removed too.
    """
    keep = parse_duration(older_than, "older_than") if older_than is not None else _dt.timedelta(days=int(ws.setting("retention_days", 30)))
    ref = to_utc(reference, "reference") if reference is not None else clock.now()
    cutoff = ref - keep
    removed = rows = freed = parts = 0
    details = []
    pruned: set[str] = set()
    if not dry_run:
        batches.sweep(ws)  # imports that were killed: their files go first
    for root in (ws.predictions_dir, ws.quarantine_dir):
        dirs = ([d for _, d in partition_dirs(root, None, None, None, prefetch_files=False)]
                if root == ws.predictions_dir else sorted(root.glob("date=*")))
        for d in dirs:
            day = _dt.date.fromisoformat(d.name.partition("=")[2])
            if day >= cutoff.date():
                continue
            everything = [f for f in d.rglob("*") if f.is_file()]
            files = [f for f in everything if f.parent == d and f.suffix == ".parquet"]
            parts += 1
            removed += len(files)
            rows += sum(num_rows(f) for f in files if not f.name.startswith("."))
            freed += sum(f.stat().st_size for f in everything)
            details.append(relative(ws, d))
            if not dry_run:
                rmtree(d)
                if root == ws.predictions_dir:  # the day's joined cache goes with it; its ids leave the index
                    pruned.add(d.parent.name.partition("=")[2])
                    shutil.rmtree(labelled_dir(ws, d.parent.name.partition("=")[2], d), ignore_errors=True)
    # labels stored under a prediction day go with that day; older-layout and undated files
    # go when their newest label is past the retention
    for d in label_dirs_of(ws):
        if d.name != UNDATED and d.parent != ws.labels_dir:
            try:
                day = _dt.date.fromisoformat(d.name)
            except ValueError:
                continue
            if day >= cutoff.date():
                continue
            files = visible_files(d)
            removed += len(files)
            rows += sum(num_rows(f) for f in files)
            freed += sum(f.stat().st_size for f in d.rglob("*") if f.is_file())
            details.append(relative(ws, d))
            if not dry_run:
                rmtree(d)
            continue
        for f in visible_files(d):
            meta = parquet_metadata(f)
            newest = max_statistic(meta, "labeled_at")
            if newest is not None and newest < cutoff:
                removed += 1
                rows += meta.num_rows
                freed += f.stat().st_size
                details.append(relative(ws, f))
                if not dry_run:
                    f.unlink()
    for name in sorted(pruned):
        id_index.prune(ws, name, cutoff.date())
    # temporary files exist only on a local disk: an upload to a bucket is never half visible
    roots = [] if ws.remote else [ws.predictions_dir, ws.labels_dir, ws.quarantine_dir, ws.imports_dir,
                                  ws.log_root / "index"]
    n, b = sweep_tmp([f for root in roots for f in root.rglob(".*.tmp")], ref.timestamp() - TMP_STALE_SECONDS,
                      dry_run)
    return MaintenanceSummary("cleanup", removed + n, 0, rows, freed + b, parts, dry_run, tuple(details))


TMP_STALE_SECONDS = 3600.0  # a temporary file this old belongs to a writer that was killed


def sweep_tmp(files: Iterable[Path], before: float, dry_run: bool = False) -> tuple[int, int]:
    """Delete temporary files (``.NAME.<random>.tmp``) last touched before ``before`` (a time);
    returns (files, bytes)."""
    removed = freed = 0
    for f in files:
        try:
            st = f.stat()
            if st.st_mtime < before:
                if not dry_run:
                    f.unlink()
                removed += 1
                freed += st.st_size
        except FileNotFoundError:
            continue
    return removed, freed


def compact(
    ws: Workspace,
    model: str | None = None,
    *,
    min_files: int = 2,
    target_rows: int = 5_000_000,
    grace: Any = "5m",
    dry_run: bool = False,
) -> MaintenanceSummary:
    """Merge the small files of each partition into one, atomically for mlmm's readers.

    Each merge writes the new file, then a manifest naming the files it replaces, then
    renames the new file into place (on object storage: uploads it; an object appears
    whole): from that instant readers (:func:`read_predictions`, :func:`sql`) skip the old
    files. The old files stay for ``grace`` (default 5 minutes) so a query that listed them
    before the switch can still read them; a later ``compact`` or ``cleanup`` deletes them.
    Label files are compacted the same way.

    Two compactions of the same partition at once cannot both switch: each checks, after
    writing its manifest and before the switch, that no other manifest claims any of its
    files, and gives up (leaving the files as they were) when one does.
    """
    grace_s = parse_duration(grace, "grace").total_seconds()
    if not dry_run:
        batches.sweep(ws)
        if not ws.remote:
            sweep_tmp([f for root in (ws.predictions_dir, ws.labels_dir) for f in root.rglob(".*.tmp")],
                       time.time() - TMP_STALE_SECONDS)
    removed = written = rows = freed = parts = 0
    details = []
    dirs = [d for _, d in partition_dirs(ws.predictions_dir, model, None, None, prefetch_files=False)]
    dirs += label_dirs_of(ws, model)
    for d in dirs:
        if isinstance(d, ObjectPath):
            d = ObjectPath(d.store, d.key)  # listed again below: _finish_manifests may delete files
        elif not d.is_dir():
            continue
        r, b = _finish_manifests(d, grace_s, dry_run)
        removed += r
        freed += b
        with batches.snapshot(ws) as pend:  # a batch not yet committed is never merged
            files = visible_files(d)
        files = batches.committed(files, frozenset(pend))
        counts = {f: num_rows(f) for f in files}
        small = [f for f in files if counts[f] < target_rows]
        if len(small) < min_files:
            continue
        n = sum(counts[f] for f in small)
        detail = f"{relative(ws, d)}: {len(small)} files -> 1 ({n} rows)"
        if dry_run:
            parts += 1
            rows += n
            details.append(detail)
            continue
        is_labels = ws.labels_dir in d.parents
        frames = [read_parquet(f) for f in small]
        merged = pl.concat(frames, how="diagonal_relaxed").sort("labeled_at" if is_labels else "timestamp")
        out_name = f"part-c{uuid.uuid4().hex}.parquet"
        manifest_path = d / f"{MANIFEST_PREFIX}{out_name[5:-8]}.json"
        manifest = {"output": out_name, "sources": [f.name for f in small], "created_at": clock.now().isoformat(), "rows": n}
        if isinstance(d, ObjectPath):
            buf = io.BytesIO()
            merged.write_parquet(buf, **PARQUET_OPTS)  # encoded before the manifest: the switch follows at once
            write_json(manifest_path, manifest)
            if _claimed_elsewhere(d, manifest_path.name, set(manifest["sources"])):
                manifest_path.unlink(missing_ok=True)
                details.append(f"{relative(ws, d)}: skipped, another compaction is merging these files")
                continue
            (d / out_name).write_bytes(buf.getbuffer())
        else:
            tmp = d / f".{out_name}.tmp"
            merged.write_parquet(tmp, **PARQUET_OPTS)
            atomic_write_json(manifest_path, manifest)
            if _claimed_elsewhere(d, manifest_path.name, set(manifest["sources"])):
                manifest_path.unlink(missing_ok=True)
                tmp.unlink(missing_ok=True)
                details.append(f"{relative(ws, d)}: skipped, another compaction is merging these files")
                continue
            os.replace(tmp, d / out_name)
            fsync_dir(d)
        parts += 1
        rows += n
        details.append(detail)
        written += 1
        if grace_s <= 0:
            r, b = _finish_manifests(d, 0, False)
            removed += r
            freed += b
    if not dry_run:
        refresh_labelled(ws, model)
    return MaintenanceSummary("compact", removed, written, rows, freed, parts, dry_run, tuple(details))


def _claimed_elsewhere(folder: StoragePath, own: str, sources: set[str]) -> bool:
    """True when another manifest in ``folder`` names one of ``sources``: a compaction of
    the same files that runs (or crashed) at the same time. Each compaction writes its
    manifest before it checks, so of two that overlap at most one gets past this check."""
    for path in folder.glob(f"{MANIFEST_PREFIX}*.json"):
        if path.name == own:
            continue
        try:
            other = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if sources.intersection(other.get("sources", [])):
            log.info("%s: %s claims files of this compaction; leaving them", folder, path.name)
            return True
    return False

# A manifest whose output never appeared belongs to a compaction that crashed, or to one that
# is between its manifest and its switch: it is removed only after this long (at least).
_ORPHAN_SECONDS = 600.0


def _finish_manifests(folder: StoragePath, grace_s: float, dry_run: bool) -> tuple[int, int]:
    """Delete files replaced by compactions older than the grace period; then the manifests
    (one grace period later, so no reader can see old files without their manifest)."""
    removed = freed = 0
    limit = time.time() - grace_s
    for manifest_path in sorted(folder.glob(f"{MANIFEST_PREFIX}*.json")):
        try:
            manifest = json.loads(manifest_path.read_text())
        except (OSError, ValueError):
            continue
        if not (folder / manifest.get("output", "")).exists():
            # a compaction that crashed before its switch (or is just before it): no output
            if manifest_path.stat().st_mtime < time.time() - max(grace_s, _ORPHAN_SECONDS) and not dry_run:
                manifest_path.unlink(missing_ok=True)
            continue
        if manifest_path.stat().st_mtime >= limit and grace_s > 0:
            continue
        if "sources_deleted_at" not in manifest:
            for name in manifest.get("sources", []):
                f = folder / name
                if f.exists():
                    removed += 1
                    freed += f.stat().st_size
                    if not dry_run:
                        f.unlink()
            if not dry_run:
                manifest["sources_deleted_at"] = clock.now().isoformat()
                write_json(manifest_path, manifest)
                if grace_s <= 0:
                    manifest_path.unlink()
        elif not dry_run:
            manifest_path.unlink()
    return removed, freed
