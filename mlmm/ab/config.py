"""What an A/B test is: :class:`ABTestConfig` (frozen, validated) and its presets.

Also the vocabulary of the A/B service: the proportion metrics a test may judge and the
decisions a test may end with (:data:`DECISIONS`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from ..errors import ValidationError
from ..version import Version

__all__ = ["DECISIONS", "PROPORTION_METRICS", "ABTestConfig"]

PROPORTION_METRICS = ("accuracy", "precision", "recall", "specificity")
DECISIONS = ("deploy_b", "keep_a", "continue", "stop")


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
