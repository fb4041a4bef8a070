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
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import logging
import math
import os
import sys
import threading
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from . import drift as D
from . import monitor as M
from . import predictions as P
from ._util import parse_duration, to_utc
from .drift.columns import (
    CompareOptions,
    auto_test,
    check_options,
    column_threshold,
    correct_columns,
    correction_name,
    requested_test,
    test_column,
)
from .drift.features import columns_to_test, read_window
from .drift.prepared import (
    CategoricalSide,
    NumericSide,
    PreparedReference,
    current_spec,
    missing_share,
    numeric_side,
)
from .drift.quality import quality_issues
from .drift.report import dataset_report
from .drift.sketch import prepare_reference
from .drift.stattests import KS_EXACT_MAX, js_counts, psi_counts
from .errors import MlmmError, ValidationError
from .monitor import classification as monitor_metrics
from .monitor.timeline import derive_metrics
from .predictions import layout as log_layout
from .predictions import read as log_read
from .version import Version
from .window import window_of

if TYPE_CHECKING:
    from pyspark.sql import Column, SparkSession
    from pyspark.sql import DataFrame as SparkFrame

    from .workspace import Workspace

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

log = logging.getLogger("mlmm")

_PANDAS_WARNING = "PySpark does not yet fully support pandas"  # pyspark's own check; mlmm never uses pandas here
_HOUR_US = 3_600_000_000
_DAY_US = 24 * _HOUR_US
_INF = float("inf")


# ----------------------------------------------------------------------------- session
def session(
    master: str = "local[2]",
    *,
    app_name: str = "mlmm",
    shuffle_partitions: int = 4,
    config: Mapping[str, Any] | None = None,
    log_level: str = "ERROR",
) -> SparkSession:
    """A ``SparkSession`` for mlmm (``getOrCreate``: an active session is reused).

    Defaults: no web UI and no console progress bar, ``shuffle_partitions`` shuffle partitions
    (Spark's 200 are for clusters), UTC session time zone, Python workers on this interpreter;
    with a ``local`` master the driver binds to 127.0.0.1. ``config`` adds or overrides Spark
    properties, e.g. ``{"spark.driver.memory": "8g"}``.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MlmmError("mlmm.spark needs PySpark: pip install 'mlmm[spark]' (and Java 17 or newer)") from exc
    if not isinstance(shuffle_partitions, int) or isinstance(shuffle_partitions, bool) or shuffle_partitions < 1:
        raise ValidationError(f"shuffle_partitions={shuffle_partitions!r}: expected a positive integer")
    conf: dict[str, Any] = {
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.shuffle.partitions": str(shuffle_partitions),
        "spark.sql.session.timeZone": "UTC",
        "spark.pyspark.python": sys.executable,
        "spark.pyspark.driver.python": sys.executable,
    }
    if master.startswith("local"):
        conf.update({"spark.driver.host": "127.0.0.1", "spark.driver.bindAddress": "127.0.0.1"})
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # read by the JVM this process launches
    conf.update(dict(config or {}))
    builder = SparkSession.builder.master(master).appName(app_name)
    for key, value in conf.items():
        builder = builder.config(key, str(value))
    with warnings.catch_warnings(), _no_preexec_fn():
        warnings.filterwarnings("ignore", message=_PANDAS_WARNING, category=FutureWarning)
        spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel(log_level)
    return spark


@contextlib.contextmanager
def _no_preexec_fn() -> Iterator[None]:
    """Start Spark's JVM without running Python code in the forked child.

    PySpark launches ``spark-submit`` with a ``preexec_fn`` that ignores SIGINT, so Ctrl-C in a
    notebook does not kill the JVM. A ``preexec_fn`` runs Python between fork and exec, which
    is unsafe when other threads exist (polars', DuckDB's): after a polars query, the child
    can crash before exec (seen here: SIGSEGV, then PySpark's ``JAVA_GATEWAY_EXITED``). A new
    session (``setsid``) keeps the terminal's Ctrl-C away from the JVM just as well, and lets
    ``subprocess`` start it without Python in the child. The JVM still exits with this
    process: PySpark closes its stdin.
    """
    try:
        from pyspark import java_gateway
    except ImportError:  # pragma: no cover - PySpark moved its launcher
        yield
        return
    real = getattr(java_gateway, "Popen", None)
    if real is None:  # pragma: no cover
        yield
        return

    def popen(*args: Any, **kwargs: Any) -> Any:
        if kwargs.pop("preexec_fn", None) is not None:
            kwargs["start_new_session"] = True
        return real(*args, **kwargs)

    with _LAUNCH_LOCK:
        java_gateway.Popen = popen
        try:
            yield
        finally:
            java_gateway.Popen = real


_LAUNCH_LOCK = threading.Lock()


def _spark(spark: SparkSession | None) -> SparkSession:
    return session() if spark is None else spark


def _workspace(ws: Workspace | str | Path) -> Workspace:
    from .workspace import Workspace, open_workspace

    return ws if isinstance(ws, Workspace) else open_workspace(ws)


def _collect(frame: SparkFrame) -> pl.DataFrame:
    """A (small) Spark result as polars, through Arrow; datetimes as UTC."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_PANDAS_WARNING, category=FutureWarning)
        table = frame.toArrow()
    out = pl.DataFrame(pl.from_arrow(table))
    return out.with_columns(pl.col(pl.Datetime).dt.convert_time_zone("UTC"))


def _F() -> Any:
    from pyspark.sql import functions

    return functions


# ----------------------------------------------------------------------------- reading the log
_DDL = {pl.String: "STRING", pl.Boolean: "BOOLEAN", pl.Float64: "DOUBLE", pl.Float32: "FLOAT", pl.Int64: "BIGINT",
        pl.Int32: "INT", pl.Int16: "SMALLINT", pl.Int8: "TINYINT", pl.Date: "DATE"}


def _ddl(name: str, dtype: pl.DataType) -> str:
    if isinstance(dtype, pl.Datetime):
        return "TIMESTAMP"
    for key, text in _DDL.items():
        if dtype == key:
            return text
    raise ValidationError(f"column {name!r} has type {dtype}: the Spark engine reads String, Boolean, Float, Int,"
                          " Date and Datetime columns")


def _uri(path: Any) -> str:
    """The path as Spark (Hadoop) reads it: ``file://`` for a local file (not ``as_uri()``:
    Hadoop would percent-encode twice), ``s3a://`` for an object of a workspace on S3."""
    text = str(path)
    if text.startswith("s3://"):
        return "s3a://" + text[len("s3://"):]
    return "file://" + str(Path(text).resolve())


def _scan(spark: SparkSession, files: list[Path], wanted: Mapping[str, pl.DataType], *, meta: bool = False) -> SparkFrame:
    """Read the ``wanted`` columns of ``files`` (a column a file lacks is null). A column whose
    type differs from ``wanted`` in some files is read with that type and cast, as
    :func:`mlmm.predictions.layout.scan` widens conflicting columns to text. ``meta`` adds the file
    path and the row's index in its file (``_file``, ``_row``: the order ties are broken by)."""
    F = _F()
    groups: dict[tuple[tuple[str, str], ...], list[Path]] = {}
    for f in files:
        own = log_layout.file_schema(f)
        key = tuple((c, _ddl(c, own[c])) for c in wanted if c in own and _ddl(c, own[c]) != _ddl(c, wanted[c]))
        groups.setdefault(key, []).append(f)
    frames = []
    for key, group in groups.items():
        types = {c: _ddl(c, t) for c, t in wanted.items()} | dict(key)
        ddl = ", ".join(f"`{c}` {t}" for c, t in types.items())
        df = spark.read.schema(ddl).parquet(*[_uri(f) for f in group])
        if meta:
            df = df.select("*", F.col("_metadata.file_path").alias("_file"), F.col("_metadata.row_index").alias("_row"))
        for c, _ in key:
            df = df.withColumn(c, F.col(c).cast(_ddl(c, wanted[c])))
        frames.append(df)
    out = frames[0]
    for df in frames[1:]:
        out = out.unionByName(df)
    return out


def _days(ws: Workspace, model: str, since: _dt.datetime | None, until: _dt.datetime | None) -> list[tuple[Path, list[Path]]]:
    """The model's day partitions that overlap the range, with their visible files."""
    return P.day_files(ws, model, since, until)


_LOG_COLUMNS = ("prediction_id", "version", "timestamp", "prediction", "actual", "confidence")
_PARENT = r"/([^/]+)/[^/]*$"  # the directory a file is in


def _latest_labels(spark: SparkSession, files: list[Path], keys: list[str], order: list[Column | str]) -> SparkFrame:
    """The latest label per ``keys``: greatest (labeled_at, ingested_at) with nulls first, ties
    to the later file and the later row, as predictions.read.apply_labels sorts and takes the last."""
    F = _F()
    labels = _scan(spark, files, {c: P.LABEL_SCHEMA[c] for c in ("prediction_id", "actual", "labeled_at", "ingested_at")},
                   meta=True)
    labels = labels.withColumn("_dir", F.regexp_extract("_file", _PARENT, 1))
    best = F.max(F.struct(F.col("labeled_at"), F.col("ingested_at"), *order, F.col("_file"), F.col("_row"), F.col("actual")))
    return (labels.groupBy(*keys).agg(best.alias("_l"))
            .select(*keys, F.col("_l.actual").alias("_label"), F.col("_l.labeled_at").alias("_lat"),
                    F.col("_l.ingested_at").alias("_ling")))


def _log(
    spark: SparkSession,
    ws: Workspace,
    model: str,
    version: str | None,
    since: _dt.datetime | None,
    until: _dt.datetime | None,
    *,
    labels: bool = True,
    columns: Mapping[str, pl.DataType] | None = None,
) -> SparkFrame | None:
    """The log of ``model`` in ``[since, until)`` (one version or all) as a Spark frame, late labels
    joined exactly as :func:`mlmm.predictions.read_predictions` joins them; None without files.

    Per day, as the local engine: a day without labels is a plain scan; a day whose joined file
    in ``cache/labelled/`` matches the signature of its files is read from it (the join is done);
    other days are joined here. Labels that may belong to any day are applied on top.
    """
    F = _F()
    days = _days(ws, model, since, until)
    if not days:
        return None
    wanted: dict[str, pl.DataType] = {c: P.BASE_SCHEMA[c] for c in _LOG_COLUMNS} | dict(columns or {})

    def window(df: SparkFrame) -> SparkFrame:
        if version is not None:
            df = df.where(F.col("version") == str(Version.parse(version)))
        if since is not None:
            df = df.where(F.col("timestamp") >= F.lit(since))
        if until is not None:
            df = df.where(F.col("timestamp") < F.lit(until))
        return df

    if not labels:
        return window(_scan(spark, [f for _, files in days for f in files], wanted))
    plain: list[Path] = []
    cached: list[Path] = []
    live: list[tuple[list[Path], list[Path]]] = []
    for d, files in days:
        lfiles = log_layout.day_label_files(ws, model, d)
        if not lfiles:
            plain += files
            continue
        joined = log_layout.labelled_dir(ws, model, d) / f"joined-{log_layout.signature(files + lfiles)}.parquet"
        if joined.exists():
            cached.append(joined)
        else:
            live.append((files, lfiles))
    never = F.lit(None).cast("timestamp")
    parts = []
    if plain:
        parts.append(window(_scan(spark, plain, wanted)).withColumn("labeled_at", never).withColumn("_arrived", never))
    if cached:
        stamp = pl.Datetime("us", "UTC")
        df = _scan(spark, cached, wanted | {"labeled_at": stamp, log_read.LABEL_ARRIVAL: stamp})
        parts.append(window(df).withColumnRenamed(log_read.LABEL_ARRIVAL, "_arrived"))
    if live:
        # labels stored under their predictions' day join that day's predictions only
        df = window(_scan(spark, [f for files, _ in live for f in files], wanted, meta=True))
        df = df.withColumn("_day", F.regexp_extract("_file", r"/date=([^/]+)/[^/]*$", 1)).drop("_file", "_row")
        latest = _latest_labels(spark, [f for _, lfiles in live for f in lfiles], ["_dir", "prediction_id"], [])
        parts.append(df.join(latest.withColumnRenamed("_dir", "_day"), ["_day", "prediction_id"], "left")
                     .withColumn("actual", F.coalesce("_label", "actual"))
                     .withColumnRenamed("_lat", "labeled_at").withColumnRenamed("_ling", "_arrived")
                     .drop("_label", "_day"))
    df = parts[0]
    for part in parts[1:]:
        df = df.unionByName(part)
    # labels that can belong to any day (they came before their prediction, or an older layout):
    # they replace a day's label only when later (labeled_at, then arrival; a tie goes to them)
    loose = log_layout.loose_label_files(ws, model)
    if loose:
        undated = F.when(F.col("_dir") == log_layout.UNDATED, 1).otherwise(0)
        latest = _latest_labels(spark, loose, ["prediction_id"], [undated])
        have, have_in = F.col("labeled_at"), F.col("_arrived")
        newer = F.col("_lat").isNotNull() & (
            have.isNull() | (F.col("_lat") > have)
            | ((F.col("_lat") == have) & (have_in.isNull() | (F.coalesce(F.col("_ling"), F.lit(log_read.EPOCH)) >= have_in))))
        df = (df.join(latest, "prediction_id", "left")
              .withColumn("actual", F.when(newer, F.col("_label")).otherwise(F.col("actual")))
              .withColumn("labeled_at", F.when(newer, F.col("_lat")).otherwise(have))
              .drop("_label", "_lat", "_ling"))
    return df.drop("_arrived")


# ----------------------------------------------------------------------------- counting
_SUM_INTS = ("count", "labelled", "tp", "fp", "tn", "fn", "correct", "conf_n", "scored")
_SUM_FLOATS = ("conf_sum", "sq_err", "scored_conf", "scored_pos")
_COUNTS_SCHEMA: dict[str, pl.DataType] = {
    **{c: pl.Int64() for c in _SUM_INTS}, **{c: pl.Float64() for c in _SUM_FLOATS},
    "first": pl.Datetime("us", "UTC"), "last": pl.Datetime("us", "UTC"),
}


def _count_aggs(positive: int) -> list[Column]:
    """The sums of :func:`mlmm.monitor.classification.count_exprs`, in Spark (same null rules: a comparison with
    a missing value counts as false, a sum of nothing is 0)."""
    F = _F()
    y, p, c = F.col("actual"), F.col("prediction"), F.col("confidence")
    labelled = y.isNotNull()
    yp, pp = y == positive, p == positive
    scored = labelled & c.isNotNull()

    def n(cond: Column) -> Column:
        return F.sum(F.when(cond, 1).otherwise(0)).cast("bigint")

    def total(value: Column) -> Column:
        return F.coalesce(F.sum(value), F.lit(0.0))

    err = c - yp.cast("double")
    return [
        F.count(F.lit(1)).alias("count"), n(labelled).alias("labelled"),
        n(labelled & pp & yp).alias("tp"), n(labelled & pp & ~yp).alias("fp"),
        n(labelled & ~pp & ~yp).alias("tn"), n(labelled & ~pp & yp).alias("fn"),
        n(labelled & (p == y)).alias("correct"),
        total(c).alias("conf_sum"), F.count(c).alias("conf_n"), n(scored).alias("scored"),
        total(F.when(scored, err * err)).alias("sq_err"),
        total(F.when(scored, c)).alias("scored_conf"),
        total(F.when(scored, yp.cast("double"))).alias("scored_pos"),
        F.min("timestamp").alias("first"), F.max("timestamp").alias("last"),
    ]


def _bin() -> Column:
    """The ten equal-width confidence bins of the ECE, as :func:`mlmm.monitor.metrics`."""
    F = _F()
    return F.least(F.greatest(F.floor(F.col("confidence") * monitor_metrics.ECE_BINS), F.lit(0)), F.lit(monitor_metrics.ECE_BINS - 1)).cast("tinyint")


def _truncate(column: str, step_us: int) -> Column:
    """Start of the ``step_us``-long interval a time falls in, counted from the Unix epoch (as
    polars' ``dt.truncate`` of a fixed duration); independent of the session time zone."""
    F = _F()
    us = F.unix_micros(F.col(column))
    return F.timestamp_micros(us - F.pmod(us, F.lit(step_us)))


def _empty_counts(keys: Mapping[str, pl.DataType]) -> pl.DataFrame:
    return pl.DataFrame(schema={**keys, **_COUNTS_SCHEMA})


def _check_window(w: M.Window) -> None:
    if w.last_n is not None:
        raise ValidationError(f"last_n={w.last_n!r}: the Spark engine takes time windows (last=, since=, until=,"
                              " since_deploy=); the newest N rows need a global sort: use mlmm.monitor")


# ----------------------------------------------------------------------------- metrics and trends
def metrics(
    spark: SparkSession | None,
    ws: Workspace | str | Path,
    model: str,
    version: str | None = None,
    *,
    window: M.Window | None = None,
    min_labelled: int = M.DEFAULT_MIN_LABELLED,
    positive: int = 1,
    **window_args: Any,
) -> M.Metrics:
    """:func:`mlmm.monitor.metrics` computed by Spark: the same :class:`~mlmm.monitor.Metrics`.

    Window arguments as :func:`mlmm.monitor.resolve_window` (``last="24h"``, ``since``/``until``,
    ``since_deploy``), or a ready ``window=``; ``last_n`` is refused. Spark counts the confusion
    matrix and the calibration sums per confidence bin (eleven rows reach the driver); the
    intervals and derived metrics come from the local engine's code.
    """
    spark, ws = _spark(spark), _workspace(ws)
    w = window_of(ws, model, version, window, window_args)
    _check_window(w)
    df = _log(spark, ws, w.model, w.version, w.since, w.until)
    if df is None:
        bins = _empty_counts({"_bin": pl.Int8()})
    else:
        bins = _collect(df.groupBy(_bin().alias("_bin")).agg(*_count_aggs(positive))).sort("_bin")
    return monitor_metrics.metrics_from_counts(w, bins, min_labelled, positive)


def _interval_seconds(interval: str) -> int:
    text = str(interval).strip().lower()
    if text.endswith("rows"):
        raise ValidationError(f"interval={interval!r}: the Spark engine takes durations ('1h', '1d', '1w');"
                              " intervals of consecutive rows need a global sort: use mlmm.monitor.trends")
    seconds = int(parse_duration(text, "interval").total_seconds())
    if seconds < 1:
        raise ValidationError(f"interval={interval!r}: expected at least one second")
    return seconds


def trends(
    spark: SparkSession | None,
    ws: Workspace | str | Path,
    model: str,
    version: str | None = None,
    *,
    interval: str = "1h",
    by_version: bool = False,
    window: M.Window | None = None,
    min_labelled: int = 30,
    positive: int = 1,
    **window_args: Any,
) -> pl.DataFrame:
    """:func:`mlmm.monitor.trends` computed by Spark: metrics per ``interval`` (a duration),
    the same columns (start, end, count, labelled, each proportion with its Wilson band, f1,
    mean confidence, brier, sufficient; ``version`` first when ``by_version``)."""
    spark, ws = _spark(spark), _workspace(ws)
    seconds = _interval_seconds(interval)
    w = window_of(ws, model, version, window, window_args)
    _check_window(w)
    keys = ["version"] if by_version else []
    df = _log(spark, ws, w.model, w.version, w.since, w.until)
    if df is None:
        frame = _empty_counts({**{k: pl.String() for k in keys}, "start": pl.Datetime("us", "UTC")})
    else:
        grouped = df.groupBy(*keys, _truncate("timestamp", seconds * 1_000_000).alias("start")).agg(*_count_aggs(positive))
        frame = _collect(grouped).sort([*keys, "start"])
    frame = frame.with_columns(pl.col("start").dt.cast_time_unit("us"))
    frame = frame.with_columns((pl.col("start") + pl.duration(seconds=seconds)).alias("end"))
    return derive_metrics(frame, keys, min_labelled)


# ----------------------------------------------------------------------------- nightly aggregates
def _aligned(value: Any, field: str, unit_us: int, unit: str) -> _dt.datetime | None:
    if value is None:
        return None
    t = to_utc(value, field)
    if ((t - log_read.EPOCH) // _dt.timedelta(microseconds=1)) % unit_us:
        raise ValidationError(f"{field}={t.isoformat()}: expected a whole {unit} (aggregates hold complete {unit}s)")
    return t


def counts(
    spark: SparkSession | None,
    ws: Workspace | str | Path,
    model: str | None = None,
    *,
    since: Any = None,
    until: Any = None,
) -> SparkFrame:
    """The log's counts per model, day, version, hour and confidence bin, as a Spark frame.

    Columns: ``model_name, date, version, hour, bin`` (the ECE bin, null without a confidence),
    the integer sums ``count, labelled, tp, fp, tn, fn, correct, conf_n, scored``, the float sums
    ``conf_sum, sq_err, scored_conf, scored_pos`` and ``first, last`` (positive class 1, as the
    local engine's hourly cache). Every metric of :mod:`mlmm.monitor` over whole hours follows
    from them (:func:`metrics_from_counts`, :func:`trends_from_counts`). ``since``/``until``
    must be whole hours; ``model=None`` counts every model.
    """
    spark, ws = _spark(spark), _workspace(ws)
    F = _F()
    s = _aligned(since, "since", _HOUR_US, "hour")
    u = _aligned(until, "until", _HOUR_US, "hour")
    models = [model] if model is not None else sorted(
        p.name.partition("=")[2] for p in ws.predictions_dir.glob("model_name=*") if p.is_dir())
    frames = []
    for name in models:
        df = _log(spark, ws, name, None, s, u)
        if df is None:
            continue
        hour = _truncate("timestamp", _HOUR_US)
        us = F.unix_micros("timestamp")
        day = F.date_from_unix_date(((us - F.pmod(us, F.lit(_DAY_US))) / F.lit(_DAY_US)).cast("int"))
        frames.append(df.groupBy(F.lit(name).alias("model_name"), day.alias("date"), "version", hour.alias("hour"),
                                 _bin().alias("bin")).agg(*_count_aggs(1)))
    if not frames:
        schema = ("model_name STRING, date DATE, version STRING, hour TIMESTAMP, bin TINYINT, "
                  + ", ".join(f"{c} BIGINT" for c in _SUM_INTS) + ", " + ", ".join(f"{c} DOUBLE" for c in _SUM_FLOATS)
                  + ", first TIMESTAMP, last TIMESTAMP")
        return spark.createDataFrame([], schema)
    out = frames[0]
    for df in frames[1:]:
        out = out.unionByName(df)
    return out


def write_counts(
    spark: SparkSession | None,
    ws: Workspace | str | Path,
    path: str | Path,
    *,
    model: str | None = None,
    since: Any = None,
    until: Any = None,
) -> int:
    """Write :func:`counts` as Parquet under ``path/model_name=<m>/date=<d>/`` and return the
    number of rows written. ``since``/``until`` must be whole UTC days; the days written
    replace their earlier copies and other days are kept (Spark's dynamic partition
    overwrite), so a nightly job can recount the last few days as late labels arrive.
    """
    spark = _spark(spark)
    _aligned(since, "since", _DAY_US, "day")
    _aligned(until, "until", _DAY_US, "day")
    frame = counts(spark, ws, model, since=since, until=until).cache()
    try:
        rows = frame.count()
        old = spark.conf.get("spark.sql.parquet.outputTimestampType", None)
        spark.conf.set("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")  # not INT96: polars reads it as UTC
        try:
            target = str(path) if "://" in str(path) else _uri(Path(path))
            (frame.repartition("model_name", "date").write.mode("overwrite")
             .option("partitionOverwriteMode", "dynamic").partitionBy("model_name", "date").parquet(target))
        finally:
            if old is None:
                spark.conf.unset("spark.sql.parquet.outputTimestampType")
            else:
                spark.conf.set("spark.sql.parquet.outputTimestampType", old)
    finally:
        frame.unpersist()
    return rows


def read_counts(path: str | Path, model: str, *, since: Any = None, until: Any = None) -> pl.DataFrame:
    """The counts :func:`write_counts` wrote for ``model`` (hours in ``[since, until)``), with
    polars: no Spark needed, so a report notebook reads a month of a billion-row-a-day log in
    milliseconds."""
    folder = Path(path) / f"model_name={model}"
    files = sorted(folder.glob("date=*/*.parquet"))
    keys = {"date": pl.Date(), "version": pl.String(), "hour": pl.Datetime("us", "UTC"), "bin": pl.Int8()}
    if not files:
        return pl.DataFrame(schema={"model_name": pl.String(), **keys, **_COUNTS_SCHEMA})
    frame = pl.scan_parquet(files, hive_partitioning=True, hive_schema={"model_name": pl.String(), "date": pl.Date()})
    if since is not None:
        frame = frame.filter(pl.col("hour") >= to_utc(since, "since"))
    if until is not None:
        frame = frame.filter(pl.col("hour") < to_utc(until, "until"))
    out = frame.collect()
    return out.with_columns(pl.col(pl.Datetime).dt.convert_time_zone("UTC").dt.cast_time_unit("us"),
                            *[pl.col(c).cast(t) for c, t in _COUNTS_SCHEMA.items() if not isinstance(t, pl.Datetime)])


def _counts_in(frame: pl.DataFrame, w: M.Window) -> pl.DataFrame:
    s = _aligned(w.since, "window.since", _HOUR_US, "hour")
    u = _aligned(w.until, "window.until", _HOUR_US, "hour")
    if w.last_n is not None:
        raise ValidationError(f"last_n={w.last_n!r}: aggregates hold whole hours; expected a time window")
    out = frame
    if w.version is not None:
        out = out.filter(pl.col("version") == w.version)
    if s is not None:
        out = out.filter(pl.col("hour") >= s)
    if u is not None:
        out = out.filter(pl.col("hour") < u)
    return out


def metrics_from_counts(counts: pl.DataFrame, window: M.Window, *,
                        min_labelled: int = M.DEFAULT_MIN_LABELLED) -> M.Metrics:
    """:class:`~mlmm.monitor.Metrics` of a window of whole hours from :func:`read_counts`:
    equal to :func:`mlmm.monitor.metrics` over the same window (positive class 1)."""
    bins = _counts_in(counts, window).group_by("bin").agg(
        *[pl.col(c).sum() for c in (*_SUM_INTS, *_SUM_FLOATS)], pl.col("first").min(), pl.col("last").max()).sort("bin")
    return monitor_metrics.metrics_from_counts(window, bins, min_labelled, 1)


def trends_from_counts(counts: pl.DataFrame, window: M.Window, *, interval: str = "1h", by_version: bool = False,
                       min_labelled: int = 30) -> pl.DataFrame:
    """:func:`mlmm.monitor.trends` over a window of whole hours from :func:`read_counts`;
    ``interval`` a whole number of hours."""
    seconds = _interval_seconds(interval)
    if seconds % 3600:
        raise ValidationError(f"interval={interval!r}: aggregates hold whole hours; expected a multiple of 1h")
    keys = ["version"] if by_version else []
    us = pl.col("hour").dt.epoch("us")
    start = pl.from_epoch(us - us % (seconds * 1_000_000), time_unit="us").dt.replace_time_zone("UTC")
    frame = (_counts_in(counts, window).group_by(*keys, start.alias("start"))
             .agg(*[pl.col(c).sum() for c in (*_SUM_INTS, *_SUM_FLOATS)]).sort([*keys, "start"])
             .with_columns((pl.col("start") + pl.duration(seconds=seconds)).alias("end")))
    return derive_metrics(frame, keys, min_labelled)


# ----------------------------------------------------------------------------- drift
@dataclasses.dataclass(frozen=True)
class _Shape:
    """What :func:`mlmm.drift.quality.quality_issues` reads of the current frame: its size, columns, types."""

    height: int
    columns: list[str]
    schema: dict[str, pl.DataType]


@dataclasses.dataclass
class _Large:
    """A numeric column of the current window with more than ``exact_max`` distinct values:
    statistics are computed by Spark against the reference, not from the values."""

    side: NumericSide  # sizes, moments, min/max; no values
    frame: SparkFrame  # one column ``x``: the finite values as doubles
    below: int = 0  # values under the reference minimum / over its maximum
    above: int = 0


def _kind(name: str, rs: NumericSide | CategoricalSide, opts: CompareOptions) -> tuple[str, str | None]:
    """The column kind and requested test, as :func:`mlmm.drift.columns.test_column` decides them."""
    requested = requested_test(name, opts)
    if isinstance(rs, NumericSide):
        if requested in ("chisquare", "z"):
            return "categorical", requested
        if requested in ("ks", "wasserstein", "anderson"):
            return "numeric", requested
        return ("numeric" if rs.n_unique > D.FEW_VALUES else "categorical"), requested
    return "categorical", requested


def _bucket(frame: SparkFrame, grid: np.ndarray) -> SparkFrame:
    """Add ``_b`` = #(grid <= x) and ``_eq`` = (x equals a grid value) for a sorted grid of
    distinct values: numpy's ``searchsorted`` sides, by Spark ML's ``Bucketizer`` (binary search
    in the JVM) on x and on -x."""
    from pyspark.ml.feature import Bucketizer

    F = _F()
    k = int(grid.size)
    up = Bucketizer(splits=[-_INF, *map(float, grid), _INF], inputCol="x", outputCol="_b")
    down = Bucketizer(splits=[-_INF, *map(float, -grid[::-1]), _INF], inputCol="_nx", outputCol="_b2")
    out = down.transform(up.transform(frame).withColumn("_nx", -F.col("x")))
    # #(grid < x) = k - #(grid >= x) = k - #(-grid <= -x)
    return out.select("x", F.col("_b").cast("int").alias("_b"),
                      (F.col("_b") - (F.lit(k) - F.col("_b2"))).cast("int").alias("_eq"))


def _grid_counts(large: _Large, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(#(x < g), #(x <= g)) for each value g of a sorted grid of distinct values."""
    F = _F()
    per = _collect(_bucket(large.frame, grid).groupBy("_b").agg(F.count(F.lit(1)).alias("n"), F.sum("_eq").alias("e")))
    cnt = np.zeros(grid.size + 1, dtype=np.int64)
    eq = np.zeros(grid.size + 1, dtype=np.int64)
    b = per.get_column("_b").to_numpy()
    cnt[b] = per.get_column("n").to_numpy()
    eq[b] = per.get_column("e").fill_null(0).to_numpy()
    left = np.cumsum(cnt)[:-1]  # x < g_j  <=>  #(grid <= x) <= j - 1
    return left, left + eq[1:]


def _unique(values: np.ndarray) -> np.ndarray:
    return np.unique(np.asarray(values, dtype=np.float64) + 0.0)  # -0.0 -> 0.0, as numpy compares


def _large_ks(rs: NumericSide, large: _Large) -> tuple[float, float, bool]:
    """:func:`mlmm.drift.stattests.ks_test` from counts: D identical, the same p-value rule."""
    m = large.side.n
    if rs.values is not None:
        r = rs.values
        n = r.size
        grid = _unique(r)
        left_u, right_u = _grid_counts(large, grid)
        at = np.searchsorted(grid, r + 0.0)
        left, right = left_u[at], right_u[at]
        i = np.arange(n)
        up = (i + 1) / n - right / m
        down = left / m - i / n
        d = float(max(up.max(), down.max(), 0.0))
        approx = False
    else:
        assert rs.grid_q is not None and rs.grid_cdf is not None
        n = rs.n
        grid = _unique(rs.grid_q)
        _, right_u = _grid_counts(large, grid)
        fc = right_u[np.searchsorted(grid, rs.grid_q + 0.0)] / m
        d = float(np.abs(rs.grid_cdf - fc).max())
        approx = True
    if not approx and max(n, m) <= KS_EXACT_MAX:
        from scipy import stats

        c = _collect(large.frame).get_column("x").to_numpy()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            p = float(stats.ks_2samp(rs.values, c, method="auto").pvalue)
    else:
        from scipy import stats

        big, small = max(n, m), min(n, m)
        p = float(np.clip(stats.kstwo.sf(d, np.round(big * small / (big + small))), 0.0, 1.0))
    return d, p, approx


def _large_w1(r: np.ndarray, large: _Large) -> float:
    """The Wasserstein-1 distance of the sorted reference ``r`` and the current values,
    ``integral |F_r(x) - F_c(x)| dx``, exactly, with sums of non-negative terms only.

    Between consecutive distinct reference values u_b <= x < u_(b+1), F_r is a constant
    a = A_b / n and F_c climbs by 1/m at each current value v_1 <= ... <= v_q of the bucket
    (L_b values lie below it). With s = a*m - L_b, F_c < a on [v_i, v_(i+1)) exactly for the
    ranks i < s; the first rank that is not is J. The bucket's integral times m is then
    (J - s)(u_(b+1) - v_J) + sum_(t > J)(u_(b+1) - v_t) + (s - J + 1)(v_J - u_b) + sum_(t < J)(v_t - u_b),
    v_0 = u_b and v_(q+1) = u_(b+1). Only buckets where F_c crosses F_r (1 <= J <= q) need the
    ranks inside them (a window sorted per bucket); the others need sums.
    """
    from pyspark.sql import Window

    F = _F()
    spark = large.frame.sparkSession
    n, m = r.size, large.side.n
    grid = _unique(r)
    k = grid.size
    a_cum = np.concatenate(([0], np.searchsorted(r + 0.0, grid, side="right"))).astype(object)  # A_0 .. A_k
    bucketed = _bucket(large.frame, grid).select("x", "_b")
    per = _collect(bucketed.groupBy("_b").agg(F.count(F.lit(1)).alias("q")))
    q = np.zeros(k + 1, dtype=np.int64)
    q[per.get_column("_b").to_numpy()] = per.get_column("q").to_numpy()
    below = np.concatenate(([0], np.cumsum(q)[:-1]))  # L_b
    lo = np.concatenate(([-_INF], grid))
    hi = np.concatenate((grid, [_INF]))
    rows = []
    for b in range(k + 1):
        dd = int(a_cum[b]) * m - int(below[b]) * n  # s = dd / n, exactly
        qb = int(q[b])
        j = 0 if dd <= 0 else min(qb + 1, -(-dd // n))
        if b == k:
            j = qb  # F_r = 1 above the reference: the whole bucket lies below it
        rows.append((b, float(lo[b]) if b else None, float(hi[b]) if b < k else None, j, dd, qb))
    table = spark.createDataFrame([(b, lo_, hi_, j, q_) for b, lo_, hi_, j, _, q_ in rows],
                                  "_b INT, lo DOUBLE, hi DOUBLE, j BIGINT, q BIGINT")
    joined = bucketed.join(F.broadcast(table), "_b")
    crossing = (F.col("j") >= 1) & (F.col("j") <= F.col("q")) & (F.col("_b") > 0) & (F.col("_b") < k)
    sums = _collect(joined.where(~crossing).groupBy("_b").agg(
        F.sum(F.col("hi") - F.col("x")).alias("above"), F.sum(F.col("x") - F.col("lo")).alias("below"),
        F.max("x").alias("top")))
    ranked = joined.where(crossing).withColumn("t", F.row_number().over(Window.partitionBy("_b").orderBy("x")))
    cross = _collect(ranked.groupBy("_b").agg(
        F.sum(F.when(F.col("t") > F.col("j"), F.col("hi") - F.col("x"))).alias("above"),
        F.sum(F.when(F.col("t") < F.col("j"), F.col("x") - F.col("lo"))).alias("below"),
        F.max(F.when(F.col("t") == F.col("j"), F.col("x"))).alias("vj")))
    got = {int(row[0]): row for row in sums.iter_rows()} | {int(row[0]): row for row in cross.iter_rows()}
    parts: list[float] = []
    for b, lo_b, hi_b, j, dd, qb in rows:
        row = got.get(b)
        if b == 0:  # F_r = 0 below the reference: integral of F_c
            parts.append(float(row[1] or 0.0) if row else 0.0)
            continue
        if b == k:  # F_r = 1 above it: integral of 1 - F_c
            parts.append(float(row[2] or 0.0) if row else 0.0)
            continue
        assert lo_b is not None and hi_b is not None
        if 1 <= j <= qb:
            above, under, vj = (float(row[1] or 0.0), float(row[2] or 0.0), float(row[3])) if row else (0.0, 0.0, lo_b)
        elif j == 0:
            above, under, vj = (float(row[1] or 0.0) if row else 0.0), 0.0, lo_b
        else:  # j = q + 1
            above, under, vj = 0.0, (float(row[2] or 0.0) if row else 0.0), hi_b
        total = above + under
        if j * n > dd:
            total += (j * n - dd) / n * (hi_b - vj)
        if j >= 1:
            total += (dd - (j - 1) * n) / n * (vj - lo_b)
        parts.append(total)
    return math.fsum(parts) / m


def _large_column(name: str, rs: NumericSide, large: _Large, opts: CompareOptions) -> D.ColumnDrift:
    """:func:`mlmm.drift.columns.test_column` for a numeric column known through Spark only."""
    cs = large.side
    test = requested_test(name, opts) or auto_test("numeric", rs.n, 0)
    details: dict[str, Any] = {}
    p_value: float | None = None
    approximate = False
    if test == "ks":
        statistic, p_value, approximate = _large_ks(rs, large)
    elif test == "wasserstein":
        if rs.values is None:
            raise ValidationError(f"tests[{name!r}]='wasserstein': a current window with more than exact_max distinct"
                                  " values needs the reference sample (the stored sketch alone serves ks, psi,"
                                  " jensenshannon); keep the sample or raise exact_max")
        w1 = _large_w1(rs.values, large)
        scale = rs.std
        details = {"wasserstein": w1, "std_reference": rs.std}
        if not scale > 0:
            n, m = rs.n, cs.n
            mean = (n * rs.mean + m * cs.mean) / (n + m)
            var = (n * (rs.std**2 + rs.mean**2) + m * (cs.std**2 + cs.mean**2)) / (n + m) - mean**2
            scale = math.sqrt(max(var, 0.0))
            details["scale"] = "pooled std (constant reference)"
        statistic = w1 / scale if scale > 0 else 0.0
    elif test == "anderson":
        raise ValidationError(f"tests[{name!r}]='anderson': needs the raw current values; this window has more than"
                              " exact_max distinct values (raise exact_max or pick ks / wasserstein)")
    else:
        bins = opts.bins or (next(iter(rs.hist)) if rs.values is None and rs.hist else 10)
        edges, rcounts = rs.bins(bins)
        if edges.size:
            grid = _unique(edges)
            left, _ = _grid_counts(large, grid)
            cuts = left[np.searchsorted(grid, edges + 0.0)]
            ccounts = np.diff(np.concatenate(([0], cuts, [cs.n]))).astype(np.int64)
        else:
            ccounts = np.array([cs.n], dtype=np.int64)
        statistic = psi_counts(rcounts, ccounts) if test == "psi" else js_counts(rcounts, ccounts)
        details["bins"] = int(edges.size + 1)
    threshold = column_threshold(name, test, opts)
    drifted = (p_value < threshold) if D.TESTS[test].pvalue else (statistic >= threshold)
    return D.ColumnDrift(
        column=name, kind="numeric", test=test, statistic=float(statistic), p_value=p_value, p_adjusted=p_value,
        threshold=threshold, drifted=bool(drifted), n_reference=rs.n, n_current=cs.n,
        missing_reference=missing_share(rs), missing_current=missing_share(cs), approximate=approximate,
        details=details,
    )


def _current_sides(
    df: SparkFrame, shape: _Shape, ref: PreparedReference, opts: CompareOptions, exact_max: int
) -> dict[str, NumericSide | CategoricalSide | _Large]:
    """Each current column as the drift module prepares it (exactly, from Spark's value counts),
    or as a :class:`_Large` when a numeric column has more than ``exact_max`` distinct values."""
    F = _F()
    kinds = {n: "numeric" if isinstance(side, NumericSide) else "categorical" for n, side in ref.sides.items()}
    spec = current_spec(kinds, shape)
    aggs = []
    for name, kind in spec.items():
        col = F.col(name)
        dtype = shape.schema[name]
        if kind == "numeric" or dtype.is_float():
            x = col.cast("double")
            aggs.append(F.sum(F.when(col.isNull() | F.isnan(x), 1).otherwise(0)).alias(f"{name}__missing"))
            aggs.append(F.sum(F.when(F.abs(x) == _INF, 1).otherwise(0)).alias(f"{name}__inf"))
        else:
            aggs.append(F.sum(F.when(col.isNull(), 1).otherwise(0)).alias(f"{name}__missing"))
    head = _collect(df.agg(*aggs)).row(0, named=True) if aggs else {}
    out: dict[str, NumericSide | CategoricalSide | _Large] = {}
    n_rows = shape.height
    for name, kind in spec.items():
        dtype = shape.schema[name]
        missing = int(head.get(f"{name}__missing") or 0)
        if kind == "categorical":
            valid = F.col(name).isNotNull() & (~F.isnan(F.col(name).cast("double")) if dtype.is_float() else F.lit(True))
            vc = _collect(df.where(valid).groupBy(F.col(name).alias("v")).agg(F.count(F.lit(1)).alias("__n")))
            vc = vc.with_columns(pl.col("v").cast(dtype)).sort("v")
            out[name] = CategoricalSide(str(dtype), n_rows, missing, vc.get_column("v"),
                                        vc.get_column("__n").to_numpy().astype(np.int64))
            continue
        n_inf = int(head.get(f"{name}__inf") or 0)
        x = F.col(name).cast("double")
        finite = df.select((x + F.lit(0.0)).alias("x")).where(F.col("x").isNotNull() & ~F.isnan("x") & (F.abs("x") != _INF))
        exact = _kind(name, ref.sides[name], opts)[0] == "categorical"  # categories are counted exactly
        grouped = finite.groupBy("x").agg(F.count(F.lit(1)).alias("n"))
        vc = _collect(grouped if exact else grouped.limit(exact_max + 1))
        if exact or vc.height <= exact_max:
            vc = vc.sort("x")
            values = np.repeat(vc.get_column("x").to_numpy().astype(np.float64), vc.get_column("n").to_numpy())
            out[name] = numeric_side(str(dtype), n_rows, (values, missing, n_inf))
            continue
        rs = ref.sides[name]
        assert isinstance(rs, NumericSide)
        shift = float(rs.mean) if rs.n and math.isfinite(rs.mean) else 0.0
        stats = _collect(finite.agg(
            F.count(F.lit(1)).alias("m"), F.min("x").alias("lo"), F.max("x").alias("hi"),
            F.avg(F.col("x") - shift).alias("d1"), F.avg((F.col("x") - shift) * (F.col("x") - shift)).alias("d2"),
            F.sum(F.when(F.col("x") < F.lit(rs.vmin), 1).otherwise(0)).alias("below"),
            F.sum(F.when(F.col("x") > F.lit(rs.vmax), 1).otherwise(0)).alias("above"))).row(0, named=True)
        mean = shift + stats["d1"]
        std = math.sqrt(max(stats["d2"] - stats["d1"] ** 2, 0.0))
        side = NumericSide(str(dtype), n_rows, missing, n_inf, None, (mean, std), float(stats["lo"]), float(stats["hi"]), None)
        out[name] = _Large(side, finite, int(stats["below"] or 0) if rs.n else 0, int(stats["above"] or 0) if rs.n else 0)
    return out


def _range_issue(name: str, rs: NumericSide, large: _Large, opts: CompareOptions) -> D.QualityIssue | None:
    """The ``range`` check of :func:`mlmm.drift.quality.quality_issues` for a column known through Spark only."""
    cs = large.side
    if not (rs.n and cs.n):
        return None
    share = (large.below + large.above) / cs.n
    if share <= opts.range_tolerance:
        return None
    return D.QualityIssue(
        name, "range", "warning",
        f"{name}: {share:.1%} of current values outside the reference range [{rs.vmin:g}, {rs.vmax:g}]",
        share, {"below": large.below, "above": large.above, "min": rs.vmin, "max": rs.vmax},
    )


def _evaluate(ref: PreparedReference, shape: _Shape, sides: Mapping[str, NumericSide | CategoricalSide | _Large],
              opts: CompareOptions) -> D.DriftReport:
    """:func:`mlmm.drift.comparison.evaluate` with Spark-side columns."""
    results: list[D.ColumnDrift] = []
    for name in ref.columns:
        if name in ref.skipped:
            continue
        rs, cs = ref.sides[name], sides.get(name)
        if isinstance(cs, _Large):
            assert isinstance(rs, NumericSide)
            results.append(_large_column(name, rs, cs, opts))
        else:
            results.append(test_column(name, rs, cs, opts))
    results = correct_columns(results, opts.correction)
    plain = {k: (v.side if isinstance(v, _Large) else v) for k, v in sides.items()}
    quality = quality_issues(ref, shape, plain, opts)  # type: ignore[arg-type]
    for name, cs in sides.items():
        if isinstance(cs, _Large):
            rs = ref.sides[name]
            issue = _range_issue(name, rs, cs, opts) if isinstance(rs, NumericSide) else None
            if issue is not None:  # where _quality would have put it: after the column's other issues
                later = set(ref.columns[ref.columns.index(name) + 1:]) | {c for c in shape.columns if c not in ref.all_columns}
                at = next((i for i, q in enumerate(quality) if q.column in later), len(quality))
                quality.insert(at, issue)
    return dataset_report(results, quality, drift_share=opts.drift_share, correction=correction_name(opts.correction),
                          n_reference=ref.n_rows, n_current=shape.height)


def _window_columns(ws: Workspace, model: str, days: list[tuple[Path, list[Path]]], cols: Sequence[str]
                    ) -> dict[str, pl.DataType] | None:
    """The types of ``cols`` in the window's files, or None when one is absent there."""
    schema, _ = log_layout.union_schema([f for _, files in days for f in files], P.BASE_SCHEMA)
    if any(c not in schema for c in cols):
        return None
    return {c: schema[c] for c in cols}


def drift(
    spark: SparkSession | None,
    ws: Workspace | str | Path,
    model: str,
    version: str | None = None,
    *,
    current: str | None = "last=24h",
    reference: str | None = None,
    until: Any = None,
    columns: Sequence[str] | str | None = None,
    tests: Mapping[str, str] | str | None = None,
    thresholds: Mapping[str, float] | None = None,
    correction: str | None = None,
    drift_share: float | None = None,
    exact_max: int = 1_000_000,
    max_reference_rows: int = 5_000_000,
) -> D.DriftReport:
    """The drift statistics of :func:`mlmm.drift.check` with the current window read by
    Spark: the same :class:`~mlmm.drift.DriftReport` (nothing is recorded in the registry).

    ``reference``: None (the newest stored reference: its sample, else its sketch), a stored
    ``ref-...`` id, or a window of the log (``A..B``, ``last=7d``, ``previous``), read by Spark
    and collected (refused beyond ``max_reference_rows``: store a sampled reference with
    :func:`mlmm.drift.set_reference` instead). ``current``, ``until``, ``columns``,
    ``tests``, ``thresholds``, ``correction`` and ``drift_share`` as in ``check``.

    The driver receives value counts: categorical columns, and numeric columns with at most
    ``exact_max`` distinct values (then every statistic is identical to the local engine's).
    A numeric column with more is tested in Spark against the reference (see the module
    docstring); its values never reach the driver.
    """
    spark, ws = _spark(spark), _workspace(ws)
    if isinstance(exact_max, bool) or not isinstance(exact_max, int) or exact_max < 0:
        raise ValidationError(f"exact_max={exact_max!r}: expected a non-negative integer")
    meta = ws.registry.get(model, version) if version else ws.registry.get_latest(model)
    version = str(Version.parse(version)) if version else None
    end = to_utc(until, "until") if until is not None else None
    s, u, _ = D.parse_window(current, end=end)
    if reference is None or reference.startswith("ref-"):
        stored = D.get_reference(ws, model, version, reference_id=reference)
        ref_data: Any = stored.data()
        cols = list(stored.columns) if columns is None else columns_to_test(ws, model, columns)
    else:
        rs, ru, label = D.parse_window(reference, before=(s, u), end=end)
        cols = columns_to_test(ws, model, columns)
        ref_data = _reference_frame(spark, ws, model, version, rs, ru, cols, max_reference_rows)
        if ref_data.is_empty():
            raise ValidationError(f"reference log {label}: no predictions of {model}; expected a window with data")
    share = drift_share if drift_share is not None else float(dict(meta.configuration).get("drift_share", 0.5))
    check_options(correction, share, None)
    opts = CompareOptions(tests, thresholds, correction, share, None, 0.05, 0.01)
    days = _days(ws, model, s, u)
    types = _window_columns(ws, model, days, cols) if days else None
    if types is None:  # no files, or a column absent from the window: the local engine decides (error or empty)
        return D.compare(ref_data, read_window(ws, model, version, s, u, cols).drop("timestamp"), columns=cols,
                         tests=tests, thresholds=thresholds, correction=correction, drift_share=share)
    ref = prepare_reference(ref_data, cols, ())
    df = _log(spark, ws, model, version, s, u, labels=False, columns=types)
    assert df is not None
    df = df.select(*cols).cache()
    try:
        shape = _Shape(int(df.count()), list(cols), types)
        sides = _current_sides(df, shape, ref, opts, exact_max)
        return _evaluate(ref, shape, sides, opts)
    finally:
        df.unpersist()


def _reference_frame(spark: SparkSession, ws: Workspace, model: str, version: str | None, since: _dt.datetime,
                     until: _dt.datetime, cols: Sequence[str], max_rows: int) -> pl.DataFrame:
    days = _days(ws, model, since, until)
    types = _window_columns(ws, model, days, cols) if days else None
    if types is None:
        return read_window(ws, model, version, since, until, cols).drop("timestamp")
    df = _log(spark, ws, model, version, since, until, labels=False, columns=types)
    assert df is not None
    df = df.select(*cols)
    rows = df.count()
    if rows > max_rows:
        raise ValidationError(f"reference window {since:%Y-%m-%d %H:%M}..{until:%Y-%m-%d %H:%M}: {rows:,} rows, more than"
                              f" max_reference_rows={max_rows:,}; expected a stored (sampled) reference:"
                              f" mlmm.drift.set_reference({model!r}, window=...)")
    return _collect(df).with_columns(pl.col(c).cast(t) for c, t in types.items())
