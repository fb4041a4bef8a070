"""Degradation of a window against a baseline, and the concept-drift check on the error stream."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import polars as pl

from .._util import now
from ..errors import ValidationError
from ..stats import two_proportion_test
from ..window import Window, window_of
from .classification import DEFAULT_MIN_LABELLED, LOWER_IS_BETTER, Estimate, Metrics, metrics, window_frame

if TYPE_CHECKING:
    from ..workspace import Workspace


DEGRADATION_WARNING = 0.05  # seed 000/001: "Alert Thresholds: 5% Degradation = Warning, 10% = Critical"

DEGRADATION_CRITICAL = 0.10


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
    w = window_of(ws, model, version, window, window_args)
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
        lower_better = name in LOWER_IS_BETTER
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


def concept_drift(ws: Workspace, model: str, version: str | None = None, *, reference: Window | None = None,
                  window: Window | None = None, **window_args: Any) -> Any:
    """DDM and Page-Hinkley over the stream of correct/incorrect outcomes of the labelled
    rows in the window (time order), and a KS test of the confidence between a reference
    window (default: the window of the same length just before) and this one.

    Returns :class:`mlmm.drift.ConceptDriftResult`.
    """
    from ..drift import detect_concept_drift

    if not window_args and window is None:
        window_args = {"last": "7d"}
    w = window_of(ws, model, version, window, window_args)
    cols = ["timestamp", "prediction", "actual", "confidence"]
    def outcomes(win: Window) -> pl.DataFrame:
        return (window_frame(ws, win).filter(pl.col("actual").is_not_null()).select(cols).sort("timestamp")
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
