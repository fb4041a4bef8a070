"""A/B tests stored in the registry: create, read, list, route, stop, decide, record.

Tests are append-only ``ab_tests`` events (created, started, stopped, evaluated, decided)
with actor and reason, so every decision is audited; :func:`get_test` folds them into a
:class:`StoredTest`.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import polars as pl

from .._util import current_actor, naive_utc, now, to_utc
from ..errors import ConflictError, NotFoundError, ValidationError
from .config import DECISIONS, ABTestConfig

if TYPE_CHECKING:
    from ..workspace import Workspace
    from .analysis import ABTestResult

__all__ = ["StoredTest", "assign", "create_test", "decide", "evaluations", "get_test", "list_tests",
           "record_evaluation", "stop"]


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
        (:class:`mlmm.ab.router.Router`, salted by the test id, monotone as ``share_b`` grows)."""
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
    for many (see :mod:`mlmm.ab.router`; serving code keeps ``get_test(...).router()`` instead of
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
