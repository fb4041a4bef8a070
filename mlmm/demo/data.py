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
from typing import Any

import numpy as np
import polars as pl

from ._sampling import (
    FEATURES,
    check_arguments,
    datetime_column,
    drift_strength,
    epoch_us,
    id_column,
    row_counts,
    sigmoid,
    timestamps,
    version_quality,
)
from ._story import EPISODES, EVENTS, MODELS, ROLLOUT_REASON, SHIFT_START, VERSIONS, ModelSpec

__all__ = ["DemoData", "DemoEpisode", "DemoEvent", "DemoVersion", "MODEL_NAMES", "generate"]

_US_PER_DAY = 86_400_000_000
_STORY_DAYS = 30  # the story (mlmm.demo._story) is written for a 30-day window and scaled to ``days``
_RHO = 0.7  # correlation of the score noise with the feature latent, within a class
_SLOPE = 1.5  # k in the confidence formula: how spread the confidences are
_DRIFT_ATTACKS = 0.085  # share of waf rows that are new, benign-looking attacks at full drift
_DRIFT_LEGIT = 0.065  # share of waf rows from a new, hostile-looking legitimate client
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
    end = check_arguments(seed, rows, days, end)
    start = end - _dt.timedelta(days=days)
    scale = days / _STORY_DAYS

    def at(day: float) -> _dt.datetime:
        offset = day if day < 0 else day * scale
        return start + _dt.timedelta(minutes=round(offset * 1_440))

    streams = np.random.SeedSequence(int(seed)).spawn(len(MODELS) + 1)

    versions: list[DemoVersion] = []
    quality: dict[tuple[str, str], tuple[float, float]] = {}
    for spec in VERSIONS:
        model = next(m for m in MODELS if m.name == spec.model_name)
        mu, cut, metrics = version_quality(spec, model.base_rate)
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
        for name, kind, first, last, feature, text in EPISODES
    )

    start_us, end_us = epoch_us(start), epoch_us(end)
    predictions: dict[str, pl.DataFrame] = {}
    labels: dict[str, pl.DataFrame] = {}
    for model, n, stream in zip(MODELS, row_counts(rows, days), streams[:-1], strict=True):
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
    for _, name, version, _, action, *_ in EVENTS:
        if action == "traffic":
            steps[name, version] = steps.get((name, version), 0) + 1
    seen: dict[tuple[str, str], int] = {}
    out = []
    for day, name, version, env, action, actor, reason, share in EVENTS:
        if action == "traffic":
            seen[name, version] = seen.get((name, version), 0) + 1
            reason = ROLLOUT_REASON.format(step=seen[name, version], steps=steps[name, version], share=share, version=version)
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
        times.append(epoch_us(e.at))
        prod.append(state[0])
        canary.append(state[1])
        share.append(state[2])
    return np.array(times, dtype=np.int64), np.array(prod), np.array(canary), np.array(share)


def _predictions(
    rng: np.random.Generator,
    model: ModelSpec,
    n: int,
    start_us: int,
    days: int,
    versions: list[DemoVersion],
    quality: dict[tuple[str, str], tuple[float, float]],
    events: tuple[DemoEvent, ...],
    at: Callable[[float], _dt.datetime],
) -> tuple[pl.DataFrame, np.ndarray]:
    stamps = timestamps(rng, n, start_us, days)
    day = (stamps - start_us) / (_US_PER_DAY * days / _STORY_DAYS)  # story days

    names = [v.version for v in versions]
    times, prod, canary, share = _routing(events, model.name, names)
    segment = np.searchsorted(times, stamps, side="right") - 1
    version = np.where(rng.random(n) < share[segment], canary[segment], prod[segment])

    truth = rng.random(n) < model.base_rate
    apparent = truth.copy()
    if model.name == "waf-behavioral":
        strength = drift_strength(day)
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
        score += _QUEUE_SCORE_BUMP * (day >= SHIFT_START)
    logit = _SLOPE * (score - cut) + np.log(threshold / (1.0 - threshold))
    confidence = np.round(sigmoid(logit), 4)
    prediction = (confidence >= threshold).astype(np.int64)

    columns: list[pl.Series] = [
        id_column(model.prefix, n),
        pl.Series("version", names, dtype=pl.String).gather(version),
        datetime_column("timestamp", stamps),
        pl.Series("prediction", prediction, dtype=pl.Int64),
        pl.Series("confidence", confidence, dtype=pl.Float64),
    ]
    for name, values in FEATURES[model.name](rng, apparent, z, day).items():
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
            datetime_column("labeled_at", arrival[order]),
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
