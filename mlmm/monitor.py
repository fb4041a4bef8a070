"""Performance monitoring over the prediction log (seed 000 ``PerformanceMonitor``).

Everything here is computed by polars over the Parquet log: one scan per question, grouped
into a small frame of counts, from which the metrics, their intervals and the charts are
derived. Nothing loads the log into pandas.

Conventions
-----------
- Classes are integers; the positive class is ``1`` (``positive=`` changes it). Precision,
  recall, specificity, FPR and FNR are for that class (one-vs-rest when there are more).
- ``confidence`` is the model's score for the positive class (the demo and the threshold
  tuner use ``prediction = confidence >= threshold``). The Brier score is
  ``mean((confidence - [actual == positive])^2)``; the expected calibration error (ECE) uses
  ten equal-width bins of that score (Naeini et al. 2015).
- Every proportion is an :class:`Estimate`: the value, the Wilson 95 % interval and the
  counts it rests on. F1 is not a proportion; it carries the number of rows it rests on
  (``tp + fp + fn``).
- A window with fewer labelled rows than ``min_labelled`` (default 100, seed 001
  ``ml:data-sufficiency``: "insufficient prediction data (<100 predictions)") is a result
  that says so, never an exception or a NaN.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from ._util import format_duration, now, parse_duration, to_utc
from .errors import NotFoundError, ValidationError
from .predictions import read_predictions
from .stats import two_proportion_test, wilson_interval
from .version import Version

if TYPE_CHECKING:
    from .workspace import Workspace

__all__ = [
    "DEFAULT_MIN_LABELLED",
    "Assessment",
    "ComparisonResult",
    "DataSufficiency",
    "DegradationResult",
    "Estimate",
    "Metrics",
    "Window",
    "analyze_errors",
    "assess",
    "compare_versions",
    "concept_drift",
    "data_sufficiency",
    "degradation",
    "last_prediction_time",
    "report_end",
    "metrics",
    "resolve_window",
    "summary",
    "trend_chart",
    "trends",
]

DEFAULT_MIN_LABELLED = 100  # seed 001 troubleshooting: "Insufficient prediction data (<100 predictions)"
DEGRADATION_WARNING = 0.05  # seed 000/001: "Alert Thresholds: 5% Degradation = Warning, 10% = Critical"
DEGRADATION_CRITICAL = 0.10
PROPORTIONS = ("accuracy", "precision", "recall", "specificity", "fpr", "fnr")
_LOWER_IS_BETTER = {"fpr", "fnr", "brier", "ece"}
_ECE_BINS = 10


# ----------------------------------------------------------------------------- results
@dataclasses.dataclass(frozen=True)
class Estimate:
    """A proportion ``successes / trials`` with its Wilson interval; ``value`` is None when
    ``trials`` is 0."""

    value: float | None
    low: float | None
    high: float | None
    successes: int
    trials: int

    @classmethod
    def of(cls, successes: int, trials: int, confidence: float = 0.95) -> Estimate:
        """>>> Estimate.of(9, 10).text()
        '0.900 [0.596, 0.982] (9/10)'
        """
        successes, trials = int(successes), int(trials)
        if trials == 0:
            return cls(None, None, None, successes, 0)
        lo, hi = wilson_interval(successes, trials, confidence)
        return cls(successes / trials, float(lo), float(hi), successes, trials)

    def text(self, digits: int = 3) -> str:
        if self.value is None:
            return f"n/a (0/{self.trials})"
        return f"{self.value:.{digits}f} [{self.low:.{digits}f}, {self.high:.{digits}f}] ({self.successes}/{self.trials})"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Window:
    """Which predictions a result is about: a model (and version) and a time range."""

    model: str
    version: str | None
    since: _dt.datetime | None
    until: _dt.datetime | None
    last_n: int | None = None
    label: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model, "version": self.version, "label": self.label, "last_n": self.last_n,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
        }


@dataclasses.dataclass(frozen=True)
class Metrics:
    """Classification metrics of one window (seed 000 ``getCurrentMetrics``)."""

    window: Window
    count: int
    labelled: int
    coverage: Estimate
    tp: int
    fp: int
    tn: int
    fn: int
    correct: int
    accuracy: Estimate
    precision: Estimate
    recall: Estimate
    specificity: Estimate
    fpr: Estimate
    fnr: Estimate
    f1: float | None
    f1_rows: int
    mean_confidence: float | None
    brier: float | None
    ece: float | None
    first: _dt.datetime | None
    last: _dt.datetime | None
    min_labelled: int
    positive: int = 1

    @property
    def sufficient(self) -> bool:
        """At least ``min_labelled`` labelled rows."""
        return self.labelled >= self.min_labelled

    @property
    def message(self) -> str:
        if self.count == 0:
            return f"no predictions in {self.window.label}"
        if not self.sufficient:
            return (f"insufficient data: {self.labelled} labelled of {self.count} predictions,"
                    f" at least {self.min_labelled} labelled needed")
        return f"{self.labelled} labelled of {self.count} predictions"

    def value(self, metric: str) -> float | None:
        """A metric by name (``accuracy``, ``f1``, ``brier``, ...)."""
        got = getattr(self, metric, None)
        if isinstance(got, Estimate):
            return got.value
        if metric in ("f1", "brier", "ece", "mean_confidence"):
            return got
        raise ValidationError(
            f"metric={metric!r}: expected one of {', '.join(PROPORTIONS + ('f1', 'brier', 'ece', 'mean_confidence'))}"
        )

    def rows_for(self, metric: str) -> int:
        """How many labelled rows ``metric`` rests on."""
        got = getattr(self, metric, None)
        if isinstance(got, Estimate):
            return got.trials
        return self.f1_rows if metric == "f1" else self.labelled

    def confusion_matrix(self) -> pl.DataFrame:
        """Rows = actual, columns = predicted (negative, positive)."""
        return pl.DataFrame({"actual": ["negative", "positive"], "predicted_negative": [self.tn, self.fn],
                             "predicted_positive": [self.fp, self.tp]})

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"window": self.window.to_dict(), "sufficient": self.sufficient, "message": self.message}
        for field in dataclasses.fields(self):
            if field.name == "window":
                continue
            value = getattr(self, field.name)
            if isinstance(value, Estimate):
                value = value.to_dict()
            elif isinstance(value, _dt.datetime):
                value = value.isoformat()
            out[field.name] = value
        out["confusion_matrix"] = {"tp": self.tp, "fp": self.fp, "tn": self.tn, "fn": self.fn}
        return out

    def to_frame(self) -> pl.DataFrame:
        """One row per metric: value, interval, rows it rests on."""
        rows = []
        for name in ("coverage",) + PROPORTIONS:
            e: Estimate = getattr(self, name)
            rows.append((name, e.value, e.low, e.high, e.trials))
        for name in ("f1", "mean_confidence", "brier", "ece"):
            rows.append((name, getattr(self, name), None, None, self.rows_for(name)))
        return pl.DataFrame(rows, schema={"metric": pl.String, "value": pl.Float64, "low": pl.Float64,
                                          "high": pl.Float64, "rows": pl.Int64}, orient="row")

    def __repr__(self) -> str:
        head = f"<Metrics {self.window.model}"
        head += f" {self.window.version}" if self.window.version else ""
        if not self.sufficient:
            return f"{head}, {self.window.label}: {self.message}>"
        return (f"{head}, {self.window.label}: accuracy {self.accuracy.text()}, precision {self.precision.text()},"
                f" recall {self.recall.text()}, f1 {_fmt(self.f1)}>")


def _fmt(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


# ----------------------------------------------------------------------------- windows
def resolve_window(
    ws: Workspace,
    model: str,
    version: str | None = None,
    *,
    last: str | _dt.timedelta | None = None,
    since: Any = None,
    until: Any = None,
    last_n: int | None = None,
    since_deploy: str | bool | None = None,
    env: str = "production",
) -> Window:
    """Turn the ways of naming a window into one :class:`Window`.

    ``last="24h"`` (relative to ``until`` or now), ``since``/``until``, ``last_n`` (the newest
    N predictions), or ``since_deploy`` (a version, or ``True`` for the one serving in
    ``env`` now): from the latest time that version was deployed to ``env``. Unknown models
    raise :class:`~mlmm.errors.NotFoundError`.
    """
    meta_versions = {str(m.version) for m in ws.registry.get_all(model)}  # raises NotFoundError
    if version is not None:
        version = str(Version.parse(version))
        if version not in meta_versions:
            raise NotFoundError(f"{model} {version} is not registered (registered: {', '.join(sorted(meta_versions, key=Version.parse))})")
    u = to_utc(until, "until") if until is not None else None
    s = to_utc(since, "since") if since is not None else None
    label = ""
    if since_deploy is not None and since_deploy is not False:
        target = version if since_deploy is True else str(Version.parse(str(since_deploy)))
        if target is None:
            serving = ws.registry.serving_version(model, env)
            if serving is None:
                raise NotFoundError(f"{model} is not deployed in {env}; expected since_deploy=<version>")
            target = str(serving.version)
        events = ws.registry.history(model, target).filter(
            (pl.col("event") == "deployed") & (pl.col("environment") == env))
        if events.is_empty():
            raise NotFoundError(f"{model} {target} was never deployed to {env}")
        s = events.item(events.height - 1, "ts")
        version = version or target
        label = f"since {target} was deployed to {env} ({s:%Y-%m-%d %H:%M} UTC)"
    if last is not None:
        length = parse_duration(last, "last")
        s = (u or now()) - length
        label = f"last {last.strip()}" if isinstance(last, str) else f"last {format_duration(length)}"
    if last_n is not None:
        if isinstance(last_n, bool) or not isinstance(last_n, int) or last_n < 1:
            raise ValidationError(f"last_n={last_n!r}: expected a positive integer")
        label = f"last {last_n:,} predictions" + (f", {label}" if label else "")
    if not label:
        if s is None and u is None:
            label = "all predictions"
        else:
            label = f"{s:%Y-%m-%d %H:%M} to {u:%Y-%m-%d %H:%M} UTC" if s and u else (
                f"since {s:%Y-%m-%d %H:%M} UTC" if s else f"until {u:%Y-%m-%d %H:%M} UTC")
    return Window(model, version, s, u, last_n, label)


def _window(ws: Workspace, model: str, version: str | None, window: Window | None, kw: dict[str, Any]) -> Window:
    if window is not None:
        if kw:
            raise ValidationError(f"window=... given together with {', '.join(sorted(kw))}; expected one or the other")
        return window
    return resolve_window(ws, model, version, **kw)


def _frame(ws: Workspace, w: Window) -> pl.LazyFrame:
    return read_predictions(ws, w.model, w.version, w.since, w.until, w.last_n)


# ----------------------------------------------------------------------------- counting
def _count_exprs(positive: int) -> list[pl.Expr]:
    """Sums from which every metric follows; used per window, per interval and per group."""
    y, p, c = pl.col("actual"), pl.col("prediction"), pl.col("confidence")
    labelled = y.is_not_null()
    yp = (y == positive)
    pp = (p == positive)
    scored = labelled & c.is_not_null()
    return [
        pl.len().alias("count"),
        labelled.sum().alias("labelled"),
        (labelled & pp & yp).sum().alias("tp"),
        (labelled & pp & ~yp).sum().alias("fp"),
        (labelled & ~pp & ~yp).sum().alias("tn"),
        (labelled & ~pp & yp).sum().alias("fn"),
        (labelled & (p == y)).sum().alias("correct"),
        c.sum().alias("conf_sum"),
        c.is_not_null().sum().alias("conf_n"),
        scored.sum().alias("scored"),
        pl.when(scored).then((c - yp.cast(pl.Float64)) ** 2).sum().alias("sq_err"),
        pl.when(scored).then(c).sum().alias("scored_conf"),
        pl.when(scored).then(yp.cast(pl.Float64)).sum().alias("scored_pos"),
        pl.col("timestamp").min().alias("first"),
        pl.col("timestamp").max().alias("last"),
    ]


def _bin_expr() -> pl.Expr:
    return (pl.col("confidence") * _ECE_BINS).floor().clip(0, _ECE_BINS - 1).cast(pl.Int8).alias("_bin")


_COUNT_COLS = ("count", "labelled", "tp", "fp", "tn", "fn", "correct", "conf_n", "scored")


def _metrics_from_counts(w: Window, bins: pl.DataFrame, min_labelled: int, positive: int) -> Metrics:
    """Fold per-confidence-bin counts into one :class:`Metrics`."""
    tot = {k: int(bins.get_column(k).sum() or 0) for k in _COUNT_COLS}
    fl = {k: float(bins.get_column(k).sum() or 0.0) for k in ("conf_sum", "sq_err")}
    tp, fp, tn, fn, labelled = tot["tp"], tot["fp"], tot["tn"], tot["fn"], tot["labelled"]
    f1_rows = 2 * tp + fp + fn
    ece = None
    if tot["scored"]:
        ece_sum = 0.0
        for scored, conf, pos in bins.select("scored", "scored_conf", "scored_pos").iter_rows():
            if scored:
                ece_sum += abs(conf - pos)  # = scored * |mean conf - observed rate|
        ece = ece_sum / tot["scored"]
    first = bins.get_column("first").min() if tot["count"] else None
    last = bins.get_column("last").max() if tot["count"] else None
    return Metrics(
        window=w, count=tot["count"], labelled=labelled, coverage=Estimate.of(labelled, tot["count"]),
        tp=tp, fp=fp, tn=tn, fn=fn, correct=tot["correct"],
        accuracy=Estimate.of(tot["correct"], labelled),
        precision=Estimate.of(tp, tp + fp), recall=Estimate.of(tp, tp + fn),
        specificity=Estimate.of(tn, tn + fp), fpr=Estimate.of(fp, fp + tn), fnr=Estimate.of(fn, fn + tp),
        f1=(2 * tp / f1_rows) if f1_rows else None, f1_rows=tp + fp + fn,
        mean_confidence=fl["conf_sum"] / tot["conf_n"] if tot["conf_n"] else None,
        brier=fl["sq_err"] / tot["scored"] if tot["scored"] else None, ece=ece,
        first=first, last=last, min_labelled=min_labelled, positive=positive,
    )


def metrics(
    ws: Workspace,
    model: str,
    version: str | None = None,
    *,
    window: Window | None = None,
    min_labelled: int = DEFAULT_MIN_LABELLED,
    positive: int = 1,
    **window_args: Any,
) -> Metrics:
    """Metrics of ``model`` (one ``version`` or all) over a window.

    Window arguments as :func:`resolve_window`: ``last="24h"``, ``since``/``until``,
    ``last_n``, ``since_deploy``; or a ready ``window=``.

    >>> import tempfile, mlmm
    >>> ws = mlmm.open_workspace(tempfile.mkdtemp())
    >>> _ = ws.registry.register("m", "1.0.0")
    >>> _ = mlmm.log_predictions(ws, {"model_name": ["m"] * 4, "version": ["1.0.0"] * 4,
    ...     "prediction": [1, 1, 0, 0], "actual": [1, 0, 0, 1], "confidence": [0.9, 0.8, 0.2, 0.4]})
    >>> m = metrics(ws, "m", min_labelled=1)
    >>> m.tp, m.fp, m.tn, m.fn, m.accuracy.value, m.precision.value
    (1, 1, 1, 1, 0.5, 0.5)
    >>> round(m.brier, 4)
    0.2625
    """
    w = _window(ws, model, version, window, window_args)
    bins = _frame(ws, w).group_by(_bin_expr()).agg(_count_exprs(positive)).collect()
    return _metrics_from_counts(w, bins, min_labelled, positive)


# ----------------------------------------------------------------------------- trends
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
    w = _window(ws, model, version, window, window_args)
    keys = ["version"] if by_version else []
    counts = _count_exprs(positive)
    text = str(interval).strip().lower()
    if text.endswith("rows"):
        try:
            size = int(text[:-4].replace("_", "").replace(",", ""))
        except ValueError:
            size = 0
        if size < 1:
            raise ValidationError(f"interval={interval!r}: expected a duration like '1h' or a row count like '1000rows'")
        lf = _frame(ws, w).sort("timestamp").with_columns((pl.int_range(pl.len()).over(keys or None) // size).alias("_chunk")
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
            grouped, aggs = _frame(ws, w), counts  # listed only now: with hourly counts the files are not read
        # a hash group-by on the truncated time: no sort of the whole window (the day files
        # are each sorted, their concatenation is not known to be)
        grouped = (grouped.group_by([*keys, pl.col("timestamp").dt.truncate(f"{seconds}s").alias("start")])
                   .agg(aggs).sort([*keys, "start"])
                   .with_columns((pl.col("start") + pl.duration(seconds=seconds)).alias("end")))
    frame = grouped.collect()
    return _derive(frame, keys, min_labelled)


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
    from . import predictions as P

    lo = w.since
    hi = w.until
    first_full = None if lo is None else _ceil_hour(lo)
    last_full = None if hi is None else hi.replace(minute=0, second=0, microsecond=0)
    frames = []
    days = P._log_days(ws, w.model, lo, hi)  # on object storage: two rounds of concurrent listings
    if any(P._loose_label_files(ws, name) for name in {name for name, *_ in days}):
        return None
    for name, day, files, lfiles in days:
        folder = ws.path / "cache" / "hourly" / f"model_name={name}" / day.name
        path = folder / f"counts-{P._signature(files + lfiles)}.parquet"
        if path.exists():
            frames.append(pl.read_parquet(path))
            continue
        frame = (P._labelled_day(ws, name, day, files, [])
                 .group_by("version", pl.col("timestamp").dt.truncate("1h").alias("hour"))
                 .agg(_count_exprs(1)).collect())
        try:
            P._write_parquet_atomic(frame, path)  # fsynced: a torn file would match its signature
            P._drop_old_cache(folder, "counts-*.parquet", path)
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
                    .agg(_count_exprs(1)).collect())
            hours = pl.concat([hours, part], how="vertical_relaxed")
    return hours


def _ceil_hour(t: _dt.datetime) -> _dt.datetime:
    floor = t.replace(minute=0, second=0, microsecond=0)
    return floor if floor == t else floor + _HOUR


def _derive(frame: pl.DataFrame, keys: list[str], min_labelled: int) -> pl.DataFrame:
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


# ----------------------------------------------------------------------------- comparisons
@dataclasses.dataclass(frozen=True)
class MetricComparison:
    metric: str
    a: float | None
    b: float | None
    difference: float | None
    low: float | None
    high: float | None
    p_value: float | None
    rows_a: int
    rows_b: int
    better: str | None  # "a", "b" or None when equal/unknown
    significant: bool

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class ComparisonResult:
    """Two versions side by side: difference b - a per metric with interval and p-value."""

    model: str
    version_a: str
    version_b: str
    a: Metrics
    b: Metrics
    metrics: tuple[MetricComparison, ...]
    alpha: float

    @property
    def verdict(self) -> str:
        acc = next(m for m in self.metrics if m.metric == "accuracy")
        if not (self.a.sufficient and self.b.sufficient) or acc.difference is None:
            return "insufficient data: " + ("; ".join(
                f"{v}: {m.message}" for v, m in ((self.version_a, self.a), (self.version_b, self.b)) if not m.sufficient)
                or "a version has no labelled predictions")
        if acc.significant and acc.better:
            winner = self.version_b if acc.better == "b" else self.version_a
            return (f"{winner} is more accurate: difference {acc.difference:+.4f}"
                    f" [{acc.low:+.4f}, {acc.high:+.4f}], p = {acc.p_value:.3g}")
        return (f"no significant accuracy difference at alpha {self.alpha}: {acc.difference:+.4f}"
                f" [{acc.low:+.4f}, {acc.high:+.4f}], p = {acc.p_value:.3g}")

    def to_frame(self) -> pl.DataFrame:
        return pl.DataFrame([m.to_dict() for m in self.metrics]).rename(
            {"a": self.version_a, "b": self.version_b}) if self.version_a != self.version_b else pl.DataFrame(
            [m.to_dict() for m in self.metrics])

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "version_a": self.version_a, "version_b": self.version_b, "alpha": self.alpha,
                "verdict": self.verdict, "metrics": [m.to_dict() for m in self.metrics],
                "a": self.a.to_dict(), "b": self.b.to_dict()}


def compare_versions(ws: Workspace, model: str, version_a: str, version_b: str, *, alpha: float = 0.05,
                     min_labelled: int = DEFAULT_MIN_LABELLED, **window_args: Any) -> ComparisonResult:
    """Metrics of two versions over the same window, with the difference ``b - a``, its
    Newcombe interval and a two-proportion z-test p-value per proportion metric."""
    if not 0 < alpha < 1:
        raise ValidationError(f"alpha={alpha!r}: expected a number in (0, 1)")
    if Version.parse(version_a, "version_a") == Version.parse(version_b, "version_b"):
        raise ValidationError(f"version_a={version_a!r}, version_b={version_b!r}: the same version of {model};"
                              " expected two different versions")
    wa = resolve_window(ws, model, version_a, **window_args)
    wb = resolve_window(ws, model, version_b, **window_args)
    ma = metrics(ws, model, window=wa, min_labelled=min_labelled)
    mb = metrics(ws, model, window=wb, min_labelled=min_labelled)
    rows = []
    for name in PROPORTIONS:
        ea, eb = getattr(ma, name), getattr(mb, name)
        if ea.trials and eb.trials:
            test = two_proportion_test(ea.successes, ea.trials, eb.successes, eb.trials, confidence=1 - alpha)
            diff, lo, hi, p = test.difference, test.ci_low, test.ci_high, test.p_value
            significant = bool(p < alpha)
            better = None
            if significant and diff != 0:
                better = ("a" if diff > 0 else "b") if name in _LOWER_IS_BETTER else ("b" if diff > 0 else "a")
        else:
            diff = lo = hi = p = None
            significant, better = False, None
        rows.append(MetricComparison(name, ea.value, eb.value, diff, lo, hi, p, ea.trials, eb.trials, better, significant))
    for name in ("f1", "brier", "ece"):
        va, vb = ma.value(name), mb.value(name)
        rows.append(MetricComparison(name, va, vb, None if va is None or vb is None else vb - va, None, None, None,
                                     ma.rows_for(name), mb.rows_for(name), None, False))
    return ComparisonResult(model, wa.version or "", wb.version or "", ma, mb, tuple(rows), alpha)


# ----------------------------------------------------------------------------- degradation
@dataclasses.dataclass(frozen=True)
class MetricDegradation:
    metric: str
    baseline: float
    current: float | None
    drop: float | None  # relative: (baseline - current) / baseline, for "lower is better" the rise
    level: str  # ok, warning, critical, insufficient data
    p_value: float | None
    significant: bool
    rows: int

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class DegradationResult:
    """Current metrics against a baseline (seed 000 ``getPerformanceDegradationInfo``).

    ``level`` is the worst level over the metrics; ``has_degraded`` is true only when a
    metric dropped by at least the warning threshold, the drop is statistically
    significant, and the window holds at least ``min_labelled`` labelled rows, so that a
    drop measured on 40 rows is reported as such and not raised as an alarm.
    """

    model: str
    version: str | None
    baseline_source: str
    current: Metrics
    metrics: tuple[MetricDegradation, ...]
    warning: float
    critical: float
    alpha: float

    @property
    def alarm_level(self) -> str:
        """The worst level among the significant drops: what an alert should carry."""
        order = {"warning": 1, "critical": 2}
        levels = [m.level for m in self.metrics if m.significant and m.level in order]
        return max(levels, key=order.__getitem__) if levels and self.current.sufficient else "ok"

    @property
    def level(self) -> str:
        order = {"ok": 0, "insufficient data": 0, "warning": 1, "critical": 2}
        worst = max(self.metrics, key=lambda m: order[m.level], default=None)
        if worst is None and self.current.sufficient:
            return "no baseline"
        if worst is None or order[worst.level] == 0:
            return "insufficient data" if not self.current.sufficient else "ok"
        return worst.level

    @property
    def has_degraded(self) -> bool:
        return self.current.sufficient and any(m.level in ("warning", "critical") and m.significant for m in self.metrics)

    @property
    def message(self) -> str:
        if not self.current.sufficient:
            return self.current.message
        bad = [m for m in self.metrics if m.level in ("warning", "critical")]
        if not self.metrics:
            return f"no baseline to compare with: the {self.baseline_source} has none of the checked metrics"
        if not bad:
            return f"no metric dropped by {self.warning:.0%} or more against the {self.baseline_source}"
        parts = []
        for m in bad:
            note = "significant" if m.significant else "not significant"
            p = f"p = {m.p_value:.3g}" if m.p_value is not None else "no test of its own"
            parts.append(f"{m.metric} {m.baseline:.3f} -> {m.current:.3f} ({m.drop:.1%} worse, {m.level}, {note},"
                         f" {p}, {m.rows} rows)")
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "version": self.version, "baseline_source": self.baseline_source,
                "level": self.level, "has_degraded": self.has_degraded, "message": self.message,
                "warning": self.warning, "critical": self.critical, "alpha": self.alpha,
                "metrics": [m.to_dict() for m in self.metrics], "current": self.current.to_dict()}


def degradation(
    ws: Workspace,
    model: str,
    version: str | None = None,
    *,
    baseline: Metrics | dict[str, float] | None = None,
    metrics_to_check: Iterable[str] = ("accuracy", "precision", "recall", "f1"),
    warning: float | None = None,
    critical: float | None = None,
    alpha: float = 0.05,
    min_labelled: int = DEFAULT_MIN_LABELLED,
    window: Window | None = None,
    **window_args: Any,
) -> DegradationResult:
    """Compare the window's metrics with a baseline.

    The baseline is, by default, the metrics stored in the registry for the version (the
    version serving in production, else the latest, when ``version`` is None); or a
    :class:`Metrics` of a reference window; or a dict. Thresholds are relative drops:
    ``warning`` (default the model's ``degradation_warning`` config, else 5 %) and
    ``critical`` (``degradation_critical``, else 10 %), seed 000/001.

    Significance: against registry numbers, an exact one-sided binomial test of the current
    counts against the baseline rate (scipy ``binomtest``); against a reference window, a
    one-sided two-proportion z-test. F1 has no exact test; its drop is significant when
    accuracy's is (documented approximation).
    """
    from scipy.stats import binomtest

    if not window_args and window is None:
        window_args = {"last": "24h"}
    w = _window(ws, model, version, window, window_args)
    if w.version is None:
        vname = str(ws.registry.serving_version(model, or_latest=True).version)
    else:
        vname = w.version
    meta = ws.registry.get(model, vname)
    config = dict(meta.configuration)
    warning = float(config.get("degradation_warning", DEGRADATION_WARNING)) if warning is None else float(warning)
    critical = float(config.get("degradation_critical", DEGRADATION_CRITICAL)) if critical is None else float(critical)
    if not 0 < warning <= critical:
        raise ValidationError(f"warning={warning!r}, critical={critical!r}: expected 0 < warning <= critical")
    current = metrics(ws, model, window=w, min_labelled=min_labelled)
    if baseline is None:
        base_values = {k: float(v) for k, v in dict(meta.performance_metrics).items() if isinstance(v, (int, float))}
        source = f"registry metrics of {model} {vname}"
        base_counts = None
    elif isinstance(baseline, Metrics):
        base_values = {k: v for k in metrics_to_check if (v := baseline.value(k)) is not None}
        source = f"reference window {baseline.window.label}"
        base_counts = baseline
    else:
        base_values = {k: float(v) for k, v in baseline.items()}
        source = "given baseline"
        base_counts = None
    rows = []
    acc_significant = False
    for name in metrics_to_check:
        if name not in base_values or not base_values[name]:
            continue
        b = base_values[name]
        cur = current.value(name)
        n = current.rows_for(name)
        if cur is None or not current.sufficient:
            rows.append(MetricDegradation(name, b, cur, None, "insufficient data", None, False, n))
            continue
        lower_better = name in _LOWER_IS_BETTER
        drop = (cur - b) / b if lower_better else (b - cur) / b
        level = "critical" if drop >= critical else "warning" if drop >= warning else "ok"
        p = None
        est = getattr(current, name, None)
        if isinstance(est, Estimate) and est.trials:
            if base_counts is not None:
                ref: Estimate = getattr(base_counts, name)
                alt = "less" if lower_better else "greater"  # H1: the reference (b) is better
                p = two_proportion_test(est.successes, est.trials, ref.successes, ref.trials,
                                        alternative=alt).p_value if ref.trials else None
            elif 0 < b < 1:
                p = binomtest(est.successes, est.trials, b, alternative="greater" if lower_better else "less").pvalue
        significant = p is not None and p < alpha
        if name == "accuracy":
            acc_significant = significant
        rows.append(MetricDegradation(name, b, cur, drop, level, None if p is None else float(p), significant, n))
    rows = [dataclasses.replace(r, significant=acc_significant) if r.metric == "f1" and r.p_value is None
            and r.level in ("warning", "critical") else r for r in rows]
    return DegradationResult(model, vname, source, current, tuple(rows), warning, critical, alpha)


# ----------------------------------------------------------------------------- concept drift
def concept_drift(ws: Workspace, model: str, version: str | None = None, *, reference: Window | None = None,
                  window: Window | None = None, **window_args: Any) -> Any:
    """DDM and Page-Hinkley over the stream of correct/incorrect outcomes of the labelled
    rows in the window (time order), and a KS test of the confidence between a reference
    window (default: the window of the same length just before) and this one.

    Returns :class:`mlmm.concept_drift.ConceptDriftResult`.
    """
    from .concept_drift import detect_concept_drift

    if not window_args and window is None:
        window_args = {"last": "7d"}
    w = _window(ws, model, version, window, window_args)
    cols = ["timestamp", "prediction", "actual", "confidence"]
    def outcomes(win: Window) -> pl.DataFrame:
        return (_frame(ws, win).filter(pl.col("actual").is_not_null()).select(cols).sort("timestamp")
                .with_columns((pl.col("prediction") == pl.col("actual")).cast(pl.Int8).alias("correct")).collect())

    current = outcomes(w)
    if reference is None and w.since is not None:
        length = (w.until or now()) - w.since
        reference = Window(w.model, w.version, w.since - length, w.since, None, "the window before")
    ref = None
    if reference is not None:
        ref = outcomes(reference)
        if ref.is_empty():
            ref = None
    # the KS part needs a confidence on every row; without one the detectors still run
    has_conf = not (current.get_column("confidence").null_count() or (ref is not None and ref.get_column("confidence").null_count()))
    return detect_concept_drift(current, reference=ref, confidence_col="confidence" if has_conf else None)


# ----------------------------------------------------------------------------- error analysis
def analyze_errors(ws: Workspace, model: str, version: str | None = None, *, by: str | None = None,
                   bins: int = 10, window: Window | None = None, positive: int = 1, **window_args: Any) -> pl.DataFrame:
    """False positives and negatives per confidence bucket (default) or per value of a
    feature ``by`` (numeric features in ``bins`` quantile buckets), seed 001
    ``ml:analyze-errors``. Columns: group, labelled, errors, fp, fn, error_rate with its
    Wilson interval, share of all errors; worst groups first."""
    if bins < 1:
        raise ValidationError(f"bins={bins!r}: expected a positive integer")
    w = _window(ws, model, version, window, window_args)
    lf = _frame(ws, w).filter(pl.col("actual").is_not_null())
    if by is None:
        key = (pl.col("confidence") * bins).floor().clip(0, bins - 1)
        label = pl.format("{}-{}", (key / bins).round(2), ((key + 1) / bins).round(2))
        lf = lf.with_columns(label.fill_null("no confidence").alias("group"), key.alias("_order"))
    else:
        names = lf.collect_schema().names()
        if by not in names:
            features = [c for c in names if c not in ("model_name", "version", "prediction_id", "timestamp", "prediction",
                                                       "actual", "confidence", "labeled_at", "batch_id", "date")]
            raise ValidationError(f"by={by!r}: expected a feature of {model} ({', '.join(features) or 'none logged'})")
        dtype = lf.collect_schema()[by]
        if dtype.is_numeric():
            edges = lf.select(pl.col(by).quantile(q, "nearest").alias(str(q)) for q in np.linspace(0, 1, bins + 1)[1:-1]).collect()
            cuts = sorted({float(v) for v in edges.row(0) if v is not None})
            if cuts:
                lf = lf.with_columns(pl.col(by).cast(pl.Float64).cut(cuts).cast(pl.String).fill_null("missing").alias("group"),
                                     pl.col(by).cast(pl.Float64).alias("_order"))
            else:
                lf = lf.with_columns(pl.col(by).cast(pl.String).fill_null("missing").alias("group"), pl.lit(0.0).alias("_order"))
        else:
            lf = lf.with_columns(pl.col(by).cast(pl.String).fill_null("missing").alias("group"), pl.lit(0.0).alias("_order"))
    pp, yp = pl.col("prediction") == positive, pl.col("actual") == positive
    out = lf.group_by("group").agg(
        pl.len().alias("labelled"), (pl.col("prediction") != pl.col("actual")).sum().alias("errors"),
        (pp & ~yp).sum().alias("fp"), (~pp & yp).sum().alias("fn"), pl.col("_order").min().alias("_order"),
    ).collect()
    if out.is_empty():
        return pl.DataFrame(schema={"group": pl.String, "labelled": pl.Int64, "errors": pl.Int64, "fp": pl.Int64,
                                    "fn": pl.Int64, "error_rate": pl.Float64, "error_rate_low": pl.Float64,
                                    "error_rate_high": pl.Float64, "share_of_errors": pl.Float64})
    k = out.get_column("errors").to_numpy().astype(np.int64)
    n = out.get_column("labelled").to_numpy().astype(np.int64)
    lo, hi = wilson_interval(k, n)
    total = max(int(k.sum()), 1)
    return out.with_columns(
        pl.col("labelled").cast(pl.Int64), pl.col("errors").cast(pl.Int64), pl.col("fp").cast(pl.Int64),
        pl.col("fn").cast(pl.Int64), (pl.col("errors") / pl.col("labelled")).alias("error_rate"),
        pl.Series("error_rate_low", lo), pl.Series("error_rate_high", hi),
        (pl.col("errors") / total).alias("share_of_errors"),
    ).sort(["error_rate", "_order"], descending=[True, False]).drop("_order")


# ----------------------------------------------------------------------------- sufficiency
@dataclasses.dataclass(frozen=True)
class DataSufficiency:
    """Is there enough data to judge this model (seed 001 ``ml:data-sufficiency``)?"""

    window: Window
    predictions: int
    labelled: int
    per_version: pl.DataFrame
    min_labelled: int
    days_with_data: int
    first: _dt.datetime | None
    last: _dt.datetime | None

    @property
    def sufficient(self) -> bool:
        return self.labelled >= self.min_labelled

    @property
    def message(self) -> str:
        if self.predictions == 0:
            return f"no predictions in {self.window.label}"
        verdict = "sufficient" if self.sufficient else "insufficient"
        return (f"{verdict}: {self.labelled:,} labelled of {self.predictions:,} predictions"
                f" ({self.labelled / self.predictions:.0%} labelled) in {self.window.label};"
                f" at least {self.min_labelled} labelled needed for metrics, tuning and degradation checks")

    def to_dict(self) -> dict[str, Any]:
        return {"window": self.window.to_dict(), "predictions": self.predictions, "labelled": self.labelled,
                "min_labelled": self.min_labelled, "sufficient": self.sufficient, "message": self.message,
                "days_with_data": self.days_with_data,
                "first": self.first.isoformat() if self.first else None,
                "last": self.last.isoformat() if self.last else None,
                "per_version": self.per_version.with_columns(pl.col(pl.Datetime).dt.to_string("%Y-%m-%dT%H:%M:%S%z")).to_dicts()}


def data_sufficiency(ws: Workspace, model: str, *, min_labelled: int = DEFAULT_MIN_LABELLED,
                     window: Window | None = None, **window_args: Any) -> DataSufficiency:
    """Predictions and labels per version, and whether they are enough to judge the model."""
    if not window_args and window is None:
        window_args = {"last": "30d"}
    w = _window(ws, model, None, window, window_args)
    per = (_frame(ws, w).group_by("version").agg(
        pl.len().alias("predictions"), pl.col("actual").is_not_null().sum().alias("labelled"),
        pl.col("timestamp").min().alias("first"), pl.col("timestamp").max().alias("last"),
        pl.col("timestamp").dt.date().n_unique().alias("days"),
    ).collect().with_columns(pl.col("predictions").cast(pl.Int64), pl.col("labelled").cast(pl.Int64))
        .with_columns((pl.col("labelled") >= min_labelled).alias("sufficient")))
    per = per.sort("first")
    days = int(_frame(ws, w).select(pl.col("timestamp").dt.date().n_unique()).collect().item()) if per.height else 0
    return DataSufficiency(
        w, int(per.get_column("predictions").sum() or 0), int(per.get_column("labelled").sum() or 0), per,
        min_labelled, days, per.get_column("first").min() if per.height else None,
        per.get_column("last").max() if per.height else None,
    )


def last_prediction_time(ws: Workspace, model: str) -> _dt.datetime | None:
    """When ``model`` last logged a prediction (reads only its newest day's files)."""
    from .predictions import _partition_dirs

    days = _partition_dirs(ws.predictions_dir, model, None, None)
    for _, folder in reversed(days):
        day = _dt.datetime.fromisoformat(folder.name.partition("=")[2]).replace(tzinfo=_dt.UTC)
        got = read_predictions(ws, model, since=day, until=day + _dt.timedelta(days=1), with_labels=False) \
            .select(pl.col("timestamp").max()).collect().item()
        if got is not None:
            return got
    return None


# ----------------------------------------------------------------------------- summary
def report_end(ws: Workspace, model: str, until: Any = None) -> _dt.datetime:
    """The end of a report's windows: ``until`` when given, else the model's newest
    prediction, else (a registered model with no predictions yet) now. An unknown model
    raises :class:`NotFoundError`."""
    if until is not None and until != "":
        return to_utc(until, "until")
    last = last_prediction_time(ws, model)
    if last is not None:
        return last
    ws.registry.get_latest(model)  # NotFoundError naming the registered models
    return now()


def floor_of(config: dict[str, Any]) -> tuple[float | None, str]:
    """The model's accuracy floor and its severity from its configuration (seed 001:
    n1-detector 85 %, waf-behavioral 90 % critical, queue-anomaly 80 %)."""
    floor = config.get("alert_accuracy")
    return (float(floor) if floor is not None else None), str(config.get("alert_severity", "warning"))


def summary(ws: Workspace, *, models: Iterable[str] | None = None, last: str = "24h", until: Any = None,
            min_labelled: int = DEFAULT_MIN_LABELLED) -> pl.DataFrame:
    """One row per model (production models by default, else every model with predictions):
    the serving version, the window's metrics with intervals, the floor and whether it is
    crossed, the degradation level against the registry baseline, and a status."""
    if models is None:
        serving = {m.name for m in ws.registry.get_production_models()}
        models = sorted(serving) or ws.registry.list_names()
    rows = []
    for name in models:
        deg = degradation(ws, name, None, last=last, until=until, min_labelled=min_labelled)
        m = deg.current
        meta = ws.registry.get(name, deg.version)
        floor, severity = floor_of(dict(meta.configuration))
        below = floor is not None and m.sufficient and m.accuracy.value is not None and m.accuracy.value < floor
        if not m.sufficient:
            status = "insufficient data"
        elif below:
            status = f"below floor ({severity})"
        elif deg.has_degraded:
            status = f"degraded ({deg.level})"
        else:
            status = "ok"
        rows.append({
            "model": name, "version": deg.version, "window": m.window.label, "predictions": m.count,
            "labelled": m.labelled, "accuracy": m.accuracy.value, "accuracy_low": m.accuracy.low,
            "accuracy_high": m.accuracy.high, "precision": m.precision.value, "recall": m.recall.value,
            "f1": m.f1, "floor": floor, "below_floor": below, "baseline_accuracy": next(
                (d.baseline for d in deg.metrics if d.metric == "accuracy"), None),
            "degradation": deg.level if deg.has_degraded or deg.level in ("ok", "insufficient data")
            else f"{deg.level} (not significant)",
            "status": status,
        })
    schema = {"model": pl.String, "version": pl.String, "window": pl.String, "predictions": pl.Int64,
              "labelled": pl.Int64, "accuracy": pl.Float64, "accuracy_low": pl.Float64, "accuracy_high": pl.Float64,
              "precision": pl.Float64, "recall": pl.Float64, "f1": pl.Float64, "floor": pl.Float64,
              "below_floor": pl.Boolean, "baseline_accuracy": pl.Float64, "degradation": pl.String, "status": pl.String}
    return pl.DataFrame(rows, schema=schema)



# ----------------------------------------------------------------------------- assessment
@dataclasses.dataclass(frozen=True)
class Assessment:
    """Everything a monitoring report concludes about one model, in one object: the
    window's metrics, the floor, degradation against the baseline, concept drift, and a
    one-paragraph conclusion that :meth:`record` appends to the model's registry history."""

    model: str
    version: str | None
    metrics: Metrics
    degradation: DegradationResult
    drift: Any
    floor: float | None
    floor_severity: str
    status: str
    conclusion: str

    @property
    def below_floor(self) -> bool:
        return (self.floor is not None and self.metrics.sufficient and self.metrics.accuracy.value is not None
                and self.metrics.accuracy.value < self.floor)

    def record(self, ws: Workspace, *, actor: str | None = None, reason: str | None = None) -> None:
        """Append the conclusion to the model's history (event ``monitoring_verdict``)."""
        ws.registry.record(self.model, self.version, kind="monitoring_verdict", summary=self.conclusion,
                           details={"status": self.status, "window": self.metrics.window.to_dict(),
                                    "accuracy": self.metrics.accuracy.to_dict(), "degradation": self.degradation.level,
                                    "drift": bool(getattr(self.drift, "drift_detected", False))},
                           actor=actor, reason=reason or "monitoring report")

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "version": self.version, "status": self.status, "conclusion": self.conclusion,
                "floor": self.floor, "below_floor": self.below_floor, "metrics": self.metrics.to_dict(),
                "degradation": self.degradation.to_dict(),
                "drift": self.drift.to_dict() if hasattr(self.drift, "to_dict") else None}


def assess(ws: Workspace, model: str, *, last: str = "24h", until: Any = None, baseline: str = "registry",
           drift_window: str = "7d", min_labelled: int = DEFAULT_MIN_LABELLED) -> Assessment:
    """Judge ``model`` over the last ``last``: metrics, floor, degradation against the
    registry metrics (``baseline="registry"``) or against the window of length ``baseline``
    just before (e.g. ``"7d"``), and concept drift over ``drift_window``."""
    u = to_utc(until, "until") if until is not None else now()
    w = resolve_window(ws, model, last=last, until=u)
    deg_version = None
    if baseline == "registry":
        deg = degradation(ws, model, None, window=w, min_labelled=min_labelled)
    else:
        length = parse_duration(baseline, "baseline")
        ref_window = resolve_window(ws, model, since=w.since - length, until=w.since)
        ref = metrics(ws, model, window=ref_window, min_labelled=min_labelled)
        deg = degradation(ws, model, None, window=w, baseline=ref, min_labelled=min_labelled)
    deg_version = deg.version
    m = deg.current
    drift = concept_drift(ws, model, deg_version, last=drift_window, until=u)
    floor, severity = floor_of(dict(ws.registry.get(model, deg_version).configuration))
    below = floor is not None and m.sufficient and m.accuracy.value is not None and m.accuracy.value < floor
    rises = [d for d in getattr(drift, "detections", ()) if getattr(d, "direction", "increase") == "increase"]
    parts = [f"{model} {deg_version}, {m.window.label}:"]
    if not m.sufficient:
        status = "insufficient data"
        parts.append(m.message + ".")
    else:
        parts.append(f"accuracy {m.accuracy.text()}.")
        if below:
            parts.append(f"Below its floor of {floor:.0%} ({severity}).")
        elif floor is not None:
            parts.append(f"At or above its floor of {floor:.0%}.")
        if deg.has_degraded:
            parts.append(f"Degraded against the {deg.baseline_source} ({deg.level}): {deg.message}.")
        elif deg.level in ("warning", "critical"):
            parts.append(f"A {deg.level}-level drop against the {deg.baseline_source} is not statistically significant.")
        else:
            parts.append(f"No significant drop against the {deg.baseline_source}.")
        status = ("below floor" if below else "degraded" if deg.has_degraded else "ok")
    if rises:
        first = rises[0]
        parts.append(f"Concept drift signalled by {first.detector} at {first.timestamp:%Y-%m-%d %H:%M} UTC"
                     f" ({len(rises)} signal{'s' if len(rises) > 1 else ''} of a rising error rate in the last {drift_window}).")
    else:
        parts.append(f"No rise in the error rate detected in the last {drift_window}.")
    return Assessment(model, deg_version, m, deg, drift, floor, severity, status, " ".join(parts))
