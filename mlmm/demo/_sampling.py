"""How the demo's rows are drawn: the features of each model from the apparent class, and the
sampling helpers of :func:`mlmm.demo.data.generate` (row counts, timestamps, drift strength, columns)."""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Callable
from statistics import NormalDist
from typing import Any

import numpy as np
import polars as pl

from ._story import (
    DRIFT_END,
    DRIFT_RAMP,
    DRIFT_RESIDUAL,
    DRIFT_START,
    MODELS,
    QUEUE_SLOWDOWN,
    SHIFT_START,
    VersionSpec,
)

__all__ = ["FEATURES", "check_arguments", "datetime_column", "drift_strength", "epoch_us", "id_column", "row_counts",
           "sigmoid", "timestamps", "version_quality"]

_UTC = _dt.UTC
_US_PER_MINUTE = 60_000_000


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


def sigmoid(x: np.ndarray) -> np.ndarray:
    """The logistic function, elementwise."""
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
        "repeated_query_ratio": np.round(sigmoid(-1.5 + 2.0 * af + 0.5 * z + 0.5 * rng.standard_normal(n)), 4),
        "endpoint": _categorical("endpoint", _N1_ENDPOINTS, _choice(rng, _N1_ENDPOINT_P, a.astype(np.int64))),
    }


def _waf_features(rng: np.random.Generator, a: np.ndarray, z: np.ndarray, day: np.ndarray) -> _Columns:
    n = a.shape[0]
    af = a.astype(np.float64)
    return {
        "requests_per_minute": np.round(np.exp(2.3 + 1.3 * af + 0.4 * z + 0.5 * rng.standard_normal(n)), 2),
        "error_rate": np.round(sigmoid(-3.0 + 1.8 * af + 0.4 * z + 0.5 * rng.standard_normal(n)), 4),
        "unique_paths": np.maximum(1.0, np.round(np.exp(1.8 + 1.0 * af + 0.3 * z + 0.4 * rng.standard_normal(n)))),
        "payload_entropy": np.round(np.clip(4.2 + 0.9 * af + 0.25 * z + 0.35 * rng.standard_normal(n), 0.0, 8.0), 3),
        "user_agent_class": _categorical("user_agent_class", _WAF_AGENTS, _choice(rng, _WAF_AGENT_P, a.astype(np.int64))),
    }


def _queue_features(rng: np.random.Generator, a: np.ndarray, z: np.ndarray, day: np.ndarray) -> _Columns:
    """Anomalous jobs (``a``) are slow, memory-hungry or both *for their job type*."""
    n = a.shape[0]
    shifted = day >= SHIFT_START
    job = _choice(rng, _QUEUE_JOB_P, shifted.astype(np.int64))
    kind = rng.random(n)
    slow = a & (kind < 0.75)  # 45 % slow only, 30 % both, 25 % memory only
    heavy = a & (kind >= 0.45)
    log_duration = (
        _QUEUE_DURATION_S[job]
        + 0.25 * rng.standard_normal(n)
        + 0.08 * z
        + slow * (1.5 + 0.3 * rng.standard_normal(n))
        + shifted * math.log(QUEUE_SLOWDOWN)
    )
    log_memory = _QUEUE_MEMORY_MB[job] + 0.2 * rng.standard_normal(n) + 0.05 * z + heavy * (1.2 + 0.25 * rng.standard_normal(n))
    return {
        "duration_s": np.round(np.exp(log_duration), 3),
        "memory_mb": np.round(np.exp(log_memory), 1),
        "retries": rng.poisson(0.1 + 1.5 * a).astype(np.float64),
        "queue_depth": np.round(np.exp(3.5 + 0.4 * a + 0.6 * rng.standard_normal(n))),
        "job_type": _categorical("job_type", _QUEUE_JOBS, job),
    }


FEATURES: dict[str, Callable[[np.random.Generator, np.ndarray, np.ndarray, np.ndarray], _Columns]] = {
    "n1-detector": _n1_features,
    "waf-behavioral": _waf_features,
    "queue-anomaly": _queue_features,
}


# --------------------------------------------------------------------------- helpers


def _default_end() -> _dt.datetime:
    return _dt.datetime.now(_UTC).replace(minute=0, second=0, microsecond=0)


def check_arguments(seed: Any, rows: Any, days: Any, end: Any) -> _dt.datetime:
    """Validate :func:`~mlmm.demo.data.generate`'s arguments; return ``end`` in UTC (default: this hour)."""
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


def epoch_us(moment: _dt.datetime) -> int:
    """Microseconds since the Unix epoch of an aware ``moment``."""
    delta = moment - _dt.datetime(1970, 1, 1, tzinfo=_UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def row_counts(rows: int | None, days: int) -> list[int]:
    """Rows per model: the natural volume, or ``rows`` split by it (largest remainder)."""
    weights = [spec.rows_per_day for spec in MODELS]
    if rows is None:
        return [w * days for w in weights]
    total = sum(weights)
    exact = [rows * w / total for w in weights]
    counts = [int(math.floor(x)) for x in exact]
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - counts[i]), i))
    for i in order[: rows - sum(counts)]:
        counts[i] += 1
    return counts


def version_quality(spec: VersionSpec, base_rate: float) -> tuple[float, float, dict[str, float]]:
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


def timestamps(rng: np.random.Generator, n: int, start_us: int, days: int) -> np.ndarray:
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


def drift_strength(day: np.ndarray) -> np.ndarray:
    """0 before the waf episode, 1 inside it, ``DRIFT_RESIDUAL`` after, linear ramps."""
    up = np.clip((day - DRIFT_START) / DRIFT_RAMP, 0.0, 1.0)
    down = np.clip((day - DRIFT_END) / DRIFT_RAMP, 0.0, 1.0)
    return up * (1.0 - (1.0 - DRIFT_RESIDUAL) * down)


def id_column(prefix: str, n: int) -> pl.Series:
    """``n`` ids ``<prefix>00000000``, ``<prefix>00000001``, ... (zero-padded to the same width)."""
    width = max(8, len(str(max(n - 1, 0))))
    digits = pl.int_range(0, n, dtype=pl.Int64, eager=True).cast(pl.String).str.zfill(width)
    return (prefix + digits).alias("prediction_id")


def datetime_column(name: str, epoch_us: np.ndarray) -> pl.Series:
    """A UTC datetime column from epoch microseconds."""
    return pl.Series(name, epoch_us, dtype=pl.Int64).cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
