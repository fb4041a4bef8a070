"""Metrics by interval (hourly counts cached per day) and the trend chart."""

from __future__ import annotations

import datetime as _dt
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from .._util import parse_duration
from ..errors import ValidationError
from ..predictions import read_predictions
from ..stats import wilson_interval
from ..window import Window, window_of
from .classification import count_exprs, window_frame

if TYPE_CHECKING:
    from ..workspace import Workspace


def trends(
    ws: Workspace,
    model: str,
    version: str | None = None,
    *,
    interval: str = "1h",
    by_version: bool = False,
    window: Window | None = None,
    min_labelled: int = 30,
    positive: int = 1,
    **window_args: Any,
) -> pl.DataFrame:
    """Metrics per interval: ``interval`` is a duration (``"1h"``, ``"1d"``, ``"1w"``) or a
    number of rows (``"1000rows"``, consecutive predictions in time order).

    Columns: start, end, count, labelled, coverage, accuracy (+ _low/_high), precision,
    recall, f1, specificity, fpr, fnr (each proportion with its Wilson interval), mean
    confidence, brier, sufficient (labelled >= ``min_labelled``); ``version`` first when
    ``by_version``. Intervals without predictions are absent.
    """
    w = window_of(ws, model, version, window, window_args)
    keys = ["version"] if by_version else []
    counts = count_exprs(positive)
    text = str(interval).strip().lower()
    if text.endswith("rows"):
        try:
            size = int(text[:-4].replace("_", "").replace(",", ""))
        except ValueError:
            size = 0
        if size < 1:
            raise ValidationError(f"interval={interval!r}: expected a duration like '1h' or a row count like '1000rows'")
        lf = window_frame(ws, w).sort("timestamp").with_columns((pl.int_range(pl.len()).over(keys or None) // size).alias("_chunk")
                                               if keys else (pl.int_range(pl.len()) // size).alias("_chunk"))
        grouped = lf.group_by([*keys, "_chunk"]).agg(counts).sort([*keys, "_chunk"]).drop("_chunk")
        grouped = grouped.with_columns(pl.col("first").alias("start"), pl.col("last").alias("end"))
    else:
        step = parse_duration(text, "interval")
        seconds = int(step.total_seconds())
        if seconds < 1:
            raise ValidationError(f"interval={interval!r}: expected at least one second")
        hourly = _hourly_counts(ws, w) if positive == 1 and w.last_n is None and seconds % 3600 == 0 else None
        if hourly is not None:
            if w.version is not None:
                hourly = hourly.filter(pl.col("version") == w.version)
            grouped = hourly.lazy().rename({"hour": "timestamp"})
            aggs = [pl.col(c).sum() for c in _SUMS] + [pl.col("first").min(), pl.col("last").max()]
        else:
            grouped, aggs = window_frame(ws, w), counts  # listed only now: with hourly counts the files are not read
        # a hash group-by on the truncated time: no sort of the whole window (the day files
        # are each sorted, their concatenation is not known to be)
        grouped = (grouped.group_by([*keys, pl.col("timestamp").dt.truncate(f"{seconds}s").alias("start")])
                   .agg(aggs).sort([*keys, "start"])
                   .with_columns((pl.col("start") + pl.duration(seconds=seconds)).alias("end")))
    frame = grouped.collect()
    return derive_metrics(frame, keys, min_labelled)


_SUMS = ("count", "labelled", "tp", "fp", "tn", "fn", "correct", "conf_sum", "conf_n", "scored", "sq_err",
         "scored_conf", "scored_pos")


_HOUR = _dt.timedelta(hours=1)


def _hourly_counts(ws: Workspace, w: Window) -> pl.DataFrame | None:
    """Counts per (version, hour) of the window, positive class 1, from a per-day cache.

    Every sum behind the metrics adds up, so an hourly table re-aggregates to any whole
    number of hours. Each day's table is kept under ``cache/hourly/`` with the same file
    signature as the day's joined labels (a new file or label for that day makes it stale,
    and it is recomputed on the next call). Hours cut by the window's ends are counted from
    the rows. Returns None when a label that arrived before its prediction exists (those
    are joined at query time; the live path handles them).
    """
    from ..predictions.layout import log_days, loose_label_files, signature, write_parquet_atomic
    from ..predictions.read import drop_old_cache, labelled_day

    lo = w.since
    hi = w.until
    first_full = None if lo is None else _ceil_hour(lo)
    last_full = None if hi is None else hi.replace(minute=0, second=0, microsecond=0)
    frames = []
    days = log_days(ws, w.model, lo, hi)  # on object storage: two rounds of concurrent listings
    if any(loose_label_files(ws, name) for name in {name for name, *_ in days}):
        return None
    for name, day, files, lfiles in days:
        folder = ws.path / "cache" / "hourly" / f"model_name={name}" / day.name
        path = folder / f"counts-{signature(files + lfiles)}.parquet"
        if path.exists():
            frames.append(pl.read_parquet(path))
            continue
        frame = (labelled_day(ws, name, day, files, [])
                 .group_by("version", pl.col("timestamp").dt.truncate("1h").alias("hour"))
                 .agg(count_exprs(1)).collect())
        try:
            write_parquet_atomic(frame, path)  # fsynced: a torn file would match its signature
            drop_old_cache(folder, "counts-*.parquet", path)
        except OSError:
            pass  # a read-only workspace: the counts are still right, just not kept
        frames.append(frame)
    if not frames:
        return None
    hours = pl.concat(frames, how="vertical_relaxed")
    if first_full is not None:
        hours = hours.filter(pl.col("hour") >= first_full)
    if last_full is not None:
        hours = hours.filter(pl.col("hour") < last_full)
    edges = []
    if lo is not None and (last_full is None or lo < first_full):
        edges.append((lo, first_full if last_full is None or first_full <= last_full else hi))
    if hi is not None and last_full is not None and hi > last_full and (first_full is None or last_full >= first_full):
        edges.append((last_full, hi))
    for a, b in edges:
        if a < b:
            part = (read_predictions(ws, w.model, None, a, b).group_by("version", pl.col("timestamp").dt.truncate("1h").alias("hour"))
                    .agg(count_exprs(1)).collect())
            hours = pl.concat([hours, part], how="vertical_relaxed")
    return hours


def _ceil_hour(t: _dt.datetime) -> _dt.datetime:
    floor = t.replace(minute=0, second=0, microsecond=0)
    return floor if floor == t else floor + _HOUR


def derive_metrics(frame: pl.DataFrame, keys: list[str], min_labelled: int) -> pl.DataFrame:
    """Add metrics with Wilson bands to a frame of counts (vectorised)."""
    def col(name: str) -> np.ndarray:
        return frame.get_column(name).fill_null(0).to_numpy().astype(np.float64)

    tp, fp, tn, fn = col("tp"), col("fp"), col("tn"), col("fn")
    labelled, count, correct = col("labelled"), col("count"), col("correct")
    pairs = {"coverage": (labelled, count), "accuracy": (correct, labelled), "precision": (tp, tp + fp),
             "recall": (tp, tp + fn), "specificity": (tn, tn + fp), "fpr": (fp, fp + tn), "fnr": (fn, fn + tp)}
    out: dict[str, Any] = {}
    with np.errstate(divide="ignore", invalid="ignore"):
        for name, (k, n) in pairs.items():
            lo, hi = wilson_interval(k.astype(np.int64), n.astype(np.int64))
            out[name] = np.where(n > 0, k / np.where(n > 0, n, 1), np.nan)
            out[f"{name}_low"], out[f"{name}_high"] = lo, hi
        denom = 2 * tp + fp + fn
        out["f1"] = np.where(denom > 0, 2 * tp / np.where(denom > 0, denom, 1), np.nan)
        conf_n, scored = col("conf_n"), col("scored")
        out["mean_confidence"] = np.where(conf_n > 0, col("conf_sum") / np.where(conf_n > 0, conf_n, 1), np.nan)
        out["brier"] = np.where(scored > 0, col("sq_err") / np.where(scored > 0, scored, 1), np.nan)
    head = frame.select(*keys, "start", "end", pl.col("count").cast(pl.Int64), pl.col("labelled").cast(pl.Int64))
    body = pl.DataFrame({k: pl.Series(k, v, dtype=pl.Float64, nan_to_null=True) for k, v in out.items()})
    return pl.concat([head, body], how="horizontal").with_columns(
        (pl.col("labelled") >= min_labelled).alias("sufficient"))


def trend_chart(frame: pl.DataFrame, metric: str = "accuracy", *, floor: float | None = None,
                baseline: float | None = None, title: str | None = None) -> Any:
    """An Altair line of ``metric`` per interval with its Wilson band, the floor and the
    baseline drawn in; intervals below the minimum labelled count are shown hollow."""
    import altair as alt

    cols = ["start", metric, "labelled", "sufficient"] + [c for c in (f"{metric}_low", f"{metric}_high") if c in frame.columns]
    if "version" in frame.columns:
        cols.insert(0, "version")
    data = frame.select(cols).to_dicts()
    for row in data:
        row["start"] = row["start"].isoformat()
    base = alt.Chart(alt.Data(values=data)).encode(x=alt.X("start:T", title=None))
    color = alt.Color("version:N") if "version" in frame.columns else alt.value("#4c78a8")
    layers = []
    if f"{metric}_low" in frame.columns:
        layers.append(base.mark_area(opacity=0.2).encode(y=alt.Y(f"{metric}_low:Q", title=metric),
                                                         y2=f"{metric}_high:Q", color=color))
    layers.append(base.mark_line(point=True).encode(
        y=alt.Y(f"{metric}:Q", title=metric, scale=alt.Scale(zero=False)), color=color,
        tooltip=["start:T", f"{metric}:Q", "labelled:Q", "sufficient:N"]))
    for value, name, dash in ((floor, "floor", [6, 3]), (baseline, "baseline", [2, 2])):
        if value is not None:
            rule = alt.Chart(alt.Data(values=[{"y": value, "name": name}])).mark_rule(color="#d62728" if name == "floor" else "#555", strokeDash=dash)
            layers.append(rule.encode(y="y:Q", tooltip=["name:N", "y:Q"]))
    return alt.layer(*layers).properties(width=640, height=220, title=title or metric)
