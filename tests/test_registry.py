"""Tests of the model registry (mlmm.registry): versions, revisions, deployments, history."""

from __future__ import annotations

import dataclasses
import datetime as dt
import multiprocessing
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mlmm
from mlmm import (
    ApprovalRequiredError,
    ConflictError,
    ModelMetadata,
    ModelType,
    NotFoundError,
    ValidationError,
    Version,
)
from mlmm.registry import PRESETS, Registry

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
NAME_RULE = "expected 1-128 letters, digits, '-', '_' or '.', starting with a letter or digit"


def hours(n: float) -> dt.datetime:
    return T0 + dt.timedelta(hours=n)


def versions_of(models: list[ModelMetadata]) -> list[str]:
    return [f"{m.name} {m.version}" for m in models]


def wait_until(condition: Any, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return bool(condition())


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[mlmm.Workspace]:
    workspace = mlmm.open_workspace(tmp_path)
    yield workspace
    workspace.close()


@pytest.fixture
def reg(ws: mlmm.Workspace) -> Registry:
    return ws.registry


# ---------------------------------------------------------------------------- register
def test_register_by_name_and_version(reg: Registry) -> None:
    meta = reg.register(
        "fraud", "1.0.0", model_type="unsupervised", config={"threshold": 0.5, "layers": {"depth": 3}},
        metrics={"accuracy": 0.9}, description="first", tags={"team": "risk"}, actor="alice", at=T0,
    )
    assert meta.name == "fraud"
    assert meta.version == Version(1, 0, 0)
    assert meta.model_type is ModelType.UNSUPERVISED
    assert dict(meta.configuration) == {"threshold": 0.5, "layers": {"depth": 3}}
    assert dict(meta.performance_metrics) == {"accuracy": 0.9}
    assert meta.description == "first"
    assert dict(meta.tags) == {"team": "risk"}
    assert meta.created_at == T0 and meta.created_by == "alice"
    assert meta.config_revision == 1
    assert (meta.environment, meta.deployed_at, dict(meta.deployments), meta.deleted) == (None, None, {}, False)
    assert repr(meta) == "<ModelMetadata fraud 1.0.0 (unsupervised) accuracy=0.9>"
    assert meta.to_dict() == {
        "name": "fraud", "version": "1.0.0", "model_type": "unsupervised",
        "configuration": {"threshold": 0.5, "layers": {"depth": 3}}, "performance_metrics": {"accuracy": 0.9},
        "created_at": "2026-01-01T00:00:00+00:00", "created_by": "alice", "deployed_at": None,
        "environment": None, "deployments": {}, "description": "first", "tags": {"team": "risk"},
        "config_revision": 1, "deleted": False,
    }
    assert reg.get("fraud", "1.0.0") == meta


def test_register_by_metadata(reg: Registry) -> None:
    meta = ModelMetadata(name="m", version="2.0.0-rc.1", model_type="reinforcement", configuration={"a": 1},
                         performance_metrics={"reward": 3}, tags=["beta", "gpu"])
    got = reg.register(meta, actor="alice")
    assert (got.name, str(got.version), got.model_type) == ("m", "2.0.0-rc.1", ModelType.REINFORCEMENT)
    assert dict(got.performance_metrics) == {"reward": 3.0}
    assert dict(got.tags) == {"beta": "", "gpu": ""}
    # the version argument overrides the metadata's
    assert str(reg.register(meta, "2.0.0", actor="alice").version) == "2.0.0"
    assert [str(m.version) for m in reg.get_all("m")] == ["2.0.0-rc.1", "2.0.0"]


def test_metadata_is_frozen() -> None:
    meta = ModelMetadata.for_n1_detector("1.0.0")
    with pytest.raises(dataclasses.FrozenInstanceError):
        meta.name = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        meta.configuration["threshold"] = 0.1  # type: ignore[index]
    changed = meta.with_configuration({"threshold": 0.9})
    assert dict(changed.configuration) == {"threshold": 0.9}
    assert meta.configuration["threshold"] == 0.7
    with pytest.raises(ValidationError) as err:
        ModelMetadata(name="m", version="1.0.0", performance_metrics={"accuracy": "high"})
    assert str(err.value) == "metrics['accuracy']='high': expected a finite number"
    with pytest.raises(ValidationError) as err:
        ModelMetadata(name="m", version="1.0.0", model_type="deep")
    assert str(err.value) == "model_type='deep': expected one of supervised, unsupervised, semi_supervised, reinforcement"


def test_presets_carry_the_seed_defaults(reg: Registry) -> None:
    n1 = reg.register("n1-detector", "1.0.0", preset="n1-detector", actor="alice")
    waf = reg.register(ModelMetadata.for_waf_behavioral("1.0.0"), actor="alice")
    queue = reg.register(ModelMetadata.for_queue_anomaly("1.0.0"), actor="alice")
    assert n1.configuration["threshold"] == 0.7
    assert n1.configuration["window_size"] == 100
    assert dict(n1.configuration) == {
        "threshold": 0.7, "window_size": 100, "min_confidence": 0.6, "timeout_ms": 5000,
        "alert_accuracy": 0.85, "tuning_range": [0.5, 0.9], "tuning_step": 0.05,
    }
    assert n1.model_type is ModelType.SUPERVISED
    assert dict(n1.tags) == {"system": "database", "owner": "platform"}
    assert n1.description == "Detects N+1 query patterns in database operations."
    assert waf.name == "waf-behavioral" and waf.model_type is ModelType.UNSUPERVISED
    assert (waf.configuration["window_size"], waf.configuration["alert_accuracy"]) == (100, 0.90)
    assert queue.name == "queue-anomaly"
    assert queue.configuration["zscore_threshold"] == 3.0
    assert queue.configuration["iqr_multiplier"] == 1.5
    assert (queue.configuration["threshold"], queue.configuration["min_cluster_size"]) == (0.6, 3)
    for name in PRESETS:
        assert dict(reg.get(name).configuration) == {
            k: list(v) if isinstance(v, list) else v for k, v in PRESETS[name]["config"].items()
        }


def test_preset_config_is_merged_and_unknown_preset_refused(reg: Registry) -> None:
    meta = reg.register("n1-detector", "1.1.0", preset="n1-detector", config={"threshold": 0.75}, actor="a")
    assert (meta.configuration["threshold"], meta.configuration["window_size"]) == (0.75, 100)
    assert PRESETS["n1-detector"]["config"]["threshold"] == 0.7  # the preset itself is untouched
    other = reg.register("n1-copy", "1.0.0", preset="n1-detector", actor="a")
    assert other.name == "n1-copy" and other.configuration["threshold"] == 0.7
    with pytest.raises(ValidationError) as err:
        reg.register("x", "1.0.0", preset="svm")
    assert str(err.value) == "preset='svm': expected one of n1-detector, waf-behavioral, queue-anomaly"


def test_duplicate_version_is_a_conflict(reg: Registry) -> None:
    reg.register("m", "1.0.0", actor="a")
    reg.register("m", "1.2.0", actor="a")
    with pytest.raises(ConflictError) as err:
        reg.register("m", "1.0.0", actor="a")
    assert str(err.value) == (
        "model='m' version='1.0.0': already registered; expected a new version (bump it, e.g. 1.2.1)"
        " or update the existing one"
    )
    # equal precedence (build metadata is ignored) is the same version
    with pytest.raises(ConflictError) as err:
        reg.register("m", "1.0.0+build.7", actor="a")
    assert str(err.value) == (
        "model='m' version='1.0.0+build.7': already registered (as 1.0.0); expected a new version"
        " (bump it, e.g. 1.2.1) or update the existing one"
    )
    assert reg.version_count("m") == 2
    assert reg.history("m")["event"].to_list() == ["registered", "registered"]


def test_build_metadata_does_not_identify_a_version(reg: Registry) -> None:
    reg.register("m", "1.0.0+build.7", actor="a")
    assert str(reg.get("m", "1.0.0").version) == "1.0.0+build.7"
    assert str(reg.get("m", "1.0.0+other").version) == "1.0.0+build.7"
    assert reg.exists("m", "1.0.0")
    deployed = reg.deploy("m", "1.0.0", actor="a")
    assert reg.deployments()["version"].to_list() == ["1.0.0+build.7"]
    assert deployed.environment == "production"


def test_register_validates_arguments(reg: Registry) -> None:
    with pytest.raises(ValidationError) as err:
        reg.register("m", None)
    assert str(err.value) == "version=None: expected a semantic version such as '1.0.0'"
    with pytest.raises(ValidationError) as err:
        reg.register("m", "1.0")
    assert str(err.value) == (
        "version='1.0': expected a semantic version MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD], e.g. '1.0.0' or '2.0.0-rc.1'"
    )
    with pytest.raises(ValidationError) as err:
        reg.register("m", "1.0.0", config={"f": object})
    assert str(err.value).startswith("configuration={'f': <class 'object'>}: expected JSON-serialisable values")
    assert reg.list_names() == []


@pytest.mark.parametrize("bad", ["../x", "a/b", "..", "a..b", "", ".hidden", "-x", "x" * 129, "with space", "x\\y"])
def test_model_names_are_validated(reg: Registry, bad: str) -> None:
    with pytest.raises(ValidationError) as err:
        reg.register(bad, "1.0.0")
    assert str(err.value) == f"name={bad!r}: {NAME_RULE}"
    with pytest.raises(ValidationError) as err:
        reg.get(bad)
    assert str(err.value) == f"name={bad!r}: {NAME_RULE}"


def test_path_escape_message_exact(reg: Registry) -> None:
    with pytest.raises(ValidationError) as err:
        reg.register("../x", "1.0.0")
    assert str(err.value) == (
        "name='../x': expected 1-128 letters, digits, '-', '_' or '.', starting with a letter or digit"
    )
    assert reg.list_names() == []
    long_name = "a" * 128
    assert reg.register(long_name, "1.0.0", actor="a").name == long_name


# ---------------------------------------------------------------------------- read
@pytest.fixture
def fleet(reg: Registry) -> Registry:
    reg.register("n1-detector", "1.9.0", preset="n1-detector", metrics={"accuracy": 0.91, "f1": 0.80},
                 tags={"stage": "stable"}, actor="a", at=hours(0))
    reg.register("n1-detector", "1.10.0", preset="n1-detector", metrics={"accuracy": 0.95, "f1": 0.85},
                 tags={"stage": "candidate", "gpu": None}, actor="a", at=hours(1))
    reg.register("n1-detector", "2.0.0-rc.1", preset="n1-detector", metrics={"accuracy": 0.97},
                 actor="a", at=hours(2))
    reg.register("queue-anomaly", "1.0.0", preset="queue-anomaly", metrics={"accuracy": 0.88},
                 actor="a", at=hours(3))
    reg.register("waf-behavioral", "0.1.0-beta", preset="waf-behavioral", actor="a", at=hours(4))
    reg.register("waf-behavioral", "0.1.0-alpha", preset="waf-behavioral", actor="a", at=hours(5))
    return reg


def test_get_and_get_latest(fleet: Registry) -> None:
    assert str(fleet.get("n1-detector", "1.9.0").version) == "1.9.0"
    assert str(fleet.get("n1-detector").version) == "1.10.0"  # latest release, 1.10 > 1.9
    assert str(fleet.get_latest("n1-detector").version) == "1.10.0"
    assert str(fleet.get_latest("n1-detector", include_prerelease=True).version) == "2.0.0-rc.1"
    # only pre-releases: the highest pre-release (as pip does)
    assert str(fleet.get_latest("waf-behavioral").version) == "0.1.0-beta"
    assert str(fleet.get("n1-detector", Version.parse("1.10.0+b.1")).version) == "1.10.0"


def test_get_all_and_counts(fleet: Registry) -> None:
    assert [str(m.version) for m in fleet.get_all("n1-detector")] == ["1.9.0", "1.10.0", "2.0.0-rc.1"]
    assert [str(m.version) for m in fleet.get_all("waf-behavioral")] == ["0.1.0-alpha", "0.1.0-beta"]
    assert fleet.version_count("n1-detector") == 3
    assert fleet.list_names() == ["n1-detector", "queue-anomaly", "waf-behavioral"]
    assert fleet.exists("n1-detector") and fleet.exists("n1-detector", "1.9.0")
    assert not fleet.exists("n1-detector", "3.0.0") and not fleet.exists("nope")
    assert versions_of(fleet.get_by_type("unsupervised")) == [
        "queue-anomaly 1.0.0", "waf-behavioral 0.1.0-alpha", "waf-behavioral 0.1.0-beta",
    ]
    assert versions_of(fleet.get_by_type(ModelType.SUPERVISED)) == [
        "n1-detector 1.9.0", "n1-detector 1.10.0", "n1-detector 2.0.0-rc.1",
    ]
    assert fleet.get_by_type("reinforcement") == []


def test_not_found_messages(fleet: Registry, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError) as err:
        fleet.get("nope")
    assert str(err.value) == "model='nope' is not registered; registered models: n1-detector, queue-anomaly, waf-behavioral"
    assert isinstance(err.value, KeyError)
    with pytest.raises(NotFoundError) as err:
        fleet.get("queue-anomaly", "9.9.9")
    assert str(err.value) == "version='9.9.9' of model 'queue-anomaly' is not registered; registered versions: 1.0.0"
    with pytest.raises(NotFoundError) as err:
        fleet.get_all("nope")
    assert str(err.value).startswith("model='nope' is not registered;")
    empty = mlmm.open_workspace(tmp_path / "empty")
    try:
        with pytest.raises(NotFoundError) as err:
            empty.registry.get_latest("m")
        assert str(err.value) == "model='m' is not registered; the registry is empty"
    finally:
        empty.close()


def test_environment_queries(fleet: Registry) -> None:
    fleet.deploy("n1-detector", "1.9.0", env="production", actor="a", at=hours(10))
    fleet.deploy("n1-detector", "1.10.0", env="staging", actor="a", at=hours(11))
    fleet.deploy("queue-anomaly", "1.0.0", env="production", actor="a", at=hours(12))
    fleet.set_traffic("n1-detector", "1.10.0", 0.2, env="production", actor="a", at=hours(13))
    assert versions_of(fleet.get_production_models()) == ["n1-detector 1.9.0", "queue-anomaly 1.0.0"]
    assert versions_of(fleet.get_by_environment("staging")) == ["n1-detector 1.10.0"]
    assert fleet.get_by_environment("development") == []
    prod = fleet.get("n1-detector", "1.9.0")
    assert (prod.environment, prod.deployed_at, prod.is_production) == ("production", hours(10), True)
    staged = fleet.get("n1-detector", "1.10.0")
    assert (staged.environment, dict(staged.deployments)) == ("staging", {"staging": hours(11)})
    with pytest.raises(ValidationError) as err:
        fleet.get_by_environment("prod")
    assert str(err.value) == "environment='prod': expected one of development, staging, production"


def test_search(fleet: Registry) -> None:
    assert versions_of(fleet.search(tag="stage")) == ["n1-detector 1.9.0", "n1-detector 1.10.0"]
    assert versions_of(fleet.search(tag="stage=stable")) == ["n1-detector 1.9.0"]
    assert versions_of(fleet.search(tag="gpu")) == ["n1-detector 1.10.0"]
    assert versions_of(fleet.search(tag="gpu=")) == ["n1-detector 1.10.0"]
    assert versions_of(fleet.search(tag="system=queue")) == ["queue-anomaly 1.0.0"]
    assert fleet.search(tag="stage=gone") == []
    assert versions_of(fleet.search(metric="accuracy>0.9")) == [
        "n1-detector 1.9.0", "n1-detector 1.10.0", "n1-detector 2.0.0-rc.1",
    ]
    assert versions_of(fleet.search(metric="accuracy >= 0.95")) == ["n1-detector 1.10.0", "n1-detector 2.0.0-rc.1"]
    assert versions_of(fleet.search(metric="accuracy<0.9")) == ["queue-anomaly 1.0.0"]
    assert versions_of(fleet.search(metric="accuracy==0.88")) == ["queue-anomaly 1.0.0"]
    assert versions_of(fleet.search(metric="accuracy=0.88")) == ["queue-anomaly 1.0.0"]
    # several filters must all hold; a version without the metric does not match
    assert versions_of(fleet.search(metric=["accuracy>0.9", "f1>=0.85"])) == ["n1-detector 1.10.0"]
    assert versions_of(fleet.search(metric="f1!=0.85")) == ["n1-detector 1.9.0"]
    assert versions_of(fleet.search(tag="stage", metric="accuracy>0.93")) == ["n1-detector 1.10.0"]
    assert versions_of(fleet.search(model_type="unsupervised", name="waf")) == [
        "waf-behavioral 0.1.0-alpha", "waf-behavioral 0.1.0-beta",
    ]
    assert versions_of(fleet.search(metric="accuracy>1e-3", name="queue")) == ["queue-anomaly 1.0.0"]
    for bad in ["accuracy >> 0.9", "accuracy", "accuracy>high", "0.9<accuracy"]:
        with pytest.raises(ValidationError) as err:
            fleet.search(metric=bad)
        assert str(err.value) == f"metric={bad!r}: expected NAME OP NUMBER, e.g. 'accuracy>0.9'"


# ---------------------------------------------------------------------------- update, revisions
def test_update_merges_or_replaces(reg: Registry) -> None:
    reg.register("m", "1.0.0", config={"threshold": 0.7, "window_size": 100, "mode": "fast"},
                 metrics={"accuracy": 0.9, "f1": 0.8}, tags={"a": "1"}, actor="alice")
    merged = reg.update("m", "1.0.0", config={"threshold": 0.8}, actor="bob", reason="tune")
    assert dict(merged.configuration) == {"threshold": 0.8, "window_size": 100, "mode": "fast"}
    assert merged.config_revision == 2
    removed = reg.update("m", "1.0.0", remove=["mode"], actor="bob")
    assert dict(removed.configuration) == {"threshold": 0.8, "window_size": 100}
    assert removed.config_revision == 3
    replaced = reg.update("m", "1.0.0", config={"threshold": 0.6}, merge=False, actor="bob")
    assert dict(replaced.configuration) == {"threshold": 0.6}
    assert replaced.config_revision == 4
    metrics = reg.update("m", "1.0.0", metrics={"accuracy": 0.93}, actor="bob")
    assert dict(metrics.performance_metrics) == {"accuracy": 0.93, "f1": 0.8}
    assert metrics.config_revision == 4  # metrics are not a config revision
    metrics = reg.update("m", "1.0.0", metrics={"recall": 0.5}, merge=False, actor="bob")
    assert dict(metrics.performance_metrics) == {"recall": 0.5}
    described = reg.update("m", "1.0.0", description="tuned", tags={"b": "2"}, actor="bob")
    assert (described.description, dict(described.tags)) == ("tuned", {"a": "1", "b": "2"})
    with pytest.raises(ValidationError) as err:
        reg.update("m", "1.0.0", remove=["nope"])
    assert str(err.value) == "remove='nope': not a configuration key of m 1.0.0"
    assert reg.history("m")["event"].to_list() == ["registered", "config", "config", "config", "metrics", "metrics", "updated"]


def test_no_op_update_creates_no_revision(reg: Registry) -> None:
    reg.register("m", "1.0.0", config={"threshold": 0.7}, actor="alice")
    before = reg.history("m")
    same = reg.update("m", "1.0.0", config={"threshold": 0.7}, actor="bob")
    nothing = reg.update("m", "1.0.0", actor="bob")
    assert same.config_revision == nothing.config_revision == 1
    assert reg.history("m").equals(before)
    assert reg.config_revisions("m", "1.0.0")["revision"].to_list() == [1]


def test_config_revisions_numbering(reg: Registry) -> None:
    reg.register("m", "1.0.0", config={"threshold": 0.7}, actor="alice", at=hours(0))
    reg.register("m", "1.1.0", config={"threshold": 0.9}, actor="alice", at=hours(0.5))
    reg.update_config("m", "1.0.0", {"threshold": 0.75}, actor="bob", reason="fewer alerts")
    reg.update_config("m", "1.0.0", {"threshold": 0.8}, actor="carol")
    revs = reg.config_revisions("m", "1.0.0")
    assert revs.columns == ["revision", "ts", "actor", "reason", "config"]
    assert revs["revision"].to_list() == [1, 2, 3]
    assert revs["actor"].to_list() == ["alice", "bob", "carol"]
    assert revs["reason"].to_list() == [None, "fewer alerts", None]
    assert revs["config"].to_list() == ['{"threshold": 0.7}', '{"threshold": 0.75}', '{"threshold": 0.8}']
    assert revs["ts"][0] == hours(0)
    # default: the latest version
    assert reg.config_revisions("m")["config"].to_list() == ['{"threshold": 0.9}']


def test_config_diff(reg: Registry) -> None:
    reg.register("m", "1.0.0", config={"threshold": 0.7, "model": {"depth": 3, "lr": 0.1}, "old": True}, actor="a")
    reg.register("m", "1.1.0", config={"threshold": 0.75, "model": {"depth": 4, "lr": 0.1, "l2": 0.01}}, actor="a")
    diff = reg.config_diff("m", "1.0.0", "1.1.0")
    assert (diff.a, diff.b) == ("1.0.0", "1.1.0")
    assert diff.added == {"model.l2": 0.01}
    assert diff.removed == {"old": True}
    assert diff.changed == {"model.depth": (3, 4), "threshold": (0.7, 0.75)}
    assert repr(diff) == "<ConfigDiff m 1.0.0 -> 1.1.0: +model.l2=0.01; -old; model.depth: 3 -> 4; threshold: 0.7 -> 0.75>"
    assert diff.to_dict()["changed"] == {"model.depth": {"from": 3, "to": 4}, "threshold": {"from": 0.7, "to": 0.75}}
    assert diff.to_frame().rows() == [
        ("model.depth", "changed", "3", "4"),
        ("model.l2", "added", None, "0.01"),
        ("old", "removed", "true", None),
        ("threshold", "changed", "0.7", "0.75"),
    ]
    reg.update_config("m", "1.0.0", {"threshold": 0.8}, actor="b")
    rev = reg.config_diff("m", "1.0.0@1", "1.0.0")
    assert (rev.a, rev.b, rev.changed, rev.added, rev.removed) == ("1.0.0@1", "1.0.0", {"threshold": (0.7, 0.8)}, {}, {})
    # b=None: against the previous revision
    prev = reg.config_diff("m", "1.0.0")
    assert (prev.a, prev.b, prev.changed) == ("1.0.0@1", "1.0.0@2", {"threshold": (0.7, 0.8)})
    same = reg.config_diff("m", "1.0.0@2", "1.0.0")
    assert same.is_empty and repr(same) == "<ConfigDiff m 1.0.0@2 -> 1.0.0: identical>"
    with pytest.raises(NotFoundError) as err:
        reg.config_diff("m", "1.0.0@3", "1.0.0")
    assert str(err.value) == "revision='3' of m 1.0.0: expected 1..2"
    with pytest.raises(ValidationError) as err:
        reg.config_diff("m", "1.1.0")
    assert str(err.value) == "m 1.1.0 has a single configuration revision; nothing to compare with"


def test_rollback_config_is_a_new_revision(reg: Registry) -> None:
    reg.register("m", "1.0.0", config={"threshold": 0.7, "window_size": 100}, actor="alice")
    reg.update_config("m", "1.0.0", {"threshold": 0.8}, actor="bob")
    reg.update_config("m", "1.0.0", {"window_size": 50, "extra": 1}, actor="bob")
    before = reg.config_revisions("m", "1.0.0")
    back = reg.rollback_config("m", "1.0.0", to_revision=1, actor="carol")
    assert back.config_revision == 4
    assert dict(back.configuration) == {"threshold": 0.7, "window_size": 100}
    revs = reg.config_revisions("m", "1.0.0")
    assert revs["revision"].to_list() == [1, 2, 3, 4]
    assert revs.head(3).equals(before)  # history is not rewritten
    assert revs["config"][3] == revs["config"][0]
    assert revs["reason"][3] == "rollback to revision 1"
    assert reg.config_diff("m", "1.0.0@1", "1.0.0@4").is_empty
    last = reg.history("m").row(-1, named=True)
    assert (last["event"], last["actor"]) == ("config", "carol")
    assert last["summary"] == "config rollback to r1: threshold: 0.8 -> 0.7; window_size: 50 -> 100; -extra"
    # default: the previous revision (here revision 3), again as a new revision
    again = reg.rollback_config("m", "1.0.0", actor="carol", reason="undo")
    assert again.config_revision == 5
    assert dict(again.configuration) == {"threshold": 0.8, "window_size": 50, "extra": 1}
    with pytest.raises(ValidationError) as err:
        reg.rollback_config("m", "1.0.0", to_revision=9)
    assert str(err.value) == "to_revision=9: expected a revision of m 1.0.0 in 1..5"


def test_rollback_config_defaults_to_the_production_version(reg: Registry) -> None:
    reg.register("m", "1.0.0", config={"t": 1}, actor="a")
    reg.register("m", "1.1.0", config={"t": 5}, actor="a")
    reg.update_config("m", "1.0.0", {"t": 2}, actor="a")
    reg.update_config("m", "1.1.0", {"t": 6}, actor="a")
    reg.deploy("m", "1.0.0", actor="a")
    assert dict(reg.rollback_config("m", actor="b").configuration) == {"t": 1}
    assert dict(reg.get("m", "1.1.0").configuration) == {"t": 6}
    with pytest.raises(ValidationError) as err:
        reg.register("single", "1.0.0", actor="a")
        reg.rollback_config("single")
    assert str(err.value) == "single 1.0.0 has a single configuration revision; nothing to roll back to"


# ---------------------------------------------------------------------------- delete / restore
def test_soft_delete_and_restore(reg: Registry) -> None:
    reg.register("m", "1.0.0", actor="a")
    reg.register("m", "1.1.0", metrics={"accuracy": 0.99}, actor="a")
    deleted = reg.delete("m", "1.1.0", actor="b", reason="leaky feature")
    assert versions_of(deleted) == ["m 1.1.0"]
    assert [str(m.version) for m in reg.get_all("m")] == ["1.0.0"]
    assert [(str(m.version), m.deleted) for m in reg.get_all("m", include_deleted=True)] == [
        ("1.0.0", False), ("1.1.0", True),
    ]
    assert str(reg.get_latest("m").version) == "1.0.0"
    assert reg.search(metric="accuracy>0.9") == []
    assert not reg.exists("m", "1.1.0")
    with pytest.raises(NotFoundError) as err:
        reg.get("m", "1.1.0")
    assert str(err.value) == "version='1.1.0' of model 'm' is deleted; `restore` brings it back"
    with pytest.raises(ConflictError):  # a deleted version still owns its number
        reg.register("m", "1.1.0", actor="a")
    restored = reg.restore("m", "1.1.0", actor="c")
    assert not restored.deleted and dict(restored.performance_metrics) == {"accuracy": 0.99}
    assert str(reg.get_latest("m").version) == "1.1.0"
    with pytest.raises(ConflictError) as err:
        reg.restore("m", "1.1.0")
    assert str(err.value) == "m 1.1.0 is not deleted; nothing to restore"
    # deleting every version hides the model from the listing
    assert versions_of(reg.delete("m", actor="b")) == ["m 1.0.0", "m 1.1.0"]
    assert reg.list_names() == []
    assert reg.get_all("m") == []
    summaries = reg.history("m")["summary"].to_list()
    assert summaries[2:] == ["deleted", "restored", "deleted", "deleted"]


def test_deleting_a_deployed_version_is_a_conflict(reg: Registry) -> None:
    reg.register("m", "1.0.0", actor="a")
    reg.register("m", "1.1.0", actor="a")
    reg.deploy("m", "1.0.0", env="production", actor="a")
    reg.set_traffic("m", "1.1.0", 0.1, env="production", actor="a")
    with pytest.raises(ConflictError) as err:
        reg.delete("m", "1.0.0")
    assert str(err.value) == "m 1.0.0 is deployed in production; expected it undeployed before delete"
    with pytest.raises(ConflictError) as err:
        reg.delete("m", "1.1.0")  # a canary counts as deployed
    assert str(err.value) == "m 1.1.0 is deployed in production; expected it undeployed before delete"
    assert reg.history("m")["event"].to_list() == ["registered", "registered", "deployed", "traffic"]
    reg.undeploy("m", env="production", actor="a")
    assert versions_of(reg.delete("m", "1.0.0", actor="a")) == ["m 1.0.0"]


# ---------------------------------------------------------------------------- deployments
@pytest.fixture
def three(reg: Registry) -> Registry:
    for i, version in enumerate(["1.0.0", "1.1.0", "1.2.0"]):
        reg.register("m", version, actor="alice", at=hours(i))
    return reg


def deployed(reg: Registry) -> list[tuple[Any, ...]]:
    return reg.deployments().select("environment", "version", "canary_version", "canary_share").rows()


def test_deploy_replaces_and_reports_the_previous(three: Registry) -> None:
    first = three.deploy("m", "1.0.0", env="production", actor="alice", reason="first", at=hours(10))
    assert (first.environment, first.deployed_at, dict(first.deployments)) == ("production", hours(10), {"production": hours(10)})
    three.deploy("m", "1.1.0", env="production", actor="alice", at=hours(11))
    three.deploy("m", "1.1.0", env="staging", actor="alice", at=hours(12))
    assert deployed(three) == [("production", "1.1.0", None, None), ("staging", "1.1.0", None, None)]
    assert three.get("m", "1.0.0").environment is None
    assert three.get("m", "1.1.0").environment == "production"  # the most significant one
    assert dict(three.get("m", "1.1.0").deployments) == {"production": hours(11), "staging": hours(12)}
    assert three.deployments().row(0, named=True) == {
        "model_name": "m", "environment": "production", "version": "1.1.0", "since": hours(11),
        "canary_version": None, "canary_share": None,
    }
    with pytest.raises(ValidationError) as err:
        three.deploy("m", "1.0.0", env="prod")
    assert str(err.value) == "environment='prod': expected one of development, staging, production"
    with pytest.raises(NotFoundError):
        three.deploy("m", "9.0.0")


def test_canary_and_rollback_ends_it(three: Registry) -> None:
    three.deploy("m", "1.0.0", actor="alice", at=hours(10))
    three.set_traffic("m", "1.1.0", 0.1, actor="alice", at=hours(11))
    assert deployed(three) == [("production", "1.0.0", "1.1.0", 0.1)]
    three.set_traffic("m", "1.1.0", 0.5, actor="alice", at=hours(12))
    assert deployed(three) == [("production", "1.0.0", "1.1.0", 0.5)]
    serving = three.rollback("m", env="production", actor="bob", reason="errors up", at=hours(13))
    assert str(serving.version) == "1.0.0"
    assert deployed(three) == [("production", "1.0.0", None, None)]
    three.set_traffic("m", "1.2.0", 0.2, actor="alice", at=hours(14))
    three.set_traffic("m", "1.2.0", 0, actor="alice", at=hours(15))  # 0 ends the canary
    assert deployed(three) == [("production", "1.0.0", None, None)]
    for bad in [1.5, -0.1, True, "0.5"]:
        with pytest.raises(ValidationError) as err:
            three.set_traffic("m", "1.2.0", bad)  # type: ignore[arg-type]
        assert str(err.value) == f"share={bad!r}: expected a number in [0, 1]"
    assert three.history("m")["summary"].to_list()[3:] == [
        "deployed to production",
        "canary in production at 10%",
        "canary in production at 50%",
        "canary rolled back in production",
        "canary in production at 20%",
        "canary ended in production",
    ]


def test_rollback_redeploys_the_previous_version(three: Registry) -> None:
    with pytest.raises(ConflictError) as err:
        three.rollback("m", env="production")
    assert str(err.value) == "m is not deployed in production; nothing to roll back"
    three.deploy("m", "1.0.0", actor="alice", at=hours(10))
    with pytest.raises(ConflictError) as err:
        three.rollback("m", env="production")
    assert str(err.value) == "m has no earlier version deployed in production to roll back to"
    three.deploy("m", "1.1.0", actor="alice", at=hours(11))
    three.deploy("m", "1.2.0", actor="alice", at=hours(12))
    back = three.rollback("m", env="production", actor="bob", at=hours(13))
    assert (str(back.version), back.deployed_at) == ("1.1.0", hours(13))
    assert deployed(three) == [("production", "1.1.0", None, None)]
    # rolling back again goes to the version deployed before the current one: 1.2.0
    assert str(three.rollback("m", actor="bob", at=hours(14)).version) == "1.2.0"
    # an explicit target
    assert str(three.rollback("m", to_version="1.0.0", actor="bob", at=hours(15)).version) == "1.0.0"
    assert deployed(three) == [("production", "1.0.0", None, None)]
    last = three.history("m").row(-1, named=True)
    assert (last["event"], last["reason"], last["summary"]) == (
        "deployed", "rollback from 1.2.0", "rolled back in production (from 1.2.0)",
    )
    assert three.history("m")["summary"].to_list()[3:6] == [
        "deployed to production", "deployed to production (replacing 1.0.0)", "deployed to production (replacing 1.1.0)",
    ]


def test_rollback_skips_deleted_versions(three: Registry) -> None:
    three.deploy("m", "1.0.0", actor="a", at=hours(10))
    three.deploy("m", "1.1.0", actor="a", at=hours(11))
    three.deploy("m", "1.2.0", actor="a", at=hours(12))
    three.delete("m", "1.1.0", actor="a")
    assert str(three.rollback("m", actor="a").version) == "1.0.0"


def test_undeploy(three: Registry) -> None:
    three.deploy("m", "1.0.0", actor="a", at=hours(10))
    three.set_traffic("m", "1.1.0", 0.25, actor="a", at=hours(11))
    with pytest.raises(ConflictError) as err:
        three.undeploy("m", version="1.2.0")
    assert str(err.value) == "m 1.2.0 is not deployed in production; nothing to undeploy"
    three.undeploy("m", version="1.1.0", actor="a", at=hours(12))  # only the canary
    assert deployed(three) == [("production", "1.0.0", None, None)]
    three.undeploy("m", actor="a", reason="retired", at=hours(13))
    assert deployed(three) == []
    with pytest.raises(ConflictError) as err:
        three.undeploy("m", env="staging")
    assert str(err.value) == "m is not deployed in staging; nothing to undeploy"
    assert three.history("m")["summary"].to_list()[-2:] == ["undeployed from production", "undeployed from production"]


# ---------------------------------------------------------------------------- time travel
def test_state_as_of_answers_what_was_in_production(reg: Registry) -> None:
    reg.register("m", "1.0.0", actor="a", at=hours(0))
    reg.register("m", "1.1.0", actor="a", at=hours(24))
    reg.register("other", "3.0.0", actor="a", at=hours(0))
    reg.deploy("m", "1.0.0", env="production", actor="a", at=hours(1))
    reg.deploy("other", "3.0.0", env="staging", actor="a", at=hours(2))
    reg.deploy("m", "1.1.0", env="production", actor="a", at=hours(48))
    reg.set_traffic("m", "1.0.0", 0.1, env="production", actor="a", at=hours(49))
    reg.rollback("m", env="production", to_version="1.0.0", actor="b", at=hours(72))
    reg.undeploy("m", env="production", actor="b", at=hours(96))

    def prod(at: Any) -> list[tuple[Any, ...]]:
        frame = reg.state_as_of(at, name="m")
        return frame.select("version", "since", "canary_version", "canary_share").rows()

    assert prod(hours(0.5)) == []
    assert prod(hours(1)) == [("1.0.0", hours(1), None, None)]  # inclusive at the event's time
    assert prod(hours(47.99)) == [("1.0.0", hours(1), None, None)]
    assert prod(hours(48)) == [("1.1.0", hours(48), None, None)]
    assert prod("2026-01-03T02:00:00Z") == [("1.1.0", hours(48), "1.0.0", 0.1)]
    assert prod(dt.datetime(2026, 1, 4, 0, 0)) == [("1.0.0", hours(72), None, None)]  # naive = UTC
    assert prod(hours(95)) == [("1.0.0", hours(72), None, None)]
    assert prod(hours(96)) == []
    assert prod(None) == []
    everything = reg.state_as_of(hours(50))
    assert everything.columns == ["model_name", "environment", "version", "since", "canary_version", "canary_share"]
    assert everything.select("model_name", "environment", "version").rows() == [
        ("m", "production", "1.1.0"), ("other", "staging", "3.0.0"),
    ]
    assert reg.deployments().select("model_name", "environment", "version").rows() == [("other", "staging", "3.0.0")]
    # a version as it was: registered, then deployed
    assert reg.get("m", "1.0.0", as_of=hours(1)).environment == "production"
    assert reg.get("m", as_of=hours(30)).version == "1.1.0"
    with pytest.raises(NotFoundError) as err:
        reg.get("m", "1.1.0", as_of=hours(23))
    assert str(err.value) == "model='m' version='1.1.0' did not exist at 2026-01-01T23:00:00+00:00"
    with pytest.raises(ValidationError) as err:
        reg.state_as_of("last tuesday")
    assert str(err.value) == "timestamp='last tuesday': expected an ISO-8601 time, a datetime or epoch seconds"


# ---------------------------------------------------------------------------- approvals
def test_approval_rule(reg: Registry) -> None:
    reg.register("m", "1.0.0", config={"threshold": 0.7}, actor="alice")
    reg.deploy("m", "1.0.0", env="staging", actor="alice")  # no rule for staging
    reg.require_approval("production", actor="admin", reason="four eyes")
    assert reg.approval_required("production") and not reg.approval_required("staging")
    with pytest.raises(ApprovalRequiredError) as err:
        reg.deploy("m", "1.0.0", env="production", actor="alice", reason="ship")
    message = ("deploying m 1.0.0 to production needs an approval by another actor: "
               "no approval recorded since its last configuration change")
    assert str(err.value) == message + " (`mlmm approve m 1.0.0 --env production`)"
    assert isinstance(err.value, ConflictError)
    refused = reg.history("m").row(-1, named=True)
    assert (refused["event"], refused["environment"], refused["actor"], refused["reason"], refused["summary"]) == (
        "deploy_refused", "production", "alice", message, "deployment to production refused",
    )
    # an approval by the deployer does not count
    reg.approve("m", "1.0.0", env="production", actor="alice")
    with pytest.raises(ApprovalRequiredError) as err:
        reg.deploy("m", "1.0.0", env="production", actor="alice")
    assert str(err.value) == (
        "deploying m 1.0.0 to production needs an approval by another actor: only approved by the deployer "
        "(alice); expected an approval by someone else (`mlmm approve m 1.0.0 --env production`)"
    )
    # an approval for another environment does not count either
    reg.approve("m", "1.0.0", env="staging", actor="bob")
    with pytest.raises(ApprovalRequiredError):
        reg.deploy("m", "1.0.0", env="production", actor="alice")
    # approval by someone else works
    reg.approve("m", "1.0.0", env="production", actor="bob", reason="reviewed")
    assert reg.deploy("m", "1.0.0", env="production", actor="alice").environment == "production"
    assert reg.history("m")["event"].to_list() == [
        "registered", "deployed", "deploy_refused", "approved", "deploy_refused", "approved", "deploy_refused",
        "approved", "deployed",
    ]
    # the rule can be lifted
    reg.require_approval("production", False, actor="admin")
    reg.register("m", "1.1.0", actor="alice")
    assert reg.deploy("m", "1.1.0", actor="alice").environment == "production"


def test_config_change_after_approval_invalidates_it(reg: Registry) -> None:
    reg.register("m", "1.0.0", config={"threshold": 0.7}, actor="alice")
    reg.require_approval("production", actor="admin")
    reg.approve("m", "1.0.0", actor="bob")
    reg.update("m", "1.0.0", metrics={"accuracy": 0.9}, actor="alice")  # metrics do not invalidate
    reg.update_config("m", "1.0.0", {"threshold": 0.9}, actor="alice")
    with pytest.raises(ApprovalRequiredError) as err:
        reg.deploy("m", "1.0.0", actor="alice")
    assert "no approval recorded since its last configuration change" in str(err.value)
    assert deployed(reg) == []
    reg.approve("m", "1.0.0", actor="bob")
    reg.deploy("m", "1.0.0", actor="alice")
    assert deployed(reg) == [("production", "1.0.0", None, None)]


# ---------------------------------------------------------------------------- history, summary
def test_history_summaries(reg: Registry) -> None:
    reg.register("m", "1.0.0", model_type="unsupervised", config={"threshold": 0.7}, metrics={"auc": 0.8},
                 actor="alice", reason="initial", at=hours(0))
    reg.register("m", "1.1.0", actor="alice", at=hours(1))
    reg.update_config("m", "1.0.0", {"threshold": 0.75, "window_size": 50}, actor="bob", reason="tune")
    reg.update("m", "1.0.0", metrics={"auc": 0.81234}, actor="bob")
    reg.update("m", "1.0.0", description="tuned", tags={"team": "ml", "gpu": ""}, actor="bob")
    reg.deploy("m", "1.0.0", actor="carol", at=hours(5))
    reg.deploy("m", "1.1.0", actor="carol", at=hours(6))
    reg.rollback("m", actor="carol", at=hours(7))
    hist = reg.history("m")
    assert hist.columns == ["seq", "ts", "model_name", "version", "event", "environment", "actor", "reason", "summary"]
    assert hist.select("version", "event", "actor", "summary").rows() == [
        ("1.0.0", "registered", "alice", "registered (unsupervised)"),
        ("1.1.0", "registered", "alice", "registered (supervised)"),
        ("1.0.0", "config", "bob", "config: threshold: 0.7 -> 0.75; +window_size=50"),
        ("1.0.0", "metrics", "bob", "metrics: auc=0.8123"),
        ("1.0.0", "updated", "bob", "description: tuned; tags: gpu, team=ml"),
        ("1.0.0", "deployed", "carol", "deployed to production"),
        ("1.1.0", "deployed", "carol", "deployed to production (replacing 1.0.0)"),
        ("1.0.0", "deployed", "carol", "rolled back in production (from 1.1.0)"),
    ]
    assert hist["reason"].to_list()[:3] == ["initial", None, "tune"]
    assert hist["ts"][0] == hours(0) and hist["ts"][-1] == hours(7)
    seqs = hist["seq"].to_list()
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert reg.history("m", "1.1.0")["event"].to_list() == ["registered", "deployed"]
    with pytest.raises(NotFoundError):
        reg.history("nope")


def test_history_since_filters_by_time(reg: Registry) -> None:
    reg.register("m", "1.0.0", actor="a", at=hours(0))
    reg.deploy("m", "1.0.0", actor="a", at=hours(5))
    reg.undeploy("m", actor="a", at=hours(6))
    assert reg.history("m", since=hours(5))["event"].to_list() == ["deployed", "undeployed"]
    assert reg.history(since=hours(6))["event"].to_list() == ["undeployed"]


def test_models_table(reg: Registry) -> None:
    reg.register("n1-detector", "1.0.0", preset="n1-detector", metrics={"accuracy": 0.9}, actor="a")
    reg.register("n1-detector", "1.1.0", preset="n1-detector", metrics={"accuracy": 0.93}, actor="a")
    reg.register("n1-detector", "2.0.0-rc.1", preset="n1-detector", actor="a")
    reg.register("queue-anomaly", "0.3.0", preset="queue-anomaly", actor="a")
    reg.deploy("n1-detector", "1.0.0", env="production", actor="a")
    reg.set_traffic("n1-detector", "1.1.0", 0.25, env="production", actor="a")
    reg.deploy("n1-detector", "1.1.0", env="staging", actor="a")
    table = reg.models()
    assert table.schema == {
        "model_name": pl.String, "model_type": pl.String, "versions": pl.Int64, "latest": pl.String,
        "production": pl.String, "canary": pl.String, "staging": pl.String, "latest_accuracy": pl.Float64,
    }
    assert table.rows() == [
        ("n1-detector", "supervised", 3, "1.1.0", "1.0.0", "1.1.0 (25%)", "1.1.0", 0.93),
        ("queue-anomaly", "unsupervised", 1, "0.3.0", None, None, None, None),
    ]
    frame = Registry.to_frame(reg.get_all("n1-detector"))
    assert frame.select("version", "environment", "accuracy").rows() == [
        ("1.0.0", "production", 0.9), ("1.1.0", "staging", 0.93), ("2.0.0-rc.1", None, None),
    ]


# ---------------------------------------------------------------------------- replay property
VERSIONS = ["1.0.0", "1.1.0", "2.0.0"]
ENVS = ["production", "staging"]

operation = st.one_of(
    st.tuples(st.just("deploy"), st.sampled_from(ENVS), st.sampled_from(VERSIONS)),
    st.tuples(st.just("traffic"), st.sampled_from(ENVS), st.sampled_from(VERSIONS), st.sampled_from([0.0, 0.1, 0.5])),
    st.tuples(st.just("undeploy"), st.sampled_from(ENVS), st.sampled_from([None, *VERSIONS])),
    st.tuples(st.just("rollback"), st.sampled_from(ENVS), st.sampled_from([None, None, *VERSIONS])),
)


class ReferenceDeployments:
    """What serves where, written directly from the rules in the Registry docstrings."""

    def __init__(self) -> None:
        self.state = {env: {"version": None, "since": None, "canary": None, "share": None} for env in ENVS}
        self.deployed_log: dict[str, list[str]] = {env: [] for env in ENVS}

    def live(self, env: str) -> bool:
        return self.state[env]["version"] is not None or self.state[env]["canary"] is not None

    def _deploy(self, env: str, version: str, at: dt.datetime) -> None:
        self.state[env] = {"version": version, "since": at, "canary": None, "share": None}
        self.deployed_log[env].append(version)

    def apply(self, op: tuple[Any, ...], at: dt.datetime) -> str | None:
        """Apply ``op``; return "conflict" when the registry must refuse it, else the version
        rollback reports as serving (or None)."""
        kind, env = op[0], op[1]
        s = self.state[env]
        if kind == "deploy":
            self._deploy(env, op[2], at)
        elif kind == "traffic":
            if op[3] > 0:
                s.update(canary=op[2], share=op[3])
            else:
                s.update(canary=None, share=None)
        elif kind == "undeploy":
            version = op[2]
            if not self.live(env) or (version is not None and version not in (s["version"], s["canary"])):
                return "conflict"
            if version is None or version == s["version"]:
                s.update(version=None, since=None)
            if version is None or version == s["canary"]:
                s.update(canary=None, share=None)
        elif kind == "rollback":
            target = op[2]
            if not self.live(env):
                return "conflict"
            if target is None and s["canary"] is not None:
                s.update(canary=None, share=None)
                # with only a canary live (its main version undeployed) nothing serves after
                # this; what rollback returns then is not specified
                return s["version"] if s["version"] is not None else "unspecified"
            if target is None:
                earlier = [v for v in reversed(self.deployed_log[env]) if v != s["version"]]
                if not earlier:
                    return "conflict"
                target = earlier[0]
            self._deploy(env, target, at)
            return target
        return None

    def rows(self) -> list[tuple[Any, ...]]:
        return [
            ("m", env, s["version"], s["since"], s["canary"], s["share"])
            for env, s in self.state.items()  # production first, like the registry
            if s["version"] is not None or s["canary"] is not None
        ]


def run(reg: Registry, op: tuple[Any, ...], at: dt.datetime) -> str | None:
    kind, env = op[0], op[1]
    try:
        if kind == "deploy":
            reg.deploy("m", op[2], env=env, actor="prop", at=at)
        elif kind == "traffic":
            reg.set_traffic("m", op[2], op[3], env=env, actor="prop", at=at)
        elif kind == "undeploy":
            reg.undeploy("m", env=env, version=op[2], actor="prop", at=at)
        else:
            return str(reg.rollback("m", env=env, to_version=op[2], actor="prop", at=at).version)
    except ConflictError:
        return "conflict"
    return None


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(operation, min_size=1, max_size=12))
def test_history_replays_to_the_state(ops: list[tuple[Any, ...]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        ws = mlmm.open_workspace(tmp, idle_seconds=5)
        try:
            reg = ws.registry
            for i, version in enumerate(VERSIONS):
                reg.register("m", version, actor="prop", at=T0 + dt.timedelta(seconds=i))
            model = ReferenceDeployments()
            snapshots = []
            for i, op in enumerate(ops):
                at = hours(1 + i)
                expected = model.apply(op, at)
                got = run(reg, op, at)
                if expected == "unspecified":
                    assert got != "conflict", (i, op)
                else:
                    assert got == expected, (i, op)
                assert reg.deployments().rows() == model.rows(), (i, op)
                snapshots.append((at, model.rows()))
            # time travel: the state at each event's time replays to the snapshot taken then
            for at, rows in snapshots:
                assert reg.state_as_of(at).rows() == rows
            # a fresh process-like state (no cached projection, file reopened) sees the same
            now_rows = reg.deployments().rows()
            now_versions = [m.to_dict() for m in reg.all_versions()]
            ws.close()
            ws.cache.pop("registry.projection", None)
            fresh = mlmm.open_workspace(tmp)
            assert fresh.registry.deployments().rows() == now_rows == model.rows()
            assert [m.to_dict() for m in fresh.registry.all_versions()] == now_versions
            fresh.close()
        finally:
            ws.close()


# ---------------------------------------------------------------------------- across processes
def _child_register(path: str, version: str) -> None:
    ws = mlmm.open_workspace(path, lock_timeout=10)
    ws.registry.register("m", version, actor="child", metrics={"accuracy": 0.5})
    ws.close()


def test_cache_sees_writes_from_another_process(tmp_path: Path) -> None:
    ws = mlmm.open_workspace(tmp_path, idle_seconds=0.05)
    reg = ws.registry
    reg.register("m", "1.0.0", actor="parent")
    assert [str(m.version) for m in reg.get_all("m")] == ["1.0.0"]  # projection built and cached
    assert wait_until(lambda: not ws.lock_held)
    ctx = multiprocessing.get_context("spawn")
    child = ctx.Process(target=_child_register, args=(str(tmp_path), "1.1.0"))
    child.start()
    child.join(timeout=60)
    assert child.exitcode == 0
    assert [str(m.version) for m in reg.get_all("m")] == ["1.0.0", "1.1.0"]
    latest = reg.get_latest("m")
    assert (str(latest.version), latest.created_by, dict(latest.performance_metrics)) == ("1.1.0", "child", {"accuracy": 0.5})
    assert reg.history("m")["actor"].to_list() == ["parent", "child"]
    ws.close()


# ---------------------------------------------------------------------------- serving version
def _old_copies(reg: Registry, name: str) -> list[str | None]:
    """What the six copies of "which version serves in production" answered before
    Registry.serving_version (monitor.degradation, tune, widgets, decisions.retraining_check,
    rollback_config: deployed version else latest)."""
    prod = [m for m in reg.get_production_models() if m.name == name]
    by_models = str(prod[0].version) if prod else str(reg.get_latest(name).version)
    frame = reg.deployments(name).filter(pl.col("environment") == "production")
    by_frame = frame["version"][0] if frame.height else None
    by_frame = by_frame if by_frame is not None else str(reg.get_latest(name).version)
    return [by_models, by_frame]


def test_serving_version_is_the_deployed_version_not_the_canary_and_agrees_with_the_old_copies(reg: Registry) -> None:
    for v in ("1.0.0", "1.1.0", "1.2.0", "2.0.0-rc.1"):
        reg.register("m", v, at=hours(0))
    assert reg.serving_version("m") is None
    assert str(reg.serving_version("m", or_latest=True).version) == "1.2.0"  # a pre-release is not the latest
    assert _old_copies(reg, "m") == ["1.2.0", "1.2.0"]
    reg.deploy("m", "1.0.0", at=hours(1))
    reg.deploy("m", "1.1.0", env="staging", at=hours(1))
    reg.set_traffic("m", "1.2.0", 0.2, at=hours(2))
    serving = reg.serving_version("m")
    assert serving is not None and str(serving.version) == "1.0.0" and serving.environment == "production"
    assert str(reg.serving_version("m", "staging").version) == "1.1.0"
    assert reg.serving_version("m", "development") is None
    assert _old_copies(reg, "m") == ["1.0.0", "1.0.0"]
    reg.deploy("m", "1.1.0", at=hours(3), reason="promote")
    reg.update("m", "1.1.0", config={"threshold": 0.8})
    # time travel: the version that served then, as it was then
    assert str(reg.serving_version("m", at=hours(2.5)).version) == "1.0.0"
    assert str(reg.serving_version("m", at=hours(3.5)).version) == "1.1.0"
    assert reg.serving_version("m", at=hours(0.5)) is None
    assert str(reg.serving_version("m", at=hours(0.5), or_latest=True).version) == "1.2.0"
    assert dict(reg.serving_version("m", at=hours(3.5)).configuration) == {}
    assert reg.serving_version("m").configuration["threshold"] == 0.8
    with pytest.raises(NotFoundError, match=r"^model='nope' is not registered; registered models: m$"):
        reg.serving_version("nope")
    with pytest.raises(NotFoundError, match=r"^model='m' did not exist at 2025-12-31T00:00:00\+00:00$"):
        reg.serving_version("m", at=hours(-24))
    with pytest.raises(ValidationError, match="environment='prod'"):
        reg.serving_version("m", "prod")


def test_serving_version_with_only_a_canary_left_is_none(ws: mlmm.Workspace, reg: Registry) -> None:
    """The copy in monitor.resolve_window(since_deploy=True) read the deployments table, whose
    row stays while a canary runs after the deployed version was undeployed: it then took
    ``None`` for the serving version and measured "since None was deployed". Nothing is
    deployed there: it now says so."""
    from mlmm import monitor

    reg.register("m", "1.0.0", at=hours(0))
    reg.register("m", "1.1.0", at=hours(0))
    reg.deploy("m", "1.0.0", at=hours(1))
    reg.set_traffic("m", "1.1.0", 0.1, at=hours(2))
    reg.undeploy("m", version="1.0.0", at=hours(3))
    assert reg.deployments("m").select("version", "canary_version").rows() == [(None, "1.1.0")]
    assert reg.serving_version("m") is None
    assert str(reg.serving_version("m", or_latest=True).version) == "1.1.0"
    with pytest.raises(NotFoundError, match=r"^m is not deployed in production; expected since_deploy=<version>$"):
        monitor.resolve_window(ws, "m", since_deploy=True)
