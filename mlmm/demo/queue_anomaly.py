"""A real, tunable anomaly detector for queue jobs (the demo's ``queue-anomaly`` model).

Seed 001 describes it: z-score and IQR rules on job metrics, ``JOB_ANOMALY_ZSCORE_THRESHOLD=3.0``,
``JOB_ANOMALY_IQR_MULTIPLIER=1.5``, a window of recent jobs (``window_size`` 100), a minimum
confidence ``JOB_ANOMALY_MIN_CONFIDENCE=0.6``. Here it runs on the prediction log's features:

For every job, for each metric in ``metrics`` (default: the four job metrics of the log,
``duration_s``, ``memory_mb``, ``retries``, ``queue_depth``), the previous ``window_size`` jobs
*of the same job type* (strictly earlier: no look-ahead) give a mean, a standard deviation and
the quartiles of the metric (of its logarithm with ``log=True``; the default, as in the seed,
is the raw value). A job is anomalous on a
metric when its z-score is at least ``zscore_threshold`` or it lies above
``Q3 + iqr_multiplier * IQR``; ``rule`` chooses ``"either"`` (default) or ``"both"``. The
confidence is a logistic of how far the strongest signal is past its cut (0.5 at the cut), and
the job is flagged when it is anomalous on any metric and its confidence is at least
``threshold``. Jobs with fewer than ``min_history`` earlier jobs of their type are not flagged.

>>> import polars as pl, datetime as dt
>>> t0 = dt.datetime(2026, 1, 1)
>>> jobs = pl.DataFrame({"timestamp": [t0 + dt.timedelta(minutes=i) for i in range(40)],
...                      "job_type": ["email"] * 40, "duration_s": [2.0 + 0.01 * (i % 5) for i in range(39)] + [20.0],
...                      "memory_mb": [64.0] * 40})
>>> out = QueueAnomalyDetector(window_size=30, min_history=20, metrics=("duration_s", "memory_mb")).predict(jobs)
>>> out.get_column("prediction").to_list()[-3:]
[0, 0, 1]
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import polars as pl

from ..errors import ValidationError

__all__ = ["QueueAnomalyDetector", "f1_on"]


@dataclasses.dataclass(frozen=True)
class QueueAnomalyDetector:
    """z-score and IQR rules over a trailing window of jobs of the same type (see module)."""

    window_size: int = 100  # seed 000: window_size 100
    zscore_threshold: float = 3.0  # seed 001: JOB_ANOMALY_ZSCORE_THRESHOLD=3.0
    iqr_multiplier: float = 1.5  # seed 001: JOB_ANOMALY_IQR_MULTIPLIER=1.5
    threshold: float = 0.6  # seed 001: JOB_ANOMALY_MIN_CONFIDENCE=0.6
    rule: str = "either"
    log: bool = False  # the seed scores the raw metrics; log=True is one of the things tuning tries
    metrics: tuple[str, ...] = ("duration_s", "memory_mb", "retries", "queue_depth")  # seed: "job metrics"
    group: str = "job_type"
    min_history: int = 20

    def __post_init__(self) -> None:
        if not isinstance(self.window_size, int) or self.window_size < 5:
            raise ValidationError(f"window_size={self.window_size!r}: expected an integer >= 5")
        if self.zscore_threshold <= 0 or self.iqr_multiplier <= 0:
            raise ValidationError(f"zscore_threshold={self.zscore_threshold!r}, iqr_multiplier={self.iqr_multiplier!r}:"
                                  " expected positive numbers")
        if not 0 <= self.threshold < 1:
            raise ValidationError(f"threshold={self.threshold!r}: expected a confidence in [0, 1)")
        if not isinstance(self.min_history, int) or not 2 <= self.min_history <= self.window_size:
            raise ValidationError(f"min_history={self.min_history!r}: expected an integer in [2, window_size={self.window_size}]")
        if self.rule not in ("either", "both", "zscore", "iqr"):
            raise ValidationError(f"rule={self.rule!r}: expected either, both, zscore or iqr")
        object.__setattr__(self, "metrics", tuple(self.metrics))

    @classmethod
    def from_config(cls, config: Mapping[str, Any], **overrides: Any) -> QueueAnomalyDetector:
        """From a registry configuration (the preset's keys), with ``overrides`` on top."""
        fields = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in dict(config).items() if k in fields}
        values.update(overrides)
        if "window_size" in values:
            values["window_size"] = int(values["window_size"])
        if "metrics" in values and isinstance(values["metrics"], (list, tuple)):
            values["metrics"] = tuple(values["metrics"])
        return cls(**values)

    def params(self) -> dict[str, Any]:
        return {"window_size": self.window_size, "zscore_threshold": self.zscore_threshold,
                "iqr_multiplier": self.iqr_multiplier, "threshold": self.threshold, "rule": self.rule, "log": self.log}

    def predict(self, jobs: pl.DataFrame | pl.LazyFrame, *, time_col: str = "timestamp") -> pl.DataFrame:
        """``jobs`` with ``score`` (the strongest signal past its cut), ``confidence`` and
        ``prediction`` (0/1) added, in time order."""
        frame = jobs.collect() if isinstance(jobs, pl.LazyFrame) else jobs
        missing = [c for c in (time_col, self.group, *self.metrics) if c not in frame.columns]
        if missing:
            raise ValidationError(f"columns {missing!r} are missing; expected {time_col}, {self.group} and {', '.join(self.metrics)}")
        frame = frame.sort(time_col)
        w = self.window_size
        signals = []
        for metric in self.metrics:
            x = pl.col(metric).cast(pl.Float64)
            if self.log:
                x = pl.when(x > 0).then(x.log()).otherwise(None)
            past = x.shift(1)  # the window ends just before the job: no look-ahead
            mean = past.rolling_mean(w, min_samples=self.min_history).over(self.group)
            std = past.rolling_std(w, min_samples=self.min_history).over(self.group)
            q1 = past.rolling_quantile(0.25, "linear", window_size=w, min_samples=self.min_history).over(self.group)
            q3 = past.rolling_quantile(0.75, "linear", window_size=w, min_samples=self.min_history).over(self.group)
            z = (x - mean) / pl.when(std > 0).then(std).otherwise(None)
            fence = q3 + self.iqr_multiplier * (q3 - q1)
            iqr_excess = (x - fence) / pl.when(q3 > q1).then(q3 - q1).otherwise(None)
            z_excess = z - self.zscore_threshold
            # how far past each cut, in units of the cut's own scale; >= 0 means the rule fires
            z_signal = z_excess / self.zscore_threshold
            iqr_signal = iqr_excess / self.iqr_multiplier
            if self.rule == "either":
                signal = pl.max_horizontal(z_signal, iqr_signal)
            elif self.rule == "both":
                signal = pl.min_horizontal(z_signal, iqr_signal)
            elif self.rule == "zscore":
                signal = z_signal
            else:
                signal = iqr_signal
            signals.append(signal.alias(f"_s_{metric}"))
        frame = frame.with_columns(signals)
        score = pl.max_horizontal([pl.col(f"_s_{m}") for m in self.metrics])
        frame = frame.with_columns(score.alias("score")).drop([f"_s_{m}" for m in self.metrics])
        conf = 1.0 / (1.0 + (-4.0 * pl.col("score")).exp())
        return frame.with_columns(
            conf.fill_null(0.0).alias("confidence"),
            ((pl.col("score") >= 0) & (conf >= self.threshold)).fill_null(False).cast(pl.Int64).alias("prediction"),
        )


def f1_on(frame: pl.DataFrame, *, label: str = "actual", prediction: str = "prediction") -> dict[str, float]:
    """Precision, recall, F1 and accuracy of ``prediction`` against ``label`` (rows with a label)."""
    data = frame.filter(pl.col(label).is_not_null())
    y = data.get_column(label).cast(pl.Boolean).to_numpy()
    p = data.get_column(prediction).cast(pl.Boolean).to_numpy()
    tp = int((y & p).sum())
    fp = int((~y & p).sum())
    fn = int((y & ~p).sum())
    n = len(y)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0
    accuracy = float((y == p).mean()) if n else math.nan
    return {"precision": precision, "recall": recall, "f1": f1, "accuracy": accuracy, "labelled": n,
            "tp": tp, "fp": fp, "fn": fn}

