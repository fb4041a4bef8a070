"""The prediction log: one prediction at a time from serving code, bulk imports, late labels.

Layout (hive-partitioned Parquet, every file immutable)::

    predictions/model_name=<m>/date=<YYYY-MM-DD>/part-<batch>.parquet
    labels/model_name=<m>/part-<batch>.parquet
    quarantine/date=<YYYY-MM-DD>/part-<batch>.parquet
    imports/<batch>.json

Files are written under a hidden temporary name and renamed into place, so a reader never
sees half a file and any number of processes may append at once. On object storage
(``s3://``, see :mod:`mlmm._storage`) each file is one upload under a name nobody else
writes: an object appears whole or not at all, with no rename. A bulk import commits by
writing ``imports/<batch>.json`` last; its part files have deterministic names, so a re-run
after a crash (even ``kill -9``) replaces what the first run left and imports exactly once.

Columns of the log: ``prediction_id`` (String), ``version`` (String), ``timestamp``
(Datetime UTC), ``prediction`` (Int64 class: 0/1 for binary classifiers), ``actual``
(Int64 or null), ``confidence`` (Float64 in [0, 1]: the model's probability for the positive
class), ``batch_id`` and any feature columns (numbers as Float64, text as String, flags as
Boolean). ``model_name`` and ``date`` come from the directory names.

Rows that fail validation are never dropped: they go to ``quarantine/`` with the reason,
and every call returns a summary of what was accepted and what was not.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import dataclasses
import datetime as _dt
import hashlib
import io
import itertools
import json
import logging
import numbers
import os
import re
import shutil
import threading
import time
import uuid
import weakref
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from . import _batch, _index
from ._storage import ObjectPath, StoragePath, prefetch, storage_options
from ._util import (
    UTC,
    atomic_write_json,
    format_duration,
    fsync_dir,
    is_valid_name,
    now,
    parse_duration,
    to_utc,
)
from .errors import MlmmError, NotFoundError, ValidationError
from .version import Version
from .workspace import memory_cursor

if TYPE_CHECKING:
    from .workspace import Workspace

__all__ = [
    "ImportSummary",
    "LabelSummary",
    "PredictionTracker",
    "log_predictions",
    "log_labels",
    "read_predictions",
    "read_labels",
    "read_quarantine",
    "sql",
    "stats",
    "cleanup",
    "compact",
    "anonymize_rules",
    "set_anonymize",
    "BASE_SCHEMA",
]

log = logging.getLogger("mlmm")

BASE_SCHEMA: dict[str, pl.DataType] = {
    "prediction_id": pl.String(),
    "version": pl.String(),
    "timestamp": pl.Datetime("us", "UTC"),
    "prediction": pl.Int64(),
    "actual": pl.Int64(),
    "confidence": pl.Float64(),
    "batch_id": pl.String(),
}
HIVE_SCHEMA: dict[str, pl.DataType] = {"model_name": pl.String(), "date": pl.Date()}
RESERVED = set(BASE_SCHEMA) | set(HIVE_SCHEMA) | {"labeled_at", "ingested_at", "reason", "rule"}
LABEL_SCHEMA: dict[str, pl.DataType] = {
    "prediction_id": pl.String(),
    "actual": pl.Int64(),
    "labeled_at": pl.Datetime("us", "UTC"),
    "batch_id": pl.String(),
    # when the label reached the log: breaks ties of labeled_at (the later arrival wins);
    # null in files written before it existed, which sort first
    "ingested_at": pl.Datetime("us", "UTC"),
}
_LABEL_ORDER = ["labeled_at", "ingested_at"]

_FEATURE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_TS_FORMATS = (
    "%Y-%m-%dT%H:%M:%S%.f%#z",
    "%Y-%m-%d %H:%M:%S%.f%#z",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%d",
)
_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}
_PARQUET_OPTS: dict[str, Any] = {"compression": "zstd", "compression_level": 1, "statistics": True}
_MANIFEST_PREFIX = "_compact-"


# ----------------------------------------------------------------------------- results
@dataclasses.dataclass(frozen=True)
class ImportSummary:
    """What an import (or a tracker flush) did.

    ``reasons`` counts quarantined rows per rule; ``examples`` has the first full reason per
    rule (with the row number and the bad value).
    """

    batch_id: str
    source: str
    accepted: int
    quarantined: int
    reasons: dict[str, int]
    examples: dict[str, str]
    files: int
    seconds: float
    already_imported: bool = False
    models: dict[str, int] = dataclasses.field(default_factory=dict)

    @property
    def rows(self) -> int:
        return self.accepted + self.quarantined

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else float("inf")

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["rows"] = self.rows
        return out

    def __repr__(self) -> str:
        head = "already imported: " if self.already_imported else ""
        text = f"<ImportSummary {head}{self.accepted} accepted, {self.quarantined} quarantined from {self.source}"
        if self.reasons:
            text += " (" + ", ".join(f"{k}: {v}" for k, v in self.reasons.items()) + ")"
        return text + ">"


@dataclasses.dataclass(frozen=True)
class LabelSummary:
    """What :func:`log_labels` did: labels stored, labels for unknown predictions, rejects."""

    batch_id: str
    model: str
    accepted: int
    unknown_ids: int
    quarantined: int
    reasons: dict[str, int]
    examples: dict[str, str]
    unknown_examples: tuple[str, ...] = ()
    conflicts: int = 0  # ids given different labels within this batch
    conflict_examples: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def __repr__(self) -> str:
        clash = f", {self.conflicts} ids with conflicting labels" if self.conflicts else ""
        return (
            f"<LabelSummary {self.model}: {self.accepted} accepted, {self.unknown_ids} for unknown predictions,"
            f" {self.quarantined} quarantined{clash}>"
        )


# ----------------------------------------------------------------------------- input
def _to_frame(data: Any) -> tuple[pl.DataFrame, str, pl.DataFrame | None]:
    """polars / pandas / pyarrow / dict-of-lists / path (CSV, Parquet, JSON lines) -> DataFrame,
    its source, and the lines of a file that cannot be rows (quarantined: ``line``, ``raw``,
    ``rule``, ``reason``) or None."""
    if isinstance(data, pl.LazyFrame):
        return data.collect(), "lazyframe", None
    if isinstance(data, pl.DataFrame):
        return data, "dataframe", None
    if isinstance(data, (pa.Table, pa.RecordBatch)):
        return pl.from_arrow(data), "arrow", None  # type: ignore[return-value]
    if isinstance(data, (str, os.PathLike)):
        path = Path(data)
        if not path.exists():
            raise NotFoundError(f"file={str(path)!r}: does not exist")
        suffix = "".join(path.suffixes[-2:]).lower() if path.suffix == ".gz" else path.suffix.lower()
        try:
            if suffix in (".parquet", ".pq"):
                return pl.read_parquet(path), str(path), None
            if suffix in (".csv", ".csv.gz", ".tsv", ".tsv.gz"):
                # read as text so a bad value is judged per row, then give features their types back
                text, rejects = _read_csv(path, "\t" if suffix.startswith(".tsv") else ",")
                return _typed_text_features(text), str(path), rejects
            if suffix in (".jsonl", ".ndjson", ".json"):
                frame, rejects = _read_jsonl(path)
                return frame, str(path), rejects
        except (pl.exceptions.PolarsError, pa.ArrowInvalid, UnicodeDecodeError) as exc:
            raise ValidationError(f"file={str(path)!r}: cannot be read as {suffix[1:]}: {exc}") from None
        raise ValidationError(f"file={str(path)!r}: expected .parquet, .csv, .tsv or .jsonl")
    if type(data).__module__.startswith("pandas"):
        return _from_pandas(data), "pandas", None
    if isinstance(data, Mapping):
        return _python_columns(dict(data)), "dict", None
    if isinstance(data, list):
        return _records(data), "records", None
    raise ValidationError(
        f"data={type(data).__name__}: expected a polars/pandas/pyarrow frame, a dict of columns, a list of rows "
        "or a path to a CSV, Parquet or JSON-lines file"
    )


def _records(data: list[Any]) -> pl.DataFrame:
    try:
        # every row decides the schema: a key or a type first seen after row 100 is not lost
        return pl.DataFrame(data, infer_schema_length=None)
    except (TypeError, ValueError, pl.exceptions.PolarsError):
        names = list(dict.fromkeys(k for row in data if isinstance(row, Mapping) for k in row))
        return _python_columns({k: [row.get(k) if isinstance(row, Mapping) else None for row in data] for k in names})


_REJECT_SCHEMA = {"row": pl.Int64, "line": pl.Int64, "raw": pl.String, "rule": pl.String, "reason": pl.String}


def _read_csv(path: Path, separator: str) -> tuple[pl.DataFrame, pl.DataFrame | None]:
    """A CSV file as text columns; a line with too few or too many fields (a row cut short, a
    stray separator) is returned apart with its line number instead of being padded with nulls."""
    import csv
    import gzip

    import pyarrow.csv as pacsv

    opener: Any = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", newline="") as fh:
        header = next(csv.reader(fh, delimiter=separator), None)
    if not header:
        return pl.DataFrame(), None
    bad: list[tuple[int | None, str, int, int]] = []

    def _handler(row: Any) -> str:
        bad.append((row.number, row.text, row.expected_columns, row.actual_columns))
        return "skip"

    def _read(threads: bool) -> pa.Table:
        return pacsv.read_csv(
            path, read_options=pacsv.ReadOptions(use_threads=threads),
            parse_options=pacsv.ParseOptions(delimiter=separator, invalid_row_handler=_handler),
            convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(header, pa.string()),
                                                 null_values=[""], strings_can_be_null=True,
                                                 quoted_strings_can_be_null=False),
        )

    table = _read(True)
    if bad and any(number is None for number, *_ in bad):
        bad.clear()
        table = _read(False)  # only the single-threaded reader knows the line numbers
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    if not bad:
        return frame, None
    rejects = pl.DataFrame(
        {"row": [None] * len(bad), "line": [n for n, *_ in bad], "raw": [t for _, t, _, _ in bad],
         "rule": ["malformed row"] * len(bad),
         "reason": [f"line {n}: {got} fields, expected {want} as in the header"
                    + (" (a row cut short)" if got < want else "") for n, _, want, got in bad]},
        schema=_REJECT_SCHEMA,
    )
    return frame, rejects


def _read_jsonl(path: Path) -> tuple[pl.DataFrame, pl.DataFrame | None]:
    """JSON lines: the fast reader first; when a line is not a JSON object it is returned apart
    with its number, and lines whose nested values differ in shape keep them as JSON text."""
    try:
        return pl.read_ndjson(path, infer_schema_length=None), None
    except (pl.exceptions.PolarsError, pa.ArrowInvalid, ValueError):
        pass
    import gzip

    opener: Any = gzip.open if path.suffix == ".gz" else open
    rows: list[dict[str, Any]] = []
    bad: list[tuple[int, str, str]] = []
    with opener(path, "rt", encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except ValueError as exc:
                bad.append((number, line.rstrip("\n")[:500], f"line {number}: not valid JSON ({exc})"))
                continue
            if not isinstance(value, dict):
                bad.append((number, line.rstrip("\n")[:500],
                            f"line {number}: expected a JSON object, got {type(value).__name__}"))
                continue
            rows.append(value)
    frame = _records(rows) if rows else pl.DataFrame()
    rejects = pl.DataFrame({"row": [None] * len(bad), "line": [n for n, _, _ in bad], "raw": [t for _, t, _ in bad],
                            "rule": ["malformed row"] * len(bad), "reason": [r for _, _, r in bad]},
                           schema=_REJECT_SCHEMA) if bad else None
    return frame, rejects


def _from_pandas(data: Any) -> pl.DataFrame:
    """A pandas frame as polars. Time-zone aware columns go over as UTC: pandas 3.1 deprecates the
    ``Series.values`` call that polars and pyarrow make on them (a warning on every import)."""
    import pandas as pd

    aware = [c for c, t in data.dtypes.items() if isinstance(t, pd.DatetimeTZDtype)]
    if aware:
        data = data.assign(**{c: data[c].dt.tz_convert("UTC").dt.tz_localize(None) for c in aware})
    frame = pl.from_pandas(data)
    if "confidence" in frame.columns and frame.schema["confidence"].is_float():
        # pandas writes a missing value as NaN in most columns (a missing label is null here),
        # but a NaN confidence is what the model gave: judged like a NaN from polars or a CSV
        raw = pl.from_pandas(data[["confidence"]], nan_to_null=False).get_column("confidence")
        if raw.dtype.is_float():
            frame = frame.with_columns(raw)
    return frame.with_columns(pl.col(aware).dt.replace_time_zone("UTC")) if aware else frame


def _typed_text_features(frame: pl.DataFrame) -> pl.DataFrame:
    """Feature columns of a CSV read as text: numbers -> Float64, true/false -> Boolean, as
    polars' own CSV inference would; the log's own columns stay text for validation."""
    names = [n for n, t in frame.schema.items() if n not in RESERVED and n != "model_name" and t == pl.String]
    if not names or frame.is_empty():
        return frame
    counts = frame.select(
        *[pl.col(n).is_not_null().sum().alias(f"{n}\x00n") for n in names],
        *[pl.col(n).str.strip_chars().cast(pl.Float64, strict=False).is_not_null().sum().alias(f"{n}\x00f") for n in names],
        *[pl.col(n).str.strip_chars().str.to_lowercase().is_in(["true", "false"]).sum().alias(f"{n}\x00b") for n in names],
    ).row(0, named=True)
    casts = []
    for n in names:
        present = counts[f"{n}\x00n"]
        if present and counts[f"{n}\x00f"] == present:
            casts.append(pl.col(n).str.strip_chars().cast(pl.Float64))
        elif present and counts[f"{n}\x00b"] == present:
            casts.append(pl.col(n).str.strip_chars().str.to_lowercase() == "true")
    return frame.with_columns(casts) if casts else frame


def _python_columns(columns: dict[str, Any]) -> pl.DataFrame:
    """Columns of Python values; a column of mixed types (``[1, 0.5]``, ``[1, "maybe"]``) is
    widened to a common type or to text instead of failing, so validation can judge each row."""
    try:
        return pl.DataFrame(columns)
    except (TypeError, pl.exceptions.PolarsError):
        pass
    out = {}
    for name, values in columns.items():
        try:
            out[name] = pl.Series(name, values, strict=False) if isinstance(values, list) else values
            if isinstance(values, list) and (
                out[name].dtype == pl.Object or out[name].null_count() != sum(v is None for v in values)
            ):
                raise TypeError(f"{name}: values lost in conversion")
        except (TypeError, pl.exceptions.PolarsError):
            out[name] = pl.Series(name, [
                None if v is None else v if isinstance(v, str) else _json_text(v) if isinstance(v, (list, dict))
                else str(v) for v in values
            ], dtype=pl.String)
    return pl.DataFrame(out)


def _file_batch_id(path: Path) -> str:
    digest = hashlib.blake2b(digest_size=16)
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return "f" + digest.hexdigest()


def _check_batch_id(batch_id: str) -> str:
    if not isinstance(batch_id, str) or not re.fullmatch(r"[A-Za-z0-9_.-]{1,80}", batch_id):
        raise ValidationError(f"batch_id={batch_id!r}: expected 1-80 letters, digits, '.', '_' or '-'")
    return batch_id


# ----------------------------------------------------------------------------- validation
def _class_column(col: str, dtype: pl.DataType, *, nullable: bool) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """(value as Int64, bad-row mask, message for bad rows) for a class column given as bool, int, float or text."""
    c = pl.col(col)
    expected = "expected 0/1, true/false or an integer class"
    if dtype == pl.Boolean:
        value = c.cast(pl.Int64)
    elif dtype.is_integer():
        value = c.cast(pl.Int64, strict=False)
    elif dtype.is_float():
        value = pl.when(c.is_finite() & (c == c.round(0))).then(c.cast(pl.Int64, strict=False))
    elif dtype == pl.String or dtype == pl.Categorical:
        text = c.cast(pl.String).str.strip_chars().str.to_lowercase()
        value = (
            pl.when(text.is_in(list(_TRUE))).then(pl.lit(1, pl.Int64))
            .when(text.is_in(list(_FALSE))).then(pl.lit(0, pl.Int64))
            .otherwise(pl.coalesce(
                text.cast(pl.Int64, strict=False),
                pl.when(text.cast(pl.Float64, strict=False) == text.cast(pl.Float64, strict=False).round(0))
                .then(text.cast(pl.Float64, strict=False).cast(pl.Int64, strict=False)),
            ))
        )
        value = pl.when(text == "").then(None).otherwise(value)
    elif dtype == pl.Null:
        value = pl.lit(None, pl.Int64)
    else:
        value = pl.lit(None, pl.Int64)
    present = c.is_not_null() if dtype != pl.String else (c.is_not_null() & (c.cast(pl.String).str.strip_chars() != ""))
    mask = present & value.is_null()
    message = pl.format(f"{col}='{{}}': {expected}", c.cast(pl.String, strict=False))
    if not nullable:
        mask = mask | ~present
        message = pl.when(~present).then(pl.lit(f"{col} is missing: {expected}")).otherwise(message)
    return value.alias(col), mask, message


def _parse_timestamps(frame: pl.DataFrame, column: str, out: str = "_ts") -> pl.DataFrame:
    """Add ``out``: ``column`` as Datetime(us, UTC), null where it cannot be parsed.

    Datetimes (naive = UTC), dates, epoch seconds and ISO-8601 text are accepted; text in
    other forms goes through Python's parser (rare rows only).
    """
    dtype = frame.schema[column]
    c = pl.col(column)
    if isinstance(dtype, pl.Datetime):
        value = c.dt.replace_time_zone("UTC") if dtype.time_zone is None else c.dt.convert_time_zone("UTC")
        value = value.dt.cast_time_unit("us")
    elif dtype == pl.Date:
        value = c.cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    elif dtype.is_numeric():
        value = (c.cast(pl.Float64) * 1_000_000).cast(pl.Int64, strict=False).cast(pl.Datetime("us", "UTC"))
    elif dtype == pl.String:
        text = c.str.strip_chars()
        # epoch seconds written as text (a CSV column): numbers only, as the docs say
        epoch = pl.when(text.str.contains(r"^-?[0-9]{1,12}(\.[0-9]*)?$")).then(
            (text.cast(pl.Float64, strict=False) * 1_000_000).cast(pl.Int64, strict=False).cast(pl.Datetime("us", "UTC")))
        value = pl.coalesce(
            [text.str.to_datetime(fmt, strict=False, time_zone="UTC", time_unit="us") for fmt in _TS_FORMATS] + [epoch]
        )
    else:
        value = pl.lit(None, pl.Datetime("us", "UTC"))
    frame = frame.with_columns(value.alias(out))
    if dtype == pl.String:
        residual = frame.filter(pl.col(out).is_null() & c.is_not_null() & (c.str.strip_chars() != ""))
        if residual.height:
            fixed = _python_timestamps(residual.get_column(column).to_list())
            patch = pl.DataFrame(
                {"_row": residual.get_column("_row"), "_fix": pl.Series(fixed, dtype=pl.Datetime("us", "UTC"))}
            )
            frame = frame.join(patch, on="_row", how="left", maintain_order="left").with_columns(pl.coalesce(out, "_fix").alias(out)).drop("_fix")
    return frame


def _python_timestamps(values: list[Any]) -> list[_dt.datetime | None]:
    out: list[_dt.datetime | None] = []
    for value in values:
        try:
            out.append(to_utc(value))
        except (ValidationError, ValueError, OverflowError, OSError):
            out.append(None)
    return out


def _present(column: str, dtype: pl.DataType) -> pl.Expr:
    c = pl.col(column)
    if dtype == pl.String:
        return c.is_not_null() & (c.str.strip_chars() != "")
    return c.is_not_null()


@dataclasses.dataclass(frozen=True)
class _Facts:
    """What the registry says about the models of a batch."""

    versions: dict[str, set[str]]  # model -> registered versions
    classes: dict[tuple[str, str], tuple[int, ...]]  # (model, version) -> its classes, when not 0/1
    declared: dict[str, dict[str, pl.DataType]]  # model -> feature -> declared type

    def get(self, model: str, default: Any = None) -> Any:
        return self.versions.get(model, default)


BINARY = _index.BINARY


def _class_rule(multi: dict[tuple[str, str], tuple[int, ...]]) -> tuple[Any, pl.Expr]:
    """(value -> in the row's classes, the text of those classes) for rows with ``model_name``
    and the canonical ``_version``: 0/1 unless a version lists its ``classes``."""
    binary_text = pl.lit("0 or 1 (a binary classifier; a model with more classes lists them in its configuration key classes)")

    def _pair(key: tuple[str, str]) -> pl.Expr:
        return (pl.col("model_name") == key[0]) & (pl.col("_version") == key[1])

    def in_classes(value: pl.Expr) -> pl.Expr:
        expr: Any = pl
        for key, classes in multi.items():
            expr = expr.when(_pair(key)).then(value.is_in(list(classes)))
        return expr.otherwise(value.is_in(list(BINARY))) if multi else value.is_in(list(BINARY))

    text: Any = pl
    for key, classes in multi.items():
        text = text.when(_pair(key)).then(pl.lit("one of " + ", ".join(map(str, classes)) + f" (the classes of {key[0]} {key[1]})"))
    return in_classes, text.otherwise(binary_text) if multi else binary_text


def _registered(ws: Workspace) -> _Facts:
    versions: dict[str, set[str]] = {}
    classes: dict[tuple[str, str], tuple[int, ...]] = {}
    configs: dict[str, list[tuple[Version, dict[str, Any]]]] = {}
    for meta in ws.registry.all_versions(include_deleted=True):
        name, ver = meta.name, str(meta.version)
        versions.setdefault(name, set()).add(ver)
        config = dict(meta.configuration or {})
        if (found := _index.classes_of(config, name, ver)) != BINARY:
            classes[(name, ver)] = found
        if config.get("feature_types"):
            configs.setdefault(name, []).append((meta.version, config))
    declared = {name: _index.declared_types([c for _, c in sorted(items, key=lambda x: x[0])], name)
                for name, items in configs.items()}
    return _Facts(versions, classes, declared)


def _validate(
    ws: Workspace,
    frame: pl.DataFrame,
    *,
    model: str | None,
    strict: bool,
    registered: _Facts | None,
    max_future: _dt.timedelta,
    ingest_time: _dt.datetime,
    batch_id: str = "",
    min_time: _dt.datetime | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split ``frame`` into (accepted rows in the log schema, quarantined raw rows + reason).

    A row without a ``prediction_id`` gets ``<batch_id>-<row>``: unique, and the same again
    when the same batch is re-imported after a crash."""
    frame = frame.with_row_index("_row")
    columns = set(frame.columns)
    if model is not None:
        if "model_name" in columns:
            raise ValidationError("model=... given and the data has a model_name column; expected one or the other")
        frame = frame.with_columns(pl.lit(model).alias("model_name"))
        columns.add("model_name")
    for required in ("model_name", "version", "prediction"):
        if required not in columns:
            raise ValidationError(
                f"column {required!r} is missing; expected columns model_name (or model=...), version, prediction"
                f" and optionally timestamp, actual, confidence, prediction_id, features (got {sorted(columns - {'_row'})})"
            )
    features = [c for c in frame.columns if c not in RESERVED and c != "_row"]
    for name in features:
        if not _FEATURE_RE.fullmatch(name):
            raise ValidationError(
                f"column {name!r}: expected a feature name of letters, digits and '_' (at most 64, not starting with a digit)"
            )
    for name in ("labeled_at", "ingested_at", "reason", "rule", "date", "batch_id"):
        if name in columns:
            raise ValidationError(f"column {name!r} is reserved by the log; rename it")
    schema = frame.schema
    rules: list[tuple[pl.Expr, pl.Expr, pl.Expr]] = []  # (bad-row mask, message, rule name)

    # model and version: checked per distinct value (few), then joined back as reasons
    frame = frame.with_columns(pl.col("model_name").cast(pl.String), pl.col("version").cast(pl.String))
    pairs = frame.lazy().select("model_name", "version").unique().collect()
    pair_reason: dict[tuple[Any, Any], tuple[str, str]] = {}
    canonical: dict[tuple[Any, Any], str] = {}
    for name, ver in pairs.iter_rows():
        if not is_valid_name(name):
            pair_reason[(name, ver)] = ("bad model_name", f"model_name={name!r}: expected 1-128 letters, digits, '-', '_' or '.'")
            continue
        try:
            parsed = str(Version.parse(ver))
        except ValidationError as exc:
            # the parser's own words: a malformed version, or a part too large for the registry
            pair_reason[(name, ver)] = ("bad version", str(exc))
            continue
        if strict and registered is not None and parsed not in registered.get(name, set()):
            known = ", ".join(sorted(registered.get(name, set()), key=Version.parse)) or "none"
            pair_reason[(name, ver)] = (
                "unregistered version",
                f"version={parsed!r} of model {name!r} is not registered (registered: {known}); register it or pass strict=False",
            )
        else:
            canonical[(name, ver)] = parsed
    if len(canonical) + len(pair_reason) <= 64:
        # few (model, version) pairs, the usual case: a when/then chain beats a join on two strings
        def _match(key: tuple[Any, Any]) -> pl.Expr:
            m = pl.col("model_name").is_null() if key[0] is None else pl.col("model_name") == key[0]
            v = pl.col("version").is_null() if key[1] is None else pl.col("version") == key[1]
            return m & v

        def _chain(values: dict[tuple[Any, Any], Any], dtype: pl.DataType) -> pl.Expr:
            expr: Any = pl
            for key, value in values.items():
                expr = expr.when(_match(key)).then(pl.lit(value, dtype))
            return expr.otherwise(pl.lit(None, dtype)) if values else pl.lit(None, dtype)

        frame = frame.with_columns(
            _chain(canonical, pl.String()).alias("_version"),
            _chain({k: v[0] for k, v in pair_reason.items()}, pl.String()).alias("_pair_rule"),
            _chain({k: v[1] for k, v in pair_reason.items()}, pl.String()).alias("_pair_reason"),
        )
    else:
        lookup = pl.DataFrame(
            {
                "model_name": [k[0] for k in canonical] + [k[0] for k in pair_reason],
                "version": [k[1] for k in canonical] + [k[1] for k in pair_reason],
                "_version": list(canonical.values()) + [None] * len(pair_reason),
                "_pair_rule": [None] * len(canonical) + [v[0] for v in pair_reason.values()],
                "_pair_reason": [None] * len(canonical) + [v[1] for v in pair_reason.values()],
            },
            schema={"model_name": pl.String, "version": pl.String, "_version": pl.String,
                    "_pair_rule": pl.String, "_pair_reason": pl.String},
        )
        frame = frame.join(lookup, on=["model_name", "version"], how="left", nulls_equal=True, maintain_order="left")
    rules.append((pl.col("_pair_reason").is_not_null(), pl.col("_pair_reason"), pl.col("_pair_rule")))

    pred_value, pred_mask, pred_message = _class_column("prediction", schema["prediction"], nullable=False)
    rules.append((pred_mask, pred_message, pl.lit("bad prediction")))
    # the classes a version may give: 0/1 unless its configuration lists more (``classes``)
    pairs = {(n, ver) for (n, _), ver in canonical.items()}
    multi = {k: v for k, v in registered.classes.items() if k in pairs} if registered else {}
    in_classes, classes_text = _class_rule(multi)
    rules.append((pred_value.is_not_null() & ~in_classes(pred_value),
                  pl.format("prediction={}: expected {}", pred_value, classes_text), pl.lit("bad prediction")))
    if "actual" in columns:
        act_value, act_mask, act_message = _class_column("actual", schema["actual"], nullable=True)
        rules.append((act_mask, act_message, pl.lit("bad actual")))
        rules.append((act_value.is_not_null() & ~in_classes(act_value),
                      pl.format("actual={}: expected {}", act_value, classes_text), pl.lit("bad actual")))
    else:
        act_value = pl.lit(None, pl.Int64).alias("actual")

    if "confidence" in columns:
        cdtype = schema["confidence"]
        c = pl.col("confidence")
        if cdtype == pl.String:
            conf = pl.when(c.str.strip_chars() == "").then(None).otherwise(c.str.strip_chars().cast(pl.Float64, strict=False))
            present = c.is_not_null() & (c.str.strip_chars() != "")
        elif cdtype.is_numeric() or cdtype == pl.Null:
            conf = c.cast(pl.Float64)
            present = c.is_not_null()
        else:
            conf = pl.lit(None, pl.Float64)
            present = c.is_not_null()
        rules.append((
            present & (conf.is_null() | conf.is_nan() | (conf < 0) | (conf > 1)),
            pl.format("confidence={}: expected a number in [0, 1]", c.cast(pl.String, strict=False)),
            pl.lit("confidence out of [0, 1]"),
        ))
        conf_value = conf.alias("confidence")
    else:
        conf_value = pl.lit(None, pl.Float64).alias("confidence")

    if "timestamp" in columns:
        frame = _parse_timestamps(frame, "timestamp")
        ts_present = _present("timestamp", schema["timestamp"])
        limit = ingest_time + max_future
        rules.append((
            (ts_present & pl.col("_ts").is_null()) | (pl.col("_ts") > pl.lit(limit)),
            pl.when(pl.col("_ts").is_null())
            .then(pl.format("timestamp='{}': expected an ISO-8601 time", pl.col("timestamp").cast(pl.String, strict=False)))
            .otherwise(pl.format(
                f"timestamp={{}}: expected a time before {limit.isoformat(timespec='seconds')} (more than {format_duration(max_future)} in the future)",
                pl.col("_ts").dt.to_string("%Y-%m-%dT%H:%M:%SZ"),
            )),
            pl.lit("bad timestamp"),
        ))
        if min_time is not None:
            rules.append((
                pl.col("_ts") < pl.lit(min_time).dt.cast_time_unit("us"),
                pl.format(f"timestamp={{}}: expected a time after {min_time.isoformat(timespec='seconds')}"
                          " (the workspace's min_timestamp setting)", pl.col("_ts").dt.to_string("%Y-%m-%dT%H:%M:%SZ")),
                pl.lit("bad timestamp"),
            ))
        ts_final = pl.coalesce(pl.col("_ts"), pl.lit(ingest_time).dt.cast_time_unit("us")).alias("timestamp")
    else:
        ts_final = pl.lit(ingest_time).dt.cast_time_unit("us").alias("timestamp")

    if "prediction_id" in columns:
        pid = pl.col("prediction_id").cast(pl.String)
        pid = pl.when(pid.str.strip_chars() == "").then(None).otherwise(pid)
        frame = frame.with_columns(pid.alias("_pid"))
        ids = frame.select(pl.col("_pid").drop_nulls().hash().n_unique().alias("n"), pl.col("_pid").count().alias("c"))
        # distinct 64-bit hashes prove the ids distinct (the usual case, ~10x cheaper than
        # is_first_distinct on the text); a repeat or a hash collision takes the exact check
        duplicate = (pl.lit(False) if ids.item(0, "n") == ids.item(0, "c")
                     else pl.col("_pid").is_not_null() & ~pl.col("_pid").is_first_distinct())
        rules.append((
            duplicate,
            pl.format("prediction_id='{}': appears more than once in this batch", pl.col("_pid")),
            pl.lit("duplicate prediction_id"),
        ))
    else:
        frame = frame.with_columns(pl.lit(None, pl.String).alias("_pid"))

    # masks first (cheap); reason texts only for the rows that failed
    frame = frame.with_columns([mask.fill_null(False).alias(f"_m{i}") for i, (mask, _, _) in enumerate(rules)])
    failed = pl.any_horizontal([pl.col(f"_m{i}") for i in range(len(rules))])
    bad = frame.filter(failed).with_columns(
        pl.concat_str([pl.when(pl.col(f"_m{i}")).then(msg) for i, (_, msg, _) in enumerate(rules)],
                      separator="; ", ignore_nulls=True).alias("_reason"),
        pl.coalesce([pl.when(pl.col(f"_m{i}")).then(rule) for i, (_, _, rule) in enumerate(rules)]).alias("_rule"),
    )
    good = frame.filter(~failed)
    accepted = good.select(
        pl.col("_row"),
        pl.col("model_name"),
        pl.coalesce(pl.col("_pid"), pl.format(f"{batch_id}-{{}}", pl.col("_row"))).alias("prediction_id"),
        pl.col("_version").alias("version"),
        ts_final,
        pred_value,
        act_value,
        conf_value,
        *[_feature_expr(name, schema[name]) for name in features],
    )
    raw_cols = [c for c in schema if c != "_row"]
    quarantined = bad.select(
        pl.col("_row").alias("row"),
        *[pl.col(c).cast(pl.String, strict=False) if not isinstance(schema[c], (pl.List, pl.Struct, pl.Array))
          else pl.col(c).map_elements(_json_text, return_dtype=pl.String) for c in raw_cols],
        pl.col("_rule").alias("rule"),
        pl.col("_reason").alias("reason"),
    )
    return accepted, quarantined


def _feature_expr(name: str, dtype: pl.DataType) -> pl.Expr:
    c = pl.col(name)
    if dtype.is_numeric():
        return c.cast(pl.Float64)
    if dtype in (pl.Boolean, pl.String):
        return c
    if dtype == pl.Null:
        return c.cast(pl.String)
    if isinstance(dtype, (pl.List, pl.Struct, pl.Array)):
        return c.map_elements(_json_text, return_dtype=pl.String)
    return c.cast(pl.String, strict=False)


def _json_text(value: Any) -> str:
    """A nested value (a list arrives as a polars Series, a struct as a dict) as JSON text."""
    if isinstance(value, pl.Series):
        value = value.to_list()
    return json.dumps(value, default=str)


# ----------------------------------------------------------------------------- anonymize
def anonymize_rules(ws: Workspace, model: str | None = None) -> dict[str, list[str]]:
    """Feature columns hashed at ingest, per model (``"*"`` applies to every model)."""
    rules = ws.setting("anonymize", {}) or {}
    if model is None:
        return {k: list(v) for k, v in rules.items()}
    return {model: sorted(set(rules.get("*", [])) | set(rules.get(model, [])))}


def set_anonymize(ws: Workspace, model: str, fields: Iterable[str], *, actor: str | None = None) -> dict[str, list[str]]:
    """Hash the listed feature columns of ``model`` (or ``"*"``) at ingest from now on.

    Values are replaced by the first 16 hex digits of SHA-256 over a per-workspace salt and
    the value, so equal values stay equal (joins and drift still work) but the raw value is
    not stored (seed 001, security: "Anonymize sensitive data in tracking").
    """
    if model != "*" and not is_valid_name(model):
        raise ValidationError(f"model={model!r}: expected a model name or '*'")
    fields = sorted(set(fields))
    for name in fields:
        if not _FEATURE_RE.fullmatch(name) or name in RESERVED:
            raise ValidationError(f"field={name!r}: expected a feature column name (not {', '.join(sorted(RESERVED))})")
    rules = dict(ws.setting("anonymize", {}) or {})
    rules[model] = fields
    if not ws.setting("anonymize_salt"):
        ws.set_setting("anonymize_salt", uuid.uuid4().hex, actor=actor, reason="salt for anonymized features")
    ws.set_setting("anonymize", rules, actor=actor, reason=f"anonymize {model}: {', '.join(fields)}")
    return rules


def _anonymize(frame: pl.DataFrame, rules: dict[str, list[str]], salt: str) -> pl.DataFrame:
    if not rules or frame.is_empty():
        return frame
    universal = set(rules.get("*", []))
    parts = []
    for (model,), part in frame.partition_by("model_name", as_dict=True, maintain_order=True).items():
        for name in sorted(universal | set(rules.get(model, []))):
            if name in part.columns:
                values = part.get_column(name).cast(pl.String, strict=False)
                uniques = values.drop_nulls().unique()
                mapping = {
                    v: hashlib.sha256((salt + "\x1f" + v).encode()).hexdigest()[:16] for v in uniques.to_list()
                }
                part = part.with_columns(values.replace_strict(mapping, default=None, return_dtype=pl.String).alias(name))
        parts.append(part)
    return pl.concat(parts, how="diagonal_relaxed")


# ----------------------------------------------------------------------------- writing
def _write_parquet_atomic(frame: pl.DataFrame, path: StoragePath, *, durable: bool = True) -> None:
    if isinstance(path, ObjectPath):
        # serialised first, then one upload: a failure while encoding stores nothing
        buf = io.BytesIO()
        frame.write_parquet(buf, **_PARQUET_OPTS)
        path.write_bytes(buf.getbuffer())
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        try:
            frame.write_parquet(tmp, **_PARQUET_OPTS)
        except pl.exceptions.PolarsError as exc:
            raise _os_error(exc, path) from exc
        if durable:
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if durable:
        fsync_dir(path.parent)


_UPLOAD_THREADS = 16


def _os_error(exc: Exception, path: StoragePath) -> Exception:
    """A polars I/O failure (full disk, permissions) as the OSError it is, naming the file."""
    found = re.search(r"os error (\d+)", str(exc))
    if not found:
        return exc
    code = int(found.group(1))
    return OSError(code, os.strerror(code), str(path))


def _write_json(path: StoragePath, obj: Any) -> None:
    """A small JSON record (import record, compaction manifest), atomically."""
    if isinstance(path, ObjectPath):
        path.write_bytes(json.dumps(obj, indent=2, sort_keys=True, default=str).encode())
    else:
        atomic_write_json(path, obj)


def _plan_parts(ws: Workspace, frames: dict[str, pl.DataFrame], batch_id: str) -> list[tuple[StoragePath, pl.DataFrame]]:
    """(path, rows) of each part file of a batch: one per model and day."""
    out = []
    for model, frame in sorted(frames.items()):
        if frame.is_empty():
            continue
        frame = frame.with_columns(pl.col("timestamp").dt.date().alias("date"), pl.lit(batch_id).alias("batch_id"))
        for (day,), part in sorted(frame.partition_by("date", as_dict=True).items()):
            folder = ws.predictions_dir / f"model_name={model}" / f"date={day.isoformat()}"
            body = part.drop("model_name", "date", "_row")
            if not body.get_column("timestamp").is_sorted():
                body = body.sort("timestamp")
            out.append((folder / f"part-{batch_id}.parquet", body))
    return out


def _write_parts(ws: Workspace, parts: list[tuple[StoragePath, pl.DataFrame]], durable: bool) -> None:
    def _one(item: tuple[StoragePath, pl.DataFrame]) -> None:
        _write_parquet_atomic(item[1], item[0], durable=durable)

    if len(parts) > 1:
        # polars writes without the GIL: a few threads overlap compression and fsync (uploads
        # to a bucket wait on the network: more of them overlap)
        workers = _UPLOAD_THREADS if ws.remote else min(4, os.cpu_count() or 2)
        with concurrent.futures.ThreadPoolExecutor(max_workers=min(workers, len(parts))) as pool:
            list(pool.map(_one, parts))
    elif parts:
        _one(parts[0])


def _quarantine_path(ws: Workspace, batch_id: str, when: _dt.datetime) -> StoragePath:
    return ws.quarantine_dir / f"date={when.date().isoformat()}" / f"part-{batch_id}.parquet"


def _write_quarantine(ws: Workspace, rows: pl.DataFrame, batch_id: str, source: str, when: _dt.datetime) -> int:
    if rows.is_empty():
        return 0
    rows = rows.with_columns(
        pl.lit(source).alias("source"), pl.lit(batch_id).alias("batch_id"),
        pl.lit(when).dt.cast_time_unit("us").alias("quarantined_at"),
    )
    _write_parquet_atomic(rows, _quarantine_path(ws, batch_id, when))
    return 1


def _as_quarantined(rows: pl.DataFrame, rule: str, reason: pl.Expr, hide: list[str] | tuple[str, ...] = ()) -> pl.DataFrame:
    """Accepted rows (typed) moved to quarantine: their values as text, with the reason (an
    expression that may use the helper columns ``hide``, which are left out)."""
    return rows.select(
        pl.col("_row").alias("row"),
        *[pl.col(c).cast(pl.String, strict=False) for c in rows.columns if c != "_row" and c not in hide],
        pl.lit(rule).alias("rule"), reason.alias("reason"),
    )


def _summarise_reasons(quarantined: pl.DataFrame) -> tuple[dict[str, int], dict[str, str]]:
    if quarantined.is_empty():
        return {}, {}
    counts = quarantined.group_by("rule").agg(pl.len(), pl.col("row").first(), pl.col("reason").first()).sort("rule")
    reasons = {r: n for r, n, _, _ in counts.iter_rows()}
    examples = {r: reason if row is None else f"row {row}: {reason}" for r, _, row, reason in counts.iter_rows()}
    return reasons, examples


def _ingest(
    ws: Workspace,
    frame: pl.DataFrame,
    *,
    source: str,
    batch_id: str,
    model: str | None = None,
    strict: bool = True,
    registered: _Facts | None = None,
    durable: bool = True,
    settings: dict[str, Any] | None = None,
    rejects: pl.DataFrame | None = None,
    record_path: StoragePath | None = None,
    on_duplicate: str = "quarantine",
    own_ids: str | None = None,
) -> ImportSummary:
    """Validate, check types and ids, and write one batch (see :mod:`mlmm._batch`).
    ``own_ids``: the prefix of ids the caller generated itself (a tracker's): never logged
    before, so not looked up (they still go into the index)."""
    started = time.perf_counter()
    settings = settings if settings is not None else ws.settings()
    when = now()
    facts = registered if registered is not None else _registered(ws)
    min_setting = settings.get("min_timestamp", "2000-01-01T00:00:00Z")
    accepted, quarantined = _validate(
        ws, frame, model=model, strict=strict, registered=facts,
        max_future=_dt.timedelta(seconds=float(settings.get("max_future_seconds", 86400))), ingest_time=when,
        batch_id=batch_id, min_time=to_utc(min_setting, "min_timestamp") if min_setting else None,
    )
    moved = [quarantined] + ([rejects] if rejects is not None and rejects.height else [])
    rules = settings.get("anonymize") or {}
    models = sorted(accepted.get_column("model_name").unique().to_list()) if accepted.height else []
    with _index.model_lock(ws, models):
        if record_path is not None and record_path.exists() and batch_id not in _batch.pending(ws):
            return _recorded(record_path)  # the same file, imported by another process while we waited
        if len(models) == 1:
            frames = {models[0]: accepted}  # the usual case: no copy
        else:
            frames = {m: f for (m,), f in accepted.partition_by("model_name", as_dict=True).items()} if models else {}
        new_types: dict[str, dict[str, tuple[pl.DataType, str]]] = {}
        for m in models:
            hashed = set(rules.get("*", [])) | set(rules.get(m, []))
            frames[m], bad, new_types[m] = _enforce_types(ws, m, frames[m], facts.declared.get(m, {}), hashed, batch_id)
            moved.append(bad)
        hashes = {m: _index.hash_ids(f.get_column("prediction_id")) for m, f in frames.items()}
        if on_duplicate == "quarantine":
            for m in models:
                frames[m], dup = _drop_logged(ws, m, frames[m], hashes[m], own_ids)
                if dup.height:
                    moved.append(dup)
                    hashes[m] = _index.hash_ids(frames[m].get_column("prediction_id"))
        if rules:
            frames = {m: _anonymize(f, rules, str(settings.get("anonymize_salt") or "")) for m, f in frames.items()}
        quarantined = pl.concat([q for q in moved if q.height], how="diagonal_relaxed") if any(q.height for q in moved) \
            else quarantined
        parts = _plan_parts(ws, frames, batch_id)
        if not ws.remote:  # what a writer killed mid-file left in these folders (a tracker's, say)
            _sweep_tmp_in({p.parent for p, _ in parts})
        runs = {m: _index.run_path(ws, m, batch_id) for m, f in frames.items() if f.height}
        paths = [p for p, _ in parts] + list(runs.values())
        if quarantined.height:
            paths.append(_quarantine_path(ws, batch_id, when))
        reasons, examples = _summarise_reasons(quarantined)
        per_model = {m: f.height for m, f in frames.items() if f.height}
        summary = ImportSummary(
            batch_id=batch_id, source=source, accepted=sum(per_model.values()), quarantined=quarantined.height,
            reasons=reasons, examples=examples, files=len(parts) + (1 if quarantined.height else 0),
            seconds=0.0, models=per_model,
        )
        def _write_runs() -> None:
            for m, path in runs.items():
                _index.write_run(path, hashes[m], frames[m].get_column("timestamp").dt.date().cast(pl.Int32).to_numpy(),
                                 durable=durable)

        if len(parts) == 1 and not quarantined.height and record_path is None:
            # one file and nothing else (a tracker flush, typically): its atomic rename is the
            # commit. The id run goes first: a run whose file never came only makes candidates
            # that the files then disprove; a file without its run would let a duplicate in.
            _write_runs()
            _write_parts(ws, parts, durable)
            summary = dataclasses.replace(summary, seconds=time.perf_counter() - started)
        else:
            summary = _write_batch(ws, batch_id, paths, parts, quarantined, source, when, record_path, durable,
                                   _write_runs, summary, started)
        # committed: what follows is upkeep, and a failure of it must not make a caller (a
        # tracker) write the rows again
        try:
            for m, types in new_types.items():
                _index.record_feature_types(ws, m, types)
            for m in runs:
                _index.merge_runs(ws, m)
        except (OSError, MlmmError) as exc:
            log.warning("batch %s is committed; updating the index afterwards failed: %s", batch_id, exc)
    return summary


_TMP_SWEPT: dict[str, float] = {}  # folder -> when this process last looked for stale temporary files


def _sweep_tmp_in(folders: Iterable[Path]) -> None:
    """Stale temporary files in the folders a batch writes to, looked for once an hour per folder."""
    clock = time.time()
    for d in folders:
        key = str(d)
        if clock - _TMP_SWEPT.get(key, 0.0) < TMP_STALE_SECONDS or not d.is_dir():
            continue
        _TMP_SWEPT[key] = clock
        _sweep_tmp(d.glob(".*.tmp"), clock - TMP_STALE_SECONDS)


def _recorded(record_path: StoragePath) -> ImportSummary:
    """The summary an import record keeps (a second import of the same batch returns it)."""
    record = json.loads(record_path.read_text())
    fields = {f.name for f in dataclasses.fields(ImportSummary)}
    return ImportSummary(**{**{k: v for k, v in record.items() if k in fields}, "already_imported": True})


def _write_batch(ws: Workspace, batch_id: str, paths: list[StoragePath], parts: list[tuple[StoragePath, pl.DataFrame]],
                 quarantined: pl.DataFrame, source: str, when: _dt.datetime, record_path: StoragePath | None,
                 durable: bool, write_runs: Any, summary: ImportSummary, started: float) -> ImportSummary:
    """Several files that become visible at once (:class:`mlmm._batch.Batch`)."""
    with _batch.Batch(ws, batch_id, paths, record=record_path, durable=durable):
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as side:
            index_done = side.submit(write_runs)  # beside the part files (polars and numpy release the GIL)
            _write_parts(ws, parts, durable)
            _write_quarantine(ws, quarantined, batch_id, source, when)
            index_done.result()
        summary = dataclasses.replace(summary, seconds=time.perf_counter() - started)
        if record_path is not None:
            record = summary.to_dict()
            record.pop("rows", None)
            record["committed_at"] = now().isoformat()
            _write_json(record_path, record)
    return summary


def _model_days(ws: Workspace, model: str) -> Any:
    """A callable: ``[(day, committed files)]`` of ``model``'s log (for the given days only)."""
    def days(only: list[_dt.date] | None = None) -> list[tuple[_dt.date, list[StoragePath]]]:
        lo = hi = None
        if only:
            lo = _dt.datetime.combine(min(only), _dt.time(), UTC)
            hi = _dt.datetime.combine(max(only), _dt.time(), UTC)
        pend = _batch.pending(ws)
        wanted = set(only) if only else None
        out = []
        for _, d in _partition_dirs(ws.predictions_dir, model, lo, hi):
            day = _dt.date.fromisoformat(d.name.partition("=")[2])
            if wanted is None or day in wanted:
                out.append((day, _batch.committed(_visible_files(d), pend)))
        return out
    return days


def _drop_logged(ws: Workspace, model: str, frame: pl.DataFrame, hashes: Any,
                 own_ids: str | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Rows whose prediction_id the model's log already holds, moved to quarantine."""
    if frame.is_empty():
        return frame, pl.DataFrame()
    ids = frame.get_column("prediction_id")
    rows = None
    if own_ids:
        rows = np.flatnonzero(~ids.str.starts_with(own_ids).to_numpy())
        if not len(rows):
            return frame, pl.DataFrame()
        ids, hashes = ids.gather(rows), hashes[rows]
    found = _index.logged_days(ws, model, ids, hashes, _model_days(ws, model))
    if found.is_empty():
        return frame, pl.DataFrame()
    if rows is not None:
        found = found.with_columns(pl.Series("row", rows[found.get_column("row").to_numpy()], dtype=pl.UInt32))
    hit = found.select(pl.col("row").alias("_i"), pl.col("day").dt.to_string("%Y-%m-%d").alias("_day"))
    marked = frame.with_row_index("_i").join(hit, on="_i", how="left", maintain_order="left")
    bad = _as_quarantined(marked.filter(pl.col("_day").is_not_null()), "duplicate prediction_id",
                          pl.format("prediction_id='{}': already logged on {}", pl.col("prediction_id"), pl.col("_day")),
                          hide=("_i", "_day"))
    return marked.filter(pl.col("_day").is_null()).drop("_i", "_day"), bad


_KIND_TEXT = {pl.Float64(): "a number", pl.Boolean(): "true or false", pl.String(): "text"}


def _enforce_types(ws: Workspace, model: str, frame: pl.DataFrame, declared: dict[str, pl.DataType],
                   hashed: set[str], batch_id: str,
                   ) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, tuple[pl.DataType, str]]]:
    """Give each feature column its type (declared in the configuration, else the first
    accepted one, else the one most of this batch's values have); rows with a value that
    cannot be read as that type go to quarantine. Returns (rows, quarantined, new types)."""
    features = [c for c in frame.columns if c not in RESERVED and c not in ("_row", "model_name") and c not in hashed]
    if not features:
        return frame, pl.DataFrame(), {}
    learned = _index.feature_types(ws, model)
    new: dict[str, tuple[pl.DataType, str]] = {}
    casts: list[pl.Expr] = []
    checks: list[tuple[pl.Expr, pl.Expr]] = []
    for name in features:
        dtype = frame.schema[name]
        if name in declared:
            target, why = declared[name], f"declared in the configuration of {model} (feature_types)"
            if _index.stored_dtype(learned.get(name, {}).get("type", "")) != target or name not in learned:
                new[name] = (target, "declared in the configuration (feature_types)")
        elif name in learned:
            info = learned[name]
            target = _index.stored_dtype(info.get("type", "text"))
            why = f"the type of {name} in the log of {model} since {info.get('since', '?')}"
        else:
            if dtype == pl.Null or frame.get_column(name).null_count() == frame.height:
                continue  # nothing to learn from: the first values decide
            target = _infer_type(frame.get_column(name))
            why = "the type most of this batch's values have"
            new[name] = (target, f"first seen in batch {batch_id}")
        value, bad = _cast_feature(name, dtype, target)
        casts.append(value.alias(name))
        if bad is not None:
            checks.append((bad.fill_null(False), pl.format(
                f"{name}='{{}}': expected {_KIND_TEXT.get(target, 'text')} ({why}); leave it empty for a missing value",
                pl.col(name).cast(pl.String, strict=False))))
    if not casts:
        return frame, pl.DataFrame(), new
    if not checks:
        return frame.with_columns(casts), pl.DataFrame(), new
    marked = frame.with_columns([m.alias(f"_b{i}") for i, (m, _) in enumerate(checks)])
    failed = pl.any_horizontal([pl.col(f"_b{i}") for i in range(len(checks))])
    bad_rows = marked.filter(failed)
    quarantined = pl.DataFrame()
    if bad_rows.height:
        reason = pl.concat_str([pl.when(pl.col(f"_b{i}")).then(msg) for i, (_, msg) in enumerate(checks)],
                               separator="; ", ignore_nulls=True)
        quarantined = _as_quarantined(bad_rows, "bad feature type", reason,
                                      hide=[f"_b{i}" for i in range(len(checks))])
    good = marked.filter(~failed).drop([f"_b{i}" for i in range(len(checks))])
    return good.with_columns(casts), quarantined, new


def _infer_type(values: pl.Series) -> pl.DataType:
    if values.dtype.is_numeric():
        return pl.Float64()
    if values.dtype == pl.Boolean:
        return pl.Boolean()
    if values.dtype != pl.String:
        return pl.String()
    if values.len() > 20_000:
        # most text columns are plainly text: a sample decides those without parsing every value
        sample = _infer_type(values.gather_every(values.len() // 10_000))
        if sample == pl.String:
            head = values.drop_nulls().head(10_000).str.strip_chars()
            if int(head.cast(pl.Float64, strict=False).is_not_null().sum()) == 0 and \
                    int(head.str.to_lowercase().is_in(["true", "false"]).sum()) == 0:
                return pl.String()
    text = values.str.strip_chars()
    present = int((text.is_not_null() & (text != "")).sum())
    if not present:
        return pl.String()
    numbers = int(text.cast(pl.Float64, strict=False).is_not_null().sum())
    if numbers * 2 >= present:  # at least half are numbers: the others are the odd ones
        return pl.Float64()
    flags = int(text.str.to_lowercase().is_in(["true", "false"]).sum())
    return pl.Boolean() if flags * 2 > present else pl.String()


def _cast_feature(name: str, dtype: pl.DataType, target: pl.DataType) -> tuple[pl.Expr, pl.Expr | None]:
    """(the column as ``target``, mask of values that cannot be read so) — never widening."""
    c = pl.col(name)
    if dtype == target:
        return c, None
    if dtype == pl.Null:
        return c.cast(target), None
    if target == pl.String:
        if isinstance(dtype, (pl.List, pl.Struct, pl.Array)):
            return c.map_elements(_json_text, return_dtype=pl.String), None
        if dtype.is_float():  # a whole number reads as the integer it was (404, not 404.0)
            whole = c.is_finite() & (c == c.round(0)) & (c.abs() < 2**53)
            return pl.when(whole).then(c.cast(pl.Int64, strict=False).cast(pl.String)).otherwise(c.cast(pl.String)), None
        return c.cast(pl.String, strict=False), None
    if dtype == pl.String:
        text = c.str.strip_chars()
        present = text.is_not_null() & (text != "")
        if target == pl.Float64:
            value = pl.when(present).then(text.cast(pl.Float64, strict=False))
        else:
            low = text.str.to_lowercase()
            value = pl.when(low.is_in(list(_TRUE))).then(True).when(low.is_in(list(_FALSE))).then(False) \
                .otherwise(pl.lit(None, pl.Boolean))
        return value, present & value.is_null()
    if target == pl.Float64 and (dtype.is_numeric() or dtype == pl.Boolean):
        return c.cast(pl.Float64), None
    if target == pl.Boolean and dtype.is_numeric():
        value = pl.when(c == 1).then(True).when(c == 0).then(False).otherwise(pl.lit(None, pl.Boolean))
        return value, c.is_not_null() & value.is_null()
    return pl.lit(None, target), c.is_not_null()


def log_predictions(
    ws: Workspace,
    data: Any,
    *,
    model: str | None = None,
    strict: bool = True,
    batch_id: str | None = None,
    durable: bool = True,
    on_duplicate: str = "quarantine",
) -> ImportSummary:
    """Append many predictions at once.

    Parameters
    ----------
    data
        A polars, pandas or pyarrow table, a dict of columns, a list of row dicts, or a path
        to a CSV, TSV, Parquet or JSON-lines file. Columns: ``model_name`` (or pass ``model``),
        ``version``, ``prediction``; optional ``timestamp`` (default now), ``actual``,
        ``confidence``, ``prediction_id`` (generated when missing); every other column is a
        feature.
    strict
        Quarantine rows whose model version is not registered (default). ``False`` accepts them.
    batch_id
        Makes the import idempotent: a second import with the same id does nothing and
        returns the first one's summary. For files it defaults to a hash of the content, so
        importing the same file twice (or again after a crash) imports it exactly once.
    durable
        fsync files before renaming them into place (default). ``False`` is faster and still
        atomic, but a power cut may lose the last files.
    on_duplicate
        ``"quarantine"`` (default): a ``prediction_id`` the model's log already holds goes to
        quarantine with the reason "prediction_id 'X' already logged on DAY" (a re-export of
        rows already imported is not imported twice). ``"allow"`` keeps such rows: the id then
        names several predictions and a late label applies to all of them.

    The import is all or nothing for readers: a killed, failed or full-disk import is never
    visible, and the next import (or ``cleanup``, ``compact``) removes what it left
    (:mod:`mlmm._batch`). A feature column keeps the type it was first accepted with (or
    the type the model's configuration declares in ``feature_types``); a value that cannot
    be read as that type is quarantined with its row.

    Returns
    -------
    ImportSummary
        Rows accepted and quarantined, with the reasons.

    Examples
    --------
    >>> import tempfile, mlmm
    >>> ws = mlmm.open_workspace(tempfile.mkdtemp())
    >>> _ = ws.registry.register("n1-detector", "1.0.0")
    >>> frame = pl.DataFrame({
    ...     "model_name": ["n1-detector"] * 3, "version": ["1.0.0", "1.0.0", "9.9.9"],
    ...     "prediction": [1, 0, 1], "confidence": [0.9, 1.7, 0.8],
    ...     "timestamp": ["2026-01-01T10:00:00Z"] * 3, "query_count": [12, 3, 40]})
    >>> summary = log_predictions(ws, frame)
    >>> summary.accepted, summary.quarantined
    (1, 2)
    >>> summary.reasons
    {'confidence out of [0, 1]': 1, 'unregistered version': 1}
    >>> ws.predictions().select("version", "prediction", "query_count").collect().row(0)
    ('1.0.0', 1, 12.0)
    """
    if on_duplicate not in ("quarantine", "allow"):
        raise ValidationError(f"on_duplicate={on_duplicate!r}: expected 'quarantine' or 'allow'")
    if batch_id is None:
        if isinstance(data, (str, os.PathLike)) and Path(data).is_file():
            batch_id = _file_batch_id(Path(data))
        else:
            batch_id = "b" + uuid.uuid4().hex
    _check_batch_id(batch_id)
    _batch.sweep(ws)  # imports that were killed: their files go (or, complete, are committed)
    record_path = ws.imports_dir / f"{batch_id}.json"
    if batch_id in _batch.pending(ws):  # still there after the sweep: its writer is at work
        _batch.check_free(ws, batch_id)
    if record_path.exists():
        return _recorded(record_path)
    frame, source, rejects = _to_frame(data)
    summary = _ingest(ws, frame, source=source, batch_id=batch_id, model=model, strict=strict, durable=durable,
                      rejects=rejects, record_path=record_path, on_duplicate=on_duplicate)
    log.info("imported %s: %d accepted, %d quarantined", source, summary.accepted, summary.quarantined)
    return summary


# ----------------------------------------------------------------------------- labels
def log_labels(
    ws: Workspace,
    model: str,
    labels: Any,
    *,
    labeled_at: Any = None,
    batch_id: str | None = None,
    unknown: str = "keep",
) -> LabelSummary:
    """Record ground truth that arrived after the predictions.

    ``labels`` is ``{prediction_id: actual}`` or a frame with ``prediction_id``, ``actual`` and
    optionally ``labeled_at``. Labels are joined at query time and the latest label of a
    prediction wins, so a correction is just another label.

    ``unknown`` decides what happens to labels whose prediction is not in the log (yet):
    ``"keep"`` (default: stored and reported, joined once the prediction arrives, since a
    tracker may still hold it in its buffer) or ``"quarantine"`` (moved to quarantine with the
    reason).

    >>> import tempfile, mlmm
    >>> ws = mlmm.open_workspace(tempfile.mkdtemp())
    >>> _ = ws.registry.register("m", "1.0.0")
    >>> _ = log_predictions(ws, {"version": ["1.0.0"] * 2, "prediction": [1, 0], "prediction_id": ["a", "b"]}, model="m")
    >>> log_labels(ws, "m", {"a": True, "b": 1, "zzz": 0})
    <LabelSummary m: 3 accepted, 1 for unknown predictions, 0 quarantined>
    >>> ws.predictions("m").select("prediction_id", "actual").sort("prediction_id").collect().rows()
    [('a', 1), ('b', 1)]
    """
    if not is_valid_name(model):
        raise ValidationError(f"model={model!r}: expected a model name")
    if unknown not in ("keep", "quarantine"):
        raise ValidationError(f"unknown={unknown!r}: expected 'keep' or 'quarantine'")
    facts = _registered(ws)
    if model not in facts.versions:
        raise NotFoundError(f"model={model!r} is not registered; expected a registered model (no label was written)")
    if isinstance(labels, Mapping):
        frame = pl.DataFrame(
            {"prediction_id": [str(k) for k in labels], "actual": [_label_text(v) for v in labels.values()]},
            schema={"prediction_id": pl.String, "actual": pl.String},
        )
        rejects = None
    else:
        frame, _, rejects = _to_frame(labels)
    for required in ("prediction_id", "actual"):
        if required not in frame.columns:
            raise ValidationError(f"column {required!r} is missing; expected prediction_id, actual[, labeled_at]")
    _batch.sweep(ws)
    when = now()
    settings = ws.settings()
    limit = when + _dt.timedelta(seconds=float(settings.get("max_future_seconds", 86400)))
    default_at = to_utc(labeled_at, "labeled_at") if labeled_at is not None else when
    if default_at > limit:
        raise ValidationError(f"labeled_at={default_at.isoformat(timespec='seconds')}: expected a time before"
                              f" {limit.isoformat(timespec='seconds')} (the workspace's max_future_seconds)")
    frame = frame.with_row_index("_row")
    value, actual_mask, actual_message = _class_column("actual", frame.schema["actual"], nullable=False)
    classes = sorted({c for (m, _), cs in facts.classes.items() if m == model for c in cs} or set(BINARY))
    class_text = ("0 or 1 (a binary classifier; a model with more classes lists them in its configuration key"
                  " classes)") if classes == list(BINARY) else "one of " + ", ".join(map(str, classes))
    class_mask = value.is_not_null() & ~value.is_in(classes)
    class_message = pl.format(f"actual={{}}: expected {class_text}", value)
    if "labeled_at" in frame.columns:
        frame = _parse_timestamps(frame, "labeled_at")
        ts_mask = _present("labeled_at", frame.schema["labeled_at"]) & pl.col("_ts").is_null()
        ts_message = pl.format("labeled_at='{}': expected an ISO-8601 time", pl.col("labeled_at").cast(pl.String, strict=False))
    else:
        frame = frame.with_columns(pl.lit(None, pl.Datetime("us", "UTC")).alias("_ts"))
        ts_mask, ts_message = pl.lit(False), pl.lit(None, pl.String)
    future_mask = pl.col("_ts") > pl.lit(limit).dt.cast_time_unit("us")
    future_message = pl.format(f"labeled_at={{}}: expected a time before {limit.isoformat(timespec='seconds')}"
                               " (more than max_future_seconds in the future)",
                               pl.col("_ts").dt.to_string("%Y-%m-%dT%H:%M:%SZ"))
    pid_mask = pl.col("prediction_id").is_null() | (pl.col("prediction_id").cast(pl.String).str.strip_chars() == "")
    checks = [(pid_mask, pl.lit("prediction_id is missing"), "missing prediction_id"),
              (actual_mask, actual_message, "bad actual"), (class_mask, class_message, "bad actual"),
              (ts_mask, ts_message, "bad labeled_at"), (future_mask, future_message, "bad labeled_at")]
    frame = frame.with_columns(value.alias("_actual"), *[m.fill_null(False).alias(f"_m{i}") for i, (m, _, _) in enumerate(checks)])
    frame = frame.with_columns(
        pl.concat_str([pl.when(pl.col(f"_m{i}")).then(msg) for i, (_, msg, _) in enumerate(checks)], separator="; ", ignore_nulls=True).alias("_reason"),
        pl.coalesce([pl.when(pl.col(f"_m{i}")).then(pl.lit(rule)) for i, (_, _, rule) in enumerate(checks)]).alias("_rule"),
    ).with_columns(pl.when(pl.col("_reason") != "").then(pl.col("_reason")).alias("_reason"))
    good = frame.filter(pl.col("_reason").is_null()).select(
        pl.col("_row"),
        pl.col("prediction_id").cast(pl.String),
        pl.col("_actual").alias("actual"),
        pl.coalesce(pl.col("_ts"), pl.lit(default_at).dt.cast_time_unit("us")).alias("labeled_at"),
    )
    bad = frame.filter(pl.col("_reason").is_not_null())
    # the day of each labelled prediction: labels are stored next to their predictions' day,
    # so a query over a time window reads only those days' labels
    known = (
        read_predictions(ws, model=model, with_labels=False).select("prediction_id", "date")
        .filter(pl.col("prediction_id").is_in(good.get_column("prediction_id").implode()))
        .unique().collect()
    )
    is_known = good.get_column("prediction_id").is_in(known.get_column("prediction_id").implode())
    unknown_rows = good.filter(~is_known)
    if unknown == "quarantine" and unknown_rows.height:
        good = good.filter(is_known)
        extra = unknown_rows.select(
            pl.col("_row").alias("row"), pl.col("prediction_id"), pl.col("actual").cast(pl.String),
            pl.lit("unknown prediction_id").alias("rule"),
            pl.format(f"prediction_id='{{}}': no prediction of {model} with this id", pl.col("prediction_id")).alias("reason"),
        )
    else:
        extra = None
    batch_id = _check_batch_id(batch_id or "l" + uuid.uuid4().hex)
    raw = bad.select(
        pl.col("_row").alias("row"), pl.col("prediction_id").cast(pl.String, strict=False),
        pl.col("actual").cast(pl.String, strict=False), pl.col("_rule").alias("rule"), pl.col("_reason").alias("reason"),
    )
    raw = pl.concat([raw, *[x for x in (extra, rejects) if x is not None and x.height]], how="diagonal_relaxed")
    if raw.height:
        raw = raw.with_columns(pl.lit(model).alias("model_name"))
    conflicts, conflict_examples = _label_conflicts(good)
    parts: list[tuple[StoragePath, pl.DataFrame]] = []
    touched = []
    if good.height:
        body = good.drop("_row").with_columns(pl.lit(batch_id).alias("batch_id"),
                                              pl.lit(when).dt.cast_time_unit("us").alias("ingested_at"))
        dated = body.join(known, on="prediction_id", how="left")  # an id logged on two days: both
        folder = ws.labels_dir / f"model_name={model}"
        for (day,), part in dated.partition_by("date", as_dict=True, maintain_order=True).items():
            name = _UNDATED if day is None else day.isoformat()
            parts.append((folder / name / f"part-{batch_id}.parquet", part.drop("date")))
            if day is not None:
                touched.append(day)
    paths = [p for p, _ in parts] + ([_quarantine_path(ws, batch_id, when)] if raw.height else [])
    with _batch.Batch(ws, batch_id, paths):
        for path, part in parts:
            _write_parquet_atomic(part, path)
        _write_quarantine(ws, raw, batch_id, f"labels:{model}", when)
    if touched:
        refresh_labelled(ws, model, touched)
    reasons, examples = _summarise_reasons(raw)
    return LabelSummary(
        batch_id=batch_id, model=model, accepted=good.height, unknown_ids=unknown_rows.height,
        quarantined=raw.height, reasons=reasons, examples=examples,
        unknown_examples=tuple(unknown_rows.get_column("prediction_id").head(5).to_list()),
        conflicts=conflicts, conflict_examples=conflict_examples,
    )


def _label_conflicts(good: pl.DataFrame) -> tuple[int, tuple[str, ...]]:
    """Ids labelled more than once in one batch with different values: how many, and for the
    first five which label won and why (the latest labeled_at; on a tie, the later row)."""
    if good.height < 2:
        return 0, ()
    groups = (good.group_by("prediction_id").agg(pl.col("actual").n_unique().alias("_k"), pl.len().alias("_n"))
              .filter(pl.col("_k") > 1))
    if groups.is_empty():
        return 0, ()
    rows = (good.filter(pl.col("prediction_id").is_in(groups.get_column("prediction_id").head(5).implode()))
            .sort("labeled_at", "_row", maintain_order=True)
            .group_by("prediction_id", maintain_order=True)
            .agg(pl.col("actual"), pl.col("_row"), pl.col("labeled_at").n_unique().alias("_t")))
    examples = []
    for pid, actuals, row_nums, times in rows.sort("prediction_id").iter_rows():
        why = "the latest labeled_at" if times > 1 else "the last row (same labeled_at)"
        examples.append(f"prediction_id={pid!r}: labels {', '.join(map(str, actuals))} in rows"
                        f" {', '.join(map(str, row_nums))}; {actuals[-1]} wins ({why})")
    return groups.height, tuple(examples)


def _label_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


# ----------------------------------------------------------------------------- reading
_SCHEMA_CACHE: dict[tuple[str, int, int], dict[str, pl.DataType]] = {}


def _file_schema(path: StoragePath) -> dict[str, pl.DataType]:
    st = path.stat()
    key = (str(path), st.st_mtime_ns, st.st_size)
    schema = _SCHEMA_CACHE.get(key)
    if schema is None:
        if isinstance(path, ObjectPath):
            schema = dict(pl.scan_parquet(str(path), hive_partitioning=False, storage_options=storage_options(path))
                          .collect_schema())
        else:
            schema = dict(pl.read_parquet_schema(path))
        if len(_SCHEMA_CACHE) > 100_000:
            _SCHEMA_CACHE.clear()
        _SCHEMA_CACHE[key] = schema
    return schema


def _visible_files(folder: StoragePath) -> list[StoragePath]:
    """Parquet files of one partition directory, minus those a finished compaction replaced."""
    found: dict[str, ObjectPath] | None = None
    if isinstance(folder, ObjectPath):
        listing = folder.children if folder.children is not None else list(folder.iterdir())
        found = {p.name: p for p in listing if p.is_file()}
        names = list(found)
    else:
        try:
            names = os.listdir(folder)
        except FileNotFoundError:
            return []
    present = set(names)
    hidden: set[str] = set()
    for name in names:
        if name.startswith(_MANIFEST_PREFIX) and name.endswith(".json"):
            try:
                manifest = json.loads((folder / name).read_text())
            except (OSError, ValueError):
                continue
            if manifest.get("output") in present:
                hidden.update(manifest.get("sources", []))
    visible = (n for n in names if n.endswith(".parquet") and not n.startswith((".", "_")) and n not in hidden)
    if found is not None:
        return sorted(found[n] for n in visible)
    return sorted(folder / n for n in visible)


def _partition_dirs(root: StoragePath, model: str | None, since: _dt.datetime | None, until: _dt.datetime | None,
                    *, prefetch_files: bool = True) -> list[tuple[str, StoragePath]]:
    """(model, day directory) of the log under ``root`` within the dates of ``since`` and
    ``until``. On object storage the day directories are listed ahead, concurrently
    (``prefetch_files``), for the :func:`_visible_files` calls that follow."""
    remote = isinstance(root, ObjectPath)
    if model is not None:
        model_dirs = [root / f"model_name={model}"]
    else:
        model_dirs = sorted(p for p in root.glob("model_name=*") if p.is_dir())
    lo = since.date() if since else None
    hi = until.date() if until else None
    out = []
    for mdir in model_dirs:
        if not remote and not mdir.is_dir():  # a missing prefix lists as empty: no request to ask
            continue
        name = mdir.name.partition("=")[2]
        for ddir in sorted(mdir.glob("date=*")):
            try:
                day = _dt.date.fromisoformat(ddir.name.partition("=")[2])
            except ValueError:
                continue
            if (lo and day < lo) or (hi and day > hi):
                continue
            out.append((name, ddir))
    if remote and prefetch_files:
        prefetch([d for _, d in out])
    return out


def prediction_files(ws: Workspace, model: str | None = None, since: Any = None, until: Any = None) -> list[StoragePath]:
    """The Parquet files that hold the log (for a model and a time range), oldest day first."""
    s = to_utc(since, "since") if since is not None else None
    u = to_utc(until, "until") if until is not None else None
    return [f for _, files in day_files(ws, model, s, u) for f in files]


def day_files(ws: Workspace, model: str | None = None, since: _dt.datetime | None = None,
              until: _dt.datetime | None = None) -> list[tuple[StoragePath, list[StoragePath]]]:
    """(day directory, its committed files) of the log, for days that have files: what every
    reader of the log reads (files of a batch not yet committed are left out)."""
    with _batch.snapshot(ws) as pend:
        days = [(d, _visible_files(d)) for _, d in _partition_dirs(ws.predictions_dir, model, since, until)]
    frozen = frozenset(pend)
    return [(d, kept) for d, files in days if (kept := _batch.committed(files, frozen))]


_UNDATED = "undated"


def _label_dirs(ws: Workspace, model: str | None = None, since: _dt.datetime | None = None,
                until: _dt.datetime | None = None) -> list[StoragePath]:
    """Label directories: ``labels/model_name=<m>/<YYYY-MM-DD>/`` holds the labels of that
    day's predictions (the day of the prediction, as in ``predictions/``), ``undated/`` the
    labels whose prediction was not in the log when they arrived (always read), and files
    directly under the model directory come from workspaces older than this layout."""
    models = [ws.labels_dir / f"model_name={model}"] if model else sorted(ws.labels_dir.glob("model_name=*"))
    lo = since.date() if since else None
    hi = until.date() if until else None
    out = []
    remote = isinstance(ws.labels_dir, ObjectPath)
    for mdir in models:
        if remote:
            prefetch([mdir])  # one listing: the model's label days, and its files of the older layout
            if not mdir.children:
                continue
        elif not mdir.is_dir():
            continue
        out.append(mdir)
        subs = mdir.children if remote else mdir.iterdir()
        for sub in sorted(p for p in subs if p.is_dir()):
            if sub.name == _UNDATED:
                out.append(sub)
                continue
            try:
                day = _dt.date.fromisoformat(sub.name)
            except ValueError:
                continue
            if (lo is None or day >= lo) and (hi is None or day <= hi):
                out.append(sub)
    if remote:
        prefetch([d for d in out])
    return out


def label_files(ws: Workspace, model: str | None = None, since: Any = None, until: Any = None) -> list[StoragePath]:
    """Label files of a model (all models), restricted to the labels of predictions made
    between ``since`` and ``until`` when given."""
    s = to_utc(since, "since") if since is not None else None
    u = to_utc(until, "until") if until is not None else None
    with _batch.snapshot(ws) as pend:
        files = [f for d in _label_dirs(ws, model, s, u) for f in _visible_files(d)]
    return _batch.committed(files, frozenset(pend))


def _union_schema(files: list[StoragePath], base: dict[str, pl.DataType]) -> tuple[dict[str, pl.DataType], bool]:
    schema = dict(base)
    conflict = False
    clashes = set()
    for f in files:
        for name, dtype in _file_schema(f).items():
            have = schema.get(name)
            if have is None:
                schema[name] = dtype
            elif have != dtype:
                conflict = True
                clashes.add(name)
                schema[name] = pl.String()
    if clashes:
        # files older than the type rule (or written by hand): a feature's known type wins
        known = _known_feature_types(files)
        schema.update({name: known[name] for name in clashes if name in known})
    return schema, conflict


def _known_feature_types(files: list[StoragePath]) -> dict[str, pl.DataType]:
    """Feature types recorded for the models of ``files`` (``predictions/model_name=m/date=d/part``)."""
    out: dict[str, pl.DataType] = {}
    seen = set()
    for f in files:
        parts = f.parents if isinstance(f, Path) else list(f.parents)
        if len(parts) < 4 or parts[2].name != "predictions" or not parts[1].name.startswith("model_name="):
            continue
        model_dir = parts[1]
        if model_dir in seen:
            continue
        seen.add(model_dir)
        folder = parts[3] / "index" / model_dir.name / "features.json"
        try:
            known = json.loads(folder.read_text())
        except (OSError, ValueError):
            continue
        for name, info in known.items():
            dtype = _index.stored_dtype(info.get("type", "text"))
            if dtype == pl.Boolean:
                dtype = pl.String()  # text cannot be cast to bool: such a clash is read as text
            # models that disagree on a column's type: the union reads it as text
            out[name] = dtype if out.get(name, dtype) == dtype else pl.String()
    return out


def _scan(files: list[StoragePath], base: dict[str, pl.DataType], hive: dict[str, pl.DataType]) -> pl.LazyFrame:
    if not files:
        return pl.DataFrame(schema={**base, **hive}).lazy()
    schema, conflict = _union_schema(files, base)
    options = storage_options(files[0])
    sources: Any = [str(f) for f in files] if options else files
    if not conflict:
        return pl.scan_parquet(
            sources, schema=schema, hive_partitioning=bool(hive), hive_schema=hive or None,
            missing_columns="insert", extra_columns="ignore", storage_options=options,
        )
    # a column changed type between files: read them one by one, widening the conflicts to text
    frames = []
    for f, source in zip(files, sources, strict=True):
        own = _file_schema(f)
        lf = pl.scan_parquet(source, hive_partitioning=bool(hive), hive_schema=hive or None, storage_options=options)
        # to the known type where there is one (a value it cannot read is null), else to text
        frames.append(lf.with_columns([pl.col(c).cast(t, strict=False) for c, t in schema.items()
                                       if c in own and own[c] != t]))
    return pl.concat(frames, how="diagonal_relaxed")


def read_labels(ws: Workspace, model: str | None = None, *, latest: bool = True, since: Any = None,
                until: Any = None) -> pl.LazyFrame:
    """Labels as a LazyFrame: ``model_name, prediction_id, actual, labeled_at`` (latest per
    prediction when ``latest``); ``since``/``until`` keep the labels of predictions made in
    that range (by day, plus the undated ones)."""
    lf = _scan(label_files(ws, model, since, until), LABEL_SCHEMA, {"model_name": pl.String()})
    if latest:
        lf = lf.sort(_LABEL_ORDER, nulls_last=False, maintain_order=True).group_by("model_name", "prediction_id").agg(
            pl.col("actual").last(), pl.col("labeled_at").last()
        )
    return lf


def read_predictions(
    ws: Workspace,
    model: str | None = None,
    version: str | None = None,
    since: Any = None,
    until: Any = None,
    last_n: int | None = None,
    *,
    with_labels: bool = True,
) -> pl.LazyFrame:
    """The prediction log as a polars LazyFrame.

    Parameters
    ----------
    model, version
        Restrict to one model (only its directories are read) and one version.
    since, until
        Time range on ``timestamp`` (``since`` inclusive, ``until`` exclusive); datetimes,
        ISO strings, or a duration such as ``"24h"`` for ``since`` (meaning "the last 24 h").
    last_n
        Only the newest ``n`` predictions (after the other filters).
    with_labels
        Join the latest late label per prediction: ``actual`` becomes the label when there is
        one (else the value logged with the prediction) and ``labeled_at`` says when.

    The same files can be queried with DuckDB, e.g.
    ``read_parquet('predictions/*/*/*.parquet', hive_partitioning=true, union_by_name=true)``,
    or with :func:`sql`, which also joins labels and skips files replaced by compaction.
    """
    if since is not None and isinstance(since, str) and since[:1].isdigit() and since[-1:] in "smhdw" and "-" not in since:
        since = now() - parse_duration(since, "since")
    s = to_utc(since, "since") if since is not None else None
    u = to_utc(until, "until") if until is not None else None
    if model is not None and not is_valid_name(model):
        raise ValidationError(f"model={model!r}: expected a model name")
    if last_n is not None and (isinstance(last_n, bool) or not isinstance(last_n, int) or last_n < 1):
        raise ValidationError(f"last_n={last_n!r}: expected a positive integer")
    days = _log_days(ws, model, s, u) if with_labels else None
    if days:
        loose = {name: _loose_label_files(ws, name) for name in {name for name, *_ in days}}
        lf = pl.concat([_labelled_day(ws, name, d, files, loose[name], lfiles) for name, d, files, lfiles in days],
                       how="diagonal_relaxed")
    else:
        lf = _scan(prediction_files(ws, model, s, u) if days is None else [], BASE_SCHEMA, HIVE_SCHEMA)
        if with_labels:
            lf = lf.with_columns(pl.lit(None, pl.Datetime("us", "UTC")).alias("labeled_at"))
    if version is not None:
        lf = lf.filter(pl.col("version") == str(Version.parse(version)))
    if s is not None:
        lf = lf.filter(pl.col("timestamp") >= pl.lit(s).dt.cast_time_unit("us"))
    if u is not None:
        lf = lf.filter(pl.col("timestamp") < pl.lit(u).dt.cast_time_unit("us"))
    if last_n is not None:
        lf = lf.sort("timestamp", descending=True).head(last_n).sort("timestamp")
    base_cols = ["model_name", "version", "prediction_id", "timestamp", "prediction", "actual", "confidence"]
    if with_labels:
        base_cols.append("labeled_at")
    rest = [c for c in lf.collect_schema().names() if c not in base_cols and c != _LABEL_ARRIVAL]
    return lf.select(base_cols + rest)


# ----------------------------------------------------------------------------- labelled days
# Joining late labels at query time costs a hash join over every labelled prediction of the
# window; over 30 days of a busy model that is seconds. Labels are stored by their
# predictions' day, so each day can be joined on its own and the result kept: a cached file
# per (model, day) whose name carries a signature of the files it was made from. A query uses
# it while the signature matches and joins the day live otherwise (today, typically), so a
# stale cache is never read. Labels that arrived before their prediction (``undated/``) are
# few and are joined at query time on top. ``log_labels`` and ``compact`` refresh the days
# they touched; ``refresh_labelled(ws)`` refreshes everything.
def _labelled_dir(ws: Workspace, model: str, day_dir: StoragePath) -> Path:
    return ws.path / "cache" / "labelled" / f"model_name={model}" / day_dir.name


def _log_days(ws: Workspace, model: str | None, since: _dt.datetime | None, until: _dt.datetime | None,
              ) -> list[tuple[str, StoragePath, list[StoragePath], list[StoragePath]]]:
    """(model, day directory, its files, the label files stored under that day) for each day
    between ``since`` and ``until`` that has files. On object storage the day directories,
    then their label directories, are each listed in one round of concurrent requests."""
    with _batch.snapshot(ws) as pend:
        days = [(name, d, files) for name, d in _partition_dirs(ws.predictions_dir, model, since, until)
                if (files := _visible_files(d))]
        label_dirs = [_day_label_dir(ws, name, d) for name, d, _ in days]
        if ws.remote:
            prefetch(label_dirs)  # type: ignore[arg-type]
        out = [(name, d, files, _visible_files(ld)) for (name, d, files), ld in zip(days, label_dirs, strict=True)]
    frozen = frozenset(pend)
    if not frozen:
        return out
    return [(name, d, kept, _batch.committed(lfiles, frozen)) for name, d, files, lfiles in out
            if (kept := _batch.committed(files, frozen))]


def _day_label_dir(ws: Workspace, model: str, day_dir: StoragePath) -> StoragePath:
    return ws.labels_dir / f"model_name={model}" / day_dir.name.partition("=")[2]


def _day_label_files(ws: Workspace, model: str, day_dir: StoragePath) -> list[StoragePath]:
    """Labels stored under the day of their predictions."""
    with _batch.snapshot(ws) as pend:
        files = _visible_files(_day_label_dir(ws, model, day_dir))
    return _batch.committed(files, frozenset(pend))


def _loose_label_files(ws: Workspace, model: str) -> list[StoragePath]:
    """Labels that can belong to any day: those that arrived before their prediction
    (``undated/``) and files of the layout before labels were stored by day."""
    root = ws.labels_dir / f"model_name={model}"
    with _batch.snapshot(ws) as pend:
        if isinstance(root, ObjectPath):
            prefetch([root])  # one listing; undated/ only when it is there
            undated = [p for p in root.children or [] if p.name == _UNDATED and p.is_dir()]
            files = [*_visible_files(root), *(_visible_files(undated[0]) if undated else [])]
        else:
            files = [*_visible_files(root), *_visible_files(root / _UNDATED)]
    return _batch.committed(files, frozenset(pend))


def _signature(files: list[StoragePath]) -> str:
    h = hashlib.blake2b(digest_size=10)
    for f in files:
        try:
            st = f.stat()
            key = f"{st.st_size}:{st.st_mtime_ns}:{st.st_ino}"  # a file rewritten in place changes it
        except FileNotFoundError:
            key = "-"
        h.update(f"{f.parent.name}/{f.name}:{key}\n".encode())
    return h.hexdigest()


def _apply_labels(lf: pl.LazyFrame, lfiles: list[StoragePath], *, labelled: bool) -> pl.LazyFrame:
    """Join the latest label per prediction from ``lfiles`` (latest by ``labeled_at``, then by
    arrival); when ``lf`` already carries labels (``labelled``), a label replaces it only if
    it is later in that order."""
    labels = (_scan(lfiles, LABEL_SCHEMA, {"model_name": pl.String()}).select("prediction_id", "actual", *_LABEL_ORDER)
              .sort(_LABEL_ORDER, nulls_last=False, maintain_order=True).group_by("prediction_id")
              .agg(pl.col("actual").last().alias("_label"), pl.col("labeled_at").last().alias("_lat"),
                   pl.col("ingested_at").last().alias("_ling")))
    lf = lf.join(labels, on="prediction_id", how="left")
    if labelled:
        have, have_ing = pl.col("labeled_at"), pl.col(_LABEL_ARRIVAL)
        newer = pl.col("_lat").is_not_null() & (
            have.is_null() | (pl.col("_lat") > have)
            | ((pl.col("_lat") == have) & (have_ing.is_null() | (pl.col("_ling").fill_null(_EPOCH) >= have_ing))))
        lf = lf.with_columns(pl.when(newer).then(pl.col("_label")).otherwise(pl.col("actual")).alias("actual"),
                             pl.when(newer).then(pl.col("_lat")).otherwise(have).alias("labeled_at"),
                             pl.when(newer).then(pl.col("_ling")).otherwise(have_ing).alias(_LABEL_ARRIVAL))
    else:
        lf = lf.with_columns(pl.coalesce("_label", "actual").alias("actual"), pl.col("_lat").alias("labeled_at"),
                             pl.col("_ling").alias(_LABEL_ARRIVAL))
    return lf.drop("_label", "_lat", "_ling")


_LABEL_ARRIVAL = "_label_ingested_at"  # carried with the joined label, dropped before results
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=UTC)


def _live_day(files: list[StoragePath], lfiles: list[StoragePath]) -> pl.LazyFrame:
    lf = _scan(files, BASE_SCHEMA, HIVE_SCHEMA)
    if not lfiles:
        return lf.with_columns(pl.lit(None, pl.Datetime("us", "UTC")).alias("labeled_at"),
                               pl.lit(None, pl.Datetime("us", "UTC")).alias(_LABEL_ARRIVAL))
    return _apply_labels(lf, lfiles, labelled=False)


def _labelled_day(ws: Workspace, model: str, day_dir: StoragePath, files: list[StoragePath], loose: list[StoragePath],
                  lfiles: list[StoragePath] | None = None) -> pl.LazyFrame:
    if lfiles is None:
        lfiles = _day_label_files(ws, model, day_dir)
    cached = _labelled_dir(ws, model, day_dir) / f"joined-{_signature(files + lfiles)}.parquet"
    lf = pl.scan_parquet(cached, hive_partitioning=False) if lfiles and cached.exists() else _live_day(files, lfiles)
    return _apply_labels(lf, loose, labelled=True) if loose else lf


CACHE_GRACE_SECONDS = 300.0  # a reader that listed an old cache file can still open it


def _drop_old_cache(folder: Path, pattern: str, keep: Path) -> None:
    """Delete superseded cache files of a folder once they are older than the grace period."""
    limit = time.time() - CACHE_GRACE_SECONDS
    for old in folder.glob(pattern):
        try:
            if old != keep and old.stat().st_mtime < limit:
                old.unlink(missing_ok=True)
        except FileNotFoundError:
            pass


def refresh_labelled(ws: Workspace, model: str | None = None, days: Iterable[_dt.date] | None = None) -> int:
    """Write the joined (predictions + latest labels) file of every day whose cache is
    missing or stale; returns how many were written. Old cache files are removed."""
    wanted = None if days is None else {d.isoformat() for d in days}
    if wanted is not None and not wanted:
        return 0
    lo = hi = None
    if wanted:  # only the days asked for are listed (on object storage, each is a request)
        lo, hi = (_dt.datetime.fromisoformat(min(wanted)).replace(tzinfo=UTC),
                  _dt.datetime.fromisoformat(max(wanted)).replace(tzinfo=UTC))
    written = 0
    for name, d, files, lfiles in _log_days(ws, model, lo, hi):
        if wanted is not None and d.name.partition("=")[2] not in wanted:
            continue
        if not lfiles:
            continue  # nothing to join: the live read is a plain scan
        folder = _labelled_dir(ws, name, d)
        target = folder / f"joined-{_signature(files + lfiles)}.parquet"
        if target.exists():
            continue
        frame = _live_day(files, lfiles).collect()
        _write_parquet_atomic(frame, target)  # fsynced: a torn cache file would match its signature
        _drop_old_cache(folder, "joined-*.parquet", target)
        written += 1
    return written


def _quarantine_files(ws: Workspace, since: _dt.date | None = None) -> list[StoragePath]:
    dirs = []
    with _batch.snapshot(ws) as pend:
        for d in sorted(ws.quarantine_dir.glob("date=*")):
            day = _dt.date.fromisoformat(d.name.partition("=")[2])
            if since is None or day >= since:
                dirs.append(d)
        if ws.remote:
            prefetch(dirs)
        files = [f for d in dirs for f in _visible_files(d)]
    return _batch.committed(files, frozenset(pend))


def _read_parquet(path: StoragePath) -> pl.DataFrame:
    """One whole Parquet file (without hive columns), local or in a bucket."""
    if isinstance(path, ObjectPath):
        return pl.read_parquet(str(path), hive_partitioning=False, storage_options=storage_options(path))
    return pl.read_parquet(path, hive_partitioning=False)


def read_quarantine(ws: Workspace, since: Any = None) -> pl.DataFrame:
    """Quarantined rows with their reasons (all columns as text), newest first."""
    lo = to_utc(since, "since").date() if since is not None else None
    files = _quarantine_files(ws, lo)
    if not files:
        return pl.DataFrame(schema={"row": pl.UInt32, "rule": pl.String, "reason": pl.String, "source": pl.String,
                                    "batch_id": pl.String, "quarantined_at": pl.Datetime("us", "UTC")})
    if ws.remote and len(files) > 1:
        with concurrent.futures.ThreadPoolExecutor(max_workers=min(16, len(files))) as pool:
            frames = list(pool.map(_read_parquet, files))
    else:
        frames = [_read_parquet(f) for f in files]
    return pl.concat(frames, how="diagonal_relaxed").sort("quarantined_at", descending=True)


_SQL_LOCK = threading.Lock()


def _sql_list(files: list[StoragePath]) -> str:
    return "[" + ", ".join("'" + str(f).replace("'", "''") + "'" for f in files) + "]"


def sql(ws: Workspace, query: str, params: list[Any] | None = None) -> pl.DataFrame:
    """Run DuckDB SQL over the workspace. Views: ``predictions`` (latest labels joined, files
    replaced by compaction skipped), ``predictions_raw``, ``labels`` (latest per prediction)
    and ``quarantine``.

    >>> import tempfile, mlmm
    >>> ws = mlmm.open_workspace(tempfile.mkdtemp())
    >>> _ = ws.registry.register("m", "1.0.0")
    >>> _ = log_predictions(ws, {"version": ["1.0.0"] * 3, "prediction": [1, 0, 1]}, model="m")
    >>> ws.sql("SELECT model_name, count(*) AS n, count(*) FILTER (prediction = 1) AS positives"
    ...        " FROM predictions GROUP BY 1").rows()
    [('m', 3, 2)]
    """
    cur = memory_cursor()
    pfiles = prediction_files(ws)
    lfiles = label_files(ws)
    qfiles = _quarantine_files(ws)
    if ws.remote:
        return _sql_arrow(cur, query, params, pfiles, lfiles, qfiles)
    base = ", ".join(f"NULL::{_duck_type(t)} AS {c}" for c, t in {**HIVE_SCHEMA, **BASE_SCHEMA}.items())
    raw = (
        f"SELECT * FROM read_parquet({_sql_list(pfiles)}, hive_partitioning = true, union_by_name = true,"
        " hive_types = {'model_name': VARCHAR, 'date': DATE})" if pfiles else f"SELECT {base} WHERE false"
    )
    order = ("{'t': labeled_at, 'i': coalesce(ingested_at, TIMESTAMPTZ '1970-01-01 00:00:00+00')}"
             if any("ingested_at" in _file_schema(f) for f in lfiles) else "labeled_at")
    labels = (
        f"SELECT model_name, prediction_id, arg_max(actual, {order}) AS actual, max(labeled_at) AS labeled_at"
        f" FROM read_parquet({_sql_list(lfiles)}, hive_partitioning = true, union_by_name = true,"
        " hive_types = {'model_name': VARCHAR}) GROUP BY ALL"
        if lfiles else
        "SELECT NULL::VARCHAR AS model_name, NULL::VARCHAR AS prediction_id, NULL::BIGINT AS actual,"
        " NULL::TIMESTAMPTZ AS labeled_at WHERE false"
    )
    quarantine = (
        f"SELECT * FROM read_parquet({_sql_list(qfiles)}, union_by_name = true, hive_partitioning = false)"
        if qfiles else "SELECT NULL::VARCHAR AS reason WHERE false"
    )
    with _SQL_LOCK:
        cur.execute("SET TimeZone = 'UTC'")
        cur.execute(f"CREATE OR REPLACE TEMP VIEW predictions_raw AS {raw}")
        cur.execute(f"CREATE OR REPLACE TEMP VIEW labels AS {labels}")
        cur.execute(f"CREATE OR REPLACE TEMP VIEW quarantine AS {quarantine}")
        cur.execute(
            "CREATE OR REPLACE TEMP VIEW predictions AS SELECT p.* REPLACE (coalesce(l.actual, p.actual) AS actual),"
            " l.labeled_at FROM predictions_raw p LEFT JOIN labels l USING (model_name, prediction_id)"
        )
        return cur.sql(query, params=params or None).pl()


def _duck_order(lf: pl.LazyFrame, files: list[StoragePath], hive: dict[str, pl.DataType]) -> pl.LazyFrame:
    """Columns in the order DuckDB's ``union_by_name`` gives them: as first seen in the files,
    then the hive columns."""
    names: dict[str, None] = {}
    for f in files:
        names.update(dict.fromkeys(_file_schema(f)))
    names.update(dict.fromkeys(hive))
    return lf.select(list(names))


def _sql_arrow(cur: Any, query: str, params: list[Any] | None, pfiles: list[StoragePath],
               lfiles: list[StoragePath], qfiles: list[StoragePath]) -> pl.DataFrame:
    """:func:`sql` for a log on object storage. DuckDB would need its httpfs extension (a
    download at run time) to read ``s3://``; instead polars scans the files (lazily, with the
    same schema rules as :func:`read_predictions`) and DuckDB reads those scans through Arrow,
    asking only for the columns a query uses."""
    raw = _duck_order(_scan(pfiles, BASE_SCHEMA, HIVE_SCHEMA), pfiles, HIVE_SCHEMA) if pfiles else None
    labels = _scan(lfiles, LABEL_SCHEMA, {"model_name": pl.String()}) if lfiles else None
    quarantine = _duck_order(_scan(qfiles, {}, {}), qfiles, {}) if qfiles else None
    base = ", ".join(f"NULL::{_duck_type(t)} AS {c}" for c, t in {**HIVE_SCHEMA, **BASE_SCHEMA}.items())
    with _SQL_LOCK:
        cur.execute("SET TimeZone = 'UTC'")
        for name, frame in (("_mlmm_predictions_raw", raw), ("_mlmm_labels_raw", labels), ("_mlmm_quarantine", quarantine)):
            if frame is not None:
                cur.register(name, frame)
        cur.execute("CREATE OR REPLACE TEMP VIEW predictions_raw AS "
                    + ("SELECT * FROM _mlmm_predictions_raw" if raw is not None else f"SELECT {base} WHERE false"))
        cur.execute(
            "CREATE OR REPLACE TEMP VIEW labels AS "
            + ("SELECT model_name, prediction_id, arg_max(actual, {'t': labeled_at, 'i': coalesce(ingested_at,"
               " TIMESTAMPTZ '1970-01-01 00:00:00+00')}) AS actual, max(labeled_at) AS labeled_at"
               " FROM _mlmm_labels_raw GROUP BY ALL" if labels is not None else
               "SELECT NULL::VARCHAR AS model_name, NULL::VARCHAR AS prediction_id, NULL::BIGINT AS actual,"
               " NULL::TIMESTAMPTZ AS labeled_at WHERE false"))
        cur.execute("CREATE OR REPLACE TEMP VIEW quarantine AS "
                    + ("SELECT * FROM _mlmm_quarantine" if quarantine is not None else "SELECT NULL::VARCHAR AS reason WHERE false"))
        cur.execute(
            "CREATE OR REPLACE TEMP VIEW predictions AS SELECT p.* REPLACE (coalesce(l.actual, p.actual) AS actual),"
            " l.labeled_at FROM predictions_raw p LEFT JOIN labels l USING (model_name, prediction_id)"
        )
        try:
            return cur.sql(query, params=params or None).pl()
        finally:
            for name, frame in (("_mlmm_predictions_raw", raw), ("_mlmm_labels_raw", labels), ("_mlmm_quarantine", quarantine)):
                if frame is not None:
                    cur.unregister(name)


def _duck_type(dtype: pl.DataType) -> str:
    if dtype == pl.String:
        return "VARCHAR"
    if dtype == pl.Int64:
        return "BIGINT"
    if dtype == pl.Float64:
        return "DOUBLE"
    if dtype == pl.Date:
        return "DATE"
    if isinstance(dtype, pl.Datetime):
        return "TIMESTAMPTZ"
    return "VARCHAR"


# ----------------------------------------------------------------------------- stats
def stats(ws: Workspace, model: str | None = None) -> pl.DataFrame:
    """Per model and version: predictions, labelled share, positives, time range, files,
    size, plus quarantined rows per model.

    >>> import tempfile, mlmm
    >>> ws = mlmm.open_workspace(tempfile.mkdtemp())
    >>> _ = ws.registry.register("m", "1.0.0")
    >>> _ = log_predictions(ws, {"version": ["1.0.0"] * 4, "prediction": [1, 0, 1, 1], "actual": [1, None, 0, None]}, model="m")
    >>> stats(ws).select("model_name", "version", "predictions", "labelled", "label_coverage", "positive_rate").row(0)
    ('m', '1.0.0', 4, 2, 0.5, 0.75)
    """
    lf = read_predictions(ws, model=model)
    table = (
        lf.group_by("model_name", "version")
        .agg(
            pl.len().alias("predictions"),
            pl.col("actual").is_not_null().sum().alias("labelled"),
            pl.col("prediction").mean().alias("positive_rate"),
            pl.col("confidence").mean().alias("mean_confidence"),
            pl.col("timestamp").min().alias("first"),
            pl.col("timestamp").max().alias("last"),
        )
        .with_columns((pl.col("labelled") / pl.col("predictions")).alias("label_coverage"))
        .sort("model_name", "version")
        .collect()
    )
    table = table.with_columns(pl.col("labelled").cast(pl.Int64), pl.col("predictions").cast(pl.Int64))
    files: dict[str, tuple[int, int]] = {}
    for d, day in day_files(ws, model):
        name = d.parent.name.partition("=")[2]
        for f in day:
            n, b = files.get(name, (0, 0))
            files[name] = (n + 1, b + f.stat().st_size)
    quarantine = read_quarantine(ws)
    q_counts: dict[str, int] = {}
    if quarantine.height and "model_name" in quarantine.columns:
        for name, n in quarantine.group_by("model_name").len().iter_rows():
            q_counts[str(name)] = n
    table = table.with_columns(
        pl.col("model_name").replace_strict({k: v[0] for k, v in files.items()}, default=0, return_dtype=pl.Int64).alias("model_files"),
        pl.col("model_name").replace_strict({k: v[1] for k, v in files.items()}, default=0, return_dtype=pl.Int64).alias("model_bytes"),
        pl.col("model_name").replace_strict(q_counts, default=0, return_dtype=pl.Int64).alias("model_quarantined"),
    )
    return table.select(
        "model_name", "version", "predictions", "labelled", "label_coverage", "positive_rate", "mean_confidence",
        "first", "last", "model_files", "model_bytes", "model_quarantined",
    )


# ----------------------------------------------------------------------------- maintenance
@dataclasses.dataclass(frozen=True)
class MaintenanceSummary:
    """What cleanup or compaction did (or, with ``dry_run``, would do)."""

    action: str
    files_removed: int
    files_written: int
    rows: int
    bytes_freed: int
    partitions: int
    dry_run: bool
    details: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def __repr__(self) -> str:
        verb = "would remove" if self.dry_run else "removed"
        return (f"<MaintenanceSummary {self.action}: {self.partitions} partitions, {verb} {self.files_removed} files"
                f" ({self.rows} rows, {self.bytes_freed} bytes), wrote {self.files_written}>")


def cleanup(ws: Workspace, older_than: Any = None, *, dry_run: bool = False, reference: Any = None) -> MaintenanceSummary:
    """Delete predictions, labels and quarantined rows older than the retention period.

    ``older_than`` is a duration (``"30d"``); default the workspace's ``retention_days``
    setting (30, from seed 000). Whole day-partitions before the cut-off are removed;
    label files go once every label in them is older. Stale temporary files left by
    crashed writers (older than an hour) are removed too.
    """
    keep = parse_duration(older_than, "older_than") if older_than is not None else _dt.timedelta(days=int(ws.setting("retention_days", 30)))
    ref = to_utc(reference, "reference") if reference is not None else now()
    cutoff = ref - keep
    removed = rows = freed = parts = 0
    details = []
    pruned: set[str] = set()
    if not dry_run:
        _batch.sweep(ws)  # imports that were killed: their files go first
    for root in (ws.predictions_dir, ws.quarantine_dir):
        dirs = ([d for _, d in _partition_dirs(root, None, None, None, prefetch_files=False)]
                if root == ws.predictions_dir else sorted(root.glob("date=*")))
        for d in dirs:
            day = _dt.date.fromisoformat(d.name.partition("=")[2])
            if day >= cutoff.date():
                continue
            everything = [f for f in d.rglob("*") if f.is_file()]
            files = [f for f in everything if f.parent == d and f.suffix == ".parquet"]
            parts += 1
            removed += len(files)
            rows += sum(_num_rows(f) for f in files if not f.name.startswith("."))
            freed += sum(f.stat().st_size for f in everything)
            details.append(_relative(ws, d))
            if not dry_run:
                _rmtree(d)
                if root == ws.predictions_dir:  # the day's joined cache goes with it; its ids leave the index
                    pruned.add(d.parent.name.partition("=")[2])
                    shutil.rmtree(_labelled_dir(ws, d.parent.name.partition("=")[2], d), ignore_errors=True)
    # labels stored under a prediction day go with that day; older-layout and undated files
    # go when their newest label is past the retention
    for d in _label_dirs(ws):
        if d.name != _UNDATED and d.parent != ws.labels_dir:
            try:
                day = _dt.date.fromisoformat(d.name)
            except ValueError:
                continue
            if day >= cutoff.date():
                continue
            files = _visible_files(d)
            removed += len(files)
            rows += sum(_num_rows(f) for f in files)
            freed += sum(f.stat().st_size for f in d.rglob("*") if f.is_file())
            details.append(_relative(ws, d))
            if not dry_run:
                _rmtree(d)
            continue
        for f in _visible_files(d):
            meta = _parquet_metadata(f)
            newest = _max_statistic(meta, "labeled_at")
            if newest is not None and newest < cutoff:
                removed += 1
                rows += meta.num_rows
                freed += f.stat().st_size
                details.append(_relative(ws, f))
                if not dry_run:
                    f.unlink()
    for name in sorted(pruned):
        _index.prune(ws, name, cutoff.date())
    # temporary files exist only on a local disk: an upload to a bucket is never half visible
    roots = [] if ws.remote else [ws.predictions_dir, ws.labels_dir, ws.quarantine_dir, ws.imports_dir,
                                  ws.log_root / "index"]
    n, b = _sweep_tmp([f for root in roots for f in root.rglob(".*.tmp")], ref.timestamp() - TMP_STALE_SECONDS,
                      dry_run)
    return MaintenanceSummary("cleanup", removed + n, 0, rows, freed + b, parts, dry_run, tuple(details))


TMP_STALE_SECONDS = 3600.0  # a temporary file this old belongs to a writer that was killed


def _sweep_tmp(files: Iterable[Path], before: float, dry_run: bool = False) -> tuple[int, int]:
    """Delete temporary files (``.NAME.<random>.tmp``) last touched before ``before`` (a time);
    returns (files, bytes)."""
    removed = freed = 0
    for f in files:
        try:
            st = f.stat()
            if st.st_mtime < before:
                if not dry_run:
                    f.unlink()
                removed += 1
                freed += st.st_size
        except FileNotFoundError:
            continue
    return removed, freed


def _parquet_metadata(path: StoragePath) -> pq.FileMetaData:
    """A Parquet file's footer (on object storage: a small ranged read, not the file)."""
    if isinstance(path, ObjectPath):
        with path.open_input() as fh:
            return pq.ParquetFile(fh).metadata
    return pq.ParquetFile(path).metadata


def _num_rows(path: StoragePath) -> int:
    return _parquet_metadata(path).num_rows


_relative = _batch.relative


def _rmtree(folder: StoragePath) -> None:
    if isinstance(folder, ObjectPath):
        folder.rmtree()
    else:
        shutil.rmtree(folder)


def _max_statistic(meta: pq.FileMetaData, column: str) -> _dt.datetime | None:
    best = None
    idx = meta.schema.to_arrow_schema().get_field_index(column)
    if idx < 0:
        return None
    for g in range(meta.num_row_groups):
        st = meta.row_group(g).column(idx).statistics
        if st is None or not st.has_min_max:
            return None
        value = st.max
        if isinstance(value, _dt.datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        best = value if best is None or value > best else best
    return best


def compact(
    ws: Workspace,
    model: str | None = None,
    *,
    min_files: int = 2,
    target_rows: int = 5_000_000,
    grace: Any = "5m",
    dry_run: bool = False,
) -> MaintenanceSummary:
    """Merge the small files of each partition into one, atomically for mlmm's readers.

    Each merge writes the new file, then a manifest naming the files it replaces, then
    renames the new file into place (on object storage: uploads it; an object appears
    whole): from that instant readers (:func:`read_predictions`, :func:`sql`) skip the old
    files. The old files stay for ``grace`` (default 5 minutes) so a query that listed them
    before the switch can still read them; a later ``compact`` or ``cleanup`` deletes them.
    Label files are compacted the same way.

    Two compactions of the same partition at once cannot both switch: each checks, after
    writing its manifest and before the switch, that no other manifest claims any of its
    files, and gives up (leaving the files as they were) when one does.
    """
    grace_s = parse_duration(grace, "grace").total_seconds()
    if not dry_run:
        _batch.sweep(ws)
        if not ws.remote:
            _sweep_tmp([f for root in (ws.predictions_dir, ws.labels_dir) for f in root.rglob(".*.tmp")],
                       time.time() - TMP_STALE_SECONDS)
    removed = written = rows = freed = parts = 0
    details = []
    dirs = [d for _, d in _partition_dirs(ws.predictions_dir, model, None, None, prefetch_files=False)]
    dirs += _label_dirs(ws, model)
    for d in dirs:
        if isinstance(d, ObjectPath):
            d = ObjectPath(d.store, d.key)  # listed again below: _finish_manifests may delete files
        elif not d.is_dir():
            continue
        r, b = _finish_manifests(d, grace_s, dry_run)
        removed += r
        freed += b
        with _batch.snapshot(ws) as pend:  # a batch not yet committed is never merged
            files = _visible_files(d)
        files = _batch.committed(files, frozenset(pend))
        counts = {f: _num_rows(f) for f in files}
        small = [f for f in files if counts[f] < target_rows]
        if len(small) < min_files:
            continue
        n = sum(counts[f] for f in small)
        detail = f"{_relative(ws, d)}: {len(small)} files -> 1 ({n} rows)"
        if dry_run:
            parts += 1
            rows += n
            details.append(detail)
            continue
        is_labels = ws.labels_dir in d.parents
        frames = [_read_parquet(f) for f in small]
        merged = pl.concat(frames, how="diagonal_relaxed").sort("labeled_at" if is_labels else "timestamp")
        out_name = f"part-c{uuid.uuid4().hex}.parquet"
        manifest_path = d / f"{_MANIFEST_PREFIX}{out_name[5:-8]}.json"
        manifest = {"output": out_name, "sources": [f.name for f in small], "created_at": now().isoformat(), "rows": n}
        if isinstance(d, ObjectPath):
            buf = io.BytesIO()
            merged.write_parquet(buf, **_PARQUET_OPTS)  # encoded before the manifest: the switch follows at once
            _write_json(manifest_path, manifest)
            if _claimed_elsewhere(d, manifest_path.name, set(manifest["sources"])):
                manifest_path.unlink(missing_ok=True)
                details.append(f"{_relative(ws, d)}: skipped, another compaction is merging these files")
                continue
            (d / out_name).write_bytes(buf.getbuffer())
        else:
            tmp = d / f".{out_name}.tmp"
            merged.write_parquet(tmp, **_PARQUET_OPTS)
            atomic_write_json(manifest_path, manifest)
            if _claimed_elsewhere(d, manifest_path.name, set(manifest["sources"])):
                manifest_path.unlink(missing_ok=True)
                tmp.unlink(missing_ok=True)
                details.append(f"{_relative(ws, d)}: skipped, another compaction is merging these files")
                continue
            os.replace(tmp, d / out_name)
            fsync_dir(d)
        parts += 1
        rows += n
        details.append(detail)
        written += 1
        if grace_s <= 0:
            r, b = _finish_manifests(d, 0, False)
            removed += r
            freed += b
    if not dry_run:
        refresh_labelled(ws, model)
    return MaintenanceSummary("compact", removed, written, rows, freed, parts, dry_run, tuple(details))


def _claimed_elsewhere(folder: StoragePath, own: str, sources: set[str]) -> bool:
    """True when another manifest in ``folder`` names one of ``sources``: a compaction of
    the same files that runs (or crashed) at the same time. Each compaction writes its
    manifest before it checks, so of two that overlap at most one gets past this check."""
    for path in folder.glob(f"{_MANIFEST_PREFIX}*.json"):
        if path.name == own:
            continue
        try:
            other = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if sources.intersection(other.get("sources", [])):
            log.info("%s: %s claims files of this compaction; leaving them", folder, path.name)
            return True
    return False


# A manifest whose output never appeared belongs to a compaction that crashed, or to one that
# is between its manifest and its switch: it is removed only after this long (at least).
_ORPHAN_SECONDS = 600.0


def _finish_manifests(folder: StoragePath, grace_s: float, dry_run: bool) -> tuple[int, int]:
    """Delete files replaced by compactions older than the grace period; then the manifests
    (one grace period later, so no reader can see old files without their manifest)."""
    removed = freed = 0
    limit = time.time() - grace_s
    for manifest_path in sorted(folder.glob(f"{_MANIFEST_PREFIX}*.json")):
        try:
            manifest = json.loads(manifest_path.read_text())
        except (OSError, ValueError):
            continue
        if not (folder / manifest.get("output", "")).exists():
            # a compaction that crashed before its switch (or is just before it): no output
            if manifest_path.stat().st_mtime < time.time() - max(grace_s, _ORPHAN_SECONDS) and not dry_run:
                manifest_path.unlink(missing_ok=True)
            continue
        if manifest_path.stat().st_mtime >= limit and grace_s > 0:
            continue
        if "sources_deleted_at" not in manifest:
            for name in manifest.get("sources", []):
                f = folder / name
                if f.exists():
                    removed += 1
                    freed += f.stat().st_size
                    if not dry_run:
                        f.unlink()
            if not dry_run:
                manifest["sources_deleted_at"] = now().isoformat()
                _write_json(manifest_path, manifest)
                if grace_s <= 0:
                    manifest_path.unlink()
        elif not dry_run:
            manifest_path.unlink()
    return removed, freed


# ----------------------------------------------------------------------------- tracker
_TRACKERS: weakref.WeakSet[PredictionTracker] = weakref.WeakSet()
_BACKLOG_FACTOR = 5  # a backlogged tracker writes up to this many flush_rows per file


class PredictionTracker:
    """Log predictions one at a time from serving code, cheaply and without blocking.

    ``track()`` appends to an in-memory buffer (about a microsecond); a background thread
    writes the buffer to an immutable Parquet file when it reaches ``flush_rows`` rows
    (default 10,000) or when its oldest row is ``max_age`` seconds old (default 1 s), and on
    :meth:`flush`, :meth:`close`, context exit and interpreter exit. Rows that fail
    validation at flush go to quarantine; see :meth:`stats`.

    **What a crash can lose.** A ``kill -9`` (or a power cut with ``durable=False``) loses the
    rows still in the buffer: at a steady rate below ``flush_rows`` per ``max_age``, those
    tracked in the last ``max_age`` seconds plus the time one write takes; a file is written
    whole or not at all (:mod:`mlmm._batch`).

    **Bounded memory.** The buffer holds at most ``max_buffer`` rows (default 1,000,000),
    e.g. while the disk is full or slower than the callers. Then ``on_full`` decides:
    ``"block"`` (default) makes ``track()`` wait up to ``block_timeout`` seconds (default
    1 s) for the writer and drops the new row if there is still no room (after one such
    wait, rows are dropped at once until the writer has made room); ``"drop_oldest"``
    drops the oldest row not being written at once. Every dropped row is counted in
    ``stats()["dropped"]`` and logged (warning, once per second at most).

    >>> import tempfile, mlmm
    >>> ws = mlmm.open_workspace(tempfile.mkdtemp())
    >>> _ = ws.registry.register("n1-detector", "1.0.0")
    >>> with PredictionTracker(ws) as tracker:
    ...     pid = tracker.track("n1-detector", "1.0.0", prediction=True, confidence=0.93,
    ...                         features={"query_count": 41, "endpoint": "/orders"})
    >>> ws.predictions("n1-detector").select("prediction", "confidence", "query_count", "endpoint").collect().row(0)
    (1, 0.93, 41.0, '/orders')
    """

    def __init__(
        self,
        ws: Workspace,
        *,
        flush_rows: int = 10_000,
        max_age: float = 1.0,
        strict: bool = True,
        durable: bool = True,
        max_buffer: int = 1_000_000,
        on_full: str = "block",
        block_timeout: float = 1.0,
    ) -> None:
        if flush_rows < 1:
            raise ValidationError(f"flush_rows={flush_rows!r}: expected a positive integer")
        if max_age <= 0:
            raise ValidationError(f"max_age={max_age!r}: expected a positive number of seconds")
        if isinstance(max_buffer, bool) or not isinstance(max_buffer, int) or max_buffer < 1:
            raise ValidationError(f"max_buffer={max_buffer!r}: expected a positive number of rows")
        if on_full not in ("block", "drop_oldest"):
            raise ValidationError(f"on_full={on_full!r}: expected 'block' or 'drop_oldest'")
        if not block_timeout >= 0:
            raise ValidationError(f"block_timeout={block_timeout!r}: expected a number of seconds >= 0")
        self.max_buffer = max_buffer
        self.on_full = on_full
        self.block_timeout = float(block_timeout)
        self._buf_lock = threading.Lock()  # structural changes of the buffer (not appends)
        self._inflight = 0  # rows at the front of the buffer that a write holds
        self._dropped_logged_at = 0.0
        self._shedding = False
        self._count_lock = threading.Lock()
        self.ws = ws
        self.flush_rows = flush_rows
        self.max_age = max_age
        self.strict = strict
        self.durable = durable
        self._buf: list[tuple[Any, ...]] = []
        self._write_lock = threading.Lock()
        self._wake = threading.Event()
        self._first = 0.0
        self._prefix = uuid.uuid4().hex[:12] + "-"
        self._counter = itertools.count()
        self._closed = False
        self._known: _Facts | None = None
        self._known_at = 0.0
        self._asked: set[tuple[str, str]] = set()  # unregistered (model, version) pairs already asked about
        self._settings: dict[str, Any] | None = None
        self._settings_at = 0.0
        self._stats = {"tracked": 0, "written": 0, "quarantined": 0, "files": 0, "flushes": 0, "errors": 0,
                       "dropped": 0}
        self.last_error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="mlmm-tracker-flush", daemon=True)
        self._pid = os.getpid()
        self._thread.start()
        _TRACKERS.add(self)

    def track(
        self,
        model: str,
        version: str,
        prediction: Any,
        actual: Any = None,
        confidence: float | None = None,
        features: Mapping[str, Any] | None = None,
        prediction_id: str | None = None,
        timestamp: Any = None,
    ) -> str:
        """Buffer one prediction; returns its ``prediction_id`` (generated when not given),
        which :func:`log_labels` uses when the ground truth arrives."""
        if prediction_id is None:
            prediction_id = self._prefix + str(next(self._counter))
        if self._closed:
            raise MlmmError("tracker is closed; expected track() before close()")
        buf = self._buf
        if not buf:
            self._first = time.monotonic()
        elif len(buf) >= self.max_buffer and not self._make_room():
            return prediction_id  # counted as dropped
        # list.append is atomic under the GIL; the flusher copies then deletes the first n
        # rows, so no lock is needed here and no row can be lost between the two
        if timestamp is None:
            timestamp = time.time_ns() // 1000  # ints in the buffer are epoch microseconds
        elif type(timestamp) is not float:
            timestamp = _given_stamp(timestamp)
        buf.append((model, version, prediction, actual, confidence, features, prediction_id, timestamp))
        if len(buf) >= self.flush_rows:
            self._wake.set()
        return prediction_id

    def _make_room(self) -> bool:
        """The buffer is full: apply ``on_full``; True when the new row may be appended."""
        self._wake.set()
        if self.on_full == "block":
            # one wait per episode: once a wait timed out, new rows are dropped at once until
            # the writer has made room, so callers are not slowed down by a second each
            deadline = time.monotonic() + (0.0 if self._shedding else self.block_timeout)
            while len(self._buf) >= self.max_buffer and time.monotonic() < deadline and not self._closed:
                time.sleep(0.0005)
            if len(self._buf) < self.max_buffer:
                self._shedding = False
                return True
            self._shedding = True
            self._dropped(1, "new rows (the buffer stayed full for block_timeout)")
            return False
        with self._buf_lock:
            excess = len(self._buf) - self.max_buffer + 1
            start = self._inflight
            if excess > 0 and len(self._buf) > start:
                del self._buf[start:start + excess]
                self._dropped(excess, "the oldest row")
        return True

    def _dropped(self, n: int, what: str) -> None:
        with self._count_lock:  # callers' threads count here
            self._stats["dropped"] += n
        if time.monotonic() - self._dropped_logged_at > 1:
            self._dropped_logged_at = time.monotonic()
            log.warning("prediction tracker buffer full (%d rows, on_full=%s): dropped %s; %d dropped so far"
                        " (last write error: %s)", self.max_buffer, self.on_full, what, self._stats["dropped"],
                        self.last_error)

    @property
    def pending(self) -> int:
        return len(self._buf)

    def stats(self) -> dict[str, Any]:
        """Counters: tracked, written, quarantined, dropped (buffer full), files, flushes,
        errors, pending."""
        out = dict(self._stats)
        out["tracked"] = out["written"] + out["quarantined"] + out["dropped"] + self.pending
        out["pending"] = self.pending
        out["last_error"] = repr(self.last_error) if self.last_error else None
        return out

    def flush(self) -> ImportSummary | None:
        """Write what is buffered now (in the calling thread). Raises if writing fails."""
        return self._flush(raise_errors=True)

    def close(self) -> None:
        """Flush and stop the background thread. Further ``track()`` calls raise."""
        if self._closed:
            return
        try:
            self._flush(raise_errors=True)
        finally:
            self._closed = True
            self._wake.set()
            if threading.current_thread() is not self._thread and self._thread.is_alive():
                self._thread.join(timeout=5)
        if self._buf:
            self._flush(raise_errors=True)

    def __enter__(self) -> PredictionTracker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- background ------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._closed:
            self._wake.wait(self.max_age / 4)
            self._wake.clear()
            if self._closed:
                break
            if self._buf and (len(self._buf) >= self.flush_rows or time.monotonic() - self._first >= self.max_age):
                self._flush(raise_errors=False)

    def _flush(self, raise_errors: bool) -> ImportSummary | None:
        if os.getpid() != self._pid:
            return None  # a forked child does not own this buffer
        summary = None
        with self._write_lock:
            first = True
            # an explicit flush drains the buffer; the background one writes what is due and
            # then only full batches (a backlog), so rows that arrive during a write wait for
            # their own age instead of going out in a file of a few rows each
            while self._buf and (raise_errors or first or len(self._buf) >= self.flush_rows):
                first = False
                # a backlog (a caller faster than the writer) goes out in bigger files: the
                # fixed cost per file (validation passes, fsync) is then paid less often
                started = time.monotonic()
                with self._buf_lock:
                    n = min(len(self._buf), self.flush_rows * _BACKLOG_FACTOR)
                    rows = self._buf[:n]
                    self._inflight = n
                try:
                    summary = self._write(rows)
                except BaseException as exc:
                    self._inflight = 0
                    self._stats["errors"] += 1
                    self.last_error = exc
                    log.error("prediction tracker could not write %d rows (kept for the next try): %s", n, exc)
                    if raise_errors:
                        raise
                    time.sleep(min(5.0, 0.1 * 2 ** min(self._stats["errors"], 6)))
                    return None
                with self._buf_lock:
                    del self._buf[:n]  # only now: a crash in _write keeps the rows buffered
                    self._inflight = 0
                    if self._buf:
                        self._first = started  # the rows left arrived after the write began
                self.last_error = None
                self._stats["written"] += summary.accepted
                self._stats["quarantined"] += summary.quarantined
                self._stats["files"] += summary.files
                self._stats["flushes"] += 1
        return summary

    def _write(self, rows: list[tuple[Any, ...]]) -> ImportSummary:
        # one pass per column (zip(*rows) over 10^5 tuples is several times slower)
        models, versions, preds, actuals, confs, feats, pids, stamps = (
            [r[i] for r in rows] for i in range(8)
        )
        try:
            # the tracker's own stamps are int epoch microseconds; anything else fails here
            ts = pl.Series("timestamp", stamps, dtype=pl.Int64, strict=True).cast(pl.Datetime("us", "UTC"))
        except (TypeError, OverflowError, pl.exceptions.PolarsError):
            # given datetimes, dates and text go through the same parsing and checks as a bulk
            # import, so an unparseable one is quarantined rather than replaced by "now"
            ts = pl.Series("timestamp", [_stamp_text(t) for t in stamps], dtype=pl.String)
        columns: dict[str, Any] = {
            "model_name": _text_series(models),
            "version": _text_series(versions),
            "prediction": _mixed_series(preds),
            "actual": _mixed_series(actuals),
            "confidence": _mixed_series(confs),
            "prediction_id": _text_series(pids),  # an int id (a database key) is kept as its text
            "timestamp": ts,
        }
        frame = pl.DataFrame(columns)
        misnamed = None
        if any(feats):
            # features of mixed types across rows are widened, never a flush that fails forever
            feature_frame, _, _ = _to_frame([f if type(f) is dict else dict(f) if f else {} for f in feats])
            clash = [c for c in feature_frame.columns if c in RESERVED]
            if clash:
                feature_frame = feature_frame.rename({c: f"feature_{c}" for c in clash})
            frame = pl.concat([frame, feature_frame], how="horizontal")
            wrong = [c for c in feature_frame.columns if not _FEATURE_RE.fullmatch(c)]
            if wrong:
                # a name that cannot be a column: those rows go to quarantine, the others are written
                hit = pl.any_horizontal(pl.col(wrong).is_not_null())
                misnamed = frame.with_row_index("row").filter(hit).select(
                    "row", *[pl.col(c).map_elements(_json_text, return_dtype=pl.String)
                             if isinstance(t, (pl.List, pl.Struct, pl.Array)) else pl.col(c).cast(pl.String, strict=False)
                             for c, t in frame.schema.items()],
                    pl.lit("bad feature name").alias("rule"),
                    pl.coalesce([pl.when(pl.col(c).is_not_null()).then(pl.lit(
                        f"feature {c!r}: expected a feature name of letters, digits and '_'"
                        " (at most 64, not starting with a digit)")) for c in wrong]).alias("reason"),
                )
                frame = frame.filter(~hit).drop(wrong)
        if self._settings is None or time.monotonic() - self._settings_at > 30:
            self._settings, self._settings_at = self.ws.settings(), time.monotonic()
        needed = {(m, str(v)) for m, v in set(zip(models, versions, strict=True))}
        # the registry is asked again after 30 s, or for a version not seen before (once)
        unknown = {p for p in needed if self._known is None or p[1] not in self._known.versions.get(p[0], ())}
        if self._known is None or time.monotonic() - self._known_at > 30 or unknown - self._asked:
            self._known, self._known_at = _registered(self.ws), time.monotonic()
            self._asked = {p for p in needed if p[1] not in self._known.versions.get(p[0], ())}
        batch = "t" + uuid.uuid4().hex
        return _ingest(self.ws, frame, source="tracker", batch_id=batch, strict=self.strict,
                       registered=self._known, durable=self.durable, settings=self._settings, rejects=misnamed,
                       own_ids=self._prefix)


def _text_series(values: list[Any]) -> pl.Series:
    try:
        return pl.Series(values, dtype=pl.String)
    except (TypeError, pl.exceptions.PolarsError):
        return pl.Series([None if v is None else str(v) for v in values], dtype=pl.String)


def _stamp_text(value: Any) -> str | None:
    """A buffered timestamp as text for validation: ints are the tracker's own epoch
    microseconds, floats epoch seconds given by the caller."""
    try:
        if type(value) is int:
            return _dt.datetime.fromtimestamp(value / 1e6, UTC).isoformat()
        if type(value) is float:
            return _dt.datetime.fromtimestamp(value, UTC).isoformat()
    except (OverflowError, ValueError, OSError):
        return str(value)
    if isinstance(value, (_dt.datetime, _dt.date)):
        return value.isoformat()
    return None if value is None else str(value)


def _given_stamp(value: Any) -> Any:
    """A caller's timestamp for the buffer, where ints mean the tracker's own epoch
    microseconds: numbers are epoch seconds (as floats), a bool is text that fails validation."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, numbers.Real):
        return float(value)
    return value


def _mixed_series(values: list[Any]) -> pl.Series:
    """A column from Python values of possibly mixed types; odd ones become text for validation."""
    for dtype in (None, pl.Float64):  # inferred from the values, then ints and floats mixed
        try:
            return pl.Series(values, dtype=dtype, strict=True)
        except (TypeError, OverflowError, pl.exceptions.PolarsError):
            pass
    return pl.Series([None if v is None else str(v) for v in values], dtype=pl.String)


@atexit.register
def _flush_all_trackers() -> None:
    for tracker in list(_TRACKERS):
        try:
            tracker.close()
        except Exception as exc:  # at exit there is nobody left to raise to
            log.error("prediction tracker lost rows at exit: %s", exc)

