"""Spark over the prediction log: windowed metrics, trends and drift statistics with PySpark.

An optional engine (``pip install mlmm[spark]``; PySpark 4 and Java 17 or newer) for logs too big
for one machine. It reads the same hive-partitioned layout as the local engine
(``predictions/model_name=<m>/date=<d>/*.parquet`` and the late labels under
``labels/model_name=<m>/``), joins labels the same way, and returns the same result types:

==========================  ========================================  =====================================
Spark                       local engine                              result
==========================  ========================================  =====================================
:func:`metrics`             :func:`mlmm.monitor.metrics`              :class:`mlmm.monitor.Metrics`
:func:`trends`              :func:`mlmm.monitor.trends`               the same polars frame
:func:`drift`               :func:`mlmm.drift.check`                  :class:`mlmm.drift.DriftReport`
:func:`write_counts`        (the hourly counts the local engine       Parquet a notebook reads with
                            caches per day)                           :func:`read_counts`
==========================  ========================================  =====================================

Spark does the scanning, the label join and the grouping on the cluster. Like the local engine it
reads a day's predictions with their labels already joined from ``cache/labelled/`` when that
file's signature still matches the day's files (the file ``log_labels`` writes), and joins the
day itself otherwise. The driver receives a few hundred rows of counts and turns them into
results with the local engine's own code
(:func:`mlmm.monitor.classification.metrics_from_counts` for metrics and Wilson intervals, the drift module's
test functions for the statistics), so the two engines cannot drift apart in their formulas.

Agreement with the local engine (checked by ``tests/test_spark.py``)
---------------------------------------------------------------------
- Every count (rows, labelled rows, confusion matrix, correct, scored), every proportion and its
  Wilson interval, F1, the window's first and last time: **identical**.
- Sums of floats (mean confidence, Brier score, ECE, trend columns built from them): equal up to
  the order of floating-point addition, **relative difference <= 1e-12**.
- Drift: categorical columns (chi-square, z, PSI, Jensen-Shannon) are counted exactly; a numeric
  column of the current window with at most ``exact_max`` distinct values (default 1,000,000) is
  rebuilt exactly from Spark's value counts, so every statistic is **identical**. Beyond that,
  KS, PSI and Jensen-Shannon are still exact (counts at the reference's values and bin edges),
  and the Wasserstein distance is computed exactly from per-bucket sums (relative difference
  <= 1e-12); Anderson-Darling then needs the raw values and is refused.
- No approximate quantiles are used anywhere.

Limits: windows are time ranges (``last_n`` and row-count intervals such as ``"1000rows"``
need a global order of rows: use the local engine). The driver lists the log's files with
mlmm's own functions (so compacted-away files and the label layout are handled exactly as
locally) and hands Spark the file list: a local workspace must be at the same path on the
driver and the executors (local mode, or a shared file system such as NFS/EFS); a workspace on
S3 is read as ``s3a://`` (Hadoop's S3A connector: ``hadoop-aws`` on the classpath and the
``spark.hadoop.fs.s3a.*`` settings are the cluster's; not covered by mlmm's tests).

Session: :func:`session` makes a local one bound to 127.0.0.1 (no UI, small shuffles); any
``SparkSession`` can be passed instead. ``spark=None`` means ``session()``.

References: Apache Spark SQL reference (aggregate functions, ``_metadata`` columns); the local
engine's modules for every formula.

Modules: :mod:`~mlmm.spark.engine` (the session), :mod:`~mlmm.spark.logread` (the log and its
labels), :mod:`~mlmm.spark.performance` (metrics, trends, nightly counts) and
:mod:`~mlmm.spark.distributions` (feature drift).
"""

from __future__ import annotations

from .distributions import drift
from .engine import session
from .performance import (
    counts,
    metrics,
    metrics_from_counts,
    read_counts,
    trends,
    trends_from_counts,
    write_counts,
)

__all__ = [
    "counts",
    "drift",
    "metrics",
    "metrics_from_counts",
    "read_counts",
    "session",
    "trends",
    "trends_from_counts",
    "write_counts",
]
