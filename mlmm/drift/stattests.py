"""The two-sample tests and distances of one column: KS, Wasserstein, Anderson-Darling, PSI,
Jensen-Shannon, chi-square and z, on prepared sides (see the table in :mod:`mlmm.drift`).

Pure functions of sorted arrays and counts; :data:`TESTS` lists each test's column kinds, whether
it gives a p-value and its default threshold.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
from scipy import special, stats

from ..errors import ValidationError
from .prepared import NumericSide, rank_means

__all__ = [
    "KS_EXACT_MAX",
    "PSI_EPSILON",
    "TESTS",
    "anderson_test",
    "chisquare_test",
    "js_counts",
    "ks_test",
    "psi",
    "psi_counts",
    "wasserstein_test",
    "z_test",
]

PSI_EPSILON = 1e-4
#: Both samples at most this size: the KS p-value is scipy's exact one, else Smirnov's asymptotic one.
KS_EXACT_MAX = 10_000
_LN2 = math.log(2.0)


@dataclasses.dataclass(frozen=True)
class _Test:
    kinds: tuple[str, ...]
    pvalue: bool
    threshold: float
    needs_raw: bool = False


#: The tests, the column kinds they accept, whether they give a p-value, their default threshold.
TESTS: dict[str, _Test] = {
    "ks": _Test(("numeric",), True, 0.05),
    "wasserstein": _Test(("numeric",), False, 0.1),
    "anderson": _Test(("numeric",), True, 0.05, needs_raw=True),
    "psi": _Test(("numeric", "categorical"), False, 0.1),
    "jensenshannon": _Test(("numeric", "categorical"), False, 0.1),
    "chisquare": _Test(("categorical",), True, 0.05),
    "z": _Test(("categorical",), True, 0.05),
}


def psi(
    reference: Sequence[float] | np.ndarray,
    current: Sequence[float] | np.ndarray,
    *,
    epsilon: float = PSI_EPSILON,
) -> float:
    """Population stability index of two histograms (counts or proportions over the same bins).

    ``sum((c_i - r_i) * ln(c_i / r_i))`` with each histogram scaled to proportions and a proportion
    of 0 replaced by ``epsilon``.

    >>> round(psi([0.25, 0.25, 0.25, 0.25], [0.10, 0.20, 0.30, 0.40]), 4)
    0.2282
    >>> psi([10, 0], [10, 0])
    0.0
    """
    r = np.asarray(reference, dtype=float)
    c = np.asarray(current, dtype=float)
    if r.shape != c.shape or r.ndim != 1 or r.size == 0:
        raise ValidationError(
            f"psi: shapes {r.shape} and {c.shape}: expected two 1-d histograms of the same length"
        )
    if (r < 0).any() or (c < 0).any() or r.sum() <= 0 or c.sum() <= 0:
        raise ValidationError("psi: expected non-negative counts or proportions with a positive total")
    return psi_counts(r, c, epsilon)


def ks_test(ref: NumericSide, cur: NumericSide) -> tuple[float, float, bool]:
    """(D, p-value, approximate). Exact D from sorted samples, see the module docstring."""
    c = cur.values
    assert c is not None
    n, m = ref.n, c.size
    if ref.values is not None:
        # D+ = max over r_i of F_r(r_i) - F_c(r_i); D- = max over r_i of F_c(r_i-) - F_r(r_i-).
        # One search of r in c; the right side differs from the left only where values tie.
        r = ref.values
        left = np.searchsorted(c, r, side="left")
        right = left.copy()
        tied = c[np.minimum(left, m - 1)] == r
        if tied.any():
            right[tied] = np.searchsorted(c, r[tied], side="right")
        i = np.arange(n)
        up = (i + 1) / n - right / m
        down = left / m - i / n
        d = float(max(up.max(), down.max(), 0.0))
        approx = False
    else:
        assert ref.grid_q is not None and ref.grid_cdf is not None
        fc = np.searchsorted(c, ref.grid_q, side="right") / m
        d = float(np.abs(ref.grid_cdf - fc).max())
        approx = True
    if not approx and max(n, m) <= KS_EXACT_MAX:
        assert ref.values is not None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # scipy falls back to asymp itself
            p = float(stats.ks_2samp(ref.values, c, method="auto").pvalue)
    else:
        big, small = max(n, m), min(n, m)
        p = float(np.clip(stats.kstwo.sf(d, np.round(big * small / (big + small))), 0.0, 1.0))
    return d, p, approx


@lru_cache(maxsize=2)  # up to ~50 MB an entry at 1 M values
def _quantile_merge(n: int, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Index pairs and weights that align the quantile functions of samples of sizes n and m."""
    t = np.union1d(np.arange(0, n * m + 1, m, dtype=np.int64), np.arange(0, n * m + 1, n, dtype=np.int64))
    left = t[:-1]
    return left // m, left // n, np.diff(t) / (n * m)


def _w1_sorted(r: np.ndarray, c: np.ndarray) -> float:
    """Wasserstein-1 distance of two sorted samples: the integral of |Q_r(u) - Q_c(u)|."""
    if r.size == c.size:
        diff = np.subtract(r, c)
        return float(np.abs(diff, out=diff).sum()) / r.size
    ir, ic, w = _quantile_merge(r.size, c.size)
    return float(np.dot(w, np.abs(r[ir] - c[ic])))


def wasserstein_test(ref: NumericSide, cur: NumericSide) -> tuple[float, dict[str, Any], bool]:
    """(normalized Wasserstein-1, details, approximate); see the module docstring of :mod:`mlmm.drift`."""
    c = cur.values
    assert c is not None
    if ref.values is not None:
        w1 = _w1_sorted(ref.values, c)
        approx = False
    else:
        assert ref.grid_means is not None
        mr = ref.grid_means
        mc = rank_means(c, mr.size)
        keep = np.isfinite(mr) & np.isfinite(mc)
        w1 = float(np.abs(mr[keep] - mc[keep]).sum()) / max(int(keep.sum()), 1)
        approx = True
    scale = ref.std
    details: dict[str, Any] = {"wasserstein": w1, "std_reference": ref.std}
    if not scale > 0:
        n, m = ref.n, c.size
        mean = (n * ref.mean + m * cur.mean) / (n + m)
        var = (n * (ref.std**2 + ref.mean**2) + m * (cur.std**2 + cur.mean**2)) / (n + m) - mean**2
        scale = math.sqrt(max(var, 0.0))
        details["scale"] = "pooled std (constant reference)"
    stat = w1 / scale if scale > 0 else 0.0
    return stat, details, approx


def anderson_test(ref: NumericSide, cur: NumericSide) -> tuple[float, float]:
    """(A2, p-value) of scipy's k-sample Anderson-Darling test (midrank); needs both raw samples."""
    assert ref.values is not None and cur.values is not None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "p-value capped"
        try:
            res = stats.anderson_ksamp([ref.values, cur.values], variant="midrank")
        except TypeError:  # scipy < 1.17 has no `variant`
            res = stats.anderson_ksamp([ref.values, cur.values], midrank=True)
    return float(res.statistic), float(res.pvalue)


def psi_counts(r: np.ndarray, c: np.ndarray, epsilon: float = PSI_EPSILON) -> float:
    """:func:`psi` of two count vectors over the same bins, without the checks."""
    pr = r / r.sum()
    pc = c / c.sum()
    pr = np.where(pr == 0, epsilon, pr)
    pc = np.where(pc == 0, epsilon, pc)
    return float(np.sum((pc - pr) * np.log(pc / pr)))


def js_counts(r: np.ndarray, c: np.ndarray) -> float:
    """Jensen-Shannon distance, base 2, computed as scipy.spatial.distance.jensenshannon does."""
    p = r / r.sum()
    q = c / c.sum()
    mid = (p + q) / 2.0
    js = (special.rel_entr(p, mid).sum() + special.rel_entr(q, mid).sum()) / _LN2
    return float(np.sqrt(max(js, 0.0) / 2.0))


def chisquare_test(r: np.ndarray, c: np.ndarray) -> tuple[float, float, int]:
    """Pearson chi-square test of homogeneity of the 2 x k table; (statistic, p-value, dof)."""
    keep = (r + c) > 0
    r, c = r[keep].astype(float), c[keep].astype(float)
    k = r.size
    if k < 2:
        return 0.0, 1.0, 0
    n, m = r.sum(), c.sum()
    total = r + c
    er, ec = total * n / (n + m), total * m / (n + m)
    chi2 = float(np.sum((r - er) ** 2 / er) + np.sum((c - ec) ** 2 / ec))
    return chi2, float(stats.chi2.sf(chi2, k - 1)), k - 1


def z_test(r: np.ndarray, c: np.ndarray, label: Any) -> tuple[float, float, dict[str, Any]]:
    """Two-proportion z-test (pooled variance) on the share of the first category."""
    n, m = float(r.sum()), float(c.sum())
    if r.size == 0:
        return 0.0, 1.0, {}
    p1, p2 = r[0] / n, c[0] / m
    pooled = (r[0] + c[0]) / (n + m)
    var = pooled * (1 - pooled) * (1 / n + 1 / m)
    if var <= 0:
        return 0.0, 1.0, {"category": label}
    z = float((p2 - p1) / math.sqrt(var))
    return z, float(2 * stats.norm.sf(abs(z))), {"category": label}
