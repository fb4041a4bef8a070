"""Proportions and contingency tables: intervals for one proportion, two-proportion z-test,
chi-square, Fisher's exact test, and McNemar's test for paired outcomes (shadow traffic).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import special
from scipy import stats as _sps

from ..errors import ValidationError
from ._common import (
    ALTERNATIVES,
    check_choice,
    check_count_arrays,
    check_successes,
    check_table,
    check_unit,
    p_from_z,
    z_quantile,
)
from .results import ProportionTestResult, TestResult

__all__ = [
    "wilson_interval",
    "proportion_interval",
    "two_proportion_test",
    "table_from_counts",
    "chi_square_test",
    "fisher_exact_test",
    "paired_table",
    "mcnemar_test",
]

_INTERVALS = ("newcombe", "wald")
_PROPORTION_INTERVALS = ("wilson", "wald", "agresti-coull", "clopper-pearson", "jeffreys")


def wilson_interval(successes: Any, trials: Any, confidence: float = 0.95):
    """Wilson score interval for a binomial proportion; vectorised.

    The interval is the set of ``p`` that a score test does not reject: unlike the Wald
    interval it stays inside [0, 1] and keeps close to nominal coverage for small counts and
    proportions near 0 or 1 (Brown, Cai & DasGupta 2001 recommend it). Equal to statsmodels'
    ``proportion_confint(method="wilson")``.

    Parameters
    ----------
    successes, trials : int or array-like of int
        Counts; arrays broadcast against each other.
    confidence : float
        Two-sided level, in (0, 1).

    Returns
    -------
    (lo, hi) : floats for scalar input, arrays for array input. Where ``trials == 0`` both are
    ``nan`` (an empty monitoring window has no proportion; callers decide what that means).

    Raises
    ------
    ValidationError
        Negative or fractional counts, ``successes > trials``, ``confidence`` outside (0, 1).

    References
    ----------
    Wilson, E. B. (1927). Probable inference, the law of succession, and statistical inference.
    JASA 22, 209-212. Brown, Cai & DasGupta (2001), Statistical Science 16, 101-133.

    Examples
    --------
    >>> lo, hi = wilson_interval(81, 263)
    >>> round(lo, 4), round(hi, 4)
    (0.2553, 0.3662)
    >>> lo, hi = wilson_interval(np.array([0, 5, 0]), np.array([10, 10, 0]))
    >>> lo.round(4), hi.round(4)
    (array([0.    , 0.2366,    nan]), array([0.2775, 0.7634,    nan]))
    """
    confidence = check_unit(confidence, "confidence")
    s, n = check_count_arrays(successes, trials)
    lo, hi = _wilson_bounds(s, n, z_quantile(confidence))
    if lo.ndim == 0:
        return float(lo), float(hi)
    return lo, hi


def _wilson_bounds(s: np.ndarray, n: np.ndarray, z: float) -> tuple[np.ndarray, np.ndarray]:
    """The Wilson score bounds at normal quantile ``z`` (validated counts; ``nan`` where ``n == 0``).

    The one copy of the formula: :func:`wilson_interval` passes the two-sided quantile,
    :func:`two_proportion_test` (Newcombe's interval) a one- or two-sided one.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        p = s / n
        z2n = z * z / n
        center = (p + z2n / 2.0) / (1.0 + z2n)
        half = z * np.sqrt(p * (1.0 - p) / n + z2n / (4.0 * n)) / (1.0 + z2n)
    # exact at the edges (the formula gives 1 - 1e-16 for s == n)
    lo = np.where(s == 0, 0.0, np.clip(center - half, 0.0, 1.0))
    hi = np.where(s == n, 1.0, np.clip(center + half, 0.0, 1.0))
    return np.where(n == 0, np.nan, lo), np.where(n == 0, np.nan, hi)


def proportion_interval(successes: Any, trials: Any, confidence: float = 0.95, *, method: str = "wilson"):
    """Confidence interval for a binomial proportion by a chosen method; vectorised.

    ``"wilson"`` (default, see :func:`wilson_interval`); ``"wald"`` (``p +- z*sqrt(p(1-p)/n)``,
    clipped to [0, 1], poor for small ``n`` or extreme ``p``); ``"agresti-coull"`` (Wald on
    ``(x + z^2/2) / (n + z^2)``); ``"clopper-pearson"`` (exact: inverts two one-sided binomial
    tests, conservative); ``"jeffreys"`` (equal-tailed Beta(x + 1/2, n - x + 1/2) interval).
    The same numbers as statsmodels' ``proportion_confint`` with methods ``wilson``, ``normal``,
    ``agresti_coull``, ``beta`` and ``jeffreys``, except that the Jeffreys interval takes the
    bound 0 at ``x = 0`` and 1 at ``x = n`` (Brown, Cai & DasGupta's modification; statsmodels
    keeps the Beta quantile). ``trials == 0`` gives ``(nan, nan)``.

    References
    ----------
    Brown, Cai & DasGupta (2001). Interval estimation for a binomial proportion.
    Statistical Science 16, 101-133.

    Examples
    --------
    >>> [tuple(round(v, 4) for v in proportion_interval(2, 20, method=m))
    ...  for m in ("wilson", "wald", "clopper-pearson", "jeffreys")]
    [(0.0279, 0.301), (0.0, 0.2315), (0.0123, 0.317), (0.0214, 0.2839)]
    """
    method = check_choice(method, "method", _PROPORTION_INTERVALS)
    if method == "wilson":
        return wilson_interval(successes, trials, confidence)
    confidence = check_unit(confidence, "confidence")
    s, n = check_count_arrays(successes, trials)
    z = z_quantile(confidence)
    a = 1.0 - confidence
    with np.errstate(divide="ignore", invalid="ignore"):
        if method == "wald":
            p = s / n
            half = z * np.sqrt(p * (1 - p) / n)
            lo, hi = np.clip(p - half, 0, 1), np.clip(p + half, 0, 1)
        elif method == "agresti-coull":
            nt = n + z * z
            pt = (s + z * z / 2) / nt
            half = z * np.sqrt(pt * (1 - pt) / nt)
            lo, hi = np.clip(pt - half, 0, 1), np.clip(pt + half, 0, 1)
            lo, hi = np.where(n > 0, lo, np.nan), np.where(n > 0, hi, np.nan)
        elif method == "clopper-pearson":
            lo = np.where(s > 0, special.betaincinv(s, n - s + 1, a / 2), 0.0)
            hi = np.where(s < n, special.betaincinv(s + 1, n - s, 1 - a / 2), 1.0)
        else:  # jeffreys
            lo = np.where(s > 0, special.betaincinv(s + 0.5, n - s + 0.5, a / 2), 0.0)
            hi = np.where(s < n, special.betaincinv(s + 0.5, n - s + 0.5, 1 - a / 2), 1.0)
        empty = n == 0
        lo, hi = np.where(empty, np.nan, lo), np.where(empty, np.nan, hi)
    if lo.ndim == 0:
        return float(lo), float(hi)
    return lo, hi


def two_proportion_test(
    successes_a: int,
    trials_a: int,
    successes_b: int,
    trials_b: int,
    *,
    alternative: str = "two-sided",
    confidence: float = 0.95,
    interval: str = "newcombe",
) -> ProportionTestResult:
    """Compare two proportions: pooled z-test, with an interval for ``p_b - p_a``.

    The z statistic uses the pooled proportion under H0 (``p_a == p_b``); its square is
    Pearson's chi-square for the 2x2 table without continuity correction. The interval is
    Newcombe's hybrid score interval by default (method 10 of Newcombe 1998: it combines the
    two Wilson intervals, stays inside [-1, 1] and keeps its coverage for small or extreme
    counts), or the Wald interval (``interval="wald"``). One-sided alternatives give a one-sided
    interval (the other end is -1 or 1). Interval and test are different procedures and can
    disagree by a hair at the margin; ``significant`` is the test's decision.

    A window with both proportions 0 (or both 1) has nothing to compare: ``z = 0`` and
    ``p_value = 1``.

    Parameters
    ----------
    successes_a, trials_a : int
        Control: successes in trials (``trials_a >= 1``).
    successes_b, trials_b : int
        Treatment.
    alternative : {"two-sided", "greater", "less"}
        ``"greater"``: H1 is ``p_b > p_a``.
    confidence : float
        Level of the interval; ``significant`` uses ``alpha = 1 - confidence``.
    interval : {"newcombe", "wald"}

    Raises
    ------
    ValidationError
        Counts not integers, ``successes > trials``, a group with no trials, a bad option.

    References
    ----------
    Newcombe, R. G. (1998). Interval estimation for the difference between independent
    proportions: comparison of eleven methods. Statistics in Medicine 17, 873-890.
    Checked against statsmodels ``proportions_ztest`` and
    ``confint_proportions_2indep(method="newcomb")``.

    Examples
    --------
    The first example of Newcombe (1998, Table II): 56/70 against 48/80.

    >>> r = two_proportion_test(48, 80, 56, 70)
    >>> round(r.difference, 4), round(r.ci_low, 4), round(r.ci_high, 4)
    (0.2, 0.0524, 0.3339)
    >>> round(r.z, 4), round(r.p_value, 5), r.significant
    (2.6502, 0.00805, True)
    >>> two_proportion_test(12, 10, 3, 10)
    Traceback (most recent call last):
    ...
    mlmm.errors.ValidationError: successes_a=12: expected an integer in [0, trials_a=10]
    """
    s_a, n_a = check_successes(successes_a, trials_a, "successes_a", "trials_a")
    s_b, n_b = check_successes(successes_b, trials_b, "successes_b", "trials_b")
    alternative = check_choice(alternative, "alternative", ALTERNATIVES)
    confidence = check_unit(confidence, "confidence")
    interval = check_choice(interval, "interval", _INTERVALS)
    p_a, p_b = s_a / n_a, s_b / n_b
    diff = p_b - p_a
    pooled = (s_a + s_b) / (n_a + n_b)
    se0 = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    z = diff / se0 if se0 > 0 else 0.0
    p_value = p_from_z(z, alternative) if se0 > 0 else 1.0
    zc = z_quantile(confidence, alternative)
    if interval == "newcombe":
        (l_a, l_b), (u_a, u_b) = (v.tolist() for v in _wilson_bounds(np.array([s_a, s_b], dtype=float),
                                                                     np.array([n_a, n_b], dtype=float), zc))
        lo = diff - math.sqrt((p_b - l_b) ** 2 + (u_a - p_a) ** 2)
        hi = diff + math.sqrt((u_b - p_b) ** 2 + (p_a - l_a) ** 2)
    else:
        half = zc * math.sqrt(p_a * (1 - p_a) / n_a + p_b * (1 - p_b) / n_b)
        lo, hi = max(-1.0, diff - half), min(1.0, diff + half)
    if alternative == "greater":
        hi = 1.0
    elif alternative == "less":
        lo = -1.0
    return ProportionTestResult(
        successes_a=s_a, trials_a=n_a, successes_b=s_b, trials_b=n_b, p_a=p_a, p_b=p_b,
        difference=diff, ci_low=lo, ci_high=hi, z=z, p_value=p_value, alternative=alternative,
        confidence=confidence, interval=interval, significant=p_value < 1 - confidence,
    )


def table_from_counts(successes_a: int, trials_a: int, successes_b: int, trials_b: int) -> list[list[int]]:
    """The 2x2 table ``[[successes_a, failures_a], [successes_b, failures_b]]``.

    Rows are groups, columns outcomes, as :func:`chi_square_test` and
    :func:`fisher_exact_test` expect. Note that the table's odds ratio is then ``odds_a /
    odds_b``; :func:`odds_ratio` reports ``odds_b / odds_a``.

    >>> table_from_counts(48, 80, 56, 70)
    [[48, 32], [56, 14]]
    """
    s_a, n_a = check_successes(successes_a, trials_a, "successes_a", "trials_a", min_trials=0)
    s_b, n_b = check_successes(successes_b, trials_b, "successes_b", "trials_b", min_trials=0)
    return [[s_a, n_a - s_a], [s_b, n_b - s_b]]


def chi_square_test(table: Any, *, correction: bool = False, confidence: float = 0.95) -> TestResult:
    """Pearson's chi-square test of independence for an r x c table of counts.

    For a 2x2 table the statistic without correction equals the square of the pooled z of
    :func:`two_proportion_test`. ``correction=True`` applies Yates' continuity correction
    (2x2 only), which makes the test conservative; it is off by default because the
    uncorrected test holds its level well once expected counts reach about 5 (see Agresti 2013,
    sec. 3.5). Use :func:`fisher_exact_test` for small counts. Same numbers as scipy's
    ``chi2_contingency``.

    Raises
    ------
    ValidationError
        Not a 2-D table of non-negative integer counts, or a row or column that sums to 0.

    References
    ----------
    Agresti, A. (2013). Categorical Data Analysis, 3rd ed. Wiley, sec. 3.2.

    Examples
    --------
    >>> r = chi_square_test([[48, 32], [56, 14]])
    >>> round(r.statistic, 4), r.df, round(r.p_value, 5)
    (7.0234, 1.0, 0.00805)
    """
    t = check_table(table, shape=None)
    confidence = check_unit(confidence, "confidence")
    rows, cols = t.sum(axis=1), t.sum(axis=0)
    for axis_name, sums in (("row", rows), ("column", cols)):
        if (sums == 0).any():
            i = int(np.argmax(sums == 0))
            raise ValidationError(f"table: {axis_name} {i} sums to 0: expected every row and column to have counts")
    expected = np.outer(rows, cols) / t.sum()
    diff = np.abs(t - expected)
    use_yates = correction and t.shape == (2, 2)
    if use_yates:
        diff = np.maximum(diff - 0.5, 0.0)
    stat = float((diff**2 / expected).sum())
    df = float((t.shape[0] - 1) * (t.shape[1] - 1))
    p = float(special.chdtrc(df, stat))
    return TestResult(
        method="Pearson chi-square" + (" (Yates)" if use_yates else ""), statistic=stat, p_value=p,
        alternative="two-sided", confidence=confidence, significant=p < 1 - confidence, df=df,
    )


def fisher_exact_test(table: Any, *, alternative: str = "two-sided", confidence: float = 0.95) -> TestResult:
    """Fisher's exact test for a 2x2 table, with the conditional odds ratio and its exact interval.

    Conditions on both margins, so the p-value is exact whatever the counts (use it when
    expected counts are small). The statistic is the sample odds ratio ``t00*t11 / (t01*t10)``
    (as scipy's ``fisher_exact``); the estimate is the conditional maximum-likelihood odds
    ratio with the exact interval that inverts the test (as R's ``fisher.test``, computed by
    scipy's ``odds_ratio(kind="conditional")``). ``"greater"`` means odds ratio > 1.

    References
    ----------
    Fisher, R. A. (1935). The Design of Experiments, ch. 2 (the lady tasting tea).
    Agresti, A. (2013). Categorical Data Analysis, 3rd ed., sec. 3.5.

    Examples
    --------
    The lady tasting tea: 3 of the 4 milk-first cups identified.

    >>> r = fisher_exact_test([[3, 1], [1, 3]], alternative="greater")
    >>> round(r.p_value, 4), round(r.estimate, 3)
    (0.2429, 6.408)
    >>> round(fisher_exact_test([[3, 1], [1, 3]]).p_value, 4)
    0.4857
    """
    t = check_table(table)
    alternative = check_choice(alternative, "alternative", ALTERNATIVES)
    confidence = check_unit(confidence, "confidence")
    ti = t.astype(np.int64)
    res = _sps.fisher_exact(ti, alternative=alternative)
    p = float(res.pvalue)
    est, lo, hi = None, None, None
    if (t.sum(axis=1) > 0).all() and (t.sum(axis=0) > 0).all():
        orr = _sps.contingency.odds_ratio(ti, kind="conditional")
        ci = orr.confidence_interval(confidence_level=confidence, alternative=alternative)
        est, lo, hi = float(orr.statistic), float(ci.low), float(ci.high)
    return TestResult(
        method="Fisher exact", statistic=float(res.statistic), p_value=p, alternative=alternative,
        confidence=confidence, significant=p < 1 - confidence, estimate_name="conditional odds ratio",
        estimate=est, ci_low=lo, ci_high=hi,
    )


def paired_table(a: Any, b: Any) -> list[list[int]]:
    """The 2x2 table of two models' outcomes on the same requests (shadow traffic).

    ``a`` and ``b`` are per-request booleans (correct / converted). Rows are ``a`` (yes, no),
    columns ``b`` (yes, no): ``[[both, a only], [b only, neither]]``, the form
    :func:`mcnemar_test` takes.

    >>> paired_table([1, 1, 0, 0, 1], [1, 0, 1, 1, 1])
    [[2, 1], [2, 0]]
    """
    x = np.asarray(a)
    y = np.asarray(b)
    if x.ndim != 1 or y.ndim != 1 or x.shape != y.shape:
        raise ValidationError(f"a, b: expected two 1-D sequences of the same length, got shapes {x.shape} and {y.shape}")
    for name, v in (("a", x), ("b", y)):
        if v.size and not np.isin(v, (0, 1)).all():
            i = int(np.argmax(~np.isin(v, (0, 1))))
            raise ValidationError(f"{name}[{i}]={v[i].item()!r}: expected a boolean (0 or 1)")
    x, y = x.astype(bool), y.astype(bool)
    return [[int((x & y).sum()), int((x & ~y).sum())], [int((~x & y).sum()), int((~x & ~y).sum())]]


def mcnemar_test(
    table: Any, *, method: str = "exact", correction: bool = False, confidence: float = 0.95
) -> TestResult:
    """McNemar's test: did the proportion change between two paired measurements?

    For shadow comparisons both models score the same requests; only the discordant pairs
    carry information: ``n01`` (``a`` right, ``b`` wrong) and ``n10``. ``method="exact"``
    (default) is the exact binomial test of ``n10`` out of ``n01 + n10`` at 1/2 (valid for any
    counts); ``method="chi2"`` is the chi-square statistic ``(n10 - n01)^2 / (n10 + n01)``
    (``correction=True`` subtracts Edwards' 1 from ``|n10 - n01|``). The estimate is
    ``p_b - p_a = (n10 - n01) / n`` with the Wald interval for dependent proportions
    (Agresti 2013, sec. 11.1). Same p-values as statsmodels' ``mcnemar``.

    Parameters
    ----------
    table : 2x2 counts, rows ``a`` (yes, no), columns ``b`` (yes, no); see :func:`paired_table`.

    References
    ----------
    McNemar, Q. (1947). Psychometrika 12, 153-157. Agresti, A. (2013). Categorical Data
    Analysis, 3rd ed., sec. 11.1 (presidential approval example).

    Examples
    --------
    Agresti's presidential approval ratings, 1600 people asked twice a month apart.

    >>> r = mcnemar_test([[794, 150], [86, 570]], method="chi2")
    >>> round(r.statistic, 4), f"{r.p_value:.4g}", r.estimate
    (17.3559, '3.099e-05', -0.04)
    >>> round(r.ci_low, 4), round(r.ci_high, 4)
    (-0.0587, -0.0213)
    """
    t = check_table(table)
    method = check_choice(method, "method", ("exact", "chi2"))
    confidence = check_unit(confidence, "confidence")
    n = float(t.sum())
    n01, n10 = float(t[0, 1]), float(t[1, 0])
    m = n01 + n10
    if n == 0:
        raise ValidationError("table: all counts are 0: expected at least one pair")
    if method == "exact":
        k = min(n01, n10)
        p = float(min(1.0, 2 * _sps.binom.cdf(k, m, 0.5))) if m > 0 else 1.0
        stat, df, name = k, None, "McNemar exact"
    else:
        d = abs(n10 - n01)
        if correction:
            d = max(d - 1.0, 0.0)
        stat = d * d / m if m > 0 else 0.0
        p = float(special.chdtrc(1, stat)) if m > 0 else 1.0
        df, name = 1.0, "McNemar chi-square" + (" (corrected)" if correction else "")
    diff = (n10 - n01) / n
    se = math.sqrt(max(m - (n10 - n01) ** 2 / n, 0.0)) / n
    z = z_quantile(confidence)
    return TestResult(
        method=name, statistic=float(stat), p_value=p, alternative="two-sided", confidence=confidence,
        significant=p < 1 - confidence, df=df, estimate_name="p_b - p_a", estimate=diff,
        ci_low=max(-1.0, diff - z * se), ci_high=min(1.0, diff + z * se),
    )
