"""Reading the log: predictions with their latest label (the one label join), labels, quarantine."""

from __future__ import annotations

import concurrent.futures
import datetime as _dt
import logging
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from .._storage import StoragePath
from .._util import (
    UTC,
    is_valid_name,
    to_utc,
)
from ..errors import ValidationError
from ..version import Version
from ..window import time_or_ago
from . import clock
from .layout import (
    day_label_files,
    label_files,
    labelled_dir,
    log_days,
    loose_label_files,
    prediction_files,
    quarantine_files,
    read_parquet,
    scan,
    signature,
    write_parquet_atomic,
)
from .schema import BASE_SCHEMA, HIVE_SCHEMA, LABEL_ORDER, LABEL_SCHEMA

if TYPE_CHECKING:
    from ..workspace import Workspace


log = logging.getLogger("mlmm")


def read_labels(ws: Workspace, model: str | None = None, *, latest: bool = True, since: Any = None,
                until: Any = None) -> pl.LazyFrame:
    """Labels as a LazyFrame: ``model_name, prediction_id, actual, labeled_at`` (latest per
    prediction when ``latest``); ``since``/``until`` keep the labels of predictions made in
    that range (by day, plus the undated ones)."""
    lf = scan(label_files(ws, model, since, until), LABEL_SCHEMA, {"model_name": pl.String()})
    if latest:
        lf = latest_labels(lf, ["model_name", "prediction_id"]).drop("ingested_at")
    return lf


def latest_labels(labels: pl.LazyFrame, by: list[str]) -> pl.LazyFrame:
    """The one label rule: per prediction (``by``), the label with the latest ``labeled_at``;
    a tie goes to the later arrival (``ingested_at``; null, in files from before it existed,
    sorts first), then to the later row. Returns ``by`` + ``actual, labeled_at, ingested_at``.
    :func:`mlmm.predictions.sql.latest_labels_sql` is the same rule in SQL, and
    :mod:`mlmm.spark` the same in Spark; ``tests/test_spark.py`` checks they agree."""
    return labels.sort(LABEL_ORDER, nulls_last=False, maintain_order=True).group_by(by).agg(
        pl.col("actual").last(), pl.col("labeled_at").last(), pl.col("ingested_at").last())


def read_predictions(
    ws: Workspace,
    model: str | None = None,
    version: str | None = None,
    since: Any = None,
    until: Any = None,
    last_n: int | None = None,
    *,
    with_labels: bool = True,
) -> pl.LazyFrame:
    """The prediction log as a polars LazyFrame.

    Parameters
    ----------
    model, version
        Restrict to one model (only its directories are read) and one version.
    since, until
        Time range on ``timestamp`` (``since`` inclusive, ``until`` exclusive); datetimes,
        ISO strings, or a duration such as ``"24h"`` for ``since`` (meaning "the last 24 h").
    last_n
        Only the newest ``n`` predictions (after the other filters).
    with_labels
        Join the latest late label per prediction: ``actual`` becomes the label when there is
        one (else the value logged with the prediction) and ``labeled_at`` says when.

    The same files can be queried with DuckDB, e.g.
    ``read_parquet('predictions/*/*/*.parquet', hive_partitioning=true, union_by_name=true)``,
    or with :func:`sql`, which also joins labels and skips files replaced by compaction.
    """
    s = time_or_ago(since, "since", end=clock.now()) if since is not None else None
    u = to_utc(until, "until") if until is not None else None
    if model is not None and not is_valid_name(model):
        raise ValidationError(f"model={model!r}: expected a model name")
    if last_n is not None and (isinstance(last_n, bool) or not isinstance(last_n, int) or last_n < 1):
        raise ValidationError(f"last_n={last_n!r}: expected a positive integer")
    days = log_days(ws, model, s, u) if with_labels else None
    if days:
        loose = {name: loose_label_files(ws, name) for name in {name for name, *_ in days}}
        lf = pl.concat([labelled_day(ws, name, d, files, loose[name], lfiles) for name, d, files, lfiles in days],
                       how="diagonal_relaxed")
    else:
        lf = scan(prediction_files(ws, model, s, u) if days is None else [], BASE_SCHEMA, HIVE_SCHEMA)
        if with_labels:
            lf = lf.with_columns(pl.lit(None, pl.Datetime("us", "UTC")).alias("labeled_at"))
    if version is not None:
        lf = lf.filter(pl.col("version") == str(Version.parse(version)))
    if s is not None:
        lf = lf.filter(pl.col("timestamp") >= pl.lit(s).dt.cast_time_unit("us"))
    if u is not None:
        lf = lf.filter(pl.col("timestamp") < pl.lit(u).dt.cast_time_unit("us"))
    if last_n is not None:
        lf = lf.sort("timestamp", descending=True).head(last_n).sort("timestamp")
    base_cols = ["model_name", "version", "prediction_id", "timestamp", "prediction", "actual", "confidence"]
    if with_labels:
        base_cols.append("labeled_at")
    rest = [c for c in lf.collect_schema().names() if c not in base_cols and c != LABEL_ARRIVAL]
    return lf.select(base_cols + rest)


def apply_labels(lf: pl.LazyFrame, lfiles: list[StoragePath], *, labelled: bool) -> pl.LazyFrame:
    """Join the latest label per prediction from ``lfiles`` (latest by ``labeled_at``, then by
    arrival); when ``lf`` already carries labels (``labelled``), a label replaces it only if
    it is later in that order."""
    labels = latest_labels(scan(lfiles, LABEL_SCHEMA, {"model_name": pl.String()}), ["prediction_id"]).rename(
        {"actual": "_label", "labeled_at": "_lat", "ingested_at": "_ling"})
    lf = lf.join(labels, on="prediction_id", how="left")
    if labelled:
        have, have_ing = pl.col("labeled_at"), pl.col(LABEL_ARRIVAL)
        newer = pl.col("_lat").is_not_null() & (
            have.is_null() | (pl.col("_lat") > have)
            | ((pl.col("_lat") == have) & (have_ing.is_null() | (pl.col("_ling").fill_null(EPOCH) >= have_ing))))
        lf = lf.with_columns(pl.when(newer).then(pl.col("_label")).otherwise(pl.col("actual")).alias("actual"),
                             pl.when(newer).then(pl.col("_lat")).otherwise(have).alias("labeled_at"),
                             pl.when(newer).then(pl.col("_ling")).otherwise(have_ing).alias(LABEL_ARRIVAL))
    else:
        lf = lf.with_columns(pl.coalesce("_label", "actual").alias("actual"), pl.col("_lat").alias("labeled_at"),
                             pl.col("_ling").alias(LABEL_ARRIVAL))
    return lf.drop("_label", "_lat", "_ling")


LABEL_ARRIVAL = "_label_ingested_at"  # carried with the joined label, dropped before results

EPOCH = _dt.datetime(1970, 1, 1, tzinfo=UTC)


def _live_day(files: list[StoragePath], lfiles: list[StoragePath]) -> pl.LazyFrame:
    lf = scan(files, BASE_SCHEMA, HIVE_SCHEMA)
    if not lfiles:
        return lf.with_columns(pl.lit(None, pl.Datetime("us", "UTC")).alias("labeled_at"),
                               pl.lit(None, pl.Datetime("us", "UTC")).alias(LABEL_ARRIVAL))
    return apply_labels(lf, lfiles, labelled=False)


def labelled_day(ws: Workspace, model: str, day_dir: StoragePath, files: list[StoragePath], loose: list[StoragePath],
                  lfiles: list[StoragePath] | None = None) -> pl.LazyFrame:
    if lfiles is None:
        lfiles = day_label_files(ws, model, day_dir)
    cached = labelled_dir(ws, model, day_dir) / f"joined-{signature(files + lfiles)}.parquet"
    lf = pl.scan_parquet(cached, hive_partitioning=False) if lfiles and cached.exists() else _live_day(files, lfiles)
    return apply_labels(lf, loose, labelled=True) if loose else lf


CACHE_GRACE_SECONDS = 300.0  # a reader that listed an old cache file can still open it


def drop_old_cache(folder: Path, pattern: str, keep: Path) -> None:
    """Delete superseded cache files of a folder once they are older than the grace period."""
    limit = time.time() - CACHE_GRACE_SECONDS
    for old in folder.glob(pattern):
        try:
            if old != keep and old.stat().st_mtime < limit:
                old.unlink(missing_ok=True)
        except FileNotFoundError:
            pass


def refresh_labelled(ws: Workspace, model: str | None = None, days: Iterable[_dt.date] | None = None) -> int:
    """Write the joined (predictions + latest labels) file of every day whose cache is
    missing or stale; returns how many were written. Old cache files are removed."""
    wanted = None if days is None else {d.isoformat() for d in days}
    if wanted is not None and not wanted:
        return 0
    lo = hi = None
    if wanted:  # only the days asked for are listed (on object storage, each is a request)
        lo, hi = (_dt.datetime.fromisoformat(min(wanted)).replace(tzinfo=UTC),
                  _dt.datetime.fromisoformat(max(wanted)).replace(tzinfo=UTC))
    written = 0
    for name, d, files, lfiles in log_days(ws, model, lo, hi):
        if wanted is not None and d.name.partition("=")[2] not in wanted:
            continue
        if not lfiles:
            continue  # nothing to join: the live read is a plain scan
        folder = labelled_dir(ws, name, d)
        target = folder / f"joined-{signature(files + lfiles)}.parquet"
        if target.exists():
            continue
        frame = _live_day(files, lfiles).collect()
        write_parquet_atomic(frame, target)  # fsynced: a torn cache file would match its signature
        drop_old_cache(folder, "joined-*.parquet", target)
        written += 1
    return written


def read_quarantine(ws: Workspace, since: Any = None) -> pl.DataFrame:
    """Quarantined rows with their reasons (all columns as text), newest first."""
    lo = to_utc(since, "since").date() if since is not None else None
    files = quarantine_files(ws, lo)
    if not files:
        return pl.DataFrame(schema={"row": pl.UInt32, "rule": pl.String, "reason": pl.String, "source": pl.String,
                                    "batch_id": pl.String, "quarantined_at": pl.Datetime("us", "UTC")})
    if ws.remote and len(files) > 1:
        with concurrent.futures.ThreadPoolExecutor(max_workers=min(16, len(files))) as pool:
            frames = list(pool.map(read_parquet, files))
    else:
        frames = [read_parquet(f) for f in files]
    return pl.concat(frames, how="diagonal_relaxed").sort("quarantined_at", descending=True)
