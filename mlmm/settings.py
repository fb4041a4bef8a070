"""Workspace settings: the one table of every setting mlmm reads, its type, default and meaning.

Settings live in the registry (``Workspace.set_setting``, append-only and audited; the latest
value of a key wins). Only the first three have a stored default (``Workspace.settings()``
returns them when nothing was set); the others default in the code that reads them, and the
table lists those defaults too. ``mlmm.toml`` and environment variables (:mod:`mlmm.config`)
configure the scheduler and the retraining triggers, not these settings: a setting's value
comes from its ``default`` or from the ``workspace``.

>>> parse_setting("alert_silence", "90m")
'90m'
>>> parse_setting("alert_silence", "soon")
Traceback (most recent call last):
...
mlmm.errors.ValidationError: alert_silence='soon': expected a number with a unit s, m, h, d or w (e.g. '24h', '30d')
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ._util import parse_duration, parse_scalar, to_utc
from .errors import ValidationError

if TYPE_CHECKING:
    import polars as pl

    from .workspace import Workspace

__all__ = ["SETTINGS", "TYPES", "Setting", "describe_settings", "parse_setting", "settable", "settings_table", "show_value"]

TYPES = ("int", "float", "duration", "time", "text", "url", "bool", "mapping")


@dataclasses.dataclass(frozen=True)
class Setting:
    """One workspace setting.

    ``stored``: the default is in ``Workspace.settings()`` (``DEFAULT_SETTINGS``); otherwise the
    reading code applies it. ``bounds``: for numbers, the inclusive range; None means > 0.
    ``set_with``: the command that changes it instead of ``mlmm workspace set`` (None: that one).
    """

    name: str
    type: str
    default: Any
    meaning: str
    stored: bool = False
    bounds: tuple[float, float] | None = None
    set_with: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


_ALL: tuple[Setting, ...] = (
    # seed 000 "Retention: Performance-Daten 30 Tage aufbewahren"
    Setting("retention_days", "int", 30, "days of predictions `mlmm predictions cleanup` keeps", stored=True),
    Setting("max_future_seconds", "float", 86400,
            "a prediction more than this many seconds in the future is rejected", stored=True),
    # an older timestamp is a bug (epoch 0, ms read as s)
    Setting("min_timestamp", "time", "2000-01-01T00:00:00Z", "an older prediction timestamp is quarantined",
            stored=True),
    Setting("monitor_window", "duration", "24h", "the period the alert rules look at"),
    Setting("alert_silence", "duration", "6h", "alert when a production model logs no predictions this long"),
    Setting("alert_min_label_coverage", "float", 0.1, "alert when a smaller share of predictions is labelled",
            bounds=(0.0, 1.0)),
    Setting("alert_max_error_rate", "float", 0.01, "alert when a larger share of rows is quarantined at ingest",
            bounds=(0.0, 1.0)),
    Setting("alert_drift", "bool", True, "alert on concept drift confirmed against the baseline"),
    Setting("alert_feature_drift", "bool", True, "alert on feature drift against the stored reference"),
    Setting("alert_webhook", "url", None, "POST each alert's JSON to this URL (empty: off)"),
    Setting("alert_command", "text", None, "run this command with each alert's JSON on stdin (empty: off)"),
    *(Setting(f"approval.{env}", "bool", False, f"deploying to {env} needs an approval by another person")
      for env in ("development", "staging", "production")),
    Setting("anonymize", "mapping", {}, "feature columns hashed at ingest, per model ('*': all)",
            set_with="mlmm predictions anonymize MODEL FIELD..."),
    Setting("anonymize_salt", "text", None, "salt of those hashes, made once (a new one breaks equality)",
            set_with="mlmm predictions anonymize MODEL FIELD..."),
)
SETTINGS: dict[str, Setting] = {s.name: s for s in _ALL}


def _number(setting: Setting, text: str, whole: bool) -> int | float:
    value = parse_scalar(text)
    kind = "whole number" if whole else "number"
    ok = isinstance(value, int) if whole else isinstance(value, (int, float)) and math.isfinite(value)
    if setting.bounds is None:
        expected = f"a positive {kind}"
        ok = ok and not isinstance(value, bool) and value > 0
    else:
        low, high = setting.bounds
        expected = f"a {kind} in [{low:g}, {high:g}]"
        ok = ok and not isinstance(value, bool) and low <= value <= high
    if not ok:
        raise ValidationError(f"{setting.name}={text!r}: expected {expected}")
    return value


def settable(name: str) -> Setting:
    """The setting ``name`` when ``mlmm workspace set`` / ``unset`` may change it; else a
    :class:`ValidationError` naming the known settings or the command that changes it."""
    setting = SETTINGS.get(name)
    if setting is None:
        raise ValidationError(f"key={name!r}: expected one of {', '.join(SETTINGS)}")
    if setting.set_with is not None:
        raise ValidationError(f"{name} is changed with `{setting.set_with}`, not `mlmm workspace set`")
    return setting


def parse_setting(name: str, text: str) -> Any:
    """The value to store for setting ``name`` given as command-line text, checked by its type.

    int and float: a number (JSON), > 0 or within the setting's bounds; duration: ``90s``,
    ``15m``, ``24h``, ``7d``, ``2w``; time: ISO-8601 (stored as
    UTC); text: as given; url: ``http(s)://host/...``; bool: ``true`` or ``false``; mapping: a
    JSON object. An empty text turns off a setting whose default is none (the alert hooks).

    Raises
    ------
    ValidationError
        An unknown name (naming the known ones), a value of the wrong form, or a setting that
        another command changes.
    """
    setting = settable(name)
    if text == "" and setting.default is None:
        return ""
    kind = setting.type
    if kind in ("int", "float"):
        return _number(setting, text, kind == "int")
    if kind == "duration":
        value = parse_duration(text, name)
        if value.total_seconds() <= 0:
            raise ValidationError(f"{name}={text!r}: expected a positive duration (e.g. '24h', '30d')")
        return text.strip()  # as given: "24h" stays "24h" (alert messages quote it)
    if kind == "time":
        return to_utc(text, name).isoformat()
    if kind == "text":
        if not text.strip():
            raise ValidationError(f"{name}={text!r}: expected some text")
        return text
    if kind == "url":
        parts = urlsplit(text)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValidationError(f"{name}={text!r}: expected an http:// or https:// URL")
        return text
    if kind == "bool":
        value = parse_scalar(text)
        if not isinstance(value, bool):
            raise ValidationError(f"{name}={text!r}: expected true or false")
        return value
    value = parse_scalar(text)  # mapping
    if not isinstance(value, dict):
        raise ValidationError(f"{name}={text!r}: expected a JSON object, e.g. '{{\"key\": \"value\"}}'")
    return value


def show_value(value: Any) -> str | None:
    """A setting's value as a person reads it: text as is, the rest as JSON (None stays None)."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value)


def describe_settings(ws: Workspace) -> list[dict[str, Any]]:
    """One record per setting: name, type, value, default, source (``default`` or
    ``workspace``) and meaning, in the table's order; keys set in the registry that mlmm does
    not read follow (type None, so a typo shows)."""
    current = ws.settings()
    set_keys = set(ws.stored_settings())
    rows = [
        {"name": s.name, "type": s.type, "value": current.get(s.name, s.default), "default": s.default,
         "source": "workspace" if s.name in set_keys else "default", "meaning": s.meaning}
        for s in _ALL
    ]
    rows += [{"name": key, "type": None, "value": current[key], "default": None, "source": "workspace",
              "meaning": "not a setting mlmm reads"} for key in sorted(set_keys - SETTINGS.keys())]
    return rows


def settings_table(ws: Workspace) -> pl.DataFrame:
    """:func:`describe_settings` as a polars DataFrame; value and default as text
    (:func:`show_value`), so one column holds numbers, durations and URLs."""
    import polars as pl

    rows = [{**r, "value": show_value(r["value"]), "default": show_value(r["default"])} for r in describe_settings(ws)]
    return pl.DataFrame(rows, schema={k: pl.String for k in ("name", "type", "value", "default", "source", "meaning")})
