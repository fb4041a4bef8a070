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
    pm.execute_notebook(str(NOTEBOOKS[0]), str(out), parameters={"model": model}, kernel_name="python3",
                        progress_bar=False, cwd=str(NOTEBOOKS[0].parent))
    executed = json.loads(out.read_text())
    text = json.dumps(executed["cells"])
    assert "waf-behavioral" in text
    assert "Error" not in "".join(o.get("ename", "") for c in executed["cells"] for o in c.get("outputs", []))
