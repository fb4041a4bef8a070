"""Notebooks run under Papermill with parameters (nbval runs them too, via --nbval-lax)."""

from __future__ import annotations

import json
from pathlib import Path

import papermill as pm
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_notebooks_are_committed_without_outputs():
    for path in NOTEBOOKS:
        nb = json.loads(path.read_text())
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                assert cell.get("outputs") == [] and cell.get("execution_count") is None, path.name
        tagged = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
        assert len(tagged) == 1, f"{path.name}: expected exactly one cell tagged 'parameters'"


@pytest.mark.parametrize("model", ["waf-behavioral"])
def test_tour_runs_under_papermill(tmp_path, model):
    out = tmp_path / "tour.ipynb"
    tour = next(p for p in NOTEBOOKS if p.name == "00_tour.ipynb")
    pm.execute_notebook(str(tour), str(out), parameters={"model": model}, kernel_name="python3",
                        progress_bar=False, cwd=str(tour.parent))
    executed = json.loads(out.read_text())
    text = json.dumps(executed["cells"])
    assert "waf-behavioral" in text
    assert "Error" not in "".join(o.get("ename", "") for c in executed["cells"] for o in c.get("outputs", []))


def test_monitoring_report_runs_under_papermill_and_records_its_conclusion(tmp_path):
    import os
    import shutil

    import mlmm

    home = tmp_path / "ws"
    shutil.copytree(os.environ["MLMM_HOME"], home)  # the session's demo, ending 2026-11-01
    import polars as pl

    def verdicts() -> pl.DataFrame:
        ws = mlmm.open_workspace(home)
        try:
            return ws.registry.history("waf-behavioral").filter(pl.col("event") == "monitoring_verdict")
        finally:
            ws.close()

    before = verdicts().height  # nbval may have run the notebook on the session's demo already
    notebook = next(p for p in NOTEBOOKS if p.name == "monitoring_report.ipynb")
    out = tmp_path / "report.ipynb"
    pm.execute_notebook(str(notebook), str(out), kernel_name="python3", progress_bar=False, cwd=str(notebook.parent),
                        parameters={"workspace": str(home), "model": "waf-behavioral", "window": "7d",
                                    "until": "2026-11-01T00:00:00Z", "trend": "30d", "interval": "1d"})
    executed = json.loads(out.read_text())
    assert not [o for c in executed["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]
    text = json.dumps(executed["cells"])
    assert "Below its floor of 90% (critical)" in text
    after = verdicts()
    assert after.height == before + 1
    assert after.item(-1, "summary").startswith("waf-behavioral 2.1.0, last 7d: accuracy ")
    assert after.item(-1, "reason") == "monitoring report notebook"


def test_ab_test_report_runs_under_papermill_and_records_the_evaluation(tmp_path):
    import os
    import shutil

    import mlmm
    from mlmm import ab

    home = tmp_path / "ws"
    shutil.copytree(os.environ["MLMM_HOME"], home)
    notebook = next(p for p in NOTEBOOKS if p.name == "ab_test_report.ipynb")
    out = tmp_path / "ab.ipynb"
    pm.execute_notebook(str(notebook), str(out), kernel_name="python3", progress_bar=False, cwd=str(notebook.parent),
                        parameters={"workspace": str(home), "test_id": "ab-queue-gradual-10"})
    executed = json.loads(out.read_text())
    assert not [o for c in executed["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]
    ws = mlmm.open_workspace(home)
    try:
        history = ab.evaluations(ws, "ab-queue-gradual-10")
        assert history.get_column("event").to_list()[-1] == "evaluated"
        assert history.get_column("reason").to_list()[-1] == "A/B test report notebook"
        assert history.get_column("decision").to_list()[-1] == ab.evaluate(ws, "ab-queue-gradual-10").recommendation
    finally:
        ws.close()


@pytest.mark.parametrize("model", ["n1-detector", "queue-anomaly"])
def test_tuning_report_runs_under_papermill(tmp_path, model):
    import os
    import shutil

    home = tmp_path / "ws"
    shutil.copytree(os.environ["MLMM_HOME"], home)
    notebook = next(p for p in NOTEBOOKS if p.name == "tuning_report.ipynb")
    out = tmp_path / "tuning.ipynb"
    pm.execute_notebook(str(notebook), str(out), kernel_name="python3", progress_bar=False, cwd=str(notebook.parent),
                        parameters={"workspace": str(home), "model": model})
    executed = json.loads(out.read_text())
    assert not [o for c in executed["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]
    text = json.dumps(executed["cells"])
    assert "F1 " in text and ("applied" in text)
    assert ("F1 on the 7 held-out days" in text) == (model == "queue-anomaly")
