"""Decisions: what a report, a schedule or a person concludes, recorded and (optionally) done.

Every report notebook ends in a :class:`Decision`: ``deploy``, ``keep``, ``continue``,
``roll back``, ``retrain requested`` or ``alert``, with the reason and the evidence. The
``from_*`` functions derive it from a result (``from_assessment``, ``from_drift``,
``from_ab``, ``from_tuning``, ``from_canary``); a person can write one directly.

:func:`record_decision` appends an audited ``decision`` event to the model's registry
history (actor = the person, or ``schedule:<job>``) and, with ``apply=True``, performs the
action through the registry:

================== ==========================================================================
decision           action with ``apply=True``
================== ==========================================================================
deploy             an A/B test: deploy version B (``ab.decide(..., "deploy_b")``); a tuning
                   result: the new configuration as a revision; otherwise deploy ``version``
keep               an A/B test: close it keeping A; otherwise nothing
continue           nothing (the test or the watch goes on)
roll back          an A/B test: stop it and end B's canary; otherwise ``registry.rollback``
retrain requested  the workspace's retraining command (``[retraining] command`` in
                   ``mlmm.toml``), with the model and the evidence in its environment
alert              an alert (rule ``decision``) in the alert log, with its hooks
================== ==========================================================================

A deploy or roll back that the statistics do not support (``supported=False``, e.g. deploy B
without significance) is refused unless an ``override`` reason is given; it is then
recorded as an override.

Retraining triggers follow seed 002 (``AutomatedRetrainingSystem``): performance below the
floor on at least 100 labelled predictions of the last day, data drift over the last
7 days, data volume (labelled predictions since the version was registered) and age
(days since the version was registered; the seed's ``retraining_schedule_days=7``).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import logging
import os
import shlex
import subprocess
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import polars as pl

from ._util import current_actor, now, parse_duration, to_utc
from .errors import ValidationError

if TYPE_CHECKING:
    from .workspace import Workspace

__all__ = ["DECISIONS", "Decision", "DecisionRecord", "RetrainingCheck", "Trigger", "decisions", "from_ab",
           "from_assessment", "from_canary", "from_drift", "from_tuning", "record_decision", "retraining_check",
           "running_canary"]

log = logging.getLogger("mlmm")

DECISIONS = ("deploy", "keep", "continue", "roll back", "retrain requested", "alert")
ACTIONS = frozenset({"deploy", "roll back", "retrain requested", "alert"})
_NEEDS_SUPPORT = frozenset({"deploy", "roll back"})

# seed 002 AutomatedRetrainingSystem defaults; overridden by [retraining] in mlmm.toml
RETRAINING_DEFAULTS: dict[str, Any] = {
    "window": "24h",  # seed: _load_recent_predictions(days=1)
    "min_labelled": 100,  # seed: "Need minimum samples" (100)
    "accuracy_floor": None,  # None: the model's alert_accuracy (seed 002 default 0.85 when the model has none)
    "drift_window": "7d",  # seed: _load_recent_features(days=7)
    "max_age": "7d",  # seed: retraining_schedule_days = 7
    "min_new_labels": 50_000,  # data volume: labelled rows since the version was registered
    "command": None,  # run on "retrain requested" when applied (in the workspace directory, 10 min at most)
    "cooldown": "7d",  # an applied request is not repeated for the same version within this (seed: weekly)
}
_SEED_FLOOR = 0.85  # seed 002 accuracy_threshold


@dataclasses.dataclass(frozen=True)
class Decision:
    """A conclusion and, for an action, what it acts on.

    ``version`` is the version a deploy targets (or the one judged); ``changes`` a
    configuration a deploy writes (tuning); ``supported`` is False when the statistics do
    not back the action (then recording it with ``apply`` needs an override reason).
    """

    decision: str
    reason: str
    model: str | None = None
    version: str | None = None
    env: str = "production"
    source: str = "manual"
    test_id: str | None = None
    supported: bool = True
    evidence: dict[str, Any] = dataclasses.field(default_factory=dict)
    changes: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.decision not in DECISIONS:
            raise ValidationError(f"decision={self.decision!r}: expected one of {', '.join(DECISIONS)}")
        if not isinstance(self.supported, bool):  # e.g. the method ABTestResult.should_deploy_b, not its value
            raise ValidationError(f"supported={self.supported!r}: expected True or False")

    @property
    def is_action(self) -> bool:
        return self.decision in ACTIONS

    def to_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(dataclasses.asdict(self), default=str))

    def __repr__(self) -> str:
        what = " ".join(x for x in (self.model, self.version, f"[{self.test_id}]" if self.test_id else None) if x)
        flag = "" if self.supported else " (not supported by the statistics)"
        return f"<Decision {self.decision}{flag} {what}: {self.reason}>"


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


# ----------------------------------------------------------------------------- recording
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
    if apply and decision.decision in _NEEDS_SUPPORT and not decision.supported and not override:
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
        from . import ab

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
    from . import ab

    reason = d.reason + (f" (override: {override})" if override else "")
    if d.test_id is not None:
        if d.decision == "deploy":
            test = ab.decide(ws, d.test_id, "deploy_b", actor=actor, reason=reason, apply=True)
            return f"A/B test {d.test_id} closed; {test.config.model} {test.config.version_b} deployed to production"
        if d.decision == "keep":
            test = ab.decide(ws, d.test_id, "keep_a", actor=actor, reason=reason)
            ended = _end_canary(ws, test.config.model, test.config.version_b, actor, reason)
            return (f"A/B test {d.test_id} closed keeping {test.config.version_a}"
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
        from . import alerts

        started = now()
        alert = alerts.raise_alert(ws, d.model, message=d.reason, version=d.version, actor=actor,
                                   rule=f"{d.source}_decision", severity=str(d.evidence.get("severity", "warning")),
                                   details={"source": d.source, "evidence": d.to_dict()["evidence"]})
        if alert.updated_at < started:
            return f"alert {alert.alert_id} already open ({alert.severity}, raised {alert.raised_at:%Y-%m-%d %H:%M} UTC)"
        return f"alert {alert.alert_id} ({alert.severity}, {alert.status})"
    return "nothing to do"


def _retrain(ws: Workspace, d: Decision, actor: str) -> str:
    from .config import load_config
    from .errors import MlmmError

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
    from ._util import check_name

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


# ----------------------------------------------------------------------------- retraining triggers
@dataclasses.dataclass(frozen=True)
class Trigger:
    """One retraining trigger: fired True/False, or None when it could not be evaluated."""

    name: str  # performance, drift, data_volume, age
    fired: bool | None
    detail: str
    value: float | None = None
    threshold: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class RetrainingCheck:
    """Seed 002's ``should_retrain``: each trigger with its evidence."""

    model: str
    version: str | None
    at: _dt.datetime
    triggers: tuple[Trigger, ...]

    @property
    def fired(self) -> list[Trigger]:
        return [t for t in self.triggers if t.fired]

    @property
    def should_retrain(self) -> bool:
        return bool(self.fired)

    @property
    def reason(self) -> str:
        if not self.fired:
            return "no retraining trigger fired"
        return "; ".join(f"{t.name}: {t.detail}" for t in self.fired)

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "version": self.version, "at": self.at.isoformat(),
                "should_retrain": self.should_retrain, "triggers": [t.to_dict() for t in self.triggers]}

    def to_frame(self) -> pl.DataFrame:
        return pl.DataFrame([t.to_dict() for t in self.triggers],
                            schema={"name": pl.String, "fired": pl.Boolean, "detail": pl.String,
                                    "value": pl.Float64, "threshold": pl.Float64})

    def __repr__(self) -> str:
        return f"<RetrainingCheck {self.model} {self.version}: {self.reason}>"


def retraining_check(ws: Workspace, model: str, *, until: Any = None, settings: Mapping[str, Any] | None = None,
                     assessment: Any = None, drift: Any = None) -> RetrainingCheck:
    """Evaluate the four retraining triggers for the model's production version (else its
    latest) at ``until`` (default: the model's newest prediction). ``settings`` overrides
    ``[retraining]`` of ``mlmm.toml``; an ``assessment`` (from :func:`mlmm.monitor.assess`)
    or a drift check already computed is reused."""
    from . import feature_drift, monitor
    from .config import load_config

    conf = {**load_config(ws)["retraining"], **dict(settings or {})}
    end = to_utc(until, "until") if until is not None else (monitor.last_prediction_time(ws, model) or now())
    version = str(ws.registry.serving_version(model, or_latest=True).version)
    meta = ws.registry.get(model, version)
    triggers = []

    # 1. performance below the floor
    floor = conf.get("accuracy_floor")
    if floor is None:
        floor = monitor.floor_of(dict(meta.configuration))[0] or _SEED_FLOOR
    reuse = (assessment is not None and assessment.version == version
             and assessment.metrics.window.label == f"last {conf['window']}"
             and int(conf["min_labelled"]) == monitor.DEFAULT_MIN_LABELLED)
    m = assessment.metrics if reuse else monitor.metrics(
        ws, model, version, last=conf["window"], until=end, min_labelled=int(conf["min_labelled"]))
    if not m.sufficient or m.accuracy.value is None:
        triggers.append(Trigger("performance", None, m.message, None, float(floor)))
    else:
        acc = float(m.accuracy.value)
        below = acc < float(floor)
        triggers.append(Trigger("performance", below, f"accuracy {acc:.3f} {'<' if below else '>='} floor {floor:.2f}"
                                f" on {m.labelled:,} labelled predictions ({m.window.label})", acc, float(floor)))

    # 2. data drift against the stored reference
    if drift is None:
        try:
            drift = feature_drift.check(ws, model, current=conf["drift_window"], until=end, record=False)
        except Exception as exc:  # no reference stored, no features: not evaluated
            drift = exc
    if isinstance(drift, Exception):
        triggers.append(Trigger("drift", None, f"not evaluated: {drift}"))
    else:
        n = len(drift.drifted_columns)
        triggers.append(Trigger("drift", drift.dataset_drift,
                                f"{n} of {len(drift.report.columns)} features drifted over the last {conf['drift_window']}"
                                + (f" ({', '.join(drift.drifted_columns[:5])})" if n else "")
                                + (" (dataset drift)" if drift.dataset_drift else ""),
                                float(drift.report.drifted_share), float(drift.report.drift_share)))

    # 3. data volume: labelled predictions since the version was registered
    since = meta.created_at
    volume = monitor.metrics(ws, model, version, since=since, until=end, min_labelled=0).labelled
    need = int(conf["min_new_labels"])
    triggers.append(Trigger("data_volume", volume >= need,
                            f"{volume:,} labelled predictions since {version} was registered (retrain at {need:,})",
                            float(volume), float(need)))

    # 4. age
    max_age = parse_duration(conf["max_age"], "max_age")
    age = end - since
    triggers.append(Trigger("age", age >= max_age, f"{age.days} days since {version} was registered"
                            f" (retrain every {max_age.days} days)", age.total_seconds() / 86400,
                            max_age.total_seconds() / 86400))
    return RetrainingCheck(model, version, end, tuple(triggers))


# ----------------------------------------------------------------------------- from results
def from_assessment(assessment: Any, *, retraining: RetrainingCheck | None = None,
                    canary: Any = None) -> Decision:
    """The monitoring report's decision.

    - an unhealthy canary (``canary.verdict`` worse / below floor) -> ``roll back``;
    - too few labelled rows -> ``continue`` (wait for labels);
    - a retraining trigger fired -> ``retrain requested`` with the triggers as evidence;
    - below the floor or significantly degraded without a trigger -> ``alert``;
    - otherwise ``keep``.
    """
    a = assessment
    evidence: dict[str, Any] = {"status": a.status, "accuracy": a.metrics.accuracy.value, "labelled": a.metrics.labelled,
                                "floor": a.floor, "degradation": a.degradation.level,
                                "concept_drift": bool(getattr(a.drift, "drift_detected", False))}
    if retraining is not None:
        evidence["triggers"] = [t.to_dict() for t in retraining.triggers]
    if canary is not None and getattr(canary, "verdict", None) in ("worse", "below floor"):
        evidence["canary"] = canary.to_dict()
        return Decision("roll back", f"canary {canary.canary}: {canary.reason}", a.model, canary.canary,
                        env=canary.env, source="monitoring", evidence=evidence)
    if a.status == "insufficient data":
        return Decision("continue", a.metrics.message, a.model, a.version, source="monitoring", evidence=evidence)
    if retraining is not None and retraining.should_retrain:
        return Decision("retrain requested", retraining.reason, a.model, a.version, source="monitoring",
                        evidence=evidence)
    if a.status in ("below floor", "degraded"):
        evidence["severity"] = a.floor_severity if a.status == "below floor" else a.degradation.alarm_level
        return Decision("alert", a.conclusion, a.model, a.version, source="monitoring", evidence=evidence)
    return Decision("keep", a.conclusion, a.model, a.version, source="monitoring", evidence=evidence)


def from_drift(check: Any, *, retraining: RetrainingCheck | None = None) -> Decision:
    """The drift report's decision: dataset drift -> ``retrain requested``; some columns
    drifted -> ``alert``; none -> ``keep``."""
    report = check.report
    evidence = {"dataset_drift": check.dataset_drift, "drifted_columns": check.drifted_columns,
                "drifted_share": report.drifted_share, "drift_share": report.drift_share,
                "reference": check.reference, "current": check.current}
    if retraining is not None:
        evidence["triggers"] = [t.to_dict() for t in retraining.triggers]
    n, total = len(check.drifted_columns), len(report.columns)
    if check.dataset_drift:
        return Decision("retrain requested", f"dataset drift: {n} of {total} features drifted"
                        f" ({', '.join(check.drifted_columns[:5])})", check.model, check.version, source="drift",
                        evidence=evidence)
    if n:
        evidence["severity"] = "warning"
        return Decision("alert", f"{n} of {total} features drifted ({', '.join(check.drifted_columns[:5])}),"
                        " below the dataset drift share", check.model, check.version, source="drift", evidence=evidence)
    return Decision("keep", f"no feature drifted ({total} checked)", check.model, check.version, source="drift",
                    evidence=evidence)


_AB_MAP = {"deploy_b": "deploy", "keep_a": "keep", "continue": "continue", "stop": "roll back"}
# which A/B recommendations back each decision (the panel and ``mlmm decide --test`` use it)
AB_BACKED_BY = {"deploy": ("deploy_b",), "keep": ("keep_a", "stop"), "continue": ("continue",), "roll back": ("stop",)}


def from_ab(result: Any) -> Decision:
    """The A/B report's decision from :func:`mlmm.ab.evaluate`: deploy_b -> ``deploy``
    (version B), keep_a -> ``keep``, continue -> ``continue``, stop -> ``roll back`` (for an
    ad-hoc comparison without a stored test: ``alert``, nothing to roll back).

    A result judged under another alpha or minimum improvement than the stored test's
    (``result.what_if``) is not ``supported``: applying a deploy or roll back then needs an
    override.
    """
    c = result.config
    decision = _AB_MAP.get(result.recommendation, "continue")
    evidence = {**result.summary_dict(), "alpha": c.alpha, "min_improvement": c.min_improvement}
    if result.test_id is None and decision == "roll back":
        # an ad-hoc comparison has no split or canary to roll back: say so, act on nothing
        evidence["severity"] = "warning"
        return Decision("alert", f"ad-hoc comparison {c.version_a} vs {c.version_b}: {result.reason}", c.model,
                        c.version_b, source="ab", evidence=evidence)
    version = c.version_b if decision in ("deploy", "roll back") else c.version_a
    supported = not getattr(result, "what_if", None)  # judged under the stored test's own rule
    return Decision(decision, result.reason, c.model, version, source="ab", test_id=result.test_id,
                    supported=supported, evidence=evidence)


def from_tuning(run: Any) -> Decision:
    """The tuning report's decision: a setting that clears the minimum improvement ->
    ``deploy`` of the new configuration (``changes``); otherwise ``keep``. The deploy is
    ``supported`` only when the improvement's interval excludes a loss (a scheduled job
    applies only supported decisions)."""
    evidence = {"objective": run.objective, "current": run.current, "best": run.best, "improvement": run.improvement,
                "improvement_low": run.improvement_low, "improvement_high": run.improvement_high,
                "applied": run.applied, "run_id": run.run_id}
    if not run.clears_minimum:
        return Decision("keep", run.summary, run.model, run.version, source="tuning", evidence=evidence)
    # the point estimate clears the minimum; an unattended change also wants the interval clear of a loss
    certain = run.improvement_low is not None and run.improvement_low > 0
    if run.kind == "grid":  # current/best hold the detector's parameters under "params"
        best, current = dict(run.best.get("params", {})), dict(run.current.get("params", {}))
    else:
        best, current = {"threshold": run.best["threshold"]}, {"threshold": run.current["threshold"]}
    changes = {k: v for k, v in best.items() if v != current.get(k)}
    return Decision("deploy", run.summary, run.model, run.version, source="tuning", evidence=evidence,
                    changes=None if run.applied else changes, supported=certain or run.applied)


def from_canary(result: Any) -> Decision:
    """A canary check's decision: unhealthy -> ``roll back``; healthy -> ``continue``;
    too few rows -> ``continue``."""
    evidence = result.to_dict()
    if result.verdict in ("worse", "below floor"):
        return Decision("roll back", result.reason, result.model, result.canary, env=result.env, source="canary",
                        evidence=evidence)
    return Decision("continue", result.reason, result.model, result.canary, env=result.env, source="canary",
                    evidence=evidence)


def running_canary(ws: Workspace, model: str, *, env: str = "production", until: Any = None) -> Any:
    """The :func:`mlmm.ab.canary_check` of the model's running canary in ``env``, or None
    when no canary runs there (for :func:`from_assessment`)."""
    from . import ab

    live = ws.registry.deployments(model).filter((pl.col("environment") == env) & pl.col("canary_version").is_not_null())
    if not live.height:
        return None
    return ab.canary_check(ws, model, env=env, until=until)
