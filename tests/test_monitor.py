"""Monitoring: exact metrics on hand-built logs, intervals against statsmodels, trends,
comparisons, degradation and concept drift on the demo's episodes, empty windows."""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from statsmodels.stats.proportion import proportion_confint, proportions_ztest

import mlmm
from mlmm import monitor as M

UTC = dt.UTC
T0 = dt.datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

# A 10-row log whose confusion matrix can be read off: positive class 1.
#   row:        0    1    2    3    4    5    6    7    8    9
PRED = [1, 1, 1, 0, 0, 0, 0, 1, 0, 0]
ACT = [1, 1, 0, 0, 0, 1, 0, 1, 0, 0]
CONF = [0.9, 0.8, 0.7, 0.2, 0.1, 0.4, 0.3, 0.95, 0.05, 0.15]
# tp = rows 0, 1, 7 -> 3; fp = row 2 -> 1; fn = row 5 -> 1; tn = rows 3, 4, 6, 8, 9 -> 5


@pytest.fixture
def ws(tmp_path: Path) -> mlmm.Workspace:
    w = mlmm.open_workspace(tmp_path / "ws")
    w.registry.register("m", "1.0.0", metrics={"accuracy": 0.9, "precision": 0.8, "recall": 0.9, "f1": 0.85})
    w.registry.register("m", "1.1.0")
    yield w
    w.close()


def _log(ws: mlmm.Workspace, pred, act, conf, *, version="1.0.0", start=T0, step=dt.timedelta(minutes=1), **features):
    n = len(pred)
    frame = {"model_name": ["m"] * n, "version": [version] * n, "prediction": pred, "actual": act,
             "confidence": conf, "timestamp": [start + i * step for i in range(n)], **features}
    summary = mlmm.log_predictions(ws, frame)
    assert summary.quarantined == 0
    return summary


def test_a_ten_row_log_gives_the_metrics_read_off_by_hand(ws):
    _log(ws, PRED, ACT, CONF)
    m = M.metrics(ws, "m", since=T0, until=T0 + dt.timedelta(hours=1), min_labelled=10)
    assert (m.count, m.labelled, m.tp, m.fp, m.tn, m.fn, m.correct) == (10, 10, 3, 1, 5, 1, 8)
    assert m.confusion_matrix().rows() == [("negative", 5, 1), ("positive", 1, 3)]
    assert (m.accuracy.value, m.precision.value, m.recall.value, m.specificity.value) == (0.8, 0.75, 0.75, 5 / 6)
    assert (m.fpr.value, m.fnr.value, m.f1) == (1 / 6, 0.25, 0.75)
    assert m.f1_rows == 5 and m.precision.trials == 4 and m.specificity.trials == 6
    assert m.mean_confidence == pytest.approx(sum(CONF) / 10, abs=1e-12)
    brier = sum((c - a) ** 2 for c, a in zip(CONF, ACT, strict=True)) / 10
    assert m.brier == pytest.approx(brier, abs=1e-12)
    # ECE, ten equal-width bins: |sum(conf) - sum(actual)| per bin over n
    ece = 0.0
    for b in range(10):
        rows = [i for i, c in enumerate(CONF) if min(int(c * 10), 9) == b]
        ece += abs(sum(CONF[i] for i in rows) - sum(ACT[i] for i in rows))
    assert m.ece == pytest.approx(ece / 10, abs=1e-12)
    assert m.sufficient and m.message == "10 labelled of 10 predictions"


def test_every_interval_is_the_wilson_interval_of_statsmodels(ws):
    _log(ws, PRED, ACT, CONF)
    m = M.metrics(ws, "m", min_labelled=1)
    for name in M.PROPORTIONS + ("coverage",):
        e = getattr(m, name)
        lo, hi = proportion_confint(e.successes, e.trials, alpha=0.05, method="wilson")
        assert (e.low, e.high) == pytest.approx((lo, hi), abs=1e-12), name


def test_unlabelled_rows_count_for_coverage_only(ws):
    _log(ws, PRED, ACT[:6] + [None] * 4, CONF)
    m = M.metrics(ws, "m", min_labelled=1)
    assert (m.count, m.labelled, m.coverage.value) == (10, 6, 0.6)
    assert (m.tp, m.fp, m.tn, m.fn) == (2, 1, 2, 1)
    assert m.brier == pytest.approx(sum((c - a) ** 2 for c, a in zip(CONF[:6], ACT[:6], strict=True)) / 6)


def test_a_late_label_replaces_the_logged_actual(ws):
    _log(ws, [1, 0], [None, None], [0.9, 0.1], prediction_id=["a", "b"])
    mlmm.log_labels(ws, "m", {"a": 0, "b": 0})
    m = M.metrics(ws, "m", min_labelled=1)
    assert (m.tp, m.fp, m.tn, m.fn) == (0, 1, 1, 0)


def test_an_empty_or_thin_window_is_a_result_not_an_error(ws):
    m = M.metrics(ws, "m", last="24h")
    assert (m.count, m.labelled, m.accuracy.value, m.f1, m.brier, m.ece) == (0, 0, None, None, None, None)
    assert not m.sufficient and m.message == "no predictions in last 24h"
    text = json.dumps(m.to_dict())
    assert "NaN" not in text
    _log(ws, PRED, ACT, CONF)
    thin = M.metrics(ws, "m")
    assert thin.message == "insufficient data: 10 labelled of 10 predictions, at least 100 labelled needed"
    assert repr(thin).endswith("all predictions: insufficient data: 10 labelled of 10 predictions, at least 100 labelled needed>")


def test_windows_by_last_n_by_version_and_since_deploy(ws):
    _log(ws, PRED, ACT, CONF)
    _log(ws, [1, 1], [0, 0], [0.9, 0.9], version="1.1.0", start=T0 + dt.timedelta(hours=2))
    assert M.metrics(ws, "m", last_n=3, min_labelled=1).count == 3
    assert M.metrics(ws, "m", last_n=3, min_labelled=1).fp == 2  # the two 1.1.0 rows and row 9 (tn)
    assert M.metrics(ws, "m", "1.1.0", min_labelled=1).count == 2
    ws.registry.deploy("m", "1.1.0", env="staging", at=T0 + dt.timedelta(hours=1, minutes=30))
    w = M.resolve_window(ws, "m", since_deploy="1.1.0", env="staging")
    assert w.since == T0 + dt.timedelta(hours=1, minutes=30) and w.version == "1.1.0"
    assert M.metrics(ws, "m", window=w, min_labelled=1).count == 2
    with pytest.raises(mlmm.NotFoundError, match="never deployed to production"):
        M.resolve_window(ws, "m", since_deploy="1.0.0")
    with pytest.raises(mlmm.NotFoundError):
        M.metrics(ws, "nope")
    with pytest.raises(mlmm.ValidationError, match="last_n=0: expected a positive integer"):
        M.metrics(ws, "m", last_n=0)


def test_trends_per_hour_and_per_row_count(ws):
    # hour 0: 10 rows of the hand log; hour 1: 4 rows all correct; hour 3: 2 rows all wrong
    _log(ws, PRED, ACT, CONF)
    _log(ws, [1, 0, 1, 0], [1, 0, 1, 0], [0.9, 0.1, 0.8, 0.2], start=T0 + dt.timedelta(hours=1))
    _log(ws, [1, 1], [0, 0], [0.9, 0.9], start=T0 + dt.timedelta(hours=3))
    tr = M.trends(ws, "m", interval="1h", min_labelled=3)
    assert tr.select("start", "count", "labelled", "accuracy", "sufficient").rows() == [
        (T0, 10, 10, 0.8, True),
        (T0 + dt.timedelta(hours=1), 4, 4, 1.0, True),
        (T0 + dt.timedelta(hours=3), 2, 2, 0.0, False),
    ]
    lo, hi = proportion_confint(8, 10, method="wilson")
    assert tr.row(0, named=True)["accuracy_low"] == pytest.approx(lo) and tr.row(0, named=True)["accuracy_high"] == pytest.approx(hi)
    assert tr.get_column("precision").to_list() == [0.75, 1.0, 0.0]
    rows = M.trends(ws, "m", interval="4rows", min_labelled=1)
    assert rows.get_column("count").to_list() == [4, 4, 4, 4]
    assert rows.get_column("accuracy").to_list() == [0.75, 0.75, 1.0, 0.5]
    with pytest.raises(mlmm.ValidationError, match="interval='0rows'"):
        M.trends(ws, "m", interval="0rows")
    chart = M.trend_chart(tr, floor=0.85, baseline=0.9)
    spec = chart.to_dict()
    assert len(spec["layer"]) == 4  # band, line, floor, baseline


def test_compare_versions_uses_the_pooled_z_test(ws):
    rng = np.random.default_rng(3)
    a = (rng.random(400) < 0.80).astype(int).tolist()
    b = (rng.random(500) < 0.88).astype(int).tolist()
    _log(ws, [1] * 400, a, [0.9] * 400)
    _log(ws, [1] * 500, b, [0.9] * 500, version="1.1.0", start=T0 + dt.timedelta(days=1))
    r = M.compare_versions(ws, "m", "1.0.0", "1.1.0")
    acc = next(x for x in r.metrics if x.metric == "accuracy")
    _, p = proportions_ztest([sum(b), sum(a)], [500, 400])
    assert acc.p_value == pytest.approx(p, rel=1e-9)
    assert acc.difference == pytest.approx(sum(b) / 500 - sum(a) / 400)
    assert acc.significant and acc.better == "b" and r.verdict.startswith("1.1.0 is more accurate")
    assert set(r.to_dict()) >= {"verdict", "metrics", "a", "b"}


def test_degradation_against_the_registry_baseline(ws):
    # baseline accuracy 0.9; 40 rows at 0.85 is a 5.6 % drop, not significant on 40 rows
    _log(ws, [1] * 40, [1] * 34 + [0] * 6, [0.9] * 40)
    small = M.degradation(ws, "m", "1.0.0", min_labelled=30, metrics_to_check=("accuracy",), since=T0)
    acc = small.metrics[0]
    assert (acc.baseline, acc.current, acc.level, acc.rows) == (0.9, 0.85, "warning", 40)
    assert acc.drop == pytest.approx(0.05 / 0.9)
    from scipy.stats import binomtest
    assert acc.p_value == pytest.approx(binomtest(34, 40, 0.9, alternative="less").pvalue)
    assert not acc.significant and not small.has_degraded
    assert "not significant" in small.message and "40 rows" in small.message
    # 400 rows at 0.85: the same drop is significant
    _log(ws, [1] * 360, [1] * 306 + [0] * 54, [0.9] * 360, start=T0 + dt.timedelta(hours=1))
    big = M.degradation(ws, "m", "1.0.0", metrics_to_check=("accuracy",), since=T0)
    assert big.has_degraded and big.level == "warning" and big.metrics[0].rows == 400
    assert big.metrics[0].current == 0.85 and big.metrics[0].significant
    # thresholds come from the model's configuration when set
    ws.registry.update_config("m", "1.0.0", {"degradation_warning": 0.1, "degradation_critical": 0.2})
    relaxed = M.degradation(ws, "m", "1.0.0", metrics_to_check=("accuracy",), since=T0)
    assert relaxed.level == "ok" and not relaxed.has_degraded
    with pytest.raises(mlmm.ValidationError, match="warning=0.3, critical=0.2"):
        M.degradation(ws, "m", "1.0.0", warning=0.3, critical=0.2, since=T0)


def test_analyze_errors_by_confidence_and_by_feature(ws):
    _log(ws, PRED, ACT, CONF, endpoint=["/a", "/a", "/b", "/b", "/a", "/b", "/a", "/a", "/a", "/a"])
    by_conf = M.analyze_errors(ws, "m")
    worst = by_conf.row(0, named=True)
    assert (worst["group"], worst["labelled"], worst["errors"], worst["fp"], worst["fn"]) in {
        ("0.7-0.8", 1, 1, 1, 0), ("0.4-0.5", 1, 1, 0, 1)}
    assert by_conf.get_column("errors").sum() == 2 and by_conf.get_column("share_of_errors").sum() == 1.0
    by_ep = M.analyze_errors(ws, "m", by="endpoint")
    assert by_ep.select("group", "labelled", "errors", "fp", "fn").rows() == [("/b", 3, 2, 1, 1), ("/a", 7, 0, 0, 0)]
    with pytest.raises(mlmm.ValidationError, match="by='nope': expected a feature of m"):
        M.analyze_errors(ws, "m", by="nope")


def test_data_sufficiency_counts_per_version(ws):
    _log(ws, PRED, ACT[:5] + [None] * 5, CONF)
    r = M.data_sufficiency(ws, "m", since=T0 - dt.timedelta(days=1), min_labelled=5)
    assert (r.predictions, r.labelled, r.sufficient, r.days_with_data) == (10, 5, True, 1)
    assert r.per_version.select("version", "predictions", "labelled").rows() == [("1.0.0", 10, 5)]
    assert r.message.startswith("sufficient: 5 labelled of 10 predictions (50% labelled)")


# ----------------------------------------------------------------------------- the demo
@pytest.fixture(scope="module")
def demo_ws(tmp_path_factory):
    """A copy of the session's demo workspace (30 days ending 2026-11-01, 30k rows)."""
    target = tmp_path_factory.mktemp("demo") / "ws"
    shutil.copytree(os.environ["MLMM_HOME"], target)
    w = mlmm.open_workspace(target)
    yield w
    w.close()


END = "2026-11-01T00:00:00Z"


def test_the_demo_waf_drift_is_found_on_the_right_days(demo_ws):
    episode = next(e for e in json.loads((Path(demo_ws.path) / "demo.json").read_text())["episodes"]
                   if e["model_name"] == "waf-behavioral")
    start = dt.datetime.fromisoformat(episode["start"])
    daily = M.trends(demo_ws, "waf-behavioral", interval="1d", last="30d", until=END, min_labelled=30)
    worst = daily.filter(pl.col("sufficient")).sort("accuracy").row(0, named=True)["start"]
    assert start - dt.timedelta(days=1) <= worst <= dt.datetime.fromisoformat(episode["end"])
    drift = M.concept_drift(demo_ws, "waf-behavioral", last="30d", until=END)
    assert drift.drift_detected
    rises = [d.timestamp for d in drift.detections if d.direction == "increase"]
    assert any(start - dt.timedelta(days=1) <= t <= start + dt.timedelta(days=3) for t in rises), (start, rises)


def test_the_demo_summary_shows_the_floor_crossed_by_waf(demo_ws):
    frame = M.summary(demo_ws, last="7d", until=END)
    row = frame.filter(pl.col("model") == "waf-behavioral").row(0, named=True)
    assert row["floor"] == 0.9 and row["below_floor"] and row["status"] == "below floor (critical)"
    assert math.isclose(row["baseline_accuracy"], demo_ws.registry.get("waf-behavioral", row["version"]).performance_metrics["accuracy"])


def _hourly_truth(ws, since, until, version=None, every="1h"):
    lf = ws.predictions("m", version, since=since, until=until)
    return (lf.group_by(pl.col("timestamp").dt.truncate(every).alias("start"))
            .agg(pl.len().alias("count"), pl.col("actual").is_not_null().sum().alias("labelled"),
                 (pl.col("actual") == pl.col("prediction")).sum().alias("correct"))
            .sort("start").collect())


def test_trends_from_the_hourly_cache_equal_the_rows_and_follow_new_labels(ws):
    rng = np.random.default_rng(5)
    n = 3000
    stamps = [T0 + dt.timedelta(seconds=int(s)) for s in np.sort(rng.integers(0, 3 * 86400, n))]
    pred = rng.integers(0, 2, n).tolist()
    act = [None if rng.random() < 0.3 else int(p if rng.random() < 0.8 else 1 - p) for p in pred]
    ids = [f"r{i}" for i in range(n)]
    versions = ["1.0.0" if i % 3 else "1.1.0" for i in range(n)]
    mlmm.log_predictions(ws, {"model_name": ["m"] * n, "version": versions, "prediction": pred, "actual": act,
                              "confidence": rng.random(n).round(3).tolist(), "timestamp": stamps, "prediction_id": ids})
    since, until = T0 + dt.timedelta(minutes=17), T0 + dt.timedelta(days=2, hours=5, minutes=41)  # cut hours

    def check(version=None, every="1h"):
        got = M.trends(ws, "m", version, interval=every, since=since, until=until, min_labelled=1)
        truth = _hourly_truth(ws, since, until, version, every)
        assert got.select("start", "count", "labelled").rows() == truth.select("start", "count", "labelled").rows()
        acc = (truth.get_column("correct") / truth.get_column("labelled")).to_list()
        assert got.get_column("accuracy").to_list() == pytest.approx(acc, nan_ok=True)

    check()
    assert list((ws.path / "cache" / "hourly" / "model_name=m").iterdir())  # the days were kept
    check()  # now from the cache
    check("1.1.0")
    check(every="6h")
    by_version = M.trends(ws, "m", interval="1d", since=since, until=until, by_version=True, min_labelled=1)
    assert by_version.get_column("count").sum() == _hourly_truth(ws, since, until).get_column("count").sum()
    # new labels for the first day: its cached counts are stale and recomputed
    mlmm.log_labels(ws, "m", {i: 1 - p for i, p in zip(ids[:500], pred[:500], strict=True)})
    check()
    # a label that arrived before its prediction: joined at query time, trends stay right
    mlmm.log_labels(ws, "m", {"late": 1})
    mlmm.log_predictions(ws, {"model_name": ["m"], "version": ["1.0.0"], "prediction": [1], "prediction_id": ["late"],
                              "timestamp": [T0 + dt.timedelta(hours=3, minutes=5)]})
    check()


# ----------------------------------------------------------------------------- the CLI
@pytest.mark.parametrize("args, check", [
    (["monitor", "summary", "--last", "7d", "--until", END],
     lambda d: {r["model"] for r in d} == {"n1-detector", "waf-behavioral", "queue-anomaly"}),
    (["monitor", "details", "waf-behavioral", "--last", "7d", "--until", END],
     lambda d: d["window"]["label"] == "last 7d" and d["sufficient"] and 0 < d["accuracy"]["value"] < 0.9),
    (["monitor", "details", "n1-detector", "--recent", "50", "--until", END],
     lambda d: d["count"] == 50 and not d["sufficient"] and d["message"].startswith("insufficient data: ")),
    (["monitor", "trends", "waf-behavioral", "--interval", "1d", "--last", "30d", "--until", END],
     lambda d: len(d) >= 29 and {"accuracy", "accuracy_low", "accuracy_high", "sufficient"} <= set(d[0])),
    (["monitor", "compare", "n1-detector", "1.0.0", "1.1.0", "--last", "30d", "--until", END],
     lambda d: d["verdict"] and [m["metric"] for m in d["metrics"]][:3] == ["accuracy", "precision", "recall"]),
    (["monitor", "analyze-errors", "waf-behavioral", "--by", "user_agent_class", "--last", "30d", "--until", END],
     lambda d: sum(r["errors"] for r in d) > 0 and abs(sum(r["share_of_errors"] for r in d) - 1) < 1e-9),
    (["monitor", "data-sufficiency", "queue-anomaly", "--last", "30d", "--until", END],
     lambda d: d["sufficient"] and d["predictions"] > d["labelled"] > 0),
])
def test_cli_monitor_commands_answer_in_json(demo_ws, args, check):
    from typer.testing import CliRunner

    from mlmm.cli import app

    result = CliRunner().invoke(app, [*args, "--json", "--workspace", str(demo_ws.path)])
    assert result.exit_code == 0, result.output
    assert check(json.loads(result.output))


def test_cli_degradation_and_drift_exit_3_on_the_demo_episode(demo_ws):
    from typer.testing import CliRunner

    from mlmm.cli import app

    runner = CliRunner()
    deg = runner.invoke(app, ["monitor", "degradation", "waf-behavioral", "--last", "7d", "--until", END,
                              "--json", "--workspace", str(demo_ws.path)])
    assert deg.exit_code == 3 and json.loads(deg.output)["has_degraded"]
    drift = runner.invoke(app, ["monitor", "drift", "waf-behavioral", "--last", "30d", "--until", END,
                                "--workspace", str(demo_ws.path)])
    assert drift.exit_code == 3 and "drift detected: True" in drift.output
    calm = runner.invoke(app, ["monitor", "degradation", "n1-detector", "--last", "7d", "--until", END,
                               "--workspace", str(demo_ws.path)])
    assert calm.exit_code == 0, calm.output
    bad = runner.invoke(app, ["monitor", "details", "nope", "--workspace", str(demo_ws.path)])
    assert bad.exit_code == 1 and bad.output.startswith("error: ")
