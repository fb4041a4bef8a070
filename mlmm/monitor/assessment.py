"""One assessment of a model over a window: data sufficiency, the floor, degradation, the summary."""

from __future__ import annotations

import dataclasses
import datetime as _dt
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import polars as pl

from .._util import now, to_utc
from ..predictions import read_predictions
from ..window import Window, last_range, resolve_window, window_of
from .baseline import DegradationResult, concept_drift, degradation
from .classification import DEFAULT_MIN_LABELLED, Metrics, metrics, window_frame

if TYPE_CHECKING:
    from ..workspace import Workspace


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
    w = window_of(ws, model, None, window, window_args)
    per = (window_frame(ws, w).group_by("version").agg(
        pl.len().alias("predictions"), pl.col("actual").is_not_null().sum().alias("labelled"),
        pl.col("timestamp").min().alias("first"), pl.col("timestamp").max().alias("last"),
        pl.col("timestamp").dt.date().n_unique().alias("days"),
    ).collect().with_columns(pl.col("predictions").cast(pl.Int64), pl.col("labelled").cast(pl.Int64))
        .with_columns((pl.col("labelled") >= min_labelled).alias("sufficient")))
    per = per.sort("first")
    days = int(window_frame(ws, w).select(pl.col("timestamp").dt.date().n_unique()).collect().item()) if per.height else 0
    return DataSufficiency(
        w, int(per.get_column("predictions").sum() or 0), int(per.get_column("labelled").sum() or 0), per,
        min_labelled, days, per.get_column("first").min() if per.height else None,
        per.get_column("last").max() if per.height else None,
    )


def last_prediction_time(ws: Workspace, model: str) -> _dt.datetime | None:
    """When ``model`` last logged a prediction (reads only its newest day's files)."""
    from ..predictions.layout import partition_dirs

    days = partition_dirs(ws.predictions_dir, model, None, None)
    for _, folder in reversed(days):
        day = _dt.datetime.fromisoformat(folder.name.partition("=")[2]).replace(tzinfo=_dt.UTC)
        got = read_predictions(ws, model, since=day, until=day + _dt.timedelta(days=1), with_labels=False) \
            .select(pl.col("timestamp").max()).collect().item()
        if got is not None:
            return got
    return None


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
        since, _ = last_range(baseline, w.since, field="baseline")
        ref_window = resolve_window(ws, model, since=since, until=w.since)
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
