"""mlmm.stats against scipy/statsmodels and against published worked examples (sources cited)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, optimize
from scipy import stats as sps
from statsmodels.stats import contingency_tables as smct
from statsmodels.stats import multitest as smmt
from statsmodels.stats import power as smp
from statsmodels.stats import proportion as smprop

from mlmm import stats as S
from mlmm.errors import ValidationError

# R's datasets::sleep (Student 1908), used by R's ?t.test examples.
SLEEP_1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
SLEEP_2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]

counts = st.integers(min_value=1, max_value=5000).flatmap(
    lambda n: st.tuples(st.integers(min_value=0, max_value=n), st.just(n))
)


# ============================================================================ intervals
@given(counts, st.sampled_from([0.8, 0.9, 0.95, 0.99]))
@settings(max_examples=200, deadline=None)
def test_wilson_equals_statsmodels(sn, confidence):
    s, n = sn
    lo, hi = S.wilson_interval(s, n, confidence)
    ref = smprop.proportion_confint(s, n, alpha=1 - confidence, method="wilson")
    assert lo == pytest.approx(ref[0], abs=1e-12) and hi == pytest.approx(ref[1], abs=1e-12)
    assert isinstance(lo, float) and 0 <= lo <= s / n <= hi <= 1


def test_wilson_vectorised_and_empty_windows():
    s = np.array([[0, 3], [7, 0]])
    n = np.array([[10, 10], [20, 0]])
    lo, hi = S.wilson_interval(s, n)
    assert lo.shape == hi.shape == (2, 2)
    ref_lo, ref_hi = smprop.proportion_confint(s[:, :1].ravel(), n[:, :1].ravel(), method="wilson")
    np.testing.assert_allclose(lo[:, 0], ref_lo, atol=1e-12)
    np.testing.assert_allclose(hi[:, 0], ref_hi, atol=1e-12)
    assert math.isnan(lo[1, 1]) and math.isnan(hi[1, 1])
    assert all(math.isnan(v) for v in S.wilson_interval(0, 0))  # an empty window, scalar form
    # broadcasting one trials count over many success counts
    lo, hi = S.wilson_interval(np.arange(4), 3)
    assert lo[0] == 0.0 and hi[3] == 1.0


def test_wilson_validation_messages():
    with pytest.raises(ValidationError, match=r"^successes\[1\]=12: expected an integer in \[0, trials\[1\]=10\]$"):
        S.wilson_interval([1, 12], [10, 10])
    with pytest.raises(ValidationError, match=r"^trials=-3: expected an integer >= 0$"):
        S.wilson_interval(1, -3)
    with pytest.raises(ValidationError, match=r"^successes=1.5: expected an integer in \[0, trials=3\]$"):
        S.wilson_interval(1.5, 3)
    with pytest.raises(ValidationError, match=r"^confidence=1.7: expected a number in \(0, 1\)$"):
        S.wilson_interval(1, 3, 1.7)


@pytest.mark.parametrize(("method", "sm_method"), [
    ("wald", "normal"), ("agresti-coull", "agresti_coull"), ("clopper-pearson", "beta"), ("jeffreys", "jeffreys"),
])
def test_proportion_interval_methods_equal_statsmodels(method, sm_method):
    s = np.array([1, 2, 7, 50, 99])
    n = np.array([10, 20, 13, 100, 100])
    lo, hi = S.proportion_interval(s, n, 0.9, method=method)
    ref_lo, ref_hi = smprop.proportion_confint(s, n, alpha=0.1, method=sm_method)
    np.testing.assert_allclose(lo, ref_lo, atol=1e-12)
    np.testing.assert_allclose(hi, ref_hi, atol=1e-12)
    lo, hi = S.proportion_interval(0, 0, method=method)
    assert math.isnan(lo) and math.isnan(hi)


def test_clopper_pearson_and_jeffreys_edges():
    # Brown, Cai & DasGupta (2001): the Jeffreys bound is 0 at x = 0 and 1 at x = n.
    assert S.proportion_interval(0, 10, method="jeffreys")[0] == 0.0
    assert S.proportion_interval(10, 10, method="jeffreys")[1] == 1.0
    # Clopper-Pearson at x = 0: the upper bound solves (1 - p)^n = alpha / 2.
    assert S.proportion_interval(0, 10, method="clopper-pearson") == (0.0, pytest.approx(1 - 0.025 ** (1 / 10), abs=1e-14))


# ============================================================================ two proportions
# Newcombe (1998), Statistics in Medicine 17:873-890, Table II, method 10 (hybrid score),
# written as (successes_a, trials_a, successes_b, trials_b) for the difference p_b - p_a.
NEWCOMBE_TABLE_II = [
    ((48, 80, 56, 70), (0.0524, 0.3339)),
    ((3, 10, 9, 10), (0.1705, 0.8090)),
    ((0, 29, 5, 56), (-0.0381, 0.1926)),
    ((0, 20, 0, 10), (-0.1611, 0.2775)),
    ((0, 10, 0, 10), (-0.2775, 0.2775)),
    ((0, 20, 10, 10), (0.6791, 1.0000)),
    ((0, 10, 10, 10), (0.6075, 1.0000)),
]


@pytest.mark.parametrize(("args", "published"), NEWCOMBE_TABLE_II)
def test_newcombe_published_examples(args, published):
    r = S.two_proportion_test(*args)
    assert (round(r.ci_low, 4), round(r.ci_high, 4)) == published


@given(counts, counts, st.sampled_from(S.ALTERNATIVES), st.sampled_from([0.9, 0.95, 0.99]))
@settings(max_examples=150, deadline=None)
def test_two_proportion_test_equals_statsmodels(a, b, alternative, confidence):
    (s_a, n_a), (s_b, n_b) = a, b
    r = S.two_proportion_test(s_a, n_a, s_b, n_b, alternative=alternative, confidence=confidence)
    assert r.difference == s_b / n_b - s_a / n_a
    pooled = (s_a + s_b) / (n_a + n_b)
    if 0 < pooled < 1:
        sm_alt = {"two-sided": "two-sided", "greater": "larger", "less": "smaller"}[alternative]
        z, p = smprop.proportions_ztest([s_b, s_a], [n_b, n_a], alternative=sm_alt)
        assert r.z == pytest.approx(z, rel=1e-9, abs=1e-12)
        assert r.p_value == pytest.approx(p, rel=1e-9, abs=1e-15)
        assert r.significant == (p < 1 - confidence)
    else:  # nothing to compare: both proportions 0 or both 1
        assert (r.z, r.p_value, r.significant) == (0.0, 1.0, False)
    if alternative == "two-sided":
        lo, hi = smprop.confint_proportions_2indep(s_b, n_b, s_a, n_a, method="newcomb", compare="diff",
                                                   alpha=1 - confidence)
        assert (r.ci_low, r.ci_high) == (pytest.approx(lo, abs=1e-12), pytest.approx(hi, abs=1e-12))
        w = S.two_proportion_test(s_a, n_a, s_b, n_b, confidence=confidence, interval="wald")
        lo, hi = smprop.confint_proportions_2indep(s_b, n_b, s_a, n_a, method="wald", compare="diff",
                                                   alpha=1 - confidence)
        assert (w.ci_low, w.ci_high) == (pytest.approx(max(lo, -1), abs=1e-12), pytest.approx(min(hi, 1), abs=1e-12))


def test_one_sided_interval_is_the_matching_two_sided_bound():
    greater = S.two_proportion_test(48, 80, 56, 70, alternative="greater", confidence=0.95)
    two = S.two_proportion_test(48, 80, 56, 70, confidence=0.90)
    assert greater.ci_low == pytest.approx(two.ci_low, abs=1e-15) and greater.ci_high == 1.0
    less = S.two_proportion_test(48, 80, 56, 70, alternative="less")
    assert less.ci_low == -1.0 and less.ci_high == pytest.approx(two.ci_high, abs=1e-15)
    assert greater.p_value == pytest.approx(two.p_value / 2, rel=1e-12)


def test_two_proportion_result_shape():
    r = S.two_proportion_test(48, 80, 56, 70)
    d = r.to_dict()
    assert json.loads(json.dumps(d, allow_nan=False)) == d
    assert set(d) >= {"p_a", "p_b", "difference", "ci_low", "ci_high", "z", "p_value", "alternative", "significant"}
    assert (d["p_a"], d["p_b"], d["interval"], d["significant"]) == (0.6, 0.8, "newcombe", True)
    assert r.is_significant(0.01) and not r.is_significant(0.005)
    assert repr(r) == ("<ProportionTestResult p_a=0.6 p_b=0.8 diff=+0.2 [+0.05243, +0.3339] z=2.650 p=0.008045"
                       " (two-sided, newcombe 95%): significant>")
    with pytest.raises(dataclasses_frozen_error()):
        r.z = 0.0  # type: ignore[misc]


def dataclasses_frozen_error():
    import dataclasses

    return dataclasses.FrozenInstanceError


def test_two_proportion_validation():
    with pytest.raises(ValidationError, match=r"^successes_a=12: expected an integer in \[0, trials_a=10\]$"):
        S.two_proportion_test(12, 10, 3, 10)
    with pytest.raises(ValidationError, match=r"^trials_b=0: expected an integer >= 1$"):
        S.two_proportion_test(1, 10, 0, 0)
    with pytest.raises(ValidationError, match=r"^successes_b=-1: expected an integer in \[0, trials_b=10\]$"):
        S.two_proportion_test(1, 10, -1, 10)
    with pytest.raises(ValidationError, match=r"^trials_a=True: expected an integer >= 1$"):
        S.two_proportion_test(1, True, 1, 10)
    with pytest.raises(ValidationError, match=r"^alternative='larger': expected one of 'two-sided', 'greater', 'less'$"):
        S.two_proportion_test(1, 10, 1, 10, alternative="larger")
    with pytest.raises(ValidationError, match=r"^interval='score': expected one of 'newcombe', 'wald'$"):
        S.two_proportion_test(1, 10, 1, 10, interval="score")
    # integer-valued floats (sums from a data frame) are accepted
    assert S.two_proportion_test(1.0, 10.0, 2, 10).successes_a == 1


# ============================================================================ 2x2 tables
@given(st.lists(st.integers(0, 400), min_size=4, max_size=4), st.booleans())
@settings(max_examples=100, deadline=None)
def test_chi_square_equals_scipy(cells, correction):
    table = np.array(cells).reshape(2, 2)
    if (table.sum(0) == 0).any() or (table.sum(1) == 0).any():
        with pytest.raises(ValidationError, match="sums to 0"):
            S.chi_square_test(table)
        return
    r = S.chi_square_test(table, correction=correction)
    ref = sps.chi2_contingency(table, correction=correction)
    assert r.statistic == pytest.approx(ref.statistic, rel=1e-10, abs=1e-12)
    assert r.p_value == pytest.approx(ref.pvalue, rel=1e-10, abs=1e-15)
    assert r.df == 1.0


def test_chi_square_is_pooled_z_squared_and_handles_r_by_c():
    z = S.two_proportion_test(48, 80, 56, 70).z
    assert S.chi_square_test(S.table_from_counts(48, 80, 56, 70)).statistic == pytest.approx(z * z, rel=1e-12)
    table = [[12, 5, 9], [7, 14, 3], [2, 8, 11]]
    ref = sps.chi2_contingency(table)
    r = S.chi_square_test(table)
    assert (r.statistic, r.df) == (pytest.approx(ref.statistic, rel=1e-12), 4.0)
    assert r.p_value == pytest.approx(ref.pvalue, rel=1e-10)
    with pytest.raises(ValidationError, match=r"^table\[0\]\[1\]=-2: expected an integer count >= 0$"):
        S.chi_square_test([[1, -2], [3, 4]])


def test_fisher_tea_tasting():
    # R ?fisher.test, "TeaTasting" (Fisher 1935, Agresti 1990 p. 61):
    # alternative = "greater": p-value = 0.2429, odds ratio 6.408309, 95% CI 0.3135693 to Inf.
    r = S.fisher_exact_test([[3, 1], [1, 3]], alternative="greater")
    assert round(r.p_value, 4) == 0.2429
    assert r.p_value == pytest.approx(17 / 70, rel=1e-12)  # (C(4,3)C(4,1) + C(4,4)C(4,0)) / C(8,4)
    # R solves with uniroot (tolerance ~1e-4); scipy and mlmm solve to full precision
    assert r.estimate == pytest.approx(6.408309, rel=1e-5)
    assert r.ci_low == pytest.approx(0.3135693, rel=1e-4) and r.ci_high == math.inf
    assert r.to_dict()["ci_high"] is None  # JSON-safe
    # two-sided: p = 0.4857 (34/70)
    assert S.fisher_exact_test([[3, 1], [1, 3]]).p_value == pytest.approx(34 / 70, rel=1e-12)


def test_fisher_convictions():
    # R ?fisher.test, "Convictions" (Fleiss 1981): alternative = "less": p-value = 0.0004652,
    # odds ratio 0.04693661, 95% CI 0 to 0.2849601.
    r = S.fisher_exact_test([[2, 10], [15, 3]], alternative="less")
    assert round(r.p_value, 7) == 0.0004652
    assert r.estimate == pytest.approx(0.04693661, rel=1e-5)
    assert r.ci_low == 0.0 and r.ci_high == pytest.approx(0.2849601, rel=1e-5)
    ref = sps.fisher_exact([[2, 10], [15, 3]], alternative="less")
    assert (r.statistic, r.p_value) == (ref.statistic, ref.pvalue)


# ============================================================================ means
def test_t_test_sleep_data_welch_and_student():
    # R ?t.test: t.test(extra ~ group, data = sleep) -> t = -1.8608, df = 17.776,
    # p-value = 0.07939, 95% CI -3.3654832 0.2054832 (group1 - group2; mlmm reports b - a).
    w = S.t_test(SLEEP_1, SLEEP_2)
    assert (round(w.statistic, 4), round(w.df, 3), round(w.p_value, 5)) == (1.8608, 17.776, 0.07939)
    assert (round(w.ci_low, 7), round(w.ci_high, 7)) == (-0.2054832, 3.3654832)
    assert w.estimate == pytest.approx(1.58, abs=1e-12)
    # var.equal = TRUE: t = -1.8608, df = 18, p-value = 0.07919, CI -3.363874 0.203874
    s = S.t_test(SLEEP_1, SLEEP_2, equal_var=True)
    assert (round(s.statistic, 4), s.df, round(s.p_value, 5)) == (1.8608, 18.0, 0.07919)
    assert (round(s.ci_low, 6), round(s.ci_high, 6)) == (-0.203874, 3.363874)


@pytest.mark.parametrize("equal_var", [False, True])
@pytest.mark.parametrize("alternative", S.ALTERNATIVES)
def test_t_test_equals_scipy(equal_var, alternative):
    rng = np.random.default_rng(4)
    a, b = rng.normal(10, 2, 37), rng.normal(10.8, 3, 23)
    r = S.t_test(a, b, equal_var=equal_var, alternative=alternative, confidence=0.9)
    ref = sps.ttest_ind(b, a, equal_var=equal_var, alternative=alternative)
    ci = ref.confidence_interval(0.9)
    assert r.statistic == pytest.approx(ref.statistic, rel=1e-12)
    assert r.p_value == pytest.approx(ref.pvalue, rel=1e-10)
    assert r.df == pytest.approx(ref.df, rel=1e-12)
    assert (r.ci_low, r.ci_high) == (pytest.approx(ci.low, rel=1e-10), pytest.approx(ci.high, rel=1e-10))


def test_t_test_validation():
    with pytest.raises(ValidationError, match=r"^a: expected at least 2 values, got 1$"):
        S.t_test([1.0], [1.0, 2.0])
    with pytest.raises(ValidationError, match=r"^b\[1\]=nan: expected a finite number$"):
        S.t_test([1.0, 2.0], [1.0, float("nan")])
    with pytest.raises(ValidationError, match="both samples are constant"):
        S.t_test([1.0, 1.0], [2.0, 2.0])


def test_mann_whitney_hollander_wolfe():
    # R ?wilcox.test (Hollander & Wolfe 1973, p. 69): wilcox.test(x, y, alternative = "g")
    # -> W = 35, p-value = 0.1272.
    x = [0.80, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46]
    y = [1.15, 0.88, 0.90, 0.74, 1.21]
    r = S.mann_whitney_test(y, x, alternative="greater")
    assert (r.statistic, round(r.p_value, 4), r.estimate) == (35.0, 0.1272, 0.7)
    rng = np.random.default_rng(1)
    a, b = rng.exponential(1.0, 60), rng.exponential(1.3, 45)
    for alternative in S.ALTERNATIVES:
        r = S.mann_whitney_test(a, b, alternative=alternative)
        ref = sps.mannwhitneyu(b, a, alternative=alternative)
        assert (r.statistic, r.p_value) == (ref.statistic, ref.pvalue)


# ============================================================================ bootstrap
def test_bootstrap_ci_equals_scipy_and_is_repeatable():
    rng = np.random.default_rng(2)
    x = rng.lognormal(0, 1, 80)
    for method, sp_method in (("bca", "BCa"), ("percentile", "percentile"), ("basic", "basic")):
        r = S.bootstrap_ci(x, "median", method=method, n_resamples=2000, seed=7)
        ref = sps.bootstrap((x,), np.median, n_resamples=2000, method=sp_method, rng=np.random.default_rng(7))
        assert (r.ci_low, r.ci_high) == (ref.confidence_interval.low, ref.confidence_interval.high)
        assert r.estimate == float(np.median(x))
    assert S.bootstrap_ci(x, seed=3) == S.bootstrap_ci(x, seed=3)
    r = S.bootstrap_ci(x, seed=3)
    assert r.ci_low < x.mean() < r.ci_high


def test_bootstrap_difference_and_paired():
    rng = np.random.default_rng(3)
    a = rng.normal(0.0, 1.0, 60)
    b = a + rng.normal(0.3, 0.2, 60)  # the same requests scored twice: strongly paired
    ind = S.bootstrap_difference(a, b, n_resamples=2000, seed=1)
    ref = sps.bootstrap((a, b), lambda u, v, axis=-1: v.mean(axis=axis) - u.mean(axis=axis),
                        n_resamples=2000, rng=np.random.default_rng(1))
    assert (ind.ci_low, ind.ci_high) == (ref.confidence_interval.low, ref.confidence_interval.high)
    paired = S.paired_bootstrap_ci(a, b, n_resamples=2000, seed=1)
    ref = sps.bootstrap((a, b), lambda u, v, axis=-1: v.mean(axis=axis) - u.mean(axis=axis), paired=True,
                        n_resamples=2000, rng=np.random.default_rng(1))
    assert (paired.ci_low, paired.ci_high) == (ref.confidence_interval.low, ref.confidence_interval.high)
    assert paired.estimate == pytest.approx(float(np.mean(b - a)), abs=1e-12)
    # pairing removes the between-request variance: a much narrower interval
    assert paired.ci_high - paired.ci_low < (ind.ci_high - ind.ci_low) / 3


def test_bootstrap_validation():
    with pytest.raises(ValidationError, match="degenerate"):
        S.bootstrap_ci([1.0, 1.0, 1.0, 1.0], n_resamples=200)
    with pytest.raises(ValidationError, match=r"^method='bc': expected one of 'bca', 'percentile', 'basic'$"):
        S.bootstrap_ci([1.0, 2.0, 3.0], method="bc")
    with pytest.raises(ValidationError, match=r"^statistic='mode': expected one of 'mean', 'median'$"):
        S.bootstrap_ci([1.0, 2.0, 3.0], "mode")
    with pytest.raises(ValidationError, match=r"^a, b: expected paired samples of equal length, got 3 and 2$"):
        S.paired_bootstrap_ci([1.0, 2.0, 3.0], [1.0, 2.0])


# ============================================================================ paired
def test_mcnemar_presidential_approval():
    # Agresti (1990) p. 350 / R ?mcnemar.test: approval in two surveys of 1600 people.
    # Uncorrected: chi-squared = 17.3559, p-value = 3.099e-05 (PSU STAT 504, lesson on McNemar);
    # R's default continuity correction: McNemar's chi-squared = 16.818, p-value = 4.115e-05.
    table = [[794, 150], [86, 570]]
    r = S.mcnemar_test(table, method="chi2")
    assert (round(r.statistic, 4), float(f"{r.p_value:.4g}")) == (17.3559, 3.099e-05)
    c = S.mcnemar_test(table, method="chi2", correction=True)
    assert (round(c.statistic, 3), float(f"{c.p_value:.4g}")) == (16.818, 4.115e-05)
    # Agresti (2007), sec. 8.1: difference 0.55 - 0.59 = -0.04, SE 0.0095, 95% CI (-0.06, -0.02)
    assert r.estimate == pytest.approx(-0.04, abs=1e-15)
    assert (round(r.ci_low, 2), round(r.ci_high, 2)) == (-0.06, -0.02)
    assert (r.ci_high - r.ci_low) / 2 / 1.959964 == pytest.approx(0.0095, abs=5e-5)
    # statsmodels
    ref = smct.mcnemar(np.array(table), exact=False, correction=False)
    assert (r.statistic, r.p_value) == (pytest.approx(ref.statistic, rel=1e-12), pytest.approx(ref.pvalue, rel=1e-10))
    e = S.mcnemar_test(table)
    ref = smct.mcnemar(np.array(table), exact=True)
    assert (e.statistic, e.p_value) == (ref.statistic, pytest.approx(ref.pvalue, rel=1e-10))


def test_mcnemar_exact_small_counts_and_paired_table():
    a = [1] * 20 + [1] * 1 + [0] * 7 + [0] * 12
    b = [1] * 20 + [0] * 1 + [1] * 7 + [0] * 12
    table = S.paired_table(a, b)
    assert table == [[20, 1], [7, 12]]
    r = S.mcnemar_test(table)
    # exact two-sided binomial: 2 * P(X <= 1 | n = 8, p = 1/2) = 2 * 9/256
    assert r.p_value == pytest.approx(18 / 256, rel=1e-12)
    assert r.estimate == pytest.approx(6 / 40)
    assert S.mcnemar_test([[5, 0], [0, 5]]).p_value == 1.0
    with pytest.raises(ValidationError, match=r"^a\[2\]=2: expected a boolean \(0 or 1\)$"):
        S.paired_table([1, 0, 2], [1, 1, 1])


def test_paired_t_sleep():
    # R ?t.test: with(sleep, t.test(extra[group == 1], extra[group == 2], paired = TRUE))
    # -> t = -4.0621, df = 9, p-value = 0.002833, 95% CI -2.4598858 -0.7001142, mean difference -1.58.
    r = S.paired_t_test(SLEEP_1, SLEEP_2)
    assert (round(r.statistic, 4), r.df, round(r.p_value, 6)) == (4.0621, 9.0, 0.002833)
    assert (round(r.ci_low, 7), round(r.ci_high, 7)) == (0.7001142, 2.4598858)
    ref = sps.ttest_rel(SLEEP_2, SLEEP_1, alternative="greater")
    g = S.paired_t_test(SLEEP_1, SLEEP_2, alternative="greater")
    assert (g.statistic, g.p_value) == (pytest.approx(ref.statistic, rel=1e-12), pytest.approx(ref.pvalue, rel=1e-10))
    assert g.ci_low == pytest.approx(ref.confidence_interval().low, rel=1e-10) and g.ci_high == math.inf


# ============================================================================ effect sizes
def test_relative_lift_delta_and_log():
    r = S.relative_lift(100, 1000, 120, 1000)
    p_a, p_b = 0.1, 0.12
    se = math.sqrt(p_b * (1 - p_b) / 1000 / p_a**2 + p_b**2 * p_a * (1 - p_a) / 1000 / p_a**4)
    assert r.estimate == pytest.approx(0.2, abs=1e-14)
    assert (r.ci_low, r.ci_high) == (pytest.approx(0.2 - 1.959963984540054 * se, abs=1e-12),
                                     pytest.approx(0.2 + 1.959963984540054 * se, abs=1e-12))
    log = S.relative_lift(100, 1000, 120, 1000, method="log")
    rr = sps.contingency.relative_risk(120, 1000, 100, 1000).confidence_interval()
    assert (log.ci_low, log.ci_high) == (pytest.approx(rr.low - 1, abs=1e-12), pytest.approx(rr.high - 1, abs=1e-12))
    with pytest.raises(ValidationError, match=r"^successes_a=0: expected at least one success in the control"):
        S.relative_lift(0, 1000, 12, 1000)


def test_cohens_h_and_d():
    h = S.cohens_h(50, 100, 75, 100)
    assert h.estimate == pytest.approx(smprop.proportion_effectsize(0.75, 0.5), abs=1e-14)
    assert h.ci_high - h.estimate == pytest.approx(1.959963984540054 * math.sqrt(2 / 100), abs=1e-12)
    d = S.cohens_d(SLEEP_1, SLEEP_2)
    student = S.t_test(SLEEP_1, SLEEP_2, equal_var=True)
    assert d.estimate == pytest.approx(student.statistic * math.sqrt(1 / 10 + 1 / 10), rel=1e-12)
    se = math.sqrt(20 / 100 + d.estimate**2 / 40)  # Hedges & Olkin (1985)
    assert d.ci_low == pytest.approx(d.estimate - 1.959963984540054 * se, abs=1e-12)
    rng = np.random.default_rng(5)
    a, b = rng.normal(0, 1, 30), rng.normal(0.5, 2, 50)
    w = S.cohens_d(a, b, pooled=False)
    assert w.estimate == pytest.approx((b.mean() - a.mean()) / math.sqrt((a.var(ddof=1) + b.var(ddof=1)) / 2))
    assert w.ci_low < w.estimate < w.ci_high


def test_odds_ratio_and_risk_ratio_equal_statsmodels():
    s_a, n_a, s_b, n_b = 48, 80, 56, 70
    table = smct.Table2x2(np.array([[s_b, n_b - s_b], [s_a, n_a - s_a]]))
    o = S.odds_ratio(s_a, n_a, s_b, n_b)
    lo, hi = table.oddsratio_confint()
    assert (o.estimate, o.ci_low, o.ci_high) == (pytest.approx(table.oddsratio, rel=1e-12),
                                                 pytest.approx(lo, rel=1e-12), pytest.approx(hi, rel=1e-12))
    rr = S.risk_ratio(s_a, n_a, s_b, n_b)
    lo, hi = table.riskratio_confint()
    assert (rr.estimate, rr.ci_low, rr.ci_high) == (pytest.approx(table.riskratio, rel=1e-12),
                                                    pytest.approx(lo, rel=1e-12), pytest.approx(hi, rel=1e-12))
    exact = S.odds_ratio(s_a, n_a, s_b, n_b, method="exact")
    ref = sps.contingency.odds_ratio([[s_b, n_b - s_b], [s_a, n_a - s_a]])
    assert exact.estimate == ref.statistic and exact.ci_low == ref.confidence_interval().low
    # a zero cell: Haldane-Anscombe, finite
    z = S.odds_ratio(0, 50, 5, 50)
    assert z.estimate == pytest.approx((5.5 * 50.5) / (45.5 * 0.5)) and math.isfinite(z.ci_high)
    with pytest.raises(ValidationError, match=r"^successes_b=0: expected at least one success"):
        S.risk_ratio(3, 10, 0, 10)


# ============================================================================ power and sample size
def test_power_prop_test_r_examples():
    # R ?power.prop.test. R's default strict = FALSE ignores the rejections in the wrong
    # direction; mlmm counts them (R's strict = TRUE), so add that far tail to R's value.
    p1, p2, n = 0.5, 0.75, 50
    r = S.proportion_power(p1, p2, n_a=n)
    pbar = (p1 + p2) / 2
    far = sps.norm.cdf((-math.sqrt(n) * (p2 - p1) - 1.959963984540054 * math.sqrt(2 * pbar * (1 - pbar)))
                       / math.sqrt(p1 * (1 - p1) + p2 * (1 - p2)))
    assert round(r.power - far, 7) == 0.7401659  # power.prop.test(n = 50, p1 = .50, p2 = .75)
    # power.prop.test(p1 = .50, p2 = .75, power = .90): "=> n = 76.7" (R's uniroot tol ~1e-4)
    n90 = S.proportion_power(0.5, 0.75, power=0.90)
    assert round(n90.n_a, 1) == 76.7 and n90.required_a == 77
    # power.prop.test(n = 50, p1 = .5, power = .90): p2 = 0.8026141 (uniroot tolerance 1.2e-4)
    assert S.proportion_power(0.5, n_a=50, power=0.90).treatment == pytest.approx(0.8026141, abs=1.2e-4)


@pytest.mark.parametrize("ratio", [1.0, 0.25, 3.0])
@pytest.mark.parametrize("alternative", S.ALTERNATIVES)
def test_pooled_power_equals_statsmodels(ratio, alternative):
    sm_alt = {"two-sided": "two-sided", "greater": "larger", "less": "smaller"}[alternative]
    p_a, p_b = (0.10, 0.12) if alternative != "less" else (0.12, 0.10)
    r = S.proportion_power(p_a, p_b, n_a=2500, ratio=ratio, alternative=alternative)
    # statsmodels' prop1 is our p_b... its diff = prop1 - prop2 and nobs2 = ratio * nobs1:
    # with prop1 = p_a, nobs1 = n_a, prop2 = p_b the pooled proportion is the same.
    ref = smprop.power_proportions_2indep(p_a - p_b, p_b, 2500, ratio=ratio, alternative=sm_alt,
                                          return_results=False)
    # statsmodels' "larger" refers to prop1 - prop2 = p_a - p_b: swap the one-sided directions
    if alternative != "two-sided":
        sm_alt = {"larger": "smaller", "smaller": "larger"}[sm_alt]
        ref = smprop.power_proportions_2indep(p_a - p_b, p_b, 2500, ratio=ratio, alternative=sm_alt,
                                              return_results=False)
    assert r.power == pytest.approx(ref, rel=1e-10)


@pytest.mark.parametrize("ratio", [1.0, 0.25])
@pytest.mark.parametrize("alternative", S.ALTERNATIVES)
def test_arcsine_and_unpooled_power_equal_statsmodels(ratio, alternative):
    sm_alt = {"two-sided": "two-sided", "greater": "larger", "less": "smaller"}[alternative]
    p_a, p_b = (0.30, 0.36) if alternative != "less" else (0.36, 0.30)
    h = smprop.proportion_effectsize(p_b, p_a)
    arc = S.proportion_power(p_a, p_b, n_a=400, ratio=ratio, alternative=alternative, method="arcsine")
    assert arc.power == pytest.approx(smp.NormalIndPower().power(h, 400, 0.05, ratio, sm_alt), rel=1e-10)
    solved = S.proportion_power(p_a, p_b, power=0.8, ratio=ratio, alternative=alternative, method="arcsine")
    ref = smp.NormalIndPower().solve_power(h, power=0.8, alpha=0.05, ratio=ratio, alternative=sm_alt)
    assert solved.n_a == pytest.approx(ref, rel=1e-6)
    unp = S.proportion_power(p_a, p_b, n_a=400, ratio=ratio, alternative=alternative, method="unpooled")
    sd = math.sqrt(p_a * (1 - p_a) + p_b * (1 - p_b) / ratio)
    assert unp.power == pytest.approx(smp.normal_power_het(p_b - p_a, 400, 0.05, sd, sd, sm_alt), rel=1e-10)


@given(
    st.floats(0.01, 0.9), st.floats(0.005, 0.09), st.floats(0.5, 0.95), st.sampled_from([0.5, 1.0, 4.0]),
    st.sampled_from(S.ALTERNATIVES), st.sampled_from(["pooled", "unpooled", "arcsine"]),
)
@settings(max_examples=60, deadline=None)
def test_proportion_power_round_trips(p_a, delta, power, ratio, alternative, method):
    p_b = p_a - delta if alternative == "less" else p_a + delta
    if not 0 < p_b < 1:
        return
    n = S.proportion_power(p_a, p_b, power=power, ratio=ratio, alternative=alternative, method=method)
    assert n.solved_for == "n_a" and n.n_b == pytest.approx(ratio * n.n_a)
    back = S.proportion_power(p_a, p_b, n_a=n.n_a, ratio=ratio, alternative=alternative, method=method)
    assert back.power == pytest.approx(power, abs=1e-9)
    mde = S.proportion_power(p_a, n_a=n.n_a, power=power, ratio=ratio, alternative=alternative, method=method)
    assert mde.treatment == pytest.approx(p_b, abs=1e-8)
    alpha = S.proportion_power(p_a, p_b, n_a=n.n_a, power=power, alpha=None, ratio=ratio,
                               alternative=alternative, method=method)
    assert alpha.alpha == pytest.approx(0.05, abs=1e-9)


def test_power_t_test_r_examples():
    # R ?power.t.test (strict = FALSE; the far tail is below 1e-6 here):
    # power.t.test(n = 20, delta = 1) -> power = 0.8689528
    assert S.mean_power(1, n_a=20).power == pytest.approx(0.8689528, abs=1e-6)
    # power.t.test(power = .90, delta = 1) -> n = 22.02110
    assert S.mean_power(1, power=0.90).n_a == pytest.approx(22.02110, abs=1e-4)
    # power.t.test(power = .90, delta = 1, alternative = "one.sided") -> n = 17.84713
    assert S.mean_power(1, power=0.90, alternative="greater").n_a == pytest.approx(17.84713, abs=1e-4)


@pytest.mark.parametrize("ratio", [1.0, 0.25])
@pytest.mark.parametrize("alternative", S.ALTERNATIVES)
def test_mean_power_equals_statsmodels(ratio, alternative):
    sm_alt = {"two-sided": "two-sided", "greater": "larger", "less": "smaller"}[alternative]
    effect = -0.4 if alternative == "less" else 0.4
    r = S.mean_power(effect * 2, sd=2, n_a=60, ratio=ratio, alternative=alternative)
    assert r.power == pytest.approx(smp.TTestIndPower().power(effect, 60, 0.05, ratio, alternative=sm_alt), rel=1e-9)
    z = S.mean_power(effect * 2, sd=2, n_a=60, ratio=ratio, alternative=alternative, method="normal")
    assert z.power == pytest.approx(smp.NormalIndPower().power(effect, 60, 0.05, ratio, alternative=sm_alt), rel=1e-10)
    n = S.mean_power(effect, power=0.8, ratio=ratio, alternative=alternative)
    ref = smp.TTestIndPower().solve_power(effect, power=0.8, alpha=0.05, ratio=ratio, alternative=sm_alt)
    assert n.n_a == pytest.approx(ref, rel=1e-6)
    mde = S.mean_power(n_a=n.n_a, power=0.8, ratio=ratio, alternative=alternative)
    assert mde.effect == pytest.approx(effect, abs=1e-8)


def test_power_validation():
    with pytest.raises(ValidationError, match=r"expected exactly one of treatment, n_a, power, alpha to be None"):
        S.proportion_power(0.1, 0.12)
    with pytest.raises(ValidationError, match=r"^baseline=1.2: expected a number in \(0, 1\)$"):
        S.proportion_power(1.2, 0.3, n_a=10)
    with pytest.raises(ValidationError, match=r"^method='exact': expected one of 'pooled', 'unpooled', 'arcsine'$"):
        S.proportion_power(0.1, 0.12, n_a=10, method="exact")
    with pytest.raises(ValidationError, match=r"cannot be reached"):
        S.proportion_power(0.1, n_a=3, power=0.999999)
    with pytest.raises(ValidationError, match=r"^effect=0: expected a finite non-zero difference in means$"):
        S.mean_power(0, n_a=10)
    with pytest.raises(ValidationError, match=r"^n_a=1.0: expected more than 1"):
        S.mean_power(1, n_a=1.0)


def test_power_result_shape():
    r = S.proportion_power(0.10, 0.12, power=0.80, ratio=0.25)
    d = r.to_dict()
    assert json.loads(json.dumps(d, allow_nan=False)) == d
    assert (d["required_a"], d["required_b"], d["required_total"], d["solved_for"]) == (9412, 2353, 11765, "n_a")
    assert d["sd"] is None and d["method"] == "pooled"


def test_required_sample_size_seed_and_cochran():
    # The seed's calculateRequiredSampleSize(0.95, 0.05) is the textbook 385 (1.96^2 * 0.25 / 0.05^2
    # = 384.15 rounded up; Cochran 1977, eq. 4.2); with margin 0.03 it is 1068.
    assert S.required_sample_size(0.95, 0.05) == 385
    assert S.required_sample_size(0.95, 0.03) == 1068
    assert S.required_sample_size(0.99, 0.05) == 664
    # finite population correction (Cochran eq. 4.3): n0 / (1 + (n0 - 1)/N)
    n0 = 1.959963984540054**2 * 0.25 / 0.0025
    assert S.required_sample_size(0.95, 0.05, population=1000) == math.ceil(n0 / (1 + (n0 - 1) / 1000))
    with pytest.raises(ValidationError, match=r"^margin=0: expected a number in \(0, 1\)$"):
        S.required_sample_size(0.95, 0)


def test_days_to_significance():
    plan = S.proportion_power(0.10, 0.12, power=0.80)
    d = S.days_to_significance(plan, 1000)
    assert (d.days, d.required_a, d.required_b) == (8, 3841, 3841)
    assert d.exact_days == pytest.approx(7.682)
    split = S.days_to_significance(S.proportion_power(0.10, 0.12, power=0.80, ratio=0.25), 1000)
    assert split.exact_days == pytest.approx(2353 / 200)  # the 20 % arm is the bottleneck
    with pytest.raises(ValidationError, match=r"^daily_traffic=0: expected a finite number > 0$"):
        S.days_to_significance(plan, 0)


# ============================================================================ sequential
def test_lan_demets_obrien_fleming_published_boundaries():
    # Lan-DeMets O'Brien-Fleming-type spending, K = 5 equally spaced, one-sided alpha = 0.025
    # (equivalently two-sided 0.05): 4.877, 3.357, 2.680, 2.290, 2.031 (Reboussin et al. 2000,
    # Controlled Clinical Trials 21:190-207; gsDesign sfLDOF; Jennison & Turnbull 2000, ch. 7).
    b = S.group_sequential_bounds(5, 0.025)
    assert [round(z, 3) for z in b.z] == [4.877, 3.357, 2.680, 2.290, 2.031]
    assert b.cumulative_alpha[-1] == pytest.approx(0.025, abs=1e-15)
    two = S.group_sequential_bounds(5, 0.05, alternative="two-sided")
    np.testing.assert_allclose(two.z, b.z, atol=1e-6)
    # K = 2: 2.963, 1.969
    assert [round(z, 3) for z in S.group_sequential_bounds(2, 0.025).z] == [2.963, 1.969]


def test_lan_demets_pocock_type():
    # Lan-DeMets Pocock-type spending, K = 5, one-sided 0.025 (gsDesign sfLDPocock):
    # 2.438, 2.427, 2.410, 2.397, 2.386
    b = S.group_sequential_bounds(5, 0.025, spending="pocock")
    assert [round(z, 3) for z in b.z] == [2.438, 2.427, 2.410, 2.397, 2.386]


def test_crossing_probability_reproduces_classical_tables():
    # Armitage, McPherson & Rowe (1969), as in Jennison & Turnbull (2000) Table 1.1: repeated
    # two-sided tests at |z| >= 1.96 on K equally spaced looks have overall level
    # 0.083, 0.107, 0.126, 0.142, 0.193 for K = 2, 3, 4, 5, 10.
    levels = [round(S.boundary_crossing_probability([1.96] * k, alternative="two-sided"), 3) for k in (2, 3, 4, 5, 10)]
    assert levels == [0.083, 0.107, 0.126, 0.142, 0.193]
    # Pocock (1977) and O'Brien & Fleming (1979) constants for K = 5, two-sided 0.05
    # (Jennison & Turnbull 2000, Tables 2.1 and 2.3): C_P = 2.413, C_B = 2.040.
    c_p = optimize.brentq(lambda c: S.boundary_crossing_probability([c] * 5, alternative="two-sided") - 0.05, 2, 3)
    c_b = optimize.brentq(lambda c: S.boundary_crossing_probability(
        [c * math.sqrt(5 / k) for k in range(1, 6)], alternative="two-sided") - 0.05, 1.5, 3)
    assert (round(c_p, 3), round(c_b, 3)) == (2.413, 2.040)


def test_spent_alpha_and_drift():
    info = [0.2, 0.45, 0.7, 1.0]
    b = S.group_sequential_bounds(4, 0.025, information=info)
    assert S.boundary_crossing_probability(b.z, info) == pytest.approx(0.025, abs=1e-9)
    one = S.group_sequential_bounds(1, 0.025)
    assert one.z[0] == pytest.approx(1.959963984540054, abs=1e-12) and one.information == (1.0,)
    # a single look with drift theta: power = Phi(theta - z)
    assert S.boundary_crossing_probability([1.96], drift=2.8) == pytest.approx(sps.norm.cdf(0.84), abs=1e-12)
    # the O'Brien-Fleming design costs little power: drift 2.8 -> about 0.795 vs 0.800 fixed
    assert 0.78 < S.boundary_crossing_probability(S.group_sequential_bounds(5, 0.025).z, drift=2.8) < 0.80
    assert b.crossed(2, b.z[1] + 1e-9) and not b.crossed(2, b.z[1] - 1e-9)
    with pytest.raises(ValidationError, match=r"^look=5: expected an integer in \[1, 4\]$"):
        b.crossed(5, 3.0)
    with pytest.raises(ValidationError, match=r"expected increasing fractions in \(0, 1\]"):
        S.group_sequential_bounds(3, information=[0.5, 0.4, 1.0])
    d = b.to_dict()
    assert json.loads(json.dumps(d, allow_nan=False)) == d


def _simulate_null_monitoring(sims: int, looks: int, per_look: int, p: float, seed: int):
    """A/A tests looked at after every batch: (always-valid rejections, naive z-test rejections)."""
    rng = np.random.default_rng(seed)
    a = rng.binomial(per_look, p, (sims, looks)).cumsum(axis=1)
    b = rng.binomial(per_look, p, (sims, looks)).cumsum(axis=1)
    n = per_look * np.arange(1, looks + 1)
    always_valid = np.array([S.always_valid_test(a[i], n, b[i], n).significant for i in range(sims)])
    pooled = (a + b) / (2 * n)
    z = (b - a) / n / np.sqrt(pooled * (1 - pooled) * 2 / n)
    return always_valid, (np.abs(z) >= 1.959963984540054).any(axis=1)


def test_always_valid_test_formula_and_properties():
    r = S.always_valid_test([90, 180, 270, 362], [1000, 2000, 3000, 4000], [110, 229, 345, 460],
                            [1000, 2000, 3000, 4000], tau=0.05)
    # the last look by hand (Johari et al. 2017, eq. for the normal mixture)
    p_a, p_b, tau2 = 362 / 4000, 460 / 4000, 0.0025
    t_a, t_b = 363 / 4002, 461 / 4002  # Agresti-Caffo adjusted proportions for the variance
    v = t_a * (1 - t_a) / 4002 + t_b * (1 - t_b) / 4002
    lr = math.sqrt(v / (v + tau2)) * math.exp(tau2 * (p_b - p_a) ** 2 / (2 * v * (v + tau2)))
    assert r.p_values[-1] <= 1 / lr + 1e-15
    assert list(r.p_values) == sorted(r.p_values, reverse=True)  # a running minimum
    half = math.sqrt(v * (v + tau2) / tau2 * (2 * math.log(20) + math.log((v + tau2) / v)))
    assert r.ci_low >= p_b - p_a - half - 1e-15 and r.ci_high <= p_b - p_a + half + 1e-15
    # one look: the confidence sequence excludes 0 exactly when p < alpha
    for s_b in range(95, 140, 3):
        one = S.always_valid_test(100, 1000, s_b, 1000)
        assert one.significant == (one.ci_low > 0 or one.ci_high < 0)
    # a group with all successes on a handful of rows is not overwhelming evidence: the plug-in
    # variance p q / n would be 0 there (4 of 4 against 123 of 144 gave p = 0.0002)
    few = S.always_valid_test(123, 144, 4, 4)
    assert few.p_value == 1.0 and not few.significant
    empty = S.always_valid_test(0, 0, 0, 0)
    assert (empty.p_value, empty.ci_low, empty.ci_high) == (1.0, -1.0, 1.0)
    with pytest.raises(ValidationError, match=r"^trials_a\[1\]=50: expected cumulative counts"):
        S.always_valid_test([1, 2], [100, 50], [1, 2], [100, 200])


def test_always_valid_test_holds_its_level_under_continuous_peeking():
    # 400 A/A tests, each looked at 100 times. The always-valid test keeps the 5 % level; the
    # naive "stop at the first p < 0.05" would reject in roughly a third of them.
    always_valid, naive = _simulate_null_monitoring(400, 100, 200, 0.3, seed=11)
    assert always_valid.mean() <= 0.05
    assert naive.mean() > 0.25


# ============================================================================ guardrails
def test_sample_ratio_mismatch_kohavi_example():
    # Kohavi, Tang & Xu (2020), Trustworthy Online Controlled Experiments, ch. 3: a 50/50 test
    # with 821,588 and 815,482 users; the ratio 0.5019 has p-value 1.8e-6: an SRM.
    r = S.sample_ratio_mismatch([821_588, 815_482])
    assert f"{r.p_value:.2g}" == "1.8e-06" and r.mismatch
    ref = sps.chisquare([821_588, 815_482])
    assert (r.chi2, r.p_value) == (pytest.approx(ref.statistic, rel=1e-12), pytest.approx(ref.pvalue, rel=1e-9))
    three = S.sample_ratio_mismatch([5_120, 2_400, 2_480], expected=(50, 25, 25))
    ref = sps.chisquare([5_120, 2_400, 2_480], f_exp=[5_000, 2_500, 2_500])
    assert (three.chi2, three.df, three.p_value) == (pytest.approx(ref.statistic), 2, pytest.approx(ref.pvalue))
    assert three.mismatch == (ref.pvalue < 0.001)
    assert repr(r).startswith("<SRMResult observed [821588, 815482] (0.5019/0.4981)")
    with pytest.raises(ValidationError, match=r"^counts\[1\]=-5: expected an integer >= 0$"):
        S.sample_ratio_mismatch([10, -5])
    with pytest.raises(ValidationError, match=r"expected 2 positive weights, one per group$"):
        S.sample_ratio_mismatch([10, 5], expected=(1, 0))


@pytest.mark.parametrize("method", ["holm", "bh", "bonferroni"])
def test_adjusted_p_values_equal_statsmodels(method):
    rng = np.random.default_rng(8)
    for p_values in ([0.01, 0.04, 0.03, 0.005], [0.2], [0.0, 1.0, 0.5, 0.5], list(rng.random(25) ** 3)):
        r = S.adjust_p_values(p_values, method=method)
        reject, adjusted, _, _ = smmt.multipletests(p_values, alpha=0.05, method={"bh": "fdr_bh"}.get(method, method))
        np.testing.assert_allclose(r.p_adjusted, adjusted, rtol=1e-12, atol=1e-15)
        assert list(r.reject) == list(reject)


def _brute_force_rejections(p: list[float], method: str, alpha: float) -> set[int]:
    """The procedures as their papers state them, one hypothesis at a time."""
    m = len(p)
    order = sorted(range(m), key=lambda i: p[i])
    if method == "bonferroni":
        return {i for i in range(m) if p[i] <= alpha / m}
    if method == "holm":  # step down: stop at the first p_(k) > alpha / (m - k + 1)
        out = set()
        for k, i in enumerate(order, start=1):
            if p[i] > alpha / (m - k + 1):
                break
            out.add(i)
        return out
    passing = [k for k, i in enumerate(order, start=1) if p[i] <= k * alpha / m]  # BH step up
    return set(order[: max(passing, default=0)])


@given(st.lists(st.floats(0, 1), min_size=1, max_size=30), st.sampled_from(["holm", "bh", "bonferroni"]))
@settings(max_examples=150, deadline=None)
def test_adjusted_p_values_match_the_procedures(p_values, method):
    r = S.adjust_p_values(p_values, method=method)
    for alpha in (0.001, 0.01, 0.05, 0.1, 0.25):
        expected = _brute_force_rejections(p_values, method, alpha)
        got = {i for i, q in enumerate(r.p_adjusted) if q <= alpha}
        # a p-value within rounding of a threshold may fall either way
        undecided = {i for i, q in enumerate(r.p_adjusted) if abs(q - alpha) < 1e-12}
        assert got - undecided == expected - undecided


@given(st.lists(st.floats(-4, 4), min_size=1, max_size=20), st.sampled_from(["holm", "bh", "bonferroni"]))
@settings(max_examples=150, deadline=None)
def test_adjusted_intervals_agree_with_decisions(z_values, method):
    est = np.array(z_values) * 0.01
    se = np.full(len(z_values), 0.01)
    p = 2 * sps.norm.sf(np.abs(est / se))
    r = S.adjust_p_values(list(p), method=method, estimates=list(est), std_errors=list(se))
    for rej, lo, hi, pv in zip(r.reject, r.ci_low, r.ci_high, p, strict=True):
        # skip values within rounding of the decision threshold
        if abs(pv - (1 - r.interval_confidence)) > 1e-9:
            assert rej == (lo > 0 or hi < 0)


def test_adjust_validation():
    with pytest.raises(ValidationError, match=r"^p_values\[1\]=1.5: expected a number in \[0, 1\]$"):
        S.adjust_p_values([0.1, 1.5])
    with pytest.raises(ValidationError, match=r"^estimates, std_errors: expected both or neither$"):
        S.adjust_p_values([0.1], estimates=[1.0])


# ============================================================================ Bayesian
def _quad_prob(a_a, b_a, a_b, b_b):
    mean = a_a / (a_a + b_a)
    return integrate.quad(lambda x: sps.beta.pdf(x, a_a, b_a) * sps.beta.sf(x, a_b, b_b), 0, 1,
                          points=[mean], limit=500, epsabs=1e-14)[0]


@pytest.mark.parametrize("counts", [(100, 1000, 120, 1000), (3, 10, 1, 12), (0, 50, 0, 50), (480, 500, 20, 25)])
def test_chance_to_beat_control_equals_integral(counts):
    r = S.chance_to_beat_control(*counts)
    (a_a, b_a), (a_b, b_b) = r.posterior_a, r.posterior_b
    assert r.prob_b_beats_a == pytest.approx(_quad_prob(a_a, b_a, a_b, b_b), abs=1e-9)
    flipped = S.chance_to_beat_control(*counts[2:], *counts[:2])
    assert r.prob_b_beats_a + flipped.prob_b_beats_a == pytest.approx(1.0, abs=1e-12)
    # E[max(b - a, 0)] - E[max(a - b, 0)] = E[b] - E[a]
    m_a, m_b = a_a / (a_a + b_a), a_b / (a_b + b_b)
    assert r.expected_loss_a - r.expected_loss_b == pytest.approx(m_b - m_a, abs=1e-12)


def test_chance_to_beat_control_against_monte_carlo_and_non_integer_prior():
    r = S.chance_to_beat_control(100, 1000, 120, 1000)
    rng = np.random.default_rng(0)
    xa, xb = rng.beta(101, 901, 400_000), rng.beta(121, 881, 400_000)
    assert r.prob_b_beats_a == pytest.approx((xb > xa).mean(), abs=3e-3)
    assert r.expected_loss_b == pytest.approx(np.maximum(xa - xb, 0).mean(), abs=5e-5)
    assert r.expected_loss_a == pytest.approx(np.maximum(xb - xa, 0).mean(), abs=2e-4)
    jeffreys = S.chance_to_beat_control(100, 1000, 120, 1000, prior=(0.5, 0.5))  # the integral path
    assert jeffreys.prob_b_beats_a == pytest.approx(_quad_prob(100.5, 900.5, 120.5, 880.5), abs=1e-9)
    with pytest.raises(ValidationError, match=r"^prior=0: expected a finite number > 0$"):
        S.chance_to_beat_control(1, 10, 2, 10, prior=(0, 1))


# ============================================================================ results
def test_every_result_is_json_safe():
    results = [
        S.two_proportion_test(3, 10, 5, 10), S.chi_square_test([[3, 7], [5, 5]]),
        S.fisher_exact_test([[3, 1], [1, 3]], alternative="greater"), S.t_test(SLEEP_1, SLEEP_2, alternative="less"),
        S.mann_whitney_test(SLEEP_1, SLEEP_2), S.bootstrap_ci(SLEEP_1, n_resamples=200),
        S.mcnemar_test([[5, 3], [1, 4]]), S.relative_lift(10, 100, 12, 100), S.cohens_h(1, 10, 2, 10),
        S.proportion_power(0.1, 0.2, power=0.8), S.mean_power(0.5, power=0.8),
        S.days_to_significance(S.mean_power(0.5, power=0.8), 10), S.group_sequential_bounds(3),
        S.always_valid_test(10, 100, 20, 100), S.sample_ratio_mismatch([10, 12]),
        S.adjust_p_values([0.01, 0.2], estimates=[1, 2], std_errors=[1, 1]), S.chance_to_beat_control(1, 10, 2, 10),
    ]
    for r in results:
        d = r.to_dict()
        assert json.loads(json.dumps(d, allow_nan=False)) == d, type(r).__name__
        assert repr(r).startswith("<") and "object at" not in repr(r)
