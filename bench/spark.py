"""Spark vs the local engine on the same log (issue 10 §4).

Data: the demo generator at ``MLMM_BENCH_SPARK_ROWS`` rows (10 million by default, 300,000 with
``--quick``; 3 models, 2 versions each, 30 days, late labels), built once into a scratch
workspace through mlmm's own import path. Both engines read the same files; Spark runs in
local mode with one task slot per CPU (``local[N]``), so this measures Spark's overhead on one
machine, not a cluster. Questions, for the busiest model:

- metrics of the last 24 h (a few day partitions);
- metrics of the whole 30 days (every row of the model: the scan rate, in rows/s per core);
- the hourly trend over the 30 days;
- the nightly job: :func:`mlmm.spark.write_counts` of every model's 30 days, then what a report
  notebook does with the result (:func:`mlmm.spark.read_counts` + ``trends_from_counts``).

The local engine is timed as reports use it (its per-day caches of joined labels and hourly
counts already built, as after any earlier report) and without those caches (``cache/`` removed
before each run: the cost of the first report on new data).

Run alone: ``python -m bench.spark [--quick] [--rows N]``; or as an area of ``python -m bench``
once ``"spark"`` is in ``bench.AREAS``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import shutil
import time
from pathlib import Path
from typing import Any

from ._util import Cell, Sizes, Table, fmt_rate, fmt_ratio, fmt_time, load_average, repeat, scratch_dir

__all__ = ["run"]

END = "2026-11-01T00:00:00Z"
BILLION = 1_000_000_000


def _busiest(ws: Any) -> str:
    from mlmm.predictions import prediction_files

    sizes = {m: sum(f.stat().st_size for f in prediction_files(ws, m)) for m in ws.registry.list_names()}
    return max(sizes, key=sizes.get)


def _drop_cache(ws: Any) -> None:
    shutil.rmtree(Path(ws.path) / "cache", ignore_errors=True)


def run(sizes: Sizes, rows: int | None = None) -> Table:
    import mlmm
    from mlmm import monitor as M
    from mlmm import spark as S
    from mlmm.demo import build_demo

    rows = rows or int(os.environ.get("MLMM_BENCH_SPARK_ROWS") or (300_000 if sizes.quick else 10_000_000))
    n = 1 if sizes.quick else 3
    cores = os.cpu_count() or 1
    with scratch_dir("spark") as tmp:
        started = time.perf_counter()
        build_demo(tmp / "ws", rows=rows, end=END, force=True)
        built_s = time.perf_counter() - started
        ws = mlmm.open_workspace(tmp / "ws")
        model = _busiest(ws)
        month = {"last": "30d", "until": END}
        day = {"last": "24h", "until": END}
        model_rows = M.metrics(ws, model, **month).count
        day_rows = M.metrics(ws, model, **day).count

        t0 = time.perf_counter()
        spark = S.session(f"local[{cores}]", shuffle_partitions=2 * cores, config={"spark.driver.memory": "2g"})
        session_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        S.metrics(spark, ws, model, **day)  # the first query loads Spark SQL's classes and JIT-compiles
        first_query_s = time.perf_counter() - t0
        S.trends(spark, ws, model, interval="1h", **month)

        timings: dict[str, Any] = {}
        results: dict[str, Any] = {}
        M.trends(ws, model, interval="1h", **month)  # builds the hourly cache the "cached" runs use
        for name, fn in {
            "day local": lambda _: M.metrics(ws, model, **day),
            "day spark": lambda _: S.metrics(spark, ws, model, **day),
            "month local": lambda _: M.metrics(ws, model, **month),
            "month spark": lambda _: S.metrics(spark, ws, model, **month),
            "trend local": lambda _: M.trends(ws, model, interval="1h", **month),
            "trend spark": lambda _: S.trends(spark, ws, model, interval="1h", **month),
        }.items():
            timings[name], results[name] = repeat(fn, n)
        out = tmp / "counts"
        t0 = time.perf_counter()
        written = S.write_counts(spark, ws, out, since="2026-10-02", until="2026-11-01")
        nightly_s = time.perf_counter() - t0
        counts_bytes = sum(f.stat().st_size for f in out.rglob("*.parquet"))
        w = M.resolve_window(ws, model, **month)
        timings["notebook"], results["notebook"] = repeat(
            lambda _: S.trends_from_counts(S.read_counts(out, model), w, interval="1h"), max(n, 5))
        for name, fn in {
            "month local cold": lambda _: M.metrics(ws, model, **month),
            "trend local cold": lambda _: M.trends(ws, model, interval="1h", **month),
        }.items():
            timings[name], _ = repeat(fn, n, setup=lambda: _drop_cache(ws))
        # without the joined files Spark joins the labels itself: a shuffle of every row
        timings["month spark cold"], results["month spark cold"] = repeat(
            lambda _: S.metrics(spark, ws, model, **month), 1, setup=lambda: _drop_cache(ws))
        spark.stop()
        ws.close()

    same = (results["month local"][0].to_dict() == results["month spark"][0].to_dict()
            or _metrics_close(results["month local"][0], results["month spark"][0]))
    table = Table("spark", f"Spark (local[{cores}]) vs the local engine on {rows:,} logged predictions ({model}:"
                  f" {model_rows:,} rows in 30 days, {day_rows:,} in the last 24 h)",
                  ["question", "engine", "median", "min", "× local (cached)", "rows/s per core"])

    def add(question: str, engine: str, key: str, base: str, scanned: int | None) -> None:
        t, b = timings[key], timings[base]
        rate = scanned / t.median / cores if scanned else None
        table.add(question, engine, Cell(fmt_time(t.median), t.median), Cell(fmt_time(t.min), t.min),
                  Cell(fmt_ratio(t.median / b.median), t.median / b.median),
                  Cell(fmt_rate(rate) if rate else "", rate))

    add("24 h window metrics", "local (cached joins)", "day local", "day local", day_rows)
    add("24 h window metrics", "Spark", "day spark", "day local", day_rows)
    add("30-day metrics (full scan)", "local (cached joins)", "month local", "month local", model_rows)
    add("30-day metrics (full scan)", "local (no cache)", "month local cold", "month local", model_rows)
    add("30-day metrics (full scan)", "Spark (reads the joined files)", "month spark", "month local", model_rows)
    add("30-day metrics (full scan)", "Spark (joins the labels itself)", "month spark cold", "month local", model_rows)
    add("hourly trend, 30 days", "local (hourly cache)", "trend local", "trend local", model_rows)
    add("hourly trend, 30 days", "local (no cache)", "trend local cold", "trend local", model_rows)
    add("hourly trend, 30 days", "Spark (reads the joined files)", "trend spark", "trend local", model_rows)
    add("hourly trend, 30 days", "notebook on the nightly counts", "notebook", "trend local", None)

    spark_rate = model_rows / timings["month spark"].median / cores
    join_rate = model_rows / timings["month spark cold"].median / cores
    local_rate = model_rows / timings["month local cold"].median / cores
    spark_core_s = BILLION / spark_rate
    join_core_s = BILLION / join_rate
    local_s = BILLION / (local_rate * cores)
    table.footnotes += [
        f"median / min of {n} runs after a warm-up; × local = median / the local engine's median with its caches;"
        " rows/s per core = rows of the model in the window / median / "
        f"{cores} cores (both engines use every core).",
        f"Workspace built by mlmm.demo.build_demo(rows={rows:,}) in {built_s:.1f} s. Spark session start"
        f" {session_s:.1f} s, first query {first_query_s:.1f} s (class loading, JIT): a per-job cost, paid once per"
        " nightly run, not per query.",
        f"Nightly job: write_counts of all models' 30 days ({rows:,} rows, joined files present) took {nightly_s:.1f} s"
        f" and wrote {written:,} rows"
        f" ({counts_bytes / 1e6:.2f} MB); a notebook's hourly trend from them takes"
        f" {fmt_time(timings['notebook'].median)} whatever the size of the log.",
        "Spark reads each day's joined file in cache/labelled/ when its signature matches (the local engine's"
        " own cache, written when labels are logged), and joins the labels itself otherwise.",
        f"Overhead on one machine, full 30-day scan: Spark takes"
        f" {timings['month spark'].median / timings['month local'].median:.1f}× the local engine when both read the"
        f" joined files, and {timings['month spark cold'].median / timings['month local cold'].median:.1f}× when both"
        " join the labels themselves.",
        f"Scaling: Spark scans {fmt_rate(spark_rate)} rows per core from joined files ({fmt_rate(join_rate)} when it"
        f" joins the labels), so 1 B rows (one day at 1 B rows/day) is {spark_core_s / 3600:.2f} core-hours"
        f" ({join_core_s / 3600:.2f} with the join): {spark_core_s / 64 / 60:.1f} min ({join_core_s / 64 / 60:.1f} min)"
        f" on 64 cores, and a nightly recount of the last 3 days {3 * spark_core_s / 64 / 60:.1f} min"
        f" ({3 * join_core_s / 64 / 60:.1f} min); both shrink as cores are added. The local engine"
        f" ({fmt_rate(local_rate)} rows per core joining the labels) would need {local_s / 60:.1f} min for one such day"
        f" on this machine's {cores} cores, with the day's rows, labels and join in one machine's memory"
        " (tens of GB at 1 B rows), and cannot use a second machine.",
        "Results agree: Spark's 30-day metrics equal the local engine's (counts exactly, float sums within 1e-12): "
        + ("yes" if same else "NO") + ".",
    ]
    load = load_average()
    if load:
        table.footnotes.append(f"1-min load average at the end {load[0]:.2f} on {cores} CPUs.")
    table.extra = {"model": model, "rows": rows, "model_rows": model_rows, "day_rows": day_rows, "cores": cores,
                   "spark_rows_per_s_per_core": spark_rate, "spark_join_rows_per_s_per_core": join_rate,
                   "local_rows_per_s_per_core_no_cache": local_rate,
                   "spark_core_hours_per_billion_rows": spark_core_s / 3600, "session_s": session_s,
                   "first_query_s": first_query_s, "nightly_s": nightly_s, "counts_rows": written,
                   "counts_bytes": counts_bytes, "results_agree": same,
                   "timings": {k: v.to_dict() for k, v in timings.items()}}
    return table


def _metrics_close(a: Any, b: Any) -> bool:
    import dataclasses
    import math

    for field in dataclasses.fields(a):
        x, y = getattr(a, field.name), getattr(b, field.name)
        if isinstance(x, float) and isinstance(y, float):
            if not math.isclose(x, y, rel_tol=1e-12):
                return False
        elif x != y:
            return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.spark", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="300,000 rows, one run each")
    parser.add_argument("--rows", type=int, default=None, help="rows of the generated log (default 10,000,000)")
    args = parser.parse_args(argv)
    started = _dt.datetime.now(_dt.UTC)
    print(run(Sizes.for_mode(args.quick), rows=args.rows).render())
    print(f"\n(spark: {(_dt.datetime.now(_dt.UTC) - started).total_seconds():.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
