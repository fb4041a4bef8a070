"""The queue-anomaly detector: rules, no look-ahead, per job type, configuration."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

import mlmm
from mlmm.demo.queue_anomaly import QueueAnomalyDetector, f1_on
from mlmm.registry import PRESETS

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _jobs(n=400, seed=0, spike_at=(), kinds=("email", "report")):
    rng = np.random.default_rng(seed)
    job = [kinds[i % len(kinds)] for i in range(n)]
    base = {"email": 2.0, "report": 45.0}
    duration = [base[j] * float(np.exp(0.1 * rng.standard_normal())) for j in job]
    for i in spike_at:
        duration[i] *= 20
    return pl.DataFrame({"timestamp": [T0 + dt.timedelta(minutes=i) for i in range(n)], "job_type": job,
                         "duration_s": duration, "memory_mb": [100.0 + rng.random() for _ in range(n)],
                         "retries": [0.0] * n, "queue_depth": [30.0] * n,
                         "actual": [1 if i in spike_at else 0 for i in range(n)]})


def test_a_spike_is_flagged_and_the_rest_is_not():
    jobs = _jobs(spike_at=(200, 301))
    out = QueueAnomalyDetector(metrics=("duration_s",), log=True, rule="zscore").predict(jobs)
    assert out.filter(pl.col("prediction") == 1).get_column("actual").to_list() == [1, 1]
    assert f1_on(out) == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "accuracy": 1.0, "labelled": 400,
                          "tp": 2, "fp": 0, "fn": 0}
    assert out.get_column("confidence").max() > 0.9 and out.get_column("confidence").min() >= 0.0


def test_no_look_ahead_and_windows_per_job_type():
    jobs = _jobs(spike_at=(200,))
    det = QueueAnomalyDetector(metrics=("duration_s",), window_size=50)
    before = det.predict(jobs).get_column("score").to_list()
    later = jobs.with_columns(pl.when(pl.int_range(pl.len()) > 250).then(pl.col("duration_s") * 50)
                              .otherwise(pl.col("duration_s")).alias("duration_s"))
    after = det.predict(later).get_column("score").to_list()
    assert before[:251] == after[:251]  # the future never changes a past verdict
    # a 40 s email is anomalous for an email, though shorter than every report: the windows are
    # per job type, and one window over all types would miss it
    per_type = det.predict(jobs).filter(pl.col("actual") == 1).get_column("prediction").to_list()
    pooled = QueueAnomalyDetector(metrics=("duration_s",), window_size=50, group="pool").predict(
        jobs.with_columns(pl.lit("all").alias("pool"))).filter(pl.col("actual") == 1).get_column("prediction").to_list()
    assert (per_type, pooled) == ([1], [0])
    # too little history: nothing is flagged
    early = _jobs(n=30, spike_at=(12,))  # 15 jobs of each type: under min_history
    assert QueueAnomalyDetector(metrics=("duration_s",), min_history=20).predict(early).get_column("prediction").sum() == 0
    with pytest.raises(mlmm.ValidationError, match=r"min_history=500: expected an integer in \[2, window_size=100\]"):
        QueueAnomalyDetector(min_history=500)


def test_rules_and_configuration():
    jobs = _jobs(spike_at=(200,))
    either = QueueAnomalyDetector(metrics=("duration_s", "memory_mb"), rule="either").predict(jobs)
    both = QueueAnomalyDetector(metrics=("duration_s", "memory_mb"), rule="both").predict(jobs)
    assert either.get_column("prediction").sum() >= both.get_column("prediction").sum()
    det = QueueAnomalyDetector.from_config(PRESETS["queue-anomaly"]["config"])
    # seed 001: z 3.0, IQR 1.5, confidence 0.6; seed 000: window 100
    assert (det.zscore_threshold, det.iqr_multiplier, det.threshold, det.window_size) == (3.0, 1.5, 0.6, 100)
    assert QueueAnomalyDetector.from_config({"window_size": 50.0}, log=True).params()["window_size"] == 50
    with pytest.raises(mlmm.ValidationError, match="window_size=2: expected an integer >= 5"):
        QueueAnomalyDetector(window_size=2)
    with pytest.raises(mlmm.ValidationError, match="rule='any': expected either, both, zscore or iqr"):
        QueueAnomalyDetector(rule="any")
    with pytest.raises(mlmm.ValidationError, match=r"columns \['job_type'\] are missing"):
        QueueAnomalyDetector(metrics=("duration_s",)).predict(jobs.drop("job_type"))
