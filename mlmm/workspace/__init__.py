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

import duckdb  # noqa: F401  (mlmm.workspace.duckdb: the module the registry is opened with)

from ._connection import memory_cursor
from .dberrors import os_error_in, translate_error
from .opening import (
    DEFAULT_IDLE_SECONDS,
    DEFAULT_LOCK_TIMEOUT,
    DEFAULT_SETTINGS,
    Workspace,
    default_workspace_path,
    open_workspace,
)
from .schema import MIGRATIONS, SCHEMA_VERSION

__all__ = [
    "Workspace",
    "open_workspace",
    "default_workspace_path",
    "SCHEMA_VERSION",
    "MIGRATIONS",
    "DEFAULT_SETTINGS",
    "DEFAULT_IDLE_SECONDS",
    "DEFAULT_LOCK_TIMEOUT",
    "translate_error",
    "os_error_in",
    "memory_cursor",
]
