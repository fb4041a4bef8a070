"""The prediction log (issue 3, section 4): bulk import, validation and quarantine, idempotent
batches, crash safety (kill -9), concurrent writers, late labels, reading, SQL, stats, cleanup,
compaction and anonymization."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import zoneinfo
from pathlib import Path

import polars as pl
import pytest

import mlmm
from mlmm import predictions as P
from mlmm.errors import NotFoundError, ValidationError

UTC = dt.UTC
NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
WRITERS = Path(__file__).with_name("_writers.py")
ENTRY_COLUMNS = ["prediction_id", "version", "timestamp", "prediction", "actual", "confidence"]


@pytest.fixture
def ws(tmp_path: Path) -> mlmm.Workspace:
    workspace = mlmm.open_workspace(tmp_path / "ws")
    workspace.registry.register("m", "1.0.0")
    workspace.registry.register("m", "1.1.0")
    workspace.registry.register("other", "2.0.0")
    yield workspace
    workspace.close()


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch) -> dt.datetime:
    """The prediction log's clock stands still at NOW (quarantine dates, future limit, labels)."""
    monkeypatch.setattr(P.clock, "now", lambda: NOW)
    return NOW


def ts(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def log_rows(ws: mlmm.Workspace, *columns: str, **filters: object) -> list[tuple]:
    return ws.predictions(**filters).select(columns).sort(columns[0]).collect().rows()


def visible_parts(ws: mlmm.Workspace) -> list[str]:
    return sorted(str(f.relative_to(ws.path)) for f in P.prediction_files(ws))


def all_files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


# ----------------------------------------------------------------------------- bulk import
EXPECTED_ROWS = [
    ("p1", "1.0.0", ts("2026-01-05T10:00:00Z"), 1, None, 0.9, 3.0, "/a", True),
    ("p2", "1.1.0", ts("2026-01-05T11:00:00Z"), 0, 0, 0.2, 4.0, "/b", False),
    ("p3", "1.0.0", ts("2026-01-05T12:00:00Z"), 1, 1, 0.75, 5.0, "/c", True),
]
EXPECTED_FILE_SCHEMA = {
    "prediction_id": pl.String, "version": pl.String, "timestamp": pl.Datetime("us", "UTC"),
    "prediction": pl.Int64, "actual": pl.Int64, "confidence": pl.Float64,
    "qc": pl.Float64, "endpoint": pl.String, "flag": pl.Boolean, "batch_id": pl.String,
}
TEXT_COLUMNS = {
    "model_name": ["m", "m", "m"],
    "prediction_id": ["p1", "p2", "p3"],
    "version": ["1.0.0", "1.1.0", "1.0.0"],
    "timestamp": ["2026-01-05T10:00:00Z", "2026-01-05T11:00:00Z", "2026-01-05T12:00:00Z"],
    "prediction": ["1", "0", "1"],
    "actual": ["", "0", "1"],
    "confidence": ["0.9", "0.2", "0.75"],
    "qc": ["3", "4", "5"],
    "endpoint": ["/a", "/b", "/c"],
    "flag": ["true", "false", "true"],
}


def typed_frame() -> pl.DataFrame:
    return pl.DataFrame({
        "model_name": ["m", "m", "m"],
        "prediction_id": ["p1", "p2", "p3"],
        "version": ["1.0.0", "1.1.0", "1.0.0"],
        "timestamp": [ts("2026-01-05T10:00:00Z"), ts("2026-01-05T11:00:00Z"), ts("2026-01-05T12:00:00Z")],
        "prediction": [1, 0, 1],
        "actual": [None, 0, 1],
        "confidence": [0.9, 0.2, 0.75],
        "qc": [3, 4, 5],
        "endpoint": ["/a", "/b", "/c"],
        "flag": [True, False, True],
    })


def make_source(kind: str, folder: Path) -> tuple[object, str]:
    """The same three predictions in each accepted input form, and the summary's source."""
    if kind == "polars":
        return typed_frame(), "dataframe"
    if kind == "lazyframe":
        return typed_frame().lazy(), "lazyframe"
    if kind == "pandas":
        pd = pytest.importorskip("pandas")
        frame = typed_frame().to_pandas()
        frame["actual"] = pd.array([None, 0, 1], dtype="Int64")
        return frame, "pandas"
    if kind == "arrow":
        return typed_frame().to_arrow(), "arrow"
    if kind == "dict":
        return {k: v for k, v in TEXT_COLUMNS.items()} | {
            "prediction": [1, 0, 1], "actual": [None, 0, 1], "confidence": [0.9, 0.2, 0.75],
            "qc": [3, 4, 5], "flag": [True, False, True],
        }, "dict"
    if kind == "records":
        return typed_frame().to_dicts(), "records"
    if kind in ("csv", "tsv"):
        sep = "," if kind == "csv" else "\t"
        path = folder / f"in.{kind}"
        lines = [sep.join(TEXT_COLUMNS)] + [sep.join(col[i] for col in TEXT_COLUMNS.values()) for i in range(3)]
        path.write_text("\n".join(lines) + "\n")
        return path, str(path)
    if kind == "parquet":
        path = folder / "in.parquet"
        typed_frame().write_parquet(path)
        return path, str(path)
    if kind == "jsonl":
        path = folder / "in.jsonl"
        rows = typed_frame().with_columns(pl.col("timestamp").dt.to_string("%Y-%m-%dT%H:%M:%SZ")).to_dicts()
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        return str(path), str(path)
    raise AssertionError(kind)


@pytest.mark.parametrize(
    "kind", ["polars", "lazyframe", "pandas", "arrow", "dict", "records", "csv", "tsv", "parquet", "jsonl"]
)
def test_bulk_import_from_every_source_stores_the_same_rows(ws, tmp_path, kind):
    data, source = make_source(kind, tmp_path)
    summary = P.log_predictions(ws, data)
    assert (summary.accepted, summary.quarantined, summary.reasons, summary.examples) == (3, 0, {}, {})
    assert (summary.source, summary.files, summary.models, summary.already_imported) == (source, 1, {"m": 3}, False)
    assert summary.rows == 3
    rows = log_rows(ws, *ENTRY_COLUMNS, "qc", "endpoint", "flag")
    assert rows == EXPECTED_ROWS
    # features keep their kind: numbers Float64, text String, flags Boolean (also from CSV text)
    (part,) = P.prediction_files(ws)
    assert dict(pl.read_parquet_schema(part)) == EXPECTED_FILE_SCHEMA
    assert part.relative_to(ws.path).as_posix() == f"predictions/model_name=m/date=2026-01-05/part-{summary.batch_id}.parquet"
    # the log's view adds the partition columns and the label columns
    frame = ws.predictions().collect()
    assert frame.columns == ["model_name", "version", "prediction_id", "timestamp", "prediction", "actual",
                             "confidence", "labeled_at", "batch_id", "qc", "endpoint", "flag", "date"]
    assert frame.get_column("date").to_list() == [dt.date(2026, 1, 5)] * 3
    assert frame.get_column("batch_id").unique().to_list() == [summary.batch_id]


def test_model_argument_names_the_model_and_clashes_with_a_model_name_column(ws):
    summary = P.log_predictions(ws, {"version": ["2.0.0"], "prediction": [0], "prediction_id": ["o1"]}, model="other")
    assert (summary.accepted, summary.models) == (1, {"other": 1})
    assert log_rows(ws, "prediction_id", "model_name", "version") == [("o1", "other", "2.0.0")]
    with pytest.raises(ValidationError) as err:
        P.log_predictions(ws, {"model_name": ["m"], "version": ["1.0.0"], "prediction": [1]}, model="m")
    assert str(err.value) == "model=... given and the data has a model_name column; expected one or the other"


def test_generated_prediction_ids_are_unique_and_stable_per_batch(ws):
    frame = pl.DataFrame({"version": ["1.0.0"] * 500, "prediction": [1, 0] * 250})
    first = P.log_predictions(ws, frame, model="m")
    second = P.log_predictions(ws, frame, model="m")
    ids = ws.predictions().select("prediction_id").collect().get_column("prediction_id")
    assert ids.len() == 1000 and ids.n_unique() == 1000
    # <batch>-<input row>: a re-run of the same batch after a crash gives the same ids
    assert sorted(ids.to_list()) == sorted([f"{first.batch_id}-{i}" for i in range(500)]
                                           + [f"{second.batch_id}-{i}" for i in range(500)])
    # an empty prediction_id counts as missing; given ids are kept
    mixed = P.log_predictions(ws, {"version": ["1.0.0"] * 3, "prediction": [1, 1, 1],
                                   "prediction_id": ["given", "", None]}, model="m")
    new = log_rows(ws, "prediction_id", "batch_id")
    assert [pid for pid, batch in new if batch == mixed.batch_id] == [f"{mixed.batch_id}-1", f"{mixed.batch_id}-2", "given"]


def test_partition_layout_is_model_and_utc_day_with_one_file_per_batch_and_day(ws):
    frame = pl.DataFrame({
        "model_name": ["m", "m", "m", "other"],
        "version": ["1.0.0", "1.0.0", "1.1.0", "2.0.0"],
        "prediction": [1, 0, 1, 0],
        # a batch spanning midnight UTC: 00:30 on the 2nd in Berlin is still the 1st in UTC
        "timestamp": ["2026-01-01T23:59:59.999999Z", "2026-01-02T00:30:00+01:00", "2026-01-02T00:00:00Z",
                      "2026-01-02T12:00:00Z"],
        "prediction_id": ["a", "b", "c", "d"],
    })
    summary = P.log_predictions(ws, frame)
    batch = summary.batch_id
    assert (summary.files, summary.models) == (3, {"m": 3, "other": 1})
    assert all_files(ws.predictions_dir) == [
        f"model_name=m/date=2026-01-01/part-{batch}.parquet",
        f"model_name=m/date=2026-01-02/part-{batch}.parquet",
        f"model_name=other/date=2026-01-02/part-{batch}.parquet",
    ]
    # each file holds its day's rows in time order
    assert pl.read_parquet(ws.predictions_dir / f"model_name=m/date=2026-01-01/part-{batch}.parquet").get_column(
        "prediction_id").to_list() == ["b", "a"]
    assert log_rows(ws, "prediction_id", "model_name", "date") == [
        ("a", "m", dt.date(2026, 1, 1)), ("b", "m", dt.date(2026, 1, 1)),
        ("c", "m", dt.date(2026, 1, 2)), ("d", "other", dt.date(2026, 1, 2)),
    ]
    assert all_files(ws.imports_dir) == [f"{batch}.json"]
    assert not list(ws.path.rglob("*.tmp"))


EVENING = dt.datetime(2026, 1, 1, 23, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-01-01T23:30:00Z", EVENING),
        ("2026-01-02T01:30:00+02:00", EVENING),
        ("2026-01-01T18:30:00-05:00", EVENING),
        ("2026-01-02T01:30:00+0200", EVENING),
        ("2026-01-01 23:30:00", EVENING),  # naive text is UTC
        ("  2026-01-01T23:30:00Z ", EVENING),
        ("2026-01-01T23:30", EVENING),  # no seconds: Python's parser takes it
        ("2026-01-01T23:30:00.250000Z", EVENING + dt.timedelta(milliseconds=250)),
        ("2026-01-01", dt.datetime(2026, 1, 1, tzinfo=UTC)),
        (int(EVENING.timestamp()), EVENING),  # epoch seconds
        (EVENING.timestamp() + 0.5, EVENING + dt.timedelta(milliseconds=500)),
        (dt.datetime(2026, 1, 1, 23, 30), EVENING),  # naive datetime is UTC
        (dt.datetime(2026, 1, 2, 0, 30, tzinfo=zoneinfo.ZoneInfo("Europe/Berlin")), EVENING),
        (dt.date(2026, 1, 1), dt.datetime(2026, 1, 1, tzinfo=UTC)),
    ],
)
def test_timestamps_in_every_form_land_on_the_right_utc_instant_and_day(ws, value, expected):
    summary = P.log_predictions(ws, {"version": ["1.0.0"], "prediction": [1], "timestamp": [value],
                                     "prediction_id": ["t"]}, model="m")
    assert (summary.accepted, summary.quarantined) == (1, 0)
    assert log_rows(ws, "prediction_id", "timestamp", "date") == [("t", expected, dt.date(2026, 1, 1))]


def test_mixed_python_types_in_a_column_are_validated_per_row(ws):
    # [1, 0.5] and [1, "maybe"] would not even build a polars column; each row is judged instead
    summary = P.log_predictions(ws, {"version": ["1.0.0"] * 3, "prediction": [1, "maybe", 0],
                                     "confidence": [1, 0.5, 0.25], "prediction_id": ["a", "b", "c"]}, model="m")
    assert (summary.accepted, summary.quarantined, summary.reasons) == (2, 1, {"bad prediction": 1})
    assert log_rows(ws, "prediction_id", "prediction", "confidence") == [("a", 1, 1.0), ("c", 0, 0.25)]
    # records: a key first seen after the first 100 rows is kept, not dropped
    records = [{"version": "1.0.0", "prediction": 1, "prediction_id": f"r{i}"} for i in range(150)]
    records.append({"version": "1.0.0", "prediction": 0, "prediction_id": "late", "extra": "x"})
    assert P.log_predictions(ws, records, model="m").accepted == 151
    assert log_rows(ws, "prediction_id", "extra", model="m", version="1.0.0")[-3:] == [
        ("r97", None), ("r98", None), ("r99", None)]
    assert ws.predictions().filter(pl.col("prediction_id") == "late").select("extra").collect().item() == "x"


def test_nested_features_are_stored_as_json_text(ws):
    summary = P.log_predictions(ws, {"version": ["1.0.0"] * 3, "prediction": [1, 0, "x"], "prediction_id": ["a", "b", "c"],
                                     "tags": [[1, 2], [3], [4]], "meta": [{"k": 1}, {"k": None}, {"k": 3}]}, model="m")
    assert (summary.accepted, summary.quarantined) == (2, 1)
    assert log_rows(ws, "prediction_id", "tags", "meta") == [("a", "[1, 2]", '{"k": 1}'), ("b", "[3]", '{"k": null}')]
    assert P.read_quarantine(ws).select("prediction_id", "tags", "meta").rows() == [("c", "[4]", '{"k": 3}')]


# ----------------------------------------------------------------------------- validation
BAD_CSV_ROWS = [
    # prediction_id, model_name, version, prediction, actual, confidence, timestamp
    ("p0", "m", "1.0.0", "1", "", "0.9", "2026-01-01T10:00:00Z"),
    ("p1", "m", "1.0.0", "1", "", "1.7", "2026-01-01T10:00:00Z"),
    ("p2", "m", "1.0.0", "1", "", "-0.2", "2026-01-01T10:00:00Z"),
    ("p3", "m", "1.0.0", "1", "", "abc", "2026-01-01T10:00:00Z"),
    ("p4", "m", "1.0.0", "1", "", "NaN", "2026-01-01T10:00:00Z"),
    ("p5", "m", "1.0.0", "", "", "0.5", "2026-01-01T10:00:00Z"),
    ("p6", "m", "1.0.0", "maybe", "", "0.5", "2026-01-01T10:00:00Z"),
    ("p7", "m", "1.0.0", "0.5", "", "0.5", "2026-01-01T10:00:00Z"),
    ("p8", "m", "1.0.0", "1", "x", "0.5", "2026-01-01T10:00:00Z"),
    ("p9", "m", "1.0.0", "1", "", "0.5", "not-a-time"),
    ("p10", "m", "1.0.0", "1", "", "0.5", "2099-01-01T00:00:00Z"),
    ("p11", "m", "3.0.0", "1", "", "0.5", "2026-01-01T10:00:00Z"),
    ("p12", "../etc", "1.0.0", "1", "", "0.5", "2026-01-01T10:00:00Z"),
    ("p13", "m", "1.0", "1", "", "0.5", "2026-01-01T10:00:00Z"),
    ("p0", "m", "1.0.0", "0", "", "0.5", "2026-01-01T10:00:00Z"),
    ("p14", "m", "1.1.0", "true", "0", "0", "2026-01-01T11:00:00Z"),
]
CLASS = "expected 0/1, true/false or an integer class"
BAD_CSV_QUARANTINE = [
    (1, "p1", "confidence out of [0, 1]", "confidence=1.7: expected a number in [0, 1]"),
    (2, "p2", "confidence out of [0, 1]", "confidence=-0.2: expected a number in [0, 1]"),
    (3, "p3", "confidence out of [0, 1]", "confidence=abc: expected a number in [0, 1]"),
    (4, "p4", "confidence out of [0, 1]", "confidence=NaN: expected a number in [0, 1]"),
    (5, "p5", "bad prediction", f"prediction is missing: {CLASS}"),
    (6, "p6", "bad prediction", f"prediction='maybe': {CLASS}"),
    (7, "p7", "bad prediction", f"prediction='0.5': {CLASS}"),
    (8, "p8", "bad actual", f"actual='x': {CLASS}"),
    (9, "p9", "bad timestamp", "timestamp='not-a-time': expected an ISO-8601 time"),
    (10, "p10", "bad timestamp", "timestamp=2099-01-01T00:00:00Z: expected a time before 2026-03-02T12:00:00+00:00"
                                 " (more than 1d in the future)"),
    (11, "p11", "unregistered version", "version='3.0.0' of model 'm' is not registered (registered: 1.0.0, 1.1.0);"
                                        " register it or pass strict=False"),
    (12, "p12", "bad model_name", "model_name='../etc': expected 1-128 letters, digits, '-', '_' or '.'"),
    (13, "p13", "bad version", "version='1.0': expected a semantic version MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD], e.g. '1.0.0' or '2.0.0-rc.1'"),
    (14, "p0", "duplicate prediction_id", "prediction_id='p0': appears more than once in this batch"),
]


def test_bad_rows_go_to_quarantine_with_rule_reason_row_and_source(ws, tmp_path, frozen):
    path = tmp_path / "bad.csv"
    header = "prediction_id,model_name,version,prediction,actual,confidence,timestamp"
    path.write_text(header + "\n" + "\n".join(",".join(r) for r in BAD_CSV_ROWS) + "\n")
    summary = P.log_predictions(ws, path)
    assert (summary.accepted, summary.quarantined, summary.files) == (2, 14, 2)
    assert summary.reasons == {
        "bad actual": 1, "bad model_name": 1, "bad prediction": 3, "bad timestamp": 2, "bad version": 1,
        "confidence out of [0, 1]": 4, "duplicate prediction_id": 1, "unregistered version": 1,
    }
    # the first row of each rule, with its number and the full reason
    firsts = {rule: (row, reason) for row, _, rule, reason in reversed(BAD_CSV_QUARANTINE)}
    assert summary.examples == {rule: f"row {row}: {reason}" for rule, (row, reason) in firsts.items()}
    # the first p0 is kept, the later duplicate quarantined; p14's "true" is class 1
    assert log_rows(ws, "prediction_id", "version", "prediction", "actual", "confidence") == [
        ("p0", "1.0.0", 1, None, 0.9), ("p14", "1.1.0", 1, 0, 0.0)]
    quarantine = P.read_quarantine(ws).sort("row")
    assert quarantine.select("row", "prediction_id", "rule", "reason").rows() == BAD_CSV_QUARANTINE
    assert quarantine.get_column("source").unique().to_list() == [str(path)]
    assert quarantine.get_column("batch_id").unique().to_list() == [summary.batch_id]
    assert quarantine.get_column("quarantined_at").unique().to_list() == [NOW]
    # the raw values are kept as text, so the row can be fixed and re-imported
    assert quarantine.filter(pl.col("row") == 12).select("model_name", "version", "confidence").row(0) == (
        "../etc", "1.0.0", "0.5")
    assert all_files(ws.quarantine_dir) == [f"date=2026-03-01/part-{summary.batch_id}.parquet"]
    # '../etc' never became a directory, inside the workspace or beside it
    assert all_files(ws.predictions_dir) == [f"model_name=m/date=2026-01-01/part-{summary.batch_id}.parquet"]
    assert sorted(p.name for p in ws.path.parent.iterdir()) == ["bad.csv", "ws"]


def test_typed_columns_are_validated_with_the_same_rules(ws, frozen):
    frame = pl.DataFrame({
        "prediction_id": ["a", "b", "c", "d", "e", "f"],
        "version": ["1.0.0"] * 6,
        "prediction": [1.0, 0.5, float("nan"), None, 0.0, 1.0],
        "confidence": [float("nan"), 0.5, 0.5, 0.5, 1.7, 1.0],
        "timestamp": [dt.datetime(2026, 1, 1), dt.datetime(2026, 1, 1), dt.datetime(2026, 1, 1),
                      dt.datetime(2026, 1, 1), dt.datetime(2026, 3, 2, 12, 0, 1), dt.datetime(2026, 3, 2, 12)],
    })
    summary = P.log_predictions(ws, frame, model="m")
    assert (summary.accepted, summary.quarantined) == (1, 5)
    assert summary.reasons == {"bad prediction": 3, "confidence out of [0, 1]": 2}
    assert P.read_quarantine(ws).sort("row").select("row", "rule", "reason").rows() == [
        (0, "confidence out of [0, 1]", "confidence=NaN: expected a number in [0, 1]"),
        (1, "bad prediction", f"prediction='0.5': {CLASS}"),
        (2, "bad prediction", f"prediction='NaN': {CLASS}"),
        (3, "bad prediction", f"prediction is missing: {CLASS}"),
        # two failures in one row: the first rule names it, the reason lists both
        (4, "confidence out of [0, 1]", "confidence=1.7: expected a number in [0, 1]; timestamp=2026-03-02T12:00:01Z:"
            " expected a time before 2026-03-02T12:00:00+00:00 (more than 1d in the future)"),
    ]
    # exactly max_future ahead is still accepted
    assert log_rows(ws, "prediction_id", "timestamp") == [("f", dt.datetime(2026, 3, 2, 12, tzinfo=UTC))]


def test_unregistered_version_is_accepted_with_strict_false(ws):
    data = {"version": ["3.0.0", "1.0.0"], "prediction": [1, 0], "prediction_id": ["new", "old"]}
    strict = P.log_predictions(ws, data, model="m")
    assert (strict.accepted, strict.quarantined, strict.reasons) == (1, 1, {"unregistered version": 1})
    loose = P.log_predictions(ws, {**data, "prediction_id": ["new2", "old2"]}, model="m", strict=False)
    assert (loose.accepted, loose.quarantined, loose.reasons) == (2, 0, {})
    assert log_rows(ws, "prediction_id", "version") == [
        ("new2", "3.0.0"), ("old", "1.0.0"), ("old2", "1.0.0")]
    # an unknown model is unregistered too; a malformed version still is not accepted
    other = P.log_predictions(ws, {"version": ["1.0.0", "x.y"], "prediction": [1, 1]}, model="ghost", strict=False)
    assert (other.accepted, other.reasons) == (1, {"bad version": 1})


def test_a_bad_model_name_never_touches_the_file_system(ws, tmp_path):
    before = all_files(tmp_path)
    for name in ("../etc", "..", "a/b", "/abs", ".hidden"):
        summary = P.log_predictions(ws, {"version": ["1.0.0"], "prediction": [1]}, model=name, strict=False)
        assert (summary.accepted, summary.quarantined, summary.reasons) == (0, 1, {"bad model_name": 1})
        assert summary.examples == {
            "bad model_name": f"row 0: model_name={name!r}: expected 1-128 letters, digits, '-', '_' or '.'"}
    assert list(ws.predictions_dir.iterdir()) == []
    assert not (tmp_path / "etc").exists() and not (ws.path / "etc").exists()
    new = sorted(set(all_files(tmp_path)) - set(before))
    assert [f.split("/")[1] for f in new] == ["imports"] * 5 + ["quarantine"] * 5
    with pytest.raises(ValidationError, match=r"^model='\.\./etc': expected a model name$"):
        ws.predictions("../etc")
    with pytest.raises(ValidationError, match=r"^model='\.\./etc': expected a model name$"):
        P.log_labels(ws, "../etc", {"a": 1})


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"model_name": ["m"], "version": ["1.0.0"]},
         "column 'prediction' is missing; expected columns model_name (or model=...), version, prediction and"
         " optionally timestamp, actual, confidence, prediction_id, features (got ['model_name', 'version'])"),
        ({"prediction": [1], "model_name": ["m"]},
         "column 'version' is missing; expected columns model_name (or model=...), version, prediction and"
         " optionally timestamp, actual, confidence, prediction_id, features (got ['model_name', 'prediction'])"),
        ({"model_name": ["m"], "version": ["1.0.0"], "prediction": [1], "date": ["2026-01-01"]},
         "column 'date' is reserved by the log; rename it"),
        ({"model_name": ["m"], "version": ["1.0.0"], "prediction": [1], "labeled_at": ["2026-01-01"]},
         "column 'labeled_at' is reserved by the log; rename it"),
        ({"model_name": ["m"], "version": ["1.0.0"], "prediction": [1], "batch_id": ["x"]},
         "column 'batch_id' is reserved by the log; rename it"),
        ({"model_name": ["m"], "version": ["1.0.0"], "prediction": [1], "my col": [1]},
         "column 'my col': expected a feature name of letters, digits and '_' (at most 64, not starting with a digit)"),
        ({"model_name": ["m"], "version": ["1.0.0"], "prediction": [1], "1st": [1]},
         "column '1st': expected a feature name of letters, digits and '_' (at most 64, not starting with a digit)"),
    ],
)
def test_structural_errors_raise_and_write_nothing(ws, data, message):
    with pytest.raises(ValidationError) as err:
        P.log_predictions(ws, data)
    assert str(err.value) == message
    assert all_files(ws.predictions_dir) == all_files(ws.quarantine_dir) == all_files(ws.imports_dir) == []


def test_unreadable_inputs_raise_with_the_path(ws, tmp_path):
    with pytest.raises(NotFoundError) as err:
        P.log_predictions(ws, tmp_path / "missing.csv")
    assert str(err.value) == f"file={str(tmp_path / 'missing.csv')!r}: does not exist"
    odd = tmp_path / "rows.xlsx"
    odd.write_bytes(b"PK")
    with pytest.raises(ValidationError) as err:
        P.log_predictions(ws, odd)
    assert str(err.value) == f"file={str(odd)!r}: expected .parquet, .csv, .tsv or .jsonl"
    with pytest.raises(ValidationError) as err:
        P.log_predictions(ws, 42)
    assert str(err.value).startswith("data=int: expected a polars/pandas/pyarrow frame")
    with pytest.raises(ValidationError) as err:
        P.log_predictions(ws, {"version": ["1.0.0"], "prediction": [1]}, model="m", batch_id="a/b")
    assert str(err.value) == "batch_id='a/b': expected 1-80 letters, digits, '.', '_' or '-'"


# ----------------------------------------------------------------------------- idempotency
def test_importing_the_same_file_twice_imports_it_once(ws, tmp_path):
    path = tmp_path / "day.parquet"
    typed_frame().write_parquet(path)
    first = P.log_predictions(ws, path)
    files = all_files(ws.predictions_dir)
    second = P.log_predictions(ws, path)
    assert (first.already_imported, second.already_imported) == (False, True)
    assert (second.batch_id, second.accepted, second.quarantined, second.files, second.models) == (
        first.batch_id, 3, 0, 1, {"m": 3})
    assert first.batch_id == P.inputs.file_batch_id(path) and first.batch_id.startswith("f")
    assert all_files(ws.predictions_dir) == files
    assert log_rows(ws, "prediction_id") == [("p1",), ("p2",), ("p3",)]
    record = json.loads((ws.imports_dir / f"{first.batch_id}.json").read_text())
    assert (record["accepted"], record["source"]) == (3, str(path))
    # same content under another name: same batch, still once
    copy = tmp_path / "copy.parquet"
    copy.write_bytes(path.read_bytes())
    assert P.log_predictions(ws, copy).already_imported is True
    assert ws.predictions().select(pl.len()).collect().item() == 3


def test_an_explicit_batch_id_makes_a_frame_import_idempotent(ws):
    frame = pl.DataFrame({"version": ["1.0.0"] * 2, "prediction": [1, 0], "prediction_id": ["a", "b"]})
    first = P.log_predictions(ws, frame, model="m", batch_id="nightly-2026-01-05")
    again = P.log_predictions(ws, frame.with_columns(pl.lit(1).alias("prediction")), model="m", batch_id="nightly-2026-01-05")
    assert (first.already_imported, again.already_imported, again.accepted) == (False, True, 2)
    assert log_rows(ws, "prediction_id", "prediction", "batch_id") == [
        ("a", 1, "nightly-2026-01-05"), ("b", 0, "nightly-2026-01-05")]
    # without a batch id every frame is a new batch
    P.log_predictions(ws, frame.with_columns(pl.col("prediction_id") + "2"), model="m")
    assert ws.predictions().select(pl.len()).collect().item() == 4


def _big_import_file(folder: Path, days: int) -> tuple[Path, list[str]]:
    per_day = 6
    n = days * per_day
    start = dt.datetime(2020, 1, 1, tzinfo=UTC)
    ids = [f"k{i:07d}" for i in range(n)]
    frame = pl.DataFrame({
        "model_name": "m",
        "prediction_id": ids,
        "version": "1.0.0",
        "prediction": [i % 2 for i in range(n)],
        "confidence": [(i % 100) / 100 for i in range(n)],
        "timestamp": pl.datetime_range(start, start + dt.timedelta(hours=4 * (n - 1)), "4h", eager=True),
        "x": [float(i) for i in range(n)],
    })
    path = folder / f"big-{days}.parquet"
    frame.write_parquet(path)
    return path, ids


def test_kill_minus_9_mid_import_leaves_no_partial_file_and_a_rerun_imports_exactly_once(ws, tmp_path):
    ws.close()  # let the writer take the registry at once
    killed = False
    for days in (800, 2000, 5000):
        path, ids = _big_import_file(tmp_path, days)
        batch = P.inputs.file_batch_id(path)
        proc = subprocess.Popen([sys.executable, str(WRITERS), "import", str(ws.path), str(path)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            if next(ws.predictions_dir.glob(f"model_name=m/date=*/part-{batch}.parquet"), None) is not None:
                os.kill(proc.pid, signal.SIGKILL)
                break
            time.sleep(0.001)
        _, stderr = proc.communicate(timeout=60)
        if proc.returncode == -signal.SIGKILL:
            killed = True
            break
        assert proc.returncode == 0, stderr.decode()  # finished before the kill: try a bigger file

    assert killed, "the writer always finished before it could be killed"
    # killed mid-way: some day files are on disk, but the batch is not committed: nobody sees them
    on_disk = list(ws.predictions_dir.glob(f"model_name=m/date=*/part-{batch}.parquet"))
    assert 1 <= len(on_disk) < days
    assert not (ws.imports_dir / f"{batch}.json").exists()
    assert P.prediction_files(ws) == []
    assert ws.predictions().select(pl.len()).collect().item() == 0
    assert ws.sql("SELECT count(*) AS n FROM predictions").item() == 0

    summary = P.log_predictions(ws, path)
    assert (summary.already_imported, summary.accepted, summary.quarantined, summary.files) == (False, len(ids), 0, days)
    logged = ws.predictions().select("prediction_id").collect().get_column("prediction_id")
    assert logged.len() == len(ids)
    assert sorted(logged.to_list()) == ids
    assert len(P.prediction_files(ws)) == days
    assert P.log_predictions(ws, path).already_imported is True


def test_a_partial_temporary_file_is_never_read(ws):
    P.log_predictions(ws, typed_frame())
    (part,) = P.prediction_files(ws)
    # what a writer killed mid-write leaves behind: half a file under the hidden temporary name
    tmp = part.parent / f".{part.name}.deadbeef.tmp"
    tmp.write_bytes(part.read_bytes()[:100])
    (part.parent / ".part-x.parquet").write_bytes(b"PAR1")
    assert P.prediction_files(ws) == [part]
    assert ws.predictions().select(pl.len()).collect().item() == 3
    assert ws.sql("SELECT count(*) FROM predictions").item() == 3


# ----------------------------------------------------------------------------- concurrency
def test_concurrent_writer_processes_lose_and_duplicate_nothing(ws, tmp_path):
    ws.close()
    workers, batches, rows, tracked = 4, 3, 200, 300
    go = tmp_path / "go"
    # each process appends bulk batches while its tracker flushes small files in the background
    procs = [
        subprocess.Popen([sys.executable, str(WRITERS), "mixed", str(ws.path), str(w), str(batches), str(rows),
                          str(tracked), str(go)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for w in range(workers)
    ]
    deadline = time.monotonic() + 90
    while len(list(tmp_path.glob("go.ready-*"))) < workers and time.monotonic() < deadline:
        if any(p.poll() not in (None, 0) for p in procs):
            break
        time.sleep(0.01)
    go.touch()  # all writers start together
    for p in procs:
        _, stderr = p.communicate(timeout=120)
        assert p.returncode == 0, stderr.decode()

    expected = sorted(
        [f"w{w}-b{b}-{i}" for w in range(workers) for b in range(batches) for i in range(rows)]
        + [f"t{w}-{i}" for w in range(workers) for i in range(tracked)]
    )
    logged = ws.predictions().select("prediction_id").collect().get_column("prediction_id")
    assert logged.len() == len(expected) == 4 * 3 * 200 + 4 * 300
    assert sorted(logged.to_list()) == expected
    # every bulk import committed its own record, all into the same three day-partitions
    assert len(list(ws.imports_dir.glob("*.json"))) == workers * batches
    days = {f.parent.name for f in P.prediction_files(ws, "m") if f.name.startswith("part-b")}
    assert days == {"date=2026-01-01", "date=2026-01-02", "date=2026-01-03"}
    assert not list(ws.path.rglob("*.tmp"))
    assert P.read_quarantine(ws).height == 0


# ----------------------------------------------------------------------------- labels
def _three_predictions(ws: mlmm.Workspace) -> None:
    P.log_predictions(ws, {
        "version": ["1.0.0", "1.0.0", "1.1.0"], "prediction": [1, 0, 1], "actual": [None, None, 1],
        "prediction_id": ["a", "b", "c"], "timestamp": ["2026-01-05T10:00:00Z"] * 3,
    }, model="m")


def test_labels_from_a_dict_and_a_frame_are_joined_at_query_time(ws, frozen):
    _three_predictions(ws)
    summary = P.log_labels(ws, "m", {"a": True, "b": "0"})
    assert (summary.accepted, summary.unknown_ids, summary.quarantined, summary.reasons) == (2, 0, 0, {})
    frame = pl.DataFrame({"prediction_id": ["c"], "actual": [0], "labeled_at": ["2026-02-01T08:00:00+01:00"]})
    assert P.log_labels(ws, "m", frame).accepted == 1
    assert log_rows(ws, "prediction_id", "prediction", "actual", "labeled_at") == [
        ("a", 1, 1, NOW), ("b", 0, 0, NOW), ("c", 1, 0, dt.datetime(2026, 2, 1, 7, tzinfo=UTC))]
    # without labels the logged value stays
    assert log_rows(ws, "prediction_id", "actual", with_labels=False) == [("a", None), ("b", None), ("c", 1)]
    batches = P.read_labels(ws, latest=False).collect().get_column("batch_id").unique().sort().to_list()
    assert batches[0].startswith("l") and summary.batch_id in batches
    assert all_files(ws.labels_dir) == [f"model_name=m/2026-01-05/part-{b}.parquet" for b in batches]


@pytest.mark.parametrize("newest_first", [False, True])
def test_the_latest_label_wins_in_either_write_order(ws, newest_first):
    _three_predictions(ws)
    early = pl.DataFrame({"prediction_id": ["a"], "actual": [0], "labeled_at": [dt.datetime(2026, 1, 6, tzinfo=UTC)]})
    late = pl.DataFrame({"prediction_id": ["a"], "actual": [1], "labeled_at": [dt.datetime(2026, 1, 7, tzinfo=UTC)]})
    for frame in ([late, early] if newest_first else [early, late]):
        P.log_labels(ws, "m", frame)
    assert log_rows(ws, "prediction_id", "actual", "labeled_at")[0] == ("a", 1, dt.datetime(2026, 1, 7, tzinfo=UTC))
    assert P.read_labels(ws, latest=False).collect().height == 2
    assert P.read_labels(ws).select("prediction_id", "actual").collect().rows() == [("a", 1)]
    assert ws.sql("SELECT actual, labeled_at FROM predictions WHERE prediction_id = 'a'").row(0) == (
        1, dt.datetime(2026, 1, 7, tzinfo=UTC))


def test_labels_for_unknown_ids_are_reported_and_kept_or_quarantined(ws, frozen):
    _three_predictions(ws)
    kept = P.log_labels(ws, "m", {"a": 1, "zzz": 0, "yyy": 1})
    assert (kept.accepted, kept.unknown_ids, kept.quarantined, kept.unknown_examples) == (3, 2, 0, ("zzz", "yyy"))
    assert repr(kept) == "<LabelSummary m: 3 accepted, 2 for unknown predictions, 0 quarantined>"
    # a kept label joins once its prediction arrives (a tracker may still have held it)
    P.log_predictions(ws, {"version": ["1.0.0"], "prediction": [0], "prediction_id": ["zzz"],
                           "timestamp": ["2026-01-05T11:00:00Z"]}, model="m")
    assert log_rows(ws, "prediction_id", "actual")[-1] == ("zzz", 0)

    strict = P.log_labels(ws, "m", {"b": 1, "q": "x", "nope": 0, "c": 0, "gone": 1}, unknown="quarantine")
    assert (strict.accepted, strict.unknown_ids, strict.quarantined) == (2, 2, 3)
    assert strict.reasons == {"bad actual": 1, "unknown prediction_id": 2}
    assert strict.examples == {
        "bad actual": f"row 1: actual='x': {CLASS}",
        "unknown prediction_id": "row 2: prediction_id='nope': no prediction of m with this id",
    }
    q = P.read_quarantine(ws).filter(pl.col("batch_id") == strict.batch_id).sort("row")
    assert q.select("row", "prediction_id", "actual", "rule", "source", "model_name").rows() == [
        (1, "q", "x", "bad actual", "labels:m", "m"),
        (2, "nope", "0", "unknown prediction_id", "labels:m", "m"),
        (4, "gone", "1", "unknown prediction_id", "labels:m", "m"),
    ]
    assert P.read_labels(ws, "m").select(pl.len()).collect().item() == 5  # a, zzz, yyy, b, c
    with pytest.raises(ValidationError) as err:
        P.log_labels(ws, "m", {"a": 1}, unknown="drop")
    assert str(err.value) == "unknown='drop': expected 'keep' or 'quarantine'"
    with pytest.raises(ValidationError) as err:
        P.log_labels(ws, "m", pl.DataFrame({"prediction_id": ["a"]}))
    assert str(err.value) == "column 'actual' is missing; expected prediction_id, actual[, labeled_at]"


def test_bad_labels_are_quarantined_with_their_reason(ws, frozen):
    _three_predictions(ws)
    frame = pl.DataFrame({"prediction_id": ["a", None, "b", "c"], "actual": ["1", "1", "yes-ish", "0"],
                          "labeled_at": ["2026-01-06T00:00:00Z", None, None, "someday"]})
    summary = P.log_labels(ws, "m", frame)
    assert (summary.accepted, summary.quarantined) == (1, 3)
    assert summary.reasons == {"bad actual": 1, "bad labeled_at": 1, "missing prediction_id": 1}
    assert P.read_quarantine(ws).sort("row").select("row", "rule", "reason").rows() == [
        (1, "missing prediction_id", "prediction_id is missing"),
        (2, "bad actual", f"actual='yes-ish': {CLASS}"),
        (3, "bad labeled_at", "labeled_at='someday': expected an ISO-8601 time"),
    ]
    assert log_rows(ws, "prediction_id", "actual") == [("a", 1), ("b", None), ("c", 1)]


# ----------------------------------------------------------------------------- reading
def _week_of_predictions(ws: mlmm.Workspace) -> None:
    P.log_predictions(ws, {
        "model_name": ["m", "m", "m", "m", "other"],
        "version": ["1.0.0", "1.1.0", "1.0.0", "1.1.0", "2.0.0"],
        "prediction": [1, 0, 1, 1, 0],
        "prediction_id": ["d1", "d2", "d3", "d4", "o1"],
        "timestamp": ["2026-01-01T10:00:00Z", "2026-01-02T10:00:00Z", "2026-01-03T10:00:00Z",
                      "2026-01-04T23:59:59Z", "2026-01-02T00:00:00Z"],
    })


def test_read_predictions_filters_by_model_version_time_and_last_n(ws):
    _week_of_predictions(ws)
    ids = lambda **kw: [r[0] for r in log_rows(ws, "prediction_id", **kw)]  # noqa: E731
    assert ids() == ["d1", "d2", "d3", "d4", "o1"]
    assert ids(model="m") == ["d1", "d2", "d3", "d4"]
    assert ids(model="m", version="1.1.0") == ["d2", "d4"]
    assert ids(version="2.0.0") == ["o1"]
    assert ids(model="ghost") == []
    assert ids(since="2026-01-02") == ["d2", "d3", "d4", "o1"]  # inclusive
    assert ids(until="2026-01-03T10:00:00Z") == ["d1", "d2", "o1"]  # exclusive
    assert ids(since=dt.datetime(2026, 1, 2, 5), until=dt.date(2026, 1, 4)) == ["d2", "d3"]
    assert ids(model="m", last_n=2) == ["d3", "d4"]
    assert ids(last_n=1) == ["d4"]
    newest = ws.predictions(model="m", last_n=3).select("prediction_id").collect().get_column("prediction_id")
    assert newest.to_list() == ["d2", "d3", "d4"]  # oldest first
    with pytest.raises(ValidationError) as err:
        ws.predictions(last_n=0)
    assert str(err.value) == "last_n=0: expected a positive integer"
    with pytest.raises(ValidationError):
        ws.predictions(since="last tuesday")


def test_since_accepts_a_relative_duration(ws):
    current = dt.datetime.now(UTC).replace(microsecond=0)
    P.log_predictions(ws, {"version": ["1.0.0"] * 3, "prediction": [1, 0, 1], "prediction_id": ["2h", "23h", "30h"],
                           "timestamp": [current - dt.timedelta(hours=h) for h in (2, 23, 30)]}, model="m")
    assert log_rows(ws, "prediction_id", since="24h") == [("23h",), ("2h",)]
    assert log_rows(ws, "prediction_id", since="3h") == [("2h",)]
    assert log_rows(ws, "prediction_id", since="2d") == [("23h",), ("2h",), ("30h",)]


def test_files_with_different_features_and_a_type_change_read_together(ws):
    def one(pid: str, **features: object) -> None:
        P.log_predictions(ws, {"version": ["1.0.0"], "prediction": [1], "prediction_id": [pid],
                               "timestamp": ["2026-01-01T10:00:00Z"], **{k: [v] for k, v in features.items()}}, model="m")

    one("a", x=1.5, y=2)
    one("b", y=3, z=True)
    assert log_rows(ws, "prediction_id", "x", "y", "z") == [("a", 1.5, 2.0, None), ("b", None, 3.0, True)]
    # x was a number: text that is not one is quarantined, the column keeps its type (issue 15, item 4)
    one("c", x="high")
    frame = ws.predictions().sort("prediction_id").collect()
    assert frame.schema["x"] == pl.Float64 and frame.schema["y"] == pl.Float64
    assert frame.select("prediction_id", "x", "y", "z").rows() == [("a", 1.5, 2.0, None), ("b", None, 3.0, True)]
    (reason,) = P.read_quarantine(ws).get_column("reason").to_list()
    assert reason.startswith("x='high': expected a number (the type of x in the log of m since ")
    assert ws.sql("SELECT count(*) AS n, count(x) AS with_x FROM predictions").row(0) == (2, 1)


def test_sql_views_count_the_same_as_polars(ws, frozen):
    _week_of_predictions(ws)
    P.log_labels(ws, "m", {"d1": 0, "d2": 1, "nobody": 1})
    P.log_labels(ws, "m", pl.DataFrame({"prediction_id": ["d1"], "actual": [1], "labeled_at": ["2026-03-01T13:00:00Z"]}))
    P.log_predictions(ws, {"version": ["1.0.0"], "prediction": [7], "confidence": [2.0]}, model="m")
    polars_counts = (
        ws.predictions().group_by("model_name").agg(pl.len(), pl.col("actual").is_not_null().sum())
        .sort("model_name").collect().rows()
    )
    assert polars_counts == [("m", 4, 2), ("other", 1, 0)]
    assert ws.sql(
        "SELECT model_name, count(*), count(actual) FROM predictions GROUP BY 1 ORDER BY 1"
    ).rows() == polars_counts
    assert ws.sql("SELECT prediction_id, actual FROM predictions WHERE actual IS NOT NULL ORDER BY 1").rows() == [
        ("d1", 1), ("d2", 1)]
    assert ws.sql("SELECT count(*) FROM labels").item() == P.read_labels(ws).select(pl.len()).collect().item() == 3
    assert ws.sql("SELECT count(*) FROM predictions_raw").item() == 5
    assert ws.sql("SELECT rule, count(*) FROM quarantine GROUP BY 1").rows() == [("bad prediction", 1)]
    assert P.read_quarantine(ws).height == 1
    assert ws.sql("SELECT count(*) FROM predictions WHERE model_name = ?", ["other"]).item() == 1


def test_reading_an_empty_workspace_gives_empty_typed_results(ws):
    frame = ws.predictions().collect()
    assert frame.height == 0
    assert frame.schema["timestamp"] == pl.Datetime("us", "UTC") and frame.schema["prediction"] == pl.Int64
    assert ws.sql("SELECT count(*) FROM predictions").item() == 0
    assert P.stats(ws).height == 0
    assert P.read_quarantine(ws).height == 0


# ----------------------------------------------------------------------------- stats
def test_stats_counts_label_coverage_and_positive_rate_per_model_and_version(ws):
    P.log_predictions(ws, {
        "model_name": ["m"] * 6 + ["other"],
        "version": ["1.0.0"] * 4 + ["1.1.0"] * 2 + ["2.0.0"],
        "prediction": [1, 0, 1, 1, 0, 0, 1],
        "actual": [1, None, 0, None, None, None, None],
        "confidence": [0.9, 0.1, 0.8, 0.6, 0.2, 0.3, 0.7],
        "prediction_id": ["a", "b", "c", "d", "e", "f", "g"],
        "timestamp": ["2026-01-01T00:00:00Z", "2026-01-01T06:00:00Z", "2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z",
                      "2026-01-02T00:00:00Z", "2026-01-02T01:00:00Z", "2026-01-05T00:00:00Z"],
    })
    P.log_labels(ws, "m", {"b": 0, "e": 1})
    P.log_predictions(ws, {"version": ["1.0.0", "1.0.0"], "prediction": [1, 1], "confidence": [1.7, 0.5],
                           "timestamp": ["2026-01-01T00:00:00Z"] * 2, "prediction_id": ["bad", "h"]}, model="m")
    table = P.stats(ws)
    assert table.columns == ["model_name", "version", "predictions", "labelled", "label_coverage", "positive_rate",
                             "mean_confidence", "first", "last", "model_files", "model_bytes", "model_quarantined"]
    sizes = {m: sum(f.stat().st_size for f in P.prediction_files(ws, m)) for m in ("m", "other")}
    assert table.select(pl.exclude("mean_confidence")).rows() == [
        ("m", "1.0.0", 5, 3, 0.6, 0.8, ts("2026-01-01T00:00:00Z"), ts("2026-01-03T00:00:00Z"), 4, sizes["m"], 1),
        ("m", "1.1.0", 2, 1, 0.5, 0.0, ts("2026-01-02T00:00:00Z"), ts("2026-01-02T01:00:00Z"), 4, sizes["m"], 1),
        ("other", "2.0.0", 1, 0, 0.0, 1.0, ts("2026-01-05T00:00:00Z"), ts("2026-01-05T00:00:00Z"), 1, sizes["other"], 0),
    ]
    assert table.get_column("mean_confidence").to_list() == pytest.approx([(0.9 + 0.1 + 0.8 + 0.6 + 0.5) / 5, 0.25, 0.7])
    assert P.stats(ws, "other").get_column("version").to_list() == ["2.0.0"]


# ----------------------------------------------------------------------------- cleanup
def _retention_fixture(ws: mlmm.Workspace) -> None:
    days = ["2026-01-01", "2026-01-01", "2026-01-29", "2026-01-30", "2026-02-25"]
    for i, day in enumerate(days):  # one batch each: 2026-01-01 gets two files
        P.log_predictions(ws, {"version": ["1.0.0"], "prediction": [1], "prediction_id": [f"p{i}"],
                               "timestamp": [f"{day}T12:00:00Z"]}, model="m")
    P.log_labels(ws, "m", pl.DataFrame({"prediction_id": ["p0"], "actual": [1], "labeled_at": ["2026-01-02T00:00:00Z"]}))
    P.log_labels(ws, "m", pl.DataFrame({"prediction_id": ["p4"], "actual": [0], "labeled_at": ["2026-02-26T00:00:00Z"]}))


def test_cleanup_removes_day_partitions_and_labels_past_the_retention(ws, frozen):
    _retention_fixture(ws)
    reference = "2026-03-01T12:00:00Z"  # the default retention, 30 days, cuts at 2026-01-30
    preview = P.cleanup(ws, dry_run=True, reference=reference)
    assert (preview.files_removed, preview.rows, preview.partitions, preview.dry_run) == (4, 4, 2, True)
    assert preview.details[:2] == ("predictions/model_name=m/date=2026-01-01", "predictions/model_name=m/date=2026-01-29")
    assert preview.details[2] == "labels/model_name=m/2026-01-01"  # the day goes with its predictions
    assert len(preview.details) == 3
    assert log_rows(ws, "prediction_id") == [(f"p{i}",) for i in range(5)]
    assert P.read_labels(ws).select(pl.len()).collect().item() == 2

    done = P.cleanup(ws, reference=reference)
    assert (done.files_removed, done.files_written, done.rows, done.partitions, done.dry_run) == (4, 0, 4, 2, False)
    assert done.bytes_freed == preview.bytes_freed > 0
    assert log_rows(ws, "prediction_id", "actual") == [("p3", None), ("p4", 0)]
    assert sorted(d.name for d in (ws.predictions_dir / "model_name=m").iterdir()) == ["date=2026-01-30", "date=2026-02-25"]
    assert P.read_labels(ws).select("prediction_id").collect().rows() == [("p4",)]
    assert sorted(d.name for d in (ws.labels_dir / "model_name=m").iterdir()) == ["2026-02-25"]

    week = P.cleanup(ws, "7d", reference=reference)
    assert (week.files_removed, week.rows, week.partitions) == (1, 1, 1)
    assert log_rows(ws, "prediction_id") == [("p4",)]
    assert P.cleanup(ws, "7d", reference=reference).files_removed == 0


def test_cleanup_follows_the_retention_setting_and_removes_stale_temporary_files(ws, frozen):
    _retention_fixture(ws)
    ws.set_setting("retention_days", 60)
    assert P.cleanup(ws, dry_run=True, reference="2026-03-01T12:00:00Z").partitions == 0
    stale = ws.predictions_dir / "model_name=m/date=2026-02-25/.part-x.parquet.abcd1234.tmp"
    stale.write_bytes(b"half")
    old = ts("2026-02-28T00:00:00Z").timestamp()
    os.utime(stale, (old, old))
    fresh = stale.with_name(".part-y.parquet.abcd1234.tmp")
    fresh.write_bytes(b"half")
    summary = P.cleanup(ws, reference="2026-03-01T12:00:00Z")
    assert (summary.files_removed, summary.rows, summary.partitions, summary.bytes_freed) == (1, 0, 0, 4)
    assert not stale.exists() and fresh.exists()
    with pytest.raises(ValidationError) as err:
        P.cleanup(ws, "a while")
    assert str(err.value) == "older_than='a while': expected a number with a unit s, m, h, d or w (e.g. '24h', '30d')"


# ----------------------------------------------------------------------------- compact
def test_compact_merges_small_files_without_ever_changing_what_readers_see(ws):
    for i, n in enumerate((2, 3, 1)):
        P.log_predictions(ws, {"version": ["1.0.0"] * n, "prediction": [1] * n, "confidence": [0.5] * n,
                               "prediction_id": [f"b{i}-{j}" for j in range(n)],
                               "timestamp": [f"2026-01-01T{10 + i}:{j:02d}:00Z" for j in range(n)],
                               "feature": [float(i)] * n}, model="m")
    P.log_predictions(ws, {"version": ["1.0.0"], "prediction": [0], "prediction_id": ["single"],
                           "timestamp": ["2026-01-02T00:00:00Z"]}, model="m")
    P.log_labels(ws, "m", {"b0-0": 1})
    P.log_labels(ws, "m", pl.DataFrame({"prediction_id": ["b0-0"], "actual": [0], "labeled_at": [ts("2020-01-01T00:00:00Z")]}))
    columns = ("prediction_id", "timestamp", "prediction", "actual", "confidence", "feature", "batch_id")
    before = log_rows(ws, *columns)
    assert len(before) == 7 and before[0][3] == 1
    day = ws.predictions_dir / "model_name=m/date=2026-01-01"
    old_parts = sorted(f.name for f in day.glob("part-*.parquet"))
    assert len(old_parts) == 3

    preview = P.compact(ws, dry_run=True)
    assert (preview.partitions, preview.rows, preview.files_written, preview.files_removed) == (2, 8, 0, 0)
    assert preview.details == ("predictions/model_name=m/date=2026-01-01: 3 files -> 1 (6 rows)",
                               "labels/model_name=m/2026-01-01: 2 files -> 1 (2 rows)")
    assert sorted(f.name for f in day.iterdir()) == old_parts

    first = P.compact(ws)
    assert (first.partitions, first.rows, first.files_written, first.files_removed) == (2, 8, 2, 0)
    # the merged file and its manifest are in place; the old files stay for the grace period, unread
    names = sorted(f.name for f in day.iterdir())
    merged = [n for n in names if n.startswith("part-c")]
    manifests = [n for n in names if n.startswith("_compact-")]
    assert len(merged) == 1 and len(manifests) == 1 and set(old_parts) < set(names)
    assert json.loads((day / manifests[0]).read_text())["sources"] == old_parts
    assert [f.name for f in P.prediction_files(ws, "m", until="2026-01-01T23:00:00Z")] == merged
    assert log_rows(ws, *columns) == before
    assert ws.sql("SELECT count(*) FROM predictions").item() == 7
    assert ws.sql("SELECT actual FROM predictions WHERE prediction_id = 'b0-0'").item() == 1
    assert len(P.label_files(ws, "m")) == 1

    # within the grace period a second run changes nothing
    again = P.compact(ws)
    assert (again.files_written, again.files_removed, again.partitions) == (0, 0, 0)
    assert sorted(f.name for f in day.iterdir()) == names

    final = P.compact(ws, grace=0)
    assert (final.files_written, final.files_removed, final.partitions) == (0, 5, 0)  # 3 prediction files + 2 label files
    assert sorted(f.name for f in day.iterdir()) == merged
    assert log_rows(ws, *columns) == before
    assert len(list((ws.labels_dir / "model_name=m" / "2026-01-01").glob("*.parquet"))) == 1
    assert P.read_labels(ws).select("prediction_id", "actual").collect().rows() == [("b0-0", 1)]
    assert pl.read_parquet(day / merged[0]).get_column("prediction_id").to_list() == [
        "b0-0", "b0-1", "b1-0", "b1-1", "b1-2", "b2-0"]


def test_compact_with_no_grace_deletes_the_replaced_files_at_once(ws):
    for i in range(4):
        P.log_predictions(ws, {"version": ["1.0.0"], "prediction": [i % 2], "prediction_id": [f"p{i}"],
                               "timestamp": ["2026-01-01T10:00:00Z"]}, model="m")
    before = log_rows(ws, "prediction_id", "prediction")
    summary = P.compact(ws, "m", grace=0)
    assert (summary.partitions, summary.rows, summary.files_written, summary.files_removed) == (1, 4, 1, 4)
    (only,) = P.prediction_files(ws)
    assert all_files(ws.predictions_dir) == [f"model_name=m/date=2026-01-01/{only.name}"]
    assert log_rows(ws, "prediction_id", "prediction") == before
    assert P.compact(ws, "m", grace=0).files_written == 0


# ----------------------------------------------------------------------------- anonymize
def test_anonymized_features_are_stored_as_salted_16_hex_hashes(ws):
    rules = P.set_anonymize(ws, "m", ["user_id"])
    assert rules == {"m": ["user_id"]} == P.anonymize_rules(ws)
    assert P.anonymize_rules(ws, "m") == {"m": ["user_id"]}
    salt = ws.setting("anonymize_salt")
    assert len(salt) == 32
    data = {"version": ["1.0.0"] * 4, "prediction": [1, 0, 1, 0], "prediction_id": ["a", "b", "c", "d"],
            "user_id": ["alice", "bob", "alice", None], "amount": [10.0, 20.0, 30.0, 40.0]}
    P.log_predictions(ws, data, model="m")
    P.log_predictions(ws, {**data, "version": ["2.0.0"] * 4, "prediction_id": ["e", "f", "g", "h"]}, model="other")
    rows = log_rows(ws, "prediction_id", "user_id", "amount")
    digest = {v: hashlib.sha256((salt + "\x1f" + v).encode()).hexdigest()[:16] for v in ("alice", "bob")}
    assert rows[:4] == [("a", digest["alice"], 10.0), ("b", digest["bob"], 20.0), ("c", digest["alice"], 30.0),
                        ("d", None, 40.0)]
    assert all(len(h) == 16 and int(h, 16) >= 0 for h in digest.values())
    # other models keep raw values; a "*" rule applies to all models
    assert [r[1] for r in rows[4:]] == ["alice", "bob", "alice", None]
    P.set_anonymize(ws, "*", ["user_id"])
    assert ws.setting("anonymize_salt") == salt
    P.log_predictions(ws, {**data, "version": ["2.0.0"] * 4, "prediction_id": ["i", "j", "k", "l"]}, model="other")
    assert log_rows(ws, "prediction_id", "user_id")[-4:] == [
        ("i", digest["alice"]), ("j", digest["bob"]), ("k", digest["alice"]), ("l", None)]
    with pytest.raises(ValidationError) as err:
        P.set_anonymize(ws, "m", ["timestamp"])
    assert str(err.value).startswith("field='timestamp': expected a feature column name (not actual, batch_id")


def test_labels_are_stored_by_their_predictions_day_and_windows_read_only_those(ws, frozen):
    P.log_predictions(ws, {
        "version": ["1.0.0"] * 3, "prediction": [1, 0, 1], "prediction_id": ["d1", "d2", "dup"],
        "timestamp": ["2026-01-05T10:00:00Z", "2026-01-06T10:00:00Z", "2026-01-05T11:00:00Z"]}, model="m")
    P.log_predictions(ws, {"version": ["1.0.0"], "prediction": [0], "prediction_id": ["dup"],
                           "timestamp": ["2026-01-07T09:00:00Z"]}, model="m",
                      on_duplicate="allow")  # the same id on another day
    summary = P.log_labels(ws, "m", {"d1": 1, "d2": 1, "dup": 1, "early": 0})
    assert (summary.accepted, summary.unknown_ids) == (4, 1)
    root = ws.labels_dir / "model_name=m"
    assert sorted(p.name for p in root.iterdir()) == ["2026-01-05", "2026-01-06", "2026-01-07", "undated"]
    day = [f.name for f in P.label_files(ws, "m", since="2026-01-06T00:00:00Z", until="2026-01-06T23:00:00Z")]
    assert [f.parent.name for f in P.label_files(ws, "m", since="2026-01-06T00:00:00Z", until="2026-01-06T23:00:00Z")] == [
        "2026-01-06", "undated"] and len(day) == 2
    window = ws.predictions("m", since="2026-01-06T00:00:00Z", until="2026-01-08T00:00:00Z")
    assert window.select("prediction_id", "actual").sort("prediction_id").collect().rows() == [("d2", 1), ("dup", 1)]
    # a label that came before its prediction is joined once the prediction arrives
    P.log_predictions(ws, {"version": ["1.0.0"], "prediction": [1], "prediction_id": ["early"],
                           "timestamp": ["2026-01-06T12:00:00Z"]}, model="m")
    assert ws.predictions("m", since="2026-01-06T00:00:00Z", until="2026-01-06T23:00:00Z").filter(
        pl.col("prediction_id") == "early").select("actual").collect().item() == 0
    # files of the older layout (directly in the model's directory) are still read
    pl.DataFrame({"prediction_id": ["d1"], "actual": [0], "labeled_at": [NOW + dt.timedelta(hours=1)],
                  "batch_id": ["old"]}).write_parquet(root / "part-old.parquet")
    assert ws.predictions("m", since="2026-01-05T00:00:00Z", until="2026-01-05T23:00:00Z").filter(
        pl.col("prediction_id") == "d1").select("actual").collect().item() == 0


def test_a_label_batch_rewritten_in_place_is_never_read_stale(ws):
    P.log_predictions(ws, {"version": ["1.0.0"] * 2, "prediction": [1, 1], "prediction_id": ["a", "b"],
                           "timestamp": ["2026-01-05T10:00:00Z"] * 2}, model="m")
    for value in (0, 1, 0, 1):  # the same batch id: the file is replaced, often at the same size
        P.log_labels(ws, "m", {"a": value, "b": value}, batch_id="daily")
        got = dict(ws.predictions("m").select("prediction_id", "actual").collect().rows())
        assert got == {"a": value, "b": value}


def test_labels_with_the_same_time_are_decided_by_arrival_everywhere(ws):
    P.log_predictions(ws, {"version": ["1.0.0"], "prediction": [1], "prediction_id": ["a"],
                           "timestamp": ["2026-01-05T10:00:00Z"]}, model="m")
    stamp = "2026-01-06T00:00:00Z"
    for value in (1, 0, 1, 0):  # a daily feed and its corrections, all stamped the same day
        P.log_labels(ws, "m", pl.DataFrame({"prediction_id": ["a"], "actual": [value], "labeled_at": [stamp]}))
    assert ws.predictions("m").select("actual").collect().item() == 0
    assert P.read_labels(ws, "m").select("actual").collect().item() == 0
    assert ws.sql("SELECT actual FROM predictions").item() == 0
    # a label that arrived before its prediction loses to a later correction with the same time
    P.log_labels(ws, "m", pl.DataFrame({"prediction_id": ["z"], "actual": [1], "labeled_at": [stamp]}))
    P.log_predictions(ws, {"version": ["1.0.0"], "prediction": [1], "prediction_id": ["z"],
                           "timestamp": ["2026-01-05T11:00:00Z"]}, model="m")
    P.log_labels(ws, "m", pl.DataFrame({"prediction_id": ["z"], "actual": [0], "labeled_at": [stamp]}))
    assert ws.predictions("m").filter(pl.col("prediction_id") == "z").select("actual").collect().item() == 0


def test_cleanup_keeps_the_labels_of_predictions_it_keeps(ws):
    P.log_predictions(ws, {"version": ["1.0.0"] * 2, "prediction": [1, 1], "prediction_id": ["old", "kept"],
                           "timestamp": ["2026-01-01T01:00:00Z", "2026-02-20T01:00:00Z"]}, model="m")
    # labelled long ago (the label time is old) but its prediction is inside the retention
    P.log_labels(ws, "m", pl.DataFrame({"prediction_id": ["old", "kept"], "actual": [0, 0],
                                        "labeled_at": ["2026-01-01T02:00:00Z", "2026-01-01T02:00:00Z"]}))
    done = P.cleanup(ws, reference="2026-03-01T12:00:00Z")
    assert done.details == ("predictions/model_name=m/date=2026-01-01", "labels/model_name=m/2026-01-01")
    assert ws.predictions("m").select("prediction_id", "actual").collect().rows() == [("kept", 0)]
