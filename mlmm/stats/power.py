"""Planning a test: sample size, power, minimum detectable effect or alpha (one solver, whichever
argument is ``None``), the size to estimate one proportion, and the days a test needs.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import optimize, special

from ..errors import ValidationError
from ._common import (
    ALTERNATIVES,
    ResultBase,
    check_choice,
    check_count,
    check_positive,
    check_unit,
    fmt_number,
    z_quantile,
)

__all__ = [
    "PowerResult",
    "TestDuration",
    "proportion_power",
    "mean_power",
    "required_sample_size",
    "days_to_significance",
]

_POWER_METHODS_P = ("pooled", "unpooled", "arcsine")
_POWER_METHODS_M = ("t", "normal")


@dataclasses.dataclass(frozen=True, repr=False)
class PowerResult(ResultBase):
    """A sample-size / power / minimum-detectable-effect calculation, with the solved argument.

    ``n_a`` and ``n_b = ratio * n_a`` are the exact (fractional) solutions; ``required_a``,
    ``required_b`` and ``required_total`` round them up to whole units.
    """

    kind: str
    solved_for: str
    effect: float
    baseline: float | None
    treatment: float | None
    sd: float | None
    n_a: float
    n_b: float
    alpha: float
    power: float
    ratio: float
    alternative: str
    method: str

    @property
    def required_a(self) -> int:
        return _ceil(self.n_a)

    @property
    def required_b(self) -> int:
        return _ceil(self.n_b)

    @property
    def required_total(self) -> int:
        return self.required_a + self.required_b

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out.update(required_a=self.required_a, required_b=self.required_b, required_total=self.required_total)
        return out

    def __repr__(self) -> str:
        what = (f"p_a={fmt_number(self.baseline)} p_b={fmt_number(self.treatment)}" if self.kind == "proportions"
                else f"effect={fmt_number(self.effect)} sd={fmt_number(self.sd)}")
        return (f"<PowerResult {self.kind} (solved {self.solved_for}): {what} n_a={fmt_number(self.n_a, 7)}"
                f" n_b={fmt_number(self.n_b, 7)} alpha={fmt_number(self.alpha)} power={fmt_number(self.power)}"
                f" ({self.alternative}, {self.method}); required {self.required_a} + {self.required_b}>")


def _ceil(x: float) -> int:
    # 384.99999999997 from a root finder is 385, not 386
    return int(math.ceil(x - 1e-9 * max(1.0, abs(x))))


def _one_none(**kwargs: Any) -> str:
    missing = [k for k, v in kwargs.items() if v is None]
    if len(missing) != 1:
        raise ValidationError(
            f"{', '.join(f'{k}={v!r}' for k, v in kwargs.items())}: expected exactly one of "
            f"{', '.join(kwargs)} to be None (the one to solve for)"
        )
    return missing[0]


def _prop_power(p_a: float, p_b: float, n_a: float, alpha: float, ratio: float, alternative: str,
                method: str) -> float:
    n_b = ratio * n_a
    if method == "arcsine":
        d = 2 * math.asin(math.sqrt(p_b)) - 2 * math.asin(math.sqrt(p_a))
        sd0 = sd1 = math.sqrt(1 / n_a + 1 / n_b)
    else:
        d = p_b - p_a
        sd1 = math.sqrt(p_a * (1 - p_a) / n_a + p_b * (1 - p_b) / n_b)
        if method == "pooled":
            pbar = (p_a + ratio * p_b) / (1 + ratio)
            sd0 = math.sqrt(pbar * (1 - pbar) * (1 / n_a + 1 / n_b))
        else:
            sd0 = sd1
    if sd1 == 0:
        return 1.0 if d != 0 else 0.0
    c = z_quantile(1 - alpha, alternative)
    up = float(special.ndtr((d - c * sd0) / sd1)) if alternative != "less" else 0.0
    down = float(special.ndtr((-d - c * sd0) / sd1)) if alternative != "greater" else 0.0
    return up + down


def _mean_power(d: float, n_a: float, alpha: float, ratio: float, alternative: str, method: str) -> float:
    n_b = ratio * n_a
    nc = d * math.sqrt(n_a * n_b / (n_a + n_b))
    tail = alpha / 2 if alternative == "two-sided" else alpha
    if method == "t":
        df = n_a + n_b - 2
        c = float(special.stdtrit(df, 1 - tail))
        up = 1 - float(special.nctdtr(df, nc, c)) if alternative != "less" else 0.0
        down = float(special.nctdtr(df, nc, -c)) if alternative != "greater" else 0.0
    else:
        c = float(-special.ndtri(tail))
        up = float(special.ndtr(nc - c)) if alternative != "less" else 0.0
        down = float(special.ndtr(-nc - c)) if alternative != "greater" else 0.0
    return up + down


def _solve(f: Callable[[float], float], lo: float, hi: float, what: str, *, expand: bool = False) -> float:
    """Root of an increasing ``f`` in ``[lo, hi]``; with ``expand``, doubles ``hi`` until bracketed."""
    f_lo = f(lo)
    if f_lo >= 0:
        raise ValidationError(f"{what}: already reached at the smallest value of the unknown; nothing to solve")
    f_hi = f(hi)
    while f_hi < 0 and expand and hi < 1e13:
        lo, hi = hi, hi * 4
        f_hi = f(hi)
    if f_hi < 0:
        raise ValidationError(f"{what}: cannot be reached")
    return float(optimize.brentq(f, lo, hi, xtol=1e-13, rtol=1e-14, maxiter=500))


def _solve_for(
    unknown: str,
    pw: Callable[[float, float, float], float],
    *,
    value: float | None,
    n_a: float | None,
    alpha: float | None,
    power: float | None,
    n_bracket: tuple[float, float],
    n_what: str,
    mde: Callable[[float], float],
    mde_hi: float,
    mde_expand: bool,
    mde_what: str,
) -> tuple[float, float, float, float]:
    """The one solver of :func:`proportion_power` and :func:`mean_power`: ``(value, n_a, alpha, power)``
    with the ``unknown`` one filled in.

    ``pw(value, n_a, alpha)`` is the power, increasing in ``n_a``, ``alpha`` and the size of the
    effect; ``value`` is the effect parameter (``treatment`` or ``effect``). The minimum
    detectable effect is searched as a magnitude ``e`` in ``[0, mde_hi]`` and ``mde(e)`` turns it
    into ``value`` (the sign of ``alternative="less"``, the baseline for proportions).
    """
    if unknown == "power":
        power = pw(value, n_a, alpha)
    elif unknown == "n_a":
        n_a = _solve(lambda n: pw(value, n, alpha) - power, *n_bracket, n_what, expand=True)
    elif unknown == "alpha":
        alpha = _solve(lambda a: pw(value, n_a, a) - power, 1e-15, 1 - 1e-15, f"power={power} with n_a={n_a}")
    else:
        value = mde(_solve(lambda e: pw(mde(e), n_a, alpha) - power, 0.0, mde_hi, mde_what, expand=mde_expand))
    return value, n_a, alpha, power  # type: ignore[return-value]


def proportion_power(
    baseline: float,
    treatment: float | None = None,
    *,
    n_a: float | None = None,
    power: float | None = None,
    alpha: float | None = 0.05,
    ratio: float = 1.0,
    alternative: str = "two-sided",
    method: str = "pooled",
) -> PowerResult:
    """Sample size, power, minimum detectable effect or alpha for comparing two proportions.

    Exactly one of ``treatment``, ``n_a``, ``power`` and ``alpha`` is ``None``; it is solved for
    from the others (statsmodels' ``solve_power`` convention). ``treatment=None`` gives the
    minimum detectable ``p_b`` (above ``baseline``, or below it for ``alternative="less"``).
    ``n_a`` is the control group's size and ``n_b = ratio * n_a`` (an 80/20 control/treatment
    split is ``ratio=0.25``). Power is the exact probability, under the normal approximation,
    that the test rejects, counting both tails for a two-sided test (R's ``strict=TRUE``).

    ``method`` picks the formula:

    * ``"pooled"`` (default): the test :func:`two_proportion_test` runs; the null variance
      uses the pooled proportion, the alternative variance the two proportions (Fleiss, Levin
      & Paik 2003, eq. 4.14 without continuity correction; R's ``power.prop.test`` for equal
      groups; statsmodels' ``power_proportions_2indep``).
    * ``"unpooled"``: the unpooled (Wald) variance under both hypotheses.
    * ``"arcsine"``: Cohen's h with variance ``1/n_a + 1/n_b`` (Cohen 1988; statsmodels'
      ``NormalIndPower`` with ``proportion_effectsize``).

    Raises
    ------
    ValidationError
        Not exactly one ``None``; a proportion, ``alpha`` or ``power`` outside (0, 1); a target
        that cannot be reached (e.g. ``power`` with ``treatment == baseline``).

    References
    ----------
    Fleiss, J. L., Levin, B. & Paik, M. C. (2003). Statistical Methods for Rates and
    Proportions, 3rd ed., sec. 4.2. Cohen, J. (1988), ch. 6. R Core, ``?power.prop.test``.

    Examples
    --------
    R's ``?power.prop.test`` examples:

    >>> round(proportion_power(0.50, 0.75, power=0.90).n_a, 1)
    76.7
    >>> round(proportion_power(0.50, 0.75, n_a=50).power, 5)
    0.74017
    >>> round(proportion_power(0.50, n_a=50, power=0.90).treatment, 4)
    0.8026

    A 10 % baseline, detect +2 points with 80 % power, 80/20 split:

    >>> r = proportion_power(0.10, 0.12, power=0.80, ratio=0.25)
    >>> r.required_a, r.required_b
    (9412, 2353)
    """
    baseline = check_unit(baseline, "baseline")
    if treatment is not None:
        treatment = check_unit(treatment, "treatment")
    if n_a is not None:
        n_a = check_positive(n_a, "n_a")
    if power is not None:
        power = check_unit(power, "power")
    if alpha is not None:
        alpha = check_unit(alpha, "alpha")
    ratio = check_positive(ratio, "ratio")
    alternative = check_choice(alternative, "alternative", ALTERNATIVES)
    method = check_choice(method, "method", _POWER_METHODS_P)
    unknown = _one_none(treatment=treatment, n_a=n_a, power=power, alpha=alpha)

    def pw(p_b: float, n: float, a: float) -> float:
        return _prop_power(baseline, p_b, n, a, ratio, alternative, method)

    sign = -1.0 if alternative == "less" else 1.0
    treatment, n_a, alpha, power = _solve_for(
        unknown, pw, value=treatment, n_a=n_a, alpha=alpha, power=power, n_bracket=(1e-6, 64.0),
        n_what=f"power={power} for baseline={baseline}, treatment={treatment}",
        mde=lambda e: baseline + sign * e, mde_hi=baseline if sign < 0 else 1 - baseline, mde_expand=False,
        mde_what=f"power={power} with n_a={n_a} for any treatment {'<' if sign < 0 else '>'} baseline={baseline}",
    )
    return PowerResult(
        kind="proportions", solved_for=unknown, effect=treatment - baseline, baseline=baseline,
        treatment=treatment, sd=None, n_a=n_a, n_b=ratio * n_a, alpha=alpha, power=power, ratio=ratio,
        alternative=alternative, method=method,
    )


def mean_power(
    effect: float | None = None,
    *,
    sd: float = 1.0,
    n_a: float | None = None,
    power: float | None = None,
    alpha: float | None = 0.05,
    ratio: float = 1.0,
    alternative: str = "two-sided",
    method: str = "t",
) -> PowerResult:
    """Sample size, power, minimum detectable effect or alpha for comparing two means.

    Exactly one of ``effect`` (``mean_b - mean_a``), ``n_a``, ``power`` and ``alpha`` is
    ``None`` and is solved for. ``sd`` is the common standard deviation; ``n_b = ratio * n_a``.
    ``method="t"`` (default) is exact for the two-sample t-test with equal variances (the
    noncentral t distribution; as R's ``power.t.test`` with ``strict=TRUE`` and statsmodels'
    ``TTestIndPower``); ``method="normal"`` is the large-sample z approximation
    (statsmodels' ``NormalIndPower``). A solved ``effect`` is positive unless
    ``alternative="less"``.

    References
    ----------
    Cohen, J. (1988). Statistical Power Analysis for the Behavioral Sciences, ch. 2.
    R Core, ``?power.t.test``.

    Examples
    --------
    R's ``?power.t.test`` examples:

    >>> round(mean_power(1, n_a=20).power, 4)
    0.869
    >>> round(mean_power(1, power=0.90).n_a, 3)
    22.021
    >>> round(mean_power(1, power=0.90, alternative="greater").n_a, 3)
    17.847
    """
    if effect is not None:
        ok = isinstance(effect, (int, float, np.integer, np.floating)) and not isinstance(effect, bool)
        if not ok or not math.isfinite(effect) or effect == 0:
            raise ValidationError(f"effect={effect!r}: expected a finite non-zero difference in means")
        effect = float(effect)
    sd = check_positive(sd, "sd")
    if n_a is not None:
        n_a = check_positive(n_a, "n_a")
    if power is not None:
        power = check_unit(power, "power")
    if alpha is not None:
        alpha = check_unit(alpha, "alpha")
    ratio = check_positive(ratio, "ratio")
    alternative = check_choice(alternative, "alternative", ALTERNATIVES)
    method = check_choice(method, "method", _POWER_METHODS_M)
    unknown = _one_none(effect=effect, n_a=n_a, power=power, alpha=alpha)
    min_n = 2 / (1 + ratio) if method == "t" else 0.0  # n_a + n_b > 2 for the t-test's df
    if n_a is not None and n_a <= min_n:
        raise ValidationError(f"n_a={n_a!r}: expected more than {min_n:g} (the t-test needs n_a + n_b > 2)")

    def pw(e: float, n: float, a: float) -> float:
        return _mean_power(e / sd, n, a, ratio, alternative, method)

    sign = -1.0 if alternative == "less" else 1.0
    lo = 3 / (1 + ratio) if method == "t" else 1e-6  # from df = 1: below it nctdtr is unreliable
    effect, n_a, alpha, power = _solve_for(
        unknown, pw, value=effect, n_a=n_a, alpha=alpha, power=power, n_bracket=(lo, max(4.0, 2 * lo)),
        n_what=f"power={power} for effect={effect}",
        mde=lambda e: sign * e, mde_hi=sd, mde_expand=True, mde_what=f"power={power} with n_a={n_a}",
    )
    return PowerResult(
        kind="means", solved_for=unknown, effect=effect, baseline=None, treatment=None, sd=sd, n_a=n_a,
        n_b=ratio * n_a, alpha=alpha, power=power, ratio=ratio, alternative=alternative, method=method,
    )


def required_sample_size(
    confidence: float = 0.95, margin: float = 0.05, *, proportion: float = 0.5, population: int | None = None
) -> int:
    """Sample size to estimate a proportion within ``+- margin`` (the seed's ``calculateRequiredSampleSize``).

    ``n = z^2 p (1 - p) / margin^2`` rounded up, with ``p = 0.5`` (the worst case) unless told;
    with a finite ``population`` Cochran's correction ``n / (1 + (n - 1) / N)``. This is the
    size for *one* proportion's interval, not for detecting a difference between two versions;
    for that use :func:`proportion_power`.

    References
    ----------
    Cochran, W. G. (1977). Sampling Techniques, 3rd ed., eqs. 4.2 and 4.3.

    Examples
    --------
    >>> required_sample_size(0.95, 0.05), required_sample_size(0.95, 0.03)
    (385, 1068)
    >>> required_sample_size(0.95, 0.05, population=1000)
    278
    """
    confidence = check_unit(confidence, "confidence")
    margin = check_unit(margin, "margin")
    proportion = check_unit(proportion, "proportion")
    z = z_quantile(confidence)
    n = z * z * proportion * (1 - proportion) / (margin * margin)
    if population is not None:
        population = check_count(population, "population", minimum=1)
        n = n / (1 + (n - 1) / population)
    return _ceil(n)


@dataclasses.dataclass(frozen=True, repr=False)
class TestDuration(ResultBase):
    """How long a test needs at a given traffic, from a :class:`PowerResult`."""

    __test__ = False

    days: int
    exact_days: float
    required_a: int
    required_b: int
    daily_traffic: float
    traffic_fraction: float

    def __repr__(self) -> str:
        return (f"<TestDuration {self.days} days ({self.exact_days:.2f}) for {self.required_a} + {self.required_b}"
                f" at {self.daily_traffic:g}/day x {self.traffic_fraction:g}>")


def days_to_significance(plan: PowerResult, daily_traffic: float, *, traffic_fraction: float = 1.0) -> TestDuration:
    """Days until both groups reach the sample size of ``plan`` at ``daily_traffic``.

    ``daily_traffic`` counts every eligible request (or user) per day; ``traffic_fraction``
    of it enters the test and is split ``1 : ratio`` between control and treatment. The days
    are rounded up. (This is the fixed-horizon length: stopping earlier on a significant
    p-value needs :func:`group_sequential_bounds` or :func:`always_valid_test`.)

    Examples
    --------
    >>> plan = proportion_power(0.10, 0.12, power=0.80)
    >>> plan.required_total
    7682
    >>> days_to_significance(plan, daily_traffic=1000).days
    8
    >>> days_to_significance(plan, daily_traffic=1000, traffic_fraction=0.1).days
    77
    """
    if not isinstance(plan, PowerResult):
        raise ValidationError(f"plan={plan!r}: expected a PowerResult from proportion_power or mean_power")
    daily_traffic = check_positive(daily_traffic, "daily_traffic")
    if not (isinstance(traffic_fraction, (int, float)) and 0 < traffic_fraction <= 1):
        raise ValidationError(f"traffic_fraction={traffic_fraction!r}: expected a number in (0, 1]")
    per_day = daily_traffic * traffic_fraction
    share_a = 1 / (1 + plan.ratio)
    exact = max(plan.required_a / (per_day * share_a), plan.required_b / (per_day * (1 - share_a)))
    return TestDuration(days=_ceil(exact), exact_days=exact, required_a=plan.required_a,
                        required_b=plan.required_b, daily_traffic=daily_traffic,
                        traffic_fraction=float(traffic_fraction))
