"""Cron schedules (``every = "0 2 * * 0"``, UTC) and ``mlmm schedule health``."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys

import nbformat
import pytest
from typer.testing import CliRunner

import mlmm
from mlmm import config as C
from mlmm.cli import app
from mlmm.reports import schedule as S

UTC = dt.UTC
ALL_OFF = "".join(f"[schedule.{job}]\nenabled = false\n" for job in C.DEFAULT_JOBS)
SUNDAY_2AM = S.Cron("0 2 * * 0")
FRIDAY = dt.datetime(2026, 12, 4, 17, 0, tzinfo=UTC)  # 2026-11-29 and 2026-12-06 are Sundays


def t(day: int, hour: int, minute: int = 0, second: int = 0, month: int = 12) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, second, tzinfo=UTC)


@pytest.fixture
def ws(tmp_path):
    target = tmp_path / "ws"
    shutil.copytree(os.environ["MLMM_HOME"], target)
    w = mlmm.open_workspace(target)
    yield w
    w.close()


def _mlmm(*args: str) -> list[str]:
    return [sys.executable, "-c", "import sys; sys.argv[0] = 'mlmm'; from mlmm.cli import app; app()", *args]


# --- parsing and validation -------------------------------------------------------------------


def test_parse_every_reads_intervals_and_cron():
    assert S.parse_every("15m") == dt.timedelta(minutes=15)
    assert S.parse_every("0 2 * * 0") == SUNDAY_2AM
    assert S.parse_every("  0  3 * *   * ") == S.Cron("0 3 * * *")  # spaces normalised
    assert S.parse_every("0 2 * * SUN").next_after(t(4, 17)) == t(6, 2)
    assert S.Job("x", SUNDAY_2AM, True, False, None, "alerts", "none", {}, "").to_dict()["every"] == "0 2 * * 0"


@pytest.mark.parametrize(("value", "message"), [
    ("0 2 * * 8", r"^\[schedule.drift\] every='0 2 \* \* 8': not a cron expression \(bad day-of-week\); expected five"
                  r" fields, minute hour day-of-month month day-of-week, in UTC \(e.g. '0 2 \* \* 0'\)$"),
    ("0 2 * *", r"^\[schedule.drift\] every='0 2 \* \*': not a cron expression \(wrong number of fields\); expected"),
    ("0 0 30 2 *", r"^\[schedule.drift\] every='0 0 30 2 \*': not a cron expression \(bad day-of-month\)"),
    ("@daily", r"^\[schedule.drift\] every='@daily': cron aliases such as @daily are not supported; expected five"),
    ("often", r"^\[schedule.drift\] every='often': expected a number with a unit s, m, h, d or w \(e.g. '24h', '30d'\),"
              r" or a cron expression \(e.g. '0 2 \* \* 0'\)$"),
])
def test_a_bad_every_is_one_line_naming_the_job_and_the_value(value, message):
    with pytest.raises(mlmm.ValidationError, match=message):
        S.parse_every(value, "[schedule.drift] every")


def test_cron_in_mlmm_toml_and_the_environment(ws):
    (ws.path / "mlmm.toml").write_text('[schedule.drift]\nevery = "0 2 * * 0"\n')
    jobs = {j.name: j.every for j in S.jobs(ws)}
    assert (jobs["drift"], jobs["degradation"]) == (SUNDAY_2AM, dt.timedelta(minutes=15))
    conf, sources = C.config_sources(ws.path, {"MLMM_SCHEDULE_AB_EVALUATION_EVERY": "30 * * * *"})
    assert conf["schedule"]["ab-evaluation"]["every"] == "30 * * * *"
    assert sources["schedule.ab-evaluation.every"] == "MLMM_SCHEDULE_AB_EVALUATION_EVERY"
    (ws.path / "mlmm.toml").write_text('[schedule.drift]\nevery = "0 25 * * *"\n')
    with pytest.raises(mlmm.ValidationError,
                       match=r"^\[schedule.drift\] every='0 25 \* \* \*': not a cron expression \(bad hour\)"):
        S.jobs(ws)
    (ws.path / "mlmm.toml").write_text("")
    with pytest.raises(mlmm.ValidationError, match=r"^\[schedule.drift\] every \(from MLMM_SCHEDULE_DRIFT_EVERY\)="
                                                   r"'61 \* \* \* \*': not a cron expression \(bad minute\)"):
        C.config_sources(ws.path, {"MLMM_SCHEDULE_DRIFT_EVERY": "61 * * * *"})


# --- next due and due --------------------------------------------------------------------------


@pytest.mark.parametrize(("every", "started", "armed", "expected"), [
    (SUNDAY_2AM, t(29, 2, month=11), None, t(6, 2)),              # the brief's example
    (SUNDAY_2AM, t(29, 2, 0, 2, month=11), None, t(6, 2)),        # started 2 s after the tick
    (SUNDAY_2AM, t(29, 1, 59, 30, month=11), None, t(6, 2)),      # 30 s early (skewed clock): served that tick
    (SUNDAY_2AM, t(29, 1, 58, 0, month=11), None, t(29, 2, month=11)),  # forced 2 min before: the tick still runs
    (SUNDAY_2AM, None, None, t(6, 2)),                            # never ran, not seen by run-due: next tick
    (SUNDAY_2AM, None, t(22, 12, month=11), t(29, 2, month=11)),  # armed a week ago: due since Sunday
    (S.Cron("0 3 * * *"), t(4, 3, 0, 1), None, t(5, 3)),
    (S.Cron("*/5 * * * *"), t(4, 16, 54, 40), None, t(4, 17, 0)),  # tolerance 30 s: 16:55 counted as served
    (S.Cron("*/5 * * * *"), t(4, 16, 54, 20), None, t(4, 16, 55)),
    (dt.timedelta(hours=1), t(4, 16, 30), None, t(4, 17, 30)),
    (dt.timedelta(hours=1), None, None, FRIDAY),                  # an interval job that never ran: now
])
def test_next_due(every, started, armed, expected):
    assert S.next_due(every, started, FRIDAY, armed=armed) == expected


@pytest.mark.parametrize(("when", "cron_due", "interval_due"), [
    (t(6, 1, 58, 59), False, False),
    (t(6, 1, 59, 1), False, False),
    (t(6, 1, 59, 2), False, True),   # the interval job's tolerance: a minute before 7 days after the start
    (t(6, 1, 59, 59), False, True),  # a cron job never runs before its tick
    (t(6, 2, 0, 0), True, True),
    (t(6, 2, 0, 1), True, True),
    (t(6, 9, 0), True, True),
])
def test_due_around_the_tick(when, cron_due, interval_due):
    started = t(29, 2, 0, 2, month=11)
    assert S._due(started, SUNDAY_2AM, when) is cron_due
    assert S._due(started, dt.timedelta(days=7), when) is interval_due


def test_due_after_an_early_start_and_a_clock_that_went_back():
    early = t(6, 1, 59, 30)  # the 02:00 tick's run, started 30 s early by a skewed clock
    assert [S._due(early, SUNDAY_2AM, w) for w in (t(6, 2), t(6, 2, 1), t(13, 1, 59, 59), t(13, 2))] == [
        False, False, False, True]
    assert S._due(t(20, 2), SUNDAY_2AM, t(6, 2, 1))  # last start in the future: run (and warn)
    assert not S._due(None, SUNDAY_2AM, t(6, 3))       # never ran, never armed: wait for a tick
    assert S._due(None, SUNDAY_2AM, t(6, 2), armed=t(6, 1, 59, 30))
    assert not S._due(None, SUNDAY_2AM, t(6, 1, 59, 59), armed=t(4, 17))


def test_a_new_cron_job_waits_for_its_tick_and_runs_once_per_tick(ws, tmp_path):
    (ws.path / "mlmm.toml").write_text(ALL_OFF + '[schedule.weekly]\nevery = "0 2 * * 0"\ntask = "alerts"\n')
    out = tmp_path / "reports"
    row = S.status(ws, at=FRIDAY).filter(S.status(ws, at=FRIDAY)["job"] == "weekly").row(0, named=True)
    assert (row["every"], row["next_due"], row["due"], row["last_run"]) == ("0 2 * * 0", t(6, 2), False, None)
    assert S.run_due(ws, at=FRIDAY, output=out) == []  # seen (armed) now; due at Sunday's tick
    skipped = S.run_job(ws, "weekly", force=False, at=t(6, 1, 59, 59))
    assert (skipped.status, skipped.detail) == ("skipped", {"reason": "not due until 2026-12-06 02:00:00 UTC"})
    ran = S.run_due(ws, at=t(6, 2, 0, 1), output=out)
    assert [(r.job, r.status) for r in ran] == [("weekly", "ok")]
    assert S.run_due(ws, at=t(6, 2, 1), output=out) == []
    assert S.run_due(ws, at=t(13, 1, 59), output=out) == []
    status = S.status(ws, at=t(6, 2, 1))
    row = status.filter(status["job"] == "weekly").row(0, named=True)
    assert (row["last_run"], row["last_status"], row["next_due"], row["due"]) == (t(6, 2, 0, 1), "ok", t(13, 2), False)
    assert [(r.job, r.status) for r in S.run_due(ws, at=t(13, 2, 0, 1), output=out)] == [("weekly", "ok")]
    assert S.runs(ws, "weekly")["status"].to_list() == ["ok", "ok"]


SLEEPER = ("import time, mlmm\ntime.sleep(seconds)\n"
           "mlmm.reports.record('keep', f'slept {seconds} s', ws=mlmm.open_workspace(workspace), model='n1-detector')")


def test_two_run_due_at_once_run_a_cron_job_once(ws, tmp_path):
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("workspace = None\nseconds = 0.0")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(SLEEPER)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, tmp_path / "sleeper.ipynb")
    (ws.path / "mlmm.toml").write_text(ALL_OFF + f'[schedule.nap]\nevery = "0 * * * *"\nnotebook = '
                                       f'"{tmp_path / "sleeper.ipynb"}"\nfor_each = "none"\nparameters = {{ seconds = 3.0 }}\n')
    # a run two hours ago: the hour's tick has passed since
    S._append(ws, "job-nap-old", "nap", "started", mlmm._util.now() - dt.timedelta(hours=2))
    S._append(ws, "job-nap-old", "nap", "finished", mlmm._util.now() - dt.timedelta(hours=2), "ok", 1.0, {})
    ws.close()
    cmd = _mlmm("schedule", "run-due", "-w", str(ws.path), "-o", str(tmp_path / "reports"), "--json")
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=180) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1] for o in outs]
    results = sorted((r["status"] for o in outs for r in json.loads(o[0])), reverse=True)
    assert results in (["ok"], ["skipped", "ok"])  # the second saw the lock held, or found it not due any more
    with mlmm.open_workspace(ws.path).session() as w, w.connect() as con:
        events = con.execute("SELECT event, status FROM schedule_runs WHERE job = 'nap' AND run_id <> 'job-nap-old'"
                             " ORDER BY seq").fetchall()
    assert events == [("started", None), ("finished", "ok")]
    assert len(list((tmp_path / "reports").glob("*/sleeper-*"))) == 1


def test_schedule_list_at_80_columns(ws):
    (ws.path / "mlmm.toml").write_text('[schedule.drift]\nevery = "0 2 * * 0"\n[schedule.tuning]\nenabled = false\n')
    S._append(ws, "job-drift-1", "drift", "started", dt.datetime.now(UTC) - dt.timedelta(days=8))  # interrupted
    ws.close()
    env = {**os.environ, "COLUMNS": "80", "TERM": "xterm-256color", "NO_COLOR": "1"}
    out = subprocess.run(_mlmm("schedule", "list", "-w", str(ws.path)), capture_output=True, text=True, env=env,
                         check=True).stdout
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 80, out
    assert lines[2].split() == ["job", "every", "mode", "last", "run", "status", "next", "due"]
    drift = next(line.split() for line in lines if line.split()[:1] == ["drift"])
    assert drift[1:6] == ["0", "2", "*", "*", "0"] and drift[6] == "on" and drift[9] == "interrupted"
    assert drift[10] == "now"  # a week since its last start: Sunday's tick has passed
    tuning = next(line.split() for line in lines if line.split()[:1] == ["tuning"])
    assert tuning[1:] == ["1d", "off", "-", "-", "-"]  # disabled: never due
    wide = subprocess.run(_mlmm("schedule", "list", "-w", str(ws.path)), capture_output=True, text=True,
                          env={**env, "COLUMNS": "120"}, check=True).stdout
    assert "runs" in wide.splitlines()[2] and "monitoring_report" in wide


# --- health ------------------------------------------------------------------------------------


def _history(ws, job: str, *runs: tuple[dt.datetime, str | None]) -> None:
    """Runs of ``job`` started at the given times, finished a minute later with the status
    (None: never finished)."""
    for i, (start, status) in enumerate(runs):
        run_id = f"job-{job}-{start:%m%d%H%M}-{i}"
        S._append(ws, run_id, job, "started", start)
        if status is not None:
            S._append(ws, run_id, job, "finished", start + dt.timedelta(minutes=1), status, 60.0, {})


HEALTH_JOBS = ALL_OFF + "".join(f'[schedule.{name}]\nevery = "{every}"\ntask = "alerts"\n' for name, every in [
    ("steady", "1h"), ("shaky", "1h"), ("broken", "1h"), ("late", "1h"), ("weekly", "0 2 * * 0"), ("stuck", "1d"),
    ("fresh", "1h")])


def test_health_verdicts_for_constructed_histories(ws):
    (ws.path / "mlmm.toml").write_text(HEALTH_JOBS)
    hours = [FRIDAY - dt.timedelta(hours=h) for h in (6, 5, 4, 3, 2, 1)]
    _history(ws, "steady", (hours[4], "failed"), (hours[5], "ok"))
    _history(ws, "shaky", (hours[3], "ok"), (hours[4], "failed"), (hours[5], "failed"))
    _history(ws, "broken", (hours[0], "ok"), (hours[1], "failed"), (hours[2], "failed"), (hours[3], "failed"),
             (hours[4], "failed"), (hours[5], "failed"))
    _history(ws, "late", (FRIDAY - dt.timedelta(hours=2, minutes=1), "ok"))
    _history(ws, "weekly", (t(22, 2, month=11), "ok"))
    _history(ws, "stuck", (FRIDAY - dt.timedelta(hours=3), None))
    health = S.health(ws, at=FRIDAY)
    got = {j.job: (j.verdict, j.failures_in_row, j.last_status, j.last_success) for j in health.jobs}
    assert got == {
        **{job: ("ok", 0, None, None) for job in C.DEFAULT_JOBS},
        "steady": ("ok", 0, "ok", hours[5]),
        "shaky": ("warning", 2, "failed", hours[3]),
        "broken": ("critical", 5, "failed", hours[0]),
        "late": ("warning", 0, "ok", FRIDAY - dt.timedelta(hours=2, minutes=1)),
        "weekly": ("warning", 0, "ok", t(22, 2, month=11)),
        "stuck": ("warning", 0, "interrupted", None),
        "fresh": ("ok", 0, None, None),
    }
    assert health.verdict == "critical" and not health.ok
    by = {j.job: j for j in health.jobs}
    assert by["broken"].reasons == ("5 failed runs in a row (critical above 3)",)
    assert by["late"].reasons == ("late: due since 2026-12-04 15:59, more than twice its interval of 1h, without a start",)
    assert by["weekly"].reasons == ("late: due since 2026-11-29 02:00, more than 1h past its tick, without a start",)
    assert by["stuck"].reasons == ("interrupted: started 2026-12-04 14:00 and not finished after the 2h timeout",)
    assert by["weekly"].to_dict()["next_due"] == "2026-11-29T02:00:00+00:00"
    # the edges: 3 failures in a row is a warning, an hour past a cron tick or twice the interval is not late
    assert S.health(ws, at=FRIDAY, timeout="4h").to_dict()["jobs"][-2]["verdict"] == "ok"  # stuck, 3 h < 4 h
    assert {j.job: j.verdict for j in S.health(ws, at=t(29, 3, month=11)).jobs}["weekly"] == "ok"
    assert {j.job: j.verdict for j in S.health(ws, at=t(29, 3, 0, 1, month=11)).jobs}["weekly"] == "warning"
    at_edge = FRIDAY - dt.timedelta(minutes=1)  # "late" started exactly 2 h before
    assert {j.job: j.verdict for j in S.health(ws, at=at_edge).jobs}["late"] == "ok"


def test_health_is_ok_when_nothing_is_wrong_and_reads_well(ws):
    (ws.path / "mlmm.toml").write_text(ALL_OFF + '[schedule.steady]\nevery = "1h"\ntask = "alerts"\n'
                                       '[schedule.shaky]\nevery = "0 * * * *"\ntask = "alerts"\n')
    _history(ws, "steady", (FRIDAY - dt.timedelta(minutes=30), "ok"))
    health = S.health(ws, at=FRIDAY)
    assert health.verdict == "ok" and health.ok
    assert str(health).splitlines()[:3] == ["schedule health: ok at 2026-12-04 17:00 UTC (8 jobs)",
                                            "  performance: off; last success never",
                                            "  degradation: off; last success never"]
    assert repr(health) == "Health(verdict='ok', at='2026-12-04T17:00:00+00:00', jobs=8)"
    _history(ws, "shaky", (t(4, 15), "failed"), (t(4, 16), "failed"), (t(4, 16, 30), "failed"), (t(4, 16, 45), "failed"))
    assert str(S.health(ws, at=FRIDAY)).splitlines()[:3] == [
        "schedule health: critical at 2026-12-04 17:00 UTC (1 of 8 jobs need attention)",
        "  shaky: critical; last success never",
        "    - 4 failed runs in a row (critical above 3)"]


def test_health_cli_exit_codes_and_json(ws):
    (ws.path / "mlmm.toml").write_text(ALL_OFF + '[schedule.steady]\nevery = "1h"\ntask = "alerts"\n')
    now = mlmm._util.now()
    _history(ws, "steady", (now - dt.timedelta(minutes=10), "ok"))
    runner, w = CliRunner(), ["-w", str(ws.path)]
    ok = runner.invoke(app, ["schedule", "health", *w])
    assert ok.exit_code == 0, ok.output
    assert ok.output.startswith("schedule health: ok at ")
    _history(ws, "steady", *[(now - dt.timedelta(minutes=9 - i), "failed") for i in range(4)])
    bad = runner.invoke(app, ["schedule", "health", *w, "--json"])
    assert bad.exit_code == 3, bad.output
    data = json.loads(bad.output)
    steady = data["jobs"][-1]
    assert (data["verdict"], steady["job"], steady["verdict"], steady["failures_in_row"]) == (
        "critical", "steady", "critical", 4)
    assert steady["last_success"] == (now - dt.timedelta(minutes=10)).isoformat()


def test_interval_jobs_keep_their_behaviour():
    # the interval rule of tests/test_schedule.py, through the new signature
    five = dt.timedelta(minutes=5)
    assert S._due(None, five, FRIDAY)
    assert S._due(FRIDAY + dt.timedelta(seconds=2), five, FRIDAY + five + dt.timedelta(seconds=1))
    assert not S._due(FRIDAY, five, FRIDAY + dt.timedelta(minutes=4))
