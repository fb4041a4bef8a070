"""The results of a drift comparison: one :class:`ColumnDrift` per column, the data-quality
:class:`QualityIssue` list, and the :class:`DriftReport` with the dataset verdict.

Values only (frozen dataclasses with ``to_dict``, ``to_frame`` and a readable ``repr``);
:func:`dataset_report` turns the column verdicts into the dataset verdict.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl

from .stattests import TESTS

__all__ = ["ColumnDrift", "DriftReport", "QualityIssue", "dataset_report", "json_safe"]


def json_safe(value: Any) -> Any:
    """Numpy scalars, non-finite floats and tuples as JSON-safe Python values."""
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
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
        return json_safe(dataclasses.asdict(self))

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
        out = json_safe(dataclasses.asdict(self))
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
            "drifted_share": json_safe(self.drifted_share),
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


def dataset_report(
    results: Sequence[ColumnDrift],
    quality: Sequence[QualityIssue],
    *,
    drift_share: float,
    correction: str | None,
    n_reference: int,
    n_current: int,
) -> DriftReport:
    """The :class:`DriftReport` of column verdicts: the dataset drifts when at least ``drift_share``
    of the tested columns (``drifted`` not None) drift.

    Parameters
    ----------
    results : the column verdicts, after the correction across columns
    quality : the data-quality issues, in report order
    drift_share : share of tested columns that makes dataset drift
    correction : the canonical correction name (``"bonferroni"``, ``"holm"``, ``"bh"``) or None
    n_reference, n_current : rows of the reference and of the current window (0 notes an empty window)

    Returns
    -------
    DriftReport

    Examples
    --------
    >>> dataset_report([], [], drift_share=0.5, correction=None, n_reference=10, n_current=0)
    <DriftReport no data in current window>
    """
    tested = [r for r in results if r.drifted is not None]
    n_drifted = sum(1 for r in tested if r.drifted)
    share = n_drifted / len(tested) if tested else 0.0
    return DriftReport(
        columns=tuple(results),
        dataset_drift=bool(tested) and share >= drift_share,
        drifted_share=share,
        drift_share=float(drift_share),
        n_drifted=n_drifted,
        n_tested=len(tested),
        correction=correction,
        quality=tuple(quality),
        n_reference=n_reference,
        n_current=n_current,
        note="no data in current window" if n_current == 0 else None,
    )
