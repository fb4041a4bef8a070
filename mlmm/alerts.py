"""Alert rules, an append-only alert log with de-duplication, acknowledge/resolve, hooks.

``check(ws)`` evaluates every rule for every production model and appends to the ``alerts``
table of the registry:

- ``raised`` when a condition starts (a new ``alert_id``);
- ``worsened`` when an open alert's condition gets a higher severity;
- ``cleared`` when the condition no longer holds (the alert closes; if it comes back it
  is raised again under a new id);
- ``acknowledged`` / ``resolved`` by a person, with actor and reason.

The same open condition is not raised again on the next check: a check every 5 minutes
writes nothing while nothing changes. A rule that cannot be evaluated (too few labelled
rows) neither raises nor clears.

Rules (severity in brackets; thresholds from the model's configuration or the workspace
settings, defaults from the seeds):

============== ======================================================= =====================
rule           fires when                                              setting (default)
============== ======================================================= =====================
floor          accuracy below the model's ``alert_accuracy``           config ``alert_severity``
               (n1 85 %, waf 90 %, queue 80 %; seed 001)               (warning; waf critical)
degradation    a significant relative drop >= 5 % (warning) or         config ``degradation_warning``
               >= 10 % (critical) against the registry metrics         / ``degradation_critical``
drift          DDM or Page-Hinkley detect concept drift (warning)      ``alert_drift`` (true)
label_coverage labelled share of predictions below the minimum         ``alert_min_label_coverage`` (0.1)
               (warning)
silent         no prediction for a period (critical)                   ``alert_silence`` ("6h")
error_rate     share of the model's rows quarantined at ingest         ``alert_max_error_rate`` (0.01)
               above the maximum (warning)
feature_drift  dataset drift of the features against the model's      ``alert_feature_drift`` (true);
               stored reference (warning)                              config ``drift_share`` (0.5)
============== ======================================================= =====================

Notification: when an alert is raised or worsens, the workspace setting ``alert_command``
(a command; the alert JSON on its stdin) and/or ``alert_webhook`` (a URL; the alert JSON
POSTed) are called. A failing hook is logged in the alert log, never fatal.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import logging
import shlex
import subprocess
import urllib.request
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import polars as pl

from ._util import current_actor, format_duration, naive_utc, now, parse_duration, to_utc
from .errors import NotFoundError, ValidationError
from .window import last_range

if TYPE_CHECKING:
    from .workspace import Workspace

__all__ = ["SEVERITIES", "Alert", "CheckResult", "Condition", "acknowledge", "check", "evaluate", "list_alerts",
           "raise_alert", "resolve"]

log = logging.getLogger("mlmm")

SEVERITIES = ("info", "warning", "critical")
_RANK = {s: i for i, s in enumerate(SEVERITIES)}
RULES = ("floor", "degradation", "drift", "label_coverage", "silent", "error_rate", "feature_drift")
_OPEN = ("raised", "worsened", "acknowledged")
_CHECKER = "mlmm monitor check"


@dataclasses.dataclass(frozen=True)
class Condition:
    """The outcome of one rule for one model: ``firing`` True/False, or None when it could
    not be evaluated (e.g. too few labelled rows)."""

    model: str
    version: str | None
    rule: str
    firing: bool | None
    severity: str = "warning"
    value: float | None = None
    threshold: float | None = None
    message: str = ""
    details: dict[str, Any] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Alert:
    """The current state of one alert (folded from its events)."""

    alert_id: str
    model: str
    version: str | None
    rule: str
    severity: str
    status: str  # open, acknowledged, resolved, cleared
    value: float | None
    threshold: float | None
    message: str
    raised_at: _dt.datetime
    updated_at: _dt.datetime
    actor: str

    @property
    def is_open(self) -> bool:
        return self.status in ("open", "acknowledged")

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["raised_at"] = self.raised_at.isoformat()
        out["updated_at"] = self.updated_at.isoformat()
        return out


@dataclasses.dataclass(frozen=True)
class CheckResult:
    """What one ``check`` saw and did."""

    checked_at: _dt.datetime
    conditions: tuple[Condition, ...]
    raised: tuple[Alert, ...]
    worsened: tuple[Alert, ...]
    cleared: tuple[Alert, ...]
    open: tuple[Alert, ...]

    @property
    def critical_open(self) -> bool:
        return any(a.severity == "critical" for a in self.open)

    def to_dict(self) -> dict[str, Any]:
        return {
            "checked_at": self.checked_at.isoformat(), "critical_open": self.critical_open,
            "conditions": [c.to_dict() for c in self.conditions],
            "raised": [a.to_dict() for a in self.raised], "worsened": [a.to_dict() for a in self.worsened],
            "cleared": [a.to_dict() for a in self.cleared], "open": [a.to_dict() for a in self.open],
        }


# ----------------------------------------------------------------------------- rules
def evaluate(ws: Workspace, *, models: Iterable[str] | None = None, window: str | None = None,
             at: Any = None) -> list[Condition]:
    """Evaluate every rule for every production model (or ``models``); writes nothing.

    ``window`` (default the setting ``monitor_window``, "24h") is the period the metrics
    rules look at, ending at ``at`` (default now).
    """
    from . import monitor
    from .predictions import read_quarantine

    settings = ws.settings()
    window = window or str(settings.get("monitor_window", "24h"))
    until = to_utc(at, "at") if at is not None else now()
    if models is None:
        models = sorted({m.name for m in ws.registry.get_production_models()})
    out: list[Condition] = []
    quarantine = read_quarantine(ws, since=last_range(window, until, field="window")[0])
    for name in models:
        deg = monitor.degradation(ws, name, None, last=window, until=until)
        m, version = deg.current, deg.version
        config = dict(ws.registry.get(name, version).configuration)
        # floor
        floor, severity = monitor.floor_of(config)
        if floor is not None:
            if not m.sufficient or m.accuracy.value is None:
                out.append(Condition(name, version, "floor", None, severity, None, floor, m.message))
            else:
                below = m.accuracy.value < floor
                out.append(Condition(
                    name, version, "floor", below, severity, m.accuracy.value, floor,
                    f"{name} {version} accuracy {m.accuracy.text()} in the {m.window.label} is "
                    + ("below" if below else "at or above") + f" its floor {floor:.0%}",
                    {"labelled": m.labelled, "low": m.accuracy.low, "high": m.accuracy.high}))
        # degradation
        acc = next((d for d in deg.metrics if d.metric == "accuracy"), None)
        if not m.sufficient or not deg.metrics:
            out.append(Condition(name, version, "degradation", None, "warning", None, deg.warning, deg.message))
        else:
            level = deg.alarm_level
            out.append(Condition(
                name, version, "degradation", deg.has_degraded, level if level in _RANK else "warning",
                acc.drop if acc else None, deg.warning, deg.message,
                {"metrics": [d.to_dict() for d in deg.metrics], "baseline": deg.baseline_source}))
        # concept drift
        if settings.get("alert_drift", True):
            out.append(_drift_condition(ws, name, version, m, until))
        # label coverage
        min_cov = float(settings.get("alert_min_label_coverage", 0.1))
        if m.count < m.min_labelled:
            out.append(Condition(name, version, "label_coverage", None, "warning", None, min_cov, m.message))
        else:
            cov = m.coverage.value or 0.0
            out.append(Condition(
                name, version, "label_coverage", cov < min_cov, "warning", cov, min_cov,
                f"{name}: {cov:.1%} of {m.count:,} predictions labelled in the {m.window.label}"
                f" (minimum {min_cov:.0%})"))
        # silence
        silence = parse_duration(settings.get("alert_silence", "6h"), "alert_silence")
        last_seen = monitor.last_prediction_time(ws, name)
        quiet = last_seen is None or until - last_seen >= silence
        seen = "never" if last_seen is None else f"last at {last_seen:%Y-%m-%d %H:%M} UTC"
        out.append(Condition(
            name, version, "silent", quiet, "critical",
            None if last_seen is None else (until - last_seen).total_seconds(), silence.total_seconds(),
            f"{name}: no predictions for {format_duration(silence)} or more ({seen})" if quiet else f"{name}: predictions {seen}"))
        # ingest error rate
        max_err = float(settings.get("alert_max_error_rate", 0.01))
        lo = last_range(window, until, field="window")[0]
        bad = quarantine.filter((pl.col("model_name") == name) & (pl.col("quarantined_at") >= lo)
                                & (pl.col("quarantined_at") < until)).height if "model_name" in quarantine.columns else 0
        total = bad + m.count
        if total == 0:
            out.append(Condition(name, version, "error_rate", None, "warning", None, max_err, m.message))
        else:
            rate = bad / total
            out.append(Condition(
                name, version, "error_rate", rate > max_err, "warning", rate, max_err,
                f"{name}: {bad:,} of {total:,} rows quarantined at ingest in the {m.window.label}"
                f" ({rate:.2%}; maximum {max_err:.0%})"))
        # feature drift against the model's stored reference
        if settings.get("alert_feature_drift", True):
            out.append(_feature_drift_condition(ws, name, version, window, until))
    return out


def _feature_drift_condition(ws: Workspace, name: str, version: str | None, window: str,
                             until: _dt.datetime) -> Condition:
    from . import drift as feature_drift

    try:
        ref = feature_drift.get_reference(ws, name, version)
    except NotFoundError:
        return Condition(name, version, "feature_drift", None, "warning", None, None,
                         f"{name}: no stored drift reference (mlmm drift reference set {name} --window ...)")
    try:
        result = feature_drift.check(ws, name, None, current=f"last={window}", reference=ref.reference_id, until=until,
                                     record=False)
    except ValidationError as exc:  # a reference that no longer fits the log: say so, do not stop the check
        return Condition(name, version, "feature_drift", None, "warning", None, None,
                         f"{name}: feature drift not evaluated: {exc}")
    report = result.report
    if not any(c.drifted is not None for c in report.columns):
        return Condition(name, version, "feature_drift", None, "warning", None, None,
                         f"{name}: no testable feature data in the {result.current}")
    drifted = result.drifted_columns
    share = float(report.drifted_share)
    return Condition(
        name, version, "feature_drift", result.dataset_drift, "warning", share, float(report.drift_share),
        f"{name}: {len(drifted)} of {len(report.columns)} features drifted in the {result.current} against"
        f" {ref.reference_id} ({ref.source})" + (f": {', '.join(drifted)}" if drifted else ""),
        {"columns": [c.to_dict() for c in report.columns]})


def _drift_condition(ws: Workspace, name: str, version: str | None, m: Any, until: _dt.datetime) -> Condition:
    """Concept drift, confirmed: a detector's signal that the error rate rose fires only
    when the accuracy after the signal is significantly below the version's baseline
    accuracy in the registry (exact one-sided binomial test, alpha 0.05; without a stored
    baseline, below the accuracy before the signal). Comparing with the rows just before
    the signal would be biased: DDM signals right after a lucky streak on long stable
    streams. An unconfirmed signal is reported in the message, not raised."""
    from scipy.stats import binomtest

    from . import monitor
    from .stats import two_proportion_test

    w = m.window
    drift = monitor.concept_drift(ws, name, version, window=w)
    if not drift.rows or not m.sufficient:
        return Condition(name, version, "drift", None, "warning", None, None, drift.reason)
    rises = [d for d in drift.detections if getattr(d, "direction", "increase") == "increase" and d.timestamp]
    if not rises:
        return Condition(name, version, "drift", False, "warning", None, None,
                         f"{name}: no rise in the error rate detected in the {w.label}")
    signal = rises[0]
    at = to_utc(signal.timestamp, "timestamp")
    after = monitor.metrics(ws, name, window=dataclasses.replace(w, since=at, last_n=None), min_labelled=1)
    baseline = dict(ws.registry.get(name, version).performance_metrics).get("accuracy") if version else None
    p = None
    if after.labelled and isinstance(baseline, (int, float)) and 0 < baseline < 1:
        p = float(binomtest(after.correct, after.labelled, float(baseline), alternative="less").pvalue)
        against = f"baseline {baseline:.3f}"
    else:
        before = monitor.metrics(ws, name, window=dataclasses.replace(w, until=at, last_n=None), min_labelled=1)
        if before.labelled and after.labelled:
            p = two_proportion_test(after.correct, after.labelled, before.correct, before.labelled,
                                    alternative="greater").p_value  # H1: accuracy before > after
        against = f"{before.accuracy.text()} before"
    confirmed = p is not None and p < 0.05
    text = (f"{name}: {signal.detector} signalled a rise in the error rate at {at:%Y-%m-%d %H:%M} UTC;"
            f" accuracy since then {after.accuracy.text()} against {against}"
            + (f", p = {p:.3g}" if p is not None else "") + ("" if confirmed else " (not confirmed)"))
    return Condition(name, version, "drift", confirmed, "warning", signal.statistic, signal.threshold, text,
                     {"detections": [d.to_dict() for d in drift.detections[:10]],
                      "ks": drift.ks.to_dict() if drift.ks else None, "p_value": p})


# ----------------------------------------------------------------------------- the log
def _fold(rows: list[tuple[Any, ...]]) -> dict[str, Alert]:
    alerts: dict[str, Alert] = {}
    for _seq, ts, alert_id, event, model, version, rule, severity, value, threshold, message, actor in rows:
        ts = ts.replace(tzinfo=_dt.UTC)
        prev = alerts.get(alert_id)
        if event == "raised" or prev is None:
            alerts[alert_id] = Alert(alert_id, model, version, rule, severity, "open", value, threshold,
                                     message or "", ts, ts, actor)
        elif event == "worsened":
            alerts[alert_id] = dataclasses.replace(prev, severity=severity, value=value, threshold=threshold,
                                                   message=message or prev.message, updated_at=ts, actor=actor,
                                                   status="acknowledged" if prev.status == "acknowledged" else "open")
        elif event in ("acknowledged", "resolved", "cleared"):
            alerts[alert_id] = dataclasses.replace(prev, status=event, updated_at=ts, actor=actor)
    return alerts


def _all(ws: Workspace) -> dict[str, Alert]:
    with ws.connect() as con:
        rows = con.execute(
            "SELECT seq, ts, alert_id, event, model_name, version, rule, severity, value, threshold, message, actor"
            " FROM alerts WHERE event IN ('raised', 'worsened', 'acknowledged', 'resolved', 'cleared') ORDER BY seq"
        ).fetchall()
    return _fold(rows)


def _append(con: Any, alert_id: str, event: str, c: Condition | Alert, actor: str, reason: str | None,
            details: dict[str, Any] | None, when: _dt.datetime) -> None:
    model = c.model
    con.execute(
        "INSERT INTO alerts (ts, alert_id, event, model_name, version, rule, severity, value, threshold, message,"
        " actor, reason, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [naive_utc(when), alert_id, event, model, c.version, c.rule, c.severity, c.value, c.threshold, c.message,
         actor, reason, json.dumps(details, default=str) if details else None],
    )


def check(ws: Workspace, *, models: Iterable[str] | None = None, window: str | None = None, at: Any = None,
          notify: bool = True) -> CheckResult:
    """Evaluate the rules and update the alert log (see the module docstring)."""
    when = to_utc(at, "at") if at is not None else now()
    conditions = evaluate(ws, models=models, window=window, at=when)
    raised: list[Alert] = []
    worsened: list[Alert] = []
    cleared: list[Alert] = []
    with ws.session(), ws.connect() as con:
        current = {(a.model, a.rule): a for a in _all(ws).values() if a.is_open}
        for c in conditions:
            key = (c.model, c.rule)
            have = current.get(key)
            if c.firing is None:
                continue
            if c.firing and have is None:
                alert_id = f"{c.rule}-{c.model}-{uuid.uuid4().hex[:8]}"
                _append(con, alert_id, "raised", c, _CHECKER, None, c.details, when)
                raised.append(Alert(alert_id, c.model, c.version, c.rule, c.severity, "open", c.value, c.threshold,
                                    c.message, when, when, _CHECKER))
            elif c.firing and _RANK[c.severity] > _RANK[have.severity]:
                _append(con, have.alert_id, "worsened", c, _CHECKER, f"{have.severity} -> {c.severity}", c.details, when)
                worsened.append(dataclasses.replace(have, severity=c.severity, value=c.value, message=c.message,
                                                    updated_at=when))
            elif not c.firing and have is not None:
                _append(con, have.alert_id, "cleared", c, _CHECKER, "condition no longer holds", None, when)
                cleared.append(dataclasses.replace(have, status="cleared", updated_at=when))
    if notify:
        for alert in raised + worsened:
            _notify(ws, alert, "raised" if alert in raised else "worsened")
    still_open = tuple(a for a in _all(ws).values() if a.is_open)
    return CheckResult(when, tuple(conditions), tuple(raised), tuple(worsened), tuple(cleared), still_open)


def raise_alert(ws: Workspace, model: str, *, message: str, severity: str = "warning", rule: str = "decision",
                version: str | None = None, actor: str | None = None, details: dict[str, Any] | None = None,
                notify: bool = True) -> Alert:
    """Raise an alert that a person or a report decided on (not one of the rules): appended
    as ``raised`` with the hooks called, or, while an alert of the same model and rule is
    open, escalated (``worsened``) when the severity is higher and otherwise returned as is."""
    if severity not in SEVERITIES:
        raise ValidationError(f"severity={severity!r}: expected one of {', '.join(SEVERITIES)}")
    if not str(message).strip():
        raise ValidationError("message='': expected what the alert is about")
    who = current_actor(actor)
    when = now()
    c = Condition(model, version, rule, True, severity, message=str(message), details=dict(details or {}))
    have = next((a for a in _all(ws).values() if a.is_open and a.model == model and a.rule == rule), None)
    with ws.connect() as con:
        if have is None:
            alert_id = f"{rule}-{model}-{uuid.uuid4().hex[:8]}"
            _append(con, alert_id, "raised", c, who, None, c.details, when)
            alert, event = Alert(alert_id, model, version, rule, severity, "open", None, None, c.message, when, when,
                                 who), "raised"
        elif _RANK[severity] > _RANK[have.severity]:
            _append(con, have.alert_id, "worsened", c, who, f"{have.severity} -> {severity}", c.details, when)
            alert, event = dataclasses.replace(have, severity=severity, message=c.message, updated_at=when), "worsened"
        else:
            return have
    if notify:
        _notify(ws, alert, event)
    return alert


def _notify(ws: Workspace, alert: Alert, event: str) -> None:
    settings = ws.settings()
    payload = json.dumps({"event": event, **alert.to_dict()}).encode()
    hooks: list[tuple[str, Any]] = []
    if settings.get("alert_command"):
        hooks.append(("command", settings["alert_command"]))
    if settings.get("alert_webhook"):
        hooks.append(("webhook", settings["alert_webhook"]))
    for kind, target in hooks:
        try:
            if kind == "command":
                argv = shlex.split(target) if isinstance(target, str) else list(target)
                done = subprocess.run(argv, input=payload, capture_output=True, timeout=30, check=False)
                if done.returncode != 0:
                    raise RuntimeError(f"exit {done.returncode}: {done.stderr.decode(errors='replace')[-300:]}")
            else:
                request = urllib.request.Request(target, data=payload, method="POST",
                                                 headers={"Content-Type": "application/json"})
                with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (the user's own URL)
                    response.read()
            outcome, details = "notified", {"hook": kind, "target": str(target)}
        except Exception as exc:  # a broken hook must not stop the check
            log.error("alert hook %s %s failed for %s: %s", kind, target, alert.alert_id, exc)
            outcome, details = "notify_failed", {"hook": kind, "target": str(target), "error": str(exc)}
        with ws.connect() as con:
            _append(con, alert.alert_id, outcome, alert, _CHECKER, None, details, now())


def list_alerts(ws: Workspace, *, status: str = "open", model: str | None = None) -> pl.DataFrame:
    """Alerts by current state: ``status`` open (open or acknowledged), closed, or all;
    most severe and newest first."""
    if status not in ("open", "closed", "all"):
        raise ValidationError(f"status={status!r}: expected open, closed or all")
    alerts = list(_all(ws).values())
    if status == "open":
        alerts = [a for a in alerts if a.is_open]
    elif status == "closed":
        alerts = [a for a in alerts if not a.is_open]
    if model is not None:
        alerts = [a for a in alerts if a.model == model]
    alerts.sort(key=lambda a: (-_RANK[a.severity], -a.updated_at.timestamp()))
    schema = {"alert_id": pl.String, "model": pl.String, "version": pl.String, "rule": pl.String,
              "severity": pl.String, "status": pl.String, "value": pl.Float64, "threshold": pl.Float64,
              "message": pl.String, "raised_at": pl.Datetime("us", "UTC"), "updated_at": pl.Datetime("us", "UTC"),
              "actor": pl.String}
    return pl.DataFrame([dataclasses.asdict(a) for a in alerts], schema=schema)


def history(ws: Workspace, alert_id: str | None = None) -> pl.DataFrame:
    """Every alert-log event (oldest first), or those of one alert."""
    sql = ("SELECT seq, ts, alert_id, event, model_name, version, rule, severity, value, threshold, message, actor,"
           " reason, details FROM alerts")
    params: list[Any] = []
    if alert_id is not None:
        sql += " WHERE alert_id = ?"
        params.append(alert_id)
    with ws.connect() as con:
        rows = con.execute(sql + " ORDER BY seq", params).fetchall()
    schema = {"seq": pl.Int64, "ts": pl.Datetime("us"), "alert_id": pl.String, "event": pl.String,
              "model": pl.String, "version": pl.String, "rule": pl.String, "severity": pl.String,
              "value": pl.Float64, "threshold": pl.Float64, "message": pl.String, "actor": pl.String,
              "reason": pl.String, "details": pl.String}
    return pl.DataFrame(rows, schema=schema, orient="row").with_columns(pl.col("ts").dt.replace_time_zone("UTC"))


def _change(ws: Workspace, alert_id: str, event: str, actor: str | None, reason: str | None) -> Alert:
    alerts = _all(ws)
    alert = alerts.get(alert_id)
    if alert is None:
        known = ", ".join(sorted(a.alert_id for a in alerts.values() if a.is_open)) or "none open"
        raise NotFoundError(f"alert_id={alert_id!r}: no such alert (open: {known})")
    if not alert.is_open:
        raise ValidationError(f"alert_id={alert_id!r} is {alert.status}; expected an open alert")
    if event == "acknowledged" and alert.status == "acknowledged":
        return alert
    who = current_actor(actor)
    when = now()
    with ws.connect() as con:
        _append(con, alert_id, event, alert, who, reason, None, when)
    return dataclasses.replace(alert, status=event, updated_at=when, actor=who)


def acknowledge(ws: Workspace, alert_id: str, *, actor: str | None = None, reason: str | None = None) -> Alert:
    """Someone is on it: the alert stays open (and still counts for ``check``'s exit code)
    but is marked acknowledged with who and why."""
    return _change(ws, alert_id, "acknowledged", actor, reason)


def resolve(ws: Workspace, alert_id: str, *, actor: str | None = None, reason: str | None = None) -> Alert:
    """Close an alert by hand. If its condition still holds, the next check raises it again."""
    return _change(ws, alert_id, "resolved", actor, reason)
