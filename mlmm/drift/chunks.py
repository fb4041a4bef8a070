"""Drift over time: each chunk of a frame (a period, a block of rows) against the whole reference,
with thresholds optionally learnt from the reference's own chunks (:func:`chunked`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import polars as pl

from ..errors import ValidationError
from .columns import CompareOptions, check_options
from .comparison import evaluate
from .prepared import as_frame
from .sketch import ReferenceSketch, prepare_reference

__all__ = ["chunked"]


def _row_blocks(height: int, rows: int | None, chunks: int | None) -> list[tuple[int, int]]:
    if rows is not None:
        return [(s, min(s + rows, height)) for s in range(0, height, rows)]
    assert chunks is not None
    cuts = np.linspace(0, height, chunks + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in zip(cuts[:-1], cuts[1:], strict=True) if b > a]


def _split(
    frame: pl.DataFrame, time_col: str | None, every: str | None, rows: int | None, chunks: int | None
) -> list[tuple[Any, Any, pl.DataFrame]]:
    """[(start, end, chunk)]: periods of ``every`` on ``time_col``, or row blocks."""
    if time_col is not None:
        if time_col not in frame.columns:
            raise ValidationError(f"time_col={time_col!r}: not a column (columns: {frame.columns!r})")
        frame = frame.sort(time_col)
    if every is not None:
        assert time_col is not None
        keyed = frame.with_columns(pl.col(time_col).dt.truncate(every).alias("__start"))
        out = []
        for (start,), part in keyed.group_by("__start", maintain_order=True):
            end = pl.Series([start]).dt.offset_by(every)[0]
            out.append((start, end, part.drop("__start")))
        return out
    blocks = _row_blocks(frame.height, rows, chunks)
    if time_col is not None:
        return [(frame[time_col][a], frame[time_col][b - 1], frame.slice(a, b - a)) for a, b in blocks]
    return [(a, b, frame.slice(a, b - a)) for a, b in blocks]


def chunked(
    reference: Any,
    data: Any,
    *,
    time_col: str | None = None,
    every: str | None = None,
    rows: int | None = None,
    chunks: int | None = None,
    columns: Sequence[str] | None = None,
    tests: Mapping[str, str] | str | None = None,
    thresholds: Mapping[str, float] | Literal["reference"] | None = None,
    correction: Literal["bonferroni", "holm", "bh"] | None = None,
    categorical: Sequence[str] | None = None,
    bins: int | None = None,
) -> pl.DataFrame:
    """Drift of each chunk of ``data`` against the whole reference, one row per chunk and column.

    Chunks are periods (``every="1d"``, a polars duration, on ``time_col``), blocks of ``rows``
    rows, or ``chunks`` nearly equal blocks (in ``time_col`` order when given). Exactly one of
    ``every``/``rows``/``chunks``.

    ``thresholds="reference"`` learns each column's threshold from the reference, as NannyML:
    the reference is cut into chunks the same way, each is compared with the whole reference, and
    a chunk drifts when its statistic exceeds mean + 3 std of the reference chunks' statistics
    (upper bound only: a chunk closer to the reference than usual is not drift). Those reference
    rows are returned too, with ``period="reference"``. Otherwise ``thresholds`` is as in
    :func:`compare`.

    Returns
    -------
    polars.DataFrame
        ``period, chunk, start, end, n, column, test, statistic, p_value, threshold, drifted``;
        ``start``/``end`` are times for time chunks (``end`` exclusive for ``every``, the last
        time otherwise) and row offsets (end exclusive) without ``time_col``.

    Examples
    --------
    >>> import datetime as dt, numpy as np, polars as pl
    >>> rng = np.random.default_rng(3)
    >>> t0 = dt.datetime(2026, 1, 1)
    >>> ref = pl.DataFrame({"x": rng.normal(size=4000)})
    >>> x = np.concatenate([rng.normal(size=3000), rng.normal(1.0, 1, size=1000)])
    >>> cur = pl.DataFrame({"t": [t0 + dt.timedelta(hours=i // 50) for i in range(4000)], "x": x})
    >>> out = chunked(ref, cur, time_col="t", every="1d", columns=["x"])
    >>> out.select("chunk", "start", "n", "test", "drifted")
    shape: (4, 5)
    ┌───────┬─────────────────────┬──────┬─────────────┬─────────┐
    │ chunk ┆ start               ┆ n    ┆ test        ┆ drifted │
    │ ---   ┆ ---                 ┆ ---  ┆ ---         ┆ ---     │
    │ i64   ┆ datetime[μs]        ┆ i64  ┆ str         ┆ bool    │
    ╞═══════╪═════════════════════╪══════╪═════════════╪═════════╡
    │ 0     ┆ 2026-01-01 00:00:00 ┆ 1200 ┆ wasserstein ┆ false   │
    │ 1     ┆ 2026-01-02 00:00:00 ┆ 1200 ┆ wasserstein ┆ false   │
    │ 2     ┆ 2026-01-03 00:00:00 ┆ 1200 ┆ wasserstein ┆ true    │
    │ 3     ┆ 2026-01-04 00:00:00 ┆ 400  ┆ wasserstein ┆ true    │
    └───────┴─────────────────────┴──────┴─────────────┴─────────┘
    >>> learned = chunked(ref, cur, rows=500, columns=["x"], thresholds="reference")
    >>> learned.filter(pl.col("period") == "analysis")["drifted"].to_list()
    [False, False, False, False, False, False, True, True]
    """
    given = [k for k, v in (("every", every), ("rows", rows), ("chunks", chunks)) if v is not None]
    if len(given) != 1:
        raise ValidationError(f"chunking={given!r}: expected exactly one of every, rows or chunks")
    if every is not None and time_col is None:
        raise ValidationError(f"every={every!r}: needs time_col")
    for key, value in (("rows", rows), ("chunks", chunks)):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            raise ValidationError(f"{key}={value!r}: expected a positive integer")
    learn = thresholds == "reference"
    if isinstance(thresholds, str) and not learn:
        raise ValidationError(f"thresholds={thresholds!r}: expected 'reference', a mapping or None")
    check_options(correction, 0.5, bins)
    exclude = [time_col] if time_col else []
    opts = CompareOptions(tests, None if learn else thresholds, correction, 0.5, bins, 0.05, 0.01, tuple(exclude))  # type: ignore[arg-type]
    ref_frame = None if isinstance(reference, ReferenceSketch) else as_frame(reference, "reference")
    ref = prepare_reference(reference if ref_frame is None else ref_frame, columns, categorical or (), exclude)
    frame = as_frame(data, "data")

    def run(period: str, parts: list[tuple[Any, Any, pl.DataFrame]]) -> list[dict[str, Any]]:
        rows_out = []
        for i, (start, end, part) in enumerate(parts):
            report = evaluate(ref, part, opts)
            for c in report.columns:
                rows_out.append(
                    {
                        "period": period, "chunk": i, "start": start, "end": end, "n": part.height,
                        "column": c.column, "test": c.test, "statistic": c.statistic, "p_value": c.p_adjusted,
                        "threshold": c.threshold, "drifted": c.drifted,
                    }
                )  # fmt: skip
        return rows_out

    analysis = run("analysis", _split(frame, time_col, every, rows, chunks))
    out_rows = analysis
    if learn:
        if ref_frame is None:
            raise ValidationError("thresholds='reference': needs the raw reference to cut it into chunks")
        ref_rows = run("reference", _split(ref_frame, time_col, every, rows, chunks))
        limits: dict[str, float] = {}
        for name in ref.columns:
            values = np.array(
                [r["statistic"] for r in ref_rows if r["column"] == name and r["statistic"] is not None],
                dtype=float,
            )
            if values.size:
                limits[name] = (
                    float(values.mean() + 3 * values.std(ddof=1)) if values.size > 1 else float(values[0])
                )
        for r in ref_rows + analysis:
            limit = limits.get(r["column"])
            r["threshold"] = limit
            r["drifted"] = None if (limit is None or r["statistic"] is None) else bool(r["statistic"] > limit)
        out_rows = ref_rows + analysis
    schema_time = frame.schema[time_col] if time_col is not None else pl.Int64
    schema = {
        "period": pl.String, "chunk": pl.Int64, "start": schema_time, "end": schema_time, "n": pl.Int64,
        "column": pl.String, "test": pl.String, "statistic": pl.Float64, "p_value": pl.Float64,
        "threshold": pl.Float64, "drifted": pl.Boolean,
    }  # fmt: skip
    return pl.DataFrame(out_rows, schema=schema, orient="row") if out_rows else pl.DataFrame(schema=schema)
