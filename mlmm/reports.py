"""Report runs: parameterized notebooks executed by Papermill into ``reports/``.

``run("monitoring_report", {"model": "n1-detector"})`` (or ``mlmm report run``):

1. checks the parameters against the notebook's ``parameters`` cell
   (``papermill.inspect_notebook``): an unknown name, or a value of another type than the
   default's, is an error listing what the notebook accepts (Papermill alone only warns).
   Values must be plain data (:func:`check_parameter`: str, int, float, bool, None, and lists
   and str-keyed dicts of those), also where the default is ``None``: Papermill writes
   parameters into the notebook as Python code, and a value of any other type (bytes, a tuple,
   an object) can come out as code rather than a literal. As a second line of defence the cell
   Papermill will inject is rendered first and must read back (``ast.literal_eval``) as
   exactly the given values, one plain assignment each, else nothing runs;
2. executes it with Papermill in a temporary directory under ``reports/``, with the
   workspace passed as the ``workspace`` parameter;
3. writes the executed ``.ipynb``, a standalone ``report.html`` (code hidden unless
   ``show_code``) and ``result.json`` (status, parameters, duration, and the decision and
   figures the notebook recorded with :func:`record`);
4. moves the directory into place as ``reports/<YYYY-MM-DD>/<notebook>-<model>-<HHMMSS>/``
   (a half-written report never looks finished), records the run in the registry
   (``report_runs``) and rebuilds ``reports/index.html``.

A failing notebook keeps its partial executed copy (Papermill marks the failing cell), is
recorded as failed, and raises :class:`ReportFailed`.
"""

from __future__ import annotations

import ast
import dataclasses
import datetime as _dt
import html
import json
import keyword
import math
import os
import re
import reprlib
import time
import urllib.parse
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._util import current_actor, naive_utc, now
from .errors import MlmmError, NotFoundError, ValidationError

if TYPE_CHECKING:
    from .workspace import Workspace

__all__ = ["PLAIN_TYPES", "ReportFailed", "ReportRun", "check_parameter", "notebook_parameters", "record",
           "rebuild_index", "run", "runs"]

_RESULT_ENV = "MLMM_REPORT_RESULT"
MAX_INDEX_RUNS = 1000  # index.html lists the newest runs; rebuilding it stays fast after years of schedules
_AUTO_APPLY_ENV = "MLMM_REPORT_AUTO_APPLY"
_JOB_ENV = "MLMM_REPORT_JOB"
_ACTOR_ENV = "MLMM_REPORT_ACTOR"
DECISIONS = ("deploy", "keep", "continue", "roll back", "retrain requested", "alert", "none")
PLAIN_TYPES = "a str, int, float, bool, None, or a list or dict (str keys) of those"
_MAX_DEPTH = 20  # nesting of lists and dicts in one parameter value
_LITERAL_ERRORS = (ValueError, TypeError, SyntaxError, MemoryError, RecursionError)
_short = reprlib.Repr()
_short.maxstring, _short.maxother, _short.maxlist, _short.maxdict, _short.maxlevel = 80, 80, 8, 8, 3


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


def _notebooks_dir() -> Path:
    return Path(__file__).resolve().parents[1] / "notebooks"


def _resolve(notebook: str | Path) -> Path:
    path = Path(notebook)
    if path.suffix != ".ipynb":
        path = path.with_suffix(".ipynb")
    for candidate in (path, _notebooks_dir() / path.name):
        if candidate.exists():
            return candidate.resolve()
    known = sorted(p.stem for p in _notebooks_dir().glob("*.ipynb"))
    raise NotFoundError(f"notebook={str(notebook)!r}: no such notebook (known: {', '.join(known)})")


def notebook_parameters(notebook: str | Path) -> dict[str, dict[str, Any]]:
    """The notebook's parameters: name -> {default, type, help} from its ``parameters`` cell."""
    import papermill as pm

    out = {}
    for name, info in pm.inspect_notebook(str(_resolve(notebook))).items():
        try:
            default = ast.literal_eval(info.get("default", "None"))
        except (ValueError, SyntaxError):
            default = None
        out[name] = {"default": default, "type": None if default is None else type(default).__name__,
                     "help": info.get("help", "")}
    return out


def _problem(value: Any, where: str, depth: int = 0) -> str | None:
    """What keeps ``value`` from being plain data, with where it is and what was expected; or None."""
    kind = type(value)
    if kind is str:
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:  # the notebook, result.json and index.html are UTF-8 files
            got = f"the lone surrogate {value[exc.start]!r} at index {exc.start}"
            return (f"expected text UTF-8 can encode, got {got}" if depth == 0
                    else f"{where} holds {got}; expected text UTF-8 can encode")
        return None
    if value is None or kind in (bool, int):  # exact types: a subclass may render itself as code
        return None
    if kind is float:
        if math.isfinite(value):
            return None
        return "expected a finite number" if depth == 0 else f"{where}={value!r}; expected a finite number"
    if kind in (list, dict) and depth >= _MAX_DEPTH:
        return f"{where} is nested deeper than {_MAX_DEPTH} levels; expected {PLAIN_TYPES}"
    if kind is list:
        for i, item in enumerate(value):
            found = _problem(item, f"{where}[{i}]", depth + 1)
            if found:
                return found
        return None
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str:
                return f"{where} has the key {_short.repr(key)} of type {type(key).__name__}; expected str keys"
            found = _problem(key, f"{where} key {_short.repr(key)}", depth + 1)
            if found:
                return found
            found = _problem(item, f"{where}[{key!r}]", depth + 1)
            if found:
                return found
        return None
    hint = " (quote a date or time to pass it as text)" if isinstance(value, (_dt.date, _dt.time)) else ""
    if depth == 0:
        return f"expected {PLAIN_TYPES}, got {kind.__name__}{hint}"
    return f"{where} is {kind.__name__}; expected {PLAIN_TYPES}{hint}"


def check_parameter(name: str, value: Any, *, prefix: str = "") -> None:
    """Raise unless ``name = value`` can be handed to a notebook as plain data.

    A report parameter is a str (that UTF-8 can encode: no lone surrogates), int, float
    (finite), bool or None, or a list or a dict with str keys of those, nested at most 20
    levels; its name is a Python identifier. Nothing else is accepted: Papermill writes
    parameters into the notebook as Python source, and it writes a value of another type
    (bytes, a tuple, a set, an object) as its ``repr`` between double quotes, which can end
    the string and run the rest as code. NaN and infinity are written as ``float('nan')``
    calls, not literals, and are refused too. Exact types: a subclass of str or int could
    render itself as anything.

    Parameters
    ----------
    name : str
        The parameter's name.
    value : Any
        Its value.
    prefix : str
        Put before the message, e.g. ``"[schedule.drift] "``.

    Raises
    ------
    ValidationError
        Naming the parameter, the value and what was expected.

    Examples
    --------
    >>> check_parameter("columns", ["a", {"b": None}])
    >>> check_parameter("until", b"2026")
    Traceback (most recent call last):
    ...
    mlmm.errors.ValidationError: parameter until=b'2026': expected a str, int, float, bool, None, or a list or dict (str keys) of those, got bytes
    >>> check_parameter("columns", ["a", float("nan")])
    Traceback (most recent call last):
    ...
    mlmm.errors.ValidationError: parameter columns=['a', nan]: columns[1]=nan; expected a finite number
    """
    if type(name) is not str or not name.isidentifier() or keyword.iskeyword(name):
        raise ValidationError(f"{prefix}parameter {_short.repr(name)}: expected a Python identifier as the name")
    found = _problem(value, name)
    if found is not None:
        raise ValidationError(f"{prefix}parameter {name}={_short.repr(value)}: {found}")


def _check(notebook: Path, params: Mapping[str, Any]) -> None:
    accepted = notebook_parameters(notebook)
    listing = "; ".join(f"{k} ({v['type'] or 'any'}, default {v['default']!r})" for k, v in accepted.items())
    for name, value in params.items():
        if name not in accepted:
            raise ValidationError(f"parameter {name!r} is not a parameter of {notebook.stem}; expected one of: {listing}")
        check_parameter(name, value)  # also where the default is None: any plain value, nothing else
        kind = accepted[name]["type"]
        ok = (kind is None or value is None or type(value).__name__ == kind
              or (kind == "float" and isinstance(value, int) and not isinstance(value, bool)))
        if not ok:
            raise ValidationError(f"parameter {name}={_short.repr(value)}: expected a {kind}"
                                  f" (default {accepted[name]['default']!r})")


def _same(a: Any, b: Any) -> bool:
    """Equal and of the same types all the way down (``True == 1`` and ``1 == 1.0`` do not count)."""
    if type(a) is not type(b):
        return False
    if type(a) is list:
        return len(a) == len(b) and all(map(_same, a, b))
    if type(a) is dict:
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    return bool(a == b)


def _check_injection(notebook: Path, params: Mapping[str, Any], kernel: str) -> None:
    """Render the parameters as Papermill will inject them and read the code back.

    Each value must come back from ``ast.literal_eval`` of Papermill's Python rendering as an
    equal value of the same types, and the whole injected cell must be nothing but one
    ``name = <literal>`` per parameter. :func:`check_parameter` already keeps out the types
    Papermill renders unsafely; this closes any escaping bug in Papermill itself (quotes,
    backslashes, line breaks, NUL, lone surrogates) before the notebook runs.
    """
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook
    from papermill.translators import PythonTranslator

    for name, value in params.items():
        try:
            code = PythonTranslator.translate(value)
        except Exception as exc:  # e.g. an int longer than Python's str conversion limit
            raise ValidationError(f"parameter {name}={_short.repr(value)}: Papermill cannot write it into the notebook"
                                  f" ({type(exc).__name__}: {exc}); expected {PLAIN_TYPES}") from None
        try:
            same = _same(ast.literal_eval(code), value)
        except _LITERAL_ERRORS:
            same = False
        if not same:
            raise ValidationError(f"parameter {name}={_short.repr(value)}: Papermill would write it as"
                                  f" {_short.repr(code)}, which does not read back as the same value; not run")
    try:
        nb = parameterize_notebook(load_notebook_node(str(notebook)), dict(params), kernel_name=kernel)
    except Exception:  # a notebook without a language: execute_notebook fails the same way, injecting nothing
        return
    code = next(c.source for c in nb.cells if "injected-parameters" in c.metadata.get("tags", []))
    try:
        body = ast.parse(code).body
    except _LITERAL_ERRORS as exc:
        raise ValidationError(f"parameters of {notebook.stem}: Papermill would inject code that does not parse"
                              f" ({exc}); not run") from None
    assigned: list[str] = []
    for node in body:
        name = (node.targets[0].id if isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name) else None)
        try:
            ok = name in params and name not in assigned and _same(ast.literal_eval(node.value), params[name])
        except _LITERAL_ERRORS:
            ok = False
        if not ok:
            line = _short.repr(ast.get_source_segment(code, node) or "")
            raise ValidationError(f"parameters of {notebook.stem}: Papermill would inject {line} (line {node.lineno}),"
                                  f" expected only name = value for {', '.join(params)}; not run")
        assigned.append(name)
    if sorted(assigned) != sorted(params):
        missing = ", ".join(sorted(set(params) - set(assigned)))
        raise ValidationError(f"parameters of {notebook.stem}: Papermill would not inject {missing}; not run")


def record(decision: Any = "none", reason: str = "", *, figures: Mapping[str, Any] | None = None,
           ws: Workspace | None = None, model: str | None = None, actor: str | None = None,
           apply: bool | None = None, override: str | None = None) -> dict[str, Any]:
    """Called at the end of a report notebook: what it decided, why, and its key figures.

    ``decision`` is a :class:`mlmm.decisions.Decision` (from ``decisions.from_assessment``,
    ``from_drift``, ``from_ab``, ``from_tuning``) or one of the decision words with a
    ``reason``. Inside a report run the values go to the run's ``result.json``. With a
    workspace (``ws``) and a model the decision is recorded in the model's registry history
    (:func:`mlmm.decisions.record_decision`, actor = the person or ``schedule:<job>``) and
    performed when ``apply`` is true or, by default, when the scheduled job that runs the
    report has auto-apply on. Outside a run it just records and returns them.
    """
    from .decisions import Decision, record_decision

    if isinstance(decision, Decision):
        d: Decision | None = decision
        reason = reason or decision.reason
        model = model or decision.model
        word = decision.decision
        base = {k: v for k, v in decision.evidence.items() if not isinstance(v, (dict, list))}
        figures = {**base, **dict(figures or {})}
    else:
        word = str(decision)
        if word not in DECISIONS:
            raise ValidationError(f"decision={word!r}: expected one of {', '.join(DECISIONS)}")
        d = Decision(word, reason, model, source="report") if word != "none" else None
    out: dict[str, Any] = {"decision": word, "reason": reason,
                           "figures": json.loads(json.dumps(dict(figures or {}), default=str)),
                           "applied": False, "outcome": None}
    held = None
    if apply is None:
        apply = os.environ.get(_AUTO_APPLY_ENV) == "1"
        if apply and d is not None and d.decision in ("deploy", "roll back") and not d.supported and not override:
            apply, held = False, "not applied automatically: the statistics do not support it"
    job = os.environ.get(_JOB_ENV) or None
    if ws is not None and d is not None and d.model:
        try:
            rec = record_decision(ws, d, actor=actor or os.environ.get(_ACTOR_ENV) or None, apply=apply,
                                  override=override, job=job)
            out.update(applied=rec.applied, outcome=held or rec.outcome, actor=rec.actor)
        finally:
            _write_result(out)
    else:
        _write_result(out)
    return out


def _write_result(out: Mapping[str, Any]) -> None:
    target = os.environ.get(_RESULT_ENV)
    if target:
        Path(target).write_text(json.dumps(out, indent=1, default=str))


def run(notebook: str | Path, parameters: Mapping[str, Any] | None = None, *, ws: Workspace | None = None,
        output: str | Path = "reports", show_code: bool = False, job: str | None = None,
        actor: str | None = None, timeout: float = 1800, auto_apply: bool = False) -> ReportRun:
    """Execute a report notebook (see the module docstring). Returns the :class:`ReportRun`;
    raises :class:`ReportFailed` (after recording it) when the notebook fails."""
    import papermill as pm

    from .kernel import KERNEL_NAME, ensure_kernel
    from .workspace import open_workspace

    path = _resolve(notebook)
    params = dict(parameters or {})
    _check(path, params)
    ws = ws or open_workspace()
    accepted = notebook_parameters(path)
    if "workspace" in accepted:
        params["workspace"] = str(ws.path)
    _check_injection(path, params, KERNEL_NAME)  # the kernel ensure_kernel() provides below
    root = Path(output).resolve()
    started_at = now()
    run_id = f"report-{uuid.uuid4().hex[:10]}"
    tmp = root / f".tmp-{run_id}"
    tmp.mkdir(parents=True, exist_ok=True)
    result_file = tmp / "result.json"
    out_nb = tmp / f"{path.stem}.ipynb"
    status, error = "ok", None
    started = time.perf_counter()
    env = {_RESULT_ENV: str(result_file), _AUTO_APPLY_ENV: "1" if auto_apply else "0", _JOB_ENV: job or "",
           _ACTOR_ENV: current_actor(actor)}
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
    from ._html import export_html

    export_html(notebook, target, show_code=show_code)


def runs(ws: Workspace, *, notebook: str | None = None) -> Any:
    """Recorded report runs, newest first."""
    import polars as pl

    sql = "SELECT ts, run_id, job, notebook, parameters, status, seconds, decision, reason, path, actor, error FROM report_runs"
    params: list[Any] = []
    if notebook is not None:
        sql += " WHERE notebook = ?"
        params.append(notebook)
    with ws.connect() as con:
        rows = con.execute(sql + " ORDER BY seq DESC", params).fetchall()
    return pl.DataFrame(rows, schema={"ts": pl.Datetime("us"), "run_id": pl.String, "job": pl.String,
                                      "notebook": pl.String, "parameters": pl.String, "status": pl.String,
                                      "seconds": pl.Float64, "decision": pl.String, "reason": pl.String,
                                      "path": pl.String, "actor": pl.String, "error": pl.String},
                        orient="row").with_columns(pl.col("ts").dt.replace_time_zone("UTC"))


def rebuild_index(root: str | Path = "reports") -> Path:
    """``reports/index.html``: every run found under ``root`` (from its ``result.json``),
    newest first, with status, decision and a link."""
    root = Path(root)
    entries: list[dict[str, Any]] = []
    days = sorted((d for d in root.glob("20*-*-*") if d.is_dir()), reverse=True)
    total = 0
    for day in days:  # newest days first; the page keeps the latest MAX_INDEX_RUNS runs
        if len(entries) >= MAX_INDEX_RUNS:
            total += sum(1 for _ in day.glob("*/result.json"))
            continue
        for result in day.glob("*/result.json"):
            total += 1
            try:
                data = json.loads(result.read_text())
            except (OSError, ValueError):
                continue
            data["_link"] = urllib.parse.quote(str(result.parent.relative_to(root) / "report.html"))
            entries.append(data)
    entries.sort(key=lambda d: d.get("started_at", ""), reverse=True)
    entries = entries[:MAX_INDEX_RUNS]
    def outcome(d: Mapping[str, Any]) -> str:
        if not d.get("decision"):
            return ""
        return ("applied: " if d.get("applied") else "") + str(d.get("outcome") or "")

    rows = "\n".join(
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class='{}'>{}</td><td>{}</td><td>{}</td><td>{}</td>"
        "<td><a href='{}'>report</a></td></tr>".format(
            html.escape(str(d.get("started_at", ""))[:19].replace("T", " ")), html.escape(str(d.get("notebook", ""))),
            html.escape(", ".join(f"{k}={v}" for k, v in d.get("parameters", {}).items() if k != "workspace")),
            html.escape(str(d.get("job") or d.get("actor") or "")),
            html.escape(str(d.get("status", ""))), html.escape(str(d.get("status", ""))),
            html.escape(str(d.get("decision") or "")), html.escape(str(d.get("reason") or d.get("error") or "")),
            html.escape(outcome(d)), html.escape(d["_link"]))
        for d in entries)
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>mlmm reports</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}td,th{{border-bottom:1px solid #ddd;
padding:4px 10px;text-align:left;vertical-align:top}}td:first-child,td:nth-child(5){{white-space:nowrap}}.failed{{color:#b00;font-weight:bold}}.ok{{color:#080}}</style></head>
<body><h1>mlmm reports</h1><p>{len(entries)} of {total} runs, newest first (the folders under this page keep
them all; <code>mlmm report list</code> lists them); generated {_dt.datetime.now(_dt.UTC):%Y-%m-%d %H:%M} UTC.</p>
<table><tr><th>started (UTC)</th><th>notebook</th><th>parameters</th><th>job / by</th><th>status</th><th>decision</th>
<th>reason</th><th>outcome</th><th></th></tr>
{rows}</table></body></html>"""
    root.mkdir(parents=True, exist_ok=True)
    index = root / "index.html"
    tmp = root / f".index-{uuid.uuid4().hex[:6]}.html"
    tmp.write_text(page)
    os.replace(tmp, index)
    return index

