"""mlmm.tuning against scikit-learn, a brute-force loop and hand-built cases with readable answers."""

from __future__ import annotations

import datetime as dt
import functools
import math

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import precision_recall_curve, precision_recall_fscore_support, roc_curve

from mlmm import tuning as T
from mlmm.errors import ValidationError

COUNTS = ("tp", "fp", "tn", "fn")


def brute(scores, labels, threshold, *, weights=None, beta=1.0, fp_cost=1.0, fn_cost=1.0) -> dict[str, float]:
    """The confusion matrix and metrics at one threshold, the slow obvious way."""
    s = np.asarray(scores, dtype=float)
    y = np.asarray(labels).astype(bool)
    w = np.ones(s.size) if weights is None else np.asarray(weights, dtype=float)
    flag = s >= threshold
    tp, fp = float(w[flag & y].sum()), float(w[flag & ~y].sum())
    fn, tn = float(w[~flag & y].sum()), float(w[~flag & ~y].sum())
    pos, neg = tp + fn, fp + tn
    nan = math.nan
    recall = tp / pos if pos else nan
    fpr = fp / neg if neg else nan
    b2 = beta * beta
    fden = (1 + b2) * tp + b2 * fn + fp
    return {"tp": tp, "fp": fp, "tn": tn, "fn": fn,
            "precision": tp / (tp + fp) if tp + fp else 1.0, "recall": recall, "fpr": fpr,
            "specificity": tn / neg if neg else nan, "accuracy": (tp + tn) / (pos + neg),
            "f1": 2 * tp / (2 * tp + fp + fn) if 2 * tp + fp + fn else nan,
            "fbeta": (1 + b2) * tp / fden if fden else nan, "cost": fp_cost * fp + fn_cost * fn,
            "youden_j": recall - fpr, "positive_rate": (tp + fp) / (pos + neg)}


def assert_row(row: dict, expected: dict, tol: float = 1e-12) -> None:
    for k, v in expected.items():
        got = row[k]
        if isinstance(v, float) and math.isnan(v):
            assert got is None or math.isnan(got), (k, got)
        else:
            assert got == pytest.approx(v, abs=tol, rel=tol), (k, got, v)


def noisy(n: int, seed: int, decimals: int = 2) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.35
    s = np.where(y, rng.beta(4, 2, n), rng.beta(2, 4, n))
    return np.round(s, decimals), y ^ (rng.random(n) < 0.1)


# ============================================================================ sweep
@pytest.mark.parametrize("decimals", [1, 2, 6])
@pytest.mark.parametrize("weighted", [False, True])
def test_sweep_equals_sklearn_curves(decimals, weighted):
    s, y = noisy(3000, seed=decimals, decimals=decimals)
    w = np.random.default_rng(9).integers(1, 5, s.size).astype(float) if weighted else None
    curve = T.sweep(s, y, weights=w)
    precision, recall, thresholds = precision_recall_curve(y, s, sample_weight=w)
    fpr, tpr, roc_thr = roc_curve(y, s, sample_weight=w, drop_intermediate=False)
    # ours: descending with an inf row first; sklearn's PR curve: ascending thresholds plus a final (1, 0)
    assert np.array_equal(curve["threshold"].to_numpy()[1:][::-1], thresholds)
    assert np.allclose(curve["precision"].to_numpy()[::-1], precision, rtol=0, atol=1e-12)
    assert np.allclose(curve["recall"].to_numpy()[::-1], recall, rtol=0, atol=1e-12)
    assert np.array_equal(curve["threshold"].to_numpy(), roc_thr)
    assert np.allclose(curve["fpr"].to_numpy(), fpr, rtol=0, atol=1e-12)
    assert np.allclose(curve["recall"].to_numpy(), tpr, rtol=0, atol=1e-12)
    assert curve.height == np.unique(s).size + 1


def test_sweep_columns_and_dtypes():
    curve = T.sweep([0.2, 0.7], [0, 1])
    assert curve.columns == ["threshold", "tp", "fp", "tn", "fn", "precision", "recall", "fpr", "specificity",
                             "accuracy", "f1", "fbeta", "cost", "youden_j", "positive_rate"]
    assert curve.schema["tp"] == pl.Int64 and curve.schema["precision"] == pl.Float64
    assert T.sweep([0.2, 0.7], [0, 1], weights=[1.0, 2.0]).schema["tp"] == pl.Float64
    assert curve["threshold"].to_list() == [math.inf, 0.7, 0.2]
    assert curve["f1"].to_list() == [0.0, 1.0, 2 / 3]


scores_st = st.lists(st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.5, 0.75, 0.9, 1.0]), min_size=1, max_size=30)


@given(data=st.data(), beta=st.sampled_from([0.5, 1.0, 2.0]), weighted=st.booleans())
@settings(max_examples=200, deadline=None)
def test_sweep_equals_brute_force(data, beta, weighted):
    s = data.draw(scores_st)
    y = data.draw(st.lists(st.booleans(), min_size=len(s), max_size=len(s)))
    w = data.draw(st.lists(st.sampled_from([0.0, 0.5, 1.0, 3.0]), min_size=len(s), max_size=len(s))) if weighted else None
    if w is not None and not any(w):
        with pytest.raises(ValidationError, match="weights: expected at least one weight > 0"):
            T.sweep(s, y, weights=w)
        return
    curve = T.sweep(s, y, weights=w, beta=beta, fp_cost=2.0, fn_cost=5.0)
    kept = [v for v, wt in zip(s, w or [1] * len(s), strict=True) if wt > 0]
    assert curve["threshold"].to_list() == [math.inf, *sorted(set(kept), reverse=True)]
    for row in curve.iter_rows(named=True):
        assert_row(row, brute(s, y, row["threshold"], weights=w, beta=beta, fp_cost=2.0, fn_cost=5.0))


def test_sweep_edge_cases():
    no_pos = T.sweep([0.1, 0.5, 0.5], [0, 0, 0])
    assert no_pos["recall"].is_nan().all() and no_pos["youden_j"].is_nan().all()
    assert no_pos["fpr"].to_list() == [0.0, 2 / 3, 1.0]
    assert math.isnan(no_pos["f1"][0]) and no_pos["f1"].to_list()[1:] == [0.0, 0.0]
    no_neg = T.sweep([0.1, 0.5], [True, True])
    assert no_neg["fpr"].is_nan().all() and no_neg["recall"].to_list() == [0.0, 0.5, 1.0]
    same = T.sweep(np.full(5, 0.3), [0, 1, 1, 0, 1])
    assert same["threshold"].to_list() == [math.inf, 0.3] and same["precision"].to_list() == [1.0, 0.6]
    series = T.sweep(pl.Series([0.3, 0.8]), pl.Series([False, True]))
    assert series.equals(T.sweep(np.array([0.3, 0.8]), [0, 1]))


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"scores": [0.1, float("nan")], "labels": [0, 1]}, r"scores\[1\]=nan: expected a finite number"),
    ({"scores": [0.1, float("inf")], "labels": [0, 1]}, r"scores\[1\]=inf: expected a finite number"),
    ({"scores": [0.1, 0.2], "labels": [0, 2]}, r"labels\[1\]=2: expected 0 or 1"),
    ({"scores": [0.1, 0.2], "labels": [0, 1, 1]}, r"labels: expected 2 values \(one per score\), got 3"),
    ({"scores": [], "labels": []}, "scores: expected at least one row"),
    ({"scores": [0.1, 0.2], "labels": [0, 1], "weights": [1, -1]}, r"weights\[1\]=-1.0: expected a number >= 0"),
    ({"scores": [0.1, 0.2], "labels": [0, 1], "beta": 0}, "beta=0: expected a finite number > 0"),
    ({"scores": ["a"], "labels": [0]}, "scores: expected numbers"),
])
def test_sweep_rejects_bad_input(kwargs, message):
    with pytest.raises(ValidationError, match=message):
        T.sweep(**kwargs)


# ============================================================================ grid view
def test_grid_view_equals_direct_computation():
    s, y = noisy(2000, seed=3, decimals=3)
    curve = T.sweep(s, y, beta=2.0)
    view = T.grid_view(curve, start=0.0, stop=1.2, step=0.05)
    assert view.height == 25 and view["threshold"].to_list()[:3] == [0.0, 0.05, 0.1]
    for row in view.iter_rows(named=True):
        assert_row(row, brute(s, y, row["threshold"], beta=2.0))
    exact = T.grid_view(curve, thresholds=[float(s[0]), float(s[1])])  # thresholds on a score itself
    for row in exact.iter_rows(named=True):
        assert_row(row, brute(s, y, row["threshold"], beta=2.0))


def test_grid_view_matches_sklearn_precision_recall_fscore_support():
    s, y = noisy(1000, seed=4, decimals=2)
    view = T.grid_view(T.sweep(s, y), start=0.05, stop=0.95, step=0.05)
    assert view.height == 19
    for row in view.iter_rows(named=True):
        p, r, f, _ = precision_recall_fscore_support(y, s >= row["threshold"], average="binary", zero_division=1.0)
        assert (row["precision"], row["recall"], row["f1"]) == pytest.approx((p, r, f), abs=1e-12)


def test_grid_thresholds():
    assert T.grid_thresholds().tolist() == [0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9]
    assert T.grid_thresholds(0.5, 0.99, 0.05).tolist()[-1] == 0.95
    assert T.grid_thresholds(0.3, 0.3, 0.1).tolist() == [0.3]
    with pytest.raises(ValidationError, match="stop=0.1: expected stop >= start=0.5"):
        T.grid_thresholds(0.5, 0.1, 0.05)
    with pytest.raises(ValidationError, match="step=0: expected a finite number > 0"):
        T.grid_thresholds(0.5, 0.9, 0)
    with pytest.raises(ValidationError, match="curve: expected the polars DataFrame returned by sweep"):
        T.grid_view([1, 2])


# ============================================================================ objectives
# 12 rows; thresholds and their confusion matrices are easy to count by hand.
SCORES = [0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.65, 0.6, 0.55, 0.5, 0.45, 0.4]
LABELS = [1, 1, 1, 0, 1, 1, 0, 1, 0, 0, 0, 0]


@pytest.mark.parametrize(("kwargs", "threshold", "value"), [
    # F1 at 0.6: tp 6, fp 2, fn 0 -> 12 / 14
    ({"objective": "f1"}, 0.6, 12 / 14),
    # F2 favours recall: still 0.6 (recall 1); F0.5 favours precision: 0.85 (3 tp, no fp) and 0.7
    # (5 tp, 1 fp, 1 fn) tie at 5/6; no current threshold, so the higher one wins
    ({"objective": "fbeta", "beta": 2.0}, 0.6, 5 * 6 / (5 * 6 + 2)),
    ({"objective": "fbeta", "beta": 0.5}, 0.85, 1.25 * 5 / (1.25 * 5 + 0.25 * 1 + 1)),
    # precision >= 0.8: 0.7 has 5/6 = 0.833 and recall 5/6; 0.6 has precision 0.75
    ({"objective": "recall_at_precision", "min_precision": 0.8}, 0.7, 5 / 6),
    ({"objective": "recall_at_precision", "min_precision": 1.0}, 0.85, 0.5),
    # cost with FN 3x as costly: 0.6 costs 2 FP = 2; 0.7 costs 1 FP + 1 FN * 3 = 4
    ({"objective": "cost", "fn_cost": 3.0}, 0.6, 2.0),
    # FP 10x as costly: 0.85 (0 FP, 3 FN) costs 3
    ({"objective": "cost", "fp_cost": 10.0}, 0.85, 3.0),
    # accuracy 10/12 at 0.7 and at 0.6: a tie, the higher wins
    ({"objective": "accuracy"}, 0.7, 10 / 12),
])
def test_objectives_on_a_hand_built_case(kwargs, threshold, value):
    r = T.optimize_threshold(SCORES, LABELS, n_boot=0, **kwargs)
    assert r.threshold == threshold
    assert r.value == pytest.approx(value, abs=1e-12)
    assert r.metrics["threshold"] == threshold and r.current is None and r.improvement is None
    assert r.clears_minimum is False and "no current threshold" in r.explanation


def test_youden_tie_broken_towards_current_then_higher():
    # J = 2/3 at 0.7 (tp 5, fp 1) and at 0.6 (tp 6, fp 2): a tie
    assert T.optimize_threshold(SCORES, LABELS, objective="youden", n_boot=0).threshold == 0.7  # higher wins
    assert T.optimize_threshold(SCORES, LABELS, objective="youden", current=0.62, n_boot=0).threshold == 0.6
    assert T.optimize_threshold(SCORES, LABELS, objective="youden", current=0.72, n_boot=0).threshold == 0.7
    # 0.69 flags the rows 0.7 flags: it is itself an optimum, kept
    assert T.optimize_threshold(SCORES, LABELS, objective="youden", current=0.69, n_boot=0).threshold == 0.69


def test_tie_keeps_the_current_threshold_between_scores():
    # Youden: 0.66 flags the same rows as 0.7 (one of the tied optima): keep 0.66 itself, improvement 0.
    r = T.optimize_threshold(SCORES, LABELS, objective="youden", current=0.66)
    assert r.threshold == 0.66 and r.improvement == 0.0 and not r.changed and not r.clears_minimum
    assert (r.ci_low, r.ci_high) == (0.0, 0.0)
    assert r.explanation.startswith("Youden's J 0.667 at the current threshold 0.66 is already the best")


def test_bounds_and_grid():
    assert T.optimize_threshold(SCORES, LABELS, bounds=(0.7, 0.9), n_boot=0).threshold == 0.7
    # no score in the bounds: the lower bound is the only candidate (it flags what 0.65 flags)
    r = T.optimize_threshold(SCORES, LABELS, bounds=(0.61, 0.64), n_boot=0)
    assert r.threshold == 0.61 and r.metrics["tp"] == 5 and r.metrics["fp"] == 2
    g = T.optimize_threshold(SCORES, LABELS, grid=(0.5, 0.9, 0.05), current=0.8, n_boot=0)
    assert g.threshold == 0.6 and g.candidates == 9 and g.table.height == 9 and g.method == "grid 0.50 to 0.90 by 0.05"
    g = T.optimize_threshold(SCORES, LABELS, grid=(0.5, 0.9, 0.05), bounds=(0.7, 1.0), n_boot=0)
    assert g.threshold == 0.7 and g.candidates == 5
    with pytest.raises(ValidationError, match="expected at least one candidate threshold"):
        T.optimize_threshold(SCORES, LABELS, grid=(0.5, 0.9, 0.05), bounds=(0.91, 1.0))


def test_improvement_and_explanation():
    r = T.optimize_threshold(SCORES, LABELS, current=0.8)
    assert r.current_value == pytest.approx(0.6) and r.improvement == pytest.approx(0.857142857142857 / 0.6 - 1)
    assert r.clears_minimum and r.changed
    assert r.explanation == (
        "F1 0.600 -> 0.857 (+42.9 % [-10.7 %, +263.8 %]) by lowering the threshold from 0.80 to 0.60: recall +50.0"
        " points, precision +0.0 points; clears the 3 % minimum improvement (exact over 12 distinct scores).")
    cost = T.optimize_threshold(SCORES, LABELS, objective="cost", fn_cost=3.0, current=0.8, n_boot=0)
    # current: 1 FP + 3 FN * 3 = 10; best: 2 -> 80 % lower
    assert cost.current_value == 10.0 and cost.improvement == pytest.approx(0.8)
    assert cost.explanation.startswith("cost 10 -> 2 (80.0 % lower) by lowering the threshold from 0.80 to 0.60:"
                                       " FP +1, FN -3")
    d = r.to_dict()
    assert d["threshold"] == 0.6 and d["metrics"]["tp"] == 6 and "curve" not in d and d["changed"] is True
    assert len(r.to_dict(curve=True)["curve"]) == 13 and r.to_dict(curve=True)["curve"][0]["threshold"] is None
    assert repr(r).startswith("<ThresholdResult f1: 0.60 (0.8571), current 0.80 (0.6), +42.9%")


def test_min_improvement_decision():
    # F1 at 0.65 = 2*5/(2*5+2+1) = 10/13 = 0.769; best 0.857: +11.4 %
    assert T.optimize_threshold(SCORES, LABELS, current=0.65, n_boot=0).clears_minimum
    r = T.optimize_threshold(SCORES, LABELS, current=0.65, min_improvement=0.12, n_boot=0)
    assert r.improvement == pytest.approx((12 / 14) / (10 / 13) - 1) and not r.clears_minimum
    assert r.explanation.endswith("below the 12 % minimum improvement: keep 0.65 (exact over 12 distinct scores).")
    # recall at precision: a current threshold that misses the target always clears
    miss = T.optimize_threshold(SCORES, LABELS, objective="recall_at_precision", min_precision=0.8, current=0.5,
                                min_improvement=0.5, n_boot=0)
    assert miss.threshold == 0.7 and miss.improvement < 0 and miss.clears_minimum
    assert "misses the precision target (0.600 < 0.8)" in miss.explanation


def test_bootstrap_interval_reproducible_and_covering():
    s, y = noisy(20_000, seed=11, decimals=3)
    a = T.optimize_threshold(s, y, current=0.75, seed=5)
    b = T.optimize_threshold(s, y, current=0.75, seed=5)
    c = T.optimize_threshold(s, y, current=0.75, seed=6)
    assert (a.ci_low, a.ci_high) == (b.ci_low, b.ci_high) != (c.ci_low, c.ci_high)
    assert a.ci_low < a.improvement < a.ci_high and a.significant
    # the multinomial cell bootstrap agrees with a plain row bootstrap (same distribution)
    rng = np.random.default_rng(0)
    rel = []
    for _ in range(300):
        i = rng.integers(0, s.size, s.size)
        cur = brute(s[i], y[i], 0.75)["f1"]
        rel.append(brute(s[i], y[i], a.threshold)["f1"] / cur - 1)
    lo, hi = np.quantile(rel, [0.025, 0.975])
    assert a.ci_low == pytest.approx(lo, abs=0.01) and a.ci_high == pytest.approx(hi, abs=0.01)


def test_optimize_rejects():
    with pytest.raises(ValidationError, match="labels: expected both classes, got no positives in 3 rows"):
        T.optimize_threshold([0.1, 0.2, 0.3], [0, 0, 0])
    with pytest.raises(ValidationError, match="min_precision=None: expected a number in"):
        T.optimize_threshold(SCORES, LABELS, objective="recall_at_precision")
    with pytest.raises(ValidationError, match=r"min_precision=0.99: no candidate threshold reaches it"):
        T.optimize_threshold(SCORES, LABELS, objective="recall_at_precision", min_precision=0.99, bounds=(0.5, 0.8))
    with pytest.raises(ValidationError, match="objective='f3': expected one of 'f1', 'fbeta'"):
        T.optimize_threshold(SCORES, LABELS, objective="f3")
    with pytest.raises(ValidationError, match=r"bounds=\(0.9, 0.5\): expected low <= high"):
        T.optimize_threshold(SCORES, LABELS, bounds=(0.9, 0.5))


# ============================================================================ trade-off
def test_tradeoff_table():
    curve = T.sweep(SCORES, LABELS)
    table = T.tradeoff_table(curve, (0.5, 0.75, 0.8, 1.0))
    assert table["threshold"].to_list() == [0.6, 0.6, 0.7, 0.85]
    assert table["recall"].to_list() == [1.0, 1.0, 5 / 6, 0.5]
    assert table["reachable"].all()
    none = T.tradeoff_table(curve, (1.0,), bounds=(0.4, 0.8))
    assert none["reachable"].to_list() == [False] and none["threshold"].to_list() == [None]


def test_tradeoff_chart_is_small_for_a_large_curve():
    rng = np.random.default_rng(1)
    s = rng.random(50_000)
    y = rng.random(50_000) < s
    curve = T.sweep(s, y)
    spec = T.tradeoff_chart(curve, current=0.7, chosen=0.55).to_dict()
    values = [d["values"] for layer in spec["hconcat"] for d in [*(x.get("data", {}) for x in layer["layer"])]
              if "values" in d]
    lines, marks, pr, _ = values
    assert 100 < len(pr) <= 300 and len(lines) == 3 * len(pr)
    assert [p["which"] for p in marks] == ["current", "chosen"] and marks[0]["precision"] == pytest.approx(
        brute(s, y, 0.7)["precision"], abs=1e-12)
    assert len(str(spec)) < 120_000


# ============================================================================ adaptive adjustment
@pytest.mark.parametrize(("kwargs", "threshold", "direction", "limited_by"), [
    ({"fp_rate": 0.15, "fn_rate": 0.03}, 0.8, "raise", "max_step"),      # 12 points -> 3 steps, capped at 0.1
    ({"fp_rate": 0.09, "fn_rate": 0.03}, 0.8, "raise", None),            # 6 points -> 2 steps = 0.1
    ({"fp_rate": 0.06, "fn_rate": 0.03}, 0.75, "raise", None),           # 3 points -> 1 step
    ({"fp_rate": 0.03, "fn_rate": 0.25}, 0.6, "lower", "max_step"),
    ({"fp_rate": 0.05, "fn_rate": 0.06}, 0.7, "keep", None),             # within the 2-point dead band
    ({"fp_rate": 0.3, "fn_rate": 0.0, "bounds": (0.5, 0.75)}, 0.75, "raise", "bounds"),
    ({"fp_rate": 0.12, "fn_rate": 0.2, "target_fp_rate": 0.1, "target_fn_rate": 0.25}, 0.7, "keep", None),
    ({"fp_rate": 0.14, "fn_rate": 0.2, "target_fp_rate": 0.1, "target_fn_rate": 0.25}, 0.75, "raise", None),
    ({"fp_rate": 0.14, "fn_rate": 0.2, "target_fp_rate": 0.1}, 0.75, "raise", None),  # FN rate has no target
    ({"fp_rate": 0.0, "fn_rate": 0.4, "target_fn_rate": 0.1, "step": 0.02, "max_step": 0.05}, 0.65, "lower",
     "max_step"),
])
def test_adaptive_adjustment(kwargs, threshold, direction, limited_by):
    r = T.adaptive_adjustment(0.7, **kwargs)
    assert (r.threshold, r.direction, r.limited_by) == (threshold, direction, limited_by)
    assert r.changed is (threshold != 0.7)


def test_adaptive_explanations():
    assert T.adaptive_adjustment(0.7, fp_rate=0.15, fn_rate=0.03).explanation == (
        "FP rate 15.0 % vs FN rate 3.0 %: false positives dominate by 12.0 points, so raise the threshold from 0.70"
        " to 0.80 (2 steps of 0.05, at most 0.10 per adjustment).")
    assert T.adaptive_adjustment(0.7, fp_rate=0.05, fn_rate=0.06).explanation == (
        "FP rate 5.0 % vs FN rate 6.0 %: within the dead band of 2.0 points, so keep the threshold at 0.70.")
    r = T.adaptive_adjustment(0.88, fp_rate=0.3, fn_rate=0.0)
    assert r.threshold == 0.9 and r.explanation.endswith("clamped to the bounds [0.50, 0.90]).")
    out = T.adaptive_adjustment(0.95, fp_rate=0.05, fn_rate=0.05)
    assert out.threshold == 0.9 and out.direction == "keep" and "outside the bounds" in out.explanation
    assert T.adaptive_adjustment(0.9, fp_rate=0.5, fn_rate=0.0).direction == "keep"  # already at the bound
    assert T.adaptive_adjustment(0.7, fp_rate=0.15, fn_rate=0.03).to_dict()["bounds"] == [0.5, 0.9]
    with pytest.raises(ValidationError, match="max_step=0.01: expected max_step >= step=0.05"):
        T.adaptive_adjustment(0.7, fp_rate=0.1, fn_rate=0.1, max_step=0.01)
    with pytest.raises(ValidationError, match="fp_rate=1.5: expected a number in"):
        T.adaptive_adjustment(0.7, fp_rate=1.5, fn_rate=0.1)


# ============================================================================ grid search
def _quadratic(params: dict, *, noise: float = 0.0) -> dict:
    """A picklable evaluate with a known optimum at a=2, b='y'."""
    score = -((params["a"] - 2) ** 2) + (1.0 if params["b"] == "y" else 0.0) + noise * params["a"]
    return {"score": score, "a_squared": params["a"] ** 2}


GRID = {"a": [0, 1, 2, 3, 4], "b": ["x", "y"]}


def test_grid_search_ranks_and_orders():
    table = T.grid_search(_quadratic, GRID, progress=False)
    assert table.columns == ["rank", "point", "a", "b", "score", "a_squared", "seconds"]
    assert table["rank"].to_list() == list(range(1, 11))
    assert table.row(0, named=True)["a"] == 2 and table.row(0, named=True)["b"] == "y"
    # ties (a=1,y and a=2,x and a=3,y score 0) ranked in grid order
    assert table.filter(pl.col("score") == 0.0)["point"].to_list() == [3, 4, 7]
    assert table.filter(pl.col("score") == 0.0)["rank"].to_list() == [2, 3, 4]
    low = T.grid_search(_quadratic, GRID, progress=False, maximize=False)
    assert low["score"][0] == -4.0 and low["point"][0] == 0


def test_grid_search_same_result_in_parallel(capsys):
    evaluate = functools.partial(_quadratic, noise=0.01)
    one = T.grid_search(evaluate, GRID, n_jobs=1)
    two = T.grid_search(evaluate, GRID, n_jobs=2)
    assert one.drop("seconds").equals(two.drop("seconds"))
    err = capsys.readouterr().err
    assert "grid search: 10/10" in err and "grid search: 1/10" in err


def test_random_search_budget_and_determinism():
    grid = {"a": list(range(50)), "b": ["x", "y"]}
    seen = []
    r1 = T.grid_search(_quadratic, grid, random=7, seed=3, progress=lambda k, n: seen.append((k, n)))
    r2 = T.grid_search(_quadratic, grid, random=7, seed=3, progress=False)
    r3 = T.grid_search(_quadratic, grid, random=7, seed=4, progress=False)
    assert r1.height == 7 and seen[-1] == (7, 7) and len(seen) == 7
    assert r1.drop("seconds").equals(r2.drop("seconds"))
    assert sorted(r1["point"].to_list()) != sorted(r3["point"].to_list())
    assert len(T.parameter_grid(grid, random=500)) == 100  # budget above the grid: every point once
    points = T.parameter_grid({"a": range(10**6), "b": range(10**6), "c": range(10**6), "d": range(10**6)},
                              random=3, seed=0)
    assert len(points) == 3 and all(set(p) == {"a", "b", "c", "d"} for p in points)


def test_grid_search_rejects():
    with pytest.raises(ValidationError, match=r"grid\['a'\]=\[\]: expected at least one value"):
        T.grid_search(_quadratic, {"a": []}, progress=False)
    with pytest.raises(ValidationError, match="returned score=nan: expected a finite number"):
        T.grid_search(lambda p: {"score": float("nan")}, {"a": [1]}, progress=False)
    with pytest.raises(ValidationError, match="expected a dict with a 'score'"):
        T.grid_search(lambda p: {"f1": 1.0}, {"a": [1]}, progress=False)
    with pytest.raises(ValidationError, match="n_jobs=0: expected an integer >= 1 or -1"):
        T.grid_search(_quadratic, GRID, n_jobs=0)


# ============================================================================ time split
def test_time_split_has_no_overlap():
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    times = [start + dt.timedelta(hours=6 * i) for i in range(40)]  # 10 days
    frame = pl.DataFrame({"ts": times, "x": range(40)}).sample(fraction=1.0, shuffle=True, seed=1)
    for kwargs in ({"validation_days": 3}, {"validation_fraction": 0.25}, {"train_until": "2026-01-06T00:00:00Z"},
                   {"train_until": start + dt.timedelta(days=5), "validation_days": 2, "gap_days": 1}):
        train, valid = T.time_split(frame, "ts", **kwargs)
        assert train["ts"].max() < valid["ts"].min(), kwargs
        assert set(train["x"]).isdisjoint(valid["x"])
    train, valid = T.time_split(frame, "ts", validation_days=3)
    assert valid.height == 13 and train.height == 27  # ts >= day 10 18:00 - 3 days
    train, valid = T.time_split(frame, "ts", train_until=start + dt.timedelta(days=5), validation_days=2, gap_days=1)
    assert (train.height, valid.height) == (16, 8)
    train, valid = T.time_split(frame, "ts", validation_fraction=0.25)
    assert (train.height, valid.height) == (30, 10)
    ties = pl.DataFrame({"t": [1, 1, 2, 2, 2, 3], "x": range(6)})
    train, valid = T.time_split(ties, "t", validation_fraction=0.5)
    assert train["t"].to_list() == [1, 1] and valid["t"].to_list() == [2, 2, 2, 3]


def test_time_split_rejects():
    frame = pl.DataFrame({"t": [1, 2, 3]})
    with pytest.raises(ValidationError, match="time_col='ts': expected one of the columns"):
        T.time_split(frame, "ts")
    with pytest.raises(ValidationError, match="validation_days and gap_days need a date or datetime"):
        T.time_split(frame, "t", validation_days=1)
    with pytest.raises(ValidationError, match="the training part is empty"):
        T.time_split(frame, "t", train_until=0)
