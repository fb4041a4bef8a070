"""The schedule: periodic jobs that run report notebooks and maintenance, for cron.

Jobs and their defaults come from the seeds (performance check every 5 minutes, degradation
every 15, A/B evaluation hourly, drift, tuning and cleanup daily; see
:data:`mlmm.config.DEFAULT_JOBS`), configurable in the workspace's ``mlmm.toml`` and by
environment variables (:mod:`mlmm.config`).

A job's ``every`` is an interval (``"15m"``) or a cron expression in UTC (``"0 2 * * 0"``,
Sundays at 02:00; :class:`Cron`, evaluated by the ``cronsim`` package).

``run_due(ws)`` (``mlmm schedule run-due``, meant for cron every minute) runs each enabled
job that is due (:func:`next_due`): an interval job once its interval has passed since its
last start, a cron job once a tick of its expression has passed since its last start. Each job runs under an exclusive,
non-blocking file lock (``<workspace>/locks/schedule-<job>.lock``) and re-reads its last
start inside the lock, so two overlapping invocations never run the same job twice: the
second one skips it. ``run_job(ws, name)`` (``mlmm schedule run JOB``) forces one.

Every start and finish is appended to the registry table ``schedule_runs``; a notebook
job runs its report for each target (production model, tunable model or running A/B test)
through :func:`mlmm.reports.run` with ``job`` and the job's ``auto_apply``, so its decisions
are recorded with actor ``schedule:<job>`` and applied when auto-apply is on.

:func:`health` reads the same table into a verdict (``mlmm schedule health``).
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
from cronsim import CronSim, CronSimError

from .._util import format_duration, naive_utc, now, parse_duration, to_utc
from ..config import load_config
from ..errors import NotFoundError, ValidationError

if TYPE_CHECKING:
    from ..workspace import Workspace

__all__ = ["Cron", "Health", "Job", "JobHealth", "JobRun", "health", "jobs", "next_due", "parse_every", "run_due",
           "run_job", "runs", "status"]

log = logging.getLogger("mlmm")


_TOLERANCE_CAP = _dt.timedelta(minutes=1)


@dataclasses.dataclass(frozen=True)
class Cron:
    """A cron expression (five fields: minute hour day-of-month month day-of-week), in UTC.

    Evaluated by `cronsim <https://pypi.org/project/cronsim/>`_, which follows Debian's
    cron: when both day-of-month and day-of-week are restricted, either one matching is
    enough. The ``@daily`` style aliases are not supported (cronsim has none): write
    ``"0 0 * * *"``.

    >>> sunday_2am = Cron("0 2 * * 0")
    >>> sunday_2am.next_after(_dt.datetime(2026, 11, 29, 2, 0, tzinfo=_dt.UTC))
    datetime.datetime(2026, 12, 6, 2, 0, tzinfo=datetime.timezone.utc)
    """

    expr: str

    def next_after(self, when: _dt.datetime) -> _dt.datetime:
        """The first tick strictly after ``when``."""
        return next(CronSim(self.expr, when.astimezone(_dt.UTC)))

    def tolerance(self, tick: _dt.datetime) -> _dt.timedelta:
        """The clock-skew tolerance at ``tick``: a tenth of the gap to the next tick, at most
        a minute (the interval jobs' rule, with the gap as the interval)."""
        return min((self.next_after(tick) - tick) / 10, _TOLERANCE_CAP)

    def __str__(self) -> str:
        return self.expr


def parse_every(value: Any, field: str = "every") -> _dt.timedelta | Cron:
    """A job's ``every``: a duration (``"15m"``, ``"1d"``, see :func:`mlmm._util.parse_duration`)
    or, when the text has spaces, a cron expression in UTC (:class:`Cron`).

    >>> parse_every("15m"), parse_every("0 2 * * 0")
    (datetime.timedelta(seconds=900), Cron(expr='0 2 * * 0'))
    >>> parse_every("0 2 * * 8", "[schedule.drift] every")
    Traceback (most recent call last):
    ...
    mlmm.errors.ValidationError: [schedule.drift] every='0 2 * * 8': not a cron expression (bad day-of-week); expected five fields, minute hour day-of-month month day-of-week, in UTC (e.g. '0 2 * * 0')
    """
    if isinstance(value, Cron):
        return value
    text = value.strip() if isinstance(value, str) else None
    if text is not None and (text.startswith("@") or len(text.split()) > 1):
        expected = "expected five fields, minute hour day-of-month month day-of-week, in UTC (e.g. '0 2 * * 0')"
        if text.startswith("@"):
            raise ValidationError(f"{field}={value!r}: cron aliases such as @daily are not supported; {expected}")
        expr = " ".join(text.split())
        try:
            CronSim(expr, _dt.datetime(2000, 1, 1, tzinfo=_dt.UTC))
        except CronSimError as exc:
            reason = str(exc)
            raise ValidationError(f"{field}={value!r}: not a cron expression ({reason[:1].lower()}{reason[1:]});"
                                  f" {expected}") from None
        return Cron(expr)
    try:
        return parse_duration(value, field)
    except ValidationError as exc:
        raise ValidationError(f"{exc}, or a cron expression (e.g. '0 2 * * 0')") from None


def _format_every(every: _dt.timedelta | Cron) -> str:
    return str(every) if isinstance(every, Cron) else format_duration(every)


@dataclasses.dataclass(frozen=True)
class Job:
    """A scheduled job as configured: ``every`` is an interval or a :class:`Cron`."""

    name: str
    every: _dt.timedelta | Cron
    enabled: bool
    auto_apply: bool
    notebook: str | None
    task: str | None
    for_each: str
    parameters: dict[str, Any]
    description: str

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["every"] = _format_every(self.every)
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
    return [Job(name, parse_every(v["every"], f"[schedule.{name}] every"), v["enabled"], v["auto_apply"],
                v.get("notebook"), v.get("task"), v["for_each"], dict(v.get("parameters", {})), v.get("description", ""))
            for name, v in conf.items()]


def _job(ws: Workspace, name: str) -> Job:
    for job in jobs(ws):
        if job.name == name:
            return job
    raise NotFoundError(f"job={name!r}: no such job (known: {', '.join(j.name for j in jobs(ws))})")


def _last(ws: Workspace) -> dict[str, dict[str, Any]]:
    """Per job: the last start, the last finish and its status."""
    with ws.connect() as con:
        rows = con.execute(
            "SELECT job, event, arg_max(ts, seq), arg_max(status, seq), arg_max(run_id, seq) FROM schedule_runs"
            " GROUP BY job, event").fetchall()
    out: dict[str, dict[str, Any]] = {}
    for job, event, ts, st, run_id in rows:
        out.setdefault(job, {})[event] = {"ts": ts.replace(tzinfo=_dt.UTC), "status": st, "run_id": run_id}
    return out


def next_due(every: _dt.timedelta | Cron, started: _dt.datetime | None, when: _dt.datetime, *,
             armed: _dt.datetime | None = None) -> _dt.datetime:
    """When a job with this ``every`` and last start is due next (the time shown by
    ``mlmm schedule list``; the job runs at the first ``run-due`` at or after it).

    - An interval job is due ``every`` after its last start, less the tolerance (see
      :func:`_due`); one that never ran is due at once (``when``).
    - A cron job is due at the first tick after its last start. A start up to the tolerance
      (a tenth of the gap between ticks, at most a minute) *before* a tick counts for that
      tick, so a run started early by a skewed clock is not repeated at the tick. A cron
      job is never due before its tick: a minutely caller would otherwise run a
      ``0 2 * * 0`` job at 01:59.
    - A cron job that never ran is due at its first tick after ``armed``, the time
      ``run-due`` first saw it (``when`` if it has not yet): a new Sunday job waits for
      Sunday. ``mlmm schedule run JOB`` runs it at once.

    >>> at = _dt.datetime(2026, 12, 4, 17, 0, tzinfo=_dt.UTC)
    >>> next_due(Cron("0 2 * * 0"), _dt.datetime(2026, 11, 29, 2, 0, 2, tzinfo=_dt.UTC), at).isoformat()
    '2026-12-06T02:00:00+00:00'
    >>> next_due(_dt.timedelta(hours=1), _dt.datetime(2026, 12, 4, 16, 30, tzinfo=_dt.UTC), at).isoformat()
    '2026-12-04T17:30:00+00:00'
    """
    if not isinstance(every, Cron):
        return when if started is None else started + every
    if started is None:
        return every.next_after(armed if armed is not None else when)
    tick = every.next_after(started)
    return every.next_after(tick) if tick - started <= every.tolerance(tick) else tick


def _due(started: _dt.datetime | None, every: _dt.timedelta | Cron, when: _dt.datetime, *,
         armed: _dt.datetime | None = None) -> bool:
    """Interval: due once ``every`` has passed since the last start, less a tolerance (a tenth
    of the interval, at most a minute): cron ticks each minute and a run starts a second or two
    after its tick, so a 5-minute job would otherwise run every 6 minutes. Cron: due once its
    :func:`next_due` tick has passed (the tolerance applies to the start, not the tick). A
    last start in the future (the clock went back) counts as due, with a warning."""
    if started is None:
        return not isinstance(every, Cron) or (armed is not None and when >= next_due(every, None, when, armed=armed))
    if started > when + _dt.timedelta(minutes=1):
        log.warning("schedule: last start %s is in the future (now %s): clock moved back? running anyway", started, when)
        return True
    if isinstance(every, Cron):
        return when >= next_due(every, started, when)
    return when >= started + every - min(every / 10, _TOLERANCE_CAP)


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
    """One row per job: frequency (an interval such as ``15m`` or a cron expression), enabled,
    auto-apply, last start, last status, next due (:func:`next_due`), whether it is due now
    and whether it is running (its lock is held)."""
    when = to_utc(at, "at") if at is not None else now()
    last = _last(ws)
    rows = []
    for job in jobs(ws):
        info = last.get(job.name, {})
        started = info.get("started", {}).get("ts")
        finished = info.get("finished", {})
        running = _is_locked(_lock_path(ws, job.name, create=False))
        st = "running" if running else finished.get("status") if finished else None
        # a start without the finish of the same run (run ids, not times: a clock that moved, a fake clock)
        if not running and started is not None and finished.get("run_id") != info["started"]["run_id"]:
            st = "interrupted"
        armed = info.get("armed", {}).get("ts")
        due_at = next_due(job.every, started, when, armed=armed)
        rows.append({"job": job.name, "every": _format_every(job.every), "enabled": job.enabled,
                     "auto_apply": job.auto_apply, "runs": job.notebook or f"task {job.task}",
                     "for_each": job.for_each, "last_run": started, "last_status": st, "next_due": due_at,
                     "due": job.enabled and _due(started, job.every, when, armed=armed), "running": running})
    return pl.DataFrame(rows, schema={
        "job": pl.String, "every": pl.String, "enabled": pl.Boolean, "auto_apply": pl.Boolean, "runs": pl.String,
        "for_each": pl.String, "last_run": pl.Datetime("us", "UTC"), "last_status": pl.String,
        "next_due": pl.Datetime("us", "UTC"), "due": pl.Boolean, "running": pl.Boolean})


def runs(ws: Workspace, job: str | None = None, *, limit: int = 50) -> pl.DataFrame:
    """Finished job runs, newest first."""
    sql = ("SELECT ts, run_id, job, status, seconds, detail FROM schedule_runs WHERE event = 'finished'"
           + (" AND job = ?" if job else "") + " ORDER BY seq DESC LIMIT ?")
    with ws.connect() as con:
        rows = con.execute(sql, ([job] if job else []) + [limit]).fetchall()
    return pl.DataFrame(rows, schema={"ts": pl.Datetime("us"), "run_id": pl.String, "job": pl.String,
                                      "status": pl.String, "seconds": pl.Float64, "detail": pl.String},
                        orient="row").with_columns(pl.col("ts").dt.replace_time_zone("UTC"))


def _append(ws: Workspace, run_id: str, job: str, event: str, when: _dt.datetime, status: str | None = None,
            seconds: float | None = None, detail: dict[str, Any] | None = None) -> None:
    with ws.connect() as con:
        con.execute("INSERT INTO schedule_runs (ts, run_id, job, event, status, seconds, detail, host, pid)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [naive_utc(when), run_id, job, event, status, seconds,
                     json.dumps(detail, default=str) if detail is not None else None, socket.gethostname(), os.getpid()])


def _targets(ws: Workspace, job: Job) -> list[tuple[str, str] | None]:
    if job.for_each == "none":
        return [None]  # one run with the job's own parameters
    if job.for_each == "running_test":
        from .. import ab

        tests = ab.list_tests(ws)
        return [("test_id", t) for t in tests.filter(pl.col("status") == "running")["test_id"].to_list()]
    prod = ws.registry.get_production_models()
    names = sorted({m.name for m in prod
                    if job.for_each == "production_model" or "threshold" in dict(m.configuration)})
    return [("model", n) for n in names]


def _run(ws: Workspace, job: Job, output: str | Path, when: _dt.datetime) -> JobRun:
    from .execute import run as run_report

    run_id = f"job-{job.name}-{uuid.uuid4().hex[:8]}"
    _append(ws, run_id, job.name, "started", when)
    started = time.perf_counter()
    detail: dict[str, Any] = {"targets": []}
    failed = False
    try:
        if job.task == "alerts":
            from .. import alerts

            result = alerts.check(ws)
            detail.update(raised=len(result.raised), worsened=len(result.worsened), cleared=len(result.cleared),
                          open=len(result.open), critical_open=result.critical_open)
        elif job.task == "cleanup":
            from .. import predictions

            cleaned = predictions.cleanup(ws)
            compacted = predictions.compact(ws)
            detail.update(cleanup=cleaned.to_dict(), compact=compacted.to_dict())
        else:
            for target in _targets(ws, job):
                params = {**job.parameters, **({target[0]: target[1]} if target else {})}
                which = {target[0]: target[1]} if target else {"notebook": Path(job.notebook).stem}
                try:
                    rep = run_report(job.notebook, params, ws=ws, output=output, job=job.name,
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
    """Run one job now (``force=False``: only if due, see :func:`next_due`; the first time it
    sees a cron job that never ran, it records when, an ``armed`` row). Skipped, not run,
    while another process holds the job's lock."""
    job = _job(ws, name)
    when = to_utc(at, "at") if at is not None else now()
    with _try_lock(_lock_path(ws, name)) as locked:
        if not locked:
            return JobRun(name, None, "skipped", when, 0.0, {"reason": "running in another process (lock held)"})
        if not force:
            info = _last(ws).get(name, {})
            started, armed = info.get("started", {}).get("ts"), info.get("armed", {}).get("ts")
            if not job.enabled:
                return JobRun(name, None, "skipped", when, 0.0, {"reason": "disabled"})
            if isinstance(job.every, Cron) and started is None and armed is None:
                # a new cron job waits for its next tick: remember when run-due first saw it
                _append(ws, f"arm-{name}-{uuid.uuid4().hex[:8]}", name, "armed", when)
                armed = when
            if not _due(started, job.every, when, armed=armed):
                due_at = next_due(job.every, started, when, armed=armed)
                return JobRun(name, None, "skipped", when, 0.0, {"reason": f"not due until {due_at:%Y-%m-%d %H:%M:%S} UTC"})
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


# --- health -------------------------------------------------------------------------------

_FAILURES_CRITICAL = 3  # seed rule: more than 3 failed runs in a row is critical
_CRON_LATE = _dt.timedelta(hours=1)
_VERDICTS = ("ok", "warning", "critical")


@dataclasses.dataclass(frozen=True)
class JobHealth:
    """One job's health: its verdict and the reasons for it, with the facts they rest on."""

    job: str
    enabled: bool
    verdict: str
    reasons: tuple[str, ...]
    failures_in_row: int
    last_status: str | None
    last_start: _dt.datetime | None
    last_success: _dt.datetime | None
    next_due: _dt.datetime | None

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["reasons"] = list(self.reasons)
        for key in ("last_start", "last_success", "next_due"):
            out[key] = out[key].isoformat() if out[key] is not None else None
        return out


@dataclasses.dataclass(frozen=True)
class Health:
    """The schedule's health (:func:`health`): ``verdict`` is the worst of the jobs'."""

    verdict: str
    at: _dt.datetime
    jobs: tuple[JobHealth, ...]

    @property
    def ok(self) -> bool:
        return self.verdict == "ok"

    def to_dict(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "at": self.at.isoformat(), "jobs": [j.to_dict() for j in self.jobs]}

    def __str__(self) -> str:
        def when(t: _dt.datetime | None) -> str:
            return f"{t:%Y-%m-%d %H:%M}" if t is not None else "never"

        bad = [j for j in self.jobs if j.verdict != "ok"]
        lines = [f"schedule health: {self.verdict} at {self.at:%Y-%m-%d %H:%M} UTC"
                 + (f" ({len(bad)} of {len(self.jobs)} jobs need attention)" if bad else f" ({len(self.jobs)} jobs)")]
        for j in sorted(self.jobs, key=lambda j: -_VERDICTS.index(j.verdict)):
            state = j.verdict if j.enabled else "off"
            lines.append(f"  {j.job}: {state}; last success {when(j.last_success)}")
            lines.extend(f"    - {r}" for r in j.reasons)
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"Health(verdict={self.verdict!r}, at={self.at.isoformat()!r}, jobs={len(self.jobs)})"


def _history(ws: Workspace) -> dict[str, tuple[int, _dt.datetime | None]]:
    """Per job: failed runs since its last ``ok`` one (failures in a row) and that run's start."""
    with ws.connect() as con:
        rows = con.execute("""
            WITH f AS (SELECT seq, run_id, job, status FROM schedule_runs WHERE event = 'finished'),
                 ok AS (SELECT job, max(seq) AS seq, arg_max(run_id, seq) AS run_id FROM f WHERE status = 'ok'
                        GROUP BY job)
            SELECT f.job, count(*) FILTER (WHERE f.status = 'failed' AND f.seq > coalesce(ok.seq, -1)),
                   (SELECT min(s.ts) FROM schedule_runs s WHERE s.event = 'started' AND s.run_id = any_value(ok.run_id))
            FROM f LEFT JOIN ok USING (job) GROUP BY f.job""").fetchall()
    return {job: (int(n), ts.replace(tzinfo=_dt.UTC) if ts is not None else None) for job, n, ts in rows}


def health(ws: Workspace, at: Any = None, *, timeout: Any = "2h") -> Health:
    """The schedule's health: a verdict per job and overall (``ok``, ``warning``, ``critical``).

    Per enabled job (a disabled job is listed, with its last success, and is always ``ok``):

    - **failures in a row**, the finished runs since its last successful one: more than 3 is
      ``critical`` (the seed's rule), 1 to 3 a ``warning``;
    - **late**: an interval job whose last start is more than twice its interval ago, or a cron
      job more than an hour past its due tick (:func:`next_due`), without a start since:
      ``warning`` (is cron calling ``run-due``?). A job that never ran is not late;
    - **interrupted**: its last start has no finish and is older than ``timeout`` (default 2 h,
      the systemd unit's ``TimeoutStartSec``): the process died, or it hangs (its lock is still
      held: then it is not also called late); ``warning``.

    ``last_success`` is the start of the job's last ``ok`` run. ``mlmm schedule health`` exits
    3 unless the verdict is ``ok``.
    """
    when = to_utc(at, "at") if at is not None else now()
    limit = parse_duration(timeout, "timeout")
    last, history = _last(ws), _history(ws)
    out = []
    for job in jobs(ws):
        info = last.get(job.name, {})
        started = info.get("started", {}).get("ts")
        finished = info.get("finished")
        failures, success = history.get(job.name, (0, None))
        due_at = next_due(job.every, started, when, armed=info.get("armed", {}).get("ts"))
        unfinished = started is not None and (finished or {}).get("run_id") != info["started"]["run_id"]
        running = unfinished and _is_locked(_lock_path(ws, job.name, create=False))
        reasons: list[str] = []
        verdict = "ok"
        if job.enabled:
            if failures > _FAILURES_CRITICAL:
                verdict = "critical"
                reasons.append(f"{failures} failed runs in a row (critical above {_FAILURES_CRITICAL})")
            elif failures:
                verdict = "warning"
                reasons.append(f"{failures} failed run{'s' if failures > 1 else ''} in a row")
            if started is not None:
                if isinstance(job.every, Cron):
                    late = when - due_at > _CRON_LATE
                    allowed = f"more than {format_duration(_CRON_LATE)} past its tick"
                else:
                    late = when - started > 2 * job.every
                    allowed = f"more than twice its interval of {format_duration(job.every)}"
                if late and not running:
                    verdict = "critical" if verdict == "critical" else "warning"
                    reasons.append(f"late: due since {due_at:%Y-%m-%d %H:%M}, {allowed}, without a start")
                if unfinished and when - started > limit:
                    verdict = "critical" if verdict == "critical" else "warning"
                    what = "still running (lock held)" if running else "interrupted"
                    reasons.append(f"{what}: started {started:%Y-%m-%d %H:%M} and not finished after the"
                                   f" {format_duration(limit)} timeout")
        last_status = None if started is None else (
            ("running" if running else "interrupted") if unfinished else finished["status"])
        out.append(JobHealth(job.name, job.enabled, verdict, tuple(reasons), failures, last_status, started, success,
                             due_at if job.enabled else None))
    worst = max((j.verdict for j in out), key=_VERDICTS.index, default="ok")
    return Health(worst, when, tuple(out))
