"""Deployments: approvals, deploy, undeploy, canary traffic, rollback, and what serves where (now
or at any past time)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import polars as pl

from .._util import check_name, current_actor, to_utc
from ..errors import ApprovalRequiredError, ConflictError, NotFoundError, ValidationError
from ..version import Version
from ._common import ENV_RANK, check_env, latest_metadata
from .metadata import ModelMetadata
from .store import RegistryStore

if TYPE_CHECKING:
    import duckdb

__all__ = ["DeploymentsMixin"]

log = logging.getLogger("mlmm")


class DeploymentsMixin(RegistryStore):
    """Approvals, deployments and their state (part of :class:`~mlmm.registry.Registry`)."""

    # ------------------------------------------------------------------ deployments
    def require_approval(self, environment: str, required: bool = True, *, actor: str | None = None, reason: str | None = None) -> None:
        """Make deploying to ``environment`` need an approval by a different actor first."""
        self.ws.set_setting(f"approval.{check_env(environment)}", bool(required), actor=actor, reason=reason)

    def approval_required(self, environment: str) -> bool:
        return bool(self.ws.setting(f"approval.{check_env(environment)}", False))

    def approve(self, name: str, version: str | Version, *, env: str = "production", actor: str | None = None, reason: str | None = None, at: Any = None) -> None:
        """Approve deploying a version to an environment. The approval holds until the
        version's configuration changes; the deployer must be someone else."""
        check_env(env)
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
        check_env(env)
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
        check_env(env)
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
        check_env(env)
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
        check_env(env)
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

    def serving_version(self, name: str, environment: str = "production", *, at: Any = None,
                        or_latest: bool = False) -> ModelMetadata | None:
        """The version of ``name`` deployed in ``environment`` now (or at ``at``), or None.

        This is the one answer to "which version serves in production": the deployed version,
        not a canary beside it (see :meth:`deployments` for canaries).

        Parameters
        ----------
        name
            The model.
        environment
            One of :data:`~mlmm.registry.ENVIRONMENTS` (default ``"production"``).
        at
            A past time: the version that served then, as it was then (time travel). Default now.
        or_latest
            When no version is deployed there, return the latest release (as
            :meth:`get_latest`; at ``at``: the latest registered by then) instead of None.

        Returns
        -------
        ModelMetadata or None
            None when nothing is deployed there and ``or_latest`` is False.

        Raises
        ------
        NotFoundError
            The model is not registered (or, at ``at``, did not exist yet).

        Examples
        --------
        >>> import tempfile, mlmm
        >>> reg = mlmm.open_workspace(tempfile.mkdtemp()).registry
        >>> _ = reg.register("m", "1.0.0"), reg.register("m", "1.1.0")
        >>> reg.serving_version("m") is None, str(reg.serving_version("m", or_latest=True).version)
        (True, '1.1.0')
        >>> _ = reg.deploy("m", "1.0.0")
        >>> reg.set_traffic("m", "1.1.0", 0.1)  # a canary does not change what serves
        >>> str(reg.serving_version("m").version)
        '1.0.0'
        """
        env = check_env(environment)
        when = to_utc(at, "at") if at is not None else None
        with self.ws.connect() as con:
            check_name(name, "name")
            states = self._states(con, name=name, as_of=when)
            if not states:
                if when is None or not con.execute("SELECT 1 FROM versions WHERE model_name = ?", [name]).fetchone():
                    raise NotFoundError(self._missing_model_message(con, name))
                raise NotFoundError(f"model={name!r} did not exist at {when.isoformat()}")
            serving = self._deployment_state(con, name=name, as_of=when).get((name, env), {}).get("version")
            if serving is not None:
                return next(m for m in states if str(m.version) == serving)
            return latest_metadata(states) if or_latest else None

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
        rows.sort(key=lambda r: (r[0], -ENV_RANK[r[1]]))
        return pl.DataFrame(
            rows,
            schema={"model_name": pl.String, "environment": pl.String, "version": pl.String,
                    "since": pl.Datetime("us", "UTC"), "canary_version": pl.String, "canary_share": pl.Float64},
            orient="row",
        )
