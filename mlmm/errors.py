"""The exceptions mlmm raises.

Every error derives from :class:`MlmmError`, so ``except mlmm.MlmmError`` catches all of them.
Messages name the field, the bad value and what was expected.

============================  =========================================================
exception                     raised when
============================  =========================================================
``ValidationError``           an argument or input row is malformed (also a ``ValueError``)
``NotFoundError``             a model, version, revision or file does not exist (also a ``KeyError``)
``ConflictError``             the operation contradicts current state (duplicate version, ...)
``ApprovalRequiredError``     a deployment needs an approval by another person first
``WorkspaceLockedError``      another process held the registry longer than the timeout
``WorkspaceError``            the workspace directory is missing, unreadable or too new
============================  =========================================================
"""

from __future__ import annotations

__all__ = [
    "MlmmError",
    "ValidationError",
    "NotFoundError",
    "ConflictError",
    "ApprovalRequiredError",
    "WorkspaceError",
    "WorkspaceLockedError",
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


class WorkspaceError(MlmmError):
    """The workspace cannot be opened or migrated."""


class WorkspaceLockedError(WorkspaceError):
    """Another process kept the registry locked for longer than the wait allowed.

    ``holder`` names the process (program and PID) when DuckDB reported it.
    """

    def __init__(self, message: str, holder: str | None = None) -> None:
        super().__init__(message)
        self.holder = holder
