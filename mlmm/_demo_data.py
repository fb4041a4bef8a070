"""A synthetic, deterministic month in the life of three production classifiers.

:func:`generate` builds everything the demo workspace needs, in memory: the registered
versions of ``n1-detector``, ``waf-behavioral`` and ``queue-anomaly`` with their offline
metrics, the deployment history (staging, approvals, canary steps, a rollback), one
prediction log per model, ground-truth labels that arrive late (and are sometimes
corrected), a handful of malformed input rows, and the drift episodes hidden in the data.

The module is pure: numpy and polars only, no I/O, no clock unless ``end`` is left out,
and the same ``(seed, rows, days, end)`` always gives the same frames.

How the data is made
--------------------
Each prediction row has a latent truth ``y`` (base rate per model) and an *apparent* class
``a`` (what the request looks like). Features are drawn from ``a`` plus a row latent ``z``;
the model's score is ``g = a * mu_v + rho * z + sqrt(1 - rho**2) * e`` with ``e`` standard
normal, so ``g | a ~ N(a * mu_v, 1)`` and the error rates at the decision cut ``c_v`` are
normal tail areas (a binormal ROC model, Hanley 1988). ``mu_v`` and ``c_v`` are solved per
version from its target accuracy and recall, so the live data reproduces the offline
metrics stored with the version. The confidence is
``sigmoid(k * (g - c_v) + logit(threshold_v))``: it crosses the version's ``threshold``
exactly where ``g`` crosses ``c_v``.

Outside drift ``a == y``. During the waf-behavioral concept drift a share of rows are new
attacks that look benign (``y = 1, a = 0``) or a new legitimate client that looks hostile
(``y = 0, a = 1``): the features and the model are unchanged, the relation between them
and the label is not. The queue-anomaly feature shift changes ``duration_s`` and the
``job_type`` mix, not how anomalies are defined.

Base rates (15 %, 6 %, 8 %) and accuracies (about 0.90, 0.94, 0.85) follow the project
brief. Together they fix the error budget, so precision and recall are lower than the
85-95 % of the original deployment guide: at a 6 % base rate an accuracy of 0.945 leaves
room for about 0.5 precision. The stored offline metrics are the ones the data yields.

References
----------
Hanley, J. A. (1988). The robustness of the "binormal" assumptions used in fitting ROC
curves. *Medical Decision Making*, 8(3), 197-203.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np
import polars as pl

__all__ = ["DemoData", "DemoEpisode", "DemoEvent", "DemoVersion", "MODEL_NAMES", "generate"]

_UTC = _dt.UTC
_US_PER_DAY = 86_400_000_000
_US_PER_MINUTE = 60_000_000
_STORY_DAYS = 30  # the story below is written for a 30-day window and scaled to ``days``
_RHO = 0.7  # correlation of the score noise with the feature latent, within a class
_SLOPE = 1.5  # k in the confidence formula: how spread the confidences are
_DRIFT_ATTACKS = 0.085  # share of waf rows that are new, benign-looking attacks at full drift
_DRIFT_LEGIT = 0.065  # share of waf rows from a new, hostile-looking legitimate client
_DRIFT_RESIDUAL = 0.35  # drift strength left after the episode (partial recovery)
_QUEUE_SLOWDOWN = 1.6  # factor on every duration_s after the infrastructure change
_QUEUE_SCORE_BUMP = 0.15  # the model sees longer jobs after the shift: a few more alarms

MODEL_NAMES = ("n1-detector", "waf-behavioral", "queue-anomaly")

MALFORMED_COLUMNS = ("model_name", "version", "timestamp", "prediction", "confidence", "prediction_id", "problem")


# --------------------------------------------------------------------------- values


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


@dataclass(frozen=True)
class DemoVersion:
    """One registered model version: its config overrides, offline metrics and metadata.

    ``config`` holds overrides merged onto the registry's preset for the model; every
    model's decision key is ``threshold``. ``metrics`` are the offline (validation)
    ``accuracy``, ``precision``, ``recall`` and ``f1_score`` the registry keeps as the
    version's baseline.
    """

    model_name: str
    version: str
    registered_at: _dt.datetime
    config: dict[str, Any]
    metrics: dict[str, float]
    description: str
    tags: dict[str, str]

    def to_dict(self) -> dict[str, Any]:
        """The fields as a plain dict (datetimes stay :class:`datetime.datetime`)."""
        return {
            "model_name": self.model_name,
            "version": self.version,
            "registered_at": self.registered_at,
            "config": _plain(self.config),
            "metrics": _plain(self.metrics),
            "description": self.description,
            "tags": _plain(self.tags),
        }

    def __repr__(self) -> str:
        return (
            f"DemoVersion({self.model_name} {self.version}, registered {self.registered_at:%Y-%m-%d %H:%M}, "
            f"threshold={self.config.get('threshold')}, accuracy={self.metrics.get('accuracy')})"
        )


@dataclass(frozen=True)
class DemoEvent:
    """One step of the deployment history.

    ``action`` is ``"deploy"`` (the version becomes the environment's version and takes
    all its traffic), ``"approve"`` (another person approves the deploy that follows),
    ``"traffic"`` (a canary: ``traffic_share`` of production requests go to ``version``,
    the rest to the deployed version) or ``"rollback"`` (the canary is withdrawn and
    ``version``, the version production returns to, takes all traffic again).
    """

    at: _dt.datetime
    model_name: str
    version: str
    environment: str
    action: str
    actor: str
    reason: str
    traffic_share: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """The fields as a plain dict (datetimes stay :class:`datetime.datetime`)."""
        return {
            "at": self.at,
            "model_name": self.model_name,
            "version": self.version,
            "environment": self.environment,
            "action": self.action,
            "actor": self.actor,
            "reason": self.reason,
            "traffic_share": self.traffic_share,
        }

    def __repr__(self) -> str:
        share = "" if self.traffic_share is None else f" {self.traffic_share:.0%}"
        return (
            f"DemoEvent({self.at:%Y-%m-%d %H:%M} {self.action}{share} {self.model_name} {self.version} "
            f"-> {self.environment} by {self.actor})"
        )


@dataclass(frozen=True)
class DemoEpisode:
    """A stretch of time where the data changes on purpose: what a monitor should find.

    ``kind`` is ``"concept_drift"`` (the relation between features and label changes;
    ``feature`` is ``None``) or ``"feature_shift"`` (the distribution of ``feature``
    changes, the label mechanism does not).
    """

    model_name: str
    kind: str
    start: _dt.datetime
    end: _dt.datetime
    feature: str | None
    description: str

    def to_dict(self) -> dict[str, Any]:
        """The fields as a plain dict (datetimes stay :class:`datetime.datetime`)."""
        return {
            "model_name": self.model_name,
            "kind": self.kind,
            "start": self.start,
            "end": self.end,
            "feature": self.feature,
            "description": self.description,
        }

    def __repr__(self) -> str:
        what = self.kind if self.feature is None else f"{self.kind} of {self.feature}"
        return f"DemoEpisode({self.model_name} {what}, {self.start:%Y-%m-%d %H:%M} to {self.end:%Y-%m-%d %H:%M})"


@dataclass(frozen=True, eq=False)
class DemoData:
    """Everything :func:`generate` makes.

    ``predictions`` and ``labels`` map a model name to a frame; ``malformed`` holds bad
    input rows (all columns ``String``) with a ``problem`` column naming the defect.
    """

    seed: int
    start: _dt.datetime
    end: _dt.datetime
    versions: tuple[DemoVersion, ...]
    events: tuple[DemoEvent, ...]
    predictions: dict[str, pl.DataFrame]
    labels: dict[str, pl.DataFrame]
    malformed: pl.DataFrame
    episodes: tuple[DemoEpisode, ...]

    def version(self, model_name: str, version: str) -> DemoVersion:
        """The :class:`DemoVersion` registered as ``model_name`` ``version``."""
        for item in self.versions:
            if item.model_name == model_name and item.version == version:
                return item
        raise KeyError(f"version={model_name} {version!r}: not in the demo data")

    def to_dict(self) -> dict[str, Any]:
        """Versions, events and episodes as dicts; the frames summarised by their row counts."""
        return {
            "seed": self.seed,
            "start": self.start,
            "end": self.end,
            "versions": [v.to_dict() for v in self.versions],
            "events": [e.to_dict() for e in self.events],
            "episodes": [e.to_dict() for e in self.episodes],
            "prediction_rows": {name: frame.height for name, frame in self.predictions.items()},
            "label_rows": {name: frame.height for name, frame in self.labels.items()},
            "malformed_rows": self.malformed.height,
        }

    def __repr__(self) -> str:
        rows = ", ".join(f"{name}={frame.height:,}" for name, frame in self.predictions.items())
        return (
            f"DemoData(seed={self.seed}, {self.start:%Y-%m-%d %H:%M} to {self.end:%Y-%m-%d %H:%M} UTC, "
            f"predictions: {rows}; {len(self.versions)} versions, {len(self.events)} events, "
            f"{len(self.episodes)} episodes, {self.malformed.height} malformed rows)"
        )


# --------------------------------------------------------------------------- the story


@dataclass(frozen=True)
class _VersionSpec:
    model_name: str
    version: str
    registered_day: float  # story day; negative days are before start and not scaled
    config: dict[str, Any]
    accuracy: float  # target on live data before any drift
    recall: float
    description: str


@dataclass(frozen=True)
class _ModelSpec:
    name: str
    prefix: str
    rows_per_day: int
    base_rate: float
    team: str
    framework: str


def _day(day: int, hour: int = 0) -> float:
    return day + hour / 24


_MODELS = (
    _ModelSpec("n1-detector", "n1-", 1_500, 0.15, "platform-performance", "scikit-learn"),
    _ModelSpec("waf-behavioral", "waf-", 6_000, 0.06, "security", "lightgbm"),
    _ModelSpec("queue-anomaly", "queue-", 600, 0.08, "infrastructure", "statistical"),
)

_QUEUE_BASE = {"threshold": 0.6, "zscore_threshold": 3.0, "iqr_multiplier": 1.5, "window_size": 100}

_VERSIONS = (
    _VersionSpec(
        "n1-detector", "1.0.0", _day(-45, 10), {"threshold": 0.7}, 0.90, 0.80,
        "Gradient-boosted classifier that flags requests whose database queries follow an N+1 pattern.",
    ),
    _VersionSpec(
        "n1-detector", "1.1.0", _day(9, 2), {"threshold": 0.75}, 0.93, 0.87,
        "Retrained N+1 detector with per-endpoint query statistics and a stricter threshold.",
    ),
    _VersionSpec(
        "waf-behavioral", "2.0.0", _day(-70, 10), {"threshold": 0.7}, 0.93, 0.75,
        "Behavioural WAF model that scores client sessions for attack patterns from request statistics.",
    ),
    _VersionSpec(
        "waf-behavioral", "2.1.0", _day(10, 10), {"threshold": 0.7}, 0.945, 0.84,
        "WAF model retrained on three more months of traffic, with payload entropy features.",
    ),
    _VersionSpec(
        "queue-anomaly", "1.2.0", _day(-20, 10), dict(_QUEUE_BASE), 0.85, 0.82,
        "Statistical detector that flags queue jobs whose duration or memory is abnormal for their job type.",
    ),
    _VersionSpec(
        "queue-anomaly", "1.3.0", _day(11, 11),
        {"threshold": 0.55, "zscore_threshold": 2.5, "iqr_multiplier": 1.5, "window_size": 200},
        0.80, 0.70,
        "Queue detector with a wider window and lower z-score cut, meant to catch slow drifts earlier.",
    ),
)

# (story day, model, version, environment, action, actor, reason, traffic share)
# (story day, model, version, environment, action, actor, reason, traffic share)
_EVENTS: tuple[tuple[float, str, str, str, str, str, str, float | None], ...] = (
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

_DRIFT_START, _DRIFT_END, _SHIFT_START = 21.0, 26.0, 22.0
_DRIFT_RAMP = 0.5  # days to reach full strength, and to fall back to the residual

_EPISODES = (
    (
        "waf-behavioral", "concept_drift", _DRIFT_START, _DRIFT_END, None,
        "A credential-stuffing campaign that mimics browser sessions goes mostly undetected while a new "
        "partner integration's bursty API traffic is flagged: the live version's accuracy falls from "
        "about 0.94 to about 0.82 and only partly recovers after the episode.",
    ),
    (
        "queue-anomaly", "feature_shift", _SHIFT_START, None, "duration_s",
        f"Workers moved to network storage: every job runs about {_QUEUE_SLOWDOWN:g} times longer, "
        "while what counts as an anomalous job does not change.",
    ),
    (
        "queue-anomaly", "feature_shift", _SHIFT_START, None, "job_type",
        "A new import pipeline changes the job mix: more import and report jobs, fewer emails.",
    ),
)

_ROLLOUT_REASON = "canary step {step}/{steps}: {share:.0%} of production traffic to {version}"


# --------------------------------------------------------------------------- features

_N1_ENDPOINTS = ("/api/orders", "/api/products", "/api/users", "/api/search", "/api/cart", "/admin/reports")
_N1_ENDPOINT_P = np.array([[0.20, 0.25, 0.15, 0.20, 0.12, 0.08], [0.30, 0.25, 0.05, 0.07, 0.08, 0.25]])
_WAF_AGENTS = ("browser", "mobile_app", "api_client", "crawler", "headless", "unknown")
_WAF_AGENT_P = np.array([[0.55, 0.25, 0.10, 0.06, 0.02, 0.02], [0.15, 0.05, 0.25, 0.10, 0.30, 0.15]])
_QUEUE_JOBS = ("email", "report", "import", "export", "cleanup")
_QUEUE_JOB_P = np.array([[0.40, 0.20, 0.15, 0.15, 0.10], [0.25, 0.28, 0.25, 0.12, 0.10]])
_QUEUE_DURATION_S = np.log([2.0, 45.0, 120.0, 60.0, 300.0])
_QUEUE_MEMORY_MB = np.log([64.0, 512.0, 768.0, 384.0, 256.0])

_Columns = dict[str, "np.ndarray | pl.Series"]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _choice(rng: np.random.Generator, probs: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Draw a category index per row from ``probs[group[i]]`` (one row of ``probs`` per group)."""
    u = rng.random(group.shape[0])
    out = np.empty(group.shape[0], dtype=np.int64)
    cum = np.cumsum(probs, axis=1)
    cum[:, -1] = 1.0
    for g in range(probs.shape[0]):
        mask = group == g
        out[mask] = np.searchsorted(cum[g], u[mask], side="right")
    return out


def _categorical(name: str, categories: tuple[str, ...], index: np.ndarray) -> pl.Series:
    return pl.Series(name, categories, dtype=pl.String).gather(index)


def _n1_features(rng: np.random.Generator, a: np.ndarray, z: np.ndarray, day: np.ndarray) -> _Columns:
    n = a.shape[0]
    af = a.astype(np.float64)
    queries = np.maximum(1.0, np.round(np.exp(1.6 + 0.8 * af + 0.35 * z + 0.3 * rng.standard_normal(n))))
    tables = np.maximum(1.0, np.round(np.exp(1.0 + 0.35 * rng.standard_normal(n)) - 0.6 * af))
    per_query_ms = np.exp(np.log(2.5) + 0.4 * rng.standard_normal(n))
    overhead_ms = np.exp(np.log(35.0) + 0.5 * rng.standard_normal(n))
    return {
        "query_count": queries,
        "distinct_tables": tables,
        "total_duration_ms": np.round(queries * per_query_ms + overhead_ms, 2),
        "repeated_query_ratio": np.round(_sigmoid(-1.5 + 2.0 * af + 0.5 * z + 0.5 * rng.standard_normal(n)), 4),
        "endpoint": _categorical("endpoint", _N1_ENDPOINTS, _choice(rng, _N1_ENDPOINT_P, a.astype(np.int64))),
    }


def _waf_features(rng: np.random.Generator, a: np.ndarray, z: np.ndarray, day: np.ndarray) -> _Columns:
    n = a.shape[0]
    af = a.astype(np.float64)
    return {
        "requests_per_minute": np.round(np.exp(2.3 + 1.3 * af + 0.4 * z + 0.5 * rng.standard_normal(n)), 2),
        "error_rate": np.round(_sigmoid(-3.0 + 1.8 * af + 0.4 * z + 0.5 * rng.standard_normal(n)), 4),
        "unique_paths": np.maximum(1.0, np.round(np.exp(1.8 + 1.0 * af + 0.3 * z + 0.4 * rng.standard_normal(n)))),
        "payload_entropy": np.round(np.clip(4.2 + 0.9 * af + 0.25 * z + 0.35 * rng.standard_normal(n), 0.0, 8.0), 3),
        "user_agent_class": _categorical("user_agent_class", _WAF_AGENTS, _choice(rng, _WAF_AGENT_P, a.astype(np.int64))),
    }


def _queue_features(rng: np.random.Generator, a: np.ndarray, z: np.ndarray, day: np.ndarray) -> _Columns:
    """Anomalous jobs (``a``) are slow, memory-hungry or both *for their job type*."""
    n = a.shape[0]
    shifted = day >= _SHIFT_START
    job = _choice(rng, _QUEUE_JOB_P, shifted.astype(np.int64))
    kind = rng.random(n)
    slow = a & (kind < 0.75)  # 45 % slow only, 30 % both, 25 % memory only
    heavy = a & (kind >= 0.45)
    log_duration = (
        _QUEUE_DURATION_S[job]
        + 0.25 * rng.standard_normal(n)
        + 0.08 * z
        + slow * (1.5 + 0.3 * rng.standard_normal(n))
        + shifted * math.log(_QUEUE_SLOWDOWN)
    )
    log_memory = _QUEUE_MEMORY_MB[job] + 0.2 * rng.standard_normal(n) + 0.05 * z + heavy * (1.2 + 0.25 * rng.standard_normal(n))
    return {
        "duration_s": np.round(np.exp(log_duration), 3),
        "memory_mb": np.round(np.exp(log_memory), 1),
        "retries": rng.poisson(0.1 + 1.5 * a).astype(np.float64),
        "queue_depth": np.round(np.exp(3.5 + 0.4 * a + 0.6 * rng.standard_normal(n))),
        "job_type": _categorical("job_type", _QUEUE_JOBS, job),
    }


_FEATURES: dict[str, Callable[[np.random.Generator, np.ndarray, np.ndarray, np.ndarray], _Columns]] = {
    "n1-detector": _n1_features,
    "waf-behavioral": _waf_features,
    "queue-anomaly": _queue_features,
}


# --------------------------------------------------------------------------- helpers


def _default_end() -> _dt.datetime:
    return _dt.datetime.now(_UTC).replace(minute=0, second=0, microsecond=0)


def _check(seed: Any, rows: Any, days: Any, end: Any) -> _dt.datetime:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed={seed!r}: expected a non-negative integer")
    if rows is not None and (isinstance(rows, bool) or not isinstance(rows, (int, np.integer)) or rows < 0):
        raise ValueError(f"rows={rows!r}: expected None or a non-negative integer")
    if isinstance(days, bool) or not isinstance(days, (int, np.integer)) or days < 1:
        raise ValueError(f"days={days!r}: expected a positive integer")
    if end is None:
        return _default_end()
    if not isinstance(end, _dt.datetime) or end.tzinfo is None or end.utcoffset() is None:
        raise ValueError(f"end={end!r}: expected an aware datetime (UTC)")
    return end.astimezone(_UTC)


def _epoch_us(moment: _dt.datetime) -> int:
    delta = moment - _dt.datetime(1970, 1, 1, tzinfo=_UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _row_counts(rows: int | None, days: int) -> list[int]:
    """Rows per model: the natural volume, or ``rows`` split by it (largest remainder)."""
    weights = [spec.rows_per_day for spec in _MODELS]
    if rows is None:
        return [w * days for w in weights]
    total = sum(weights)
    exact = [rows * w / total for w in weights]
    counts = [int(math.floor(x)) for x in exact]
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - counts[i]), i))
    for i in order[: rows - sum(counts)]:
        counts[i] += 1
    return counts


def _version_quality(spec: _VersionSpec, base_rate: float) -> tuple[float, float, dict[str, float]]:
    """``(mu, cut)`` of the binormal score and the metrics they give at ``base_rate``."""
    fn = base_rate * (1.0 - spec.recall)
    fp = 1.0 - spec.accuracy - fn
    fnr, fpr = fn / base_rate, fp / (1.0 - base_rate)
    normal = NormalDist()
    cut = normal.inv_cdf(1.0 - fpr)
    mu = cut + normal.inv_cdf(1.0 - fnr)
    tp = base_rate - fn
    precision = tp / (tp + fp)
    metrics = {
        "accuracy": round(spec.accuracy, 4),
        "precision": round(precision, 4),
        "recall": round(spec.recall, 4),
        "f1_score": round(2 * precision * spec.recall / (precision + spec.recall), 4),
    }
    return mu, cut, metrics


def _timestamps(rng: np.random.Generator, n: int, start_us: int, days: int) -> np.ndarray:
    """``n`` sorted epoch microseconds in ``[start, start + days)``, busier in the (UTC) day.

    Minute bins are weighted by ``1 + 0.6 cos(2 pi (hour - 14) / 24)`` (peak 14:00, trough
    02:00) and by 0.75 on weekends; the counts per bin are one multinomial draw.
    """
    minutes = days * 1_440
    epoch_minute = start_us // _US_PER_MINUTE + np.arange(minutes, dtype=np.int64)
    hour = (epoch_minute % 1_440) / 60.0
    weekday = (epoch_minute // 1_440 + 3) % 7  # 1970-01-01 was a Thursday; Monday is 0
    weight = (1.0 + 0.6 * np.cos(2.0 * np.pi * (hour - 14.0) / 24.0)) * np.where(weekday >= 5, 0.75, 1.0)
    counts = rng.multinomial(n, weight / weight.sum())
    bins = np.repeat(np.arange(minutes, dtype=np.int64), counts)
    stamps = start_us + bins * _US_PER_MINUTE + rng.integers(0, _US_PER_MINUTE, size=n, dtype=np.int64)
    stamps.sort()
    return stamps


def _drift_strength(day: np.ndarray) -> np.ndarray:
    """0 before the waf episode, 1 inside it, ``_DRIFT_RESIDUAL`` after, linear ramps."""
    up = np.clip((day - _DRIFT_START) / _DRIFT_RAMP, 0.0, 1.0)
    down = np.clip((day - _DRIFT_END) / _DRIFT_RAMP, 0.0, 1.0)
    return up * (1.0 - (1.0 - _DRIFT_RESIDUAL) * down)


def _id_column(prefix: str, n: int) -> pl.Series:
    width = max(8, len(str(max(n - 1, 0))))
    digits = pl.int_range(0, n, dtype=pl.Int64, eager=True).cast(pl.String).str.zfill(width)
    return (prefix + digits).alias("prediction_id")


def _datetime_column(name: str, epoch_us: np.ndarray) -> pl.Series:
    return pl.Series(name, epoch_us, dtype=pl.Int64).cast(pl.Datetime("us")).dt.replace_time_zone("UTC")


# --------------------------------------------------------------------------- generate


def generate(
    seed: int = 42,
    *,
    rows: int | None = None,
    days: int = 30,
    end: _dt.datetime | None = None,
) -> DemoData:
    """Generate the demo month for the three production models.

    The story (days counted from ``start``; scaled when ``days`` is not 30):

    * ``n1-detector`` 1.0.0 serves from the start; 1.1.0 is registered on day 9, goes to
      staging, then takes 10 %, 25 %, 50 %, 75 % and 100 % of production traffic on days
      11-15 and is approved (alice) and deployed (ci-pipeline) on day 15.
    * ``waf-behavioral`` 2.0.0 serves from the start; 2.1.0 follows the same canary on
      days 12-16. A concept drift on days 21-26 drops the live accuracy from about 0.94
      to about 0.82; it partly recovers afterwards.
    * ``queue-anomaly`` 1.2.0 serves throughout; a 10 % canary of 1.3.0 on day 12 is rolled
      back on day 14. From day 22 ``duration_s`` shifts up and the ``job_type`` mix changes.

    Parameters
    ----------
    seed : int, default 42
        Seed of every random draw; the same arguments always give the same data.
    rows : int or None, default None
        Total prediction rows over the three models. ``None`` keeps the natural volume
        (1,500, 6,000 and 600 rows a day: 243,000 rows for 30 days); otherwise the
        three volumes are scaled so that they add up to exactly ``rows``.
    days : int, default 30
        Length of the window ``[start, end)``.
    end : datetime or None
        Aware end of the window (converted to UTC); default the current UTC hour.

    Returns
    -------
    DemoData
        Versions, events (sorted by time), episodes, one predictions frame and one
        labels frame per model, and the malformed rows.

    Raises
    ------
    ValueError
        If ``seed`` or ``rows`` is negative, ``days`` is below 1, or ``end`` is naive.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> data = generate(7, rows=3_000, end=datetime(2026, 1, 31, tzinfo=timezone.utc))
    >>> data.start
    datetime.datetime(2026, 1, 1, 0, 0, tzinfo=datetime.timezone.utc)
    >>> {name: frame.height for name, frame in data.predictions.items()}
    {'n1-detector': 556, 'waf-behavioral': 2222, 'queue-anomaly': 222}
    >>> [(e.at.strftime("%m-%d"), e.traffic_share) for e in data.events
    ...  if e.model_name == "n1-detector" and e.action == "traffic"]
    [('01-12', 0.1), ('01-13', 0.25), ('01-14', 0.5), ('01-15', 0.75), ('01-16', 1.0)]
    >>> data.predictions["queue-anomaly"].columns
    ['prediction_id', 'version', 'timestamp', 'prediction', 'confidence', 'duration_s', 'memory_mb', 'retries', 'queue_depth', 'job_type']
    """
    end = _check(seed, rows, days, end)
    start = end - _dt.timedelta(days=days)
    scale = days / _STORY_DAYS

    def at(day: float) -> _dt.datetime:
        offset = day if day < 0 else day * scale
        return start + _dt.timedelta(minutes=round(offset * 1_440))

    streams = np.random.SeedSequence(int(seed)).spawn(len(_MODELS) + 1)

    versions: list[DemoVersion] = []
    quality: dict[tuple[str, str], tuple[float, float]] = {}
    for spec in _VERSIONS:
        model = next(m for m in _MODELS if m.name == spec.model_name)
        mu, cut, metrics = _version_quality(spec, model.base_rate)
        quality[spec.model_name, spec.version] = (mu, cut)
        versions.append(
            DemoVersion(
                model_name=spec.model_name,
                version=spec.version,
                registered_at=at(spec.registered_day),
                config=dict(spec.config),
                metrics=metrics,
                description=spec.description,
                tags={"team": model.team, "framework": model.framework},
            )
        )

    events = _events(at)
    episodes = tuple(
        DemoEpisode(name, kind, at(first), end if last is None else at(last), feature, text)
        for name, kind, first, last, feature, text in _EPISODES
    )

    start_us, end_us = _epoch_us(start), _epoch_us(end)
    predictions: dict[str, pl.DataFrame] = {}
    labels: dict[str, pl.DataFrame] = {}
    for model, n, stream in zip(_MODELS, _row_counts(rows, days), streams[:-1], strict=True):
        rng = np.random.default_rng(stream)
        model_versions = [v for v in versions if v.model_name == model.name]
        frame, truth = _predictions(rng, model, n, start_us, days, model_versions, quality, events, at)
        predictions[model.name] = frame
        labels[model.name] = _labels(rng, frame["prediction_id"], frame["timestamp"], truth, end_us)

    malformed = _malformed(np.random.default_rng(streams[-1]), predictions, versions)
    return DemoData(
        seed=int(seed),
        start=start,
        end=end,
        versions=tuple(versions),
        events=events,
        predictions=predictions,
        labels=labels,
        malformed=malformed,
        episodes=episodes,
    )


def _events(at: Callable[[float], _dt.datetime]) -> tuple[DemoEvent, ...]:
    steps: dict[tuple[str, str], int] = {}
    for _, name, version, _, action, *_ in _EVENTS:
        if action == "traffic":
            steps[name, version] = steps.get((name, version), 0) + 1
    seen: dict[tuple[str, str], int] = {}
    out = []
    for day, name, version, env, action, actor, reason, share in _EVENTS:
        if action == "traffic":
            seen[name, version] = seen.get((name, version), 0) + 1
            reason = _ROLLOUT_REASON.format(step=seen[name, version], steps=steps[name, version], share=share, version=version)
        out.append(DemoEvent(at(day), name, version, env, action, actor, reason, share))
    out.sort(key=lambda e: e.at)
    return tuple(out)


def _routing(events: tuple[DemoEvent, ...], model: str, names: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Production segments: change times (us), deployed and canary version index, canary share."""
    times, prod, canary, share = [np.iinfo(np.int64).min], [0], [0], [0.0]
    for e in events:
        if e.model_name != model or e.environment != "production":
            continue
        index = names.index(e.version)
        if e.action == "deploy" or e.action == "rollback":
            state = (index, index, 0.0)
        elif e.action == "traffic":
            state = (prod[-1], index, float(e.traffic_share or 0.0))
        else:
            continue
        times.append(_epoch_us(e.at))
        prod.append(state[0])
        canary.append(state[1])
        share.append(state[2])
    return np.array(times, dtype=np.int64), np.array(prod), np.array(canary), np.array(share)


def _predictions(
    rng: np.random.Generator,
    model: _ModelSpec,
    n: int,
    start_us: int,
    days: int,
    versions: list[DemoVersion],
    quality: dict[tuple[str, str], tuple[float, float]],
    events: tuple[DemoEvent, ...],
    at: Callable[[float], _dt.datetime],
) -> tuple[pl.DataFrame, np.ndarray]:
    stamps = _timestamps(rng, n, start_us, days)
    day = (stamps - start_us) / (_US_PER_DAY * days / _STORY_DAYS)  # story days

    names = [v.version for v in versions]
    times, prod, canary, share = _routing(events, model.name, names)
    segment = np.searchsorted(times, stamps, side="right") - 1
    version = np.where(rng.random(n) < share[segment], canary[segment], prod[segment])

    truth = rng.random(n) < model.base_rate
    apparent = truth.copy()
    if model.name == "waf-behavioral":
        strength = _drift_strength(day)
        u = rng.random(n)
        new_attack = u < strength * _DRIFT_ATTACKS
        new_client = ~new_attack & (u < strength * (_DRIFT_ATTACKS + _DRIFT_LEGIT))
        truth = (truth & ~new_client) | new_attack
        apparent = (apparent & ~new_attack) | new_client

    z = rng.standard_normal(n)
    mu = np.array([quality[model.name, v][0] for v in names])[version]
    cut = np.array([quality[model.name, v][1] for v in names])[version]
    threshold = np.array([float(v.config["threshold"]) for v in versions])[version]
    score = apparent * mu + _RHO * z + math.sqrt(1.0 - _RHO**2) * rng.standard_normal(n)
    if model.name == "queue-anomaly":
        score += _QUEUE_SCORE_BUMP * (day >= _SHIFT_START)
    logit = _SLOPE * (score - cut) + np.log(threshold / (1.0 - threshold))
    confidence = np.round(_sigmoid(logit), 4)
    prediction = (confidence >= threshold).astype(np.int64)

    columns: list[pl.Series] = [
        _id_column(model.prefix, n),
        pl.Series("version", names, dtype=pl.String).gather(version),
        _datetime_column("timestamp", stamps),
        pl.Series("prediction", prediction, dtype=pl.Int64),
        pl.Series("confidence", confidence, dtype=pl.Float64),
    ]
    for name, values in _FEATURES[model.name](rng, apparent, z, day).items():
        columns.append(values if isinstance(values, pl.Series) else pl.Series(name, values, dtype=pl.Float64))
    return pl.DataFrame(columns), truth


def _labels(rng: np.random.Generator, ids: pl.Series, stamps: pl.Series, truth: np.ndarray, end_us: int) -> pl.DataFrame:
    """Late ground truth: 70 % within a day, 18 % within two weeks, 12 % never.

    0.5 % of the labelled rows first get a wrong label that a later one corrects.
    Labels that would arrive at or after ``end`` have not arrived yet and are left out.
    """
    n = truth.shape[0]
    ts = stamps.dt.epoch("us").to_numpy()
    u = rng.random(n)
    fast_h = np.clip(np.exp(math.log(3.0) + 0.9 * rng.standard_normal(n)), 5 / 60, 23.9)
    slow_h = np.minimum(24.0 + rng.exponential(60.0, n), 14 * 24.0)
    delay_h = np.where(u < 0.70, fast_h, slow_h)
    labelled_at = ts + (delay_h * 3_600e6).astype(np.int64)
    labelled = (u < 0.88) & (labelled_at < end_us)

    correction_at = labelled_at + (rng.exponential(36.0, n) * 3_600e6).astype(np.int64) + 60_000_000
    corrected = labelled & (rng.random(n) < 0.006) & (correction_at < end_us)
    actual = truth.astype(np.int64)
    first_actual = np.where(corrected, 1 - actual, actual)

    index = np.concatenate([np.flatnonzero(labelled), np.flatnonzero(corrected)])
    arrival = np.concatenate([labelled_at[labelled], correction_at[corrected]])
    values = np.concatenate([first_actual[labelled], actual[corrected]])
    order = np.argsort(arrival)  # labels in the order they arrive (deterministic for equal input)
    return pl.DataFrame(
        [
            ids.gather(index[order]),
            pl.Series("actual", values[order], dtype=pl.Int64),
            _datetime_column("labeled_at", arrival[order]),
        ]
    )


_PROBLEMS = (
    ("confidence_above_one", "confidence", "1.7"),
    ("confidence_below_zero", "confidence", "-0.2"),
    ("timestamp_unparseable", "timestamp", "not-a-time"),
    ("timestamp_in_future", "timestamp", None),  # filled with a time in 2099
    ("version_unknown", "version", "9.9.9"),
    ("prediction_missing", "prediction", None),
    ("prediction_not_binary", "prediction", "maybe"),
    ("model_name_unsafe", "model_name", "../etc"),
)
_MALFORMED_ROWS = 20


def _malformed(rng: np.random.Generator, predictions: dict[str, pl.DataFrame], versions: list[DemoVersion]) -> pl.DataFrame:
    """Twenty input rows, each broken in exactly one way (``problem`` says which)."""
    rows: dict[str, list[str | None]] = {column: [] for column in MALFORMED_COLUMNS}
    sources = [(name, frame) for name, frame in predictions.items() if frame.height]
    for i in range(_MALFORMED_ROWS):
        problem, column, bad = _PROBLEMS[i % len(_PROBLEMS)]
        if sources:
            name, frame = sources[i % len(sources)]
            row = frame.row(int(rng.integers(frame.height)), named=True)
            version, stamp, confidence = row["version"], row["timestamp"], row["confidence"]
        else:  # rows=0: still plausible values for a real model
            name, version = MODEL_NAMES[0], versions[0].version
            stamp, confidence = versions[0].registered_at, 0.5
        threshold = next(float(v.config["threshold"]) for v in versions if v.model_name == name and v.version == version)
        if column == "confidence":
            confidence = float(bad)
        if problem == "timestamp_in_future":
            bad = stamp.replace(year=2099, day=min(stamp.day, 28)).isoformat()
        good = {
            "model_name": name,
            "version": version,
            "timestamp": stamp.isoformat(),
            "prediction": str(int(confidence >= threshold)),
            "confidence": repr(confidence) if column != "confidence" else bad,
            "prediction_id": f"bad-{i:06d}",
            "problem": problem,
        }
        if column != "confidence":
            good[column] = bad
        for key in MALFORMED_COLUMNS:
            rows[key].append(good[key])
    return pl.DataFrame(rows, schema=dict.fromkeys(MALFORMED_COLUMNS, pl.String))
