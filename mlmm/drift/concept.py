"""Concept drift in a classifier's stream of outcomes: :func:`detect_concept_drift` runs the
stream detectors (:mod:`mlmm.drift.detectors`) over the error stream of labelled predictions and
adds a two-sample Kolmogorov-Smirnov test of the model's confidence between a reference window
and the current one.

When labels arrive, each prediction becomes an outcome: 0 if it was right, 1 if it was wrong. A
change of concept shows as a change in that error stream. The workspace service that feeds it
from the prediction log is :func:`mlmm.monitor.concept_drift`.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import logging
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl
from scipy import stats as _sps

from ..errors import ValidationError
from .detectors import DDM, DETECTORS, PageHinkley, check_number

__all__ = ["ConceptDriftResult", "Detection", "KSResult", "detect_concept_drift"]

log = logging.getLogger("mlmm")


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
    check_number(alpha, "alpha")
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
