"""The one decision vocabulary: the decision words, :class:`Decision`, and how an A/B verdict maps to them."""

from __future__ import annotations

import dataclasses
import json
import logging
from typing import TYPE_CHECKING, Any

from ..errors import ValidationError

if TYPE_CHECKING:
    pass


log = logging.getLogger("mlmm")

DECISIONS = ("deploy", "keep", "continue", "roll back", "retrain requested", "alert")

ACTIONS = frozenset({"deploy", "roll back", "retrain requested", "alert"})

NEEDS_SUPPORT = frozenset({"deploy", "roll back"})


@dataclasses.dataclass(frozen=True)
class Decision:
    """A conclusion and, for an action, what it acts on.

    ``version`` is the version a deploy targets (or the one judged); ``changes`` a
    configuration a deploy writes (tuning); ``supported`` is False when the statistics do
    not back the action (then recording it with ``apply`` needs an override reason).
    """

    decision: str
    reason: str
    model: str | None = None
    version: str | None = None
    env: str = "production"
    source: str = "manual"
    test_id: str | None = None
    supported: bool = True
    evidence: dict[str, Any] = dataclasses.field(default_factory=dict)
    changes: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.decision not in DECISIONS:
            raise ValidationError(f"decision={self.decision!r}: expected one of {', '.join(DECISIONS)}")
        if not isinstance(self.supported, bool):  # e.g. the method ABTestResult.should_deploy_b, not its value
            raise ValidationError(f"supported={self.supported!r}: expected True or False")

    @property
    def is_action(self) -> bool:
        return self.decision in ACTIONS

    def to_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(dataclasses.asdict(self), default=str))

    def __repr__(self) -> str:
        what = " ".join(x for x in (self.model, self.version, f"[{self.test_id}]" if self.test_id else None) if x)
        flag = "" if self.supported else " (not supported by the statistics)"
        return f"<Decision {self.decision}{flag} {what}: {self.reason}>"


@dataclasses.dataclass(frozen=True)
class ABVerdict:
    """What an A/B evaluation says, in the one vocabulary every face uses.

    ``recommendation`` is the A/B test's own word (recorded on the stored test by
    :func:`mlmm.ab.decide`): ``deploy_b``, ``keep_a``, ``continue`` or ``stop``; ``decision``
    is the deployment decision it backs (:data:`DECISIONS`); ``label`` is what a person reads
    (the panel's recommendation, the CLI). A ``stop`` has two causes that call for different
    actions: B harmed the metric or a guardrail (``roll back`` B), or the split itself is
    broken (a sample-ratio mismatch: no metric can be trusted, so nothing is said about B;
    the test stops and A keeps serving: ``keep``).
    """

    recommendation: str
    decision: str
    label: str
    broken_split: bool = False

    def backs(self, decision: str) -> bool:
        """Whether this verdict supports ``decision``: its own decision, or ``keep`` when it
        says ``roll back`` (keeping A is never riskier than rolling B back)."""
        return decision == self.decision or (decision == "keep" and self.decision == "roll back")


_AB_WORDS = {"deploy_b": ("deploy", "Deploy B"), "keep_a": ("keep", "Keep A"), "continue": ("continue", "Continue"),
             "stop": ("roll back", "Roll back B")}


def ab_verdict(result: Any) -> ABVerdict:
    """The :class:`ABVerdict` of an :class:`mlmm.ab.ABTestResult` (the one mapping from A/B
    words to decisions; the CLI, the panel, the scheduled report and ``mlmm decide --test``
    use it).

    >>> from types import SimpleNamespace as NS
    >>> ab_verdict(NS(recommendation="stop", srm=NS(mismatch=True)))
    ABVerdict(recommendation='stop', decision='keep', label='Stop: broken split (keep A)', broken_split=True)
    >>> ab_verdict(NS(recommendation="stop", srm=NS(mismatch=False))).decision
    'roll back'
    """
    word = result.recommendation
    if word not in _AB_WORDS:
        raise ValidationError(f"recommendation={word!r}: expected one of {', '.join(_AB_WORDS)}")
    srm = getattr(result, "srm", None)
    if word == "stop" and srm is not None and srm.mismatch:
        return ABVerdict(word, "keep", "Stop: broken split (keep A)", broken_split=True)
    decision, label = _AB_WORDS[word]
    return ABVerdict(word, decision, label)
