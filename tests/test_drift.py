"""Data drift (issue: drift, sections 1 and 3): each statistic against scipy/statsmodels on random
cases, PSI against a published worked example, the automatic choice of test, corrections, the
dataset verdict, sketches, chunks, data-quality checks and the edge cases (all-NaN, constant,
single category, empty window, unseen categories, 1e7 rows)."""

from __future__ import annotations

import datetime as dt
import json
import math
import time
import warnings

import numpy as np
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from scipy.spatial.distance import jensenshannon
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportions_ztest

from mlmm import drift as D
from mlmm.errors import ValidationError
from mlmm.stats import adjust_p_values

TOL = 1e-9


def _frames(a: np.ndarray, b: np.ndarray, name: str = "x") -> tuple[pl.DataFrame, pl.DataFrame]:
    return pl.DataFrame({name: a}), pl.DataFrame({name: b})


def _samples(seed: int, n: int, m: int, *, ties: bool) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.normal(size=n)
    b = rng.standard_t(5, size=m) * 1.1 + 0.05
    if ties:
        a, b = a.round(1), b.round(1)
    return a, b


CASES = [(1, 40, 55, False), (2, 300, 300, True), (3, 1500, 900, False), (4, 2500, 4000, True), (5, 12_000, 15_000, False), (6, 20_000, 20_000, True)]  # fmt: skip


# ----------------------------------------------------------------------------- statistics vs scipy
@pytest.mark.parametrize(("seed", "n", "m", "ties"), CASES)
def test_ks_equals_scipy(seed: int, n: int, m: int, ties: bool) -> None:
    a, b = _samples(seed, n, m, ties=ties)
    col = D.compare(*_frames(a, b), tests="ks")["x"]
    ref = stats.ks_2samp(a, b)  # method="auto": exact up to 10 000 values, asymptotic above
    assert col.test == "ks"
    assert col.statistic == pytest.approx(ref.statistic, abs=TOL)
    assert col.p_value == pytest.approx(ref.pvalue, abs=TOL)
    if max(n, m) > 10_000:
        assert col.p_value == pytest.approx(stats.ks_2samp(a, b, method="asymp").pvalue, abs=TOL)


@pytest.mark.parametrize(("seed", "n", "m", "ties"), CASES)
def test_wasserstein_equals_scipy(seed: int, n: int, m: int, ties: bool) -> None:
    a, b = _samples(seed, n, m, ties=ties)
    col = D.compare(*_frames(a, b), tests="wasserstein")["x"]
    w = stats.wasserstein_distance(a, b)
    assert col.details["wasserstein"] == pytest.approx(w, rel=TOL, abs=TOL)
    assert col.statistic == pytest.approx(w / np.std(a), rel=TOL)
    assert col.details["std_reference"] == pytest.approx(np.std(a), rel=TOL)


_small = st.lists(st.integers(-6, 6).map(lambda v: v / 2), min_size=1, max_size=60)


@settings(max_examples=60, deadline=None)
@given(a=_small, b=_small)
def test_ks_and_wasserstein_equal_scipy_on_any_small_sample(a: list[float], b: list[float]) -> None:
    # property: heavy ties, constant samples and unequal sizes included
    ref, cur = (
        pl.DataFrame({"x": a}, schema={"x": pl.Float64}),
        pl.DataFrame({"x": b}, schema={"x": pl.Float64}),
    )
    ks = D.compare(ref, cur, tests="ks")["x"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # scipy: "exact calculation unsuccessful"
        expected = stats.ks_2samp(a, b)
    assert (ks.statistic, ks.p_value) == (
        pytest.approx(expected.statistic, abs=TOL),
        pytest.approx(expected.pvalue, abs=TOL),
    )
    w = D.compare(ref, cur, tests="wasserstein")["x"]
    assert w.details["wasserstein"] == pytest.approx(stats.wasserstein_distance(a, b), abs=TOL)


@pytest.mark.parametrize(("seed", "n", "m", "ties"), CASES[:4])
def test_anderson_equals_scipy(seed: int, n: int, m: int, ties: bool) -> None:
    a, b = _samples(seed, n, m, ties=ties)
    col = D.compare(*_frames(a, b), tests="anderson")["x"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # p-value capped
        ref = stats.anderson_ksamp([a, b], variant="midrank")
    assert col.statistic == pytest.approx(ref.statistic, abs=TOL)
    assert col.p_value == pytest.approx(ref.pvalue, abs=TOL)


@pytest.mark.parametrize(("seed", "n", "m", "ties"), CASES)
def test_binned_psi_and_jensenshannon_equal_a_direct_computation(
    seed: int, n: int, m: int, ties: bool
) -> None:
    a, b = _samples(seed, n, m, ties=ties)
    edges = np.unique(np.quantile(a, np.arange(1, 10) / 10))  # numpy 'linear' quantiles, ties merged
    ra = np.bincount(np.searchsorted(edges, a, side="right"), minlength=edges.size + 1)
    rb = np.bincount(np.searchsorted(edges, b, side="right"), minlength=edges.size + 1)
    pa_, pb = ra / n, rb / m
    pa_, pb = np.where(pa_ == 0, 1e-4, pa_), np.where(pb == 0, 1e-4, pb)
    expected_psi = float(np.sum((pb - pa_) * np.log(pb / pa_)))
    frames = _frames(a, b)
    assert D.compare(*frames, tests="psi")["x"].statistic == pytest.approx(expected_psi, abs=TOL)
    js = D.compare(*frames, tests="jensenshannon")["x"]
    assert js.statistic == pytest.approx(jensenshannon(ra / n, rb / m, base=2), abs=TOL)
    assert js.details["bins"] == edges.size + 1


def test_psi_published_worked_example() -> None:
    # GeeksforGeeks, "Population Stability Index (PSI)" (last updated 13 Aug 2025), income bins
    # low / medium / high: expected (2020) 0.4, 0.3, 0.3; observed (2021) 0.35, 0.25, 0.4.
    # Bin terms (o - e) ln(o / e): 0.0066766, 0.0091161, 0.0287682; total 0.0445609.
    expected, observed = [0.4, 0.3, 0.3], [0.35, 0.25, 0.4]
    assert D.psi(expected, observed) == pytest.approx(0.0445609, abs=5e-8)
    # PSI is Jeffreys' divergence: KL(o || e) + KL(e || o)
    assert D.psi(expected, observed) == pytest.approx(
        stats.entropy(observed, expected) + stats.entropy(expected, observed), abs=TOL
    )
    # counts give the same as proportions; an empty bin is floored at PSI_EPSILON
    assert D.psi([400, 300, 300], [35, 25, 40]) == pytest.approx(0.0445609, abs=5e-8)
    assert D.psi([5, 5], [10, 0]) == pytest.approx(
        (1 - 0.5) * math.log(1 / 0.5) + (1e-4 - 0.5) * math.log(1e-4 / 0.5)
    )
    with pytest.raises(ValidationError, match=r"psi: shapes \(2,\) and \(3,\)"):
        D.psi([1, 2], [1, 2, 3])


def _cat_frames(seed: int, n: int, m: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    rng = np.random.default_rng(seed)
    a = rng.choice(["a", "b", "c", "d"], n, p=[0.4, 0.3, 0.2, 0.1])
    b = rng.choice(["a", "b", "c", "d", "e"], m, p=[0.35, 0.3, 0.2, 0.1, 0.05])
    return pl.DataFrame({"k": a}), pl.DataFrame({"k": b})


@pytest.mark.parametrize(("seed", "n", "m"), [(1, 200, 150), (2, 5000, 3000), (3, 50, 900)])
def test_chisquare_equals_scipy(seed: int, n: int, m: int) -> None:
    ref, cur = _cat_frames(seed, n, m)
    col = D.compare(ref, cur, tests="chisquare")["k"]
    cats = sorted(set(ref["k"]) | set(cur["k"]))
    table = np.array([[int((ref["k"] == c).sum()) for c in cats], [int((cur["k"] == c).sum()) for c in cats]])
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    gof = stats.chisquare(table.ravel(), expected.ravel(), ddof=len(cats))  # dof = 2k - 1 - k = k - 1
    assert col.statistic == pytest.approx(gof.statistic, rel=TOL)
    assert col.p_value == pytest.approx(gof.pvalue, abs=TOL)
    ct = stats.chi2_contingency(table, correction=False)
    assert col.statistic == pytest.approx(ct.statistic, rel=TOL)
    assert col.details["dof"] == ct.dof == len(cats) - 1


@pytest.mark.parametrize(("seed", "n", "m"), [(1, 200, 150), (2, 5000, 3000)])
def test_categorical_jensenshannon_and_psi_equal_scipy(seed: int, n: int, m: int) -> None:
    ref, cur = _cat_frames(seed, n, m)
    cats = ["a", "b", "c", "d", "e"]
    r = np.array([(ref["k"] == c).sum() for c in cats], dtype=float)
    c = np.array([(cur["k"] == c).sum() for c in cats], dtype=float)
    js = D.compare(ref, cur, tests="js")["k"]
    assert js.test == "jensenshannon"
    assert js.statistic == pytest.approx(jensenshannon(r, c, base=2), abs=TOL)
    pr, pc = r / r.sum(), c / c.sum()
    pr[pr == 0] = 1e-4
    assert D.compare(ref, cur, tests="psi")["k"].statistic == pytest.approx(
        np.sum((pc - pr) * np.log(pc / pr)), abs=TOL
    )


def test_ztest_equals_statsmodels() -> None:
    rng = np.random.default_rng(9)
    ref = pl.DataFrame({"flag": rng.random(600) < 0.3})
    cur = pl.DataFrame({"flag": rng.random(500) < 0.4})
    col = D.compare(ref, cur)["flag"]
    assert col.test == "z"  # binary, small sample
    first = col.details["category"]  # the share of this category is compared
    count = np.array([(cur["flag"] == first).sum(), (ref["flag"] == first).sum()])
    z, p = proportions_ztest(count, np.array([500, 600]))
    assert col.statistic == pytest.approx(z, rel=TOL)
    assert col.p_value == pytest.approx(p, abs=TOL)


@pytest.mark.parametrize("method", ["bonferroni", "holm", "bh"])
def test_corrections_equal_statsmodels(method: str) -> None:
    rng = np.random.default_rng(4)
    for size in (1, 2, 7, 30):
        p = rng.random(size) ** 3
        p[: size // 3] = p[0]  # ties
        sm = multipletests(p, method={"bh": "fdr_bh"}.get(method, method))[1]
        np.testing.assert_allclose(adjust_p_values(p, method=method).p_adjusted, sm, rtol=0, atol=1e-12)
    with pytest.raises(ValidationError, match=r"correction='sidak': expected None, 'bonferroni', 'holm' or 'bh'"):
        D.compare(pl.DataFrame({"x": [1.0, 2.0]}), pl.DataFrame({"x": [1.0, 2.0]}), correction="sidak")  # type: ignore[arg-type]


def test_correction_applies_across_columns_of_a_report() -> None:
    rng = np.random.default_rng(11)
    ref = pl.DataFrame({f"x{i}": rng.normal(size=300) for i in range(6)})
    cur = pl.DataFrame({f"x{i}": rng.normal(0.25 if i == 0 else 0.0, 1, size=300) for i in range(6)})
    plain = D.compare(ref, cur)
    holm = D.compare(ref, cur, correction="holm")
    raw = [c.p_value for c in plain.columns]
    adjusted = multipletests(raw, method="holm")[1]
    assert [c.p_adjusted for c in holm.columns] == pytest.approx(list(adjusted), abs=1e-12)
    assert [c.drifted for c in holm.columns] == [bool(p < 0.05) for p in adjusted]
    assert holm.correction == "holm"
    assert [c.p_value for c in holm.columns] == raw



def test_a_corrected_column_keeps_the_rule_p_below_alpha() -> None:
    """The correction uses mlmm.stats.adjust_p_values for the adjusted p-values but not its decisions
    (reject = p_adjusted <= alpha, one alpha): a column drifts when p_adjusted < its own threshold, the
    rule of the uncorrected tests, so one column's verdict does not change with a correction."""
    rng = np.random.default_rng(5)
    ref = pl.DataFrame({"x": rng.normal(size=200)})
    cur = pl.DataFrame({"x": rng.normal(0.2, 1, size=200)})
    p = D.compare(ref, cur)["x"].p_value
    assert p is not None and 0 < p < 1
    for correction in (None, "bonferroni", "holm", "bh"):
        col = D.compare(ref, cur, thresholds={"x": p}, correction=correction)["x"]  # type: ignore[arg-type]
        assert (col.p_adjusted, col.drifted, col.rule) == (p, False, f"p < {p:g}")
    assert adjust_p_values([p], alpha=p).reject == (True,)  # the stats rule would call it drift


# ----------------------------------------------------------------------------- choice, overrides, verdict
def test_automatic_choice_follows_the_table() -> None:
    rng = np.random.default_rng(0)

    def frame(n: int) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "num": rng.normal(size=n),
                "cat": rng.choice(["a", "b", "c"], n),
                "binary": rng.choice(["yes", "no"], n),
                "few": rng.integers(0, 4, n),  # numeric with <= 5 distinct values: categorical
            }
        )

    small = D.compare(frame(1000), frame(800))
    assert [(c.column, c.kind, c.test) for c in small.columns] == [
        ("num", "numeric", "ks"),
        ("cat", "categorical", "chisquare"),
        ("binary", "categorical", "z"),
        ("few", "categorical", "chisquare"),
    ]
    large = D.compare(frame(1001), frame(800))
    assert [c.test for c in large.columns] == [
        "wasserstein",
        "jensenshannon",
        "jensenshannon",
        "jensenshannon",
    ]
    assert [c.threshold for c in large.columns] == [0.1, 0.1, 0.1, 0.1]
    assert [c.rule for c in small.columns][:1] == ["p < 0.05"]
    # forcing: a numeric test keeps a few-valued column numeric; categorical= makes codes categories
    forced = D.compare(frame(2000), frame(500), tests={"few": "ks"}, categorical=["num"])
    assert (forced["few"].kind, forced["few"].test) == ("numeric", "ks")
    assert (forced["num"].kind, forced["num"].test) == ("categorical", "jensenshannon")


def test_overrides_by_column_and_by_test_name() -> None:
    rng = np.random.default_rng(2)
    ref = pl.DataFrame({"a": rng.normal(size=3000), "b": rng.normal(size=3000)})
    cur = pl.DataFrame({"a": rng.normal(0.3, 1, size=3000), "b": rng.normal(0.3, 1, size=3000)})
    base = D.compare(ref, cur)
    assert [c.drifted for c in base.columns] == [True, True]
    loose = D.compare(ref, cur, thresholds={"a": 0.5})
    assert (loose["a"].threshold, loose["a"].drifted, loose["b"].threshold) == (0.5, False, 0.1)
    by_test = D.compare(ref, cur, tests={"a": "psi"}, thresholds={"psi": 0.25, "b": 0.2})
    assert (by_test["a"].test, by_test["a"].threshold, by_test["b"].threshold) == ("psi", 0.25, 0.2)
    with pytest.raises(
        ValidationError, match=r"tests\['a'\]='t-test': expected one of ks, wasserstein, anderson"
    ):
        D.compare(ref, cur, tests={"a": "t-test"})
    with pytest.raises(ValidationError, match=r"thresholds\['a'\]=-1: expected a non-negative number"):
        D.compare(ref, cur, thresholds={"a": -1})
    with pytest.raises(
        ValidationError, match=r"correction='fdr': expected None, 'bonferroni', 'holm' or 'bh'"
    ):
        D.compare(ref, cur, correction="fdr")  # type: ignore[arg-type]
    cats = pl.DataFrame({"k": ["a", "b"] * 10})
    with pytest.raises(ValidationError, match=r"tests\['k'\]='ks': expected a test for categorical columns"):
        D.compare(cats, cats, tests={"k": "ks"})


def test_dataset_verdict_uses_the_drift_share() -> None:
    rng = np.random.default_rng(3)
    ref = pl.DataFrame({f"x{i}": rng.normal(size=2000) for i in range(4)})
    cur = pl.DataFrame({f"x{i}": rng.normal(1.0 if i < 2 else 0.0, 1, size=2000) for i in range(4)})
    report = D.compare(ref, cur)
    assert (report.n_drifted, report.n_tested, report.drifted_share) == (2, 4, 0.5)
    assert report.dataset_drift is True  # share >= 0.5
    assert D.compare(ref, cur, drift_share=0.75).dataset_drift is False
    assert report.drifted_columns == ["x0", "x1"]
    assert (
        repr(report)
        == "<DriftReport dataset drift: 2 of 4 columns drifted (share 0.50 >= 0.50); 1 quality issue>"
    )
    assert [(i.column, i.check) for i in report.quality] == [("x1", "range")]
    table = report.to_frame()
    assert table.columns[:8] == [
        "column",
        "kind",
        "test",
        "statistic",
        "p_value",
        "p_adjusted",
        "threshold",
        "drifted",
    ]
    assert table["drifted"].to_list() == [True, True, False, False]
    text = json.dumps(report.to_dict(), allow_nan=False)
    assert len(text) < 5000
    with pytest.raises(ValidationError, match=r"drift_share=2: expected a number in \[0, 1\]"):
        D.compare(ref, cur, drift_share=2)


def test_large_samples_do_not_flag_unshifted_columns() -> None:
    # at 200 000 rows a p-value test flags a 0.02 sd shift; the default distance does not
    rng = np.random.default_rng(8)
    n = 200_000
    ref = pl.DataFrame({"x": rng.normal(size=n)})
    cur = pl.DataFrame({"x": rng.normal(0.02, 1, size=n)})
    assert D.compare(ref, cur, tests="ks")["x"].drifted is True
    default = D.compare(ref, cur)["x"]
    assert (default.test, default.drifted) == ("wasserstein", False)


# ----------------------------------------------------------------------------- edge cases
def test_missing_values_are_a_signal_not_a_crash() -> None:
    ref = pl.DataFrame({"x": [1.0, 2.0, None, 4.0, float("nan"), 6.0, 7.0, 8.0]})
    cur = pl.DataFrame({"x": [1.0, None, None, None, float("nan"), 6.0, 7.0, 8.0]})
    col = D.compare(ref, cur)["x"]
    assert (col.n_reference, col.n_current) == (6, 4)
    assert (col.missing_reference, col.missing_current) == (0.25, 0.5)
    assert col.statistic == pytest.approx(stats.ks_2samp([1, 2, 4, 6, 7, 8], [1, 6, 7, 8]).statistic)
    issues = D.quality_checks(ref, cur)
    assert [(i.check, i.value) for i in issues] == [("missing_share", 0.25)]


def test_all_nan_column() -> None:
    ref = pl.DataFrame({"x": np.full(50, np.nan), "y": np.arange(50.0)})
    cur = pl.DataFrame({"x": np.arange(40.0), "y": np.full(40, np.nan)})
    report = D.compare(ref, cur)
    assert report["x"].drifted is None
    assert report["x"].details == {"reason": "no non-missing values in the reference"}
    assert report["y"].details == {"reason": "no non-missing values in the current window"}
    assert report.n_tested == 0 and report.dataset_drift is False
    assert [(i.column, i.check, i.severity) for i in report.quality] == [
        ("x", "all_missing", "error"),
        ("y", "all_missing", "error"),
    ]
    assert "every value is missing in the current data" in report.quality[1].message


def test_constant_columns_give_well_defined_statistics() -> None:
    same = pl.DataFrame({"x": np.full(5000, 3.0)})
    other = pl.DataFrame({"x": np.full(4000, 5.0)})
    for test in ("ks", "wasserstein", "psi", "jensenshannon"):
        col = D.compare(same, same, tests=test)["x"]
        assert (col.statistic, col.drifted) == (0.0, False), test
    moved = D.compare(same, other, tests={"x": "wasserstein"})["x"]
    # constant reference: W1 = 2 divided by the pooled std of both samples
    pooled = np.std(np.concatenate([np.full(5000, 3.0), np.full(4000, 5.0)]))
    assert moved.statistic == pytest.approx(2.0 / pooled, rel=TOL)
    assert moved.details["scale"] == "pooled std (constant reference)"
    assert D.compare(same, other, tests="ks")["x"].statistic == 1.0
    issues = D.quality_checks(same, other)
    assert [(i.check, i.details.get("side")) for i in issues] == [
        ("constant", "reference"),
        ("constant", "current"),
        ("range", None),
    ]


def test_single_category_and_unseen_category_named() -> None:
    ref = pl.DataFrame({"k": ["a"] * 2000})
    assert D.compare(ref, ref)["k"].statistic == 0.0
    cur = pl.DataFrame({"k": ["a"] * 1500 + ["new"] * 300 + [None] * 200})
    col = D.compare(ref, cur)["k"]
    assert col.test == "jensenshannon"
    assert col.details["unseen"] == {"new": 300}
    assert col.details["unseen_share"] == pytest.approx(300 / 1800)
    assert col.missing_current == 0.1
    assert col.statistic == pytest.approx(jensenshannon([2000, 0], [1500, 300], base=2), abs=TOL)
    small = D.compare(ref.head(100), cur.head(1800))["k"]
    assert (small.test, small.details["unseen"]) == ("z", {"new": 300})
    issue = [i for i in D.quality_checks(ref, cur) if i.check == "unseen_categories"][0]
    assert issue.message == "k: categories not in the reference: 'new' (16.7% of rows)"
    assert issue.details == {"unseen": {"new": 300}, "n_unseen": 1}
    assert D.compare(ref, cur).to_frame()["unseen"].to_list() == [["new"]]


def test_many_unseen_categories_are_counted_and_the_most_frequent_named() -> None:
    ref = pl.DataFrame({"id": [f"r{i}" for i in range(5000)]})
    ids = [f"c{i}" for i in range(30_000)] + ["hot"] * 50 + ["r1"] * 10
    col = D.compare(ref, pl.DataFrame({"id": ids}))["id"]
    assert col.details["n_unseen"] == 30_001
    assert len(col.details["unseen"]) == 20 and list(col.details["unseen"].items())[0] == ("hot", 50)
    assert col.details["unseen_share"] == pytest.approx(30_050 / 30_060)


def test_empty_current_window_is_a_report() -> None:
    rng = np.random.default_rng(0)
    ref = pl.DataFrame({"x": rng.normal(size=100), "k": rng.choice(["a", "b"], 100)})
    report = D.compare(ref, ref.head(0))
    assert report.note == "no data in current window"
    assert report.n_current == 0 and report.dataset_drift is False and report.n_tested == 0
    assert {c.details["reason"] for c in report.columns} == {"no data in current window"}
    assert [(i.check, i.severity) for i in report.quality] == [("empty_window", "error")]
    assert repr(report) == "<DriftReport no data in current window; 1 quality issue>"
    json.dumps(report.to_dict(), allow_nan=False)
    with pytest.raises(ValidationError, match="reference: 0 rows: expected at least one row"):
        D.compare(ref.head(0), ref)


def test_ten_million_rows() -> None:
    n = 10_000_000
    ref_x = np.zeros(n)
    ref_x[::1000] = 1.0  # 0.1 % ones
    cur_x = np.zeros(n)
    cur_x[::100] = 1.0  # 1 % ones: numeric with 2 values -> categorical, Jensen-Shannon
    started = time.perf_counter()
    report = D.compare(pl.DataFrame({"x": ref_x}), pl.DataFrame({"x": cur_x}))
    elapsed = time.perf_counter() - started
    col = report["x"]
    assert (col.kind, col.test, col.n_reference, col.n_current) == ("categorical", "jensenshannon", n, n)
    assert col.statistic == pytest.approx(jensenshannon([0.999, 0.001], [0.99, 0.01], base=2), abs=TOL)
    assert elapsed < 3.0


def test_infinite_values_are_excluded_and_reported() -> None:
    ref = pl.DataFrame({"x": np.arange(100.0)})
    cur = pl.DataFrame({"x": np.concatenate([np.arange(98.0), [np.inf, -np.inf]])})
    col = D.compare(ref, cur)["x"]
    assert (col.n_current, col.missing_current) == (98, 0.02)
    assert col.statistic == pytest.approx(stats.ks_2samp(np.arange(100.0), np.arange(98.0)).statistic)
    assert [i.check for i in D.quality_checks(ref, cur)] == ["non_finite"]


def test_type_changes_and_missing_or_new_columns() -> None:
    ref = pl.DataFrame({"x": [1.0, 2.0, 3.0], "n": [1, 2, 3], "gone": ["a", "b", "c"]})
    cur = pl.DataFrame({"x": ["1", "2", "3"], "n": [1.0, 2.0, 3.0], "extra": [1, 2, 3]})
    report = D.compare(ref, cur)
    assert report["x"].details == {"reason": "type changed from Float64 to String"}
    assert report["gone"].details == {"reason": "column missing from the current data"}
    assert report["n"].test == "chisquare"  # Int64 -> Float64 is still comparable
    assert [(i.column, i.check, i.severity) for i in report.quality] == [
        ("x", "type_change", "error"),
        ("n", "type_change", "warning"),
        ("gone", "missing_column", "error"),
        ("extra", "new_column", "info"),
    ]


def test_other_frame_types_and_unsupported_columns() -> None:
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(1)
    data = {"x": rng.normal(size=300), "k": rng.choice(["a", "b", "c"], 300)}
    expected = D.compare(pl.DataFrame(data), pl.DataFrame(data)).to_dict()
    assert D.compare(pd.DataFrame(data), pa.table(data)).to_dict() == expected
    nested = pl.DataFrame({"x": data["x"], "l": [[1]] * 300})
    report = D.compare(nested, nested)
    assert [c.column for c in report.columns] == ["x"]
    assert [(i.column, i.check) for i in report.quality] == [("l", "unsupported_type")]
    with pytest.raises(ValidationError, match=r"current=int: expected a polars, pandas or pyarrow frame"):
        D.compare(nested, 3)
    with pytest.raises(ValidationError, match=r"columns=\['nope'\]: not in the reference"):
        D.compare(nested, nested, columns=["nope"])


# ----------------------------------------------------------------------------- sketches
def test_sketch_round_trips_and_matches_raw_where_exact() -> None:
    rng = np.random.default_rng(5)
    n = 50_000
    ref = pl.DataFrame(
        {"x": rng.lognormal(size=n), "k": rng.choice(["a", "b", "c"], n), "few": rng.integers(0, 3, n)}
    )
    cur = pl.DataFrame(
        {
            "x": rng.lognormal(0.1, 1, size=20_000),
            "k": rng.choice(["a", "b", "z"], 20_000),
            "few": rng.integers(0, 4, 20_000),
        }
    )
    sketch = D.ReferenceSketch.from_frame(ref)
    text = json.dumps(sketch.to_dict(), allow_nan=False)
    assert len(text) < 30_000
    loaded = D.ReferenceSketch.from_dict(json.loads(text))
    for test in ("psi", "jensenshannon"):
        raw, sk = D.compare(ref, cur, tests=test), D.compare(loaded, cur, tests=test)
        assert [c.statistic for c in sk.columns] == pytest.approx(
            [c.statistic for c in raw.columns], abs=1e-12
        )
        assert not any(c.approximate for c in sk.columns)
    raw, sk = D.compare(ref, cur), D.compare(loaded, cur)
    assert sk["k"].details["unseen"] == raw["k"].details["unseen"] == {"z": int((cur["k"] == "z").sum())}
    assert sk["x"].approximate and sk["x"].statistic == pytest.approx(raw["x"].statistic, abs=0.01)
    ks_raw, ks_sk = (
        D.compare(ref, cur, tests={"x": "ks"})["x"],
        D.compare(loaded, cur, tests={"x": "ks"})["x"],
    )
    assert ks_sk.approximate and ks_raw.statistic - 1 / 200 <= ks_sk.statistic <= ks_raw.statistic + 1e-12
    assert [i.check for i in sk.quality] == [i.check for i in raw.quality]
    with pytest.raises(ValidationError, match=r"tests\['x'\]='anderson': needs the raw reference"):
        D.compare(loaded, cur, tests={"x": "anderson"})


def test_small_reference_sketch_is_exact() -> None:
    rng = np.random.default_rng(6)
    a, b = rng.normal(size=800), rng.normal(0.2, 1, size=700)
    ref, cur = _frames(a, b)
    sketch = D.ReferenceSketch.from_dict(json.loads(json.dumps(D.ReferenceSketch.from_frame(ref).to_dict())))
    for test in ("ks", "wasserstein", "anderson"):
        raw, sk = D.compare(ref, cur, tests=test)["x"], D.compare(sketch, cur, tests=test)["x"]
        assert (sk.statistic, sk.p_value, sk.approximate) == (raw.statistic, raw.p_value, False)
    with pytest.raises(ValidationError, match=r"sketch: KeyError\('columns'\)"):
        D.ReferenceSketch.from_dict({"n_rows": 1, "bins": 10, "resolution": 200})


# ----------------------------------------------------------------------------- chunks
def _stream() -> tuple[pl.DataFrame, pl.DataFrame]:
    rng = np.random.default_rng(7)
    t0 = dt.datetime(2026, 1, 1)
    ref = pl.DataFrame(
        {
            "t": [t0 + dt.timedelta(minutes=10 * i) for i in range(6000)],
            "x": rng.normal(size=6000),
            "k": rng.choice(["a", "b"], 6000),
        }
    )
    x = np.concatenate([rng.normal(size=4000), rng.normal(0.8, 1, size=2000)])
    cur = pl.DataFrame(
        {
            "t": [t0 + dt.timedelta(days=60, minutes=10 * i) for i in range(6000)],
            "x": x,
            "k": rng.choice(["a", "b"], 6000),
        }
    )
    return ref, cur


def test_chunked_by_period_rows_and_count() -> None:
    ref, cur = _stream()
    by_day = D.chunked(ref, cur, time_col="t", every="1d")
    assert by_day.columns == [
        "period",
        "chunk",
        "start",
        "end",
        "n",
        "column",
        "test",
        "statistic",
        "p_value",
        "threshold",
        "drifted",
    ]
    days = by_day.filter(pl.col("column") == "x")
    assert days["n"].to_list() == [144] * 41 + [96]
    assert days["end"][0] - days["start"][0] == dt.timedelta(days=1)
    # each chunk equals a compare() of that chunk
    one = cur.filter(pl.col("t").dt.truncate("1d") == days["start"][30])
    assert days["statistic"][30] == pytest.approx(
        D.compare(ref.drop("t"), one.drop("t"))["x"].statistic, abs=1e-12
    )
    by_rows = D.chunked(ref, cur, time_col="t", rows=1000, columns=["x"])
    assert by_rows["n"].to_list() == [1000] * 6
    assert by_rows["drifted"].to_list() == [False, False, False, False, True, True]
    by_count = D.chunked(ref.drop("t"), cur.drop("t"), chunks=4, columns=["x"])
    assert by_count["n"].to_list() == [1500] * 4 and by_count["start"].to_list() == [0, 1500, 3000, 4500]
    with pytest.raises(
        ValidationError, match=r"chunking=\['every', 'rows'\]: expected exactly one of every, rows or chunks"
    ):
        D.chunked(ref, cur, time_col="t", every="1d", rows=10)
    with pytest.raises(ValidationError, match=r"every='1d': needs time_col"):
        D.chunked(ref, cur, every="1d")


def test_chunked_thresholds_learned_from_reference_chunks() -> None:
    ref, cur = _stream()
    out = D.chunked(ref, cur, time_col="t", rows=500, columns=["x"], tests="ks", thresholds="reference")
    reference = out.filter(pl.col("period") == "reference")
    stats_ = reference["statistic"].to_numpy()
    limit = stats_.mean() + 3 * stats_.std(ddof=1)
    assert out["threshold"].unique().to_list() == [pytest.approx(limit, rel=1e-12)]
    analysis = out.filter(pl.col("period") == "analysis")
    assert analysis["drifted"].to_list() == (analysis["statistic"] > limit).to_list()
    assert analysis["drifted"].to_list()[:8] == [False] * 8 and all(analysis["drifted"].to_list()[8:])


def test_chunked_against_a_sketch_and_what_needs_raw_data() -> None:
    ref, cur = _stream()
    sketch = D.ReferenceSketch.from_frame(ref, columns=["x", "k"])
    raw = D.chunked(ref, cur, time_col="t", rows=1000, tests="psi")
    sk = D.chunked(sketch, cur, time_col="t", rows=1000, tests="psi")
    assert sk.drop("period").equals(raw.drop("period"))
    with pytest.raises(ValidationError, match="thresholds='reference': needs the raw reference"):
        D.chunked(sketch, cur, time_col="t", rows=1000, thresholds="reference")
