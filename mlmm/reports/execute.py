"""Report runs: parameterized notebooks executed by Papermill into ``reports/``.

``run("monitoring_report", {"model": "n1-detector"})`` (or ``mlmm report run``):

1. checks the parameters against the notebook's ``parameters`` cell
   (``papermill.inspect_notebook``; :mod:`mlmm.reports.params`): an unknown name, or a value of
   another type than the default's, is an error listing what the notebook accepts (Papermill
   alone only warns).
   Values must be plain data (:func:`~mlmm.reports.params.check_parameter`: str, int, float, bool, None, and lists
   and str-keyed dicts of those), also where the default is ``None``: Papermill writes
   parameters into the notebook as Python code, and a value of any other type (bytes, a tuple,
   an object) can come out as code rather than a literal. As a second line of defence the cell
   Papermill will inject is rendered first and must read back (``ast.literal_eval``) as
   exactly the given values, one plain assignment each, else nothing runs;
2. executes it with Papermill in a temporary directory under ``reports/``, with the
   workspace passed as the ``workspace`` parameter;
3. writes the executed ``.ipynb``, a standalone ``report.html`` (code hidden unless
   ``show_code``) and ``result.json`` (status, parameters, duration, and the decision and
   figures the notebook recorded with :func:`~mlmm.reports.result.record`);
4. moves the directory into place as ``reports/<YYYY-MM-DD>/<notebook>-<model>-<HHMMSS>/``
   (a half-written report never looks finished), records the run in the registry
   (``report_runs``) and rebuilds ``reports/index.html`` (:mod:`mlmm.reports.index`).

A failing notebook keeps its partial executed copy (Papermill marks the failing cell), is
recorded as failed, and raises :class:`ReportFailed`.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._util import current_actor, naive_utc, now
from ..errors import MlmmError
from .index import rebuild_index
from .params import check_injection, check_parameters, notebook_parameters, resolve_notebook
from .result import ACTOR_ENV, AUTO_APPLY_ENV, JOB_ENV, RESULT_ENV

if TYPE_CHECKING:
    from ..workspace import Workspace

__all__ = ["ReportFailed", "ReportRun", "run"]


class ReportFailed(MlmmError):
    """A report notebook raised; the partial report is kept and the run recorded as failed."""


@dataclasses.dataclass(frozen=True)
class ReportRun:
    run_id: str
    notebook: str
    parameters: dict[str, Any]
    status: str
    seconds: float
    path: Path
    decision: str | None
    reason: str | None
    figures: dict[str, Any]
    applied: bool = False
    outcome: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["path"] = str(self.path)
        return out


def run(notebook: str | Path, parameters: Mapping[str, Any] | None = None, *, ws: Workspace | None = None,
        output: str | Path = "reports", show_code: bool = False, job: str | None = None,
        actor: str | None = None, timeout: float = 1800, auto_apply: bool = False) -> ReportRun:
    """Execute a report notebook (see the module docstring). Returns the :class:`ReportRun`;
    raises :class:`ReportFailed` (after recording it) when the notebook fails."""
    import papermill as pm

    from ..workspace import open_workspace
    from .kernel import KERNEL_NAME, ensure_kernel

    path = resolve_notebook(notebook)
    params = dict(parameters or {})
    check_parameters(path, params)
    ws = ws or open_workspace()
    accepted = notebook_parameters(path)
    if "workspace" in accepted:
        params["workspace"] = str(ws.path)
    check_injection(path, params, KERNEL_NAME)  # the kernel ensure_kernel() provides below
    root = Path(output).resolve()
    started_at = now()
    run_id = f"report-{uuid.uuid4().hex[:10]}"
    tmp = root / f".tmp-{run_id}"
    tmp.mkdir(parents=True, exist_ok=True)
    result_file = tmp / "result.json"
    out_nb = tmp / f"{path.stem}.ipynb"
    status, error = "ok", None
    started = time.perf_counter()
    env = {RESULT_ENV: str(result_file), AUTO_APPLY_ENV: "1" if auto_apply else "0", JOB_ENV: job or "",
           ACTOR_ENV: current_actor(actor)}
    old_env = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        pm.execute_notebook(str(path), str(out_nb), parameters=params, kernel_name=ensure_kernel(), progress_bar=False,
                            cwd=str(path.parent), execution_timeout=timeout)
    except Exception as exc:  # the notebook failed: keep the partial report and record the failure
        status, error = "failed", f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1] if str(exc).strip() else ''}"
    finally:
        for key, value in old_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    seconds = time.perf_counter() - started
    try:
        recorded = json.loads(result_file.read_text()) if result_file.exists() else {}
    except ValueError as exc:  # a notebook killed while writing it
        recorded, status, error = {}, "failed", error or f"result.json unreadable: {exc}"
    if out_nb.exists():
        try:
            _html(out_nb, tmp / "report.html", show_code=show_code)
        except Exception as exc:  # the run is still moved into place and recorded
            status, error = "failed", error or f"HTML export: {type(exc).__name__}: {exc}"
    # the directory name: the target, made safe (a model or test id may hold any character)
    model = re.sub(r"[^A-Za-z0-9._-]+", "_", str(params.get("model") or params.get("test_id") or "all")).strip("._")[:60]
    model = model or "all"
    summary = {"run_id": run_id, "notebook": path.stem, "parameters": params, "status": status, "error": error,
               "started_at": started_at.isoformat(), "seconds": round(seconds, 3),
               "decision": recorded.get("decision"), "reason": recorded.get("reason"),
               "figures": recorded.get("figures", {}), "applied": recorded.get("applied", False),
               "outcome": recorded.get("outcome"), "job": job, "actor": current_actor(actor)}
    result_file.write_text(json.dumps(summary, indent=1, default=str))
    final = root / started_at.strftime("%Y-%m-%d") / f"{path.stem}-{model}-{started_at:%H%M%S}-{run_id[-4:]}"
    final.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, final)
    with ws.connect() as con:
        con.execute(
            "INSERT INTO report_runs (ts, run_id, job, notebook, parameters, status, seconds, decision, reason, path,"
            " actor, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [naive_utc(started_at), run_id, job, path.stem, json.dumps(params, default=str), status, seconds,
             summary["decision"], summary["reason"], str(final), summary["actor"], error])
    rebuild_index(root)
    result = ReportRun(run_id, path.stem, params, status, seconds, final, summary["decision"], summary["reason"],
                       summary["figures"], bool(summary["applied"]), summary["outcome"])
    if status != "ok":
        raise ReportFailed(f"report {path.stem} failed ({error}); partial report kept in {final}")
    return result


def _html(notebook: Path, target: Path, *, show_code: bool) -> None:
    from .html import export_html

    export_html(notebook, target, show_code=show_code)
