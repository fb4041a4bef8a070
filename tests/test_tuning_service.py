"""Tuning on the workspace (mlmm.tuning.service and .runs): threshold sweeps on the log, the queue
detector's grid search with time-ordered validation, applying as audited configuration revisions,
the CLI."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

import mlmm
from mlmm import tuning as T
from mlmm.cli import app
from mlmm.demo.queue_anomaly import QueueAnomalyDetector

END = "2026-11-01T00:00:00Z"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    target = tmp_path_factory.mktemp("demo") / "ws"
    shutil.copytree(os.environ["MLMM_HOME"], target)
    return target


def test_the_threshold_sweep_reads_the_log_and_applies_only_a_clear_gain(demo):
    ws = mlmm.open_workspace(demo)
    try:
        run = T.tune_threshold(ws, "n1-detector", last="30d", until=END)
        meta = ws.registry.get("n1-detector", run.version)
        assert run.current == {"threshold": meta.configuration["threshold"]}
        # the same numbers as the pure function on the same rows
        rows = (ws.predictions("n1-detector", run.version, since="2026-10-02T00:00:00Z", until=END)
                .filter(pl.col("actual").is_not_null() & pl.col("confidence").is_not_null()).collect())
        lo, hi = meta.configuration["tuning_range"]
        direct = T.optimize_threshold(rows.get_column("confidence").to_numpy(), (rows.get_column("actual") == 1).to_numpy(),
                                      current=run.current["threshold"], grid=(lo, hi, meta.configuration["tuning_step"]))
        assert run.best == {"threshold": direct.threshold} and run.improvement == pytest.approx(direct.improvement)
        assert run.summary.startswith(f"F1 {direct.current_value:.3f} -> {direct.value:.3f}")
        assert run.table.get_column("threshold").to_list() == pytest.approx(list(np.round(np.arange(lo, hi + 1e-9, 0.05), 2)))
        assert not run.applied
        # applying writes a configuration revision that names the run; rollback_config undoes it
        assert direct.threshold != run.current["threshold"] and direct.clears_minimum
        applied = T.tune_threshold(ws, "n1-detector", last="30d", until=END, apply=True, actor="ana")
        assert applied.applied
        assert ws.registry.get("n1-detector", run.version).configuration["threshold"] == applied.best["threshold"]
        event = ws.registry.history("n1-detector").tail(1).row(0, named=True)
        assert event["actor"] == "ana" and event["reason"].startswith(f"tuning run {applied.run_id}: F1 ")
        ws.registry.rollback_config("n1-detector", run.version, reason="undo the tuning")
        assert ws.registry.get("n1-detector", run.version).configuration["threshold"] == run.current["threshold"]
        # a bar it does not clear: nothing is applied, and the summary says why
        kept = T.tune_threshold(ws, "n1-detector", last="30d", until=END, min_improvement=0.5, apply=True)
        assert not kept.applied and "Not applied" in kept.summary
        runs = T.history(ws, "n1-detector")
        assert runs.height >= 1 and runs.get_column("kind").to_list()[0] == "threshold"
        with pytest.raises(mlmm.ValidationError, match="expected at least 100"):
            T.tune_threshold(ws, "n1-detector", last="1h", until=END)
    finally:
        ws.close()


def test_grid_search_improves_the_queue_detector_on_held_out_days(demo):
    ws = mlmm.open_workspace(demo)
    try:
        grid = {"window_size": [50, 100], "log": [False, True]}
        run = T.grid_search_detector(ws, "queue-anomaly", grid=grid, tune_days=10, holdout_days=6, until=END)
        assert run.kind == "grid" and run.table.height == 4 and run.table.get_column("rank").to_list() == [1, 2, 3, 4]
        best = run.best["params"]
        assert best["log"] is True  # the seed's raw-value z-scores are what tuning improves on
        assert run.improvement > 0.03 and run.clears_minimum
        assert run.best["score"] > run.current["score"]
        # the held-out days were not used to choose: re-scoring the tuning days gives the ranking's score
        top = run.table.row(0, named=True)
        assert top["score"] == pytest.approx(run.table.get_column("score").max())
        same = T.grid_search_detector(ws, "queue-anomaly", grid=grid, tune_days=10, holdout_days=6, until=END, n_jobs=2)
        assert same.table.drop("seconds").equals(run.table.drop("seconds"))  # deterministic across processes
        applied = T.grid_search_detector(ws, "queue-anomaly", grid=grid, tune_days=10, holdout_days=6, until=END,
                                         apply=True, actor="dave")
        config = ws.registry.get("queue-anomaly", applied.version).configuration
        assert {k: config[k] for k in grid} == best
        assert QueueAnomalyDetector.from_config(config).log is True
        with pytest.raises(mlmm.ValidationError, match="param 'depth'"):
            T.grid_search_detector(ws, "queue-anomaly", grid={"depth": [1]}, until=END)
    finally:
        ws.close()


def test_cli_tune_threshold_grid_and_history(demo):
    runner = CliRunner()
    out = runner.invoke(app, ["tune", "threshold", "n1-detector", "--until", END, "--range", "0.6:0.9", "--step", "0.1",
                              "--json", "-w", str(demo)])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert [round(r["threshold"], 2) for r in data["table"]] == [0.6, 0.7, 0.8, 0.9]
    assert data["objective"] == "f1" and data["summary"]
    grid = runner.invoke(app, ["tune", "grid", "queue-anomaly", "--param", "window=50,100", "--param", "log=true",
                               "--tune-days", "10", "--holdout-days", "6", "--until", END, "--json", "-w", str(demo)])
    assert grid.exit_code == 0, grid.output
    assert json.loads(grid.output)["best"]["params"]["window_size"] in (50, 100)
    hist = runner.invoke(app, ["tune", "history", "--json", "-w", str(demo)])
    assert {"threshold", "grid"} <= {r["kind"] for r in json.loads(hist.output)}
    bad = runner.invoke(app, ["tune", "grid", "queue-anomaly", "--param", "window", "-w", str(demo)])
    assert bad.exit_code == 1 and "param='window': expected NAME=V1,V2" in bad.output


def test_adaptive_adjustment_on_the_log(demo):
    ws = mlmm.open_workspace(demo)
    try:
        result = T.adaptive(ws, "waf-behavioral", last="7d", until=END)
        meta = ws.registry.get("waf-behavioral", "2.1.0")
        assert result.current == meta.configuration["threshold"]
        lo, hi = meta.configuration["tuning_range"]
        assert lo <= result.threshold <= hi and abs(result.threshold - result.current) <= 0.1 + 1e-12
        assert result.explanation
        direct = T.adaptive_adjustment(result.current, fp_rate=result.fp_rate, fn_rate=result.fn_rate,
                                       step=meta.configuration["tuning_step"], max_step=0.1, bounds=(lo, hi))
        assert direct.threshold == result.threshold
    finally:
        ws.close()
    out = CliRunner().invoke(app, ["tune", "adaptive", "waf-behavioral", "--last", "7d", "--until", END, "--json",
                                   "-w", str(demo)])
    assert out.exit_code == 0 and json.loads(out.output)["threshold"] == result.threshold
