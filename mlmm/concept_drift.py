"""Concept drift on a classifier's stream of outcomes: DDM, Page-Hinkley and a KS test.

When labels arrive, each prediction becomes an outcome: 0 if it was right, 1 if it was
wrong. A change of concept shows as a change in that error stream. Two classic detectors
watch it online:

``DDM``
    The Drift Detection Method of Gama et al. (2004): the error rate ``p`` and its
    binomial standard deviation ``s`` are tracked, the lowest ``p + s`` seen is remembered,
    and a drift is signalled when ``p + s > p_min + 3 s_min`` (a warning at ``2 s_min``).
``PageHinkley``
    Page's (1954) cumulative-sum test, as river and scikit-multiflow implement it: the sum
    of deviations from the running mean, with a forgetting factor, is compared with its
    extreme so far; a drift is signalled when the gap exceeds ``threshold``.

Both use river's published defaults and reproduce river 0.26's arithmetic operation by
operation, so they fire at the same indices as ``river.drift.binary.DDM`` and
``river.drift.PageHinkley`` on the same stream (the tests check this against river). Like
river, a detector starts afresh after a drift; the detection index is the 0-based index of
the value whose update raised it.

:func:`detect_concept_drift` runs the detectors over the error stream of a polars frame of
labelled predictions and adds a two-sample Kolmogorov-Smirnov test of the model's
confidence between a reference window and the current one.

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
import datetime as _dt
import logging
import math
import numbers
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl
from scipy import stats as _sps

from .errors import ValidationError

__all__ = [
    "DDM",
    "PageHinkley",
    "DetectorState",
    "DetectorRun",
    "Detection",
    "KSResult",
    "ConceptDriftResult",
    "detect_concept_drift",
    "DETECTORS",
]

log = logging.getLogger("mlmm")

_INF = math.inf


# ----------------------------------------------------------------------------- values


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


# ----------------------------------------------------------------------------- detectors


def _check_number(value: Any, field: str, *, low: float = 0.0, integer: bool = False) -> None:
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
        _check_number(warm_start, "warm_start", integer=True)
        _check_number(warning_threshold, "warning_threshold")
        _check_number(drift_threshold, "drift_threshold")
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
        _check_number(min_instances, "min_instances", integer=True)
        _check_number(delta, "delta")
        _check_number(threshold, "threshold")
        _check_number(alpha, "alpha")
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


# ----------------------------------------------------------------------------- results


def _json_time(value: Any) -> Any:
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, _dt.timedelta):
        return value.total_seconds()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


@dataclasses.dataclass(frozen=True)
class Detection:
    """One drift signalled by one detector.

    ``index`` is the 0-based row of the frame, ``timestamp`` the value of its time column
    (None without one). ``statistic`` and ``threshold`` are what the detector compared (see
    :class:`DetectorState`); ``direction`` says whether the error rate went up or down.

    >>> Detection("ddm", 41, None, 0.31, 0.2, "increase")
    <Detection ddm at row 41: statistic 0.31 > threshold 0.2 (error rate increase)>
    """

    detector: str
    index: int
    timestamp: Any
    statistic: float
    threshold: float
    direction: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict; times become ISO-8601 strings."""
        out = dataclasses.asdict(self)
        out["timestamp"] = _json_time(self.timestamp)
        return out

    def __repr__(self) -> str:
        when = f" ({_json_time(self.timestamp)})" if self.timestamp is not None else ""
        return (
            f"<Detection {self.detector} at row {self.index}{when}: statistic {self.statistic:.6g}"
            f" > threshold {self.threshold:.6g} (error rate {self.direction})>"
        )


@dataclasses.dataclass(frozen=True)
class KSResult:
    """A two-sample Kolmogorov-Smirnov test of confidence, reference against current window.

    ``statistic`` is the largest gap between the two empirical distribution functions and
    ``p_value`` its two-sided p-value (``scipy.stats.ks_2samp``); ``drift_detected`` is
    ``p_value < alpha``. Both are None, with a ``reason``, when a window is empty.

    >>> KSResult(0.5, 0.01, 0.05, True, 10, 10, "first half")
    <KSResult drift: D=0.5, p=0.01 < alpha=0.05 (first half: 10 vs 10 rows)>
    """

    statistic: float | None
    p_value: float | None
    alpha: float
    drift_detected: bool
    n_reference: int
    n_current: int
    reference: str
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The test as a JSON-safe dict."""
        return dataclasses.asdict(self)

    def __repr__(self) -> str:
        sizes = f"({self.reference}: {self.n_reference} vs {self.n_current} rows)"
        if self.statistic is None or self.p_value is None:
            return f"<KSResult not run: {self.reason} {sizes}>"
        verdict, op = ("drift", "<") if self.drift_detected else ("no drift", ">=")
        return f"<KSResult {verdict}: D={self.statistic:.4g}, p={self.p_value:.4g} {op} alpha={self.alpha:g} {sizes}>"


@dataclasses.dataclass(frozen=True)
class ConceptDriftResult:
    """What :func:`detect_concept_drift` found.

    ``drift_detected`` is True when a stream detector (DDM, Page-Hinkley) fired;
    ``detections`` lists every firing in row order and ``first_detection`` is the earliest
    (None if none). The KS test of confidence has its own verdict in ``ks.drift_detected``:
    it is kept apart because with many rows it rejects for differences too small to matter,
    and it says nothing about when. ``reason`` says in one sentence what happened, including
    why nothing could be detected on a short stream.

    >>> r = ConceptDriftResult(False, (), None, None, 12, ("ddm",), "insufficient data: 12 rows, at least 32 needed")
    >>> r
    <ConceptDriftResult no drift in 12 rows: insufficient data: 12 rows, at least 32 needed>
    >>> r.to_dict()["reason"]
    'insufficient data: 12 rows, at least 32 needed'
    """

    drift_detected: bool
    detections: tuple[Detection, ...]
    first_detection: Detection | None
    ks: KSResult | None
    rows: int
    detectors: tuple[str, ...]
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict; times become ISO-8601 strings."""
        return {
            "drift_detected": self.drift_detected,
            "detections": [d.to_dict() for d in self.detections],
            "first_detection": self.first_detection.to_dict() if self.first_detection else None,
            "ks": self.ks.to_dict() if self.ks else None,
            "rows": self.rows,
            "detectors": list(self.detectors),
            "reason": self.reason,
        }

    def to_df(self) -> pl.DataFrame:
        """The detections as a polars frame, one row per detection.

        >>> ConceptDriftResult(False, (), None, None, 0, (), "no rows").to_df().columns
        ['detector', 'index', 'timestamp', 'statistic', 'threshold', 'direction']
        """
        columns = [f.name for f in dataclasses.fields(Detection)]
        if not self.detections:
            schema = {
                "detector": pl.String,
                "index": pl.Int64,
                "timestamp": pl.Null,
                "statistic": pl.Float64,
                "threshold": pl.Float64,
                "direction": pl.String,
            }
            return pl.DataFrame(schema=schema)
        return pl.DataFrame(
            {c: [getattr(d, c) for d in self.detections] for c in columns},
            schema_overrides={"index": pl.Int64, "statistic": pl.Float64, "threshold": pl.Float64},
        )

    def __repr__(self) -> str:
        head = "drift" if self.drift_detected else "no drift"
        return f"<ConceptDriftResult {head} in {self.rows} rows: {self.reason}>"


# ----------------------------------------------------------------------------- the frame


def _column(frame: pl.DataFrame, name: Any, field: str) -> pl.Series:
    if not isinstance(name, str) or name not in frame.columns:
        raise ValidationError(f"{field}={name!r}: no such column; expected one of {frame.columns}")
    return frame.get_column(name)


def _first(mask: pl.Series) -> int:
    return int(mask.arg_true()[0])


def _outcomes(series: pl.Series) -> np.ndarray:
    """The 0/1 correctness column as a float array, checked."""
    name = series.name
    if series.dtype == pl.Null and series.len() == 0:  # an empty frame built from empty lists
        return np.empty(0)
    if series.dtype == pl.Boolean:
        if series.null_count():
            raise ValidationError(
                f"{name}=None in row {_first(series.is_null())}: expected 0/1 or true/false"
            )
        return series.cast(pl.Float64).to_numpy()
    if not series.dtype.is_numeric():
        raise ValidationError(
            f"{name} has dtype {series.dtype}: expected Boolean or 0/1 numbers (1 = the prediction was right)"
        )
    values = series.cast(pl.Float64)
    bad = values.is_null() | ~values.is_in([0.0, 1.0]).fill_null(False)
    if bad.any():
        at = _first(bad)
        raise ValidationError(f"{name}={series[at]!r} in row {at}: expected 0/1 or true/false (1 = right)")
    return values.to_numpy()


def _confidence(series: pl.Series, where: str = "") -> np.ndarray:
    name = series.name
    if series.dtype == pl.Null and series.len() == 0:
        return np.empty(0)
    if not series.dtype.is_numeric():
        raise ValidationError(f"{name} has dtype {series.dtype}{where}: expected numbers in [0, 1]")
    values = series.cast(pl.Float64)
    bad = (
        values.is_null()
        | values.is_nan().fill_null(True)
        | (values < 0).fill_null(True)
        | (values > 1).fill_null(True)
    )
    if bad.any():
        at = _first(bad)
        raise ValidationError(f"{name}={series[at]!r} in row {at}{where}: expected a number in [0, 1]")
    return values.to_numpy()


def _check_sorted(times: pl.Series) -> None:
    name = times.name
    if times.null_count():
        raise ValidationError(f"{name}=None in row {_first(times.is_null())}: expected a time for every row")
    try:
        earlier = (times < times.shift(1)).fill_null(False)
    except Exception as exc:  # a dtype that cannot be ordered (lists, structs, ...)
        raise ValidationError(f"{name} has dtype {times.dtype}: expected times that can be ordered") from exc
    if earlier.any():
        at = _first(earlier)
        raise ValidationError(
            f"{name}={times[at]!r} in row {at} is earlier than row {at - 1} ({times[at - 1]!r}): "
            f"expected rows sorted by time (frame.sort({name!r}))"
        )


def _detectors(spec: Any) -> list[DDM | PageHinkley]:
    if isinstance(spec, (str, DDM, PageHinkley)):
        spec = (spec,)
    out: list[DDM | PageHinkley] = []
    for item in spec:
        if isinstance(item, str) and item in DETECTORS:
            out.append(DETECTORS[item]())
        elif isinstance(item, (DDM, PageHinkley)):
            out.append(type(item)(**item.params))  # a fresh copy: the caller's stays untouched
        else:
            raise ValidationError(
                f"detectors={item!r}: expected 'ddm', 'page_hinkley' or a DDM / PageHinkley instance"
            )
    names = [d.name for d in out]
    if len(set(names)) != len(names):
        raise ValidationError(f"detectors={names}: expected each detector at most once")
    return out


def _windows(
    frame: pl.DataFrame, conf: np.ndarray, reference: Any, confidence_col: str
) -> tuple[np.ndarray, np.ndarray, str]:
    rows = frame.height
    if reference is None:
        half = rows // 2
        return conf[:half], conf[half:], f"first half (rows 0-{half - 1}) vs second half"
    if isinstance(reference, pl.LazyFrame):
        reference = reference.collect()
    if isinstance(reference, pl.DataFrame):
        column = _column(reference, confidence_col, "confidence_col (in reference)")
        return _confidence(column, " of reference"), conf, "reference frame vs frame"
    if isinstance(reference, pl.Series):
        if reference.dtype != pl.Boolean or reference.null_count():
            raise ValidationError(
                f"reference has dtype {reference.dtype} with {reference.null_count()} nulls: "
                "expected a Boolean mask without nulls, a polars frame or None"
            )
        mask = reference.to_numpy()
    else:
        mask = np.asarray(reference)
        if mask.dtype != np.bool_:
            raise ValidationError(
                f"reference has dtype {mask.dtype}: expected a Boolean mask, a polars frame or None"
            )
    if mask.shape != (rows,):
        raise ValidationError(f"reference mask has shape {mask.shape}: expected ({rows},), one flag per row")
    return conf[mask], conf[~mask], "rows where the mask is true vs the others"


def _ks(reference: np.ndarray, current: np.ndarray, alpha: float, label: str) -> KSResult:
    n_ref, n_cur = len(reference), len(current)
    if n_ref == 0 or n_cur == 0:
        which = "reference" if n_ref == 0 else "current"
        return KSResult(
            None, None, alpha, False, n_ref, n_cur, label, f"insufficient data: the {which} window is empty"
        )
    with warnings.catch_warnings():
        # 'auto' falls back to the asymptotic p-value when the exact one does not converge
        warnings.filterwarnings("ignore", message="ks_2samp: Exact calculation unsuccessful")
        test = _sps.ks_2samp(reference, current)
    statistic, p_value = float(test.statistic), float(test.pvalue)
    return KSResult(statistic, p_value, alpha, p_value < alpha, n_ref, n_cur, label)


def detect_concept_drift(
    frame: pl.DataFrame | pl.LazyFrame,
    *,
    time_col: str | None = "timestamp",
    correct_col: str = "correct",
    confidence_col: str | None = "confidence",
    reference: pl.DataFrame | pl.Series | np.ndarray | Sequence[bool] | None = None,
    detectors: Sequence[str | DDM | PageHinkley] = ("ddm", "page_hinkley"),
    alpha: float = 0.05,
) -> ConceptDriftResult:
    """Run concept-drift detectors over the error stream of labelled predictions.

    The error stream is ``1 - correct`` in row order. Each detector runs over it from a
    fresh state (and restarts after each of its detections, as river does); every firing
    becomes a :class:`Detection` with its row, time, statistic and threshold. A two-sample
    KS test (``scipy.stats.ks_2samp``) then compares the confidence of a reference window
    with the current one.

    Parameters
    ----------
    frame
        Labelled predictions, sorted by ``time_col``.
    time_col
        Time of each row, reported with each detection; rows must be in non-decreasing
        order. None: no time column (detections carry only the row index).
    correct_col
        1 / True when the prediction was right, 0 / False when it was wrong.
    confidence_col
        The model's confidence in [0, 1], for the KS test. None: skip the test.
    reference
        The KS reference window. None: the first half of ``frame`` (``rows // 2`` rows)
        against the rest. A polars frame: its ``confidence_col`` against all of ``frame``
        (the detectors still run on ``frame`` only). A Boolean mask with one flag per row of
        ``frame``: the flagged rows against the others.
    detectors
        Names from :data:`DETECTORS` or configured :class:`DDM` / :class:`PageHinkley`
        instances (copied, not changed). Default: both with river's defaults.
    alpha
        Significance level of the KS test.

    Returns
    -------
    ConceptDriftResult
        With ``drift_detected`` False and a reason ``"insufficient data: N rows, at least
        M needed"`` when the stream is shorter than any detector's warm start (30 rows with
        the defaults); then the KS test is not run either.

    Raises
    ------
    ValidationError
        A column is missing, ``correct`` is not 0/1, a confidence is outside [0, 1], a time
        is missing or out of order, or an argument is malformed.

    References
    ----------
    Gama et al. (2004) for DDM; Page (1954) for Page-Hinkley; river 0.26.1 for both
    implementations and defaults. Kolmogorov-Smirnov: ``scipy.stats.ks_2samp``.

    Examples
    --------
    >>> import datetime as dt
    >>> import numpy as np, polars as pl
    >>> rng = np.random.default_rng(0)
    >>> wrong = np.r_[rng.random(1000) < 0.1, rng.random(1000) < 0.4]
    >>> frame = pl.DataFrame({
    ...     "timestamp": pl.datetime_range(dt.datetime(2026, 1, 1), dt.datetime(2026, 1, 1, 0, 33, 19),
    ...                                    "1s", eager=True, time_zone="UTC"),
    ...     "correct": ~wrong,
    ...     "confidence": np.r_[rng.beta(8, 2, 1000), rng.beta(5, 3, 1000)],
    ... })
    >>> result = detect_concept_drift(frame)
    >>> result
    <ConceptDriftResult drift in 2000 rows: ddm fired 1 time, first at row 1041 (2026-01-01T00:17:21+00:00); page_hinkley fired 1 time, first at row 1141 (2026-01-01T00:19:01+00:00)>
    >>> result.first_detection
    <Detection ddm at row 1041 (2026-01-01T00:17:21+00:00): statistic 0.114087 > threshold 0.113703 (error rate increase)>
    >>> result.ks.drift_detected, result.ks.n_reference
    (True, 1000)
    >>> detect_concept_drift(frame.head(12)).reason
    'insufficient data: 12 rows, at least 30 needed'
    """
    if isinstance(frame, pl.LazyFrame):
        frame = frame.collect()
    if not isinstance(frame, pl.DataFrame):
        raise ValidationError(f"frame={type(frame).__name__}: expected a polars DataFrame or LazyFrame")
    _check_number(alpha, "alpha")
    if not 0 < alpha < 1:
        raise ValidationError(f"alpha={alpha!r}: expected a significance level in (0, 1)")
    chosen = _detectors(detectors)
    if not chosen:
        raise ValidationError("detectors=(): expected at least one of 'ddm', 'page_hinkley'")
    names = tuple(d.name for d in chosen)

    correct = _outcomes(_column(frame, correct_col, "correct_col"))
    times = None
    if time_col is not None:
        times = _column(frame, time_col, "time_col")
        _check_sorted(times)
    conf = None
    if confidence_col is not None:
        conf = _confidence(_column(frame, confidence_col, "confidence_col"))

    rows = frame.height
    needed = min(d.min_values for d in chosen)
    if rows < needed:
        reason = f"insufficient data: {rows} rows, at least {needed} needed"
        if reference is not None and conf is not None:
            _windows(frame, conf, reference, confidence_col)  # still report a malformed reference
        return ConceptDriftResult(False, (), None, None, rows, names, reason)

    errors = 1.0 - correct
    found: list[Detection] = []
    summary: list[str] = []
    for detector in chosen:
        run = detector.run(errors)
        for i, stat, limit, way in zip(
            run.drifts, run.statistics, run.thresholds, run.directions, strict=True
        ):
            when = times[i] if times is not None else None
            found.append(Detection(detector.name, i, when, stat, limit, way))
        if run.drifts:
            first = run.drifts[0]
            when = f" ({_json_time(times[first])})" if times is not None else ""
            plural = "time" if len(run.drifts) == 1 else "times"
            summary.append(f"{detector.name} fired {len(run.drifts)} {plural}, first at row {first}{when}")
    found.sort(key=lambda d: (d.index, names.index(d.detector)))

    ks = None
    if conf is not None:
        assert confidence_col is not None
        ref, cur, label = _windows(frame, conf, reference, confidence_col)
        ks = _ks(ref, cur, alpha, label)

    reason = "; ".join(summary) if summary else f"no detector fired on {rows} rows ({', '.join(names)})"
    log.debug("concept drift on %d rows: %s", rows, reason)
    return ConceptDriftResult(
        drift_detected=bool(found),
        detections=tuple(found),
        first_detection=found[0] if found else None,
        ks=ks,
        rows=rows,
        detectors=names,
        reason=reason,
    )
