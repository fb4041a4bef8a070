"""Reading the prediction log in Spark: the same files and the same label rule as the local engine."""

from __future__ import annotations

import datetime as _dt
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from .. import predictions as P
from ..predictions import layout as log_layout
from ..predictions import read as log_read
from ..version import Version

if TYPE_CHECKING:
    from pyspark.sql import Column, SparkSession
    from pyspark.sql import DataFrame as SparkFrame

    from ..workspace import Workspace
from .engine import ddl, functions, uri

log = logging.getLogger("mlmm")

HOUR_US = 3_600_000_000

DAY_US = 24 * HOUR_US

INF = float("inf")


def _scan(spark: SparkSession, files: list[Path], wanted: Mapping[str, pl.DataType], *, meta: bool = False) -> SparkFrame:
    """Read the ``wanted`` columns of ``files`` (a column a file lacks is null). A column whose
    type differs from ``wanted`` in some files is read with that type and cast, as
    :func:`mlmm.predictions.layout.scan` widens conflicting columns to text. ``meta`` adds the file
    path and the row's index in its file (``_file``, ``_row``: the order ties are broken by)."""
    F = functions()
    groups: dict[tuple[tuple[str, str], ...], list[Path]] = {}
    for f in files:
        own = log_layout.file_schema(f)
        key = tuple((c, ddl(c, own[c])) for c in wanted if c in own and ddl(c, own[c]) != ddl(c, wanted[c]))
        groups.setdefault(key, []).append(f)
    frames = []
    for key, group in groups.items():
        types = {c: ddl(c, t) for c, t in wanted.items()} | dict(key)
        schema = ", ".join(f"`{c}` {t}" for c, t in types.items())
        df = spark.read.schema(schema).parquet(*[uri(f) for f in group])
        if meta:
            df = df.select("*", F.col("_metadata.file_path").alias("_file"), F.col("_metadata.row_index").alias("_row"))
        for c, _ in key:
            df = df.withColumn(c, F.col(c).cast(ddl(c, wanted[c])))
        frames.append(df)
    out = frames[0]
    for df in frames[1:]:
        out = out.unionByName(df)
    return out


def day_range(ws: Workspace, model: str, since: _dt.datetime | None, until: _dt.datetime | None) -> list[tuple[Path, list[Path]]]:
    """The model's day partitions that overlap the range, with their visible files."""
    return P.day_files(ws, model, since, until)


_LOG_COLUMNS = ("prediction_id", "version", "timestamp", "prediction", "actual", "confidence")

_PARENT = r"/([^/]+)/[^/]*$"  # the directory a file is in


def _latest_labels(spark: SparkSession, files: list[Path], keys: list[str], order: list[Column | str]) -> SparkFrame:
    """The latest label per ``keys``: greatest (labeled_at, ingested_at) with nulls first, ties
    to the later file and the later row, as predictions.read.apply_labels sorts and takes the last."""
    F = functions()
    labels = _scan(spark, files, {c: P.LABEL_SCHEMA[c] for c in ("prediction_id", "actual", "labeled_at", "ingested_at")},
                   meta=True)
    labels = labels.withColumn("_dir", F.regexp_extract("_file", _PARENT, 1))
    best = F.max(F.struct(F.col("labeled_at"), F.col("ingested_at"), *order, F.col("_file"), F.col("_row"), F.col("actual")))
    return (labels.groupBy(*keys).agg(best.alias("_l"))
            .select(*keys, F.col("_l.actual").alias("_label"), F.col("_l.labeled_at").alias("_lat"),
                    F.col("_l.ingested_at").alias("_ling")))


def log_frame(
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
    F = functions()
    days = day_range(ws, model, since, until)
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
