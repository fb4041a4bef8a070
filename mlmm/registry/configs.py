"""Configuration revisions of a version: the list, the difference between two, and rolling back."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

import polars as pl

from .._util import UTC
from ..errors import NotFoundError, ValidationError
from ..version import Version
from .metadata import ModelMetadata
from .store import RegistryStore

__all__ = ["ConfigDiff", "diff_configs", "ConfigsMixin"]


@dataclasses.dataclass(frozen=True)
class ConfigDiff:
    """What changed between two configurations (nested keys are dotted: ``a.b``)."""

    name: str
    a: str
    b: str
    added: dict[str, Any]
    removed: dict[str, Any]
    changed: dict[str, tuple[Any, Any]]

    @property
    def is_empty(self) -> bool:
        return not (self.added or self.removed or self.changed)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "a": self.a,
            "b": self.b,
            "added": self.added,
            "removed": self.removed,
            "changed": {k: {"from": v[0], "to": v[1]} for k, v in self.changed.items()},
        }

    def to_frame(self) -> pl.DataFrame:
        rows = [(k, "added", None, json.dumps(v)) for k, v in self.added.items()]
        rows += [(k, "removed", json.dumps(v), None) for k, v in self.removed.items()]
        rows += [(k, "changed", json.dumps(v[0]), json.dumps(v[1])) for k, v in self.changed.items()]
        rows.sort()
        return pl.DataFrame(rows, schema=["key", "change", self.a, self.b], orient="row")

    def __repr__(self) -> str:
        if self.is_empty:
            return f"<ConfigDiff {self.name} {self.a} -> {self.b}: identical>"
        parts = [f"+{k}={v!r}" for k, v in self.added.items()]
        parts += [f"-{k}" for k in self.removed]
        parts += [f"{k}: {v[0]!r} -> {v[1]!r}" for k, v in self.changed.items()]
        return f"<ConfigDiff {self.name} {self.a} -> {self.b}: {'; '.join(parts)}>"


def _flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in config.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(_flatten(value, path + "."))
        else:
            out[path] = value
    return out


def diff_configs(name: str, a_label: str, a: Mapping[str, Any], b_label: str, b: Mapping[str, Any]) -> ConfigDiff:
    fa, fb = _flatten(a), _flatten(b)
    return ConfigDiff(
        name=name,
        a=a_label,
        b=b_label,
        added={k: fb[k] for k in sorted(fb.keys() - fa.keys())},
        removed={k: fa[k] for k in sorted(fa.keys() - fb.keys())},
        changed={k: (fa[k], fb[k]) for k in sorted(fa.keys() & fb.keys()) if fa[k] != fb[k]},
    )


class ConfigsMixin(RegistryStore):
    """The registry's configuration revisions (part of :class:`~mlmm.registry.Registry`)."""

    def config_revisions(self, name: str, version: str | Version | None = None) -> pl.DataFrame:
        """Every configuration revision of a version (default: the latest), oldest first."""
        with self.ws.connect() as con:
            meta = self._require(con, name, version)
            rows = con.execute(
                "SELECT ts, actor, reason, config FROM events WHERE model_name = ? AND version = ?"
                " AND config IS NOT NULL ORDER BY seq",
                [name, str(meta.version)],
            ).fetchall()
        return pl.DataFrame(
            {
                "revision": list(range(1, len(rows) + 1)),
                "ts": [r[0].replace(tzinfo=UTC) for r in rows],
                "actor": [r[1] for r in rows],
                "reason": [r[2] for r in rows],
                "config": [r[3] for r in rows],
            },
            schema={"revision": pl.Int64, "ts": pl.Datetime("us", "UTC"), "actor": pl.String,
                    "reason": pl.String, "config": pl.String},
        )

    def _resolve_config(self, name: str, ref: str) -> tuple[str, dict[str, Any]]:
        """``"1.0.0"`` (current config) or ``"1.0.0@2"`` (revision 2) -> (label, config)."""
        ver, _, rev = str(ref).partition("@")
        revisions = self.config_revisions(name, ver)
        label = str(Version.parse(ver))
        if not rev:
            return label, json.loads(revisions["config"][-1])
        if not rev.isdigit() or not 1 <= int(rev) <= len(revisions):
            raise NotFoundError(f"revision={rev!r} of {name} {label}: expected 1..{len(revisions)}")
        return f"{label}@{rev}", json.loads(revisions["config"][int(rev) - 1])

    def config_diff(self, name: str, a: str, b: str | None = None) -> ConfigDiff:
        """Difference between two configurations.

        ``a`` and ``b`` are versions (``"1.0.0"``, meaning its current configuration) or
        revisions (``"1.0.0@1"``). With ``b=None``, ``a`` is compared with the version's
        previous revision.
        """
        if b is None:
            ver = str(a).partition("@")[0]
            count = len(self.config_revisions(name, ver))
            b = a if "@" in str(a) else f"{ver}@{count}"
            prev = int(str(b).partition("@")[2]) - 1
            if prev < 1:
                raise ValidationError(f"{name} {ver} has a single configuration revision; nothing to compare with")
            a = f"{ver}@{prev}"
        label_a, config_a = self._resolve_config(name, a)
        label_b, config_b = self._resolve_config(name, b)
        return diff_configs(name, label_a, config_a, label_b, config_b)

    def rollback_config(
        self,
        name: str,
        version: str | Version | None = None,
        to_revision: int | None = None,
        *,
        actor: str | None = None,
        reason: str | None = None,
    ) -> ModelMetadata:
        """Restore an earlier configuration as a *new* revision (history is never rewritten).

        ``version`` defaults to the production version (else the latest); ``to_revision``
        defaults to the previous revision.
        """
        if version is None:
            version = self.serving_version(name, or_latest=True).version
        revisions = self.config_revisions(name, version)
        count = len(revisions)
        target = count - 1 if to_revision is None else int(to_revision)
        if not 1 <= target <= count:
            raise ValidationError(
                f"to_revision={to_revision!r}: expected a revision of {name} {version} in 1..{count}"
                if count > 1 else f"{name} {version} has a single configuration revision; nothing to roll back to"
            )
        config = json.loads(revisions["config"][target - 1])
        with self.ws.connect() as con:
            current = self._require(con, name, version)
            self._event(con, "config", name, str(current.version), actor=actor,
                        reason=reason or f"rollback to revision {target}", config=config,
                        details={"rollback_to_revision": target, "from_revision": count})
            return self._require(con, name, current.version)
