"""The validation gate (seed 002 "model validation"): a candidate version against the
model's floors and the version in production, on the metrics stored with it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..workspace import Workspace

__all__ = ["ValidationResult", "validate"]


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
