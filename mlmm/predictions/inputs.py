"""Reading what a user hands to an import: frames, records, CSV and JSON Lines files, pandas."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
import pyarrow as pa

from ..errors import NotFoundError, ValidationError

if TYPE_CHECKING:
    pass
from .schema import RESERVED

log = logging.getLogger("mlmm")


def to_frame(data: Any) -> tuple[pl.DataFrame, str, pl.DataFrame | None]:
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
                None if v is None else v if isinstance(v, str) else json_text(v) if isinstance(v, (list, dict))
                else str(v) for v in values
            ], dtype=pl.String)
    return pl.DataFrame(out)


def file_batch_id(path: Path) -> str:
    digest = hashlib.blake2b(digest_size=16)
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return "f" + digest.hexdigest()


def check_batch_id(batch_id: str) -> str:
    if not isinstance(batch_id, str) or not re.fullmatch(r"[A-Za-z0-9_.-]{1,80}", batch_id):
        raise ValidationError(f"batch_id={batch_id!r}: expected 1-80 letters, digits, '.', '_' or '-'")
    return batch_id


def json_text(value: Any) -> str:
    """A nested value (a list arrives as a polars Series, a struct as a dict) as JSON text."""
    if isinstance(value, pl.Series):
        value = value.to_list()
    return json.dumps(value, default=str)
