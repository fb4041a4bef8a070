"""PredictionTracker (issue 3, section 4): one prediction at a time from serving code, buffered
and flushed by size, by age, on flush/close/context exit and at interpreter exit."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import polars as pl
import pytest

import mlmm
from mlmm import predictions as P
from mlmm.errors import MlmmError, ValidationError

UTC = dt.UTC
WRITERS = Path(__file__).with_name("_writers.py")


@pytest.fixture
def ws(tmp_path: Path) -> mlmm.Workspace:
    workspace = mlmm.open_workspace(tmp_path / "ws")
    workspace.registry.register("m", "1.0.0")
    yield workspace
    workspace.close()


def logged_ids(ws: mlmm.Workspace) -> list[str]:
    return sorted(ws.predictions().select("prediction_id").collect().get_column("prediction_id").to_list())


def log_rows(ws: mlmm.Workspace) -> list[tuple]:
    return ws.predictions().select("prediction_id", "seen", "tags").sort("prediction_id").collect().rows()


def wait_until(condition, timeout: float = 3.0) -> float:
    """Seconds until ``condition()`` held; fails after ``timeout``."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"not within {timeout}s")
        time.sleep(0.01)
    return time.monotonic() - start


def test_track_returns_the_given_or_a_generated_unique_id(ws):
    with P.PredictionTracker(ws) as tracker, P.PredictionTracker(ws) as other:
        given = tracker.track("m", "1.0.0", 1, prediction_id="req-17")
        generated = [tracker.track("m", "1.0.0", i % 2) for i in range(100)]
        theirs = other.track("m", "1.0.0", 0)
        assert given == "req-17"
        assert len(set(generated)) == 100
        prefix = generated[0].rsplit("-", 1)[0]
        assert re.fullmatch(r"[0-9a-f]{12}", prefix)
        assert generated == [f"{prefix}-{i}" for i in range(100)]
        assert not theirs.startswith(prefix)
        assert tracker.pending == 101
    assert logged_ids(ws) == sorted(["req-17", theirs, *generated])


def test_tracked_values_are_stored_like_a_bulk_import(ws):
    when = dt.datetime(2026, 1, 1, 23, 30, tzinfo=UTC)
    with P.PredictionTracker(ws) as tracker:
        tracker.track("m", "1.0.0", True, actual=False, confidence=0.93, prediction_id="a", timestamp=when,
                      features={"query_count": 41, "endpoint": "/orders", "cached": True})
        tracker.track("m", "1.0.0", 0, confidence=1, prediction_id="b", timestamp="2026-01-02T00:30:00+01:00",
                      features={"query_count": 2.5, "date": "x"})  # a reserved name is kept under feature_date
        tracker.track("m", "1.0.0", 1, prediction_id="c", timestamp=int(when.timestamp()))  # epoch seconds
        tracker.track("m", "1.0.0", 1, prediction_id=42, timestamp=when.timestamp() + 0.5)  # an int id as text
    frame = ws.predictions().sort("prediction_id").collect()
    assert frame.select("prediction_id", "timestamp", "prediction", "actual", "confidence", "query_count",
                        "endpoint", "cached", "feature_date", "date").rows() == [
        ("42", when + dt.timedelta(milliseconds=500), 1, None, None, None, None, None, None, dt.date(2026, 1, 1)),
        ("a", when, 1, 0, 0.93, 41.0, "/orders", True, None, dt.date(2026, 1, 1)),
        ("b", when, 0, None, 1.0, 2.5, None, None, "x", dt.date(2026, 1, 1)),
        ("c", when, 1, None, None, None, None, None, None, dt.date(2026, 1, 1)),
    ]
    assert P.read_quarantine(ws).height == 0


def test_flush_by_size_happens_in_the_background(ws):
    tracker = P.PredictionTracker(ws, flush_rows=100, max_age=60)
    try:
        for i in range(99):
            tracker.track("m", "1.0.0", 1, prediction_id=f"s{i}")
        time.sleep(0.3)
        assert (tracker.pending, tracker.stats()["written"], P.prediction_files(ws)) == (99, 0, [])
        tracker.track("m", "1.0.0", 1, prediction_id="s99")
        wait_until(lambda: tracker.stats()["written"] == 100)
        assert len(P.prediction_files(ws)) == 1
        for i in range(100, 250):
            tracker.track("m", "1.0.0", 1, prediction_id=f"s{i}")
        # the 200th row starts a flush; it takes whatever is buffered by then
        wait_until(lambda: tracker.stats()["written"] >= 200)
        # what is not written yet is still buffered (checked once the flush has settled)
        wait_until(lambda: tracker.stats()["written"] + tracker.pending == 250)
        assert tracker.stats()["errors"] == 0
    finally:
        tracker.close()
    assert logged_ids(ws) == sorted(f"s{i}" for i in range(250))
    assert tracker.stats() | {"files": None, "flushes": None} == {
        "tracked": 250, "written": 250, "quarantined": 0, "files": None, "flushes": None, "errors": 0,
        "pending": 0, "last_error": None, "dropped": 0}


def test_flush_by_age_without_calling_flush(ws):
    tracker = P.PredictionTracker(ws, flush_rows=10_000, max_age=0.2)
    try:
        start = time.monotonic()
        for i in range(5):
            tracker.track("m", "1.0.0", 0, prediction_id=f"age{i}")
        wait_until(lambda: ws.predictions().select(pl.len()).collect().item() == 5, timeout=2.0)
        waited = time.monotonic() - start
        assert 0.2 <= waited <= 2.0  # not before max_age, well within a couple of seconds
        assert tracker.stats()["flushes"] == 1 and tracker.pending == 0
    finally:
        tracker.close()
    assert logged_ids(ws) == [f"age{i}" for i in range(5)]


def test_flush_close_and_context_exit_write_the_buffer(ws):
    tracker = P.PredictionTracker(ws, max_age=60)
    tracker.track("m", "1.0.0", 1, confidence=0.5, prediction_id="f1")
    summary = tracker.flush()
    assert (summary.accepted, summary.quarantined, summary.files, summary.source) == (1, 0, 1, "tracker")
    assert summary.batch_id.startswith("t")
    assert tracker.flush() is None  # nothing buffered
    tracker.track("m", "1.0.0", 0, prediction_id="c1")
    tracker.close()
    tracker.close()  # a second close does nothing
    assert logged_ids(ws) == ["c1", "f1"]
    with pytest.raises(MlmmError) as err:
        tracker.track("m", "1.0.0", 1)
    assert str(err.value) == "tracker is closed; expected track() before close()"

    with pytest.raises(RuntimeError, match="request failed"), P.PredictionTracker(ws, max_age=60) as scoped:
        scoped.track("m", "1.0.0", 1, prediction_id="ctx")
        raise RuntimeError("request failed")
    assert logged_ids(ws) == ["c1", "ctx", "f1"]


def test_rows_still_buffered_at_interpreter_exit_are_written(ws):
    ws.close()
    done = subprocess.run([sys.executable, str(WRITERS), "track-exit", str(ws.path), "25"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert logged_ids(ws) == sorted(f"x-{i}" for i in range(25))
    assert ws.predictions().select(pl.col("i").sum()).collect().item() == sum(range(25))


def test_bad_tracked_rows_land_in_quarantine_and_are_counted(ws):
    with P.PredictionTracker(ws, max_age=60) as tracker:
        tracker.track("m", "1.0.0", 1, confidence=0.8, prediction_id="ok")
        tracker.track("m", "1.0.0", 1, confidence=1.7, prediction_id="too-sure")
        tracker.track("m", "9.9.9", 0, prediction_id="unregistered")
        tracker.track("../etc", "1.0.0", 0, prediction_id="escape")
        tracker.track("m", "1.0.0", "maybe", prediction_id="vague")
        tracker.track("m", "1.0.0", 1, prediction_id="when", timestamp="not-a-time")
        tracker.track("m", "1.0.0", 1, prediction_id="spaced", features={"my col": 3})
        summary = tracker.flush()
        assert (summary.accepted, summary.quarantined) == (1, 6)
        assert summary.reasons == {"bad model_name": 1, "bad prediction": 1, "bad timestamp": 1,
                                   "confidence out of [0, 1]": 1, "unregistered version": 1, "bad feature name": 1}
        assert tracker.stats() == {"tracked": 7, "written": 1, "quarantined": 6, "files": 2, "flushes": 1,
                                   "errors": 0, "pending": 0, "last_error": None, "dropped": 0}
    quarantine = P.read_quarantine(ws).sort("prediction_id")
    assert quarantine.select("prediction_id", "rule", "reason").rows() == [
        ("escape", "bad model_name", "model_name='../etc': expected 1-128 letters, digits, '-', '_' or '.'"),
        ("spaced", "bad feature name",
         "feature 'my col': expected a feature name of letters, digits and '_' (at most 64, not starting with a digit)"),
        ("too-sure", "confidence out of [0, 1]", "confidence=1.7: expected a number in [0, 1]"),
        ("unregistered", "unregistered version",
         "version='9.9.9' of model 'm' is not registered (registered: 1.0.0); register it or pass strict=False"),
        ("vague", "bad prediction", "prediction='maybe': expected 0/1, true/false or an integer class"),
        ("when", "bad timestamp", "timestamp='not-a-time': expected an ISO-8601 time"),
    ]
    assert set(quarantine.get_column("source")) == {"tracker"}
    assert logged_ids(ws) == ["ok"]
    assert sorted(p.name for p in ws.predictions_dir.iterdir()) == ["model_name=m"]
    assert not (ws.path.parent / "etc").exists()
    table = P.stats(ws)
    assert table.select("model_name", "version", "predictions", "model_quarantined").rows() == [("m", "1.0.0", 1, 5)]


def test_odd_python_values_never_make_a_flush_fail(ws):
    # each of these once made every flush raise, so the tracker kept its buffer and lost it at exit
    when = dt.datetime(2026, 1, 1, tzinfo=UTC)
    with P.PredictionTracker(ws, max_age=60) as tracker:
        tracker.track("m", "1.0.0", 1, prediction_id="a", features={"seen": when, "tags": [1, 2]})
        tracker.track("m", "1.0.0", 0, prediction_id="b", features={"seen": "yesterday", "tags": {"x": 1}})
        tracker.track("m", "1.0.0", 1, prediction_id=7, features={"odd key": [3]})
        tracker.track(404, "1.0.0", 1, prediction_id="c")
        summary = tracker.flush()
        assert (summary.accepted, summary.quarantined) == (2, 2)
        assert summary.reasons == {"bad feature name": 1, "unregistered version": 1}
        assert tracker.stats()["errors"] == 0
    assert log_rows(ws) == [("a", "2026-01-01 00:00:00+00:00", "[1, 2]"), ("b", "yesterday", '{"x": 1}')]
    quarantine = P.read_quarantine(ws).sort("prediction_id")
    assert quarantine.select("prediction_id", "model_name", "rule").rows() == [
        ("7", "m", "bad feature name"), ("c", "404", "unregistered version")]
    assert quarantine.filter(pl.col("prediction_id") == "7").get_column("odd key").to_list() == ["[3]"]


def test_strict_false_accepts_unregistered_versions(ws):
    with P.PredictionTracker(ws, strict=False) as tracker:
        tracker.track("m", "9.9.9", 1, prediction_id="new")
        tracker.track("fresh-model", "0.1.0", 0, prediction_id="fresh")
    rows = ws.predictions().select("model_name", "version", "prediction_id").sort("prediction_id").collect().rows()
    assert rows == [("fresh-model", "0.1.0", "fresh"), ("m", "9.9.9", "new")]


def test_a_version_registered_while_tracking_is_picked_up(ws):
    with P.PredictionTracker(ws, max_age=60) as tracker:
        tracker.track("m", "1.0.0", 1, prediction_id="before")
        tracker.flush()
        ws.registry.register("m", "1.1.0")
        tracker.track("m", "1.1.0", 1, prediction_id="after")
        assert tracker.flush().accepted == 1
    assert logged_ids(ws) == ["after", "before"]


def test_a_failed_write_keeps_the_rows_and_a_later_flush_writes_them(ws, monkeypatch):
    real = P.tracker.ingest_frame
    failures = []

    def flaky(*args, **kwargs):
        if not failures:
            failures.append(1)
            raise OSError(28, "No space left on device")
        return real(*args, **kwargs)

    monkeypatch.setattr(P.tracker, "ingest_frame", flaky)
    tracker = P.PredictionTracker(ws, max_age=60)
    try:
        for i in range(3):
            tracker.track("m", "1.0.0", 1, prediction_id=f"r{i}")
        with pytest.raises(OSError, match="No space left on device"):
            tracker.flush()
        stats = tracker.stats()
        assert (stats["pending"], stats["written"], stats["errors"]) == (3, 0, 1)
        assert stats["last_error"] == "OSError(28, 'No space left on device')"
        assert P.prediction_files(ws) == []
        assert tracker.flush().accepted == 3
        assert tracker.stats()["last_error"] is None
    finally:
        tracker.close()
    assert logged_ids(ws) == ["r0", "r1", "r2"]


def test_a_failed_background_write_is_retried(ws, monkeypatch):
    real = P.tracker.ingest_frame
    calls = []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise OSError(5, "Input/output error")
        return real(*args, **kwargs)

    monkeypatch.setattr(P.tracker, "ingest_frame", flaky)
    tracker = P.PredictionTracker(ws, max_age=0.05)
    try:
        for i in range(4):
            tracker.track("m", "1.0.0", 0, prediction_id=f"bg{i}")
        wait_until(lambda: tracker.stats()["written"] == 4, timeout=3.0)
        assert tracker.stats()["errors"] == 1 and len(calls) >= 2
    finally:
        tracker.close()
    assert logged_ids(ws) == [f"bg{i}" for i in range(4)]


def test_eight_threads_tracking_at_once_log_every_id_exactly_once(ws):
    tracker = P.PredictionTracker(ws, flush_rows=64, max_age=0.02)
    per_thread = 600
    returned: list[list[str]] = [[] for _ in range(8)]
    barrier = threading.Barrier(8)

    def serve(t: int) -> None:
        barrier.wait()
        for i in range(per_thread):
            # half the requests bring their own id, half get one generated
            pid = tracker.track("m", "1.0.0", i % 2, confidence=0.5, prediction_id=f"th{t}-{i}" if i % 2 else None,
                                features={"thread": t})
            returned[t].append(pid)

    threads = [threading.Thread(target=serve, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    tracker.close()
    ids = [pid for chunk in returned for pid in chunk]
    assert len(ids) == len(set(ids)) == 8 * per_thread
    logged = ws.predictions().select("prediction_id").collect().get_column("prediction_id")
    assert logged.len() == 8 * per_thread
    assert sorted(logged.to_list()) == sorted(ids)
    stats = tracker.stats()
    assert (stats["written"], stats["quarantined"], stats["errors"], stats["pending"]) == (8 * per_thread, 0, 0, 0)
    per_thread_counts = ws.predictions().group_by("thread").len().sort("thread").collect().rows()
    assert per_thread_counts == [(float(t), per_thread) for t in range(8)]


def test_invalid_settings_are_refused(ws):
    with pytest.raises(ValidationError) as err:
        P.PredictionTracker(ws, flush_rows=0)
    assert str(err.value) == "flush_rows=0: expected a positive integer"
    with pytest.raises(ValidationError) as err:
        P.PredictionTracker(ws, max_age=0)
    assert str(err.value) == "max_age=0: expected a positive number of seconds"
