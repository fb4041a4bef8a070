"""The prediction log's clock: ingest times, quarantine dates, default label times, windows.

Read through this module (``clock.now()``) so that one patch freezes the log's time in tests.
"""

from __future__ import annotations

import datetime as _dt

from .. import _util

__all__ = ["now"]


def now() -> _dt.datetime:
    """The current time, UTC-aware (see :func:`mlmm._util.now`)."""
    return _util.now()
