"""The verdict on one column: which test (automatic or requested), its threshold, the test itself,
and the multiple-testing correction across the columns of one comparison.

:class:`CompareOptions` carries the options of :func:`mlmm.drift.compare`; :func:`test_column`
decides one column from its prepared sides; :func:`correct_columns` applies
:func:`mlmm.stats.adjust_p_values` to the p-value tests.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

from ..errors import ValidationError
from ..stats import adjust_p_values
from .prepared import FEW_VALUES, CategoricalSide, NumericSide, align_categories, missing_share
from .report import ColumnDrift
from .stattests import (
    TESTS,
    anderson_test,
    chisquare_test,
    js_counts,
    ks_test,
    psi_counts,
    wasserstein_test,
    z_test,
)

__all__ = [
    "CORRECTIONS",
    "SMALL_SAMPLE",
    "CompareOptions",
    "auto_test",
    "check_options",
    "column_threshold",
    "correct_columns",
    "correction_name",
    "requested_test",
    "test_column",
]

#: Up to this many non-missing reference values a column gets a p-value test, beyond it a distance.
SMALL_SAMPLE = 1000
_ALIASES = {"js": "jensenshannon", "chi2": "chisquare", "kolmogorov-smirnov": "ks", "ad": "anderson"}
#: The corrections across columns by the names accepted, to their canonical name.
CORRECTIONS = {"bonferroni": "bonferroni", "holm": "holm", "bh": "bh", "fdr_bh": "bh"}


@dataclasses.dataclass(frozen=True)
class CompareOptions:
    """The options of :func:`mlmm.drift.compare` that the column verdicts and quality checks read
    (see its parameters); ``exclude`` names columns never reported as new (a time column)."""

    tests: Mapping[str, str] | str | None
    thresholds: Mapping[str, float] | None
    correction: str | None
    drift_share: float
    bins: int | None
    missing_tolerance: float
    range_tolerance: float
    exclude: tuple[str, ...] = ()


def check_options(correction: str | None, drift_share: float, bins: int | None) -> None:
    """Raise :class:`~mlmm.errors.ValidationError` for an unknown correction, a ``drift_share``
    outside [0, 1] or ``bins`` below 2."""
    if correction is not None and str(correction).lower() not in CORRECTIONS:
        raise ValidationError(f"correction={correction!r}: expected None, 'bonferroni', 'holm' or 'bh'")
    if not (isinstance(drift_share, (int, float)) and 0 <= drift_share <= 1):
        raise ValidationError(f"drift_share={drift_share!r}: expected a number in [0, 1]")
    if bins is not None and (not isinstance(bins, int) or isinstance(bins, bool) or bins < 2):
        raise ValidationError(f"bins={bins!r}: expected an integer >= 2")


def _canonical_test(name: Any, column: str) -> str:
    key = _ALIASES.get(str(name).lower(), str(name).lower())
    if key not in TESTS:
        raise ValidationError(f"tests[{column!r}]={name!r}: expected one of {', '.join(TESTS)}")
    return key


def requested_test(column: str, opts: CompareOptions) -> str | None:
    """The test asked for ``column`` (canonical name, aliases resolved), None for automatic."""
    if opts.tests is None:
        return None
    if isinstance(opts.tests, str):
        return _canonical_test(opts.tests, column)
    name = opts.tests.get(column)
    return None if name is None else _canonical_test(name, column)


def column_threshold(column: str, test: str, opts: CompareOptions) -> float:
    """The threshold of ``column``: by column name, else by test name, else the test's default."""
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


def auto_test(kind: str, n_ref: int, n_categories: int) -> str:
    """The automatic test (the table in :mod:`mlmm.drift`), from the column kind, the
    non-missing reference values and the categories of both sides.

    >>> auto_test("numeric", 500, 0), auto_test("categorical", 500, 2), auto_test("categorical", 5000, 9)
    ('ks', 'z', 'jensenshannon')
    """
    if kind == "numeric":
        return "ks" if n_ref <= SMALL_SAMPLE else "wasserstein"
    if n_ref <= SMALL_SAMPLE:
        return "z" if n_categories <= 2 else "chisquare"
    return "jensenshannon"


def _untested(
    name: str, kind: str, rs: NumericSide | CategoricalSide | None, cs: NumericSide | CategoricalSide | None, reason: str
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
        missing_reference=missing_share(rs),
        missing_current=missing_share(cs),
        details={"reason": reason},
    )


def test_column(name: str, rs: NumericSide | CategoricalSide, cs: NumericSide | CategoricalSide | None, opts: CompareOptions) -> ColumnDrift:
    """Test one column. ``rs``/``cs`` are the reference and current sides (cs None: column absent)."""
    requested = requested_test(name, opts)
    if isinstance(rs, NumericSide):
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
    if isinstance(rs, NumericSide) != isinstance(cs, NumericSide):
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
        assert isinstance(rs, NumericSide) and isinstance(cs, NumericSide)
        test = requested or auto_test("numeric", rs.n, 0)
        if test == "ks":
            statistic, p_value, approximate = ks_test(rs, cs)
        elif test == "wasserstein":
            statistic, details, approximate = wasserstein_test(rs, cs)
        elif test == "anderson":
            if rs.values is None:
                raise ValidationError(
                    f"tests[{name!r}]='anderson': needs the raw reference; a ReferenceSketch keeps quantiles only"
                )
            statistic, p_value = anderson_test(rs, cs)
            details["p_value_capped"] = "scipy interpolates A2 tables: p in [0.001, 0.25]"
        else:  # psi / jensenshannon over the reference quantile bins
            bins = opts.bins or (next(iter(rs.hist)) if rs.values is None and rs.hist else 10)
            edges, rcounts = rs.bins(bins)
            ccounts = cs.counts(edges)
            statistic = psi_counts(rcounts, ccounts) if test == "psi" else js_counts(rcounts, ccounts)
            details["bins"] = int(edges.size + 1)
    else:
        rc = rs.as_categories() if isinstance(rs, NumericSide) else rs
        cc = cs.as_categories() if isinstance(cs, NumericSide) else cs
        al = align_categories(rc, cc)
        r, c = al.r, al.c
        n_cat = int(((r + c) > 0).sum())
        test = requested or auto_test("categorical", rc.n, n_cat)
        if test in ("ks", "wasserstein", "anderson"):
            raise ValidationError(f"tests[{name!r}]={test!r}: expected a test for categorical columns")
        if test == "chisquare":
            statistic, p_value, dof = chisquare_test(r, c)
            details["dof"] = dof
        elif test == "z":
            if n_cat > 2:
                raise ValidationError(
                    f"tests[{name!r}]='z': column has {n_cat} categories, expected at most 2"
                )
            statistic, p_value, extra = z_test(r, c, al.values[0] if al.values.len() else None)
            details.update(extra)
        elif test == "psi":
            statistic = psi_counts(r, c)
        else:
            statistic = js_counts(r, c)
        if al.n_unseen:
            details["unseen"] = al.unseen
            details["n_unseen"] = al.n_unseen
            details["unseen_share"] = al.unseen_rows / int(c.sum())
        details["categories"] = n_cat
    threshold = column_threshold(name, test, opts)
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
        missing_reference=missing_share(rs),
        missing_current=missing_share(cs),
        approximate=approximate,
        details=details,
    )


def correction_name(method: str | None) -> str | None:
    """The canonical name of a correction across columns (``"fdr_bh"`` is ``"bh"``), None for none.

    >>> correction_name("FDR_BH"), correction_name(None)
    ('bh', None)
    """
    if not method:
        return None
    key = CORRECTIONS.get(str(method).lower())
    if key is None:
        raise ValidationError(f"correction={method!r}: expected None, 'bonferroni', 'holm' or 'bh'")
    return key


def correct_columns(results: list[ColumnDrift], method: str | None) -> list[ColumnDrift]:
    """The column verdicts with their p-values adjusted across the p-value tests.

    The adjusted p-values are :func:`mlmm.stats.adjust_p_values` (Bonferroni, Holm 1979,
    Benjamini-Hochberg 1995; statsmodels' values). A column drifts when its adjusted p-value is
    below its own threshold (``p < alpha``, the rule of the uncorrected tests), so thresholds
    may differ by column. Distances (no p-value) are left as they are.

    Parameters
    ----------
    results : the column verdicts of one comparison
    method : ``None``, ``"bonferroni"``, ``"holm"``, ``"bh"`` (or ``"fdr_bh"``)

    Returns
    -------
    list of ColumnDrift
    """
    key = correction_name(method)
    if key is None:
        return results
    idx = [i for i, r in enumerate(results) if r.p_value is not None]
    if not idx:
        return results
    adjusted = adjust_p_values([results[i].p_value for i in idx], method=key).p_adjusted  # type: ignore[misc]
    out = list(results)
    for i, p in zip(idx, adjusted, strict=True):
        r = out[i]
        assert r.threshold is not None
        out[i] = dataclasses.replace(r, p_adjusted=float(p), drifted=bool(p < r.threshold))
    return out
