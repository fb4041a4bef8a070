"""Metrics, trends and nightly hourly counts computed by Spark, turned into results by the local code."""

from __future__ import annotations

import datetime as _dt
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from .. import monitor as M
from .._util import parse_duration, to_utc
from ..errors import ValidationError
from ..monitor import classification as monitor_metrics
from ..monitor.timeline import derive_metrics
from ..predictions import read as log_read
from ..window import window_of

if TYPE_CHECKING:
    from pyspark.sql import Column, SparkSession
    from pyspark.sql import DataFrame as SparkFrame

    from ..workspace import Workspace
from .engine import collect, functions, get_session, uri, workspace_of
from .logread import DAY_US, HOUR_US, log_frame

log = logging.getLogger("mlmm")

_SUM_INTS = ("count", "labelled", "tp", "fp", "tn", "fn", "correct", "conf_n", "scored")

_SUM_FLOATS = ("conf_sum", "sq_err", "scored_conf", "scored_pos")

_COUNTS_SCHEMA: dict[str, pl.DataType] = {
    **{c: pl.Int64() for c in _SUM_INTS}, **{c: pl.Float64() for c in _SUM_FLOATS},
    "first": pl.Datetime("us", "UTC"), "last": pl.Datetime("us", "UTC"),
}


def _count_aggs(positive: int) -> list[Column]:
    """The sums of :func:`mlmm.monitor.classification.count_exprs`, in Spark (same null rules: a comparison with
    a missing value counts as false, a sum of nothing is 0)."""
    F = functions()
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
    F = functions()
    return F.least(F.greatest(F.floor(F.col("confidence") * monitor_metrics.ECE_BINS), F.lit(0)), F.lit(monitor_metrics.ECE_BINS - 1)).cast("tinyint")


def _truncate(column: str, step_us: int) -> Column:
    """Start of the ``step_us``-long interval a time falls in, counted from the Unix epoch (as
    polars' ``dt.truncate`` of a fixed duration); independent of the session time zone."""
    F = functions()
    us = F.unix_micros(F.col(column))
    return F.timestamp_micros(us - F.pmod(us, F.lit(step_us)))


def _empty_counts(keys: Mapping[str, pl.DataType]) -> pl.DataFrame:
    return pl.DataFrame(schema={**keys, **_COUNTS_SCHEMA})


def _check_window(w: M.Window) -> None:
    if w.last_n is not None:
        raise ValidationError(f"last_n={w.last_n!r}: the Spark engine takes time windows (last=, since=, until=,"
                              " since_deploy=); the newest N rows need a global sort: use mlmm.monitor")


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
    spark, ws = get_session(spark), workspace_of(ws)
    w = window_of(ws, model, version, window, window_args)
    _check_window(w)
    df = log_frame(spark, ws, w.model, w.version, w.since, w.until)
    if df is None:
        bins = _empty_counts({"_bin": pl.Int8()})
    else:
        bins = collect(df.groupBy(_bin().alias("_bin")).agg(*_count_aggs(positive))).sort("_bin")
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
    spark, ws = get_session(spark), workspace_of(ws)
    seconds = _interval_seconds(interval)
    w = window_of(ws, model, version, window, window_args)
    _check_window(w)
    keys = ["version"] if by_version else []
    df = log_frame(spark, ws, w.model, w.version, w.since, w.until)
    if df is None:
        frame = _empty_counts({**{k: pl.String() for k in keys}, "start": pl.Datetime("us", "UTC")})
    else:
        grouped = df.groupBy(*keys, _truncate("timestamp", seconds * 1_000_000).alias("start")).agg(*_count_aggs(positive))
        frame = collect(grouped).sort([*keys, "start"])
    frame = frame.with_columns(pl.col("start").dt.cast_time_unit("us"))
    frame = frame.with_columns((pl.col("start") + pl.duration(seconds=seconds)).alias("end"))
    return derive_metrics(frame, keys, min_labelled)


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
    spark, ws = get_session(spark), workspace_of(ws)
    F = functions()
    s = _aligned(since, "since", HOUR_US, "hour")
    u = _aligned(until, "until", HOUR_US, "hour")
    models = [model] if model is not None else sorted(
        p.name.partition("=")[2] for p in ws.predictions_dir.glob("model_name=*") if p.is_dir())
    frames = []
    for name in models:
        df = log_frame(spark, ws, name, None, s, u)
        if df is None:
            continue
        hour = _truncate("timestamp", HOUR_US)
        us = F.unix_micros("timestamp")
        day = F.date_from_unix_date(((us - F.pmod(us, F.lit(DAY_US))) / F.lit(DAY_US)).cast("int"))
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
    spark = get_session(spark)
    _aligned(since, "since", DAY_US, "day")
    _aligned(until, "until", DAY_US, "day")
    frame = counts(spark, ws, model, since=since, until=until).cache()
    try:
        rows = frame.count()
        old = spark.conf.get("spark.sql.parquet.outputTimestampType", None)
        spark.conf.set("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")  # not INT96: polars reads it as UTC
        try:
            target = str(path) if "://" in str(path) else uri(Path(path))
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
    s = _aligned(w.since, "window.since", HOUR_US, "hour")
    u = _aligned(w.until, "window.until", HOUR_US, "hour")
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
