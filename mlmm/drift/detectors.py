"""Detectors of a change in a stream, for concept drift: DDM (Gama et al., 2004) on an error
stream of 0 (correct) / 1 (error) and the Page-Hinkley test (Page, 1954) on any stream.

``DDM``
    The error rate ``p`` and its binomial standard deviation ``s`` are tracked, the lowest
    ``p + s`` seen is remembered, and a drift is signalled when ``p + s > p_min + 3 s_min``
    (a warning at ``2 s_min``).
``PageHinkley``
    Page's cumulative-sum test, as river and scikit-multiflow implement it: the sum of
    deviations from the running mean, with a forgetting factor, is compared with its extreme
    so far; a drift is signalled when the gap exceeds ``threshold``.

Both use river's published defaults and reproduce river 0.26's arithmetic operation by
operation, so they fire at the same indices as ``river.drift.binary.DDM`` and
``river.drift.PageHinkley`` on the same stream (the tests check this against river). Like
river, a detector starts afresh after a drift; the detection index is the 0-based index of
the value whose update raised it.

References
----------
J. Gama, P. Medas, G. Castillo, P. Rodrigues (2004). Learning with Drift Detection.
SBIA 2004, LNCS 3171, 286-295.

E. S. Page (1954). Continuous Inspection Schemes. Biometrika 41(1/2), 100-115.

J. Montiel et al. (2021). River: machine learning for streaming data in Python. JMLR 22(110)
(``river.drift.binary.DDM`` and ``river.drift.PageHinkley``, version 0.26.1).
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from typing import Any

import numpy as np
import polars as pl

from ..errors import ValidationError

__all__ = ["DDM", "DETECTORS", "DetectorRun", "DetectorState", "PageHinkley", "check_number"]

_INF = math.inf


@dataclasses.dataclass(frozen=True)
class DetectorState:
    """Where a detector stands after an update.

    ``n`` counts the values seen since the last reset. ``statistic`` and ``threshold`` are
    the quantities the detector compares: for DDM ``p + s`` and ``p_min + drift_threshold *
    s_min`` (``threshold`` is None during the warm start), for Page-Hinkley the cumulative
    deviation from its extreme and ``threshold``. ``direction`` says which way the error rate
    moved when ``drift_detected`` (``"increase"`` or ``"decrease"``), else None.

    >>> DDM().update(1)
    <DetectorState ddm n=1 statistic=1 threshold=None>
    """

    detector: str
    n: int
    drift_detected: bool
    warning_detected: bool
    statistic: float
    threshold: float | None
    direction: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The state as a JSON-safe dict."""
        return dataclasses.asdict(self)

    def __repr__(self) -> str:
        flag = " DRIFT" if self.drift_detected else (" warning" if self.warning_detected else "")
        thr = "None" if self.threshold is None else f"{self.threshold:.6g}"
        return (
            f"<DetectorState {self.detector}{flag} n={self.n} statistic={self.statistic:.6g} threshold={thr}>"
        )


@dataclasses.dataclass(frozen=True)
class DetectorRun:
    """What a detector found over a whole array (:meth:`DDM.run`, :meth:`PageHinkley.run`).

    ``drifts`` are 0-based indices into the array; ``statistics``, ``thresholds`` and
    ``directions`` are the values at each of them. ``warnings`` (DDM only) are the indices
    whose update left the detector in its warning zone.

    >>> PageHinkley().run([0.0] * 40 + [9.0] * 20).drifts
    (46,)
    """

    detector: str
    n: int
    drifts: tuple[int, ...]
    statistics: tuple[float, ...]
    thresholds: tuple[float, ...]
    directions: tuple[str, ...]
    warnings: tuple[int, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The run as a JSON-safe dict."""
        return dataclasses.asdict(self)

    def __repr__(self) -> str:
        shown = ", ".join(map(str, self.drifts[:10])) + (", ..." if len(self.drifts) > 10 else "")
        warn = f", {len(self.warnings)} warnings" if self.warnings else ""
        return f"<DetectorRun {self.detector}: {len(self.drifts)} drifts in {self.n} values [{shown}]{warn}>"


def check_number(value: Any, field: str, *, low: float = 0.0, integer: bool = False) -> None:
    """Raise :class:`~mlmm.errors.ValidationError` unless ``value`` is a finite real number
    (an integer if ``integer``) at least ``low``: the check of every detector parameter.

    >>> check_number(0.5, "alpha")
    >>> check_number(-1, "delta")
    Traceback (most recent call last):
    ...
    mlmm.errors.ValidationError: delta=-1: expected a finite number >= 0
    """
    ok = (
        isinstance(value, numbers.Real)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value >= low
    )
    if ok and integer:
        ok = isinstance(value, numbers.Integral)
    if not ok:
        kind = "an integer" if integer else "a finite number"
        raise ValidationError(f"{field}={value!r}: expected {kind} >= {low:g}")


def _as_array(values: Any, field: str) -> np.ndarray:
    if isinstance(values, pl.Series):
        if values.null_count():
            at = int(values.is_null().arg_true()[0])
            raise ValidationError(f"{field}=None at index {at}: expected a number for every value")
        values = values.to_numpy()
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{field}: expected a 1-D array of numbers ({exc})") from None
    if array.ndim != 1:
        raise ValidationError(f"{field} has shape {array.shape}: expected a 1-D array of numbers")
    bad = ~np.isfinite(array)
    if bad.any():
        at = int(np.argmax(bad))
        raise ValidationError(f"{field}={float(array[at])!r} at index {at}: expected a finite number")
    return array


def _as_bits(values: Any, field: str) -> np.ndarray:
    array = _as_array(values, field)
    bad = (array != 0.0) & (array != 1.0)
    if bad.any():
        at = int(np.argmax(bad))
        raise ValidationError(
            f"{field}={float(array[at])!r} at index {at}: expected 0 (correct) or 1 (error)"
        )
    return array


def _as_bit(x: Any, field: str = "x") -> float:
    if isinstance(x, (bool, np.bool_)) or (isinstance(x, numbers.Real) and x in (0, 1)):
        return float(x)
    raise ValidationError(f"{field}={x!r}: expected 0 (correct) or 1 (error)")


def _as_float(x: Any, field: str = "x") -> float:
    if isinstance(x, numbers.Real) and math.isfinite(x):
        return float(x)
    raise ValidationError(f"{field}={x!r}: expected a finite number")


class DDM:
    """Drift Detection Method (Gama et al., 2004) on a stream of 0 (correct) / 1 (error).

    After ``n`` values the error rate is ``p`` (running mean) and ``s = sqrt(p (1 - p) / n)``.
    Once more than ``warm_start`` values were seen, the pair with the lowest ``p + s`` is
    kept as ``p_min, s_min``; the detector warns when ``p + s > p_min + warning_threshold *
    s_min`` and signals a drift (then starts afresh) when ``p + s > p_min + drift_threshold *
    s_min``. A stream that had no error at all since the warm start (``s_min = 0``) drifts
    at its first error, as in river.

    Parameters
    ----------
    warm_start
        Values to see before a drift can be signalled (river: 30).
    warning_threshold
        Multiple of ``s_min`` for the warning zone (river: 2.0, about 95% confidence).
    drift_threshold
        Multiple of ``s_min`` for a drift (river: 3.0, about 99% confidence).

    References
    ----------
    J. Gama, P. Medas, G. Castillo, P. Rodrigues (2004). Learning with Drift Detection.
    SBIA 2004, 286-295. Defaults and arithmetic of ``river.drift.binary.DDM`` (0.26.1).

    Examples
    --------
    River's own example stream: fair coin flips, then errors with probability 0.7.

    >>> import random
    >>> rng = random.Random(42)
    >>> stream = rng.choices([0, 1], k=1000) + rng.choices([0, 1], k=1000, weights=[0.3, 0.7])
    >>> run = DDM().run(stream)
    >>> run.drifts, run.warnings[0]
    ((1334,), 1084)

    Streaming, one value at a time, gives the same answer:

    >>> ddm = DDM()
    >>> [i for i, x in enumerate(stream) if ddm.update(x).drift_detected]
    [1334]
    """

    name = "ddm"

    def __init__(
        self, warm_start: int = 30, warning_threshold: float = 2.0, drift_threshold: float = 3.0
    ) -> None:
        check_number(warm_start, "warm_start", integer=True)
        check_number(warning_threshold, "warning_threshold")
        check_number(drift_threshold, "drift_threshold")
        self.warm_start = int(warm_start)
        self.warning_threshold = float(warning_threshold)
        self.drift_threshold = float(drift_threshold)
        self._reset()

    def _reset(self) -> None:
        self._n = 0.0
        self._p = 0.0
        self._s = 0.0
        self._p_min = 0.0
        self._s_min = 0.0
        self._ps_min = _INF
        self._drift = False
        self._warning = False

    def reset(self) -> None:
        """Forget everything seen so far.

        >>> ddm = DDM(); _ = ddm.update(1); ddm.reset(); ddm.state.n
        0
        """
        self._reset()

    @property
    def params(self) -> dict[str, Any]:
        """The constructor arguments, e.g. to build a fresh copy.

        >>> DDM().params
        {'warm_start': 30, 'warning_threshold': 2.0, 'drift_threshold': 3.0}
        """
        return {
            "warm_start": self.warm_start,
            "warning_threshold": self.warning_threshold,
            "drift_threshold": self.drift_threshold,
        }

    @property
    def drift_detected(self) -> bool:
        """Whether the last update signalled a drift."""
        return self._drift

    @property
    def warning_detected(self) -> bool:
        """Whether the last update left the detector in the warning zone."""
        return self._warning

    @property
    def min_values(self) -> int:
        """The fewest values in which a drift can be signalled.

        The first value past the warm start sets ``p_min, s_min`` to its own ``p, s``, so
        it can only fire itself when ``drift_threshold < 1``: ``warm_start + 2`` values
        with the defaults.

        >>> DDM().min_values
        32
        """
        return self.warm_start + (1 if self.drift_threshold < 1 else 2)

    @property
    def state(self) -> DetectorState:
        """The current :class:`DetectorState`."""
        warm = self._ps_min < _INF
        return DetectorState(
            detector=self.name,
            n=int(self._n),
            drift_detected=self._drift,
            warning_detected=self._warning,
            statistic=self._p + self._s,
            threshold=self._p_min + self.drift_threshold * self._s_min if warm else None,
            direction="increase" if self._drift else None,
        )

    def update(self, x: Any) -> DetectorState:
        """Add one outcome (0 correct, 1 error) and return the new state.

        >>> ddm = DDM(warm_start=2)
        >>> [ddm.update(x).drift_detected for x in [0, 0, 0, 1]]
        [False, False, False, True]
        """
        x = _as_bit(x)
        if self._drift:
            self._reset()
        # river.stats.Mean: n += w; mean += (w / n) * (x - mean)
        self._n += 1.0
        self._p += (1.0 / self._n) * (x - self._p)
        p, n = self._p, self._n
        s = math.sqrt(p * (1 - p) / n)
        self._s = s
        if n > self.warm_start:
            ps = p + s
            if ps <= self._ps_min:
                self._p_min, self._s_min, self._ps_min = p, s, ps
            self._warning = ps > self._p_min + self.warning_threshold * self._s_min
            if ps > self._p_min + self.drift_threshold * self._s_min:
                self._drift = True
                self._warning = False
        return self.state

    def run(self, values: Any) -> DetectorRun:
        """Feed a whole array of 0/1 outcomes; same result as :meth:`update` in a loop.

        The detector carries on from its current state and is left where the loop would
        leave it. About 0.4 s per million values.

        >>> DDM().run([0] * 50 + [1] * 5)
        <DetectorRun ddm: 1 drifts in 55 values [50]>
        """
        array = _as_bits(values, "x")
        wt, dt, warm = self.warning_threshold, self.drift_threshold, self.warm_start
        n, p, s = self._n, self._p, self._s
        p_min, s_min, ps_min = self._p_min, self._s_min, self._ps_min
        drift, warning = self._drift, self._warning
        drifts: list[int] = []
        stats: list[float] = []
        limits: list[float] = []
        warns: list[int] = []
        sqrt = math.sqrt
        # The mean recurrence is sequential and river's rounding must be kept to the last
        # bit (a cumsum / n differs from it in the last place), so this stays a plain loop.
        for i, x in enumerate(array.tolist()):
            if drift:
                n = p = s = p_min = s_min = 0.0
                ps_min = _INF
                drift = warning = False
            n += 1.0
            p += (1.0 / n) * (x - p)
            s = sqrt(p * (1 - p) / n)
            if n > warm:
                ps = p + s
                if ps <= ps_min:
                    p_min, s_min, ps_min = p, s, ps
                limit = p_min + dt * s_min
                if ps > limit:
                    drift, warning = True, False
                    drifts.append(i)
                    stats.append(ps)
                    limits.append(limit)
                elif ps > p_min + wt * s_min:
                    warning = True
                    warns.append(i)
                else:
                    warning = False
        self._n, self._p, self._s = n, p, s
        self._p_min, self._s_min, self._ps_min = p_min, s_min, ps_min
        self._drift, self._warning = drift, warning
        return DetectorRun(
            detector=self.name,
            n=len(array),
            drifts=tuple(drifts),
            statistics=tuple(stats),
            thresholds=tuple(limits),
            directions=("increase",) * len(drifts),
            warnings=tuple(warns),
        )

    def __repr__(self) -> str:
        return "DDM(" + ", ".join(f"{k}={v!r}" for k, v in self.params.items()) + ")"


class PageHinkley:
    """Page-Hinkley test (Page, 1954) for a change in the mean of a stream, as in river.

    With ``x_mean`` the running mean, two cumulative sums are kept::

        up   = alpha * up   + (x - x_mean) - delta
        down = alpha * down + (x - x_mean) + delta

    After ``min_instances`` values, a drift is signalled (and the test starts afresh) when
    ``up - min(up) > threshold`` (the mean went up) or ``max(down) - down > threshold``
    (it went down), as ``mode`` selects. On an error stream, ``"up"`` means more errors.

    Parameters
    ----------
    min_instances
        Values to see before a drift can be signalled (river: 30).
    delta
        Magnitude of change that is tolerated (river: 0.005).
    threshold
        The detection threshold lambda (river: 50.0).
    alpha
        Forgetting factor of the cumulative sums (river: 1 - 0.0001).
    mode
        ``"up"``, ``"down"`` or ``"both"`` (river: ``"both"``).

    References
    ----------
    E. S. Page (1954). Continuous Inspection Schemes. Biometrika 41(1/2), 100-115.
    R. Sebastiao, J. M. Fernandes (2017). Supporting the Page-Hinkley test with empirical
    mode decomposition for change detection. ISMIS 2017, 492-498. Defaults and arithmetic
    of ``river.drift.PageHinkley`` (0.26.1), including its initial ``max(down) = -1``.

    Examples
    --------
    River's own example stream: 1000 values in {0, 1}, then 1000 in {4, ..., 7}.

    >>> import random
    >>> rng = random.Random(12345)
    >>> stream = rng.choices([0, 1], k=1000) + rng.choices(range(4, 8), k=1000)
    >>> PageHinkley().run(stream).drifts
    (1006,)
    >>> ph = PageHinkley()
    >>> [i for i, x in enumerate(stream) if ph.update(x).drift_detected]
    [1006]
    """

    name = "page_hinkley"
    _MODES = ("up", "down", "both")

    def __init__(
        self,
        min_instances: int = 30,
        delta: float = 0.005,
        threshold: float = 50.0,
        alpha: float = 1 - 0.0001,
        mode: str = "both",
    ) -> None:
        check_number(min_instances, "min_instances", integer=True)
        check_number(delta, "delta")
        check_number(threshold, "threshold")
        check_number(alpha, "alpha")
        if alpha > 1:
            raise ValidationError(f"alpha={alpha!r}: expected a forgetting factor in [0, 1]")
        if mode not in self._MODES:
            raise ValidationError(f"mode={mode!r}: expected one of 'up', 'down', 'both'")
        self.min_instances = int(min_instances)
        self.delta = float(delta)
        self.threshold = float(threshold)
        self.alpha = float(alpha)
        self.mode = mode
        self._reset()

    def _reset(self) -> None:
        self._n = 0.0
        self._mean = 0.0
        self._up = 0.0
        self._down = 0.0
        self._min_up = _INF
        self._max_down = -1.0  # river starts it at -1, not -inf; kept for identical results
        self._drift = False
        self._direction: str | None = None

    def reset(self) -> None:
        """Forget everything seen so far.

        >>> ph = PageHinkley(); _ = ph.update(3.0); ph.reset(); ph.state.n
        0
        """
        self._reset()

    @property
    def params(self) -> dict[str, Any]:
        """The constructor arguments, e.g. to build a fresh copy.

        >>> PageHinkley().params
        {'min_instances': 30, 'delta': 0.005, 'threshold': 50.0, 'alpha': 0.9999, 'mode': 'both'}
        """
        return {
            "min_instances": self.min_instances,
            "delta": self.delta,
            "threshold": self.threshold,
            "alpha": self.alpha,
            "mode": self.mode,
        }

    @property
    def drift_detected(self) -> bool:
        """Whether the last update signalled a drift."""
        return self._drift

    @property
    def warning_detected(self) -> bool:
        """Always False: Page-Hinkley has no warning zone."""
        return False

    @property
    def min_values(self) -> int:
        """The fewest values after which a drift can be signalled (``max(min_instances, 1)``).

        >>> PageHinkley().min_values
        30
        """
        return max(self.min_instances, 1)

    def _statistic(self) -> float:
        if self._n == 0:
            return 0.0
        up, down = self._up - self._min_up, self._max_down - self._down
        if self._direction is not None:
            return up if self._direction == "increase" else down
        return {"up": up, "down": down}.get(self.mode, max(up, down))

    @property
    def state(self) -> DetectorState:
        """The current :class:`DetectorState`."""
        return DetectorState(
            detector=self.name,
            n=int(self._n),
            drift_detected=self._drift,
            warning_detected=False,
            statistic=self._statistic(),
            threshold=self.threshold,
            direction=self._direction,
        )

    def update(self, x: Any) -> DetectorState:
        """Add one value and return the new state.

        >>> ph = PageHinkley(min_instances=1, threshold=1.0)
        >>> [ph.update(x).drift_detected for x in [0, 0, 0, 5]]
        [False, False, False, True]
        """
        x = _as_float(x)
        if self._drift:
            self._reset()
        self._n += 1.0
        self._mean += (1.0 / self._n) * (x - self._mean)
        dev = x - self._mean
        self._up = self.alpha * self._up + dev - self.delta
        self._down = self.alpha * self._down + dev + self.delta
        if self._up < self._min_up:
            self._min_up = self._up
        if self._down > self._max_down:
            self._max_down = self._down
        if self._n >= self.min_instances:
            rise = self.mode != "down" and self._up - self._min_up > self.threshold
            fall = self.mode != "up" and self._max_down - self._down > self.threshold
            self._drift = rise or fall
            self._direction = "increase" if rise else ("decrease" if fall else None)
        return self.state

    def run(self, values: Any) -> DetectorRun:
        """Feed a whole array of numbers; same result as :meth:`update` in a loop.

        The detector carries on from its current state and is left where the loop would
        leave it. About 0.4 s per million values.

        >>> PageHinkley().run([0.0] * 100 + [1.0] * 100)
        <DetectorRun page_hinkley: 1 drifts in 200 values [166]>
        """
        array = _as_array(values, "x")
        alpha, delta, thr, warm = self.alpha, self.delta, self.threshold, self.min_instances
        watch_up, watch_down = self.mode != "down", self.mode != "up"
        n, mean, up, down = self._n, self._mean, self._up, self._down
        min_up, max_down, drift, direction = self._min_up, self._max_down, self._drift, self._direction
        drifts: list[int] = []
        stats: list[float] = []
        directions: list[str] = []
        for i, x in enumerate(array.tolist()):
            if drift:
                n = mean = up = down = 0.0
                min_up, max_down, drift, direction = _INF, -1.0, False, None
            n += 1.0
            mean += (1.0 / n) * (x - mean)
            dev = x - mean
            up = alpha * up + dev - delta
            down = alpha * down + dev + delta
            if up < min_up:
                min_up = up
            if down > max_down:
                max_down = down
            if n >= warm:
                if watch_up and up - min_up > thr:
                    drift, direction = True, "increase"
                    stats.append(up - min_up)
                elif watch_down and max_down - down > thr:
                    drift, direction = True, "decrease"
                    stats.append(max_down - down)
                else:
                    direction = None
                    continue
                drifts.append(i)
                directions.append(direction)
        self._n, self._mean, self._up, self._down = n, mean, up, down
        self._min_up, self._max_down, self._drift, self._direction = min_up, max_down, drift, direction
        return DetectorRun(
            detector=self.name,
            n=len(array),
            drifts=tuple(drifts),
            statistics=tuple(stats),
            thresholds=(thr,) * len(drifts),
            directions=tuple(directions),
        )

    def __repr__(self) -> str:
        return "PageHinkley(" + ", ".join(f"{k}={v!r}" for k, v in self.params.items()) + ")"


DETECTORS: dict[str, type[DDM] | type[PageHinkley]] = {"ddm": DDM, "page_hinkley": PageHinkley}
"""The detectors :func:`detect_concept_drift` knows by name."""
