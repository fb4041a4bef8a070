"""A/B evaluation on a large log, and the statistics behind it, against what a user would write.

- Evaluating a stored test (``mlmm.ab.evaluate``: both versions' metrics with intervals, the
  z-test, lift, always-valid test, SRM, planned sample, guardrails, recommendation) on the
  demo generator at ``Sizes.ab_rows`` rows (10 million in a full run), against pandas
  (``read_parquet`` of the model's files in the window, a label merge, statsmodels'
  ``proportions_ztest`` and ``confint_proportions_2indep``).
- Single statistics calls (microseconds to milliseconds): sample size, the two-proportion
  test, the always-valid test, group-sequential boundaries, the SRM check, against statsmodels
  and scipy doing the same.
"""

from __future__ import annotations

import datetime as _dt
import time
import timeit
from typing import Any

from ._util import Cell, Sizes, Table, fmt_ratio, fmt_time, repeat, scratch_dir

__all__ = ["run"]


def _pandas_eval(ws: Any, model: str, a: str, b: str, since: _dt.datetime, until: _dt.datetime) -> tuple[float, float]:
    import pandas as pd
    from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

    preds = pd.read_parquet(ws.predictions_dir / f"model_name={model}",
                            columns=["prediction_id", "version", "timestamp", "prediction", "actual"],
                            filters=[("timestamp", ">=", pd.Timestamp(since)), ("timestamp", "<", pd.Timestamp(until))])
    labels = pd.read_parquet(ws.labels_dir / f"model_name={model}", columns=["prediction_id", "actual", "labeled_at"])
    latest = labels.sort_values("labeled_at").drop_duplicates("prediction_id", keep="last")
    merged = preds.merge(latest[["prediction_id", "actual"]], on="prediction_id", how="left", suffixes=("_logged", ""))
    merged["actual"] = merged["actual"].fillna(merged["actual_logged"])
    done = merged.dropna(subset=["actual"])
    done = done.assign(correct=(done["actual"] == done["prediction"]).astype(int))
    k = done.groupby("version")["correct"].agg(["sum", "count"])
    ka, na, kb, nb = int(k.loc[a, "sum"]), int(k.loc[a, "count"]), int(k.loc[b, "sum"]), int(k.loc[b, "count"])
    _, p = proportions_ztest([kb, ka], [nb, na])
    confint_proportions_2indep(kb, nb, ka, na, method="newcomb")
    return float(p), kb / nb - ka / na


def _per_call(stmt: Any, number: int = 200) -> float:
    timer = timeit.Timer(stmt)
    runs = [timer.timeit(number) / number for _ in range(5)]
    return sorted(runs)[2]


def run(sizes: Sizes) -> Table:
    import numpy as np
    from scipy.stats import chisquare
    from statsmodels.stats.power import NormalIndPower
    from statsmodels.stats.proportion import proportion_effectsize, proportions_ztest

    import mlmm
    from mlmm import ab
    from mlmm import stats as S
    from mlmm.demo import build_demo

    rows = getattr(sizes, "ab_rows", 10_000_000)
    n = getattr(sizes, "ab_repeat", 7)
    table = Table("ab", f"A/B evaluation on {rows:,} logged predictions, and single statistics calls",
                  ["question", "system", "median", "min", "× mlmm"])

    def add(question: str, system: str, median: float | None, low: float | None, base: float) -> None:
        if median is None:
            table.add(question, system, "n/a", "n/a", "n/a")
            return
        table.add(question, system, Cell(fmt_time(median), median), Cell(fmt_time(low) if low else "—", low),
                  Cell(fmt_ratio(median / base), median / base))

    with scratch_dir("ab") as tmp:
        started = time.perf_counter()
        build_demo(tmp / "ws", rows=rows, end="2026-11-01T00:00:00Z", force=True)
        built_s = time.perf_counter() - started
        ws = mlmm.open_workspace(tmp / "ws")
        test = ab.get_test(ws, "ab-waf-canary-50")
        cfg = test.config
        since = test.started_at
        until = since + _dt.timedelta(days=cfg.duration_days)
        ab.evaluate(ws, test.test_id)  # warm
        t_ours, results = repeat(lambda _: ab.evaluate(ws, test.test_id), n)
        r = results[0]
        try:
            t_pd, pd_results = repeat(lambda _: _pandas_eval(ws, cfg.model, cfg.version_a, cfg.version_b, since, until), 3)
            pd_note = None
        except ImportError as exc:
            t_pd, pd_results, pd_note = None, [None], f"pandas unavailable ({exc})"
        ws.close()
    add(f"evaluate a test ({r.a.predictions + r.b.predictions:,} predictions in its window)",
        "mlmm ab.evaluate (metrics, CIs, z, lift, mSPRT, SRM, plan, guardrails)", t_ours.median, t_ours.min, t_ours.median)
    add("", "pandas read_parquet + label merge + statsmodels z-test and Newcombe CI",
        t_pd.median if t_pd else None, t_pd.min if t_pd else None, t_ours.median)

    calls = [
        ("sample size, two proportions (0.85 -> 0.87, power 0.8)",
         lambda: S.proportion_power(0.85, 0.87, power=0.8),
         "statsmodels NormalIndPower().solve_power(effect_size=proportion_effectsize)",
         lambda: NormalIndPower().solve_power(effect_size=proportion_effectsize(0.87, 0.85), power=0.8, alpha=0.05)),
        ("two-proportion z-test with interval", lambda: S.two_proportion_test(1600, 2000, 1760, 2000),
         "statsmodels proportions_ztest (no interval)", lambda: proportions_ztest([1760, 1600], [2000, 2000])),
        ("always-valid test (mSPRT), 30 looks",
         lambda: S.always_valid_test(np.arange(1, 31) * 80, np.arange(1, 31) * 100, np.arange(1, 31) * 82,
                                     np.arange(1, 31) * 100), None, None),
        ("group-sequential bounds, 5 looks (O'Brien-Fleming)", lambda: S.group_sequential_bounds(5), None, None),
        ("sample-ratio mismatch check", lambda: S.sample_ratio_mismatch([821_588, 815_482]),
         "scipy chisquare", lambda: chisquare([821_588, 815_482])),
    ]
    for question, ours, peer_name, peer in calls:
        mine = _per_call(ours, 20 if "bounds" in question else 200)
        add(question, "mlmm.stats", mine, None, mine)
        if peer is not None:
            theirs = _per_call(peer)
            add("", peer_name, theirs, None, mine)
    same = pd_results[0] is None or (abs(pd_results[0][0] - r.test.p_value) < 1e-9
                                     and abs(pd_results[0][1] - r.test.difference) < 1e-12)
    table.footnotes += [
        f"Workspace: mlmm.demo.build_demo(rows={rows:,}) in {built_s:.1f} s; the test is the demo's ab-waf-canary-50"
        f" ({cfg.model} {cfg.version_a} vs {cfg.version_b}, 50/50, one day). median / min of {n} runs (pandas: 3).",
        f"Same answer: mlmm's z-test p-value and difference equal statsmodels' on the pandas path: {'yes' if same else 'NO'}"
        f" (p = {r.test.p_value:.4g}, difference {r.test.difference:+.4f}); recommendation: {r.recommendation}.",
        "Single calls: median of 5 timeit batches; × mlmm = time / mlmm's time for the same question (> 1: slower).",
    ]
    if pd_note:
        table.footnotes.append(pd_note)
    table.extra = {"recommendation": r.recommendation, "p_value": r.test.p_value, "rows": rows}
    return table
