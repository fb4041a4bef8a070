"""The A/B decision panel: a running test's evidence, the recommendation, and four audited buttons."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
from typing import Any

import ipywidgets as W
import polars as pl

from .. import ab
from ..decisions import Decision, DecisionRecord, ab_verdict, decisions, from_ab, record_decision
from ..errors import ValidationError
from ..workspace import Workspace
from ._common import (
    STYLE,
    Panel,
    box,
    chart_output,
    classed,
    esc,
    fmt,
    frame_table,
    interval,
    shown,
    table,
    text_output,
)

__all__ = ["ABDecisionPanel"]

# the button a person presses -> the decision recorded (mlmm.decisions.DECISIONS)
_CHOICES = {"deploy": "Deploy B", "keep": "Keep A", "continue": "Continue", "roll back": "Roll back"}
# which recommendations of ab.evaluate back each choice
_NEEDS_OVERRIDE = ("deploy", "roll back")  # actions that record_decision refuses without support or override


class ABDecisionPanel(Panel):
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

        self.test_picker = classed(W.Dropdown(description="A/B test", options=[], layout=W.Layout(width="560px"),
                                              style={"description_width": "70px"}), "mlmm-test-picker")
        self.alpha = classed(W.BoundedFloatText(value=0.05, min=0.001, max=0.5, step=0.01, description="alpha",
                                                layout=W.Layout(width="160px"), style={"description_width": "50px"}),
                             "mlmm-alpha")
        self.min_improvement = classed(W.BoundedFloatText(value=0.05, min=0.0, max=0.99, step=0.01,
                                                          description="min. lift", layout=W.Layout(width="180px"),
                                                          style={"description_width": "70px"}), "mlmm-min-improvement")
        self.summary = classed(W.HTML(), "mlmm-summary")
        self.metrics_table = classed(W.HTML(), "mlmm-metrics")
        self.verdict = classed(W.HTML(), "mlmm-verdict")
        self.sample_a = classed(W.IntProgress(value=0, min=0, max=1, description="A", bar_style="info",
                                              layout=W.Layout(width="420px"), style={"description_width": "110px"}),
                                "mlmm-sample-a")
        self.sample_b = classed(W.IntProgress(value=0, min=0, max=1, description="B", bar_style="info",
                                              layout=W.Layout(width="420px"), style={"description_width": "110px"}),
                                "mlmm-sample-b")
        self.sample_text = classed(W.HTML(), "mlmm-sample-text")
        self.srm = classed(W.HTML(), "mlmm-srm")
        self.recommendation = classed(W.HTML(), "mlmm-recommendation")
        self.chart = classed(W.Output(), "mlmm-chart")
        self.deploy_b = classed(W.Button(description="Deploy B", button_style="success", icon="rocket"), "mlmm-deploy-b")
        self.keep_a = classed(W.Button(description="Keep A", button_style="primary", icon="check"), "mlmm-keep-a")
        self.continue_test = classed(W.Button(description="Continue", icon="hourglass-half"), "mlmm-continue")
        self.roll_back = classed(W.Button(description="Roll back", button_style="danger", icon="undo"), "mlmm-roll-back")
        self.prompt = classed(W.HTML(), "mlmm-prompt")
        self.reason = classed(W.Textarea(placeholder="Why? (recorded with the decision)", description="Reason",
                                         layout=W.Layout(width="560px", height="60px")), "mlmm-reason")
        self.override = classed(W.Textarea(placeholder="Why go against the statistics? (recorded as an override)",
                                           description="Override", layout=W.Layout(width="560px", height="60px")),
                                "mlmm-override")
        self.confirm = classed(W.Button(description="Confirm", button_style="warning", icon="gavel"), "mlmm-confirm")
        self.cancel = classed(W.Button(description="Cancel"), "mlmm-cancel")
        self.decisions_table = classed(W.HTML(), "mlmm-decisions")

        self.confirm_box = classed(W.VBox([self.prompt, self.reason, self.override, W.HBox([self.confirm, self.cancel])],
                                          layout=W.Layout(border="1px solid #f9a825", padding="6px", display="none")),
                                   "mlmm-confirm-box")
        self.actions = W.HBox([self.deploy_b, self.keep_a, self.continue_test, self.roll_back])
        sample = W.VBox([W.HTML("<b>Sample toward the planned size</b>"), self.sample_a, self.sample_b, self.sample_text])
        self.widget = classed(W.VBox([
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
        shown(self.sample_a, False)
        shown(self.sample_b, False)

    def _show(self, r: ab.ABTestResult, cumulative: pl.DataFrame) -> None:
        c = r.config
        changed = [f"{k} {getattr(c, k):g} (stored {getattr(self._base.config, k):g})" for k in ("alpha", "min_improvement")
                   if self._base is not None and getattr(c, k) != getattr(self._base.config, k)]
        window = f"{fmt(r.since)} to {fmt(r.until)} UTC" if r.since else f"until {fmt(r.until)} UTC"
        self.summary.value = (
            f"<b>{esc(c.model)}</b>: A = {esc(c.version_a)}, B = {esc(c.version_b)}, {c.share_b:.0%} of traffic to B;"
            f" primary metric {esc(c.primary_metric)}; window {esc(window)}"
            + (f"<br><i>what-if: {esc(', '.join(changed))}</i>" if changed else ""))
        conf = f"{1 - c.alpha:.0%}"
        rows = [(f"{arm} {m.version}", m.predictions, m.labelled, f"{m.successes:,}/{m.trials:,}",
                 interval(m.value, m.low, m.high)) for arm, m in (("A", r.a), ("B", r.b))]
        self.metrics_table.value = table(["version", "predictions", "labelled", c.primary_metric,
                                          f"{c.primary_metric} [95 % Wilson]"], rows)
        facts: list[tuple[str, str]] = []
        if r.test is not None:
            facts.append(("difference B − A", f"{r.test.difference:+.4f} [{r.test.ci_low:+.4f}, {r.test.ci_high:+.4f}]"
                                              f" ({conf} {r.test.interval})"))
        facts.append(("relative lift", "–" if r.lift is None else
                      interval(r.lift.estimate, r.lift.ci_low, r.lift.ci_high, percent=True) + f" ({conf})"))
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
                          + f" (A {fmt(g['a'])}, B {fmt(g['b'])}, tolerated drop {g['tolerated_drop']:.0%})"))
        self.verdict.value = table(None, facts, css="mlmm-facts")
        self._show_sample(r)
        if r.srm is None:
            self.srm.value = box("sample ratio: no predictions yet", "info")
        else:
            total = sum(r.srm.observed)
            share = r.srm.observed[1] / total if total else 0.0
            if r.srm.mismatch:
                self.srm.value = box(f"Sample ratio mismatch: B got {share:.1%} of the predictions, {c.share_b:.0%}"
                                     f" planned (p = {r.srm.p_value:.2g}). The split is broken, so no comparison"
                                     " can be trusted.", "error")
            else:
                self.srm.value = box(f"Sample ratio ok: B got {share:.1%} of the predictions, {c.share_b:.0%} planned"
                                     f" (p = {r.srm.p_value:.2g}).", "ok")
        level = {"deploy_b": "ok", "keep_a": "info", "continue": "warn", "stop": "error"}[r.recommendation]
        self.recommendation.value = (f'<div class="mlmm-{level}" style="{STYLE[level]};padding:8px 10px;margin:4px 0">'
                                     f"<b>Recommendation: {esc(ab_verdict(r).label)}</b><br>"
                                     f"{esc(r.reason)}</div>")
        outputs = [chart_output(ab.result_chart(r))] if r.a.value is not None or r.b.value is not None else \
            [text_output("no labelled predictions yet")]
        if cumulative.height:
            outputs.append(chart_output(ab.lift_chart(cumulative)))
        self.chart.outputs = tuple(outputs)

    def _show_sample(self, r: ab.ABTestResult) -> None:
        if r.required_per_arm is None:
            shown(self.sample_a, False)
            shown(self.sample_b, False)
            self.sample_text.value = "<i>planned sample unknown: no labelled predictions of A yet</i>"
            return
        for bar, arm, need in ((self.sample_a, r.a, r.required_per_arm[0]), (self.sample_b, r.b, r.required_per_arm[1])):
            bar.value = 0
            bar.max = max(int(need), 1)
            bar.value = min(arm.trials, bar.max)
            bar.description = f"{'A' if arm is r.a else 'B'} {arm.version}: {min(arm.trials / max(need, 1), 1):.0%}"
            bar.bar_style = "success" if arm.trials >= need else "info"
            shown(bar, True)
        days = r.days_remaining
        when = ("planned sample reached" if days == 0 else "no recent traffic to estimate the days remaining"
                if days is None else f"about {days} more day{'s' if days != 1 else ''} at the recent traffic")
        self.sample_text.value = esc(f"{r.a.trials:,} of {r.required_per_arm[0]:,} labelled for A,"
                                     f" {r.b.trials:,} of {r.required_per_arm[1]:,} for B; {when}")

    def _show_decisions(self, model: str) -> None:
        assert self.ws is not None
        frame = decisions(self.ws, model).head(5).select("ts", "decision", "actor", "summary", "outcome")
        self.decisions_table.value = frame_table(frame, empty=f"no decision recorded for {model} yet")

    def _enable(self, on: bool) -> None:
        for w in (self.deploy_b, self.keep_a, self.continue_test, self.roll_back, self.alpha, self.min_improvement):
            w.disabled = not on

    # -- deciding --------------------------------------------------------------------------
    def supported(self, choice: str) -> bool:
        """Whether the shown result backs ``choice`` (:meth:`mlmm.decisions.ABVerdict.backs`:
        deploy needs a deploy_b recommendation, roll back a stop for harm, keep a keep_a or a
        stop, continue a continue)."""
        if choice not in _CHOICES:
            raise ValidationError(f"choice={choice!r}: expected one of {', '.join(_CHOICES)}")
        # judged by the test's own (pre-registered) rule: a what-if alpha or minimum lift shows
        # another verdict but does not make an action "supported"; it then needs an override
        judged = self._base if self._base is not None else self.result
        return judged is not None and ab_verdict(judged).backs(choice)

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
        rec = ab_verdict(r).label
        if backed:
            note = box(f"The statistics support this (recommendation: {rec}).", "ok")
        elif needs_override:
            note = box(f"The statistics do not support this (recommendation: {rec}: {r.reason}). Give an override"
                       " reason to do it anyway; it is recorded as an override.", "warn")
        else:
            note = box(f"The recommendation is {rec}; this choice is recorded as not supported by the statistics.",
                       "warn")
        self.prompt.value = f"<b>{esc(_CHOICES[choice])}</b>: {esc(what)}{note}"
        self.reason.value = ""
        self.override.value = ""
        shown(self.override, needs_override)
        shown(self.confirm_box, True)
        self.confirm.description = f"Confirm {_CHOICES[choice]}"
        self._say(f"{_CHOICES[choice]}: give a reason, then confirm", "info")

    def _close_confirmation(self, note: str | None) -> None:
        self._pending = None
        shown(self.confirm_box, False)
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
                self.summary.value += f"<br><b>{esc(d.test_id)} is decided: {esc(_CHOICES[choice])}.</b>" \
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

