"""The registry browser: models, versions, environments, configuration differences and history;
deploy and roll back after a confirmation."""

from __future__ import annotations

from typing import Any

import ipywidgets as W
import polars as pl

from .._util import current_actor
from ..errors import ValidationError
from ..registry import ENVIRONMENTS
from ..workspace import Workspace
from ._common import (
    Panel,
    chart_output,
    classed,
    esc,
    frame_table,
    shown,
)

__all__ = ["RegistryBrowser"]


class RegistryBrowser(Panel):
    """Models, versions, environments, configuration differences and history; deploy and
    roll back after a confirmation.

    Attributes to drive it: ``model_picker``, ``diff_a``, ``diff_b``, ``deploy_version``,
    ``deploy_env``, ``reason``, ``deploy_button``, ``rollback_button``, ``confirm``,
    ``cancel``, ``refresh_button``, ``message``; shown: ``versions_table``,
    ``environments_table``, ``diff_table``, ``history_table``, ``timeline``.
    """

    title = "Model registry"

    def __init__(self, ws: Workspace | str | None = None, model: str | None = None, *, history_rows: int = 30,
                 actor: str | None = None) -> None:
        super().__init__(ws, actor)
        self.history_rows = history_rows
        self._pending: tuple[str, str, str | None] | None = None  # (action, env, version)
        self._quiet = False
        self.model_picker = classed(W.Dropdown(description="Model", options=[]), "mlmm-model-picker")
        self.versions_table = classed(W.HTML(), "mlmm-versions")
        self.environments_table = classed(W.HTML(), "mlmm-environments")
        self.diff_a = classed(W.Dropdown(description="from", options=[], layout=W.Layout(width="220px"),
                                         style={"description_width": "40px"}), "mlmm-diff-a")
        self.diff_b = classed(W.Dropdown(description="to", options=[], layout=W.Layout(width="220px"),
                                         style={"description_width": "40px"}), "mlmm-diff-b")
        self.diff_table = classed(W.HTML(), "mlmm-diff")
        self.history_table = classed(W.HTML(), "mlmm-history")
        self.timeline = classed(W.Output(), "mlmm-timeline")
        self.deploy_version = classed(W.Dropdown(description="Version", options=[], layout=W.Layout(width="200px"),
                                                 style={"description_width": "55px"}), "mlmm-deploy-version")
        self.deploy_env = classed(W.Dropdown(description="to", options=list(ENVIRONMENTS), value="production",
                                             layout=W.Layout(width="200px"), style={"description_width": "30px"}),
                                  "mlmm-deploy-env")
        self.reason = classed(W.Text(placeholder="why (recorded in the history)", description="Reason",
                                     layout=W.Layout(width="420px")), "mlmm-registry-reason")
        self.deploy_button = classed(W.Button(description="Deploy…", button_style="success", icon="rocket"),
                                     "mlmm-deploy")
        self.rollback_button = classed(W.Button(description="Roll back…", button_style="danger", icon="undo"),
                                       "mlmm-rollback")
        self.prompt = classed(W.HTML(), "mlmm-prompt")
        self.confirm = classed(W.Button(description="Confirm", button_style="warning"), "mlmm-confirm")
        self.cancel = classed(W.Button(description="Cancel"), "mlmm-cancel")
        self.confirm_box = classed(W.VBox([self.prompt, W.HBox([self.confirm, self.cancel])],
                                          layout=W.Layout(border="1px solid #f9a825", padding="6px", display="none")),
                                   "mlmm-confirm-box")
        self.widget = classed(W.VBox([
            self._header(),
            W.HBox([self.model_picker, self.refresh_button]),
            W.HBox([self.progress, self.status]),
            W.HTML("<b>Versions</b>"), self.versions_table,
            W.HTML("<b>Environments</b>"), self.environments_table,
            W.HTML("<b>Deploy or roll back</b>"),
            W.HBox([self.deploy_version, self.deploy_env, self.deploy_button, self.rollback_button]), self.reason,
            self.confirm_box, self.message,
            W.HTML("<b>Configuration difference</b>"), W.HBox([self.diff_a, self.diff_b]), self.diff_table,
            W.HTML("<b>History</b>"), self.timeline, self.history_table,
        ]), "mlmm-registry-panel")
        self.model_picker.observe(self._guard(self._on_model), names="value")
        self.diff_a.observe(self._guard(self._on_diff), names="value")
        self.diff_b.observe(self._guard(self._on_diff), names="value")
        self.deploy_button.on_click(self._guard(lambda _b: self._ask("deploy")))
        self.rollback_button.on_click(self._guard(lambda _b: self._ask("rollback")))
        self.confirm.on_click(self._guard(lambda _b: self._confirm()))
        self.cancel.on_click(self._guard(lambda _b: self._close("cancelled; nothing changed")))
        if self.ws is not None:
            self._guard(self._load_models)(model)

    def _load_models(self, wanted: str | None = None) -> None:
        assert self.ws is not None
        names = self.ws.registry.list_names()
        if wanted is not None and wanted not in names:
            self.ws.registry.get_all(wanted)  # NotFoundError with the known names
        current = wanted or (self.model_picker.value if self.model_picker.value in names else (names[0] if names else None))
        self._quiet = True
        try:
            self.model_picker.options = names
            self.model_picker.value = current
        finally:
            self._quiet = False
        if current is None:
            self._say(f"no model registered in {self.ws.path}; register one with `mlmm models register`", "info")
            return
        self._show_model(current)

    def _on_model(self, change: dict[str, Any]) -> None:
        if not self._quiet and change["new"] is not None:
            self._close(None)
            self.message.value = ""
            self._show_model(change["new"])

    def _show_model(self, name: str) -> None:
        assert self.ws is not None
        reg = self.ws.registry
        with self._working(f"reading {name}", 4) as step:
            versions = sorted(reg.get_all(name), key=lambda m: m.version, reverse=True)
            frame = reg.to_frame(versions)
            metric_cols = [c for c in ("accuracy", "precision", "recall", "f1") if c in frame.columns]
            self.versions_table.value = frame_table(
                frame.select("version", "model_type", "environment", "created_at", "config_revision", *metric_cols, "tags"))
            self.environments_table.value = frame_table(reg.deployments(name).drop("model_name"),
                                                        empty=f"{name} is not deployed anywhere")
            step("configuration revisions")
            labels = [str(m.version) for m in versions]
            choices: list[tuple[str, str]] = []
            for v in labels:
                count = reg.config_revisions(name, v).height
                choices.append((f"{v} (current)" if count > 1 else v, v))
                choices += [(f"{v} revision {i}", f"{v}@{i}") for i in range(count - 1, 0, -1)]
            self._quiet = True
            try:
                self.diff_a.options = choices
                self.diff_b.options = choices
                self.diff_b.value = labels[0]
                self.diff_a.value = labels[1] if len(labels) > 1 else (choices[1][1] if len(choices) > 1 else labels[0])
                self.deploy_version.options = labels
                self.deploy_version.value = labels[0]
            finally:
                self._quiet = False
            step("configuration difference")
            self._show_diff()
            step("history")
            self._show_history(name)

    def _on_diff(self, _change: dict[str, Any]) -> None:
        if not self._quiet:
            self._show_diff()

    def _show_diff(self) -> None:
        assert self.ws is not None
        name, a, b = self.model_picker.value, self.diff_a.value, self.diff_b.value
        if name is None or a is None or b is None:
            self.diff_table.value = ""
            return
        if a == b:
            self.diff_table.value = "<i>pick two different versions or revisions</i>"
            return
        diff = self.ws.registry.config_diff(name, a, b)
        if diff.is_empty:
            self.diff_table.value = f"<i>{esc(diff.a)} and {esc(diff.b)} have the same configuration</i>"
            return
        self.diff_table.value = frame_table(diff.to_frame())

    def _show_history(self, name: str) -> None:
        assert self.ws is not None
        hist = self.ws.registry.history(name)
        recent = hist.sort("seq", descending=True).head(self.history_rows)
        self.history_table.value = frame_table(
            recent.select("ts", "version", "event", "environment", "actor", "reason", "summary"),
            empty=f"no history for {name}")
        self.timeline.outputs = (chart_output(_timeline_chart(hist, name)),) if hist.height else ()

    def _ask(self, action: str) -> None:
        assert self.ws is not None
        name = self.model_picker.value
        if name is None:
            self._say("pick a model first", "warn")
            return
        env = self.deploy_env.value
        serving = self.ws.registry.deployments(name).filter(pl.col("environment") == env)
        now_serving = serving.item(0, "version") if serving.height else None
        canary = serving.item(0, "canary_version") if serving.height else None
        if action == "deploy":
            version = self.deploy_version.value
            what = (f"Deploy {name} {version} to {env}"
                    + (f"; it replaces {now_serving}" if now_serving and now_serving != version else "")
                    + (f" and ends the canary of {canary}" if canary else "") + ".")
            self._pending = ("deploy", env, version)
        else:
            if now_serving is None:
                self._say(f"{name} is not deployed in {env}; nothing to roll back", "warn")
                return
            what = (f"Roll back {name} in {env}: end the canary of {canary}; {now_serving} keeps all traffic." if canary
                    else f"Roll back {name} in {env}: redeploy the version that served before {now_serving}.")
            self._pending = ("rollback", env, None)
        self.prompt.value = f"<b>{esc(what)}</b><br>Reason: {esc(self.reason.value.strip() or '(none yet: fill it in)')}"
        shown(self.confirm_box, True)

    def _close(self, note: str | None) -> None:
        self._pending = None
        shown(self.confirm_box, False)
        if note:
            self._say(note, "info")

    def _confirm(self) -> None:
        assert self.ws is not None
        if self._pending is None:
            self._say("press Deploy… or Roll back… first", "warn")
            return
        action, env, version = self._pending
        name = self.model_picker.value
        reason = self.reason.value.strip()
        if not reason:
            raise ValidationError("reason='': expected why (it is recorded in the history)")
        who = current_actor(self.actor)
        with self._working(f"{action} {name}", 1):
            if action == "deploy":
                meta = self.ws.registry.deploy(name, version, env=env, actor=who, reason=reason)
                text = f"deployed {name} {meta.version} to {env} (by {who})"
            else:
                meta = self.ws.registry.rollback(name, env=env, actor=who, reason=reason)
                text = f"rolled back {name} in {env}; {meta.version} serves (by {who})"
        self._close(None)
        self.reason.value = ""
        self._show_model(name)
        self._say(text, "ok")

    def refresh(self) -> None:
        """Re-read the registry."""
        if self.ws is None:
            return
        self.message.value = ""
        self._close(None)
        self._load_models(self.model_picker.value)


def _timeline_chart(history: pl.DataFrame, name: str) -> Any:
    """Every event of a model on a time axis, one row per event kind, coloured by version."""
    import altair as alt

    rows = [{"ts": r["ts"].isoformat(), "event": r["event"], "version": r["version"] or "(model)",
             "environment": r["environment"] or "", "actor": r["actor"] or "", "summary": r["summary"] or ""}
            for r in history.iter_rows(named=True)]
    kinds = len({r["event"] for r in rows})
    return alt.Chart(alt.Data(values=rows)).mark_circle(size=70, opacity=0.8).encode(
        x=alt.X("ts:T", title=None), y=alt.Y("event:N", title=None), color=alt.Color("version:N"),
        tooltip=["ts:T", "event:N", "version:N", "environment:N", "actor:N", "summary:N"],
    ).properties(width=640, height=max(80, 22 * kinds), title=f"history of {name}")

