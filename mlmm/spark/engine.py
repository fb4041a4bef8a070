"""The Spark session mlmm makes (local, bound to 127.0.0.1) and small helpers around it."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from ..errors import MlmmError, ValidationError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame as SparkFrame
    from pyspark.sql import SparkSession

    from ..workspace import Workspace


_PANDAS_WARNING = "PySpark does not yet fully support pandas"  # pyspark's own check; mlmm never uses pandas here


def session(
    master: str = "local[2]",
    *,
    app_name: str = "mlmm",
    shuffle_partitions: int = 4,
    config: Mapping[str, Any] | None = None,
    log_level: str = "ERROR",
) -> SparkSession:
    """A ``SparkSession`` for mlmm (``getOrCreate``: an active session is reused).

    Defaults: no web UI and no console progress bar, ``shuffle_partitions`` shuffle partitions
    (Spark's 200 are for clusters), UTC session time zone, Python workers on this interpreter;
    with a ``local`` master the driver binds to 127.0.0.1. ``config`` adds or overrides Spark
    properties, e.g. ``{"spark.driver.memory": "8g"}``.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MlmmError("mlmm.spark needs PySpark: pip install 'mlmm[spark]' (and Java 17 or newer)") from exc
    if not isinstance(shuffle_partitions, int) or isinstance(shuffle_partitions, bool) or shuffle_partitions < 1:
        raise ValidationError(f"shuffle_partitions={shuffle_partitions!r}: expected a positive integer")
    conf: dict[str, Any] = {
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.shuffle.partitions": str(shuffle_partitions),
        "spark.sql.session.timeZone": "UTC",
        "spark.pyspark.python": sys.executable,
        "spark.pyspark.driver.python": sys.executable,
    }
    if master.startswith("local"):
        conf.update({"spark.driver.host": "127.0.0.1", "spark.driver.bindAddress": "127.0.0.1"})
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # read by the JVM this process launches
    conf.update(dict(config or {}))
    builder = SparkSession.builder.master(master).appName(app_name)
    for key, value in conf.items():
        builder = builder.config(key, str(value))
    with warnings.catch_warnings(), _no_preexec_fn():
        warnings.filterwarnings("ignore", message=_PANDAS_WARNING, category=FutureWarning)
        spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel(log_level)
    return spark


@contextlib.contextmanager
def _no_preexec_fn() -> Iterator[None]:
    """Start Spark's JVM without running Python code in the forked child.

    PySpark launches ``spark-submit`` with a ``preexec_fn`` that ignores SIGINT, so Ctrl-C in a
    notebook does not kill the JVM. A ``preexec_fn`` runs Python between fork and exec, which
    is unsafe when other threads exist (polars', DuckDB's): after a polars query, the child
    can crash before exec (seen here: SIGSEGV, then PySpark's ``JAVA_GATEWAY_EXITED``). A new
    session (``setsid``) keeps the terminal's Ctrl-C away from the JVM just as well, and lets
    ``subprocess`` start it without Python in the child. The JVM still exits with this
    process: PySpark closes its stdin.
    """
    try:
        from pyspark import java_gateway
    except ImportError:  # pragma: no cover - PySpark moved its launcher
        yield
        return
    real = getattr(java_gateway, "Popen", None)
    if real is None:  # pragma: no cover
        yield
        return

    def popen(*args: Any, **kwargs: Any) -> Any:
        if kwargs.pop("preexec_fn", None) is not None:
            kwargs["start_new_session"] = True
        return real(*args, **kwargs)

    with _LAUNCH_LOCK:
        java_gateway.Popen = popen
        try:
            yield
        finally:
            java_gateway.Popen = real


_LAUNCH_LOCK = threading.Lock()


def get_session(spark: SparkSession | None) -> SparkSession:
    return session() if spark is None else spark


def workspace_of(ws: Workspace | str | Path) -> Workspace:
    from ..workspace import Workspace, open_workspace

    return ws if isinstance(ws, Workspace) else open_workspace(ws)


def collect(frame: SparkFrame) -> pl.DataFrame:
    """A (small) Spark result as polars, through Arrow; datetimes as UTC."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_PANDAS_WARNING, category=FutureWarning)
        table = frame.toArrow()
    out = pl.DataFrame(pl.from_arrow(table))
    return out.with_columns(pl.col(pl.Datetime).dt.convert_time_zone("UTC"))


def functions() -> Any:
    from pyspark.sql import functions

    return functions


_DDL = {pl.String: "STRING", pl.Boolean: "BOOLEAN", pl.Float64: "DOUBLE", pl.Float32: "FLOAT", pl.Int64: "BIGINT",
        pl.Int32: "INT", pl.Int16: "SMALLINT", pl.Int8: "TINYINT", pl.Date: "DATE"}


def ddl(name: str, dtype: pl.DataType) -> str:
    if isinstance(dtype, pl.Datetime):
        return "TIMESTAMP"
    for key, text in _DDL.items():
        if dtype == key:
            return text
    raise ValidationError(f"column {name!r} has type {dtype}: the Spark engine reads String, Boolean, Float, Int,"
                          " Date and Datetime columns")


def uri(path: Any) -> str:
    """The path as Spark (Hadoop) reads it: ``file://`` for a local file (not ``as_uri()``:
    Hadoop would percent-encode twice), ``s3a://`` for an object of a workspace on S3."""
    text = str(path)
    if text.startswith("s3://"):
        return "s3a://" + text[len("s3://"):]
    return "file://" + str(Path(text).resolve())
