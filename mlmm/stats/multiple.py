"""Multiple testing: Holm, Benjamini-Hochberg and Bonferroni adjusted p-values with decision-consistent
intervals.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from ..errors import ValidationError
from ._common import (
    ResultBase,
    check_choice,
    check_sample,
    check_unit,
    z_quantile,
)

__all__ = [
    "MultipleTestingResult",
    "adjust_p_values",
]

_ADJUST = ("holm", "bh", "bonferroni")


@dataclasses.dataclass(frozen=True, repr=False)
class MultipleTestingResult(ResultBase):
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
    method = check_choice(method, "method", _ADJUST)
    alpha = check_unit(alpha, "alpha")
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
        est = check_sample(estimates, "estimates", min_size=1)
        se = check_sample(std_errors, "std_errors", min_size=1)
        if est.size != m or se.size != m:
            raise ValidationError(f"estimates, std_errors: expected {m} values each, one per p-value")
        if (se <= 0).any():
            i = int(np.argmax(se <= 0))
            raise ValidationError(f"std_errors[{i}]={float(se[i])!r}: expected a number > 0")
        z = z_quantile(level)
        lo = tuple(float(v) for v in est - z * se)
        hi = tuple(float(v) for v in est + z * se)
    return MultipleTestingResult(
        method=method, alpha=alpha, p_values=tuple(float(v) for v in p), p_adjusted=tuple(float(v) for v in adj),
        reject=tuple(bool(v) for v in reject), interval_confidence=level, ci_low=lo, ci_high=hi,
    )
