"""Classification metrics of one window, computed from a small frame of confusion counts."""

from __future__ import annotations

import dataclasses
import datetime as _dt
from typing import TYPE_CHECKING, Any

import polars as pl

from ..errors import ValidationError
from ..predictions import read_predictions
from ..stats import wilson_interval
from ..window import Window, window_of

if TYPE_CHECKING:
    from ..workspace import Workspace


DEFAULT_MIN_LABELLED = 100  # seed 001 troubleshooting: "Insufficient prediction data (<100 predictions)"

PROPORTIONS = ("accuracy", "precision", "recall", "specificity", "fpr", "fnr")

LOWER_IS_BETTER = {"fpr", "fnr", "brier", "ece"}

ECE_BINS = 10


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


def window_frame(ws: Workspace, w: Window) -> pl.LazyFrame:
    return read_predictions(ws, w.model, w.version, w.since, w.until, w.last_n)


def count_exprs(positive: int) -> list[pl.Expr]:
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
    return (pl.col("confidence") * ECE_BINS).floor().clip(0, ECE_BINS - 1).cast(pl.Int8).alias("_bin")


_COUNT_COLS = ("count", "labelled", "tp", "fp", "tn", "fn", "correct", "conf_n", "scored")


def metrics_from_counts(w: Window, bins: pl.DataFrame, min_labelled: int, positive: int) -> Metrics:
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
    w = window_of(ws, model, version, window, window_args)
    bins = window_frame(ws, w).group_by(_bin_expr()).agg(count_exprs(positive)).collect()
    return metrics_from_counts(w, bins, min_labelled, positive)
