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
and ``compact``) finds the marker's owner gone and deletes the files and the marker. Gone
means: its lock is free (on a local disk); else, a process of this host that no longer
exists, or a marker of another host older than ``STALE_SECONDS`` (object storage, shared
mounts whose locks do not reach other hosts). When the
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

from .._storage import ObjectPath, StoragePath
from .._util import fsync_dir, now
from ..errors import ConflictError

if TYPE_CHECKING:
    from ..workspace import Workspace

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
    ``run-<batch>.npy``)."""
    stem, dot, _ = name.partition(".")
    if not dot:
        return None
    for prefix in ("part-", "run-"):
        if stem.startswith(prefix):
            return stem[len(prefix):]
    return None


def _hidden(name: str, pend: frozenset[str]) -> bool:
    batch = batch_of(name)
    return batch is not None and batch in pend


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


def relative(ws: Workspace, path: StoragePath) -> str:
    """``path`` relative to where the log lives (``predictions/model_name=m/date=...``)."""
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
            "paths": [relative(self.ws, p) for p in self.paths],
            "record": relative(self.ws, self.record) if self.record is not None else None,
        }
        data = json.dumps(body, indent=1).encode()
        if isinstance(self.marker, ObjectPath):
            self.marker.write_bytes(data)
            return self
        self.marker.parent.mkdir(parents=True, exist_ok=True)
        # written and locked under a private name, then linked into place: a sweeper never sees
        # a marker that is empty or not yet locked
        tmp = self.marker.parent / f".{self.marker.name}.{os.getpid()}.{id(self):x}.tmp"
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o666)
        try:
            _lock(fd)
            os.write(fd, data)
            if self.durable:
                os.fsync(fd)
            try:
                os.link(tmp, self.marker)
            except FileExistsError:
                raise ConflictError(f"batch {self.batch_id!r} is being written by another process (its marker"
                                    f" {self.marker} appeared just now); expected it to finish first") from None
        except BaseException:
            os.close(fd)
            raise
        finally:
            tmp.unlink(missing_ok=True)
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


_NO_LOCKS = (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS)


def _lock(fd: int) -> bool:
    """An exclusive flock on ``fd``; False where the file system has none (some NFS mounts)."""
    if fcntl is None:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        return True
    except OSError as exc:
        if exc.errno in _NO_LOCKS:
            return False
        raise


def _pid_alive(pid: Any) -> bool:
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError, TypeError, OverflowError):
        return True  # another user's process, or no pid to test: assume it runs
    return True


def _alive_by_body(body: dict[str, Any]) -> bool:
    """Liveness from what the marker says: a process of this host is tested by its pid; one
    of another host is taken as gone once the marker is ``STALE_SECONDS`` old."""
    if body.get("host") == _HOST and body.get("pid") is not None:
        return _pid_alive(body["pid"])
    try:
        started = _dt.datetime.fromisoformat(body["started_at"])
    except (KeyError, TypeError, ValueError):
        return False
    return (now() - started).total_seconds() < STALE_SECONDS


def _read_body(marker: StoragePath) -> dict[str, Any] | None:
    try:
        body = json.loads(marker.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}
    return body if isinstance(body, dict) else {}


def _owner_alive(marker: StoragePath) -> bool:
    """Whether the process that wrote ``marker`` still works on it (gone markers: True, as
    there is nothing to do)."""
    if isinstance(marker, ObjectPath) or fcntl is None:
        body = _read_body(marker)
        return True if body is None else _alive_by_body(body)
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
            if exc.errno in _NO_LOCKS:
                body = _read_body(marker)
                return True if body is None else _alive_by_body(body)
            raise
        try:
            if os.stat(marker).st_ino != os.fstat(fd).st_ino:
                return True  # the owner committed and a new marker of the same batch appeared
        except FileNotFoundError:
            return True
        # the lock is free. On one host that means the owner is gone; another host's lock may
        # not reach us (a shared mount): then its pid and age decide
        body = _read_body(marker)
        if body is None:
            return True
        return body.get("host") not in (None, _HOST) and _alive_by_body(body)
    finally:
        os.close(fd)


def _sweep_one(ws: Workspace, marker: StoragePath) -> str | None:
    """Finish a dead batch: commit it when its record exists, else delete its files. Returns
    what was done (``"committed"``, ``"removed"``) or None when there was nothing to do;
    raises :class:`ConflictError` while its owner still works on it."""
    if _owner_alive(marker):
        body = _read_body(marker)
        if body:
            raise ConflictError(
                f"batch {body.get('batch')!r} is being written by pid {body.get('pid')} on {body.get('host')}"
                f" since {body.get('started_at')}; expected it to finish first")
        return None
    if isinstance(marker, ObjectPath):
        body = _read_body(marker)
        return None if body is None else _finish(ws, marker, body)
    try:
        fd = os.open(marker, os.O_RDWR)
    except FileNotFoundError:
        return None
    try:
        if fcntl is not None:
            try:  # hold it while finishing: two sweepers do not both act
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno not in _NO_LOCKS:
                    return None
        try:
            if os.stat(marker).st_ino != os.fstat(fd).st_ino:
                return None  # replaced meanwhile: not the marker we judged
        except FileNotFoundError:
            return None
        with os.fdopen(os.dup(fd), "rb") as fh:
            try:
                body = json.loads(fh.read() or b"{}")
            except ValueError:
                body = {}
        return _finish(ws, marker, body if isinstance(body, dict) else {})
    finally:
        os.close(fd)


def _finish(ws: Workspace, marker: StoragePath, body: dict[str, Any]) -> str | None:
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


def check_free(ws: Workspace, batch_id: str) -> None:
    """Raise :class:`ConflictError` when a live writer works on ``batch_id`` (finish it if dead)."""
    _sweep_one(ws, pending_dir(ws) / f"{batch_id}.json")


def sweep(ws: Workspace) -> dict[str, int]:
    """Finish every batch whose writer is gone (see the module docstring)."""
    done = {"committed": 0, "removed": 0}
    folder = pending_dir(ws)
    for batch in sorted(pending(ws)):
        marker = folder / f"{batch}.json"
        try:
            what = _sweep_one(ws, marker)
        except ConflictError:
            continue  # still at work
        except OSError as exc:
            log.warning("could not finish batch %s: %s", batch, exc)
            continue
        if what:
            done[what] += 1
    return done

