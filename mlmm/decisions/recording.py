"""Recording a decision in the model's audited history and, when asked, performing it."""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import logging
import os
import shlex
import subprocess
from typing import TYPE_CHECKING, Any

import polars as pl

from .._util import current_actor, now, parse_duration, to_utc
from ..errors import ValidationError
from .vocabulary import NEEDS_SUPPORT, Decision

if TYPE_CHECKING:
    from ..workspace import Workspace


log = logging.getLogger("mlmm")


@dataclasses.dataclass(frozen=True)
class DecisionRecord:
    """A recorded decision: who, when, whether it was applied and what happened."""

    decision: Decision
    actor: str
    ts: _dt.datetime
    applied: bool
    outcome: str
    override: str | None = None
    job: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"decision": self.decision.to_dict(), "actor": self.actor, "ts": self.ts.isoformat(),
                "applied": self.applied, "outcome": self.outcome, "override": self.override, "job": self.job}

    def __repr__(self) -> str:
        return (f"<DecisionRecord {self.decision.decision} {self.decision.model or ''} by {self.actor}"
                f"{' (override)' if self.override else ''}: {self.outcome}>")


def record_decision(ws: Workspace, decision: Decision, *, actor: str | None = None, apply: bool = False,
                    override: str | None = None, job: str | None = None, at: Any = None) -> DecisionRecord:
    """Append ``decision`` to the model's history (event ``decision``) and, with
    ``apply=True``, perform it (see the module docstring). Returns the :class:`DecisionRecord`.

    Raises :class:`ValidationError` for an empty reason, a decision without a model, or an
    unsupported deploy / roll back applied without an ``override`` reason. When the action
    itself fails, the attempt is recorded (``applied`` False, the error as outcome) and the
    error raised.
    """
    if not str(decision.reason).strip():
        raise ValidationError("reason='': expected why (it is recorded with the decision)")
    if not decision.model:
        raise ValidationError("model=None: a decision is recorded in a model's history; expected a model name")
    if override is not None and not str(override).strip():
        raise ValidationError("override='': expected why the decision goes against the statistics")
    if apply and decision.decision in NEEDS_SUPPORT and not decision.supported and not override:
        raise ValidationError(
            f"override=None: {decision.decision!r} is not supported by the statistics ({decision.reason});"
            " expected an override reason to do it anyway")
    _check_target(ws, decision)
    who = current_actor(actor)
    when = to_utc(at, "at") if at is not None else now()
    applied, outcome, error = False, "recorded", None
    if apply and decision.decision != "continue":
        try:
            outcome = _apply(ws, decision, who, override)
            applied = decision.is_action or decision.test_id is not None
        except Exception as exc:
            error = exc
            outcome = f"failed: {type(exc).__name__}: {exc}"
    elif decision.is_action:
        outcome = "recorded, not applied"
    summary = f"{decision.decision}: {decision.reason}"
    if override:
        summary += f" (override: {override})"
    details = {"decision": decision.decision, "source": decision.source, "test_id": decision.test_id,
               "target_version": decision.version, "env": decision.env, "supported": decision.supported,
               "override": override, "applied": applied, "outcome": outcome, "job": job,
               "changes": decision.changes, "evidence": decision.to_dict()["evidence"]}
    ws.registry.record(decision.model, decision.version, kind="decision", summary=summary, details=details, actor=who,
                       reason=f"override: {override}" if override else (f"schedule {job}" if job else "decision"),
                       at=when)
    if error is not None:
        raise error
    log.info("decision %s for %s by %s: %s", decision.decision, decision.model, who, outcome)
    return DecisionRecord(decision, who, when, applied, outcome, override, job)


def _check_target(ws: Workspace, d: Decision) -> None:
    """Before anything is done: the model (and version) exist, and an A/B decision names the
    test's own model and one of its two versions."""
    meta = ws.registry.get(d.model, d.version) if d.version else ws.registry.get_latest(d.model)
    if d.test_id is not None:
        from .. import ab

        test = ab.get_test(ws, d.test_id)
        if test.config.model != d.model:
            raise ValidationError(f"model={d.model!r}: test {d.test_id} is about {test.config.model};"
                                  " expected that model")
        if d.version is not None and d.version not in (test.config.version_a, test.config.version_b):
            raise ValidationError(f"version={d.version!r}: test {d.test_id} compares {test.config.version_a} and"
                                  f" {test.config.version_b}; expected one of them")
    elif d.decision == "roll back" and d.version is not None:
        live = ws.registry.deployments(d.model).filter(pl.col("environment") == d.env)
        serving = {live["version"][0], live["canary_version"][0]} - {None} if live.height else set()
        if str(meta.version) not in serving:
            raise ValidationError(f"version={d.version!r}: {d.model} serves {', '.join(sorted(serving)) or 'nothing'}"
                                  f" in {d.env}; expected the version to roll back")


def _end_canary(ws: Workspace, model: str, version: str, actor: str, reason: str) -> bool:
    canary = ws.registry.deployments(model).filter(
        (pl.col("environment") == "production") & (pl.col("canary_version") == version))
    if canary.height:
        ws.registry.rollback(model, env="production", actor=actor, reason=reason)
    return bool(canary.height)


def _apply(ws: Workspace, d: Decision, actor: str, override: str | None) -> str:
    from .. import ab

    reason = d.reason + (f" (override: {override})" if override else "")
    if d.test_id is not None:
        if d.decision == "deploy":
            test = ab.decide(ws, d.test_id, "deploy_b", actor=actor, reason=reason, apply=True)
            return f"A/B test {d.test_id} closed; {test.config.model} {test.config.version_b} deployed to production"
        if d.decision == "keep":
            broken = bool(d.evidence.get("broken_split"))  # the test stops: its data cannot be trusted
            test = ab.decide(ws, d.test_id, "stop" if broken else "keep_a", actor=actor, reason=reason)
            ended = _end_canary(ws, test.config.model, test.config.version_b, actor, reason)
            return (f"A/B test {d.test_id} {'stopped (broken split),' if broken else 'closed'} keeping"
                    f" {test.config.version_a}"
                    + (f"; canary {test.config.version_b} ended" if ended else ""))
        if d.decision == "roll back":
            test = ab.decide(ws, d.test_id, "stop", actor=actor, reason=reason)
            if _end_canary(ws, test.config.model, test.config.version_b, actor, reason):
                return f"A/B test {d.test_id} stopped; canary {test.config.version_b} ended"
            return f"A/B test {d.test_id} stopped"
    if d.decision == "deploy":
        if d.source == "tuning" and not d.changes:
            return "already applied by the tuning run"
        if d.changes:
            if not d.version:
                raise ValidationError("version=None: a configuration change needs the version it applies to")
            ws.registry.update_config(d.model, d.version, d.changes, actor=actor, reason=reason)
            return f"configuration of {d.model} {d.version} set to {d.changes}"
        if not d.version:
            raise ValidationError("version=None: a deploy needs the version to deploy")
        ws.registry.deploy(d.model, d.version, env=d.env, actor=actor, reason=reason)
        return f"{d.model} {d.version} deployed to {d.env}"
    if d.decision == "roll back":
        serving = ws.registry.rollback(d.model, env=d.env, actor=actor, reason=reason)
        return f"{d.model} rolled back in {d.env}; {serving.version} serves"
    if d.decision == "retrain requested":
        return _retrain(ws, d, actor)
    if d.decision == "alert":
        from .. import alerts

        started = now()
        alert = alerts.raise_alert(ws, d.model, message=d.reason, version=d.version, actor=actor,
                                   rule=f"{d.source}_decision", severity=str(d.evidence.get("severity", "warning")),
                                   details={"source": d.source, "evidence": d.to_dict()["evidence"]})
        if alert.updated_at < started:
            return f"alert {alert.alert_id} already open ({alert.severity}, raised {alert.raised_at:%Y-%m-%d %H:%M} UTC)"
        return f"alert {alert.alert_id} ({alert.severity}, {alert.status})"
    return "nothing to do"


def _retrain(ws: Workspace, d: Decision, actor: str) -> str:
    from ..config import load_config
    from ..errors import MlmmError

    conf = load_config(ws)["retraining"]
    cooldown = parse_duration(conf["cooldown"], "[retraining] cooldown")
    earlier = decisions(ws, d.model).filter(
        (pl.col("decision") == "retrain requested") & pl.col("applied").fill_null(False)
        & (pl.col("version").eq_missing(d.version)) & (pl.col("ts") > now() - cooldown))
    if earlier.height:
        first = earlier.row(-1, named=True)
        return (f"retraining already requested at {first['ts']:%Y-%m-%d %H:%M} UTC by {first['actor']};"
                f" not requested again within the {conf['cooldown']} cooldown")
    command = conf.get("command")
    if not command:
        return "retraining requested (no [retraining] command configured in mlmm.toml)"
    env = dict(os.environ, MLMM_MODEL=d.model or "", MLMM_VERSION=d.version or "", MLMM_REASON=d.reason,
               MLMM_EVIDENCE=json.dumps(d.to_dict()["evidence"]), MLMM_ACTOR=actor, MLMM_HOME=str(ws.path))
    argv = shlex.split(command) if isinstance(command, str) else [str(x) for x in command]
    try:
        done = subprocess.run(argv, env=env, cwd=ws.path, capture_output=True, timeout=600, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise MlmmError(f"[retraining] command={command!r}: {exc}; expected an executable that starts the"
                        f" retraining and returns within 10 minutes (relative paths are resolved in {ws.path})") from None
    if done.returncode != 0:
        raise MlmmError(f"[retraining] command {argv[0]} exited {done.returncode}: "
                        f"{done.stderr.decode(errors='replace').strip()[-300:]}")
    return f"retraining command {argv[0]} ran (exit 0)"


def decisions(ws: Workspace, model: str | None = None) -> pl.DataFrame:
    """Recorded decisions, newest first: when, model, version, decision, summary, actor,
    reason, source, test, applied, outcome, override, job and the full ``details`` (JSON)."""
    from .._util import check_name

    sql = "SELECT ts, model_name, version, actor, reason, details FROM events WHERE kind = 'decision'"
    params: list[Any] = []
    if model is not None:
        sql += " AND model_name = ?"
        params.append(check_name(model, "model"))
    with ws.connect() as con:
        found = con.execute(sql + " ORDER BY seq DESC", params).fetchall()
    rows = []
    for ts, name, version, actor, reason, details in found:
        det = json.loads(details) if details else {}
        rows.append({"ts": ts.replace(tzinfo=_dt.UTC), "model_name": name, "version": version,
                     "decision": det.get("decision"), "summary": det.get("summary"), "actor": actor, "reason": reason,
                     "source": det.get("source"), "test_id": det.get("test_id"), "applied": det.get("applied"),
                     "outcome": det.get("outcome"), "override": det.get("override"), "job": det.get("job"),
                     "details": details})
    schema = {"ts": pl.Datetime("us", "UTC"), "model_name": pl.String, "version": pl.String, "decision": pl.String,
              "summary": pl.String, "actor": pl.String, "reason": pl.String, "source": pl.String,
              "test_id": pl.String, "applied": pl.Boolean, "outcome": pl.String, "override": pl.String,
              "job": pl.String, "details": pl.String}
    return pl.DataFrame(rows, schema=schema)
