"""Bootstrap confidence intervals (BCa by default, seeded): one sample, two samples, paired samples."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import stats as _sps

from ..errors import ValidationError
from ._common import (
    check_choice,
    check_count,
    check_sample,
    check_unit,
)
from .results import Estimate

__all__ = [
    "bootstrap_ci",
    "bootstrap_difference",
    "paired_bootstrap_ci",
]


_STATISTICS: dict[str, Callable[..., Any]] = {"mean": np.mean, "median": np.median}


def _statistic(statistic: str | Callable[..., Any]) -> Callable[..., Any]:
    if isinstance(statistic, str):
        return _STATISTICS[check_choice(statistic, "statistic", tuple(_STATISTICS))]
    if not callable(statistic):
        raise ValidationError(f"statistic={statistic!r}: expected 'mean', 'median' or a function of (x, axis)")
    return statistic


def _bootstrap(data: tuple[np.ndarray, ...], fn: Callable[..., Any], *, paired: bool, confidence: float,
               method: str, n_resamples: int, seed: int | None) -> tuple[float, float]:
    method = check_choice(method, "method", ("bca", "percentile", "basic"))
    confidence = check_unit(confidence, "confidence")
    n_resamples = check_count(n_resamples, "n_resamples", minimum=100)
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
    x = check_sample(sample, "sample")
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
    x, y = check_sample(a, "a"), check_sample(b, "b")
    fn = _statistic(statistic)

    def diff(u, v, axis=-1):
        return fn(v, axis=axis) - fn(u, axis=axis)

    lo, hi = _bootstrap((x, y), diff, paired=False, confidence=confidence, method=method,
                        n_resamples=n_resamples, seed=seed)
    return Estimate(name=f"{_name(statistic)}_b - {_name(statistic)}_a", estimate=float(fn(y) - fn(x)),
                    ci_low=lo, ci_high=hi, confidence=confidence, method=f"bootstrap {method}")


def _name(statistic: str | Callable[..., Any]) -> str:
    return statistic if isinstance(statistic, str) else getattr(statistic, "__name__", "statistic")


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
    x, y = check_sample(a, "a"), check_sample(b, "b")
    if x.size != y.size:
        raise ValidationError(f"a, b: expected paired samples of equal length, got {x.size} and {y.size}")
    fn = _statistic(statistic)

    def diff(u, v, axis=-1):
        return fn(v, axis=axis) - fn(u, axis=axis)

    lo, hi = _bootstrap((x, y), diff, paired=True, confidence=confidence, method=method,
                        n_resamples=n_resamples, seed=seed)
    return Estimate(name=f"{_name(statistic)}_b - {_name(statistic)}_a (paired)", estimate=float(fn(y) - fn(x)),
                    ci_low=lo, ci_high=hi, confidence=confidence, method=f"bootstrap {method}")
