"""Where the log's files live, listing them as a reader may see them, and writing them atomically."""

from __future__ import annotations

import datetime as _dt
import hashlib
import io
import json
import logging
import os
import re
import shutil
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
import pyarrow.parquet as pq

from .._storage import ObjectPath, StoragePath, prefetch, storage_options
from .._util import (
    UTC,
    atomic_write_json,
    fsync_dir,
    to_utc,
)
from . import batches, id_index
from .schema import MANIFEST_PREFIX, PARQUET_OPTS

if TYPE_CHECKING:
    from ..workspace import Workspace


log = logging.getLogger("mlmm")


def write_parquet_atomic(frame: pl.DataFrame, path: StoragePath, *, durable: bool = True) -> None:
    if isinstance(path, ObjectPath):
        # serialised first, then one upload: a failure while encoding stores nothing
        buf = io.BytesIO()
        frame.write_parquet(buf, **PARQUET_OPTS)
        path.write_bytes(buf.getbuffer())
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        try:
            frame.write_parquet(tmp, **PARQUET_OPTS)
        except pl.exceptions.PolarsError as exc:
            raise _os_error(exc, path) from exc
        if durable:
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if durable:
        fsync_dir(path.parent)


UPLOAD_THREADS = 16


def _os_error(exc: Exception, path: StoragePath) -> Exception:
    """A polars I/O failure (full disk, permissions) as the OSError it is, naming the file."""
    found = re.search(r"os error (\d+)", str(exc))
    if not found:
        return exc
    code = int(found.group(1))
    return OSError(code, os.strerror(code), str(path))


def write_json(path: StoragePath, obj: Any) -> None:
    """A small JSON record (import record, compaction manifest), atomically."""
    if isinstance(path, ObjectPath):
        path.write_bytes(json.dumps(obj, indent=2, sort_keys=True, default=str).encode())
    else:
        atomic_write_json(path, obj)


def quarantine_path(ws: Workspace, batch_id: str, when: _dt.datetime) -> StoragePath:
    return ws.quarantine_dir / f"date={when.date().isoformat()}" / f"part-{batch_id}.parquet"


_SCHEMA_CACHE: dict[tuple[str, int, int], dict[str, pl.DataType]] = {}


def file_schema(path: StoragePath) -> dict[str, pl.DataType]:
    st = path.stat()
    key = (str(path), st.st_mtime_ns, st.st_size)
    schema = _SCHEMA_CACHE.get(key)
    if schema is None:
        if isinstance(path, ObjectPath):
            schema = dict(pl.scan_parquet(str(path), hive_partitioning=False, storage_options=storage_options(path))
                          .collect_schema())
        else:
            schema = dict(pl.read_parquet_schema(path))
        if len(_SCHEMA_CACHE) > 100_000:
            _SCHEMA_CACHE.clear()
        _SCHEMA_CACHE[key] = schema
    return schema


def visible_files(folder: StoragePath) -> list[StoragePath]:
    """Parquet files of one partition directory, minus those a finished compaction replaced."""
    found: dict[str, ObjectPath] | None = None
    if isinstance(folder, ObjectPath):
        listing = folder.children if folder.children is not None else list(folder.iterdir())
        found = {p.name: p for p in listing if p.is_file()}
        names = list(found)
    else:
        try:
            names = os.listdir(folder)
        except FileNotFoundError:
            return []
    present = set(names)
    hidden: set[str] = set()
    for name in names:
        if name.startswith(MANIFEST_PREFIX) and name.endswith(".json"):
            try:
                manifest = json.loads((folder / name).read_text())
            except (OSError, ValueError):
                continue
            if manifest.get("output") in present:
                hidden.update(manifest.get("sources", []))
    visible = (n for n in names if n.endswith(".parquet") and not n.startswith((".", "_")) and n not in hidden)
    if found is not None:
        return sorted(found[n] for n in visible)
    return sorted(folder / n for n in visible)


def partition_dirs(root: StoragePath, model: str | None, since: _dt.datetime | None, until: _dt.datetime | None,
                    *, prefetch_files: bool = True) -> list[tuple[str, StoragePath]]:
    """(model, day directory) of the log under ``root`` within the dates of ``since`` and
    ``until``. On object storage the day directories are listed ahead, concurrently
    (``prefetch_files``), for the :func:`visible_files` calls that follow."""
    remote = isinstance(root, ObjectPath)
    if model is not None:
        model_dirs = [root / f"model_name={model}"]
    else:
        model_dirs = sorted(p for p in root.glob("model_name=*") if p.is_dir())
    lo = since.date() if since else None
    hi = until.date() if until else None
    out = []
    for mdir in model_dirs:
        if not remote and not mdir.is_dir():  # a missing prefix lists as empty: no request to ask
            continue
        name = mdir.name.partition("=")[2]
        for ddir in sorted(mdir.glob("date=*")):
            try:
                day = _dt.date.fromisoformat(ddir.name.partition("=")[2])
            except ValueError:
                continue
            if (lo and day < lo) or (hi and day > hi):
                continue
            out.append((name, ddir))
    if remote and prefetch_files:
        prefetch([d for _, d in out])
    return out


def prediction_files(ws: Workspace, model: str | None = None, since: Any = None, until: Any = None) -> list[StoragePath]:
    """The Parquet files that hold the log (for a model and a time range), oldest day first."""
    s = to_utc(since, "since") if since is not None else None
    u = to_utc(until, "until") if until is not None else None
    return [f for _, files in day_files(ws, model, s, u) for f in files]


def day_files(ws: Workspace, model: str | None = None, since: _dt.datetime | None = None,
              until: _dt.datetime | None = None) -> list[tuple[StoragePath, list[StoragePath]]]:
    """(day directory, its committed files) of the log, for days that have files: what every
    reader of the log reads (files of a batch not yet committed are left out)."""
    with batches.snapshot(ws) as pend:
        days = [(d, visible_files(d)) for _, d in partition_dirs(ws.predictions_dir, model, since, until)]
    frozen = frozenset(pend)
    return [(d, kept) for d, files in days if (kept := batches.committed(files, frozen))]


UNDATED = "undated"


def label_dirs_of(ws: Workspace, model: str | None = None, since: _dt.datetime | None = None,
                until: _dt.datetime | None = None) -> list[StoragePath]:
    """Label directories: ``labels/model_name=<m>/<YYYY-MM-DD>/`` holds the labels of that
    day's predictions (the day of the prediction, as in ``predictions/``), ``undated/`` the
    labels whose prediction was not in the log when they arrived (always read), and files
    directly under the model directory come from workspaces older than this layout."""
    models = [ws.labels_dir / f"model_name={model}"] if model else sorted(ws.labels_dir.glob("model_name=*"))
    lo = since.date() if since else None
    hi = until.date() if until else None
    out = []
    remote = isinstance(ws.labels_dir, ObjectPath)
    for mdir in models:
        if remote:
            prefetch([mdir])  # one listing: the model's label days, and its files of the older layout
            if not mdir.children:
                continue
        elif not mdir.is_dir():
            continue
        out.append(mdir)
        subs = mdir.children if remote else mdir.iterdir()
        for sub in sorted(p for p in subs if p.is_dir()):
            if sub.name == UNDATED:
                out.append(sub)
                continue
            try:
                day = _dt.date.fromisoformat(sub.name)
            except ValueError:
                continue
            if (lo is None or day >= lo) and (hi is None or day <= hi):
                out.append(sub)
    if remote:
        prefetch([d for d in out])
    return out


def label_files(ws: Workspace, model: str | None = None, since: Any = None, until: Any = None) -> list[StoragePath]:
    """Label files of a model (all models), restricted to the labels of predictions made
    between ``since`` and ``until`` when given."""
    s = to_utc(since, "since") if since is not None else None
    u = to_utc(until, "until") if until is not None else None
    with batches.snapshot(ws) as pend:
        files = [f for d in label_dirs_of(ws, model, s, u) for f in visible_files(d)]
    return batches.committed(files, frozenset(pend))


def union_schema(files: list[StoragePath], base: dict[str, pl.DataType]) -> tuple[dict[str, pl.DataType], bool]:
    schema = dict(base)
    conflict = False
    clashes = set()
    for f in files:
        for name, dtype in file_schema(f).items():
            have = schema.get(name)
            if have is None:
                schema[name] = dtype
            elif have != dtype:
                conflict = True
                clashes.add(name)
                schema[name] = pl.String()
    if clashes:
        # files older than the type rule (or written by hand): a feature's known type wins
        known = _known_feature_types(files)
        schema.update({name: known[name] for name in clashes if name in known})
    return schema, conflict


def _known_feature_types(files: list[StoragePath]) -> dict[str, pl.DataType]:
    """Feature types recorded for the models of ``files`` (``predictions/model_name=m/date=d/part``)."""
    out: dict[str, pl.DataType] = {}
    seen = set()
    for f in files:
        parts = f.parents if isinstance(f, Path) else list(f.parents)
        if len(parts) < 4 or parts[2].name != "predictions" or not parts[1].name.startswith("model_name="):
            continue
        model_dir = parts[1]
        if model_dir in seen:
            continue
        seen.add(model_dir)
        folder = parts[3] / "index" / model_dir.name / "features.json"
        try:
            known = json.loads(folder.read_text())
        except (OSError, ValueError):
            continue
        for name, info in known.items():
            dtype = id_index.stored_dtype(info.get("type", "text"))
            if dtype == pl.Boolean:
                dtype = pl.String()  # text cannot be cast to bool: such a clash is read as text
            # models that disagree on a column's type: the union reads it as text
            out[name] = dtype if out.get(name, dtype) == dtype else pl.String()
    return out


def scan(files: list[StoragePath], base: dict[str, pl.DataType], hive: dict[str, pl.DataType]) -> pl.LazyFrame:
    if not files:
        return pl.DataFrame(schema={**base, **hive}).lazy()
    schema, conflict = union_schema(files, base)
    options = storage_options(files[0])
    sources: Any = [str(f) for f in files] if options else files
    if not conflict:
        return pl.scan_parquet(
            sources, schema=schema, hive_partitioning=bool(hive), hive_schema=hive or None,
            missing_columns="insert", extra_columns="ignore", storage_options=options,
        )
    # a column changed type between files: read them one by one, widening the conflicts to text
    frames = []
    for f, source in zip(files, sources, strict=True):
        own = file_schema(f)
        lf = pl.scan_parquet(source, hive_partitioning=bool(hive), hive_schema=hive or None, storage_options=options)
        # to the known type where there is one (a value it cannot read is null), else to text
        frames.append(lf.with_columns([pl.col(c).cast(t, strict=False) for c, t in schema.items()
                                       if c in own and own[c] != t]))
    return pl.concat(frames, how="diagonal_relaxed")

# Joining late labels at query time costs a hash join over every labelled prediction of the
# window; over 30 days of a busy model that is seconds. Labels are stored by their
# predictions' day, so each day can be joined on its own and the result kept: a cached file
# per (model, day) whose name carries a signature of the files it was made from. A query uses
# it while the signature matches and joins the day live otherwise (today, typically), so a
# stale cache is never read. Labels that arrived before their prediction (``undated/``) are
# few and are joined at query time on top. ``log_labels`` and ``compact`` refresh the days
# they touched; ``refresh_labelled(ws)`` refreshes everything.
def labelled_dir(ws: Workspace, model: str, day_dir: StoragePath) -> Path:
    return ws.path / "cache" / "labelled" / f"model_name={model}" / day_dir.name


def log_days(ws: Workspace, model: str | None, since: _dt.datetime | None, until: _dt.datetime | None,
              ) -> list[tuple[str, StoragePath, list[StoragePath], list[StoragePath]]]:
    """(model, day directory, its files, the label files stored under that day) for each day
    between ``since`` and ``until`` that has files. On object storage the day directories,
    then their label directories, are each listed in one round of concurrent requests."""
    with batches.snapshot(ws) as pend:
        days = [(name, d, files) for name, d in partition_dirs(ws.predictions_dir, model, since, until)
                if (files := visible_files(d))]
        label_dirs = [_day_label_dir(ws, name, d) for name, d, _ in days]
        if ws.remote:
            prefetch(label_dirs)  # type: ignore[arg-type]
        out = [(name, d, files, visible_files(ld)) for (name, d, files), ld in zip(days, label_dirs, strict=True)]
    frozen = frozenset(pend)
    if not frozen:
        return out
    return [(name, d, kept, batches.committed(lfiles, frozen)) for name, d, files, lfiles in out
            if (kept := batches.committed(files, frozen))]


def _day_label_dir(ws: Workspace, model: str, day_dir: StoragePath) -> StoragePath:
    return ws.labels_dir / f"model_name={model}" / day_dir.name.partition("=")[2]


def day_label_files(ws: Workspace, model: str, day_dir: StoragePath) -> list[StoragePath]:
    """Labels stored under the day of their predictions."""
    with batches.snapshot(ws) as pend:
        files = visible_files(_day_label_dir(ws, model, day_dir))
    return batches.committed(files, frozenset(pend))


def loose_label_files(ws: Workspace, model: str) -> list[StoragePath]:
    """Labels that can belong to any day: those that arrived before their prediction
    (``undated/``) and files of the layout before labels were stored by day."""
    root = ws.labels_dir / f"model_name={model}"
    with batches.snapshot(ws) as pend:
        if isinstance(root, ObjectPath):
            prefetch([root])  # one listing; undated/ only when it is there
            undated = [p for p in root.children or [] if p.name == UNDATED and p.is_dir()]
            files = [*visible_files(root), *(visible_files(undated[0]) if undated else [])]
        else:
            files = [*visible_files(root), *visible_files(root / UNDATED)]
    return batches.committed(files, frozenset(pend))


def signature(files: list[StoragePath]) -> str:
    h = hashlib.blake2b(digest_size=10)
    for f in files:
        try:
            st = f.stat()
            key = f"{st.st_size}:{st.st_mtime_ns}:{st.st_ino}"  # a file rewritten in place changes it
        except FileNotFoundError:
            key = "-"
        h.update(f"{f.parent.name}/{f.name}:{key}\n".encode())
    return h.hexdigest()


def quarantine_files(ws: Workspace, since: _dt.date | None = None) -> list[StoragePath]:
    dirs = []
    with batches.snapshot(ws) as pend:
        for d in sorted(ws.quarantine_dir.glob("date=*")):
            day = _dt.date.fromisoformat(d.name.partition("=")[2])
            if since is None or day >= since:
                dirs.append(d)
        if ws.remote:
            prefetch(dirs)
        files = [f for d in dirs for f in visible_files(d)]
    return batches.committed(files, frozenset(pend))


def read_parquet(path: StoragePath) -> pl.DataFrame:
    """One whole Parquet file (without hive columns), local or in a bucket."""
    if isinstance(path, ObjectPath):
        return pl.read_parquet(str(path), hive_partitioning=False, storage_options=storage_options(path))
    return pl.read_parquet(path, hive_partitioning=False)


def parquet_metadata(path: StoragePath) -> pq.FileMetaData:
    """A Parquet file's footer (on object storage: a small ranged read, not the file)."""
    if isinstance(path, ObjectPath):
        with path.open_input() as fh:
            return pq.ParquetFile(fh).metadata
    return pq.ParquetFile(path).metadata


def num_rows(path: StoragePath) -> int:
    return parquet_metadata(path).num_rows


relative = batches.relative


def rmtree(folder: StoragePath) -> None:
    if isinstance(folder, ObjectPath):
        folder.rmtree()
    else:
        shutil.rmtree(folder)


def max_statistic(meta: pq.FileMetaData, column: str) -> _dt.datetime | None:
    best = None
    idx = meta.schema.to_arrow_schema().get_field_index(column)
    if idx < 0:
        return None
    for g in range(meta.num_row_groups):
        st = meta.row_group(g).column(idx).statistics
        if st is None or not st.has_min_max:
            return None
        value = st.max
        if isinstance(value, _dt.datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        best = value if best is None or value > best else best
    return best
