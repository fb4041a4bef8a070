"""Feature drift on the workspace: stored references, checks of a window, their history.

The rest of :mod:`mlmm.drift` is the pure computation; this service feeds it from the prediction
log and keeps state in the registry (append-only tables ``drift_references`` and ``drift_results``):

- :func:`set_reference` takes a window of the log (or a frame / file) as the reference of a
  model (and optionally a version). It stores a :class:`~mlmm.drift.ReferenceSketch` in the
  registry and a seeded random sample of at most ``sample_rows`` rows under
  ``references/model_name=<m>/<reference_id>.parquet``: checks use the sample (exact tests),
  or the sketch alone when the sample is gone.
- :func:`check` compares a current window with a reference (the latest stored one, a window
  of the log, or the window of the same length just before) and appends every column's
  result to ``drift_results``, so drift can be charted over time (:func:`history`).
- :func:`over_time` cuts a period into chunks (``every="1d"``) and tests each against the
  reference, for the "drift score over time" chart (drawn by :mod:`mlmm.drift.charts`).

Feature columns are the log's columns other than the prediction's own (id, version, time,
prediction, actual, confidence, label time, batch, partition keys); ``columns=`` picks some,
and may add ``confidence`` or ``prediction`` to watch the model's output distribution.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from .._util import current_actor, naive_utc, now, to_utc
from ..errors import NotFoundError, ValidationError
from ..predictions import read_predictions
from ..version import Version
from ..window import parse_window
from .chunks import chunked
from .comparison import compare
from .report import DriftReport
from .sketch import ReferenceSketch

if TYPE_CHECKING:
    from ..workspace import Workspace

__all__ = [
    "DEFAULT_SAMPLE_ROWS",
    "DriftCheck",
    "StoredReference",
    "check",
    "check_data",
    "columns_to_test",
    "feature_columns",
    "get_reference",
    "history",
    "list_references",
    "over_time",
    "parse_window",
    "read_window",
    "set_reference",
]

_NOT_FEATURES = {"model_name", "version", "prediction_id", "timestamp", "prediction", "actual", "confidence",
                 "labeled_at", "batch_id", "date"}
DEFAULT_SAMPLE_ROWS = 200_000


@dataclasses.dataclass(frozen=True)
class StoredReference:
    """A stored reference: where it came from, its sketch, and its sample file (if kept)."""

    reference_id: str
    model: str
    version: str | None
    source: str
    rows: int
    columns: tuple[str, ...]
    created_at: _dt.datetime
    actor: str
    sketch: ReferenceSketch
    sample_path: Path | None

    def data(self) -> pl.DataFrame | ReferenceSketch:
        """The sample when its file exists (exact tests), else the sketch."""
        if self.sample_path is not None and self.sample_path.exists():
            return pl.read_parquet(self.sample_path)
        return self.sketch

    def to_dict(self) -> dict[str, Any]:
        return {"reference_id": self.reference_id, "model": self.model, "version": self.version, "source": self.source,
                "rows": self.rows, "columns": list(self.columns), "created_at": self.created_at.isoformat(),
                "actor": self.actor, "sample": str(self.sample_path) if self.sample_path else None}

    def __repr__(self) -> str:
        return f"<StoredReference {self.reference_id} of {self.model}: {self.source}, {self.rows:,} rows, {len(self.columns)} columns>"


@dataclasses.dataclass(frozen=True)
class DriftCheck:
    """One check: the report of :func:`mlmm.drift.compare` and what was compared."""

    check_id: str
    model: str
    version: str | None
    reference: str
    current: str
    since: _dt.datetime | None
    until: _dt.datetime | None
    report: DriftReport
    recorded: bool

    @property
    def dataset_drift(self) -> bool:
        return bool(self.report.dataset_drift)

    @property
    def drifted_columns(self) -> list[str]:
        return self.report.drifted_columns

    def to_frame(self) -> pl.DataFrame:
        return self.report.to_frame()

    def to_dict(self) -> dict[str, Any]:
        return {"check_id": self.check_id, "model": self.model, "version": self.version, "reference": self.reference,
                "current": self.current, "since": self.since.isoformat() if self.since else None,
                "until": self.until.isoformat() if self.until else None, "recorded": self.recorded,
                "dataset_drift": self.dataset_drift, "drifted_columns": self.drifted_columns,
                "report": self.report.to_dict()}

    def __repr__(self) -> str:
        return (f"<DriftCheck {self.model} {self.current} vs {self.reference}: "
                f"{len(self.drifted_columns)} of {len(self.report.columns)} columns drifted"
                f"{' (dataset drift)' if self.dataset_drift else ''}>")


# ----------------------------------------------------------------------------- windows
def feature_columns(ws: Workspace, model: str) -> list[str]:
    """The model's feature columns in the log."""
    names = read_predictions(ws, model, with_labels=False).collect_schema().names()
    return [c for c in names if c not in _NOT_FEATURES]


def read_window(ws: Workspace, model: str, version: str | None, since: Any, until: Any,
                  columns: Sequence[str]) -> pl.DataFrame:
    """``timestamp`` and ``columns`` of ``model``'s log between ``since`` and ``until`` (empty with
    the log's types when the window has no rows).

    Raises
    ------
    ValidationError
        A column the log of ``model`` does not have.
    """
    lf = read_predictions(ws, model, version, since, until, with_labels=False)
    have = set(lf.collect_schema().names())
    missing = [c for c in columns if c not in have]
    if missing:
        known = read_predictions(ws, model, with_labels=False).collect_schema()
        if any(c not in known for c in missing):
            raise ValidationError(f"columns={[c for c in missing if c not in known]!r}: not in the log of {model}"
                                  f" (features: {feature_columns(ws, model)})")
        # an empty window: the columns exist elsewhere in the log
        return pl.DataFrame(schema={"timestamp": pl.Datetime("us", "UTC"), **{c: known[c] for c in columns}})
    return lf.select("timestamp", *columns).collect()


def columns_to_test(ws: Workspace, model: str, columns: Sequence[str] | str | None) -> list[str]:
    """``columns`` as a list, or every feature column of ``model``'s log when None.

    Raises
    ------
    ValidationError
        When None and the log has no feature columns.
    """
    if columns is None:
        cols = feature_columns(ws, model)
        if not cols:
            raise ValidationError(f"{model} has no feature columns in its log; pass columns= (e.g. ['confidence'])")
        return cols
    return [columns] if isinstance(columns, str) else list(columns)


# ----------------------------------------------------------------------------- references
def set_reference(
    ws: Workspace,
    model: str,
    version: str | None = None,
    *,
    window: str | None = None,
    data: Any = None,
    columns: Sequence[str] | str | None = None,
    sample_rows: int = DEFAULT_SAMPLE_ROWS,
    categorical: Sequence[str] | None = None,
    actor: str | None = None,
    reason: str | None = None,
) -> StoredReference:
    """Store the reference of ``model`` (and ``version``): a window of its log
    (``window="2026-10-01..2026-10-08"`` or ``"last=7d"``) or given ``data`` (a frame or a
    CSV/Parquet path). Returns the stored :class:`StoredReference`; the newest one is used by
    :func:`check` by default."""
    ws.registry.get_all(model)  # NotFoundError for an unknown model
    if version is not None:
        version = str(ws.registry.get(model, version).version)
    if sample_rows < 1:
        raise ValidationError(f"sample_rows={sample_rows!r}: expected a positive integer")
    if (window is None) == (data is None):
        raise ValidationError("expected exactly one of window=... (a window of the log) or data=... (a frame or file)")
    if data is not None:
        frame, source = _load(data)
        cols = list(frame.columns) if columns is None else columns_to_test(ws, model, columns)
        frame = frame.select(cols)
    else:
        s, u, label = parse_window(window)
        cols = columns_to_test(ws, model, columns)
        frame = read_window(ws, model, version, s, u, cols).drop("timestamp")
        source = f"log {label}" + (f", version {version}" if version else "")
    if frame.is_empty():
        raise ValidationError(f"reference {source}: no rows; expected a window or data with predictions of {model}")
    reference_id = f"ref-{uuid.uuid4().hex[:10]}"
    sketch = ReferenceSketch.from_frame(frame, categorical=categorical)
    sample = frame if frame.height <= sample_rows else frame.sample(sample_rows, seed=int(reference_id[4:12], 16))
    path = ws.path / "references" / f"model_name={model}" / f"{reference_id}.parquet"
    from ..predictions.layout import write_parquet_atomic

    write_parquet_atomic(sample, path)
    who = current_actor(actor)
    when = now()
    with ws.connect() as con:
        con.execute(
            "INSERT INTO drift_references (ts, reference_id, model_name, version, source, n_rows, columns, sketch,"
            " sample_path, actor, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [naive_utc(when), reference_id, model, version, source, frame.height, json.dumps(cols),
             json.dumps(sketch.to_dict()), str(path.relative_to(ws.path)), who, reason],
        )
    return StoredReference(reference_id, model, version, source, frame.height, tuple(cols), when, who, sketch, path)


def _load(data: Any) -> tuple[pl.DataFrame, str]:
    if isinstance(data, (str, Path)):
        path = Path(data)
        if not path.exists():
            raise ValidationError(f"data={str(data)!r}: no such file; expected a CSV or Parquet file")
        if path.suffix.lower() in (".parquet", ".pq"):
            return pl.read_parquet(path), f"file {path.name}"
        if path.suffix.lower() in (".csv", ".tsv"):
            return pl.read_csv(path, separator="\t" if path.suffix.lower() == ".tsv" else ","), f"file {path.name}"
        raise ValidationError(f"data={str(data)!r}: expected a .csv, .tsv or .parquet file")
    if isinstance(data, pl.DataFrame):
        return data, "a frame"
    try:
        return pl.DataFrame(pl.from_pandas(data) if hasattr(data, "to_numpy") and hasattr(data, "iloc") else data), "a frame"
    except Exception as exc:
        raise ValidationError(f"data: {type(data).__name__}: expected a polars/pandas frame or a file path ({exc})") from None


def _row_to_reference(ws: Workspace, row: tuple[Any, ...]) -> StoredReference:
    ts, reference_id, model, version, source, n_rows, cols, sketch, sample, actor = row
    return StoredReference(reference_id, model, version, source, int(n_rows), tuple(json.loads(cols)),
                     ts.replace(tzinfo=_dt.UTC), actor, ReferenceSketch.from_dict(json.loads(sketch)),
                     ws.path / sample if sample else None)


_REF_COLS = "ts, reference_id, model_name, version, source, n_rows, columns, sketch, sample_path, actor"


def get_reference(ws: Workspace, model: str, version: str | None = None, *, reference_id: str | None = None) -> StoredReference:
    """A stored reference by id, or the newest for ``model`` (preferring one of ``version``)."""
    with ws.connect() as con:
        if reference_id is not None:
            row = con.execute(f"SELECT {_REF_COLS} FROM drift_references WHERE reference_id = ?", [reference_id]).fetchone()
            if row is None:
                raise NotFoundError(f"reference_id={reference_id!r}: no such reference")
            return _row_to_reference(ws, row)
        rows = con.execute(f"SELECT {_REF_COLS} FROM drift_references WHERE model_name = ? ORDER BY seq DESC",
                           [model]).fetchall()
    if not rows:
        raise NotFoundError(f"{model} has no stored drift reference; expected `mlmm drift reference set {model} --window ...`"
                            " or set_reference(...) first, or a reference window")
    if version is not None:
        for row in rows:
            if row[3] == version:
                return _row_to_reference(ws, row)
    unversioned = [r for r in rows if r[3] is None]
    return _row_to_reference(ws, (unversioned or rows)[0])


def list_references(ws: Workspace, model: str | None = None) -> pl.DataFrame:
    """Stored references, newest first."""
    sql = "SELECT reference_id, model_name, version, source, n_rows, columns, ts, actor, reason FROM drift_references"
    params: list[Any] = []
    if model is not None:
        sql += " WHERE model_name = ?"
        params.append(model)
    with ws.connect() as con:
        rows = con.execute(sql + " ORDER BY seq DESC", params).fetchall()
    return pl.DataFrame(
        [(r[0], r[1], r[2], r[3], r[4], len(json.loads(r[5])), r[6].replace(tzinfo=_dt.UTC), r[7], r[8]) for r in rows],
        schema={"reference_id": pl.String, "model": pl.String, "version": pl.String, "source": pl.String,
                "rows": pl.Int64, "columns": pl.Int64, "created_at": pl.Datetime("us", "UTC"), "actor": pl.String,
                "reason": pl.String}, orient="row")


# ----------------------------------------------------------------------------- checks
def check(
    ws: Workspace,
    model: str,
    version: str | None = None,
    *,
    current: str | None = "last=24h",
    reference: str | None = None,
    until: Any = None,
    columns: Sequence[str] | str | None = None,
    tests: Mapping[str, str] | str | None = None,
    thresholds: Mapping[str, float] | None = None,
    correction: str | None = None,
    drift_share: float | None = None,
    record: bool = True,
    actor: str | None = None,
) -> DriftCheck:
    """Compare the ``current`` window of ``model`` with a ``reference``.

    ``reference``: None (the newest stored reference), a stored ``ref-...`` id, a window of
    the log (``A..B``, ``last=7d``), or ``previous`` (the window of the same length just
    before ``current``). ``current``: ``last=24h`` (default, ending at ``until`` or now) or
    ``A..B``. ``drift_share`` defaults to the model's ``drift_share`` config, else 0.5. The
    result of every column is appended to the registry unless ``record=False``.

    Raises
    ------
    ValidationError
        "insufficient data: ..." when the current window or the reference has no rows, or no
        column could be tested (every value missing, columns gone): that is no verdict, so
        nothing is recorded and no "no drift" result is returned.
    """
    meta = ws.registry.get(model, version) if version else ws.registry.get_latest(model)
    version = str(Version.parse(version)) if version else None
    end = to_utc(until, "until") if until is not None else None
    s, u, cur_label = parse_window(current, end=end)
    ref_label = ""
    ref_data: Any
    if reference is None or reference.startswith("ref-"):
        stored = get_reference(ws, model, version, reference_id=reference)
        ref_data, ref_label = stored.data(), stored.reference_id
        cols = list(stored.columns) if columns is None else columns_to_test(ws, model, columns)
    else:
        rs, ru, ref_label = parse_window(reference, before=(s, u), end=end)
        cols = columns_to_test(ws, model, columns)
        ref_data = read_window(ws, model, version, rs, ru, cols).drop("timestamp")
        ref_label = f"log {ref_label}"
        if ref_data.is_empty():
            raise ValidationError(f"insufficient data: the reference {_span(ref_label, rs, ru)} has no predictions"
                                  f" of {_who(model, version)}; expected a reference window with data")
    if (ref_data.n_rows if isinstance(ref_data, ReferenceSketch) else ref_data.height) == 0:
        raise ValidationError(f"insufficient data: the reference {ref_label} has no rows; expected a reference with data")
    cur = read_window(ws, model, version, s, u, cols).drop("timestamp")
    if cur.is_empty():
        raise ValidationError(f"insufficient data: the current window {_span(cur_label, s, u)} has no predictions"
                              f" of {_who(model, version)}; expected at least one to compare with {ref_label}")
    share = drift_share if drift_share is not None else float(dict(meta.configuration).get("drift_share", 0.5))
    report = compare(ref_data, cur, columns=cols, tests=tests, thresholds=thresholds, correction=correction,
                       drift_share=share)
    if report.n_tested == 0:
        why = "; ".join(f"{c.column}: {c.details.get('reason', 'not tested')}" for c in report.columns)
        raise ValidationError(f"insufficient data: none of the {len(report.columns)} column(s) could be tested in the"
                              f" current window {_span(cur_label, s, u)} against {ref_label} ({why or 'no columns'});"
                              " expected at least one column with values on both sides")
    check_id = f"drift-{uuid.uuid4().hex[:10]}"
    result = DriftCheck(check_id, model, version, ref_label, cur_label, s, u, report, record)
    if record:
        _record(ws, result, current_actor(actor))
    return result


def _span(label: str, since: _dt.datetime, until: _dt.datetime) -> str:
    """A window's label with its times, once: "last 24h (2026-01-01 00:00 to 2026-01-02 00:00 UTC)"."""
    span = f"{since:%Y-%m-%d %H:%M} to {until:%Y-%m-%d %H:%M} UTC"
    return label if span in label else f"{label} ({span})"


def _who(model: str, version: str | None) -> str:
    return f"{model} {version}" if version else model


def _record(ws: Workspace, result: DriftCheck, actor: str) -> None:
    when = naive_utc(now())
    rows = []
    for c in result.report.columns:
        rows.append([when, result.check_id, result.model, result.version, result.reference, result.current,
                     naive_utc(result.since) if result.since else None, naive_utc(result.until) if result.until else None,
                     c.column, c.test, _num(c.statistic), _num(c.p_value), _num(c.threshold),
                     None if c.drifted is None else bool(c.drifted), bool(result.dataset_drift),
                     float(result.report.drifted_share), actor])
    with ws.connect() as con:
        con.executemany(
            "INSERT INTO drift_results (ts, check_id, model_name, version, reference, window_label, window_since,"
            " window_until, column_name, test, statistic, p_value, threshold, drifted, dataset_drift, drifted_share, actor)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)


def _num(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return None if value != value else value


def history(ws: Workspace, model: str, *, column: str | None = None) -> pl.DataFrame:
    """Recorded checks of ``model``, one row per check and column, oldest first."""
    sql = ("SELECT ts, check_id, version, reference, window_label, window_since, window_until, column_name, test,"
           " statistic, p_value, threshold, drifted, dataset_drift, drifted_share, actor FROM drift_results"
           " WHERE model_name = ?")
    params: list[Any] = [model]
    if column is not None:
        sql += " AND column_name = ?"
        params.append(column)
    with ws.connect() as con:
        rows = con.execute(sql + " ORDER BY seq", params).fetchall()
    schema = {"ts": pl.Datetime("us"), "check_id": pl.String, "version": pl.String, "reference": pl.String,
              "window": pl.String, "since": pl.Datetime("us"), "until": pl.Datetime("us"), "column": pl.String,
              "test": pl.String, "statistic": pl.Float64, "p_value": pl.Float64, "threshold": pl.Float64,
              "drifted": pl.Boolean, "dataset_drift": pl.Boolean, "drifted_share": pl.Float64, "actor": pl.String}
    return pl.DataFrame(rows, schema=schema, orient="row").with_columns(
        pl.col("ts", "since", "until").dt.replace_time_zone("UTC"))


def over_time(ws: Workspace, model: str, version: str | None = None, *, reference: str | None = None,
              window: str = "last=14d", every: str = "1d", until: Any = None,
              columns: Sequence[str] | str | None = None) -> pl.DataFrame:
    """Drift of each ``every`` chunk of ``window`` against the reference (as :func:`check`
    chooses it), one row per chunk and column: the data of a drift-over-time chart."""
    end = to_utc(until, "until") if until is not None else None
    s, u, _ = parse_window(window, end=end)
    if reference is None or reference.startswith("ref-"):
        stored = get_reference(ws, model, version, reference_id=reference)
        ref_data = stored.data()
        cols = list(stored.columns) if columns is None else columns_to_test(ws, model, columns)
    else:
        rs, ru, _ = parse_window(reference, before=(s, u), end=end)
        cols = columns_to_test(ws, model, columns)
        ref_data = read_window(ws, model, version, rs, ru, cols).drop("timestamp")
    data = read_window(ws, model, version, s, u, cols)
    return chunked(ref_data, data, time_col="timestamp", every=every, columns=cols)




def check_data(ws: Workspace, result: DriftCheck) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The reference and current rows a check compared (its columns only): the stored
    reference's sample, or the reference window read again; the current window."""
    cols = [c.column for c in result.report.columns]
    ref: Any = None
    if result.reference.startswith("ref-"):
        ref = get_reference(ws, result.model, reference_id=result.reference).data()
        if not isinstance(ref, pl.DataFrame):
            raise ValidationError(f"reference={result.reference!r}: only its sketch is kept (no sample file);"
                                  " expected a reference with its sample to chart raw distributions")
    else:
        s, u, _ = parse_window(result.reference, before=(result.since, result.until), end=result.until)
        ref = read_predictions(ws, result.model, since=s, until=u, with_labels=False).select(cols).collect()
    cur = read_predictions(ws, result.model, since=result.since, until=result.until, with_labels=False).select(cols).collect()
    return ref.select([c for c in cols if c in ref.columns]), cur
