"""A model's history: every event with a readable summary, and conclusions recorded from elsewhere
(a monitoring verdict, a report's finding)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import polars as pl

from .._util import UTC, check_name, naive_utc, to_utc
from ..errors import NotFoundError, ValidationError
from ..version import Version
from .configs import diff_configs
from .store import OWN_KINDS, RegistryStore

__all__ = ["HistoryMixin"]


class HistoryMixin(RegistryStore):
    """Recording and reading a model's history (part of :class:`~mlmm.registry.Registry`)."""

    # ------------------------------------------------------------------ history
    def record(self, name: str, version: str | Version | None = None, *, kind: str, summary: str,
               details: Mapping[str, Any] | None = None, actor: str | None = None, reason: str | None = None,
               at: Any = None) -> None:
        """Append a conclusion to a model's history: a monitoring verdict, a report's finding,
        a decision taken elsewhere. ``kind`` names it (lowercase letters and ``_``, not one of
        the registry's own event kinds); ``summary`` is what ``history`` shows.

        >>> import tempfile, mlmm
        >>> ws = mlmm.open_workspace(tempfile.mkdtemp())
        >>> _ = ws.registry.register("m", "1.0.0")
        >>> ws.registry.record("m", "1.0.0", kind="monitoring_verdict", summary="ok: accuracy 0.93", actor="ana")
        >>> ws.registry.history("m").select("event", "summary").rows()[-1]
        ('monitoring_verdict', 'ok: accuracy 0.93')
        """
        if not re.fullmatch(r"[a-z][a-z_]{0,39}", str(kind)) or kind in OWN_KINDS:
            raise ValidationError(
                f"kind={kind!r}: expected lowercase letters and '_' (at most 40), not one of {', '.join(sorted(OWN_KINDS))}")
        if not str(summary).strip():
            raise ValidationError("summary='': expected a sentence saying what was concluded")
        when = to_utc(at, "at") if at is not None else None
        with self.ws.connect() as con:
            ver = None
            if version is not None:
                ver = str(self._require(con, check_name(name, "name"), version).version)
            elif not con.execute("SELECT 1 FROM versions WHERE model_name = ?", [check_name(name, "name")]).fetchone():
                raise NotFoundError(self._missing_model_message(con, name))
            self._event(con, kind, name, ver, actor=actor, reason=reason,
                        details={"summary": str(summary), **dict(details or {})}, ts=when)

    def history(self, name: str | None = None, version: str | Version | None = None, *, since: Any = None) -> pl.DataFrame:
        """Every event of a model (or all models), oldest first, with a readable summary."""
        sql = "SELECT seq, ts, model_name, version, kind, environment, actor, reason, config, metrics, description, tags, traffic, details FROM events WHERE 1=1"
        params: list[Any] = []
        if name is not None:
            sql += " AND model_name = ?"
            params.append(check_name(name, "name"))
        if version is not None:
            sql += " AND version = ?"
            params.append(str(Version.parse(version)))
        if since is not None:
            sql += " AND ts >= ?"
            params.append(naive_utc(to_utc(since, "since")))
        with self.ws.connect() as con:
            if name is not None and not con.execute("SELECT 1 FROM versions WHERE model_name = ?", [name]).fetchone():
                raise NotFoundError(self._missing_model_message(con, name))
            rows = con.execute(sql + " ORDER BY seq", params).fetchall()
        previous_config: dict[tuple[str, str], dict[str, Any]] = {}
        out = []
        for seq, ts, model, ver, kind, env, actor, reason, config, metrics, desc, tags, traffic, details in rows:
            summary = _summarise(kind, env, config, metrics, desc, tags, traffic, details, previous_config.get((model, ver)))
            if config is not None:
                previous_config[(model, ver)] = json.loads(config)
            out.append((seq, ts.replace(tzinfo=UTC), model, ver, kind, env, actor, reason, summary))
        return pl.DataFrame(
            out,
            schema={"seq": pl.Int64, "ts": pl.Datetime("us", "UTC"), "model_name": pl.String, "version": pl.String,
                    "event": pl.String, "environment": pl.String, "actor": pl.String, "reason": pl.String,
                    "summary": pl.String},
            orient="row",
        )


def _summarise(kind: str, env: str | None, config: str | None, metrics: str | None, desc: str | None,
               tags: str | None, traffic: float | None, details: str | None, previous: dict[str, Any] | None) -> str:
    extra = json.loads(details) if details else {}
    parts = []
    if kind == "registered":
        parts.append(f"registered ({extra.get('model_type', '')})")
    elif kind == "deployed":
        text = f"deployed to {env}"
        if extra.get("rollback"):
            text = f"rolled back in {env} (from {extra.get('previous')})"
        elif extra.get("previous"):
            text += f" (replacing {extra['previous']})"
        parts.append(text)
    elif kind == "undeployed":
        parts.append(f"undeployed from {env}")
    elif kind == "traffic":
        if extra.get("rollback"):
            parts.append(f"canary rolled back in {env}")
        else:
            parts.append(f"canary in {env} at {traffic:.0%}" if traffic else f"canary ended in {env}")
    elif kind == "approved":
        parts.append(f"approved for {env}")
    elif kind == "deploy_refused":
        parts.append(f"deployment to {env} refused")
    elif kind in ("deleted", "restored"):
        parts.append(kind)
    elif kind not in OWN_KINDS and "summary" in extra:
        parts.append(str(extra["summary"]))
    if config is not None and kind != "registered":
        new = json.loads(config)
        if previous is not None:
            diff = diff_configs("", "", previous, "", new)
            changes = [f"{k}: {a!r} -> {b!r}" for k, (a, b) in diff.changed.items()]
            changes += [f"+{k}={v!r}" for k, v in diff.added.items()] + [f"-{k}" for k in diff.removed]
            label = f"config rollback to r{extra['rollback_to_revision']}" if "rollback_to_revision" in extra else "config"
            parts.append(f"{label}: " + ("; ".join(changes) or "no change"))
    if metrics is not None and kind != "registered":
        parts.append("metrics: " + ", ".join(f"{k}={v:.4g}" for k, v in json.loads(metrics).items()))
    if desc is not None and kind != "registered":
        parts.append(f"description: {desc}")
    if tags is not None and kind != "registered":
        parts.append("tags: " + ", ".join(f"{k}={v}" if v else k for k, v in json.loads(tags).items()))
    return "; ".join(parts) or kind
