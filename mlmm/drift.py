"""Data drift: per-column two-sample tests, a dataset verdict, chunks over time, reference sketches.

Pure functions of frames: :func:`compare` takes a reference and a current frame (polars, pandas
or pyarrow) and returns a :class:`DriftReport`; :func:`chunked` repeats it per time period, row
block or chunk; :class:`ReferenceSketch` keeps what the tests need from a reference (quantiles,
histograms, category counts) as compact JSON, so a current window can be compared without the raw
reference; :func:`quality_checks` reports the data-quality problems that come before drift.

Automatic choice of test
------------------------
Mirrors Evidently's defaults (``DataDriftPreset``, stattest auto-selection, v0.1.50 and later).
``n`` is the number of non-missing reference values of the column. A numeric column with at most
5 distinct reference values is treated as categorical (Evidently counts the values of both
samples together; mlmm counts the reference's, so a saved sketch is enough to decide).

===========  ===========================================  ==========================================
column       n <= 1000                                    n > 1000
===========  ===========================================  ==========================================
numeric      ``ks``: drift if p < 0.05                    ``wasserstein`` (normalized): drift if >= 0.1
categorical  ``chisquare`` (``z`` if <= 2 categories):     ``jensenshannon``: drift if >= 0.1
             drift if p < 0.05
===========  ===========================================  ==========================================

P-value tests for small samples; distances with thresholds for large ones, because at a million
rows every p-value test flags a shift nobody would act on. Every choice is overridable per column
(``tests={"age": "psi"}``), and so is every threshold (``thresholds={"age": 0.25}`` or by test
name, ``thresholds={"psi": 0.25}``). The dataset drifts when the share of drifted columns is at
least ``drift_share`` (default 0.5, as Evidently).

Tests
-----
================  ===========  ========================================  =========  ===============
test              columns      statistic                                 drift if   from a sketch
================  ===========  ========================================  =========  ===============
``ks``            numeric      two-sample Kolmogorov-Smirnov D           p < 0.05   approximate [1]
``wasserstein``   numeric      Wasserstein-1 / std of the reference      >= 0.1     approximate [2]
``anderson``      numeric      k-sample Anderson-Darling (midrank)       p < 0.05   raw data only
``psi``           both         population stability index                >= 0.1     exact
``jensenshannon`` both         Jensen-Shannon distance, base 2, [0, 1]   >= 0.1     exact
``chisquare``     categorical  Pearson chi-square, 2 x k homogeneity     p < 0.05   exact
``z``             categorical  two-proportion z (pooled), <= 2 classes   p < 0.05   exact
================  ===========  ========================================  =========  ===============

* **KS**: D exact from the sorted samples; p-value as scipy's ``method="auto"``: exact (scipy) when
  both samples have at most 10 000 values, else Smirnov's asymptotic ``kstwo.sf(D, round(nm/(n+m)))``.
* **Wasserstein**: exact, from the two quantile functions, divided by the reference's standard
  deviation (``ddof=0``, as Evidently); a constant reference uses the pooled standard deviation of
  both samples instead, and both constant at one value gives 0.
* **Anderson-Darling**: scipy's ``anderson_ksamp``; its p-value comes from a table and is capped
  to [0.001, 0.25]. It is slow at large sizes, so it is never chosen automatically.
* **PSI**: ``sum((c - r) * ln(c / r))`` over quantile bins of the reference (``bins=10`` by
  default; bin ``i`` is ``[q_i, q_{i+1})``, the outer bins are open). Tied quantiles merge bins, so
  a column with many ties gets fewer bins. A proportion of 0 (empty bin, unseen category) is
  replaced by ``PSI_EPSILON = 1e-4``, Evidently's constant (its newer versions go lower when a
  non-empty share is itself below 1e-4). Conventional reading: < 0.1 stable,
  0.1-0.25 minor shift, > 0.25 major shift (Siddiqi, *Intelligent Credit Scoring*, 2017).
* **Jensen-Shannon**: distance (square root of the divergence) with base-2 logarithms, so it lies in
  [0, 1]. Evidently uses natural logarithms: its 0.1 equals 0.120 here. Numeric columns use the PSI
  bins.
* **Chi-square**: test of homogeneity of the 2 x k table (reference, current) x category, so an
  unseen category has a finite contribution (a goodness-of-fit test against reference proportions
  would divide by zero).

[1] The sketch keeps the reference CDF at its quantiles: D is evaluated there only, so it is a
lower bound off by at most one quantile step (1/``resolution``). [2] From the means of
``resolution`` equal-rank slices of each sample, ``mean |mean_r(slice) - mean_c(slice)|``: a lower
bound, exact when the quantile functions do not cross inside a slice. A sketch of a reference with
at most ``exact_max`` values keeps them all, and then every test is exact.

Speed: each numeric column is sorted once per side (numpy, a thread per core); quantile bins,
histograms (``searchsorted`` of the bin edges), KS, Wasserstein, ranges and missing counts all
come from the sorted arrays in linear or logarithmic time; categorical columns are counted once by
polars. 20 numeric and 5 categorical columns, 1 M rows against 1 M rows, take about 0.5-0.9 s on
a 2-core machine (the sorts are most of it); a sketch saves the reference half of the sorting.

Missing values (null or NaN) and infinities are excluded from the distribution tests and reported
as shares; categories seen only in the current data are named in ``details["unseen"]`` (the 20
most frequent, with counts; ``details["n_unseen"]`` counts them all).
Multiple-testing correction (Bonferroni, Holm, Benjamini-Hochberg) applies to the p-value tests
across the columns of one comparison; each column's adjusted p-value is compared with its alpha.

References: Evidently, "Data drift" algorithm; NannyML, "Univariate drift detection" (chunks,
thresholds from the reference: mean +- 3 standard deviations); scipy.stats.

>>> import numpy as np, polars as pl
>>> rng = np.random.default_rng(0)
>>> ref = pl.DataFrame({"x": rng.normal(size=5000), "c": rng.choice(["a", "b"], 5000)})
>>> cur = pl.DataFrame({"x": rng.normal(0.5, 1, size=5000), "c": rng.choice(["a", "b", "z"], 5000)})
>>> report = compare(ref, cur)
>>> report
<DriftReport dataset drift: 2 of 2 columns drifted (share 1.00 >= 0.50); 1 quality issue>
>>> report["c"].details["unseen"]
{'z': 1606}
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import math
import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any, Literal

import numpy as np
import polars as pl
from scipy import special, stats

from .errors import ValidationError

__all__ = [
    "TESTS",
    "PSI_EPSILON",
    "ColumnDrift",
    "DriftReport",
    "QualityIssue",
    "ReferenceSketch",
    "adjust_pvalues",
    "chunked",
    "compare",
    "psi",
    "quality_checks",
]

PSI_EPSILON = 1e-4
SMALL_SAMPLE = 1000
FEW_VALUES = 5
_KS_EXACT_MAX = 10_000
_LN2 = math.log(2.0)


@dataclasses.dataclass(frozen=True)
class _Test:
    kinds: tuple[str, ...]
    pvalue: bool
    threshold: float
    needs_raw: bool = False


#: The tests, the column kinds they accept, whether they give a p-value, their default threshold.
TESTS: dict[str, _Test] = {
    "ks": _Test(("numeric",), True, 0.05),
    "wasserstein": _Test(("numeric",), False, 0.1),
    "anderson": _Test(("numeric",), True, 0.05, needs_raw=True),
    "psi": _Test(("numeric", "categorical"), False, 0.1),
    "jensenshannon": _Test(("numeric", "categorical"), False, 0.1),
    "chisquare": _Test(("categorical",), True, 0.05),
    "z": _Test(("categorical",), True, 0.05),
}
_ALIASES = {"js": "jensenshannon", "chi2": "chisquare", "kolmogorov-smirnov": "ks", "ad": "anderson"}
_CORRECTIONS = {"bonferroni": "bonferroni", "holm": "holm", "bh": "bh", "fdr_bh": "bh"}


# ----------------------------------------------------------------------------- results
def _clean(value: Any) -> Any:
    """Numpy scalars, non-finite floats and tuples as JSON-safe Python values."""
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@dataclasses.dataclass(frozen=True)
class QualityIssue:
    """A data-quality finding; it reports, it never raises.

    ``check`` is one of ``missing_column``, ``new_column``, ``type_change``, ``empty_window``,
    ``all_missing``, ``missing_share``, ``constant``, ``non_finite``, ``range``,
    ``unseen_categories``, ``unsupported_type``. ``severity`` is ``"error"`` when the column cannot
    be tested, ``"info"`` for a new column or one of a type drift does not test (times, lists),
    else ``"warning"``. ``value`` is the share involved.
    """

    column: str | None
    check: str
    severity: str
    message: str
    value: float | None = None
    details: dict[str, Any] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return _clean(dataclasses.asdict(self))

    def __repr__(self) -> str:
        return f"<QualityIssue {self.severity} {self.check}: {self.message}>"


@dataclasses.dataclass(frozen=True)
class ColumnDrift:
    """The verdict on one column.

    ``statistic`` is the test's statistic (a distance, D, chi-square, z or A2); ``p_value`` is
    ``None`` for distances, ``p_adjusted`` the p-value after the correction across columns.
    ``drifted`` is ``None`` when the column could not be tested (``details["reason"]`` says why).
    ``n_reference``/``n_current`` count non-missing values; ``missing_*`` are shares of rows that
    are null, NaN or infinite. ``approximate`` is true when a sketch stood in for raw data.
    """

    column: str
    kind: str
    test: str | None
    statistic: float | None
    p_value: float | None
    p_adjusted: float | None
    threshold: float | None
    drifted: bool | None
    n_reference: int
    n_current: int
    missing_reference: float
    missing_current: float
    approximate: bool = False
    details: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def rule(self) -> str:
        """How the verdict is reached: ``"p < 0.05"`` or ``"statistic >= 0.1"``."""
        if self.test is None or self.threshold is None:
            return "not tested"
        return f"p < {self.threshold:g}" if TESTS[self.test].pvalue else f"statistic >= {self.threshold:g}"

    def to_dict(self) -> dict[str, Any]:
        out = _clean(dataclasses.asdict(self))
        out["rule"] = self.rule
        return out

    def __repr__(self) -> str:
        if self.test is None:
            return f"<ColumnDrift {self.column}: not tested ({self.details.get('reason', '')})>"
        verdict = "drift" if self.drifted else "no drift"
        p = (
            f", p={self.p_adjusted if self.p_adjusted is not None else self.p_value:.3g}"
            if self.p_value is not None
            else ""
        )
        return f"<ColumnDrift {self.column} ({self.kind}): {verdict}, {self.test}={self.statistic:.4g}{p} [{self.rule}]>"


@dataclasses.dataclass(frozen=True)
class DriftReport:
    """Per-column verdicts, the dataset verdict and the data-quality issues of one comparison.

    ``report["age"]`` gives one column's :class:`ColumnDrift`; :meth:`to_frame` a polars table;
    :meth:`to_dict` a JSON-safe dict (about 400 bytes a column: no histograms, no raw values).
    """

    columns: tuple[ColumnDrift, ...]
    dataset_drift: bool
    drifted_share: float
    drift_share: float
    n_drifted: int
    n_tested: int
    correction: str | None
    quality: tuple[QualityIssue, ...]
    n_reference: int
    n_current: int
    note: str | None = None

    def __getitem__(self, column: str) -> ColumnDrift:
        for item in self.columns:
            if item.column == column:
                return item
        raise KeyError(column)

    @property
    def drifted_columns(self) -> list[str]:
        return [c.column for c in self.columns if c.drifted]

    def to_frame(self) -> pl.DataFrame:
        """One row per column: test, statistic, p-values, threshold, verdict, sizes, unseen names."""
        rows = [
            {
                "column": c.column,
                "kind": c.kind,
                "test": c.test,
                "statistic": c.statistic,
                "p_value": c.p_value,
                "p_adjusted": c.p_adjusted,
                "threshold": c.threshold,
                "drifted": c.drifted,
                "n_reference": c.n_reference,
                "n_current": c.n_current,
                "missing_reference": c.missing_reference,
                "missing_current": c.missing_current,
                "approximate": c.approximate,
                "unseen": [str(k) for k in c.details.get("unseen", {})],
            }
            for c in self.columns
        ]
        schema = {
            "column": pl.String, "kind": pl.String, "test": pl.String, "statistic": pl.Float64,
            "p_value": pl.Float64, "p_adjusted": pl.Float64, "threshold": pl.Float64,
            "drifted": pl.Boolean, "n_reference": pl.Int64, "n_current": pl.Int64,
            "missing_reference": pl.Float64, "missing_current": pl.Float64, "approximate": pl.Boolean,
            "unseen": pl.List(pl.String),
        }  # fmt: skip
        return pl.DataFrame(rows, schema=schema)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset_drift": self.dataset_drift,
            "drifted_share": _clean(self.drifted_share),
            "drift_share": self.drift_share,
            "n_drifted": self.n_drifted,
            "n_tested": self.n_tested,
            "correction": self.correction,
            "n_reference": self.n_reference,
            "n_current": self.n_current,
            "note": self.note,
            "columns": [c.to_dict() for c in self.columns],
            "quality": [q.to_dict() for q in self.quality],
        }

    def __repr__(self) -> str:
        if self.note:
            head = self.note
        else:
            verdict = "dataset drift" if self.dataset_drift else "no dataset drift"
            cmp = ">=" if self.dataset_drift else "<"
            head = (
                f"{verdict}: {self.n_drifted} of {self.n_tested} columns drifted "
                f"(share {self.drifted_share:.2f} {cmp} {self.drift_share:.2f})"
            )
        n = len(self.quality)
        tail = f"; {n} quality issue{'s' if n != 1 else ''}" if n else ""
        return f"<DriftReport {head}{tail}>"


# ----------------------------------------------------------------------------- small public helpers
def psi(
    reference: Sequence[float] | np.ndarray,
    current: Sequence[float] | np.ndarray,
    *,
    epsilon: float = PSI_EPSILON,
) -> float:
    """Population stability index of two histograms (counts or proportions over the same bins).

    ``sum((c_i - r_i) * ln(c_i / r_i))`` with each histogram scaled to proportions and a proportion
    of 0 replaced by ``epsilon``.

    >>> round(psi([0.25, 0.25, 0.25, 0.25], [0.10, 0.20, 0.30, 0.40]), 4)
    0.2282
    >>> psi([10, 0], [10, 0])
    0.0
    """
    r = np.asarray(reference, dtype=float)
    c = np.asarray(current, dtype=float)
    if r.shape != c.shape or r.ndim != 1 or r.size == 0:
        raise ValidationError(
            f"psi: shapes {r.shape} and {c.shape}: expected two 1-d histograms of the same length"
        )
    if (r < 0).any() or (c < 0).any() or r.sum() <= 0 or c.sum() <= 0:
        raise ValidationError("psi: expected non-negative counts or proportions with a positive total")
    return _psi_counts(r, c, epsilon)


def adjust_pvalues(pvalues: Sequence[float] | np.ndarray, method: str) -> np.ndarray:
    """P-values adjusted for multiple testing: ``"bonferroni"``, ``"holm"`` or ``"bh"``.

    Same values as statsmodels' ``multipletests(method="bonferroni" | "holm" | "fdr_bh")``
    (Holm 1979 step-down; Benjamini and Hochberg 1995 step-up), capped at 1.

    >>> adjust_pvalues([0.01, 0.04, 0.03], "holm").round(3).tolist()
    [0.03, 0.06, 0.06]
    >>> adjust_pvalues([0.01, 0.04, 0.03], "bh").round(3).tolist()
    [0.03, 0.04, 0.04]
    """
    key = _CORRECTIONS.get(str(method).lower())
    if key is None:
        raise ValidationError(f"correction={method!r}: expected 'bonferroni', 'holm' or 'bh'")
    p = np.asarray(pvalues, dtype=float)
    m = p.size
    if m == 0:
        return p.copy()
    if key == "bonferroni":
        return np.minimum(p * m, 1.0)
    order = np.argsort(p, kind="stable")
    ps = p[order]
    if key == "holm":
        adj = np.maximum.accumulate(ps * np.arange(m, 0, -1))
    else:
        adj = np.minimum.accumulate((ps * m / np.arange(1, m + 1))[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(adj, 1.0)
    return out


# ----------------------------------------------------------------------------- prepared columns
@dataclasses.dataclass
class _Num:
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

    def as_categories(self) -> _Cat:
        if self.few is not None:
            vals, cnts = self.few
        elif self.values is not None:
            vals, cnts = _runs(self.values)
        else:
            raise ValidationError(
                "tests: a categorical test on a numeric column with more than 5 values needs the raw reference"
            )
        return _Cat(self.dtype, self.n_rows, self.n_missing + self.n_inf, pl.Series("v", vals), cnts)


@dataclasses.dataclass
class _Cat:
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


def _quantile(values: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """numpy's default ('linear') quantiles of a sorted array without re-sorting it."""
    n = values.size
    h = (n - 1) * probs
    lo = np.floor(h).astype(np.int64)
    hi = np.minimum(lo + 1, n - 1)
    return values[lo] + (h - lo) * (values[hi] - values[lo])


def _quantile_edges(values: np.ndarray, bins: int) -> np.ndarray:
    if values.size == 0:
        return np.zeros(0)
    return np.unique(_quantile(values, np.arange(1, bins) / bins))


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


def _num_side(dtype: str, n_rows: int, parts: tuple[np.ndarray, int, int]) -> _Num:
    values, n_missing, n_inf = parts
    vmin, vmax = (float(values[0]), float(values[-1])) if values.size else (float("nan"), float("nan"))
    return _Num(dtype, n_rows, n_missing, n_inf, values, None, vmin, vmax, _few(values))


def _cat_side(series: pl.Series) -> _Cat:
    s = series
    if s.dtype in (pl.Categorical, pl.Enum) or isinstance(s.dtype, (pl.Categorical, pl.Enum)):
        s = s.cast(pl.String)
    n_rows = s.len()
    valid = s.drop_nulls()
    if valid.dtype.is_float():
        valid = valid.drop_nans()
    vc = valid.value_counts(sort=False, name="__n").sort(valid.name)
    return _Cat(
        str(series.dtype),
        n_rows,
        n_rows - valid.len(),
        vc[valid.name].rename("v"),
        vc["__n"].to_numpy().astype(np.int64),
    )


def _is_numeric(dtype: pl.DataType) -> bool:
    return dtype.is_numeric() and dtype != pl.Boolean


def _is_supported(dtype: pl.DataType) -> bool:
    return (
        _is_numeric(dtype) or dtype in (pl.String, pl.Boolean) or isinstance(dtype, (pl.Categorical, pl.Enum))
    )


def _num_job(series: pl.Series) -> _Num:
    return _num_side(str(series.dtype), series.len(), _sorted_finite(series))


class _Sides(dict):  # type: ignore[type-arg]
    """Prepared columns by name; a value may still be a Future of the sorting thread."""

    def __getitem__(self, key: str) -> _Num | _Cat:
        value = super().__getitem__(key)
        if isinstance(value, concurrent.futures.Future):
            value = value.result()
            super().__setitem__(key, value)
        return value

    def get(self, key: str, default: Any = None) -> Any:
        return self[key] if key in self else default  # noqa: SIM401 (resolves a Future)

    def items(self) -> list[tuple[str, _Num | _Cat]]:  # type: ignore[override]
        return [(k, self[k]) for k in self]


def _prepare(frames: list[tuple[pl.DataFrame, dict[str, str]]]) -> list[_Sides]:
    """Prepare columns of several frames: ``spec`` maps column -> "numeric" | "categorical".

    A thread pool (one thread per core) sorts the numeric columns, column by column across the
    frames (numpy releases the GIL), while the calling thread counts the categorical ones with
    polars and then tests each column as soon as both of its sides are sorted.
    """
    out = [_Sides() for _ in frames]
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


# ----------------------------------------------------------------------------- statistics
def _ks(ref: _Num, cur: _Num) -> tuple[float, float, bool]:
    """(D, p-value, approximate). Exact D from sorted samples, see the module docstring."""
    c = cur.values
    assert c is not None
    n, m = ref.n, c.size
    if ref.values is not None:
        # D+ = max over r_i of F_r(r_i) - F_c(r_i); D- = max over r_i of F_c(r_i-) - F_r(r_i-).
        # One search of r in c; the right side differs from the left only where values tie.
        r = ref.values
        left = np.searchsorted(c, r, side="left")
        right = left.copy()
        tied = c[np.minimum(left, m - 1)] == r
        if tied.any():
            right[tied] = np.searchsorted(c, r[tied], side="right")
        i = np.arange(n)
        up = (i + 1) / n - right / m
        down = left / m - i / n
        d = float(max(up.max(), down.max(), 0.0))
        approx = False
    else:
        assert ref.grid_q is not None and ref.grid_cdf is not None
        fc = np.searchsorted(c, ref.grid_q, side="right") / m
        d = float(np.abs(ref.grid_cdf - fc).max())
        approx = True
    if not approx and max(n, m) <= _KS_EXACT_MAX:
        assert ref.values is not None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # scipy falls back to asymp itself
            p = float(stats.ks_2samp(ref.values, c, method="auto").pvalue)
    else:
        big, small = max(n, m), min(n, m)
        p = float(np.clip(stats.kstwo.sf(d, np.round(big * small / (big + small))), 0.0, 1.0))
    return d, p, approx


@lru_cache(maxsize=2)  # up to ~50 MB an entry at 1 M values
def _quantile_merge(n: int, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Index pairs and weights that align the quantile functions of samples of sizes n and m."""
    t = np.union1d(np.arange(0, n * m + 1, m, dtype=np.int64), np.arange(0, n * m + 1, n, dtype=np.int64))
    left = t[:-1]
    return left // m, left // n, np.diff(t) / (n * m)


def _rank_means(values: np.ndarray, parts: int) -> np.ndarray:
    """Means of ``parts`` equal-rank slices of a sorted array (NaN for an empty slice)."""
    bounds = np.round(np.arange(parts + 1) * values.size / parts).astype(np.int64)
    counts = np.diff(bounds)
    out = np.full(parts, np.nan)
    full = counts > 0
    out[full] = np.add.reduceat(values, bounds[:-1][full]) / counts[full]
    return out


def _w1_sorted(r: np.ndarray, c: np.ndarray) -> float:
    """Wasserstein-1 distance of two sorted samples: the integral of |Q_r(u) - Q_c(u)|."""
    if r.size == c.size:
        diff = np.subtract(r, c)
        return float(np.abs(diff, out=diff).sum()) / r.size
    ir, ic, w = _quantile_merge(r.size, c.size)
    return float(np.dot(w, np.abs(r[ir] - c[ic])))


def _wasserstein(ref: _Num, cur: _Num) -> tuple[float, dict[str, Any], bool]:
    c = cur.values
    assert c is not None
    if ref.values is not None:
        w1 = _w1_sorted(ref.values, c)
        approx = False
    else:
        assert ref.grid_means is not None
        mr = ref.grid_means
        mc = _rank_means(c, mr.size)
        keep = np.isfinite(mr) & np.isfinite(mc)
        w1 = float(np.abs(mr[keep] - mc[keep]).sum()) / max(int(keep.sum()), 1)
        approx = True
    scale = ref.std
    details: dict[str, Any] = {"wasserstein": w1, "std_reference": ref.std}
    if not scale > 0:
        n, m = ref.n, c.size
        mean = (n * ref.mean + m * cur.mean) / (n + m)
        var = (n * (ref.std**2 + ref.mean**2) + m * (cur.std**2 + cur.mean**2)) / (n + m) - mean**2
        scale = math.sqrt(max(var, 0.0))
        details["scale"] = "pooled std (constant reference)"
    stat = w1 / scale if scale > 0 else 0.0
    return stat, details, approx


def _anderson(ref: _Num, cur: _Num) -> tuple[float, float]:
    assert ref.values is not None and cur.values is not None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "p-value capped"
        try:
            res = stats.anderson_ksamp([ref.values, cur.values], variant="midrank")
        except TypeError:  # scipy < 1.17 has no `variant`
            res = stats.anderson_ksamp([ref.values, cur.values], midrank=True)
    return float(res.statistic), float(res.pvalue)


def _psi_counts(r: np.ndarray, c: np.ndarray, epsilon: float = PSI_EPSILON) -> float:
    pr = r / r.sum()
    pc = c / c.sum()
    pr = np.where(pr == 0, epsilon, pr)
    pc = np.where(pc == 0, epsilon, pc)
    return float(np.sum((pc - pr) * np.log(pc / pr)))


def _js_counts(r: np.ndarray, c: np.ndarray) -> float:
    """Jensen-Shannon distance, base 2, computed as scipy.spatial.distance.jensenshannon does."""
    p = r / r.sum()
    q = c / c.sum()
    mid = (p + q) / 2.0
    js = (special.rel_entr(p, mid).sum() + special.rel_entr(q, mid).sum()) / _LN2
    return float(np.sqrt(max(js, 0.0) / 2.0))


def _chisquare(r: np.ndarray, c: np.ndarray) -> tuple[float, float, int]:
    """Pearson chi-square test of homogeneity of the 2 x k table; (statistic, p-value, dof)."""
    keep = (r + c) > 0
    r, c = r[keep].astype(float), c[keep].astype(float)
    k = r.size
    if k < 2:
        return 0.0, 1.0, 0
    n, m = r.sum(), c.sum()
    total = r + c
    er, ec = total * n / (n + m), total * m / (n + m)
    chi2 = float(np.sum((r - er) ** 2 / er) + np.sum((c - ec) ** 2 / ec))
    return chi2, float(stats.chi2.sf(chi2, k - 1)), k - 1


def _ztest(r: np.ndarray, c: np.ndarray, label: Any) -> tuple[float, float, dict[str, Any]]:
    """Two-proportion z-test (pooled variance) on the share of the first category."""
    n, m = float(r.sum()), float(c.sum())
    if r.size == 0:
        return 0.0, 1.0, {}
    p1, p2 = r[0] / n, c[0] / m
    pooled = (r[0] + c[0]) / (n + m)
    var = pooled * (1 - pooled) * (1 / n + 1 / m)
    if var <= 0:
        return 0.0, 1.0, {"category": label}
    z = float((p2 - p1) / math.sqrt(var))
    return z, float(2 * stats.norm.sf(abs(z))), {"category": label}


# ----------------------------------------------------------------------------- the comparison
@dataclasses.dataclass(frozen=True)
class _Options:
    tests: Mapping[str, str] | str | None
    thresholds: Mapping[str, float] | None
    correction: str | None
    drift_share: float
    bins: int | None
    missing_tolerance: float
    range_tolerance: float
    exclude: tuple[str, ...] = ()


def _as_frame(data: Any, field: str) -> pl.DataFrame:
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


def _canonical_test(name: Any, column: str) -> str:
    key = _ALIASES.get(str(name).lower(), str(name).lower())
    if key not in TESTS:
        raise ValidationError(f"tests[{column!r}]={name!r}: expected one of {', '.join(TESTS)}")
    return key


def _requested_test(column: str, opts: _Options) -> str | None:
    if opts.tests is None:
        return None
    if isinstance(opts.tests, str):
        return _canonical_test(opts.tests, column)
    name = opts.tests.get(column)
    return None if name is None else _canonical_test(name, column)


def _threshold(column: str, test: str, opts: _Options) -> float:
    th = opts.thresholds or {}
    value = th.get(column, th.get(test, TESTS[test].threshold))
    if (
        not isinstance(value, (int, float))
        or isinstance(value, bool)
        or not math.isfinite(value)
        or value < 0
    ):
        raise ValidationError(f"thresholds[{column!r}]={value!r}: expected a non-negative number")
    return float(value)


def _auto_test(kind: str, n_ref: int, n_categories: int) -> str:
    if kind == "numeric":
        return "ks" if n_ref <= SMALL_SAMPLE else "wasserstein"
    if n_ref <= SMALL_SAMPLE:
        return "z" if n_categories <= 2 else "chisquare"
    return "jensenshannon"


_UNSEEN_NAMED = 20


@dataclasses.dataclass(frozen=True)
class _Aligned:
    values: pl.Series  # union of categories: reference ones first, then unseen ones
    r: np.ndarray
    c: np.ndarray
    unseen: dict[Any, int]  # the most frequent unseen categories (at most _UNSEEN_NAMED) -> count
    n_unseen: int  # distinct unseen categories
    unseen_rows: int


def _align(ref: _Cat, cur: _Cat) -> _Aligned:
    """Both count vectors over the union of categories, and the categories only ``cur`` has."""
    rv, cv = ref.values, cur.values
    if rv.dtype != cv.dtype:
        target = pl.Float64 if (_is_numeric(rv.dtype) and _is_numeric(cv.dtype)) else pl.String
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
    return _Aligned(joined["v"], r, c, unseen, int(idx.size), int(c[idx].sum()))


def _untested(
    name: str, kind: str, rs: _Num | _Cat | None, cs: _Num | _Cat | None, reason: str
) -> ColumnDrift:
    return ColumnDrift(
        column=name,
        kind=kind,
        test=None,
        statistic=None,
        p_value=None,
        p_adjusted=None,
        threshold=None,
        drifted=None,
        n_reference=rs.n if rs is not None else 0,
        n_current=cs.n if cs is not None else 0,
        missing_reference=_missing_share(rs),
        missing_current=_missing_share(cs),
        details={"reason": reason},
    )


def _missing_share(side: _Num | _Cat | None) -> float:
    if side is None or side.n_rows == 0:
        return 0.0
    missing = side.n_missing + (side.n_inf if isinstance(side, _Num) else 0)
    return missing / side.n_rows


def _column(name: str, rs: _Num | _Cat, cs: _Num | _Cat | None, opts: _Options) -> ColumnDrift:
    """Test one column. ``rs``/``cs`` are the reference and current sides (cs None: column absent)."""
    requested = _requested_test(name, opts)
    if isinstance(rs, _Num):
        if requested in ("chisquare", "z"):
            kind = "categorical"
        elif requested is not None and requested in ("ks", "wasserstein", "anderson"):
            kind = "numeric"
        else:
            kind = "numeric" if rs.n_unique > FEW_VALUES else "categorical"
    else:
        kind = "categorical"
        if requested is not None and "categorical" not in TESTS[requested].kinds:
            raise ValidationError(
                f"tests[{name!r}]={requested!r}: expected a test for categorical columns (psi, jensenshannon, chisquare, z)"
            )
    if cs is None:
        return _untested(name, kind, rs, cs, "column missing from the current data")
    if isinstance(rs, _Num) != isinstance(cs, _Num):
        return _untested(name, kind, rs, cs, f"type changed from {rs.dtype} to {cs.dtype}")
    if cs.n_rows == 0:
        return _untested(name, kind, rs, cs, "no data in current window")
    if rs.n == 0:
        return _untested(name, kind, rs, cs, "no non-missing values in the reference")
    if cs.n == 0:
        return _untested(name, kind, rs, cs, "no non-missing values in the current window")

    details: dict[str, Any] = {}
    approximate = False
    p_value: float | None = None
    if kind == "numeric":
        assert isinstance(rs, _Num) and isinstance(cs, _Num)
        test = requested or _auto_test("numeric", rs.n, 0)
        if test == "ks":
            statistic, p_value, approximate = _ks(rs, cs)
        elif test == "wasserstein":
            statistic, details, approximate = _wasserstein(rs, cs)
        elif test == "anderson":
            if rs.values is None:
                raise ValidationError(
                    f"tests[{name!r}]='anderson': needs the raw reference; a ReferenceSketch keeps quantiles only"
                )
            statistic, p_value = _anderson(rs, cs)
            details["p_value_capped"] = "scipy interpolates A2 tables: p in [0.001, 0.25]"
        else:  # psi / jensenshannon over the reference quantile bins
            bins = opts.bins or (next(iter(rs.hist)) if rs.values is None and rs.hist else 10)
            edges, rcounts = rs.bins(bins)
            ccounts = cs.counts(edges)
            statistic = _psi_counts(rcounts, ccounts) if test == "psi" else _js_counts(rcounts, ccounts)
            details["bins"] = int(edges.size + 1)
    else:
        rc = rs.as_categories() if isinstance(rs, _Num) else rs
        cc = cs.as_categories() if isinstance(cs, _Num) else cs
        al = _align(rc, cc)
        r, c = al.r, al.c
        n_cat = int(((r + c) > 0).sum())
        test = requested or _auto_test("categorical", rc.n, n_cat)
        if test in ("ks", "wasserstein", "anderson"):
            raise ValidationError(f"tests[{name!r}]={test!r}: expected a test for categorical columns")
        if test == "chisquare":
            statistic, p_value, dof = _chisquare(r, c)
            details["dof"] = dof
        elif test == "z":
            if n_cat > 2:
                raise ValidationError(
                    f"tests[{name!r}]='z': column has {n_cat} categories, expected at most 2"
                )
            statistic, p_value, extra = _ztest(r, c, al.values[0] if al.values.len() else None)
            details.update(extra)
        elif test == "psi":
            statistic = _psi_counts(r, c)
        else:
            statistic = _js_counts(r, c)
        if al.n_unseen:
            details["unseen"] = al.unseen
            details["n_unseen"] = al.n_unseen
            details["unseen_share"] = al.unseen_rows / int(c.sum())
        details["categories"] = n_cat
    threshold = _threshold(name, test, opts)
    drifted = (p_value < threshold) if TESTS[test].pvalue else (statistic >= threshold)
    return ColumnDrift(
        column=name,
        kind=kind,
        test=test,
        statistic=float(statistic),
        p_value=p_value,
        p_adjusted=p_value,
        threshold=threshold,
        drifted=bool(drifted),
        n_reference=rs.n,
        n_current=cs.n,
        missing_reference=_missing_share(rs),
        missing_current=_missing_share(cs),
        approximate=approximate,
        details=details,
    )


def _correct(results: list[ColumnDrift], method: str | None) -> list[ColumnDrift]:
    if method is None:
        return results
    idx = [i for i, r in enumerate(results) if r.p_value is not None]
    if not idx:
        return results
    adjusted = adjust_pvalues([results[i].p_value for i in idx], method)  # type: ignore[misc]
    out = list(results)
    for i, p in zip(idx, adjusted, strict=True):
        r = out[i]
        assert r.threshold is not None
        out[i] = dataclasses.replace(r, p_adjusted=float(p), drifted=bool(p < r.threshold))
    return out


@dataclasses.dataclass
class _Reference:
    sides: Mapping[str, _Num | _Cat]
    n_rows: int
    columns: list[str]
    skipped: dict[str, str]  # column -> dtype of columns that cannot be tested
    all_columns: list[str]  # every column the reference has


def _spec(
    frame: pl.DataFrame, columns: Iterable[str], categorical: Iterable[str]
) -> tuple[dict[str, str], dict[str, str]]:
    cats = set(categorical)
    spec: dict[str, str] = {}
    skipped: dict[str, str] = {}
    for name in columns:
        dtype = frame.schema[name]
        if not _is_supported(dtype):
            skipped[name] = str(dtype)
        elif _is_numeric(dtype) and name not in cats:
            spec[name] = "numeric"
        else:
            spec[name] = "categorical"
    return spec, skipped


def _select_columns(
    frame: pl.DataFrame, columns: Sequence[str] | None, exclude: Iterable[str] = ()
) -> list[str]:
    if columns is None:
        drop = set(exclude)
        return [c for c in frame.columns if c not in drop]
    cols = [columns] if isinstance(columns, str) else list(columns)
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise ValidationError(f"columns={missing!r}: not in the reference (it has {frame.columns!r})")
    return cols


def _check_options(correction: str | None, drift_share: float, bins: int | None) -> None:
    if correction is not None and str(correction).lower() not in _CORRECTIONS:
        raise ValidationError(f"correction={correction!r}: expected None, 'bonferroni', 'holm' or 'bh'")
    if not (isinstance(drift_share, (int, float)) and 0 <= drift_share <= 1):
        raise ValidationError(f"drift_share={drift_share!r}: expected a number in [0, 1]")
    if bins is not None and (not isinstance(bins, int) or isinstance(bins, bool) or bins < 2):
        raise ValidationError(f"bins={bins!r}: expected an integer >= 2")


def _current_spec(kinds: Mapping[str, str], cur_frame: pl.DataFrame) -> dict[str, str]:
    """How to prepare the current columns: as the reference side, categorical if no longer numeric."""
    spec: dict[str, str] = {}
    for name, kind in kinds.items():
        if name in cur_frame.columns and _is_supported(cur_frame.schema[name]):
            numeric = kind == "numeric" and _is_numeric(cur_frame.schema[name])
            spec[name] = "numeric" if numeric else "categorical"
    return spec


def _evaluate(
    ref: _Reference,
    cur_frame: pl.DataFrame,
    opts: _Options,
    cur_sides: Mapping[str, _Num | _Cat] | None = None,
) -> DriftReport:
    columns = ref.columns
    if cur_sides is None:
        kinds = {n: "numeric" if isinstance(side, _Num) else "categorical" for n, side in ref.sides.items()}
        cur_sides = _prepare([(cur_frame, _current_spec(kinds, cur_frame))])[0]
    results: list[ColumnDrift] = []
    for name in columns:
        if name in ref.skipped:
            continue
        results.append(_column(name, ref.sides[name], cur_sides.get(name), opts))
    results = _correct(results, opts.correction)
    quality = _quality(ref, cur_frame, cur_sides, opts)
    tested = [r for r in results if r.drifted is not None]
    n_drifted = sum(1 for r in tested if r.drifted)
    share = n_drifted / len(tested) if tested else 0.0
    note = "no data in current window" if cur_frame.height == 0 else None
    return DriftReport(
        columns=tuple(results),
        dataset_drift=bool(tested) and share >= opts.drift_share,
        drifted_share=share,
        drift_share=float(opts.drift_share),
        n_drifted=n_drifted,
        n_tested=len(tested),
        correction=_CORRECTIONS[str(opts.correction).lower()] if opts.correction else None,
        quality=tuple(quality),
        n_reference=ref.n_rows,
        n_current=cur_frame.height,
        note=note,
    )


def _reference(
    reference: Any, columns: Sequence[str] | None, categorical: Iterable[str], exclude: Iterable[str] = ()
) -> _Reference:
    if isinstance(reference, ReferenceSketch):
        return reference._reference(columns)
    frame = _as_frame(reference, "reference")
    if frame.height == 0:
        raise ValidationError("reference: 0 rows: expected at least one row to compare with")
    cols = _select_columns(frame, columns, exclude)
    spec, skipped = _spec(frame, cols, categorical)
    sides = _prepare([(frame, spec)])[0]
    return _Reference(sides, frame.height, cols, skipped, frame.columns)


def compare(
    reference: Any,
    current: Any,
    *,
    columns: Sequence[str] | None = None,
    tests: Mapping[str, str] | str | None = None,
    thresholds: Mapping[str, float] | None = None,
    correction: Literal["bonferroni", "holm", "bh"] | None = None,
    drift_share: float = 0.5,
    categorical: Sequence[str] | None = None,
    bins: int | None = None,
    missing_tolerance: float = 0.05,
    range_tolerance: float = 0.01,
) -> DriftReport:
    """Compare each column of ``current`` with ``reference`` and decide on dataset drift.

    Parameters
    ----------
    reference : polars / pandas / pyarrow frame, or a :class:`ReferenceSketch`
    current : polars / pandas / pyarrow frame (0 rows gives a report that says so)
    columns : the columns to compare (default: every column of the reference)
    tests : test per column (``{"age": "psi"}``) or one test name for all; default: automatic,
        see the module docstring
    thresholds : by column name or by test name (``{"psi": 0.25}``); p-value tests use alpha
    correction : ``None``, ``"bonferroni"``, ``"holm"`` or ``"bh"`` across the p-value tests
    drift_share : the dataset drifts when at least this share of tested columns drifts
    categorical : numeric columns to treat as categories (numeric columns with at most 5
        distinct reference values already are)
    bins : quantile bins of the reference for PSI and Jensen-Shannon on numeric columns (10)
    missing_tolerance, range_tolerance : see :func:`quality_checks`

    Returns
    -------
    DriftReport

    Examples
    --------
    >>> import numpy as np, polars as pl
    >>> rng = np.random.default_rng(1)
    >>> ref = pl.DataFrame({"a": rng.normal(size=500), "b": rng.normal(size=500)})
    >>> cur = pl.DataFrame({"a": rng.normal(size=400), "b": rng.normal(1, 1, size=400)})
    >>> r = compare(ref, cur, correction="holm")
    >>> [(c.column, c.test, c.drifted) for c in r.columns]
    [('a', 'ks', False), ('b', 'ks', True)]
    >>> r["a"].rule, round(r["b"].statistic, 3)
    ('p < 0.05', 0.39)
    >>> compare(ref, cur, tests={"a": "psi"})["a"]
    <ColumnDrift a (numeric): no drift, psi=0.07243 [statistic >= 0.1]>
    >>> compare(ref, cur.head(0))
    <DriftReport no data in current window; 1 quality issue>
    """
    _check_options(correction, drift_share, bins)
    opts = _Options(tests, thresholds, correction, drift_share, bins, missing_tolerance, range_tolerance)
    cur = _as_frame(current, "current")
    if isinstance(reference, ReferenceSketch):
        ref = reference._reference(columns)
        return _evaluate(ref, cur, opts)
    frame = _as_frame(reference, "reference")
    if frame.height == 0:
        raise ValidationError("reference: 0 rows: expected at least one row to compare with")
    cols = _select_columns(frame, columns)
    spec, skipped = _spec(frame, cols, categorical or ())
    ref_sides, cur_sides = _prepare([(frame, spec), (cur, _current_spec(spec, cur))])  # one pool for both
    return _evaluate(_Reference(ref_sides, frame.height, cols, skipped, frame.columns), cur, opts, cur_sides)


# ----------------------------------------------------------------------------- quality
def _quality(
    ref: _Reference, cur_frame: pl.DataFrame, cur_sides: Mapping[str, _Num | _Cat], opts: _Options
) -> list[QualityIssue]:
    issues: list[QualityIssue] = []
    if cur_frame.height == 0:
        issues.append(QualityIssue(None, "empty_window", "error", "no data in current window", 0.0))
    for name in ref.columns:
        if name in ref.skipped:
            issues.append(
                QualityIssue(
                    name,
                    "unsupported_type",
                    "info",
                    f"{name}: type {ref.skipped[name]} is not tested for drift (leave it out with columns=)",
                )
            )
            continue
        rs = ref.sides[name]
        if name not in cur_frame.columns:
            issues.append(
                QualityIssue(
                    name,
                    "missing_column",
                    "error",
                    f"{name}: in the reference, missing from the current data",
                )
            )
            continue
        cur_dtype = str(cur_frame.schema[name])
        if cur_dtype != rs.dtype:
            severe = isinstance(rs, _Num) and not isinstance(cur_sides.get(name), _Num)
            issues.append(
                QualityIssue(
                    name, "type_change", "error" if severe or name not in cur_sides else "warning",
                    f"{name}: type changed from {rs.dtype} to {cur_dtype}",
                    details={"reference": rs.dtype, "current": cur_dtype},
                )
            )  # fmt: skip
        cs = cur_sides.get(name)
        if cs is None or cur_frame.height == 0:
            continue
        mr, mc = _missing_share(rs), _missing_share(cs)
        if rs.n == 0 or cs.n == 0:
            side = "reference" if rs.n == 0 else "current data"
            issues.append(
                QualityIssue(
                    name,
                    "all_missing",
                    "error",
                    f"{name}: every value is missing in the {side}",
                    1.0,
                    {"reference": mr, "current": mc},
                )
            )
        elif abs(mc - mr) > opts.missing_tolerance:
            issues.append(
                QualityIssue(
                    name,
                    "missing_share",
                    "warning",
                    f"{name}: missing share changed from {mr:.1%} to {mc:.1%}",
                    mc - mr,
                    {"reference": mr, "current": mc},
                )
            )
        for label, side in (("reference", rs), ("current data", cs)):
            if side.n > 0 and side.n_unique == 1:
                issues.append(
                    QualityIssue(
                        name,
                        "constant",
                        "warning",
                        f"{name}: constant in the {label}",
                        None,
                        {"side": label.split()[0]},
                    )
                )
        if isinstance(cs, _Num):
            if cs.n_inf and (not isinstance(rs, _Num) or not rs.n_inf):
                issues.append(
                    QualityIssue(
                        name,
                        "non_finite",
                        "warning",
                        f"{name}: {cs.n_inf} infinite values in the current data",
                        cs.n_inf / cs.n_rows,
                    )
                )
            if isinstance(rs, _Num) and rs.n and cs.n and cs.values is not None:
                below = int(np.searchsorted(cs.values, rs.vmin, side="left"))
                above = int(cs.values.size - np.searchsorted(cs.values, rs.vmax, side="right"))
                share = (below + above) / cs.n
                if share > opts.range_tolerance:
                    issues.append(
                        QualityIssue(
                            name, "range", "warning",
                            f"{name}: {share:.1%} of current values outside the reference range [{rs.vmin:g}, {rs.vmax:g}]",
                            share, {"below": below, "above": above, "min": rs.vmin, "max": rs.vmax},
                        )
                    )  # fmt: skip
        elif isinstance(rs, _Cat) and rs.n and cs.n:
            al = _align(rs, cs)
            if al.n_unseen:
                named = al.unseen
                share = al.unseen_rows / cs.n
                shown = ", ".join(repr(u) for u in list(named)[:10]) + (", ..." if al.n_unseen > 10 else "")
                issues.append(
                    QualityIssue(
                        name,
                        "unseen_categories",
                        "warning",
                        f"{name}: categories not in the reference: {shown} ({share:.1%} of rows)",
                        share,
                        {"unseen": named, "n_unseen": al.n_unseen},
                    )
                )
    for name in cur_frame.columns:
        if name not in ref.all_columns and name not in opts.exclude:
            issues.append(
                QualityIssue(name, "new_column", "info", f"{name}: in the current data, not in the reference")
            )
    return issues


def quality_checks(
    reference: Any,
    current: Any,
    *,
    columns: Sequence[str] | None = None,
    categorical: Sequence[str] | None = None,
    missing_tolerance: float = 0.05,
    range_tolerance: float = 0.01,
) -> list[QualityIssue]:
    """Data-quality issues that come before drift; they report, they never raise on bad data.

    Checks: columns missing or new, type changes, an empty current window, all-missing columns,
    missing share changed by more than ``missing_tolerance`` (absolute), constant columns,
    infinite values, more than ``range_tolerance`` of current values outside the reference range,
    categories not seen in the reference (named).

    >>> import polars as pl
    >>> ref = pl.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "k": ["a", "b", "a", "b"]})
    >>> cur = pl.DataFrame({"x": [1.0, None, 9.0, 9.0], "k": ["a", "a", "a", "q"]})
    >>> for issue in quality_checks(ref, cur):
    ...     print(issue.check, "|", issue.message)
    missing_share | x: missing share changed from 0.0% to 25.0%
    range | x: 66.7% of current values outside the reference range [1, 4]
    unseen_categories | k: categories not in the reference: 'q' (25.0% of rows)
    """
    opts = _Options(None, None, None, 0.5, None, missing_tolerance, range_tolerance)
    cur = _as_frame(current, "current")
    ref = _reference(reference, columns, categorical or ())
    kinds = {n: "numeric" if isinstance(side, _Num) else "categorical" for n, side in ref.sides.items()}
    return _quality(ref, cur, _prepare([(cur, _current_spec(kinds, cur))])[0], opts)


# ----------------------------------------------------------------------------- sketches
@dataclasses.dataclass(frozen=True)
class ReferenceSketch:
    """What the drift tests need from a reference, without its rows; JSON-serialisable.

    Numeric columns keep counts, mean, std, min, max, ``resolution + 1`` quantiles with the
    reference CDF at them (for KS), the means of ``resolution`` equal-rank slices (for
    Wasserstein) and the PSI bins (edges and counts); a column with at most
    ``exact_max`` values keeps them all (then every test is exact). Categorical columns keep their
    category counts. PSI, Jensen-Shannon, chi-square and z are exact from a sketch; KS and
    Wasserstein are approximate (``ColumnDrift.approximate``); Anderson-Darling needs raw data.

    >>> import numpy as np, polars as pl
    >>> rng = np.random.default_rng(2)
    >>> ref = pl.DataFrame({"x": rng.normal(size=20_000), "k": rng.choice(["a", "b", "c"], 20_000)})
    >>> sketch = ReferenceSketch.from_frame(ref)
    >>> sketch
    <ReferenceSketch 2 columns, 20000 rows, bins=10, resolution=200>
    >>> again = ReferenceSketch.from_dict(sketch.to_dict())
    >>> cur = pl.DataFrame({"x": rng.normal(0.3, 1, size=5000), "k": rng.choice(["a", "b", "c"], 5000)})
    >>> exact, approx = compare(ref, cur)["x"], compare(again, cur)["x"]
    >>> round(exact.statistic, 3), round(approx.statistic, 3), approx.approximate
    (0.274, 0.274, True)
    >>> compare(ref, cur, tests="psi")["k"].statistic == compare(again, cur, tests="psi")["k"].statistic
    True
    """

    columns: dict[str, dict[str, Any]]
    n_rows: int
    bins: int
    resolution: int
    version: int = 1

    @classmethod
    def from_frame(
        cls,
        frame: Any,
        *,
        columns: Sequence[str] | None = None,
        categorical: Sequence[str] | None = None,
        bins: int = 10,
        resolution: int = 200,
        exact_max: int = SMALL_SAMPLE,
    ) -> ReferenceSketch:
        """Sketch the columns of a reference frame (see the class docstring)."""
        _check_options(None, 0.5, bins)
        if not isinstance(resolution, int) or resolution < 2:
            raise ValidationError(f"resolution={resolution!r}: expected an integer >= 2")
        ref = _reference(frame, columns, categorical or ())
        out: dict[str, dict[str, Any]] = {}
        for name in ref.columns:
            if name in ref.skipped:
                out[name] = {"kind": "unsupported", "dtype": ref.skipped[name]}
                continue
            side = ref.sides[name]
            if isinstance(side, _Cat):
                out[name] = {
                    "kind": "categorical",
                    "dtype": side.dtype,
                    "n_rows": side.n_rows,
                    "n_missing": side.n_missing,
                    "categories": _clean(side.values.to_list()),
                    "counts": side.counts.tolist(),
                }
                continue
            assert side.values is not None
            entry: dict[str, Any] = {
                "kind": "numeric",
                "dtype": side.dtype,
                "n_rows": side.n_rows,
                "n_missing": side.n_missing,
                "n_inf": side.n_inf,
                "mean": side.mean,
                "std": side.std,
                "min": side.vmin,
                "max": side.vmax,
            }
            if side.few is not None:
                entry["few"] = [side.few[0].tolist(), side.few[1].tolist()]
            if side.n:
                edges, counts = side.bins(bins)
                entry["edges"], entry["bin_counts"] = edges.tolist(), counts.tolist()
                probs = np.linspace(0.0, 1.0, resolution + 1)
                q = _quantile(side.values, probs)
                entry["quantiles"] = q.tolist()
                entry["cdf"] = (np.searchsorted(side.values, q, side="right") / side.n).tolist()
                entry["means"] = _rank_means(side.values, resolution).tolist()
                if side.n <= exact_max:
                    entry["values"] = side.values.tolist()
            out[name] = _clean(entry)
        return cls(out, ref.n_rows, bins, resolution)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (floats as floats; NaN statistics of empty columns as None)."""
        return {
            "version": self.version,
            "n_rows": self.n_rows,
            "bins": self.bins,
            "resolution": self.resolution,
            "columns": self.columns,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReferenceSketch:
        """Read a sketch written by :meth:`to_dict`."""
        try:
            version = int(data.get("version", 1))
            if version != 1:
                raise ValidationError(f"version={version!r}: expected 1")
            return cls(
                dict(data["columns"]),
                int(data["n_rows"]),
                int(data["bins"]),
                int(data["resolution"]),
                version,
            )
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, ValidationError):
                raise
            raise ValidationError(
                f"sketch: {exc!r}: expected a dict from ReferenceSketch.to_dict()"
            ) from None

    def _reference(self, columns: Sequence[str] | None) -> _Reference:
        names = (
            list(self.columns)
            if columns is None
            else ([columns] if isinstance(columns, str) else list(columns))
        )
        unknown = [c for c in names if c not in self.columns]
        if unknown:
            raise ValidationError(f"columns={unknown!r}: not in the sketch (it has {list(self.columns)!r})")
        sides: dict[str, _Num | _Cat] = {}
        skipped: dict[str, str] = {}
        for name in names:
            e = self.columns[name]
            if e["kind"] == "unsupported":
                skipped[name] = e["dtype"]
            elif e["kind"] == "categorical":
                sides[name] = _Cat(
                    e["dtype"],
                    e["n_rows"],
                    e["n_missing"],
                    pl.Series("v", e["categories"]),
                    np.asarray(e["counts"], dtype=np.int64),
                )
            else:
                few = (
                    None
                    if "few" not in e
                    else (np.asarray(e["few"][0], dtype=float), np.asarray(e["few"][1], dtype=np.int64))
                )
                values = np.asarray(e["values"], dtype=float) if "values" in e else None
                side = _Num(
                    e["dtype"], e["n_rows"], e["n_missing"], e["n_inf"], values,
                    (_nan(e["mean"]), _nan(e["std"])), _nan(e["min"]), _nan(e["max"]), few,
                )  # fmt: skip
                if "quantiles" in e:
                    side.grid_q = np.asarray(e["quantiles"], dtype=float)
                    side.grid_cdf = np.asarray(e["cdf"], dtype=float)
                    side.grid_means = np.array([_nan(v) for v in e["means"]])
                    side.hist[self.bins] = (
                        np.asarray(e["edges"], dtype=float),
                        np.asarray(e["bin_counts"], dtype=np.int64),
                    )
                sides[name] = side
        return _Reference(sides, self.n_rows, names, skipped, list(self.columns))

    def __repr__(self) -> str:
        return f"<ReferenceSketch {len(self.columns)} columns, {self.n_rows} rows, bins={self.bins}, resolution={self.resolution}>"


def _nan(value: Any) -> float:
    return float("nan") if value is None else float(value)


# ----------------------------------------------------------------------------- chunks
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
    _check_options(correction, 0.5, bins)
    exclude = [time_col] if time_col else []
    opts = _Options(tests, None if learn else thresholds, correction, 0.5, bins, 0.05, 0.01, tuple(exclude))  # type: ignore[arg-type]
    ref_frame = None if isinstance(reference, ReferenceSketch) else _as_frame(reference, "reference")
    ref = _reference(reference if ref_frame is None else ref_frame, columns, categorical or (), exclude)
    frame = _as_frame(data, "data")

    def run(period: str, parts: list[tuple[Any, Any, pl.DataFrame]]) -> list[dict[str, Any]]:
        rows_out = []
        for i, (start, end, part) in enumerate(parts):
            report = _evaluate(ref, part, opts)
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
