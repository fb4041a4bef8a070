"""A reference without its rows: :class:`ReferenceSketch` keeps what the drift tests need
(quantiles, CDF grid, bins, category counts) as compact JSON.

:func:`prepare_reference` prepares a reference, a frame or a sketch, for the tests.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl

from ..errors import ValidationError
from .columns import SMALL_SAMPLE, check_options
from .prepared import (
    CategoricalSide,
    NumericSide,
    PreparedReference,
    as_frame,
    column_spec,
    prepare_columns,
    rank_means,
    select_columns,
    sorted_quantiles,
)
from .report import json_safe

__all__ = ["ReferenceSketch", "prepare_reference"]


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
    >>> from mlmm.drift import compare
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
        check_options(None, 0.5, bins)
        if not isinstance(resolution, int) or resolution < 2:
            raise ValidationError(f"resolution={resolution!r}: expected an integer >= 2")
        ref = prepare_reference(frame, columns, categorical or ())
        out: dict[str, dict[str, Any]] = {}
        for name in ref.columns:
            if name in ref.skipped:
                out[name] = {"kind": "unsupported", "dtype": ref.skipped[name]}
                continue
            side = ref.sides[name]
            if isinstance(side, CategoricalSide):
                out[name] = {
                    "kind": "categorical",
                    "dtype": side.dtype,
                    "n_rows": side.n_rows,
                    "n_missing": side.n_missing,
                    "categories": json_safe(side.values.to_list()),
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
                q = sorted_quantiles(side.values, probs)
                entry["quantiles"] = q.tolist()
                entry["cdf"] = (np.searchsorted(side.values, q, side="right") / side.n).tolist()
                entry["means"] = rank_means(side.values, resolution).tolist()
                if side.n <= exact_max:
                    entry["values"] = side.values.tolist()
            out[name] = json_safe(entry)
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

    def prepare(self, columns: Sequence[str] | None) -> PreparedReference:
        names = (
            list(self.columns)
            if columns is None
            else ([columns] if isinstance(columns, str) else list(columns))
        )
        unknown = [c for c in names if c not in self.columns]
        if unknown:
            raise ValidationError(f"columns={unknown!r}: not in the sketch (it has {list(self.columns)!r})")
        sides: dict[str, NumericSide | CategoricalSide] = {}
        skipped: dict[str, str] = {}
        for name in names:
            e = self.columns[name]
            if e["kind"] == "unsupported":
                skipped[name] = e["dtype"]
            elif e["kind"] == "categorical":
                sides[name] = CategoricalSide(
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
                side = NumericSide(
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
        return PreparedReference(sides, self.n_rows, names, skipped, list(self.columns))

    def __repr__(self) -> str:
        return f"<ReferenceSketch {len(self.columns)} columns, {self.n_rows} rows, bins={self.bins}, resolution={self.resolution}>"


def _nan(value: Any) -> float:
    return float("nan") if value is None else float(value)


def prepare_reference(
    reference: Any, columns: Sequence[str] | None, categorical: Iterable[str], exclude: Iterable[str] = ()
) -> PreparedReference:
    """A reference prepared for the tests: a :class:`ReferenceSketch` prepares itself, a frame is
    sorted and counted (``columns``, else every column but ``exclude``; ``categorical`` as in
    :func:`mlmm.drift.compare`).

    Raises
    ------
    ValidationError
        A frame with 0 rows, or a column it does not have.
    """
    if isinstance(reference, ReferenceSketch):
        return reference.prepare(columns)
    frame = as_frame(reference, "reference")
    if frame.height == 0:
        raise ValidationError("reference: 0 rows: expected at least one row to compare with")
    cols = select_columns(frame, columns, exclude)
    spec, skipped = column_spec(frame, cols, categorical)
    sides = prepare_columns([(frame, spec)])[0]
    return PreparedReference(sides, frame.height, cols, skipped, frame.columns)
