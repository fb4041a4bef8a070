"""SQL over the prediction log with DuckDB: the tables ``predictions``, ``labels`` and ``quarantine``."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

import polars as pl

from .._storage import StoragePath
from ..workspace import memory_cursor
from .layout import file_schema, label_files, prediction_files, quarantine_files, scan
from .schema import BASE_SCHEMA, HIVE_SCHEMA, LABEL_SCHEMA

if TYPE_CHECKING:
    from ..workspace import Workspace


log = logging.getLogger("mlmm")

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
    >>> _ = mlmm.log_predictions(ws, {"version": ["1.0.0"] * 3, "prediction": [1, 0, 1]}, model="m")
    >>> ws.sql("SELECT model_name, count(*) AS n, count(*) FILTER (prediction = 1) AS positives"
    ...        " FROM predictions GROUP BY 1").rows()
    [('m', 3, 2)]
    """
    cur = memory_cursor()
    pfiles = prediction_files(ws)
    lfiles = label_files(ws)
    qfiles = quarantine_files(ws)
    if ws.remote:
        return _sql_arrow(cur, query, params, pfiles, lfiles, qfiles)
    base = ", ".join(f"NULL::{_duck_type(t)} AS {c}" for c, t in {**HIVE_SCHEMA, **BASE_SCHEMA}.items())
    raw = (
        f"SELECT * FROM read_parquet({_sql_list(pfiles)}, hive_partitioning = true, union_by_name = true,"
        " hive_types = {'model_name': VARCHAR, 'date': DATE})" if pfiles else f"SELECT {base} WHERE false"
    )
    with_arrival = any("ingested_at" in file_schema(f) for f in lfiles)
    labels = latest_labels_sql(
        f"read_parquet({_sql_list(lfiles)}, hive_partitioning = true, union_by_name = true,"
        " hive_types = {'model_name': VARCHAR})" if lfiles else None, with_arrival=with_arrival)
    quarantine = (
        f"SELECT * FROM read_parquet({_sql_list(qfiles)}, union_by_name = true, hive_partitioning = false)"
        if qfiles else _NO_QUARANTINE
    )
    with _SQL_LOCK:
        _create_views(cur, raw, labels, quarantine)
        return cur.sql(query, params=params or None).pl()


_NO_QUARANTINE = "SELECT NULL::VARCHAR AS reason WHERE false"


def latest_labels_sql(source: str | None, *, with_arrival: bool) -> str:
    """The one label rule (:func:`mlmm.predictions.read.latest_labels`) in DuckDB SQL: per
    prediction, the label with the latest ``labeled_at``, a tie going to the later arrival
    (``ingested_at``; null in files from before it existed, which sorts first). ``source`` is a
    table expression over label files, or ``None`` for an empty ``labels`` relation."""
    if source is None:
        return ("SELECT NULL::VARCHAR AS model_name, NULL::VARCHAR AS prediction_id, NULL::BIGINT AS actual,"
                " NULL::TIMESTAMPTZ AS labeled_at WHERE false")
    order = ("{'t': labeled_at, 'i': coalesce(ingested_at, TIMESTAMPTZ '1970-01-01 00:00:00+00')}"
             if with_arrival else "labeled_at")
    return (f"SELECT model_name, prediction_id, arg_max(actual, {order}) AS actual, max(labeled_at) AS labeled_at"
            f" FROM {source} GROUP BY ALL")


def _create_views(cur: Any, raw: str, labels: str, quarantine: str) -> None:
    """The views every query sees: ``predictions_raw``, ``labels``, ``quarantine`` and
    ``predictions`` (the raw rows with their latest label)."""
    cur.execute("SET TimeZone = 'UTC'")
    cur.execute(f"CREATE OR REPLACE TEMP VIEW predictions_raw AS {raw}")
    cur.execute(f"CREATE OR REPLACE TEMP VIEW labels AS {labels}")
    cur.execute(f"CREATE OR REPLACE TEMP VIEW quarantine AS {quarantine}")
    cur.execute(
        "CREATE OR REPLACE TEMP VIEW predictions AS SELECT p.* REPLACE (coalesce(l.actual, p.actual) AS actual),"
        " l.labeled_at FROM predictions_raw p LEFT JOIN labels l USING (model_name, prediction_id)"
    )


def _duck_order(lf: pl.LazyFrame, files: list[StoragePath], hive: dict[str, pl.DataType]) -> pl.LazyFrame:
    """Columns in the order DuckDB's ``union_by_name`` gives them: as first seen in the files,
    then the hive columns."""
    names: dict[str, None] = {}
    for f in files:
        names.update(dict.fromkeys(file_schema(f)))
    names.update(dict.fromkeys(hive))
    return lf.select(list(names))


def _sql_arrow(cur: Any, query: str, params: list[Any] | None, pfiles: list[StoragePath],
               lfiles: list[StoragePath], qfiles: list[StoragePath]) -> pl.DataFrame:
    """:func:`sql` for a log on object storage. DuckDB would need its httpfs extension (a
    download at run time) to read ``s3://``; instead polars scans the files (lazily, with the
    same schema rules as :func:`read_predictions`) and DuckDB reads those scans through Arrow,
    asking only for the columns a query uses."""
    raw = _duck_order(scan(pfiles, BASE_SCHEMA, HIVE_SCHEMA), pfiles, HIVE_SCHEMA) if pfiles else None
    labels = scan(lfiles, LABEL_SCHEMA, {"model_name": pl.String()}) if lfiles else None
    quarantine = _duck_order(scan(qfiles, {}, {}), qfiles, {}) if qfiles else None
    base = ", ".join(f"NULL::{_duck_type(t)} AS {c}" for c, t in {**HIVE_SCHEMA, **BASE_SCHEMA}.items())
    with _SQL_LOCK:
        for name, frame in (("_mlmm_predictions_raw", raw), ("_mlmm_labels_raw", labels), ("_mlmm_quarantine", quarantine)):
            if frame is not None:
                cur.register(name, frame)
        _create_views(cur, "SELECT * FROM _mlmm_predictions_raw" if raw is not None else f"SELECT {base} WHERE false",
                      latest_labels_sql("_mlmm_labels_raw" if labels is not None else None, with_arrival=True),
                      "SELECT * FROM _mlmm_quarantine" if quarantine is not None else _NO_QUARANTINE)
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
