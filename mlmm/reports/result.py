"""What a report notebook records at its end: its decision, the reason and key figures (:func:`record`).

Inside a report run (:func:`mlmm.reports.run`) the values go to the run's ``result.json``, whose
path the run passes to the kernel in the environment variable :data:`RESULT_ENV`, with the
job, the actor and whether to apply the decision (:data:`JOB_ENV`, :data:`ACTOR_ENV`,
:data:`AUTO_APPLY_ENV`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ValidationError

if TYPE_CHECKING:
    from ..workspace import Workspace

__all__ = ["ACTOR_ENV", "AUTO_APPLY_ENV", "JOB_ENV", "RESULT_ENV", "record"]

RESULT_ENV = "MLMM_REPORT_RESULT"
"""The environment variable that holds the path of the running report's ``result.json``."""
AUTO_APPLY_ENV = "MLMM_REPORT_AUTO_APPLY"
"""``"1"`` when the scheduled job running the report has auto-apply on."""
JOB_ENV = "MLMM_REPORT_JOB"
"""The scheduled job running the report (empty when run by hand)."""
ACTOR_ENV = "MLMM_REPORT_ACTOR"
"""Who runs the report: a person, or ``schedule:<job>``."""


def record(decision: Any = "none", reason: str = "", *, figures: Mapping[str, Any] | None = None,
           ws: Workspace | None = None, model: str | None = None, actor: str | None = None,
           apply: bool | None = None, override: str | None = None) -> dict[str, Any]:
    """Called at the end of a report notebook: what it decided, why, and its key figures.

    ``decision`` is a :class:`mlmm.decisions.Decision` (from ``decisions.from_assessment``,
    ``from_drift``, ``from_ab``, ``from_tuning``) or one of the decision words with a
    ``reason``. Inside a report run the values go to the run's ``result.json``. With a
    workspace (``ws``) and a model the decision is recorded in the model's registry history
    (:func:`mlmm.decisions.record_decision`, actor = the person or ``schedule:<job>``) and
    performed when ``apply`` is true or, by default, when the scheduled job that runs the
    report has auto-apply on. Outside a run it just records and returns them.
    """
    from ..decisions import DECISIONS, Decision, record_decision

    if isinstance(decision, Decision):
        d: Decision | None = decision
        reason = reason or decision.reason
        model = model or decision.model
        word = decision.decision
        base = {k: v for k, v in decision.evidence.items() if not isinstance(v, (dict, list))}
        figures = {**base, **dict(figures or {})}
    else:
        word = str(decision)
        words = (*DECISIONS, "none")  # a report may also decide nothing
        if word not in words:
            raise ValidationError(f"decision={word!r}: expected one of {', '.join(words)}")
        d = Decision(word, reason, model, source="report") if word != "none" else None
    out: dict[str, Any] = {"decision": word, "reason": reason,
                           "figures": json.loads(json.dumps(dict(figures or {}), default=str)),
                           "applied": False, "outcome": None}
    held = None
    if apply is None:
        apply = os.environ.get(AUTO_APPLY_ENV) == "1"
        if apply and d is not None and d.decision in ("deploy", "roll back") and not d.supported and not override:
            apply, held = False, "not applied automatically: the statistics do not support it"
    job = os.environ.get(JOB_ENV) or None
    if ws is not None and d is not None and d.model:
        try:
            rec = record_decision(ws, d, actor=actor or os.environ.get(ACTOR_ENV) or None, apply=apply,
                                  override=override, job=job)
            out.update(applied=rec.applied, outcome=held or rec.outcome, actor=rec.actor)
        finally:
            _write_result(out)
    else:
        _write_result(out)
    return out


def _write_result(out: Mapping[str, Any]) -> None:
    target = os.environ.get(RESULT_ENV)
    if target:
        Path(target).write_text(json.dumps(out, indent=1, default=str))
