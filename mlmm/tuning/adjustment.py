"""Adaptive threshold adjustment: nudge a threshold from recent false-positive and
false-negative rates (the seed's ``adaptiveThresholdAdjustment``)."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from .._util import jsonable
from ..errors import ValidationError
from ._common import check_interval, check_number, format_threshold

__all__ = ["AdaptiveResult", "adaptive_adjustment"]


@dataclasses.dataclass(frozen=True, repr=False)
class AdaptiveResult:
    """A nudge of the threshold from recent false-positive / false-negative rates.

    ``pressure`` is the signed imbalance the rule acted on (positive: too many false positives,
    so raise the threshold); ``direction`` is ``"raise"``, ``"lower"`` or ``"keep"``.
    """

    current: float
    threshold: float
    direction: str
    change: float
    pressure: float
    fp_rate: float
    fn_rate: float
    target_fp_rate: float | None
    target_fn_rate: float | None
    step: float
    max_step: float
    bounds: tuple[float, float]
    dead_band: float
    limited_by: str | None
    explanation: str

    @property
    def changed(self) -> bool:
        return self.threshold != self.current

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)}
        out["changed"] = self.changed
        return out

    def __repr__(self) -> str:
        return (f"<AdaptiveResult {self.direction} {format_threshold(self.current)} -> {format_threshold(self.threshold)}"
                f" (FP rate {self.fp_rate:.1%}, FN rate {self.fn_rate:.1%})>")


def adaptive_adjustment(
    current: float,
    *,
    fp_rate: float,
    fn_rate: float,
    target_fp_rate: float | None = None,
    target_fn_rate: float | None = None,
    step: float = 0.05,
    max_step: float = 0.1,
    bounds: tuple[float, float] = (0.5, 0.9),
    dead_band: float = 0.02,
) -> AdaptiveResult:
    """Nudge the threshold from recent false-positive and false-negative rates (the seed's
    ``adaptiveThresholdAdjustment``: "high false-positive rate: suggests a threshold increase").

    The rule, in order:

    1. **Pressure.** Without targets, ``pressure = fp_rate - fn_rate`` (balance the two errors).
       With targets, each rate counts only by how much it exceeds its target:
       ``pressure = max(0, fp_rate - target_fp_rate) - max(0, fn_rate - target_fn_rate)`` (a
       missing target counts as met); both within target means no change.
    2. **Dead band.** ``|pressure| <= dead_band`` (default 2 points): keep the threshold.
    3. **Direction.** Positive pressure (false positives dominate): raise the threshold; negative
       (false negatives dominate): lower it.
    4. **Size.** Whole steps of ``step``, as many as the pressure has steps (rounded up), at most
       ``max_step``: 8 points of pressure with ``step=0.05`` move one step, 12 points two.
    5. **Bounds.** The result is clamped to ``bounds``; a current threshold outside them is
       brought inside (bounds win over the step limit).

    The rates are whatever the caller monitors (``FP / predicted positives``, ``FP / negatives``,
    ...); the rule only compares them with each other or with their targets.

    Examples
    --------
    >>> r = adaptive_adjustment(0.7, fp_rate=0.15, fn_rate=0.03)
    >>> r.threshold, r.direction
    (0.8, 'raise')
    >>> print(r.explanation)
    FP rate 15.0 % vs FN rate 3.0 %: false positives dominate by 12.0 points, so raise the threshold from 0.70 to 0.80 (2 steps of 0.05, at most 0.10 per adjustment).
    >>> adaptive_adjustment(0.7, fp_rate=0.05, fn_rate=0.06).direction
    'keep'
    >>> adaptive_adjustment(0.55, fp_rate=0.02, fn_rate=0.2).threshold
    0.5
    """
    current = check_number(current, "current")
    fp_rate = check_number(fp_rate, "fp_rate", minimum=0.0, maximum=1.0)
    fn_rate = check_number(fn_rate, "fn_rate", minimum=0.0, maximum=1.0)
    if target_fp_rate is not None:
        target_fp_rate = check_number(target_fp_rate, "target_fp_rate", minimum=0.0, maximum=1.0)
    if target_fn_rate is not None:
        target_fn_rate = check_number(target_fn_rate, "target_fn_rate", minimum=0.0, maximum=1.0)
    step = check_number(step, "step", minimum=0.0, exclusive=True)
    max_step = check_number(max_step, "max_step", minimum=0.0, exclusive=True)
    if max_step < step:
        raise ValidationError(f"max_step={max_step!r}: expected max_step >= step={step!r}")
    dead_band = check_number(dead_band, "dead_band", minimum=0.0)
    lo, hi = check_interval(bounds, "bounds")

    if target_fp_rate is None and target_fn_rate is None:
        pressure = fp_rate - fn_rate
        basis = f"FP rate {fp_rate:.1%} vs FN rate {fn_rate:.1%}"
    else:
        excess_fp = max(0.0, fp_rate - target_fp_rate) if target_fp_rate is not None else 0.0
        excess_fn = max(0.0, fn_rate - target_fn_rate) if target_fn_rate is not None else 0.0
        pressure = excess_fp - excess_fn
        parts = [f"FP rate {fp_rate:.1%}" + (f" (target {target_fp_rate:.1%})" if target_fp_rate is not None else ""),
                 f"FN rate {fn_rate:.1%}" + (f" (target {target_fn_rate:.1%})" if target_fn_rate is not None else "")]
        basis = ", ".join(parts)
    basis = basis.replace("%", " %")

    limited_by = None
    if abs(pressure) <= dead_band + 1e-12:
        direction, move = "keep", 0.0
        reason = (f"{basis}: within the dead band of {dead_band * 100:.1f} points" if pressure else f"{basis}: balanced")
    else:
        direction = "raise" if pressure > 0 else "lower"
        steps = max(1, math.ceil(abs(pressure) / step - 1e-9))
        move = steps * step
        if move > max_step + 1e-12:
            steps, move, limited_by = math.floor(max_step / step + 1e-9), max_step, "max_step"
        who = "false positives" if pressure > 0 else "false negatives"
        reason = f"{basis}: {who} dominate by {abs(pressure) * 100:.1f} points"
    target = current + move if direction == "raise" else current - move
    new = round(min(hi, max(lo, target)), 10)
    if new != round(target, 10):
        limited_by = "bounds"
    if direction == "keep" and new == current:
        explanation = f"{reason}, so keep the threshold at {format_threshold(current)}."
    elif direction == "keep":
        explanation = (f"{reason}, but the current threshold {format_threshold(current)} is outside the bounds"
                       f" [{format_threshold(lo)}, {format_threshold(hi)}]: move it to {format_threshold(new)}.")
    else:
        size = f"{steps} step{'s' if steps != 1 else ''} of {format_threshold(step)}" if move == steps * step else \
            format_threshold(move)
        explanation = (f"{reason}, so {direction} the threshold from {format_threshold(current)} to {format_threshold(new)}"
                       f" ({size}, at most {format_threshold(max_step)} per adjustment")
        if limited_by == "bounds":
            explanation += f", clamped to the bounds [{format_threshold(lo)}, {format_threshold(hi)}]"
        explanation += ")."
    if direction != "keep" and new == current:
        direction = "keep"
    return AdaptiveResult(
        current=current, threshold=new, direction=direction, change=round(new - current, 10), pressure=pressure,
        fp_rate=fp_rate, fn_rate=fn_rate, target_fp_rate=target_fp_rate, target_fn_rate=target_fn_rate, step=step,
        max_step=max_step, bounds=(lo, hi), dead_band=dead_band, limited_by=limited_by, explanation=explanation)

