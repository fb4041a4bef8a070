"""The list of report runs: the registry's ``report_runs`` table (:func:`runs`) and
``reports/index.html`` (:func:`rebuild_index`)."""

from __future__ import annotations

import datetime as _dt
import html
import json
import os
import urllib.parse
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..workspace import Workspace

__all__ = ["MAX_INDEX_RUNS", "rebuild_index", "runs"]

MAX_INDEX_RUNS = 1000  # index.html lists the newest runs; rebuilding it stays fast after years of schedules


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
