"""The model registry: versions, configuration revisions, metrics, deployments, full history.

Everything that changes is an append-only event (who, when, why) in ``registry.duckdb``;
"current" is a query over the events, so history, audit, rollback and time travel
(:meth:`Registry.state_as_of`) come for free. Deletes are soft and can be undone with
:meth:`Registry.restore`.

>>> import tempfile
>>> tmp = tempfile.TemporaryDirectory()
>>> from mlmm import open_workspace
>>> reg = open_workspace(tmp.name).registry
>>> _ = reg.register(ModelMetadata.for_n1_detector("1.0.0"), actor="alice")
>>> _ = reg.register("n1-detector", "1.1.0", preset="n1-detector", config={"threshold": 0.75}, actor="alice")
>>> _ = reg.deploy("n1-detector", "1.0.0", env="production", actor="alice", reason="first release")
>>> _ = reg.deploy("n1-detector", "1.1.0", env="production", actor="alice", reason="better F1")
>>> str(reg.rollback("n1-detector", env="production", actor="bob", reason="latency").version)
'1.0.0'
>>> reg.config_diff("n1-detector", "1.0.0", "1.1.0").changed
{'threshold': (0.7, 0.75)}
>>> tmp.cleanup()
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import enum
import json
import logging
import operator
import re
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import polars as pl

from ._util import UTC, check_name, current_actor, naive_utc, now, to_utc
from .errors import ApprovalRequiredError, ConflictError, NotFoundError, ValidationError
from .version import Version

if TYPE_CHECKING:
    import duckdb

    from .workspace import Workspace

__all__ = [
    "ModelType",
    "ModelMetadata",
    "ConfigDiff",
    "Registry",
    "ENVIRONMENTS",
    "PRESETS",
]

log = logging.getLogger("mlmm")

ENVIRONMENTS = ("development", "staging", "production")
_ENV_RANK = {env: rank for rank, env in enumerate(ENVIRONMENTS)}


class ModelType(enum.StrEnum):
    """The kind of learning behind a model (seed 000 ``ModelType``)."""

    SUPERVISED = "supervised"
    UNSUPERVISED = "unsupervised"
    SEMI_SUPERVISED = "semi_supervised"
    REINFORCEMENT = "reinforcement"

    @classmethod
    def parse(cls, value: str | ModelType) -> ModelType:
        if isinstance(value, ModelType):
            return value
        try:
            return cls(str(value).strip().lower().replace("-", "_"))
        except ValueError:
            raise ValidationError(
                f"model_type={value!r}: expected one of {', '.join(m.value for m in cls)}"
            ) from None

    def __str__(self) -> str:
        return self.value


# Presets for the three models the seeds manage. Every preset has a decision ``threshold``
# (the key the tuning and monitoring code adjusts) and the seed's tuning range and alert floor.
PRESETS: dict[str, dict[str, Any]] = {
    "n1-detector": {
        "model_type": ModelType.SUPERVISED,
        "description": "Detects N+1 query patterns in database operations.",
        "tags": {"system": "database", "owner": "platform"},
        "config": {
            "threshold": 0.7,  # seed 000: ModelMetadata::forN1Detector(..., ['threshold' => 0.7])
            "window_size": 100,  # seed 000: register example ['threshold' => 0.7, 'window_size' => 100]
            "min_confidence": 0.6,  # seed 001: NPLUSONE_ML_CONFIDENCE_THRESHOLD=60.0 (percent)
            "timeout_ms": 5000,  # seed 001: NPLUSONE_ML_TIMEOUT_MS=5000
            "alert_accuracy": 0.85,  # seed 001: "Alert threshold: 85% accuracy"
            "tuning_range": [0.5, 0.9],  # seed 001: "Auto-tuning: confidence_threshold (0.5-0.9)"
            "tuning_step": 0.05,  # seed 001: "step: 0.05"
        },
    },
    "waf-behavioral": {
        "model_type": ModelType.UNSUPERVISED,
        "description": "Detects malicious behavioural patterns in web requests.",
        "tags": {"system": "waf", "owner": "security"},
        "config": {
            "threshold": 0.7,  # seed 001 tunes anomaly_threshold in 0.5-0.9; 0.7 is its midpoint
            "window_size": 100,  # seed 000: forWafBehavioral(..., ['window_size' => 100])
            "alert_accuracy": 0.90,  # seed 001: "Alert threshold: 90% accuracy (critical)"
            "alert_severity": "critical",  # seed 001: WAF accuracy < 90% is a critical alert
            "tuning_range": [0.5, 0.9],  # seed 001: "Auto-tuning: anomaly_threshold (0.5-0.9)"
            "tuning_step": 0.05,
        },
    },
    "queue-anomaly": {
        "model_type": ModelType.UNSUPERVISED,
        "description": "Detects anomalous queue job executions (z-score and IQR on job metrics).",
        "tags": {"system": "queue", "owner": "platform"},
        "config": {
            "threshold": 0.6,  # seed 001: JOB_ANOMALY_MIN_CONFIDENCE=0.6
            "zscore_threshold": 3.0,  # seed 001: JOB_ANOMALY_ZSCORE_THRESHOLD=3.0
            "iqr_multiplier": 1.5,  # seed 001: JOB_ANOMALY_IQR_MULTIPLIER=1.5
            "anomaly_score_threshold": 50,  # seed 001: JOB_ANOMALY_THRESHOLD=50
            "min_cluster_size": 3,  # seed 000: forQueueAnomaly(..., ['min_cluster_size' => 3])
            "window_size": 100,  # seed 000: window_size default used for all detectors
            "alert_accuracy": 0.80,  # seed 001: "Alert threshold: 80% accuracy"
            "tuning_range": [0.4, 0.8],  # seed 001: "Auto-tuning: anomaly_threshold (0.4-0.8)"
            "tuning_step": 0.05,
        },
    },
}


def _freeze(mapping: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping or {}))


def _thaw(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_thaw(v) for v in value]
    return value


def _check_mapping(value: Any, field: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValidationError(f"{field}={value!r}: expected a mapping of names to values")
    out = {}
    for key, item in value.items():
        if not isinstance(key, str) or not key:
            raise ValidationError(f"{field} key {key!r}: expected a non-empty string")
        out[key] = item
    try:
        json.dumps(out)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{field}={value!r}: expected JSON-serialisable values ({exc})") from None
    return out


def _check_metrics(value: Any) -> dict[str, float]:
    metrics = _check_mapping(value, "metrics")
    for key, item in metrics.items():
        if isinstance(item, bool) or not isinstance(item, (int, float)) or item != item:
            raise ValidationError(f"metrics[{key!r}]={item!r}: expected a finite number")
    return {k: float(v) for k, v in metrics.items()}


def _check_tags(value: Any) -> dict[str, str]:
    if isinstance(value, (list, tuple, set)):
        value = {str(t): "" for t in value}
    tags = _check_mapping(value, "tags")
    return {k: "" if v is None else str(v) for k, v in tags.items()}


def _check_env(env: str) -> str:
    if env not in _ENV_RANK:
        raise ValidationError(f"environment={env!r}: expected one of {', '.join(ENVIRONMENTS)}")
    return env


@dataclasses.dataclass(frozen=True)
class ModelMetadata:
    """One version of a model as the registry knows it (seed 000 ``ModelMetadata``).

    ``configuration``, ``performance_metrics`` and ``tags`` are read-only mappings; use the
    ``with_*`` methods to derive a changed copy before registering, or
    :meth:`Registry.update` for a registered version. ``environment``/``deployed_at`` give the
    most significant environment the version currently serves in; ``deployments`` has them all.
    """

    name: str
    version: Version
    model_type: ModelType = ModelType.SUPERVISED
    configuration: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    performance_metrics: Mapping[str, float] = dataclasses.field(default_factory=dict)
    created_at: _dt.datetime | None = None
    deployed_at: _dt.datetime | None = None
    environment: str | None = None
    description: str = ""
    tags: Mapping[str, str] = dataclasses.field(default_factory=dict)
    config_revision: int = 0
    deployments: Mapping[str, _dt.datetime] = dataclasses.field(default_factory=dict)
    deleted: bool = False
    created_by: str | None = None

    def __post_init__(self) -> None:
        check_name(self.name, "name")
        object.__setattr__(self, "version", Version.parse(self.version))
        object.__setattr__(self, "model_type", ModelType.parse(self.model_type))
        object.__setattr__(self, "configuration", _freeze(_check_mapping(self.configuration, "configuration")))
        if "classes" in self.configuration or "feature_types" in self.configuration:
            from ._index import check_config

            check_config(self.configuration, self.name, str(self.version))
        object.__setattr__(self, "performance_metrics", _freeze(_check_metrics(self.performance_metrics)))
        object.__setattr__(self, "tags", _freeze(_check_tags(self.tags)))
        object.__setattr__(self, "deployments", _freeze(self.deployments))
        if self.environment is not None:
            _check_env(self.environment)

    # -- presets (seed 000 factory methods) ---------------------------------------------------
    @classmethod
    def from_preset(
        cls, preset: str, version: str | Version, configuration: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> ModelMetadata:
        """Metadata for one of :data:`PRESETS`, with ``configuration`` merged over its defaults."""
        if preset not in PRESETS:
            raise ValidationError(f"preset={preset!r}: expected one of {', '.join(PRESETS)}")
        spec = PRESETS[preset]
        config = {**_thaw(spec["config"]), **dict(configuration or {})}
        kwargs.setdefault("name", preset)
        kwargs.setdefault("model_type", spec["model_type"])
        kwargs.setdefault("description", spec["description"])
        kwargs.setdefault("tags", dict(spec["tags"]))
        return cls(version=Version.parse(version), configuration=config, **kwargs)

    @classmethod
    def for_n1_detector(cls, version: str | Version = "1.0.0", configuration: Mapping[str, Any] | None = None) -> ModelMetadata:
        """The N+1 query detector with the seed's defaults (threshold 0.7, window 100).

        >>> ModelMetadata.for_n1_detector("1.0.0").configuration["threshold"]
        0.7
        """
        return cls.from_preset("n1-detector", version, configuration)

    @classmethod
    def for_waf_behavioral(cls, version: str | Version = "1.0.0", configuration: Mapping[str, Any] | None = None) -> ModelMetadata:
        """The WAF behavioural analysis model with the seed's defaults (window 100)."""
        return cls.from_preset("waf-behavioral", version, configuration)

    @classmethod
    def for_queue_anomaly(cls, version: str | Version = "1.0.0", configuration: Mapping[str, Any] | None = None) -> ModelMetadata:
        """The queue job anomaly detector with the seed's defaults (z-score 3.0, IQR 1.5).

        >>> cfg = ModelMetadata.for_queue_anomaly("1.2.0").configuration
        >>> cfg["zscore_threshold"], cfg["iqr_multiplier"]
        (3.0, 1.5)
        """
        return cls.from_preset("queue-anomaly", version, configuration)

    # -- derived copies -----------------------------------------------------------------------
    def with_configuration(self, configuration: Mapping[str, Any]) -> ModelMetadata:
        return dataclasses.replace(self, configuration=dict(configuration))

    def with_performance_metrics(self, metrics: Mapping[str, float]) -> ModelMetadata:
        return dataclasses.replace(self, performance_metrics=dict(metrics))

    @property
    def is_production(self) -> bool:
        return "production" in self.deployments

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": str(self.version),
            "model_type": self.model_type.value,
            "configuration": _thaw(self.configuration),
            "performance_metrics": dict(self.performance_metrics),
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "created_by": self.created_by,
            "deployed_at": self.deployed_at.isoformat() if self.deployed_at else None,
            "environment": self.environment,
            "deployments": {env: ts.isoformat() for env, ts in self.deployments.items()},
            "description": self.description,
            "tags": dict(self.tags),
            "config_revision": self.config_revision,
            "deleted": self.deleted,
        }

    def __repr__(self) -> str:
        where = f", {self.environment}" if self.environment else ""
        metrics = ", ".join(f"{k}={v:.3g}" for k, v in list(self.performance_metrics.items())[:4])
        gone = ", deleted" if self.deleted else ""
        return f"<ModelMetadata {self.name} {self.version} ({self.model_type.value}{where}{gone}) {metrics}>"


@dataclasses.dataclass(frozen=True)
class ConfigDiff:
    """What changed between two configurations (nested keys are dotted: ``a.b``)."""

    name: str
    a: str
    b: str
    added: dict[str, Any]
    removed: dict[str, Any]
    changed: dict[str, tuple[Any, Any]]

    @property
    def is_empty(self) -> bool:
        return not (self.added or self.removed or self.changed)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "a": self.a,
            "b": self.b,
            "added": self.added,
            "removed": self.removed,
            "changed": {k: {"from": v[0], "to": v[1]} for k, v in self.changed.items()},
        }

    def to_frame(self) -> pl.DataFrame:
        rows = [(k, "added", None, json.dumps(v)) for k, v in self.added.items()]
        rows += [(k, "removed", json.dumps(v), None) for k, v in self.removed.items()]
        rows += [(k, "changed", json.dumps(v[0]), json.dumps(v[1])) for k, v in self.changed.items()]
        rows.sort()
        return pl.DataFrame(rows, schema=["key", "change", self.a, self.b], orient="row")

    def __repr__(self) -> str:
        if self.is_empty:
            return f"<ConfigDiff {self.name} {self.a} -> {self.b}: identical>"
        parts = [f"+{k}={v!r}" for k, v in self.added.items()]
        parts += [f"-{k}" for k in self.removed]
        parts += [f"{k}: {v[0]!r} -> {v[1]!r}" for k, v in self.changed.items()]
        return f"<ConfigDiff {self.name} {self.a} -> {self.b}: {'; '.join(parts)}>"


def _flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in config.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(_flatten(value, path + "."))
        else:
            out[path] = value
    return out


def diff_configs(name: str, a_label: str, a: Mapping[str, Any], b_label: str, b: Mapping[str, Any]) -> ConfigDiff:
    fa, fb = _flatten(a), _flatten(b)
    return ConfigDiff(
        name=name,
        a=a_label,
        b=b_label,
        added={k: fb[k] for k in sorted(fb.keys() - fa.keys())},
        removed={k: fa[k] for k in sorted(fa.keys() - fb.keys())},
        changed={k: (fa[k], fb[k]) for k in sorted(fa.keys() & fb.keys()) if fa[k] != fb[k]},
    )


_METRIC_FILTER_RE = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*(>=|<=|==|!=|>|<|=)\s*(-?[\d.]+(?:e-?\d+)?)\s*$")
_OPS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le,
        "==": operator.eq, "=": operator.eq, "!=": operator.ne}

_EVENT_COLUMNS = "seq, ts, model_name, version, environment, kind, actor, config, metrics, description, tags, traffic, details"


class _Projection:
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

    def catch_up(self, con: duckdb.DuckDBPyConnection, as_of: _dt.datetime | None = None) -> _Projection:
        sql = f"SELECT {_EVENT_COLUMNS} FROM events WHERE seq > ?"
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
            if kind in _DEPLOY_KINDS:
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
            env = max(deps, key=_ENV_RANK.__getitem__) if deps else None
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


_DEPLOY_KINDS = ("deployed", "undeployed", "traffic")
_OWN_KINDS = frozenset({"registered", "deployed", "undeployed", "traffic", "approved", "deploy_refused", "deleted",
                        "restored", "config", "metrics", "updated", "description", "tags"})


class Registry:
    """The model registry of a workspace (``ws.registry``).

    Every method that changes something takes ``actor`` (default ``MLMM_USER`` or the OS
    user) and ``reason``, recorded with the event.
    """

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
                None if config is None else json.dumps(_thaw(config), sort_keys=True),
                None if metrics is None else json.dumps(dict(metrics), sort_keys=True),
                description,
                None if tags is None else json.dumps(dict(tags), sort_keys=True),
                traffic,
                None if details is None else json.dumps(dict(details), sort_keys=True, default=str),
            ],
        )
        if sync:
            self._after_write(con)

    def _view(self, con: duckdb.DuckDBPyConnection, as_of: _dt.datetime | None = None) -> _Projection:
        if as_of is not None:
            return _Projection().catch_up(con, as_of)
        cache = self.ws.cache
        proj: _Projection | None = cache.get("registry.projection")
        if proj is None:
            proj = cache["registry.projection"] = _Projection()
        opens = self.ws.opens
        if proj.synced_open != opens:
            # reopened: another process may have appended; another registry id means the file
            # was replaced (a rebuilt workspace), so the projection starts over
            registry_id = con.execute("SELECT registry_id FROM registry_info").fetchone()[0]
            if proj.registry_id != registry_id:
                proj = cache["registry.projection"] = _Projection()
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
            return _latest(versions)
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

    # ------------------------------------------------------------------ register / read
    def register(
        self,
        model: str | ModelMetadata,
        version: str | Version | None = None,
        *,
        model_type: str | ModelType | None = None,
        config: Mapping[str, Any] | None = None,
        metrics: Mapping[str, float] | None = None,
        description: str | None = None,
        tags: Mapping[str, str] | Iterable[str] | None = None,
        preset: str | None = None,
        actor: str | None = None,
        reason: str | None = None,
        at: Any = None,
    ) -> ModelMetadata:
        """Register a new version of a model.

        Pass a :class:`ModelMetadata` or a name and version. ``preset`` starts from one of
        :data:`PRESETS` (``config`` is merged over its defaults). ``at`` back-dates the
        registration (imports of history); default now.

        Raises
        ------
        ConflictError
            The name and version are already registered (also when soft-deleted).
        ValidationError
            A bad name, version, type, config or metric.
        """
        if isinstance(model, ModelMetadata):
            meta = model
            if version is not None:
                meta = dataclasses.replace(meta, version=Version.parse(version))
        else:
            check_name(model, "name")
            if version is None:
                raise ValidationError("version=None: expected a semantic version such as '1.0.0'")
            if preset is not None:
                meta = ModelMetadata.from_preset(preset, version, config, name=model)
            else:
                meta = ModelMetadata(name=model, version=Version.parse(version), configuration=config or {})
            overrides: dict[str, Any] = {}
            if model_type is not None:
                overrides["model_type"] = ModelType.parse(model_type)
            if metrics is not None:
                overrides["performance_metrics"] = metrics
            if description is not None:
                overrides["description"] = description
            if tags is not None:
                overrides["tags"] = tags
            if overrides:
                meta = dataclasses.replace(meta, **overrides)
        when = to_utc(at, "at") if at is not None else now()
        ver = str(meta.version)
        with self.ws.connect() as con:
            existing = con.execute(
                "SELECT version FROM versions WHERE model_name = ?", [meta.name]
            ).fetchall()
            for (other,) in existing:
                if Version.parse(other) == meta.version:
                    raise ConflictError(
                        f"model={meta.name!r} version={ver!r}: already registered"
                        + (" (as " + other + ")" if other != ver else "")
                        + "; expected a new version (bump it, e.g. "
                        + str(_latest_version([Version.parse(v) for (v,) in existing]).bump("patch"))
                        + ") or update the existing one"
                    )
            con.execute("BEGIN TRANSACTION")
            try:
                con.execute(
                    "INSERT INTO versions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [meta.name, ver, meta.version.major, meta.version.minor, meta.version.patch,
                     meta.version.prerelease, meta.model_type.value, naive_utc(when), current_actor(actor)],
                )
                self._event(
                    con, "registered", meta.name, ver, actor=actor, reason=reason,
                    config=meta.configuration, metrics=meta.performance_metrics,
                    description=meta.description, tags=meta.tags, ts=when,
                    details={"model_type": meta.model_type.value}, sync=False,
                )
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
            self._after_write(con)
            log.info("registered %s %s", meta.name, ver)
            return self._require(con, meta.name, ver)

    def get(self, name: str, version: str | Version | None = None, *, as_of: Any = None) -> ModelMetadata:
        """One version (default: the latest release). ``as_of`` gives it as it was at that time."""
        with self.ws.connect() as con:
            if as_of is None:
                return self._require(con, name, version)
            when = to_utc(as_of, "as_of")
            check_name(name, "name")
            states = self._states(con, name=name, as_of=when)
            if version is not None:
                states = [m for m in states if m.version == Version.parse(version)]
            if not states:
                raise NotFoundError(
                    f"model={name!r}" + (f" version={str(version)!r}" if version else "")
                    + f" did not exist at {when.isoformat()}"
                )
            return _latest(states)

    def get_latest(self, name: str, *, include_prerelease: bool = False) -> ModelMetadata:
        """The highest version by semantic-version precedence. Pre-releases count only when
        ``include_prerelease`` or when no release exists (as pip does)."""
        with self.ws.connect() as con:
            versions = self._states(con, name=check_name(name, "name"))
            if not versions:
                raise NotFoundError(self._missing_model_message(con, name))
        return _latest(versions, include_prerelease=include_prerelease)

    def get_all(self, name: str, *, include_deleted: bool = False) -> list[ModelMetadata]:
        """All versions of a model, oldest version first."""
        with self.ws.connect() as con:
            versions = self._states(con, name=check_name(name, "name"), include_deleted=include_deleted)
            if not versions and not con.execute("SELECT 1 FROM versions WHERE model_name = ?", [name]).fetchone():
                raise NotFoundError(self._missing_model_message(con, name))
        return versions

    def all_versions(self, *, include_deleted: bool = False, as_of: Any = None) -> list[ModelMetadata]:
        """Every version of every model."""
        when = to_utc(as_of, "as_of") if as_of is not None else None
        with self.ws.connect() as con:
            return self._states(con, include_deleted=include_deleted, as_of=when)

    def get_by_type(self, model_type: str | ModelType) -> list[ModelMetadata]:
        kind = ModelType.parse(model_type)
        return [m for m in self.all_versions() if m.model_type == kind]

    def get_by_environment(self, environment: str) -> list[ModelMetadata]:
        """Versions currently deployed in ``environment`` (canaries are in :meth:`deployments`)."""
        env = _check_env(environment)
        return [m for m in self.all_versions() if env in m.deployments]

    def get_production_models(self) -> list[ModelMetadata]:
        """The version of each model currently deployed to production."""
        return self.get_by_environment("production")

    def exists(self, name: str, version: str | Version | None = None) -> bool:
        try:
            with self.ws.connect() as con:
                self._require(con, name, version)
        except NotFoundError:
            return False
        return True

    def list_names(self) -> list[str]:
        """Names of models with at least one version that is not deleted."""
        return sorted({m.name for m in self.all_versions()})

    def version_count(self, name: str) -> int:
        return len(self.get_all(name))

    def search(
        self,
        *,
        tag: str | None = None,
        metric: str | Iterable[str] | None = None,
        model_type: str | ModelType | None = None,
        environment: str | None = None,
        name: str | None = None,
    ) -> list[ModelMetadata]:
        """Versions matching every filter given.

        ``tag`` is ``"key"`` or ``"key=value"``; ``metric`` is one or more conditions such as
        ``"accuracy>0.9"`` (``>``, ``>=``, ``<``, ``<=``, ``==``, ``!=``); a version without
        the metric does not match. ``name`` matches a substring of the model name.
        """
        conditions = []
        for text in [metric] if isinstance(metric, str) else list(metric or []):
            match = _METRIC_FILTER_RE.match(text)
            if not match:
                raise ValidationError(f"metric={text!r}: expected NAME OP NUMBER, e.g. 'accuracy>0.9'")
            conditions.append((match.group(1), _OPS[match.group(2)], float(match.group(3))))
        kind = ModelType.parse(model_type) if model_type is not None else None
        env = _check_env(environment) if environment is not None else None
        tag_key, _, tag_value = (tag or "").partition("=")
        out = []
        for m in self.all_versions():
            if name and name not in m.name:
                continue
            if kind and m.model_type != kind:
                continue
            if env and env not in m.deployments:
                continue
            if tag and (tag_key not in m.tags or ("=" in tag and m.tags[tag_key] != tag_value)):
                continue
            if any(key not in m.performance_metrics or not op(m.performance_metrics[key], value) for key, op, value in conditions):
                continue
            out.append(m)
        return out

    # ------------------------------------------------------------------ change
    def update(
        self,
        name: str,
        version: str | Version,
        *,
        config: Mapping[str, Any] | None = None,
        metrics: Mapping[str, float] | None = None,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
        merge: bool = True,
        remove: Iterable[str] = (),
        actor: str | None = None,
        reason: str | None = None,
    ) -> ModelMetadata:
        """Change a version's configuration, metrics, description or tags.

        With ``merge=True`` (default) the given keys are merged over the current values and
        ``remove`` lists configuration keys to drop; ``merge=False`` replaces them. A
        configuration change is a new revision (see :meth:`config_revisions`).
        """
        with self.ws.connect() as con:
            current = self._require(con, name, version)
            new_config = new_metrics = new_tags = None
            if config is not None or remove:
                base = _thaw(current.configuration) if merge else {}
                new_config = {**base, **_check_mapping(config, "config")}
                for key in remove:
                    if key not in new_config:
                        raise ValidationError(f"remove={key!r}: not a configuration key of {name} {current.version}")
                    new_config.pop(key)
                if new_config == _thaw(current.configuration):
                    new_config = None  # no new revision for a no-op
            if metrics is not None:
                new_metrics = {**(dict(current.performance_metrics) if merge else {}), **_check_metrics(metrics)}
            if tags is not None:
                new_tags = {**(dict(current.tags) if merge else {}), **_check_tags(tags)}
            if new_config is None and new_metrics is None and new_tags is None and description is None:
                return current
            kind = "config" if new_config is not None else "metrics" if new_metrics is not None else "updated"
            self._event(con, kind, name, str(current.version), actor=actor, reason=reason, config=new_config,
                        metrics=new_metrics, description=description, tags=new_tags)
            return self._require(con, name, current.version)

    def update_config(self, name: str, version: str | Version, changes: Mapping[str, Any], **kwargs: Any) -> ModelMetadata:
        """Merge ``changes`` into a version's configuration (a new revision)."""
        return self.update(name, version, config=changes, **kwargs)

    def config_revisions(self, name: str, version: str | Version | None = None) -> pl.DataFrame:
        """Every configuration revision of a version (default: the latest), oldest first."""
        with self.ws.connect() as con:
            meta = self._require(con, name, version)
            rows = con.execute(
                "SELECT ts, actor, reason, config FROM events WHERE model_name = ? AND version = ?"
                " AND config IS NOT NULL ORDER BY seq",
                [name, str(meta.version)],
            ).fetchall()
        return pl.DataFrame(
            {
                "revision": list(range(1, len(rows) + 1)),
                "ts": [r[0].replace(tzinfo=UTC) for r in rows],
                "actor": [r[1] for r in rows],
                "reason": [r[2] for r in rows],
                "config": [r[3] for r in rows],
            },
            schema={"revision": pl.Int64, "ts": pl.Datetime("us", "UTC"), "actor": pl.String,
                    "reason": pl.String, "config": pl.String},
        )

    def _resolve_config(self, name: str, ref: str) -> tuple[str, dict[str, Any]]:
        """``"1.0.0"`` (current config) or ``"1.0.0@2"`` (revision 2) -> (label, config)."""
        ver, _, rev = str(ref).partition("@")
        revisions = self.config_revisions(name, ver)
        label = str(Version.parse(ver))
        if not rev:
            return label, json.loads(revisions["config"][-1])
        if not rev.isdigit() or not 1 <= int(rev) <= len(revisions):
            raise NotFoundError(f"revision={rev!r} of {name} {label}: expected 1..{len(revisions)}")
        return f"{label}@{rev}", json.loads(revisions["config"][int(rev) - 1])

    def config_diff(self, name: str, a: str, b: str | None = None) -> ConfigDiff:
        """Difference between two configurations.

        ``a`` and ``b`` are versions (``"1.0.0"``, meaning its current configuration) or
        revisions (``"1.0.0@1"``). With ``b=None``, ``a`` is compared with the version's
        previous revision.
        """
        if b is None:
            ver = str(a).partition("@")[0]
            count = len(self.config_revisions(name, ver))
            b = a if "@" in str(a) else f"{ver}@{count}"
            prev = int(str(b).partition("@")[2]) - 1
            if prev < 1:
                raise ValidationError(f"{name} {ver} has a single configuration revision; nothing to compare with")
            a = f"{ver}@{prev}"
        label_a, config_a = self._resolve_config(name, a)
        label_b, config_b = self._resolve_config(name, b)
        return diff_configs(name, label_a, config_a, label_b, config_b)

    def rollback_config(
        self,
        name: str,
        version: str | Version | None = None,
        to_revision: int | None = None,
        *,
        actor: str | None = None,
        reason: str | None = None,
    ) -> ModelMetadata:
        """Restore an earlier configuration as a *new* revision (history is never rewritten).

        ``version`` defaults to the production version (else the latest); ``to_revision``
        defaults to the previous revision.
        """
        if version is None:
            prod = [m for m in self.get_production_models() if m.name == name]
            version = prod[0].version if prod else self.get_latest(name).version
        revisions = self.config_revisions(name, version)
        count = len(revisions)
        target = count - 1 if to_revision is None else int(to_revision)
        if not 1 <= target <= count:
            raise ValidationError(
                f"to_revision={to_revision!r}: expected a revision of {name} {version} in 1..{count}"
                if count > 1 else f"{name} {version} has a single configuration revision; nothing to roll back to"
            )
        config = json.loads(revisions["config"][target - 1])
        with self.ws.connect() as con:
            current = self._require(con, name, version)
            self._event(con, "config", name, str(current.version), actor=actor,
                        reason=reason or f"rollback to revision {target}", config=config,
                        details={"rollback_to_revision": target, "from_revision": count})
            return self._require(con, name, current.version)

    def delete(self, name: str, version: str | Version | None = None, *, actor: str | None = None, reason: str | None = None) -> list[ModelMetadata]:
        """Soft-delete one version (or every version of the model). Deployed versions must be
        undeployed first. Returns what was deleted; :meth:`restore` undoes it."""
        with self.ws.connect() as con:
            targets = [self._require(con, name, version)] if version is not None else self._states(con, name=check_name(name, "name"))
            if not targets:
                raise NotFoundError(self._missing_model_message(con, name))
            deployed = self._deployment_state(con, name=name)
            for meta in targets:
                envs = [env for (_, env), s in deployed.items() if str(meta.version) in (s["version"], s["canary"])]
                if envs:
                    raise ConflictError(
                        f"{name} {meta.version} is deployed in {', '.join(envs)}; expected it undeployed before delete"
                    )
            for meta in targets:
                self._event(con, "deleted", name, str(meta.version), actor=actor, reason=reason)
        return targets

    def restore(self, name: str, version: str | Version, *, actor: str | None = None, reason: str | None = None) -> ModelMetadata:
        """Undo a soft delete."""
        with self.ws.connect() as con:
            meta = self._require(con, name, version, include_deleted=True)
            if not meta.deleted:
                raise ConflictError(f"{name} {meta.version} is not deleted; nothing to restore")
            self._event(con, "restored", name, str(meta.version), actor=actor, reason=reason)
            return self._require(con, name, meta.version)

    # ------------------------------------------------------------------ deployments
    def require_approval(self, environment: str, required: bool = True, *, actor: str | None = None, reason: str | None = None) -> None:
        """Make deploying to ``environment`` need an approval by a different actor first."""
        self.ws.set_setting(f"approval.{_check_env(environment)}", bool(required), actor=actor, reason=reason)

    def approval_required(self, environment: str) -> bool:
        return bool(self.ws.setting(f"approval.{_check_env(environment)}", False))

    def approve(self, name: str, version: str | Version, *, env: str = "production", actor: str | None = None, reason: str | None = None, at: Any = None) -> None:
        """Approve deploying a version to an environment. The approval holds until the
        version's configuration changes; the deployer must be someone else."""
        _check_env(env)
        with self.ws.connect() as con:
            meta = self._require(con, name, version)
            self._event(con, "approved", name, str(meta.version), environment=env, actor=actor, reason=reason,
                        ts=to_utc(at, "at") if at is not None else None)

    def _check_approval(self, con: duckdb.DuckDBPyConnection, meta: ModelMetadata, env: str, actor: str) -> None:
        last_config = con.execute(
            "SELECT coalesce(max(seq), 0) FROM events WHERE model_name = ? AND version = ? AND config IS NOT NULL",
            [meta.name, str(meta.version)],
        ).fetchone()[0]
        approvers = [r[0] for r in con.execute(
            "SELECT actor FROM events WHERE kind = 'approved' AND model_name = ? AND version = ? AND environment = ? AND seq > ?",
            [meta.name, str(meta.version), env, last_config],
        ).fetchall()]
        if any(a != actor for a in approvers):
            return
        why = (
            f"only approved by the deployer ({actor}); expected an approval by someone else"
            if approvers else "no approval recorded since its last configuration change"
        )
        message = f"deploying {meta.name} {meta.version} to {env} needs an approval by another actor: {why}"
        self._event(con, "deploy_refused", meta.name, str(meta.version), environment=env, actor=actor, reason=message)
        raise ApprovalRequiredError(message + f" (`mlmm approve {meta.name} {meta.version} --env {env}`)")

    def deploy(
        self,
        name: str,
        version: str | Version,
        *,
        env: str = "production",
        actor: str | None = None,
        reason: str | None = None,
        at: Any = None,
    ) -> ModelMetadata:
        """Deploy a version to an environment; it replaces the version serving there (and ends
        any canary). Refused with :class:`ApprovalRequiredError` (and logged) when the
        environment requires an approval that is missing."""
        _check_env(env)
        who = current_actor(actor)
        require = self.approval_required(env)
        with self.ws.connect() as con:
            meta = self._require(con, name, version)
            if require:
                self._check_approval(con, meta, env, who)
            previous = self._deployment_state(con, name=name).get((name, env), {}).get("version")
            self._event(con, "deployed", name, str(meta.version), environment=env, actor=who, reason=reason,
                        details={"previous": previous}, ts=to_utc(at, "at") if at is not None else None)
            log.info("deployed %s %s to %s", name, meta.version, env)
            return self._require(con, name, meta.version)

    def undeploy(self, name: str, *, env: str = "production", version: str | Version | None = None,
                 actor: str | None = None, reason: str | None = None, at: Any = None) -> None:
        """Stop serving a model in an environment (or only ``version``, e.g. a canary).
        ``at`` back-dates the event, as for :meth:`deploy`."""
        _check_env(env)
        with self.ws.connect() as con:
            state = self._deployment_state(con, name=check_name(name, "name")).get((name, env))
            ver = str(Version.parse(version)) if version is not None else None
            if state is None or (ver is not None and ver not in (state["version"], state["canary"])):
                raise ConflictError(f"{name}{' ' + ver if ver else ''} is not deployed in {env}; nothing to undeploy")
            self._event(con, "undeployed", name, ver, environment=env, actor=actor, reason=reason,
                        ts=to_utc(at, "at") if at is not None else None)

    def set_traffic(self, name: str, version: str | Version, share: float, *, env: str = "production",
                    actor: str | None = None, reason: str | None = None, at: Any = None) -> None:
        """Send ``share`` (0-1) of the environment's traffic to ``version`` as a canary beside
        the deployed version; 0 ends the canary. A full switch is :meth:`deploy`."""
        _check_env(env)
        if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 <= share <= 1:
            raise ValidationError(f"share={share!r}: expected a number in [0, 1]")
        with self.ws.connect() as con:
            meta = self._require(con, name, version)
            self._event(con, "traffic", name, str(meta.version), environment=env, actor=actor, reason=reason,
                        traffic=float(share), ts=to_utc(at, "at") if at is not None else None)

    def rollback(self, name: str, *, env: str = "production", to_version: str | Version | None = None,
                 actor: str | None = None, reason: str | None = None, at: Any = None) -> ModelMetadata:
        """Roll back a model in an environment.

        While a canary runs, this ends the canary (the deployed version keeps all traffic).
        Otherwise it redeploys ``to_version`` or, by default, the version deployed there
        before the current one. Returns the version now serving.
        """
        _check_env(env)
        when = to_utc(at, "at") if at is not None else None
        with self.ws.connect() as con:
            state = self._deployment_state(con, name=check_name(name, "name")).get((name, env))
            if state is None:
                raise ConflictError(f"{name} is not deployed in {env}; nothing to roll back")
            if state["canary"] and to_version is None:
                self._event(con, "traffic", name, state["canary"], environment=env, actor=actor,
                            reason=reason or "rollback: canary ended", traffic=0.0,
                            details={"rollback": True, "canary": state["canary"]}, ts=when)
                return self._require(con, name, state["version"])
            current = state["version"]
            if to_version is None:
                history = [r[0] for r in con.execute(
                    "SELECT version FROM events WHERE model_name = ? AND environment = ? AND kind = 'deployed' ORDER BY seq DESC",
                    [name, env],
                ).fetchall()]
                live = {str(m.version) for m in self._states(con, name=name)}
                candidates = [v for v in history if v != current and v in live]
                if not candidates:
                    raise ConflictError(f"{name} has no earlier version deployed in {env} to roll back to")
                target = candidates[0]
            else:
                target = str(self._require(con, name, to_version).version)
            self._event(con, "deployed", name, target, environment=env, actor=actor,
                        reason=reason or f"rollback from {current}", details={"rollback": True, "previous": current}, ts=when)
            return self._require(con, name, target)

    def deployments(self, name: str | None = None) -> pl.DataFrame:
        """What serves where now: model, environment, version, since, canary version and share."""
        return self.state_as_of(None, name=name)

    def state_as_of(self, timestamp: Any, *, name: str | None = None) -> pl.DataFrame:
        """Which version of which model served in each environment at ``timestamp``.

        Answers "what was in production at time T" (MLflow cannot: mlflow/mlflow#2169).
        """
        when = to_utc(timestamp, "timestamp") if timestamp is not None else None
        with self.ws.connect() as con:
            state = self._deployment_state(con, name=name, as_of=when)
        rows = sorted(
            (m, env, s["version"], s["since"], s["canary"], s["share"])
            for (m, env), s in state.items()
        )
        rows.sort(key=lambda r: (r[0], -_ENV_RANK[r[1]]))
        return pl.DataFrame(
            rows,
            schema={"model_name": pl.String, "environment": pl.String, "version": pl.String,
                    "since": pl.Datetime("us", "UTC"), "canary_version": pl.String, "canary_share": pl.Float64},
            orient="row",
        )

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
        if not re.fullmatch(r"[a-z][a-z_]{0,39}", str(kind)) or kind in _OWN_KINDS:
            raise ValidationError(
                f"kind={kind!r}: expected lowercase letters and '_' (at most 40), not one of {', '.join(sorted(_OWN_KINDS))}")
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

    def models(self) -> pl.DataFrame:
        """One row per model: type, version count, latest version, what serves in each environment."""
        versions = self.all_versions()
        deployed = self.deployments()
        by_env = {(r["model_name"], r["environment"]): r for r in deployed.iter_rows(named=True)}
        rows = []
        for name in sorted({m.name for m in versions}):
            mine = [m for m in versions if m.name == name]
            latest = _latest(mine)
            prod = by_env.get((name, "production"), {})
            canary = f"{prod['canary_version']} ({prod['canary_share']:.0%})" if prod.get("canary_version") else None
            rows.append((
                name, latest.model_type.value, len(mine), str(latest.version),
                prod.get("version"), canary,
                by_env.get((name, "staging"), {}).get("version"),
                latest.performance_metrics.get("accuracy"),
            ))
        return pl.DataFrame(
            rows,
            schema={"model_name": pl.String, "model_type": pl.String, "versions": pl.Int64, "latest": pl.String,
                    "production": pl.String, "canary": pl.String, "staging": pl.String, "latest_accuracy": pl.Float64},
            orient="row",
        )

    @staticmethod
    def to_frame(models: Iterable[ModelMetadata]) -> pl.DataFrame:
        """A list of versions as a table (metrics as columns)."""
        models = list(models)
        metric_names = sorted({k for m in models for k in m.performance_metrics})
        data: dict[str, list[Any]] = {
            "model_name": [m.name for m in models],
            "version": [str(m.version) for m in models],
            "model_type": [m.model_type.value for m in models],
            "environment": [m.environment for m in models],
            "deployed_at": [m.deployed_at for m in models],
            "created_at": [m.created_at for m in models],
            "config_revision": [m.config_revision for m in models],
            "tags": [",".join(f"{k}={v}" if v else k for k, v in m.tags.items()) for m in models],
        }
        for key in metric_names:
            data[key] = [m.performance_metrics.get(key) for m in models]
        schema: dict[str, Any] = {"model_name": pl.String, "version": pl.String, "model_type": pl.String,
                  "environment": pl.String, "deployed_at": pl.Datetime("us", "UTC"),
                  "created_at": pl.Datetime("us", "UTC"), "config_revision": pl.Int64, "tags": pl.String}
        schema.update({k: pl.Float64 for k in metric_names})
        return pl.DataFrame(data, schema=schema)


def _latest_version(versions: list[Version], include_prerelease: bool = False) -> Version:
    releases = [v for v in versions if include_prerelease or not v.is_prerelease]
    return max(releases or versions)


def _latest(models: list[ModelMetadata], include_prerelease: bool = False) -> ModelMetadata:
    best = _latest_version([m.version for m in models], include_prerelease)
    return next(m for m in models if m.version == best)


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
    elif kind not in _OWN_KINDS and "summary" in extra:
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
