"""A/B tests, rollout plans, canary health, shadow and interleaving comparisons.

The A/B service (seed 000 ``ABTestingService``) on the prediction log. The pure core first,
then the services bound to a workspace:

- :mod:`~mlmm.ab.config`: :class:`ABTestConfig` (frozen, validated) with the seed's presets;
  :data:`DECISIONS`.
- :mod:`~mlmm.ab.router`: the deterministic, sticky traffic router (``Router``, ``bucket``,
  ``assign``, ``assign_many``, ``arm``); reach it as ``mlmm.ab.router`` (its ``assign`` is not
  :func:`mlmm.ab.assign`).
- :mod:`~mlmm.ab.analysis`: :func:`analyze` turns both versions' counts into an
  :class:`ABTestResult`: per-version metrics with intervals, the difference and relative lift
  with intervals, the fixed-horizon p-value, a **peeking-safe** verdict (mixture SPRT,
  :func:`mlmm.stats.always_valid_test`, valid however often the test is looked at), the
  sample-ratio check, the sample size needed and days remaining, guardrails, and a
  recommendation (deploy B / keep A / continue / stop) with the reason in words; the decision
  rule is in that module's docstring. :mod:`~mlmm.ab.charts` draws a result.
- :mod:`~mlmm.ab.interleaving`: :func:`team_draft_interleave` / :func:`interleaving_preference`
  (seed 003).
- :mod:`~mlmm.ab.store`: tests stored in the registry (append-only ``ab_tests`` events:
  created, started, stopped, evaluated, decided) with actor and reason, so every decision is
  audited: :func:`create_test`, :func:`get_test`, :func:`list_tests`, :func:`assign`,
  :func:`stop`, :func:`decide`, :func:`record_evaluation`, :func:`evaluations`.
- :mod:`~mlmm.ab.evaluation`: :func:`evaluate` a stored test (or a config) on the prediction
  log; :func:`cumulative_lift`, its history per day.
- :mod:`~mlmm.ab.rollout`: :func:`rollout_plan` (seed ``generateRolloutPlan``): steps with the
  sample size each needs to catch a regression and its duration at recent traffic; executed
  canary phases (registry traffic events) get a sample-ratio check each.
- :mod:`~mlmm.ab.canary`: :func:`canary_check`: the canary version against the stable one as a
  sequential guardrail; significantly worse, or below the model's floor, rolls it back (a
  registry rollback event with the reason) when ``apply=True``.
- :mod:`~mlmm.ab.shadow`: :func:`shadow_compare` (both versions scored the same requests:
  McNemar and a paired bootstrap) and :func:`shadow_from_log`.
- :mod:`~mlmm.ab.gate`: :func:`validate` (seed 002 "model validation"): a candidate against the
  floors and the version in production.
"""

from __future__ import annotations

from .analysis import ABTestResult, ArmMetrics, analyze, cumulative_difference, recommend
from .canary import CanaryResult, canary_check
from .charts import lift_chart, result_chart
from .config import DECISIONS, PROPORTION_METRICS, ABTestConfig
from .evaluation import cumulative_lift, evaluate
from .gate import ValidationResult, validate
from .interleaving import interleaving_preference, team_draft_interleave
from .rollout import RolloutPlan, rollout_plan
from .shadow import ShadowResult, shadow_compare, shadow_from_log
from .store import (
    StoredTest,
    assign,
    create_test,
    decide,
    evaluations,
    get_test,
    list_tests,
    record_evaluation,
    stop,
)

__all__ = [
    "DECISIONS",
    "PROPORTION_METRICS",
    "ABTestConfig",
    "ABTestResult",
    "ArmMetrics",
    "CanaryResult",
    "RolloutPlan",
    "ShadowResult",
    "StoredTest",
    "ValidationResult",
    "analyze",
    "assign",
    "canary_check",
    "create_test",
    "cumulative_difference",
    "cumulative_lift",
    "decide",
    "evaluate",
    "evaluations",
    "get_test",
    "interleaving_preference",
    "lift_chart",
    "list_tests",
    "record_evaluation",
    "recommend",
    "result_chart",
    "rollout_plan",
    "shadow_compare",
    "shadow_from_log",
    "stop",
    "team_draft_interleave",
    "validate",
]
