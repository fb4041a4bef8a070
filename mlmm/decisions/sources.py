"""Decisions derived from results: an assessment, a drift check, an A/B test, a tuning run, a canary."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import polars as pl

from .retraining import RetrainingCheck
from .vocabulary import Decision, ab_verdict

if TYPE_CHECKING:
    from ..workspace import Workspace


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


def from_ab(result: Any) -> Decision:
    """The A/B report's decision from :func:`mlmm.ab.evaluate`, by :func:`ab_verdict`:
    deploy_b -> ``deploy`` (version B), keep_a -> ``keep``, continue -> ``continue``, stop ->
    ``roll back`` when B harmed a metric or a guardrail, ``keep`` when the split is broken
    (for an ad-hoc comparison without a stored test, a roll back is an ``alert``: nothing to
    roll back).

    A result judged under another alpha or minimum improvement than the stored test's
    (``result.what_if``) is not ``supported``: applying a deploy or roll back then needs an
    override.
    """
    c = result.config
    verdict = ab_verdict(result)
    decision = verdict.decision
    evidence = {**result.summary_dict(), "alpha": c.alpha, "min_improvement": c.min_improvement,
                "broken_split": verdict.broken_split}
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
    from .. import ab

    live = ws.registry.deployments(model).filter((pl.col("environment") == env) & pl.col("canary_version").is_not_null())
    if not live.height:
        return None
    return ab.canary_check(ws, model, env=env, until=until)
