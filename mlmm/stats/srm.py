"""Sample-ratio-mismatch check: do the group sizes fit the configured traffic split?"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
from scipy import special

from ..errors import ValidationError
from ._common import (
    ResultBase,
    check_unit,
    fmt_number,
)

__all__ = [
    "SRMResult",
    "sample_ratio_mismatch",
]


@dataclasses.dataclass(frozen=True, repr=False)
class SRMResult(ResultBase):
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
        return (f"<SRMResult observed {list(self.observed)} ({shares}) chi2={self.chi2:.4g} p={fmt_number(self.p_value)}"
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
    threshold = check_unit(threshold, "threshold")
    exp_counts = share * total
    chi2 = float(((arr - exp_counts) ** 2 / exp_counts).sum())
    df = arr.size - 1
    p = float(special.chdtrc(df, chi2))
    return SRMResult(
        observed=tuple(int(c) for c in arr), expected_share=tuple(float(s) for s in share),
        expected=tuple(float(e) for e in exp_counts), chi2=chi2, df=df, p_value=p, threshold=threshold,
        mismatch=p < threshold,
    )
