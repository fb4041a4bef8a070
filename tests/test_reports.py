"""Report runs: parameter checks, outputs, result.json with the recorded decision, failures,
the index, the registry record, the CLI."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

import mlmm
from mlmm import reports as R
from mlmm.cli import app


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    target = tmp_path_factory.mktemp("demo") / "ws"
    shutil.copytree(os.environ["MLMM_HOME"], target)
    return target


def test_a_report_run_writes_the_notebook_html_and_the_decision(demo, tmp_path):
    ws = mlmm.open_workspace(demo)
    try:
        out = R.run("monitoring_report", {"model": "waf-behavioral", "window": "7d", "until": "2026-11-01T00:00:00Z",
                                          "trend": "30d", "interval": "1d"}, ws=ws, output=tmp_path / "reports")
        assert out.status == "ok" and out.decision == "alert" and out.applied is False
        # below the floor over the report's 7 days; the retraining check's own day is thin: an alert, not a retrain
        assert out.reason.startswith("waf-behavioral 2.1.0, last 7d: accuracy ") and "Below its floor" in out.reason
        assert sorted(p.name for p in out.path.iterdir()) == ["monitoring_report.ipynb", "report.html", "result.json"]
        assert out.path.parent.parent == tmp_path / "reports" and out.path.name.startswith("monitoring_report-waf-behavioral-")
        result = json.loads((out.path / "result.json").read_text())
        assert (result["status"], result["decision"], result["figures"]["status"]) == ("ok", "alert", "below floor")
        assert result["outcome"] == "recorded, not applied"
        assert result["parameters"]["workspace"] == str(ws.path)
        html = (out.path / "report.html").read_text()
        assert "data:image/svg+xml;base64," in html and "import polars" not in html  # charts in (SVG), code hidden
        assert "cdn." not in html and "<script src=" not in html  # self-contained
        index = (tmp_path / "reports" / "index.html").read_text()
        assert "monitoring_report" in index and "alert" in index and out.path.name in index
        assert not list((tmp_path / "reports").glob(".tmp-*"))
        runs = R.runs(ws)
        assert runs.select("notebook", "status", "decision").row(0) == ("monitoring_report", "ok", "alert")
    finally:
        ws.close()


def test_parameters_are_checked_before_running(demo, tmp_path):
    ws = mlmm.open_workspace(demo)
    try:
        with pytest.raises(mlmm.ValidationError, match="parameter 'modle' is not a parameter of monitoring_report;"
                                                       " expected one of: workspace"):
            R.run("monitoring_report", {"modle": "x"}, ws=ws, output=tmp_path)
        with pytest.raises(mlmm.ValidationError, match=r"parameter window=24: expected a str \(default '24h'\)"):
            R.run("monitoring_report", {"window": 24}, ws=ws, output=tmp_path)
        with pytest.raises(mlmm.NotFoundError, match="notebook='nope': no such notebook"):
            R.run("nope", ws=ws, output=tmp_path)
        assert not tmp_path.exists() or not list(tmp_path.iterdir())
    finally:
        ws.close()


def test_a_failing_notebook_is_kept_recorded_and_exits_1(demo, tmp_path):
    book = tmp_path / "broken.ipynb"
    book.write_text(json.dumps({
        "cells": [{"id": "p", "cell_type": "code", "metadata": {"tags": ["parameters"]}, "execution_count": None, "outputs": [],
                   "source": ["workspace = None\n", "model = 'm'\n"]},
                  {"id": "boom", "cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
                   "source": ["raise RuntimeError('the data is not there')\n"]}],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
        "nbformat": 4, "nbformat_minor": 5}))
    result = CliRunner().invoke(app, ["report", "run", str(book), "-p", "model", "x", "-o", str(tmp_path / "reports"),
                                      "-w", str(demo)])
    assert result.exit_code == 1 and "report broken failed" in result.output
    [run_dir] = list((tmp_path / "reports").glob("*/broken-x-*"))
    data = json.loads((run_dir / "result.json").read_text())
    assert data["status"] == "failed" and "the data is not there" in data["error"]
    assert (run_dir / "broken.ipynb").exists()  # the partial executed notebook, failing cell marked
    ws = mlmm.open_workspace(demo)
    try:
        assert R.runs(ws, notebook="broken").get_column("status").to_list() == ["failed"]
    finally:
        ws.close()
    assert "failed" in (tmp_path / "reports" / "index.html").read_text()


def test_cli_run_and_list(demo, tmp_path):
    runner = CliRunner()
    out = runner.invoke(app, ["report", "run", "ab_test_report", "-p", "test_id", "ab-queue-gradual-10",
                              "-o", str(tmp_path / "r"), "--json", "-w", str(demo)])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["status"] == "ok"
    listed = json.loads(runner.invoke(app, ["report", "list", "--json", "-w", str(demo)]).output)
    assert listed[0]["notebook"] == "ab_test_report"
    bad = runner.invoke(app, ["report", "run", "ab_test_report", "-p", "test_id", "-w", str(demo)])
    assert bad.exit_code == 1 and "expected -p NAME VALUE" in bad.output
    params = json.loads(runner.invoke(app, ["report", "params", "monitoring_report", "--json"]).output)
    assert params["window"] == {"default": "24h", "type": "str", "help": "the period judged, ending at `until`"}
    assert Path(json.loads(out.output)["path"]).exists()
