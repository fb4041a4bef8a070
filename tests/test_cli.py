"""The `mlmm` command: forms scripts rely on, --json output, exit codes 0/1/2/3."""

from __future__ import annotations

import json
import subprocess
import sys

import polars as pl
import pytest
from typer.testing import CliRunner

from mlmm.cli import app

runner = CliRunner()


def run(*args: str, code: int = 0):
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, (result.exit_code, result.output, result.stderr if hasattr(result, "stderr") else "")
    return result


@pytest.fixture()
def ws_path(tmp_path):
    return str(tmp_path / "ws")


def test_register_list_history_json(ws_path):
    run("models", "register", "n1-detector", "1.0.0", "--preset", "n1-detector", "--workspace", ws_path,
        "--reason", "first", "--actor", "alice")
    run("models", "register", "n1-detector", "1.1.0", "--preset", "n1-detector", "--config", "threshold=0.75",
        "--metric", "accuracy=0.93", "--tag", "team=platform", "--workspace", ws_path, "--actor", "alice")
    listed = json.loads(run("models", "list", "--json", "--workspace", ws_path).stdout)
    assert listed == [{
        "model_name": "n1-detector", "model_type": "supervised", "versions": 2, "latest": "1.1.0",
        "production": None, "canary": None, "staging": None, "latest_accuracy": 0.93,
    }]
    history = json.loads(run("models", "history", "n1-detector", "--json", "--workspace", ws_path).stdout)
    assert [(h["version"], h["event"], h["actor"], h["reason"]) for h in history] == [
        ("1.0.0", "registered", "alice", "first"), ("1.1.0", "registered", "alice", None)]
    diff = json.loads(run("models", "diff", "n1-detector", "1.0.0", "1.1.0", "--json", "--workspace", ws_path).stdout)
    assert diff["changed"] == {"threshold": {"from": 0.7, "to": 0.75}}


def test_deploy_rollback_and_state_as_of(ws_path):
    for version in ("1.0.0", "1.1.0"):
        run("models", "register", "m", version, "--workspace", ws_path)
    run("deploy", "m", "1.0.0", "--env", "production", "--reason", "go", "--workspace", ws_path)
    run("deploy", "m", "1.1.0", "--env", "production", "--workspace", ws_path)
    out = json.loads(run("rollback", "m", "--env", "production", "--json", "--workspace", ws_path).stdout)
    assert out["version"] == "1.0.0"
    prod = json.loads(run("models", "production", "--json", "--workspace", ws_path).stdout)
    assert [(p["model_name"], p["version"]) for p in prod] == [("m", "1.0.0")]
    before = json.loads(run("deployments", "--at", "2000-01-01T00:00:00Z", "--json", "--workspace", ws_path).stdout)
    assert before == []


def test_errors_are_one_line_on_stderr_with_exit_1(ws_path):
    run("models", "register", "m", "1.0.0", "--workspace", ws_path)
    result = run("models", "register", "m", "1.0.0", "--workspace", ws_path, code=1)
    assert result.stderr.strip().splitlines() == [
        "error: model='m' version='1.0.0': already registered; expected a new version (bump it, e.g. 1.0.1) or update the existing one"
    ]
    assert result.stdout == ""
    bad = run("models", "register", "../x", "1.0.0", "--workspace", ws_path, code=1)
    assert "name='../x'" in bad.stderr
    missing = run("models", "show", "nope", "--workspace", ws_path, code=1)
    assert missing.stderr.strip() == "error: model='nope' is not registered; registered models: m"


def test_usage_error_exits_2(ws_path):
    run("models", "register", "m", "--workspace", ws_path, code=2)
    run("deploy", "--workspace", ws_path, code=2)


def test_import_stats_quarantine_and_gate(ws_path, tmp_path):
    run("models", "register", "m", "1.0.0", "--workspace", ws_path)
    csv = tmp_path / "preds.csv"
    pl.DataFrame({
        "model_name": ["m"] * 4, "version": ["1.0.0"] * 4, "prediction": ["1", "0", "1", "maybe"],
        "actual": ["1", "", "0", "1"], "confidence": ["0.9", "0.2", "1.7", "0.5"],
        "timestamp": ["2026-01-01T00:00:00Z"] * 4,
    }).write_csv(csv)
    summary = json.loads(run("predictions", "import", str(csv), "--json", "--workspace", ws_path).stdout)
    assert (summary["accepted"], summary["quarantined"]) == (2, 2)
    assert summary["reasons"] == {"bad prediction": 1, "confidence out of [0, 1]": 1}
    again = json.loads(run("predictions", "import", str(csv), "--json", "--workspace", ws_path).stdout)
    assert again["already_imported"] is True
    stats = json.loads(run("predictions", "stats", "--json", "--workspace", ws_path).stdout)
    assert [(s["model_name"], s["predictions"], s["labelled"]) for s in stats] == [("m", 2, 1)]
    # gate: more than 10 % quarantined -> exit 3
    other = tmp_path / "other.csv"
    pl.DataFrame({"model_name": ["m"] * 2, "version": ["1.0.0"] * 2, "prediction": ["1", "x"]}).write_csv(other)
    gated = run("predictions", "import", str(other), "--max-quarantined", "0.1", "--workspace", ws_path, code=3)
    assert gated.stderr.strip() == "error: quarantined 50.0% of rows; expected at most 10.0%"
    quarantined = json.loads(run("predictions", "quarantine", "--json", "--workspace", ws_path).stdout)
    assert sorted(q["rule"] for q in quarantined) == ["bad prediction", "bad prediction", "confidence out of [0, 1]"]


def test_workspace_from_mlmm_home(tmp_path, monkeypatch):
    monkeypatch.setenv("MLMM_HOME", str(tmp_path / "home"))
    run("models", "register", "m", "1.0.0")
    info = json.loads(run("workspace", "info", "--json").stdout)
    assert info["path"] == str((tmp_path / "home").resolve())
    assert (info["models"], info["versions"], info["schema_version"]) == (1, 1, 7)


def test_approval_rule_from_cli(ws_path):
    run("models", "register", "m", "1.0.0", "--workspace", ws_path)
    run("workspace", "require-approval", "production", "--workspace", ws_path)
    refused = run("deploy", "m", "1.0.0", "--actor", "bob", "--workspace", ws_path, code=1)
    assert "needs an approval by another actor" in refused.stderr
    run("approve", "m", "1.0.0", "--actor", "alice", "--workspace", ws_path)
    run("deploy", "m", "1.0.0", "--actor", "bob", "--workspace", ws_path)
    events = json.loads(run("models", "history", "m", "--json", "--workspace", ws_path).stdout)
    assert [e["event"] for e in events] == ["registered", "deploy_refused", "approved", "deployed"]


def test_cli_defaults_match_the_library_and_the_cli_starts_without_the_heavy_stack():
    from mlmm import drift, monitor, tuning
    from mlmm.cli import drift as cli_drift
    from mlmm.cli import monitor as cli_monitor
    from mlmm.cli import tune as cli_tune

    assert cli_monitor._MIN_LABELLED == monitor.DEFAULT_MIN_LABELLED
    assert cli_tune._MIN_IMPROVEMENT == tuning.DEFAULT_MIN_IMPROVEMENT
    assert cli_drift._SAMPLE_ROWS == drift.DEFAULT_SAMPLE_ROWS
    code = ("import sys, mlmm.cli\n"
            "heavy = [m for m in ('scipy', 'statsmodels', 'pyarrow', 'papermill', 'altair', 'nbconvert')"
            " if m in sys.modules]\nprint(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
