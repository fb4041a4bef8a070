"""Retraining triggers (seed 002): performance, drift, data volume and age of the version."""

from __future__ import annotations

import dataclasses
import datetime as _dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import polars as pl

from .._util import now, parse_duration, to_utc

if TYPE_CHECKING:
    from ..workspace import Workspace


# seed 002 AutomatedRetrainingSystem defaults; overridden by [retraining] in mlmm.toml
RETRAINING_DEFAULTS: dict[str, Any] = {
    "window": "24h",  # seed: _load_recent_predictions(days=1)
    "min_labelled": 100,  # seed: "Need minimum samples" (100)
    "accuracy_floor": None,  # None: the model's alert_accuracy (seed 002 default 0.85 when the model has none)
    "drift_window": "7d",  # seed: _load_recent_features(days=7)
    "max_age": "7d",  # seed: retraining_schedule_days = 7
    "min_new_labels": 50_000,  # data volume: labelled rows since the version was registered
    "command": None,  # run on "retrain requested" when applied (in the workspace directory, 10 min at most)
    "cooldown": "7d",  # an applied request is not repeated for the same version within this (seed: weekly)
}

_SEED_FLOOR = 0.85  # seed 002 accuracy_threshold


@dataclasses.dataclass(frozen=True)
class Trigger:
    """One retraining trigger: fired True/False, or None when it could not be evaluated."""

    name: str  # performance, drift, data_volume, age
    fired: bool | None
    detail: str
    value: float | None = None
    threshold: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class RetrainingCheck:
    """Seed 002's ``should_retrain``: each trigger with its evidence."""

    model: str
    version: str | None
    at: _dt.datetime
    triggers: tuple[Trigger, ...]

    @property
    def fired(self) -> list[Trigger]:
        return [t for t in self.triggers if t.fired]

    @property
    def should_retrain(self) -> bool:
        return bool(self.fired)

    @property
    def reason(self) -> str:
        if not self.fired:
            return "no retraining trigger fired"
        return "; ".join(f"{t.name}: {t.detail}" for t in self.fired)

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "version": self.version, "at": self.at.isoformat(),
                "should_retrain": self.should_retrain, "triggers": [t.to_dict() for t in self.triggers]}

    def to_frame(self) -> pl.DataFrame:
        return pl.DataFrame([t.to_dict() for t in self.triggers],
                            schema={"name": pl.String, "fired": pl.Boolean, "detail": pl.String,
                                    "value": pl.Float64, "threshold": pl.Float64})

    def __repr__(self) -> str:
        return f"<RetrainingCheck {self.model} {self.version}: {self.reason}>"


def retraining_check(ws: Workspace, model: str, *, until: Any = None, settings: Mapping[str, Any] | None = None,
                     assessment: Any = None, drift: Any = None) -> RetrainingCheck:
    """Evaluate the four retraining triggers for the model's production version (else its
    latest) at ``until`` (default: the model's newest prediction). ``settings`` overrides
    ``[retraining]`` of ``mlmm.toml``; an ``assessment`` (from :func:`mlmm.monitor.assess`)
    or a drift check already computed is reused."""
    from .. import drift as feature_drift
    from .. import monitor
    from ..config import load_config

    conf = {**load_config(ws)["retraining"], **dict(settings or {})}
    end = to_utc(until, "until") if until is not None else (monitor.last_prediction_time(ws, model) or now())
    version = str(ws.registry.serving_version(model, or_latest=True).version)
    meta = ws.registry.get(model, version)
    triggers = []

    # 1. performance below the floor
    floor = conf.get("accuracy_floor")
    if floor is None:
        floor = monitor.floor_of(dict(meta.configuration))[0] or _SEED_FLOOR
    reuse = (assessment is not None and assessment.version == version
             and assessment.metrics.window.label == f"last {conf['window']}"
             and int(conf["min_labelled"]) == monitor.DEFAULT_MIN_LABELLED)
    m = assessment.metrics if reuse else monitor.metrics(
        ws, model, version, last=conf["window"], until=end, min_labelled=int(conf["min_labelled"]))
    if not m.sufficient or m.accuracy.value is None:
        triggers.append(Trigger("performance", None, m.message, None, float(floor)))
    else:
        acc = float(m.accuracy.value)
        below = acc < float(floor)
        triggers.append(Trigger("performance", below, f"accuracy {acc:.3f} {'<' if below else '>='} floor {floor:.2f}"
                                f" on {m.labelled:,} labelled predictions ({m.window.label})", acc, float(floor)))

    # 2. data drift against the stored reference
    if drift is None:
        try:
            drift = feature_drift.check(ws, model, current=conf["drift_window"], until=end, record=False)
        except Exception as exc:  # no reference stored, no features: not evaluated
            drift = exc
    if isinstance(drift, Exception):
        triggers.append(Trigger("drift", None, f"not evaluated: {drift}"))
    else:
        n = len(drift.drifted_columns)
        triggers.append(Trigger("drift", drift.dataset_drift,
                                f"{n} of {len(drift.report.columns)} features drifted over the last {conf['drift_window']}"
                                + (f" ({', '.join(drift.drifted_columns[:5])})" if n else "")
                                + (" (dataset drift)" if drift.dataset_drift else ""),
                                float(drift.report.drifted_share), float(drift.report.drift_share)))

    # 3. data volume: labelled predictions since the version was registered
    since = meta.created_at
    volume = monitor.metrics(ws, model, version, since=since, until=end, min_labelled=0).labelled
    need = int(conf["min_new_labels"])
    triggers.append(Trigger("data_volume", volume >= need,
                            f"{volume:,} labelled predictions since {version} was registered (retrain at {need:,})",
                            float(volume), float(need)))

    # 4. age
    max_age = parse_duration(conf["max_age"], "max_age")
    age = end - since
    triggers.append(Trigger("age", age >= max_age, f"{age.days} days since {version} was registered"
                            f" (retrain every {max_age.days} days)", age.total_seconds() / 86400,
                            max_age.total_seconds() / 86400))
    return RetrainingCheck(model, version, end, tuple(triggers))
