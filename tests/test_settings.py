"""Workspace settings: one table (mlmm.settings), set and shown from the CLI with their source."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

import mlmm
from mlmm.cli import app
from mlmm.cli.ws import _settings_text
from mlmm.errors import ValidationError
from mlmm.settings import (
    SETTINGS,
    TYPES,
    Setting,
    describe_settings,
    parse_setting,
    settings_table,
    show_value,
)
from mlmm.workspace import DEFAULT_SETTINGS

README = Path(__file__).resolve().parents[1] / "README.md"
runner = CliRunner()


def run(*args: str, code: int = 0):
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    return result


@pytest.fixture()
def ws_path(tmp_path):
    return str(tmp_path / "ws")


def test_default_settings_are_the_stored_defaults_of_the_table():
    assert DEFAULT_SETTINGS == {"retention_days": 30, "max_future_seconds": 86400, "min_timestamp": "2000-01-01T00:00:00Z"}
    assert [s.name for s in SETTINGS.values() if s.stored] == list(DEFAULT_SETTINGS)
    assert {s.type for s in SETTINGS.values()} <= set(TYPES)
    assert list(SETTINGS) == [
        "retention_days", "max_future_seconds", "min_timestamp", "monitor_window", "alert_silence",
        "alert_min_label_coverage", "alert_max_error_rate", "alert_drift", "alert_feature_drift", "alert_webhook",
        "alert_command", "approval.development", "approval.staging", "approval.production", "anonymize",
        "anonymize_salt"]


def test_every_settable_default_is_a_valid_value_of_its_type():
    for s in SETTINGS.values():
        if s.set_with is None and s.default is not None and s.type != "time":
            assert parse_setting(s.name, show_value(s.default)) == s.default, s.name
    assert parse_setting("min_timestamp", DEFAULT_SETTINGS["min_timestamp"]) == "2000-01-01T00:00:00+00:00"


@pytest.mark.parametrize(("key", "text", "stored", "shown"), [
    ("retention_days", "90", 90, "90"),                                                     # int
    ("max_future_seconds", "3600.5", 3600.5, "3600.5"),                                      # float
    ("alert_min_label_coverage", "0", 0, "0"),                                               # float in [0, 1]
    ("monitor_window", " 48h", "48h", "48h"),                                                   # duration
    ("alert_silence", "90m", "90m", "90m"),
    ("min_timestamp", "2001-02-03", "2001-02-03T00:00:00+00:00", "2001-02-03T00:00:00+00:00"),  # time
    ("alert_command", "tee -a alerts.log", "tee -a alerts.log", "tee -a alerts.log"),        # text
    ("alert_webhook", "https://alerts.example.com/mlmm", "https://alerts.example.com/mlmm",
     "https://alerts.example.com/mlmm"),                                                     # url
    ("alert_drift", "false", False, "false"),                                                # bool
    ("alert_webhook", "", "", ""),                                                           # a hook off
])
def test_set_each_type_is_stored_audited_and_shown(ws_path, key, text, stored, shown):
    out = run("workspace", "set", key, text, "--actor", "ops", "--reason", "why", "-w", ws_path)
    assert out.stdout == f"{key} = {shown}\n"
    with mlmm.open_workspace(ws_path) as ws:
        assert ws.settings()[key] == stored
        with ws.connect() as con:
            history = con.execute("SELECT key, value, actor, reason FROM settings").fetchall()
        assert history == [(key, json.dumps(stored), "ops", "why")]
        row = next(r for r in describe_settings(ws) if r["name"] == key)
    assert (row["value"], row["source"]) == (stored, "workspace")


def test_approval_setting_is_the_one_the_registry_reads(ws_path):
    run("workspace", "set", "approval.production", "true", "-w", ws_path)
    with mlmm.open_workspace(ws_path) as ws:
        assert ws.registry.approval_required("production") is True
        assert ws.registry.approval_required("staging") is False


@pytest.mark.parametrize(("key", "text", "message"), [
    ("retention_days", "0", "retention_days='0': expected a positive whole number"),
    ("retention_days", "3.5", "retention_days='3.5': expected a positive whole number"),
    ("retention_days", "true", "retention_days='true': expected a positive whole number"),
    ("max_future_seconds", "soon", "max_future_seconds='soon': expected a positive number"),
    ("max_future_seconds", "NaN", "max_future_seconds='NaN': expected a positive number"),
    ("alert_max_error_rate", "1.5", "alert_max_error_rate='1.5': expected a number in [0, 1]"),
    ("alert_silence", "soon", "alert_silence='soon': expected a number with a unit s, m, h, d or w (e.g. '24h', '30d')"),
    ("monitor_window", "0h", "monitor_window='0h': expected a positive duration (e.g. '24h', '30d')"),
    ("min_timestamp", "yesterday",
     "min_timestamp='yesterday': expected an ISO-8601 time, a datetime or epoch seconds"),
    ("alert_command", "  ", "alert_command='  ': expected some text"),
    ("alert_webhook", "alerts.example.com/mlmm", "alert_webhook='alerts.example.com/mlmm': expected an http:// or https:// URL"),
    ("alert_webhook", "ftp://alerts.example.com", "alert_webhook='ftp://alerts.example.com': expected an http:// or https:// URL"),
    ("alert_drift", "yes", "alert_drift='yes': expected true or false"),
    ("alert_drift", "", "alert_drift='': expected true or false"),
    ("anonymize", '{"m": ["ip"]}',
     "anonymize is changed with `mlmm predictions anonymize MODEL FIELD...`, not `mlmm workspace set`"),
    ("anonymize_salt", "abc",
     "anonymize_salt is changed with `mlmm predictions anonymize MODEL FIELD...`, not `mlmm workspace set`"),
    ("alert_silense", "2h",
     "key='alert_silense': expected one of retention_days, max_future_seconds, min_timestamp, monitor_window, "
     "alert_silence, alert_min_label_coverage, alert_max_error_rate, alert_drift, alert_feature_drift, "
     "alert_webhook, alert_command, approval.development, approval.staging, approval.production, anonymize, "
     "anonymize_salt"),
])
def test_a_bad_value_is_one_line_on_stderr_and_nothing_is_stored(ws_path, key, text, message):
    out = run("workspace", "set", key, text, "-w", ws_path, code=1)
    assert (out.stdout, out.stderr) == ("", f"error: {message}\n")
    with mlmm.open_workspace(ws_path) as ws:
        assert ws.settings() == DEFAULT_SETTINGS


def test_mapping_values_are_json_objects(monkeypatch):
    monkeypatch.setitem(SETTINGS, "labels_map", Setting("labels_map", "mapping", {}, "a mapping"))
    assert parse_setting("labels_map", '{"a": [1, 2]}') == {"a": [1, 2]}
    with pytest.raises(ValidationError) as err:
        parse_setting("labels_map", "[1, 2]")
    assert str(err.value) == """labels_map='[1, 2]': expected a JSON object, e.g. '{"key": "value"}'"""


def test_sources_default_then_workspace_and_keys_mlmm_does_not_read(tmp_path, monkeypatch):
    # mlmm.toml and the environment configure schedules and retraining only: no other source
    monkeypatch.setenv("MLMM_RETRAIN_MAX_AGE", "14d")
    with mlmm.open_workspace(tmp_path / "ws") as ws:
        (ws.path / "mlmm.toml").write_text('[retraining]\nmax_age = "14d"\n')
        assert {r["source"] for r in describe_settings(ws)} == {"default"}
        ws.set_setting("retention_days", 30, actor="ops")  # the default value, but set: the source says so
        ws.set_setting("alert_silense", "2h", actor="ops")  # a typo from Python
        rows = {r["name"]: r for r in describe_settings(ws)}
        table = settings_table(ws)
    assert rows["retention_days"] == {"name": "retention_days", "type": "int", "value": 30, "default": 30,
                                      "source": "workspace",
                                      "meaning": "days of predictions `mlmm predictions cleanup` keeps"}
    assert rows["alert_silence"]["source"] == "default"
    assert rows["alert_silense"] == {"name": "alert_silense", "type": None, "value": "2h", "default": None,
                                     "source": "workspace", "meaning": "not a setting mlmm reads"}
    assert table.columns == ["name", "type", "value", "default", "source", "meaning"]
    assert table.dtypes == [pl.String] * 6
    assert table.height == len(SETTINGS) + 1
    assert table.filter(pl.col("name").is_in(["alert_drift", "anonymize", "alert_webhook"])).select(
        "name", "value", "default").rows() == [("alert_drift", "true", "true"), ("alert_webhook", None, None),
                                               ("anonymize", "{}", "{}")]


def test_settings_json_has_real_values(ws_path):
    run("workspace", "set", "alert_drift", "false", "-w", ws_path)
    rows = json.loads(run("workspace", "settings", "--json", "-w", ws_path).stdout)
    assert len(rows) == len(SETTINGS)
    assert rows[0] == {"name": "retention_days", "type": "int", "value": 30, "default": 30, "source": "default",
                       "meaning": "days of predictions `mlmm predictions cleanup` keeps"}
    assert next(r for r in rows if r["name"] == "alert_drift") == {
        "name": "alert_drift", "type": "bool", "value": False, "default": True, "source": "workspace",
        "meaning": "alert on concept drift confirmed against the baseline"}


def test_settings_fit_80_columns_in_a_log_file(ws_path):
    run("workspace", "set", "alert_webhook", "https://alerts.example.com/mlmm/a/long/path/to/the/receiver",
        "-w", ws_path)
    env = {**os.environ, "COLUMNS": "80", "TERM": "xterm-256color"}
    done = subprocess.run([sys.executable, "-m", "mlmm.cli", "workspace", "settings", "-w", ws_path],
                          capture_output=True, text=True, env=env, check=True)
    lines = done.stdout.splitlines()
    assert "\x1b" not in done.stdout
    assert max(len(line) for line in lines) <= 80
    assert lines[:3] == [
        "name                      value                 default               source",
        "retention_days            30                    30                    default",
        "    days of predictions `mlmm predictions cleanup` keeps"]
    at = lines.index(next(line for line in lines if line.startswith("alert_webhook")))
    assert lines[at:at + 4] == [
        "alert_webhook             https://alerts.examp  -                     workspace",
        "                          le.com/mlmm/a/long/p",
        "                          ath/to/the/receiver",
        "    POST each alert's JSON to this URL (empty: off)"]


def test_settings_text_uses_a_wide_terminal_without_folding():
    rows = [{"name": "alert_webhook", "value": "https://alerts.example.com/mlmm", "default": None,
             "source": "workspace", "meaning": "POST each alert's JSON to this URL (empty: off)"}]
    assert _settings_text(rows, 200).splitlines() == [
        "name           value                            default                          source",
        "alert_webhook  https://alerts.example.com/mlmm  -                                workspace",
        "    POST each alert's JSON to this URL (empty: off)"]


def test_readme_settings_commands_run(ws_path):
    commands = re.findall(r"`(mlmm workspace (?:set|settings)\b[^`]*)`", README.read_text())
    assert "mlmm workspace settings" in commands
    assert "mlmm workspace set alert_webhook https://alerts.example.com/mlmm" in commands
    for command in commands:
        if re.search(r"\b[A-Z]{3,}\b", command):  # a form (KEY VALUE), not an example
            continue
        run(*shlex.split(command)[1:], "-w", ws_path)
    set_keys = {shlex.split(c)[3] for c in commands if shlex.split(c)[2] == "set" and "KEY" not in c}
    with mlmm.open_workspace(ws_path) as ws:
        assert {r["name"] for r in describe_settings(ws) if r["source"] == "workspace"} == set_keys
        assert ws.setting("alert_webhook") == "https://alerts.example.com/mlmm"


def test_unset_returns_a_setting_to_its_default_and_history_keeps_it(tmp_path):
    from typer.testing import CliRunner

    import mlmm
    from mlmm.cli import app

    ws = mlmm.open_workspace(tmp_path / "ws")
    runner = CliRunner()
    assert runner.invoke(app, ["workspace", "set", "retention_days", "90", "-w", str(ws.path)]).exit_code == 0
    assert ws.setting("retention_days") == 90
    result = runner.invoke(app, ["workspace", "unset", "retention_days", "--reason", "back", "-w", str(ws.path)])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "retention_days = 30 (default)"
    assert ws.setting("retention_days") == 30
    row = ws.settings_table().filter(name="retention_days").row(0, named=True)
    assert (row["value"], row["source"]) == ("30", "default")
    bad = runner.invoke(app, ["workspace", "unset", "nope", "-w", str(ws.path)])
    assert bad.exit_code == 1 and "key='nope': expected one of retention_days" in bad.output
    ws.close()
