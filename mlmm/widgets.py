"""Widget panels for notebooks and Voila: A/B decisions, the registry, monitoring.

Three panels built from ipywidgets, each a thin view over functions of ``mlmm`` (no
statistics here):

- :class:`ABDecisionPanel`: pick a running A/B test and see what :func:`mlmm.ab.evaluate`
  says (metrics with intervals, lift, p-values, the peeking-safe verdict, sample progress,
  the sample-ratio check, the recommendation); change alpha or the minimum improvement and
  the verdict follows; decide with Deploy B / Keep A / Continue / Roll back, a reason (and an
  override reason when the statistics do not support the choice), recorded through
  :func:`mlmm.decisions.record_decision`.
- :class:`RegistryBrowser`: models, versions, environments, the configuration difference
  between two versions or revisions, the history as a table and a timeline; deploy and roll
  back after a confirmation.
- :class:`MonitorPanel`: a model, a version and a window; metric cards with Wilson intervals
  and the trend chart (:func:`mlmm.monitor.trends`).

Every panel has ``.widget`` (the ipywidgets container shown in a notebook), ``refresh()``
and a Refresh button that re-read the workspace, a progress bar that counts the steps of a
long query, and ``.message``, where an error appears as one line (never a traceback). The
sub-widgets are attributes, so code and tests drive a panel as a person would::

    panel = ABDecisionPanel(ws)
    panel.test_picker.value = "ab-n1-challenger-75"
    panel.deploy_b.click()
    panel.reason.value = "B catches more N+1 queries"
    panel.override.value = "the product team accepts the risk"
    panel.confirm.click()

Charts are drawn as SVG by vl-convert (Altair's ``svg`` renderer) when it is installed, so a
panel served by Voila needs no CDN; without it they use Altair's active renderer.

Example
-------
>>> import tempfile, mlmm
>>> ws = mlmm.open_workspace(tempfile.mkdtemp())
>>> _ = ws.registry.register("m", "1.0.0", config={"threshold": 0.5})
>>> _ = ws.registry.register("m", "1.1.0", config={"threshold": 0.7})
>>> browser = RegistryBrowser(ws, actor="ana")
>>> browser.deploy_version.value, browser.deploy_env.value = "1.1.0", "staging"
>>> browser.reason.value = "smoke test"
>>> browser.deploy_button.click()
>>> browser.confirm.click()
>>> browser.message.value
'<div class="mlmm-ok" ...>deployed m 1.1.0 to staging (by ana)</div>'
>>> "threshold" in browser.diff_table.value
True
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import functools
import html
import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import ipywidgets as W
import polars as pl

from . import ab
from . import monitor as M
from ._util import current_actor, to_utc
from .decisions import AB_BACKED_BY as _BACKED_BY  # one table for the panel and the CLI
from .decisions import Decision, DecisionRecord, decisions, from_ab, record_decision
from .errors import MlmmError, ValidationError
from .registry import ENVIRONMENTS
from .version import Version
from .workspace import Workspace, open_workspace

__all__ = ["ABDecisionPanel", "MonitorPanel", "RegistryBrowser"]

log = logging.getLogger("mlmm")

_STYLE = {
    "ok": "color:#1b5e20;background:#e8f5e9;border-left:4px solid #2e7d32",
    "info": "color:#0d47a1;background:#e3f2fd;border-left:4px solid #1565c0",
    "warn": "color:#7a4f01;background:#fff8e1;border-left:4px solid #f9a825",
    "error": "color:#b71c1c;background:#ffebee;border-left:4px solid #c62828",
}
_RECOMMENDATION = {"deploy_b": "Deploy B", "keep_a": "Keep A", "continue": "Continue", "stop": "Stop (keep A)"}
# the button a person presses -> the decision recorded (mlmm.decisions.DECISIONS)
_CHOICES = {"deploy": "Deploy B", "keep": "Keep A", "continue": "Continue", "roll back": "Roll back"}
# which recommendations of ab.evaluate back each choice
_NEEDS_OVERRIDE = ("deploy", "roll back")  # actions that record_decision refuses without support or override
_WINDOWS = (("last 24 hours", "24h"), ("last 7 days", "7d"), ("last 30 days", "30d"))
_TREND_INTERVAL = {"24h": "1h", "7d": "6h", "30d": "1d"}
_TREND_METRICS = ("accuracy", "precision", "recall", "f1", "specificity", "fpr", "fnr", "coverage", "brier")


# ----------------------------------------------------------------------------- small HTML helpers
def _esc(value: Any) -> str:
    return html.escape(str(value), quote=False)


def _box(text: str, level: str = "info") -> str:
    return f'<div class="mlmm-{level}" style="{_STYLE[level]};padding:6px 10px;margin:4px 0">{_esc(text)}</div>'


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}g}" if abs(value) < 1e-3 and value != 0 else f"{value:.{digits}f}".rstrip("0").rstrip(".")
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, _dt.datetime):
        return f"{value:%Y-%m-%d %H:%M}"
    return str(value)


def _table(columns: Sequence[str] | None, rows: Sequence[Sequence[Any]], *, css: str = "mlmm-table") -> str:
    """A plain HTML table (cells escaped); ``columns=None``: no header row."""
    cell = "border-bottom:1px solid #e0e0e0;padding:3px 8px;text-align:left;vertical-align:top"
    head = "" if columns is None else \
        "<tr>" + "".join(f'<th style="{cell};background:#f5f5f5">{_esc(c)}</th>' for c in columns) + "</tr>"
    body = "".join("<tr>" + "".join(f'<td style="{cell}">{_esc(_fmt(v))}</td>' for v in row) + "</tr>" for row in rows)
    return f'<table class="{css}" style="border-collapse:collapse;font-size:13px">{head}{body}</table>'


def _frame_table(frame: pl.DataFrame, *, css: str = "mlmm-table", empty: str = "nothing to show") -> str:
    if frame.is_empty():
        return f"<i>{_esc(empty)}</i>"
    return _table(frame.columns, frame.rows(), css=css)


def _interval(value: float | None, low: float | None, high: float | None, *, percent: bool = False) -> str:
    if value is None:
        return "–"
    if percent:
        return f"{value:+.2%} [{low:+.2%}, {high:+.2%}]"
    return f"{value:.4f} [{low:.4f}, {high:.4f}]"


def _chart_output(chart: Any) -> dict[str, Any]:
    """A display_data output of an Altair chart: SVG from vl-convert when it is installed (no
    CDN needed), else the active renderer's bundle."""
    import altair as alt

    try:
        with alt.renderers.enable("svg"):
            bundle = chart._repr_mimebundle_()
    except Exception:  # vl-convert missing or failing: fall back to the active renderer
        log.debug("chart not rendered to SVG; using Altair's active renderer", exc_info=True)
        bundle = chart._repr_mimebundle_()
    data, metadata = bundle if isinstance(bundle, tuple) else (bundle, {})
    return {"output_type": "display_data", "data": dict(data), "metadata": dict(metadata or {})}


def _text_output(text: str) -> dict[str, Any]:
    return {"output_type": "display_data", "data": {"text/plain": text, "text/html": f"<i>{_esc(text)}</i>"},
            "metadata": {}}


def _shown(widget: W.Widget, visible: bool) -> None:
    widget.layout.display = None if visible else "none"


def _classed(widget: W.DOMWidget, css: str) -> Any:
    widget.add_class(css)
    return widget


# ----------------------------------------------------------------------------- base
class _Panel:
    """What every panel has: the workspace, a message line, a step progress bar, refresh."""

    title = ""

    def __init__(self, ws: Workspace | str | None, actor: str | None) -> None:
        self.actor = actor
        self.message = _classed(W.HTML(), "mlmm-message")
        self.progress = _classed(W.IntProgress(value=0, min=0, max=1, bar_style="info",
                                               layout=W.Layout(width="260px", display="none")), "mlmm-progress")
        self.status = _classed(W.HTML(), "mlmm-status")
        self.refresh_button = _classed(W.Button(description="Refresh", icon="refresh", tooltip="re-read the workspace",
                                                layout=W.Layout(width="auto")), "mlmm-refresh")
        self.refresh_button.on_click(self._guard(lambda _b: self.refresh()))
        self.ws: Workspace | None = None
        try:
            self.ws = ws if isinstance(ws, Workspace) else open_workspace(ws)
        except Exception as exc:
            self._fail(exc)

    # -- display ---------------------------------------------------------------------------
    widget: W.Box

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        where = self.ws.path if self.ws is not None else "no workspace"
        return f"<{type(self).__name__} {where}>"

    def _header(self) -> W.HTML:
        who = _esc(current_actor(self.actor))
        return W.HTML(f"<h3 style='margin:4px 0'>{_esc(self.title)}</h3>"
                      f"<span style='color:#666;font-size:12px'>workspace {_esc(self.ws.path if self.ws else '-')}"
                      f" · acting as {who}</span>")

    # -- messages and errors ---------------------------------------------------------------
    def _say(self, text: str, level: str = "info") -> None:
        self.message.value = _box(text, level)

    def _fail(self, exc: BaseException) -> None:
        """Show an error as one line; mlmm's own errors carry their message, others their type."""
        if isinstance(exc, MlmmError):
            text = str(exc)
        else:
            log.debug("panel error", exc_info=exc)
            text = f"{type(exc).__name__}: {exc}"
        self._say(text, "error")

    def _guard(self, fn: Callable[..., Any]) -> Callable[..., None]:
        """Wrap a callback: any exception becomes the panel's message."""

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> None:
            if self.ws is None:
                self._say("no workspace: pass one, or set MLMM_HOME", "error")
                return
            try:
                fn(*args, **kwargs)
            except Exception as exc:
                self._fail(exc)

        return wrapper

    @contextlib.contextmanager
    def _working(self, what: str, steps: int) -> Iterator[Callable[[str], None]]:
        """Show the progress bar while a query runs; ``step(label)`` advances it."""
        self.progress.value = 0
        self.progress.max = max(steps, 1)
        self.progress.description = ""
        _shown(self.progress, True)
        self.status.value = f"<i>{_esc(what)} …</i>"

        def step(label: str) -> None:
            self.progress.value = min(self.progress.value + 1, self.progress.max)
            self.status.value = f"<i>{_esc(what)}: {_esc(label)} …</i>"

        try:
            yield step
        finally:
            _shown(self.progress, False)
            self.status.value = ""

    def refresh(self) -> None:  # pragma: no cover - every panel overrides it
        raise NotImplementedError


# ----------------------------------------------------------------------------- A/B decisions
class ABDecisionPanel(_Panel):
    """Decide a running A/B test: the evidence, the recommendation, and four audited buttons.

    Parameters
    ----------
    ws
        A workspace, its path, or ``None`` (``MLMM_HOME``, else the project's
        ``data/workspace``).
    test_id
        The test shown first (default: the newest running test).
    actor
        Who decides (default ``MLMM_USER``, else the OS user).

    Attributes to drive it
    ----------------------
    ``test_picker`` (running tests), ``alpha``, ``min_improvement``, ``refresh_button``;
    ``deploy_b``, ``keep_a``, ``continue_test``, ``roll_back`` (each opens the confirmation);
    ``reason``, ``override`` (shown when the statistics do not support the choice),
    ``confirm``, ``cancel``; ``message``. Read ``result`` (the :class:`mlmm.ab.ABTestResult`
    shown) and ``last_record`` (the :class:`mlmm.decisions.DecisionRecord` of the last
    decision).
    """

    title = "A/B test decision"

    def __init__(self, ws: Workspace | str | None = None, test_id: str | None = None, *, actor: str | None = None) -> None:
        super().__init__(ws, actor)
        self.result: ab.ABTestResult | None = None
        self.last_record: DecisionRecord | None = None
        self._base: ab.ABTestResult | None = None  # the stored test's own evaluation (its window and config)
        self._pending: str | None = None
        self._quiet = False  # True while the panel sets its own inputs

        self.test_picker = _classed(W.Dropdown(description="A/B test", options=[], layout=W.Layout(width="560px"),
                                               style={"description_width": "70px"}), "mlmm-test-picker")
        self.alpha = _classed(W.BoundedFloatText(value=0.05, min=0.001, max=0.5, step=0.01, description="alpha",
                                                 layout=W.Layout(width="160px"), style={"description_width": "50px"}),
                              "mlmm-alpha")
        self.min_improvement = _classed(W.BoundedFloatText(value=0.05, min=0.0, max=0.99, step=0.01,
                                                           description="min. lift", layout=W.Layout(width="180px"),
                                                           style={"description_width": "70px"}), "mlmm-min-improvement")
        self.summary = _classed(W.HTML(), "mlmm-summary")
        self.metrics_table = _classed(W.HTML(), "mlmm-metrics")
        self.verdict = _classed(W.HTML(), "mlmm-verdict")
        self.sample_a = _classed(W.IntProgress(value=0, min=0, max=1, description="A", bar_style="info",
                                               layout=W.Layout(width="420px"), style={"description_width": "110px"}),
                                 "mlmm-sample-a")
        self.sample_b = _classed(W.IntProgress(value=0, min=0, max=1, description="B", bar_style="info",
                                               layout=W.Layout(width="420px"), style={"description_width": "110px"}),
                                 "mlmm-sample-b")
        self.sample_text = _classed(W.HTML(), "mlmm-sample-text")
        self.srm = _classed(W.HTML(), "mlmm-srm")
        self.recommendation = _classed(W.HTML(), "mlmm-recommendation")
        self.chart = _classed(W.Output(), "mlmm-chart")
        self.deploy_b = _classed(W.Button(description="Deploy B", button_style="success", icon="rocket"), "mlmm-deploy-b")
        self.keep_a = _classed(W.Button(description="Keep A", button_style="primary", icon="check"), "mlmm-keep-a")
        self.continue_test = _classed(W.Button(description="Continue", icon="hourglass-half"), "mlmm-continue")
        self.roll_back = _classed(W.Button(description="Roll back", button_style="danger", icon="undo"), "mlmm-roll-back")
        self.prompt = _classed(W.HTML(), "mlmm-prompt")
        self.reason = _classed(W.Textarea(placeholder="Why? (recorded with the decision)", description="Reason",
                                          layout=W.Layout(width="560px", height="60px")), "mlmm-reason")
        self.override = _classed(W.Textarea(placeholder="Why go against the statistics? (recorded as an override)",
                                            description="Override", layout=W.Layout(width="560px", height="60px")),
                                 "mlmm-override")
        self.confirm = _classed(W.Button(description="Confirm", button_style="warning", icon="gavel"), "mlmm-confirm")
        self.cancel = _classed(W.Button(description="Cancel"), "mlmm-cancel")
        self.decisions_table = _classed(W.HTML(), "mlmm-decisions")

        self.confirm_box = _classed(W.VBox([self.prompt, self.reason, self.override, W.HBox([self.confirm, self.cancel])],
                                           layout=W.Layout(border="1px solid #f9a825", padding="6px", display="none")),
                                    "mlmm-confirm-box")
        self.actions = W.HBox([self.deploy_b, self.keep_a, self.continue_test, self.roll_back])
        sample = W.VBox([W.HTML("<b>Sample toward the planned size</b>"), self.sample_a, self.sample_b, self.sample_text])
        self.widget = _classed(W.VBox([
            self._header(),
            W.HBox([self.test_picker, self.alpha, self.min_improvement, self.refresh_button]),
            W.HBox([self.progress, self.status]),
            self.summary, self.metrics_table, self.verdict, sample, self.srm, self.recommendation, self.chart,
            W.HTML("<b>Decide</b>"), self.actions, self.confirm_box, self.message,
            W.HTML("<b>Recent decisions of this model</b>"), self.decisions_table,
        ]), "mlmm-ab-panel")

        self.test_picker.observe(self._guard(self._on_test), names="value")
        self.alpha.observe(self._guard(self._on_params), names="value")
        self.min_improvement.observe(self._guard(self._on_params), names="value")
        for button, choice in ((self.deploy_b, "deploy"), (self.keep_a, "keep"), (self.continue_test, "continue"),
                               (self.roll_back, "roll back")):
            button.on_click(self._guard(functools.partial(self._ask, choice)))
        self.confirm.on_click(self._guard(lambda _b: self._confirm()))
        self.cancel.on_click(self._guard(lambda _b: self._close_confirmation("cancelled; nothing recorded")))
        if self.ws is not None:
            self._guard(self._load_tests)(test_id)

    # -- loading ---------------------------------------------------------------------------
    def _load_tests(self, wanted: str | None = None) -> None:
        """Fill the picker with the running tests; keep (or pick) ``wanted``."""
        assert self.ws is not None
        options = self._running_options()
        ids = [value for _, value in options]
        if wanted is not None and wanted not in ids:
            stored = ab.get_test(self.ws, wanted)  # NotFoundError names the known tests
            self._say(f"{wanted} is {stored.status}"
                      + (f" ({stored.decision}: {stored.reason})" if stored.decision else "")
                      + "; only running tests can be decided", "warn")
            wanted = None
        current = wanted or (self.test_picker.value if self.test_picker.value in ids else (ids[0] if ids else None))
        self._quiet = True
        try:
            self.test_picker.options = options
            self.test_picker.value = current
        finally:
            self._quiet = False
        self._enable(current is not None)
        if current is None:
            self.result = self._base = None
            self._clear()
            self._say(f"no running A/B test in {self.ws.path}; start one with `mlmm ab create`", "info")
            return
        self._evaluate(current, reset=True)

    def _running_options(self) -> list[tuple[str, str]]:
        assert self.ws is not None
        tests = ab.list_tests(self.ws).filter(pl.col("status") == "running")
        return [(f"{r['test_id']}: {r['model']} {r['version_a']} vs {r['version_b']} ({r['share_b']:.0%} to B)",
                 r["test_id"]) for r in tests.iter_rows(named=True)]

    def _on_test(self, change: dict[str, Any]) -> None:
        if not self._quiet and change["new"] is not None:
            self._close_confirmation(None)
            self.message.value = ""
            self._enable(True)
            self._evaluate(change["new"], reset=True)

    def _on_params(self, _change: dict[str, Any]) -> None:
        if not self._quiet and self.test_picker.value is not None:
            self._evaluate(self.test_picker.value, reset=False)

    def _evaluate(self, test_id: str, *, reset: bool) -> None:
        assert self.ws is not None
        with self._working(f"evaluating {test_id}", 3) as step:
            if reset or self._base is None or self._base.test_id != test_id:
                self._base = ab.evaluate(self.ws, test_id)
                self._quiet = True
                try:
                    self.alpha.value = self._base.config.alpha
                    self.min_improvement.value = self._base.config.min_improvement
                finally:
                    self._quiet = False
            base = self._base
            changes = {k: v for k, v in (("alpha", float(self.alpha.value)),
                                         ("min_improvement", float(self.min_improvement.value)))
                       if v != getattr(base.config, k)}
            if changes:
                # the same window as the stored test's own evaluation, under the changed rule
                config = dataclasses.replace(base.config, **changes)
                result = dataclasses.replace(ab.evaluate(self.ws, config, since=base.since, until=base.until),
                                             test_id=test_id)
            else:
                result = base
            step("cumulative lift")
            cumulative = ab.cumulative_lift(self.ws, result.config, since=result.since, until=result.until)
            step("charts")
            self._show(result, cumulative)
            step("decisions")
            self._show_decisions(result.config.model)
        self.result = result

    # -- showing ---------------------------------------------------------------------------
    def _clear(self) -> None:
        for w in (self.summary, self.metrics_table, self.verdict, self.sample_text, self.srm, self.recommendation,
                  self.decisions_table):
            w.value = ""
        self.chart.outputs = ()
        _shown(self.sample_a, False)
        _shown(self.sample_b, False)

    def _show(self, r: ab.ABTestResult, cumulative: pl.DataFrame) -> None:
        c = r.config
        changed = [f"{k} {getattr(c, k):g} (stored {getattr(self._base.config, k):g})" for k in ("alpha", "min_improvement")
                   if self._base is not None and getattr(c, k) != getattr(self._base.config, k)]
        window = f"{_fmt(r.since)} to {_fmt(r.until)} UTC" if r.since else f"until {_fmt(r.until)} UTC"
        self.summary.value = (
            f"<b>{_esc(c.model)}</b>: A = {_esc(c.version_a)}, B = {_esc(c.version_b)}, {c.share_b:.0%} of traffic to B;"
            f" primary metric {_esc(c.primary_metric)}; window {_esc(window)}"
            + (f"<br><i>what-if: {_esc(', '.join(changed))}</i>" if changed else ""))
        conf = f"{1 - c.alpha:.0%}"
        rows = [(f"{arm} {m.version}", m.predictions, m.labelled, f"{m.successes:,}/{m.trials:,}",
                 _interval(m.value, m.low, m.high)) for arm, m in (("A", r.a), ("B", r.b))]
        self.metrics_table.value = _table(["version", "predictions", "labelled", c.primary_metric,
                                           f"{c.primary_metric} [95 % Wilson]"], rows)
        facts: list[tuple[str, str]] = []
        if r.test is not None:
            facts.append(("difference B − A", f"{r.test.difference:+.4f} [{r.test.ci_low:+.4f}, {r.test.ci_high:+.4f}]"
                                              f" ({conf} {r.test.interval})"))
        facts.append(("relative lift", "–" if r.lift is None else
                      _interval(r.lift.estimate, r.lift.ci_low, r.lift.ci_high, percent=True) + f" ({conf})"))
        facts.append(("p-value (fixed horizon)", "–" if r.test is None else f"{r.test.p_value:.3g}"))
        if r.sequential is not None:
            s = r.sequential
            word = ("significant: B better" if s.difference > 0 else "significant: B worse") if s.significant \
                else "not significant"
            facts.append(("always-valid p (peeking-safe)", f"{s.p_value:.3g} at alpha {c.alpha:g}: {word}"))
        else:
            facts.append(("always-valid p (peeking-safe)", "– (no labelled predictions of both versions)"))
        if r.bayes is not None:
            facts.append(("chance B beats A", f"{r.bayes.prob_b_beats_a:.1%}"))
        for g in r.guardrails:
            facts.append((f"guardrail {g['metric']}", ("BREACHED" if g["breached"] else "ok")
                          + f" (A {_fmt(g['a'])}, B {_fmt(g['b'])}, tolerated drop {g['tolerated_drop']:.0%})"))
        self.verdict.value = _table(None, facts, css="mlmm-facts")
        self._show_sample(r)
        if r.srm is None:
            self.srm.value = _box("sample ratio: no predictions yet", "info")
        else:
            total = sum(r.srm.observed)
            share = r.srm.observed[1] / total if total else 0.0
            if r.srm.mismatch:
                self.srm.value = _box(f"Sample ratio mismatch: B got {share:.1%} of the predictions, {c.share_b:.0%}"
                                      f" planned (p = {r.srm.p_value:.2g}). The split is broken, so no comparison"
                                      " can be trusted.", "error")
            else:
                self.srm.value = _box(f"Sample ratio ok: B got {share:.1%} of the predictions, {c.share_b:.0%} planned"
                                      f" (p = {r.srm.p_value:.2g}).", "ok")
        level = {"deploy_b": "ok", "keep_a": "info", "continue": "warn", "stop": "error"}[r.recommendation]
        self.recommendation.value = (f'<div class="mlmm-{level}" style="{_STYLE[level]};padding:8px 10px;margin:4px 0">'
                                     f"<b>Recommendation: {_esc(_RECOMMENDATION[r.recommendation])}</b><br>"
                                     f"{_esc(r.reason)}</div>")
        outputs = [_chart_output(ab.result_chart(r))] if r.a.value is not None or r.b.value is not None else \
            [_text_output("no labelled predictions yet")]
        if cumulative.height:
            outputs.append(_chart_output(ab.lift_chart(cumulative)))
        self.chart.outputs = tuple(outputs)

    def _show_sample(self, r: ab.ABTestResult) -> None:
        if r.required_per_arm is None:
            _shown(self.sample_a, False)
            _shown(self.sample_b, False)
            self.sample_text.value = "<i>planned sample unknown: no labelled predictions of A yet</i>"
            return
        for bar, arm, need in ((self.sample_a, r.a, r.required_per_arm[0]), (self.sample_b, r.b, r.required_per_arm[1])):
            bar.value = 0
            bar.max = max(int(need), 1)
            bar.value = min(arm.trials, bar.max)
            bar.description = f"{'A' if arm is r.a else 'B'} {arm.version}: {min(arm.trials / max(need, 1), 1):.0%}"
            bar.bar_style = "success" if arm.trials >= need else "info"
            _shown(bar, True)
        days = r.days_remaining
        when = ("planned sample reached" if days == 0 else "no recent traffic to estimate the days remaining"
                if days is None else f"about {days} more day{'s' if days != 1 else ''} at the recent traffic")
        self.sample_text.value = _esc(f"{r.a.trials:,} of {r.required_per_arm[0]:,} labelled for A,"
                                      f" {r.b.trials:,} of {r.required_per_arm[1]:,} for B; {when}")

    def _show_decisions(self, model: str) -> None:
        assert self.ws is not None
        frame = decisions(self.ws, model).head(5).select("ts", "decision", "actor", "summary", "outcome")
        self.decisions_table.value = _frame_table(frame, empty=f"no decision recorded for {model} yet")

    def _enable(self, on: bool) -> None:
        for w in (self.deploy_b, self.keep_a, self.continue_test, self.roll_back, self.alpha, self.min_improvement):
            w.disabled = not on

    # -- deciding --------------------------------------------------------------------------
    def supported(self, choice: str) -> bool:
        """Whether the shown result backs ``choice`` (deploy needs a deploy_b recommendation,
        roll back a stop, keep a keep_a or stop, continue a continue)."""
        if choice not in _CHOICES:
            raise ValidationError(f"choice={choice!r}: expected one of {', '.join(_CHOICES)}")
        # judged by the test's own (pre-registered) rule: a what-if alpha or minimum lift shows
        # another verdict but does not make an action "supported"; it then needs an override
        judged = self._base if self._base is not None else self.result
        return judged is not None and judged.recommendation in _BACKED_BY[choice]

    def _ask(self, choice: str, _button: Any = None) -> None:
        r = self.result
        if r is None:
            self._say("pick a running A/B test first", "warn")
            return
        c = r.config
        self._pending = choice
        what = {"deploy": f"Deploy B ({c.version_b}) of {c.model} to production and close {r.test_id}.",
                "keep": f"Keep A ({c.version_a}) and close {r.test_id}; B is not deployed.",
                "continue": f"Let {r.test_id} run on; nothing changes in the registry.",
                "roll back": f"Stop {r.test_id} and end any canary of B ({c.version_b}); A keeps serving."}[choice]
        backed = self.supported(choice)
        needs_override = not backed and choice in _NEEDS_OVERRIDE
        rec = _RECOMMENDATION[r.recommendation]
        if backed:
            note = _box(f"The statistics support this (recommendation: {rec}).", "ok")
        elif needs_override:
            note = _box(f"The statistics do not support this (recommendation: {rec}: {r.reason}). Give an override"
                        " reason to do it anyway; it is recorded as an override.", "warn")
        else:
            note = _box(f"The recommendation is {rec}; this choice is recorded as not supported by the statistics.",
                        "warn")
        self.prompt.value = f"<b>{_esc(_CHOICES[choice])}</b>: {_esc(what)}{note}"
        self.reason.value = ""
        self.override.value = ""
        _shown(self.override, needs_override)
        _shown(self.confirm_box, True)
        self.confirm.description = f"Confirm {_CHOICES[choice]}"
        self._say(f"{_CHOICES[choice]}: give a reason, then confirm", "info")

    def _close_confirmation(self, note: str | None) -> None:
        self._pending = None
        _shown(self.confirm_box, False)
        if note:
            self._say(note, "info")

    def decision(self, choice: str, reason: str) -> Decision:
        """The :class:`~mlmm.decisions.Decision` that ``choice`` records for the shown result."""
        r = self.result
        if r is None:
            raise ValidationError("test_id=None: expected a running A/B test picked in the panel")
        base = from_ab(r)
        version = r.config.version_b if choice in ("deploy", "roll back") else r.config.version_a
        evidence = {**base.evidence, "recommendation": r.recommendation, "alpha": r.config.alpha,
                    "min_improvement": r.config.min_improvement, "panel": "ABDecisionPanel"}
        return dataclasses.replace(base, decision=choice, reason=reason.strip(), version=version,
                                   supported=self.supported(choice), evidence=evidence)

    def _confirm(self) -> None:
        assert self.ws is not None
        choice = self._pending
        if choice is None:
            self._say("press Deploy B, Keep A, Continue or Roll back first", "warn")
            return
        d = self.decision(choice, self.reason.value)
        override = (self.override.value.strip() or None) if self.override.layout.display != "none" else None
        with self._working(f"recording {choice}", 2) as step:
            try:
                record = record_decision(self.ws, d, actor=self.actor, apply=True, override=override)
            except Exception:
                step("refreshing")
                self._refresh_after_failure()
                raise
            step("refreshing")
            self.last_record = record
            self._close_confirmation(None)
            self._show_decisions(d.model or "")
            if choice != "continue":
                # the test is closed: it leaves the picker; its evidence stays on screen beside the outcome
                self._quiet = True
                try:
                    self.test_picker.options = self._running_options()
                    self.test_picker.value = None
                finally:
                    self._quiet = False
                self._enable(False)
                self.summary.value += f"<br><b>{_esc(d.test_id)} is decided: {_esc(_CHOICES[choice])}.</b>" \
                                      " Pick another running test above."
        flag = f" as an override ({record.override})" if record.override else ""
        self._say(f"recorded by {record.actor} at {record.ts:%Y-%m-%d %H:%M} UTC{flag}: {record.decision.decision};"
                  f" {record.outcome}", "ok")

    def _refresh_after_failure(self) -> None:
        """After a refused or failed action: show what the registry now says, keep the error."""
        with contextlib.suppress(Exception):
            if self.result is not None:
                self._show_decisions(self.result.config.model)

    def refresh(self) -> None:
        """Re-read the running tests and re-evaluate the one shown (a what-if alpha or
        minimum improvement is kept)."""
        if self.ws is None:
            return
        self.message.value = ""
        self._close_confirmation(None)
        shown, alpha, lift = self.test_picker.value, self.alpha.value, self.min_improvement.value
        self._base = None
        self._load_tests(shown)
        if shown is not None and self.test_picker.value == shown and (alpha, lift) != (self.alpha.value,
                                                                                      self.min_improvement.value):
            self._quiet = True
            try:
                self.alpha.value, self.min_improvement.value = alpha, lift
            finally:
                self._quiet = False
            self._evaluate(shown, reset=False)


# ----------------------------------------------------------------------------- registry
class RegistryBrowser(_Panel):
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
        self.model_picker = _classed(W.Dropdown(description="Model", options=[]), "mlmm-model-picker")
        self.versions_table = _classed(W.HTML(), "mlmm-versions")
        self.environments_table = _classed(W.HTML(), "mlmm-environments")
        self.diff_a = _classed(W.Dropdown(description="from", options=[], layout=W.Layout(width="220px"),
                                          style={"description_width": "40px"}), "mlmm-diff-a")
        self.diff_b = _classed(W.Dropdown(description="to", options=[], layout=W.Layout(width="220px"),
                                          style={"description_width": "40px"}), "mlmm-diff-b")
        self.diff_table = _classed(W.HTML(), "mlmm-diff")
        self.history_table = _classed(W.HTML(), "mlmm-history")
        self.timeline = _classed(W.Output(), "mlmm-timeline")
        self.deploy_version = _classed(W.Dropdown(description="Version", options=[], layout=W.Layout(width="200px"),
                                                  style={"description_width": "55px"}), "mlmm-deploy-version")
        self.deploy_env = _classed(W.Dropdown(description="to", options=list(ENVIRONMENTS), value="production",
                                              layout=W.Layout(width="200px"), style={"description_width": "30px"}),
                                   "mlmm-deploy-env")
        self.reason = _classed(W.Text(placeholder="why (recorded in the history)", description="Reason",
                                      layout=W.Layout(width="420px")), "mlmm-registry-reason")
        self.deploy_button = _classed(W.Button(description="Deploy…", button_style="success", icon="rocket"),
                                      "mlmm-deploy")
        self.rollback_button = _classed(W.Button(description="Roll back…", button_style="danger", icon="undo"),
                                        "mlmm-rollback")
        self.prompt = _classed(W.HTML(), "mlmm-prompt")
        self.confirm = _classed(W.Button(description="Confirm", button_style="warning"), "mlmm-confirm")
        self.cancel = _classed(W.Button(description="Cancel"), "mlmm-cancel")
        self.confirm_box = _classed(W.VBox([self.prompt, W.HBox([self.confirm, self.cancel])],
                                           layout=W.Layout(border="1px solid #f9a825", padding="6px", display="none")),
                                    "mlmm-confirm-box")
        self.widget = _classed(W.VBox([
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
            self.versions_table.value = _frame_table(
                frame.select("version", "model_type", "environment", "created_at", "config_revision", *metric_cols, "tags"))
            self.environments_table.value = _frame_table(reg.deployments(name).drop("model_name"),
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
            self.diff_table.value = f"<i>{_esc(diff.a)} and {_esc(diff.b)} have the same configuration</i>"
            return
        self.diff_table.value = _frame_table(diff.to_frame())

    def _show_history(self, name: str) -> None:
        assert self.ws is not None
        hist = self.ws.registry.history(name)
        recent = hist.sort("seq", descending=True).head(self.history_rows)
        self.history_table.value = _frame_table(
            recent.select("ts", "version", "event", "environment", "actor", "reason", "summary"),
            empty=f"no history for {name}")
        self.timeline.outputs = (_chart_output(_timeline_chart(hist, name)),) if hist.height else ()

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
        self.prompt.value = f"<b>{_esc(what)}</b><br>Reason: {_esc(self.reason.value.strip() or '(none yet: fill it in)')}"
        _shown(self.confirm_box, True)

    def _close(self, note: str | None) -> None:
        self._pending = None
        _shown(self.confirm_box, False)
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


# ----------------------------------------------------------------------------- monitoring
class MonitorPanel(_Panel):
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
        self.model_picker = _classed(W.Dropdown(description="Model", options=[]), "mlmm-model-picker")
        self.version_picker = _classed(W.Dropdown(description="Version", options=[("all versions", "")], value="",
                                                  layout=W.Layout(width="220px")), "mlmm-version-picker")
        self.window = _classed(W.Dropdown(description="Window", options=list(_WINDOWS),
                                          value=window if window in windows else "24h",
                                          layout=W.Layout(width="240px")), "mlmm-window")
        self.metric = _classed(W.Dropdown(description="Trend of", options=list(_TREND_METRICS),
                                          value=metric if metric in _TREND_METRICS else "accuracy",
                                          layout=W.Layout(width="220px")), "mlmm-metric")
        self.cards = _classed(W.HTML(), "mlmm-cards")
        self.chart = _classed(W.Output(), "mlmm-chart")
        self.widget = _classed(W.VBox([
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
                self.chart.outputs = (_text_output(f"no predictions of {name} in the {m.window.label}"),)
            else:
                baseline = None if meta is None else dict(meta.performance_metrics).get(metric)
                chart = M.trend_chart(frame, metric, floor=floor if metric == "accuracy" else None,
                                      baseline=baseline if isinstance(baseline, (int, float)) else None,
                                      title=f"{name}{' ' + version if version else ''}: {metric} per"
                                            f" {_TREND_INTERVAL[last]}, {m.window.label}")
                self.chart.outputs = (_chart_output(chart),)
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
                f'<div style="color:#666;font-size:11px">{_esc(title)}</div>'
                f'<div style="font-size:20px;font-weight:600">{_esc(value)}</div>'
                f'<div style="color:#666;font-size:11px">{_esc(detail)}</div></div>')

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
