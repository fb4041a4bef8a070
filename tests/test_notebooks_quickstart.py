"""The quickstart and the registry overview run under Papermill on a copy of the session's demo.

The demo (conftest.py: 30,000 rows, seed 7, ending 2026-11-01) is deterministic, so the tables
and sentences the notebooks show are checked exactly. The quickstart records a decision, so each
test works on its own copy of the workspace.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import papermill as pm
import polars as pl
import pytest

import mlmm
from mlmm import decisions
from mlmm.reports import schedule
from mlmm.reports.kernel import ensure_kernel

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
QUICKSTART = NOTEBOOKS / "00_quickstart.ipynb"
OVERVIEW = NOTEBOOKS / "registry_overview.ipynb"


@pytest.fixture
def home(tmp_path) -> Path:
    target = tmp_path / "ws"
    shutil.copytree(os.environ["MLMM_HOME"], target)
    return target


def _execute(notebook: Path, out: Path, **parameters: Any) -> list[dict[str, Any]]:
    pm.execute_notebook(str(notebook), str(out), parameters=parameters, kernel_name=ensure_kernel(),
                        progress_bar=False, cwd=str(notebook.parent))
    cells = [c for c in json.loads(out.read_text())["cells"] if c["cell_type"] == "code"]
    errors = [f"{o['ename']}: {o['evalue']}" for c in cells for o in c["outputs"] if o["output_type"] == "error"]
    assert not errors
    return cells


def _cell(cells: list[dict[str, Any]], starts: str) -> dict[str, Any]:
    (cell,) = [c for c in cells if "".join(c["source"]).startswith(starts)]
    return cell


def _printed(cell: dict[str, Any]) -> str:
    return "".join("".join(o["text"]) for o in cell["outputs"] if o["output_type"] == "stream")


def _shown(cell: dict[str, Any], mime: str) -> str:
    (value,) = [o["data"][mime] for o in cell["outputs"] if mime in o.get("data", {})]
    return "".join(value)


def _table(cell: dict[str, Any]) -> list[list[str]]:
    """The rows of the polars table a cell displays, as the reader sees them (strings unquoted)."""
    body = _shown(cell, "text/html").split("<tbody>", 1)[1]
    return [[html.unescape(td).strip('"') for td in re.findall(r"<td>(.*?)</td>", tr)]
            for tr in re.findall(r"<tr>(.*?)</tr>", body)]


def _history(home: Path) -> pl.DataFrame:
    ws = mlmm.open_workspace(home)
    try:
        return ws.registry.history()
    finally:
        ws.close()


def test_quickstart_shows_metrics_a_trend_and_records_its_decision(home, tmp_path, monkeypatch):
    monkeypatch.setenv("MLMM_USER", "ana")  # the kernel inherits it: the decision's actor
    before = _history(home)
    cells = _execute(QUICKSTART, tmp_path / "quickstart.ipynb", workspace=str(home))

    assert _printed(_cell(cells, "import polars")) == f"{home}: judging n1-detector over the 7d up to 2026-10-31 23:42 UTC\n"
    assert [row[:4] for row in _table(_cell(cells, "reg.models()"))] == [
        ["n1-detector", "supervised", "2", "1.1.0"], ["queue-anomaly", "unsupervised", "2", "1.3.0"],
        ["waf-behavioral", "unsupervised", "2", "2.1.0"]]
    assert [row[:3] for row in _table(_cell(cells, "reg.deployments()"))] == [
        ["n1-detector", "production", "1.1.0"], ["n1-detector", "staging", "1.1.0"],
        ["queue-anomaly", "production", "1.2.0"], ["queue-anomaly", "staging", "1.3.0"],
        ["waf-behavioral", "production", "2.1.0"], ["waf-behavioral", "staging", "2.1.0"]]

    metrics = _cell(cells, "assessment = monitor.assess")
    assert _printed(metrics) == "1004 labelled of 1279 predictions\n"
    accuracy = next(row for row in _table(metrics) if row[0] == "accuracy")
    assert accuracy == ["accuracy", "0.930279", "0.91283", "0.944447", "1004"]  # value, Wilson 95 %, rows
    assert _printed(_cell(cells, "print(assessment.conclusion)")).startswith(
        "n1-detector 1.1.0, last 7d: accuracy 0.930 [0.913, 0.944] (934/1004). At or above its floor of 85%.")

    chart = _shown(_cell(cells, "frame = monitor.trends"), "text/html")
    assert "vega-embed" in chart and "n1-detector: accuracy per 1d, last 30d" in chart
    spec = json.loads(chart.rsplit(', {"mode": "vega-lite"});', 1)[0].rsplit("})(", 1)[1])  # vega-embed's argument
    assert [layer["mark"]["type"] for layer in spec["layer"]] == ["area", "line", "rule"]
    assert spec["layer"][2]["data"]["values"] == [{"y": 0.85, "name": "floor"}]

    triggers = _table(_cell(cells, "retraining = decisions.retraining_check"))
    # performance is judged on the trigger's own last day (seed 002), too thin here; 20 days old, the demo's
    # mlmm.toml retrains at 30
    assert [row[:2] for row in triggers] == [["performance", "null"], ["drift", "false"], ["data_volume", "false"],
                                             ["age", "false"]]
    assert triggers[3][2] == "20 days since 1.1.0 was registered (retrain every 30 days)"
    reason = _printed(_cell(cells, "print(assessment.conclusion)")).strip()  # keep: the conclusion is the reason
    assert _shown(_cell(cells, "decision = decisions.from_assessment"), "text/plain") == (
        f"<Decision keep n1-detector 1.1.0: {reason}>")
    assert _printed(_cell(cells, "outcome = mlmm.reports.record")) == f"keep: {reason}\nrecorded\n"

    ws = mlmm.open_workspace(home)
    try:
        recorded = decisions.decisions(ws, "n1-detector")
        assert recorded.select("version", "decision", "actor", "applied", "outcome", "source", "summary").rows() == [
            ("1.1.0", "keep", "ana", False, "recorded", "monitoring", f"keep: {reason}")]
        after = ws.registry.history()
        assert after.height == before.height + 1  # the decision, nothing else
        assert after.row(-1, named=True)["event"] == "decision"
    finally:
        ws.close()
    assert [row[1:] for row in _table(_cell(cells, "decisions.decisions(ws, model)"))] == [
        ["1.1.0", "keep", "ana", "false", "recorded"]]


def test_quickstart_with_record_false_writes_nothing(home, tmp_path):
    before = _history(home)
    cells = _execute(QUICKSTART, tmp_path / "quickstart.ipynb", workspace=str(home), model="waf-behavioral",
                     record=False)
    printed = _printed(_cell(cells, "outcome = mlmm.reports.record"))
    assert printed.startswith("alert: waf-behavioral 2.1.0, last 7d: accuracy 0.858 [0.847, 0.869] (3484/4060)."
                              " Below its floor of 90% (critical).")
    assert printed.endswith("\nnot recorded (record is False)\n")
    assert _table(_cell(cells, "decisions.decisions(ws, model)")) == []
    assert _history(home).equals(before)


def test_registry_overview_shows_what_is_where_then_and_now_and_what_ran(home, tmp_path, monkeypatch):
    monkeypatch.setenv("MLMM_USER", "ana")
    ws = mlmm.open_workspace(home)
    try:  # something to show: a report run with its decision, and a scheduled job run
        run = mlmm.reports.run("00_quickstart", {"model": "queue-anomaly"}, ws=ws, output=tmp_path / "reports")
        assert (run.status, run.decision) == ("ok", "retrain requested")
        assert schedule.run_job(ws, "performance", output=tmp_path / "reports").status == "ok"
        events = ws.registry.history().height
    finally:
        ws.close()

    cells = _execute(OVERVIEW, tmp_path / "overview.ipynb", workspace=str(home), model="queue-anomaly", events=5)

    versions = _table(_cell(cells, "reg.to_frame(reg.all_versions())"))
    assert [(r[0], r[1], r[3]) for r in versions] == [
        ("n1-detector", "1.0.0", "null"), ("n1-detector", "1.1.0", "production"),
        ("queue-anomaly", "1.2.0", "production"), ("queue-anomaly", "1.3.0", "staging"),
        ("waf-behavioral", "2.0.0", "null"), ("waf-behavioral", "2.1.0", "production")]

    then = _cell(cells, "newest = history.filter")
    # the decision recorded today is newer, but the week counts from the newest deployment event
    assert _printed(then) == ("newest deployment event 2026-10-18 14:00 UTC;"
                              " what served on 2026-10-11 14:00 UTC:\n")
    assert [(r[0], r[1], r[2], r[-1]) for r in _table(then)] == [
        ("n1-detector", "production", "1.0.0", "1.1.0"), ("n1-detector", "staging", "1.1.0", "1.1.0"),
        ("queue-anomaly", "production", "1.2.0", "1.2.0"), ("queue-anomaly", "staging", "1.2.0", "1.3.0"),
        ("waf-behavioral", "production", "2.0.0", "2.1.0"), ("waf-behavioral", "staging", "2.0.0", "2.1.0")]

    diff = _cell(cells, "versions = [str(m.version)")
    assert _printed(diff) == ("<ConfigDiff queue-anomaly 1.2.0 -> 1.3.0: threshold: 0.6 -> 0.55; "
                              "window_size: 100 -> 200; zscore_threshold: 3.0 -> 2.5>\n")
    assert _table(diff) == [["threshold", "changed", "0.6", "0.55"], ["window_size", "changed", "100", "200"],
                            ["zscore_threshold", "changed", "3.0", "2.5"]]

    recent = _table(_cell(cells, "history.tail(events)"))
    assert len(recent) == 5 and recent[-1][1:6] == ["queue-anomaly", "1.2.0", "decision", "null", "ana"]
    assert [r[1:6] for r in _table(_cell(cells, "decisions.decisions(ws).head(events)"))] == [
        ["queue-anomaly", "1.2.0", "retrain requested", "ana", "false"]]
    runs = _table(_cell(cells, "mlmm.reports.runs(ws)"))
    assert [(r[1], r[2], r[3], r[5]) for r in runs] == [("00_quickstart", "null", "ok", "retrain requested")]
    assert runs[0][-1] == str(run.path)

    jobs = {r[0]: r for r in _table(_cell(cells, "schedule.status(ws)"))}
    assert list(jobs) == ["performance", "degradation", "ab-evaluation", "drift", "tuning", "cleanup"]
    assert (jobs["performance"][1], jobs["performance"][7], jobs["performance"][9]) == ("5m", "ok", "false")
    assert [r[1:3] for r in _table(_cell(cells, "schedule.runs(ws"))] == [["performance", "ok"]]
    assert _printed(cells[-1]) == (f"3 models with 6 versions. Registry events: {events}; decisions: 1; report runs: 1."
                                   " Jobs due now: degradation, ab-evaluation, drift, tuning, cleanup.\n")
