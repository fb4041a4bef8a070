"""The columns of the prediction log and the label events, and the rules for their names."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

import polars as pl

from . import id_index

if TYPE_CHECKING:
    pass


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

LABEL_ORDER = ["labeled_at", "ingested_at"]

FEATURE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")

TS_FORMATS = (
    "%Y-%m-%dT%H:%M:%S%.f%#z",
    "%Y-%m-%d %H:%M:%S%.f%#z",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%d",
)

TRUE_WORDS = {"true", "t", "yes", "y", "1"}

FALSE_WORDS = {"false", "f", "no", "n", "0"}

PARQUET_OPTS: dict[str, Any] = {"compression": "zstd", "compression_level": 1, "statistics": True}

MANIFEST_PREFIX = "_compact-"

BINARY = id_index.BINARY
