"""Report runs (issue 8): ``mlmm.reports.run`` vs what a user would script with Papermill + nbconvert.

Data: a demo workspace (``Sizes.report_rows`` predictions over 30 days, three models) in a
temporary directory; the notebook is ``monitoring_report`` for ``waf-behavioral``.

- mlmm: :func:`mlmm.reports.run` — parameter check, Papermill on the pinned kernel, the
  decision recorded, self-contained HTML (charts as SVG), atomic move, registry row, index;
- peer: ``papermill.execute_notebook`` on the stock ``python3`` kernel, then nbconvert's
  ``HTMLExporter`` (charts need vega from a CDN to show: blank offline);
- the HTML step alone on the same executed notebook (mlmm's SVG export vs nbconvert's), and
  the page sizes;
- ``mlmm schedule run-due`` with nothing due: what cron pays every minute (a new process).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from ._util import Cell, Sizes, Table, fmt_bytes, fmt_ratio, fmt_time, load_average, repeat, scratch_dir

__all__ = ["run"]

_PARAMS = {"model": "waf-behavioral", "window": "7d", "trend": "14d", "interval": "1d"}


def run(sizes: Sizes) -> Table:
    import nbformat
    import papermill as pm
    from nbconvert import HTMLExporter

    import mlmm
    from mlmm import reports
    from mlmm.demo import build_demo
    from mlmm.reports.html import export_html

    rows = getattr(sizes, "report_rows", 100_000)
    reps = getattr(sizes, "report_repeat", 3)
    table = Table("reports", f"Report run: monitoring_report on a {rows:,}-row demo workspace",
                  ["step", "system", "median", "min", "× mlmm"])
    with scratch_dir("mlmm-bench-reports-") as tmp:
        home = tmp / "ws"
        build_demo(home, rows=rows, seed=3, end="2026-11-01T00:00:00Z")
        ws = mlmm.open_workspace(home)
        params = {**_PARAMS, "until": "2026-11-01T00:00:00Z"}
        nb = Path(reports.__file__).resolve().parents[2] / "notebooks" / "monitoring_report.ipynb"
        counter = iter(range(10_000))

        def mlmm_run(_: object) -> object:
            return reports.run("monitoring_report", params, ws=ws, output=tmp / "reports")

        def peer_run(_: object) -> Path:
            out = tmp / "peer" / f"run-{next(counter)}"
            out.mkdir(parents=True)
            pm.execute_notebook(str(nb), str(out / "report.ipynb"), parameters={**params, "workspace": str(home),
                                "record": False}, kernel_name="python3", progress_bar=False, cwd=str(nb.parent))
            body, _ = HTMLExporter(exclude_input=True).from_notebook_node(nbformat.read(out / "report.ipynb", 4))
            (out / "report.html").write_text(body)
            return out

        ws.close()
        peer_run(None)  # warm both paths once (kernelspec written, imports cached)
        mlmm_run(None)
        t_mlmm, runs = repeat(mlmm_run, reps)
        t_peer, outs = repeat(peer_run, reps)
        executed = nbformat.read(runs[-1].path / "monitoring_report.ipynb", 4)
        t_svg, _ = repeat(lambda _: export_html(executed, tmp / "svg.html"), reps)
        t_cdn, _ = repeat(lambda _: HTMLExporter(exclude_input=True).from_notebook_node(executed), reps)
        mlmm_bin = str(Path(sys.executable).with_name("mlmm"))
        env = dict(os.environ, MLMM_SCHEDULE_PERFORMANCE_ENABLED="false", MLMM_SCHEDULE_CLEANUP_ENABLED="false")
        subprocess.run([mlmm_bin, "schedule", "run-due", "-w", str(home), "-o", str(tmp / "reports")], env=env,
                       capture_output=True, check=True, timeout=3600)  # runs every due report once

        def idle(_: object) -> str:
            done = subprocess.run([mlmm_bin, "schedule", "run-due", "-w", str(home), "-o", str(tmp / "reports"),
                                   "--json"], env=env, capture_output=True, text=True, check=True, timeout=120)
            return done.stdout

        t_idle, idle_out = repeat(idle, reps)
        size_svg = (tmp / "svg.html").stat().st_size
        size_cdn = (outs[-1] / "report.html").stat().st_size
        offline_peer = "cdn.jsdelivr.net" in (outs[-1] / "report.html").read_text()

    def add(step: str, system: str, t: object, base: float) -> None:
        table.add(step, system, Cell(fmt_time(t.median), t.median), Cell(fmt_time(t.min), t.min),
                  Cell(fmt_ratio(t.median / base), t.median / base))

    add("whole run", "mlmm reports.run (checked, decision, offline HTML, registry)", t_mlmm, t_mlmm.median)
    add("whole run", "papermill.execute_notebook + nbconvert HTMLExporter", t_peer, t_mlmm.median)
    add("HTML only", "mlmm export_html (charts as SVG)", t_svg, t_svg.median)
    add("HTML only", "nbconvert HTMLExporter (charts load vega from a CDN)", t_cdn, t_svg.median)
    add("cron tick", "mlmm schedule run-due, nothing due (new process)", t_idle, t_idle.median)
    table.footnotes += [
        f"median of {reps} runs after one warm-up of each; × mlmm = time / mlmm's in the same step.",
        f"HTML size: mlmm {fmt_bytes(size_svg)} with every chart inline; nbconvert {fmt_bytes(size_cdn)}"
        + (" and its charts need cdn.jsdelivr.net (blank offline)." if offline_peer else "."),
        f"run-due with nothing due printed {json.loads(idle_out[-1])!r} each time. Load average: {load_average()}.",
    ]
    table.extra = {"rows": rows, "html_bytes_mlmm": size_svg, "html_bytes_nbconvert": size_cdn,
                   "nbconvert_needs_cdn": offline_peer, "at": time.time()}
    return table
