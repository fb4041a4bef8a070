"""The exceptions mlmm raises.

Every error derives from :class:`MlmmError`, so ``except mlmm.MlmmError`` catches all of them.
Messages name the field, the bad value and what was expected.

============================  =========================================================
exception                     raised when
============================  =========================================================
``ValidationError``           an argument or input row is malformed (also a ``ValueError``)
``NotFoundError``             a model, version, revision or file does not exist (also a ``KeyError``)
``ConflictError``             the operation contradicts current state (duplicate version, ...)
``QueryError``                a SQL query (``ws.sql``, ``ws.query``) cannot run: a syntax error, an
                              unknown column or table, missing parameters, a bad conversion
``ApprovalRequiredError``     a deployment needs an approval by another person first
``WorkspaceLockedError``      another process held the registry longer than the timeout
``WorkspaceError``            the workspace directory is missing, unreadable or too new
``StorageError``              a file of the workspace cannot be read or written: no permission, a
                              read-only workspace or mount, a full disk (also an ``OSError``;
                              ``path`` and ``errno`` name the file and the OS error)
============================  =========================================================

``WorkspaceLockedError`` and ``StorageError`` are ``WorkspaceError`` subclasses.
"""

from __future__ import annotations

import errno as _errno
import os as _os

__all__ = [
    "MlmmError",
    "ValidationError",
    "NotFoundError",
    "ConflictError",
    "ApprovalRequiredError",
    "QueryError",
    "WorkspaceError",
    "WorkspaceLockedError",
    "StorageError",
]


class MlmmError(Exception):
    """Base class of every error mlmm raises on purpose."""


class ValidationError(MlmmError, ValueError):
    """An argument or an input row does not have the expected shape or range."""


class NotFoundError(MlmmError, KeyError):
    """A model, version, revision or file that was asked for does not exist."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class ConflictError(MlmmError):
    """The operation contradicts the current state (for example a duplicate version)."""


class ApprovalRequiredError(ConflictError):
    """Deploying to an environment with an approval rule needs an approval by another actor."""


class QueryError(MlmmError):
    """A SQL query cannot run (a syntax error, an unknown column or table, missing
    parameters, a value that does not convert).

    The message is one line: the query (shortened) and DuckDB's reason, without the
    engine's traceback; ``query`` is the full query text.
    """

    def __init__(self, message: str, query: str | None = None) -> None:
        super().__init__(message)
        self.query = query


class WorkspaceError(MlmmError):
    """The workspace cannot be opened or migrated."""


class WorkspaceLockedError(WorkspaceError):
    """Another process kept the registry locked for longer than the wait allowed.

    ``holder`` names the process (program and PID) when DuckDB reported it.
    """

    def __init__(self, message: str, holder: str | None = None) -> None:
        super().__init__(message)
        self.holder = holder


# what to do about an OS error, by errno (the message's "expected ..." part)
_ADVICE = {
    _errno.EACCES: "expected {access} permission for {user} (ask the owner to grant it to your group,"
                   " e.g. chmod g+{mode}, or work on a copy)",
    _errno.EPERM: "expected {access} permission for {user} (ask the owner to grant it to your group,"
                  " e.g. chmod g+{mode}, or work on a copy)",
    _errno.EROFS: "expected a writable file system (it is mounted read-only: remount it or work on a copy)",
    _errno.ENOSPC: "expected free space on its file system (free some, or move the workspace)",
    _errno.EDQUOT: "expected room in your disk quota (free some, or move the workspace)",
}


def _user() -> str:
    try:
        import getpass

        return f"user {getpass.getuser()!r}"
    except Exception:  # no passwd entry in some containers
        return f"uid {_os.getuid()}" if hasattr(_os, "getuid") else "this user"


class StorageError(WorkspaceError, OSError):
    """A file or folder of the workspace cannot be read or written.

    Raised for OS-level failures: no permission (a teammate's files), a read-only workspace or
    mount, a full disk or quota. It is also an ``OSError``, so code that handles OS errors keeps
    doing so; ``path`` is the file or folder, ``errno`` and ``strerror`` the OS error (when
    known). The message is one line: the path, the OS error and what to do.
    """

    def __init__(self, message: str, path: str | _os.PathLike[str] | None = None, errno: int | None = None,
                 strerror: str | None = None) -> None:
        super().__init__(message)
        self.path = None if path is None else str(path)
        self.filename = self.path
        self.errno = errno
        self.strerror = strerror if strerror is not None else (_os.strerror(errno) if errno else None)

    def __str__(self) -> str:  # OSError would print "[Errno ...]" instead of the message
        return str(self.args[0]) if self.args else ""

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (type(self), (str(self), self.path, self.errno, self.strerror))

    @classmethod
    def advice(cls, errno: int | None, *, access: str = "write") -> str:
        """The "expected ..." part of a message for an OS error number; ``access`` is
        ``"read"``, ``"write"`` or ``"access"`` (either)."""
        template = _ADVICE.get(errno or 0, "expected a {access}able file (check the path and its permissions)")
        mode = {"read": "r", "write": "w"}.get(access, "rw")
        return template.format(access=access, user=_user(), mode=mode)

    @classmethod
    def from_os_error(cls, exc: OSError, path: str | _os.PathLike[str] | None = None, *,
                      action: str = "write") -> StorageError:
        """``path: cannot <action>: <OS error>; expected ...`` for an ``OSError``.

        >>> import errno
        >>> err = StorageError.from_os_error(OSError(errno.ENOSPC, "No space left on device"), "/ws/mlmm.toml")
        >>> print(err)
        /ws/mlmm.toml: cannot write: No space left on device; expected free space on its file system (free some, or move the workspace)
        >>> err.errno == errno.ENOSPC, err.path, isinstance(err, OSError)
        (True, '/ws/mlmm.toml', True)
        """
        if isinstance(exc, StorageError):
            return exc
        where = path if path is not None else exc.filename
        reason = exc.strerror or str(exc)
        access = "read" if action in ("read", "open", "list") else "access" if action == "access" else "write"
        message = f"{where}: cannot {action}: {reason}; {cls.advice(exc.errno, access=access)}"
        return cls(message, where, exc.errno, exc.strerror)
