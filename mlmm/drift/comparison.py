"""The comparison of a current frame with a reference: every column's verdict, the correction
across columns, the quality issues and the dataset verdict (:func:`compare`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import polars as pl

from ..errors import ValidationError
from .columns import CompareOptions, check_options, correct_columns, correction_name, test_column
from .prepared import (
    CategoricalSide,
    NumericSide,
    PreparedReference,
    as_frame,
    column_spec,
    current_spec,
    prepare_columns,
    select_columns,
)
from .quality import quality_issues
from .report import ColumnDrift, DriftReport, dataset_report
from .sketch import ReferenceSketch

__all__ = ["compare", "evaluate"]


def evaluate(
    ref: PreparedReference,
    cur_frame: pl.DataFrame,
    opts: CompareOptions,
    cur_sides: Mapping[str, NumericSide | CategoricalSide] | None = None,
) -> DriftReport:
    """The :class:`~mlmm.drift.DriftReport` of a prepared reference and a current frame.

    Parameters
    ----------
    ref : the prepared reference (:func:`mlmm.drift.sketch.prepare_reference`)
    cur_frame : the current data
    opts : the options of :func:`compare`
    cur_sides : the current columns already prepared (default: prepared here, as the reference's)

    Returns
    -------
    DriftReport
    """
    columns = ref.columns
    if cur_sides is None:
        kinds = {n: "numeric" if isinstance(side, NumericSide) else "categorical" for n, side in ref.sides.items()}
        cur_sides = prepare_columns([(cur_frame, current_spec(kinds, cur_frame))])[0]
    results: list[ColumnDrift] = []
    for name in columns:
        if name in ref.skipped:
            continue
        results.append(test_column(name, ref.sides[name], cur_sides.get(name), opts))
    results = correct_columns(results, opts.correction)
    quality = quality_issues(ref, cur_frame, cur_sides, opts)
    return dataset_report(results, quality, drift_share=opts.drift_share, correction=correction_name(opts.correction),
                          n_reference=ref.n_rows, n_current=cur_frame.height)


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
    check_options(correction, drift_share, bins)
    opts = CompareOptions(tests, thresholds, correction, drift_share, bins, missing_tolerance, range_tolerance)
    cur = as_frame(current, "current")
    if isinstance(reference, ReferenceSketch):
        ref = reference.prepare(columns)
        return evaluate(ref, cur, opts)
    frame = as_frame(reference, "reference")
    if frame.height == 0:
        raise ValidationError("reference: 0 rows: expected at least one row to compare with")
    cols = select_columns(frame, columns)
    spec, skipped = column_spec(frame, cols, categorical or ())
    ref_sides, cur_sides = prepare_columns([(frame, spec), (cur, current_spec(spec, cur))])  # one pool for both
    return evaluate(PreparedReference(ref_sides, frame.height, cols, skipped, frame.columns), cur, opts, cur_sides)
