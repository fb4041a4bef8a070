"""Comparing two versions on the same traffic, and where a model's errors concentrate."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from ..errors import ValidationError
from ..stats import two_proportion_test, wilson_interval
from ..version import Version
from ..window import Window, resolve_window, window_of
from .classification import DEFAULT_MIN_LABELLED, LOWER_IS_BETTER, PROPORTIONS, Metrics, metrics, window_frame

if TYPE_CHECKING:
    from ..workspace import Workspace


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
                better = ("a" if diff > 0 else "b") if name in LOWER_IS_BETTER else ("b" if diff > 0 else "a")
        else:
            diff = lo = hi = p = None
            significant, better = False, None
        rows.append(MetricComparison(name, ea.value, eb.value, diff, lo, hi, p, ea.trials, eb.trials, better, significant))
    for name in ("f1", "brier", "ece"):
        va, vb = ma.value(name), mb.value(name)
        rows.append(MetricComparison(name, va, vb, None if va is None or vb is None else vb - va, None, None, None,
                                     ma.rows_for(name), mb.rows_for(name), None, False))
    return ComparisonResult(model, wa.version or "", wb.version or "", ma, mb, tuple(rows), alpha)


def analyze_errors(ws: Workspace, model: str, version: str | None = None, *, by: str | None = None,
                   bins: int = 10, window: Window | None = None, positive: int = 1, **window_args: Any) -> pl.DataFrame:
    """False positives and negatives per confidence bucket (default) or per value of a
    feature ``by`` (numeric features in ``bins`` quantile buckets), seed 001
    ``ml:analyze-errors``. Columns: group, labelled, errors, fp, fn, error_rate with its
    Wilson interval, share of all errors; worst groups first."""
    if bins < 1:
        raise ValidationError(f"bins={bins!r}: expected a positive integer")
    w = window_of(ws, model, version, window, window_args)
    lf = window_frame(ws, w).filter(pl.col("actual").is_not_null())
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
