"""What the registry knows about one model version: :class:`ModelMetadata` and :class:`ModelType`."""

from __future__ import annotations

import dataclasses
import datetime as _dt
import enum
from collections.abc import Mapping
from typing import Any

from .._util import check_name
from ..errors import ValidationError
from ..version import Version
from ._common import check_env, check_mapping, check_metrics, check_tags, freeze, thaw

__all__ = ["ModelType", "ModelMetadata"]


class ModelType(enum.StrEnum):
    """The kind of learning behind a model (seed 000 ``ModelType``)."""

    SUPERVISED = "supervised"
    UNSUPERVISED = "unsupervised"
    SEMI_SUPERVISED = "semi_supervised"
    REINFORCEMENT = "reinforcement"

    @classmethod
    def parse(cls, value: str | ModelType) -> ModelType:
        if isinstance(value, ModelType):
            return value
        try:
            return cls(str(value).strip().lower().replace("-", "_"))
        except ValueError:
            raise ValidationError(
                f"model_type={value!r}: expected one of {', '.join(m.value for m in cls)}"
            ) from None

    def __str__(self) -> str:
        return self.value


@dataclasses.dataclass(frozen=True)
class ModelMetadata:
    """One version of a model as the registry knows it (seed 000 ``ModelMetadata``).

    ``configuration``, ``performance_metrics`` and ``tags`` are read-only mappings; use the
    ``with_*`` methods to derive a changed copy before registering, or
    :meth:`Registry.update` for a registered version. ``environment``/``deployed_at`` give the
    most significant environment the version currently serves in; ``deployments`` has them all.
    """

    name: str
    version: Version
    model_type: ModelType = ModelType.SUPERVISED
    configuration: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    performance_metrics: Mapping[str, float] = dataclasses.field(default_factory=dict)
    created_at: _dt.datetime | None = None
    deployed_at: _dt.datetime | None = None
    environment: str | None = None
    description: str = ""
    tags: Mapping[str, str] = dataclasses.field(default_factory=dict)
    config_revision: int = 0
    deployments: Mapping[str, _dt.datetime] = dataclasses.field(default_factory=dict)
    deleted: bool = False
    created_by: str | None = None

    def __post_init__(self) -> None:
        check_name(self.name, "name")
        object.__setattr__(self, "version", Version.parse(self.version))
        object.__setattr__(self, "model_type", ModelType.parse(self.model_type))
        object.__setattr__(self, "configuration", freeze(check_mapping(self.configuration, "configuration")))
        if "classes" in self.configuration or "feature_types" in self.configuration:
            from ..predictions.id_index import check_config

            check_config(self.configuration, self.name, str(self.version))
        object.__setattr__(self, "performance_metrics", freeze(check_metrics(self.performance_metrics)))
        object.__setattr__(self, "tags", freeze(check_tags(self.tags)))
        object.__setattr__(self, "deployments", freeze(self.deployments))
        if self.environment is not None:
            check_env(self.environment)

    # -- presets (seed 000 factory methods) ---------------------------------------------------
    @classmethod
    def from_preset(
        cls, preset: str, version: str | Version, configuration: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> ModelMetadata:
        """Metadata for one of :data:`PRESETS`, with ``configuration`` merged over its defaults."""
        from .presets import PRESETS

        if preset not in PRESETS:
            raise ValidationError(f"preset={preset!r}: expected one of {', '.join(PRESETS)}")
        spec = PRESETS[preset]
        config = {**thaw(spec["config"]), **dict(configuration or {})}
        kwargs.setdefault("name", preset)
        kwargs.setdefault("model_type", spec["model_type"])
        kwargs.setdefault("description", spec["description"])
        kwargs.setdefault("tags", dict(spec["tags"]))
        return cls(version=Version.parse(version), configuration=config, **kwargs)

    @classmethod
    def for_n1_detector(cls, version: str | Version = "1.0.0", configuration: Mapping[str, Any] | None = None) -> ModelMetadata:
        """The N+1 query detector with the seed's defaults (threshold 0.7, window 100).

        >>> ModelMetadata.for_n1_detector("1.0.0").configuration["threshold"]
        0.7
        """
        return cls.from_preset("n1-detector", version, configuration)

    @classmethod
    def for_waf_behavioral(cls, version: str | Version = "1.0.0", configuration: Mapping[str, Any] | None = None) -> ModelMetadata:
        """The WAF behavioural analysis model with the seed's defaults (window 100)."""
        return cls.from_preset("waf-behavioral", version, configuration)

    @classmethod
    def for_queue_anomaly(cls, version: str | Version = "1.0.0", configuration: Mapping[str, Any] | None = None) -> ModelMetadata:
        """The queue job anomaly detector with the seed's defaults (z-score 3.0, IQR 1.5).

        >>> cfg = ModelMetadata.for_queue_anomaly("1.2.0").configuration
        >>> cfg["zscore_threshold"], cfg["iqr_multiplier"]
        (3.0, 1.5)
        """
        return cls.from_preset("queue-anomaly", version, configuration)

    # -- derived copies -----------------------------------------------------------------------
    def with_configuration(self, configuration: Mapping[str, Any]) -> ModelMetadata:
        return dataclasses.replace(self, configuration=dict(configuration))

    def with_performance_metrics(self, metrics: Mapping[str, float]) -> ModelMetadata:
        return dataclasses.replace(self, performance_metrics=dict(metrics))

    @property
    def is_production(self) -> bool:
        return "production" in self.deployments

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": str(self.version),
            "model_type": self.model_type.value,
            "configuration": thaw(self.configuration),
            "performance_metrics": dict(self.performance_metrics),
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "created_by": self.created_by,
            "deployed_at": self.deployed_at.isoformat() if self.deployed_at else None,
            "environment": self.environment,
            "deployments": {env: ts.isoformat() for env, ts in self.deployments.items()},
            "description": self.description,
            "tags": dict(self.tags),
            "config_revision": self.config_revision,
            "deleted": self.deleted,
        }

    def __repr__(self) -> str:
        where = f", {self.environment}" if self.environment else ""
        metrics = ", ".join(f"{k}={v:.3g}" for k, v in list(self.performance_metrics.items())[:4])
        gone = ", deleted" if self.deleted else ""
        return f"<ModelMetadata {self.name} {self.version} ({self.model_type.value}{where}{gone}) {metrics}>"
