"""Data-quality checks that come before drift: missing or new columns, type changes, missing
shares, constant columns, infinities, values out of the reference range, unseen categories.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl

from .columns import CompareOptions
from .prepared import (
    CategoricalSide,
    NumericSide,
    PreparedReference,
    align_categories,
    as_frame,
    current_spec,
    missing_share,
    prepare_columns,
)
from .report import QualityIssue
from .sketch import prepare_reference

__all__ = ["quality_checks", "quality_issues"]


def quality_issues(
    ref: PreparedReference, cur_frame: pl.DataFrame, cur_sides: Mapping[str, NumericSide | CategoricalSide], opts: CompareOptions
) -> list[QualityIssue]:
    """The issues of :func:`quality_checks` from a prepared reference and prepared current columns.

    ``cur_frame`` is read for its height, columns and schema only, so any object with those
    (``mlmm.spark``'s window shape) will do.
    """
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
            severe = isinstance(rs, NumericSide) and not isinstance(cur_sides.get(name), NumericSide)
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
        mr, mc = missing_share(rs), missing_share(cs)
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
        if isinstance(cs, NumericSide):
            if cs.n_inf and (not isinstance(rs, NumericSide) or not rs.n_inf):
                issues.append(
                    QualityIssue(
                        name,
                        "non_finite",
                        "warning",
                        f"{name}: {cs.n_inf} infinite values in the current data",
                        cs.n_inf / cs.n_rows,
                    )
                )
            if isinstance(rs, NumericSide) and rs.n and cs.n and cs.values is not None:
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
        elif isinstance(rs, CategoricalSide) and rs.n and cs.n:
            al = align_categories(rs, cs)
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
    opts = CompareOptions(None, None, None, 0.5, None, missing_tolerance, range_tolerance)
    cur = as_frame(current, "current")
    ref = prepare_reference(reference, columns, categorical or ())
    kinds = {n: "numeric" if isinstance(side, NumericSide) else "categorical" for n, side in ref.sides.items()}
    return quality_issues(ref, cur, prepare_columns([(cur, current_spec(kinds, cur))])[0], opts)
