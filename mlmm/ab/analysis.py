"""The pure core of A/B evaluation: the counts of both versions -> :class:`ABTestResult`.

No workspace and no I/O: :func:`analyze` takes each version's counts (:class:`ArmMetrics`)
and applies the decision rule (:func:`recommend`); :func:`cumulative_difference` turns daily
counts into the peeking-safe history of a test. :func:`mlmm.ab.evaluate` reads the counts from
the prediction log and calls them.

Decision rule of :func:`recommend`, in order:

1. sample-ratio mismatch (p < 0.001) -> **stop**: the split is broken, no metric can be trusted;
2. B worse than A on the primary metric (always-valid p < alpha) or a guardrail breached ->
   **stop (harm)**, keep A;
3. B better (always-valid p < alpha) and the relative lift >= ``min_improvement`` -> **deploy B**;
   better but by less -> **keep A** (not worth a change);
4. the planned sample size reached without a significant difference -> **keep A**;
5. otherwise **continue**, with the days remaining at the recent traffic.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import math
from collections.abc import Mapping
from typing import Any

import polars as pl

from .. import stats as S
from ..errors import ValidationError
from .config import ABTestConfig

__all__ = ["ABTestResult", "ArmMetrics", "analyze", "cumulative_difference", "recommend"]


@dataclasses.dataclass(frozen=True)
class ArmMetrics:
    """One version's counts on one metric: predictions logged, labelled, and the metric's
    ``successes`` / ``trials`` with its rate ``value`` and interval ``low`` .. ``high`` (None
    without trials)."""

    version: str
    predictions: int
    labelled: int
    successes: int
    trials: int
    value: float | None
    low: float | None
    high: float | None

    @classmethod
    def of(cls, version: str, metrics: Any, metric: str = "accuracy") -> ArmMetrics:
        """A version's counts on ``metric`` from its :func:`mlmm.monitor.metrics` (the
        predictions and labelled rows, and the metric's estimate with its interval)."""
        e = getattr(metrics, metric)
        return cls(version, metrics.count, metrics.labelled, e.successes, e.trials, e.value, e.low, e.high)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class ABTestResult:
    """What the data says about a test, and what to do (seed 000 ``ABTestResult``)."""

    test_id: str | None
    config: ABTestConfig
    since: _dt.datetime | None
    until: _dt.datetime
    a: ArmMetrics
    b: ArmMetrics
    test: S.ProportionTestResult | None
    lift: S.Estimate | None
    sequential: S.AlwaysValidResult | None
    srm: S.SRMResult | None
    bayes: S.BayesianResult | None
    required_per_arm: tuple[int, int] | None
    days_remaining: int | None
    guardrails: tuple[dict[str, Any], ...]
    recommendation: str  # deploy_b, keep_a, continue, stop
    reason: str
    winner: str  # A, B or tie
    what_if: dict[str, Any] = dataclasses.field(default_factory=dict)  # rule values other than the stored test's

    @property
    def significant(self) -> bool:
        return bool(self.sequential is not None and self.sequential.significant)

    def should_deploy_b(self) -> bool:
        """The seed's ``shouldDeployVersionB``."""
        return self.recommendation == "deploy_b"

    def summary_dict(self) -> dict[str, Any]:
        return {"recommendation": self.recommendation, "reason": self.reason, "winner": self.winner,
                "a": self.a.to_dict(), "b": self.b.to_dict(),
                "lift": None if self.lift is None else [self.lift.estimate, self.lift.ci_low, self.lift.ci_high],
                "p_value": None if self.test is None else self.test.p_value,
                "always_valid_p": None if self.sequential is None else self.sequential.p_value,
                "srm_p": None if self.srm is None else self.srm.p_value}

    def to_dict(self) -> dict[str, Any]:
        out = self.summary_dict()
        out.update({"test_id": self.test_id, "config": self.config.to_dict(),
                    "since": self.since.isoformat() if self.since else None, "until": self.until.isoformat(),
                    "test": None if self.test is None else self.test.to_dict(),
                    "lift_detail": None if self.lift is None else self.lift.to_dict(),
                    "sequential": None if self.sequential is None else self.sequential.to_dict(),
                    "srm": None if self.srm is None else self.srm.to_dict(),
                    "bayes": None if self.bayes is None else self.bayes.to_dict(),
                    "required_per_arm": list(self.required_per_arm) if self.required_per_arm else None,
                    "days_remaining": self.days_remaining, "guardrails": list(self.guardrails)})
        return out

    def facts(self) -> pl.DataFrame:
        """The figures a decision rests on, formatted: difference and lift with intervals, the
        fixed-horizon and always-valid p-values, the chance B beats A, the sample ratio, the
        planned sample and the days remaining, then one row per guardrail."""
        t, lift, seq, srm, bayes = self.test, self.lift, self.sequential, self.srm, self.bayes
        rows = [
            ("difference B - A", None if t is None else f"{t.difference:+.4f} [{t.ci_low:+.4f}, {t.ci_high:+.4f}]"),
            ("relative lift", None if lift is None else f"{lift.estimate:+.2%} [{lift.ci_low:+.2%}, {lift.ci_high:+.2%}]"),
            ("fixed-horizon p", None if t is None else f"{t.p_value:.3g}"),
            ("always-valid p", None if seq is None else f"{seq.p_value:.3g}"),
            ("chance B beats A", None if bayes is None else f"{bayes.prob_b_beats_a:.1%}"),
            ("sample ratio", None if srm is None else f"p = {srm.p_value:.3g}" + (" MISMATCH" if srm.mismatch else " ok")),
            ("planned sample per version", None if self.required_per_arm is None
             else f"{self.required_per_arm[0]:,} + {self.required_per_arm[1]:,} labelled"),
            ("days remaining", None if self.days_remaining is None else str(self.days_remaining)),
        ]
        rows += [(f"guardrail {g['metric']}", f"{'BREACHED' if g['breached'] else 'ok'} (A {g['a']}, B {g['b']})")
                 for g in self.guardrails]
        return pl.DataFrame(rows, schema={"fact": pl.String, "value": pl.String}, orient="row")

    def to_frame(self) -> pl.DataFrame:
        return pl.DataFrame([self.a.to_dict() | {"arm": "A"}, self.b.to_dict() | {"arm": "B"}]).select(
            "arm", "version", "predictions", "labelled", "successes", "trials", "value", "low", "high")

    def __repr__(self) -> str:
        lift = "" if self.lift is None else f", lift {self.lift.estimate:+.2%} [{self.lift.ci_low:+.2%}, {self.lift.ci_high:+.2%}]"
        return f"<ABTestResult {self.config.model} {self.config.version_a} vs {self.config.version_b}{lift}: {self.recommendation}: {self.reason}>"

def analyze(config: ABTestConfig, a: ArmMetrics, b: ArmMetrics, *, until: _dt.datetime,
            since: _dt.datetime | None = None, elapsed_days: float | None = None,
            guardrails: Mapping[str, tuple[ArmMetrics, ArmMetrics]] | None = None, test_id: str | None = None,
            what_if: Mapping[str, Any] | None = None) -> ABTestResult:
    """Judge a test from the counts of both versions (the pure core of :func:`mlmm.ab.evaluate`).

    Parameters
    ----------
    config : ABTestConfig
        The test: split, primary metric, alpha, power, minimum improvement, guardrails.
    a, b : ArmMetrics
        Version A's and version B's counts on the primary metric: ``predictions`` (logged),
        ``successes`` / ``trials`` (labelled), ``value`` / ``low`` / ``high`` (the rate and its
        interval, shown as they are).
    until : datetime
        End of the evaluated window.
    since : datetime, optional
        Start of the evaluated window.
    elapsed_days : float, optional
        Days of traffic behind the counts (for the days remaining); None or 0 when unknown.
    guardrails : mapping of metric to (ArmMetrics, ArmMetrics), optional
        A's and B's counts on each guardrail metric of ``config``.
    test_id : str, optional
        The stored test these counts belong to.
    what_if : mapping, optional
        Rule values that differ from the stored test's (recorded with the result).

    Returns
    -------
    ABTestResult
        The fixed-horizon test and relative lift at ``1 - alpha``, the always-valid test, the
        sample-ratio check, the chance B beats A, the planned sample per version and the days
        remaining, the guardrail checks and the recommendation with its reason.

    Raises
    ------
    ValidationError
        A guardrail of ``config`` without counts in ``guardrails``.

    References
    ----------
    Kohavi, R., Tang, D. & Xu, Y. (2020). Trustworthy Online Controlled Experiments, ch. 3
    and 21 (sample ratio); Johari, R. et al. (2017). Peeking at A/B tests, KDD '17 (always-valid
    p-values, :func:`mlmm.stats.always_valid_test`).

    Examples
    --------
    >>> import datetime as dt
    >>> config = ABTestConfig.create("m", "1.0.0", "1.1.0", min_improvement=0.02)
    >>> a = ArmMetrics("1.0.0", 5000, 5000, 4000, 5000, 0.8, None, None)
    >>> b = ArmMetrics("1.1.0", 5000, 5000, 4300, 5000, 0.86, None, None)
    >>> r = analyze(config, a, b, until=dt.datetime(2026, 1, 15, tzinfo=dt.UTC), elapsed_days=14)
    >>> r.recommendation, r.winner, round(r.lift.estimate, 4)
    ('deploy_b', 'B', 0.075)
    >>> skewed = dataclasses.replace(b, predictions=5600)
    >>> analyze(config, a, skewed, until=dt.datetime(2026, 1, 15, tzinfo=dt.UTC)).recommendation
    'stop'
    """
    srm = None
    if a.predictions + b.predictions > 0:
        srm = S.sample_ratio_mismatch([a.predictions, b.predictions], [1 - config.share_b, config.share_b])
    test_result = lift = sequential = bayes = None
    if a.trials and b.trials:
        test_result = S.two_proportion_test(a.successes, a.trials, b.successes, b.trials, confidence=1 - config.alpha)
        if a.successes:
            lift = S.relative_lift(a.successes, a.trials, b.successes, b.trials, confidence=1 - config.alpha)
        sequential = S.always_valid_test(a.successes, a.trials, b.successes, b.trials, alpha=config.alpha)
        bayes = S.chance_to_beat_control(a.successes, a.trials, b.successes, b.trials)
    # the planned sample size: detect the minimum improvement with the configured power
    required = None
    days_remaining = None
    base = a.value if a.value else None
    if base is not None and 0 < base < 1:
        target = min(base * (1 + max(config.min_improvement, 0.005)), 0.9999)
        plan = S.proportion_power(base, target, power=config.power, alpha=config.alpha,
                                  ratio=config.share_b / (1 - config.share_b))
        required = (max(plan.required_a, config.min_sample_size or 0), max(plan.required_b, config.min_sample_size or 0))
        elapsed = max(elapsed_days or 0.0, 1e-9)
        rate_a, rate_b = a.trials / elapsed, b.trials / elapsed
        left = [(need - have) / rate if rate > 0 else math.inf
                for need, have, rate in ((required[0], a.trials, rate_a), (required[1], b.trials, rate_b))]
        worst = max(left)
        days_remaining = 0 if worst <= 0 else (None if math.isinf(worst) else math.ceil(worst))
    guards = []
    for metric, limit in config.guardrails.items():
        if guardrails is None or metric not in guardrails:
            raise ValidationError(f"guardrails[{metric!r}]: missing; expected the counts of both versions on {metric}")
        ea, eb = guardrails[metric]
        breached, p = False, None
        if ea.trials and eb.trials and ea.value:
            # H1: B's metric is below A's by more than the tolerated relative drop
            floor = ea.value * (1 - limit)
            p = float(S.two_proportion_test(int(round(floor * ea.trials)), ea.trials, eb.successes, eb.trials,
                                            alternative="less").p_value)
            breached = p < config.alpha and eb.value is not None and eb.value < floor
        guards.append({"metric": metric, "tolerated_drop": limit, "a": ea.value, "b": eb.value, "p_value": p,
                       "breached": breached})
    recommendation, reason, winner = recommend(config, a, b, srm, sequential, lift, required, days_remaining, guards)
    return ABTestResult(test_id, config, since, until, a, b, test_result, lift, sequential, srm, bayes, required,
                        days_remaining, tuple(guards), recommendation, reason, winner, dict(what_if or {}))


def recommend(config: ABTestConfig, a: ArmMetrics, b: ArmMetrics, srm: S.SRMResult | None,
               seq: S.AlwaysValidResult | None, lift: S.Estimate | None, required: tuple[int, int] | None,
               days: int | None, guards: list[dict[str, Any]]) -> tuple[str, str, str]:
    """The decision rule (see the module docstring): ``(recommendation, reason, winner)``.

    ``recommendation`` is one of :data:`mlmm.ab.DECISIONS` (``stop`` for harm and for a broken
    split alike); ``winner`` is ``"A"``, ``"B"`` or ``"tie"``; ``reason`` says why in words,
    with the numbers.
    """
    metric = config.primary_metric
    if srm is not None and srm.mismatch:
        share = b.predictions / max(a.predictions + b.predictions, 1)
        return ("stop", f"sample ratio mismatch: B got {share:.1%} of the predictions, {config.share_b:.0%} planned"
                f" (p = {srm.p_value:.2g}); the split is broken, so no comparison can be trusted", "tie")
    if seq is None:
        return "continue", f"no labelled predictions of both versions yet ({a.trials} for A, {b.trials} for B)", "tie"
    breached = [g["metric"] for g in guards if g["breached"]]
    diff = seq.difference
    if seq.significant and diff < 0:
        return ("stop", f"B is worse on {metric}: {a.value:.4f} -> {b.value:.4f} (always-valid p = {seq.p_value:.3g});"
                " keep A", "A")
    if breached:
        return "stop", f"guardrail breached on {', '.join(breached)}; keep A", "A"
    lift_text = "" if lift is None else f" (lift {lift.estimate:+.2%} [{lift.ci_low:+.2%}, {lift.ci_high:+.2%}])"
    if seq.significant and diff > 0:
        if lift is not None and lift.estimate >= config.min_improvement:
            return ("deploy_b", f"B is better on {metric}: {a.value:.4f} -> {b.value:.4f}{lift_text},"
                    f" at least the {config.min_improvement:.0%} required (always-valid p = {seq.p_value:.3g})", "B")
        return ("keep_a", f"B is better on {metric}{lift_text} but by less than the {config.min_improvement:.0%}"
                " required to deploy", "B")
    if required is not None and a.trials >= required[0] and b.trials >= required[1]:
        return ("keep_a", f"no significant difference on {metric} (always-valid test) after the planned {required[0]:,} + {required[1]:,}"
                f" labelled predictions{lift_text}", "tie")
    need = "" if required is None else f"; {required[0]:,} + {required[1]:,} labelled predictions planned, {a.trials:,} + {b.trials:,} so far"
    when = "" if days is None else f", about {days} more day{'s' if days != 1 else ''} at the recent traffic"
    return "continue", f"not significant yet on {metric}{lift_text}{need}{when}", "tie"



def cumulative_difference(daily: pl.DataFrame, config: ABTestConfig) -> pl.DataFrame:
    """Per day: cumulative counts, difference B - A, its always-valid (peeking-safe) interval
    and p-value, from daily counts.

    Parameters
    ----------
    daily : polars.DataFrame
        One row per day and version: ``day``, ``version``, ``n`` (labelled predictions) and
        ``k`` (correct ones), sorted by day.
    config : ABTestConfig
        The test (its versions and ``alpha``).

    Returns
    -------
    polars.DataFrame
        ``day, n_a, k_a, n_b, k_b, difference, ci_low, ci_high, p_value``, from the first day
        with counts of both versions.
    """
    days = sorted(set(daily.get_column("day").to_list()))
    rows = []
    ka = na = kb = nb = 0
    for day in days:
        for version, n, k in daily.filter(pl.col("day") == day).select("version", "n", "k").iter_rows():
            if version == config.version_a:
                na += n
                ka += k
            else:
                nb += n
                kb += k
        if na and nb:
            r = S.always_valid_test(ka, na, kb, nb, alpha=config.alpha)
            rows.append((day, na, ka, nb, kb, kb / nb - ka / na, r.ci_low, r.ci_high, r.p_value))
    return pl.DataFrame(rows, schema={"day": pl.Datetime("us", "UTC"), "n_a": pl.Int64, "k_a": pl.Int64, "n_b": pl.Int64,
                                      "k_b": pl.Int64, "difference": pl.Float64, "ci_low": pl.Float64,
                                      "ci_high": pl.Float64, "p_value": pl.Float64}, orient="row")
