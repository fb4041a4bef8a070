"""The workspace on S3-compatible object storage, against a local S3 server started here.

moto's server mode listens on 127.0.0.1 (a free port) for the whole session; every test gets
its own bucket. Each test does the same things to a local workspace and to one on the server
and asserts that what readers see is equal: windows, labels, metrics, SQL, quarantine,
cleanup and compaction, the CLI; plus writers in several processes, the protocol that keeps
two compactions from both switching, and the errors a wrong setup gets.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import subprocess
import sys
import time
import uuid
from pathlib import Path

import polars as pl
import pytest

moto_server = pytest.importorskip(
    "moto.server", reason="moto[server] is not installed (pip install 'moto[server]', part of the test extra)"
)

import mlmm  # noqa: E402
from mlmm import monitor as M  # noqa: E402
from mlmm import predictions as P  # noqa: E402
from mlmm._storage import ObjectPath  # noqa: E402
from mlmm.cli import app  # noqa: E402
from mlmm.errors import WorkspaceError  # noqa: E402

UTC = dt.UTC
NOW = dt.datetime(2026, 1, 4, 6, 0, tzinfo=UTC)
START = dt.datetime(2026, 1, 1, tzinfo=UTC)
WRITERS = Path(__file__).with_name("_writers.py")


# ----------------------------------------------------------------------------- the server
@pytest.fixture(scope="session")
def s3_endpoint() -> str:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture()
def s3_env(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The standard AWS variables pointing at the server, and a fresh bucket."""
    import boto3

    env = {
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": s3_endpoint,
    }
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3", "AWS_REGION", "MLMM_HOME", "MLMM_REGISTRY"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    bucket = f"mlmm-{uuid.uuid4().hex[:12]}"
    boto3.client("s3").create_bucket(Bucket=bucket)
    return {**env, "bucket": bucket}


def _keys(env: dict[str, str], prefix: str = "") -> list[str]:
    import boto3

    pages = boto3.client("s3").get_paginator("list_objects_v2").paginate(Bucket=env["bucket"], Prefix=prefix)
    return sorted(o["Key"] for page in pages for o in page.get("Contents", []) if not o["Key"].endswith("/"))


@pytest.fixture()
def frozen(monkeypatch: pytest.MonkeyPatch) -> dt.datetime:
    """The log's clock stands still (ingest times, quarantine dates, default label times)."""
    monkeypatch.setattr(P.clock, "now", lambda: NOW)
    return NOW


def _register(ws: mlmm.Workspace) -> mlmm.Workspace:
    ws.registry.register("m", "1.0.0")
    ws.registry.register("m", "1.1.0")
    ws.registry.register("other", "2.0.0")
    return ws


@pytest.fixture()
def pair(s3_env: dict[str, str], tmp_path: Path, frozen: dt.datetime) -> tuple[mlmm.Workspace, mlmm.Workspace]:
    """(local workspace, workspace in the bucket), both with the same registered versions."""
    local = _register(mlmm.open_workspace(tmp_path / "local"))
    remote = _register(mlmm.open_workspace(f"s3://{s3_env['bucket']}/team-a", registry=tmp_path / "registry"))
    yield local, remote
    local.close()
    remote.close()


def _predictions(n: int, seed: int, days: int = 3) -> pl.DataFrame:
    """``n`` predictions over ``days`` days from START: two versions, half of them labelled at
    once (15 % wrong), two features."""
    import numpy as np

    rng = np.random.default_rng(seed)
    offsets = np.sort(rng.integers(0, days * 86_400_000_000, n))
    conf = rng.random(n)
    pred = (conf > 0.5).astype(np.int64)
    return pl.DataFrame({
        "prediction_id": [f"s{seed}-{i}" for i in range(n)],
        "version": np.where(offsets > days * 86_400_000_000 * 0.6, "1.1.0", "1.0.0"),
        "timestamp": pl.Series(offsets).cast(pl.Duration("us")) + START,
        "prediction": pred,
        "actual": pl.Series(np.where(rng.random(n) < 0.15, 1 - pred, pred)).set(pl.Series(rng.random(n) < 0.5), None),
        "confidence": conf,
        "query_count": rng.poisson(12, n).astype(np.float64),
        "endpoint": rng.choice(["/a", "/b", "/c"], n),
    })


def _fill(ws: mlmm.Workspace) -> None:
    """The same log in any workspace: three imports, late labels (one correction), a few bad rows."""
    for seed in (1, 2, 3):
        P.log_predictions(ws, _predictions(700, seed), model="m", batch_id=f"batch-{seed}")
    P.log_predictions(ws, {"version": ["2.0.0"] * 2, "prediction": [1, 0], "prediction_id": ["o1", "o2"],
                           "timestamp": ["2026-01-02T10:00:00Z"] * 2}, model="other", batch_id="other-1")
    late = _predictions(700, 1).filter(pl.col("actual").is_null()).head(300)
    labels = late.select("prediction_id", (1 - pl.col("prediction")).alias("actual"))
    P.log_labels(ws, "m", labels, labeled_at="2026-01-03T12:00:00Z", batch_id="labels-1")
    P.log_labels(ws, "m", {"s1-0": 0, "never-logged": 1}, labeled_at="2026-01-03T13:00:00Z", batch_id="labels-2")
    P.log_predictions(ws, {"version": ["1.0.0", "9.9.9", "1.0.0"], "prediction": [1, 1, 0], "confidence": [1.5, 0.5, 0.5],
                           "timestamp": ["2026-01-02T00:00:00Z"] * 3}, model="m", batch_id="bad-1")


def _close(a: object, b: object) -> bool:
    """Equal, floats to 1e-12 relative: a sum over rows read in another order differs in the last bit."""
    if isinstance(a, float) and isinstance(b, float):
        return a == pytest.approx(b, rel=1e-12, nan_ok=True)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def _rows(lf: pl.LazyFrame) -> pl.DataFrame:
    return lf.collect().sort("model_name", "prediction_id")


# ----------------------------------------------------------------------------- equality with local
def test_windows_labels_metrics_and_sql_equal_the_local_workspace(pair):
    local, remote = pair
    for ws in pair:
        _fill(ws)
    assert remote.url.startswith("s3://mlmm-") and remote.url.endswith("/team-a") and remote.remote
    assert repr(remote) == f"Workspace({remote.url!r}, registry={str(remote.path)!r})"
    # the log is in the bucket, nothing of it on the local disk
    assert not (remote.path / "predictions").exists()
    assert sorted({k.split("/")[1] for k in _keys_of(remote)}) == ["imports", "index", "labels", "predictions", "quarantine"]

    windows = [
        {}, {"model": "m"}, {"model": "m", "since": "2026-01-02T00:00:00Z", "until": "2026-01-03T00:00:00Z"},
        {"model": "m", "since": "24h"}, {"model": "m", "version": "1.1.0"}, {"model": "m", "last_n": 50},
        {"model": "other"}, {"model": "nobody"}, {"model": "m", "with_labels": False},
    ]
    for window in windows:
        a, b = _rows(local.predictions(**window)), _rows(remote.predictions(**window))
        assert b.height == a.height, window
        assert b.equals(a), window
    whole = _rows(remote.predictions())
    assert whole.height == 3 * 700 + 2 + 1  # the valid row of the bad batch is accepted
    assert whole.filter(pl.col("prediction_id") == "s1-0").get_column("actual").item() == 0  # the correction won
    assert P.read_labels(remote).collect().sort("prediction_id").equals(P.read_labels(local).collect().sort("prediction_id"))
    assert P.prediction_files(remote, "m")[0].name == P.prediction_files(local, "m")[0].name

    for kwargs in ({"last": "24h", "until": "2026-01-03T18:00:00Z"}, {"last": "3d", "until": NOW}, {"last_n": 500}):
        a, b = M.metrics(local, "m", min_labelled=10, **kwargs).to_dict(), M.metrics(remote, "m", min_labelled=10, **kwargs).to_dict()
        assert _close(b, a), (kwargs, a, b)
    for interval in ("1h", "6h"):  # the hourly-count cache (local disk) and the live path
        a = M.trends(local, "m", interval=interval, last="3d", until=NOW)
        b = M.trends(remote, "m", interval=interval, last="3d", until=NOW)
        assert _close(b.to_dicts(), a.to_dicts()), interval
    assert _close(*(M.data_sufficiency(ws, "m", last="3d", until=NOW).to_dict() for ws in (remote, local)))
    assert _close(*(M.compare_versions(ws, "m", "1.0.0", "1.1.0", min_labelled=10, last="3d", until=NOW).to_dict()
                    for ws in (remote, local)))

    queries = [
        "SELECT * FROM predictions ORDER BY model_name, prediction_id",
        "SELECT version, count(*) AS n, avg((prediction = actual)::INT) AS accuracy FROM predictions GROUP BY 1 ORDER BY 1",
        "SELECT * FROM labels ORDER BY prediction_id",
        "SELECT rule, count(*) AS n FROM quarantine GROUP BY 1 ORDER BY 1",
        "SELECT count(*) FROM predictions_raw WHERE date = DATE '2026-01-02'",
    ]
    for query in queries:
        assert _close(remote.sql(query).to_dicts(), local.sql(query).to_dicts()), query
    assert _close(P.stats(remote).to_dicts(), P.stats(local).to_dicts())  # sizes too: the same bytes in both places


def _keys_of(ws: mlmm.Workspace) -> list[str]:
    root = ws.log_root
    assert isinstance(root, ObjectPath)
    return sorted(str(p.relative_to(ObjectPath(root.store, root.bucket))) for p in root.rglob("*") if p.is_file())


def test_quarantine_lives_in_the_bucket_with_the_reasons(pair):
    local, remote = pair
    for ws in pair:
        summary = P.log_predictions(ws, {"version": ["1.0.0", "1.0.0"], "prediction": [1, 1],
                                         "confidence": [0.5, 1.7], "prediction_id": ["ok", "bad"],
                                         "timestamp": ["2026-01-02T00:00:00Z"] * 2}, model="m", batch_id="q1")
        assert (summary.accepted, summary.quarantined, summary.reasons) == (1, 1, {"confidence out of [0, 1]": 1})
        P.log_labels(ws, "m", {"ok": "maybe"}, batch_id="q2")
    assert [k for k in _keys_of(remote) if "/quarantine/" in k] == [
        "team-a/quarantine/date=2026-01-04/part-q1.parquet", "team-a/quarantine/date=2026-01-04/part-q2.parquet"]
    table = P.read_quarantine(remote)
    assert table.sort("batch_id").equals(P.read_quarantine(local).sort("batch_id"))
    assert table.sort("batch_id").select("prediction_id", "rule", "reason").rows() == [
        ("bad", "confidence out of [0, 1]", "confidence=1.7: expected a number in [0, 1]"),
        ("ok", "bad actual", "actual='maybe': expected 0/1, true/false or an integer class"),
    ]
    # an import is idempotent across hosts: its record is in the bucket too
    again = P.log_predictions(remote, {"version": ["1.0.0"], "prediction": [1]}, model="m", batch_id="q1")
    assert again.already_imported and again.accepted == 1
    assert "team-a/imports/q1.json" in _keys_of(remote)


def test_cleanup_and_compaction_equal_the_local_workspace(pair):
    local, remote = pair
    for ws in pair:
        _fill(ws)
        for i in range(3):  # small files of one day, as a tracker leaves them
            P.log_predictions(ws, {"version": ["1.0.0"], "prediction": [i % 2], "prediction_id": [f"x{i}"],
                                   "timestamp": ["2026-01-02T08:00:00Z"]}, model="m", batch_id=f"small-{i}")
    before = _rows(remote.predictions())

    summaries = [P.compact(ws) for ws in pair]
    assert summaries[1].to_dict() == summaries[0].to_dict()
    assert summaries[1].details == (
        "predictions/model_name=m/date=2026-01-01: 3 files -> 1 (717 rows)",
        "predictions/model_name=m/date=2026-01-02: 7 files -> 1 (694 rows)",
        "predictions/model_name=m/date=2026-01-03: 3 files -> 1 (693 rows)",
        "labels/model_name=m/2026-01-01: 2 files -> 1 (123 rows)")
    assert (summaries[1].partitions, summaries[1].files_written, summaries[1].files_removed) == (4, 4, 0)
    assert _rows(remote.predictions()).equals(before)  # the old files stay, unread, for the grace period
    day = "team-a/predictions/model_name=m/date=2026-01-02/"
    names = [k[len(day):] for k in _keys_of(remote) if k.startswith(day)]
    assert sum(n.startswith("_compact-") for n in names) == 1 and sum(n.startswith("part-c") for n in names) == 1
    assert len(P.prediction_files(remote, "m", since="2026-01-02T00:00:00Z", until="2026-01-02T23:00:00Z")) == 1

    finals = [P.compact(ws, grace=0) for ws in pair]
    assert finals[1].to_dict() == finals[0].to_dict() and finals[1].files_removed == 3 + 7 + 3 + 2
    names = [k[len(day):] for k in _keys_of(remote) if k.startswith(day)]
    assert len(names) == 1 and names[0].startswith("part-c")
    assert _rows(remote.predictions()).equals(before)
    assert _rows(remote.predictions()).equals(_rows(local.predictions()))

    cleaned = [P.cleanup(ws, "2d", reference="2026-01-04T12:00:00Z") for ws in pair]
    assert cleaned[1].details == ("predictions/model_name=m/date=2026-01-01", "labels/model_name=m/2026-01-01")
    assert (cleaned[1].partitions, cleaned[1].files_removed, cleaned[1].rows) == (1, 2, 717 + 123)
    assert _rows(remote.predictions()).equals(_rows(local.predictions()))
    assert _rows(remote.predictions()).get_column("timestamp").min() >= dt.datetime(2026, 1, 2, tzinfo=UTC)
    assert not [k for k in _keys_of(remote) if "date=2026-01-01" in k or "/2026-01-01/" in k]
    assert P.read_labels(remote).collect().sort("prediction_id").equals(P.read_labels(local).collect().sort("prediction_id"))


def test_a_second_compaction_of_the_same_files_gives_up_instead_of_duplicating_rows(pair):
    _, remote = pair
    for i in range(3):
        P.log_predictions(remote, {"version": ["1.0.0"], "prediction": [1], "prediction_id": [f"p{i}"],
                                   "timestamp": ["2026-01-02T08:00:00Z"]}, model="m", batch_id=f"p{i}")
    day = remote.predictions_dir / "model_name=m" / "date=2026-01-02"
    # another host's compaction of two of these files is between its manifest and its upload
    (day / "_compact-cother.json").write_text(json.dumps(
        {"output": "part-cother.parquet", "sources": ["part-p0.parquet", "part-p1.parquet"], "rows": 2}))
    summary = P.compact(remote, "m")
    assert (summary.files_written, summary.partitions) == (0, 0)
    assert summary.details == ("predictions/model_name=m/date=2026-01-02: skipped, another compaction is merging these files",)
    assert sorted(f.name for f in day.iterdir()) == [
        "_compact-cother.json", "part-p0.parquet", "part-p1.parquet", "part-p2.parquet"]
    assert remote.predictions("m").select(pl.len()).collect().item() == 3
    # the other host never switched: after the orphan timeout its manifest goes and compaction proceeds
    (day / "_compact-cother.json").unlink()
    assert P.compact(remote, "m", grace=0).files_written == 1
    assert sorted(remote.predictions("m").collect().get_column("prediction_id")) == ["p0", "p1", "p2"]


# ----------------------------------------------------------------------------- many writers
def test_writer_processes_on_several_hosts_lose_and_duplicate_nothing(s3_env, tmp_path):
    ws = _register(mlmm.open_workspace(f"s3://{s3_env['bucket']}/shared", registry=tmp_path / "registry"))
    ws.close()
    workers, batches, rows, tracked = 3, 2, 150, 120
    go = tmp_path / "go"
    # each process opens the workspace by its registry directory (storage.json names the bucket)
    procs = [
        subprocess.Popen([sys.executable, str(WRITERS), "mixed", str(ws.path), str(w), str(batches), str(rows),
                          str(tracked), str(go)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for w in range(workers)
    ]
    deadline = time.monotonic() + 60
    while len(list(tmp_path.glob("go.ready-*"))) < workers and time.monotonic() < deadline:
        if any(p.poll() not in (None, 0) for p in procs):
            break
        time.sleep(0.01)
    go.touch()
    for p in procs:
        _, stderr = p.communicate(timeout=120)
        assert p.returncode == 0, stderr.decode()
    expected = sorted([f"w{w}-b{b}-{i}" for w in range(workers) for b in range(batches) for i in range(rows)]
                      + [f"t{w}-{i}" for w in range(workers) for i in range(tracked)])
    logged = ws.predictions().select("prediction_id").collect().get_column("prediction_id")
    assert logged.len() == len(expected) == 3 * 2 * 150 + 3 * 120
    assert sorted(logged.to_list()) == expected
    assert len(list(ws.imports_dir.glob("*.json"))) == workers * batches
    assert {f.parent.name for f in P.prediction_files(ws, "m") if f.name.startswith("part-b")} == {
        "date=2026-01-01", "date=2026-01-02", "date=2026-01-03"}
    assert P.read_quarantine(ws).height == 0
    assert ws.sql("SELECT count(DISTINCT prediction_id) AS n FROM predictions").item() == len(expected)


# ----------------------------------------------------------------------------- the CLI
def test_a_new_user_points_mlmm_home_at_the_bucket_and_gets_the_same_monitor_answers(s3_env, tmp_path, frozen):
    from typer.testing import CliRunner

    runner = CliRunner()
    source = tmp_path / "predictions.csv"
    _predictions(1500, 7).write_csv(source)
    homes = {
        "local": {"MLMM_HOME": str(tmp_path / "local")},
        "s3": {"MLMM_HOME": f"s3://{s3_env['bucket']}/cli", "MLMM_REGISTRY": str(tmp_path / "registry")},
    }
    answers = {}
    for name, env in homes.items():
        def run(*args: str, env: dict[str, str] = env) -> str:
            result = runner.invoke(app, list(args), env=env)
            assert result.exit_code == 0, (args, result.output)
            return result.output
        run("models", "register", "m", "1.0.0")
        run("models", "register", "m", "1.1.0")
        imported = json.loads(run("predictions", "import", str(source), "--model", "m", "--json"))
        assert (imported["accepted"], imported["quarantined"]) == (1500, 0)
        assert json.loads(run("predictions", "import", str(source), "--model", "m", "--json"))["already_imported"]
        answers[name] = [
            json.loads(run("monitor", "details", "m", "--last", "24h", "--until", "2026-01-03T12:00:00Z", "--json")),
            json.loads(run("monitor", "trends", "m", "--interval", "6h", "--last", "3d", "--until", "2026-01-04T00:00:00Z", "--json")),
            json.loads(run("predictions", "stats", "--json")),
        ]
    assert _close(answers["s3"], answers["local"])
    assert answers["s3"][0]["count"] > 0
    # -w s3://... (a Path option turns it into s3:/...) opens the same workspace
    result = runner.invoke(app, ["workspace", "info", "--json", "-w", homes["s3"]["MLMM_HOME"]],
                           env={"MLMM_REGISTRY": homes["s3"]["MLMM_REGISTRY"]})
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    assert (info["log"], info["prediction_files"]) == (homes["s3"]["MLMM_HOME"], 3)
    # without a registry directory: one line naming what to set, exit 1
    result = runner.invoke(app, ["predictions", "stats"], env={"MLMM_HOME": homes["s3"]["MLMM_HOME"], "MLMM_REGISTRY": ""})
    assert result.exit_code == 1
    assert "expected registry=DIR or MLMM_REGISTRY=DIR" in result.output + getattr(result, "stderr", "")


# ----------------------------------------------------------------------------- setup errors
def test_opening_checks_the_registry_directory_and_the_bucket(s3_env, tmp_path):
    url = f"s3://{s3_env['bucket']}/team-b"
    with pytest.raises(WorkspaceError) as err:
        mlmm.open_workspace(url)
    assert str(err.value) == (
        f"workspace={url}: the registry cannot live in a bucket (DuckDB needs a local file); expected registry=DIR"
        " or MLMM_REGISTRY=DIR (a local or shared directory for registry.duckdb and caches)")
    ws = mlmm.open_workspace(url + "/", registry=tmp_path / "reg" / "team.duckdb")
    assert (ws.url, ws.registry_path) == (url, tmp_path / "reg" / "team.duckdb")
    assert json.loads((tmp_path / "reg" / "storage.json").read_text())["url"] == url
    ws.close()
    # the directory remembers its bucket: MLMM_HOME=DIR (or a report's child process) opens the same log
    again = mlmm.open_workspace(tmp_path / "reg")
    assert (again.url, again.remote, again.registry_path) == (url, True, tmp_path / "reg" / "team.duckdb")
    again.close()
    with pytest.raises(WorkspaceError) as err:
        mlmm.open_workspace(f"s3://{s3_env['bucket']}/elsewhere", registry=tmp_path / "reg")
    assert str(err.value) == (
        f"registry={tmp_path / 'reg'}: belongs to the log at {url}; expected s3://{s3_env['bucket']}/elsewhere"
        " (use another registry directory for another log, or edit storage.json if the log moved)")
    mlmm.open_workspace(tmp_path / "plain").close()  # a local workspace with a log of its own
    P.log_predictions(mlmm.open_workspace(tmp_path / "plain"), {"model_name": ["m"], "version": ["1.0.0"],
                                                              "prediction": [1]}, strict=False)
    with pytest.raises(WorkspaceError) as err:
        mlmm.open_workspace(url, registry=tmp_path / "plain")
    assert str(err.value).startswith(f"registry={tmp_path / 'plain'}: holds a local prediction log (predictions/)")
    with pytest.raises(WorkspaceError) as err:
        mlmm.open_workspace("s3://no-such-bucket-here/x", registry=tmp_path / "reg2")
    assert str(err.value) == (
        f"workspace=s3://no-such-bucket-here/x: bucket 'no-such-bucket-here' does not exist at {s3_env['AWS_ENDPOINT_URL']};"
        " expected an existing bucket (create it first, e.g. `aws s3 mb s3://no-such-bucket-here`)")
    with pytest.raises(WorkspaceError) as err:
        mlmm.open_workspace(tmp_path / "plain2", registry=tmp_path / "reg3")
    assert str(err.value) == (f"registry={str(tmp_path / 'reg3')!r}: only a workspace on object storage (s3://...)"
                              f" keeps its registry apart; expected no registry for workspace={str(tmp_path / 'plain2')!r}")
    with pytest.raises(WorkspaceError) as err:
        mlmm.open_workspace("gs://bucket/x", registry=tmp_path / "reg4")
    assert str(err.value) == (
        "workspace='gs://bucket/x': gs:// is not supported; expected a directory or s3://bucket/prefix"
        " (any S3-compatible server: AWS, MinIO, Ceph, R2, GCS through its S3 interface)")
