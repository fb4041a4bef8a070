"""The demo's scripted month: the three models, their versions, the deployment events and the
drift episodes, written for a 30-day window (:func:`mlmm.demo.data.generate` scales it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["DRIFT_END", "DRIFT_RAMP", "DRIFT_RESIDUAL", "DRIFT_START", "EPISODES", "EVENTS", "MODELS",
           "QUEUE_SLOWDOWN", "ROLLOUT_REASON", "SHIFT_START", "VERSIONS", "ModelSpec", "VersionSpec"]

DRIFT_RESIDUAL = 0.35  # drift strength left after the episode (partial recovery)
QUEUE_SLOWDOWN = 1.6  # factor on every duration_s after the infrastructure change


@dataclass(frozen=True)
class VersionSpec:
    """A version in the story: when it is registered, its configuration and its target quality."""

    model_name: str
    version: str
    registered_day: float  # story day; negative days are before start and not scaled
    config: dict[str, Any]
    accuracy: float  # target on live data before any drift
    recall: float
    description: str


@dataclass(frozen=True)
class ModelSpec:
    """A model in the story: its id prefix, daily volume, base rate, team and framework."""

    name: str
    prefix: str
    rows_per_day: int
    base_rate: float
    team: str
    framework: str


def _day(day: int, hour: int = 0) -> float:
    return day + hour / 24


MODELS = (
    ModelSpec("n1-detector", "n1-", 1_500, 0.15, "platform-performance", "scikit-learn"),
    ModelSpec("waf-behavioral", "waf-", 6_000, 0.06, "security", "lightgbm"),
    ModelSpec("queue-anomaly", "queue-", 600, 0.08, "infrastructure", "statistical"),
)

_QUEUE_BASE = {"threshold": 0.6, "zscore_threshold": 3.0, "iqr_multiplier": 1.5, "window_size": 100}

VERSIONS = (
    VersionSpec(
        "n1-detector", "1.0.0", _day(-45, 10), {"threshold": 0.7}, 0.90, 0.80,
        "Gradient-boosted classifier that flags requests whose database queries follow an N+1 pattern.",
    ),
    VersionSpec(
        "n1-detector", "1.1.0", _day(9, 2), {"threshold": 0.75}, 0.93, 0.87,
        "Retrained N+1 detector with per-endpoint query statistics and a stricter threshold.",
    ),
    VersionSpec(
        "waf-behavioral", "2.0.0", _day(-70, 10), {"threshold": 0.7}, 0.93, 0.75,
        "Behavioural WAF model that scores client sessions for attack patterns from request statistics.",
    ),
    VersionSpec(
        "waf-behavioral", "2.1.0", _day(10, 10), {"threshold": 0.7}, 0.945, 0.84,
        "WAF model retrained on three more months of traffic, with payload entropy features.",
    ),
    VersionSpec(
        "queue-anomaly", "1.2.0", _day(-20, 10), dict(_QUEUE_BASE), 0.85, 0.82,
        "Statistical detector that flags queue jobs whose duration or memory is abnormal for their job type.",
    ),
    VersionSpec(
        "queue-anomaly", "1.3.0", _day(11, 11),
        {"threshold": 0.55, "zscore_threshold": 2.5, "iqr_multiplier": 1.5, "window_size": 200},
        0.80, 0.70,
        "Queue detector with a wider window and lower z-score cut, meant to catch slow drifts earlier.",
    ),
)

# (story day, model, version, environment, action, actor, reason, traffic share)
# (story day, model, version, environment, action, actor, reason, traffic share)
EVENTS: tuple[tuple[float, str, str, str, str, str, str, float | None], ...] = (
    (_day(-44, 10), "n1-detector", "1.0.0", "staging", "deploy", "bob", "first N+1 detector for staging tests", None),
    (_day(-42, 10), "n1-detector", "1.0.0", "production", "approve", "alice", "staging run clean for two days", None),
    (_day(-42, 11), "n1-detector", "1.0.0", "production", "deploy", "ci-pipeline", "initial production release", None),
    (_day(-68, 10), "waf-behavioral", "2.0.0", "staging", "deploy", "carol", "replay of last month's traffic", None),
    (_day(-66, 10), "waf-behavioral", "2.0.0", "production", "approve", "alice", "false-positive review done", None),
    (_day(-66, 11), "waf-behavioral", "2.0.0", "production", "deploy", "ci-pipeline", "replaces the rule-only WAF", None),
    (_day(-19, 10), "queue-anomaly", "1.2.0", "staging", "deploy", "dave", "tuned z-score and IQR cuts", None),
    (_day(-18, 10), "queue-anomaly", "1.2.0", "production", "approve", "alice", "alarm volume acceptable", None),
    (_day(-18, 11), "queue-anomaly", "1.2.0", "production", "deploy", "ci-pipeline", "promoted after a week in staging", None),
    # n1-detector 1.1.0: staging, a five-step canary, then the production deploy
    (_day(9, 5), "n1-detector", "1.1.0", "staging", "deploy", "bob", "retrained on per-endpoint statistics", None),
    (_day(11, 9), "n1-detector", "1.1.0", "production", "traffic", "bob", "", 0.10),
    (_day(12, 9), "n1-detector", "1.1.0", "production", "traffic", "bob", "", 0.25),
    (_day(13, 9), "n1-detector", "1.1.0", "production", "traffic", "bob", "", 0.50),
    (_day(14, 9), "n1-detector", "1.1.0", "production", "traffic", "bob", "", 0.75),
    (_day(15, 9), "n1-detector", "1.1.0", "production", "traffic", "bob", "", 1.00),
    (_day(15, 14), "n1-detector", "1.1.0", "production", "approve", "alice", "canary accuracy 0.93 vs 0.90 for 1.0.0", None),
    (_day(15, 15), "n1-detector", "1.1.0", "production", "deploy", "ci-pipeline", "canary completed", None),
    # waf-behavioral 2.1.0: the same path, full rollout on day 16
    (_day(10, 15), "waf-behavioral", "2.1.0", "staging", "deploy", "carol", "retrained with payload entropy", None),
    (_day(12, 10), "waf-behavioral", "2.1.0", "production", "traffic", "carol", "", 0.10),
    (_day(13, 10), "waf-behavioral", "2.1.0", "production", "traffic", "carol", "", 0.25),
    (_day(14, 10), "waf-behavioral", "2.1.0", "production", "traffic", "carol", "", 0.50),
    (_day(15, 10), "waf-behavioral", "2.1.0", "production", "traffic", "carol", "", 0.75),
    (_day(16, 10), "waf-behavioral", "2.1.0", "production", "traffic", "carol", "", 1.00),
    (_day(16, 13), "waf-behavioral", "2.1.0", "production", "approve", "alice", "canary accuracy 0.945 vs 0.93", None),
    (_day(16, 14), "waf-behavioral", "2.1.0", "production", "deploy", "ci-pipeline", "canary completed", None),
    # queue-anomaly 1.3.0: a 10 % canary that raises too many false alarms and is rolled back
    (_day(11, 14), "queue-anomaly", "1.3.0", "staging", "deploy", "dave", "wider window, lower z-score cut", None),
    (_day(12, 11), "queue-anomaly", "1.3.0", "production", "traffic", "dave", "", 0.10),
    (
        _day(14, 9), "queue-anomaly", "1.2.0", "production", "rollback", "dave",
        "canary 1.3.0 raised about a third more false alarms than 1.2.0 (accuracy 0.80 vs 0.85); "
        "production back to 1.2.0 only",
        None,
    ),
)

DRIFT_START, DRIFT_END, SHIFT_START = 21.0, 26.0, 22.0
DRIFT_RAMP = 0.5  # days to reach full strength, and to fall back to the residual

EPISODES = (
    (
        "waf-behavioral", "concept_drift", DRIFT_START, DRIFT_END, None,
        "A credential-stuffing campaign that mimics browser sessions goes mostly undetected while a new "
        "partner integration's bursty API traffic is flagged: the live version's accuracy falls from "
        "about 0.94 to about 0.82 and only partly recovers after the episode.",
    ),
    (
        "queue-anomaly", "feature_shift", SHIFT_START, None, "duration_s",
        f"Workers moved to network storage: every job runs about {QUEUE_SLOWDOWN:g} times longer, "
        "while what counts as an anomalous job does not change.",
    ),
    (
        "queue-anomaly", "feature_shift", SHIFT_START, None, "job_type",
        "A new import pipeline changes the job mix: more import and report jobs, fewer emails.",
    ),
)

ROLLOUT_REASON = "canary step {step}/{steps}: {share:.0%} of production traffic to {version}"
