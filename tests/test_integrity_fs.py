"""Shared workspaces, read-only inspection, and writes the operating system refuses.

* Files mlmm writes are group-readable as the umask says (not 0600), so a teammate can read them.
* A workspace this user cannot write (``chmod -R a-w``, another user's, a read-only mount) can
  still be inspected; a change fails with one line naming the path and the OS error.
* A registry write on a full disk fails with one line, exit 1, and leaves the registry as it was.

The sandbox and some CI run as root, which ignores file modes: the permission tests run the
command in a subprocess as uid/gid 65534 ("nobody"), with an interpreter that user may run;
the mount tests need root (``mount -t tmpfs``, a read-only bind mount) and skip otherwise.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import site
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import polars as pl
import pytest
from typer.testing import CliRunner

import mlmm
import mlmm.workspace
from mlmm._util import atomic_write_bytes, atomic_write_json
from mlmm.cli import app
from mlmm.errors import StorageError, WorkspaceError, WorkspaceLockedError

NOBODY = 65534
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
PROJECT = Path(mlmm.__file__).resolve().parent.parent
# exactly what the `mlmm` console script runs ([project.scripts] mlmm = "mlmm.cli:app")
CLI = "import sys; from mlmm.cli import app; sys.argv[0] = 'mlmm'; sys.exit(app())"

runner = CliRunner()


# ----------------------------------------------------------------------------- helpers
@pytest.fixture()
def umask() -> Iterator[Callable[[int], None]]:
    old = os.umask(0o022)
    os.umask(old)

    def set_umask(value: int) -> None:
        os.umask(value)

    yield set_umask
    os.umask(old)


@pytest.fixture()
def shared_dir() -> Iterator[Path]:
    """A directory every user may enter (pytest's tmp_path is 0700 under root's)."""
    folder = Path(tempfile.mkdtemp(prefix="mlmm-fs-"))
    folder.chmod(0o755)
    yield folder
    for root, dirs, _files in os.walk(folder):
        for d in dirs:
            os.chmod(os.path.join(root, d), 0o755)
    folder.chmod(0o755)
    shutil.rmtree(folder, ignore_errors=True)


def _drop_to_nobody() -> None:
    os.setgroups([])
    os.setgid(NOBODY)
    os.setuid(NOBODY)


def _clean_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLMM_")}
    env.update(HOME=str(home), PYTHONDONTWRITEBYTECODE="1", COLUMNS="200")
    return env


def _pythonpath() -> str:
    """This checkout and the packages this interpreter sees, for a child interpreter."""
    inherited = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return os.pathsep.join(dict.fromkeys([str(PROJECT), *inherited, *site.getsitepackages()]))


_NOBODY_PYTHON: dict[str, tuple[str, dict[str, str]] | str] = {}


def _python_for_nobody(home: Path) -> tuple[str, dict[str, str]]:
    """An interpreter of this Python version that uid 65534 can run, and the environment
    that lets it import this checkout and its installed packages (this venv's interpreter
    may live under /root, which nobody can enter). Skips when there is none."""
    if "found" not in _NOBODY_PYTHON:
        version = f"{sys.version_info.major}.{sys.version_info.minor}"
        candidates = [sys.executable, f"/usr/bin/python{version}", f"/usr/local/bin/python{version}"]
        probe = f"import sys, mlmm.cli, duckdb, polars; assert sys.version.startswith('{version}.')"
        tried = []
        for python in dict.fromkeys(candidates):
            if not os.path.exists(python):
                continue
            env = _clean_env(home)
            env["PYTHONPATH"] = _pythonpath()
            try:
                result = subprocess.run([python, "-c", probe], env=env, cwd="/", preexec_fn=_drop_to_nobody,
                                        capture_output=True, text=True, timeout=120)
            except OSError as exc:  # e.g. under /root, which nobody cannot enter
                tried.append(f"{python}: {exc.strerror}")
                continue
            if result.returncode == 0:
                _NOBODY_PYTHON["found"] = (python, {"PYTHONPATH": env["PYTHONPATH"]})
                break
            tried.append(f"{python}: {(result.stderr.strip().splitlines() or ['?'])[-1]}")
        else:
            _NOBODY_PYTHON["found"] = "; ".join(tried) or "no candidate interpreter"
    found = _NOBODY_PYTHON["found"]
    if isinstance(found, str):
        pytest.skip(f"no Python {sys.version_info.major}.{sys.version_info.minor} that uid {NOBODY} can run"
                    f" with this checkout ({found})")
    return found


def run_as_reader(home: Path, *args: str, code: str = CLI) -> subprocess.CompletedProcess[str]:
    """Run ``mlmm ARGS`` (or a Python ``code``) as someone who does not own the workspace:
    uid 65534 when the tests run as root, else this (non-root) user, to whom modes apply."""
    if IS_ROOT:
        python, extra = _python_for_nobody(home)
        env = {**_clean_env(home), **extra}
        return subprocess.run([python, "-c", code, *args], env=env, cwd=home, preexec_fn=_drop_to_nobody,
                              capture_output=True, text=True, timeout=120)
    env = {**_clean_env(home), "PYTHONPATH": _pythonpath()}
    return subprocess.run([sys.executable, "-c", code, *args], env=env, cwd=home,
                          capture_output=True, text=True, timeout=120)


def run_as_me(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**_clean_env(home), "PYTHONPATH": _pythonpath()}
    return subprocess.run([sys.executable, "-c", CLI, *args], env=env, cwd=home,
                          capture_output=True, text=True, timeout=120)


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The error line of a failed command: exit 1, one line on stderr, no traceback."""
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stdout == ""
    return lines[0]


def build_workspace(path: Path) -> Path:
    """A tiny workspace: model m 1.0.0 in production and three predictions, two labelled."""
    ws = mlmm.open_workspace(path, idle_seconds=0)
    ws.registry.register("m", "1.0.0", reason="first")
    ws.registry.deploy("m", "1.0.0", env="production", reason="go")
    mlmm.log_predictions(ws, pl.DataFrame({
        "model_name": ["m"] * 3, "version": ["1.0.0"] * 3, "prediction": [1, 0, 1],
        "actual": [1, None, 0], "confidence": [0.9, 0.2, 0.6],
        "timestamp": ["2026-01-01T10:00:00Z", "2026-01-01T11:00:00Z", "2026-01-01T12:00:00Z"],
    }), batch_id="first-batch")
    ws.close()
    return path


def make_read_only(path: Path) -> None:
    for root, dirs, files in os.walk(path):
        for name in files:
            p = os.path.join(root, name)
            os.chmod(p, os.stat(p).st_mode & ~0o222)
        for name in dirs:
            p = os.path.join(root, name)
            os.chmod(p, os.stat(p).st_mode & ~0o222)
    os.chmod(path, os.stat(path).st_mode & ~0o222)


def registry_state(path: Path) -> tuple[list[str], int, int]:
    """(versions of m, number of events, retention_days) read in a fresh DuckDB connection."""
    con = duckdb.connect(str(path / "registry.duckdb"), read_only=True)
    try:
        versions = [v for (v,) in con.execute("SELECT version FROM versions ORDER BY version").fetchall()]
        events = con.execute("SELECT count(*) FROM events").fetchone()[0]
        setting = con.execute("SELECT arg_max(value, seq) FROM settings WHERE key = 'retention_days'").fetchone()[0]
    finally:
        con.close()
    return versions, events, json.loads(setting) if setting is not None else 30


def inspect_all(home: Path, ws: Path) -> None:
    """The read commands a teammate runs work and show the workspace's content."""
    listed = run_as_reader(home, "models", "list", "--json", "-w", str(ws))
    assert listed.returncode == 0, listed.stderr
    assert [(m["model_name"], m["latest"], m["production"]) for m in json.loads(listed.stdout)] == [("m", "1.0.0", "1.0.0")]
    history = run_as_reader(home, "models", "history", "m", "--json", "-w", str(ws))
    assert history.returncode == 0, history.stderr
    assert [(h["version"], h["event"], h["reason"]) for h in json.loads(history.stdout)] == [
        ("1.0.0", "registered", "first"), ("1.0.0", "deployed", "go")]
    deployed = run_as_reader(home, "deployments", "--json", "-w", str(ws))
    assert deployed.returncode == 0, deployed.stderr
    assert [(d["model_name"], d["environment"], d["version"]) for d in json.loads(deployed.stdout)] == [
        ("m", "production", "1.0.0")]
    stats = run_as_reader(home, "predictions", "stats", "--json", "-w", str(ws))
    assert stats.returncode == 0, stats.stderr
    assert [(s["model_name"], s["predictions"], s["labelled"]) for s in json.loads(stats.stdout)] == [("m", 3, 2)]
    code = ("import sys, mlmm; ws = mlmm.open_workspace(sys.argv[1]);"
            " print([(m.name, str(m.version)) for m in ws.registry.get_production_models()], ws.read_only)")
    api = run_as_reader(home, str(ws), code=code)
    assert (api.returncode, api.stdout.strip(), api.stderr) == (0, "[('m', '1.0.0')] True", "")


# ----------------------------------------------------------------------------- 1. file modes
@pytest.mark.parametrize(("mask", "mode"), [(0o002, 0o664), (0o022, 0o644)], ids=["umask-002", "umask-022"])
def test_atomic_write_follows_the_umask(tmp_path: Path, umask: Callable[[int], None], mask: int, mode: int) -> None:
    umask(mask)
    target = tmp_path / "imports" / "b1.json"
    atomic_write_json(target, {"accepted": 3})
    assert (target.stat().st_mode & 0o7777, json.loads(target.read_text())) == (mode, {"accepted": 3})
    atomic_write_json(target, {"accepted": 4})  # replacing keeps the umask's mode too
    assert (target.stat().st_mode & 0o7777, json.loads(target.read_text())) == (mode, {"accepted": 4})
    assert [p.name for p in target.parent.iterdir()] == ["b1.json"]  # no temporary file left


def test_import_record_and_workspace_files_are_group_readable(shared_dir: Path, umask: Callable[[int], None]) -> None:
    umask(0o002)
    ws_path = build_workspace(shared_dir / "ws")
    record = ws_path / "imports" / "first-batch.json"
    assert record.stat().st_mode & 0o7777 == 0o664
    assert (ws_path / "registry.duckdb").stat().st_mode & 0o7777 == 0o664
    assert {p.name: p.stat().st_mode & 0o7777 for p in ws_path.iterdir() if p.is_dir()}.get("imports") == 0o775


def test_atomic_write_failure_names_the_path_and_keeps_the_old_file(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "mlmm.toml"
    atomic_write_bytes(target, b"old")

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(StorageError) as caught:
        atomic_write_bytes(target, b"new")
    assert str(caught.value) == (
        f"{target}: cannot write: No space left on device; expected free space on its file system"
        " (free some, or move the workspace)"
    )
    assert isinstance(caught.value, OSError)  # code that handles OS errors still does
    assert (caught.value.path, caught.value.errno) == (str(target), errno.ENOSPC)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["mlmm.toml"]


# ----------------------------------------------------------------------------- 2. read-only inspection
def test_read_only_workspace_can_be_inspected(shared_dir: Path, umask: Callable[[int], None]) -> None:
    umask(0o022)
    ws_path = build_workspace(shared_dir / "ws")
    make_read_only(ws_path)
    inspect_all(shared_dir, ws_path)
    registry = ws_path / "registry.duckdb"
    line = one_error_line(run_as_reader(shared_dir, "models", "register", "m", "2.0.0", "-w", str(ws_path)))
    assert line.startswith(f"error: workspace {ws_path} is read-only: {registry}: Permission denied (owner uid "), line
    assert "mode 0444); this change was not recorded (reading works); expected write permission for " in line
    assert registry_state(ws_path) == (["1.0.0"], 2, 30)
    info = run_as_reader(shared_dir, "workspace", "info", "--json", "-w", str(ws_path))
    assert info.returncode == 0, info.stderr
    assert json.loads(info.stdout)["read_only"].startswith(f"{registry}: Permission denied")


@pytest.mark.skipif(not IS_ROOT, reason="needs root to make files another user owns")
def test_workspace_of_another_user_can_be_inspected(shared_dir: Path, umask: Callable[[int], None]) -> None:
    umask(0o022)  # root's files: 0644, folders 0755; nobody may read, not write
    ws_path = build_workspace(shared_dir / "ws")
    (ws_path / "mlmm.toml").write_text('[retraining]\nmax_age = "14d"\n')
    inspect_all(shared_dir, ws_path)
    conf = run_as_reader(shared_dir, "schedule", "config", "--json", "-w", str(ws_path))
    assert conf.returncode == 0, conf.stderr
    assert (json.loads(conf.stdout)["config"]["retraining"]["max_age"],
            json.loads(conf.stdout)["sources"]["retraining.max_age"]) == ("14d", "mlmm.toml")
    line = one_error_line(run_as_reader(shared_dir, "workspace", "set", "retention_days", "3", "-w", str(ws_path)))
    assert line.startswith(f"error: workspace {ws_path} is read-only: {ws_path / 'registry.duckdb'}: Permission denied"
                           " (owner uid 0, mode 0644); this change was not recorded (reading works);"), line
    assert registry_state(ws_path) == (["1.0.0"], 2, 30)


@pytest.mark.skipif(not IS_ROOT, reason="needs root to make files another user owns")
def test_unreadable_files_of_another_user_are_one_line_errors(shared_dir: Path, umask: Callable[[int], None]) -> None:
    umask(0o022)
    ws_path = build_workspace(shared_dir / "ws")
    toml = ws_path / "mlmm.toml"
    toml.write_text('[retraining]\nmax_age = "14d"\n')
    toml.chmod(0o600)
    line = one_error_line(run_as_reader(shared_dir, "schedule", "config", "-w", str(ws_path)))
    assert line.startswith(f"error: {toml}: cannot read: Permission denied; expected read permission for "), line
    assert line.endswith("(ask the owner to grant it to your group, e.g. chmod g+r, or work on a copy)")
    registry = ws_path / "registry.duckdb"
    registry.chmod(0o600)
    line = one_error_line(run_as_reader(shared_dir, "models", "list", "-w", str(ws_path)))
    assert line.startswith(f"error: registry={registry}: cannot open: Permission denied; expected read permission"), line


@pytest.mark.skipif(not IS_ROOT, reason="needs root to make files another user owns")
def test_unreadable_import_record_is_a_one_line_error(shared_dir: Path, umask: Callable[[int], None]) -> None:
    umask(0o000)  # a workspace the team may write (as if all shared one group)
    ws_path = build_workspace(shared_dir / "ws")
    csv = shared_dir / "preds.csv"
    pl.DataFrame({"model_name": ["m"], "version": ["1.0.0"], "prediction": [1],
                  "timestamp": ["2026-01-02T00:00:00Z"]}).write_csv(csv)
    assert run_as_me(shared_dir, "predictions", "import", str(csv), "-w", str(ws_path)).returncode == 0
    records = list((ws_path / "imports").glob("*.json"))
    for record in records:
        record.chmod(0o600)  # as mlmm wrote them before: tempfile.mkstemp's mode
    again = [r for r in records if r.name != "first-batch.json"]
    line = one_error_line(run_as_reader(shared_dir, "predictions", "import", str(csv), "-w", str(ws_path)))
    assert str(again[0]) in line and "Permission denied" in line, line


def test_error_message_turns_os_errors_into_one_line() -> None:
    from mlmm.cli._common import error_message

    record = "/ws/imports/b1.json"
    assert error_message(PermissionError(errno.EACCES, "Permission denied", record)).startswith(
        f"{record}: cannot access: Permission denied; expected access permission for ")
    assert error_message(OSError(errno.ENOSPC, "No space left on device", "/ws/x")) == (
        "/ws/x: cannot write: No space left on device; expected free space on its file system"
        " (free some, or move the workspace)")
    assert error_message(KeyError("bug")) is None  # not the user's to fix: the traceback stays


def test_lock_in_the_path_is_not_a_lock_conflict(shared_dir: Path) -> None:
    folder = shared_dir / "blocks" / "ws"
    folder.mkdir(parents=True)
    (folder / "registry.duckdb").write_bytes(b"not a database" * 100)
    with pytest.raises(WorkspaceError) as caught:
        mlmm.open_workspace(folder, lock_timeout=30)
    assert not isinstance(caught.value, WorkspaceLockedError)
    assert "not a valid DuckDB database file" in str(caught.value)


# ----------------------------------------------------------------------------- 3. writes that fail
class _Mount:
    def __init__(self, *args: str) -> None:
        self.args = args

    def __call__(self, target: Path) -> Path:
        target.mkdir(parents=True, exist_ok=True)
        if not IS_ROOT or shutil.which("mount") is None:
            pytest.skip("mounting needs root and mount(8)")
        result = subprocess.run(["mount", *self.args, str(target)], capture_output=True, text=True)
        if result.returncode != 0:
            pytest.skip(f"mount {' '.join(self.args)} is not permitted here: {result.stderr.strip()}")
        return target


@pytest.fixture()
def mounted() -> Iterator[Callable[..., Path]]:
    done: list[Path] = []

    def mount(target: Path, *args: str) -> Path:
        done.append(_Mount(*args)(target))
        return target

    yield mount
    for target in reversed(done):
        if subprocess.run(["umount", str(target)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(target)], capture_output=True)


def _fill(folder: Path) -> None:
    with open(folder / "filler", "wb", buffering=0) as fh:
        for size in (1 << 20, 1 << 16, 1 << 12, 1 << 9, 1):
            try:
                while True:
                    fh.write(b"\0" * size)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC


def test_registry_write_on_a_full_disk_is_one_line_and_changes_nothing(shared_dir: Path, mounted) -> None:  # noqa: ANN001
    disk = mounted(shared_dir / "disk", "-t", "tmpfs", "-o", "size=8m", "tmpfs")
    ws_path = build_workspace(disk / "ws")
    registry = ws_path / "registry.duckdb"
    _fill(disk)
    expected = (f"error: registry={registry}: cannot write {registry}.wal: No space left on device;"
                " this change was not recorded; expected free space on its file system (free some, or move the workspace)")
    assert one_error_line(run_as_me(shared_dir, "models", "register", "m", "2.0.0", "-w", str(ws_path))) == expected
    assert one_error_line(run_as_me(shared_dir, "workspace", "set", "retention_days", "3", "-w", str(ws_path))) == expected
    # still readable while full, and unchanged
    listed = run_as_me(shared_dir, "models", "list", "--json", "-w", str(ws_path))
    assert listed.returncode == 0, listed.stderr
    assert [(m["model_name"], m["versions"]) for m in json.loads(listed.stdout)] == [("m", 1)]
    # with room again, the registry is as before and takes the change
    (disk / "filler").unlink()
    assert registry_state(ws_path) == (["1.0.0"], 2, 30)
    assert run_as_me(shared_dir, "models", "register", "m", "2.0.0", "-w", str(ws_path)).returncode == 0
    assert registry_state(ws_path) == (["1.0.0", "2.0.0"], 3, 30)


def test_new_registry_on_a_full_disk_leaves_no_empty_file(shared_dir: Path, mounted) -> None:  # noqa: ANN001
    disk = mounted(shared_dir / "disk", "-t", "tmpfs", "-o", "size=1m", "tmpfs")
    _fill(disk)
    with pytest.raises(StorageError) as caught:
        mlmm.open_workspace(disk / "ws")
    registry = disk / "ws" / "registry.duckdb"
    assert str(caught.value).startswith(f"registry={registry}: cannot create: No space left on device;")
    assert not registry.exists()  # an empty file would make every later open fail
    (disk / "filler").unlink()
    mlmm.open_workspace(disk / "ws", idle_seconds=0).close()


def test_registry_in_a_read_only_mount_reads_and_refuses_changes(shared_dir: Path, mounted) -> None:  # noqa: ANN001
    source = build_workspace(shared_dir / "src")
    view = mounted(shared_dir / "view", "--bind", "-o", "ro", str(source))
    if not (os.statvfs(view).f_flag & os.ST_RDONLY):
        pytest.skip("the bind mount did not become read-only")
    listed = run_as_me(shared_dir, "models", "list", "--json", "-w", str(view))
    assert listed.returncode == 0, listed.stderr
    assert [m["latest"] for m in json.loads(listed.stdout)] == ["1.0.0"]
    registry = view / "registry.duckdb"
    assert one_error_line(run_as_me(shared_dir, "models", "register", "m", "2.0.0", "-w", str(view))) == (
        f"error: workspace {view} is read-only: {registry}: Read-only file system; this change was not recorded"
        " (reading works); expected a writable file system (it is mounted read-only: remount it or work on a copy)"
    )
    assert registry_state(source) == (["1.0.0"], 2, 30)


class _FullDiskOnCommit:
    """A registry connection whose COMMIT fails the way DuckDB's does when the WAL cannot be
    written (the transaction is rolled back; a later ROLLBACK finds none)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: str) -> None:
        self._con, self._path = con, path

    def execute(self, sql: str, *args: object) -> object:
        if sql.strip().upper() == "COMMIT":
            self._con.execute("ROLLBACK")
            raise duckdb.TransactionException(
                f'TransactionContext Error: Failed to commit: Could not write file "{self._path}.wal": '
                "No space left on device")
        return self._con.execute(sql, *args)

    def __getattr__(self, name: str) -> object:
        return getattr(self._con, name)


def test_injected_full_disk_is_one_line_and_changes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ws_path = tmp_path / "ws"
    ws = mlmm.open_workspace(ws_path, idle_seconds=0)
    ws.registry.register("m", "1.0.0")
    ws.close()
    registry = ws_path / "registry.duckdb"
    real_connect = duckdb.connect
    monkeypatch.setattr(mlmm.workspace.duckdb, "connect",
                        lambda path, **kw: _FullDiskOnCommit(real_connect(path, **kw), path))
    with pytest.raises(StorageError) as caught:
        ws.registry.register("m", "2.0.0")
    assert (caught.value.path, caught.value.errno) == (str(registry), errno.ENOSPC)
    result = runner.invoke(app, ["models", "register", "m", "2.0.0", "-w", str(ws_path)])
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr.strip().splitlines() == [
        f"error: registry={registry}: cannot write {registry}.wal: No space left on device; this change was not"
        " recorded; expected free space on its file system (free some, or move the workspace)"]
    ws.close()
    monkeypatch.undo()
    assert registry_state(ws_path) == (["1.0.0"], 1, 30)
