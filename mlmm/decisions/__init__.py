"""Decisions: what a report, a schedule or a person concludes, recorded and (optionally) done.

Every report notebook ends in a :class:`Decision`: ``deploy``, ``keep``, ``continue``,
``roll back``, ``retrain requested`` or ``alert``, with the reason and the evidence. The
``from_*`` functions derive it from a result (``from_assessment``, ``from_drift``,
``from_ab``, ``from_tuning``, ``from_canary``); a person can write one directly.

:func:`record_decision` appends an audited ``decision`` event to the model's registry
history (actor = the person, or ``schedule:<job>``) and, with ``apply=True``, performs the
action through the registry:

================== ==========================================================================
decision           action with ``apply=True``
================== ==========================================================================
deploy             an A/B test: deploy version B (``ab.decide(..., "deploy_b")``); a tuning
                   result: the new configuration as a revision; otherwise deploy ``version``
keep               an A/B test: close it keeping A; otherwise nothing
continue           nothing (the test or the watch goes on)
roll back          an A/B test: stop it and end B's canary; otherwise ``registry.rollback``
retrain requested  the workspace's retraining command (``[retraining] command`` in
                   ``mlmm.toml``), with the model and the evidence in its environment
alert              an alert (rule ``decision``) in the alert log, with its hooks
================== ==========================================================================

A deploy or roll back that the statistics do not support (``supported=False``, e.g. deploy B
without significance) is refused unless an ``override`` reason is given; it is then
recorded as an override.

Retraining triggers follow seed 002 (``AutomatedRetrainingSystem``): performance below the
floor on at least 100 labelled predictions of the last day, data drift over the last
7 days, data volume (labelled predictions since the version was registered) and age
(days since the version was registered; the seed's ``retraining_schedule_days=7``).

Modules: :mod:`~mlmm.decisions.vocabulary` (the words, :class:`Decision`, :func:`ab_verdict`),
:mod:`~mlmm.decisions.sources` (the ``from_*`` functions), :mod:`~mlmm.decisions.recording`
(recording and applying) and :mod:`~mlmm.decisions.retraining` (the retraining triggers).
"""

from __future__ import annotations

from .recording import DecisionRecord, decisions, record_decision
from .retraining import RETRAINING_DEFAULTS, RetrainingCheck, Trigger, retraining_check
from .sources import from_ab, from_assessment, from_canary, from_drift, from_tuning, running_canary
from .vocabulary import ACTIONS, DECISIONS, ABVerdict, Decision, ab_verdict

__all__ = ["ACTIONS", "DECISIONS", "RETRAINING_DEFAULTS", "ABVerdict", "Decision", "DecisionRecord", "RetrainingCheck",
           "Trigger", "ab_verdict", "decisions", "from_ab", "from_assessment", "from_canary", "from_drift", "from_tuning",
           "record_decision", "retraining_check", "running_canary"]
