"""Concept drift on the outcome stream: DDM and Page-Hinkley against river 0.26.1 (live when
river is installed, and as literal indices river produced when it is not), the KS test of
confidence against scipy, short streams and validation messages."""

from __future__ import annotations

import datetime as dt
import inspect
import json
import random

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from mlmm.drift import (
    DDM,
    ConceptDriftResult,
    Detection,
    PageHinkley,
    detect_concept_drift,
)
from mlmm.errors import ValidationError

UTC = dt.UTC
START = dt.datetime(2026, 1, 1, tzinfo=UTC)


def bernoulli(seed: int, segments: list[tuple[int, float]]) -> list[int]:
    """0/1 errors, ``n`` values with error rate ``p`` per segment (Python's stable Mersenne Twister)."""
    rng = random.Random(seed)
    return [int(rng.random() < p) for n, p in segments for _ in range(n)]


SHIFT = bernoulli(1, [(1000, 0.1), (1000, 0.4)])
SEVERAL = bernoulli(2, [(800, 0.05), (600, 0.3), (700, 0.05), (900, 0.5), (500, 0.1)])
STATIONARY = bernoulli(3, [(20000, 0.2)])

BINARY_STREAMS = {
    "shift": SHIFT,
    "several": SEVERAL,
    "stationary": STATIONARY,
    "all_zero": [0] * 500,
    "all_one": [1] * 500,
    "first_error_after_a_clean_start": [0] * 100 + [1] + [0] * 50,
    "short": [0, 1, 1, 0, 1] * 5,
    "earliest_ddm_drift": [0] * 31 + [1],
    "one_too_short_for_ddm": [0] * 30 + [1],
    "empty": [],
    "rare_errors_then_many": bernoulli(4, [(3000, 0.01), (300, 0.6), (3000, 0.01)]),
}


def normal_stream(seed: int) -> list[float]:
    rng = np.random.default_rng(seed)
    return np.r_[rng.normal(0, 1, 1500), rng.normal(1.5, 1, 1500), rng.normal(-1, 2, 1500)].tolist()


def frame_of(errors: list[int], confidence: np.ndarray | None = None, seed: int = 0) -> pl.DataFrame:
    n = len(errors)
    if confidence is None:
        confidence = np.random.default_rng(seed).uniform(0.5, 1.0, n)
    return pl.DataFrame(
        {
            "timestamp": [START + dt.timedelta(minutes=i) for i in range(n)],
            "correct": [1 - e for e in errors],
            "confidence": confidence,
        },
        schema={"timestamp": pl.Datetime("us", "UTC"), "correct": pl.Int64, "confidence": pl.Float64},
    )


def loop(detector: DDM | PageHinkley, values: list) -> tuple[list[int], list[int]]:
    """Drift and warning indices, one update at a time (the streaming API)."""
    drifts, warns = [], []
    for i, x in enumerate(values):
        state = detector.update(x)
        if state.drift_detected:
            drifts.append(i)
        if state.warning_detected:
            warns.append(i)
    return drifts, warns


# ----------------------------------------------------------------------------- river


def river_loop(detector, values: list) -> tuple[list[int], list[int]]:  # noqa: ANN001
    drifts, warns = [], []
    for i, x in enumerate(values):
        detector.update(x)
        if detector.drift_detected:
            drifts.append(i)
        if getattr(detector, "warning_detected", False):
            warns.append(i)
    return drifts, warns


@pytest.fixture(scope="module")
def river_drift():
    river = pytest.importorskip("river", reason="river is the reference; the literal-index tests still run")
    assert river.__version__ == "0.26.1", "the literal indices below came from river 0.26.1"
    from river import drift

    return drift


def test_defaults_are_rivers(river_drift) -> None:  # noqa: ANN001
    def defaults(cls) -> dict:  # noqa: ANN001
        return {k: p.default for k, p in inspect.signature(cls).parameters.items()}

    assert defaults(river_drift.binary.DDM) == DDM().params
    assert defaults(river_drift.PageHinkley) == PageHinkley().params


@pytest.mark.parametrize("name", list(BINARY_STREAMS))
def test_ddm_matches_river(river_drift, name: str) -> None:  # noqa: ANN001
    values = BINARY_STREAMS[name]
    expected_drifts, expected_warnings = river_loop(river_drift.binary.DDM(), values)
    run = DDM().run(values)
    assert list(run.drifts) == expected_drifts
    assert list(run.warnings) == expected_warnings
    assert loop(DDM(), values) == (expected_drifts, expected_warnings)


@pytest.mark.parametrize("name", list(BINARY_STREAMS))
def test_page_hinkley_matches_river(river_drift, name: str) -> None:  # noqa: ANN001
    values = BINARY_STREAMS[name]
    expected, _ = river_loop(river_drift.PageHinkley(), values)
    assert list(PageHinkley().run(values).drifts) == expected
    assert loop(PageHinkley(), values)[0] == expected


@pytest.mark.parametrize(
    "params",
    [
        {"mode": "up"},
        {"mode": "down"},
        {"mode": "both"},
        {"threshold": 15.0, "delta": 0.05, "min_instances": 10},
        {"alpha": 1.0, "threshold": 25.0, "mode": "up"},
    ],
)
def test_page_hinkley_matches_river_on_real_values(river_drift, params: dict) -> None:  # noqa: ANN001
    values = normal_stream(11)
    expected, _ = river_loop(river_drift.PageHinkley(**params), values)
    assert expected  # the stream does make it fire
    assert list(PageHinkley(**params).run(values).drifts) == expected
    assert loop(PageHinkley(**params), values)[0] == expected


@pytest.mark.parametrize(
    "params", [{"warm_start": 5}, {"warning_threshold": 1.0, "drift_threshold": 2.0}, {"warm_start": 0}]
)
def test_ddm_matches_river_with_other_parameters(river_drift, params: dict) -> None:  # noqa: ANN001
    values = SEVERAL
    assert list(DDM(**params).run(values).drifts) == river_loop(river_drift.binary.DDM(**params), values)[0]
    assert list(DDM(**params).run(values).warnings) == river_loop(river_drift.binary.DDM(**params), values)[1]


def test_docstring_examples_are_rivers(river_drift) -> None:  # noqa: ANN001
    rng = random.Random(42)
    stream = rng.choices([0, 1], k=1000) + rng.choices([0, 1], k=1000, weights=[0.3, 0.7])
    assert river_loop(river_drift.binary.DDM(), stream)[0] == [1334]
    rng = random.Random(12345)
    stream = rng.choices([0, 1], k=1000) + rng.choices(range(4, 8), k=1000)
    assert river_loop(river_drift.PageHinkley(), stream)[0] == [1006]


# ----------------------------------------------------------------------------- literal indices


# These indices came from river 0.26.1 (river.drift.binary.DDM() and river.drift.PageHinkley()
# with their defaults, fed one value at a time) on the seeded streams above.
RIVER_0_26_1 = {
    "shift": {"ddm": [1058], "ddm_warnings": 258, "ddm_first_warning": 739, "page_hinkley": [1168]},
    "several": {
        "ddm": [115, 883, 2190],
        "ddm_warnings": 643,
        "ddm_first_warning": 106,
        "page_hinkley": [1052, 1602, 2220, 3104],
    },
    "stationary": {"ddm": [], "ddm_warnings": 2229, "ddm_first_warning": 77, "page_hinkley": [19579]},
}


@pytest.mark.parametrize("name", list(RIVER_0_26_1))
def test_detection_indices_river_produced(name: str) -> None:
    expected = RIVER_0_26_1[name]
    ddm = DDM().run(BINARY_STREAMS[name])
    assert list(ddm.drifts) == expected["ddm"]
    assert len(ddm.warnings) == expected["ddm_warnings"]
    assert ddm.warnings[0] == expected["ddm_first_warning"]
    assert list(PageHinkley().run(BINARY_STREAMS[name]).drifts) == expected["page_hinkley"]


def test_defaults_are_the_published_ones() -> None:
    assert DDM().params == {"warm_start": 30, "warning_threshold": 2.0, "drift_threshold": 3.0}
    assert PageHinkley().params == {
        "min_instances": 30,
        "delta": 0.005,
        "threshold": 50.0,
        "alpha": 1 - 0.0001,
        "mode": "both",
    }


# ----------------------------------------------------------------------------- detector behaviour


def test_ddm_fires_on_the_first_error_after_a_clean_start() -> None:
    # No error in the first 100 values: p_min = s_min = 0, so the first error crosses p_min + 3 s_min.
    run = DDM().run([0] * 100 + [1] + [0] * 50)
    assert run.drifts == (100,)
    assert run.statistics[0] == pytest.approx(1 / 101 + np.sqrt((1 / 101) * (100 / 101) / 101), rel=1e-12)
    assert run.thresholds == (0.0,)


def test_constant_streams_never_fire() -> None:
    for values in ([0] * 5000, [1] * 5000):
        assert DDM().run(values).drifts == ()
        assert DDM().run(values).warnings == ()
        assert PageHinkley().run(values).drifts == ()


def test_nothing_fires_before_the_warm_start() -> None:
    # PH may fire at its 30th value, DDM at its 32nd at the earliest: the 31st sets p_min, s_min.
    ph = PageHinkley(min_instances=30, threshold=0.5)
    assert ph.run([0.0] * 29 + [100.0]).drifts == (29,)
    assert PageHinkley(min_instances=31, threshold=0.5).run([0.0] * 29 + [100.0]).drifts == ()
    assert DDM().run([0] * 31 + [1]).drifts == (31,)
    assert DDM().run([0] * 30 + [1]).drifts == ()
    assert DDM(drift_threshold=0.5).run([0] * 30 + [1]).drifts == (30,)
    assert (DDM().min_values, DDM(drift_threshold=0.5).min_values, PageHinkley().min_values) == (32, 31, 30)


def test_page_hinkley_direction_and_statistic() -> None:
    run = PageHinkley(threshold=20.0).run([5.0] * 100 + [0.0] * 100)
    assert run.directions == ("decrease",)
    assert run.statistics[0] > 20.0
    assert PageHinkley(threshold=20.0, mode="up").run([5.0] * 100 + [0.0] * 100).drifts == ()
    up = PageHinkley(threshold=20.0).run([0.0] * 100 + [5.0] * 100)
    assert up.directions == ("increase",)
    assert up.thresholds == (20.0,)


def test_state_after_update_reports_what_run_reports() -> None:
    ddm, run = DDM(), DDM().run(SEVERAL)
    states = [ddm.update(x) for x in SEVERAL]
    fired = [s for s in states if s.drift_detected]
    assert [s.statistic for s in fired] == list(run.statistics)
    assert [s.threshold for s in fired] == list(run.thresholds)
    assert all(s.direction == "increase" and not s.warning_detected for s in fired)
    assert states[0].threshold is None and states[0].n == 1
    # after a drift the detector starts afresh, as in river
    after = states[run.drifts[0] + 1]
    assert after.n == 1 and not after.drift_detected

    ph, ph_run = PageHinkley(), PageHinkley().run(SEVERAL)
    ph_states = [ph.update(x) for x in SEVERAL]
    assert [s.statistic for s in ph_states if s.drift_detected] == list(ph_run.statistics)
    assert all(s.threshold == 50.0 for s in ph_states)


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.integers(0, 1), max_size=400),
    cut=st.integers(0, 400),
    params=st.fixed_dictionaries(
        {
            "warm_start": st.integers(0, 40),
            "drift_threshold": st.floats(0.5, 4.0),
            "warning_threshold": st.floats(0.5, 3.0),
        }
    ),
)
def test_ddm_run_equals_the_update_loop(values: list[int], cut: int, params: dict) -> None:
    cut = min(cut, len(values))
    drifts, warns = loop(DDM(**params), values)
    ddm = DDM(**params)
    head, tail = ddm.run(values[:cut]), ddm.run(values[cut:])
    assert list(head.drifts) + [cut + i for i in tail.drifts] == drifts
    assert list(head.warnings) + [cut + i for i in tail.warnings] == warns
    reference = DDM(**params)
    for x in values:
        reference.update(x)
    assert ddm.state == reference.state


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.floats(-5, 5, allow_nan=False), max_size=400),
    cut=st.integers(0, 400),
    mode=st.sampled_from(["up", "down", "both"]),
    threshold=st.floats(0.5, 30),
)
def test_page_hinkley_run_equals_the_update_loop(
    values: list[float], cut: int, mode: str, threshold: float
) -> None:
    cut = min(cut, len(values))
    params = {"mode": mode, "threshold": threshold, "min_instances": 5}
    drifts, _ = loop(PageHinkley(**params), values)
    ph = PageHinkley(**params)
    head, tail = ph.run(values[:cut]), ph.run(values[cut:])
    assert list(head.drifts) + [cut + i for i in tail.drifts] == drifts
    reference = PageHinkley(**params)
    for x in values:
        reference.update(x)
    assert ph.state == reference.state


def test_run_accepts_arrays_booleans_and_series() -> None:
    expected = DDM().run(SHIFT).drifts
    assert DDM().run(np.array(SHIFT, dtype=np.int8)).drifts == expected
    assert DDM().run(np.array(SHIFT, dtype=bool)).drifts == expected
    assert DDM().run(pl.Series(SHIFT)).drifts == expected
    assert DDM().update(True).n == 1


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: DDM().run([0, 1, 2]), "x=2.0 at index 2: expected 0 (correct) or 1 (error)"),
        (lambda: DDM().run([0, 0.5]), "x=0.5 at index 1: expected 0 (correct) or 1 (error)"),
        (lambda: DDM().update(0.5), "x=0.5: expected 0 (correct) or 1 (error)"),
        (lambda: DDM().update("1"), "x='1': expected 0 (correct) or 1 (error)"),
        (lambda: PageHinkley().run([1.0, float("nan")]), "x=nan at index 1: expected a finite number"),
        (lambda: PageHinkley().update(float("inf")), "x=inf: expected a finite number"),
        (lambda: PageHinkley().run([[1.0, 2.0]]), "x has shape (1, 2): expected a 1-D array of numbers"),
        (lambda: DDM().run(pl.Series([1, None])), "x=None at index 1: expected a number for every value"),
        (lambda: DDM(warm_start=-1), "warm_start=-1: expected an integer >= 0"),
        (lambda: DDM(warm_start=2.5), "warm_start=2.5: expected an integer >= 0"),
        (lambda: PageHinkley(mode="sideways"), "mode='sideways': expected one of 'up', 'down', 'both'"),
        (lambda: PageHinkley(alpha=1.5), "alpha=1.5: expected a forgetting factor in [0, 1]"),
        (lambda: PageHinkley(threshold=float("nan")), "threshold=nan: expected a finite number >= 0"),
    ],
)
def test_detector_validation(call, message: str) -> None:  # noqa: ANN001
    with pytest.raises(ValidationError) as info:
        call()
    assert str(info.value) == message


# ----------------------------------------------------------------------------- detect_concept_drift


def test_detections_on_a_frame() -> None:
    frame = frame_of(SEVERAL)
    result = detect_concept_drift(frame)
    assert isinstance(result, ConceptDriftResult)
    assert result.drift_detected is True
    assert result.rows == len(SEVERAL)
    assert result.detectors == ("ddm", "page_hinkley")
    got = [(d.detector, d.index, d.timestamp) for d in result.detections]
    assert got == [
        ("ddm", 115, START + dt.timedelta(minutes=115)),
        ("ddm", 883, START + dt.timedelta(minutes=883)),
        ("page_hinkley", 1052, START + dt.timedelta(minutes=1052)),
        ("page_hinkley", 1602, START + dt.timedelta(minutes=1602)),
        ("ddm", 2190, START + dt.timedelta(minutes=2190)),
        ("page_hinkley", 2220, START + dt.timedelta(minutes=2220)),
        ("page_hinkley", 3104, START + dt.timedelta(minutes=3104)),
    ]
    ddm_run = DDM().run(SEVERAL)
    first = result.first_detection
    assert first == result.detections[0]
    assert (first.statistic, first.threshold) == (ddm_run.statistics[0], ddm_run.thresholds[0])
    assert all(d.statistic > d.threshold for d in result.detections)
    assert result.reason == (
        "ddm fired 3 times, first at row 115 (2026-01-01T01:55:00+00:00); "
        "page_hinkley fired 4 times, first at row 1052 (2026-01-01T17:32:00+00:00)"
    )


def test_to_dict_is_json_with_iso_times_and_to_df() -> None:
    result = detect_concept_drift(frame_of(SHIFT))
    out = json.loads(json.dumps(result.to_dict()))
    assert out["drift_detected"] is True
    assert out["first_detection"] == {
        "detector": "ddm",
        "index": 1058,
        "timestamp": "2026-01-01T17:38:00+00:00",
        "statistic": result.first_detection.statistic,
        "threshold": result.first_detection.threshold,
        "direction": "increase",
    }
    assert [d["index"] for d in out["detections"]] == [1058, 1168]
    assert out["ks"]["n_reference"] == 1000 and out["ks"]["n_current"] == 1000
    df = result.to_df()
    assert df.columns == ["detector", "index", "timestamp", "statistic", "threshold", "direction"]
    assert df["index"].to_list() == [1058, 1168]
    assert df["detector"].to_list() == ["ddm", "page_hinkley"]
    assert repr(result.first_detection).startswith("<Detection ddm at row 1058 (2026-01-01T17:38:00+00:00)")


def test_no_drift_on_a_clean_stream() -> None:
    result = detect_concept_drift(frame_of([0] * 500))
    assert result.drift_detected is False
    assert result.detections == () and result.first_detection is None
    assert result.reason == "no detector fired on 500 rows (ddm, page_hinkley)"
    assert result.to_df().height == 0


def test_boolean_and_integer_outcomes_agree() -> None:
    frame = frame_of(SHIFT)
    as_bool = detect_concept_drift(frame.with_columns(pl.col("correct").cast(pl.Boolean)))
    as_float = detect_concept_drift(frame.with_columns(pl.col("correct").cast(pl.Float32)))
    assert as_bool == detect_concept_drift(frame) == as_float
    assert detect_concept_drift(frame.lazy()) == as_bool


def test_configured_detectors_and_no_time_column() -> None:
    mine = DDM(drift_threshold=2.5)
    frame = frame_of(SHIFT)
    result = detect_concept_drift(
        frame.drop("timestamp"), time_col=None, detectors=[mine], confidence_col=None
    )
    assert [d.index for d in result.detections] == list(DDM(drift_threshold=2.5).run(SHIFT).drifts)
    assert all(d.timestamp is None for d in result.detections)
    assert result.detectors == ("ddm",) and result.ks is None
    assert mine.state.n == 0  # the caller's detector was copied, not used
    only_ph = detect_concept_drift(frame, detectors="page_hinkley")
    assert [d.index for d in only_ph.detections] == [1168]


@pytest.mark.parametrize(
    ("rows", "detectors", "needed"),
    [
        (0, ("ddm", "page_hinkley"), 30),
        (12, ("ddm", "page_hinkley"), 30),
        (29, ("ddm", "page_hinkley"), 30),
        (31, ("ddm",), 32),
    ],
)
def test_short_streams_give_a_clear_result(rows: int, detectors: tuple, needed: int) -> None:
    result = detect_concept_drift(frame_of([1] * rows), detectors=detectors)
    assert result.drift_detected is False
    assert result.reason == f"insufficient data: {rows} rows, at least {needed} needed"
    assert result.detections == () and result.first_detection is None and result.ks is None
    assert result.rows == rows
    assert json.loads(json.dumps(result.to_dict()))["reason"] == result.reason


def test_an_empty_frame_from_empty_lists() -> None:
    result = detect_concept_drift(pl.DataFrame({"timestamp": [], "correct": [], "confidence": []}))
    assert result.reason == "insufficient data: 0 rows, at least 30 needed"


def test_thirty_rows_run() -> None:
    result = detect_concept_drift(frame_of([0] * 30))
    assert result.reason == "no detector fired on 30 rows (ddm, page_hinkley)"
    assert result.ks is not None and result.ks.n_reference == 15


# ----------------------------------------------------------------------------- KS


def _confidence(seed: int = 5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.r_[rng.beta(8, 2, 600), rng.beta(6, 3, 600)]


def test_ks_first_half_matches_scipy() -> None:
    conf = _confidence()
    result = detect_concept_drift(frame_of(SHIFT[:1200], conf))
    expected = stats.ks_2samp(conf[:600], conf[600:])
    assert result.ks.statistic == expected.statistic
    assert result.ks.p_value == expected.pvalue
    assert expected.pvalue < 0.05
    assert result.ks.drift_detected is True
    assert result.ks.alpha == 0.05
    assert result.ks.reference == "first half (rows 0-599) vs second half"


def test_ks_odd_rows_and_alpha() -> None:
    conf = _confidence()[:301]
    result = detect_concept_drift(frame_of(SHIFT[:301], conf), alpha=1e-12)
    expected = stats.ks_2samp(conf[:150], conf[150:])
    assert (result.ks.n_reference, result.ks.n_current) == (150, 151)
    assert result.ks.p_value == expected.pvalue
    assert result.ks.drift_detected is False


def test_ks_no_drift_on_the_same_distribution() -> None:
    conf = np.random.default_rng(9).beta(8, 2, 2000)
    result = detect_concept_drift(frame_of(SHIFT, conf))
    expected = stats.ks_2samp(conf[:1000], conf[1000:])
    assert result.ks.p_value == expected.pvalue > 0.05
    assert result.ks.drift_detected is False
    assert "no drift" in repr(result.ks)


def test_ks_with_a_reference_frame() -> None:
    conf = _confidence()
    reference = pl.DataFrame({"confidence": np.random.default_rng(1).beta(8, 2, 500)})
    result = detect_concept_drift(frame_of(SHIFT[:1200], conf), reference=reference)
    expected = stats.ks_2samp(reference["confidence"].to_numpy(), conf)
    assert (result.ks.statistic, result.ks.p_value) == (expected.statistic, expected.pvalue)
    assert (result.ks.n_reference, result.ks.n_current) == (500, 1200)
    # the detectors still run on the frame only
    assert [d.index for d in result.detections] == [
        d.index for d in detect_concept_drift(frame_of(SHIFT[:1200])).detections
    ]


@pytest.mark.parametrize("kind", ["series", "numpy", "list"])
def test_ks_with_a_mask(kind: str) -> None:
    conf = _confidence()
    flags = np.arange(1200) % 3 == 0
    mask = {"series": pl.Series(flags), "numpy": flags, "list": flags.tolist()}[kind]
    result = detect_concept_drift(frame_of(SHIFT[:1200], conf), reference=mask)
    expected = stats.ks_2samp(conf[flags], conf[~flags])
    assert (result.ks.statistic, result.ks.p_value) == (expected.statistic, expected.pvalue)
    assert (result.ks.n_reference, result.ks.n_current) == (400, 800)


def test_ks_large_windows_use_scipys_auto_method_without_warnings() -> None:
    rng = np.random.default_rng(2)
    conf = np.round(rng.beta(8, 2, 24000), 2)  # many ties: exact p-values are slow, 'auto' goes asymptotic
    errors = (rng.random(24000) < 0.1).astype(int).tolist()
    result = detect_concept_drift(frame_of(errors, conf))
    expected = stats.ks_2samp(conf[:12000], conf[12000:])
    assert result.ks.p_value == expected.pvalue


def test_ks_with_an_empty_window() -> None:
    result = detect_concept_drift(frame_of(SHIFT[:100]), reference=np.ones(100, dtype=bool))
    assert result.ks.statistic is None and result.ks.p_value is None
    assert result.ks.drift_detected is False
    assert result.ks.reason == "insufficient data: the current window is empty"
    assert json.loads(json.dumps(result.to_dict()))["ks"]["statistic"] is None


# ----------------------------------------------------------------------------- validation


def _frame(**changes) -> pl.DataFrame:  # noqa: ANN003
    frame = frame_of(SHIFT[:50])
    return frame.with_columns(**changes) if changes else frame


@pytest.mark.parametrize(
    ("make", "kwargs", "message"),
    [
        (
            lambda: _frame().drop("correct"),
            {},
            "correct_col='correct': no such column; expected one of ['timestamp', 'confidence']",
        ),
        (
            lambda: _frame(),
            {"time_col": "ts"},
            "time_col='ts': no such column; expected one of ['timestamp', 'correct', 'confidence']",
        ),
        (
            lambda: _frame().drop("confidence"),
            {},
            "confidence_col='confidence': no such column; expected one of ['timestamp', 'correct']",
        ),
        (
            lambda: _frame(correct=pl.when(pl.int_range(50) == 7).then(2).otherwise(pl.col("correct"))),
            {},
            "correct=2 in row 7: expected 0/1 or true/false (1 = right)",
        ),
        (
            lambda: _frame(correct=pl.when(pl.int_range(50) == 3).then(None).otherwise(pl.col("correct"))),
            {},
            "correct=None in row 3: expected 0/1 or true/false (1 = right)",
        ),
        (
            lambda: _frame(correct=pl.lit("yes")),
            {},
            "correct has dtype String: expected Boolean or 0/1 numbers (1 = the prediction was right)",
        ),
        (
            lambda: _frame(
                confidence=pl.when(pl.int_range(50) == 12).then(1.7).otherwise(pl.col("confidence"))
            ),
            {},
            "confidence=1.7 in row 12: expected a number in [0, 1]",
        ),
        (
            lambda: _frame(
                confidence=pl.when(pl.int_range(50) == 4).then(float("nan")).otherwise(pl.col("confidence"))
            ),
            {},
            "confidence=nan in row 4: expected a number in [0, 1]",
        ),
        (
            lambda: _frame(
                confidence=pl.when(pl.int_range(50) == 0).then(None).otherwise(pl.col("confidence"))
            ),
            {},
            "confidence=None in row 0: expected a number in [0, 1]",
        ),
        (
            lambda: _frame(timestamp=pl.col("timestamp").reverse()),
            {},
            "timestamp=datetime.datetime(2026, 1, 1, 0, 48, tzinfo=zoneinfo.ZoneInfo(key='UTC')) in row 1 is earlier "
            "than row 0 (datetime.datetime(2026, 1, 1, 0, 49, tzinfo=zoneinfo.ZoneInfo(key='UTC'))): "
            "expected rows sorted by time (frame.sort('timestamp'))",
        ),
        (
            lambda: _frame(
                timestamp=pl.when(pl.int_range(50) == 9).then(None).otherwise(pl.col("timestamp"))
            ),
            {},
            "timestamp=None in row 9: expected a time for every row",
        ),
        (
            lambda: _frame(),
            {"detectors": ("ddm", "adwin")},
            "detectors='adwin': expected 'ddm', 'page_hinkley' or a DDM / PageHinkley instance",
        ),
        (
            lambda: _frame(),
            {"detectors": ("ddm", DDM())},
            "detectors=['ddm', 'ddm']: expected each detector at most once",
        ),
        (lambda: _frame(), {"detectors": ()}, "detectors=(): expected at least one of 'ddm', 'page_hinkley'"),
        (lambda: _frame(), {"alpha": 1.5}, "alpha=1.5: expected a significance level in (0, 1)"),
        (
            lambda: _frame(),
            {"reference": np.ones(49, dtype=bool)},
            "reference mask has shape (49,): expected (50,), one flag per row",
        ),
        (
            lambda: _frame(),
            {"reference": np.ones(50)},
            "reference has dtype float64: expected a Boolean mask, a polars frame or None",
        ),
        (
            lambda: _frame(),
            {"reference": pl.DataFrame({"p": [0.5]})},
            "confidence_col (in reference)='confidence': no such column; expected one of ['p']",
        ),
        (
            lambda: _frame(),
            {"reference": pl.DataFrame({"confidence": [0.5, -0.1]})},
            "confidence=-0.1 in row 1 of reference: expected a number in [0, 1]",
        ),
        (lambda: {"correct": [1]}, {}, "frame=dict: expected a polars DataFrame or LazyFrame"),
    ],
)
def test_validation_errors(make, kwargs: dict, message: str) -> None:  # noqa: ANN001
    with pytest.raises(ValidationError) as info:
        detect_concept_drift(make(), **kwargs)
    assert str(info.value) == message


def test_short_streams_are_still_validated() -> None:
    with pytest.raises(ValidationError, match=r"correct=3 in row 0"):
        detect_concept_drift(pl.DataFrame({"timestamp": [START], "correct": [3], "confidence": [0.5]}))
    with pytest.raises(ValidationError, match=r"reference mask has shape \(2,\): expected \(1,\)"):
        detect_concept_drift(frame_of([0]), reference=[True, False])


def test_detection_repr_and_dict() -> None:
    detection = Detection("page_hinkley", 3, dt.date(2026, 1, 2), 51.0, 50.0, "decrease")
    assert detection.to_dict()["timestamp"] == "2026-01-02"
    assert repr(detection) == (
        "<Detection page_hinkley at row 3 (2026-01-02): statistic 51 > threshold 50 (error rate decrease)>"
    )
