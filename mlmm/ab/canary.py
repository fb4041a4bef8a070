"""Canary health: the canary version against the stable one as a sequential guardrail;
significantly worse, or below the model's floor, rolls it back (with ``apply=True``).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
from typing import TYPE_CHECKING, Any

import polars as pl

from .. import stats as S
from .._util import now, to_utc
from ..errors import NotFoundError
from .analysis import ArmMetrics

if TYPE_CHECKING:
    from ..workspace import Workspace

__all__ = ["CanaryResult", "canary_check"]


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
    from ..monitor import floor_of, metrics

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
    sa, ca = ArmMetrics.of(stable, ms), ArmMetrics.of(canary, mc)
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
