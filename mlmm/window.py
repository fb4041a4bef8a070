"""Windows of predictions: the one type and the one parser for every way of naming a window.

A window is named by keywords (``last="24h"``, ``since``/``until``, ``last_n``,
``since_deploy``: :func:`resolve_window`) or by text (``"last=24h"``, ``"24h"``,
``"2026-01-01..2026-01-08"``, ``"previous"``: :func:`parse_window`, what the CLI, reports and
scheduled jobs pass). A duration is always counted back from ``until`` (or now):
:func:`last_range` is that rule, and every module that turns a duration into a time range
calls it.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import re
from typing import TYPE_CHECKING, Any

import polars as pl

from ._util import format_duration, now, parse_duration, to_utc
from .errors import NotFoundError, ValidationError
from .version import Version

if TYPE_CHECKING:
    from .workspace import Workspace


@dataclasses.dataclass(frozen=True)
class Window:
    """Which predictions a result is about: a model (and version) and a time range."""

    model: str
    version: str | None
    since: _dt.datetime | None
    until: _dt.datetime | None
    last_n: int | None = None
    label: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model, "version": self.version, "label": self.label, "last_n": self.last_n,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
        }


def resolve_window(
    ws: Workspace,
    model: str,
    version: str | None = None,
    *,
    last: str | _dt.timedelta | None = None,
    since: Any = None,
    until: Any = None,
    last_n: int | None = None,
    since_deploy: str | bool | None = None,
    env: str = "production",
) -> Window:
    """Turn the ways of naming a window into one :class:`Window`.

    ``last="24h"`` (relative to ``until`` or now), ``since``/``until``, ``last_n`` (the newest
    N predictions), or ``since_deploy`` (a version, or ``True`` for the one serving in
    ``env`` now): from the latest time that version was deployed to ``env``. Unknown models
    raise :class:`~mlmm.errors.NotFoundError`.
    """
    meta_versions = {str(m.version) for m in ws.registry.get_all(model)}  # raises NotFoundError
    if version is not None:
        version = str(Version.parse(version))
        if version not in meta_versions:
            raise NotFoundError(f"{model} {version} is not registered (registered: {', '.join(sorted(meta_versions, key=Version.parse))})")
    u = to_utc(until, "until") if until is not None else None
    s = to_utc(since, "since") if since is not None else None
    label = ""
    if since_deploy is not None and since_deploy is not False:
        target = version if since_deploy is True else str(Version.parse(str(since_deploy)))
        if target is None:
            serving = ws.registry.serving_version(model, env)
            if serving is None:
                raise NotFoundError(f"{model} is not deployed in {env}; expected since_deploy=<version>")
            target = str(serving.version)
        events = ws.registry.history(model, target).filter(
            (pl.col("event") == "deployed") & (pl.col("environment") == env))
        if events.is_empty():
            raise NotFoundError(f"{model} {target} was never deployed to {env}")
        s = events.item(events.height - 1, "ts")
        version = version or target
        label = f"since {target} was deployed to {env} ({s:%Y-%m-%d %H:%M} UTC)"
    if last is not None:
        s, _ = last_range(last, u, field="last")
        length = parse_duration(last, "last")
        label = f"last {last.strip()}" if isinstance(last, str) else f"last {format_duration(length)}"
    if last_n is not None:
        if isinstance(last_n, bool) or not isinstance(last_n, int) or last_n < 1:
            raise ValidationError(f"last_n={last_n!r}: expected a positive integer")
        label = f"last {last_n:,} predictions" + (f", {label}" if label else "")
    if not label:
        if s is None and u is None:
            label = "all predictions"
        else:
            label = f"{s:%Y-%m-%d %H:%M} to {u:%Y-%m-%d %H:%M} UTC" if s and u else (
                f"since {s:%Y-%m-%d %H:%M} UTC" if s else f"until {u:%Y-%m-%d %H:%M} UTC")
    return Window(model, version, s, u, last_n, label)


def window_of(ws: Workspace, model: str, version: str | None, window: Window | None, kw: dict[str, Any]) -> Window:
    if window is not None:
        if kw:
            raise ValidationError(f"window=... given together with {', '.join(sorted(kw))}; expected one or the other")
        return window
    return resolve_window(ws, model, version, **kw)


def last_range(last: str | _dt.timedelta, until: Any = None, *, field: str = "last") -> tuple[_dt.datetime, _dt.datetime]:
    """``(until - last, until)``: a duration counted back from ``until`` (default now), UTC.

    >>> s, u = last_range("24h", "2026-01-02T00:00:00Z")
    >>> s.isoformat(), u.isoformat()
    ('2026-01-01T00:00:00+00:00', '2026-01-02T00:00:00+00:00')
    """
    u = to_utc(until, "until") if until is not None else now()
    return u - parse_duration(last, field), u


_RANGE = re.compile(r"^\s*(?P<a>[^.]+?)\s*\.\.\s*(?P<b>[^.]+?)\s*$")


def parse_window(text: str | None, *, before: tuple[_dt.datetime, _dt.datetime] | None = None,
                 end: _dt.datetime | None = None) -> tuple[_dt.datetime, _dt.datetime, str]:
    """A window named by text, as ``(since, until, label)``: ``last=24h`` or just ``24h``
    (ending at ``end`` or now), ``A..B`` (ISO times), or ``previous`` (the window of the same
    length just before ``before``). ``None`` means ``last=24h``.

    >>> s, u, label = parse_window("last=24h", end=_dt.datetime(2026, 1, 2, tzinfo=_dt.UTC))
    >>> s.isoformat(), label
    ('2026-01-01T00:00:00+00:00', 'last 24h')
    >>> parse_window("2026-01-01..2026-01-08")[2]
    '2026-01-01 00:00 to 2026-01-08 00:00 UTC'
    >>> parse_window("previous", before=(s, u))[2]
    'the 1d before'
    """
    value = (text or "last=24h").strip()
    if value == "previous":
        if before is None:
            raise ValidationError("window='previous': expected a current window to be before")
        length = before[1] - before[0]
        return before[0] - length, before[0], f"the {_length_text(length)} before"
    if value.startswith("last=") or re.fullmatch(r"\d+(\.\d+)?\s*[a-z]+", value):
        text = value[5:] if value.startswith("last=") else value
        s, u = last_range(text, end, field="window")
        return s, u, f"last {text}"
    m = _RANGE.match(value)
    if m:
        s, u = to_utc(m.group("a"), "window start"), to_utc(m.group("b"), "window end")
        if not s < u:
            raise ValidationError(f"window={value!r}: expected the start before the end")
        return s, u, f"{s:%Y-%m-%d %H:%M} to {u:%Y-%m-%d %H:%M} UTC"
    raise ValidationError(f"window={value!r}: expected last=<duration> (e.g. last=24h or 24h), <start>..<end> or previous")


def _length_text(length: _dt.timedelta) -> str:
    """A window's length in hours, or in days when it is whole days (``12h``, ``1d``, ``36h``)."""
    hours = length.total_seconds() / 3600
    return f"{hours / 24:g}d" if hours >= 24 and hours % 24 == 0 else f"{hours:g}h"


def time_or_ago(value: Any, field: str, *, end: _dt.datetime | None = None) -> _dt.datetime:
    """A point in time given as a time (ISO text, datetime, date) or as a duration such as
    ``"7d"`` meaning that long before ``end`` (default now).

    >>> time_or_ago("2d", "since", end=_dt.datetime(2026, 1, 3, tzinfo=_dt.UTC)).isoformat()
    '2026-01-01T00:00:00+00:00'
    >>> time_or_ago("soon", "--since")
    Traceback (most recent call last):
    ...
    mlmm.errors.ValidationError: --since='soon': expected an ISO-8601 time or a duration such as '7d' or '24h'
    """
    if isinstance(value, str) and value.strip()[:1].isdigit() and value.strip()[-1:] in "smhdw" and "-" not in value:
        return last_range(value.strip(), end, field=field)[0]
    try:
        return to_utc(value, field)
    except ValidationError:
        if not isinstance(value, str):
            raise
    try:
        return last_range(value.strip(), end, field=field)[0]
    except ValidationError:
        raise ValidationError(f"{field}={value!r}: expected an ISO-8601 time or a duration such as '7d' or '24h'") from None
