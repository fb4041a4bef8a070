"""docs/scheduling.md and what it ships (crontab line, systemd units, Airflow DAG) say what mlmm does.

Airflow is not installed here: the DAG is read with ``ast``, its module-level constants evaluated,
and its commands parsed by mlmm's own CLI. The systemd units are read with configparser and, where
``systemd-analyze`` exists, verified by systemd itself.
"""

from __future__ import annotations

import ast
import configparser
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import typer

import mlmm
from mlmm.cli import app
from mlmm.config import DEFAULT_JOBS, config_sources
from mlmm.decisions import RETRAINING_DEFAULTS
from mlmm.reports import notebook_parameters
from mlmm.reports.kernel import KERNEL_NAME

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
GUIDE = DOCS / "scheduling.md"
SERVICE = DOCS / "systemd" / "mlmm-schedule.service"
TIMER = DOCS / "systemd" / "mlmm-schedule.timer"
DAG = DOCS / "airflow_mlmm_dag.py"
PLACEHOLDER = "/path/to/project"


def _parse_cli(argv: list[str]) -> dict[str, Any]:
    """Parse ``mlmm ...`` arguments with the real CLI without running it; return the command's params."""
    command: Any = typer.main.get_command(app)
    args = list(argv)
    while hasattr(command, "commands") and args and args[0] in command.commands:
        name = args.pop(0)
        command = command.commands[name]
    assert not hasattr(command, "commands"), f"{argv}: names a command group, not a command"
    return command.make_context(command.name, args).params


def _units() -> tuple[configparser.ConfigParser, configparser.ConfigParser]:
    def read(path: Path) -> configparser.ConfigParser:
        parser = configparser.ConfigParser(delimiters=("=",), interpolation=None, strict=True)
        parser.optionxform = str  # systemd keys are case-sensitive
        parser.read_string(path.read_text(), source=str(path))
        return parser

    return read(SERVICE), read(TIMER)


# ----------------------------------------------------------------------------- Airflow
def _dag() -> tuple[ast.Module, dict[str, Any]]:
    """The DAG's syntax tree and its module-level constants (assignments without calls)."""
    tree = ast.parse(DAG.read_text(), filename=str(DAG))
    constants: dict[str, Any] = {}
    for node in tree.body:
        if (isinstance(node, ast.Assign) and all(isinstance(t, ast.Name) for t in node.targets)
                and not any(isinstance(n, ast.Call) for n in ast.walk(node.value))):
            exec(compile(ast.Module([node], type_ignores=[]), str(DAG), "exec"), constants)
    constants.pop("__builtins__", None)
    return tree, constants


def _calls(tree: ast.Module, name: str) -> list[ast.Call]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == name]


def _kw(call: ast.Call, constants: dict[str, Any], **names: Any) -> dict[str, Any]:
    """The call's keyword arguments, evaluated with the DAG's constants (and ``names``)."""
    return {k.arg: eval(compile(ast.Expression(k.value), str(DAG), "eval"), {**constants, **names})
            for k in call.keywords}


def test_airflow_dag_runs_the_monitoring_report_with_papermill_on_a_schedule():
    tree, constants = _dag()
    imported = {(n.module, a.name) for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}
    assert ("airflow.providers.papermill.operators.papermill", "PapermillOperator") in imported
    assert ("airflow", "DAG") in imported

    (dag,) = _calls(tree, "DAG")
    args = {k.arg: k.value for k in dag.keywords}
    schedule = ast.literal_eval(args["schedule"])
    assert schedule == "*/15 * * * *"  # the seeds' degradation interval
    assert DEFAULT_JOBS["degradation"]["every"] == "15m"
    assert ast.literal_eval(args["catchup"]) is False and ast.literal_eval(args["max_active_runs"]) == 1

    assert constants["PROJECT"] == PLACEHOLDER
    home = os.environ["MLMM_HOME"]  # the session's demo: the DAG's models are the demo's
    ws = mlmm.open_workspace(home)
    try:
        assert sorted(constants["MODELS"]) == ws.registry.list_names()
    finally:
        ws.close()

    (papermill,) = _calls(tree, "PapermillOperator")
    accepted = notebook_parameters("monitoring_report")
    for model in constants["MODELS"]:
        kw = _kw(papermill, constants, model=model)
        assert kw["input_nb"] == f"{PLACEHOLDER}/notebooks/monitoring_report.ipynb"
        assert (ROOT / kw["input_nb"].removeprefix(PLACEHOLDER + "/")).is_file()
        assert kw["output_nb"] == (f"{PLACEHOLDER}/reports/airflow/{{{{ ds }}}}/monitoring_report-{model}"
                                   "-{{ ts_nodash }}.ipynb")
        assert kw["kernel_name"] == KERNEL_NAME
        assert kw["parameters"] == {"workspace": f"{PLACEHOLDER}/data/workspace", "model": model, "window": "24h",
                                    "record": True}
        for name, value in kw["parameters"].items():  # what `mlmm report run` would accept
            assert name in accepted, name
            assert accepted[name]["type"] in (None, type(value).__name__), (name, value)

    commands = {_kw(c, constants)["task_id"]: _kw(c, constants)["bash_command"] for c in _calls(tree, "BashOperator")}
    assert set(commands) == {"alert_rules", "report_dir"}
    # Papermill writes only into an existing folder: report_dir creates the one output_nb names
    assert commands["report_dir"] == f"mkdir -p {os.path.dirname(kw['output_nb'])}"
    cd, _, run = commands["alert_rules"].partition(" && ")
    assert cd == f"cd {PLACEHOLDER}"
    argv = shlex.split(run)
    assert argv[:4] == [f"{PLACEHOLDER}/.venv/bin/mlmm", "schedule", "run", "performance"]
    assert argv[3] in DEFAULT_JOBS and DEFAULT_JOBS["performance"]["task"] == "alerts"
    params = _parse_cli(argv[1:])
    assert (params["job"], str(params["workspace_path"]), str(params["output"])) == (
        "performance", f"{PLACEHOLDER}/data/workspace", f"{PLACEHOLDER}/reports")


# ----------------------------------------------------------------------------- systemd
def test_systemd_units_run_schedule_run_due_every_minute():
    service, timer = _units()
    assert service.sections() == ["Unit", "Service"]
    assert service["Unit"]["Description"].startswith("mlmm: ")
    svc = service["Service"]
    assert svc["Type"] == "oneshot"
    assert svc["WorkingDirectory"] == PLACEHOLDER
    argv = shlex.split(svc["ExecStart"])
    assert argv[0] == f"{svc['WorkingDirectory']}/.venv/bin/mlmm"
    assert " ".join(argv[1:3]) == "schedule run-due" and "mlmm schedule run-due" in svc["ExecStart"]
    params = _parse_cli(argv[1:])
    assert (str(params["workspace_path"]), str(params["output"])) == ("data/workspace", "reports")
    assert svc["Environment"] == "MLMM_LOCK_TIMEOUT=30"
    assert svc["TimeoutStartSec"] == "2h"

    assert timer.sections() == ["Unit", "Timer", "Install"]
    assert dict(timer["Timer"]) == {"OnCalendar": "minutely", "AccuracySec": "1s", "Unit": SERVICE.name}
    assert timer["Install"]["WantedBy"] == "timers.target"

    guide = GUIDE.read_text()
    for unit in (SERVICE, TIMER):  # the guide shows the files as they are shipped
        assert f"`docs/systemd/{unit.name}`:\n\n```ini\n{unit.read_text()}```" in guide


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_accepts_the_units(tmp_path):
    mlmm_bin = ROOT / ".venv" / "bin" / "mlmm"
    if not mlmm_bin.exists():
        pytest.skip(f"{mlmm_bin} is missing: the service's ExecStart must name an executable")
    for unit in (SERVICE, TIMER):  # as installed: the placeholder replaced by the project
        (tmp_path / unit.name).write_text(unit.read_text().replace(PLACEHOLDER, str(ROOT)))
    done = subprocess.run(["systemd-analyze", "verify", "--man=no", SERVICE.name, TIMER.name], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, check=False)
    assert (done.returncode, done.stderr, done.stdout) == (0, "", "")


# ----------------------------------------------------------------------------- cron
def test_crontab_line_runs_schedule_run_due_from_the_project():
    lines = [line for line in GUIDE.read_text().splitlines() if re.match(r"^(\S+\s+){5}cd ", line)]
    assert lines == ["* * * * * cd /path/to/project && .venv/bin/mlmm schedule run-due -w data/workspace -o reports"
                     " >> reports/cron.log 2>&1"]
    command = lines[0].split(None, 5)[5]
    assert "mlmm schedule run-due" in command
    cd, run = command.split(" && ")
    assert cd == f"cd {PLACEHOLDER}"
    argv = shlex.split(run)
    assert argv[-3:] == [">>", "reports/cron.log", "2>&1"]
    assert argv[0] == ".venv/bin/mlmm"
    params = _parse_cli(argv[1:-3])
    assert (str(params["workspace_path"]), str(params["output"])) == ("data/workspace", "reports")


# ----------------------------------------------------------------------------- configuration
_ENV = re.compile(r"\b(?:MLMM|AUTO)_[A-Z0-9_<>]*[A-Z0-9>]")
_VALUES = {"EVERY": ("30m", "30m"), "ENABLED": ("false", False), "AUTO_APPLY": ("true", True)}
_RETRAIN_VALUES = {"window": ("12h", "12h"), "min_labelled": ("50", 50), "accuracy_floor": ("0.8", 0.8),
                   "drift_window": ("3d", "3d"), "max_age": ("14d", "14d"), "min_new_labels": ("1000", 1000),
                   "command": ("./retrain.sh", "./retrain.sh"), "cooldown": ("1d", "1d")}


def _config_variables(name: str) -> list[tuple[str, str, str, Any]]:
    """Environment variables a documented name stands for: (variable, config key, value, parsed value)."""
    out = []
    if name == "AUTO_TUNING_ENABLED":
        return [(name, "schedule.tuning.enabled", "false", False)]
    if name.startswith("MLMM_SCHEDULE_"):
        rest = name.removeprefix("MLMM_SCHEDULE_")
        key = next(k for k in _VALUES if rest.endswith("_" + k))
        job = rest.removesuffix("_" + key)
        jobs = DEFAULT_JOBS if job == "<JOB>" else [j for j in DEFAULT_JOBS if j.upper().replace("-", "_") == job]
        assert jobs, f"{name}: no job {job}"
        for j in jobs:
            var = f"MLMM_SCHEDULE_{j.upper().replace('-', '_')}_{key}"
            out.append((var, f"schedule.{j}.{key.lower()}", *_VALUES[key]))
    elif name.startswith("MLMM_RETRAIN_"):
        key = name.removeprefix("MLMM_RETRAIN_")
        keys = list(RETRAINING_DEFAULTS) if key == "<KEY>" else [key.lower()]
        assert set(keys) <= set(_RETRAIN_VALUES), f"{name}: no [retraining] key {key.lower()}"
        out = [(f"MLMM_RETRAIN_{k.upper()}", f"retraining.{k}", *_RETRAIN_VALUES[k]) for k in keys]
    return out


def test_every_environment_variable_in_the_guide_is_read_by_mlmm(tmp_path, monkeypatch):
    names = sorted(set(_ENV.findall(GUIDE.read_text())))
    config_family = [n for n in names if n.startswith(("MLMM_SCHEDULE_", "MLMM_RETRAIN_", "AUTO_"))]
    assert set(config_family) >= {"MLMM_SCHEDULE_<JOB>_EVERY", "MLMM_SCHEDULE_<JOB>_ENABLED",
                                  "MLMM_SCHEDULE_<JOB>_AUTO_APPLY", "AUTO_TUNING_ENABLED", "MLMM_RETRAIN_<KEY>",
                                  "MLMM_RETRAIN_MAX_AGE", "MLMM_SCHEDULE_AB_EVALUATION_EVERY",
                                  "MLMM_SCHEDULE_DRIFT_ENABLED"}
    for var in [v for v in os.environ if v.startswith(("MLMM_SCHEDULE_", "MLMM_RETRAIN_", "AUTO_TUNING"))]:
        monkeypatch.delenv(var)
    checked = set()
    for name in config_family:
        for var, key, raw, parsed in _config_variables(name):
            with monkeypatch.context() as env:
                env.setenv(var, raw)
                conf, sources = config_sources(tmp_path)
            parts = key.split(".")
            value = conf["retraining"][parts[1]] if parts[0] == "retraining" else conf["schedule"][parts[1]][parts[2]]
            assert (sources.get(key), value) == (var, parsed), var
            checked.add(var)
    # the placeholders stand for every job and every [retraining] key
    assert checked == ({f"MLMM_SCHEDULE_{j.upper().replace('-', '_')}_{k}" for j in DEFAULT_JOBS for k in _VALUES}
                       | {f"MLMM_RETRAIN_{k.upper()}" for k in RETRAINING_DEFAULTS} | {"AUTO_TUNING_ENABLED"})
    # the others (the workspace, the registry lock, the retraining command's environment) are
    # read or set by mlmm itself
    source = "\n".join(p.read_text() for p in (ROOT / "mlmm").rglob("*.py"))
    others = [n for n in names if n not in config_family]
    assert others == ["MLMM_ACTOR", "MLMM_EVIDENCE", "MLMM_HOME", "MLMM_LOCK_TIMEOUT", "MLMM_MODEL", "MLMM_REASON",
                      "MLMM_VERSION"]
    for name in others:
        assert re.search(rf"\b{name}\b(?!_)", source), name


def test_environment_table_is_the_one_in_mlmm_config():
    def rows(text: str, pattern: str) -> list[tuple[str, str]]:
        return [(m.group(1).replace("``", "`"), m.group(2).replace("``", "`").strip()) for m in re.finditer(pattern, text)]

    documented = rows(mlmm.config.__doc__, r"(?m)^(``(?:MLMM|AUTO)_\S+``)\s+(.+)$")
    guide = rows(GUIDE.read_text(), r"(?m)^\| (`(?:MLMM|AUTO)_\S+`) \| (.+) \|$")
    assert len(documented) == 5 and guide == documented


def test_toml_example_is_valid_and_means_what_the_guide_says(tmp_path):
    (block,) = re.findall(r"```toml\n(.*?)```", GUIDE.read_text(), flags=re.S)
    (tmp_path / "mlmm.toml").write_text(block)
    conf, sources = config_sources(tmp_path, environ={})
    jobs = conf["schedule"]
    assert (jobs["degradation"]["every"], jobs["degradation"]["parameters"]) == ("30m", {"window": "6h"})
    assert jobs["degradation"]["notebook"] == "monitoring_report"  # defaults kept for keys not named
    assert jobs["tuning"]["auto_apply"] is False and jobs["drift"]["enabled"] is False
    weekly = jobs["weekly-overview"]
    assert (weekly["every"], weekly["notebook"], weekly["for_each"], weekly["auto_apply"]) == (
        "7d", "registry_overview", "none", False)
    assert "workspace" in notebook_parameters(weekly["notebook"])  # the report run passes it
    assert {k: conf["retraining"][k] for k in ("max_age", "min_new_labels", "command")} == {
        "max_age": "14d", "min_new_labels": 20000, "command": "./retrain.sh"}
    assert sources["schedule.tuning.auto_apply"] == "mlmm.toml" and "schedule.cleanup.every" not in sources


def test_jobs_table_matches_the_defaults():
    section = GUIDE.read_text().split("## The jobs", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"(?m)^\| `([a-z-]+)` \| (\S+) \| .* \| (?:\*\*)?(on|off)(?:\*\*)? \|$", section)
    assert rows == [(name, job["every"], "on" if job["auto_apply"] else "off") for name, job in DEFAULT_JOBS.items()]
