"""One window of predictions: the one type and the one parser for ``last``, ``since``/``until``, ``last_n`` and ``since_deploy``."""

from __future__ import annotations

import dataclasses
import datetime as _dt
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
            serving = ws.registry.state_as_of(None, name=model).filter(pl.col("environment") == env)
            if serving.is_empty():
                raise NotFoundError(f"{model} is not deployed in {env}; expected since_deploy=<version>")
            target = serving.item(0, "version")
        events = ws.registry.history(model, target).filter(
            (pl.col("event") == "deployed") & (pl.col("environment") == env))
        if events.is_empty():
            raise NotFoundError(f"{model} {target} was never deployed to {env}")
        s = events.item(events.height - 1, "ts")
        version = version or target
        label = f"since {target} was deployed to {env} ({s:%Y-%m-%d %H:%M} UTC)"
    if last is not None:
        length = parse_duration(last, "last")
        s = (u or now()) - length
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
