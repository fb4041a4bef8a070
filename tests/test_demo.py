"""The demo workspace, built through the public API."""

from __future__ import annotations

import polars as pl
import pytest

import mlmm
from mlmm.demo import build_demo


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    path = tmp_path_factory.mktemp("demo")
    summary = build_demo(path, rows=12_000, seed=3, end="2026-11-01T00:00:00Z")
    return summary, mlmm.open_workspace(path)


def test_summary_counts(demo):
    summary, ws = demo
    assert summary.models == ("n1-detector", "queue-anomaly", "waf-behavioral")
    assert summary.versions == 6
    assert summary.predictions == 12_000
    assert summary.quarantined == 20  # every malformed row lands in quarantine
    assert mlmm.predictions.read_quarantine(ws).height == 20


def test_registry_state_after_the_story(demo):
    _, ws = demo
    prod = {m.name: str(m.version) for m in ws.registry.get_production_models()}
    assert prod == {"n1-detector": "1.1.0", "queue-anomaly": "1.2.0", "waf-behavioral": "2.1.0"}
    assert ws.registry.approval_required("production") is True
    events = ws.registry.history("queue-anomaly")["summary"].to_list()
    assert "canary in production at 10%" in events
    assert "canary rolled back in production" in events


def test_state_as_of_follows_the_rollout(demo):
    _, ws = demo
    n1 = ws.registry.history("n1-detector")
    deploy_ts = n1.filter((pl.col("event") == "deployed") & (pl.col("version") == "1.1.0") & (pl.col("environment") == "production"))["ts"][0]
    before = ws.registry.state_as_of(deploy_ts - __import__("datetime").timedelta(seconds=1), name="n1-detector")
    after = ws.registry.state_as_of(deploy_ts, name="n1-detector")
    assert before.filter(pl.col("environment") == "production")["version"].to_list() == ["1.0.0"]
    assert after.filter(pl.col("environment") == "production")["version"].to_list() == ["1.1.0"]


def test_predictions_follow_the_registry(demo):
    _, ws = demo
    stats = mlmm.predictions.stats(ws)
    assert stats["predictions"].sum() == 12_000
    assert set(zip(stats["model_name"], stats["version"], strict=True)) <= {
        ("n1-detector", "1.0.0"), ("n1-detector", "1.1.0"), ("waf-behavioral", "2.0.0"),
        ("waf-behavioral", "2.1.0"), ("queue-anomaly", "1.2.0"), ("queue-anomaly", "1.3.0")}
    assert 0.6 < stats["labelled"].sum() / 12_000 < 0.95


def test_rebuild_needs_force(demo, tmp_path):
    summary, _ = demo
    with pytest.raises(mlmm.ConflictError, match="already has models"):
        build_demo(summary.path, rows=1_000)
    (tmp_path / "keep.txt").write_text("mine")
    build_demo(tmp_path, rows=1_000, end="2026-11-01T00:00:00Z")
    again = build_demo(tmp_path, rows=2_000, end="2026-11-01T00:00:00Z", force=True)
    assert again.predictions == 2_000
    assert (tmp_path / "keep.txt").read_text() == "mine"  # --force only removes workspace parts
