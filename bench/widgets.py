"""Widget panels (issue 9): how long a person waits in the A/B decision panel, against
re-running the report notebook, the way to see a changed verdict without a panel.

Data: a demo workspace (``Sizes.report_rows`` predictions over 30 days) in a temporary directory.

- mlmm panel: build :class:`mlmm.widgets.ABDecisionPanel` on a running test (first render:
  evaluation, tables, two charts as SVG), change alpha (re-evaluation and re-render), press
  Refresh, and open :class:`~mlmm.widgets.MonitorPanel` (metric cards and the trend chart);
- peer: re-run ``ab_test_report`` with Papermill with the new alpha (kernel start, imports,
  the whole notebook), which is what a notebook user does to see the verdict under another rule.
"""

from __future__ import annotations

from pathlib import Path

from ._util import Cell, Sizes, Table, fmt_ratio, fmt_time, load_average, repeat, scratch_dir

__all__ = ["run"]

_TEST = "ab-n1-challenger-75"


def run(sizes: Sizes) -> Table:
    import papermill as pm

    import mlmm
    from mlmm import widgets
    from mlmm.demo import build_demo
    from mlmm.reports.kernel import ensure_kernel

    rows = getattr(sizes, "report_rows", 100_000)
    reps = max(getattr(sizes, "report_repeat", 3), 3)
    table = Table("widgets", f"A/B decision panel vs re-running the notebook ({rows:,}-row demo workspace)",
                  ["action", "system", "median", "min", "× panel"])
    with scratch_dir("mlmm-bench-widgets-") as tmp:
        home = tmp / "ws"
        build_demo(home, rows=rows, seed=3, end="2026-11-01T00:00:00Z")
        ws = mlmm.open_workspace(home)
        alphas = iter([0.01, 0.05] * 100)
        t_build, panels = repeat(lambda _: widgets.ABDecisionPanel(ws, _TEST, actor="bench"), reps)
        panel = panels[-1]

        def change_alpha(_: object) -> str:
            panel.alpha.value = next(alphas)
            return panel.message.value

        t_alpha, messages = repeat(change_alpha, reps)
        t_refresh, _ = repeat(lambda _: panel.refresh(), reps)
        t_monitor, _ = repeat(lambda _: widgets.MonitorPanel(ws, "n1-detector", window="7d"), reps)
        verdicts = {panel.result.recommendation if panel.result is not None else None}
        nb = Path(widgets.__file__).resolve().parents[2] / "notebooks" / "ab_test_report.ipynb"
        kernel = ensure_kernel()
        counter = iter(range(1000))

        def rerun(_: object) -> None:
            pm.execute_notebook(str(nb), str(tmp / f"ab-{next(counter)}.ipynb"),
                                parameters={"workspace": str(home), "test_id": _TEST, "alpha": next(alphas),
                                            "record": False}, kernel_name=kernel, progress_bar=False,
                                cwd=str(nb.parent))

        rerun(None)  # warm the kernel spec and the disk cache once
        t_nb, _ = repeat(rerun, reps)
        ws.close()

    base = t_alpha.median

    def add(action: str, system: str, t: object) -> None:
        table.add(action, system, Cell(fmt_time(t.median), t.median), Cell(fmt_time(t.min), t.min),
                  Cell(fmt_ratio(t.median / base), t.median / base))

    add("see the verdict under another alpha", "mlmm ABDecisionPanel: change alpha", t_alpha)
    add("see the verdict under another alpha", "papermill re-run of ab_test_report", t_nb)
    add("open", "mlmm ABDecisionPanel(ws, test) first render", t_build)
    add("refresh", "mlmm ABDecisionPanel Refresh button", t_refresh)
    add("open", "mlmm MonitorPanel(ws, model, 7d)", t_monitor)
    table.footnotes += [
        f"median of {reps} runs; × panel = time / the panel's alpha change (what a person waits for).",
        f"The panel re-evaluates the same window and redraws its tables and two SVG charts; the notebook re-run"
        f" starts a kernel and runs every cell. Recommendation shown: {sorted(v for v in verdicts if v)}."
        f" Load average: {load_average()}.",
    ]
    table.extra = {"rows": rows, "messages": messages[-1:]}
    return table
