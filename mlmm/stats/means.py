"""Tests on means and distributions: Welch / Student and paired t-tests, Mann-Whitney U."""

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
    check_sample,
    check_unit,
)
from .results import TestResult

__all__ = [
    "t_test",
    "paired_t_test",
    "mann_whitney_test",
]


def t_test(
    a: Any, b: Any, *, equal_var: bool = False, alternative: str = "two-sided", confidence: float = 0.95
) -> TestResult:
    """Two-sample t-test of ``mean_b - mean_a``: Welch by default, Student with ``equal_var=True``.

    Welch's test does not assume equal variances (its degrees of freedom come from the
    Welch-Satterthwaite equation); it loses almost nothing when the variances are equal and
    keeps its level when they are not, so it is the default (Delacre, Lakens & Leys 2017).
    Student's test pools the two variances (``df = n_a + n_b - 2``). Same numbers as scipy's
    ``ttest_ind`` and R's ``t.test``.

    Raises
    ------
    ValidationError
        Fewer than 2 values in a sample, non-finite values, or both samples constant.

    References
    ----------
    Welch, B. L. (1947). Biometrika 34, 28-35. Delacre, Lakens & Leys (2017), International
    Review of Social Psychology 30, 92-101.

    Examples
    --------
    R's ``?t.test`` example: Student's sleep data (extra hours of sleep on two drugs).

    >>> g1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
    >>> g2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]
    >>> r = t_test(g1, g2)
    >>> round(r.statistic, 4), round(r.df, 3), round(r.p_value, 5)
    (1.8608, 17.776, 0.07939)
    >>> round(r.ci_low, 4), round(r.ci_high, 4)
    (-0.2055, 3.3655)
    """
    x = check_sample(a, "a")
    y = check_sample(b, "b")
    alternative = check_choice(alternative, "alternative", ALTERNATIVES)
    confidence = check_unit(confidence, "confidence")
    n_a, n_b = x.size, y.size
    v_a, v_b = x.var(ddof=1), y.var(ddof=1)
    diff = float(y.mean() - x.mean())
    if equal_var:
        df = float(n_a + n_b - 2)
        sp2 = ((n_a - 1) * v_a + (n_b - 1) * v_b) / df
        se = math.sqrt(sp2 * (1 / n_a + 1 / n_b))
    else:
        w_a, w_b = v_a / n_a, v_b / n_b
        se = math.sqrt(w_a + w_b)
        df = float((w_a + w_b) ** 2 / (w_a**2 / (n_a - 1) + w_b**2 / (n_b - 1))) if se > 0 else float("nan")
    if se == 0:
        raise ValidationError("a, b: both samples are constant: the t statistic is undefined")
    return _t_result(
        "Welch two-sample t-test" if not equal_var else "Student two-sample t-test",
        diff, se, df, alternative, confidence, "mean_b - mean_a",
    )


def _t_result(method: str, diff: float, se: float, df: float, alternative: str, confidence: float,
              estimate_name: str) -> TestResult:
    t = diff / se
    if alternative == "two-sided":
        p = float(min(1.0, 2 * special.stdtr(df, -abs(t))))
        q = float(special.stdtrit(df, 1 - (1 - confidence) / 2))
        lo, hi = diff - q * se, diff + q * se
    else:
        q = float(special.stdtrit(df, confidence))
        if alternative == "greater":
            p = float(special.stdtr(df, -t))
            lo, hi = diff - q * se, math.inf
        else:
            p = float(special.stdtr(df, t))
            lo, hi = -math.inf, diff + q * se
    return TestResult(
        method=method, statistic=t, p_value=p, alternative=alternative, confidence=confidence,
        significant=p < 1 - confidence, df=df, estimate_name=estimate_name, estimate=diff, ci_low=lo, ci_high=hi,
    )


def mann_whitney_test(
    a: Any, b: Any, *, alternative: str = "two-sided", confidence: float = 0.95, method: str = "auto"
) -> TestResult:
    """Mann-Whitney U (Wilcoxon rank-sum) test: does ``b`` tend to be larger than ``a``?

    A test on ranks, so it needs no normality and is robust to outliers (latencies,
    confidence scores). The statistic is ``U_b``, the number of pairs with ``b > a`` (ties
    count one half); the estimate is ``U_b / (n_a n_b)``, the probability that a random ``b``
    exceeds a random ``a`` (plus half the probability of a tie). ``method`` is scipy's:
    ``"exact"``, ``"asymptotic"`` (normal with tie and continuity correction) or ``"auto"``
    (exact for small samples without ties). Same numbers as scipy's ``mannwhitneyu(b, a)``.

    References
    ----------
    Mann, H. B. & Whitney, D. R. (1947). Annals of Mathematical Statistics 18, 50-60.
    Hollander, M. & Wolfe, D. A. (1973). Nonparametric Statistical Methods, p. 69.

    Examples
    --------
    R's ``?wilcox.test`` example (Hollander & Wolfe): is the permeability larger in ``x``?

    >>> x = [0.80, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46]
    >>> y = [1.15, 0.88, 0.90, 0.74, 1.21]
    >>> r = mann_whitney_test(y, x, alternative="greater")
    >>> r.statistic, round(r.p_value, 4), r.estimate
    (35.0, 0.1272, 0.7)
    """
    x = check_sample(a, "a", min_size=1)
    y = check_sample(b, "b", min_size=1)
    alternative = check_choice(alternative, "alternative", ALTERNATIVES)
    confidence = check_unit(confidence, "confidence")
    method = check_choice(method, "method", ("auto", "exact", "asymptotic"))
    if np.ptp(np.concatenate([x, y])) == 0:
        raise ValidationError("a, b: every value is the same: the rank test has nothing to rank")
    res = _sps.mannwhitneyu(y, x, alternative=alternative, method=method)
    u = float(res.statistic)
    p = float(res.pvalue)
    return TestResult(
        method="Mann-Whitney U", statistic=u, p_value=p, alternative=alternative, confidence=confidence,
        significant=p < 1 - confidence, estimate_name="P(b > a)", estimate=u / (x.size * y.size),
    )


def paired_t_test(a: Any, b: Any, *, alternative: str = "two-sided", confidence: float = 0.95) -> TestResult:
    """Paired t-test of the mean of ``b - a`` (both measured on the same units or requests).

    A one-sample t-test of the differences; pairing removes the between-request variation, so
    it is far more sensitive than :func:`t_test` when the same requests go to both models.
    Same numbers as scipy's ``ttest_rel(b, a)`` and R's ``t.test(paired=TRUE)``.

    Examples
    --------
    R's ``?t.test`` sleep data, paired by patient.

    >>> g1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
    >>> g2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]
    >>> r = paired_t_test(g1, g2)
    >>> round(r.statistic, 4), r.df, round(r.p_value, 6), round(r.ci_low, 4), round(r.ci_high, 4)
    (4.0621, 9.0, 0.002833, 0.7001, 2.4599)
    """
    x, y = check_sample(a, "a"), check_sample(b, "b")
    if x.size != y.size:
        raise ValidationError(f"a, b: expected paired samples of equal length, got {x.size} and {y.size}")
    alternative = check_choice(alternative, "alternative", ALTERNATIVES)
    confidence = check_unit(confidence, "confidence")
    d = y - x
    se = float(d.std(ddof=1) / math.sqrt(d.size))
    if se == 0:
        raise ValidationError("a, b: every difference b - a is the same: the t statistic is undefined")
    return _t_result("paired t-test", float(d.mean()), se, float(d.size - 1), alternative, confidence,
                     "mean(b - a)")
