"""Widget panels driven in Python as a person would: set values, click buttons, read what is
shown and what the registry recorded."""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import mlmm
from mlmm import ab
from mlmm import monitor as M
from mlmm.decisions import decisions
from mlmm.widgets import ABDecisionPanel, MonitorPanel, RegistryBrowser

T0 = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
DEMO_END = "2026-11-01T00:00:00Z"  # conftest's session demo ends here
NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "ab_decision_panel.ipynb"


def text(value: str) -> str:
    """What a person reads in an HTML widget."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", value))).strip()


def events(ws: mlmm.Workspace, model: str, kind: str) -> pl.DataFrame:
    return ws.registry.history(model).filter(pl.col("event") == kind)


@pytest.fixture
def demo(tmp_path):
    """A private copy of the session's demo workspace (tests decide its tests)."""
    home = tmp_path / "ws"
    shutil.copytree(os.environ["MLMM_HOME"], home)
    ws = mlmm.open_workspace(home)
    yield ws
    ws.close()


@pytest.fixture
def winner(tmp_path):
    """A running test where B is clearly better: 80 % -> 88 % accuracy on 2,000 rows each."""
    ws = mlmm.open_workspace(tmp_path / "winner")
    ws.registry.register("m", "1.0.0", metrics={"accuracy": 0.8}, config={"threshold": 0.5})
    ws.registry.register("m", "1.1.0", metrics={"accuracy": 0.88}, config={"threshold": 0.6})
    for version, correct, seed in (("1.0.0", 1600, 1), ("1.1.0", 1760, 2)):
        rng = np.random.default_rng(seed)
        pred = (rng.random(2000) < 0.5).astype(int)
        right = np.zeros(2000, dtype=bool)
        right[rng.choice(2000, correct, replace=False)] = True
        mlmm.log_predictions(ws, {"model_name": ["m"] * 2000, "version": [version] * 2000, "prediction": pred.tolist(),
                                  "actual": np.where(right, pred, 1 - pred).tolist(),
                                  "timestamp": [T0 + dt.timedelta(days=2) * (i / 2000) for i in range(2000)]})
    ab.create_test(ws, ab.ABTestConfig.create("m", "1.0.0", "1.1.0"), test_id="ab-m", actor="platform", at=T0)
    yield ws
    ws.close()


# ----------------------------------------------------------------------------- A/B panel: showing
def test_the_picker_offers_running_tests_and_the_panel_shows_the_evaluation(demo):
    panel = ABDecisionPanel(demo, "ab-n1-challenger-75", actor="ana")
    assert panel.test_picker.options == (
        ("ab-queue-gradual-10: queue-anomaly 1.2.0 vs 1.3.0 (10% to B)", "ab-queue-gradual-10"),
        ("ab-n1-challenger-75: n1-detector 1.0.0 vs 1.1.0 (75% to B)", "ab-n1-challenger-75"),
    )  # ab-waf-canary-50 is decided: not offered
    r = ab.evaluate(demo, "ab-n1-challenger-75")
    assert panel.result == r and r.recommendation == "continue"
    shown = text(panel.metrics_table.value)
    for arm in (r.a, r.b):
        assert f"{arm.version} {arm.predictions} {arm.labelled} {arm.successes}/{arm.trials}" in shown
        assert f"{arm.value:.4f} [{arm.low:.4f}, {arm.high:.4f}]" in shown
    verdict = text(panel.verdict.value)
    assert f"relative lift {r.lift.estimate:+.2%} [{r.lift.ci_low:+.2%}, {r.lift.ci_high:+.2%}] (95%)" in verdict
    assert f"p-value (fixed horizon) {r.test.p_value:.3g}" in verdict
    assert f"always-valid p (peeking-safe) {r.sequential.p_value:.3g} at alpha 0.05: not significant" in verdict
    assert (panel.sample_a.value, panel.sample_a.max) == (r.a.trials, r.required_per_arm[0]) == (44, 550)
    assert (panel.sample_b.value, panel.sample_b.max) == (r.b.trials, r.required_per_arm[1]) == (131, 1649)
    assert text(panel.sample_text.value) == ("44 of 550 labelled for A, 131 of 1,649 for B;"
                                             " about 12 more days at the recent traffic")
    assert text(panel.srm.value).startswith("Sample ratio ok: B got 74.3% of the predictions, 75% planned")
    assert text(panel.recommendation.value) == f"Recommendation: Continue {r.reason}"
    assert [list(o["data"]) for o in panel.chart.outputs] == [["image/svg+xml"], ["image/svg+xml"]]  # no CDN needed
    assert "accuracy with 95 % intervals" in panel.chart.outputs[0]["data"]["image/svg+xml"]
    assert panel.message.value == ""


def test_a_sample_ratio_mismatch_is_a_warning_and_the_recommendation_is_stop(demo):
    panel = ABDecisionPanel(demo)
    assert panel.test_picker.value == "ab-queue-gradual-10"  # the newest running test
    assert "mlmm-error" in panel.srm.value
    assert text(panel.srm.value) == ("Sample ratio mismatch: B got 3.2% of the predictions, 10% planned (p = 0.00018)."
                                     " The split is broken, so no comparison can be trusted.")
    assert text(panel.recommendation.value).startswith("Recommendation: Stop: broken split (keep A) sample ratio mismatch")
    panel.test_picker.value = "ab-n1-challenger-75"  # switching tests re-evaluates
    assert panel.result.test_id == "ab-n1-challenger-75" and "Sample ratio ok" in text(panel.srm.value)


def test_alpha_and_min_improvement_change_the_verdict_over_the_same_window(winner):
    panel = ABDecisionPanel(winner, actor="ana")
    base = panel.result
    assert base.recommendation == "deploy_b" and (panel.alpha.value, panel.min_improvement.value) == (0.05, 0.05)
    assert text(panel.recommendation.value).startswith("Recommendation: Deploy B B is better on accuracy: 0.8000 -> 0.8800")
    panel.min_improvement.value = 0.2
    expected = ab.evaluate(winner, dataclasses.replace(base.config, min_improvement=0.2), since=base.since,
                           until=base.until)
    assert panel.result == dataclasses.replace(expected, test_id="ab-m")
    assert panel.result.recommendation == "keep_a"
    assert text(panel.recommendation.value).startswith("Recommendation: Keep A B is better on accuracy (lift +10.00%")
    assert "what-if: min_improvement 0.2 (stored 0.05)" in text(panel.summary.value)
    panel.min_improvement.value = 0.05
    panel.alpha.value = 0.001
    assert panel.result.config.alpha == 0.001 and "at alpha 0.001" in text(panel.verdict.value)
    assert ab.get_test(winner, "ab-m").config.alpha == 0.05  # what-if only: the stored rule is unchanged
    panel.refresh_button.click()  # re-reads the workspace, keeps the what-if
    assert panel.result.config.alpha == 0.001 and panel.alpha.value == 0.001


def test_long_queries_show_progress_steps(winner):
    panel = ABDecisionPanel(winner)
    seen = []
    panel.progress.observe(lambda change: seen.append(change["new"]), names="value")
    shown = []
    panel.progress.layout.observe(lambda change: shown.append(change["new"]), names="display")
    panel.alpha.value = 0.01
    assert seen[-3:] == [1, 2, 3] and shown == [None, "none"]  # shown while working, hidden after
    assert panel.status.value == ""


# ----------------------------------------------------------------------------- A/B panel: deciding
def test_deploy_b_backed_by_the_statistics_records_the_decision_and_deploys(winner):
    panel = ABDecisionPanel(winner, actor="ana")
    panel.deploy_b.click()
    assert panel.confirm_box.layout.display is None and panel.override.layout.display == "none"
    assert text(panel.prompt.value).startswith("Deploy B : Deploy B (1.1.0) of m to production and close ab-m."
                                               " The statistics support this (recommendation: Deploy B).")
    panel.reason.value = "10 % more accurate, significant at any look"
    panel.confirm.click()

    decision = events(winner, "m", "decision")
    assert decision.select("version", "actor", "reason", "summary").rows() == [
        ("1.1.0", "ana", "decision", "deploy: 10 % more accurate, significant at any look")]
    deployed = events(winner, "m", "deployed")
    assert deployed.select("version", "environment", "actor").rows() == [("1.1.0", "production", "ana")]
    assert deployed.item(0, "reason") == "A/B test ab-m: 10 % more accurate, significant at any look"
    test = ab.get_test(winner, "ab-m")
    assert (test.status, test.decision, test.actor) == ("decided", "deploy_b", "ana")
    rec = panel.last_record
    assert (rec.decision.decision, rec.decision.supported, rec.applied, rec.override) == ("deploy", True, True, None)
    assert rec.outcome == "A/B test ab-m closed; m 1.1.0 deployed to production"
    assert rec.decision.evidence["alpha"] == 0.05 and rec.decision.evidence["recommendation"] == "deploy_b"
    assert text(panel.message.value).startswith("recorded by ana at ")
    assert text(panel.message.value).endswith(": deploy; A/B test ab-m closed; m 1.1.0 deployed to production")
    assert panel.confirm_box.layout.display == "none"
    assert panel.test_picker.options == () and panel.deploy_b.disabled  # nothing left to decide
    assert "ab-m is decided: Deploy B." in text(panel.summary.value)
    assert "deploy ana deploy: 10 % more accurate, significant at any look" in text(panel.decisions_table.value)
    assert decisions(winner, "m").height == 1


def test_deploy_without_significance_needs_an_override_recorded_as_such(demo, monkeypatch):
    monkeypatch.setenv("MLMM_USER", "carol")
    panel = ABDecisionPanel(demo, "ab-n1-challenger-75")
    assert "acting as carol" in text(panel.widget.children[0].value)
    panel.deploy_b.click()
    assert panel.override.layout.display is None  # asked for, because the recommendation is "continue"
    assert "The statistics do not support this (recommendation: Continue:" in text(panel.prompt.value)
    panel.reason.value = "B catches more N+1 queries"
    panel.confirm.click()
    assert text(panel.message.value).startswith("override=None: 'deploy' is not supported by the statistics")
    assert "mlmm-error" in panel.message.value and "Traceback" not in panel.message.value
    assert events(demo, "n1-detector", "decision").is_empty()  # refused before anything was recorded
    assert ab.get_test(demo, "ab-n1-challenger-75").status == "running"

    panel.override.value = "the product team accepts the risk"
    panel.confirm.click()
    decision = events(demo, "n1-detector", "decision")
    assert decision.select("version", "actor", "reason", "summary").rows() == [
        ("1.1.0", "carol", "override: the product team accepts the risk",
         "deploy: B catches more N+1 queries (override: the product team accepts the risk)")]
    assert panel.last_record.override == "the product team accepts the risk"
    assert panel.last_record.decision.supported is False
    assert "as an override (the product team accepts the risk)" in text(panel.message.value)
    test = ab.get_test(demo, "ab-n1-challenger-75")
    assert (test.status, test.decision, test.actor) == ("decided", "deploy_b", "carol")
    assert [v for _, v in panel.test_picker.options] == ["ab-queue-gradual-10"]
    assert panel.test_picker.value is None and panel.keep_a.disabled


def test_continue_keeps_the_test_running_and_keep_a_closes_it(demo):
    panel = ABDecisionPanel(demo, "ab-n1-challenger-75", actor="ana")
    panel.continue_test.click()
    assert panel.override.layout.display == "none"
    panel.reason.value = "wait for the planned sample"
    panel.confirm.click()
    assert ab.get_test(demo, "ab-n1-challenger-75").status == "running"
    assert panel.test_picker.value == "ab-n1-challenger-75"  # still there, still shown
    assert panel.last_record.outcome == "recorded" and panel.last_record.applied is False

    panel.keep_a.click()
    assert panel.override.layout.display == "none"  # keeping A is no action: no override asked
    assert "recorded as not supported by the statistics" in text(panel.prompt.value)
    panel.reason.value = "not worth the change"
    panel.confirm.click()
    test = ab.get_test(demo, "ab-n1-challenger-75")
    assert (test.status, test.decision) == ("decided", "keep_a")
    assert events(demo, "n1-detector", "decision").get_column("summary").to_list() == [
        "continue: wait for the planned sample", "keep: not worth the change"]
    assert panel.test_picker.value is None and panel.keep_a.disabled
    shown = text(panel.decisions_table.value)  # newest first
    assert shown.index("keep: not worth the change") < shown.index("continue: wait for the planned sample")
    panel.test_picker.value = "ab-queue-gradual-10"  # the next one
    assert panel.result.test_id == "ab-queue-gradual-10" and not panel.keep_a.disabled
    assert "no decision recorded for queue-anomaly yet" in text(panel.decisions_table.value)


def test_a_broken_split_backs_keep_a_and_rolling_b_back_needs_an_override(demo):
    # one vocabulary (mlmm.decisions.ab_verdict): a broken split says nothing about B, so it backs
    # keeping A (the test stops), not a roll back, which would blame B
    panel = ABDecisionPanel(demo, "ab-queue-gradual-10", actor="ana")
    panel.roll_back.click()
    assert panel.override.layout.display is None  # shown: the statistics do not back this
    panel.keep_a.click()
    assert panel.override.layout.display == "none"
    assert "The statistics support this (recommendation: Stop: broken split (keep A))" in text(panel.prompt.value)
    panel.reason.value = "the split is broken"
    panel.confirm.click()
    test = ab.get_test(demo, "ab-queue-gradual-10")
    assert (test.status, test.decision, test.reason) == ("decided", "stop", "the split is broken")
    assert panel.last_record.outcome.startswith(
        f"A/B test ab-queue-gradual-10 stopped (broken split), keeping {test.config.version_a}")
    assert events(demo, "queue-anomaly", "decision").item(0, "summary") == "keep: the split is broken"


def test_a_refused_action_is_a_message_and_the_attempt_is_audited(demo):
    panel = ABDecisionPanel(demo, "ab-queue-gradual-10", actor="ana")
    panel.deploy_b.click()
    panel.reason.value = "ship it"
    panel.override.value = "on call says so"
    panel.confirm.click()  # production needs an approval of queue-anomaly 1.3.0 by someone else
    assert text(panel.message.value).startswith("deploying queue-anomaly 1.3.0 to production needs an approval by"
                                                " another actor")
    assert "mlmm-error" in panel.message.value and panel.confirm_box.layout.display is None  # left open
    assert events(demo, "queue-anomaly", "decision").item(0, "summary") == "deploy: ship it (override: on call says so)"


def test_a_test_decided_elsewhere_is_a_message_not_a_traceback(demo):
    panel = ABDecisionPanel(demo, "ab-n1-challenger-75", actor="ana")
    ab.decide(demo, "ab-n1-challenger-75", "keep_a", actor="bob", reason="decided in the CLI")
    panel.keep_a.click()
    panel.reason.value = "keep"
    panel.confirm.click()
    assert text(panel.message.value) == ("test_id='ab-n1-challenger-75' was decided already"
                                         " (keep_a: decided in the CLI)")
    panel.refresh_button.click()
    assert [v for _, v in panel.test_picker.options] == ["ab-queue-gradual-10"]

    decided = ABDecisionPanel(demo, "ab-waf-canary-50")
    assert text(decided.message.value).startswith("ab-waf-canary-50 is decided (deploy_b: B at least as accurate")
    assert decided.test_picker.value == "ab-queue-gradual-10"
    missing = ABDecisionPanel(demo, "nope")
    assert text(missing.message.value).startswith("test_id='nope': no such A/B test (known: ")


def test_cancel_records_nothing_and_confirm_needs_a_choice(winner):
    panel = ABDecisionPanel(winner, actor="ana")
    panel.confirm.click()
    assert text(panel.message.value) == "press Deploy B, Keep A, Continue or Roll back first"
    panel.deploy_b.click()
    panel.reason.value = "x"
    panel.cancel.click()
    assert panel.confirm_box.layout.display == "none" and text(panel.message.value) == "cancelled; nothing recorded"
    panel.keep_a.click()
    panel.confirm.click()  # no reason
    assert text(panel.message.value) == "reason='': expected why (it is recorded with the decision)"
    assert events(winner, "m", "decision").is_empty() and ab.get_test(winner, "ab-m").status == "running"


def test_a_workspace_without_running_tests_says_so(tmp_path):
    ws = mlmm.open_workspace(tmp_path / "empty")
    panel = ABDecisionPanel(ws)
    assert panel.test_picker.options == () and panel.deploy_b.disabled
    assert text(panel.message.value) == f"no running A/B test in {ws.path}; start one with `mlmm ab create`"
    panel.deploy_b.click()  # disabled in a browser; a script still gets a message
    assert text(panel.message.value) == "pick a running A/B test first"
    ws.close()


def test_a_workspace_that_cannot_be_opened_is_a_message(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    for panel in (ABDecisionPanel(blocker), RegistryBrowser(blocker), MonitorPanel(blocker)):
        assert text(panel.message.value) == f"workspace={blocker}: is a file; expected a directory"
        panel.refresh_button.click()
        assert text(panel.message.value) == "no workspace: pass one, or set MLMM_HOME"


def test_panels_display_as_their_widget(winner):
    panel = ABDecisionPanel(winner)
    bundle = panel._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == panel.widget.model_id
    assert repr(panel) == f"<ABDecisionPanel {winner.path}>"


# ----------------------------------------------------------------------------- registry browser
def test_registry_browser_shows_versions_environments_diff_and_history(demo):
    browser = RegistryBrowser(demo, "n1-detector", actor="ana")
    assert browser.model_picker.options == ("n1-detector", "queue-anomaly", "waf-behavioral")
    versions = text(browser.versions_table.value)
    assert versions.startswith("version model_type environment created_at config_revision accuracy precision recall")
    assert "1.1.0 supervised production" in versions and "1.0.0 supervised –" in versions
    assert text(browser.environments_table.value) == ("environment version since canary_version canary_share"
                                                      " production 1.1.0 2026-10-17 15:00 – –"
                                                      " staging 1.1.0 2026-10-11 05:00 – –")
    assert (browser.diff_a.value, browser.diff_b.value) == ("1.0.0", "1.1.0")
    assert text(browser.diff_table.value) == "key change 1.0.0 1.1.0 threshold changed 0.7 0.75"
    history = demo.registry.history("n1-detector")
    rows = text(browser.history_table.value)
    last = history.row(-1, named=True)
    assert rows.startswith(f"ts version event environment actor reason summary {last['ts']:%Y-%m-%d %H:%M} 1.1.0"
                           f" {last['event']} production {last['actor']}")
    assert [list(o["data"]) for o in browser.timeline.outputs] == [["image/svg+xml"]]
    browser.model_picker.value = "waf-behavioral"
    assert "2.1.0 unsupervised production" in text(browser.versions_table.value)


def test_registry_browser_diffs_configuration_revisions(demo):
    demo.registry.update_config("n1-detector", "1.1.0", {"threshold": 0.8}, actor="ana", reason="fewer false positives")
    browser = RegistryBrowser(demo, "n1-detector")
    assert ("1.1.0 revision 1", "1.1.0@1") in browser.diff_a.options
    browser.diff_a.value = "1.1.0@1"
    assert text(browser.diff_table.value) == "key change 1.1.0@1 1.1.0 threshold changed 0.75 0.8"
    browser.diff_a.value = "1.1.0"
    assert text(browser.diff_table.value) == "pick two different versions or revisions"


def test_registry_browser_deploys_and_rolls_back_after_confirmation(demo):
    browser = RegistryBrowser(demo, "n1-detector", actor="ana")
    before = events(demo, "n1-detector", "deployed").height
    browser.deploy_version.value, browser.deploy_env.value = "1.0.0", "staging"
    browser.deploy_button.click()
    assert text(browser.prompt.value).startswith("Deploy n1-detector 1.0.0 to staging; it replaces 1.1.0.")
    assert events(demo, "n1-detector", "deployed").height == before  # nothing yet: it asks first
    browser.confirm.click()
    assert text(browser.message.value) == "reason='': expected why (it is recorded in the history)"
    browser.reason.value = "reproduce a bug"
    browser.confirm.click()
    assert text(browser.message.value) == "deployed n1-detector 1.0.0 to staging (by ana)"
    last = events(demo, "n1-detector", "deployed").row(-1, named=True)
    assert (last["version"], last["environment"], last["actor"], last["reason"]) == ("1.0.0", "staging", "ana",
                                                                                     "reproduce a bug")
    assert "staging 1.0.0" in text(browser.environments_table.value)

    browser.rollback_button.click()
    assert text(browser.prompt.value).startswith("Roll back n1-detector in staging: redeploy the version that served"
                                                 " before 1.0.0.")
    browser.reason.value = "bug reproduced"
    browser.confirm.click()
    assert text(browser.message.value) == "rolled back n1-detector in staging; 1.1.0 serves (by ana)"
    assert demo.registry.deployments("n1-detector").filter(pl.col("environment") == "staging").item(0, "version") == "1.1.0"

    browser.model_picker.value = "queue-anomaly"
    browser.deploy_version.value, browser.deploy_env.value = "1.3.0", "production"
    browser.reason.value = "try"
    browser.deploy_button.click()
    browser.confirm.click()
    assert text(browser.message.value).startswith("deploying queue-anomaly 1.3.0 to production needs an approval")
    browser.deploy_env.value = "development"
    browser.rollback_button.click()
    assert text(browser.message.value) == "queue-anomaly is not deployed in development; nothing to roll back"


def test_registry_browser_errors_are_messages(demo):
    browser = RegistryBrowser(demo, "nope")
    assert text(browser.message.value) == ("model='nope' is not registered; registered models: n1-detector,"
                                           " queue-anomaly, waf-behavioral")
    assert "mlmm-error" in browser.message.value


# ----------------------------------------------------------------------------- monitor panel
def test_monitor_panel_cards_and_trend_follow_the_pickers(demo):
    panel = MonitorPanel(demo, "n1-detector", window="7d", until=DEMO_END)
    m = M.metrics(demo, "n1-detector", last="7d", until=DEMO_END)
    assert (panel.metrics.count, panel.metrics.accuracy, panel.metrics.f1) == (m.count, m.accuracy, m.f1)
    cards = text(panel.cards.value)
    assert cards.startswith(f"predictions {m.count:,} last 7d to 2026-11-01 00:00 UTC labelled {m.labelled:,}"
                            f" coverage {m.coverage.value:.0%}")
    a = m.accuracy
    assert f"accuracy {a.value:.3f} [{a.low:.3f}, {a.high:.3f}] · {a.trials:,} rows" in cards
    assert f"F1 {m.f1:.3f}" in cards and cards.endswith("floor 85% at or above")
    trend = M.trends(demo, "n1-detector", last="7d", until=DEMO_END, interval="6h")
    assert panel.trend.select("start", "labelled", "accuracy").equals(trend.select("start", "labelled", "accuracy"))
    svg = panel.chart.outputs[0]["data"]["image/svg+xml"]
    assert "n1-detector: accuracy per 6h, last 7d" in svg

    panel.metric.value = "recall"
    assert "n1-detector: recall per 6h, last 7d" in panel.chart.outputs[0]["data"]["image/svg+xml"]
    panel.version_picker.value = "1.1.0"
    assert panel.metrics.accuracy == M.metrics(demo, "n1-detector", "1.1.0", last="7d", until=DEMO_END).accuracy
    assert panel.metrics.window.version == "1.1.0"
    panel.window.value = "24h"
    assert panel.metrics.window.label == "last 24h" and panel.trend.height <= 24
    panel.window.value = "7d"
    panel.model_picker.value = "waf-behavioral"
    assert panel.version_picker.value == "" and panel.metrics.window.model == "waf-behavioral"
    assert text(panel.cards.value).endswith("floor 90% BELOW (critical)")  # the drift episode of week four


def test_monitor_windows_end_at_the_newest_prediction_by_default(demo):
    panel = MonitorPanel(demo, "waf-behavioral", window="7d")
    newest = M.last_prediction_time(demo, "waf-behavioral")
    assert panel.metrics.window.until == newest
    assert panel.metrics.count == M.metrics(demo, "waf-behavioral", last="7d", until=newest).count > 0


def test_monitor_panel_says_when_a_window_has_no_data(demo):
    panel = MonitorPanel(demo, "n1-detector", until="2020-01-01T00:00:00Z")
    assert text(panel.message.value) == "no predictions in last 24h"
    assert panel.chart.outputs[0]["data"]["text/plain"] == "no predictions of n1-detector in the last 24h"
    bad = MonitorPanel(demo, until="yesterday")
    assert text(bad.message.value) == ("until='yesterday': expected an ISO-8601 time, a datetime or epoch seconds")


# ----------------------------------------------------------------------------- the notebook
def test_the_panel_notebook_runs_under_papermill(demo, tmp_path):
    import papermill as pm

    out = tmp_path / "panel.ipynb"
    demo.close()
    pm.execute_notebook(str(NOTEBOOK), str(out), kernel_name="python3", progress_bar=False, cwd=str(NOTEBOOK.parent),
                        parameters={"workspace": str(demo.path), "test_id": "ab-n1-challenger-75",
                                    "model": "n1-detector", "until": DEMO_END})
    executed = json.loads(out.read_text())
    outputs = [o for c in executed["cells"] for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    views = [o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert len(views) == 3  # the three panels
    assert ab.get_test(demo, "ab-n1-challenger-75").status == "running"  # showing decides nothing
