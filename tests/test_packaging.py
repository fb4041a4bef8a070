"""environment.yml and pyproject.toml name the same packages; the console script exists."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _names(requirements: list[str]) -> set[str]:
    return {re.split(r"[<>=!~\[ ;]", r.strip(), maxsplit=1)[0].lower().replace("_", "-") for r in requirements}


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = _names(project["dependencies"]) | _names(project["optional-dependencies"]["test"])
    conda: set[str] = set()
    pip_section = []
    in_deps = False
    for line in (ROOT / "environment.yml").read_text().splitlines():
        if line.startswith("dependencies:"):
            in_deps = True
            continue
        stripped = line.strip()
        if in_deps and stripped.startswith("- ") and not stripped.startswith("- pip:") and line.startswith("  - "):
            conda.add(_names([stripped[2:]]).pop())
        elif in_deps and line.startswith("      - "):
            pip_section.append(stripped[2:])
    assert conda - {"python", "pip"} == wanted
    assert pip_section == ["-e .[test]"]


def test_console_script_points_at_the_cli():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"] == {"mlmm": "mlmm.cli:app"}
    assert project["requires-python"] == ">=3.11"
