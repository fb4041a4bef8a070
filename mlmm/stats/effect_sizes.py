"""Effect sizes with intervals: relative lift, Cohen's h and d, odds ratio, risk ratio."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats as _sps

from ..errors import ValidationError
from ._common import (
    check_choice,
    check_sample,
    check_successes,
    check_unit,
    z_quantile,
)
from .results import Estimate

__all__ = [
    "relative_lift",
    "cohens_h",
    "cohens_d",
    "odds_ratio",
    "risk_ratio",
]


def relative_lift(
    successes_a: int, trials_a: int, successes_b: int, trials_b: int, *,
    confidence: float = 0.95, method: str = "delta",
) -> Estimate:
    """Relative lift ``p_b / p_a - 1`` with an interval.

    ``method="delta"`` (default) is the delta-method interval on the ratio itself,
    ``var(p_b/p_a) ~ (p_b/p_a)^2 (var_b/p_b^2 + var_a/p_a^2)``, symmetric around the estimate
    (Kohavi, Tang & Xu 2020, ch. 18); ``method="log"`` is Katz' interval on the log of the risk
    ratio, which is asymmetric and better for small counts (see :func:`risk_ratio`).

    Raises
    ------
    ValidationError
        ``successes_a == 0`` (the lift over a zero baseline is undefined) and the usual count checks.

    References
    ----------
    Kohavi, R., Tang, D. & Xu, Y. (2020). Trustworthy Online Controlled Experiments, ch. 18.
    Katz, D. et al. (1978). Biometrics 34, 469-474.

    Examples
    --------
    >>> r = relative_lift(100, 1000, 120, 1000)
    >>> round(r.estimate, 4), round(r.ci_low, 4), round(r.ci_high, 4)
    (0.2, -0.1006, 0.5006)
    """
    s_a, n_a = check_successes(successes_a, trials_a, "successes_a", "trials_a")
    s_b, n_b = check_successes(successes_b, trials_b, "successes_b", "trials_b")
    confidence = check_unit(confidence, "confidence")
    method = check_choice(method, "method", ("delta", "log"))
    if s_a == 0:
        raise ValidationError(f"successes_a={s_a}: expected at least one success in the control (the lift over 0 is undefined)")
    p_a, p_b = s_a / n_a, s_b / n_b
    ratio = p_b / p_a
    z = z_quantile(confidence)
    if method == "delta":
        se = math.sqrt(p_b * (1 - p_b) / n_b / p_a**2 + p_b**2 * (1 - p_a) / (n_a * p_a**3))
        lo, hi = ratio - z * se - 1, ratio + z * se - 1
    else:
        if s_b == 0:
            raise ValidationError(f"successes_b={s_b}: expected at least one success for the log interval (use method='delta')")
        _, lo, hi = _katz(s_a, n_a, s_b, n_b, z)
        lo, hi = lo - 1, hi - 1
    return Estimate(name="relative lift", estimate=ratio - 1, ci_low=lo, ci_high=hi, confidence=confidence,
                    method=method)


def cohens_h(
    successes_a: int, trials_a: int, successes_b: int, trials_b: int, *, confidence: float = 0.95
) -> Estimate:
    """Cohen's h, ``2 asin sqrt(p_b) - 2 asin sqrt(p_a)``, with its normal interval.

    The arcsine transform stabilises the variance of a proportion (``var(2 asin sqrt(p)) ~
    1/n``), so ``h`` has standard error ``sqrt(1/n_a + 1/n_b)`` whatever the proportions.
    Cohen's rough guide: 0.2 small, 0.5 medium, 0.8 large. Equal to statsmodels'
    ``proportion_effectsize(p_b, p_a)``.

    References
    ----------
    Cohen, J. (1988). Statistical Power Analysis for the Behavioral Sciences, 2nd ed., ch. 6.

    Examples
    --------
    >>> r = cohens_h(50, 100, 75, 100)
    >>> round(r.estimate, 4), round(r.ci_low, 4), round(r.ci_high, 4)
    (0.5236, 0.2464, 0.8008)
    """
    s_a, n_a = check_successes(successes_a, trials_a, "successes_a", "trials_a")
    s_b, n_b = check_successes(successes_b, trials_b, "successes_b", "trials_b")
    confidence = check_unit(confidence, "confidence")
    h = 2 * math.asin(math.sqrt(s_b / n_b)) - 2 * math.asin(math.sqrt(s_a / n_a))
    half = z_quantile(confidence) * math.sqrt(1 / n_a + 1 / n_b)
    return Estimate(name="cohen's h", estimate=h, ci_low=h - half, ci_high=h + half, confidence=confidence,
                    method="normal (arcsine)")


def cohens_d(a: Any, b: Any, *, pooled: bool = True, confidence: float = 0.95) -> Estimate:
    """Cohen's d, ``(mean_b - mean_a) / s``, with a normal-approximation interval.

    ``pooled=True`` (default) divides by the pooled standard deviation and uses the Hedges &
    Olkin (1985) standard error ``sqrt((n_a + n_b)/(n_a n_b) + d^2 / (2 (n_a + n_b)))``.
    ``pooled=False`` is the Welch-style d: it divides by ``sqrt((s_a^2 + s_b^2) / 2)``, which
    does not assume equal variances, and uses Bonett's (2008) standard error.

    References
    ----------
    Hedges, L. V. & Olkin, I. (1985). Statistical Methods for Meta-Analysis, ch. 5.
    Bonett, D. G. (2008). Confidence intervals for standardized linear contrasts of means.
    Psychological Methods 13, 99-109.

    Examples
    --------
    >>> g1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
    >>> g2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]
    >>> r = cohens_d(g1, g2)
    >>> round(r.estimate, 4), round(r.ci_low, 4), round(r.ci_high, 4)
    (0.8322, -0.0815, 1.7459)
    """
    x, y = check_sample(a, "a"), check_sample(b, "b")
    confidence = check_unit(confidence, "confidence")
    n_a, n_b = x.size, y.size
    v_a, v_b = x.var(ddof=1), y.var(ddof=1)
    diff = float(y.mean() - x.mean())
    s2 = ((n_a - 1) * v_a + (n_b - 1) * v_b) / (n_a + n_b - 2) if pooled else (v_a + v_b) / 2
    if s2 == 0:
        raise ValidationError("a, b: both samples are constant: the standardised difference is undefined")
    d = diff / math.sqrt(s2)
    if pooled:
        se = math.sqrt((n_a + n_b) / (n_a * n_b) + d * d / (2 * (n_a + n_b)))
    else:
        se = math.sqrt(d * d * (v_a**2 / (n_a - 1) + v_b**2 / (n_b - 1)) / (8 * s2 * s2)
                       + (v_a / (n_a - 1) + v_b / (n_b - 1)) / s2)
    half = z_quantile(confidence) * se
    return Estimate(name="cohen's d" if pooled else "cohen's d (welch)", estimate=d, ci_low=d - half,
                    ci_high=d + half, confidence=confidence,
                    method="hedges-olkin normal" if pooled else "bonett normal")


def odds_ratio(
    successes_a: int, trials_a: int, successes_b: int, trials_b: int, *,
    confidence: float = 0.95, method: str = "woolf",
) -> Estimate:
    """Odds ratio ``odds_b / odds_a`` with an interval.

    ``method="woolf"`` (default) is the logit interval ``exp(log OR +- z sqrt(1/a + 1/b + 1/c
    + 1/d))``; with a zero cell it adds 1/2 to every cell (Haldane-Anscombe) so the estimate
    and interval stay finite. ``method="exact"`` is the conditional maximum-likelihood estimate
    with the exact interval (Fisher; as R's ``fisher.test``). Woolf equals statsmodels'
    ``Table2x2.oddsratio_confint()`` when no cell is zero.

    References
    ----------
    Woolf, B. (1955). Annals of Human Genetics 19, 251-253. Agresti (2013), sec. 3.1.

    Examples
    --------
    >>> r = odds_ratio(48, 80, 56, 70)
    >>> round(r.estimate, 4), round(r.ci_low, 4), round(r.ci_high, 4)
    (2.6667, 1.2762, 5.572)
    """
    s_a, n_a = check_successes(successes_a, trials_a, "successes_a", "trials_a")
    s_b, n_b = check_successes(successes_b, trials_b, "successes_b", "trials_b")
    confidence = check_unit(confidence, "confidence")
    method = check_choice(method, "method", ("woolf", "exact"))
    if method == "exact":
        r = _sps.contingency.odds_ratio([[s_b, n_b - s_b], [s_a, n_a - s_a]], kind="conditional")
        ci = r.confidence_interval(confidence_level=confidence)
        return Estimate(name="odds ratio", estimate=float(r.statistic), ci_low=float(ci.low), ci_high=float(ci.high),
                        confidence=confidence, method="exact conditional")
    cells = np.array([s_b, n_b - s_b, s_a, n_a - s_a], dtype=float)
    if (cells == 0).any():
        cells += 0.5
    log_or = math.log(cells[0] * cells[3] / (cells[1] * cells[2]))
    half = z_quantile(confidence) * math.sqrt(float((1 / cells).sum()))
    return Estimate(name="odds ratio", estimate=math.exp(log_or), ci_low=math.exp(log_or - half),
                    ci_high=math.exp(log_or + half), confidence=confidence, method="woolf")


def risk_ratio(
    successes_a: int, trials_a: int, successes_b: int, trials_b: int, *, confidence: float = 0.95
) -> Estimate:
    """Risk ratio ``p_b / p_a`` with Katz' log interval.

    ``exp(log RR +- z sqrt(1/s_b - 1/n_b + 1/s_a - 1/n_a))``; equal to scipy's
    ``relative_risk(...).confidence_interval()`` and statsmodels' ``Table2x2.riskratio_confint()``.

    Raises
    ------
    ValidationError
        ``successes_a == 0`` or ``successes_b == 0`` (the log interval is undefined).

    References
    ----------
    Katz, D., Baptista, J., Azen, S. P. & Pike, M. C. (1978). Obtaining confidence intervals
    for the risk ratio in cohort studies. Biometrics 34, 469-474.

    Examples
    --------
    >>> r = risk_ratio(48, 80, 56, 70)
    >>> round(r.estimate, 4), round(r.ci_low, 4), round(r.ci_high, 4)
    (1.3333, 1.0766, 1.6512)
    """
    s_a, n_a = check_successes(successes_a, trials_a, "successes_a", "trials_a")
    s_b, n_b = check_successes(successes_b, trials_b, "successes_b", "trials_b")
    confidence = check_unit(confidence, "confidence")
    for name, s in (("successes_a", s_a), ("successes_b", s_b)):
        if s == 0:
            raise ValidationError(f"{name}=0: expected at least one success (the log risk ratio is undefined)")
    rr, lo, hi = _katz(s_a, n_a, s_b, n_b, z_quantile(confidence))
    return Estimate(name="risk ratio", estimate=rr, ci_low=lo, ci_high=hi, confidence=confidence, method="katz log")


def _katz(s_a: int, n_a: int, s_b: int, n_b: int, z: float) -> tuple[float, float, float]:
    """Risk ratio ``p_b / p_a`` and Katz' log interval at normal quantile ``z`` (``s_a, s_b > 0``).

    The one copy of the formula: :func:`risk_ratio` and :func:`relative_lift` (``method="log"``).
    """
    rr = (s_b / n_b) / (s_a / n_a)
    half = z * math.sqrt(1 / s_b - 1 / n_b + 1 / s_a - 1 / n_a)
    return rr, rr * math.exp(-half), rr * math.exp(half)
