"""Model versions: register, read (latest, by type, environment, tag or metric), update, delete
and restore, and the tables of models and versions."""

from __future__ import annotations

import dataclasses
import logging
import operator
import re
from collections.abc import Iterable, Mapping
from typing import Any

import polars as pl

from .._util import check_name, current_actor, naive_utc, now, to_utc
from ..errors import ConflictError, NotFoundError, ValidationError
from ..version import Version
from ._common import (
    check_env,
    check_mapping,
    check_metrics,
    check_tags,
    latest_metadata,
    latest_version,
    thaw,
)
from .metadata import ModelMetadata, ModelType
from .store import RegistryStore

__all__ = ["ModelsMixin"]

log = logging.getLogger("mlmm")

_METRIC_FILTER_RE = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*(>=|<=|==|!=|>|<|=)\s*(-?[\d.]+(?:e-?\d+)?)\s*$")
_OPS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le,
        "==": operator.eq, "=": operator.eq, "!=": operator.ne}


class ModelsMixin(RegistryStore):
    """Registering, reading and changing versions (part of :class:`~mlmm.registry.Registry`)."""

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
                        + str(latest_version([Version.parse(v) for (v,) in existing]).bump("patch"))
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
            return latest_metadata(states)

    def get_latest(self, name: str, *, include_prerelease: bool = False) -> ModelMetadata:
        """The highest version by semantic-version precedence. Pre-releases count only when
        ``include_prerelease`` or when no release exists (as pip does)."""
        with self.ws.connect() as con:
            versions = self._states(con, name=check_name(name, "name"))
            if not versions:
                raise NotFoundError(self._missing_model_message(con, name))
        return latest_metadata(versions, include_prerelease=include_prerelease)

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
        env = check_env(environment)
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
        env = check_env(environment) if environment is not None else None
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
                base = thaw(current.configuration) if merge else {}
                new_config = {**base, **check_mapping(config, "config")}
                for key in remove:
                    if key not in new_config:
                        raise ValidationError(f"remove={key!r}: not a configuration key of {name} {current.version}")
                    new_config.pop(key)
                if new_config == thaw(current.configuration):
                    new_config = None  # no new revision for a no-op
            if metrics is not None:
                new_metrics = {**(dict(current.performance_metrics) if merge else {}), **check_metrics(metrics)}
            if tags is not None:
                new_tags = {**(dict(current.tags) if merge else {}), **check_tags(tags)}
            if new_config is None and new_metrics is None and new_tags is None and description is None:
                return current
            kind = "config" if new_config is not None else "metrics" if new_metrics is not None else "updated"
            self._event(con, kind, name, str(current.version), actor=actor, reason=reason, config=new_config,
                        metrics=new_metrics, description=description, tags=new_tags)
            return self._require(con, name, current.version)

    def update_config(self, name: str, version: str | Version, changes: Mapping[str, Any], **kwargs: Any) -> ModelMetadata:
        """Merge ``changes`` into a version's configuration (a new revision)."""
        return self.update(name, version, config=changes, **kwargs)

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

    def models(self) -> pl.DataFrame:
        """One row per model: type, version count, latest version, what serves in each environment."""
        versions = self.all_versions()
        deployed = self.deployments()
        by_env = {(r["model_name"], r["environment"]): r for r in deployed.iter_rows(named=True)}
        rows = []
        for name in sorted({m.name for m in versions}):
            mine = [m for m in versions if m.name == name]
            latest = latest_metadata(mine)
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
