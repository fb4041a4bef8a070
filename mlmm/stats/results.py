"""The result classes shared by the tests: :class:`Estimate`, :class:`TestResult`, :class:`ProportionTestResult`.

Each is a frozen dataclass with ``to_dict()`` (JSON-safe) and a one-line ``repr`` for notebooks.
"""

from __future__ import annotations

import dataclasses

from ._common import (
    ResultBase,
    check_unit,
    fmt_number,
)

__all__ = [
    "Estimate",
    "ProportionTestResult",
    "TestResult",
]


@dataclasses.dataclass(frozen=True, repr=False)
class Estimate(ResultBase):
    """A point estimate with its interval (effect sizes, lifts, bootstrap intervals)."""

    name: str
    estimate: float
    ci_low: float
    ci_high: float
    confidence: float
    method: str

    def __repr__(self) -> str:
        return (f"<Estimate {self.name}={fmt_number(self.estimate)} [{fmt_number(self.ci_low)}, {fmt_number(self.ci_high)}]"
                f" ({self.method}, {self.confidence:.0%})>")


@dataclasses.dataclass(frozen=True, repr=False)
class ProportionTestResult(ResultBase):
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
        return self.p_value < check_unit(alpha, "alpha")

    def __repr__(self) -> str:
        verdict = "significant" if self.significant else "not significant"
        return (f"<ProportionTestResult p_a={self.p_a:.4g} p_b={self.p_b:.4g} diff={self.difference:+.4g}"
                f" [{self.ci_low:+.4g}, {self.ci_high:+.4g}] z={self.z:.3f} p={self.p_value:.4g}"
                f" ({self.alternative}, {self.interval} {self.confidence:.0%}): {verdict}>")


@dataclasses.dataclass(frozen=True, repr=False)
class TestResult(ResultBase):
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
        return self.p_value < check_unit(alpha, "alpha")

    def __repr__(self) -> str:
        df = f" df={fmt_number(self.df)}" if self.df is not None else ""
        est = ""
        if self.estimate is not None:
            est = f" {self.estimate_name}={fmt_number(self.estimate)}"
            if self.ci_low is not None:
                est += f" [{fmt_number(self.ci_low)}, {fmt_number(self.ci_high)}]"
        verdict = "significant" if self.significant else "not significant"
        return (f"<TestResult {self.method}: statistic={fmt_number(self.statistic)}{df} p={fmt_number(self.p_value)}{est}"
                f" ({self.alternative}, {self.confidence:.0%}): {verdict}>")
