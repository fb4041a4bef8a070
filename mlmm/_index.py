"""What a model's log already holds: its prediction ids (to keep them unique) and the type of
each feature column (to keep it).

Per model, next to the log::

    index/model_name=<m>/ids/run-<batch>.npy   sorted 64-bit hashes of the ids, and their days
    index/model_name=<m>/features.json         the type of each feature column, and since when
    index/model_name=<m>/.lock                 held (flock) from the check to the commit

**Ids.** Each batch adds a *run*: a ``(2, n)`` uint64 array, row 0 the sorted hashes of the
batch's ids (polars' 64-bit hash with fixed seeds), row 1 their day (days since 1970-01-01).
A new batch's hashes are looked up in every run (binary search on a memory map: the runs are
never read whole); a hit is confirmed against the ids stored in that day's Parquet files,
so a hash collision or a day removed by retention never quarantines a new id. Runs are
files of their batch (``run-<batch>.npy``): invisible while the batch is pending, removed
with it when it fails. When a model has more than ``_MAX_RUNS`` runs, the smallest are merged.
The index is rebuilt from the log when it is missing (a workspace older than it), when the
hash function changed (another polars release), or after ``cleanup`` removed days.

**Feature types.** The first accepted type of a feature column, or the type declared in the
model's configuration (``feature_types = {"memory_mb": "number", "endpoint": "text",
"is_admin": "bool"}``), is the column's type from then on: a value that cannot be read as
that type is quarantined with its row, and the column never widens.

The lock makes check-then-write one step for the writers of a model on one host (and on a
shared file system with working ``flock``). On object storage there is no lock: two
processes importing the same ids at the same instant may both accept them.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import functools
import io
import json
import logging
import os
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from . import _batch
from ._storage import ObjectPath, StoragePath
from ._util import UTC, atomic_write_json, fsync_dir, now
from .errors import ValidationError

if TYPE_CHECKING:
    from .workspace import Workspace

try:
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

__all__ = ["model_lock", "index_dir", "hash_ids", "logged_days", "run_path", "write_run", "merge_runs",
           "feature_types", "record_feature_types", "declared_types", "TYPE_NAMES", "invalidate"]

log = logging.getLogger("mlmm")

_SEED = 0x6D6C6D6D
_MAX_RUNS = 8
_BUILD_ROWS = 5_000_000
_EPOCH_DAY = _dt.date(1970, 1, 1)
_META = "meta.json"


def index_dir(ws: Workspace, model: str) -> StoragePath:
    return ws.log_root / "index" / f"model_name={model}"


def hash_ids(ids: pl.Series) -> np.ndarray:
    return ids.cast(pl.String).hash(seed=_SEED).to_numpy()


@functools.cache
def _probe() -> int:
    """The hash of a fixed text: when it changes (a polars release), the index is rebuilt."""
    return int(hash_ids(pl.Series(["mlmm prediction id probe"]))[0])


@contextlib.contextmanager
def model_lock(ws: Workspace, models: list[str]) -> Iterator[None]:
    """Exclusive lock of the models' indexes, taken in name order (no deadlock)."""
    if ws.remote or fcntl is None:
        yield
        return
    fds = []
    try:
        for model in sorted(set(models)):
            folder = index_dir(ws, model)
            folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(folder / ".lock", os.O_RDWR | os.O_CREAT, 0o666)
            fds.append(fd)
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        for fd in reversed(fds):
            os.close(fd)


# ----------------------------------------------------------------------------- ids
def run_path(ws: Workspace, model: str, batch_id: str) -> StoragePath:
    return index_dir(ws, model) / "ids" / f"run-{batch_id}.npy"


def _encode(hashes: np.ndarray, days: np.ndarray) -> np.ndarray:
    order = np.argsort(hashes, kind="stable")
    return np.stack([hashes[order], days.astype(np.uint64)[order]])


def write_run(path: StoragePath, hashes: np.ndarray, days: np.ndarray, *, durable: bool = True) -> None:
    """A run file (written whole under a temporary name, then renamed)."""
    data = _encode(hashes, days)
    if isinstance(path, ObjectPath):
        buf = io.BytesIO()
        np.save(buf, data)
        path.write_bytes(buf.getbuffer())
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        with open(tmp, "wb") as fh:
            np.save(fh, data)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if durable:
        fsync_dir(path.parent)


def _load(path: StoragePath) -> np.ndarray:
    if isinstance(path, ObjectPath):
        return np.load(io.BytesIO(path.read_bytes()))
    return np.load(path, mmap_mode="r")


def _runs(ws: Workspace, model: str) -> list[StoragePath]:
    folder = index_dir(ws, model) / "ids"
    if isinstance(folder, ObjectPath):
        files = [p for p in ObjectPath(folder.store, folder.key).iterdir() if p.name.endswith(".npy")]
    else:
        try:
            files = [folder / n for n in os.listdir(folder) if n.endswith(".npy") and not n.startswith(".")]
        except FileNotFoundError:
            files = []
    return sorted(_batch.committed(files, _batch.pending(ws)))


def _meta_ok(ws: Workspace, model: str) -> bool:
    path = index_dir(ws, model) / _META
    try:
        meta = json.loads(path.read_text())
    except (FileNotFoundError, ValueError, OSError):
        return False
    return meta.get("probe") == _probe()


def invalidate(ws: Workspace, model: str) -> None:
    """Forget the id index of ``model``: the next import rebuilds it from the log (after
    retention removed days, so it does not grow without end)."""
    folder = index_dir(ws, model)
    (folder / _META).unlink(missing_ok=True)


def _rebuild(ws: Workspace, model: str, day_files: list[tuple[_dt.date, list[StoragePath]]]) -> None:
    """The id index from the committed files of the log (under the model's lock)."""
    folder = index_dir(ws, model) / "ids"
    old = _runs(ws, model)
    hashes: list[np.ndarray] = []
    days: list[np.ndarray] = []
    rows = 0
    written: list[StoragePath] = []

    def _flush() -> None:
        nonlocal rows
        if hashes:
            path = folder / f"run-i{uuid.uuid4().hex}.npy"
            write_run(path, np.concatenate(hashes), np.concatenate(days))
            written.append(path)
        hashes.clear()
        days.clear()
        rows = 0

    for day, files in day_files:
        if not files:
            continue
        ids = pl.concat([pl.read_parquet(str(f) if isinstance(f, ObjectPath) else f, columns=["prediction_id"],
                                         hive_partitioning=False, storage_options=_options(f))
                         for f in files]).get_column("prediction_id")
        hashes.append(hash_ids(ids))
        days.append(np.full(len(ids), (day - _EPOCH_DAY).days, dtype=np.uint64))
        rows += len(ids)
        if rows >= _BUILD_ROWS:
            _flush()
    _flush()
    for path in old:
        if path not in written:
            path.unlink(missing_ok=True)
    _write_meta(ws, model)
    log.info("rebuilt the id index of %s: %d runs", model, len(written))


def _write_meta(ws: Workspace, model: str) -> None:
    path = index_dir(ws, model) / _META
    body = {"probe": _probe(), "built_at": now().isoformat()}
    if isinstance(path, ObjectPath):
        path.write_bytes(json.dumps(body).encode())
    else:
        atomic_write_json(path, body)


def _options(path: StoragePath) -> dict[str, str] | None:
    from ._storage import storage_options

    return storage_options(path)


def logged_days(ws: Workspace, model: str, ids: pl.Series,
                day_files: Any) -> dict[int, _dt.date]:
    """Row index (in ``ids``) -> the day on which that id is already in the log.

    ``day_files`` is a callable returning ``[(day, committed files)]`` of the model's log:
    called to rebuild the index when needed and to confirm hits."""
    if not _meta_ok(ws, model):
        _rebuild(ws, model, day_files())
    if ids.is_empty():
        return {}
    q = hash_ids(ids)
    order = np.argsort(q, kind="stable")
    qs = q[order]
    hit_rows: list[np.ndarray] = []
    hit_days: list[np.ndarray] = []
    for path in _runs(ws, model):
        try:
            run = _load(path)
        except FileNotFoundError:
            continue  # merged away meanwhile (only under the lock, so: by a crashed merge)
        keys = run[0]
        if not len(keys):
            continue
        pos = np.searchsorted(keys, qs)
        pos[pos >= len(keys)] = len(keys) - 1
        found = keys[pos] == qs
        if found.any():
            hit_rows.append(order[found])
            hit_days.append(np.asarray(run[1][pos[found]]))
    if not hit_rows:
        return {}
    rows = np.concatenate(hit_rows)
    days = np.concatenate(hit_days)
    # confirm against the ids stored in those days' files (a collision or a removed day is no hit)
    out: dict[int, _dt.date] = {}
    by_day: dict[int, list[int]] = {}
    for r, d in zip(rows.tolist(), days.tolist(), strict=True):
        by_day.setdefault(d, []).append(r)
    files_by_day = {day: files for day, files in day_files([_EPOCH_DAY + _dt.timedelta(days=d) for d in by_day])}
    for d in sorted(by_day):
        day = _EPOCH_DAY + _dt.timedelta(days=d)
        files = files_by_day.get(day) or []
        if not files:
            continue
        wanted = ids.gather(by_day[d])
        stored = pl.concat([pl.scan_parquet(str(f) if isinstance(f, ObjectPath) else f, hive_partitioning=False,
                                            storage_options=_options(f)).select("prediction_id")
                            .filter(pl.col("prediction_id").is_in(wanted.implode())) for f in files]).collect()
        present = set(stored.get_column("prediction_id").to_list())
        for r in by_day[d]:
            if r not in out and ids[r] in present:
                out[r] = day
    return out


def merge_runs(ws: Workspace, model: str) -> int:
    """Merge the smallest runs while there are more than ``_MAX_RUNS`` (under the model's
    lock): the lookups stay a few binary searches per batch. Returns the runs merged."""
    runs = _runs(ws, model)
    if len(runs) <= _MAX_RUNS:
        return 0
    try:
        sizes = {p: _load(p).shape[1] for p in runs}
        small = sorted(runs, key=lambda p: sizes[p])[: len(runs) - _MAX_RUNS // 2]
        arrays = [np.asarray(_load(p)) for p in small]
    except FileNotFoundError:
        return 0  # another writer merges them (on object storage, where there is no lock)
    merged = np.concatenate(arrays, axis=1)
    target = index_dir(ws, model) / "ids" / f"run-m{uuid.uuid4().hex}.npy"
    write_run(target, merged[0], merged[1])
    for p in small:
        p.unlink(missing_ok=True)  # a crash before this leaves both: the same ids twice, harmless
    return len(small)


# ----------------------------------------------------------------------------- feature types
TYPE_NAMES: dict[str, pl.DataType] = {
    "number": pl.Float64(), "float": pl.Float64(), "int": pl.Float64(), "integer": pl.Float64(),
    "text": pl.String(), "str": pl.String(), "string": pl.String(), "category": pl.String(),
    "bool": pl.Boolean(), "boolean": pl.Boolean(),
}
_STORED = {pl.Float64(): "number", pl.String(): "text", pl.Boolean(): "bool"}


def _features_path(ws: Workspace, model: str) -> StoragePath:
    return index_dir(ws, model) / "features.json"


def feature_types(ws: Workspace, model: str) -> dict[str, dict[str, Any]]:
    """``{feature: {"type": "number"|"text"|"bool", "since": ISO time, "source": ...}}``."""
    path = _features_path(ws, model)
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return {}


def record_feature_types(ws: Workspace, model: str, new: dict[str, tuple[pl.DataType, str]]) -> None:
    """Add the types of features first seen now (under the model's lock)."""
    if not new:
        return
    known = feature_types(ws, model)
    stamp = now().astimezone(UTC).isoformat(timespec="seconds")
    for name, (dtype, source) in new.items():
        entry = {"type": _STORED.get(dtype, "text"), "since": stamp, "source": source}
        if source.startswith("declared"):
            known[name] = entry  # the configuration overrides what was learned
        else:
            known.setdefault(name, entry)
    path = _features_path(ws, model)
    if isinstance(path, ObjectPath):
        path.write_bytes(json.dumps(known, indent=1, sort_keys=True).encode())
    else:
        atomic_write_json(path, known)


def declared_types(configs: list[dict[str, Any]], model: str) -> dict[str, pl.DataType]:
    """``feature_types`` of a model's configurations (later versions win)."""
    out: dict[str, pl.DataType] = {}
    for config in configs:
        declared = config.get("feature_types") or {}
        if not isinstance(declared, dict):
            raise ValidationError(f"feature_types={declared!r} in the configuration of {model}: expected a table"
                                  " of feature -> 'number', 'text' or 'bool'")
        for name, kind in declared.items():
            dtype = TYPE_NAMES.get(str(kind).lower())
            if dtype is None:
                raise ValidationError(f"feature_types.{name}={kind!r} in the configuration of {model}: expected"
                                      " 'number', 'text' or 'bool'")
            out[name] = dtype
    return out


def stored_dtype(kind: str) -> pl.DataType:
    return TYPE_NAMES.get(kind, pl.String())


BINARY = (0, 1)


def classes_of(config: Any, model: str, version: str) -> tuple[int, ...]:
    """The classes a version predicts: its configuration's ``classes``, else 0 and 1."""
    classes = config.get("classes")
    if classes is None:
        return BINARY
    if (not isinstance(classes, (list, tuple)) or len(classes) < 2
            or not all(isinstance(c, int) and not isinstance(c, bool) for c in classes)):
        raise ValidationError(f"classes={classes!r} in the configuration of {model} {version}: expected a list of"
                              " at least two integer class labels, e.g. [0, 1, 2]")
    return tuple(sorted(set(classes)))


def check_config(config: Any, model: str, version: str) -> None:
    """The keys of a model's configuration that the log reads (``classes``, ``feature_types``),
    checked when the configuration is written."""
    classes_of(config, model, version)
    if config.get("feature_types") is not None:
        declared_types([dict(config)], model)
