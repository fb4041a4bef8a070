"""Feature drift in Spark: exact statistics from counts, for columns of any size."""

from __future__ import annotations

import dataclasses
import datetime as _dt
import logging
import math
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from .. import drift as D
from .. import predictions as P
from .._util import to_utc
from ..drift.columns import (
    CompareOptions,
    auto_test,
    check_options,
    column_threshold,
    correct_columns,
    correction_name,
    requested_test,
    test_column,
)
from ..drift.features import columns_to_test, read_window
from ..drift.prepared import (
    CategoricalSide,
    NumericSide,
    PreparedReference,
    current_spec,
    missing_share,
    numeric_side,
)
from ..drift.quality import quality_issues
from ..drift.report import dataset_report
from ..drift.sketch import prepare_reference
from ..drift.stattests import KS_EXACT_MAX, js_counts, psi_counts
from ..errors import ValidationError
from ..predictions import layout as log_layout
from ..version import Version

if TYPE_CHECKING:
    from pyspark.sql import DataFrame as SparkFrame
    from pyspark.sql import SparkSession

    from ..workspace import Workspace
from .engine import collect, functions, get_session, workspace_of
from .logread import INF, day_range, log_frame

log = logging.getLogger("mlmm")


@dataclasses.dataclass(frozen=True)
class _Shape:
    """What :func:`mlmm.drift.quality.quality_issues` reads of the current frame: its size, columns, types."""

    height: int
    columns: list[str]
    schema: dict[str, pl.DataType]


@dataclasses.dataclass
class _Large:
    """A numeric column of the current window with more than ``exact_max`` distinct values:
    statistics are computed by Spark against the reference, not from the values."""

    side: NumericSide  # sizes, moments, min/max; no values
    frame: SparkFrame  # one column ``x``: the finite values as doubles
    below: int = 0  # values under the reference minimum / over its maximum
    above: int = 0


def _kind(name: str, rs: NumericSide | CategoricalSide, opts: CompareOptions) -> tuple[str, str | None]:
    """The column kind and requested test, as :func:`mlmm.drift.columns.test_column` decides them."""
    requested = requested_test(name, opts)
    if isinstance(rs, NumericSide):
        if requested in ("chisquare", "z"):
            return "categorical", requested
        if requested in ("ks", "wasserstein", "anderson"):
            return "numeric", requested
        return ("numeric" if rs.n_unique > D.FEW_VALUES else "categorical"), requested
    return "categorical", requested


def _bucket(frame: SparkFrame, grid: np.ndarray) -> SparkFrame:
    """Add ``_b`` = #(grid <= x) and ``_eq`` = (x equals a grid value) for a sorted grid of
    distinct values: numpy's ``searchsorted`` sides, by Spark ML's ``Bucketizer`` (binary search
    in the JVM) on x and on -x."""
    from pyspark.ml.feature import Bucketizer

    F = functions()
    k = int(grid.size)
    up = Bucketizer(splits=[-INF, *map(float, grid), INF], inputCol="x", outputCol="_b")
    down = Bucketizer(splits=[-INF, *map(float, -grid[::-1]), INF], inputCol="_nx", outputCol="_b2")
    out = down.transform(up.transform(frame).withColumn("_nx", -F.col("x")))
    # #(grid < x) = k - #(grid >= x) = k - #(-grid <= -x)
    return out.select("x", F.col("_b").cast("int").alias("_b"),
                      (F.col("_b") - (F.lit(k) - F.col("_b2"))).cast("int").alias("_eq"))


def _grid_counts(large: _Large, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(#(x < g), #(x <= g)) for each value g of a sorted grid of distinct values."""
    F = functions()
    per = collect(_bucket(large.frame, grid).groupBy("_b").agg(F.count(F.lit(1)).alias("n"), F.sum("_eq").alias("e")))
    cnt = np.zeros(grid.size + 1, dtype=np.int64)
    eq = np.zeros(grid.size + 1, dtype=np.int64)
    b = per.get_column("_b").to_numpy()
    cnt[b] = per.get_column("n").to_numpy()
    eq[b] = per.get_column("e").fill_null(0).to_numpy()
    left = np.cumsum(cnt)[:-1]  # x < g_j  <=>  #(grid <= x) <= j - 1
    return left, left + eq[1:]


def _unique(values: np.ndarray) -> np.ndarray:
    return np.unique(np.asarray(values, dtype=np.float64) + 0.0)  # -0.0 -> 0.0, as numpy compares


def _large_ks(rs: NumericSide, large: _Large) -> tuple[float, float, bool]:
    """:func:`mlmm.drift.stattests.ks_test` from counts: D identical, the same p-value rule."""
    m = large.side.n
    if rs.values is not None:
        r = rs.values
        n = r.size
        grid = _unique(r)
        left_u, right_u = _grid_counts(large, grid)
        at = np.searchsorted(grid, r + 0.0)
        left, right = left_u[at], right_u[at]
        i = np.arange(n)
        up = (i + 1) / n - right / m
        down = left / m - i / n
        d = float(max(up.max(), down.max(), 0.0))
        approx = False
    else:
        assert rs.grid_q is not None and rs.grid_cdf is not None
        n = rs.n
        grid = _unique(rs.grid_q)
        _, right_u = _grid_counts(large, grid)
        fc = right_u[np.searchsorted(grid, rs.grid_q + 0.0)] / m
        d = float(np.abs(rs.grid_cdf - fc).max())
        approx = True
    if not approx and max(n, m) <= KS_EXACT_MAX:
        from scipy import stats

        c = collect(large.frame).get_column("x").to_numpy()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            p = float(stats.ks_2samp(rs.values, c, method="auto").pvalue)
    else:
        from scipy import stats

        big, small = max(n, m), min(n, m)
        p = float(np.clip(stats.kstwo.sf(d, np.round(big * small / (big + small))), 0.0, 1.0))
    return d, p, approx


def _large_w1(r: np.ndarray, large: _Large) -> float:
    """The Wasserstein-1 distance of the sorted reference ``r`` and the current values,
    ``integral |F_r(x) - F_c(x)| dx``, exactly, with sums of non-negative terms only.

    Between consecutive distinct reference values u_b <= x < u_(b+1), F_r is a constant
    a = A_b / n and F_c climbs by 1/m at each current value v_1 <= ... <= v_q of the bucket
    (L_b values lie below it). With s = a*m - L_b, F_c < a on [v_i, v_(i+1)) exactly for the
    ranks i < s; the first rank that is not is J. The bucket's integral times m is then
    (J - s)(u_(b+1) - v_J) + sum_(t > J)(u_(b+1) - v_t) + (s - J + 1)(v_J - u_b) + sum_(t < J)(v_t - u_b),
    v_0 = u_b and v_(q+1) = u_(b+1). Only buckets where F_c crosses F_r (1 <= J <= q) need the
    ranks inside them (a window sorted per bucket); the others need sums.
    """
    from pyspark.sql import Window

    F = functions()
    spark = large.frame.sparkSession
    n, m = r.size, large.side.n
    grid = _unique(r)
    k = grid.size
    a_cum = np.concatenate(([0], np.searchsorted(r + 0.0, grid, side="right"))).astype(object)  # A_0 .. A_k
    bucketed = _bucket(large.frame, grid).select("x", "_b")
    per = collect(bucketed.groupBy("_b").agg(F.count(F.lit(1)).alias("q")))
    q = np.zeros(k + 1, dtype=np.int64)
    q[per.get_column("_b").to_numpy()] = per.get_column("q").to_numpy()
    below = np.concatenate(([0], np.cumsum(q)[:-1]))  # L_b
    lo = np.concatenate(([-INF], grid))
    hi = np.concatenate((grid, [INF]))
    rows = []
    for b in range(k + 1):
        dd = int(a_cum[b]) * m - int(below[b]) * n  # s = dd / n, exactly
        qb = int(q[b])
        j = 0 if dd <= 0 else min(qb + 1, -(-dd // n))
        if b == k:
            j = qb  # F_r = 1 above the reference: the whole bucket lies below it
        rows.append((b, float(lo[b]) if b else None, float(hi[b]) if b < k else None, j, dd, qb))
    table = spark.createDataFrame([(b, lo_, hi_, j, q_) for b, lo_, hi_, j, _, q_ in rows],
                                  "_b INT, lo DOUBLE, hi DOUBLE, j BIGINT, q BIGINT")
    joined = bucketed.join(F.broadcast(table), "_b")
    crossing = (F.col("j") >= 1) & (F.col("j") <= F.col("q")) & (F.col("_b") > 0) & (F.col("_b") < k)
    sums = collect(joined.where(~crossing).groupBy("_b").agg(
        F.sum(F.col("hi") - F.col("x")).alias("above"), F.sum(F.col("x") - F.col("lo")).alias("below"),
        F.max("x").alias("top")))
    ranked = joined.where(crossing).withColumn("t", F.row_number().over(Window.partitionBy("_b").orderBy("x")))
    cross = collect(ranked.groupBy("_b").agg(
        F.sum(F.when(F.col("t") > F.col("j"), F.col("hi") - F.col("x"))).alias("above"),
        F.sum(F.when(F.col("t") < F.col("j"), F.col("x") - F.col("lo"))).alias("below"),
        F.max(F.when(F.col("t") == F.col("j"), F.col("x"))).alias("vj")))
    got = {int(row[0]): row for row in sums.iter_rows()} | {int(row[0]): row for row in cross.iter_rows()}
    parts: list[float] = []
    for b, lo_b, hi_b, j, dd, qb in rows:
        row = got.get(b)
        if b == 0:  # F_r = 0 below the reference: integral of F_c
            parts.append(float(row[1] or 0.0) if row else 0.0)
            continue
        if b == k:  # F_r = 1 above it: integral of 1 - F_c
            parts.append(float(row[2] or 0.0) if row else 0.0)
            continue
        assert lo_b is not None and hi_b is not None
        if 1 <= j <= qb:
            above, under, vj = (float(row[1] or 0.0), float(row[2] or 0.0), float(row[3])) if row else (0.0, 0.0, lo_b)
        elif j == 0:
            above, under, vj = (float(row[1] or 0.0) if row else 0.0), 0.0, lo_b
        else:  # j = q + 1
            above, under, vj = 0.0, (float(row[2] or 0.0) if row else 0.0), hi_b
        total = above + under
        if j * n > dd:
            total += (j * n - dd) / n * (hi_b - vj)
        if j >= 1:
            total += (dd - (j - 1) * n) / n * (vj - lo_b)
        parts.append(total)
    return math.fsum(parts) / m


def _large_column(name: str, rs: NumericSide, large: _Large, opts: CompareOptions) -> D.ColumnDrift:
    """:func:`mlmm.drift.columns.test_column` for a numeric column known through Spark only."""
    cs = large.side
    test = requested_test(name, opts) or auto_test("numeric", rs.n, 0)
    details: dict[str, Any] = {}
    p_value: float | None = None
    approximate = False
    if test == "ks":
        statistic, p_value, approximate = _large_ks(rs, large)
    elif test == "wasserstein":
        if rs.values is None:
            raise ValidationError(f"tests[{name!r}]='wasserstein': a current window with more than exact_max distinct"
                                  " values needs the reference sample (the stored sketch alone serves ks, psi,"
                                  " jensenshannon); keep the sample or raise exact_max")
        w1 = _large_w1(rs.values, large)
        scale = rs.std
        details = {"wasserstein": w1, "std_reference": rs.std}
        if not scale > 0:
            n, m = rs.n, cs.n
            mean = (n * rs.mean + m * cs.mean) / (n + m)
            var = (n * (rs.std**2 + rs.mean**2) + m * (cs.std**2 + cs.mean**2)) / (n + m) - mean**2
            scale = math.sqrt(max(var, 0.0))
            details["scale"] = "pooled std (constant reference)"
        statistic = w1 / scale if scale > 0 else 0.0
    elif test == "anderson":
        raise ValidationError(f"tests[{name!r}]='anderson': needs the raw current values; this window has more than"
                              " exact_max distinct values (raise exact_max or pick ks / wasserstein)")
    else:
        bins = opts.bins or (next(iter(rs.hist)) if rs.values is None and rs.hist else 10)
        edges, rcounts = rs.bins(bins)
        if edges.size:
            grid = _unique(edges)
            left, _ = _grid_counts(large, grid)
            cuts = left[np.searchsorted(grid, edges + 0.0)]
            ccounts = np.diff(np.concatenate(([0], cuts, [cs.n]))).astype(np.int64)
        else:
            ccounts = np.array([cs.n], dtype=np.int64)
        statistic = psi_counts(rcounts, ccounts) if test == "psi" else js_counts(rcounts, ccounts)
        details["bins"] = int(edges.size + 1)
    threshold = column_threshold(name, test, opts)
    drifted = (p_value < threshold) if D.TESTS[test].pvalue else (statistic >= threshold)
    return D.ColumnDrift(
        column=name, kind="numeric", test=test, statistic=float(statistic), p_value=p_value, p_adjusted=p_value,
        threshold=threshold, drifted=bool(drifted), n_reference=rs.n, n_current=cs.n,
        missing_reference=missing_share(rs), missing_current=missing_share(cs), approximate=approximate,
        details=details,
    )


def _current_sides(
    df: SparkFrame, shape: _Shape, ref: PreparedReference, opts: CompareOptions, exact_max: int
) -> dict[str, NumericSide | CategoricalSide | _Large]:
    """Each current column as the drift module prepares it (exactly, from Spark's value counts),
    or as a :class:`_Large` when a numeric column has more than ``exact_max`` distinct values."""
    F = functions()
    kinds = {n: "numeric" if isinstance(side, NumericSide) else "categorical" for n, side in ref.sides.items()}
    spec = current_spec(kinds, shape)
    aggs = []
    for name, kind in spec.items():
        col = F.col(name)
        dtype = shape.schema[name]
        if kind == "numeric" or dtype.is_float():
            x = col.cast("double")
            aggs.append(F.sum(F.when(col.isNull() | F.isnan(x), 1).otherwise(0)).alias(f"{name}__missing"))
            aggs.append(F.sum(F.when(F.abs(x) == INF, 1).otherwise(0)).alias(f"{name}__inf"))
        else:
            aggs.append(F.sum(F.when(col.isNull(), 1).otherwise(0)).alias(f"{name}__missing"))
    head = collect(df.agg(*aggs)).row(0, named=True) if aggs else {}
    out: dict[str, NumericSide | CategoricalSide | _Large] = {}
    n_rows = shape.height
    for name, kind in spec.items():
        dtype = shape.schema[name]
        missing = int(head.get(f"{name}__missing") or 0)
        if kind == "categorical":
            valid = F.col(name).isNotNull() & (~F.isnan(F.col(name).cast("double")) if dtype.is_float() else F.lit(True))
            vc = collect(df.where(valid).groupBy(F.col(name).alias("v")).agg(F.count(F.lit(1)).alias("__n")))
            vc = vc.with_columns(pl.col("v").cast(dtype)).sort("v")
            out[name] = CategoricalSide(str(dtype), n_rows, missing, vc.get_column("v"),
                                        vc.get_column("__n").to_numpy().astype(np.int64))
            continue
        n_inf = int(head.get(f"{name}__inf") or 0)
        x = F.col(name).cast("double")
        finite = df.select((x + F.lit(0.0)).alias("x")).where(F.col("x").isNotNull() & ~F.isnan("x") & (F.abs("x") != INF))
        exact = _kind(name, ref.sides[name], opts)[0] == "categorical"  # categories are counted exactly
        grouped = finite.groupBy("x").agg(F.count(F.lit(1)).alias("n"))
        vc = collect(grouped if exact else grouped.limit(exact_max + 1))
        if exact or vc.height <= exact_max:
            vc = vc.sort("x")
            values = np.repeat(vc.get_column("x").to_numpy().astype(np.float64), vc.get_column("n").to_numpy())
            out[name] = numeric_side(str(dtype), n_rows, (values, missing, n_inf))
            continue
        rs = ref.sides[name]
        assert isinstance(rs, NumericSide)
        shift = float(rs.mean) if rs.n and math.isfinite(rs.mean) else 0.0
        stats = collect(finite.agg(
            F.count(F.lit(1)).alias("m"), F.min("x").alias("lo"), F.max("x").alias("hi"),
            F.avg(F.col("x") - shift).alias("d1"), F.avg((F.col("x") - shift) * (F.col("x") - shift)).alias("d2"),
            F.sum(F.when(F.col("x") < F.lit(rs.vmin), 1).otherwise(0)).alias("below"),
            F.sum(F.when(F.col("x") > F.lit(rs.vmax), 1).otherwise(0)).alias("above"))).row(0, named=True)
        mean = shift + stats["d1"]
        std = math.sqrt(max(stats["d2"] - stats["d1"] ** 2, 0.0))
        side = NumericSide(str(dtype), n_rows, missing, n_inf, None, (mean, std), float(stats["lo"]), float(stats["hi"]), None)
        out[name] = _Large(side, finite, int(stats["below"] or 0) if rs.n else 0, int(stats["above"] or 0) if rs.n else 0)
    return out


def _range_issue(name: str, rs: NumericSide, large: _Large, opts: CompareOptions) -> D.QualityIssue | None:
    """The ``range`` check of :func:`mlmm.drift.quality.quality_issues` for a column known through Spark only."""
    cs = large.side
    if not (rs.n and cs.n):
        return None
    share = (large.below + large.above) / cs.n
    if share <= opts.range_tolerance:
        return None
    return D.QualityIssue(
        name, "range", "warning",
        f"{name}: {share:.1%} of current values outside the reference range [{rs.vmin:g}, {rs.vmax:g}]",
        share, {"below": large.below, "above": large.above, "min": rs.vmin, "max": rs.vmax},
    )


def _evaluate(ref: PreparedReference, shape: _Shape, sides: Mapping[str, NumericSide | CategoricalSide | _Large],
              opts: CompareOptions) -> D.DriftReport:
    """:func:`mlmm.drift.comparison.evaluate` with Spark-side columns."""
    results: list[D.ColumnDrift] = []
    for name in ref.columns:
        if name in ref.skipped:
            continue
        rs, cs = ref.sides[name], sides.get(name)
        if isinstance(cs, _Large):
            assert isinstance(rs, NumericSide)
            results.append(_large_column(name, rs, cs, opts))
        else:
            results.append(test_column(name, rs, cs, opts))
    results = correct_columns(results, opts.correction)
    plain = {k: (v.side if isinstance(v, _Large) else v) for k, v in sides.items()}
    quality = quality_issues(ref, shape, plain, opts)  # type: ignore[arg-type]
    for name, cs in sides.items():
        if isinstance(cs, _Large):
            rs = ref.sides[name]
            issue = _range_issue(name, rs, cs, opts) if isinstance(rs, NumericSide) else None
            if issue is not None:  # where _quality would have put it: after the column's other issues
                later = set(ref.columns[ref.columns.index(name) + 1:]) | {c for c in shape.columns if c not in ref.all_columns}
                at = next((i for i, q in enumerate(quality) if q.column in later), len(quality))
                quality.insert(at, issue)
    return dataset_report(results, quality, drift_share=opts.drift_share, correction=correction_name(opts.correction),
                          n_reference=ref.n_rows, n_current=shape.height)


def _window_columns(ws: Workspace, model: str, days: list[tuple[Path, list[Path]]], cols: Sequence[str]
                    ) -> dict[str, pl.DataType] | None:
    """The types of ``cols`` in the window's files, or None when one is absent there."""
    schema, _ = log_layout.union_schema([f for _, files in days for f in files], P.BASE_SCHEMA)
    if any(c not in schema for c in cols):
        return None
    return {c: schema[c] for c in cols}


def drift(
    spark: SparkSession | None,
    ws: Workspace | str | Path,
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
    exact_max: int = 1_000_000,
    max_reference_rows: int = 5_000_000,
) -> D.DriftReport:
    """The drift statistics of :func:`mlmm.drift.check` with the current window read by
    Spark: the same :class:`~mlmm.drift.DriftReport` (nothing is recorded in the registry).

    ``reference``: None (the newest stored reference: its sample, else its sketch), a stored
    ``ref-...`` id, or a window of the log (``A..B``, ``last=7d``, ``previous``), read by Spark
    and collected (refused beyond ``max_reference_rows``: store a sampled reference with
    :func:`mlmm.drift.set_reference` instead). ``current``, ``until``, ``columns``,
    ``tests``, ``thresholds``, ``correction`` and ``drift_share`` as in ``check``.

    The driver receives value counts: categorical columns, and numeric columns with at most
    ``exact_max`` distinct values (then every statistic is identical to the local engine's).
    A numeric column with more is tested in Spark against the reference (see the module
    docstring); its values never reach the driver.
    """
    spark, ws = get_session(spark), workspace_of(ws)
    if isinstance(exact_max, bool) or not isinstance(exact_max, int) or exact_max < 0:
        raise ValidationError(f"exact_max={exact_max!r}: expected a non-negative integer")
    meta = ws.registry.get(model, version) if version else ws.registry.get_latest(model)
    version = str(Version.parse(version)) if version else None
    end = to_utc(until, "until") if until is not None else None
    s, u, _ = D.parse_window(current, end=end)
    if reference is None or reference.startswith("ref-"):
        stored = D.get_reference(ws, model, version, reference_id=reference)
        ref_data: Any = stored.data()
        cols = list(stored.columns) if columns is None else columns_to_test(ws, model, columns)
    else:
        rs, ru, label = D.parse_window(reference, before=(s, u), end=end)
        cols = columns_to_test(ws, model, columns)
        ref_data = _reference_frame(spark, ws, model, version, rs, ru, cols, max_reference_rows)
        if ref_data.is_empty():
            raise ValidationError(f"reference log {label}: no predictions of {model}; expected a window with data")
    share = drift_share if drift_share is not None else float(dict(meta.configuration).get("drift_share", 0.5))
    check_options(correction, share, None)
    opts = CompareOptions(tests, thresholds, correction, share, None, 0.05, 0.01)
    days = day_range(ws, model, s, u)
    types = _window_columns(ws, model, days, cols) if days else None
    if types is None:  # no files, or a column absent from the window: the local engine decides (error or empty)
        return D.compare(ref_data, read_window(ws, model, version, s, u, cols).drop("timestamp"), columns=cols,
                         tests=tests, thresholds=thresholds, correction=correction, drift_share=share)
    ref = prepare_reference(ref_data, cols, ())
    df = log_frame(spark, ws, model, version, s, u, labels=False, columns=types)
    assert df is not None
    df = df.select(*cols).cache()
    try:
        shape = _Shape(int(df.count()), list(cols), types)
        sides = _current_sides(df, shape, ref, opts, exact_max)
        return _evaluate(ref, shape, sides, opts)
    finally:
        df.unpersist()


def _reference_frame(spark: SparkSession, ws: Workspace, model: str, version: str | None, since: _dt.datetime,
                     until: _dt.datetime, cols: Sequence[str], max_rows: int) -> pl.DataFrame:
    days = day_range(ws, model, since, until)
    types = _window_columns(ws, model, days, cols) if days else None
    if types is None:
        return read_window(ws, model, version, since, until, cols).drop("timestamp")
    df = log_frame(spark, ws, model, version, since, until, labels=False, columns=types)
    assert df is not None
    df = df.select(*cols)
    rows = df.count()
    if rows > max_rows:
        raise ValidationError(f"reference window {since:%Y-%m-%d %H:%M}..{until:%Y-%m-%d %H:%M}: {rows:,} rows, more than"
                              f" max_reference_rows={max_rows:,}; expected a stored (sampled) reference:"
                              f" mlmm.drift.set_reference({model!r}, window=...)")
    return collect(df).with_columns(pl.col(c).cast(t) for c, t in types.items())
