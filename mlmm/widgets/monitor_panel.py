"""The monitoring panel: a model's metrics over a window as cards with Wilson intervals, and its trend."""

from __future__ import annotations

from typing import Any

import ipywidgets as W
import polars as pl

from .. import monitor as M
from .._util import to_utc
from ..version import Version
from ..workspace import Workspace
from ._common import (
    Panel,
    chart_output,
    classed,
    esc,
    text_output,
)

__all__ = ["MonitorPanel"]

_WINDOWS = (("last 24 hours", "24h"), ("last 7 days", "7d"), ("last 30 days", "30d"))
_TREND_INTERVAL = {"24h": "1h", "7d": "6h", "30d": "1d"}
_TREND_METRICS = ("accuracy", "precision", "recall", "f1", "specificity", "fpr", "fnr", "coverage", "brier")


class MonitorPanel(Panel):
    """A model's metrics over a window as cards with Wilson intervals, and its trend.

    ``until`` ends the window (default: the model's newest prediction, as in the report
    notebooks; now when it has none).
    Attributes to drive it: ``model_picker``, ``version_picker`` (``""`` = all versions),
    ``window`` (``"24h"``, ``"7d"``, ``"30d"``), ``metric``, ``refresh_button``; shown:
    ``cards``, ``chart``, ``message``; read ``metrics`` (:class:`mlmm.monitor.Metrics`) and
    ``trend`` (the frame behind the chart).
    """

    title = "Monitoring"

    def __init__(self, ws: Workspace | str | None = None, model: str | None = None, *, window: str = "24h",
                 metric: str = "accuracy", until: Any = None, actor: str | None = None) -> None:
        super().__init__(ws, actor)
        self.metrics: M.Metrics | None = None
        self.trend: pl.DataFrame | None = None
        self._quiet = False
        self.until = None
        try:
            self.until = to_utc(until, "until") if until is not None else None
        except Exception as exc:
            self._fail(exc)
        windows = [w for _, w in _WINDOWS]
        self.model_picker = classed(W.Dropdown(description="Model", options=[]), "mlmm-model-picker")
        self.version_picker = classed(W.Dropdown(description="Version", options=[("all versions", "")], value="",
                                                 layout=W.Layout(width="220px")), "mlmm-version-picker")
        self.window = classed(W.Dropdown(description="Window", options=list(_WINDOWS),
                                         value=window if window in windows else "24h",
                                         layout=W.Layout(width="240px")), "mlmm-window")
        self.metric = classed(W.Dropdown(description="Trend of", options=list(_TREND_METRICS),
                                         value=metric if metric in _TREND_METRICS else "accuracy",
                                         layout=W.Layout(width="220px")), "mlmm-metric")
        self.cards = classed(W.HTML(), "mlmm-cards")
        self.chart = classed(W.Output(), "mlmm-chart")
        self.widget = classed(W.VBox([
            self._header(),
            W.HBox([self.model_picker, self.version_picker, self.window, self.metric, self.refresh_button]),
            W.HBox([self.progress, self.status]),
            self.cards, self.chart, self.message,
        ]), "mlmm-monitor-panel")
        self.model_picker.observe(self._guard(self._on_model), names="value")
        for w in (self.version_picker, self.window, self.metric):
            w.observe(self._guard(self._on_change), names="value")
        if self.ws is not None and (until is None or self.until is not None):
            self._guard(self._load_models)(model)

    def _load_models(self, wanted: str | None = None) -> None:
        assert self.ws is not None
        names = self.ws.registry.list_names()
        if wanted is not None and wanted not in names:
            self.ws.registry.get_all(wanted)  # NotFoundError with the known names
        serving = [m.name for m in self.ws.registry.get_production_models()]
        current = wanted or (self.model_picker.value if self.model_picker.value in names
                             else next(iter(sorted(serving)), names[0] if names else None))
        self._quiet = True
        try:
            self.model_picker.options = names
            self.model_picker.value = current
            self._fill_versions(current)
        finally:
            self._quiet = False
        if current is None:
            self._say(f"no model registered in {self.ws.path}", "info")
            return
        self._show()

    def _fill_versions(self, name: str | None) -> None:
        assert self.ws is not None
        keep = self.version_picker.value
        versions = [] if name is None else sorted((str(m.version) for m in self.ws.registry.get_all(name)),
                                                  key=Version.parse, reverse=True)
        self.version_picker.options = [("all versions", ""), *((v, v) for v in versions)]
        self.version_picker.value = keep if keep in versions else ""

    def _on_model(self, change: dict[str, Any]) -> None:
        if not self._quiet and change["new"] is not None:
            self._quiet = True
            try:
                self._fill_versions(change["new"])
            finally:
                self._quiet = False
            self.message.value = ""
            self._show()

    def _on_change(self, _change: dict[str, Any]) -> None:
        if not self._quiet and self.model_picker.value is not None:
            self.message.value = ""
            self._show()

    def _show(self) -> None:
        assert self.ws is not None
        name, version, last, metric = (self.model_picker.value, self.version_picker.value or None, self.window.value,
                                       self.metric.value)
        with self._working(f"{name}, last {last}", 3) as step:
            end = self.until or M.last_prediction_time(self.ws, name)
            m = M.metrics(self.ws, name, version, last=last, until=end)
            self.metrics = m
            meta = self.ws.registry.get(name, version) if version else self._serving(name)
            floor, severity = M.floor_of(dict(meta.configuration)) if meta is not None else (None, "warning")
            self.cards.value = _cards(m, floor, severity)
            step("trend")
            frame = M.trends(self.ws, name, version, last=last, until=end, interval=_TREND_INTERVAL[last])
            self.trend = frame
            step("chart")
            if frame.is_empty():
                self.chart.outputs = (text_output(f"no predictions of {name} in the {m.window.label}"),)
            else:
                baseline = None if meta is None else dict(meta.performance_metrics).get(metric)
                chart = M.trend_chart(frame, metric, floor=floor if metric == "accuracy" else None,
                                      baseline=baseline if isinstance(baseline, (int, float)) else None,
                                      title=f"{name}{' ' + version if version else ''}: {metric} per"
                                            f" {_TREND_INTERVAL[last]}, {m.window.label}")
                self.chart.outputs = (chart_output(chart),)
        if not m.sufficient:
            self._say(m.message, "warn")

    def _serving(self, name: str) -> Any:
        assert self.ws is not None
        return self.ws.registry.serving_version(name, or_latest=True)

    def refresh(self) -> None:
        """Re-read the registry and the prediction log."""
        if self.ws is None:
            return
        self.message.value = ""
        self._load_models(self.model_picker.value)


def _cards(m: M.Metrics, floor: float | None, severity: str) -> str:
    """Metric cards: value, Wilson interval, rows it rests on; the floor status."""

    def card(title: str, value: str, detail: str, level: str = "") -> str:
        tint = {"ok": "#e8f5e9", "error": "#ffebee", "warn": "#fff8e1"}.get(level, "#fafafa")
        return (f'<div class="mlmm-card" style="display:inline-block;vertical-align:top;min-width:130px;margin:4px;'
                f'padding:6px 10px;border:1px solid #ddd;border-radius:6px;background:{tint}">'
                f'<div style="color:#666;font-size:11px">{esc(title)}</div>'
                f'<div style="font-size:20px;font-weight:600">{esc(value)}</div>'
                f'<div style="color:#666;font-size:11px">{esc(detail)}</div></div>')

    def est(name: str, e: M.Estimate) -> str:
        if e.value is None:
            return card(name, "n/a", "0 rows")
        return card(name, f"{e.value:.3f}", f"[{e.low:.3f}, {e.high:.3f}] · {e.trials:,} rows")

    end = "" if m.window.until is None else f" to {m.window.until:%Y-%m-%d %H:%M} UTC"
    parts = [card("predictions", f"{m.count:,}", m.window.label + end),
             card("labelled", f"{m.labelled:,}", "coverage –" if m.coverage.value is None
                  else f"coverage {m.coverage.value:.0%}", "" if m.sufficient else "warn")]
    parts += [est(name, getattr(m, name)) for name in ("accuracy", "precision", "recall")]
    parts.append(card("F1", "n/a" if m.f1 is None else f"{m.f1:.3f}", f"{m.f1_rows:,} rows"))
    if floor is not None:
        acc = m.accuracy
        if not m.sufficient or acc.value is None:
            parts.append(card("floor", f"{floor:.0%}", "insufficient data for a verdict", "warn"))
        elif acc.value < floor:
            parts.append(card("floor", f"{floor:.0%}", f"BELOW ({severity})", "error"))
        else:
            parts.append(card("floor", f"{floor:.0%}", "at or above", "ok"))
    return "".join(parts)
