"""Tests of the workspace: layout, migrations, default path, connection lifetime and locking."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import pytest

import mlmm
from mlmm import WorkspaceError, WorkspaceLockedError
from mlmm.workspace import SCHEMA_VERSION, default_workspace_path

HOLD_SECONDS = 1.5

# A separate process that opens the registry read-write, says so, holds it, then exits.
HOLDER = textwrap.dedent(
    """
    import sys, time, duckdb
    con = duckdb.connect(sys.argv[1])
    con.execute("SELECT count(*) FROM events").fetchone()
    print("holding", flush=True)
    time.sleep(float(sys.argv[2]))
    con.close()
    print("released", flush=True)
    """
)


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Poll ``condition`` until it holds or ``timeout`` passes; return its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[Callable[[Path], subprocess.Popen[str]]]:
    """Start a process holding the registry of a workspace; returns once it holds the lock."""
    started: list[subprocess.Popen[str]] = []

    def start(workspace: Path) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(workspace / "registry.duckdb"), str(HOLD_SECONDS)],
            stdout=subprocess.PIPE,
            text=True,
        )
        started.append(proc)
        assert proc.stdout is not None
        assert proc.stdout.readline() == "holding\n"
        return proc

    yield start
    for proc in started:
        try:
            proc.wait(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()


# ---------------------------------------------------------------------------- layout, schema
def test_open_creates_layout(tmp_path: Path) -> None:
    target = tmp_path / "ws"
    ws = mlmm.open_workspace(target)
    try:
        assert ws.path == target.resolve()
        assert sorted(p.name for p in target.iterdir() if p.is_dir()) == [
            "imports", "labels", "predictions", "quarantine",
        ]
        assert (target / "registry.duckdb").is_file()
        assert ws.registry_path == target.resolve() / "registry.duckdb"
        assert repr(ws) == f"Workspace({str(target.resolve())!r})"
    finally:
        ws.close()
    con = duckdb.connect(str(target / "registry.duckdb"))
    try:
        rows = con.execute("SELECT version, description FROM schema_version").fetchall()
        tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    finally:
        con.close()
    assert rows == [(1, "registry: versions, append-only events, settings"),
                    (2, "alerts: append-only alert log (raised, worsened, acknowledged, resolved, cleared, notified)"),
                    (3, "feature drift: stored references (sketches) and per-column check results"),
                    (4, "A/B tests: append-only lifecycle events (created, started, stopped, decided)"),
                    (5, "tuning runs: threshold sweeps and grid searches with their tables and what was applied"),
                    (6, "report runs: notebook, parameters, status, duration, decision, where the report is"),
                    (7, "schedule runs: each scheduled job's start and finish (append-only)")]
    assert SCHEMA_VERSION == 7
    assert {"schema_version", "versions", "events", "settings", "alerts", "drift_references", "drift_results"} <= tables


def test_reopen_does_not_migrate_twice(tmp_path: Path) -> None:
    mlmm.open_workspace(tmp_path).close()
    ws = mlmm.open_workspace(tmp_path)
    info = ws.info()
    ws.close()
    assert info["schema_version"] == SCHEMA_VERSION
    assert (info["models"], info["versions"], info["events"]) == (0, 0, 0)
    assert info["settings"] == {"retention_days": 30, "max_future_seconds": 86400, "min_timestamp": "2000-01-01T00:00:00Z"}
    con = duckdb.connect(str(tmp_path / "registry.duckdb"))
    try:
        assert con.execute("SELECT count(*) FROM schema_version").fetchone() == (SCHEMA_VERSION,)
    finally:
        con.close()


def test_a_version_1_workspace_migrates_forward_keeping_its_data(tmp_path: Path) -> None:
    ws = mlmm.open_workspace(tmp_path)
    ws.registry.register("m", "1.0.0")
    ws.close()
    con = duckdb.connect(str(tmp_path / "registry.duckdb"))  # back to how a v1 file looked
    try:
        con.execute("DROP TABLE alerts")
        con.execute("DROP TABLE drift_references")
        con.execute("DROP TABLE drift_results")
        con.execute("DROP TABLE ab_tests")
        con.execute("DROP TABLE tuning_runs")
        con.execute("DROP TABLE report_runs")
        con.execute("DROP TABLE schedule_runs")
        con.execute("DELETE FROM schema_version WHERE version > 1")
    finally:
        con.close()
    ws = mlmm.open_workspace(tmp_path)
    try:
        assert ws.info()["schema_version"] == SCHEMA_VERSION == 7
        assert [str(m.version) for m in ws.registry.get_all("m")] == ["1.0.0"]
        with ws.connect() as con:
            assert con.execute("SELECT count(*) FROM alerts").fetchone() == (0,)
    finally:
        ws.close()


def _bump_schema(registry: Path, version: int) -> None:
    con = duckdb.connect(str(registry))
    try:
        con.execute("INSERT INTO schema_version VALUES (?, now()::TIMESTAMP, 'from the future')", [version])
    finally:
        con.close()


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new"
    mlmm.open_workspace(path).close()
    _bump_schema(path / "registry.duckdb", SCHEMA_VERSION + 1)
    expected = (
        f"registry={path.resolve() / 'registry.duckdb'}: schema version 8 is newer than this mlmm "
        "understands (7); expected an mlmm release that knows it (upgrade mlmm)"
    )
    # this process had already opened (and migrated) the workspace: it must check again
    with pytest.raises(WorkspaceError) as err:
        mlmm.open_workspace(path)
    assert str(err.value) == expected
    assert not isinstance(err.value, WorkspaceLockedError)


def test_newer_schema_is_refused_in_a_fresh_process(tmp_path: Path) -> None:
    mlmm.open_workspace(tmp_path).close()
    _bump_schema(tmp_path / "registry.duckdb", 8)
    script = (
        "import sys, mlmm\n"
        "try:\n    mlmm.open_workspace(sys.argv[1])\n"
        "except mlmm.WorkspaceError as exc:\n    print(type(exc).__name__, exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout == (
        f"WorkspaceError registry={tmp_path.resolve() / 'registry.duckdb'}: schema version 8 is newer than "
        "this mlmm understands (7); expected an mlmm release that knows it (upgrade mlmm)\n"
    )


def test_a_file_is_not_a_workspace(tmp_path: Path) -> None:
    target = tmp_path / "plain.txt"
    target.write_text("x")
    with pytest.raises(WorkspaceError) as err:
        mlmm.open_workspace(target)
    assert str(err.value) == f"workspace={target.resolve()}: is a file; expected a directory"


# ---------------------------------------------------------------------------- default path
def test_mlmm_home_is_the_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home-ws"
    monkeypatch.setenv("MLMM_HOME", str(home))
    monkeypatch.chdir(tmp_path)
    assert default_workspace_path() == home
    ws = mlmm.open_workspace()
    try:
        assert ws.path == home.resolve()
        assert (home / "registry.duckdb").is_file()
    finally:
        ws.close()


def test_nearest_data_workspace_is_found_from_a_subdirectory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLMM_HOME", raising=False)
    project = tmp_path / "project"
    mlmm.open_workspace(project / "data" / "workspace").close()
    notebooks = project / "notebooks" / "deep"
    notebooks.mkdir(parents=True)
    monkeypatch.chdir(notebooks)
    assert default_workspace_path() == project / "data" / "workspace"
    # a data/workspace folder without a registry does not count
    (project / "notebooks" / "data" / "workspace").mkdir(parents=True)
    assert default_workspace_path() == project / "data" / "workspace"
    # nothing anywhere: ./data/workspace
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert default_workspace_path() == elsewhere / "data" / "workspace"


# ---------------------------------------------------------------------------- settings
def test_settings_are_append_only(tmp_path: Path) -> None:
    ws = mlmm.open_workspace(tmp_path)
    try:
        assert ws.setting("retention_days") == 30
        ws.set_setting("retention_days", 14, actor="ops", reason="disk")
        ws.set_setting("retention_days", 21, actor="ops")
        assert ws.setting("retention_days") == 21
        assert ws.setting("missing", "dflt") == "dflt"
        with ws.connect() as con:
            rows = con.execute("SELECT key, value, actor, reason FROM settings ORDER BY seq").fetchall()
    finally:
        ws.close()
    assert rows == [("retention_days", "14", "ops", "disk"), ("retention_days", "21", "ops", None)]


# ---------------------------------------------------------------------------- connection lifetime
def test_connection_closes_after_idle(tmp_path: Path) -> None:
    ws = mlmm.open_workspace(tmp_path, idle_seconds=0.1)
    ws.registry.register("m", "1.0.0", actor="a")
    assert ws.lock_held  # kept for the burst
    assert wait_until(lambda: not ws.lock_held, timeout=5)
    opens = ws.opens
    assert ws.registry.get_latest("m").version == "1.0.0"
    assert ws.opens == opens + 1  # reopened on demand
    ws.close()
    assert not ws.lock_held


def test_burst_reuses_one_connection(tmp_path: Path) -> None:
    ws = mlmm.open_workspace(tmp_path, idle_seconds=5)
    try:
        opens = ws.opens
        for i in range(20):
            ws.registry.register("m", f"1.0.{i}", actor="a")
            ws.registry.get_latest("m")
        assert ws.opens == opens
    finally:
        ws.close()


def test_session_keeps_the_file_open(tmp_path: Path) -> None:
    ws = mlmm.open_workspace(tmp_path, idle_seconds=0.05)
    assert wait_until(lambda: not ws.lock_held)
    opens = ws.opens
    with ws.session() as same:
        assert same is ws
        assert ws.lock_held
        ws.registry.register("m", "1.0.0", actor="a")
        time.sleep(0.2)  # four idle windows: still open inside the session
        assert ws.lock_held
        ws.registry.register("m", "1.1.0", actor="a")
        assert [str(m.version) for m in ws.registry.get_all("m")] == ["1.0.0", "1.1.0"]
        assert ws.lock_held
    assert ws.opens == opens + 1
    assert wait_until(lambda: not ws.lock_held, timeout=5)


def test_idle_zero_closes_after_each_call(tmp_path: Path) -> None:
    ws = mlmm.open_workspace(tmp_path, idle_seconds=0)
    assert not ws.lock_held
    ws.registry.register("m", "1.0.0", actor="a")
    assert not ws.lock_held
    with ws.session():
        assert ws.lock_held
    assert not ws.lock_held


# ---------------------------------------------------------------------------- locking
def test_waits_for_another_process_then_succeeds(tmp_path: Path, holder: Callable[[Path], subprocess.Popen[str]]) -> None:
    ws = mlmm.open_workspace(tmp_path, idle_seconds=0.05, lock_timeout=5)
    assert wait_until(lambda: not ws.lock_held)
    proc = holder(tmp_path)
    started = time.monotonic()
    meta = ws.registry.register("m", "1.0.0", actor="a")
    waited = time.monotonic() - started
    assert str(meta.version) == "1.0.0"
    assert waited > 0.5  # it really waited for the holder (which holds 1.5 s after saying so)
    assert proc.wait(timeout=10) == 0
    assert proc.stdout is not None and proc.stdout.read() == "released\n"
    ws.close()
    # and a second open_workspace while another process holds the file also waits, then works
    proc = holder(tmp_path)
    ws2 = mlmm.open_workspace(tmp_path, lock_timeout=5)
    try:
        assert ws2.registry.list_names() == ["m"]
    finally:
        ws2.close()


def test_times_out_with_workspace_locked_error_naming_the_holder(
    tmp_path: Path, holder: Callable[[Path], subprocess.Popen[str]]
) -> None:
    ws = mlmm.open_workspace(tmp_path, idle_seconds=0.05, lock_timeout=0.3)
    assert wait_until(lambda: not ws.lock_held)
    proc = holder(tmp_path)
    registry = tmp_path.resolve() / "registry.duckdb"
    started = time.monotonic()
    with pytest.raises(WorkspaceLockedError) as err:
        ws.registry.list_names()
    waited = time.monotonic() - started
    assert proc.poll() is None  # the holder still held it: we gave up, we did not get through
    assert 0.3 <= waited < HOLD_SECONDS
    exc = err.value
    assert not isinstance(exc, duckdb.Error)
    assert exc.__cause__ is None and exc.__suppress_context__
    command = " ".join([sys.executable, "-c", *HOLDER.split(), str(registry), str(HOLD_SECONDS)])[:120]
    assert exc.holder == f"PID {proc.pid} ({command})"
    assert "\n" not in str(exc)
    assert str(exc) == (
        f"registry={registry}: locked by {exc.holder} for more than 0.3s; expected it to be released "
        "(close that session or raise lock_timeout / MLMM_LOCK_TIMEOUT)"
    )
    assert f"PID {proc.pid}" in str(exc)
    # opening a new workspace object meanwhile fails the same way
    with pytest.raises(WorkspaceLockedError) as err2:
        mlmm.open_workspace(tmp_path, lock_timeout=0.3)
    assert f"PID {proc.pid}" in str(err2.value)
    assert not ws.lock_held


def test_lock_timeout_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLMM_LOCK_TIMEOUT", "0.75")
    ws = mlmm.open_workspace(tmp_path)
    try:
        assert ws.lock_timeout == 0.75
    finally:
        ws.close()


def test_idle_notebook_does_not_block_another_process(tmp_path: Path) -> None:
    ws = mlmm.open_workspace(tmp_path, idle_seconds=0.1, lock_timeout=5)
    ws.registry.register("m", "1.0.0", actor="analyst")
    assert ws.registry.list_names() == ["m"]
    assert wait_until(lambda: not ws.lock_held, timeout=5)
    script = (
        "import sys, mlmm\n"
        "ws = mlmm.open_workspace(sys.argv[1], lock_timeout=0.5)\n"
        "print(ws.registry.register('m', '1.1.0', actor='job').version)\n"
        "ws.close()\n"
    )
    out = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "1.1.0\n"
    # the long-lived workspace object sees the other process's write on its next call
    assert [str(m.version) for m in ws.registry.get_all("m")] == ["1.0.0", "1.1.0"]
    assert ws.registry.get("m", "1.1.0").created_by == "job"
    ws.close()


# -- the public storage boundary: connect(), query(), DuckDB errors as MlmmError ------------------
def test_connect_and_query_read_the_registry(tmp_path: Path) -> None:
    ws = mlmm.open_workspace(tmp_path)
    ws.registry.register("m", "1.0.0", actor="ana")
    with ws.connect() as con:
        assert con.execute("SELECT count(*) FROM versions").fetchone() == (1,)
    frame = ws.query("SELECT model_name, version, registered_by FROM versions WHERE model_name = ?", ["m"])
    assert frame.rows() == [("m", "1.0.0", "ana")]
    assert ws.query("SELECT count(*) AS n FROM events").columns == ["n"]
    ws.close()


@pytest.mark.parametrize(
    ("query", "params", "expected"),
    [
        ("SELECT nope FROM predictions", None,
         "sql='SELECT nope FROM predictions': Binder Error: Referenced column \"nope\" not found in FROM clause!"),
        ("SELCT 1", None, "sql='SELCT 1': Parser Error: syntax error at or near \"SELCT\""),
        ("SELECT ?, ?", [1], "sql='SELECT ?, ?': Invalid Input Error: Values were not provided for the following"
                             " parameters: 2"),
    ],
    ids=["bad-column", "syntax", "parameters"],
)
def test_sql_errors_are_query_errors_in_one_line(tmp_path: Path, query: str, params: list[int] | None,
                                                 expected: str) -> None:
    ws = mlmm.open_workspace(tmp_path)
    with pytest.raises(mlmm.QueryError) as info:
        ws.sql(query, params)
    message = str(info.value)
    assert message.startswith(expected), message
    assert "\n" not in message and "LINE 1" not in message
    assert info.value.query == query
    assert info.value.__cause__ is None and info.value.__suppress_context__  # no DuckDB traceback
    assert not isinstance(info.value, duckdb.Error)
    ws.close()


def test_registry_query_errors_are_query_errors(tmp_path: Path) -> None:
    ws = mlmm.open_workspace(tmp_path)
    with pytest.raises(mlmm.QueryError, match=r"^registry=.*registry\.duckdb, sql='SELECT nope FROM versions':"
                                              r" Binder Error: Referenced column \"nope\" not found"):
        ws.query("SELECT nope FROM versions")
    with pytest.raises(mlmm.QueryError, match=r"Parser Error: syntax error"):
        ws.query("SELEC 1")
    with (pytest.raises(mlmm.QueryError, match=r"^registry=.*: Catalog Error: Table with name nope does not exist!"),
          ws.connect() as con):
        con.execute("SELECT * FROM nope")
    assert ws.query("SELECT 1 AS one").rows() == [(1,)]  # the connection is still usable
    ws.close()


def test_constraint_violation_is_a_conflict(tmp_path: Path) -> None:
    ws = mlmm.open_workspace(tmp_path)
    ws.registry.register("m", "1.0.0")
    with (pytest.raises(mlmm.ConflictError, match=r"^registry=.*: Constraint Error: Duplicate key \"model_name: m, version: 1.0.0\""
                                                  r".*; expected a change that keeps the registry consistent"),
          ws.connect() as con):
        con.execute("INSERT INTO versions SELECT * FROM versions")
    assert ws.query("SELECT count(*) FROM versions").item() == 1
    ws.close()
