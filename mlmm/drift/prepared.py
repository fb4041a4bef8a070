"""The columns of a frame prepared for the drift tests: one side (reference or current) of a column.

A numeric side keeps its finite values sorted (or, from a :class:`~mlmm.drift.ReferenceSketch`,
its quantiles, CDF grid and bins); a categorical side keeps its categories and counts. Every test
in :mod:`mlmm.drift.stattests` works on these, so a column is sorted or counted once per side.
Pure: frames in, arrays out; engines other than polars (``mlmm.spark``) build the same sides.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl

from ..errors import ValidationError

__all__ = [
    "FEW_VALUES",
    "AlignedCounts",
    "CategoricalSide",
    "NumericSide",
    "PreparedColumns",
    "PreparedReference",
    "align_categories",
    "as_frame",
    "column_spec",
    "current_spec",
    "is_numeric_dtype",
    "is_supported_dtype",
    "missing_share",
    "numeric_side",
    "prepare_columns",
    "rank_means",
    "select_columns",
    "sorted_quantiles",
]

#: A numeric column with at most this many distinct reference values is tested as categorical.
FEW_VALUES = 5


@dataclasses.dataclass
class NumericSide:
    """One side of a numeric column: its finite values sorted, or a sketch of them."""

    dtype: str
    n_rows: int
    n_missing: int  # null or NaN
    n_inf: int
    values: np.ndarray | None  # sorted finite values; None when only a sketch is known
    moments: tuple[float, float] | None  # (mean, std ddof=0), computed on first use
    vmin: float
    vmax: float
    few: tuple[np.ndarray, np.ndarray] | None  # (distinct values, counts) when <= FEW_VALUES distinct
    grid_q: np.ndarray | None = None  # sketch: reference quantiles at 0, 1/resolution, ..., 1
    grid_cdf: np.ndarray | None = None  # sketch: right-continuous ECDF at grid_q
    grid_means: np.ndarray | None = None  # sketch: means of `resolution` equal-rank slices
    hist: dict[int, tuple[np.ndarray, np.ndarray]] = dataclasses.field(default_factory=dict)

    @property
    def n(self) -> int:
        return self.n_rows - self.n_missing - self.n_inf

    @property
    def mean(self) -> float:
        return self._moments()[0]

    @property
    def std(self) -> float:
        return self._moments()[1]

    def _moments(self) -> tuple[float, float]:
        if self.moments is None:
            v = self.values
            if v is None or v.size == 0:
                self.moments = (float("nan"), float("nan"))
            else:
                # shifted by the median: one pass, and no cancellation when mean >> std
                shift = v[v.size // 2]
                dev = v - shift
                m1 = float(dev.sum()) / v.size
                var = max(float(np.dot(dev, dev)) / v.size - m1 * m1, 0.0)
                self.moments = (float(shift) + m1, math.sqrt(var))
        return self.moments

    @property
    def n_unique(self) -> int:
        """Distinct values, exact up to FEW_VALUES, else FEW_VALUES + 1."""
        return len(self.few[0]) if self.few is not None else (0 if self.n == 0 else FEW_VALUES + 1)

    def bins(self, bins: int) -> tuple[np.ndarray, np.ndarray]:
        """(inner edges, counts) of the reference quantile bins."""
        if bins not in self.hist:
            if self.values is None:
                have = ", ".join(str(b) for b in self.hist) or "none"
                raise ValidationError(f"bins={bins}: the sketch was made with bins={have}")
            edges = _quantile_edges(self.values, bins)
            self.hist[bins] = (edges, self.counts(edges))
        return self.hist[bins]

    def counts(self, edges: np.ndarray) -> np.ndarray:
        assert self.values is not None
        cuts = np.searchsorted(self.values, edges, side="left")
        return np.diff(np.concatenate(([0], cuts, [self.values.size]))).astype(np.int64)

    def as_categories(self) -> CategoricalSide:
        if self.few is not None:
            vals, cnts = self.few
        elif self.values is not None:
            vals, cnts = _runs(self.values)
        else:
            raise ValidationError(
                "tests: a categorical test on a numeric column with more than 5 values needs the raw reference"
            )
        return CategoricalSide(self.dtype, self.n_rows, self.n_missing + self.n_inf, pl.Series("v", vals), cnts)


@dataclasses.dataclass
class CategoricalSide:
    """One side of a categorical column: its categories and counts, missing values apart."""

    dtype: str
    n_rows: int
    n_missing: int
    values: pl.Series
    counts: np.ndarray

    @property
    def n(self) -> int:
        return int(self.counts.sum())

    @property
    def n_unique(self) -> int:
        return int((self.counts > 0).sum())


def _runs(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values and their counts of a sorted array."""
    if values.size == 0:
        return values[:0].copy(), np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.concatenate(([True], values[1:] != values[:-1])))
    counts = np.diff(np.concatenate((starts, [values.size])))
    return values[starts].copy(), counts.astype(np.int64)


def _few(values: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The distinct values and counts of a sorted array if there are at most FEW_VALUES, else None."""
    vals: list[float] = []
    counts: list[int] = []
    i, n = 0, values.size
    while i < n:
        if len(vals) == FEW_VALUES:
            return None
        j = int(np.searchsorted(values, values[i], side="right"))
        vals.append(values[i])
        counts.append(j - i)
        i = j
    return np.array(vals, dtype=float), np.array(counts, dtype=np.int64)


def sorted_quantiles(values: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """numpy's default ('linear') quantiles of a sorted array without re-sorting it."""
    n = values.size
    h = (n - 1) * probs
    lo = np.floor(h).astype(np.int64)
    hi = np.minimum(lo + 1, n - 1)
    return values[lo] + (h - lo) * (values[hi] - values[lo])


def _quantile_edges(values: np.ndarray, bins: int) -> np.ndarray:
    if values.size == 0:
        return np.zeros(0)
    return np.unique(sorted_quantiles(values, np.arange(1, bins) / bins))


def rank_means(values: np.ndarray, parts: int) -> np.ndarray:
    """Means of ``parts`` equal-rank slices of a sorted array (NaN for an empty slice)."""
    bounds = np.round(np.arange(parts + 1) * values.size / parts).astype(np.int64)
    counts = np.diff(bounds)
    out = np.full(parts, np.nan)
    full = counts > 0
    out[full] = np.add.reduceat(values, bounds[:-1][full]) / counts[full]
    return out


def _sorted_finite(series: pl.Series) -> tuple[np.ndarray, int, int]:
    """(sorted finite values, missing count, infinite count) of a numeric series."""
    n_null = series.null_count()
    s = series.cast(pl.Float64)
    if n_null:
        s = s.fill_null(float("nan"))
    arr = np.sort(s.to_numpy())
    # sort order: -inf < finite < +inf < nan
    lo = int(np.searchsorted(arr, -np.inf, side="right"))
    hi_inf = int(np.searchsorted(arr, np.inf, side="left"))
    hi = int(np.searchsorted(arr, np.inf, side="right"))
    n_nan = arr.size - hi
    return arr[lo:hi_inf], n_nan, lo + (hi - hi_inf)


def numeric_side(dtype: str, n_rows: int, parts: tuple[np.ndarray, int, int]) -> NumericSide:
    """The :class:`NumericSide` of ``parts`` = (sorted finite values, missing count, infinite count).

    >>> numeric_side("Float64", 4, (np.array([1.0, 2.0, 2.0]), 1, 0)).n_unique
    2
    """
    values, n_missing, n_inf = parts
    vmin, vmax = (float(values[0]), float(values[-1])) if values.size else (float("nan"), float("nan"))
    return NumericSide(dtype, n_rows, n_missing, n_inf, values, None, vmin, vmax, _few(values))


def _cat_side(series: pl.Series) -> CategoricalSide:
    s = series
    if s.dtype in (pl.Categorical, pl.Enum) or isinstance(s.dtype, (pl.Categorical, pl.Enum)):
        s = s.cast(pl.String)
    n_rows = s.len()
    valid = s.drop_nulls()
    if valid.dtype.is_float():
        valid = valid.drop_nans()
    vc = valid.value_counts(sort=False, name="__n").sort(valid.name)
    return CategoricalSide(
        str(series.dtype),
        n_rows,
        n_rows - valid.len(),
        vc[valid.name].rename("v"),
        vc["__n"].to_numpy().astype(np.int64),
    )


def is_numeric_dtype(dtype: pl.DataType) -> bool:
    """Whether a column of ``dtype`` is tested as numbers (Boolean is categorical)."""
    return dtype.is_numeric() and dtype != pl.Boolean


def is_supported_dtype(dtype: pl.DataType) -> bool:
    """Whether drift tests a column of ``dtype``: numbers, strings, Booleans, categoricals."""
    return (
        is_numeric_dtype(dtype) or dtype in (pl.String, pl.Boolean) or isinstance(dtype, (pl.Categorical, pl.Enum))
    )


def _num_job(series: pl.Series) -> NumericSide:
    return numeric_side(str(series.dtype), series.len(), _sorted_finite(series))


class PreparedColumns(dict):  # type: ignore[type-arg]
    """Prepared columns by name; a value may still be a Future of the sorting thread."""

    def __getitem__(self, key: str) -> NumericSide | CategoricalSide:
        value = super().__getitem__(key)
        if isinstance(value, concurrent.futures.Future):
            value = value.result()
            super().__setitem__(key, value)
        return value

    def get(self, key: str, default: Any = None) -> Any:
        return self[key] if key in self else default  # noqa: SIM401 (resolves a Future)

    def items(self) -> list[tuple[str, NumericSide | CategoricalSide]]:  # type: ignore[override]
        return [(k, self[k]) for k in self]


def prepare_columns(frames: list[tuple[pl.DataFrame, dict[str, str]]]) -> list[PreparedColumns]:
    """Prepare columns of several frames: ``spec`` maps column -> "numeric" | "categorical".

    A thread pool (one thread per core) sorts the numeric columns, column by column across the
    frames (numpy releases the GIL), while the calling thread counts the categorical ones with
    polars and then tests each column as soon as both of its sides are sorted.
    """
    out = [PreparedColumns() for _ in frames]
    names = list(dict.fromkeys(name for _, spec in frames for name in spec))
    numeric = [(i, n) for n in names for i, (_, spec) in enumerate(frames) if spec.get(n) == "numeric"]
    if numeric:
        pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=max(1, min(len(numeric), os.cpu_count() or 1))
        )
        for i, name in numeric:
            out[i][name] = pool.submit(_num_job, frames[i][0][name])
        pool.shutdown(wait=False)  # the queued sorts still run; results are awaited on first use
    for i, (frame, spec) in enumerate(frames):
        for name, kind in spec.items():
            if kind == "categorical":
                out[i][name] = _cat_side(frame[name])
    return out


def as_frame(data: Any, field: str) -> pl.DataFrame:
    """A polars frame of ``data`` (polars, lazy, pandas, pyarrow, or a dict of columns).

    Raises
    ------
    ValidationError
        For anything else, naming ``field``.
    """
    if isinstance(data, pl.DataFrame):
        return data
    if isinstance(data, pl.LazyFrame):
        return data.collect()
    if type(data).__module__.startswith("pandas"):
        return pl.from_pandas(data)
    try:
        import pyarrow as pa

        if isinstance(data, (pa.Table, pa.RecordBatch)):
            return pl.DataFrame(pl.from_arrow(data))
    except ImportError:  # pragma: no cover
        pass
    if isinstance(data, Mapping):
        return pl.DataFrame(dict(data))
    raise ValidationError(
        f"{field}={type(data).__name__}: expected a polars, pandas or pyarrow frame or a dict of columns"
    )


def column_spec(
    frame: pl.DataFrame, columns: Iterable[str], categorical: Iterable[str]
) -> tuple[dict[str, str], dict[str, str]]:
    """How to prepare ``columns`` of ``frame``: (column -> ``"numeric"`` | ``"categorical"``,
    column -> dtype of the columns drift does not test). ``categorical`` forces numbers to categories."""
    cats = set(categorical)
    spec: dict[str, str] = {}
    skipped: dict[str, str] = {}
    for name in columns:
        dtype = frame.schema[name]
        if not is_supported_dtype(dtype):
            skipped[name] = str(dtype)
        elif is_numeric_dtype(dtype) and name not in cats:
            spec[name] = "numeric"
        else:
            spec[name] = "categorical"
    return spec, skipped


def select_columns(
    frame: pl.DataFrame, columns: Sequence[str] | None, exclude: Iterable[str] = ()
) -> list[str]:
    """The columns to compare: ``columns`` (each must be in ``frame``), or every column but ``exclude``."""
    if columns is None:
        drop = set(exclude)
        return [c for c in frame.columns if c not in drop]
    cols = [columns] if isinstance(columns, str) else list(columns)
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise ValidationError(f"columns={missing!r}: not in the reference (it has {frame.columns!r})")
    return cols


def current_spec(kinds: Mapping[str, str], cur_frame: pl.DataFrame) -> dict[str, str]:
    """How to prepare the current columns: as the reference side, categorical if no longer numeric."""
    spec: dict[str, str] = {}
    for name, kind in kinds.items():
        if name in cur_frame.columns and is_supported_dtype(cur_frame.schema[name]):
            numeric = kind == "numeric" and is_numeric_dtype(cur_frame.schema[name])
            spec[name] = "numeric" if numeric else "categorical"
    return spec


_UNSEEN_NAMED = 20


@dataclasses.dataclass(frozen=True)
class AlignedCounts:
    """Two categorical sides counted over the union of their categories (:func:`align_categories`).

    ``r`` and ``c`` are the reference and current counts of each category of ``values``
    (reference categories first); ``unseen`` names the most frequent categories only the current
    side has (at most 20, with counts), ``n_unseen`` counts them all, ``unseen_rows`` their rows.
    """

    values: pl.Series  # union of categories: reference ones first, then unseen ones
    r: np.ndarray
    c: np.ndarray
    unseen: dict[Any, int]  # the most frequent unseen categories (at most _UNSEEN_NAMED) -> count
    n_unseen: int  # distinct unseen categories
    unseen_rows: int


def align_categories(ref: CategoricalSide, cur: CategoricalSide) -> AlignedCounts:
    """Both count vectors over the union of categories, and the categories only ``cur`` has."""
    rv, cv = ref.values, cur.values
    if rv.dtype != cv.dtype:
        target = pl.Float64 if (is_numeric_dtype(rv.dtype) and is_numeric_dtype(cv.dtype)) else pl.String
        rv, cv = rv.cast(target), cv.cast(target)
    left = pl.DataFrame({"v": rv, "r": ref.counts})
    right = pl.DataFrame({"v": cv, "c": cur.counts})
    joined = left.join(right, on="v", how="full", coalesce=True).with_columns(
        pl.col("r").fill_null(0), pl.col("c").fill_null(0)
    )
    joined = joined.sort([pl.col("r") == 0, "v"])
    r = joined["r"].to_numpy().astype(np.int64)
    c = joined["c"].to_numpy().astype(np.int64)
    idx = np.flatnonzero((r == 0) & (c > 0))
    top = idx[np.argsort(-c[idx], kind="stable")[:_UNSEEN_NAMED]]
    names = joined["v"].gather(top).to_list()
    unseen = {name: int(c[i]) for name, i in zip(names, top, strict=True)}
    return AlignedCounts(joined["v"], r, c, unseen, int(idx.size), int(c[idx].sum()))


def missing_share(side: NumericSide | CategoricalSide | None) -> float:
    """The share of rows of ``side`` that are null, NaN or infinite (0 for no side or no rows)."""
    if side is None or side.n_rows == 0:
        return 0.0
    missing = side.n_missing + (side.n_inf if isinstance(side, NumericSide) else 0)
    return missing / side.n_rows


@dataclasses.dataclass
class PreparedReference:
    """A reference prepared for the tests: its sides by column (from a frame or a sketch).

    ``columns`` are the columns to compare, ``skipped`` those of a type drift does not test (name
    -> dtype), ``all_columns`` every column of the reference (to report new columns).
    """

    sides: Mapping[str, NumericSide | CategoricalSide]
    n_rows: int
    columns: list[str]
    skipped: dict[str, str]  # column -> dtype of columns that cannot be tested
    all_columns: list[str]  # every column the reference has
