"""Alert rules and the alert log: raised once, worsened, cleared and raised again,
acknowledged and resolved by a person, hooks called, exit code 3 from the CLI."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import sys
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

import mlmm
from mlmm import alerts as A
from mlmm.cli import app

UTC = dt.UTC
T0 = dt.datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def ws(tmp_path: Path) -> mlmm.Workspace:
    w = mlmm.open_workspace(tmp_path / "ws")
    w.registry.register("m", "1.0.0", metrics={"accuracy": 0.9},
                        config={"alert_accuracy": 0.85, "alert_severity": "warning"})
    w.registry.deploy("m", "1.0.0", env="production", at=T0 - dt.timedelta(days=1))
    w.set_setting("alert_drift", False)
    w.set_setting("alert_silence", "2h")
    yield w
    w.close()


def _log(ws: mlmm.Workspace, correct: int, wrong: int, start: dt.datetime) -> None:
    n = correct + wrong
    mlmm.log_predictions(ws, {
        "model_name": ["m"] * n, "version": ["1.0.0"] * n, "prediction": [1] * n,
        "actual": [1] * correct + [0] * wrong, "confidence": [0.9] * n,
        "timestamp": [start + dt.timedelta(seconds=10 * i) for i in range(n)]})


def _open(ws: mlmm.Workspace) -> dict[str, tuple[str, str]]:
    return {r["rule"]: (r["severity"], r["status"]) for r in A.list_alerts(ws).iter_rows(named=True)}


def test_conditions_are_raised_once_then_worsen_clear_and_come_back(ws):
    _log(ws, 160, 40, T0)  # accuracy 0.80: below the 0.85 floor, 11 % below the 0.90 baseline
    first = A.check(ws, window="1h", at=T0 + dt.timedelta(hours=1))
    assert sorted(a.rule for a in first.raised) == ["degradation", "floor"]
    assert _open(ws) == {"degradation": ("critical", "open"), "floor": ("warning", "open")}
    assert first.critical_open
    floor = next(c for c in first.conditions if c.rule == "floor")
    assert (floor.value, floor.threshold) == (0.8, 0.85)
    assert floor.message.startswith("m 1.0.0 accuracy 0.800 [0.739, 0.850] (160/200) in the last 1h is below its floor 85%")
    # the same condition, checked again: nothing new is written
    events = A.history(ws).height
    again = A.check(ws, window="1h", at=T0 + dt.timedelta(hours=1, minutes=5))
    assert (again.raised, again.worsened, again.cleared) == ((), (), ())
    assert A.history(ws).height == events
    # the floor becomes critical for this model: the open alert worsens (same id)
    ws.registry.update_config("m", "1.0.0", {"alert_severity": "critical"})
    worse = A.check(ws, window="1h", at=T0 + dt.timedelta(hours=1, minutes=10))
    assert [(a.rule, a.severity, a.alert_id) for a in worse.worsened] == [
        ("floor", "critical", next(a.alert_id for a in first.raised if a.rule == "floor"))]
    # an hour of good predictions: both conditions clear
    _log(ws, 200, 0, T0 + dt.timedelta(hours=2))
    cleared = A.check(ws, window="1h", at=T0 + dt.timedelta(hours=3))
    assert sorted(a.rule for a in cleared.cleared) == ["degradation", "floor"]
    assert _open(ws) == {} and not cleared.critical_open
    # bad again: raised again under a new id
    _log(ws, 150, 50, T0 + dt.timedelta(hours=4))
    back = A.check(ws, window="1h", at=T0 + dt.timedelta(hours=5))
    assert sorted(a.rule for a in back.raised) == ["degradation", "floor"]
    assert {a.alert_id for a in back.raised}.isdisjoint({a.alert_id for a in first.raised})
    kinds = A.history(ws).get_column("event").to_list()
    assert kinds.count("raised") == 4 and kinds.count("worsened") == 1 and kinds.count("cleared") == 2


def test_a_rule_that_cannot_be_evaluated_neither_raises_nor_clears(ws):
    _log(ws, 160, 40, T0)
    A.check(ws, window="1h", at=T0 + dt.timedelta(hours=1))
    _log(ws, 10, 0, T0 + dt.timedelta(hours=2))  # 10 rows: too few for a verdict
    r = A.check(ws, window="1h", at=T0 + dt.timedelta(hours=2, minutes=30))
    floor = next(c for c in r.conditions if c.rule == "floor")
    assert floor.firing is None and floor.message.startswith("insufficient data: 10 labelled")
    assert r.cleared == () and set(_open(ws)) == {"degradation", "floor"}


def test_silence_and_ingest_error_rate(ws):
    _log(ws, 200, 0, T0)
    mlmm.log_predictions(ws, {"model_name": ["m"] * 5, "version": ["1.0.0"] * 5, "prediction": [1] * 5,
                              "confidence": [1.5] * 5, "timestamp": [T0] * 5})  # 5 bad rows: quarantined now
    conditions = {c.rule: c for c in A.evaluate(ws, window="1h", at=T0 + dt.timedelta(hours=3))}
    assert conditions["silent"].firing and conditions["silent"].severity == "critical"
    assert conditions["silent"].message.startswith("m: no predictions for 2h or more (last at 2026-03-01 12:33 UTC)")
    # quarantine is counted by when rows were quarantined (now), predictions by their time
    now = mlmm.monitor.last_prediction_time(ws, "m")
    assert now == T0 + dt.timedelta(seconds=1990)


def test_acknowledge_and_resolve_are_recorded_with_actor_and_reason(ws):
    _log(ws, 160, 40, T0)
    raised = A.check(ws, window="1h", at=T0 + dt.timedelta(hours=1)).raised
    floor = next(a for a in raised if a.rule == "floor")
    acked = A.acknowledge(ws, floor.alert_id, actor="ana", reason="looking at it")
    assert (acked.status, acked.actor) == ("acknowledged", "ana")
    assert _open(ws)["floor"] == ("warning", "acknowledged")
    A.resolve(ws, floor.alert_id, actor="ben", reason="labels were wrong")
    assert "floor" not in _open(ws)
    log = A.history(ws, floor.alert_id).select("event", "actor", "reason").rows()
    assert log == [("raised", "mlmm monitor check", None), ("acknowledged", "ana", "looking at it"),
                   ("resolved", "ben", "labels were wrong")]
    with pytest.raises(mlmm.ValidationError, match=f"alert_id='{floor.alert_id}' is resolved; expected an open alert"):
        A.resolve(ws, floor.alert_id)
    with pytest.raises(mlmm.NotFoundError, match="alert_id='nope': no such alert"):
        A.acknowledge(ws, "nope")
    # still below the floor: the next check raises it again
    again = A.check(ws, window="1h", at=T0 + dt.timedelta(hours=1, minutes=1))
    assert [a.rule for a in again.raised] == ["floor"]


def test_webhook_and_command_hooks_receive_the_alert_json(ws, tmp_path):
    received: list[dict] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(json.loads(body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    out = tmp_path / "hook.jsonl"
    script = tmp_path / "hook.py"
    script.write_text(f"import sys\nopen({str(out)!r}, 'ab').write(sys.stdin.buffer.read() + b'\\n')\n")
    try:
        ws.set_setting("alert_webhook", f"http://127.0.0.1:{server.server_port}/alerts")
        ws.set_setting("alert_command", f"{sys.executable} {script}")
        _log(ws, 160, 40, T0)
        raised = A.check(ws, window="1h", at=T0 + dt.timedelta(hours=1)).raised
    finally:
        server.shutdown()
        server.server_close()
    assert sorted((r["event"], r["rule"], r["severity"]) for r in received) == [
        ("raised", "degradation", "critical"), ("raised", "floor", "warning")]
    from_command = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(r["alert_id"] for r in from_command) == sorted(a.alert_id for a in raised)
    assert A.history(ws).get_column("event").to_list().count("notified") == 4


def test_a_broken_hook_is_logged_not_fatal(ws):
    ws.set_setting("alert_webhook", "http://127.0.0.1:9/nothing-listens-here")
    _log(ws, 160, 40, T0)
    r = A.check(ws, window="1h", at=T0 + dt.timedelta(hours=1))
    assert len(r.raised) == 2
    failed = A.history(ws).filter(A.history(ws).get_column("event") == "notify_failed")
    assert failed.height == 2 and "webhook" in failed.item(0, "details")


def test_cli_check_exits_3_while_a_critical_alert_is_open(ws):
    _log(ws, 160, 40, T0)
    runner = CliRunner()
    args = ["monitor", "check", "--window", "1h", "--at", (T0 + dt.timedelta(hours=1)).isoformat(),
            "--workspace", str(ws.path)]
    ws.close()
    first = runner.invoke(app, args)
    assert first.exit_code == 3, first.output
    assert "raised: [critical] degradation-m-" in first.output
    second = runner.invoke(app, args + ["--json"])
    assert second.exit_code == 3
    data = json.loads(second.output)
    assert (data["raised"], data["critical_open"], len(data["open"])) == ([], True, 2)
    listed = runner.invoke(app, ["alerts", "list", "--json", "--workspace", str(ws.path)])
    assert listed.exit_code == 0 and [a["rule"] for a in json.loads(listed.output)] == ["degradation", "floor"]
    alert_id = json.loads(listed.output)[0]["alert_id"]
    ack = runner.invoke(app, ["alerts", "ack", alert_id, "--actor", "ana", "--workspace", str(ws.path)])
    assert ack.exit_code == 0 and ack.output.strip() == f"{alert_id}: acknowledged by ana"
    bad = runner.invoke(app, ["alerts", "resolve", "nope", "--workspace", str(ws.path)])
    assert bad.exit_code == 1


def test_a_prediction_without_confidence_and_an_f1_drop_do_not_break_the_check(ws):
    ws.registry.update("m", "1.0.0", metrics={"accuracy": 0.9, "f1": 0.95})
    ws.set_setting("alert_drift", True)
    _log(ws, 160, 40, T0)
    mlmm.log_predictions(ws, {"model_name": ["m"], "version": ["1.0.0"], "prediction": [1], "actual": [1],
                              "confidence": [None], "timestamp": [T0 + dt.timedelta(minutes=40)]})
    result = A.check(ws, window="1h", at=T0 + dt.timedelta(hours=1))
    deg = next(c for c in result.conditions if c.rule == "degradation")
    assert deg.firing and "f1 0.950 -> " in deg.message and "no test of its own" in deg.message
    assert next(c for c in result.conditions if c.rule == "drift").firing is not None


def test_quarantine_outside_the_window_does_not_count(ws, monkeypatch):
    import mlmm.predictions as P

    _log(ws, 200, 0, T0)
    monkeypatch.setattr(P.clock, "now", lambda: T0 - dt.timedelta(hours=5))  # quarantined 5 h before the window
    mlmm.log_predictions(ws, {"model_name": ["m"] * 50, "version": ["1.0.0"] * 50, "prediction": [1] * 50,
                              "confidence": [1.5] * 50, "timestamp": [T0] * 50})
    monkeypatch.undo()
    error = next(c for c in A.evaluate(ws, window="1h", at=T0 + dt.timedelta(hours=1)) if c.rule == "error_rate")
    assert error.firing is False and error.value == 0.0


def test_the_degradation_alert_carries_the_level_of_its_significant_drops(ws):
    ws.registry.update("m", "1.0.0", metrics={"accuracy": 0.9, "precision": 0.95})
    # accuracy 0.85 on 1000 rows: a significant warning; precision 0.8 on 10 predicted positives is a
    # critical-level drop but not significant (binomial p = 0.09)
    n = 1000
    pred = [1] * 10 + [0] * (n - 10)
    actual = [1] * 8 + [0] * 2 + [0] * 840 + [1] * 150
    mlmm.log_predictions(ws, {"model_name": ["m"] * n, "version": ["1.0.0"] * n, "prediction": pred, "actual": actual,
                              "timestamp": [T0 + dt.timedelta(seconds=i) for i in range(n)]})
    deg = next(c for c in A.evaluate(ws, window="1h", at=T0 + dt.timedelta(hours=1)) if c.rule == "degradation")
    assert deg.firing and deg.severity == "warning"
