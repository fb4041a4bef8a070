"""mlmm.spark (issue 10 §2): Spark over the same hive-partitioned log gives the local engine's
results: metrics on every field, trends, drift statistics, the late-label join with its
tie rules, and the nightly aggregates a notebook reads without Spark.

Counts, proportions, intervals and F1 must be identical; sums of floats (mean confidence,
Brier, ECE, Wasserstein) may differ by the order of addition only (relative 1e-12).
One local Spark session (2 cores) for the module.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import os
import shutil

import polars as pl
import pytest

pytest.importorskip("pyspark", reason="the Spark engine is an optional extra: pip install 'mlmm[spark]'")
if shutil.which("java") is None:
    pytest.skip("mlmm.spark needs Java 17 or newer and no `java` is on PATH (.ci/run installs it with apt)",
                allow_module_level=True)

import mlmm  # noqa: E402
from mlmm import drift as FD  # noqa: E402
from mlmm import monitor as M  # noqa: E402
from mlmm import predictions as P  # noqa: E402
from mlmm import spark as S  # noqa: E402
from mlmm.errors import ValidationError  # noqa: E402

UTC = dt.UTC
END = "2026-11-01T00:00:00Z"
REL = 1e-12


@pytest.fixture(scope="module")
def spark():
    # C1-only JIT: a short-lived test JVM starts and runs its small queries faster
    session = S.session("local[2]", shuffle_partitions=2,
                        config={"spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"})
    yield session
    session.stop()


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    # a copy: the local engine keeps per-day caches in the workspace it reads
    target = tmp_path_factory.mktemp("spark-demo") / "ws"
    shutil.copytree(os.environ["MLMM_HOME"], target)
    ws = mlmm.open_workspace(target)
    yield ws
    ws.close()


def close(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=REL, abs_tol=1e-15)
    return a == b


def assert_metrics_equal(local: M.Metrics, other: M.Metrics) -> None:
    for field in dataclasses.fields(M.Metrics):
        a, b = getattr(local, field.name), getattr(other, field.name)
        assert close(a, b), f"{field.name}: local {a!r}, spark {b!r}"


def assert_frames_equal(local: pl.DataFrame, other: pl.DataFrame) -> None:
    assert local.schema == other.schema
    floats = [c for c, t in local.schema.items() if t == pl.Float64]
    assert local.drop(floats).equals(other.drop(floats))
    for c in floats:
        a, b = local.get_column(c).to_list(), other.get_column(c).to_list()
        assert [x is None for x in a] == [x is None for x in b], c
        assert all(x is None or close(x, y) for x, y in zip(a, b, strict=True)), c


# ----------------------------------------------------------------------------- metrics and trends
def test_metrics_equal_the_local_engine_on_every_field(spark, demo):
    windows = [
        ("n1-detector", None, {"last": "24h", "until": END}),
        ("waf-behavioral", None, {"last": "7d", "until": "2026-10-30T13:17:29.5Z"}),  # cuts hours and days
        ("waf-behavioral", None, {"since_deploy": True}),
        ("queue-anomaly", "1.2.0", {"since": "2026-10-05", "until": END}),
    ]
    for model, version, window in windows:
        local = M.metrics(demo, model, version, **window)
        got = S.metrics(spark, demo, model, version, **window)
        assert local.labelled > 0 and got.count == local.count
        assert_metrics_equal(local, got)
    # an empty window: the same "no predictions" result, not an error
    empty = {"since": "2020-01-01", "until": "2020-01-02"}
    assert_metrics_equal(M.metrics(demo, "n1-detector", **empty), S.metrics(spark, demo, "n1-detector", **empty))


def test_trends_equal_the_local_engine(spark, demo):
    for interval, by_version in (("1h", True), ("1d", False), ("1w", False)):
        local = M.trends(demo, "waf-behavioral", interval=interval, by_version=by_version, last="30d", until=END)
        got = S.trends(spark, demo, "waf-behavioral", interval=interval, by_version=by_version, last="30d", until=END)
        assert local.height > 1
        assert_frames_equal(local, got)


def test_windows_the_spark_engine_refuses_say_why(spark, demo):
    with pytest.raises(ValidationError, match="last_n=50: the Spark engine takes time windows"):
        S.metrics(spark, demo, "n1-detector", last_n=50)
    with pytest.raises(ValidationError, match="interval='1000rows': the Spark engine takes durations"):
        S.trends(spark, demo, "n1-detector", interval="1000rows", last="7d", until=END)


# ----------------------------------------------------------------------------- drift
def assert_reports_equal(local, got, *, exact: bool) -> None:
    assert [c.column for c in got.columns] == [c.column for c in local.columns]
    for a, b in zip(local.columns, got.columns, strict=True):
        assert (a.test, a.drifted, a.n_reference, a.n_current, a.p_value, a.p_adjusted) == (
            b.test, b.drifted, b.n_reference, b.n_current, b.p_value, b.p_adjusted), a.column
        assert a.statistic == b.statistic if exact else close(a.statistic, b.statistic), (a.column, a.statistic, b.statistic)
        assert a.details.keys() == b.details.keys()
        assert all(close(a.details[k], b.details[k]) for k in a.details), a.column
    assert local.quality == got.quality
    assert (local.dataset_drift, local.drifted_share, local.n_current) == (got.dataset_drift, got.drifted_share, got.n_current)


def test_drift_statistics_equal_the_local_engine(spark, demo):
    # queue-anomaly: stored reference under 1,000 values -> KS and chi-square; waf-behavioral: Wasserstein and JS
    for model in ("queue-anomaly", "waf-behavioral"):
        local = FD.check(demo, model, current="last=72h", until=END, record=False).report
        got = S.drift(spark, demo, model, current="last=72h", until=END)
        assert {c.test for c in local.columns} >= ({"ks", "chisquare"} if model == "queue-anomaly" else {"wasserstein"})
        assert_reports_equal(local, got, exact=True)
    # a window of the log as the reference, a correction across columns, PSI forced on one column
    kw = {"current": "last=7d", "reference": "previous", "until": END, "columns": ["duration_s", "job_type", "retries"],
          "tests": {"retries": "psi"}, "correction": "holm"}
    assert_reports_equal(FD.check(demo, "queue-anomaly", record=False, **kw).report,
                         S.drift(spark, demo, "queue-anomaly", **kw), exact=True)


def test_drift_of_numeric_columns_with_many_values_is_computed_in_spark(spark, demo):
    # exact_max=0: no numeric value reaches the driver; KS and PSI come from counts, Wasserstein from per-bucket sums
    kw = {"current": "last=72h", "until": END}
    cols = ["requests_per_minute", "error_rate", "user_agent_class"]
    tests = {"error_rate": "psi"}
    local = FD.check(demo, "waf-behavioral", columns=cols, tests=tests, record=False, **kw).report
    assert_reports_equal(local, S.drift(spark, demo, "waf-behavioral", columns=cols, tests=tests, exact_max=0, **kw),
                         exact=False)
    local = FD.check(demo, "queue-anomaly", columns=["duration_s"], record=False, **kw).report
    assert_reports_equal(local, S.drift(spark, demo, "queue-anomaly", columns=["duration_s"], exact_max=0, **kw), exact=True)
    with pytest.raises(ValidationError, match="'anderson': needs the raw current values"):
        S.drift(spark, demo, "queue-anomaly", columns=["duration_s"], tests="anderson", exact_max=0, **kw)


# ----------------------------------------------------------------------------- the label join
STAMP = dt.datetime(2026, 1, 9, tzinfo=UTC)


def _labelled_workspace(path) -> mlmm.Workspace:
    """Every rule of the late-label join: corrections, equal times decided by arrival, equal
    arrival decided by row order, an id on two days, labels that came before their prediction
    (with equal and later times than the day's label), the older layout's files, a feature whose
    type changed between files, rows without a confidence."""
    ws = mlmm.open_workspace(path)
    for v in ("1.0.0", "1.1.0"):
        ws.registry.register("m", v)
    P.log_labels(ws, "m", pl.DataFrame({"prediction_id": ["early", "later"], "actual": [1, 1],
                                        "labeled_at": [STAMP, STAMP + dt.timedelta(days=1)]}))
    n = 60
    P.log_predictions(ws, {
        "prediction_id": [f"p{i}" for i in range(n)], "version": ["1.0.0", "1.1.0"] * (n // 2),
        "prediction": [i % 2 for i in range(n)], "actual": [None if i % 3 else i % 2 for i in range(n)],
        "confidence": [None if i % 7 == 0 else (i % 10) / 10 + 0.05 for i in range(n)],
        "timestamp": [dt.datetime(2026, 1, 5, tzinfo=UTC) + dt.timedelta(hours=2 * i) for i in range(n)],
        "x": [float(i) for i in range(n)]}, model="m")
    # a log from before feature types were kept (issue 15): the type of x is forgotten, so text is taken
    (ws.log_root / "index" / "model_name=m" / "features.json").unlink()
    P.log_predictions(ws, {
        "prediction_id": ["early", "later", "dup", "p0"], "version": ["1.0.0"] * 4, "prediction": [0, 0, 1, 1],
        "confidence": [0.2, 0.3, 0.9, 0.8],
        "timestamp": ["2026-01-06T03:00:00Z", "2026-01-06T04:00:00Z", "2026-01-07T05:00:00Z", "2026-01-08T06:00:00Z"],
        "x": ["high", "low", "high", "mid"]}, model="m", on_duplicate="allow")  # x was a number: read as text everywhere
    P.log_labels(ws, "m", {f"p{i}": (i + 1) % 2 for i in range(40)} | {"dup": 0})
    P.log_labels(ws, "m", pl.DataFrame({"prediction_id": [f"p{i}" for i in range(10)], "actual": [1] * 10,
                                        "labeled_at": [STAMP] * 10}))
    P.log_labels(ws, "m", pl.DataFrame({"prediction_id": [f"p{i}" for i in range(5, 15)], "actual": [0] * 10,
                                        "labeled_at": [STAMP] * 10}))  # same time, later arrival: wins
    P.log_labels(ws, "m", pl.DataFrame({"prediction_id": ["p20", "p20", "p21", "p21"], "actual": [0, 1, 1, 0],
                                        "labeled_at": [STAMP] * 4}))  # same time and arrival: the later row
    P.log_labels(ws, "m", pl.DataFrame({"prediction_id": ["early", "later"], "actual": [0, 0], "labeled_at": [STAMP] * 2}))
    # the layout before labels were stored by day: no arrival time, read for every day
    later = dt.datetime.now(UTC) + dt.timedelta(days=1)  # after the first batch, labelled "now"
    pl.DataFrame({"prediction_id": ["p30", "p31"], "actual": [0, 1], "labeled_at": [later] * 2,
                  "batch_id": ["old", "old"]}).write_parquet(ws.labels_dir / "model_name=m" / "part-old.parquet")
    return ws


def test_the_label_join_reproduces_read_predictions(spark, tmp_path):
    ws = _labelled_workspace(tmp_path / "ws")
    try:
        assert P.layout.loose_label_files(ws, "m") and len(P.layout.visible_files(ws.labels_dir / "model_name=m" / "2026-01-05")) >= 3
        cols = ["prediction_id", "version", "timestamp", "prediction", "actual", "confidence", "labeled_at", "x"]

        def same_rows(*windows: tuple) -> None:
            for version, since, until in windows or ((None, None, None),):
                local = P.read_predictions(ws, "m", version, since, until).select(cols).collect().sort("prediction_id", "timestamp")
                frame = S.logread.log_frame(spark, ws, "m", version, since, until, columns={"x": pl.String()})
                got = S.engine.collect(frame.select(*cols)).sort("prediction_id", "timestamp")
                assert local.height > 5 and got.equals(local.with_columns(pl.col("labeled_at").dt.cast_time_unit("us")))

        same_rows((None, None, None), ("1.1.0", dt.datetime(2026, 1, 6, 5, tzinfo=UTC), None),
                  (None, dt.datetime(2026, 1, 7, tzinfo=UTC), dt.datetime(2026, 1, 8, 12, tzinfo=UTC)))
        # (above: every labelled day read from its joined file in cache/labelled/)
        P.log_predictions(ws, {"prediction_id": ["new"], "version": ["1.0.0"], "prediction": [1],
                               "timestamp": ["2026-01-05T23:00:00Z"], "x": ["low"]}, model="m")
        same_rows()  # that day's joined file is stale now: joined by Spark, the other days still cached
        shutil.rmtree(ws.path / "cache")
        same_rows()  # every day joined by Spark
        picked = dict(P.read_predictions(ws, "m").select("prediction_id", "actual").collect().rows())
        assert (picked["p5"], picked["p20"], picked["p21"], picked["early"], picked["later"], picked["p30"],
                picked["p31"]) == (0, 1, 0, 0, 1, 0, 1)
        local = M.metrics(ws, "m", min_labelled=1, since="2026-01-05", until="2026-01-12")
        assert_metrics_equal(local, S.metrics(spark, ws, "m", min_labelled=1, since="2026-01-05", until="2026-01-12"))
    finally:
        ws.close()


# ----------------------------------------------------------------------------- nightly aggregates
def test_nightly_counts_give_a_notebook_the_local_results_without_spark(spark, demo, tmp_path):
    out = tmp_path / "counts"
    first = S.write_counts(spark, demo, out, since="2026-10-02", until="2026-10-20")
    second = S.write_counts(spark, demo, out, since="2026-10-19", until="2026-11-01")  # rewrites the 19th only
    assert first > 0 and second > 0
    counts = S.read_counts(out, "waf-behavioral")
    days = counts.get_column("date").unique().sort()
    assert days.to_list() == [dt.date(2026, 10, 2) + dt.timedelta(days=i) for i in range(30)]
    assert counts.filter(pl.col("date") == dt.date(2026, 10, 19)).get_column("count").sum() == (
        M.metrics(demo, "waf-behavioral", since="2026-10-19", until="2026-10-20").count)
    w = M.resolve_window(demo, "waf-behavioral", last="7d", until=END)
    assert_metrics_equal(M.metrics(demo, "waf-behavioral", window=w), S.metrics_from_counts(counts, w))
    w30 = M.resolve_window(demo, "waf-behavioral", "2.1.0", last="30d", until=END)
    assert_frames_equal(M.trends(demo, "waf-behavioral", window=w30, interval="1d"),
                        S.trends_from_counts(counts, w30, interval="1d"))
    assert_frames_equal(M.trends(demo, "waf-behavioral", window=w, interval="6h", by_version=True),
                        S.trends_from_counts(counts, w, interval="6h", by_version=True))
    with pytest.raises(ValidationError, match=r"since=2026-10-02T05:00:00\+00:00: expected a whole day"):
        S.write_counts(spark, demo, out, since="2026-10-02T05:00:00Z")
    odd = M.resolve_window(demo, "waf-behavioral", last="90m", until=END)
    with pytest.raises(ValidationError, match="window.since=2026-10-31T22:30:00\\+00:00: expected a whole hour"):
        S.metrics_from_counts(counts, odd)
    assert S.read_counts(out, "no-such-model").is_empty()
