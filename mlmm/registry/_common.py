"""Helpers shared by the registry's modules: environments, checks of configuration, metrics and
tags, and the latest version by semantic-version precedence (the package's internal API)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from ..errors import ValidationError
from ..version import Version

if TYPE_CHECKING:
    from .metadata import ModelMetadata

__all__ = ["ENVIRONMENTS", "ENV_RANK", "check_env", "freeze", "thaw", "check_mapping", "check_metrics",
           "check_tags", "latest_version", "latest_metadata"]

ENVIRONMENTS = ("development", "staging", "production")
ENV_RANK = {env: rank for rank, env in enumerate(ENVIRONMENTS)}
"""The environments a version can be deployed to, least significant first; ``ENV_RANK`` maps each to its rank."""


def freeze(mapping: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping or {}))


def thaw(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [thaw(v) for v in value]
    return value


def check_mapping(value: Any, field: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValidationError(f"{field}={value!r}: expected a mapping of names to values")
    out = {}
    for key, item in value.items():
        if not isinstance(key, str) or not key:
            raise ValidationError(f"{field} key {key!r}: expected a non-empty string")
        out[key] = item
    try:
        json.dumps(out)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{field}={value!r}: expected JSON-serialisable values ({exc})") from None
    return out


def check_metrics(value: Any) -> dict[str, float]:
    metrics = check_mapping(value, "metrics")
    for key, item in metrics.items():
        if isinstance(item, bool) or not isinstance(item, (int, float)) or item != item:
            raise ValidationError(f"metrics[{key!r}]={item!r}: expected a finite number")
    return {k: float(v) for k, v in metrics.items()}


def check_tags(value: Any) -> dict[str, str]:
    if isinstance(value, (list, tuple, set)):
        value = {str(t): "" for t in value}
    tags = check_mapping(value, "tags")
    return {k: "" if v is None else str(v) for k, v in tags.items()}


def check_env(env: str) -> str:
    if env not in ENV_RANK:
        raise ValidationError(f"environment={env!r}: expected one of {', '.join(ENVIRONMENTS)}")
    return env


def latest_version(versions: list[Version], include_prerelease: bool = False) -> Version:
    releases = [v for v in versions if include_prerelease or not v.is_prerelease]
    return max(releases or versions)


def latest_metadata(models: list[ModelMetadata], include_prerelease: bool = False) -> ModelMetadata:
    best = latest_version([m.version for m in models], include_prerelease)
    return next(m for m in models if m.version == best)
