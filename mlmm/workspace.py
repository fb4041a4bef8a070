"""Opening a workspace: its directories, the registry database and its migrations, connections.

A workspace is one directory::

    registry.duckdb      models, versions, events (append-only), settings
    predictions/         model_name=<m>/date=<YYYY-MM-DD>/part-<id>.parquet (immutable files)
    labels/              model_name=<m>/part-<id>.parquet (late ground truth, joined at query time)
    quarantine/          date=<YYYY-MM-DD>/part-<batch>.parquet (rejected rows, each with its rule and reason)
    imports/             one JSON record per committed bulk import (makes imports idempotent)

or, on S3-compatible object storage (``open_workspace("s3://bucket/prefix", registry=DIR)``
or ``MLMM_HOME=s3://bucket/prefix`` with ``MLMM_REGISTRY=DIR``), the log (``predictions/``,
``labels/``, ``quarantine/``, ``imports/``) under the bucket's prefix and everything else in
the local directory ``DIR``: ``registry.duckdb``, ``cache/``, ``references/``, and
``storage.json``, which names the bucket, so ``open_workspace(DIR)`` opens the same workspace
(see ``docs/object-storage.md``).

DuckDB locks the whole database file per process and opening it costs ~15 ms. The registry
connection is therefore opened on first use, kept for a burst of operations, and closed after
``idle_seconds`` without use (default 0.25 s) or at the end of ``with ws.session():``. When
another process holds the file, opening retries with backoff for up to ``lock_timeout`` seconds
and then raises :class:`~mlmm.errors.WorkspaceLockedError` naming the holder. An analyst's
notebook therefore holds the lock only while it is actually working.

A workspace that this user cannot write (a teammate's directory, a read-only mount) can still
be inspected: when the registry file, its directory or the file system is not writable, the
registry is opened read-only (and must then have the current schema: migrating needs write
access once). Changes then raise :class:`~mlmm.errors.StorageError` ("workspace ... is
read-only: ..."); so does a write that the OS refuses (a full disk, a permission), naming the
registry and the OS error. DuckDB rolls the failed transaction back: the registry is as before.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import json
import logging
import os
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from ._storage import ObjectPath, StoragePath, is_url, parse_url, url_scheme
from ._util import atomic_write_json, current_actor, naive_utc, now
from .errors import ConflictError, QueryError, StorageError, WorkspaceError, WorkspaceLockedError
from .settings import SETTINGS

if TYPE_CHECKING:
    import polars as pl

    from .registry import Registry

__all__ = ["Workspace", "open_workspace", "default_workspace_path", "SCHEMA_VERSION", "translate_error", "os_error_in"]

log = logging.getLogger("mlmm")

DEFAULT_IDLE_SECONDS = 0.25
DEFAULT_LOCK_TIMEOUT = 10.0

# Forward-only migrations: (version, description, statements). Never edit a released entry;
# append a new one. Each runs in one transaction together with its schema_version row.
MIGRATIONS: list[tuple[int, str, list[str]]] = [
    (
        1,
        "registry: versions, append-only events, settings",
        [
            "CREATE SEQUENCE IF NOT EXISTS event_seq START 1",
            """CREATE TABLE versions (
                model_name VARCHAR NOT NULL,
                version VARCHAR NOT NULL,
                major INTEGER NOT NULL, minor INTEGER NOT NULL, patch INTEGER NOT NULL,
                prerelease VARCHAR,
                model_type VARCHAR NOT NULL,
                registered_at TIMESTAMP NOT NULL,
                registered_by VARCHAR NOT NULL,
                PRIMARY KEY (model_name, version))""",
            # One row per change. A change sets one or more of the value columns; "current" is
            # the latest non-null value per column (arg_max over seq). Nothing is ever updated.
            """CREATE TABLE events (
                seq BIGINT PRIMARY KEY DEFAULT nextval('event_seq'),
                ts TIMESTAMP NOT NULL,
                model_name VARCHAR NOT NULL,
                version VARCHAR,
                environment VARCHAR,
                kind VARCHAR NOT NULL,
                actor VARCHAR NOT NULL,
                reason VARCHAR,
                config VARCHAR,
                metrics VARCHAR,
                description VARCHAR,
                tags VARCHAR,
                traffic DOUBLE,
                details VARCHAR)""",
            "CREATE INDEX events_model ON events (model_name)",
            # a random identity per registry file: a cached projection of another file (a
            # workspace rebuilt in place) is recognised and dropped
            "CREATE TABLE registry_info (registry_id VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL)",
            "INSERT INTO registry_info SELECT md5(random()::VARCHAR || now()::VARCHAR), now()::TIMESTAMP",
            """CREATE TABLE settings (
                seq BIGINT PRIMARY KEY DEFAULT nextval('event_seq'),
                ts TIMESTAMP NOT NULL,
                key VARCHAR NOT NULL,
                value VARCHAR NOT NULL,
                actor VARCHAR NOT NULL,
                reason VARCHAR)""",
        ],
    ),
    (
        2,
        "alerts: append-only alert log (raised, worsened, acknowledged, resolved, cleared, notified)",
        [
            """CREATE TABLE alerts (
                seq BIGINT PRIMARY KEY DEFAULT nextval('event_seq'),
                ts TIMESTAMP NOT NULL,
                alert_id VARCHAR NOT NULL,
                event VARCHAR NOT NULL,
                model_name VARCHAR NOT NULL,
                version VARCHAR,
                rule VARCHAR NOT NULL,
                severity VARCHAR NOT NULL,
                value DOUBLE,
                threshold DOUBLE,
                message VARCHAR,
                actor VARCHAR NOT NULL,
                reason VARCHAR,
                details VARCHAR)""",
            "CREATE INDEX alerts_id ON alerts (alert_id)",
        ],
    ),
    (
        3,
        "feature drift: stored references (sketches) and per-column check results",
        [
            """CREATE TABLE drift_references (
                seq BIGINT PRIMARY KEY DEFAULT nextval('event_seq'),
                ts TIMESTAMP NOT NULL,
                reference_id VARCHAR NOT NULL,
                model_name VARCHAR NOT NULL,
                version VARCHAR,
                source VARCHAR NOT NULL,
                n_rows BIGINT NOT NULL,
                columns VARCHAR NOT NULL,
                sketch VARCHAR NOT NULL,
                sample_path VARCHAR,
                actor VARCHAR NOT NULL,
                reason VARCHAR)""",
            """CREATE TABLE drift_results (
                seq BIGINT PRIMARY KEY DEFAULT nextval('event_seq'),
                ts TIMESTAMP NOT NULL,
                check_id VARCHAR NOT NULL,
                model_name VARCHAR NOT NULL,
                version VARCHAR,
                reference VARCHAR NOT NULL,
                window_label VARCHAR NOT NULL,
                window_since TIMESTAMP,
                window_until TIMESTAMP,
                column_name VARCHAR NOT NULL,
                test VARCHAR,
                statistic DOUBLE,
                p_value DOUBLE,
                threshold DOUBLE,
                drifted BOOLEAN,
                dataset_drift BOOLEAN NOT NULL,
                drifted_share DOUBLE,
                actor VARCHAR NOT NULL)""",
            "CREATE INDEX drift_results_model ON drift_results (model_name)",
        ],
    ),
    (
        4,
        "A/B tests: append-only lifecycle events (created, started, stopped, decided)",
        [
            """CREATE TABLE ab_tests (
                seq BIGINT PRIMARY KEY DEFAULT nextval('event_seq'),
                ts TIMESTAMP NOT NULL,
                test_id VARCHAR NOT NULL,
                event VARCHAR NOT NULL,
                model_name VARCHAR NOT NULL,
                config VARCHAR,
                status VARCHAR NOT NULL,
                decision VARCHAR,
                actor VARCHAR NOT NULL,
                reason VARCHAR,
                details VARCHAR)""",
            "CREATE INDEX ab_tests_id ON ab_tests (test_id)",
        ],
    ),
    (
        5,
        "tuning runs: threshold sweeps and grid searches with their tables and what was applied",
        [
            """CREATE TABLE tuning_runs (
                seq BIGINT PRIMARY KEY DEFAULT nextval('event_seq'),
                ts TIMESTAMP NOT NULL,
                run_id VARCHAR NOT NULL,
                model_name VARCHAR NOT NULL,
                version VARCHAR,
                kind VARCHAR NOT NULL,
                objective VARCHAR NOT NULL,
                current VARCHAR,
                best VARCHAR,
                improvement DOUBLE,
                improvement_low DOUBLE,
                improvement_high DOUBLE,
                clears_minimum BOOLEAN,
                applied BOOLEAN NOT NULL,
                summary VARCHAR NOT NULL,
                result_table VARCHAR NOT NULL,
                actor VARCHAR NOT NULL,
                reason VARCHAR)""",
        ],
    ),
    (
        6,
        "report runs: notebook, parameters, status, duration, decision, where the report is",
        [
            """CREATE TABLE report_runs (
                seq BIGINT PRIMARY KEY DEFAULT nextval('event_seq'),
                ts TIMESTAMP NOT NULL,
                run_id VARCHAR NOT NULL,
                job VARCHAR,
                notebook VARCHAR NOT NULL,
                parameters VARCHAR NOT NULL,
                status VARCHAR NOT NULL,
                seconds DOUBLE NOT NULL,
                decision VARCHAR,
                reason VARCHAR,
                path VARCHAR NOT NULL,
                actor VARCHAR NOT NULL,
                error VARCHAR)""",
        ],
    ),
    (
        7,
        "schedule runs: each scheduled job's start and finish (append-only)",
        [
            """CREATE TABLE schedule_runs (
                seq BIGINT PRIMARY KEY DEFAULT nextval('event_seq'),
                ts TIMESTAMP NOT NULL,
                run_id VARCHAR NOT NULL,
                job VARCHAR NOT NULL,
                event VARCHAR NOT NULL,
                status VARCHAR,
                seconds DOUBLE,
                detail VARCHAR,
                host VARCHAR,
                pid INTEGER)""",
        ],
    ),
]
SCHEMA_VERSION = MIGRATIONS[-1][0]

# the settings with a stored default; every setting, its type and meaning: mlmm.settings.SETTINGS
DEFAULT_SETTINGS: dict[str, Any] = {s.name: s.default for s in SETTINGS.values() if s.stored}

_STORAGE_FILE = "storage.json"  # in the registry directory of a workspace on object storage


def _stored(folder: Path) -> dict[str, str] | None:
    """What ``folder/storage.json`` records (``url`` of the bucket, ``registry`` file name),
    if the folder is the registry directory of a workspace on object storage."""
    try:
        record = json.loads((folder / _STORAGE_FILE).read_text())
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise StorageError.from_os_error(exc, folder / _STORAGE_FILE, action="read") from None
    except ValueError as exc:
        raise WorkspaceError(f"workspace={folder}: {_STORAGE_FILE} cannot be read: {exc}; expected {{\"url\": \"s3://...\"}}") from None
    url = record.get("url") if isinstance(record, dict) else None
    if not is_url(url):
        raise WorkspaceError(f"workspace={folder}: {_STORAGE_FILE} has url={url!r}; expected s3://bucket/prefix")
    return {"url": url, "registry": str(record.get("registry") or "registry.duckdb")}


def _canonical(url: str | os.PathLike[str]) -> str:
    """``s3://bucket/prefix`` without slashes at the end (also from a Path's ``s3:/bucket``)."""
    try:
        bucket, prefix = parse_url(url)
    except ValueError as exc:
        raise WorkspaceError(str(exc)) from None
    return f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}"


def _open_bucket(url: str) -> ObjectPath:
    """The log's root in its bucket; fails at open (not at the first write) when the bucket
    is missing or the endpoint or the credentials are wrong."""
    import pyarrow.fs as pafs

    try:
        root = ObjectPath.from_url(url)
        info = root.store.fs.get_file_info(root.bucket)
    except (OSError, ValueError) as exc:
        endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or "AWS S3"
        raise WorkspaceError(
            f"workspace={url}: cannot reach the bucket at {endpoint}: {' '.join(str(exc).split())[:300]};"
            " expected AWS_ENDPOINT_URL, AWS_REGION and credentials (AWS_ACCESS_KEY_ID, ...) for it"
        ) from None
    if info.type == pafs.FileType.NotFound:
        raise WorkspaceError(
            f"workspace={url}: bucket {root.bucket!r} does not exist at {root.store.describe()};"
            f" expected an existing bucket (create it first, e.g. `aws s3 mb s3://{root.bucket}`)"
        )
    return root


_LOCK_HOLDER_RE = re.compile(r"Conflicting lock is held in (.+?) \(PID (\d+)\)")

# the OS errors DuckDB reports in its messages ("Could not write file ...: No space left on device")
_OS_ERRORS = {
    "No space left on device": errno.ENOSPC,
    "Disk quota exceeded": errno.EDQUOT,
    "Read-only file system": errno.EROFS,
    "Permission denied": errno.EACCES,
    "Operation not permitted": errno.EPERM,
}
_READ_ONLY_MODE = "attached in read-only mode"
# the DuckDB errors that report a failed file operation (a failed COMMIT is a TransactionException)
_FILE_ERRORS = (duckdb.IOException, duckdb.TransactionException, duckdb.FatalException)
_FILE_IN_MESSAGE_RE = re.compile(r'file "([^"]+)"')


def _one_line(message: str) -> str:
    return " ".join(message.split())


_LOCK_TEXTS = ("Could not set lock", "Conflicting lock")


def _reason(message: str) -> str:
    """DuckDB's message without the echo of the query (``LINE 1: ...`` and its caret), on
    one line."""
    lines = []
    for line in message.splitlines():
        if line.startswith("LINE "):
            break
        if line.strip():
            lines.append(line.strip())
    return _one_line("; ".join(lines)) or _one_line(message)


def translate_error(exc: BaseException, *, query: str | None = None, where: str | None = None) -> Exception:
    """The :class:`~mlmm.errors.MlmmError` for a DuckDB error, with a one-line message.

    A constraint violation is a :class:`~mlmm.errors.ConflictError`, a lock held by another
    process a :class:`~mlmm.errors.WorkspaceLockedError`, a failed file operation a
    :class:`~mlmm.errors.StorageError` (with the OS error) or a
    :class:`~mlmm.errors.WorkspaceError`; anything else (syntax, unknown column or table,
    missing parameters, a bad conversion) is a :class:`~mlmm.errors.QueryError`. ``exc`` is
    returned unchanged when it is not a DuckDB error.

    Parameters
    ----------
    exc
        The exception DuckDB raised.
    query
        The SQL text that failed (shortened in the message).
    where
        What was queried, e.g. ``registry=/path/registry.duckdb``; prefixed to the message.

    Examples
    --------
    >>> import duckdb
    >>> try:
    ...     duckdb.connect().execute("SELECT nope FROM range(3)")
    ... except duckdb.Error as exc:
    ...     print(translate_error(exc, query="SELECT nope FROM range(3)"))
    sql='SELECT nope FROM range(3)': Binder Error: Referenced column "nope" not found in FROM clause!; Candidate bindings: "range"
    """
    if not isinstance(exc, duckdb.Error):
        return exc if isinstance(exc, Exception) else RuntimeError(str(exc))
    message = str(exc)
    text = _reason(message)
    shown = _one_line(query) if query is not None else None
    if shown is not None and len(shown) > 120:
        shown = shown[:117] + "..."
    prefix = ", ".join(part for part in (where, f"sql={shown!r}" if shown is not None else None) if part)
    prefix = f"{prefix}: " if prefix else ""
    if isinstance(exc, duckdb.ConstraintException):
        return ConflictError(f"{prefix}{text}; expected a change that keeps the registry consistent (nothing was recorded)")
    if isinstance(exc, duckdb.IOException) and any(t in message for t in _LOCK_TEXTS):
        return WorkspaceLockedError(f"{prefix}{text}; expected the file released by the other process")
    if isinstance(exc, _FILE_ERRORS):
        number = os_error_in(message)
        if number is not None:
            match = _FILE_IN_MESSAGE_RE.search(message)
            return StorageError(f"{prefix}{text}; {StorageError.advice(number, access='access')}",
                                match.group(1) if match else None, number)
        if isinstance(exc, duckdb.IOException):
            return WorkspaceError(f"{prefix}{text}")
    return QueryError(f"{prefix}{text}", query)


def os_error_in(message: str) -> int | None:
    """The OS error number that a DuckDB message reports (``... No space left on device``
    is ``errno.ENOSPC``), or None.

    >>> import errno
    >>> os_error_in('IO Error: Could not write file "/ws/registry.duckdb": No space left on device') == errno.ENOSPC
    True
    """
    for text, number in _OS_ERRORS.items():
        if text in message:
            return number
    return None


def _writable(path: Path) -> tuple[str, int] | None:
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


def _read_only_reason(path: Path) -> tuple[str, int] | None:
    """Why the registry file ``path`` must be opened read-only (``(reason, errno)``), or None.

    DuckDB writes the file and, beside it, ``<name>.wal``: both the file and its directory
    must be writable. A registry that does not exist yet is never read-only (creating it
    fails with the OS error instead).
    """
    if not path.exists():
        return None
    for target in (path, path.parent, path.with_name(path.name + ".wal")):
        if target.exists():
            why = _writable(target)
            if why is not None:
                return why
    return None


def default_workspace_path() -> Path | str:
    """``MLMM_HOME`` if set (a directory, or an ``s3://bucket/prefix`` URL returned as text);
    else the nearest ``data/workspace`` with a registry in the current directory or its
    parents (so a notebook in ``notebooks/`` finds the project's demo); else
    ``./data/workspace``."""
    env = os.environ.get("MLMM_HOME")
    if env:
        return env if is_url(env) else Path(env).expanduser()
    cwd = Path.cwd()
    for folder in (cwd, *cwd.parents):
        candidate = folder / "data" / "workspace"
        if (candidate / "registry.duckdb").exists():
            return candidate
    return cwd / "data" / "workspace"


def _describe_pid(pid: str) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    # one line: a `python -c` holder may carry a multi-line script in its arguments
    cmd = " ".join(raw.decode(errors="replace").replace("\0", " ").split())
    return cmd[:120]


class _RegistryConnection:
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
            if isinstance(seen, duckdb.Error) and _READ_ONLY_MODE in message:
                reason, number = self.read_only or (f"{self.path}: opened read-only", errno.EROFS)
                return StorageError(
                    f"workspace {self.path.parent} is read-only: {reason}; this change was not recorded"
                    f" (reading works); {StorageError.advice(number)}",
                    self.path, number,
                )
            number = os_error_in(message) if isinstance(seen, _FILE_ERRORS) else None
            if number is not None:
                match = _FILE_IN_MESSAGE_RE.search(message)
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
                read_only = _read_only_reason(self.path)
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
                        f"registry={self.path}: cannot open: {_one_line(message)}{self._empty_hint()}"
                    ) from exc
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    holder = None
                    match = _LOCK_HOLDER_RE.search(message)
                    if match:
                        cmd = _describe_pid(match.group(2))
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
                    _migrate(con, self.path)
                else:
                    _check_read_only_schema(con, self.path, read_only[0])
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


def _check_schema(con: duckdb.DuckDBPyConnection, path: Path) -> int:
    """The registry's schema version; raises when it is newer than this code knows."""
    current = con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0]
    if current > SCHEMA_VERSION:
        raise WorkspaceError(
            f"registry={path}: schema version {current} is newer than this mlmm understands "
            f"({SCHEMA_VERSION}); expected an mlmm release that knows it (upgrade mlmm)"
        )
    return current


def _check_read_only_schema(con: duckdb.DuckDBPyConnection, path: Path, reason: str) -> None:
    """A registry opened read-only cannot be migrated: it must already be current."""
    try:
        current = _check_schema(con, path)
    except duckdb.CatalogException:  # an empty file: no schema_version table
        current = 0
    if current < SCHEMA_VERSION:
        raise WorkspaceError(
            f"workspace {path.parent} is read-only ({reason}) and its registry has schema version {current},"
            f" older than this mlmm's {SCHEMA_VERSION}; expected it migrated once by someone who may write it"
            " (they open it with this mlmm), or the mlmm release that wrote it"
        )


def _migrate(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    con.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at TIMESTAMP, description VARCHAR)")
    current = _check_schema(con, path)
    for version, description, statements in MIGRATIONS:
        if version <= current:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            for statement in statements:
                con.execute(statement)
            con.execute(
                "INSERT INTO schema_version VALUES (?, ?, ?)", [version, naive_utc(now()), description]
            )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        log.info("migrated %s to schema version %d (%s)", path, version, description)


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


class Workspace:
    """A workspace: the registry, the prediction log and the quarantine.

    Use :func:`open_workspace` to get one. ``ws.registry`` is the model registry;
    ``ws.predictions(...)`` reads the prediction log as a polars LazyFrame. ``ws.path`` is
    the local directory (registry, caches); ``ws.url`` is where the log lives (the same
    directory, or ``s3://bucket/prefix``).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        registry: str | os.PathLike[str] | None = None,
        idle_seconds: float = DEFAULT_IDLE_SECONDS,
        lock_timeout: float | None = None,
    ) -> None:
        self._registry_name = "registry.duckdb"
        scheme = url_scheme(path)
        if scheme is not None and scheme != "s3":
            raise WorkspaceError(
                f"workspace={str(path)!r}: {scheme}:// is not supported; expected a directory or s3://bucket/prefix"
                " (any S3-compatible server: AWS, MinIO, Ceph, R2, GCS through its S3 interface)"
            )
        if is_url(path):
            self.path = self._registry_dir(path, registry)
            url = self._attach(path)
        else:
            if registry is not None:
                raise WorkspaceError(
                    f"registry={str(registry)!r}: only a workspace on object storage (s3://...) keeps its registry"
                    f" apart; expected no registry for workspace={str(path)!r}"
                )
            self.path = Path(path).expanduser().resolve()
            try:
                is_file = self.path.exists() and not self.path.is_dir()
            except OSError as exc:  # a parent that this user cannot search
                raise StorageError.from_os_error(exc, self.path, action="open") from None
            if is_file:
                raise WorkspaceError(f"workspace={self.path}: is a file; expected a directory")
            stored = _stored(self.path)
            url = stored["url"] if stored else None
            if stored:
                self._registry_name = stored["registry"]
        # where the log lives: this directory, or the bucket named in storage.json
        self.log_root: StoragePath = self.path if url is None else _open_bucket(url)
        if lock_timeout is None:
            lock_timeout = float(os.environ.get("MLMM_LOCK_TIMEOUT", DEFAULT_LOCK_TIMEOUT))
        folders = [self.path]
        if url is None:
            folders += [self.predictions_dir, self.labels_dir, self.quarantine_dir, self.imports_dir]
        self._make_folders(folders)
        if url is not None and _stored(self.path) is None:
            atomic_write_json(self.path / _STORAGE_FILE,
                              {"url": url, "registry": self._registry_name, "created_at": now().isoformat()})
        self._conn = _LIVE.connection(self.registry_path, idle_seconds, lock_timeout)
        self._registry: Registry | None = None
        self._settings_cache: tuple[float, dict[str, Any]] | None = None

    def _make_folders(self, folders: list[Any]) -> None:
        """Create the workspace's folders. In a workspace this user may not write (a
        teammate's, a read-only mount) a missing folder is left missing: it reads as empty."""
        for folder in folders:
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                existing = folder is not self.path and self.registry_path.exists()
                if existing and exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
                    log.debug("workspace %s: %s not created (%s); reading only", self.path, folder, exc.strerror)
                    continue
                raise StorageError.from_os_error(exc, folder, action="create") from exc

    def _registry_dir(self, url: str | os.PathLike[str], registry: str | os.PathLike[str] | None) -> Path:
        """The local directory of a workspace on object storage: ``registry`` or
        ``MLMM_REGISTRY`` (a directory, or a ``.duckdb`` file in it); no silent default, since
        a registry made up per host would split the team's history and quarantine every import
        as an unregistered version."""
        chosen = registry if registry is not None else os.environ.get("MLMM_REGISTRY") or None
        if chosen is None:
            raise WorkspaceError(
                f"workspace={_canonical(url)}: the registry cannot live in a bucket (DuckDB needs a local file);"
                " expected registry=DIR or MLMM_REGISTRY=DIR (a local or shared directory for registry.duckdb and caches)"
            )
        target = Path(chosen).expanduser()
        if target.suffix == ".duckdb":
            self._registry_name = target.name
            target = target.parent
        target = target.resolve()
        if target.exists() and not target.is_dir():
            raise WorkspaceError(f"registry={target}: is a file; expected a directory (or a path ending in .duckdb)")
        return target

    def _attach(self, path: str | os.PathLike[str]) -> str:
        """Check that the registry directory may serve ``path``; returns the canonical URL."""
        url = _canonical(path)
        record = _stored(self.path)
        stored = record["url"] if record else None
        if stored is not None and stored != url:
            raise WorkspaceError(
                f"registry={self.path}: belongs to the log at {stored}; expected {url}"
                f" (use another registry directory for another log, or edit {_STORAGE_FILE} if the log moved)"
            )
        local_log = self.path / "predictions"
        if stored is None and local_log.is_dir() and any(local_log.iterdir()):
            raise WorkspaceError(
                f"registry={self.path}: holds a local prediction log (predictions/); expected a directory for the"
                f" registry of {url} alone (choose an empty one)"
            )
        return url

    # -- paths ------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """Where the prediction log lives: ``s3://bucket/prefix`` or the workspace directory."""
        return str(self.log_root)

    @property
    def remote(self) -> bool:
        """True when the log is on object storage."""
        return isinstance(self.log_root, ObjectPath)

    @property
    def registry_path(self) -> Path:
        return self.path / self._registry_name

    @property
    def predictions_dir(self) -> StoragePath:
        return self.log_root / "predictions"

    @property
    def labels_dir(self) -> StoragePath:
        return self.log_root / "labels"

    @property
    def quarantine_dir(self) -> StoragePath:
        return self.log_root / "quarantine"

    @property
    def imports_dir(self) -> StoragePath:
        return self.log_root / "imports"

    # -- connections ------------------------------------------------------------------------
    @contextlib.contextmanager
    def session(self) -> Iterator[Workspace]:
        """Keep the registry open for a burst of operations; released at the end of the block.

        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     ws = open_workspace(tmp)
        ...     with ws.session():
        ...         _ = ws.registry.register("demo-model", "1.0.0")
        ...         print(ws.registry.get_latest("demo-model").version)
        ...     ws.close()
        1.0.0
        """
        with self._conn.hold():
            yield self

    def connect(self) -> contextlib.AbstractContextManager[duckdb.DuckDBPyConnection]:
        """The registry's DuckDB connection for one operation (a context manager).

        Opens the registry file if it is closed (waiting up to ``lock_timeout`` for another
        process to release it, then raising :class:`~mlmm.errors.WorkspaceLockedError`) and
        holds it until the block ends; the file is then released after ``idle_seconds``
        without use, or at the end of an enclosing :meth:`session`. Thread-safe; blocks nest.
        A DuckDB error in the block is raised as an :class:`~mlmm.errors.MlmmError`
        (:func:`translate_error`): :class:`~mlmm.errors.StorageError` for a failed write,
        :class:`~mlmm.errors.ConflictError` for a constraint violation,
        :class:`~mlmm.errors.QueryError` for a query that cannot run.

        >>> import tempfile
        >>> ws = open_workspace(tempfile.mkdtemp())
        >>> with ws.connect() as con:
        ...     print(con.execute("SELECT count(*) FROM versions").fetchone()[0])
        0
        >>> ws.close()
        """
        return self._conn.use()

    def query(self, sql: str, params: list[Any] | None = None) -> pl.DataFrame:
        """Run a read query on the registry (tables ``versions``, ``events``, ``settings``,
        ``alerts``, ...) and return the result as a polars DataFrame.

        For the prediction log, use :meth:`sql`. A query that cannot run raises
        :class:`~mlmm.errors.QueryError` with DuckDB's reason in one line.

        >>> import tempfile
        >>> ws = open_workspace(tempfile.mkdtemp())
        >>> _ = ws.registry.register("m", "1.0.0", actor="ana")
        >>> ws.query("SELECT model_name, version, registered_by FROM versions WHERE model_name = ?", ["m"]).rows()
        [('m', '1.0.0', 'ana')]
        >>> ws.close()
        """
        import polars as pl

        with self.connect() as con, con.cursor() as cur:  # a cursor: no unfinished result of `con` in the way
            try:
                relation = cur.sql(sql, params=params or None)
                return pl.DataFrame() if relation is None else relation.pl()
            except duckdb.Error as exc:
                raise translate_error(exc, query=sql, where=f"registry={self.registry_path}") from None

    @property
    def opens(self) -> int:
        """How many times this process has opened the registry file (each open may see what
        other processes wrote meanwhile)."""
        return self._conn.opens

    @property
    def lock_timeout(self) -> float:
        """Seconds to wait for another process to release the registry before raising
        :class:`~mlmm.errors.WorkspaceLockedError`."""
        return self._conn.lock_timeout

    @property
    def cache(self) -> dict[str, Any]:
        """A dict kept with this process's connection to the registry file (shared by every
        :class:`Workspace` on the same file) for state derived from the registry, such as the
        registry's in-memory projection. Compare :attr:`opens` to know when it may be stale."""
        return self._conn.cache

    def close(self) -> None:
        """Release the registry file now (it is also released after a short idle time)."""
        self._conn.close()

    @property
    def read_only(self) -> bool:
        """True when this user cannot change the registry (the file, its directory or the file
        system is not writable): reading works, changes raise :class:`~mlmm.errors.StorageError`."""
        if self._conn.is_open:
            return self._conn.read_only is not None
        return _read_only_reason(self.registry_path) is not None

    @property
    def lock_held(self) -> bool:
        """True while this process has the registry file open."""
        return self._conn.is_open

    # -- settings (append-only; the latest value of a key wins) -----------------------------
    def stored_settings(self) -> dict[str, Any]:
        """The settings set in this workspace (the latest value of each; an unset one is absent)."""
        with self.connect() as con:
            rows = con.execute(
                "SELECT key, arg_max(value, seq) FROM settings GROUP BY key"
            ).fetchall()
        return {key: value for key, raw in rows if (value := json.loads(raw)) is not None}

    def settings(self) -> dict[str, Any]:
        """Current workspace settings: defaults overlaid with what was set."""
        return {**DEFAULT_SETTINGS, **self.stored_settings()}

    def settings_table(self) -> Any:
        """Every setting with its value, default, source and meaning (:mod:`mlmm.settings`)."""
        from .settings import settings_table

        return settings_table(self)

    def unset_setting(self, key: str, *, actor: str | None = None, reason: str | None = None) -> None:
        """Return a setting to its default (recorded like a change: history keeps the old value)."""
        self.set_setting(key, None, actor=actor, reason=reason)

    def setting(self, key: str, default: Any = None) -> Any:
        return self.settings().get(key, default)

    def set_setting(self, key: str, value: Any, *, actor: str | None = None, reason: str | None = None) -> None:
        """Record a new value for a workspace setting (the old value stays in history)."""
        with self.connect() as con:
            con.execute(
                "INSERT INTO settings (ts, key, value, actor, reason) VALUES (?, ?, ?, ?, ?)",
                [naive_utc(now()), key, json.dumps(value), current_actor(actor), reason],
            )

    # -- services ---------------------------------------------------------------------------
    @property
    def registry(self) -> Registry:
        if self._registry is None:
            from .registry import Registry

            self._registry = Registry(self)
        return self._registry

    def predictions(
        self,
        model: str | None = None,
        version: str | None = None,
        since: Any = None,
        until: Any = None,
        last_n: int | None = None,
        *,
        with_labels: bool = True,
    ) -> pl.LazyFrame:
        """The prediction log as a polars LazyFrame (labels joined; latest label wins).

        See :func:`mlmm.predictions.read_predictions`.
        """
        from .predictions import read_predictions

        return read_predictions(
            self, model=model, version=version, since=since, until=until, last_n=last_n, with_labels=with_labels
        )

    def sql(self, query: str, params: list[Any] | None = None) -> pl.DataFrame:
        """Run SQL over this workspace's log with DuckDB; views ``predictions``, ``labels`` and
        ``quarantine`` are defined (``predictions`` already has the latest labels joined).
        A query that cannot run raises :class:`~mlmm.errors.QueryError` (one line: the query
        and DuckDB's reason).

        See :func:`mlmm.predictions.sql`.
        """
        from .predictions import sql

        try:
            return sql(self, query, params)
        except duckdb.Error as exc:
            raise translate_error(exc, query=query) from None

    def info(self) -> dict[str, Any]:
        """What the workspace holds: paths, schema version, counts, sizes; ``read_only`` is
        False, or why this user cannot change the registry."""
        with self.connect() as con:
            schema = con.execute("SELECT max(version) FROM schema_version").fetchone()[0]
            models, versions = con.execute(
                "SELECT count(DISTINCT model_name), count(*) FROM versions"
            ).fetchone()
            events = con.execute("SELECT count(*) FROM events").fetchone()[0]
            read_only = self._conn.read_only

        def _size(folder: StoragePath) -> tuple[int, int]:
            files = [p for p in folder.rglob("*.parquet") if not p.name.startswith(".")]
            return len(files), sum(p.stat().st_size for p in files)

        pred_files, pred_bytes = _size(self.predictions_dir)
        q_files, q_bytes = _size(self.quarantine_dir)
        label_files, label_bytes = _size(self.labels_dir)
        return {
            "path": str(self.path),
            "log": self.url,
            "registry": str(self.registry_path),
            "schema_version": schema,
            "read_only": read_only[0] if read_only else False,
            "models": models,
            "versions": versions,
            "events": events,
            "prediction_files": pred_files,
            "prediction_bytes": pred_bytes,
            "label_files": label_files,
            "label_bytes": label_bytes,
            "quarantine_files": q_files,
            "quarantine_bytes": q_bytes,
            "settings": self.settings(),
        }

    def __repr__(self) -> str:
        if self.remote:
            return f"Workspace({self.url!r}, registry={str(self.path)!r})"
        return f"Workspace({str(self.path)!r})"

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _LiveSet:
    """The registry connections of this process, one per registry file (workspaces opened twice
    share it, so they also share its lock and its cached state)."""

    def __init__(self) -> None:
        self._conns: dict[Path, _RegistryConnection] = {}
        self._lock = threading.Lock()

    def connection(self, path: Path, idle_seconds: float, lock_timeout: float) -> _RegistryConnection:
        with self._lock:
            conn = self._conns.get(path)
            if conn is None:
                conn = self._conns[path] = _RegistryConnection(path, idle_seconds, lock_timeout)
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


_LIVE = _LiveSet()
os.register_at_fork(after_in_child=_LIVE.after_fork)
atexit.register(_LIVE.close_all)


def open_workspace(
    path: str | os.PathLike[str] | None = None,
    *,
    registry: str | os.PathLike[str] | None = None,
    idle_seconds: float = DEFAULT_IDLE_SECONDS,
    lock_timeout: float | None = None,
) -> Workspace:
    """Open (and on first use create) a workspace.

    Parameters
    ----------
    path
        The workspace directory, or ``s3://bucket/prefix`` for a prediction log on
        S3-compatible object storage (endpoint, region and credentials from the standard AWS
        variables). Default: ``MLMM_HOME``, else the nearest ``data/workspace`` with a
        registry in the current directory or its parents, else ``./data/workspace``.
    registry
        Only with an ``s3://`` path: the local (or shared) directory for ``registry.duckdb``,
        caches and drift reference samples, or a ``.duckdb`` file in it. Default
        ``MLMM_REGISTRY``; there is no silent default. The directory remembers the bucket
        (``storage.json``), so ``open_workspace(that_directory)`` opens the same workspace.
    idle_seconds
        Close the registry file after this long without use (default 0.25 s), so other
        processes can use it.
    lock_timeout
        How long to wait for another process to release the registry before raising
        :class:`~mlmm.errors.WorkspaceLockedError` (default 10 s, or ``MLMM_LOCK_TIMEOUT``).

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     ws = open_workspace(tmp)
    ...     print(sorted(p.name for p in ws.path.iterdir() if p.is_dir()))
    ...     print(ws.info()["schema_version"])
    ...     ws.close()
    ['imports', 'labels', 'predictions', 'quarantine']
    7
    """
    ws = Workspace(path if path is not None else default_workspace_path(), registry=registry,
                   idle_seconds=idle_seconds, lock_timeout=lock_timeout)
    with ws.connect():
        pass  # create the registry and run migrations now, so errors surface at open
    return ws


