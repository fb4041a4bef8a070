"""Tests that are safe under peeking: group-sequential boundaries with alpha spending, their
crossing probabilities, and the always-valid mixture SPRT.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import optimize, special

from ..errors import ValidationError
from ._common import (
    ResultBase,
    check_choice,
    check_count,
    check_count_arrays,
    check_positive,
    check_unit,
    fmt_number,
    number_text,
)

__all__ = [
    "SequentialBounds",
    "AlwaysValidResult",
    "group_sequential_bounds",
    "boundary_crossing_probability",
    "always_valid_test",
]

_SPENDING = ("obrien-fleming", "pocock")


@dataclasses.dataclass(frozen=True, repr=False)
class SequentialBounds(ResultBase):
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
        look = check_count(look, "look", minimum=1)
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
    looks = check_count(looks, "looks", minimum=1)
    alpha = check_unit(alpha, "alpha")
    spending = check_choice(spending, "spending", _SPENDING)
    alternative = check_choice(alternative, "alternative", ("greater", "two-sided"))
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
    alternative = check_choice(alternative, "alternative", ("greater", "two-sided"))
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
class AlwaysValidResult(ResultBase):
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
                f" [{self.ci_low:+.4g}, {self.ci_high:+.4g}] p={fmt_number(self.p_value)} (alpha={self.alpha:g},"
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
    alpha = check_unit(alpha, "alpha")
    tau = check_positive(tau, "tau")
    s_a, n_a = check_count_arrays(successes_a, trials_a, "successes_a", "trials_a")
    s_b, n_b = check_count_arrays(successes_b, trials_b, "successes_b", "trials_b")
    try:
        s_a, n_a, s_b, n_b = (np.atleast_1d(v) for v in np.broadcast_arrays(s_a, n_a, s_b, n_b))
    except ValueError:
        raise ValidationError("successes_a, trials_a, successes_b, trials_b: expected arrays of one length (one entry per look)") from None
    if s_a.ndim != 1:
        raise ValidationError(f"successes_a: expected one count per look (1-D), got shape {s_a.shape}")
    for name, v in (("trials_a", n_a), ("trials_b", n_b), ("successes_a", s_a), ("successes_b", s_b)):
        if (np.diff(v) < 0).any():
            i = int(np.argmax(np.diff(v) < 0)) + 1
            raise ValidationError(f"{name}[{i}]={number_text(v[i])}: expected cumulative counts (never smaller than the look before)")
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
