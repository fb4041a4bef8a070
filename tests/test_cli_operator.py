"""Operator options of the CLI: `tune history --limit`, `models history --since`,
`models register-presets`, `deploy --all` (exact lines and exit codes)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

import mlmm
from mlmm.cli import app

runner = CliRunner()


def run(*args: str, code: int = 0):
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    return result


@pytest.fixture()
def ws_path(tmp_path):
    path = tmp_path / "ws"
    ws = mlmm.open_workspace(path)
    ws.registry.register("alpha", "1.0.0", at="2025-01-01T00:00:00Z", actor="alice")
    ws.registry.register("alpha", "1.1.0", at="2025-06-01T00:00:00Z", actor="alice")
    ws.registry.register("beta", "2.0.0", at="2025-01-01T00:00:00Z", actor="alice")
    return str(path)


def _add_tuning_runs(path: str, model: str, n: int) -> None:
    ws = mlmm.open_workspace(path)
    with ws.connect() as con:
        for i in range(n):
            con.execute(
                "INSERT INTO tuning_runs (ts, run_id, model_name, version, kind, objective, improvement, applied,"
                " summary, result_table, actor) VALUES (?, ?, ?, '1.0.0', 'threshold', 'f1', 0.0, false, ?, '[]', 'alice')",
                [f"2026-02-0{i + 1} 00:00:00", f"run-{i}", model, f"run {i}"])


# ------------------------------------------------------------------ tune history --limit
def test_tune_history_limit_keeps_the_newest_runs(ws_path):
    _add_tuning_runs(ws_path, "alpha", 3)
    runs = json.loads(run("tune", "history", "alpha", "--limit", "2", "--json", "-w", ws_path).stdout)
    assert [r["run_id"] for r in runs] == ["run-2", "run-1"]
    runs = json.loads(run("tune", "history", "alpha", "--json", "-w", ws_path).stdout)
    assert [r["run_id"] for r in runs] == ["run-2", "run-1", "run-0"]


@pytest.mark.parametrize("bad", ["0", "-1", "abc", "1.5"])
def test_tune_history_limit_rejects_non_positive_integers(ws_path, bad):
    result = run("tune", "history", "alpha", "--limit", bad, "-w", ws_path, code=2)
    assert result.stderr == f"error: --limit={bad!r}: expected a positive integer\n"
    assert result.stdout == ""


# ------------------------------------------------------------------ models history --since
def test_models_history_since_an_iso_time(ws_path):
    events = json.loads(run("models", "history", "alpha", "--since", "2025-03-01", "--json", "-w", ws_path).stdout)
    assert [(e["version"], e["event"]) for e in events] == [("1.1.0", "registered")]
    events = json.loads(run("models", "history", "alpha", "--since", "2025-06-01T00:00:00Z", "--json",
                            "-w", ws_path).stdout)
    assert [(e["version"], e["event"]) for e in events] == [("1.1.0", "registered")]  # at WHEN counts


def test_models_history_since_a_duration(ws_path):
    mlmm.open_workspace(ws_path).registry.register("alpha", "1.2.0", actor="bob")  # now
    events = json.loads(run("models", "history", "alpha", "--since", "7d", "--json", "-w", ws_path).stdout)
    assert [(e["version"], e["actor"]) for e in events] == [("1.2.0", "bob")]


def test_models_history_since_and_limit_combine(ws_path):
    events = json.loads(run("models", "history", "alpha", "--since", "2024-01-01", "--limit", "1", "--json",
                            "-w", ws_path).stdout)
    assert [e["version"] for e in events] == ["1.1.0"]


def test_models_history_bad_since_and_limit(ws_path):
    result = run("models", "history", "alpha", "--since", "yesterday", "-w", ws_path, code=1)
    assert result.stderr == ("error: --since='yesterday': expected an ISO-8601 time or a duration such as"
                             " '7d' or '24h'\n")
    result = run("models", "history", "alpha", "--limit", "0", "-w", ws_path, code=2)
    assert result.stderr == "error: --limit='0': expected a positive integer\n"


# ------------------------------------------------------------------ models register-presets
def test_register_presets_is_idempotent(tmp_path):
    path = str(tmp_path / "ws")
    first = run("models", "register-presets", "-w", path)
    assert first.stdout.splitlines() == [
        "registered n1-detector 1.0.0 (supervised, config revision 1)",
        "registered waf-behavioral 1.0.0 (unsupervised, config revision 1)",
        "registered queue-anomaly 1.0.0 (unsupervised, config revision 1)",
    ]
    again = run("models", "register-presets", "-w", path)
    assert again.stdout.splitlines() == [
        "n1-detector 1.0.0 already registered",
        "waf-behavioral 1.0.0 already registered",
        "queue-anomaly 1.0.0 already registered",
    ]
    other = run("models", "register-presets", "--version", "2.0.0", "-w", path)
    assert other.stdout.splitlines()[0] == "registered n1-detector 2.0.0 (supervised, config revision 1)"
    meta = mlmm.open_workspace(path).registry.get("queue-anomaly", "2.0.0")
    assert meta.configuration["zscore_threshold"] == 3.0


def test_register_presets_bad_version(tmp_path):
    result = run("models", "register-presets", "--version", "one", "-w", str(tmp_path / "ws"), code=1)
    assert result.stderr.startswith("error: ") and "'one'" in result.stderr
    assert len(result.stderr.splitlines()) == 1


# ------------------------------------------------------------------ deploy --all
def test_deploy_all_deploys_each_latest_version_not_yet_in_env(ws_path):
    run("deploy", "beta", "2.0.0", "--env", "staging", "-w", ws_path)
    result = run("deploy", "--all", "--env", "staging", "--reason", "release", "-w", ws_path)
    assert result.stdout.splitlines() == ["deployed alpha 1.1.0 to staging", "beta 2.0.0 already in staging"]
    served = json.loads(run("deployments", "--json", "-w", ws_path).stdout)
    assert [(d["model_name"], d["environment"], d["version"]) for d in served] == [
        ("alpha", "staging", "1.1.0"), ("beta", "staging", "2.0.0")]
    event = mlmm.open_workspace(ws_path).registry.history("alpha").tail(1).row(0, named=True)
    assert (event["event"], event["reason"]) == ("deployed", "release")
    again = run("deploy", "--all", "--env", "staging", "-w", ws_path)
    assert again.stdout.splitlines() == ["alpha 1.1.0 already in staging", "beta 2.0.0 already in staging"]


def test_deploy_all_reports_refusals_and_deploys_the_others(ws_path):
    reg = mlmm.open_workspace(ws_path).registry
    reg.require_approval("production")
    reg.approve("beta", "2.0.0", env="production", actor="carol")
    result = run("deploy", "--all", "--env", "production", "--actor", "bob", "-w", ws_path, code=1)
    assert result.stdout.splitlines() == [
        "refused: deploying alpha 1.1.0 to production needs an approval by another actor: no approval recorded"
        " since its last configuration change (`mlmm approve alpha 1.1.0 --env production`)",
        "deployed beta 2.0.0 to production",
    ]
    assert result.stderr == "error: 1 of 2 deploys to production refused\n"
    assert [m.name for m in reg.get_production_models()] == ["beta"]


def test_deploy_all_dry_run_changes_nothing(ws_path):
    reg = mlmm.open_workspace(ws_path).registry
    reg.require_approval("production")
    result = run("deploy", "--all", "--dry-run", "-w", ws_path)
    assert result.stdout.splitlines() == [
        "would deploy alpha 1.1.0 to production (production requires an approval by another actor)",
        "would deploy beta 2.0.0 to production (production requires an approval by another actor)",
    ]
    assert reg.deployments().is_empty()
    planned = json.loads(run("deploy", "--all", "--dry-run", "--env", "staging", "--json", "-w", ws_path).stdout)
    assert [(p["model_name"], p["version"], p["outcome"]) for p in planned] == [
        ("alpha", "1.1.0", "would_deploy"), ("beta", "2.0.0", "would_deploy")]


def test_deploy_single_model_form_and_usage_errors(ws_path):
    assert run("deploy", "alpha", "1.0.0", "--env", "staging", "-w", ws_path).stdout == "deployed alpha 1.0.0 to staging\n"
    cases = [
        (("deploy", "-w", ws_path), "error: deploy: expected MODEL and VERSION, or --all\n"),
        (("deploy", "alpha", "-w", ws_path), "error: deploy: expected MODEL and VERSION, or --all\n"),
        (("deploy", "alpha", "1.1.0", "--dry-run", "-w", ws_path), "error: --dry-run: only with --all\n"),
        (("deploy", "alpha", "--all", "-w", ws_path),
         "error: --all deploys every model's latest version: expected no MODEL or VERSION\n"),
    ]
    for args, message in cases:
        assert run(*args, code=2).stderr == message
    result = run("deploy", "--all", "--env", "moon", "-w", ws_path, code=1)
    assert result.stderr.startswith("error: environment='moon': expected one of ")
