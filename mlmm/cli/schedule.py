"""``mlmm schedule ...`` (the periodic jobs, for cron) and ``mlmm decide`` / ``mlmm decisions``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ..config import config_sources
from ._common import (
    EXIT_CHECK,
    EXIT_ERROR,
    ActorOpt,
    JsonOpt,
    WorkspaceOpt,
    console,
    emit,
    emit_json,
    fail,
    lazy_module,
    workspace,
)

D = lazy_module("mlmm.decisions")
S = lazy_module("mlmm.reports.schedule")

app = typer.Typer(help="Scheduled jobs: list them, run what is due (cron, every minute), force one.",
                  no_args_is_help=True)
OutputOpt = Annotated[Path, typer.Option("--output", "-o", help="Reports directory.")]


@app.command("list")
def list_(workspace_path: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """The jobs: every (interval or cron, UTC), on/off/auto-apply, last run and status, next due."""
    from rich import box
    from rich.table import Table

    frame = S.status(workspace(workspace_path))
    if as_json:
        emit_json(frame)
        return
    if frame.is_empty():
        console.print("no jobs", markup=False)
        return
    # fits 80 columns with a cron expression in "every"; what each job runs only on a wider terminal
    wide = console.width >= 100
    table = Table(title="schedule (times UTC)", box=box.SIMPLE_HEAD, header_style="bold", pad_edge=False)
    for name in ("job", "every", *(("runs",) if wide else ()), "mode", "last run", "status", "next due"):
        table.add_column(name, overflow="fold")

    def day(t: object) -> str:
        return "-" if t is None else f"{t:%m-%d %H:%M}"

    for r in frame.iter_rows(named=True):
        mode = "off" if not r["enabled"] else "auto" if r["auto_apply"] else "on"
        table.add_row(r["job"], r["every"], *((r["runs"],) if wide else ()), mode, day(r["last_run"]),
                      r["last_status"] or "-",
                      "-" if not r["enabled"] else "now" if r["due"] else day(r["next_due"]))
    console.print(table)


@app.command("health")
def health(workspace_path: WorkspaceOpt = None, as_json: JsonOpt = False,
           timeout: Annotated[str, typer.Option("--timeout", help="A start without a finish older than this is"
                                                " interrupted.")] = "2h") -> None:
    """Verdict ok / warning / critical: failures in a row, late and interrupted jobs, last success.
    Exits 3 unless ok."""
    result = S.health(workspace(workspace_path), timeout=timeout)
    if as_json:
        emit_json(result.to_dict())
    else:
        console.print(str(result), markup=False, highlight=False, soft_wrap=True)
    if not result.ok:
        raise typer.Exit(EXIT_CHECK)


@app.command("run-due")
def run_due(output: OutputOpt = Path("reports"), workspace_path: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Run every job that is due; a job another process is running is skipped (for cron)."""
    results = S.run_due(workspace(workspace_path), output=output)
    _report(results, as_json)


@app.command("run")
def run(job: Annotated[str, typer.Argument(help="The job's name (see mlmm schedule list).")],
        output: OutputOpt = Path("reports"), workspace_path: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Run JOB now, due or not (skipped if another process is running it)."""
    _report([S.run_job(workspace(workspace_path), job, output=output)], as_json)


@app.command("runs")
def runs(job: Annotated[str | None, typer.Argument()] = None,
         limit: Annotated[int, typer.Option("--limit", "-n")] = 20,
         workspace_path: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Finished job runs, newest first."""
    emit(S.runs(workspace(workspace_path), job, limit=limit), as_json, "job runs", empty="no job runs")


@app.command("config")
def config(workspace_path: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """The effective configuration and where each value comes from (default, mlmm.toml, environment)."""
    ws = workspace(workspace_path)
    conf, sources = config_sources(ws.path)
    if as_json:
        emit_json({"config": conf, "sources": sources})
        return
    for job, values in conf["schedule"].items():
        console.print(f"[schedule.{job}]", markup=False)
        for key in ("every", "enabled", "auto_apply", "notebook", "task", "for_each", "parameters"):
            if key in values:
                src = sources.get(f"schedule.{job}.{key}", "default")
                console.print(f"  {key} = {json.dumps(values[key])}  ({src})", markup=False)
    console.print("[retraining]", markup=False)
    for key, value in conf["retraining"].items():
        console.print(f"  {key} = {json.dumps(value)}  ({sources.get(f'retraining.{key}', 'default')})", markup=False)


def _report(results: list[S.JobRun], as_json: bool) -> None:
    if as_json:
        emit_json([r.to_dict() for r in results])
    elif not results:
        console.print("nothing due", markup=False, soft_wrap=True)
    for r in results if not as_json else []:
        line = f"{r.job}: {r.status}"
        if r.status == "skipped":
            line += f" ({r.detail.get('reason')})"
        else:
            line += f" in {r.seconds:.1f} s"
        console.print(line, markup=False, soft_wrap=True)
        for t in r.detail.get("targets", []):
            target = t.get("model") or t.get("test_id") or t.get("notebook")
            what = t.get("error") or f"{t.get('decision')}" + (f" -> {t['outcome']}" if t.get("outcome") else "")
            console.print(f"  {target}: {t['status']}: {what}", markup=False, soft_wrap=True)
        if r.detail.get("error"):
            console.print(f"  error: {r.detail['error']}", markup=False, soft_wrap=True)
    if any(r.status == "failed" for r in results):
        raise fail(f"{sum(r.status == 'failed' for r in results)} job(s) failed", EXIT_ERROR)


def decide(
    model: Annotated[str, typer.Argument()],
    decision: Annotated[str, typer.Argument(help="deploy, keep, continue, 'roll back', 'retrain requested' or alert.")],
    reason: Annotated[str, typer.Option("--reason", "-r", help="Why (required; recorded).")],
    version: Annotated[str | None, typer.Option("--version", help="The version a deploy targets.")] = None,
    test_id: Annotated[str | None, typer.Option("--test", help="The A/B test this decides.")] = None,
    env: Annotated[str, typer.Option("--env", "-e")] = "production",
    apply: Annotated[bool, typer.Option("--apply", help="Perform it through the registry, not only record it.")] = False,
    override: Annotated[str | None, typer.Option("--override", help="Why, when the statistics do not support it.")] = None,
    actor: ActorOpt = None,
    workspace_path: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Record a decision about MODEL (audited), and with --apply perform it."""
    ws = workspace(workspace_path)
    supported = True
    evidence: dict = {}
    if test_id is not None:
        from .. import ab

        result = ab.evaluate(ws, test_id)
        evidence = result.summary_dict()
        supported = D.ab_verdict(result).backs(decision)
        if version is None:
            test = ab.get_test(ws, test_id)
            version = test.config.version_b if decision in ("deploy", "roll back") else test.config.version_a
    d = D.Decision(decision, reason, model, version, env=env, source="manual", test_id=test_id, supported=supported,
                   evidence=evidence)
    rec = D.record_decision(ws, d, actor=actor, apply=apply, override=override)
    if as_json:
        emit_json(rec.to_dict())
    else:
        console.print(f"{decision} for {model} recorded by {rec.actor}: {rec.outcome}", markup=False, soft_wrap=True)


def list_decisions(model: Annotated[str | None, typer.Argument()] = None,
                   workspace_path: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Recorded decisions, newest first."""
    frame = D.decisions(workspace(workspace_path), model)
    emit(frame if as_json else frame.select("ts", "model_name", "decision", "actor", "applied", "outcome", "summary"),
         as_json, "decisions", empty="no decisions")
