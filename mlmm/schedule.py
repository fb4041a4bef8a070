"""The schedule: periodic jobs that run report notebooks and maintenance, for cron.

Jobs and their defaults come from the seeds (performance check every 5 minutes, degradation
every 15, A/B evaluation hourly, drift, tuning and cleanup daily; see
:data:`mlmm.config.DEFAULT_JOBS`), configurable in the workspace's ``mlmm.toml`` and by
environment variables (:mod:`mlmm.config`).

``run_due(ws)`` (``mlmm schedule run-due``, meant for cron every minute) runs each enabled
job whose interval has passed since its last start. Each job runs under an exclusive,
non-blocking file lock (``<workspace>/locks/schedule-<job>.lock``) and re-reads its last
start inside the lock, so two overlapping invocations never run the same job twice: the
second one skips it. ``run_job(ws, name)`` (``mlmm schedule run JOB``) forces one.

Every start and finish is appended to the registry table ``schedule_runs``; a notebook
job runs its report for each target (production model, tunable model or running A/B test)
through :func:`mlmm.reports.run` with ``job`` and the job's ``auto_apply``, so its decisions
are recorded with actor ``schedule:<job>`` and applied when auto-apply is on.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import fcntl
import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from ._util import format_duration, naive_utc, now, parse_duration, to_utc
from .config import load_config
from .errors import NotFoundError

if TYPE_CHECKING:
    from .workspace import Workspace

__all__ = ["Job", "JobRun", "jobs", "run_due", "run_job", "runs", "status"]

log = logging.getLogger("mlmm")


@dataclasses.dataclass(frozen=True)
class Job:
    """A scheduled job as configured."""

    name: str
    every: _dt.timedelta
    enabled: bool
    auto_apply: bool
    notebook: str | None
    task: str | None
    for_each: str
    parameters: dict[str, Any]
    description: str

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["every"] = format_duration(self.every)
        return out


@dataclasses.dataclass(frozen=True)
class JobRun:
    """One run of a job: ``ok``, ``failed`` (some target failed) or ``skipped`` (locked or
    not due), with what it did per target."""

    job: str
    run_id: str | None
    status: str
    started_at: _dt.datetime
    seconds: float
    detail: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"job": self.job, "run_id": self.run_id, "status": self.status, "started_at": self.started_at.isoformat(),
                "seconds": round(self.seconds, 3), "detail": self.detail}


def jobs(ws: Workspace) -> list[Job]:
    """The configured jobs (defaults < ``mlmm.toml`` < environment)."""
    conf = load_config(ws)["schedule"]
    return [Job(name, parse_duration(v["every"], f"[schedule.{name}] every"), v["enabled"], v["auto_apply"],
                v.get("notebook"), v.get("task"), v["for_each"], dict(v.get("parameters", {})), v.get("description", ""))
            for name, v in conf.items()]


def _job(ws: Workspace, name: str) -> Job:
    for job in jobs(ws):
        if job.name == name:
            return job
    raise NotFoundError(f"job={name!r}: no such job (known: {', '.join(j.name for j in jobs(ws))})")


def _last(ws: Workspace) -> dict[str, dict[str, Any]]:
    """Per job: the last start, the last finish and its status."""
    with ws._connect() as con:
        rows = con.execute(
            "SELECT job, event, arg_max(ts, seq), arg_max(status, seq), arg_max(run_id, seq) FROM schedule_runs"
            " GROUP BY job, event").fetchall()
    out: dict[str, dict[str, Any]] = {}
    for job, event, ts, st, run_id in rows:
        out.setdefault(job, {})[event] = {"ts": ts.replace(tzinfo=_dt.UTC), "status": st, "run_id": run_id}
    return out


def _due(started: _dt.datetime, every: _dt.timedelta, when: _dt.datetime) -> bool:
    """Due once ``every`` has passed since the last start, less a tolerance (a tenth of the
    interval, at most a minute): cron ticks each minute and a run starts a second or two
    after its tick, so a 5-minute job would otherwise run every 6 minutes. A last start in
    the future (the clock went back) counts as due, with a warning."""
    if started > when + _dt.timedelta(minutes=1):
        log.warning("schedule: last start %s is in the future (now %s): clock moved back? running anyway", started, when)
        return True
    return when >= started + every - min(every / 10, _dt.timedelta(minutes=1))


def _lock_path(ws: Workspace, name: str, *, create: bool = True) -> Path:
    d = ws.path / "locks"
    if create:
        d.mkdir(exist_ok=True)
    return d / f"schedule-{name}.lock"


@contextmanager
def _try_lock(path: Path, *, wait: float = 1.0) -> Iterator[bool]:
    """The job's lock, or False when another process holds it for more than ``wait`` seconds
    (a short retry: ``status`` probes the lock for an instant)."""
    with open(path, "a+") as fh:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    yield False
                    return
                time.sleep(0.05)
        try:
            fh.seek(0)
            fh.truncate()
            fh.write(f"{os.getpid()} {socket.gethostname()}\n")
            fh.flush()
            yield True
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _is_locked(path: Path) -> bool:
    if not path.exists():
        return False
    with open(path, "rb") as fh:  # read-only: a teammate's read-only workspace can be inspected
        try:
            fcntl.flock(fh, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fh, fcntl.LOCK_UN)
        return False


def status(ws: Workspace, *, at: Any = None) -> pl.DataFrame:
    """One row per job: frequency, enabled, auto-apply, last start, last status, next due,
    whether it is due now and whether it is running (its lock is held)."""
    when = to_utc(at, "at") if at is not None else now()
    last = _last(ws)
    rows = []
    for job in jobs(ws):
        info = last.get(job.name, {})
        started = info.get("started", {}).get("ts")
        finished = info.get("finished", {})
        running = _is_locked(_lock_path(ws, job.name, create=False))
        st = "running" if running else finished.get("status") if finished else None
        if not running and started is not None and (not finished or finished["ts"] < started):
            st = "interrupted"
        due_at = when if started is None else started + job.every
        rows.append({"job": job.name, "every": format_duration(job.every), "enabled": job.enabled,
                     "auto_apply": job.auto_apply, "runs": job.notebook or f"task {job.task}",
                     "for_each": job.for_each, "last_run": started, "last_status": st, "next_due": due_at,
                     "due": job.enabled and (started is None or _due(started, job.every, when)), "running": running})
    return pl.DataFrame(rows, schema={
        "job": pl.String, "every": pl.String, "enabled": pl.Boolean, "auto_apply": pl.Boolean, "runs": pl.String,
        "for_each": pl.String, "last_run": pl.Datetime("us", "UTC"), "last_status": pl.String,
        "next_due": pl.Datetime("us", "UTC"), "due": pl.Boolean, "running": pl.Boolean})


def runs(ws: Workspace, job: str | None = None, *, limit: int = 50) -> pl.DataFrame:
    """Finished job runs, newest first."""
    sql = ("SELECT ts, run_id, job, status, seconds, detail FROM schedule_runs WHERE event = 'finished'"
           + (" AND job = ?" if job else "") + " ORDER BY seq DESC LIMIT ?")
    with ws._connect() as con:
        rows = con.execute(sql, ([job] if job else []) + [limit]).fetchall()
    return pl.DataFrame(rows, schema={"ts": pl.Datetime("us"), "run_id": pl.String, "job": pl.String,
                                      "status": pl.String, "seconds": pl.Float64, "detail": pl.String},
                        orient="row").with_columns(pl.col("ts").dt.replace_time_zone("UTC"))


def _append(ws: Workspace, run_id: str, job: str, event: str, when: _dt.datetime, status: str | None = None,
            seconds: float | None = None, detail: dict[str, Any] | None = None) -> None:
    with ws._connect() as con:
        con.execute("INSERT INTO schedule_runs (ts, run_id, job, event, status, seconds, detail, host, pid)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [naive_utc(when), run_id, job, event, status, seconds,
                     json.dumps(detail, default=str) if detail is not None else None, socket.gethostname(), os.getpid()])


def _targets(ws: Workspace, job: Job) -> list[tuple[str, str] | None]:
    if job.for_each == "none":
        return [None]  # one run with the job's own parameters
    if job.for_each == "running_test":
        from . import ab

        tests = ab.list_tests(ws)
        return [("test_id", t) for t in tests.filter(pl.col("status") == "running")["test_id"].to_list()]
    prod = ws.registry.get_production_models()
    names = sorted({m.name for m in prod
                    if job.for_each == "production_model" or "threshold" in dict(m.configuration)})
    return [("model", n) for n in names]


def _run(ws: Workspace, job: Job, output: str | Path, when: _dt.datetime) -> JobRun:
    from . import reports

    run_id = f"job-{job.name}-{uuid.uuid4().hex[:8]}"
    _append(ws, run_id, job.name, "started", when)
    started = time.perf_counter()
    detail: dict[str, Any] = {"targets": []}
    failed = False
    try:
        if job.task == "alerts":
            from . import alerts

            result = alerts.check(ws)
            detail.update(raised=len(result.raised), worsened=len(result.worsened), cleared=len(result.cleared),
                          open=len(result.open), critical_open=result.critical_open)
        elif job.task == "cleanup":
            from . import predictions

            cleaned = predictions.cleanup(ws)
            compacted = predictions.compact(ws)
            detail.update(cleanup=cleaned.to_dict(), compact=compacted.to_dict())
        else:
            for target in _targets(ws, job):
                params = {**job.parameters, **({target[0]: target[1]} if target else {})}
                which = {target[0]: target[1]} if target else {"notebook": Path(job.notebook).stem}
                try:
                    rep = reports.run(job.notebook, params, ws=ws, output=output, job=job.name,
                                      actor=f"schedule:{job.name}", auto_apply=job.auto_apply)
                    detail["targets"].append({**which, "status": rep.status, "decision": rep.decision,
                                              "applied": rep.applied, "outcome": rep.outcome, "path": str(rep.path)})
                except Exception as exc:  # one target failing does not stop the others
                    failed = True
                    detail["targets"].append({**which, "status": "failed", "error": f"{type(exc).__name__}: {exc}"})
    except Exception as exc:
        failed = True
        detail["error"] = f"{type(exc).__name__}: {exc}"
    seconds = time.perf_counter() - started
    st = "failed" if failed else "ok"
    _append(ws, run_id, job.name, "finished", now(), st, seconds, detail)
    log.info("schedule job %s %s in %.1f s", job.name, st, seconds)
    return JobRun(job.name, run_id, st, when, seconds, detail)


def run_job(ws: Workspace, name: str, *, output: str | Path = "reports", force: bool = True,
            at: Any = None) -> JobRun:
    """Run one job now (``force=False``: only if due). Skipped, not run, while another
    process holds the job's lock."""
    job = _job(ws, name)
    when = to_utc(at, "at") if at is not None else now()
    with _try_lock(_lock_path(ws, name)) as locked:
        if not locked:
            return JobRun(name, None, "skipped", when, 0.0, {"reason": "running in another process (lock held)"})
        if not force:
            started = _last(ws).get(name, {}).get("started", {}).get("ts")
            if not job.enabled:
                return JobRun(name, None, "skipped", when, 0.0, {"reason": "disabled"})
            if started is not None and not _due(started, job.every, when):
                return JobRun(name, None, "skipped", when, 0.0,
                              {"reason": f"not due until {started + job.every:%Y-%m-%d %H:%M:%S} UTC"})
        return _run(ws, job, output, when)


def run_due(ws: Workspace, *, output: str | Path = "reports", at: Any = None) -> list[JobRun]:
    """Run every enabled job that is due (see the module docstring). Returns what ran and
    what was skipped because another process runs it; jobs not due are left out."""
    out = []
    for job in jobs(ws):
        if not job.enabled:
            continue
        result = run_job(ws, job.name, output=output, force=False, at=at)
        if result.status != "skipped" or "lock" in result.detail.get("reason", ""):
            out.append(result)
    return out
