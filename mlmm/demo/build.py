"""The demo workspace: a month of three production classifiers, built from
:func:`mlmm.demo.data.generate` through the public API (registry, bulk import, labels).

It shows everything later notebooks work with: two versions per model with a realistic
rollout (staging, approval, canary 10 % -> 100 %, a rollback), labels that arrive late and
incompletely, a concept-drift episode (waf-behavioral), a feature shift (queue-anomaly) and
a few malformed rows in quarantine. Deterministic for a given ``seed`` and ``end``.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .._util import atomic_write_bytes, atomic_write_json, to_utc
from ..errors import ConflictError
from ..predictions import log_labels, log_predictions
from ..version import Version
from ..workspace import Workspace, open_workspace
from .data import DemoData, generate

__all__ = ["DemoSummary", "build_demo", "demo_info"]

_WORKSPACE_PARTS = ("registry.duckdb", "registry.duckdb.wal", "predictions", "labels", "quarantine", "imports", "demo.json",
                    "cache", "references", "locks")


@dataclasses.dataclass(frozen=True)
class DemoSummary:
    """What :func:`build_demo` made."""

    path: str
    seed: int
    start: _dt.datetime
    end: _dt.datetime
    models: tuple[str, ...]
    versions: int
    events: int
    predictions: int
    labels: int
    quarantined: int
    episodes: tuple[str, ...]
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["start"], out["end"] = self.start.isoformat(), self.end.isoformat()
        return out

    def __repr__(self) -> str:
        return (
            f"<DemoSummary {self.path}: {len(self.models)} models, {self.versions} versions, {self.events} events, "
            f"{self.predictions} predictions, {self.labels} labels, {self.quarantined} quarantined, {self.seconds:.1f}s>"
        )


def _wipe(path: Path) -> None:
    # only the parts a workspace is made of: never a user's other files
    for name in _WORKSPACE_PARTS:
        target = path / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()


def build_demo(
    workspace: Workspace | str | Path | None = None,
    *,
    seed: int = 42,
    rows: int | None = None,
    days: int = 30,
    end: Any = None,
    force: bool = False,
    progress: Callable[[str], None] | None = None,
) -> DemoSummary:
    """Build the demo workspace (default ``MLMM_HOME`` or ``./data/workspace``).

    ``rows`` scales the prediction log (default ~243,000 rows over 30 days; millions for
    benchmarks). ``end`` defaults to the current hour, so "the last 24 h" has data.
    ``force`` replaces an existing workspace; without it a workspace that already has models
    is left alone (:class:`~mlmm.errors.ConflictError`).

    >>> import tempfile
    >>> summary = build_demo(tempfile.mkdtemp(), rows=6_000, end="2026-11-01T00:00:00Z")
    >>> summary.models, summary.versions, summary.predictions
    (('n1-detector', 'queue-anomaly', 'waf-behavioral'), 6, 6000)
    """
    started = time.perf_counter()
    say = progress or (lambda _msg: None)
    if isinstance(workspace, Workspace):
        ws = workspace
    else:
        path = Path(workspace) if workspace is not None else None
        if force and path is not None and path.exists():
            _wipe(path)
        ws = open_workspace(path)
    if force and isinstance(workspace, Workspace):
        ws.close()
        _wipe(ws.path)
        ws = open_workspace(ws.path)
    if ws.registry.list_names():
        raise ConflictError(
            f"workspace={ws.path} already has models ({', '.join(ws.registry.list_names())}); "
            "expected an empty workspace (use force=True / --force to rebuild it)"
        )
    end_at = to_utc(end, "end") if end is not None else None
    say("generating data")
    data = generate(seed, rows=rows, days=days, end=end_at)
    say("registering versions and replaying the deployment history")
    events = _replay(ws, data)
    say("importing predictions")
    total = 0
    for name, frame in sorted(data.predictions.items()):
        summary = log_predictions(ws, frame, model=name, batch_id=f"demo-{seed}-{name}", durable=False)
        total += summary.accepted
        say(f"  {name}: {summary.accepted:,} predictions")
    say("importing late labels")
    labels = 0
    for name, frame in sorted(data.labels.items()):
        labels += log_labels(ws, name, frame, batch_id=f"demo-{seed}-labels-{name}").accepted
    say("importing malformed rows (they go to quarantine)")
    bad = log_predictions(ws, data.malformed.drop("problem"), batch_id=f"demo-{seed}-malformed", durable=False)
    say("storing a drift reference per model (a calm week early in the month)")
    from ..drift import set_reference

    span = data.end - data.start
    calm = f"{(data.start + span * 0.2).isoformat()}..{(data.start + span * 0.2 + span * 7 / 30).isoformat()}"
    for name in sorted(data.predictions):
        set_reference(ws, name, window=calm, actor="ml-platform", reason="a calm week before the drift episodes")
    say("recording A/B tests over the canary phases (one decided, one running, one with a broken split)")
    ab_tests = _ab_tests(ws)
    info = {
        "seed": seed,
        "ab_tests": ab_tests,
        "start": data.start.isoformat(),
        "end": data.end.isoformat(),
        "episodes": [e.to_dict() for e in data.episodes],
        "versions": [v.to_dict() for v in data.versions],
        "built_at": _dt.datetime.now(_dt.UTC).isoformat(),
    }
    atomic_write_json(ws.path / "demo.json", info)
    say("writing the workspace configuration (mlmm.toml)")
    _write_config(ws.path)
    ws.close()
    return DemoSummary(
        path=str(ws.path), seed=seed, start=data.start, end=data.end,
        models=tuple(sorted(data.predictions)), versions=len(data.versions), events=events,
        predictions=total, labels=labels, quarantined=bad.quarantined,
        episodes=tuple(f"{e.model_name}: {e.kind} {e.start:%Y-%m-%d} to {e.end:%Y-%m-%d}" for e in data.episodes),
        seconds=time.perf_counter() - started,
    )


_DEMO_CONFIG = """\
# mlmm workspace configuration (see docs/scheduling.md; environment variables override it).
# The schedule's defaults come from the seeds; this demo keeps them and only relaxes the
# retraining age: its versions are a few weeks old, and with the seed's 7 days every report
# would ask for retraining on age alone.

[schedule.degradation]
every = "15m"
auto_apply = false

[schedule.tuning]
every = "1d"
auto_apply = false   # the demo shows the tuning decision without changing thresholds

[retraining]
max_age = "30d"      # seed 002: 7 days
"""


def _write_config(path: Path) -> None:
    from ..config import CONFIG_FILE

    target = path / CONFIG_FILE
    if not target.exists():
        atomic_write_bytes(target, _DEMO_CONFIG.encode(), durable=False)


def _ab_tests(ws: Workspace) -> list[str]:
    """Three A/B tests over the rollouts the registry recorded: waf-behavioral's 50 % canary
    phase (decided: deploy B), n1-detector's 75 % phase (still running), and queue-anomaly's
    10 % canary judged over four days, after its rollback cut B's traffic (a sample-ratio
    mismatch)."""
    from .. import ab

    with ws.connect() as con:
        rows = con.execute("SELECT model_name, version, ts, traffic FROM events WHERE kind = 'traffic'"
                           " AND environment = 'production' ORDER BY seq").fetchall()

    def phase(model: str, share: float) -> tuple[str, _dt.datetime] | None:
        for name, version, ts, traffic in rows:
            if name == model and traffic is not None and abs(traffic - share) < 1e-9:
                return version, ts.replace(tzinfo=_dt.UTC)
        return None

    def previous(model: str, version: str) -> str:
        older = [m for m in ws.registry.get_all(model) if m.version < Version.parse(version)]
        return str(max(older, key=lambda m: m.version).version)

    made = []
    waf = phase("waf-behavioral", 0.5)
    if waf:
        cfg = ab.ABTestConfig.create("waf-behavioral", previous("waf-behavioral", waf[0]), waf[0], 0.5,
                                     duration_days=1.0, guardrails={"precision": 0.05})
        t = ab.create_test(ws, cfg, test_id="ab-waf-canary-50", actor="security-lead", at=waf[1],
                           reason="compare the new attack signatures at 50/50")
        result = ab.evaluate(ws, t.test_id)
        ab.decide(ws, t.test_id, "deploy_b", actor="security-lead", result=result, at=waf[1] + _dt.timedelta(days=1),
                  reason="B at least as accurate and it catches the new attack families; the lift is below the"
                         " 5 % bar for an automatic deploy, so this is a judgement call")
        made.append(t.test_id)
    n1 = phase("n1-detector", 0.75)
    if n1:
        cfg = ab.ABTestConfig.create("n1-detector", previous("n1-detector", n1[0]), n1[0], 0.75, duration_days=1.0)
        made.append(ab.create_test(ws, cfg, test_id="ab-n1-challenger-75", actor="platform", at=n1[1],
                                   reason="challenger at 75 % of traffic").test_id)
    queue = phase("queue-anomaly", 0.1)
    if queue:
        cfg = ab.ABTestConfig.for_gradual_rollout("queue-anomaly", previous("queue-anomaly", queue[0]), queue[0],
                                                  duration_days=4.0)
        made.append(ab.create_test(ws, cfg, test_id="ab-queue-gradual-10", actor="platform", at=queue[1],
                                   reason="gradual rollout of the retrained detector").test_id)
    return made


def _replay(ws: Workspace, data: DemoData) -> int:
    """Register versions and apply the deployment events in time order, back-dated."""
    reg = ws.registry
    timeline: list[tuple[_dt.datetime, int, Any]] = [(v.registered_at, 0, v) for v in data.versions]
    timeline += [(e.at, 1, e) for e in data.events]
    timeline.sort(key=lambda item: (item[0], item[1]))
    count = 0
    with ws.session():
        reg.require_approval("production", actor="platform-admin", reason="production deploys need a second pair of eyes")
        for at, kind, item in timeline:
            count += 1
            if kind == 0:
                reg.register(item.model_name, item.version, preset=item.model_name, config=item.config,
                             metrics=item.metrics, description=item.description, tags=item.tags,
                             actor="ci-pipeline", reason="trained and validated offline", at=at)
            elif item.action == "deploy":
                reg.deploy(item.model_name, item.version, env=item.environment, actor=item.actor, reason=item.reason, at=at)
            elif item.action == "approve":
                reg.approve(item.model_name, item.version, env=item.environment, actor=item.actor, reason=item.reason, at=at)
            elif item.action == "traffic":
                reg.set_traffic(item.model_name, item.version, float(item.traffic_share or 0), env=item.environment,
                                actor=item.actor, reason=item.reason, at=at)
            elif item.action == "rollback":
                reg.rollback(item.model_name, env=item.environment, actor=item.actor, reason=item.reason, at=at)
    return count


def demo_info(ws: Workspace) -> dict[str, Any] | None:
    """What the demo recorded about itself (seed, time range, episodes), if this is a demo."""
    path = ws.path / "demo.json"
    return json.loads(path.read_text()) if path.exists() else None
