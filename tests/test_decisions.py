"""Decisions: recording (audited), applying through the registry, overrides, retraining
triggers (seed 002) and the mapping from each report's result."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import stat
import sys

import polars as pl
import pytest

import mlmm
from mlmm import ab, alerts, drift, monitor, tuning
from mlmm import decisions as D

END = "2026-11-01T00:00:00Z"


@pytest.fixture
def ws(tmp_path):
    target = tmp_path / "ws"
    shutil.copytree(os.environ["MLMM_HOME"], target)
    w = mlmm.open_workspace(target)
    yield w
    w.close()


def _last_decision(ws, model):
    row = D.decisions(ws, model).row(0, named=True)
    return row, json.loads(row["details"])


def test_a_decision_names_what_is_wrong():
    with pytest.raises(mlmm.ValidationError, match="^decision='ship it': expected one of deploy, keep, continue,"
                                                   " roll back, retrain requested, alert$"):
        D.Decision("ship it", "why not", "m")


def test_record_appends_an_audited_event_and_does_nothing_without_apply(ws):
    d = D.Decision("roll back", "accuracy fell", "n1-detector", "1.1.0", source="monitoring",
                   evidence={"accuracy": 0.7})
    rec = D.record_decision(ws, d, actor="ana")
    assert (rec.applied, rec.outcome, rec.actor) == (False, "recorded, not applied", "ana")
    row, det = _last_decision(ws, "n1-detector")
    assert (row["actor"], row["summary"], row["version"]) == ("ana", "roll back: accuracy fell", "1.1.0")
    shown = ws.registry.history("n1-detector").row(-1, named=True)
    assert (shown["event"], shown["summary"]) == ("decision", "roll back: accuracy fell")
    assert (det["decision"], det["applied"], det["evidence"]) == ("roll back", False, {"accuracy": 0.7})
    assert ws.registry.deployments("n1-detector").filter(pl.col("environment") == "production")["version"][0] == "1.1.0"
    with pytest.raises(mlmm.ValidationError, match="^reason='': expected why"):
        D.record_decision(ws, dataclasses.replace(d, reason=" "))
    listed = D.decisions(ws, "n1-detector")
    assert listed.select("decision", "actor", "applied").row(0) == ("roll back", "ana", False)


def test_apply_rolls_back_and_deploys_through_the_registry(ws):
    rec = D.record_decision(ws, D.Decision("roll back", "1.1.0 is worse", "n1-detector"), actor="ana", apply=True)
    assert rec.applied and rec.outcome == "n1-detector rolled back in production; 1.0.0 serves"
    prod = ws.registry.deployments("n1-detector").filter(pl.col("environment") == "production")
    assert prod["version"][0] == "1.0.0"
    rec = D.record_decision(ws, D.Decision("deploy", "back to 1.1.0", "n1-detector", "1.1.0"), actor="ana", apply=True)
    assert rec.outcome == "n1-detector 1.1.0 deployed to production"
    assert ws.registry.history("n1-detector").filter(pl.col("event") == "deployed")["reason"][-1] == "back to 1.1.0"
    with pytest.raises(mlmm.ValidationError, match="^version=None: a deploy needs the version"):
        D.record_decision(ws, D.Decision("deploy", "which?", "n1-detector"), apply=True)
    # the failed attempt is in the history too
    _, det = _last_decision(ws, "n1-detector")
    assert det["applied"] is False and det["outcome"].startswith("failed: ValidationError: version=None")


def test_an_unsupported_deploy_needs_an_override_and_is_recorded_as_one(ws):
    result = ab.evaluate(ws, "ab-n1-challenger-75")
    assert result.recommendation == "continue" and not result.should_deploy_b()
    d = dataclasses.replace(D.from_ab(result), decision="deploy", version="1.1.0", reason="looks better",
                            supported=result.should_deploy_b())
    with pytest.raises(mlmm.ValidationError, match="^override=None: 'deploy' is not supported by the statistics"):
        D.record_decision(ws, d, actor="ana", apply=True)
    assert ab.get_test(ws, "ab-n1-challenger-75").status == "running"
    rec = D.record_decision(ws, d, actor="ana", apply=True, override="the product launch needs it today")
    assert rec.applied and rec.override == "the product launch needs it today"
    assert rec.outcome == "A/B test ab-n1-challenger-75 closed; n1-detector 1.1.0 deployed to production"
    test = ab.get_test(ws, "ab-n1-challenger-75")
    assert (test.status, test.decision) == ("decided", "deploy_b")
    row, det = _last_decision(ws, "n1-detector")
    assert row["summary"] == "deploy: looks better (override: the product launch needs it today)"
    assert det["override"] == "the product launch needs it today" and det["supported"] is False
    assert row["reason"] == "override: the product launch needs it today"


def test_a_broken_split_stops_the_test_keeping_a_and_keep_closes_it(ws):
    # a sample-ratio mismatch says nothing about B: the scheduled decision is keep (the test
    # stops, A keeps serving), the same verdict the CLI and the panel show (ab_verdict)
    result = ab.evaluate(ws, "ab-queue-gradual-10")
    assert D.ab_verdict(result) == D.ABVerdict("stop", "keep", "Stop: broken split (keep A)", broken_split=True)
    rec = D.record_decision(ws, D.from_ab(result), actor="ana", apply=True)
    assert rec.decision.decision == "keep" and rec.decision.reason.startswith("sample ratio mismatch")
    assert rec.outcome.startswith("A/B test ab-queue-gradual-10 stopped (broken split), keeping 1.2.0")
    test = ab.get_test(ws, "ab-queue-gradual-10")
    assert (test.status, test.decision) == ("decided", "stop")
    keep = dataclasses.replace(D.from_ab(ab.evaluate(ws, "ab-n1-challenger-75")), decision="keep",
                               reason="not worth the wait")
    assert D.record_decision(ws, keep, apply=True).outcome == "A/B test ab-n1-challenger-75 closed keeping 1.0.0"


def test_roll_back_of_a_running_canary_ends_it(ws):
    ws.registry.set_traffic("n1-detector", "1.0.0", 0.1, reason="canary")
    d = D.Decision("roll back", "canary worse", "n1-detector", "1.0.0")
    assert D.record_decision(ws, d, apply=True).outcome == "n1-detector rolled back in production; 1.1.0 serves"
    assert ws.registry.deployments("n1-detector").filter(pl.col("environment") == "production")["canary_version"][0] is None


def test_alert_decisions_raise_one_alert_and_escalate_it(ws):
    d = D.Decision("alert", "accuracy below the floor", "waf-behavioral", "2.1.0", evidence={"severity": "warning"})
    first = D.record_decision(ws, d, apply=True)
    assert first.outcome.startswith("alert manual_decision-waf-behavioral-") and first.outcome.endswith("(warning, open)")
    alert_id = first.outcome.split()[1]
    again = D.record_decision(ws, d, apply=True)
    assert again.outcome.startswith(f"alert {alert_id} already open (warning, raised ")  # not a second one
    worse = D.record_decision(ws, dataclasses.replace(d, evidence={"severity": "critical"}), apply=True)
    assert worse.outcome == f"alert {alert_id} (critical, open)"
    open_ = alerts.list_alerts(ws, model="waf-behavioral").filter(pl.col("rule") == "manual_decision")
    assert open_.height == 1 and open_["severity"][0] == "critical"


def test_retrain_requested_runs_the_configured_command(ws, tmp_path):
    out = tmp_path / "retrain.json"
    script = tmp_path / "retrain.py"
    script.write_text("import json, os, sys\n"
                      f"json.dump({{k: os.environ[k] for k in ('MLMM_MODEL', 'MLMM_VERSION', 'MLMM_REASON', 'MLMM_ACTOR')}},"
                      f" open({str(out)!r}, 'w'))\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    d = D.Decision("retrain requested", "age: 20 days", "n1-detector", "1.1.0")
    assert D.record_decision(ws, d, apply=True).outcome == (
        "retraining requested (no [retraining] command configured in mlmm.toml)")
    (ws.path / "mlmm.toml").write_text(f'[retraining]\ncommand = "{sys.executable} {script}"\ncooldown = "0s"\n')
    rec = D.record_decision(ws, d, actor="schedule:degradation", apply=True)
    assert rec.outcome == f"retraining command {sys.executable} ran (exit 0)"
    assert json.loads(out.read_text()) == {"MLMM_MODEL": "n1-detector", "MLMM_VERSION": "1.1.0",
                                           "MLMM_REASON": "age: 20 days", "MLMM_ACTOR": "schedule:degradation"}
    (ws.path / "mlmm.toml").write_text(f'[retraining]\ncommand = "{sys.executable} -c \'import sys; sys.exit(4)\'"\n'
                                       'cooldown = "0s"\n')
    with pytest.raises(mlmm.MlmmError, match="exited 4"):
        D.record_decision(ws, d, apply=True)


def test_retraining_triggers_follow_seed_002(ws):
    r = D.retraining_check(ws, "queue-anomaly", until=END)
    frame = r.to_frame()
    assert frame["name"].to_list() == ["performance", "drift", "data_volume", "age"]
    assert frame["fired"].to_list() == [None, True, False, True]
    assert frame["threshold"].to_list()[1:] == [0.5, 50_000.0, 30.0]  # the demo's mlmm.toml: max_age 30d
    assert frame["detail"][0].startswith("insufficient data: ")
    assert frame["detail"][1] == ("3 of 5 features drifted over the last 7d (duration_s, memory_mb, job_type)"
                                  " (dataset drift)")
    assert r.should_retrain and r.reason.startswith("drift: 3 of 5 features drifted")
    quiet = D.retraining_check(ws, "queue-anomaly", until=END, settings={"max_age": "365d", "drift_window": "1h"})
    assert [t.fired for t in quiet.triggers][3] is False
    # performance: below an explicit floor on enough rows; data volume: a low bar
    strict = D.retraining_check(ws, "waf-behavioral", until=END,
                                settings={"accuracy_floor": 0.99, "window": "14d", "min_new_labels": 1000})
    perf, _, volume, _ = strict.triggers
    assert perf.fired and perf.detail == "accuracy 0.886 < floor 0.99 on 8,528 labelled predictions (last 14d)"
    assert volume.fired and volume.value >= 1000


def test_the_monitoring_decision(ws):
    a = monitor.assess(ws, "waf-behavioral", last="7d", until=END, drift_window="30d")
    assert a.status == "below floor"
    never = D.retraining_check(ws, "waf-behavioral", until=END,
                               settings={"max_age": "3650d", "accuracy_floor": 0.5})
    assert not never.should_retrain
    d = D.from_assessment(a, retraining=never)
    assert (d.decision, d.source, d.evidence["severity"], d.evidence["status"]) == ("alert", "monitoring", "critical",
                                                                                    "below floor")
    due = D.retraining_check(ws, "waf-behavioral", until=END, assessment=a, settings={"window": "7d"})
    d = D.from_assessment(a, retraining=due)
    assert d.decision == "retrain requested" and "performance: accuracy" in d.reason
    assert [t["name"] for t in d.evidence["triggers"]] == ["performance", "drift", "data_volume", "age"]
    thin = monitor.assess(ws, "waf-behavioral", last="1h", until=END)
    assert D.from_assessment(thin).decision == "continue"


def test_drift_and_tuning_decisions(ws):
    check = drift.check(ws, "queue-anomaly", current="72h", until=END, record=False)
    d = D.from_drift(check)
    assert d.decision == "retrain requested" and d.reason.startswith("dataset drift: ")
    run = tuning.tune_threshold(ws, "queue-anomaly", last="30d", until=END, min_improvement=0.0)
    t = D.from_tuning(run)
    if run.clears_minimum:
        assert t.decision == "deploy" and t.changes == {"threshold": run.best["threshold"]}
        rec = D.record_decision(ws, t, apply=True)
        assert ws.registry.get("queue-anomaly", run.version).configuration["threshold"] == run.best["threshold"]
        assert rec.outcome.startswith("configuration of queue-anomaly 1.2.0 set to")
    strict = tuning.tune_threshold(ws, "queue-anomaly", last="30d", until=END, min_improvement=5.0)
    assert D.from_tuning(strict).decision == "keep"


# ---------------------------------------------------------------------------- review fixes
def test_an_ad_hoc_comparison_never_rolls_production_back(ws):
    config = ab.ABTestConfig.create("n1-detector", "1.1.0", "1.0.0")
    d = D.from_ab(ab.evaluate(ws, config, until=END))
    assert d.decision in ("alert", "keep", "continue", "deploy") and d.test_id is None
    bad = D.Decision("roll back", "stop", "n1-detector", "1.0.0")
    with pytest.raises(mlmm.ValidationError, match=r"^version='1.0.0': n1-detector serves 1.1.0 in production;"):
        D.record_decision(ws, bad, apply=True)
    assert ws.registry.deployments("n1-detector").filter(pl.col("environment") == "production")["version"][0] == "1.1.0"


def test_a_decision_naming_another_model_than_its_test_acts_on_nothing(ws):
    d = D.Decision("deploy", "ship it", "waf-behavioral", "1.1.0", test_id="ab-n1-challenger-75")
    with pytest.raises(mlmm.NotFoundError):
        D.record_decision(ws, d, apply=True, override="pm says so")
    d = D.Decision("deploy", "ship it", "waf-behavioral", test_id="ab-n1-challenger-75")
    with pytest.raises(mlmm.ValidationError, match="^model='waf-behavioral': test ab-n1-challenger-75 is about n1-detector"):
        D.record_decision(ws, d, apply=True, override="pm says so")
    assert ab.get_test(ws, "ab-n1-challenger-75").status == "running"
    assert D.decisions(ws, "waf-behavioral").height == 0


def test_a_what_if_rule_does_not_make_an_action_supported(ws):
    stored = ab.evaluate(ws, "ab-n1-challenger-75")
    assert not stored.what_if and D.from_ab(stored).supported
    relaxed = ab.evaluate(ws, "ab-n1-challenger-75", alpha=0.5, min_improvement=0.01)
    assert relaxed.what_if == {"alpha": 0.5, "min_improvement": 0.01} and relaxed.test_id == "ab-n1-challenger-75"
    d = D.from_ab(relaxed)
    assert not d.supported and d.evidence["alpha"] == 0.5
    if d.decision in ("deploy", "roll back"):
        with pytest.raises(mlmm.ValidationError, match="^override=None"):
            D.record_decision(ws, d, apply=True)


def test_keep_ends_the_canary_of_b(ws):
    ws.registry.set_traffic("queue-anomaly", "1.3.0", 0.1, reason="canary")
    d = D.Decision("keep", "not better", "queue-anomaly", "1.2.0", test_id="ab-queue-gradual-10")
    rec = D.record_decision(ws, d, apply=True)
    assert rec.outcome == "A/B test ab-queue-gradual-10 closed keeping 1.2.0; canary 1.3.0 ended"
    prod = ws.registry.deployments("queue-anomaly").filter(pl.col("environment") == "production")
    assert prod["canary_version"][0] is None


def test_a_retraining_request_is_not_repeated_within_the_cooldown(ws, tmp_path):
    log = tmp_path / "calls"
    (ws.path / "mlmm.toml").write_text(f'[retraining]\ncommand = "sh -c \'echo $MLMM_MODEL >> {log}\'"\n')
    d = D.Decision("retrain requested", "age", "n1-detector", "1.1.0")
    assert D.record_decision(ws, d, apply=True).outcome == "retraining command sh ran (exit 0)"
    again = D.record_decision(ws, d, apply=True, actor="schedule:degradation")
    assert again.outcome.startswith("retraining already requested at ") and "within the 7d cooldown" in again.outcome
    assert log.read_text() == "n1-detector\n"
    (ws.path / "mlmm.toml").write_text('[retraining]\ncommand = "./no-such-script"\ncooldown = "1s"\n')
    import time
    time.sleep(1.1)
    with pytest.raises(mlmm.MlmmError, match=r"^\[retraining\] command='./no-such-script': .*relative paths are resolved in"):
        D.record_decision(ws, d, apply=True)


def test_a_grid_tuning_decision_writes_the_detector_parameters(ws):
    run = tuning.TuningRun("tune-x", "queue-anomaly", "1.2.0", "grid", "f1",
                           {"params": {"zscore_threshold": 3.0, "window_size": 100}, "score": 0.5},
                           {"params": {"zscore_threshold": 2.5, "window_size": 100}, "score": 0.6},
                           0.2, 0.05, 0.3, True, False, "better", pl.DataFrame())
    d = D.from_tuning(run)
    assert (d.decision, d.changes, d.supported) == ("deploy", {"zscore_threshold": 2.5}, True)
    D.record_decision(ws, d, apply=True)
    assert ws.registry.get("queue-anomaly", "1.2.0").configuration["zscore_threshold"] == 2.5
    unsure = dataclasses.replace(run, improvement_low=-0.02)
    assert D.from_tuning(unsure).supported is False


def test_alerts_of_different_sources_are_not_merged(ws):
    drift = D.record_decision(ws, D.Decision("alert", "2 features drifted", "n1-detector", source="drift"), apply=True)
    mon = D.record_decision(ws, D.Decision("alert", "accuracy below the floor", "n1-detector", source="monitoring"),
                            apply=True)
    assert drift.outcome.split()[1].startswith("drift_decision-") and mon.outcome.split()[1].startswith("monitoring_decision-")
    again = D.record_decision(ws, D.Decision("alert", "accuracy below the floor", "n1-detector", source="monitoring"),
                              apply=True)
    assert again.outcome.startswith(f"alert {mon.outcome.split()[1]} already open (warning, raised ")


def test_a_broken_split_reads_the_same_in_the_cli_the_panel_and_the_scheduled_decision(ws):
    # issue 16: it was `stop` in the CLI, "Stop (keep A)" in the panel and `roll back` in the job
    from typer.testing import CliRunner

    from mlmm.cli import app
    from mlmm.widgets import ABDecisionPanel

    out = CliRunner().invoke(app, ["ab", "evaluate", "ab-queue-gradual-10", "-w", str(ws.path)], env={"COLUMNS": "200"})
    assert out.exit_code == 0
    assert "recommendation: stop (Stop: broken split (keep A); decision: keep): sample ratio mismatch" in out.output
    panel = ABDecisionPanel(ws, "ab-queue-gradual-10")
    assert "Recommendation: Stop: broken split (keep A)" in panel.recommendation.value
    assert panel.supported("keep") and not panel.supported("roll back") and not panel.supported("deploy")
    assert D.from_ab(ab.evaluate(ws, "ab-queue-gradual-10")).decision == "keep"
    # deciding by hand from the CLI: a roll back is not backed by the statistics, keep is
    refused = CliRunner().invoke(app, ["decide", "queue-anomaly", "roll back", "--test", "ab-queue-gradual-10",
                                       "-r", "split", "-w", str(ws.path), "--json"])
    assert json.loads(refused.output)["decision"]["supported"] is False
    kept = CliRunner().invoke(app, ["decide", "queue-anomaly", "keep", "--test", "ab-queue-gradual-10",
                                    "-r", "split", "-w", str(ws.path), "--json"])
    assert json.loads(kept.output)["decision"]["supported"] is True
