"""The registry's storage: the append-only ``events`` (and ``versions``) tables, writing an event,
and the in-memory projection that folds the events into the current state (or the state at a
time). Every other registry module reads and writes through :class:`RegistryStore`.

The tables (``versions``, ``events``, ``registry_info``) are declared here, in
:data:`REGISTRY_TABLES`; :mod:`mlmm.workspace.schema` creates them in migration 1 (the migrations
of every feature form one ordered, append-only list, run when the workspace opens the file)."""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .._util import UTC, check_name, current_actor, naive_utc, now
from ..errors import NotFoundError
from ..version import Version
from ._common import ENV_RANK, latest_metadata, thaw
from .metadata import ModelMetadata, ModelType

if TYPE_CHECKING:
    import duckdb

    from ..workspace import Workspace

__all__ = ["REGISTRY_TABLES", "EVENT_COLUMNS", "DEPLOY_KINDS", "OWN_KINDS", "Projection", "RegistryStore"]

# The registry's tables, as created by migration 1. Released: never edit these statements; a
# change is a new migration in mlmm.workspace.schema. ``event_seq`` numbers the rows of every
# append-only table of the workspace (events, settings, alerts, ...).
REGISTRY_TABLES: list[str] = [
    "CREATE SEQUENCE IF NOT EXISTS event_seq START 1",
    """CREATE TABLE versions (
        model_name VARCHAR NOT NULL,
        version VARCHAR NOT NULL,
        major INTEGER NOT NULL, minor INTEGER NOT NULL, patch INTEGER NOT NULL,
        prerelease VARCHAR,
        model_type VARCHAR NOT NULL,
        registered_at TIMESTAMP NOT NULL,
        registered_by VARCHAR NOT NULL,
        PRIMARY KEY (model_name, version))""",
    # One row per change. A change sets one or more of the value columns; "current" is
    # the latest non-null value per column (arg_max over seq). Nothing is ever updated.
    """CREATE TABLE events (
        seq BIGINT PRIMARY KEY DEFAULT nextval('event_seq'),
        ts TIMESTAMP NOT NULL,
        model_name VARCHAR NOT NULL,
        version VARCHAR,
        environment VARCHAR,
        kind VARCHAR NOT NULL,
        actor VARCHAR NOT NULL,
        reason VARCHAR,
        config VARCHAR,
        metrics VARCHAR,
        description VARCHAR,
        tags VARCHAR,
        traffic DOUBLE,
        details VARCHAR)""",
    "CREATE INDEX events_model ON events (model_name)",
    # a random identity per registry file: a cached projection of another file (a
    # workspace rebuilt in place) is recognised and dropped
    "CREATE TABLE registry_info (registry_id VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL)",
    "INSERT INTO registry_info SELECT md5(random()::VARCHAR || now()::VARCHAR), now()::TIMESTAMP",
]

EVENT_COLUMNS = "seq, ts, model_name, version, environment, kind, actor, config, metrics, description, tags, traffic, details"


class Projection:
    """The current state, folded from the append-only events in ``seq`` order.

    Kept in memory per process and advanced incrementally: while this process holds the
    registry file no other process can write to it, so the projection only needs the events
    after its last ``seq`` when the file was reopened or after our own writes.
    """

    def __init__(self) -> None:
        self.seq = 0
        self.synced_open = -1
        self.registry_id: str | None = None
        self.versions: dict[tuple[str, str], dict[str, Any]] = {}
        self.deploy: dict[tuple[str, str], dict[str, Any]] = {}
        self._meta: dict[tuple[str, str], ModelMetadata] = {}

    def catch_up(self, con: duckdb.DuckDBPyConnection, as_of: _dt.datetime | None = None) -> Projection:
        sql = f"SELECT {EVENT_COLUMNS} FROM events WHERE seq > ?"
        params: list[Any] = [self.seq]
        if as_of is not None:
            sql += " AND ts <= ?"
            params.append(naive_utc(as_of))
        self.apply(con.execute(sql + " ORDER BY seq", params).fetchall())
        return self

    def apply(self, rows: list[tuple[Any, ...]]) -> None:
        for seq, ts, model, ver, env, kind, actor, config, metrics, desc, tags, traffic, details in rows:
            self.seq = max(self.seq, seq)
            ts = ts.replace(tzinfo=UTC)
            if kind == "registered":
                extra = json.loads(details) if details else {}
                self.versions[(model, ver)] = {
                    "model_type": extra.get("model_type", "supervised"), "created_at": ts, "created_by": actor,
                    "config": "{}", "revision": 0, "metrics": "{}", "description": "", "tags": "{}", "deleted": False,
                }
            state = self.versions.get((model, ver)) if ver is not None else None
            if state is not None:
                self._meta.pop((model, ver), None)
                if config is not None:
                    state["config"] = config
                    state["revision"] += 1
                if metrics is not None:
                    state["metrics"] = metrics
                if desc is not None:
                    state["description"] = desc
                if tags is not None:
                    state["tags"] = tags
                if kind in ("deleted", "restored"):
                    state["deleted"] = kind == "deleted"
            if kind in DEPLOY_KINDS:
                self._apply_deploy(model, env, kind, ver, ts, traffic)

    def _apply_deploy(self, model: str, env: str, kind: str, ver: str | None, ts: _dt.datetime, traffic: float | None) -> None:
        entry = self.deploy.setdefault((model, env), {"version": None, "since": None, "canary": None, "share": None})
        touched = {entry["version"], entry["canary"], ver}
        if kind == "deployed":
            entry.update(version=ver, since=ts, canary=None, share=None)
        elif kind == "undeployed":
            if ver is None or ver == entry["version"]:
                entry.update(version=None, since=None)
            if ver is None or ver == entry["canary"]:
                entry.update(canary=None, share=None)
        elif traffic and traffic > 0:
            entry.update(canary=ver, share=traffic)
        else:
            entry.update(canary=None, share=None)
        for other in touched:
            self._meta.pop((model, other), None)

    def deployments_of(self, model: str, ver: str) -> dict[str, _dt.datetime]:
        return {env: s["since"] for (m, env), s in self.deploy.items() if m == model and s["version"] == ver}

    def metadata(self, model: str, ver: str) -> ModelMetadata:
        meta = self._meta.get((model, ver))
        if meta is None:
            s = self.versions[(model, ver)]
            deps = self.deployments_of(model, ver)
            env = max(deps, key=ENV_RANK.__getitem__) if deps else None
            meta = ModelMetadata(
                name=model, version=Version.parse(ver), model_type=ModelType(s["model_type"]),
                configuration=json.loads(s["config"]), performance_metrics=json.loads(s["metrics"]),
                created_at=s["created_at"], created_by=s["created_by"],
                deployed_at=deps[env] if env else None, environment=env,
                description=s["description"], tags=json.loads(s["tags"]),
                config_revision=s["revision"], deployments=deps, deleted=s["deleted"],
            )
            self._meta[(model, ver)] = meta
        return meta

    def live_deployments(self, name: str | None = None) -> dict[tuple[str, str], dict[str, Any]]:
        return {
            key: dict(value) for key, value in self.deploy.items()
            if (name is None or key[0] == name) and (value["version"] or value["canary"])
        }


DEPLOY_KINDS = ("deployed", "undeployed", "traffic")
OWN_KINDS = frozenset({"registered", "deployed", "undeployed", "traffic", "approved", "deploy_refused", "deleted",
                        "restored", "config", "metrics", "updated", "description", "tags"})


class RegistryStore:
    """Reading and writing the registry's events; the base of :class:`~mlmm.registry.Registry`."""

    def __init__(self, workspace: Workspace) -> None:
        self.ws = workspace

    # ------------------------------------------------------------------ internals
    def _event(
        self,
        con: duckdb.DuckDBPyConnection,
        kind: str,
        name: str,
        version: str | None = None,
        *,
        environment: str | None = None,
        actor: str | None = None,
        reason: str | None = None,
        config: Mapping[str, Any] | None = None,
        metrics: Mapping[str, float] | None = None,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
        traffic: float | None = None,
        details: Mapping[str, Any] | None = None,
        ts: _dt.datetime | None = None,
        sync: bool = True,
    ) -> None:
        con.execute(
            "INSERT INTO events (ts, model_name, version, environment, kind, actor, reason, config, metrics,"
            " description, tags, traffic, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                naive_utc(ts or now()),
                name,
                version,
                environment,
                kind,
                current_actor(actor),
                reason,
                None if config is None else json.dumps(thaw(config), sort_keys=True),
                None if metrics is None else json.dumps(dict(metrics), sort_keys=True),
                description,
                None if tags is None else json.dumps(dict(tags), sort_keys=True),
                traffic,
                None if details is None else json.dumps(dict(details), sort_keys=True, default=str),
            ],
        )
        if sync:
            self._after_write(con)

    def _view(self, con: duckdb.DuckDBPyConnection, as_of: _dt.datetime | None = None) -> Projection:
        if as_of is not None:
            return Projection().catch_up(con, as_of)
        cache = self.ws.cache
        proj: Projection | None = cache.get("registry.projection")
        if proj is None:
            proj = cache["registry.projection"] = Projection()
        opens = self.ws.opens
        if proj.synced_open != opens:
            # reopened: another process may have appended; another registry id means the file
            # was replaced (a rebuilt workspace), so the projection starts over
            registry_id = con.execute("SELECT registry_id FROM registry_info").fetchone()[0]
            if proj.registry_id != registry_id:
                proj = cache["registry.projection"] = Projection()
                proj.registry_id = registry_id
            proj.catch_up(con)
            proj.synced_open = opens
        return proj

    def _after_write(self, con: duckdb.DuckDBPyConnection) -> None:
        self._view(con).catch_up(con)

    def _states(
        self,
        con: duckdb.DuckDBPyConnection,
        *,
        name: str | None = None,
        version: str | None = None,
        as_of: _dt.datetime | None = None,
        include_deleted: bool = False,
    ) -> list[ModelMetadata]:
        proj = self._view(con, as_of)
        if version is not None:
            keys = [(name, version)] if (name, version) in proj.versions else []
        else:
            keys = [k for k in proj.versions if name is None or k[0] == name]
        out = [proj.metadata(*k) for k in keys]
        if not include_deleted:
            out = [m for m in out if not m.deleted]
        out.sort(key=lambda m: (m.name, m.version))
        return out

    def _deployment_state(
        self, con: duckdb.DuckDBPyConnection, *, name: str | None = None, as_of: _dt.datetime | None = None
    ) -> dict[tuple[str, str], dict[str, Any]]:
        """{(model, env): {version, since, canary, share}} for what serves now (or at ``as_of``)."""
        return self._view(con, as_of).live_deployments(name)

    def _require(self, con: duckdb.DuckDBPyConnection, name: str, version: str | Version | None, *, include_deleted: bool = False) -> ModelMetadata:
        check_name(name, "name")
        if version is None:
            versions = self._states(con, name=name)
            if not versions:
                raise NotFoundError(self._missing_model_message(con, name))
            return latest_metadata(versions)
        ver = str(Version.parse(version))
        found = self._states(con, name=name, version=ver, include_deleted=True)
        if not found:
            # build metadata does not identify a version (semver 10): "1.0.0" finds "1.0.0+b.7"
            wanted = Version.parse(version)
            found = [m for m in self._states(con, name=name, include_deleted=True) if m.version == wanted]
        if not found:
            if not con.execute("SELECT 1 FROM versions WHERE model_name = ? LIMIT 1", [name]).fetchone():
                raise NotFoundError(self._missing_model_message(con, name))
            known = ", ".join(str(m.version) for m in self._states(con, name=name)) or "none"
            raise NotFoundError(f"version={ver!r} of model {name!r} is not registered; registered versions: {known}")
        if found[0].deleted and not include_deleted:
            raise NotFoundError(f"version={ver!r} of model {name!r} is deleted; `restore` brings it back")
        return found[0]

    def _missing_model_message(self, con: duckdb.DuckDBPyConnection, name: str) -> str:
        names = [r[0] for r in con.execute("SELECT DISTINCT model_name FROM versions ORDER BY 1").fetchall()]
        hint = f"; registered models: {', '.join(names)}" if names else "; the registry is empty"
        return f"model={name!r} is not registered{hint}"
