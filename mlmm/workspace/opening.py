"""The :class:`Workspace` object and :func:`open_workspace`: the workspace's directories (local or
with the log on object storage), its registry connection, settings and services."""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from .._storage import ObjectPath, StoragePath, is_url, parse_url, url_scheme
from .._util import atomic_write_json, current_actor, naive_utc, now
from ..errors import StorageError, WorkspaceError
from ..settings import SETTINGS
from ._connection import LIVE, read_only_reason
from .dberrors import translate_error

if TYPE_CHECKING:
    import polars as pl

    from ..registry import Registry

__all__ = ["Workspace", "open_workspace", "default_workspace_path", "DEFAULT_SETTINGS",
           "DEFAULT_IDLE_SECONDS", "DEFAULT_LOCK_TIMEOUT"]

log = logging.getLogger("mlmm")

DEFAULT_IDLE_SECONDS = 0.25
DEFAULT_LOCK_TIMEOUT = 10.0

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
        self._conn = LIVE.connection(self.registry_path, idle_seconds, lock_timeout)
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
        return read_only_reason(self.registry_path) is not None

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
        from ..settings import settings_table

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
            from ..registry import Registry

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
        from ..predictions import read_predictions

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
        from ..predictions import sql

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
