"""Feature drift on the workspace: references, checks, history, over time, CLI, alerts, the
demo's feature shift, and the report notebook's size with 50 columns."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

import mlmm
from mlmm import drift as D
from mlmm.cli import app

UTC = dt.UTC
T0 = dt.datetime(2026, 3, 1, tzinfo=UTC)
DAY = dt.timedelta(days=1)


def _log_days(ws, days, n_per_day, shift_from=None, seed=0, extra_columns=0):
    """``days`` days of predictions of model m; from day ``shift_from`` on, x moves by one
    standard deviation and the category mix of c changes; y never changes."""
    rng = np.random.default_rng(seed)
    frames = []
    for d in range(days):
        shifted = shift_from is not None and d >= shift_from
        n = n_per_day
        frame = {
            "model_name": ["m"] * n, "version": ["1.0.0"] * n, "prediction": rng.integers(0, 2, n).tolist(),
            "timestamp": [T0 + d * DAY + dt.timedelta(seconds=int(s)) for s in np.sort(rng.integers(0, 86400, n))],
            "x": rng.normal(1.0 if shifted else 0.0, 1.0, n).tolist(),
            "y": rng.normal(5.0, 2.0, n).tolist(),
            "c": rng.choice(["a", "b", "c"], n, p=[0.2, 0.3, 0.5] if shifted else [0.5, 0.3, 0.2]).tolist(),
        }
        for k in range(extra_columns):
            frame[f"f{k:02d}"] = rng.normal(0, 1, n).tolist()
        frames.append(pl.DataFrame(frame))
    summary = mlmm.log_predictions(ws, pl.concat(frames))
    assert summary.quarantined == 0


@pytest.fixture
def ws(tmp_path: Path) -> mlmm.Workspace:
    w = mlmm.open_workspace(tmp_path / "ws")
    w.registry.register("m", "1.0.0")
    yield w
    w.close()


def test_a_stored_reference_finds_the_shifted_columns_and_is_recorded(ws):
    _log_days(ws, 10, 2000, shift_from=7)
    ref = D.set_reference(ws, "m", window="2026-03-01..2026-03-06", actor="ana", reason="a calm week")
    assert (ref.rows, ref.columns, ref.source) == (10_000, ("x", "y", "c"), "log 2026-03-01 00:00 to 2026-03-06 00:00 UTC")
    assert ref.sample_path.exists() and pl.read_parquet(ref.sample_path).height == 10_000
    result = D.check(ws, "m", current="2026-03-09..2026-03-10")
    assert result.drifted_columns == ["x", "c"] and result.dataset_drift
    x = result.report["x"]
    assert (x.test, x.threshold) == ("wasserstein", 0.1) and x.statistic > 0.5
    # the same numbers as the pure function on the same frames
    cur = ws.predictions("m", since="2026-03-09", until="2026-03-10", with_labels=False).select("x", "y", "c").collect()
    ref_frame = ws.predictions("m", since="2026-03-01", until="2026-03-06", with_labels=False).select("x", "y", "c").collect()
    pure = D.compare(ref_frame, cur)
    assert [c.statistic for c in result.report.columns] == pytest.approx([c.statistic for c in pure.columns], rel=1e-12)
    hist = D.history(ws, "m")
    assert hist.select("check_id", "column", "drifted").rows() == [(result.check_id, "x", True), (result.check_id, "y", False),
                                                                    (result.check_id, "c", True)]
    assert D.get_reference(ws, "m").reference_id == ref.reference_id
    assert D.list_references(ws).select("reference_id", "rows", "columns", "actor").rows() == [(ref.reference_id, 10_000, 3, "ana")]
    calm = D.check(ws, "m", current="2026-03-06..2026-03-07", record=False)
    assert calm.drifted_columns == [] and not calm.dataset_drift
    assert D.history(ws, "m").height == 3  # not recorded


def test_the_sketch_stands_in_when_the_sample_is_gone(ws):
    _log_days(ws, 10, 2000, shift_from=7)
    ref = D.set_reference(ws, "m", window="2026-03-01..2026-03-06")
    ref.sample_path.unlink()
    stored = D.get_reference(ws, "m")
    assert isinstance(stored.data(), D.ReferenceSketch)
    result = D.check(ws, "m", current="2026-03-09..2026-03-10")
    assert result.drifted_columns == ["x", "c"] and result.report["x"].approximate


def test_window_references_previous_and_errors(ws, tmp_path):
    _log_days(ws, 10, 500, shift_from=7)
    prev = D.check(ws, "m", current="2026-03-08..2026-03-10", reference="previous", record=False)
    assert prev.reference == "log the 2d before" and prev.drifted_columns == ["x", "c"]
    same = D.check(ws, "m", current="2026-03-03..2026-03-05", reference="2026-03-01..2026-03-03", columns=["x"], record=False)
    assert same.drifted_columns == []
    path = tmp_path / "ref.parquet"
    pl.DataFrame({"x": np.random.default_rng(1).normal(0, 1, 3000)}).write_parquet(path)
    from_file = D.set_reference(ws, "m", data=path)
    assert from_file.source == "file ref.parquet" and from_file.columns == ("x",)
    assert D.check(ws, "m", current="2026-03-09..2026-03-10", reference=from_file.reference_id, record=False).drifted_columns == ["x"]
    with pytest.raises(mlmm.ValidationError, match=r"columns=\['nope'\]: not in the log of m"):
        D.check(ws, "m", columns=["nope"], reference="previous", current="2026-03-09..2026-03-10")
    with pytest.raises(mlmm.ValidationError, match="reference log 2025-01-01 00:00 to 2025-01-02 00:00 UTC: no rows"):
        D.set_reference(ws, "m", window="2025-01-01..2025-01-02")
    with pytest.raises(mlmm.ValidationError, match="window='yesterday': expected last=<duration>"):
        D.check(ws, "m", current="yesterday")
    with pytest.raises(mlmm.ValidationError, match="expected exactly one of window="):
        D.set_reference(ws, "m")
    with pytest.raises(mlmm.NotFoundError, match="reference_id='ref-nope'"):
        D.check(ws, "m", reference="ref-nope")


def test_over_time_finds_the_first_shifted_day(ws):
    _log_days(ws, 10, 5000, shift_from=7)  # 5000 a day: the sampling noise of W1/sd is ~0.03, under 0.1
    D.set_reference(ws, "m", window="2026-03-01..2026-03-04")
    chunks = D.over_time(ws, "m", window="2026-03-04..2026-03-11", every="1d")
    drifted = chunks.filter(pl.col("drifted")).group_by("column").agg(pl.col("start").min()).sort("column").rows()
    assert drifted == [("c", T0 + 7 * DAY), ("x", T0 + 7 * DAY)]
    spec = D.score_chart(chunks).to_dict()
    assert len(json.dumps(spec)) < 60_000  # aggregated: one point per chunk and column
    ref = ws.predictions("m", until="2026-03-04", with_labels=False).collect()
    cur = ws.predictions("m", since="2026-03-08", with_labels=False).collect()
    for column in ("x", "c"):
        spec = D.distribution_chart(ref, cur, column).to_dict()
        assert len(spec["data"]["values"]) <= 60


def test_cli_check_exits_3_on_dataset_drift(ws):
    _log_days(ws, 10, 1000, shift_from=7)
    runner = CliRunner()
    path = str(ws.path)
    ws.close()
    made = runner.invoke(app, ["drift", "reference", "set", "m", "--window", "2026-03-01..2026-03-05", "--json", "-w", path])
    assert made.exit_code == 0, made.output
    ref_id = json.loads(made.output)["reference_id"]
    drifted = runner.invoke(app, ["drift", "check", "m", "--current", "2026-03-09..2026-03-10", "-w", path])
    assert drifted.exit_code == 3, drifted.output
    assert "DATASET DRIFT: 2 of 3 columns drifted (share 0.67, threshold 0.50): x, c" in drifted.output.replace("\n", " ")
    calm = runner.invoke(app, ["drift", "check", "m", "--current", "2026-03-05..2026-03-06", "--json", "-w", path])
    assert calm.exit_code == 0 and json.loads(calm.output)["reference"] == ref_id
    listed = runner.invoke(app, ["drift", "history", "m", "--json", "-w", path])
    assert len(json.loads(listed.output)) == 6
    over = runner.invoke(app, ["drift", "over-time", "m", "--window", "2026-03-05..2026-03-10", "-w", path])
    assert over.exit_code == 0 and "*" in over.output


# ----------------------------------------------------------------------------- the demo
END = "2026-11-01T00:00:00Z"


@pytest.fixture(scope="module")
def demo_ws(tmp_path_factory):
    target = tmp_path_factory.mktemp("demo") / "ws"
    shutil.copytree(os.environ["MLMM_HOME"], target)
    w = mlmm.open_workspace(target)
    yield w
    w.close()


def test_the_demo_queue_feature_shift_is_found_from_the_cli(demo_ws):
    info = json.loads((Path(demo_ws.path) / "demo.json").read_text())
    shift = next(e for e in info["episodes"] if e["model_name"] == "queue-anomaly")
    result = CliRunner().invoke(app, ["drift", "check", "queue-anomaly", "--current", "last=72h", "--until", END,
                                      "--no-record", "--json", "-w", str(demo_ws.path)])
    data = json.loads(result.output)
    assert {"duration_s", "job_type"} <= set(data["drifted_columns"])
    assert result.exit_code == (3 if data["dataset_drift"] else 0)
    # two-day chunks: the small session demo has ~70 queue rows a day (KS, p < 0.05)
    chunks = D.over_time(demo_ws, "queue-anomaly", window="last=30d", until=END, every="2d", columns=["duration_s"])
    first = chunks.filter(pl.col("drifted")).get_column("start").min()
    start = dt.datetime.fromisoformat(shift["start"])
    assert start - 2 * DAY <= first <= start + 2 * DAY
    # the other models' features did not move
    calm = D.check(demo_ws, "n1-detector", current="last=72h", until=END, record=False)
    assert not calm.dataset_drift


def test_the_feature_drift_alert_fires_for_the_queue_model_only(demo_ws):
    from mlmm import alerts as A

    conditions = {c.model: c for c in A.evaluate(demo_ws, window="72h", at=END) if c.rule == "feature_drift"}
    assert conditions["queue-anomaly"].firing is True
    assert "duration_s" in conditions["queue-anomaly"].message
    assert conditions["n1-detector"].firing is False and conditions["waf-behavioral"].firing is False


def test_the_drift_report_with_50_columns_stays_under_2_mb_as_html(tmp_path):
    import nbformat
    import papermill as pm
    from nbconvert import HTMLExporter

    ws = mlmm.open_workspace(tmp_path / "wide")
    ws.registry.register("m", "1.0.0")
    _log_days(ws, 6, 20_000, shift_from=4, extra_columns=47)  # x, y, c and 47 more: 50 columns, 120k rows
    D.set_reference(ws, "m", window="2026-03-01..2026-03-04")
    ws.close()
    notebook = Path(__file__).resolve().parents[1] / "notebooks" / "drift_report.ipynb"
    out = tmp_path / "drift.ipynb"
    pm.execute_notebook(str(notebook), str(out), kernel_name="python3", progress_bar=False, cwd=str(notebook.parent),
                        parameters={"workspace": str(tmp_path / "wide"), "model": "m", "current": "2026-03-05..2026-03-07",
                                    "history_window": "2026-03-01..2026-03-07"})
    executed = nbformat.read(out, as_version=4)
    assert not [o for c in executed.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    html, _ = HTMLExporter().from_notebook_node(executed)
    assert len(html.encode()) < 2_000_000, len(html.encode())
    assert "no dataset drift: 2 of 50 columns drifted" in html  # the columns are named, the dataset is not
