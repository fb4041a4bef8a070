"""A/B service: configuration, lifecycle, evaluation and its recommendation, rollout plans,
canary health with rollback, shadow and interleaving comparisons, the validation gate, CLI."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from scipy.stats import binomtest
from statsmodels.stats.contingency_tables import mcnemar
from typer.testing import CliRunner

import mlmm
from mlmm import ab as AB
from mlmm import stats as S
from mlmm.cli import app

UTC = dt.UTC
T0 = dt.datetime(2026, 3, 1, tzinfo=UTC)
HOUR = dt.timedelta(hours=1)


@pytest.fixture
def ws(tmp_path: Path) -> mlmm.Workspace:
    w = mlmm.open_workspace(tmp_path / "ws")
    w.registry.register("m", "1.0.0", metrics={"accuracy": 0.85, "precision": 0.8}, config={"alert_accuracy": 0.8})
    w.registry.register("m", "1.1.0", metrics={"accuracy": 0.9, "precision": 0.82})
    yield w
    w.close()


def _arm(ws, version, n, correct, start=T0, span=dt.timedelta(days=2), seed=0, positive_share=0.5):
    """``n`` labelled predictions of ``version``, ``correct`` of them right, spread over ``span``."""
    rng = np.random.default_rng(seed)
    pred = (rng.random(n) < positive_share).astype(int)
    right = np.zeros(n, dtype=bool)
    right[rng.choice(n, correct, replace=False)] = True
    actual = np.where(right, pred, 1 - pred)
    stamps = [start + span * (i / n) for i in range(n)]
    mlmm.log_predictions(ws, {"model_name": ["m"] * n, "version": [version] * n, "prediction": pred.tolist(),
                              "actual": actual.tolist(), "timestamp": stamps})


def test_config_validates_and_has_the_seed_presets():
    assert AB.ABTestConfig.create("m", "1.0.0", "1.1.0").share_b == 0.5  # seed: trafficSplitA = 0.5
    assert AB.ABTestConfig.for_gradual_rollout("m", "1.0.0", "1.1.0").share_b == 0.1
    assert AB.ABTestConfig.for_challenger("m", "1.0.0", "1.1.0").share_b == 0.2
    c = AB.ABTestConfig.create("m", "1.0.0", "1.1.0")
    assert (c.alpha, c.min_improvement, c.primary_metric) == (0.05, 0.05, "accuracy")  # seed defaults
    assert AB.ABTestConfig.from_dict(c.to_dict()) == c
    with pytest.raises(mlmm.ValidationError, match="share_b=1.5: expected a share of traffic strictly between 0 and 1"):
        AB.ABTestConfig.create("m", "1.0.0", "1.1.0", 1.5)
    with pytest.raises(mlmm.ValidationError, match="primary_metric='f1': expected one of accuracy"):
        AB.ABTestConfig.create("m", "1.0.0", "1.1.0", primary_metric="f1")
    with pytest.raises(mlmm.ValidationError, match=r"guardrails\['precision'\]=2"):
        AB.ABTestConfig.create("m", "1.0.0", "1.1.0", guardrails={"precision": 2})


def test_a_clear_winner_is_deployed_and_the_numbers_are_the_stats_modules(ws):
    _arm(ws, "1.0.0", 2000, 1600, seed=1)  # 0.80
    _arm(ws, "1.1.0", 2000, 1760, seed=2)  # 0.88: +10 %
    cfg = AB.ABTestConfig.create("m", "1.0.0", "1.1.0")
    r = AB.evaluate(ws, cfg, since=T0, until=T0 + dt.timedelta(days=3))
    assert (r.a.trials, r.a.successes, r.b.trials, r.b.successes) == (2000, 1600, 2000, 1760)
    assert r.recommendation == "deploy_b" and r.winner == "B" and r.should_deploy_b()
    ref = S.two_proportion_test(1600, 2000, 1760, 2000)
    assert (r.test.p_value, r.test.ci_low, r.test.ci_high) == (ref.p_value, ref.ci_low, ref.ci_high)
    assert r.lift.estimate == pytest.approx(0.1)
    assert r.sequential.p_value == S.always_valid_test(1600, 2000, 1760, 2000).p_value
    assert not r.srm.mismatch and r.srm.p_value == 1.0
    assert r.reason.startswith("B is better on accuracy: 0.8000 -> 0.8800 (lift +10.00%")
    json.dumps(r.to_dict())  # JSON-safe


def test_harm_small_gains_no_difference_and_too_early(ws):
    _arm(ws, "1.0.0", 2000, 1760, seed=1)
    _arm(ws, "1.1.0", 2000, 1600, seed=2)
    harm = AB.evaluate(ws, AB.ABTestConfig.create("m", "1.0.0", "1.1.0"), since=T0, until=T0 + 3 * 24 * HOUR)
    assert harm.recommendation == "stop" and harm.winner == "A" and harm.reason.startswith("B is worse on accuracy")


def test_a_small_lift_is_kept_and_a_thin_test_continues(ws):
    _arm(ws, "1.0.0", 20000, 16000, seed=1)  # 0.80
    _arm(ws, "1.1.0", 20000, 16400, seed=2)  # 0.82: +2.5 %, significant, under the 5 % bar
    small = AB.evaluate(ws, AB.ABTestConfig.create("m", "1.0.0", "1.1.0"), since=T0, until=T0 + 3 * 24 * HOUR)
    assert small.recommendation == "keep_a" and "by less than the 5% required" in small.reason
    thin = AB.evaluate(ws, AB.ABTestConfig.create("m", "1.0.0", "1.1.0", min_improvement=0.01),
                       since=T0, until=T0 + 2 * HOUR)  # the first two hours only
    assert thin.recommendation == "continue" and "planned" in thin.reason and thin.days_remaining >= 1


def test_a_broken_split_stops_the_test(ws):
    _arm(ws, "1.0.0", 2000, 1600, seed=1)
    _arm(ws, "1.1.0", 1200, 1060, seed=2)  # 37.5 % of traffic where 50 % was planned
    r = AB.evaluate(ws, AB.ABTestConfig.create("m", "1.0.0", "1.1.0"), since=T0, until=T0 + 3 * 24 * HOUR)
    assert r.srm.mismatch and r.recommendation == "stop" and r.reason.startswith("sample ratio mismatch: B got 37.5%")
    assert r.srm.p_value == pytest.approx(S.sample_ratio_mismatch([2000, 1200], [0.5, 0.5]).p_value)


def test_a_breached_guardrail_stops_the_test(ws):
    # B is more accurate, but its precision (the 1s it predicts) is much worse
    n = 3000
    mlmm.log_predictions(ws, {"model_name": ["m"] * n, "version": ["1.0.0"] * n, "prediction": [1] * 1000 + [0] * 2000,
                              "actual": [1] * 900 + [0] * 100 + [0] * 1500 + [1] * 500,
                              "timestamp": [T0 + HOUR] * n})
    mlmm.log_predictions(ws, {"model_name": ["m"] * n, "version": ["1.1.0"] * n, "prediction": [1] * 600 + [0] * 2400,
                              "actual": [1] * 420 + [0] * 180 + [0] * 2400,
                              "timestamp": [T0 + HOUR] * n})
    cfg = AB.ABTestConfig.create("m", "1.0.0", "1.1.0", guardrails={"precision": 0.05})
    r = AB.evaluate(ws, cfg, since=T0, until=T0 + 2 * HOUR)
    guard = r.guardrails[0]
    assert (guard["a"], guard["b"], guard["breached"]) == (0.9, 0.7, True)
    assert r.recommendation == "stop" and r.reason == "guardrail breached on precision; keep A"


def test_lifecycle_is_audited_and_deploy_b_goes_through_the_registry(ws):
    _arm(ws, "1.0.0", 2000, 1600, seed=1)
    _arm(ws, "1.1.0", 2000, 1760, seed=2)
    ws.registry.deploy("m", "1.0.0", env="production", at=T0 - HOUR)
    test = AB.create_test(ws, AB.ABTestConfig.create("m", "1.0.0", "1.1.0", duration_days=2), test_id="t1",
                          actor="ana", reason="try 1.1.0", at=T0)
    assert (test.status, test.started_at, test.actor) == ("running", T0, "ana")
    r = AB.evaluate(ws, "t1")  # the planned window: T0 .. T0 + 2 days
    assert r.until == T0 + dt.timedelta(days=2) and r.recommendation == "deploy_b"
    with pytest.raises(mlmm.ValidationError, match="reason=''"):
        AB.decide(ws, "t1", "deploy_b")
    done = AB.decide(ws, "t1", "deploy_b", actor="ben", reason="clear win", apply=True, result=r)
    assert (done.status, done.decision, done.reason, done.actor) == ("decided", "deploy_b", "clear win", "ben")
    assert [str(m.version) for m in ws.registry.get_production_models()] == ["1.1.0"]
    assert "A/B test t1: clear win" in ws.registry.history("m").get_column("reason").to_list()
    with pytest.raises(mlmm.ConflictError, match="was decided already"):
        AB.decide(ws, "t1", "keep_a", reason="changed my mind")
    with pytest.raises(mlmm.ConflictError, match="test_id='t1' exists"):
        AB.create_test(ws, AB.ABTestConfig.create("m", "1.0.0", "1.1.0"), test_id="t1")
    AB.create_test(ws, AB.ABTestConfig.create("m", "1.0.0", "1.1.0"), test_id="t2", start=False)
    assert AB.get_test(ws, "t2").status == "draft"
    assert AB.stop(ws, "t2", reason="incident").status == "stopped"
    assert AB.list_tests(ws).select("test_id", "status", "decision").rows() == [("t2", "stopped", None),
                                                                                 ("t1", "decided", "deploy_b")]
    with pytest.raises(mlmm.NotFoundError, match="test_id='nope': no such A/B test"):
        AB.get_test(ws, "nope")


def test_a_stored_test_routes_ids_with_its_own_salt_and_share(ws):
    from mlmm.ab import router as R

    AB.create_test(ws, AB.ABTestConfig.for_challenger("m", "1.0.0", "1.1.0"), test_id="route-1")
    ids = [f"user-{i}" for i in range(20_000)]
    got = AB.assign(ws, "route-1", ids)
    assert list(got) == [R.assign("route-1", i, 0.2) for i in ids]
    assert abs((got == "B").mean() - 0.2) < 0.02
    assert AB.assign(ws, "route-1", "user-7") == R.assign("route-1", "user-7", 0.2)


def test_rollout_plan_sizes_each_step_and_checks_past_phases(ws):
    ws.registry.deploy("m", "1.0.0", env="production", at=T0 - HOUR)
    ws.registry.set_traffic("m", "1.1.0", 0.2, env="production", at=T0)
    ws.registry.set_traffic("m", "1.1.0", 0.5, env="production", at=T0 + 24 * HOUR)
    _arm(ws, "1.0.0", 800, 700, span=24 * HOUR, seed=1)
    _arm(ws, "1.1.0", 200, 180, span=24 * HOUR, seed=2)  # 20 %: as planned
    _arm(ws, "1.0.0", 800, 700, start=T0 + 24 * HOUR, span=24 * HOUR, seed=3)
    _arm(ws, "1.1.0", 200, 180, start=T0 + 24 * HOUR, span=24 * HOUR, seed=4)  # 20 % where 50 % was planned
    plan = AB.rollout_plan(ws, "m", "1.1.0", until=T0 + 48 * HOUR, traffic_window="2d")
    assert plan.steps.get_column("share").to_list() == [0.1, 0.25, 0.5, 1.0]
    base = 1760 / 2000
    first = S.proportion_power(base, base * 0.95, power=0.8, alpha=0.05, ratio=0.1 / 0.9, alternative="less")
    assert plan.steps.row(0, named=True)["needed_new"] == first.required_b
    assert plan.daily_predictions == 1000 and plan.label_rate == 1.0
    phases = plan.executed.select("planned_share", "new", "rest", "srm_mismatch").rows()
    assert phases == [(0.2, 200, 800, False), (0.5, 200, 800, True)]
    with pytest.raises(mlmm.ValidationError, match="steps="):
        AB.rollout_plan(ws, "m", "1.1.0", steps=(0.5, 0.1))


def test_a_worse_canary_is_rolled_back_with_the_reason(ws):
    ws.registry.deploy("m", "1.0.0", env="production", at=T0 - HOUR)
    ws.registry.set_traffic("m", "1.1.0", 0.3, env="production", at=T0)
    _arm(ws, "1.0.0", 2100, 1890, span=24 * HOUR, seed=1)  # 0.90
    _arm(ws, "1.1.0", 900, 630, span=24 * HOUR, seed=2)  # 0.70
    healthy = AB.canary_check(ws, "m", until=T0 + HOUR)  # one hour in: too few rows to judge
    assert healthy.verdict == "insufficient data" and not healthy.rolled_back
    r = AB.canary_check(ws, "m", until=T0 + 24 * HOUR, apply=True, actor="oncall")
    assert (r.verdict, r.stable, r.canary, r.share, r.rolled_back) == ("worse", "1.0.0", "1.1.0", 0.3, True)
    state = ws.registry.deployments("m").filter(pl.col("environment") == "production")
    assert state.select("version", "canary_version").row(0) == ("1.0.0", None)
    last = ws.registry.history("m").tail(1)
    assert last.item(0, "actor") == "oncall" and last.item(0, "reason").startswith("automatic: canary 1.1.0 is worse")
    with pytest.raises(mlmm.NotFoundError, match="no canary running"):
        AB.canary_check(ws, "m")


def test_shadow_compare_is_mcnemar_on_the_discordant_pairs():
    rng = np.random.default_rng(4)
    n = 500
    actual = rng.integers(0, 2, n)
    a = np.where(rng.random(n) < 0.85, actual, 1 - actual)
    b = np.where(rng.random(n) < 0.90, actual, 1 - actual)
    r = AB.shadow_compare(pl.DataFrame({"prediction_a": a, "prediction_b": b, "actual": actual}))
    table = np.array(r.table)
    assert r.mcnemar.p_value == pytest.approx(mcnemar(table, exact=True).pvalue, rel=1e-12)
    assert r.accuracy_b - r.accuracy_a == pytest.approx((table[1, 0] - table[0, 1]) / n)
    assert r.bootstrap.ci_low < r.accuracy_b - r.accuracy_a < r.bootstrap.ci_high
    with pytest.raises(mlmm.ValidationError, match="column 'actual' is missing"):
        AB.shadow_compare({"prediction_a": [1], "prediction_b": [1]})


def test_shadow_pairs_the_two_versions_on_the_request_id(ws):
    n = 400
    rng = np.random.default_rng(9)
    actual = rng.integers(0, 2, n)
    a = np.where(rng.random(n) < 0.8, actual, 1 - actual)
    b = np.where(rng.random(n) < 0.9, actual, 1 - actual)
    req = [f"r{i}" for i in range(n)]
    mlmm.log_predictions(ws, {"model_name": ["m"] * n, "version": ["1.0.0"] * n, "prediction": a.tolist(),
                              "actual": actual.tolist(), "request_id": req, "timestamp": [T0] * n})
    mlmm.log_predictions(ws, {"model_name": ["m"] * (n - 10), "version": ["1.1.0"] * (n - 10),
                              "prediction": b[10:].tolist(), "request_id": req[10:], "timestamp": [T0] * (n - 10)})
    r = AB.shadow_from_log(ws, "m", "1.0.0", "1.1.0")
    direct = AB.shadow_compare(pl.DataFrame({"prediction_a": a[10:], "prediction_b": b[10:], "actual": actual[10:]}))
    assert (r.pairs, r.table, r.mcnemar.p_value) == (n - 10, direct.table, direct.mcnemar.p_value)
    with pytest.raises(mlmm.ValidationError, match="key='session'"):
        AB.shadow_from_log(ws, "m", "1.0.0", "1.1.0", key="session")


def test_team_draft_interleaving_and_its_preference_test():
    a, b = ["d1", "d2", "d3", "d4"], ["d3", "d5", "d1", "d6"]
    items, teams = AB.team_draft_interleave(a, b, seed="request-7")
    assert sorted(items) == sorted(set(a) | set(b)) and len(set(items)) == len(items)
    assert abs(teams.count("A") - teams.count("B")) <= 1
    assert AB.team_draft_interleave(a, b, seed="request-7") == (items, teams)  # reproducible per request
    for k in range(1, len(items) + 1):  # every prefix is balanced within one pick
        assert abs(teams[:k].count("A") - teams[:k].count("B")) <= 1
    pref = AB.interleaving_preference([1, 0, 0, 2, 0, 1, 0, 0], [0, 1, 2, 0, 1, 1, 3, 1])
    assert (pref["wins_a"], pref["wins_b"], pref["ties"]) == (2, 5, 1)
    assert pref["p_value"] == binomtest(5, 7, 0.5).pvalue and pref["winner"] == "tie"


def test_validate_gates_on_floors_and_production(ws):
    ws.registry.deploy("m", "1.0.0", env="production")
    good = AB.validate(ws, "m", "1.1.0")
    assert good.passed and [c["check"] for c in good.checks][0] == "accuracy >= floor 0.8"
    ws.registry.register("m", "1.2.0", metrics={"accuracy": 0.83, "precision": 0.81}, config={"alert_accuracy": 0.8})
    bad = AB.validate(ws, "m", "1.2.0")
    failed = [c["check"] for c in bad.checks if not c["passed"]]
    assert not bad.passed and failed == ["accuracy not below production 1.0.0 - 0.01"]
    runner = CliRunner()
    path = str(ws.path)
    ws.close()
    out = runner.invoke(app, ["validate", "m", "1.2.0", "-w", path])
    assert out.exit_code == 3 and "FAILED: accuracy not below production 1.0.0 - 0.01 (0.83 vs 0.84)" in out.output
    assert runner.invoke(app, ["validate", "m", "1.1.0", "-w", path]).exit_code == 0


def test_cli_sample_size_states_both_effects_and_the_formula():
    out = CliRunner().invoke(app, ["ab", "sample-size", "--baseline", "0.85", "--mde", "0.02", "--json"])
    data = json.loads(out.output)
    plan = S.proportion_power(0.85, 0.87, power=0.8, alpha=0.05)
    assert (data["n_a"], data["n_b"], data["absolute_mde"]) == (plan.required_a, plan.required_b, pytest.approx(0.02))
    assert data["relative_mde"] == pytest.approx(0.02 / 0.85) and "pooled" in data["formula"]
    rel = json.loads(CliRunner().invoke(app, ["ab", "sample-size", "--baseline", "0.85", "--mde", "0.02", "--relative",
                                              "--ratio", "0.25", "--daily", "5000", "--json"]).output)
    assert rel["treatment"] == pytest.approx(0.867) and rel["n_b"] < rel["n_a"] and rel["days"] >= 1
    bad = CliRunner().invoke(app, ["ab", "sample-size", "--baseline", "1.5", "--mde", "0.02"])
    assert bad.exit_code == 1 and "baseline=1.5" in bad.output


def test_cli_create_evaluate_decide(ws):
    _arm(ws, "1.0.0", 2000, 1600, seed=1)
    _arm(ws, "1.1.0", 2000, 1760, seed=2)
    path = str(ws.path)
    ws.close()
    runner = CliRunner()
    made = runner.invoke(app, ["ab", "create", "m", "1.0.0", "1.1.0", "--id", "cli-1", "--duration", "3",
                               "--guardrail", "precision=0.1", "--json", "-w", path])
    assert made.exit_code == 0, made.output
    assert json.loads(made.output)["config"]["guardrails"] == {"precision": 0.1}
    ev = runner.invoke(app, ["ab", "evaluate", "cli-1", "--json", "-w", path])
    # the test started now: no predictions after its start yet
    assert json.loads(ev.output)["recommendation"] == "continue"
    listed = json.loads(runner.invoke(app, ["ab", "list", "--json", "-w", path]).output)
    assert [t["test_id"] for t in listed] == ["cli-1"]
    decided = runner.invoke(app, ["ab", "decide", "cli-1", "keep_a", "--reason", "not enough traffic", "-w", path])
    assert decided.exit_code == 0 and "decided (keep_a); the evaluation recommended continue" in decided.output
    assert runner.invoke(app, ["ab", "create", "m", "1.0.0", "1.1.0", "--preset", "bogus", "-w", path]).exit_code == 1


# ----------------------------------------------------------------------------- the demo
def test_the_demo_has_a_decided_a_running_and_a_broken_test(tmp_path):
    home = tmp_path / "ws"
    shutil.copytree(os.environ["MLMM_HOME"], home)
    ws = mlmm.open_workspace(home)
    try:
        tests = {r["test_id"]: r for r in AB.list_tests(ws).iter_rows(named=True)}
        assert {k: (v["status"], v["decision"]) for k, v in tests.items()} == {
            "ab-waf-canary-50": ("decided", "deploy_b"), "ab-n1-challenger-75": ("running", None),
            "ab-queue-gradual-10": ("running", None)}
        queue = AB.evaluate(ws, "ab-queue-gradual-10")
        assert queue.b.predictions / (queue.a.predictions + queue.b.predictions) < 0.1  # B's traffic was cut
        for test_id in tests:
            r = AB.evaluate(ws, test_id)
            assert r.recommendation in AB.DECISIONS and r.reason
    finally:
        ws.close()


def test_cli_canary_set_then_check_rolls_back_and_exits_3(ws):
    ws.registry.deploy("m", "1.0.0", env="production", at=T0 - HOUR)
    ws.registry.set_traffic("m", "1.1.0", 0.3, env="production", at=T0)
    _arm(ws, "1.0.0", 2100, 1890, span=24 * HOUR, seed=1)
    _arm(ws, "1.1.0", 900, 630, span=24 * HOUR, seed=2)
    path = str(ws.path)
    ws.close()
    runner = CliRunner()
    checked = runner.invoke(app, ["canary", "check", "m", "--until", (T0 + 24 * HOUR).isoformat(), "--apply", "-w", path])
    assert checked.exit_code == 3, checked.output
    assert checked.output.startswith("worse: canary 1.1.0 is worse than 1.0.0") and "-> rolled back" in checked.output
    again = runner.invoke(app, ["canary", "set", "m", "1.1.0", "0.1", "--reason", "retry", "-w", path])
    assert again.exit_code == 0 and "m 1.1.0: 10% of production traffic" in again.output


def test_the_canary_window_starts_at_the_current_run(ws):
    ws.registry.deploy("m", "1.0.0", env="production", at=T0 - 48 * HOUR)
    ws.registry.set_traffic("m", "1.1.0", 0.5, env="production", at=T0 - 40 * HOUR)  # an earlier run ...
    ws.registry.deploy("m", "1.0.0", env="production", at=T0 - 30 * HOUR)  # ... ended by a redeploy
    ws.registry.set_traffic("m", "1.1.0", 0.3, env="production", at=T0)
    _arm(ws, "1.0.0", 700, 630, span=24 * HOUR, seed=1)
    _arm(ws, "1.1.0", 300, 270, span=24 * HOUR, seed=2)
    r = AB.canary_check(ws, "m", until=T0 + 24 * HOUR)
    assert r.since == T0


def test_shadow_takes_the_latest_label_of_either_row(ws):
    mlmm.log_predictions(ws, {"model_name": ["m"] * 4, "version": ["1.0.0", "1.1.0"] * 2, "prediction": [1, 0] * 2,
                              "request_id": ["r1", "r1", "r2", "r2"], "prediction_id": ["a1", "b1", "a2", "b2"],
                              "timestamp": [T0] * 4})
    mlmm.log_labels(ws, "m", pl.DataFrame({"prediction_id": ["a1", "a2"], "actual": [1, 1],
                                           "labeled_at": ["2026-03-02T00:00:00Z"] * 2}))
    mlmm.log_labels(ws, "m", pl.DataFrame({"prediction_id": ["b1", "b2"], "actual": [0, 0],
                                           "labeled_at": ["2026-03-03T00:00:00Z"] * 2}))
    r = AB.shadow_from_log(ws, "m", "1.0.0", "1.1.0")
    assert (r.accuracy_a, r.accuracy_b) == (0.0, 1.0)  # the later label (0) is the truth
