"""The registry connection of this process (opened on demand, released when idle, waiting for
another process's lock), whether the registry must be opened read-only, and the in-memory DuckDB
for queries over Parquet (the package's internal API)."""

from __future__ import annotations

import atexit
import contextlib
import errno
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb

from ..errors import StorageError, WorkspaceError, WorkspaceLockedError
from .dberrors import (
    FILE_ERRORS,
    FILE_IN_MESSAGE_RE,
    LOCK_HOLDER_RE,
    READ_ONLY_MODE,
    one_line,
    os_error_in,
    translate_error,
)
from .schema import check_read_only_schema, migrate

__all__ = ["RegistryConnection", "LiveSet", "LIVE", "read_only_reason", "writable", "describe_pid", "memory_cursor"]


def writable(path: Path) -> tuple[str, int] | None:
    """Why ``path`` cannot be written (``(reason, errno)``), or None when it can."""
    try:
        read_only_fs = bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):  # no statvfs (Windows) or no such path
        read_only_fs = False
    if read_only_fs:
        return f"{path}: {os.strerror(errno.EROFS)}", errno.EROFS
    if not os.access(path, os.W_OK):
        try:
            st = path.stat()
            owner = f" (owner uid {st.st_uid}, mode {st.st_mode & 0o7777:04o})"
        except OSError:
            owner = ""
        return f"{path}: {os.strerror(errno.EACCES)}{owner}", errno.EACCES
    return None


def read_only_reason(path: Path) -> tuple[str, int] | None:
    """Why the registry file ``path`` must be opened read-only (``(reason, errno)``), or None.

    DuckDB writes the file and, beside it, ``<name>.wal``: both the file and its directory
    must be writable. A registry that does not exist yet is never read-only (creating it
    fails with the OS error instead).
    """
    if not path.exists():
        return None
    for target in (path, path.parent, path.with_name(path.name + ".wal")):
        if target.exists():
            why = writable(target)
            if why is not None:
                return why
    return None


def describe_pid(pid: str) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    # one line: a `python -c` holder may carry a multi-line script in its arguments
    cmd = " ".join(raw.decode(errors="replace").replace("\0", " ").split())
    return cmd[:120]


class RegistryConnection:
    """One DuckDB connection to the registry file, opened on demand and closed when idle."""

    def __init__(self, path: Path, idle_seconds: float, lock_timeout: float) -> None:
        self.path = path
        self.idle_seconds = idle_seconds
        self.lock_timeout = lock_timeout
        self._cond = threading.Condition(threading.RLock())
        self._con: duckdb.DuckDBPyConnection | None = None
        self._depth = 0
        self._deadline: float | None = None
        self._reaper: threading.Thread | None = None
        self._migrated = False
        self.opens = 0  # how many times the file was opened (for tests and `workspace info`)
        self.cache: dict[str, Any] = {}  # state derived from the registry (Workspace.cache)
        # why the open connection is read-only ((reason, errno)), None when it is read-write
        self.read_only: tuple[str, int] | None = None
        self._broken = False

    # -- public -----------------------------------------------------------------------------
    @contextlib.contextmanager
    def use(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """Hold the connection (opening it if needed) for one operation; thread-safe."""
        with self._cond:
            if self._con is None:
                self._con = self._open()
            self._depth += 1
            try:
                yield self._con
            except duckdb.Error as exc:
                if isinstance(exc, duckdb.FatalException):
                    self._broken = True  # DuckDB invalidated this instance: reopen next time
                mapped = self._storage_error(exc)
                if mapped is not None:
                    raise mapped from exc
                raise translate_error(exc, where=f"registry={self.path}") from None
            finally:
                self._release()

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """Keep the connection open across several operations (``ws.session()``)."""
        with self._cond:
            if self._con is None:
                self._con = self._open()
            self._depth += 1
        try:
            yield
        finally:
            with self._cond:
                self._release()

    @property
    def is_open(self) -> bool:
        return self._con is not None

    def close(self) -> None:
        with self._cond:
            self._close()

    # -- internals --------------------------------------------------------------------------
    def _storage_error(self, exc: BaseException, *, action: str = "write") -> StorageError | None:
        """A one-line :class:`StorageError` for a DuckDB error that comes from the file system
        (a full disk, a permission, a read-only file system) or from writing to a registry
        opened read-only; None for any other error. The causes are searched too: a failed
        COMMIT followed by a failed ROLLBACK reports the ROLLBACK."""
        seen: BaseException | None = exc
        for _ in range(6):
            if seen is None:
                break
            message = " ".join(str(seen).split())
            if isinstance(seen, duckdb.Error) and READ_ONLY_MODE in message:
                reason, number = self.read_only or (f"{self.path}: opened read-only", errno.EROFS)
                return StorageError(
                    f"workspace {self.path.parent} is read-only: {reason}; this change was not recorded"
                    f" (reading works); {StorageError.advice(number)}",
                    self.path, number,
                )
            number = os_error_in(message) if isinstance(seen, FILE_ERRORS) else None
            if number is not None:
                match = FILE_IN_MESSAGE_RE.search(message)
                file = match.group(1) if match else str(self.path)
                target = "" if file == str(self.path) else f" {file}"
                rolled_back = "; this change was not recorded" if "commit" in message.lower() else ""
                return StorageError(
                    f"registry={self.path}: cannot {action}{target}: {os.strerror(number)}{rolled_back};"
                    f" {StorageError.advice(number, access='read' if action in ('read', 'open') else 'write')}",
                    self.path, number,
                )
            seen = seen.__cause__ or seen.__context__
        return None

    def _remove_failed_creation(self) -> None:
        """DuckDB creates the file before it writes its header: a creation that failed (a full
        disk) leaves an empty file that no later open accepts. Remove it if it is still empty."""
        with contextlib.suppress(OSError):
            if self.path.stat().st_size == 0:
                self.path.unlink()

    def _empty_hint(self) -> str:
        with contextlib.suppress(OSError):
            if self.path.stat().st_size == 0:
                return ("; the file is empty (its creation failed, e.g. on a full disk): expected a DuckDB file"
                        " (delete the empty file to start anew)")
        return ""

    def _release(self) -> None:
        self._depth -= 1
        if self._depth:
            return
        if self._broken:
            self._broken = False
            with contextlib.suppress(duckdb.Error):
                self._close()
            return
        if self.idle_seconds <= 0:
            self._close()
            return
        self._deadline = time.monotonic() + self.idle_seconds
        if self._reaper is None or not self._reaper.is_alive():
            self._reaper = threading.Thread(target=self._reap, name="mlmm-registry-idle", daemon=True)
            self._reaper.start()
        else:
            self._cond.notify_all()

    def _reap(self) -> None:
        with self._cond:
            while self._con is not None:
                if self._depth == 0 and self._deadline is not None:
                    remaining = self._deadline - time.monotonic()
                    if remaining <= 0:
                        self._close()
                        break
                    self._cond.wait(remaining)
                else:
                    self._cond.wait()

    def _close(self) -> None:
        if self._con is not None:
            try:
                self._con.close()
            finally:
                self._con = None
                self._deadline = None
                self._cond.notify_all()

    def _open(self) -> duckdb.DuckDBPyConnection:
        deadline = time.monotonic() + self.lock_timeout
        delay = 0.005
        while True:
            try:
                read_only = read_only_reason(self.path)
            except OSError as exc:  # the folder cannot even be searched
                raise StorageError.from_os_error(exc, self.path, action="open") from None
            existed = self.path.exists()
            try:
                con = duckdb.connect(str(self.path), read_only=read_only is not None)
            except duckdb.IOException as exc:
                message = str(exc)
                # (not just "lock" in the text: the path may contain it, e.g. /srv/blocks/ws)
                if not any(text in message for text in ("Could not set lock", "Conflicting lock")):
                    mapped = self._storage_error(exc, action="open" if existed else "create")
                    if not existed:
                        self._remove_failed_creation()
                    if mapped is not None:
                        raise mapped from None
                    raise WorkspaceError(
                        f"registry={self.path}: cannot open: {one_line(message)}{self._empty_hint()}"
                    ) from exc
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    holder = None
                    match = LOCK_HOLDER_RE.search(message)
                    if match:
                        cmd = describe_pid(match.group(2))
                        holder = f"PID {match.group(2)} ({cmd or match.group(1)})"
                    raise WorkspaceLockedError(
                        f"registry={self.path}: locked by {holder or 'another process'} for more than "
                        f"{self.lock_timeout:g}s; expected it to be released (close that session or "
                        "raise lock_timeout / MLMM_LOCK_TIMEOUT)",
                        holder=holder,
                    ) from None
                time.sleep(min(delay, remaining))
                delay = min(delay * 2, 0.1)
                continue
            except duckdb.Error as exc:
                raise WorkspaceError(f"registry={self.path}: cannot open: {exc}") from exc
            self.opens += 1
            self.read_only = read_only
            try:
                # every open: the file may be new (a workspace rebuilt with --force) or migrated
                # by a newer mlmm since; when it is current this is one cheap query
                if read_only is None:
                    migrate(con, self.path)
                else:
                    check_read_only_schema(con, self.path, read_only[0])
            except duckdb.Error as exc:
                con.close()
                mapped = self._storage_error(exc)
                if mapped is None:
                    raise
                raise mapped from exc
            except BaseException:
                con.close()
                raise
            self._migrated = True
            return con

    def _after_fork(self) -> None:
        # A forked child must not touch the parent's connection (nor its lock): forget it.
        self._cond = threading.Condition(threading.RLock())
        self._con = None
        self._depth = 0
        self._reaper = None
        self._broken = False


# One in-memory DuckDB per process for queries over Parquet; a cursor per thread.
_MEMORY: dict[str, Any] = {"con": None, "pid": None}
_MEMORY_LOCK = threading.Lock()
_THREAD = threading.local()


def memory_cursor() -> duckdb.DuckDBPyConnection:
    """A cursor (per thread) on this process's in-memory DuckDB, for queries over Parquet."""
    pid = os.getpid()
    cursor = getattr(_THREAD, "cursor", None)
    if cursor is not None and getattr(_THREAD, "pid", None) == pid:
        return cursor
    with _MEMORY_LOCK:
        if _MEMORY["con"] is None or _MEMORY["pid"] != pid:
            _MEMORY["con"] = duckdb.connect(":memory:")
            _MEMORY["pid"] = pid
        cursor = _MEMORY["con"].cursor()
    _THREAD.cursor, _THREAD.pid = cursor, pid
    return cursor


class LiveSet:
    """The registry connections of this process, one per registry file (workspaces opened twice
    share it, so they also share its lock and its cached state)."""

    def __init__(self) -> None:
        self._conns: dict[Path, RegistryConnection] = {}
        self._lock = threading.Lock()

    def connection(self, path: Path, idle_seconds: float, lock_timeout: float) -> RegistryConnection:
        with self._lock:
            conn = self._conns.get(path)
            if conn is None:
                conn = self._conns[path] = RegistryConnection(path, idle_seconds, lock_timeout)
            else:
                conn.idle_seconds, conn.lock_timeout = idle_seconds, lock_timeout
            return conn

    def after_fork(self) -> None:
        self._lock = threading.Lock()
        for conn in self._conns.values():
            conn._after_fork()
        _MEMORY["con"] = None
        _MEMORY["pid"] = None

    def close_all(self) -> None:
        # Close connections before interpreter teardown (DuckDB's bindings complain otherwise).
        for conn in list(self._conns.values()):
            with contextlib.suppress(Exception):
                conn.close()
        con = _MEMORY.get("con")
        if con is not None and _MEMORY.get("pid") == os.getpid():
            with contextlib.suppress(Exception):
                con.close()
        _MEMORY["con"] = None


LIVE = LiveSet()
os.register_at_fork(after_in_child=LIVE.after_fork)
atexit.register(LIVE.close_all)
