"""What a model's log already holds: its prediction ids (to keep them unique) and the type of
each feature column (to keep it).

Per model, next to the log::

    index/model_name=<m>/ids/run-<batch>.npy   sorted 64-bit hashes of the ids, and their days
    index/model_name=<m>/features.json         the type of each feature column, and since when
    index/model_name=<m>/.lock                 held (flock) from the check to the commit

**Ids.** Each batch adds a *run*: a sorted uint64 array, one key per id: the high 48 bits of
its hash (polars' 64-bit hash with a fixed seed) and, in the low 16 bits, its day (days since
1970-01-01).
A new batch's hashes are looked up in every run (binary search on a memory map: the runs are
never read whole); a hit is confirmed against the ids stored in that day's Parquet files,
so a hash collision or a day removed by retention never quarantines a new id. Runs are
files of their batch (``run-<batch>.npy``): invisible while the batch is pending, removed
with it when it fails. When a model has more than ``_MAX_RUNS`` runs, the smallest are merged.
The index is rebuilt from the log when it is missing (a workspace older than it) or when the
hash function changed (another polars release); ``cleanup`` drops the keys of the days it
removes (:func:`prune`).

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
import threading
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from .._storage import ObjectPath, StoragePath, write_atomic, write_json
from .._util import UTC, now
from ..errors import ValidationError
from . import batches

if TYPE_CHECKING:
    from ..workspace import Workspace

try:
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]


__all__ = ["model_lock", "index_dir", "hash_ids", "logged_days", "run_path", "write_run", "merge_runs",
           "feature_types", "record_feature_types", "declared_types", "TYPE_NAMES", "invalidate", "prune"]


log = logging.getLogger("mlmm")

_SEED = 0x6D6C6D6D
_MAX_RUNS = 8  # per tier, at most _MAX_RUNS // 2 - 1 wait between merges
_BUILD_ROWS = 5_000_000
_EPOCH_DAY = _dt.date(1970, 1, 1)
_META = "meta.json"
_FORMAT = 2  # runs of 48-bit hash + 16-bit day keys


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


_DAY_BITS = 16
_DAY_MASK = np.uint64((1 << _DAY_BITS) - 1)
_KEY_MASK = ~_DAY_MASK


def _encode(hashes: np.ndarray, days: np.ndarray) -> np.ndarray:
    """A run: one sorted uint64 per id, the high 48 bits of its hash and the low 16 bits its day
    (days since 1970, clipped to 0..65535: up to the year 2149). One array sorts in one pass
    (polars: ~45 ms for 2 M keys here, numpy's argsort of a pair ~200 ms)."""
    keys = (hashes & _KEY_MASK) | np.clip(days, 0, int(_DAY_MASK)).astype(np.uint64)
    return pl.Series(keys, dtype=pl.UInt64).sort().to_numpy()


def write_run(path: StoragePath, hashes: np.ndarray, days: np.ndarray, *, durable: bool = True) -> None:
    """A run file of ``hashes`` (:func:`hash_ids`) and their ``days`` (days since 1970)."""
    _save(path, _encode(hashes, days), durable=durable)


def _save(path: StoragePath, data: np.ndarray, *, durable: bool = True) -> None:
    """An array as a ``.npy`` file, whole or not at all."""
    buf = io.BytesIO()
    np.save(buf, data)
    write_atomic(path, buf.getvalue(), durable=durable)


_LOADED: dict[str, np.ndarray] = {}  # run files are immutable: a memory map is opened once per process
_LOADED_LOCK = threading.Lock()


def _load(path: StoragePath) -> np.ndarray:
    if isinstance(path, ObjectPath):
        return np.load(io.BytesIO(path.read_bytes()))
    st = os.stat(path)
    key = f"{path}:{st.st_ino}:{st.st_mtime_ns}"  # a batch re-run after a crash writes its run again
    with _LOADED_LOCK:
        run = _LOADED.get(key)
    if run is None:
        run = np.load(path, mmap_mode="r")
        with _LOADED_LOCK:
            while len(_LOADED) >= 64:
                _LOADED.pop(next(iter(_LOADED)), None)
            _LOADED[key] = run
    return run


def _delete(path: StoragePath) -> None:
    """Remove a run (merged or pruned), and its memory map, which would keep the space in use."""
    with _LOADED_LOCK:
        for key in [k for k in _LOADED if k.startswith(f"{path}:")]:
            del _LOADED[key]
    path.unlink(missing_ok=True)


def _runs(ws: Workspace, model: str) -> list[StoragePath]:
    folder = index_dir(ws, model) / "ids"
    if isinstance(folder, ObjectPath):
        files = [p for p in ObjectPath(folder.store, folder.key).iterdir() if p.name.endswith(".npy")]
    else:
        try:
            files = [folder / n for n in os.listdir(folder) if n.endswith(".npy") and not n.startswith(".")]
        except FileNotFoundError:
            files = []
    return sorted(batches.committed(files, batches.pending(ws)))


def _meta_ok(ws: Workspace, model: str) -> bool:
    path = index_dir(ws, model) / _META
    try:
        meta = json.loads(path.read_text())
    except (FileNotFoundError, ValueError, OSError):
        return False
    return meta.get("probe") == _probe() and meta.get("format") == _FORMAT


def invalidate(ws: Workspace, model: str) -> None:
    """Forget the id index of ``model``: the next import rebuilds it from the log."""
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
    write_json(index_dir(ws, model) / _META, {"probe": _probe(), "format": _FORMAT, "built_at": now().isoformat()})


def _options(path: StoragePath) -> dict[str, str] | None:
    from .._storage import storage_options

    return storage_options(path)


_RELIST = 5  # listings of the runs tried when runs vanish between listing and reading


def _search(runs: list[StoragePath], queries: np.ndarray, order: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Rows (indices into the original ids) and days of every key in ``runs`` whose 48 hash bits
    equal a query; :class:`FileNotFoundError` when a listed run is gone."""
    hit_rows: list[np.ndarray] = []
    hit_days: list[np.ndarray] = []
    for path in runs:
        run = _load(path)
        if not len(run):
            continue
        # every key with the same 48 hash bits (an id logged on several days, or a collision)
        lo = np.searchsorted(run, queries, side="left")
        hi = np.searchsorted(run, queries | _DAY_MASK, side="right")
        counts = hi - lo
        found = counts > 0
        if found.any():
            n = counts[found]
            starts = np.repeat(lo[found], n) + (np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n))
            hit_rows.append(np.repeat(order[found], n))
            hit_days.append((np.asarray(run[starts]) & _DAY_MASK).astype(np.int32))
    return hit_rows, hit_days


def logged_days(ws: Workspace, model: str, ids: pl.Series, hashes: np.ndarray, day_files: Any) -> pl.DataFrame:
    """The rows of ``ids`` that the model's log already holds: ``row`` (index in ``ids``) and
    ``day`` (the day it was logged on; the earliest when several).

    ``hashes`` are :func:`hash_ids` of ``ids``; ``day_files`` is a callable returning
    ``[(day, committed files)]`` of the model's log (for the days given): called to rebuild
    the index when needed and to confirm hits."""
    empty = pl.DataFrame(schema={"row": pl.UInt32, "day": pl.Date})
    if not _meta_ok(ws, model):
        _rebuild(ws, model, day_files())
    if ids.is_empty():
        return empty
    wanted = hashes & _KEY_MASK
    # sorted queries: numpy's binary search starts from the previous answer (cache friendly)
    order = pl.Series(wanted, dtype=pl.UInt64).arg_sort().to_numpy()
    queries = wanted[order]
    for attempt in range(_RELIST):
        try:
            hit_rows, hit_days = _search(_runs(ws, model), queries, order)
            break
        except FileNotFoundError:
            # a run merged away after it was listed (on object storage, by a writer on another
            # host; locally only by a merge that crashed): its keys are in the merged run, list again
            if attempt == _RELIST - 1:
                raise
    if not hit_rows:
        return empty
    hits = (pl.DataFrame({"row": np.concatenate(hit_rows).astype(np.uint32), "d": np.concatenate(hit_days)})
            .with_columns(pl.col("d").cast(pl.Date).alias("day"), ids.gather(pl.Series(np.concatenate(hit_rows)))
                          .alias("prediction_id")))
    # confirm against the ids stored in those days' files (a collision or a removed day is no hit)
    days = sorted(hits.get_column("day").unique().to_list())
    confirmed = []
    for day, files in day_files(days):
        if not files:
            continue
        candidates = hits.filter(pl.col("day") == day)
        stored = pl.concat([pl.scan_parquet(str(f) if isinstance(f, ObjectPath) else f, hive_partitioning=False,
                                            storage_options=_options(f)).select("prediction_id")
                            for f in files]).filter(
            pl.col("prediction_id").is_in(candidates.get_column("prediction_id").implode())).unique().collect()
        confirmed.append(candidates.join(stored, on="prediction_id", how="semi").select("row", "day"))
    if not confirmed:
        return empty
    return pl.concat(confirmed).sort("day").unique("row", keep="first").sort("row")


def _tier(size: int) -> int:
    """Runs of a size within a factor of 4 share a tier (by file size)."""
    return max(0, (max(size, 1).bit_length() - 1) // 2)


def merge_runs(ws: Workspace, model: str) -> int:
    """Size-tiered merging (under the model's lock): when ``_MAX_RUNS // 2`` runs of a tier
    gather, they become one run of the next tier. A key is merged about log4(n) times, and a
    lookup searches a few runs per tier. Returns the number of runs merged."""
    runs = _runs(ws, model)
    if len(runs) < _MAX_RUNS // 2:
        return 0
    try:
        sizes = {p: p.stat().st_size for p in runs}
    except FileNotFoundError:
        return 0  # another writer merges them (on object storage, where there is no lock)
    tiers: dict[int, list[StoragePath]] = {}
    for p in runs:
        tiers.setdefault(_tier(sizes[p]), []).append(p)
    merged = 0
    for _, members in sorted(tiers.items()):
        if len(members) < _MAX_RUNS // 2:
            continue
        try:
            arrays = [np.asarray(_load(p)) for p in members]
        except FileNotFoundError:
            continue
        keys = pl.Series(np.concatenate(arrays), dtype=pl.UInt64).sort().to_numpy()
        _save(index_dir(ws, model) / "ids" / f"run-m{uuid.uuid4().hex}.npy", keys)
        for p in members:
            _delete(p)  # a crash before this leaves both: the same keys twice, harmless
        merged += len(members)
    return merged


def prune(ws: Workspace, model: str, before: _dt.date) -> int:
    """Drop the keys of days before ``before`` (retention removed them) from the model's runs,
    under its lock; returns the keys dropped."""
    cutoff = np.uint64(max(0, (before - _EPOCH_DAY).days))
    dropped = 0
    with model_lock(ws, [model]):
        for path in _runs(ws, model):
            run = np.asarray(_load(path))
            keep = (run & _DAY_MASK) >= cutoff
            if keep.all():
                continue
            dropped += int((~keep).sum())
            if keep.any():
                _save(index_dir(ws, model) / "ids" / f"run-p{uuid.uuid4().hex}.npy", run[keep])
            _delete(path)
    return dropped


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
    write_json(_features_path(ws, model), known)


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
