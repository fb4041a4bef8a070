"""The schedule: configuration (mlmm.toml, environment), due times, locks, job runs, the CLI."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from typer.testing import CliRunner

import mlmm
from mlmm import config as C
from mlmm.cli import app
from mlmm.reports import schedule as S

T0 = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)
ALL_OFF = "".join(f"[schedule.{job}]\nenabled = false\n" for job in C.DEFAULT_JOBS)


@pytest.fixture
def ws(tmp_path):
    target = tmp_path / "ws"
    shutil.copytree(os.environ["MLMM_HOME"], target)
    w = mlmm.open_workspace(target)
    yield w
    w.close()


def _notebook(path: Path, body: str) -> Path:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("workspace = None\nseconds = 0.0\nfail = False")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


SLEEPER = ("import time, mlmm\ntime.sleep(seconds)\nassert not fail, 'asked to fail'\n"
           "mlmm.reports.record('keep', f'slept {seconds} s', ws=mlmm.open_workspace(workspace), model='n1-detector')")


def test_defaults_come_from_the_seeds(ws):
    (ws.path / "mlmm.toml").unlink()  # the demo's own configuration
    jobs = {j.name: j for j in S.jobs(ws)}
    assert {n: (j.every.total_seconds(), j.notebook or j.task) for n, j in jobs.items()} == {
        "performance": (300, "alerts"), "degradation": (900, "monitoring_report"), "ab-evaluation": (3600, "ab_test_report"),
        "drift": (86400, "drift_report"), "tuning": (86400, "tuning_report"), "cleanup": (86400, "cleanup")}
    assert jobs["tuning"].auto_apply and jobs["tuning"].parameters["min_improvement"] == 0.05  # seed 001: > 5 %
    assert not jobs["degradation"].auto_apply


def test_mlmm_toml_and_the_environment_override_the_defaults(ws):
    (ws.path / "mlmm.toml").write_text('[schedule.degradation]\nevery = "30m"\nauto_apply = true\n'
                                       'parameters = { window = "6h" }\n[retraining]\nmax_age = "30d"\n')
    env = {"MLMM_SCHEDULE_AB_EVALUATION_EVERY": "2h", "AUTO_TUNING_ENABLED": "false", "MLMM_RETRAIN_MIN_NEW_LABELS": "10"}
    conf, sources = C.config_sources(ws.path, env)
    assert (conf["schedule"]["degradation"]["every"], conf["schedule"]["degradation"]["auto_apply"]) == ("30m", True)
    assert conf["schedule"]["degradation"]["parameters"] == {"window": "6h"}
    assert conf["schedule"]["ab-evaluation"]["every"] == "2h" and conf["schedule"]["tuning"]["enabled"] is False
    assert (conf["retraining"]["max_age"], conf["retraining"]["min_new_labels"]) == ("30d", 10)
    assert sources == {"schedule.degradation.every": "mlmm.toml", "schedule.degradation.auto_apply": "mlmm.toml",
                       "schedule.degradation.parameters": "mlmm.toml", "retraining.max_age": "mlmm.toml",
                       "schedule.ab-evaluation.every": "MLMM_SCHEDULE_AB_EVALUATION_EVERY",
                       "schedule.tuning.enabled": "AUTO_TUNING_ENABLED",
                       "retraining.min_new_labels": "MLMM_RETRAIN_MIN_NEW_LABELS"}


@pytest.mark.parametrize(("text", "env", "message"), [
    ('[schedule.drift]\nevery = "often"\n', {}, r"^\[schedule.drift\] every='often': expected a number with a unit"),
    ('[schedule.drift]\nwhen = "1d"\n', {}, r"\[schedule.drift\] unknown key\(s\) when; expected auto_apply, description"),
    ('[scheduel]\n', {}, r"unknown section\(s\) scheduel; expected schedule, retraining"),
    ('[schedule.nightly]\nevery = "1d"\n', {}, r"\[schedule.nightly\] in .*: expected exactly one of notebook"),
    ('[schedule.x]\nevery = "1d"\ntask = "vacuum"\n', {}, r"^\[schedule.x\] task='vacuum': expected one of alerts, cleanup"),
    ("", {"MLMM_SCHEDULE_DRIFT_ENABLED": "maybe"},
     r"^\[schedule.drift\] enabled \(from MLMM_SCHEDULE_DRIFT_ENABLED\)='maybe': expected true or false"),
    ("[retraining\n", {}, r"mlmm.toml: not valid TOML"),
    ('[schedule."nightly/alerts"]\nevery = "1d"\n', {}, r"expected a job name of lowercase letters"),
    ("", {"MLMM_RETRAIN_MIN_LABELLED": "lots"},
     r"^\[retraining\] min_labelled \(from MLMM_RETRAIN_MIN_LABELLED\)='lots': expected a whole number >= 1$"),
    ("[retraining]\naccuracy_floor = 1.7\n", {}, r"^\[retraining\] accuracy_floor=1.7: expected a number in \[0.0, 1.0\]$"),
    ('[retraining]\nmin_new_labels = "50k"\n', {}, r"^\[retraining\] min_new_labels='50k': expected a whole number"),
    ("", {"MLMM_SCHEDULE_DRIFT_EVERY": "daily"},
     r"^\[schedule.drift\] every \(from MLMM_SCHEDULE_DRIFT_EVERY\)='daily': expected a number with a unit"),
])
def test_bad_configuration_is_named(ws, text, env, message):
    (ws.path / "mlmm.toml").write_text(text)
    with pytest.raises(mlmm.ValidationError, match=message):
        C.config_sources(ws.path, env)


def test_due_times_and_run_due(ws, tmp_path):
    nb = _notebook(tmp_path / "sleeper.ipynb", SLEEPER)
    (ws.path / "mlmm.toml").write_text(ALL_OFF.replace("[schedule.performance]\nenabled = false\n", "") +
                                       f'[schedule.nap]\nevery = "1h"\nnotebook = "{nb}"\nfor_each = "none"\n')
    status = S.status(ws, at=T0)
    assert status.filter(status["enabled"])["job"].to_list() == ["performance", "nap"]
    assert status.filter(status["job"] == "nap").select("due", "last_run", "last_status").row(0) == (True, None, None)
    ran = S.run_due(ws, at=T0, output=tmp_path / "reports")
    assert [(r.job, r.status) for r in ran] == [("performance", "ok"), ("nap", "ok")]
    nap = ran[1].detail["targets"][0]
    assert (nap["status"], nap["decision"], nap["outcome"]) == ("ok", "keep", "recorded")
    assert S.run_due(ws, at=T0 + dt.timedelta(minutes=4), output=tmp_path / "reports") == []
    again = S.run_due(ws, at=T0 + dt.timedelta(minutes=6), output=tmp_path / "reports")
    assert [r.job for r in again] == ["performance"]  # every 5 minutes; the notebook job waits its hour
    status = S.status(ws, at=T0 + dt.timedelta(minutes=6))
    row = status.filter(status["job"] == "nap").row(0, named=True)
    assert (row["last_run"], row["next_due"], row["due"], row["last_status"]) == (T0, T0 + dt.timedelta(hours=1), False, "ok")
    decided = mlmm.decisions.decisions(ws, "n1-detector").row(0, named=True)
    assert (decided["actor"], decided["job"], decided["summary"]) == ("schedule:nap", "nap", "keep: slept 0.0 s")
    assert S.runs(ws, "nap")["status"].to_list() == ["ok"]


def test_a_held_lock_skips_the_job_and_a_failing_target_fails_the_job(ws, tmp_path):
    nb = _notebook(tmp_path / "sleeper.ipynb", SLEEPER)
    (ws.path / "mlmm.toml").write_text(ALL_OFF + f'[schedule.nap]\nevery = "1h"\nnotebook = "{nb}"\nfor_each = "none"\n'
                                       'parameters = { fail = true }\n')
    with S._try_lock(S._lock_path(ws, "nap")) as locked:
        assert locked
        assert S.status(ws)["running"].to_list()[-1] is True
        skipped = S.run_job(ws, "nap", output=tmp_path / "reports")
        assert (skipped.status, skipped.detail) == ("skipped", {"reason": "running in another process (lock held)"})
    failed = S.run_job(ws, "nap", output=tmp_path / "reports")
    target = failed.detail["targets"][0]
    assert failed.status == "failed" and target["status"] == "failed"
    assert target["error"].startswith("ReportFailed: report sleeper failed (PapermillExecutionError: AssertionError: asked to fail)")
    assert mlmm.reports.runs(ws).select("notebook", "status", "job").row(0) == ("sleeper", "failed", "nap")
    with pytest.raises(mlmm.NotFoundError, match=r"^job='napp': no such job \(known: performance, degradation"):
        S.run_job(ws, "napp")


def test_two_run_due_at_once_run_a_job_once(ws, tmp_path):
    nb = _notebook(tmp_path / "sleeper.ipynb", SLEEPER)
    (ws.path / "mlmm.toml").write_text(ALL_OFF + f'[schedule.nap]\nevery = "1h"\nnotebook = "{nb}"\nfor_each = "none"\n'
                                       'parameters = { seconds = 3.0 }\n')
    ws.close()
    mlmm_bin = str(Path(sys.executable).with_name("mlmm"))
    cmd = [mlmm_bin, "schedule", "run-due", "-w", str(ws.path), "-o", str(tmp_path / "reports"), "--json"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=180) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1] for o in outs]
    results = sorted((r["status"] for o in outs for r in json.loads(o[0])), reverse=True)
    assert results in (["ok"], ["skipped", "ok"])  # the second saw the lock held, or found it not due any more
    with mlmm.open_workspace(ws.path).session() as w, w.connect() as con:
        events = con.execute("SELECT event, status FROM schedule_runs WHERE job = 'nap' ORDER BY seq").fetchall()
    assert events == [("started", None), ("finished", "ok")]
    assert len(list((tmp_path / "reports").glob("*/sleeper-*"))) == 1


def test_the_cli(ws, tmp_path):
    nb = _notebook(tmp_path / "sleeper.ipynb", SLEEPER)
    (ws.path / "mlmm.toml").write_text(ALL_OFF + f'[schedule.nap]\nevery = "1h"\nnotebook = "{nb}"\nfor_each = "none"\n')
    runner = CliRunner()
    w = ["-w", str(ws.path)]
    listed = runner.invoke(app, ["schedule", "list", *w, "--json"])
    assert listed.exit_code == 0, listed.output
    assert [r["job"] for r in json.loads(listed.output)][-1] == "nap"
    ran = runner.invoke(app, ["schedule", "run", "nap", *w, "-o", str(tmp_path / "reports")])
    assert ran.exit_code == 0, ran.output
    assert ran.output.startswith("nap: ok in ") and "  sleeper: ok: keep -> recorded" in ran.output
    assert runner.invoke(app, ["schedule", "run-due", *w, "-o", str(tmp_path / "reports")]).output == "nothing due\n"
    conf = runner.invoke(app, ["schedule", "config", *w])
    assert '  every = "1h"  (mlmm.toml)' in conf.output and '  max_age = "7d"  (default)' in conf.output
    decided = runner.invoke(app, ["decide", "n1-detector", "roll back", "--reason", "1.1.0 misfires", "--apply",
                                  "--actor", "ana", *w])
    assert decided.exit_code == 0, decided.output
    assert decided.output == "roll back for n1-detector recorded by ana: n1-detector rolled back in production; 1.0.0 serves\n"
    bad = runner.invoke(app, ["decide", "n1-detector", "ship", "--reason", "x", *w])
    assert bad.exit_code == 1 and "decision='ship': expected one of deploy" in bad.output
    listed = json.loads(runner.invoke(app, ["decisions", "n1-detector", *w, "--json"]).output)
    assert [(d["decision"], d["actor"], d["applied"]) for d in listed[:2]] == [("roll back", "ana", True),
                                                                                ("keep", "schedule:nap", False)]


def test_due_tolerates_cron_jitter_and_a_clock_that_went_back():
    five, day = dt.timedelta(minutes=5), dt.timedelta(days=1)
    # cron ticks at :00 and a run starts a second or two later: the next tick must still run it
    assert S._due(T0 + dt.timedelta(seconds=2), five, T0 + five + dt.timedelta(seconds=1))
    assert not S._due(T0, five, T0 + dt.timedelta(minutes=4))  # 4 min < 5 min - 30 s
    assert S._due(T0 + dt.timedelta(seconds=3), day, T0 + day)  # a daily job does not drift a minute a day
    assert not S._due(T0, day, T0 + day - dt.timedelta(minutes=2))
    assert S._due(T0 + dt.timedelta(days=30), five, T0)  # last start in the future: run (and warn)
