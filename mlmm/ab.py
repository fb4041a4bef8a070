"""A/B tests, rollout plans, canary health, shadow and interleaving comparisons.

The A/B service (seed 000 ``ABTestingService``) on the prediction log:

- :class:`ABTestConfig` (frozen, validated) with the seed's presets; tests are stored in the
  registry (append-only ``ab_tests`` events: created, started, stopped, decided) with actor
  and reason, so every decision is audited.
- :func:`evaluate` turns the logged predictions of both versions into an
  :class:`ABTestResult`: per-version metrics with intervals, the difference and relative lift
  with intervals, the fixed-horizon p-value, a **peeking-safe** verdict (mixture SPRT,
  :func:`mlmm.stats.always_valid_test`, valid however often the test is looked at), the
  sample-ratio check, the sample size needed and days remaining, guardrails, and a
  recommendation (deploy B / keep A / continue / stop) with the reason in words.
- :func:`rollout_plan` (seed ``generateRolloutPlan``): steps with the sample size each needs to
  catch a regression and its duration at recent traffic; executed canary phases (registry
  traffic events) get a sample-ratio check each.
- :func:`canary_check`: the canary version against the stable one as a sequential guardrail;
  significantly worse, or below the model's floor, rolls it back (a registry rollback event
  with the reason) when ``apply=True``.
- :func:`shadow_compare` (both versions scored the same requests: McNemar and a paired
  bootstrap) and :func:`team_draft_interleave` / :func:`interleaving_preference` (seed 003).
- :func:`validate` (seed 002 "model validation"): a candidate against the floors and the
  version in production.

Decision rule of :func:`evaluate`, in order:

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
import json
import math
import random
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import polars as pl

from . import stats as S
from ._util import current_actor, naive_utc, now, parse_duration, to_utc
from .errors import ConflictError, NotFoundError, ValidationError
from .version import Version

if TYPE_CHECKING:
    from .workspace import Workspace

__all__ = [
    "ABTestConfig",
    "ABTestResult",
    "CanaryResult",
    "RolloutPlan",
    "ShadowResult",
    "ValidationResult",
    "assign",
    "canary_check",
    "create_test",
    "decide",
    "evaluate",
    "get_test",
    "evaluations",
    "interleaving_preference",
    "lift_chart",
    "record_evaluation",
    "result_chart",
    "list_tests",
    "rollout_plan",
    "shadow_compare",
    "shadow_from_log",
    "stop",
    "team_draft_interleave",
    "validate",
]

PROPORTION_METRICS = ("accuracy", "precision", "recall", "specificity")
DECISIONS = ("deploy_b", "keep_a", "continue", "stop")


# ----------------------------------------------------------------------------- config
@dataclasses.dataclass(frozen=True)
class ABTestConfig:
    """One A/B test (seed 000 ``ABTestConfig``).

    ``share_b`` is the share of traffic sent to B (the seed's ``trafficSplitA = 1 - share_b``);
    ``min_improvement`` the relative lift of the primary metric B must show to be deployed
    (seed: 5 %; its guide asks 3 % for threshold changes); ``guardrails`` maps a metric to the
    largest relative drop of B tolerated (e.g. ``{"precision": 0.05}``).

    >>> ABTestConfig.for_challenger("n1-detector", "1.0.0", "1.1.0").share_b
    0.2
    >>> ABTestConfig.create("m", "1.0.0", "1.0.0")
    Traceback (most recent call last):
    ...
    mlmm.errors.ValidationError: version_b='1.0.0': expected a version other than version_a
    """

    model: str
    version_a: str
    version_b: str
    share_b: float = 0.5
    primary_metric: str = "accuracy"
    min_sample_size: int | None = None
    alpha: float = 0.05
    power: float = 0.8
    min_improvement: float = 0.05
    duration_days: float = 14.0
    guardrails: Mapping[str, float] = dataclasses.field(default_factory=dict)
    name: str = ""

    def __post_init__(self) -> None:
        a, b = str(Version.parse(self.version_a)), str(Version.parse(self.version_b))
        object.__setattr__(self, "version_a", a)
        object.__setattr__(self, "version_b", b)
        if a == b:
            raise ValidationError(f"version_b={b!r}: expected a version other than version_a")
        if not isinstance(self.share_b, (int, float)) or not 0 < float(self.share_b) < 1:
            raise ValidationError(f"share_b={self.share_b!r}: expected a share of traffic strictly between 0 and 1")
        object.__setattr__(self, "share_b", float(self.share_b))
        if self.primary_metric not in PROPORTION_METRICS:
            raise ValidationError(f"primary_metric={self.primary_metric!r}: expected one of {', '.join(PROPORTION_METRICS)}")
        for field in ("alpha", "power"):
            value = getattr(self, field)
            if not isinstance(value, (int, float)) or not 0 < value < 1:
                raise ValidationError(f"{field}={value!r}: expected a number in (0, 1)")
        if not 0 <= self.min_improvement < 1:
            raise ValidationError(f"min_improvement={self.min_improvement!r}: expected a relative lift in [0, 1)")
        if self.min_sample_size is not None and (not isinstance(self.min_sample_size, int) or self.min_sample_size < 1):
            raise ValidationError(f"min_sample_size={self.min_sample_size!r}: expected a positive integer per version")
        if self.duration_days <= 0:
            raise ValidationError(f"duration_days={self.duration_days!r}: expected a positive number of days")
        for metric, limit in dict(self.guardrails).items():
            if metric not in PROPORTION_METRICS or not 0 < float(limit) < 1:
                raise ValidationError(f"guardrails[{metric!r}]={limit!r}: expected a metric of {', '.join(PROPORTION_METRICS)}"
                                      " and a tolerated relative drop in (0, 1)")
        object.__setattr__(self, "guardrails", dict(self.guardrails))

    @classmethod
    def create(cls, model: str, version_a: str, version_b: str, share_b: float = 0.5, **options: Any) -> ABTestConfig:
        """A standard test (50/50 unless told)."""
        return cls(model, version_a, version_b, share_b, **options)

    @classmethod
    def for_gradual_rollout(cls, model: str, current: str, new: str, **options: Any) -> ABTestConfig:
        """10 % of traffic to the new version (seed ``forGradualRollout``)."""
        return cls(model, current, new, 0.1, **options)

    @classmethod
    def for_challenger(cls, model: str, champion: str, challenger: str, **options: Any) -> ABTestConfig:
        """Champion/challenger, 80/20 (seed ``forChallenger``)."""
        return cls(model, champion, challenger, 0.2, **options)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ABTestConfig:
        fields = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in fields})


# ----------------------------------------------------------------------------- storage
@dataclasses.dataclass(frozen=True)
class StoredTest:
    """A test as the registry knows it: config, status, times, decision."""

    test_id: str
    config: ABTestConfig
    status: str  # draft, running, stopped, decided
    created_at: _dt.datetime
    started_at: _dt.datetime | None
    ended_at: _dt.datetime | None
    decision: str | None
    reason: str | None
    actor: str

    def router(self) -> Any:
        """The test's deterministic, sticky assignment of request or user ids to A and B
        (:class:`mlmm.router.Router`, salted by the test id, monotone as ``share_b`` grows)."""
        from .router import Router

        return Router(self.test_id, self.config.share_b)

    def to_dict(self) -> dict[str, Any]:
        return {"test_id": self.test_id, "config": self.config.to_dict(), "status": self.status,
                "created_at": self.created_at.isoformat(),
                "started_at": self.started_at.isoformat() if self.started_at else None,
                "ended_at": self.ended_at.isoformat() if self.ended_at else None,
                "decision": self.decision, "reason": self.reason, "actor": self.actor}


def _append(ws: Workspace, test_id: str, event: str, *, config: ABTestConfig | None = None, status: str,
            decision: str | None = None, actor: str | None = None, reason: str | None = None,
            details: Mapping[str, Any] | None = None, at: _dt.datetime | None = None) -> None:
    with ws.connect() as con:
        con.execute(
            "INSERT INTO ab_tests (ts, test_id, event, model_name, config, status, decision, actor, reason, details)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [naive_utc(at or now()), test_id, event, config.model if config else _model_of(con, test_id),
             json.dumps(config.to_dict()) if config else None, status, decision, current_actor(actor), reason,
             json.dumps(details, default=str) if details else None])


def _model_of(con: Any, test_id: str) -> str:
    row = con.execute("SELECT model_name FROM ab_tests WHERE test_id = ? LIMIT 1", [test_id]).fetchone()
    if row is None:
        raise NotFoundError(f"test_id={test_id!r}: no such A/B test")
    return row[0]


def create_test(ws: Workspace, config: ABTestConfig, *, start: bool = True, test_id: str | None = None,
                actor: str | None = None, reason: str | None = None, at: Any = None) -> StoredTest:
    """Store a test (both versions must be registered); ``start`` marks it running now (or
    ``at``): its evaluation window begins there."""
    ws.registry.get(config.model, config.version_a)
    ws.registry.get(config.model, config.version_b)
    test_id = test_id or f"ab-{config.model}-{uuid.uuid4().hex[:8]}"
    when = to_utc(at, "at") if at is not None else now()
    with ws.connect() as con:
        if con.execute("SELECT 1 FROM ab_tests WHERE test_id = ?", [test_id]).fetchone():
            raise ConflictError(f"test_id={test_id!r} exists; expected a new id")
    _append(ws, test_id, "created", config=config, status="draft", actor=actor, reason=reason, at=when)
    if start:
        _append(ws, test_id, "started", config=config, status="running", actor=actor, reason=reason, at=when)
    return get_test(ws, test_id)


def get_test(ws: Workspace, test_id: str) -> StoredTest:
    """A stored test, folded from its events."""
    with ws.connect() as con:
        rows = con.execute("SELECT ts, event, config, status, decision, actor, reason FROM ab_tests WHERE test_id = ?"
                           " ORDER BY seq", [test_id]).fetchall()
    if not rows:
        known = list_tests(ws).get_column("test_id").to_list()
        raise NotFoundError(f"test_id={test_id!r}: no such A/B test (known: {', '.join(known) or 'none'})")
    config = None
    created = started = ended = None
    status, decision, reason, actor = "draft", None, None, ""
    for ts, event, cfg, st, dec, who, why in rows:
        ts = ts.replace(tzinfo=_dt.UTC)
        if cfg:
            config = ABTestConfig.from_dict(json.loads(cfg))
        if event == "created":
            created = ts
        elif event == "started":
            started = ts
        elif event in ("stopped", "decided"):
            ended = ended or ts
        status, actor = st, who
        if dec:
            decision, reason = dec, why
    assert config is not None and created is not None
    return StoredTest(test_id, config, status, created, started, ended, decision, reason, actor)


def list_tests(ws: Workspace, model: str | None = None) -> pl.DataFrame:
    """Every test with its current status, newest first."""
    with ws.connect() as con:
        ids = [r[0] for r in con.execute(
            "SELECT test_id FROM ab_tests WHERE (? IS NULL OR model_name = ?) GROUP BY test_id ORDER BY max(seq) DESC",
            [model, model]).fetchall()]
    rows = []
    for test_id in ids:
        t = get_test(ws, test_id)
        rows.append((t.test_id, t.config.model, t.config.version_a, t.config.version_b, t.config.share_b, t.status,
                     t.started_at, t.decision, t.reason))
    return pl.DataFrame(rows, schema={"test_id": pl.String, "model": pl.String, "version_a": pl.String,
                                      "version_b": pl.String, "share_b": pl.Float64, "status": pl.String,
                                      "started_at": pl.Datetime("us", "UTC"), "decision": pl.String, "reason": pl.String},
                        orient="row")


def assign(ws: Workspace, test_id: str, unit_ids: Any) -> Any:
    """Which version serves these ids in a stored test: ``"A"``/``"B"`` for one id, an array
    for many (see :mod:`mlmm.router`; serving code keeps ``get_test(...).router()`` instead of
    querying the registry per request)."""
    router = get_test(ws, test_id).router()
    if isinstance(unit_ids, (str, int)) and not isinstance(unit_ids, bool):
        return router.assign(unit_ids)
    return router.assign_many(unit_ids)


def stop(ws: Workspace, test_id: str, *, actor: str | None = None, reason: str | None = None, at: Any = None) -> StoredTest:
    """Stop a running test without a decision (e.g. an incident)."""
    test = get_test(ws, test_id)
    if test.status not in ("draft", "running"):
        raise ConflictError(f"test_id={test_id!r} is {test.status}; expected a draft or running test")
    _append(ws, test_id, "stopped", status="stopped", actor=actor, reason=reason or "stopped",
            at=to_utc(at, "at") if at is not None else None)
    return get_test(ws, test_id)


def decide(ws: Workspace, test_id: str, decision: str, *, actor: str | None = None, reason: str | None = None,
           apply: bool = False, result: ABTestResult | None = None, at: Any = None) -> StoredTest:
    """Record the decision (``deploy_b``, ``keep_a``, ``stop``; ``continue`` changes nothing)
    with who and why. ``apply=True`` with ``deploy_b`` deploys B to production through the
    registry (which may require an approval)."""
    if decision not in DECISIONS:
        raise ValidationError(f"decision={decision!r}: expected one of {', '.join(DECISIONS)}")
    test = get_test(ws, test_id)
    if test.status == "decided":
        raise ConflictError(f"test_id={test_id!r} was decided already ({test.decision}: {test.reason})")
    if not reason:
        raise ValidationError("reason='': expected why (it is recorded with the decision)")
    if decision == "continue":
        return test
    details = {"result": result.summary_dict()} if result is not None else None
    if apply and decision == "deploy_b":
        # deploy first: a refused deploy (e.g. a missing approval) leaves the test running
        ws.registry.deploy(test.config.model, test.config.version_b, env="production", actor=actor,
                           reason=f"A/B test {test_id}: {reason}")
    _append(ws, test_id, "decided", status="decided", decision=decision, actor=actor, reason=reason, details=details,
            at=to_utc(at, "at") if at is not None else None)
    return get_test(ws, test_id)


# ----------------------------------------------------------------------------- evaluation
@dataclasses.dataclass(frozen=True)
class ArmMetrics:
    version: str
    predictions: int
    labelled: int
    successes: int
    trials: int
    value: float | None
    low: float | None
    high: float | None

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


def _counts(ws: Workspace, config: ABTestConfig, since: Any, until: Any, metric: str) -> dict[str, dict[str, int]]:
    from .monitor import metrics

    out = {}
    for version in (config.version_a, config.version_b):
        m = metrics(ws, config.model, version, since=since, until=until, min_labelled=1)
        est = getattr(m, metric)
        out[version] = {"predictions": m.count, "labelled": m.labelled, "successes": est.successes, "trials": est.trials,
                        "metrics": m}
    return out


def _daily_cumulative(ws: Workspace, config: ABTestConfig, since: Any, until: Any) -> pl.DataFrame:
    """Cumulative accuracy counts per day and version (the looks of the sequential test)."""
    from .predictions import read_predictions

    lf = read_predictions(ws, config.model, since=since, until=until).filter(
        pl.col("version").is_in([config.version_a, config.version_b]) & pl.col("actual").is_not_null())
    daily = (lf.group_by(pl.col("timestamp").dt.truncate("1d").alias("day"), "version")
             .agg(pl.len().alias("n"), (pl.col("prediction") == pl.col("actual")).sum().alias("k")).collect())
    return daily.sort("day")


def evaluate(ws: Workspace, test: str | ABTestConfig, *, since: Any = None, until: Any = None,
             alpha: float | None = None, min_improvement: float | None = None) -> ABTestResult:
    """Evaluate a stored test (by id) or a config over ``since``..``until`` (default: from
    the test's start to now). ``alpha`` / ``min_improvement`` re-judge it with other values
    than the test's own (what-if), without changing the stored test."""
    if isinstance(test, str):
        stored = get_test(ws, test)
        config, test_id = stored.config, stored.test_id
        since = since if since is not None else stored.started_at
        if until is None:
            # the planned window: from the start for duration_days, or until it was stopped
            ends = [t for t in (stored.ended_at,) if t is not None]
            if stored.started_at is not None:
                ends.append(stored.started_at + _dt.timedelta(days=config.duration_days))
            until = min([*ends, now()])
    else:
        config, test_id = test, None
    changes = {k: v for k, v in (("alpha", alpha), ("min_improvement", min_improvement))
               if v is not None and v != getattr(config, k)}
    if changes:
        config = dataclasses.replace(config, **changes)  # validated by ABTestConfig.__post_init__
    what_if = changes if test_id is not None else {}
    s = to_utc(since, "since") if since is not None else None
    u = to_utc(until, "until") if until is not None else now()
    counts = _counts(ws, config, s, u, config.primary_metric)
    ca, cb = counts[config.version_a], counts[config.version_b]

    def arm(version: str, c: dict[str, Any]) -> ArmMetrics:
        e = getattr(c["metrics"], config.primary_metric)
        return ArmMetrics(version, c["predictions"], c["labelled"], c["successes"], c["trials"], e.value, e.low, e.high)

    a, b = arm(config.version_a, ca), arm(config.version_b, cb)
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
        first = s
        if first is None:
            from .predictions import read_predictions

            first = read_predictions(ws, config.model, with_labels=False).filter(
                pl.col("version").is_in([config.version_a, config.version_b])).select(pl.col("timestamp").min()).collect().item()
        elapsed = max(((u - first).total_seconds() / 86400) if first else 0.0, 1e-9)
        rate_a, rate_b = a.trials / elapsed, b.trials / elapsed
        left = [(need - have) / rate if rate > 0 else math.inf
                for need, have, rate in ((required[0], a.trials, rate_a), (required[1], b.trials, rate_b))]
        worst = max(left)
        days_remaining = 0 if worst <= 0 else (None if math.isinf(worst) else math.ceil(worst))
    guards = []
    for metric, limit in config.guardrails.items():
        ea, eb = getattr(ca["metrics"], metric), getattr(cb["metrics"], metric)
        breached, p = False, None
        if ea.trials and eb.trials and ea.value:
            # H1: B's metric is below A's by more than the tolerated relative drop
            floor = ea.value * (1 - limit)
            p = float(S.two_proportion_test(int(round(floor * ea.trials)), ea.trials, eb.successes, eb.trials,
                                            alternative="less").p_value)
            breached = p < config.alpha and eb.value is not None and eb.value < floor
        guards.append({"metric": metric, "tolerated_drop": limit, "a": ea.value, "b": eb.value, "p_value": p,
                       "breached": breached})
    recommendation, reason, winner = _recommend(config, a, b, srm, sequential, lift, required, days_remaining, guards)
    return ABTestResult(test_id, config, s, u, a, b, test_result, lift, sequential, srm, bayes, required,
                        days_remaining, tuple(guards), recommendation, reason, winner, what_if)


def _recommend(config: ABTestConfig, a: ArmMetrics, b: ArmMetrics, srm: S.SRMResult | None,
               seq: S.AlwaysValidResult | None, lift: S.Estimate | None, required: tuple[int, int] | None,
               days: int | None, guards: list[dict[str, Any]]) -> tuple[str, str, str]:
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


def cumulative_lift(ws: Workspace, test: str | ABTestConfig, *, since: Any = None, until: Any = None) -> pl.DataFrame:
    """Per day: cumulative counts, difference B - A, its always-valid (peeking-safe) interval
    and p-value: the chart of a test's history."""
    config = get_test(ws, test).config if isinstance(test, str) else test
    if isinstance(test, str) and since is None:
        since = get_test(ws, test).started_at
    daily = _daily_cumulative(ws, config, since, until)
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


def record_evaluation(ws: Workspace, test_id: str, result: ABTestResult, *, actor: str | None = None,
                      reason: str | None = None) -> None:
    """Append what an evaluation concluded (an ``evaluated`` event: the recommendation and
    its numbers) without deciding: a report's record, audited like the decisions."""
    test = get_test(ws, test_id)
    _append(ws, test_id, "evaluated", status=test.status, actor=actor, reason=reason or result.reason,
            details={"recommendation": result.recommendation, **result.summary_dict()})


def evaluations(ws: Workspace, test_id: str) -> pl.DataFrame:
    """The recorded evaluations and decisions of a test, oldest first."""
    get_test(ws, test_id)
    with ws.connect() as con:
        rows = con.execute("SELECT ts, event, status, decision, actor, reason, details FROM ab_tests WHERE test_id = ?"
                           " ORDER BY seq", [test_id]).fetchall()
    out = []
    for ts, event, status, decision, actor, why, details in rows:
        extra = json.loads(details) if details else {}
        out.append((ts.replace(tzinfo=_dt.UTC), event, status, decision or extra.get("recommendation"), actor, why))
    return pl.DataFrame(out, schema={"ts": pl.Datetime("us", "UTC"), "event": pl.String, "status": pl.String,
                                     "decision": pl.String, "actor": pl.String, "reason": pl.String}, orient="row")


def result_chart(result: ABTestResult) -> Any:
    """The primary metric per version with its Wilson interval."""
    import altair as alt

    rows = [{"version": f"{arm} {m.version}", "value": m.value, "low": m.low, "high": m.high, "n": m.trials}
            for arm, m in (("A", result.a), ("B", result.b)) if m.value is not None]
    base = alt.Chart(alt.Data(values=rows)).encode(y=alt.Y("version:N", title=None))
    points = base.mark_point(filled=True, size=80).encode(
        x=alt.X("value:Q", title=result.config.primary_metric, scale=alt.Scale(zero=False)),
        tooltip=["version:N", "value:Q", "low:Q", "high:Q", "n:Q"])
    return alt.layer(base.mark_rule().encode(x="low:Q", x2="high:Q"), points).properties(
        width=480, height=90, title=f"{result.config.primary_metric} with 95 % intervals")


def lift_chart(cumulative: pl.DataFrame) -> Any:
    """Cumulative difference B - A per day with its always-valid interval: where the band
    leaves zero the test may stop, at any look."""
    import altair as alt

    rows = cumulative.with_columns(pl.col("day").dt.strftime("%Y-%m-%d")).to_dicts()
    base = alt.Chart(alt.Data(values=rows)).encode(x=alt.X("day:T", title=None))
    band = base.mark_area(opacity=0.25).encode(y=alt.Y("ci_low:Q", title="difference B - A"), y2="ci_high:Q")
    line = base.mark_line(point=True).encode(y="difference:Q", tooltip=["day:T", "difference:Q", "ci_low:Q",
                                                                       "ci_high:Q", "p_value:Q", "n_a:Q", "n_b:Q"])
    zero = alt.Chart(alt.Data(values=[{"y": 0}])).mark_rule(strokeDash=[4, 4], color="#555").encode(y="y:Q")
    return alt.layer(band, line, zero).properties(width=560, height=200,
                                                  title="cumulative difference with the always-valid (peeking-safe) interval")


# ----------------------------------------------------------------------------- rollout
@dataclasses.dataclass(frozen=True)
class RolloutPlan:
    """Steps of a gradual rollout with the sample each needs and how long it takes."""

    model: str
    version: str
    steps: pl.DataFrame
    executed: pl.DataFrame
    daily_predictions: float
    label_rate: float

    def to_dict(self) -> dict[str, Any]:
        def rows(frame: pl.DataFrame) -> list[dict[str, Any]]:
            return frame.with_columns(pl.col(pl.Datetime).dt.to_string("%Y-%m-%dT%H:%M:%S%z")).to_dicts()

        return {"model": self.model, "version": self.version, "daily_predictions": self.daily_predictions,
                "label_rate": self.label_rate, "steps": rows(self.steps), "executed_phases": rows(self.executed)}


def rollout_plan(ws: Workspace, model: str, version: str, *, steps: Sequence[float] = (0.10, 0.25, 0.50, 1.0),
                 baseline: float | None = None, regression: float = 0.05, power: float = 0.8, alpha: float = 0.05,
                 traffic_window: str = "7d", until: Any = None, env: str = "production") -> RolloutPlan:
    """A plan to move ``version`` of ``model`` to 100 % (default 10, 25, 50, 100 %).

    Each step but the last lasts until the new version has enough labelled predictions to
    detect a relative ``regression`` of the baseline accuracy (one-sided, ``power``,
    ``alpha``) against the rest of the traffic; its duration follows from the model's recent
    traffic and label rate. Executed canary phases of ``version`` (registry traffic events)
    get a sample-ratio check each: did the version really get its share?
    """
    from .monitor import metrics

    shares = [float(x) for x in steps]
    if not shares or any(not 0 < x <= 1 for x in shares) or shares != sorted(shares):
        raise ValidationError(f"steps={list(steps)!r}: expected increasing shares in (0, 1]")
    version = str(ws.registry.get(model, version).version)
    u = to_utc(until, "until") if until is not None else now()
    recent = metrics(ws, model, since=u - parse_duration(traffic_window, "traffic_window"), until=u, min_labelled=1)
    days = parse_duration(traffic_window, "traffic_window").total_seconds() / 86400
    daily = recent.count / days
    label_rate = recent.labelled / recent.count if recent.count else 0.0
    base = baseline if baseline is not None else (recent.accuracy.value or float(
        dict(ws.registry.get(model, version).performance_metrics).get("accuracy", 0.9)))
    rows = []
    for share in shares:
        if share >= 1:
            rows.append((share, None, None, None, "full traffic: monitor against the floor"))
            continue
        plan = S.proportion_power(base, base * (1 - regression), power=power, alpha=alpha,
                                  ratio=share / (1 - share), alternative="less")
        need_b = plan.required_b
        per_day = daily * label_rate * share
        duration = math.ceil(need_b / per_day) if per_day > 0 else None
        rows.append((share, need_b, plan.required_a, duration,
                     f"{need_b:,} labelled predictions of {version} to catch a {regression:.0%} drop"))
    frame = pl.DataFrame(rows, schema={"share": pl.Float64, "needed_new": pl.Int64, "needed_rest": pl.Int64,
                                       "days": pl.Int64, "note": pl.String}, orient="row")
    return RolloutPlan(model, version, frame, _executed_phases(ws, model, version, env, u), daily, label_rate)


def _executed_phases(ws: Workspace, model: str, version: str, env: str, until: _dt.datetime) -> pl.DataFrame:
    """The canary phases of ``version`` in the registry, each with its logged split and SRM."""
    from .predictions import read_predictions

    with ws.connect() as con:
        events = con.execute(
            "SELECT ts, kind, version, traffic FROM events WHERE model_name = ? AND environment = ?"
            " AND kind IN ('traffic', 'deployed', 'undeployed') ORDER BY seq", [model, env]).fetchall()
    phases = []
    for i, (ts, kind, ver, traffic) in enumerate(events):
        if kind != "traffic" or ver != version or not traffic:
            continue
        start = ts.replace(tzinfo=_dt.UTC)
        end = events[i + 1][0].replace(tzinfo=_dt.UTC) if i + 1 < len(events) else until
        counts = (read_predictions(ws, model, since=start, until=end, with_labels=False)
                  .group_by(pl.col("version") == version).agg(pl.len()).collect())
        n_new = int(counts.filter(pl.col("version")).get_column("len").sum() or 0)
        n_rest = int(counts.filter(~pl.col("version")).get_column("len").sum() or 0)
        srm = (S.sample_ratio_mismatch([n_rest, n_new], [1 - float(traffic), float(traffic)])
               if n_new + n_rest and 0 < float(traffic) < 1 else None)  # at 100 % there is no split to check
        phases.append((start, end, float(traffic), n_new, n_rest, n_new / max(n_new + n_rest, 1),
                       None if srm is None else srm.p_value, None if srm is None else srm.mismatch))
    return pl.DataFrame(phases, schema={"start": pl.Datetime("us", "UTC"), "end": pl.Datetime("us", "UTC"),
                                        "planned_share": pl.Float64, "new": pl.Int64, "rest": pl.Int64,
                                        "observed_share": pl.Float64, "srm_p": pl.Float64, "srm_mismatch": pl.Boolean},
                        orient="row")


# ----------------------------------------------------------------------------- canary
@dataclasses.dataclass(frozen=True)
class CanaryResult:
    """The canary against the stable version, and what was done."""

    model: str
    env: str
    stable: str
    canary: str
    share: float
    since: _dt.datetime
    stable_accuracy: ArmMetrics
    canary_accuracy: ArmMetrics
    sequential: S.AlwaysValidResult | None
    floor: float | None
    verdict: str  # healthy, worse, below floor, insufficient data
    reason: str
    rolled_back: bool

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "env": self.env, "stable": self.stable, "canary": self.canary, "share": self.share,
                "since": self.since.isoformat(), "stable_accuracy": self.stable_accuracy.to_dict(),
                "canary_accuracy": self.canary_accuracy.to_dict(),
                "sequential": None if self.sequential is None else self.sequential.to_dict(),
                "floor": self.floor, "verdict": self.verdict, "reason": self.reason, "rolled_back": self.rolled_back}


def canary_check(ws: Workspace, model: str, *, env: str = "production", alpha: float = 0.05, min_labelled: int = 100,
                 apply: bool = False, until: Any = None, actor: str | None = None) -> CanaryResult:
    """Is the running canary healthy? It is compared with the stable version since the canary
    started, with the always-valid test (peek as often as you like). Significantly worse, or
    below the model's floor (``alert_accuracy``) on enough rows, is unhealthy; with
    ``apply=True`` the canary is then rolled back through the registry, with the reason."""
    from .monitor import floor_of, metrics

    state = ws.registry.state_as_of(None, name=model).filter(pl.col("environment") == env)
    if state.is_empty() or state.item(0, "canary_version") is None:
        raise NotFoundError(f"{model} has no canary running in {env}")
    stable, canary, share = state.item(0, "version"), state.item(0, "canary_version"), state.item(0, "canary_share")
    # the canary's first traffic event of the current run: walk back while its share was > 0,
    # stopping at a deploy or undeploy in the environment (they end a canary run too)
    with ws.connect() as con:
        events = con.execute("SELECT ts, kind, version, traffic FROM events WHERE model_name = ? AND environment = ?"
                             " AND kind IN ('traffic', 'deployed', 'undeployed') ORDER BY seq DESC", [model, env]).fetchall()
    start = None
    for ts, kind, ver, traffic in events:
        if kind != "traffic" or (ver == canary and not traffic):
            break
        if ver == canary:
            start = ts
    if start is None:
        raise NotFoundError(f"{model}: no traffic event starts the running canary {canary} in {env}")
    since = start.replace(tzinfo=_dt.UTC)
    u = to_utc(until, "until") if until is not None else now()
    ms = metrics(ws, model, stable, since=since, until=u, min_labelled=min_labelled)
    mc = metrics(ws, model, canary, since=since, until=u, min_labelled=min_labelled)

    def arm(version: str, m: Any) -> ArmMetrics:
        e = m.accuracy
        return ArmMetrics(version, m.count, m.labelled, e.successes, e.trials, e.value, e.low, e.high)

    sa, ca = arm(stable, ms), arm(canary, mc)
    floor, _ = floor_of(dict(ws.registry.get(model, canary).configuration))
    seq = S.always_valid_test(sa.successes, sa.trials, ca.successes, ca.trials, alpha=alpha) if sa.trials and ca.trials else None
    if not mc.sufficient or seq is None:
        verdict, reason = "insufficient data", f"canary {canary}: {mc.message}"
    elif seq.significant and seq.difference < 0:
        verdict = "worse"
        reason = (f"canary {canary} is worse than {stable}: accuracy {ca.value:.4f} vs {sa.value:.4f}"
                  f" (always-valid p = {seq.p_value:.3g})")
    elif floor is not None and mc.accuracy.high is not None and mc.accuracy.high < floor:
        verdict = "below floor"
        reason = f"canary {canary} accuracy {mc.accuracy.text()} is below the floor {floor:.0%} (whole interval)"
    else:
        verdict = "healthy"
        reason = f"canary {canary}: accuracy {ca.value:.4f} vs {sa.value:.4f}; no significant harm"
    rolled = False
    if apply and verdict in ("worse", "below floor"):
        ws.registry.rollback(model, env=env, actor=actor or "mlmm canary check", reason=f"automatic: {reason}")
        rolled = True
    return CanaryResult(model, env, stable, canary, float(share or 0), since, sa, ca, seq, floor, verdict, reason, rolled)


# ----------------------------------------------------------------------------- shadow
@dataclasses.dataclass(frozen=True)
class ShadowResult:
    """Two versions on the same requests: paired comparison of their correctness."""

    pairs: int
    accuracy_a: float
    accuracy_b: float
    table: list[list[int]]
    mcnemar: S.TestResult
    bootstrap: S.Estimate
    agreement: float

    def to_dict(self) -> dict[str, Any]:
        return {"pairs": self.pairs, "accuracy_a": self.accuracy_a, "accuracy_b": self.accuracy_b, "table": self.table,
                "mcnemar": self.mcnemar.to_dict(), "bootstrap": self.bootstrap.to_dict(), "agreement": self.agreement}


def shadow_compare(frame: Any, *, a: str = "prediction_a", b: str = "prediction_b", actual: str = "actual",
                   confidence: float = 0.95, seed: int = 0) -> ShadowResult:
    """Paired comparison of two models that scored the same requests (shadow mode): exact
    McNemar on the discordant pairs and a paired bootstrap interval of the accuracy
    difference ``b - a``. Rows without a label are left out.

    >>> import polars as pl
    >>> f = pl.DataFrame({"prediction_a": [1, 0, 1, 1, 0, 1] * 20, "prediction_b": [1, 0, 0, 1, 0, 1] * 20,
    ...                   "actual": [1, 0, 0, 1, 1, 1] * 20})
    >>> r = shadow_compare(f)
    >>> r.table, round(r.accuracy_b - r.accuracy_a, 4)
    ([[80, 0], [20, 20]], 0.1667)
    """
    data = frame if isinstance(frame, pl.DataFrame) else pl.DataFrame(frame)
    for column in (a, b, actual):
        if column not in data.columns:
            raise ValidationError(f"column {column!r} is missing; expected {a}, {b} and {actual}")
    data = data.filter(pl.col(actual).is_not_null() & pl.col(a).is_not_null() & pl.col(b).is_not_null())
    if data.is_empty():
        raise ValidationError("no labelled pairs; expected rows where both versions and the label are known")
    ok_a = (data.get_column(a) == data.get_column(actual)).to_numpy()
    ok_b = (data.get_column(b) == data.get_column(actual)).to_numpy()
    table = S.paired_table(ok_a, ok_b)
    test = S.mcnemar_test(table, confidence=confidence)
    boot = S.paired_bootstrap_ci(ok_a.astype(float), ok_b.astype(float), confidence=confidence, seed=seed,
                                 method="percentile", n_resamples=2000)
    agreement = float((data.get_column(a) == data.get_column(b)).mean())
    return ShadowResult(data.height, float(ok_a.mean()), float(ok_b.mean()), table, test, boot, agreement)


def shadow_from_log(ws: Workspace, model: str, version_a: str, version_b: str, *, key: str = "request_id",
                    since: Any = None, until: Any = None, confidence: float = 0.95) -> ShadowResult:
    """Shadow mode on the log: the serving version ``version_a`` and the shadow ``version_b``
    both logged a prediction for each request, with the request's id in the feature column
    ``key``; rows are paired on it (the latest label of either row is the truth)."""
    from .predictions import read_predictions

    lf = read_predictions(ws, model, since=since, until=until)
    if key not in lf.collect_schema().names():
        raise ValidationError(f"key={key!r}: expected a feature column of {model} that identifies the request")
    va, vb = str(Version.parse(version_a)), str(Version.parse(version_b))
    rows = lf.filter(pl.col("version").is_in([va, vb]) & pl.col(key).is_not_null()).select(
        key, "version", "prediction", "actual", "labeled_at").collect()

    def side(version: str, tag: str) -> pl.DataFrame:
        return rows.filter(pl.col("version") == version).unique(key, keep="last").rename(
            {"prediction": f"prediction_{tag}", "actual": f"actual_{tag}", "labeled_at": f"labeled_at_{tag}"})

    pairs = side(va, "a").join(side(vb, "b"), on=key, how="inner").with_columns(
        # the truth is the latest label of either row (a row without a label time never beats one with it)
        pl.when(pl.col("labeled_at_b").is_not_null() & (pl.col("labeled_at_a").is_null()
                | (pl.col("labeled_at_b") > pl.col("labeled_at_a"))))
        .then(pl.coalesce("actual_b", "actual_a")).otherwise(pl.coalesce("actual_a", "actual_b")).alias("actual"))
    if pairs.is_empty():
        raise ValidationError(f"no request of {model} was logged by both {va} and {vb} (paired on {key!r})")
    return shadow_compare(pairs, confidence=confidence)


def team_draft_interleave(ranking_a: Sequence[Any], ranking_b: Sequence[Any], *, length: int | None = None,
                          seed: int | str | None = None) -> tuple[list[Any], list[str]]:
    """Team-draft interleaving (Radlinski et al. 2008): the two rankings take turns, a coin
    deciding who picks first in each round; each picks its best item not yet shown. Returns
    the interleaved list and which team contributed each item ("A"/"B"). ``seed`` makes the
    coin flips reproducible (e.g. the request id).

    >>> items, teams = team_draft_interleave(["a", "b", "c"], ["b", "d", "a"], seed=1)
    >>> sorted(items) == sorted(set(["a", "b", "c", "d"])), len(teams) == len(items)
    (True, True)
    """
    rng = random.Random(seed)
    limit = length if length is not None else len(set(ranking_a) | set(ranking_b))
    out: list[Any] = []
    teams: list[str] = []
    shown: set[Any] = set()
    count = {"A": 0, "B": 0}
    pools = {"A": list(ranking_a), "B": list(ranking_b)}
    while len(out) < limit:
        # the team with fewer picks goes next; a coin decides a tie (Radlinski et al. 2008)
        team = "A" if count["A"] < count["B"] or (count["A"] == count["B"] and rng.random() < 0.5) else "B"
        pick = next((x for x in pools[team] if x not in shown), None)
        if pick is None:
            team = "B" if team == "A" else "A"
            pick = next((x for x in pools[team] if x not in shown), None)
            if pick is None:
                break
        out.append(pick)
        teams.append(team)
        shown.add(pick)
        count[team] += 1
    return out, teams


def interleaving_preference(clicks_a: Sequence[int], clicks_b: Sequence[int], *, alpha: float = 0.05) -> dict[str, Any]:
    """Per impression, the clicks credited to each team; the preference test is a two-sided
    sign (binomial) test over impressions with a winner (ties left out)."""
    from scipy.stats import binomtest

    if len(clicks_a) != len(clicks_b):
        raise ValidationError(f"clicks_a, clicks_b: expected equal lengths, got {len(clicks_a)} and {len(clicks_b)}")
    wins_a = sum(1 for x, y in zip(clicks_a, clicks_b, strict=True) if x > y)
    wins_b = sum(1 for x, y in zip(clicks_a, clicks_b, strict=True) if y > x)
    ties = len(clicks_a) - wins_a - wins_b
    n = wins_a + wins_b
    p = float(binomtest(wins_b, n, 0.5).pvalue) if n else 1.0
    delta = (wins_b - wins_a) / max(n + ties, 1)
    return {"wins_a": wins_a, "wins_b": wins_b, "ties": ties, "delta": delta, "p_value": p,
            "winner": ("B" if wins_b > wins_a else "A") if p < alpha else "tie"}


# ----------------------------------------------------------------------------- validation gate
@dataclasses.dataclass(frozen=True)
class ValidationResult:
    """A candidate version against the floors and the version in production (seed 002)."""

    model: str
    version: str
    production: str | None
    checks: tuple[dict[str, Any], ...]

    @property
    def passed(self) -> bool:
        return all(c["passed"] for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "version": self.version, "production": self.production, "passed": self.passed,
                "checks": list(self.checks)}


def validate(ws: Workspace, model: str, version: str, *, tolerance: float = 0.01,
             floors: Mapping[str, float] | None = None) -> ValidationResult:
    """Gate a candidate before deployment, on the metrics stored with it: every floor
    (the model's ``alert_accuracy`` and ``min_<metric>`` configuration keys, or ``floors``)
    and no metric more than ``tolerance`` (absolute) below the production version's."""
    meta = ws.registry.get(model, version)
    metrics_ = {k: float(v) for k, v in dict(meta.performance_metrics).items() if isinstance(v, (int, float))}
    prod = ws.registry.serving_version(model)
    config = dict(meta.configuration)
    if prod is not None and not any(k == "alert_accuracy" or k.startswith("min_") for k in config):
        config = dict(prod.configuration)  # the floors are the model's: take production's when the candidate has none
    wanted = dict(floors or {})
    if not wanted:
        if config.get("alert_accuracy") is not None:
            wanted["accuracy"] = float(config["alert_accuracy"])
        for key, value in config.items():
            if key.startswith("min_") and key[4:] in ("accuracy", "precision", "recall", "f1") and isinstance(value, (int, float)):
                wanted[key[4:]] = float(value)
    checks: list[dict[str, Any]] = []
    for metric, floor in sorted(wanted.items()):
        value = metrics_.get(metric)
        checks.append({"check": f"{metric} >= floor {floor:g}", "value": value, "limit": floor,
                       "passed": value is not None and value >= floor,
                       "why": "no stored value" if value is None else ""})
    production = str(prod.version) if prod is not None else None
    if production is not None and production != str(meta.version):
        pm = {k: float(v) for k, v in dict(prod.performance_metrics).items() if isinstance(v, (int, float))}
        for metric in sorted(set(pm) & set(metrics_)):
            if metric in ("accuracy", "precision", "recall", "f1", "auc", "specificity"):
                checks.append({"check": f"{metric} not below production {production} - {tolerance:g}",
                               "value": metrics_[metric], "limit": pm[metric] - tolerance,
                               "passed": metrics_[metric] >= pm[metric] - tolerance, "why": ""})
    if not checks:
        checks.append({"check": "something to check", "value": None, "limit": None, "passed": False,
                       "why": f"{model} {version} has no stored metrics and no floors; expected metrics with the version"})
    return ValidationResult(model, str(meta.version), production, tuple(checks))
