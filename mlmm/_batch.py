"""Batches: a write of several files that readers see all at once, or not at all.

A bulk import, a tracker flush or a label batch writes one immutable file per partition
(``predictions/model_name=<m>/date=<d>/part-<batch>.parquet``, label days, quarantine, the
id index). Each file appears whole (temporary name, then rename; on object storage one
upload), but a batch is several files, and a process killed between two of them (``kill -9``,
a full disk, a permission error) would leave part of the batch visible. So a batch works
like this:

1. **begin**: a marker ``imports/pending/<batch>.json`` is written first. It names the
   files the batch will write and who writes them (host, pid); on a local disk the writer
   holds an exclusive ``flock`` on it while it works.
2. the files are written under their final names;
3. the batch's import record (``imports/<batch>.json``), when it has one, is written;
4. **commit**: the marker is deleted. That single unlink is the instant the batch becomes
   visible.

Readers (:func:`committed`) list the pending markers before and after they list the
partitions and skip every file of a batch that was pending at either moment. A batch that
failed (exception) removes its files, then its marker; one that was killed leaves its
marker, so its files stay invisible until :func:`sweep` (run by every import, ``cleanup``
and ``compact``) finds the marker's owner gone (its lock is free; on object storage: the
marker is older than ``STALE_SECONDS``) and deletes the files and the marker. When the
import record was already written, the batch had written everything: the sweep commits it
instead (roll forward).

What remains possible: a reader whose listing of the partitions spans the *whole* life of a
batch (begun after the reader's first look at the markers, committed before its second)
may see that batch in part. A local listing takes microseconds to milliseconds, an import
far longer, so this needs a reader stalled in the middle of its listing.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import json
import logging
import os
import socket
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from ._storage import ObjectPath, StoragePath
from ._util import fsync_dir, now
from .errors import ConflictError

if TYPE_CHECKING:
    from .workspace import Workspace

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Linux/macOS
    fcntl = None  # type: ignore[assignment]

__all__ = ["Batch", "STALE_SECONDS", "committed", "pending", "snapshot", "sweep"]

log = logging.getLogger("mlmm")

# On object storage there is no lock to probe: a marker this old belongs to a writer that is gone.
STALE_SECONDS = 6 * 3600.0
_HOST = socket.gethostname()


def pending_dir(ws: Workspace) -> StoragePath:
    return ws.imports_dir / "pending"


def pending(ws: Workspace) -> frozenset[str]:
    """Batch ids whose marker exists now: their files are not visible."""
    folder = pending_dir(ws)
    if isinstance(folder, ObjectPath):
        names = [p.name for p in ObjectPath(folder.store, folder.key).iterdir()]
    else:
        try:
            names = os.listdir(folder)
        except (FileNotFoundError, NotADirectoryError):
            return frozenset()
    return frozenset(n[:-5] for n in names if n.endswith(".json") and not n.startswith("."))


def batch_of(name: str) -> str | None:
    """The batch id in a file name written by a batch (``part-<batch>.parquet``,
    ``part-<batch>-names.parquet``, ``run-<batch>.npy``)."""
    stem, dot, _ = name.partition(".")
    if not dot:
        return None
    for prefix in ("part-", "run-"):
        if stem.startswith(prefix):
            return stem[len(prefix):]
    return None


def _hidden(name: str, pend: frozenset[str]) -> bool:
    batch = batch_of(name)
    if batch is None:
        return False
    if batch in pend:
        return True
    # a batch may add a suffix of its own ("-names"): part-<batch>-<suffix>.parquet
    return any(batch.startswith(p + "-") for p in pend)


def committed(files: Iterable[StoragePath], pend: frozenset[str]) -> list[StoragePath]:
    """``files`` minus those of pending batches."""
    if not pend:
        return list(files)
    return [f for f in files if not _hidden(f.name, pend)]


@contextlib.contextmanager
def snapshot(ws: Workspace) -> Iterator[set[str]]:
    """Pending batches before and after the block: the set yielded is filled in at the end,
    so list the partitions inside the block and filter with it after the block."""
    seen: set[str] = set(pending(ws))
    yield seen
    seen.update(pending(ws))


def _relative(ws: Workspace, path: StoragePath) -> str:
    return str(path.relative_to(ws.log_root))  # type: ignore[arg-type]


class Batch:
    """Write a set of files that becomes visible at once (see the module docstring).

    >>> import tempfile, mlmm
    >>> ws = mlmm.open_workspace(tempfile.mkdtemp())
    >>> target = ws.predictions_dir / "model_name=m" / "date=2026-01-01" / "part-demo.parquet"
    >>> with Batch(ws, "demo", [target]) as batch:
    ...     sorted(pending(ws))
    ['demo']
    >>> sorted(pending(ws))
    []
    """

    def __init__(self, ws: Workspace, batch_id: str, paths: Iterable[StoragePath], *,
                 record: StoragePath | None = None, durable: bool = True) -> None:
        self.ws = ws
        self.batch_id = batch_id
        self.paths = list(paths)
        self.record = record
        self.durable = durable
        self.marker = pending_dir(ws) / f"{batch_id}.json"
        self._fd: int | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> Batch:
        if self.marker.exists():
            _sweep_one(self.ws, self.marker)  # a crashed run of the same batch: gone, or raises
        body = {
            "batch": self.batch_id, "host": _HOST, "pid": os.getpid(), "started_at": now().isoformat(),
            "paths": [_relative(self.ws, p) for p in self.paths],
            "record": _relative(self.ws, self.record) if self.record is not None else None,
        }
        data = json.dumps(body, indent=1).encode()
        if isinstance(self.marker, ObjectPath):
            self.marker.write_bytes(data)
            return self
        self.marker.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(self.marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            raise ConflictError(f"batch {self.batch_id!r} is being written by another process (its marker"
                                f" {self.marker} appeared just now); expected it to finish first") from None
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            os.write(fd, data)
            if self.durable:
                os.fsync(fd)
        except BaseException:
            os.close(fd)
            self.marker.unlink(missing_ok=True)
            raise
        self._fd = fd
        if self.durable:
            fsync_dir(self.marker.parent)
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        try:
            if exc_type is None:
                self._commit()
            else:
                self._abort()
        finally:
            if self._fd is not None:
                os.close(self._fd)  # releases the lock, after the marker is gone (or kept)
                self._fd = None

    def _commit(self) -> None:
        self.marker.unlink(missing_ok=True)
        if self.durable and not isinstance(self.marker, ObjectPath):
            fsync_dir(self.marker.parent)

    def _abort(self) -> None:
        """Remove what the batch wrote; the marker goes only when all of it is gone, so a file
        that cannot be deleted (a read-only folder) stays invisible."""
        if _remove(self.paths):
            with contextlib.suppress(OSError):
                self.marker.unlink(missing_ok=True)


def _remove(paths: list[StoragePath]) -> bool:
    """Delete ``paths`` and the temporary files of their writes; False if one could not go."""
    ok = True
    for path in paths:
        try:
            path.unlink(missing_ok=True)
            if not isinstance(path, ObjectPath) and path.parent.is_dir():
                for tmp in path.parent.glob(f".{path.name}.*.tmp"):
                    tmp.unlink(missing_ok=True)
        except OSError as exc:
            log.warning("could not remove %s of a failed batch: %s", path, exc)
            ok = False
    return ok


def _owner_alive(marker: StoragePath) -> bool:
    """Whether the process that wrote ``marker`` still works on it."""
    if isinstance(marker, ObjectPath) or fcntl is None:
        try:
            body = json.loads(marker.read_text())
            started = _dt.datetime.fromisoformat(body["started_at"])
        except (OSError, ValueError, KeyError, FileNotFoundError):
            return False
        return (now() - started).total_seconds() < STALE_SECONDS
    try:
        fd = os.open(marker, os.O_RDONLY)
    except FileNotFoundError:
        return True  # committed or swept meanwhile: nothing to do here
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                return True
            raise
        # the lock was free; the owner may have just committed (unlinked, then closed)
        try:
            return os.stat(marker).st_ino != os.fstat(fd).st_ino
        except FileNotFoundError:
            return True
    finally:
        os.close(fd)


def _sweep_one(ws: Workspace, marker: StoragePath) -> str | None:
    """Finish a dead batch: commit it when its record exists, else delete its files. Returns
    what was done (``"committed"``, ``"removed"``) or None while its owner still works; raises
    :class:`ConflictError` for a live batch when asked to take it over."""
    if _owner_alive(marker):
        try:
            body = json.loads(marker.read_text())
        except (OSError, ValueError):
            body = {}
        if body.get("batch") == marker.name[:-5] and marker.exists():
            raise ConflictError(
                f"batch {body.get('batch')!r} is being written by pid {body.get('pid')} on {body.get('host')}"
                f" since {body.get('started_at')}; expected it to finish first")
        return None
    try:
        body = json.loads(marker.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        body = {}
    root = ws.log_root
    record = body.get("record")
    if record and (root / record).exists():
        marker.unlink(missing_ok=True)
        log.info("batch %s: its writer stopped after its record; committed now", body.get("batch"))
        return "committed"
    if _remove([root / p for p in body.get("paths", [])]):
        marker.unlink(missing_ok=True)
        log.info("batch %s: its writer stopped before the commit; its files were removed", body.get("batch"))
        return "removed"
    return None


def sweep(ws: Workspace) -> dict[str, int]:
    """Finish every batch whose writer is gone (see the module docstring)."""
    done = {"committed": 0, "removed": 0}
    folder = pending_dir(ws)
    for batch in sorted(pending(ws)):
        marker = folder / f"{batch}.json"
        try:
            what = _sweep_one(ws, marker) if not _owner_alive(marker) else None
        except (ConflictError, OSError) as exc:
            log.warning("could not finish batch %s: %s", batch, exc)
            continue
        if what:
            done[what] += 1
    return done

