"""Internal API of :mod:`mlmm.stats`: argument checks, normal quantiles, the result base class.

Shared by the statistics modules; not part of the public API (import from :mod:`mlmm.stats`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import special

from .._util import jsonable
from ..errors import ValidationError

__all__ = [
    "ALTERNATIVES",
    "ResultBase",
    "as_int",
    "check_choice",
    "check_count",
    "check_count_arrays",
    "check_positive",
    "check_sample",
    "check_successes",
    "check_table",
    "check_unit",
    "element_name",
    "first_index",
    "fmt_number",
    "number_text",
    "p_from_z",
    "z_quantile",
]

ALTERNATIVES = ("two-sided", "greater", "less")
"""The ``alternative`` values of the tests, as in scipy: ``"greater"`` means ``b`` larger."""


def check_choice(value: Any, name: str, choices: Sequence[str]) -> str:
    """``value`` if it is one of ``choices``, else a ValidationError naming ``name``."""
    if value not in choices:
        raise ValidationError(f"{name}={value!r}: expected one of {', '.join(repr(c) for c in choices)}")
    return value


def check_unit(value: Any, name: str) -> float:
    """A number strictly between 0 and 1 (alpha, confidence, power, a probability)."""
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
    if not ok or not 0.0 < float(value) < 1.0:
        raise ValidationError(f"{name}={value!r}: expected a number in (0, 1)")
    return float(value)


def check_positive(value: Any, name: str) -> float:
    """A finite number > 0 (a size, a ratio, a standard deviation), as a float."""
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
    if not ok or not (math.isfinite(float(value)) and float(value) > 0):
        raise ValidationError(f"{name}={value!r}: expected a finite number > 0")
    return float(value)


def as_int(value: Any) -> int | None:
    """``value`` as an int if it is an integral number (not a boolean), else None."""
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)) and math.isfinite(value) and float(value).is_integer():
        return int(value)
    return None


def check_count(value: Any, name: str, *, minimum: int = 0) -> int:
    """An integer >= ``minimum`` (a count, a number of looks or resamples)."""
    n = as_int(value)
    if n is None or n < minimum:
        raise ValidationError(f"{name}={value!r}: expected an integer >= {minimum}")
    return n


def check_successes(successes: Any, trials: Any, s_name: str, t_name: str, *, min_trials: int = 1) -> tuple[int, int]:
    """Validated scalar ``(successes, trials)``: integers with ``0 <= successes <= trials``."""
    n = check_count(trials, t_name, minimum=min_trials)
    s = as_int(successes)
    if s is None or not 0 <= s <= n:
        raise ValidationError(f"{s_name}={successes!r}: expected an integer in [0, {t_name}={n}]")
    return s, n


def check_count_arrays(successes: Any, trials: Any, s_name: str = "successes", t_name: str = "trials"):
    """Validated float arrays of successes and trials (broadcast), for the vectorised functions."""
    try:
        s = np.asarray(successes, dtype=float)
        n = np.asarray(trials, dtype=float)
        s, n = np.broadcast_arrays(s, n)
    except (TypeError, ValueError) as exc:
        raise ValidationError(
            f"{s_name}={successes!r}, {t_name}={trials!r}: expected numbers or arrays of one shape ({exc})"
        ) from None
    if np.asarray(successes).dtype == bool or np.asarray(trials).dtype == bool:
        raise ValidationError(f"{s_name}, {t_name}: expected integer counts, got booleans")
    bad_n = ~(np.isfinite(n) & (n >= 0) & (n == np.floor(n)))
    if bad_n.any():
        i = first_index(bad_n)
        raise ValidationError(f"{element_name(t_name, i, n.ndim)}={number_text(n[i])}: expected an integer >= 0")
    bad_s = ~(np.isfinite(s) & (s >= 0) & (s == np.floor(s)) & (s <= n))
    if bad_s.any():
        i = first_index(bad_s)
        raise ValidationError(
            f"{element_name(s_name, i, s.ndim)}={number_text(s[i])}: expected an integer in [0, {element_name(t_name, i, n.ndim)}={number_text(n[i])}]"
        )
    return s, n


def first_index(mask: np.ndarray) -> tuple[int, ...]:
    """The index of the first True in ``mask`` (for error messages)."""
    return tuple(int(i) for i in np.argwhere(mask)[0])


def element_name(name: str, index: tuple[int, ...], ndim: int) -> str:
    """``name[i, j]`` for an element of an array argument, ``name`` for a scalar one."""
    return name if ndim == 0 else f"{name}[{', '.join(map(str, index))}]"


def number_text(x: float) -> str:
    """A count as ``12`` rather than ``12.0``; other numbers as their repr."""
    return str(int(x)) if math.isfinite(x) and float(x).is_integer() else repr(float(x))


def check_sample(values: Any, name: str, *, min_size: int = 2) -> np.ndarray:
    """A 1-D float array of at least ``min_size`` finite values."""
    try:
        x = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise ValidationError(f"{name}: expected a 1-D sequence of numbers, got {type(values).__name__}") from None
    if x.ndim != 1:
        raise ValidationError(f"{name}: expected a 1-D sequence of numbers, got shape {x.shape}")
    if x.size < min_size:
        raise ValidationError(f"{name}: expected at least {min_size} values, got {x.size}")
    bad = ~np.isfinite(x)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValidationError(f"{name}[{i}]={float(x[i])!r}: expected a finite number")
    return x


def check_table(table: Any, name: str = "table", *, shape: tuple[int, int] | None = (2, 2)) -> np.ndarray:
    """A 2-D float array of non-negative integer counts (2x2 unless ``shape=None``)."""
    try:
        t = np.asarray(table, dtype=float)
    except (TypeError, ValueError):
        raise ValidationError(f"{name}={table!r}: expected a 2-D table of counts") from None
    if t.ndim != 2 or (shape is not None and t.shape != shape) or min(t.shape) < 2:
        want = "a 2x2 table" if shape == (2, 2) else "a 2-D table with at least 2 rows and 2 columns"
        raise ValidationError(f"{name}={np.asarray(table).tolist()!r}: expected {want} of counts")
    bad = ~(np.isfinite(t) & (t >= 0) & (t == np.floor(t)))
    if bad.any():
        i = first_index(bad)
        raise ValidationError(f"{name}[{i[0]}][{i[1]}]={number_text(t[i])}: expected an integer count >= 0")
    return t


def z_quantile(confidence: float, alternative: str = "two-sided") -> float:
    """The normal quantile for a ``confidence`` interval (two-sided) or bound (one-sided)."""
    tail = (1.0 - confidence) / (2.0 if alternative == "two-sided" else 1.0)
    return float(-special.ndtri(tail))


def p_from_z(z: float, alternative: str) -> float:
    """The normal p-value of ``z`` for ``alternative`` (two-sided capped at 1)."""
    if alternative == "two-sided":
        return float(min(1.0, 2.0 * special.ndtr(-abs(z))))
    return float(special.ndtr(-z) if alternative == "greater" else special.ndtr(z))


class ResultBase:
    """``to_dict()`` for the frozen result dataclasses: JSON-safe, non-finite numbers as None."""

    def to_dict(self) -> dict[str, Any]:
        return {f.name: jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)}  # type: ignore[arg-type]


def fmt_number(x: float | None, digits: int = 4) -> str:
    """``x`` with ``digits`` significant digits for a ``repr``; ``None``, ``inf``, ``nan`` spelled out."""
    if x is None:
        return "None"
    if not math.isfinite(x):
        return "inf" if x > 0 else ("-inf" if x < 0 else "nan")
    return f"{x:.{digits}g}"
