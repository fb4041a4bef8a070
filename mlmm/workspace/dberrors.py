"""DuckDB's errors as :class:`~mlmm.errors.MlmmError`: which OS error a message reports, and the
one-line error for a failed query, a constraint violation, a lock or a failed file operation."""

from __future__ import annotations

import errno
import re

import duckdb

from ..errors import ConflictError, QueryError, StorageError, WorkspaceError, WorkspaceLockedError

__all__ = ["translate_error", "os_error_in", "one_line", "LOCK_HOLDER_RE", "LOCK_TEXTS", "OS_ERRORS",
           "READ_ONLY_MODE", "FILE_ERRORS", "FILE_IN_MESSAGE_RE"]

LOCK_HOLDER_RE = re.compile(r"Conflicting lock is held in (.+?) \(PID (\d+)\)")

# the OS errors DuckDB reports in its messages ("Could not write file ...: No space left on device")
OS_ERRORS = {
    "No space left on device": errno.ENOSPC,
    "Disk quota exceeded": errno.EDQUOT,
    "Read-only file system": errno.EROFS,
    "Permission denied": errno.EACCES,
    "Operation not permitted": errno.EPERM,
}
READ_ONLY_MODE = "attached in read-only mode"
# the DuckDB errors that report a failed file operation (a failed COMMIT is a TransactionException)
FILE_ERRORS = (duckdb.IOException, duckdb.TransactionException, duckdb.FatalException)
FILE_IN_MESSAGE_RE = re.compile(r'file "([^"]+)"')


def one_line(message: str) -> str:
    return " ".join(message.split())


LOCK_TEXTS = ("Could not set lock", "Conflicting lock")


def _reason(message: str) -> str:
    """DuckDB's message without the echo of the query (``LINE 1: ...`` and its caret), on
    one line."""
    lines = []
    for line in message.splitlines():
        if line.startswith("LINE "):
            break
        if line.strip():
            lines.append(line.strip())
    return one_line("; ".join(lines)) or one_line(message)


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
    shown = one_line(query) if query is not None else None
    if shown is not None and len(shown) > 120:
        shown = shown[:117] + "..."
    prefix = ", ".join(part for part in (where, f"sql={shown!r}" if shown is not None else None) if part)
    prefix = f"{prefix}: " if prefix else ""
    if isinstance(exc, duckdb.ConstraintException):
        return ConflictError(f"{prefix}{text}; expected a change that keeps the registry consistent (nothing was recorded)")
    if isinstance(exc, duckdb.IOException) and any(t in message for t in LOCK_TEXTS):
        return WorkspaceLockedError(f"{prefix}{text}; expected the file released by the other process")
    if isinstance(exc, FILE_ERRORS):
        number = os_error_in(message)
        if number is not None:
            match = FILE_IN_MESSAGE_RE.search(message)
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
    for text, number in OS_ERRORS.items():
        if text in message:
            return number
    return None
