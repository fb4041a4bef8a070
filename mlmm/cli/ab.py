"""``mlmm ab ...``, ``mlmm canary ...`` and ``mlmm validate``: decisions between versions."""

from __future__ import annotations

import math
from typing import Annotated

import polars as pl
import typer

from ..errors import ValidationError
from ._common import (
    EXIT_CHECK,
    ActorOpt,
    JsonOpt,
    ReasonOpt,
    WorkspaceOpt,
    console,
    emit,
    emit_json,
    emit_mapping,
    emit_table,
    lazy_module,
    workspace,
)

AB = lazy_module("mlmm.ab")
S = lazy_module("mlmm.stats")

app = typer.Typer(help="A/B tests: sample size, create, evaluate, decide, rollout plans.", no_args_is_help=True)
canary_app = typer.Typer(help="Canary releases: send a share of traffic, check its health.", no_args_is_help=True)


@app.command("sample-size")
def sample_size(
    baseline: Annotated[float, typer.Option(help="The current rate, e.g. accuracy 0.85.")],
    mde: Annotated[float, typer.Option(help="Minimum detectable effect: absolute (0.02 means 0.85 -> 0.87) unless --relative.")],
    relative: Annotated[bool, typer.Option("--relative", help="--mde is a relative lift (0.02 means 0.85 -> 0.867).")] = False,
    power: Annotated[float, typer.Option(help="Probability of detecting the effect.")] = 0.8,
    alpha: Annotated[float, typer.Option(help="Significance level.")] = 0.05,
    ratio: Annotated[float, typer.Option(help="n_B / n_A: 1 for 50/50, 0.25 for 80/20.")] = 1.0,
    alternative: Annotated[str, typer.Option(help="two-sided, greater or less.")] = "two-sided",
    method: Annotated[str, typer.Option(help="pooled (the test that is run), unpooled or arcsine.")] = "pooled",
    daily: Annotated[float | None, typer.Option("--daily", help="Eligible predictions per day: adds the days needed.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Labelled predictions per version to detect a change from BASELINE."""
    if not 0 < baseline < 1:
        raise ValidationError(f"baseline={baseline!r}: expected a rate in (0, 1)")
    if daily is not None and not (math.isfinite(daily) and daily > 0):  # 0 used to be ignored as "not given"
        raise ValidationError(f"--daily={daily!r}: expected a finite number > 0 of eligible predictions per day")
    treatment = baseline * (1 + mde) if relative else baseline + mde
    plan = S.proportion_power(baseline, treatment, power=power, alpha=alpha, ratio=ratio, alternative=alternative,
                              method=method)
    out = {
        "baseline": baseline, "treatment": treatment, "absolute_mde": treatment - baseline,
        "relative_mde": (treatment - baseline) / baseline, "power": power, "alpha": alpha, "ratio_b_to_a": ratio,
        "alternative": alternative, "method": method, "n_a": plan.required_a, "n_b": plan.required_b,
        "total": plan.required_total,
        "formula": {"pooled": "two-proportion z-test, pooled variance under H0 (normal approximation)",
                    "unpooled": "two-proportion z-test, unpooled variance (normal approximation)",
                    "arcsine": "Cohen's h with the arcsine transform"}.get(method, method),
    }
    if daily is not None:
        out["days"] = S.days_to_significance(plan, daily).days
    if as_json:
        emit_json(out)
        return
    duration = ""
    if daily is not None:
        per_day = format(daily, ",.0f") if daily >= 1 else format(daily, "g")  # 0.5 a day is not "0"
        duration = f"; about {out['days']} days at {per_day} predictions a day"
    console.print(
        f"{plan.required_a:,} labelled predictions for A and {plan.required_b:,} for B ({plan.required_total:,} in all)"
        f" to detect {baseline:.4g} -> {treatment:.4g} (absolute {treatment - baseline:+.4g},"
        f" relative {(treatment - baseline) / baseline:+.2%}) with power {power:.0%} at alpha {alpha:g} ({alternative});"
        f" formula: {out['formula']}{duration}",
        markup=False)


@app.command()
def create(
    model: Annotated[str, typer.Argument()],
    version_a: Annotated[str, typer.Argument(help="Control (the current version).")],
    version_b: Annotated[str, typer.Argument(help="Treatment (the new version).")],
    share_b: Annotated[float | None, typer.Option("--share-b", help="Share of traffic for B (default 0.5, or the preset's).")] = None,
    preset: Annotated[str | None, typer.Option(help="gradual (10 % to B) or challenger (80/20).")] = None,
    metric: Annotated[str, typer.Option("--metric", help="Primary metric: accuracy, precision, recall, specificity.")] = "accuracy",
    min_improvement: Annotated[float, typer.Option(help="Relative lift B must show to be deployed.")] = 0.05,
    alpha: Annotated[float, typer.Option()] = 0.05,
    duration: Annotated[float, typer.Option("--duration", help="Days the test runs.")] = 14.0,
    guardrail: Annotated[list[str] | None, typer.Option("--guardrail", help="METRIC=MAX_RELATIVE_DROP, e.g. precision=0.05 (repeatable).")] = None,
    test_id: Annotated[str | None, typer.Option("--id", help="Test id (default: generated).")] = None,
    start: Annotated[bool, typer.Option("--start/--draft", help="Start now (default) or keep as a draft.")] = True,
    actor: ActorOpt = None,
    reason: ReasonOpt = None,
    workspace_path: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create (and start) an A/B test between two registered versions."""
    guards = {}
    for item in guardrail or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValidationError(f"guardrail={item!r}: expected METRIC=MAX_RELATIVE_DROP, e.g. precision=0.05")
        guards[key.strip()] = float(value)
    options = {"primary_metric": metric, "min_improvement": min_improvement, "alpha": alpha, "duration_days": duration,
               "guardrails": guards}
    if preset == "gradual":
        config = AB.ABTestConfig.for_gradual_rollout(model, version_a, version_b, **options)
    elif preset == "challenger":
        config = AB.ABTestConfig.for_challenger(model, version_a, version_b, **options)
    elif preset is None:
        config = AB.ABTestConfig.create(model, version_a, version_b, 0.5 if share_b is None else share_b, **options)
    else:
        raise ValidationError(f"preset={preset!r}: expected gradual or challenger")
    if preset is not None and share_b is not None:
        raise ValidationError("--preset and --share-b given; expected one or the other")
    test = AB.create_test(workspace(workspace_path), config, start=start, test_id=test_id, actor=actor, reason=reason)
    if as_json:
        emit_json(test.to_dict())
    else:
        console.print(f"{test.test_id}: {model} {config.version_a} vs {config.version_b}, {config.share_b:.0%} to B,"
                      f" {test.status}", markup=False)


@app.command("list")
def list_(
    model: Annotated[str | None, typer.Argument()] = None,
    workspace_path: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """A/B tests with their status and decision, newest first."""
    frame = AB.list_tests(workspace(workspace_path), model)
    if as_json:
        emit_json(frame)
        return
    emit_table(frame.select("test_id", "model", "version_a", "version_b", "share_b", "status", "decision"), "A/B tests",
               empty="no A/B tests")


@app.command()
def evaluate(
    test_id: Annotated[str, typer.Argument()],
    until: Annotated[str | None, typer.Option("--until", help="Evaluate up to this time (default: the planned end or now).")] = None,
    workspace_path: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """What the logged predictions say, and what to do."""
    result = AB.evaluate(workspace(workspace_path), test_id, until=until)
    if as_json:
        emit_json(result.to_dict())
        return
    c = result.config
    emit_table(result.to_frame(), f"{test_id}: {c.model} {c.version_a} (A) vs {c.version_b} (B), {c.primary_metric}")
    facts = {}
    if result.lift is not None:
        facts["relative lift"] = f"{result.lift.estimate:+.2%} [{result.lift.ci_low:+.2%}, {result.lift.ci_high:+.2%}]"
    if result.test is not None:
        facts["difference B - A"] = (f"{result.test.difference:+.4f} [{result.test.ci_low:+.4f}, {result.test.ci_high:+.4f}],"
                                     f" fixed-horizon p = {result.test.p_value:.3g}")
    if result.sequential is not None:
        facts["always-valid p"] = f"{result.sequential.p_value:.3g} (safe to check at any time)"
    if result.bayes is not None:
        facts["chance B beats A"] = f"{result.bayes.prob_b_beats_a:.1%}"
    if result.srm is not None:
        facts["sample ratio"] = (f"B got {result.b.predictions / max(result.a.predictions + result.b.predictions, 1):.1%},"
                                 f" planned {c.share_b:.0%}; p = {result.srm.p_value:.3g}"
                                 + (" MISMATCH" if result.srm.mismatch else ""))
    if result.required_per_arm:
        facts["planned sample"] = f"{result.required_per_arm[0]:,} + {result.required_per_arm[1]:,} labelled"
    for g in result.guardrails:
        facts[f"guardrail {g['metric']}"] = ("BREACHED" if g["breached"] else "ok") + f" (B {g['b']}, A {g['a']})"
    emit_mapping(facts, False)
    from ..decisions import ab_verdict

    verdict = ab_verdict(result)
    console.print(f"recommendation: {result.recommendation} ({verdict.label}; decision: {verdict.decision}):"
                  f" {result.reason}", markup=False, soft_wrap=True)


@app.command()
def decide(
    test_id: Annotated[str, typer.Argument()],
    decision: Annotated[str, typer.Argument(help="deploy_b, keep_a, stop or continue.")],
    reason: Annotated[str, typer.Option("--reason", "-r", help="Why (recorded with the decision).")],
    apply: Annotated[bool, typer.Option("--apply", help="With deploy_b: deploy B to production now.")] = False,
    actor: ActorOpt = None,
    workspace_path: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Record a decision with who and why (and optionally deploy B)."""
    ws = workspace(workspace_path)
    result = AB.evaluate(ws, test_id)
    test = AB.decide(ws, test_id, decision, actor=actor, reason=reason, apply=apply, result=result)
    if as_json:
        emit_json(test.to_dict() | {"recommendation": result.recommendation})
    else:
        console.print(f"{test_id}: {test.status} ({test.decision or decision}); the evaluation recommended"
                      f" {result.recommendation}", markup=False)


@app.command()
def stop(
    test_id: Annotated[str, typer.Argument()],
    reason: ReasonOpt = None,
    actor: ActorOpt = None,
    workspace_path: WorkspaceOpt = None,
) -> None:
    """Stop a running test without a decision."""
    AB.stop(workspace(workspace_path), test_id, actor=actor, reason=reason)
    console.print(f"{test_id}: stopped", markup=False)


@app.command("rollout-plan")
def rollout_plan(
    model: Annotated[str, typer.Argument()],
    version: Annotated[str, typer.Argument()],
    steps: Annotated[str, typer.Option(help="Shares in percent, comma-separated.")] = "10,25,50,100",
    regression: Annotated[float, typer.Option(help="Relative drop each step must be able to catch.")] = 0.05,
    until: Annotated[str | None, typer.Option("--until", help="End of the recent-traffic window (default now).")] = None,
    workspace_path: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Steps to 100 % with the sample and days each needs; past canary phases with an SRM check."""
    try:
        shares = [float(x) / 100 for x in steps.split(",") if x.strip()]
    except ValueError:
        raise ValidationError(f"steps={steps!r}: expected percentages such as 10,25,50,100") from None
    plan = AB.rollout_plan(workspace(workspace_path), model, version, steps=shares, regression=regression, until=until)
    if as_json:
        emit_json(plan.to_dict())
        return
    console.print(f"recent traffic: {plan.daily_predictions:,.0f} predictions a day, {plan.label_rate:.0%} labelled", markup=False)
    emit_table(plan.steps, f"rollout plan for {model} {plan.version}")
    emit_table(plan.executed, "executed canary phases (sample-ratio check)", empty="no canary phases in the registry")


@canary_app.command("set")
def canary_set(
    model: str,
    version: str,
    share: Annotated[float, typer.Argument(help="Share of traffic for VERSION, 0-1 (0 ends the canary).")],
    env: Annotated[str, typer.Option("--env", "-e")] = "production",
    reason: ReasonOpt = None,
    actor: ActorOpt = None,
    workspace_path: WorkspaceOpt = None,
) -> None:
    """Send a SHARE of an environment's traffic to VERSION beside the deployed version."""
    workspace(workspace_path).registry.set_traffic(model, version, share, env=env, actor=actor, reason=reason)
    console.print(f"{model} {version}: {share:.0%} of {env} traffic")


@canary_app.command("check")
def canary_check(
    model: str,
    env: Annotated[str, typer.Option("--env", "-e")] = "production",
    apply: Annotated[bool, typer.Option("--apply", help="Roll the canary back when it is unhealthy.")] = False,
    until: Annotated[str | None, typer.Option("--until")] = None,
    actor: ActorOpt = None,
    workspace_path: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The running canary against the stable version; exit 3 when it is unhealthy."""
    result = AB.canary_check(workspace(workspace_path), model, env=env, apply=apply, until=until, actor=actor)
    if as_json:
        emit_json(result.to_dict())
    else:
        console.print(f"{result.verdict}: {result.reason}" + (" -> rolled back" if result.rolled_back else ""), markup=False)
    if result.verdict in ("worse", "below floor"):
        raise typer.Exit(EXIT_CHECK)


def validate_command(
    model: Annotated[str, typer.Argument()],
    version: Annotated[str, typer.Argument()],
    tolerance: Annotated[float, typer.Option(help="How far below production (absolute) a metric may be.")] = 0.01,
    workspace_path: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Gate a candidate: floors and the production version's metrics; exit 3 on failure."""
    result = AB.validate(workspace(workspace_path), model, version, tolerance=tolerance)
    if as_json:
        emit_json(result.to_dict())
    else:
        emit(pl.DataFrame(list(result.checks)), False, f"{model} {result.version} vs floors and production {result.production}")
        console.print("PASSED" if result.passed else "FAILED: " + "; ".join(
            c["check"] + (f" ({c['why']})" if c["why"] else f" ({c['value']:.4g} vs {c['limit']:.4g})")
            for c in result.checks if not c["passed"]), markup=False)
    if not result.passed:
        raise typer.Exit(EXIT_CHECK)
