"""Statistics for model comparisons: pure, exact, checked.

Every function here is a pure function of counts or arrays: no I/O, no globals, deterministic
(the bootstrap takes a ``seed``). Results are small frozen dataclasses with ``to_dict()``
(JSON-safe: infinite or undefined numbers become ``None``) and a ``repr`` for notebooks.
Bad input raises :class:`mlmm.errors.ValidationError` naming the argument, its value and what
was expected.

Conventions
-----------
* Group ``a`` is the control (the current version), group ``b`` the treatment (the candidate).
  Every difference is ``b - a``, every ratio ``b / a``.
* ``alternative`` is ``"two-sided"``, ``"greater"`` (``b`` larger) or ``"less"`` (``b`` smaller),
  as in scipy. One-sided tests report one-sided intervals (the other bound is the bound of the
  parameter space), so that the interval and the test agree.
* ``confidence`` is the level of the interval; a result's ``significant`` field is the test's
  decision at ``alpha = 1 - confidence``.

========================================  ==========================================================
family                                    functions
========================================  ==========================================================
proportions                               :func:`wilson_interval`, :func:`proportion_interval`,
                                          :func:`two_proportion_test`, :func:`chi_square_test`,
                                          :func:`fisher_exact_test`, :func:`table_from_counts`
means and distributions                   :func:`t_test`, :func:`mann_whitney_test`,
                                          :func:`bootstrap_ci`, :func:`bootstrap_difference`
paired (shadow traffic, same requests)    :func:`paired_table`, :func:`mcnemar_test`,
                                          :func:`paired_t_test`, :func:`paired_bootstrap_ci`
effect sizes                              :func:`relative_lift`, :func:`cohens_h`, :func:`cohens_d`,
                                          :func:`odds_ratio`, :func:`risk_ratio`
planning                                  :func:`proportion_power`, :func:`mean_power`,
                                          :func:`required_sample_size`, :func:`days_to_significance`
sequential (safe under peeking)           :func:`group_sequential_bounds`,
                                          :func:`boundary_crossing_probability`,
                                          :func:`always_valid_test`
guardrails                                :func:`sample_ratio_mismatch`, :func:`adjust_p_values`
Bayesian                                  :func:`chance_to_beat_control`
========================================  ==========================================================

Which sequential method the A/B service uses
--------------------------------------------
Looking at a fixed-sample p-value every day and stopping at the first ``p < 0.05`` inflates the
false-positive rate several-fold. mlmm offers two remedies: when the test plan fixes the number
of looks (a weekly review of a four-week test), :func:`group_sequential_bounds` gives the z
thresholds for each look (Lan-DeMets O'Brien-Fleming spending by default: almost no alpha is
spent early, so the final look keeps nearly the fixed-sample threshold). For dashboards and
scheduled reports that may look at any time, :func:`always_valid_test` (the mixture SPRT of
Johari et al.) gives p-values and confidence sequences valid at every look. The A/B service's
automatic continue/stop decision uses :func:`always_valid_test`, because scheduled reports
look at the data an unplanned number of times; a config that declares planned looks is
evaluated against :func:`group_sequential_bounds`.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from scipy import integrate, optimize, special
from scipy import stats as _sps

from .errors import ValidationError

__all__ = [
    "ALTERNATIVES",
    "Estimate",
    "ProportionTestResult",
    "TestResult",
    "PowerResult",
    "TestDuration",
    "SequentialBounds",
    "AlwaysValidResult",
    "SRMResult",
    "MultipleTestingResult",
    "BayesianResult",
    "wilson_interval",
    "proportion_interval",
    "two_proportion_test",
    "table_from_counts",
    "chi_square_test",
    "fisher_exact_test",
    "t_test",
    "mann_whitney_test",
    "bootstrap_ci",
    "bootstrap_difference",
    "paired_table",
    "mcnemar_test",
    "paired_t_test",
    "paired_bootstrap_ci",
    "relative_lift",
    "cohens_h",
    "cohens_d",
    "odds_ratio",
    "risk_ratio",
    "proportion_power",
    "mean_power",
    "required_sample_size",
    "days_to_significance",
    "group_sequential_bounds",
    "boundary_crossing_probability",
    "always_valid_test",
    "sample_ratio_mismatch",
    "adjust_p_values",
    "chance_to_beat_control",
]

ALTERNATIVES = ("two-sided", "greater", "less")
_INTERVALS = ("newcombe", "wald")
_PROPORTION_INTERVALS = ("wilson", "wald", "agresti-coull", "clopper-pearson", "jeffreys")
_POWER_METHODS_P = ("pooled", "unpooled", "arcsine")
_POWER_METHODS_M = ("t", "normal")
_SPENDING = ("obrien-fleming", "pocock")
_ADJUST = ("holm", "bh", "bonferroni")


# ============================================================================ validation
def _choice(value: Any, name: str, choices: Sequence[str]) -> str:
    if value not in choices:
        raise ValidationError(f"{name}={value!r}: expected one of {', '.join(repr(c) for c in choices)}")
    return value


def _unit(value: Any, name: str) -> float:
    """A number strictly between 0 and 1 (alpha, confidence, power, a probability)."""
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
    if not ok or not 0.0 < float(value) < 1.0:
        raise ValidationError(f"{name}={value!r}: expected a number in (0, 1)")
    return float(value)


def _positive(value: Any, name: str) -> float:
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
    if not ok or not (math.isfinite(float(value)) and float(value) > 0):
        raise ValidationError(f"{name}={value!r}: expected a finite number > 0")
    return float(value)


def _as_int(value: Any) -> int | None:
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)) and math.isfinite(value) and float(value).is_integer():
        return int(value)
    return None


def _count(value: Any, name: str, *, minimum: int = 0) -> int:
    n = _as_int(value)
    if n is None or n < minimum:
        raise ValidationError(f"{name}={value!r}: expected an integer >= {minimum}")
    return n


def _successes(successes: Any, trials: Any, s_name: str, t_name: str, *, min_trials: int = 1) -> tuple[int, int]:
    n = _count(trials, t_name, minimum=min_trials)
    s = _as_int(successes)
    if s is None or not 0 <= s <= n:
        raise ValidationError(f"{s_name}={successes!r}: expected an integer in [0, {t_name}={n}]")
    return s, n


def _count_arrays(successes: Any, trials: Any, s_name: str = "successes", t_name: str = "trials"):
    """Validated float arrays of successes and trials (broadcast), for the vectorised functions."""
    try:
        s = np.asarray(successes, dtype=float)
        n = np.asarray(trials, dtype=float)
        s, n = np.broadcast_arrays(s, n)
    except (TypeError, ValueError) as exc:
        raise ValidationError(
            f"{s_name}={successes!r}, {t_name}={trials!r}: expected numbers or arrays of one shape ({exc})"
        ) from None
    if np.asarray(successes).dtype == bool or np.asarray(trials).dtype == bool:
        raise ValidationError(f"{s_name}, {t_name}: expected integer counts, got booleans")
    bad_n = ~(np.isfinite(n) & (n >= 0) & (n == np.floor(n)))
    if bad_n.any():
        i = _first(bad_n)
        raise ValidationError(f"{_at(t_name, i, n.ndim)}={_num(n[i])}: expected an integer >= 0")
    bad_s = ~(np.isfinite(s) & (s >= 0) & (s == np.floor(s)) & (s <= n))
    if bad_s.any():
        i = _first(bad_s)
        raise ValidationError(
            f"{_at(s_name, i, s.ndim)}={_num(s[i])}: expected an integer in [0, {_at(t_name, i, n.ndim)}={_num(n[i])}]"
        )
    return s, n


def _first(mask: np.ndarray) -> tuple[int, ...]:
    return tuple(int(i) for i in np.argwhere(mask)[0])


def _at(name: str, index: tuple[int, ...], ndim: int) -> str:
    return name if ndim == 0 else f"{name}[{', '.join(map(str, index))}]"


def _num(x: float) -> str:
    return str(int(x)) if math.isfinite(x) and float(x).is_integer() else repr(float(x))


def _sample(values: Any, name: str, *, min_size: int = 2) -> np.ndarray:
    try:
        x = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise ValidationError(f"{name}: expected a 1-D sequence of numbers, got {type(values).__name__}") from None
    if x.ndim != 1:
        raise ValidationError(f"{name}: expected a 1-D sequence of numbers, got shape {x.shape}")
    if x.size < min_size:
        raise ValidationError(f"{name}: expected at least {min_size} values, got {x.size}")
    bad = ~np.isfinite(x)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValidationError(f"{name}[{i}]={float(x[i])!r}: expected a finite number")
    return x


def _table(table: Any, name: str = "table", *, shape: tuple[int, int] | None = (2, 2)) -> np.ndarray:
    try:
        t = np.asarray(table, dtype=float)
    except (TypeError, ValueError):
        raise ValidationError(f"{name}={table!r}: expected a 2-D table of counts") from None
    if t.ndim != 2 or (shape is not None and t.shape != shape) or min(t.shape) < 2:
        want = "a 2x2 table" if shape == (2, 2) else "a 2-D table with at least 2 rows and 2 columns"
        raise ValidationError(f"{name}={np.asarray(table).tolist()!r}: expected {want} of counts")
    bad = ~(np.isfinite(t) & (t >= 0) & (t == np.floor(t)))
    if bad.any():
        i = _first(bad)
        raise ValidationError(f"{name}[{i[0]}][{i[1]}]={_num(t[i])}: expected an integer count >= 0")
    return t


def _z(confidence: float, alternative: str = "two-sided") -> float:
    """The normal quantile for a ``confidence`` interval (two-sided) or bound (one-sided)."""
    tail = (1.0 - confidence) / (2.0 if alternative == "two-sided" else 1.0)
    return float(-special.ndtri(tail))


def _p_from_z(z: float, alternative: str) -> float:
    if alternative == "two-sided":
        return float(min(1.0, 2.0 * special.ndtr(-abs(z))))
    return float(special.ndtr(-z) if alternative == "greater" else special.ndtr(z))


# ============================================================================ results
def _jsonable(value: Any) -> Any:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


class _Result:
    """``to_dict()`` for the frozen result dataclasses: JSON-safe, non-finite numbers as None."""

    def to_dict(self) -> dict[str, Any]:
        return {f.name: _jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)}  # type: ignore[arg-type]


def _fmt(x: float | None, digits: int = 4) -> str:
    if x is None:
        return "None"
    if not math.isfinite(x):
        return "inf" if x > 0 else ("-inf" if x < 0 else "nan")
    return f"{x:.{digits}g}"


@dataclasses.dataclass(frozen=True, repr=False)
class Estimate(_Result):
    """A point estimate with its interval (effect sizes, lifts, bootstrap intervals)."""

    name: str
    estimate: float
    ci_low: float
    ci_high: float
    confidence: float
    method: str

    def __repr__(self) -> str:
        return (f"<Estimate {self.name}={_fmt(self.estimate)} [{_fmt(self.ci_low)}, {_fmt(self.ci_high)}]"
                f" ({self.method}, {self.confidence:.0%})>")


@dataclasses.dataclass(frozen=True, repr=False)
class ProportionTestResult(_Result):
    """The comparison of two proportions: pooled z-test and an interval for ``p_b - p_a``."""

    successes_a: int
    trials_a: int
    successes_b: int
    trials_b: int
    p_a: float
    p_b: float
    difference: float
    ci_low: float
    ci_high: float
    z: float
    p_value: float
    alternative: str
    confidence: float
    interval: str
    significant: bool

    @property
    def alpha(self) -> float:
        return 1.0 - self.confidence

    def is_significant(self, alpha: float) -> bool:
        """The test's decision at another level ``alpha``."""
        return self.p_value < _unit(alpha, "alpha")

    def __repr__(self) -> str:
        verdict = "significant" if self.significant else "not significant"
        return (f"<ProportionTestResult p_a={self.p_a:.4g} p_b={self.p_b:.4g} diff={self.difference:+.4g}"
                f" [{self.ci_low:+.4g}, {self.ci_high:+.4g}] z={self.z:.3f} p={self.p_value:.4g}"
                f" ({self.alternative}, {self.interval} {self.confidence:.0%}): {verdict}>")


@dataclasses.dataclass(frozen=True, repr=False)
class TestResult(_Result):
    """A hypothesis test: statistic, p-value, and (where defined) an estimate with its interval.

    ``estimate_name`` says what ``estimate`` is (``"mean_b - mean_a"``, ``"odds ratio"``, ...).
    """

    __test__ = False  # not a pytest class

    method: str
    statistic: float
    p_value: float
    alternative: str
    confidence: float
    significant: bool
    df: float | None = None
    estimate_name: str | None = None
    estimate: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None

    def is_significant(self, alpha: float) -> bool:
        return self.p_value < _unit(alpha, "alpha")

    def __repr__(self) -> str:
        df = f" df={_fmt(self.df)}" if self.df is not None else ""
        est = ""
        if self.estimate is not None:
            est = f" {self.estimate_name}={_fmt(self.estimate)}"
            if self.ci_low is not None:
                est += f" [{_fmt(self.ci_low)}, {_fmt(self.ci_high)}]"
        verdict = "significant" if self.significant else "not significant"
        return (f"<TestResult {self.method}: statistic={_fmt(self.statistic)}{df} p={_fmt(self.p_value)}{est}"
                f" ({self.alternative}, {self.confidence:.0%}): {verdict}>")


# ============================================================================ proportions
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
    confidence = _unit(confidence, "confidence")
    s, n = _count_arrays(successes, trials)
    z = _z(confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = s / n
        z2n = z * z / n
        center = (p + z2n / 2.0) / (1.0 + z2n)
        half = z * np.sqrt(p * (1.0 - p) / n + z2n / (4.0 * n)) / (1.0 + z2n)
    # exact at the edges (the formula gives 1 - 1e-16 for s == n)
    lo = np.where(s == 0, 0.0, np.clip(center - half, 0.0, 1.0))
    hi = np.where(s == n, 1.0, np.clip(center + half, 0.0, 1.0))
    lo, hi = np.where(n == 0, np.nan, lo), np.where(n == 0, np.nan, hi)
    if lo.ndim == 0:
        return float(lo), float(hi)
    return lo, hi


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
    method = _choice(method, "method", _PROPORTION_INTERVALS)
    if method == "wilson":
        return wilson_interval(successes, trials, confidence)
    confidence = _unit(confidence, "confidence")
    s, n = _count_arrays(successes, trials)
    z = _z(confidence)
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


def _wilson_scalar(s: int, n: int, z: float) -> tuple[float, float]:
    p = s / n
    z2n = z * z / n
    center = (p + z2n / 2) / (1 + z2n)
    half = z * math.sqrt(p * (1 - p) / n + z2n / (4 * n)) / (1 + z2n)
    return (0.0 if s == 0 else max(0.0, center - half)), (1.0 if s == n else min(1.0, center + half))


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
    s_a, n_a = _successes(successes_a, trials_a, "successes_a", "trials_a")
    s_b, n_b = _successes(successes_b, trials_b, "successes_b", "trials_b")
    alternative = _choice(alternative, "alternative", ALTERNATIVES)
    confidence = _unit(confidence, "confidence")
    interval = _choice(interval, "interval", _INTERVALS)
    p_a, p_b = s_a / n_a, s_b / n_b
    diff = p_b - p_a
    pooled = (s_a + s_b) / (n_a + n_b)
    se0 = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    z = diff / se0 if se0 > 0 else 0.0
    p_value = _p_from_z(z, alternative) if se0 > 0 else 1.0
    zc = _z(confidence, alternative)
    if interval == "newcombe":
        l_a, u_a = _wilson_scalar(s_a, n_a, zc)
        l_b, u_b = _wilson_scalar(s_b, n_b, zc)
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
    s_a, n_a = _successes(successes_a, trials_a, "successes_a", "trials_a", min_trials=0)
    s_b, n_b = _successes(successes_b, trials_b, "successes_b", "trials_b", min_trials=0)
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
    t = _table(table, shape=None)
    confidence = _unit(confidence, "confidence")
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
    t = _table(table)
    alternative = _choice(alternative, "alternative", ALTERNATIVES)
    confidence = _unit(confidence, "confidence")
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


# ============================================================================ means
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
    x = _sample(a, "a")
    y = _sample(b, "b")
    alternative = _choice(alternative, "alternative", ALTERNATIVES)
    confidence = _unit(confidence, "confidence")
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
    x = _sample(a, "a", min_size=1)
    y = _sample(b, "b", min_size=1)
    alternative = _choice(alternative, "alternative", ALTERNATIVES)
    confidence = _unit(confidence, "confidence")
    method = _choice(method, "method", ("auto", "exact", "asymptotic"))
    if np.ptp(np.concatenate([x, y])) == 0:
        raise ValidationError("a, b: every value is the same: the rank test has nothing to rank")
    res = _sps.mannwhitneyu(y, x, alternative=alternative, method=method)
    u = float(res.statistic)
    p = float(res.pvalue)
    return TestResult(
        method="Mann-Whitney U", statistic=u, p_value=p, alternative=alternative, confidence=confidence,
        significant=p < 1 - confidence, estimate_name="P(b > a)", estimate=u / (x.size * y.size),
    )


_STATISTICS: dict[str, Callable[..., Any]] = {"mean": np.mean, "median": np.median}


def _statistic(statistic: str | Callable[..., Any]) -> Callable[..., Any]:
    if isinstance(statistic, str):
        return _STATISTICS[_choice(statistic, "statistic", tuple(_STATISTICS))]
    if not callable(statistic):
        raise ValidationError(f"statistic={statistic!r}: expected 'mean', 'median' or a function of (x, axis)")
    return statistic


def _bootstrap(data: tuple[np.ndarray, ...], fn: Callable[..., Any], *, paired: bool, confidence: float,
               method: str, n_resamples: int, seed: int | None) -> tuple[float, float]:
    method = _choice(method, "method", ("bca", "percentile", "basic"))
    confidence = _unit(confidence, "confidence")
    n_resamples = _count(n_resamples, "n_resamples", minimum=100)
    # scipy warns (and returns nan) when the resampled statistic is constant: make it an error
    with warnings.catch_warnings():
        warnings.simplefilter("error", _sps.DegenerateDataWarning)
        warnings.simplefilter("error", RuntimeWarning)
        try:
            res = _sps.bootstrap(
                data, fn, n_resamples=n_resamples, paired=paired, confidence_level=confidence,
                method={"bca": "BCa"}.get(method, method), rng=np.random.default_rng(seed),
            )
        except (_sps.DegenerateDataWarning, RuntimeWarning) as exc:
            raise ValidationError(f"data: the bootstrap distribution is degenerate ({exc})") from None
    if not (math.isfinite(res.confidence_interval.low) and math.isfinite(res.confidence_interval.high)):
        raise ValidationError("data: the bootstrap distribution is degenerate (the interval is undefined)")
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def bootstrap_ci(
    sample: Any,
    statistic: str | Callable[..., Any] = "mean",
    *,
    confidence: float = 0.95,
    method: str = "bca",
    n_resamples: int = 9999,
    seed: int | None = 0,
) -> Estimate:
    """Bootstrap confidence interval for a statistic of one sample (seeded, so repeatable).

    ``method="bca"`` (default) is the bias-corrected and accelerated percentile interval of
    Efron (1987): second-order accurate and transformation-respecting, the one to use unless
    there is a reason not to; ``"percentile"`` and ``"basic"`` are the simple ones. Computed by
    scipy's ``bootstrap``; ``statistic`` is ``"mean"``, ``"median"`` or a function ``f(x, axis)``.

    References
    ----------
    Efron, B. (1987). Better bootstrap confidence intervals. JASA 82, 171-185.
    Efron & Tibshirani (1993). An Introduction to the Bootstrap, ch. 14.

    Examples
    --------
    >>> r = bootstrap_ci([2.1, 3.4, 1.9, 5.6, 2.8, 3.3, 4.0, 2.2, 3.1, 2.7], seed=1)
    >>> round(r.estimate, 2), round(r.ci_low, 2), round(r.ci_high, 2)
    (3.11, 2.61, 3.99)
    """
    x = _sample(sample, "sample")
    fn = _statistic(statistic)
    lo, hi = _bootstrap((x,), fn, paired=False, confidence=confidence, method=method,
                        n_resamples=n_resamples, seed=seed)
    name = statistic if isinstance(statistic, str) else getattr(statistic, "__name__", "statistic")
    return Estimate(name=str(name), estimate=float(fn(x)), ci_low=lo, ci_high=hi, confidence=confidence,
                    method=f"bootstrap {method}")


def bootstrap_difference(
    a: Any,
    b: Any,
    statistic: str | Callable[..., Any] = "mean",
    *,
    confidence: float = 0.95,
    method: str = "bca",
    n_resamples: int = 9999,
    seed: int | None = 0,
) -> Estimate:
    """Bootstrap interval for ``statistic(b) - statistic(a)``, two independent samples.

    Each sample is resampled separately; see :func:`bootstrap_ci` for the methods. For the
    same requests scored by both models use :func:`paired_bootstrap_ci`.

    Examples
    --------
    >>> r = bootstrap_difference([1.0, 2.0, 3.0, 4.0, 5.0], [3.0, 4.0, 5.0, 6.0, 7.5], seed=1)
    >>> round(r.estimate, 2), r.ci_low < 2.1 < r.ci_high
    (2.1, True)
    """
    x, y = _sample(a, "a"), _sample(b, "b")
    fn = _statistic(statistic)

    def diff(u, v, axis=-1):
        return fn(v, axis=axis) - fn(u, axis=axis)

    lo, hi = _bootstrap((x, y), diff, paired=False, confidence=confidence, method=method,
                        n_resamples=n_resamples, seed=seed)
    return Estimate(name=f"{_name(statistic)}_b - {_name(statistic)}_a", estimate=float(fn(y) - fn(x)),
                    ci_low=lo, ci_high=hi, confidence=confidence, method=f"bootstrap {method}")


def _name(statistic: str | Callable[..., Any]) -> str:
    return statistic if isinstance(statistic, str) else getattr(statistic, "__name__", "statistic")


# ============================================================================ paired
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
    t = _table(table)
    method = _choice(method, "method", ("exact", "chi2"))
    confidence = _unit(confidence, "confidence")
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
    z = _z(confidence)
    return TestResult(
        method=name, statistic=float(stat), p_value=p, alternative="two-sided", confidence=confidence,
        significant=p < 1 - confidence, df=df, estimate_name="p_b - p_a", estimate=diff,
        ci_low=max(-1.0, diff - z * se), ci_high=min(1.0, diff + z * se),
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
    x, y = _sample(a, "a"), _sample(b, "b")
    if x.size != y.size:
        raise ValidationError(f"a, b: expected paired samples of equal length, got {x.size} and {y.size}")
    alternative = _choice(alternative, "alternative", ALTERNATIVES)
    confidence = _unit(confidence, "confidence")
    d = y - x
    se = float(d.std(ddof=1) / math.sqrt(d.size))
    if se == 0:
        raise ValidationError("a, b: every difference b - a is the same: the t statistic is undefined")
    return _t_result("paired t-test", float(d.mean()), se, float(d.size - 1), alternative, confidence,
                     "mean(b - a)")


def paired_bootstrap_ci(
    a: Any,
    b: Any,
    statistic: str | Callable[..., Any] = "mean",
    *,
    confidence: float = 0.95,
    method: str = "bca",
    n_resamples: int = 9999,
    seed: int | None = 0,
) -> Estimate:
    """Bootstrap interval for ``statistic(b) - statistic(a)`` resampling pairs (same requests).

    Pairs are resampled together, which keeps the correlation between the two models' scores
    on a request; see :func:`bootstrap_ci` for the methods.

    Examples
    --------
    >>> a = [0.61, 0.70, 0.55, 0.82, 0.47, 0.66, 0.73, 0.58, 0.69, 0.77]
    >>> b = [0.64, 0.74, 0.55, 0.86, 0.52, 0.69, 0.75, 0.63, 0.70, 0.80]
    >>> r = paired_bootstrap_ci(a, b, seed=1)
    >>> round(r.estimate, 3), r.ci_low > 0
    (0.03, True)
    """
    x, y = _sample(a, "a"), _sample(b, "b")
    if x.size != y.size:
        raise ValidationError(f"a, b: expected paired samples of equal length, got {x.size} and {y.size}")
    fn = _statistic(statistic)

    def diff(u, v, axis=-1):
        return fn(v, axis=axis) - fn(u, axis=axis)

    lo, hi = _bootstrap((x, y), diff, paired=True, confidence=confidence, method=method,
                        n_resamples=n_resamples, seed=seed)
    return Estimate(name=f"{_name(statistic)}_b - {_name(statistic)}_a (paired)", estimate=float(fn(y) - fn(x)),
                    ci_low=lo, ci_high=hi, confidence=confidence, method=f"bootstrap {method}")


# ============================================================================ effect sizes
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
    s_a, n_a = _successes(successes_a, trials_a, "successes_a", "trials_a")
    s_b, n_b = _successes(successes_b, trials_b, "successes_b", "trials_b")
    confidence = _unit(confidence, "confidence")
    method = _choice(method, "method", ("delta", "log"))
    if s_a == 0:
        raise ValidationError(f"successes_a={s_a}: expected at least one success in the control (the lift over 0 is undefined)")
    p_a, p_b = s_a / n_a, s_b / n_b
    ratio = p_b / p_a
    z = _z(confidence)
    if method == "delta":
        se = math.sqrt(p_b * (1 - p_b) / n_b / p_a**2 + p_b**2 * (1 - p_a) / (n_a * p_a**3))
        lo, hi = ratio - z * se - 1, ratio + z * se - 1
    else:
        if s_b == 0:
            raise ValidationError(f"successes_b={s_b}: expected at least one success for the log interval (use method='delta')")
        se = math.sqrt((1 - p_a) / s_a + (1 - p_b) / s_b)
        lo, hi = ratio * math.exp(-z * se) - 1, ratio * math.exp(z * se) - 1
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
    s_a, n_a = _successes(successes_a, trials_a, "successes_a", "trials_a")
    s_b, n_b = _successes(successes_b, trials_b, "successes_b", "trials_b")
    confidence = _unit(confidence, "confidence")
    h = 2 * math.asin(math.sqrt(s_b / n_b)) - 2 * math.asin(math.sqrt(s_a / n_a))
    half = _z(confidence) * math.sqrt(1 / n_a + 1 / n_b)
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
    x, y = _sample(a, "a"), _sample(b, "b")
    confidence = _unit(confidence, "confidence")
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
    half = _z(confidence) * se
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
    s_a, n_a = _successes(successes_a, trials_a, "successes_a", "trials_a")
    s_b, n_b = _successes(successes_b, trials_b, "successes_b", "trials_b")
    confidence = _unit(confidence, "confidence")
    method = _choice(method, "method", ("woolf", "exact"))
    if method == "exact":
        r = _sps.contingency.odds_ratio([[s_b, n_b - s_b], [s_a, n_a - s_a]], kind="conditional")
        ci = r.confidence_interval(confidence_level=confidence)
        return Estimate(name="odds ratio", estimate=float(r.statistic), ci_low=float(ci.low), ci_high=float(ci.high),
                        confidence=confidence, method="exact conditional")
    cells = np.array([s_b, n_b - s_b, s_a, n_a - s_a], dtype=float)
    if (cells == 0).any():
        cells += 0.5
    log_or = math.log(cells[0] * cells[3] / (cells[1] * cells[2]))
    half = _z(confidence) * math.sqrt(float((1 / cells).sum()))
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
    s_a, n_a = _successes(successes_a, trials_a, "successes_a", "trials_a")
    s_b, n_b = _successes(successes_b, trials_b, "successes_b", "trials_b")
    confidence = _unit(confidence, "confidence")
    for name, s in (("successes_a", s_a), ("successes_b", s_b)):
        if s == 0:
            raise ValidationError(f"{name}=0: expected at least one success (the log risk ratio is undefined)")
    rr = (s_b / n_b) / (s_a / n_a)
    half = _z(confidence) * math.sqrt(1 / s_b - 1 / n_b + 1 / s_a - 1 / n_a)
    return Estimate(name="risk ratio", estimate=rr, ci_low=rr * math.exp(-half), ci_high=rr * math.exp(half),
                    confidence=confidence, method="katz log")


# ============================================================================ planning
@dataclasses.dataclass(frozen=True, repr=False)
class PowerResult(_Result):
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
        what = (f"p_a={_fmt(self.baseline)} p_b={_fmt(self.treatment)}" if self.kind == "proportions"
                else f"effect={_fmt(self.effect)} sd={_fmt(self.sd)}")
        return (f"<PowerResult {self.kind} (solved {self.solved_for}): {what} n_a={_fmt(self.n_a, 7)}"
                f" n_b={_fmt(self.n_b, 7)} alpha={_fmt(self.alpha)} power={_fmt(self.power)}"
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
    c = _z(1 - alpha, alternative)
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
    baseline = _unit(baseline, "baseline")
    if treatment is not None:
        treatment = _unit(treatment, "treatment")
    if n_a is not None:
        n_a = _positive(n_a, "n_a")
    if power is not None:
        power = _unit(power, "power")
    if alpha is not None:
        alpha = _unit(alpha, "alpha")
    ratio = _positive(ratio, "ratio")
    alternative = _choice(alternative, "alternative", ALTERNATIVES)
    method = _choice(method, "method", _POWER_METHODS_P)
    unknown = _one_none(treatment=treatment, n_a=n_a, power=power, alpha=alpha)

    def pw(p_b: float, n: float, a: float) -> float:
        return _prop_power(baseline, p_b, n, a, ratio, alternative, method)

    if unknown == "power":
        power = pw(treatment, n_a, alpha)
    elif unknown == "n_a":
        n_a = _solve(lambda n: pw(treatment, n, alpha) - power, 1e-6, 64.0,
                     f"power={power} for baseline={baseline}, treatment={treatment}", expand=True)
    elif unknown == "alpha":
        alpha = _solve(lambda a: pw(treatment, n_a, a) - power, 1e-15, 1 - 1e-15,
                       f"power={power} with n_a={n_a}")
    else:
        if alternative == "less":
            treatment = _solve(lambda p: pw(baseline - p, n_a, alpha) - power, 0.0, baseline,
                               f"power={power} with n_a={n_a} for any treatment < baseline={baseline}")
            treatment = baseline - treatment
        else:
            treatment = baseline + _solve(lambda p: pw(baseline + p, n_a, alpha) - power, 0.0, 1 - baseline,
                                          f"power={power} with n_a={n_a} for any treatment > baseline={baseline}")
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
    sd = _positive(sd, "sd")
    if n_a is not None:
        n_a = _positive(n_a, "n_a")
    if power is not None:
        power = _unit(power, "power")
    if alpha is not None:
        alpha = _unit(alpha, "alpha")
    ratio = _positive(ratio, "ratio")
    alternative = _choice(alternative, "alternative", ALTERNATIVES)
    method = _choice(method, "method", _POWER_METHODS_M)
    unknown = _one_none(effect=effect, n_a=n_a, power=power, alpha=alpha)
    min_n = 2 / (1 + ratio) if method == "t" else 0.0  # n_a + n_b > 2 for the t-test's df
    if n_a is not None and n_a <= min_n:
        raise ValidationError(f"n_a={n_a!r}: expected more than {min_n:g} (the t-test needs n_a + n_b > 2)")

    def pw(e: float, n: float, a: float) -> float:
        return _mean_power(e / sd, n, a, ratio, alternative, method)

    if unknown == "power":
        power = pw(effect, n_a, alpha)
    elif unknown == "n_a":
        lo = 3 / (1 + ratio) if method == "t" else 1e-6  # from df = 1: below it nctdtr is unreliable
        n_a = _solve(lambda n: pw(effect, n, alpha) - power, lo, max(4.0, 2 * lo),
                     f"power={power} for effect={effect}", expand=True)
    elif unknown == "alpha":
        alpha = _solve(lambda a: pw(effect, n_a, a) - power, 1e-15, 1 - 1e-15, f"power={power} with n_a={n_a}")
    else:
        sign = -1.0 if alternative == "less" else 1.0
        effect = sign * _solve(lambda e: pw(sign * e, n_a, alpha) - power, 0.0, sd,
                               f"power={power} with n_a={n_a}", expand=True)
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
    confidence = _unit(confidence, "confidence")
    margin = _unit(margin, "margin")
    proportion = _unit(proportion, "proportion")
    z = _z(confidence)
    n = z * z * proportion * (1 - proportion) / (margin * margin)
    if population is not None:
        population = _count(population, "population", minimum=1)
        n = n / (1 + (n - 1) / population)
    return _ceil(n)


@dataclasses.dataclass(frozen=True, repr=False)
class TestDuration(_Result):
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
    daily_traffic = _positive(daily_traffic, "daily_traffic")
    if not (isinstance(traffic_fraction, (int, float)) and 0 < traffic_fraction <= 1):
        raise ValidationError(f"traffic_fraction={traffic_fraction!r}: expected a number in (0, 1]")
    per_day = daily_traffic * traffic_fraction
    share_a = 1 / (1 + plan.ratio)
    exact = max(plan.required_a / (per_day * share_a), plan.required_b / (per_day * (1 - share_a)))
    return TestDuration(days=_ceil(exact), exact_days=exact, required_a=plan.required_a,
                        required_b=plan.required_b, daily_traffic=daily_traffic,
                        traffic_fraction=float(traffic_fraction))


# ============================================================================ sequential
@dataclasses.dataclass(frozen=True, repr=False)
class SequentialBounds(_Result):
    """Group-sequential efficacy boundaries on the z scale, one per planned look.

    Reject H0 at look ``k`` (1-based) when ``z_k >= z[k-1]`` (one-sided) or
    ``|z_k| >= z[k-1]`` (two-sided); see :meth:`crossed`. ``nominal_p`` is the fixed-sample
    p-value threshold equivalent to each boundary and ``cumulative_alpha`` the error spent up to
    each look.
    """

    looks: int
    alpha: float
    spending: str
    alternative: str
    information: tuple[float, ...]
    z: tuple[float, ...]
    nominal_p: tuple[float, ...]
    cumulative_alpha: tuple[float, ...]

    def crossed(self, look: int, z: float) -> bool:
        """Whether the z statistic observed at ``look`` (1-based) crosses its boundary."""
        look = _count(look, "look", minimum=1)
        if look > self.looks:
            raise ValidationError(f"look={look}: expected an integer in [1, {self.looks}]")
        stat = abs(z) if self.alternative == "two-sided" else z
        return bool(stat >= self.z[look - 1])

    def __repr__(self) -> str:
        zs = ", ".join(f"{v:.4f}" for v in self.z)
        return (f"<SequentialBounds {self.looks} looks, {self.spending} spending, alpha={self.alpha:g}"
                f" {self.alternative}: z = [{zs}]>")


def _spend(t: np.ndarray, alpha: float, spending: str) -> np.ndarray:
    """Lan-DeMets spending functions: error spent by information fraction ``t`` (one side, level ``alpha``)."""
    if spending == "obrien-fleming":
        return 2.0 * special.ndtr(special.ndtri(alpha / 2) / np.sqrt(t))
    return alpha * np.log1p((math.e - 1) * t)


def _simpson_grid(lo: float, hi: float, step: float) -> tuple[np.ndarray, np.ndarray]:
    m = max(3, 2 * math.ceil((hi - lo) / step / 2) + 1)
    x = np.linspace(lo, hi, m)
    w = np.full(m, 2.0)
    w[1::2] = 4.0
    w[0] = w[-1] = 1.0
    return x, w * ((hi - lo) / (m - 1) / 3)


class _Recursion:
    """Armitage-McPherson-Rowe recursion for the score ``S_k = Z_k sqrt(t_k)`` (independent increments).

    Tracks the sub-density of ``S_k`` on the continuation region with Simpson's rule on a grid
    whose step is a small fraction of the smallest increment's standard deviation (Jennison &
    Turnbull 2000, ch. 19).
    """

    def __init__(self, info: np.ndarray, two_sided: bool, drift: float) -> None:
        self.info = info
        self.two_sided = two_sided
        self.drift = drift
        self.step = float(np.sqrt(np.diff(np.concatenate([[0.0], info])).min())) / 24.0
        self.k = 0
        self.grid: np.ndarray | None = None  # S_{k-1} grid, weights * density
        self.mass: np.ndarray | None = None

    def _moments(self) -> tuple[float, float]:
        prev = self.info[self.k - 1] if self.k else 0.0
        delta = float(self.info[self.k] - prev)
        return delta, self.drift * delta

    def crossing(self, b: float) -> float:
        """P(continue up to look k-1, cross at look k) for boundary ``b`` at the current look."""
        delta, shift = self._moments()
        sq = math.sqrt(delta)
        edge = b * math.sqrt(self.info[self.k])
        u = np.zeros(1) if self.grid is None else self.grid
        mass = np.ones(1) if self.mass is None else self.mass
        p = float(mass @ special.ndtr((u + shift - edge) / sq))
        if self.two_sided:
            p += float(mass @ special.ndtr((-edge - u - shift) / sq))
        return p

    def advance(self, b: float) -> None:
        """Fix the boundary of the current look and move the density to the next one."""
        delta, shift = self._moments()
        sq = math.sqrt(delta)
        root = math.sqrt(self.info[self.k])
        centre = self.drift * self.info[self.k]
        hi = b * root if math.isfinite(b) else centre + 10 * root
        lo = -hi if (self.two_sided and math.isfinite(b)) else min(centre - 10 * root, hi - self.step)
        x, w = _simpson_grid(lo, hi, self.step)
        u = np.zeros(1) if self.grid is None else self.grid
        mass = np.ones(1) if self.mass is None else self.mass
        dens = (np.exp(-0.5 * ((x[:, None] - u[None, :] - shift) / sq) ** 2) @ mass) / (sq * math.sqrt(2 * math.pi))
        self.grid, self.mass = x, w * dens
        self.k += 1


def _information(information: Any, looks: int | None) -> np.ndarray:
    if information is None:
        if looks is None:
            raise ValidationError("information=None: expected the information fractions or a number of looks")
        return np.arange(1, looks + 1) / looks
    try:
        t = np.asarray(information, dtype=float)
    except (TypeError, ValueError):
        raise ValidationError(f"information={information!r}: expected increasing fractions in (0, 1]") from None
    if t.ndim != 1 or t.size == 0 or not np.isfinite(t).all() or t[0] <= 0 or t[-1] > 1 or (np.diff(t) <= 0).any():
        raise ValidationError(f"information={information!r}: expected increasing fractions in (0, 1]")
    if looks is not None and t.size != looks:
        raise ValidationError(f"information={information!r}: expected {looks} fractions, one per look")
    return t


def group_sequential_bounds(
    looks: int,
    alpha: float = 0.025,
    *,
    spending: str = "obrien-fleming",
    alternative: str = "greater",
    information: Sequence[float] | None = None,
) -> SequentialBounds:
    """Efficacy boundaries for ``looks`` interim analyses with Lan-DeMets alpha spending.

    A spending function ``alpha(t)`` fixes how much type I error may be used up by
    information fraction ``t`` (the share of the planned sample seen so far); boundary ``k``
    is the z value whose crossing probability at look ``k``, having not crossed before, is
    ``alpha(t_k) - alpha(t_{k-1})``. The overall false-positive rate is ``alpha`` however the
    looks fall, and looks need not be equally spaced (``information``). Computed exactly by
    numerical integration over the joint normal distribution of the z statistics.

    * ``"obrien-fleming"`` (default): ``alpha(t) = 2 - 2 Phi(z_{1-alpha/2} / sqrt(t))``; spends
      almost nothing early, so early stops need overwhelming evidence and the last boundary
      stays close to the fixed-sample one.
    * ``"pocock"``: ``alpha(t) = alpha log(1 + (e - 1) t)``; near-constant boundaries, earlier
      stops but a higher final threshold.

    ``alpha`` is one-sided for ``alternative="greater"`` (default; for "B is better"), and the
    total for ``"two-sided"``, where each side spends ``alpha/2`` with symmetric boundaries.

    References
    ----------
    Lan, K. K. G. & DeMets, D. L. (1983). Discrete sequential boundaries for clinical trials.
    Biometrika 70, 659-663. Jennison, C. & Turnbull, B. W. (2000). Group Sequential Methods with
    Applications to Clinical Trials, ch. 7 and 19.

    Examples
    --------
    >>> b = group_sequential_bounds(5, 0.025)
    >>> [round(z, 3) for z in b.z]
    [4.877, 3.357, 2.68, 2.29, 2.031]
    >>> b.crossed(3, 2.9), b.crossed(4, 2.1)
    (True, False)
    """
    looks = _count(looks, "looks", minimum=1)
    alpha = _unit(alpha, "alpha")
    spending = _choice(spending, "spending", _SPENDING)
    alternative = _choice(alternative, "alternative", ("greater", "two-sided"))
    t = _information(information, looks)
    two = alternative == "two-sided"
    cumulative = 2 * _spend(t, alpha / 2, spending) if two else _spend(t, alpha, spending)
    increments = np.diff(np.concatenate([[0.0], cumulative]))
    rec = _Recursion(t, two, 0.0)
    z: list[float] = []
    for k in range(looks):
        inc = float(increments[k])
        if inc <= 0:
            b = math.inf
        elif k == 0:
            b = float(-special.ndtri(inc / 2 if two else inc))
        else:
            b = float(optimize.brentq(lambda c, inc=inc: rec.crossing(c) - inc, 0.0 if two else -10.0, 40.0,
                                      xtol=1e-12, rtol=1e-14))
        z.append(b)
        if k < looks - 1:
            rec.advance(b)
    zs = np.array(z)
    nominal = special.ndtr(-zs) * (2 if two else 1)
    return SequentialBounds(
        looks=looks, alpha=alpha, spending=spending, alternative=alternative,
        information=tuple(float(v) for v in t), z=tuple(float(v) for v in zs),
        nominal_p=tuple(float(v) for v in nominal), cumulative_alpha=tuple(float(v) for v in cumulative),
    )


def boundary_crossing_probability(
    z_bounds: Sequence[float],
    information: Sequence[float] | None = None,
    *,
    alternative: str = "greater",
    drift: float = 0.0,
) -> float:
    """Probability that a sequence of z statistics crosses the boundaries at some look.

    With ``drift = 0`` this is the overall type I error of a set of boundaries (check a design
    or a hand-made rule); with ``drift`` = the expected z at full information under an
    alternative it is the power. ``information`` defaults to equally spaced looks.

    References
    ----------
    Armitage, P., McPherson, C. K. & Rowe, B. C. (1969). Repeated significance tests on
    accumulating data. JRSS A 132, 235-244. Jennison & Turnbull (2000), ch. 19.

    Examples
    --------
    Testing at ``|z| >= 1.96`` on each of 5 looks makes the false-positive rate 14 %, not 5 %
    (Armitage et al. 1969):

    >>> round(boundary_crossing_probability([1.96] * 5, alternative="two-sided"), 3)
    0.142
    >>> round(boundary_crossing_probability([2.413] * 5, alternative="two-sided"), 4)  # Pocock's constant
    0.05
    """
    try:
        zb = np.asarray(z_bounds, dtype=float)
    except (TypeError, ValueError):
        raise ValidationError(f"z_bounds={z_bounds!r}: expected a sequence of numbers") from None
    if zb.ndim != 1 or zb.size == 0 or np.isnan(zb).any():
        raise ValidationError(f"z_bounds={z_bounds!r}: expected a non-empty 1-D sequence of numbers")
    alternative = _choice(alternative, "alternative", ("greater", "two-sided"))
    t = _information(information, zb.size)
    if not (isinstance(drift, (int, float)) and math.isfinite(drift)):
        raise ValidationError(f"drift={drift!r}: expected a finite number")
    two = alternative == "two-sided"
    if two and (zb <= 0).any():
        raise ValidationError(f"z_bounds={z_bounds!r}: expected positive boundaries for a two-sided test")
    rec = _Recursion(t, two, float(drift))
    total = 0.0
    for k, b in enumerate(zb):
        total += rec.crossing(float(b)) if math.isfinite(b) else 0.0
        if k < zb.size - 1:
            rec.advance(float(b))
    return total


@dataclasses.dataclass(frozen=True, repr=False)
class AlwaysValidResult(_Result):
    """Always-valid inference for ``p_b - p_a`` after one or more looks (mixture SPRT).

    ``p_value`` and the confidence sequence ``[ci_low, ci_high]`` stay valid however often
    and whenever the data were looked at; ``p_values`` has the running p-value at each look.
    """

    looks: int
    difference: float
    ci_low: float
    ci_high: float
    p_value: float
    significant: bool
    alpha: float
    tau: float
    p_values: tuple[float, ...]

    def __repr__(self) -> str:
        verdict = "significant" if self.significant else "not significant"
        return (f"<AlwaysValidResult after {self.looks} looks: diff={self.difference:+.4g}"
                f" [{self.ci_low:+.4g}, {self.ci_high:+.4g}] p={_fmt(self.p_value)} (alpha={self.alpha:g},"
                f" tau={self.tau:g}): {verdict}>")


def always_valid_test(
    successes_a: Any,
    trials_a: Any,
    successes_b: Any,
    trials_b: Any,
    *,
    alpha: float = 0.05,
    tau: float = 0.05,
) -> AlwaysValidResult:
    """Mixture sequential probability ratio test (mSPRT) for two proportions: peek at will.

    Pass the *cumulative* counts at each look (arrays, oldest first) or just the latest. With
    ``theta = p_b - p_a`` estimated by ``d`` with variance ``V = t_a (1 - t_a) / (n_a + 2) +
    t_b (1 - t_b) / (n_b + 2)``, ``t = (s + 1) / (n + 2)`` (Agresti & Caffo 2000: the plug-in
    ``p q / n`` is 0 for a group with all successes, and a look at 4 of 4 would then count as
    overwhelming evidence),
    and a normal mixture ``theta ~ N(0, tau^2)`` over the alternatives, the likelihood ratio is
    ``L = sqrt(V / (V + tau^2)) exp(tau^2 d^2 / (2 V (V + tau^2)))``; ``p = min(1, 1/L)``, kept as a
    running minimum, is an always-valid p-value and inverting ``L < 1/alpha`` gives the
    confidence sequence ``d +- sqrt(V (V + tau^2) / tau^2 * (2 log(1/alpha) + log((V + tau^2) / V)))``
    (intersected over the looks). By Ville's inequality the chance that it *ever* excludes the
    truth is at most ``alpha`` (asymptotically, through the normal approximation of ``d``).

    ``tau`` is the scale of the differences worth detecting (the default 0.05 suits accuracy or
    conversion differences of a few points); the test is valid for any ``tau``, which only
    moves where it is most powerful. A look where a group is empty carries no evidence
    (p = 1, interval [-1, 1]).

    References
    ----------
    Johari, R., Koomen, P., Pekelis, L. & Walsh, D. (2017). Peeking at A/B tests: why it
    matters, and what to do about it. KDD '17, 1517-1525. Robbins, H. (1970). Statistical
    methods related to the law of the iterated logarithm. Ann. Math. Statist. 41, 1397-1409.
    Howard, S. R., Ramdas, A., McAuliffe, J. & Sekhon, J. (2021). Time-uniform, nonparametric,
    nonasymptotic confidence sequences. Ann. Statist. 49, 1055-1080. Agresti, A. & Caffo, B.
    (2000). Simple and effective confidence intervals for proportions and differences of
    proportions result from adding two successes and two failures. Amer. Statist. 54, 280-288.

    Examples
    --------
    Daily cumulative counts of correct predictions for the current and the candidate model:

    >>> r = always_valid_test([90, 180, 270, 362], [1000, 2000, 3000, 4000],
    ...                       [110, 229, 345, 460], [1000, 2000, 3000, 4000])
    >>> r.looks, round(r.difference, 4), f"{r.p_value:.3g}", r.significant
    (4, 0.0245, '0.0124', True)
    >>> round(r.ci_low, 4), round(r.ci_high, 4)
    (0.0028, 0.0462)
    """
    alpha = _unit(alpha, "alpha")
    tau = _positive(tau, "tau")
    s_a, n_a = _count_arrays(successes_a, trials_a, "successes_a", "trials_a")
    s_b, n_b = _count_arrays(successes_b, trials_b, "successes_b", "trials_b")
    try:
        s_a, n_a, s_b, n_b = (np.atleast_1d(v) for v in np.broadcast_arrays(s_a, n_a, s_b, n_b))
    except ValueError:
        raise ValidationError("successes_a, trials_a, successes_b, trials_b: expected arrays of one length (one entry per look)") from None
    if s_a.ndim != 1:
        raise ValidationError(f"successes_a: expected one count per look (1-D), got shape {s_a.shape}")
    for name, v in (("trials_a", n_a), ("trials_b", n_b), ("successes_a", s_a), ("successes_b", s_b)):
        if (np.diff(v) < 0).any():
            i = int(np.argmax(np.diff(v) < 0)) + 1
            raise ValidationError(f"{name}[{i}]={_num(v[i])}: expected cumulative counts (never smaller than the look before)")
    tau2 = tau * tau
    with np.errstate(divide="ignore", invalid="ignore"):
        p_a, p_b = s_a / n_a, s_b / n_b
        d = p_b - p_a
        # variance from Agresti-Caffo adjusted proportions: the plug-in p q / n is 0 when a
        # group is all successes (4 of 4), which made a tiny look "significant" for ever
        t_a, t_b = (s_a + 1) / (n_a + 2), (s_b + 1) / (n_b + 2)
        v = t_a * (1 - t_a) / (n_a + 2) + t_b * (1 - t_b) / (n_b + 2)
        ok = (n_a > 0) & (n_b > 0) & (v > 0)
        v_ok = np.where(ok, v, 1.0)
        log_lr = 0.5 * np.log(v_ok / (v_ok + tau2)) + tau2 * d**2 / (2 * v_ok * (v_ok + tau2))
        p = np.where(ok, np.minimum(1.0, np.exp(-log_lr)), 1.0)
        half = np.sqrt(v_ok * (v_ok + tau2) / tau2 * (2 * math.log(1 / alpha) + np.log((v_ok + tau2) / v_ok)))
        lo = np.where(ok, d - half, -1.0)
        hi = np.where(ok, d + half, 1.0)
    running = np.minimum.accumulate(p)
    last_d = float(d[-1]) if (n_a[-1] > 0 and n_b[-1] > 0) else 0.0
    return AlwaysValidResult(
        looks=int(p.size), difference=last_d, ci_low=float(max(-1.0, lo.max())), ci_high=float(min(1.0, hi.min())),
        p_value=float(running[-1]), significant=bool(running[-1] < alpha), alpha=alpha, tau=tau,
        p_values=tuple(float(x) for x in running),
    )


# ============================================================================ guardrails
@dataclasses.dataclass(frozen=True, repr=False)
class SRMResult(_Result):
    """A sample-ratio-mismatch check: observed group sizes against the configured split."""

    observed: tuple[int, ...]
    expected_share: tuple[float, ...]
    expected: tuple[float, ...]
    chi2: float
    df: int
    p_value: float
    threshold: float
    mismatch: bool

    def __repr__(self) -> str:
        shares = "/".join(f"{o / sum(self.observed):.4f}" for o in self.observed) if sum(self.observed) else "-"
        verdict = "MISMATCH" if self.mismatch else "ok"
        return (f"<SRMResult observed {list(self.observed)} ({shares}) chi2={self.chi2:.4g} p={_fmt(self.p_value)}"
                f" (threshold {self.threshold:g}): {verdict}>")


def sample_ratio_mismatch(
    counts: Sequence[int], expected: Sequence[float] | None = None, *, threshold: float = 0.001
) -> SRMResult:
    """Sample-ratio-mismatch check: chi-square goodness of fit of group sizes to the split.

    If a 50/50 test gets 50.4 % / 49.6 % of a million users, the split is broken (a redirect
    that drops users, a bot filter on one arm, a crash in the new version), and the groups are
    no longer comparable: any metric difference is suspect. ``expected`` is the configured
    split, as shares or weights (``(0.8, 0.2)`` or ``(80, 20)``; equal by default). Flags a
    mismatch at ``p < threshold``, 0.001 by default: the check runs on every test and every
    refresh, so its threshold is strict (Kohavi, Tang & Xu 2020, ch. 21; Fabijan et al. 2019).
    Same statistic as scipy's ``chisquare``.

    References
    ----------
    Fabijan, A. et al. (2019). Diagnosing sample ratio mismatch in online controlled
    experiments. KDD '19. Kohavi, R., Tang, D. & Xu, Y. (2020). Trustworthy Online Controlled
    Experiments, ch. 3 and 21.

    Examples
    --------
    >>> r = sample_ratio_mismatch([821_588, 815_482])
    >>> round(r.chi2, 2), f"{r.p_value:.2g}", r.mismatch
    (22.77, '1.8e-06', True)
    >>> sample_ratio_mismatch([8_050, 1_950], expected=(0.8, 0.2)).mismatch
    False
    """
    try:
        arr = np.asarray(counts, dtype=float)
    except (TypeError, ValueError):
        raise ValidationError(f"counts={counts!r}: expected group sizes (integers >= 0)") from None
    if arr.ndim != 1 or arr.size < 2:
        raise ValidationError(f"counts={counts!r}: expected at least two group sizes")
    bad = ~(np.isfinite(arr) & (arr >= 0) & (arr == np.floor(arr)))
    if bad.any():
        i = int(np.argmax(bad))
        raise ValidationError(f"counts[{i}]={counts[i]!r}: expected an integer >= 0")
    total = arr.sum()
    if total == 0:
        raise ValidationError(f"counts={list(counts)!r}: expected at least one unit in some group")
    if expected is None:
        share = np.full(arr.size, 1.0 / arr.size)
    else:
        try:
            w = np.asarray(expected, dtype=float)
        except (TypeError, ValueError):
            raise ValidationError(f"expected={expected!r}: expected one positive weight per group") from None
        if w.shape != arr.shape or not (np.isfinite(w) & (w > 0)).all():
            raise ValidationError(f"expected={expected!r}: expected {arr.size} positive weights, one per group")
        share = w / w.sum()
    threshold = _unit(threshold, "threshold")
    exp_counts = share * total
    chi2 = float(((arr - exp_counts) ** 2 / exp_counts).sum())
    df = arr.size - 1
    p = float(special.chdtrc(df, chi2))
    return SRMResult(
        observed=tuple(int(c) for c in arr), expected_share=tuple(float(s) for s in share),
        expected=tuple(float(e) for e in exp_counts), chi2=chi2, df=df, p_value=p, threshold=threshold,
        mismatch=p < threshold,
    )


@dataclasses.dataclass(frozen=True, repr=False)
class MultipleTestingResult(_Result):
    """Adjusted p-values, decisions, and intervals that agree with the decisions."""

    method: str
    alpha: float
    p_values: tuple[float, ...]
    p_adjusted: tuple[float, ...]
    reject: tuple[bool, ...]
    interval_confidence: float
    ci_low: tuple[float, ...] | None = None
    ci_high: tuple[float, ...] | None = None

    def __repr__(self) -> str:
        return (f"<MultipleTestingResult {self.method} alpha={self.alpha:g}: {sum(self.reject)} of"
                f" {len(self.reject)} rejected, intervals at {self.interval_confidence:.4g}>")


def adjust_p_values(
    p_values: Sequence[float],
    *,
    method: str = "holm",
    alpha: float = 0.05,
    estimates: Sequence[float] | None = None,
    std_errors: Sequence[float] | None = None,
) -> MultipleTestingResult:
    """Holm, Benjamini-Hochberg or Bonferroni adjustment, with decision-consistent intervals.

    * ``"holm"`` (default): step-down Bonferroni; controls the family-wise error rate (the
      chance of any false positive) at ``alpha`` and is uniformly better than Bonferroni.
    * ``"bh"``: Benjamini-Hochberg step-up; controls the false discovery rate (the expected
      share of false positives among the rejections), for many metrics or segments.
    * ``"bonferroni"``: ``min(1, m p)``; simultaneous intervals at ``1 - alpha/m``.

    Adjusted p-values equal statsmodels' ``multipletests`` (``holm``, ``fdr_bh``,
    ``bonferroni``); ``reject`` is ``p_adjusted <= alpha``. ``interval_confidence`` is the level
    at which each hypothesis' interval agrees with the adjusted decision (the interval excludes
    the null value exactly when the hypothesis is rejected): ``1 - alpha/m`` for Bonferroni,
    ``1 - alpha/(m - R)`` for Holm with ``R < m`` rejections (``1 - alpha`` when all are
    rejected), and ``1 - max(R, 1) alpha/m`` for BH (the false-coverage-rate intervals of
    Benjamini & Yekutieli 2005). Holm's intervals are decision-consistent but do not have the
    simultaneous coverage of Bonferroni's. Pass ``estimates`` and ``std_errors`` of the
    (two-sided, normal) tests behind ``p_values`` to get those intervals.

    References
    ----------
    Holm, S. (1979). Scand. J. Statist. 6, 65-70. Benjamini, Y. & Hochberg, Y. (1995). JRSS B
    57, 289-300. Benjamini, Y. & Yekutieli, D. (2005). False discovery rate-adjusted multiple
    confidence intervals for selected parameters. JASA 100, 71-81.

    Examples
    --------
    >>> r = adjust_p_values([0.01, 0.04, 0.03, 0.005])
    >>> [round(p, 3) for p in r.p_adjusted], r.reject
    ([0.03, 0.06, 0.06, 0.02], (True, False, False, True))
    >>> r = adjust_p_values([0.01, 0.04, 0.03, 0.005], method="bh")
    >>> [round(p, 3) for p in r.p_adjusted], r.reject
    ([0.02, 0.04, 0.04, 0.02], (True, True, True, True))
    """
    try:
        p = np.asarray(p_values, dtype=float)
    except (TypeError, ValueError):
        raise ValidationError(f"p_values={p_values!r}: expected numbers in [0, 1]") from None
    if p.ndim != 1 or p.size == 0:
        raise ValidationError(f"p_values={p_values!r}: expected a non-empty 1-D sequence")
    bad = ~(np.isfinite(p) & (p >= 0) & (p <= 1))
    if bad.any():
        i = int(np.argmax(bad))
        raise ValidationError(f"p_values[{i}]={float(p[i])!r}: expected a number in [0, 1]")
    method = _choice(method, "method", _ADJUST)
    alpha = _unit(alpha, "alpha")
    m = p.size
    order = np.argsort(p, kind="stable")
    ps = p[order]
    ranks = np.arange(1, m + 1)
    if method == "bonferroni":
        adj_sorted = np.minimum(1.0, m * ps)
    elif method == "holm":
        adj_sorted = np.minimum(1.0, np.maximum.accumulate((m - ranks + 1) * ps))
    else:
        adj_sorted = np.minimum(1.0, np.minimum.accumulate((m * ps / ranks)[::-1])[::-1])
    adj = np.empty(m)
    adj[order] = adj_sorted
    reject = adj <= alpha
    r = int(reject.sum())
    if method == "bonferroni":
        level = 1 - alpha / m
    elif method == "holm":
        level = 1 - alpha / max(m - r, 1)
    else:
        level = 1 - max(r, 1) * alpha / m
    lo = hi = None
    if (estimates is None) != (std_errors is None):
        raise ValidationError("estimates, std_errors: expected both or neither")
    if estimates is not None:
        est = _sample(estimates, "estimates", min_size=1)
        se = _sample(std_errors, "std_errors", min_size=1)
        if est.size != m or se.size != m:
            raise ValidationError(f"estimates, std_errors: expected {m} values each, one per p-value")
        if (se <= 0).any():
            i = int(np.argmax(se <= 0))
            raise ValidationError(f"std_errors[{i}]={float(se[i])!r}: expected a number > 0")
        z = _z(level)
        lo = tuple(float(v) for v in est - z * se)
        hi = tuple(float(v) for v in est + z * se)
    return MultipleTestingResult(
        method=method, alpha=alpha, p_values=tuple(float(v) for v in p), p_adjusted=tuple(float(v) for v in adj),
        reject=tuple(bool(v) for v in reject), interval_confidence=level, ci_low=lo, ci_high=hi,
    )


# ============================================================================ Bayesian
@dataclasses.dataclass(frozen=True, repr=False)
class BayesianResult(_Result):
    """Posterior comparison of two proportions under independent Beta priors."""

    prob_b_beats_a: float
    expected_loss_a: float
    expected_loss_b: float
    posterior_a: tuple[float, float]
    posterior_b: tuple[float, float]
    prior: tuple[float, float]

    def __repr__(self) -> str:
        return (f"<BayesianResult P(b > a)={self.prob_b_beats_a:.4f} loss(choose a)={self.expected_loss_a:.3g}"
                f" loss(choose b)={self.expected_loss_b:.3g}>")


def _beta_sum(a_a: float, b_a: float, a_b: float, b_b: float) -> float:
    """P(X_b > X_a) for X ~ Beta, by Evan Miller's closed form; ``a_b`` must be an integer."""
    i = np.arange(int(a_b), dtype=float)
    log_terms = (special.betaln(a_a + i, b_a + b_b) - np.log(b_b + i) - special.betaln(1 + i, b_b)
                 - special.betaln(a_a, b_a))
    return float(np.exp(special.logsumexp(log_terms)))


def _prob_greater(a_a: float, b_a: float, a_b: float, b_b: float) -> float:
    """P(X_b > X_a), X_a ~ Beta(a_a, b_a), X_b ~ Beta(a_b, b_b): exact sum over the smallest integer parameter."""
    options = []
    if float(a_b).is_integer():
        options.append((a_b, lambda: _beta_sum(a_a, b_a, a_b, b_b)))
    if float(a_a).is_integer():
        options.append((a_a, lambda: 1 - _beta_sum(a_b, b_b, a_a, b_a)))
    if float(b_a).is_integer():
        options.append((b_a, lambda: _beta_sum(b_b, a_b, b_a, a_a)))
    if float(b_b).is_integer():
        options.append((b_b, lambda: 1 - _beta_sum(b_a, a_a, b_b, a_b)))
    if options:
        value = min(options, key=lambda o: o[0])[1]()
    else:  # no integer parameter: integrate density of a times survival of b
        mean = a_a / (a_a + b_a)
        value, _ = integrate.quad(
            lambda x: math.exp(_sps.beta.logpdf(x, a_a, b_a)) * float(special.betainc(a_b, b_b, x)) if 0 < x < 1 else 0.0,
            0.0, 1.0, points=[mean], limit=500, epsabs=1e-13, epsrel=1e-11,
        )
        value = 1 - value
    return min(1.0, max(0.0, value))


def chance_to_beat_control(
    successes_a: int,
    trials_a: int,
    successes_b: int,
    trials_b: int,
    *,
    prior: tuple[float, float] = (1.0, 1.0),
) -> BayesianResult:
    """Bayesian chance that ``p_b > p_a`` and the expected loss of each choice (Beta posteriors).

    With a ``Beta(alpha0, beta0)`` prior (uniform by default) each posterior is
    ``Beta(alpha0 + successes, beta0 + failures)``. ``prob_b_beats_a`` is computed exactly
    with Evan Miller's closed form (a finite sum, over the smallest integer posterior
    parameter); ``expected_loss_b = E[max(p_a - p_b, 0)]`` is what choosing ``b`` costs on
    average if ``a`` is in fact better, and ``expected_loss_a`` the converse (Stucchio 2015);
    stop when the chosen version's loss is below a threshold of caring. Not a frequentist test:
    it has no error-rate guarantee under peeking.

    References
    ----------
    Miller, E. (2015). Formulas for Bayesian A/B testing. evanmiller.org/bayesian-ab-testing.html.
    Stucchio, C. (2015). Bayesian A/B testing at VWO (whitepaper).

    Examples
    --------
    >>> r = chance_to_beat_control(100, 1000, 120, 1000)
    >>> round(r.prob_b_beats_a, 4), round(r.expected_loss_b, 5), round(r.expected_loss_a, 5)
    (0.9232, 0.00048, 0.02044)
    """
    s_a, n_a = _successes(successes_a, trials_a, "successes_a", "trials_a", min_trials=0)
    s_b, n_b = _successes(successes_b, trials_b, "successes_b", "trials_b", min_trials=0)
    if not (isinstance(prior, (tuple, list)) and len(prior) == 2):
        raise ValidationError(f"prior={prior!r}: expected (alpha0, beta0), two numbers > 0")
    a0, b0 = (_positive(v, "prior") for v in prior)
    a_a, b_a = a0 + s_a, b0 + n_a - s_a
    a_b, b_b = a0 + s_b, b0 + n_b - s_b
    m_a, m_b = a_a / (a_a + b_a), a_b / (a_b + b_b)
    prob = _prob_greater(a_a, b_a, a_b, b_b)
    loss_b = m_a * _prob_greater(a_b, b_b, a_a + 1, b_a) - m_b * _prob_greater(a_b + 1, b_b, a_a, b_a)
    loss_a = m_b * _prob_greater(a_a, b_a, a_b + 1, b_b) - m_a * _prob_greater(a_a + 1, b_a, a_b, b_b)
    return BayesianResult(
        prob_b_beats_a=prob, expected_loss_a=max(0.0, loss_a), expected_loss_b=max(0.0, loss_b),
        posterior_a=(a_a, b_a), posterior_b=(a_b, b_b), prior=(a0, b0),
    )
