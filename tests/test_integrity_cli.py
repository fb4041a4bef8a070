"""Small integrity defects, each pinned by a test that failed before its fix: names with a
trailing newline, version parts the registry cannot store, the same version compared with itself,
`tune grid` on a model without a detector, `--daily 0`, and drift checks of an empty window
(insufficient data: an error and nothing recorded, never "no dataset drift")."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

import mlmm
from mlmm import drift as F
from mlmm import monitor as M
from mlmm import tuning as TU
from mlmm._util import check_name, is_valid_name
from mlmm.cli import app
from mlmm.errors import ValidationError
from mlmm.version import MAX_PART, Version

UTC = dt.UTC
T0 = dt.datetime(2026, 3, 1, tzinfo=UTC)
runner = CliRunner()


def cli(ws: mlmm.Workspace | Path | str, *args: str, code: int = 0):
    result = runner.invoke(app, [*args, "--workspace", str(getattr(ws, "path", ws))])
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr, result.exception)
    return result


def one_error_line(result) -> str:
    """The single stderr line of a failed command, without its "error: " prefix (and no traceback)."""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert result.stdout == ""
    return lines[0].removeprefix("error: ")


@pytest.fixture
def ws(tmp_path: Path):
    w = mlmm.open_workspace(tmp_path / "ws")
    yield w
    w.close()


def _log(ws: mlmm.Workspace, n: int = 400, *, x: list | None = None, start: dt.datetime = T0) -> None:
    """``n`` labelled predictions of m 1.0.0, one every 10 minutes from ``start``, with a feature x."""
    rng = np.random.default_rng(0)
    summary = mlmm.log_predictions(ws, pl.DataFrame({
        "model_name": ["m"] * n, "version": ["1.0.0"] * n, "prediction": rng.integers(0, 2, n).tolist(),
        "actual": rng.integers(0, 2, n).tolist(), "confidence": rng.random(n).tolist(),
        "timestamp": [start + dt.timedelta(minutes=10 * i) for i in range(n)],
        "x": rng.normal(size=n).tolist() if x is None else x,
    }, schema_overrides={"x": pl.Float64}))
    assert summary.quarantined == 0


# ----------------------------------------------------------------------------- 1. names
@pytest.mark.parametrize("name", ["m\n", "m\r\n", "m\x00", "m\t", "\nm"])
def test_a_model_name_with_a_newline_or_control_character_is_refused(ws, name):
    # `$` with re.match also matched before a trailing newline: "m\n" was registered as a model,
    # a lookalike of "m" with its own partition directory model_name=m\n
    with pytest.raises(ValidationError) as err:
        ws.registry.register(name, "1.0.0")
    assert str(err.value) == (f"name={name!r}: expected 1-128 letters, digits, '-', '_' or '.',"
                              " starting with a letter or digit")
    assert is_valid_name(name) is False
    with pytest.raises(ValidationError, match=r"^model_name="):
        check_name(name)
    assert ws.registry.list_names() == []


def test_the_cli_refuses_a_model_name_with_a_trailing_newline(ws):
    result = cli(ws, "models", "register", "m\n", "1.0.0", code=1)
    assert one_error_line(result) == ("name='m\\n': expected 1-128 letters, digits, '-', '_' or '.',"
                                      " starting with a letter or digit")


def test_valid_names_still_pass_and_128_characters_is_the_limit():
    assert is_valid_name("n1-detector") and is_valid_name("a" * 128) and is_valid_name("v1.2_x")
    assert not is_valid_name("a" * 129) and not is_valid_name("../x") and not is_valid_name("")


def test_a_version_with_surrounding_whitespace_is_stored_in_its_canonical_form(ws):
    # Version.parse strips the text before a full match, so "1.0.0\n" cannot become a lookalike version
    assert str(Version.parse("1.0.0\n")) == "1.0.0"
    meta = ws.registry.register("m", "1.0.0\n")
    assert str(meta.version) == "1.0.0"
    assert [str(m.version) for m in ws.registry.get_all("m")] == ["1.0.0"]
    with pytest.raises(ValidationError, match=r"^prerelease='rc\.1\\n'"):
        Version(1, 0, 0, "rc.1\n")


# ----------------------------------------------------------------------------- 2. one-line errors
def test_a_version_part_beyond_what_the_registry_stores_is_a_one_line_error(ws):
    # the registry keeps major/minor/patch in DuckDB INTEGER (int32): this was a ConversionException traceback
    result = cli(ws, "models", "register", "x", "99999999999999999999999.0.0", code=1)
    assert one_error_line(result) == (
        "version='99999999999999999999999.0.0': major=99999999999999999999999 is too large; expected each of"
        " MAJOR, MINOR and PATCH <= 2147483647 (2**31 - 1, what the registry can store)")
    assert json.loads(cli(ws, "models", "list", "--json").stdout) == []


def test_the_largest_storable_version_part_registers_and_one_more_is_refused(ws):
    assert MAX_PART == 2**31 - 1
    top = ws.registry.register("m", f"1.{MAX_PART}.0")
    assert (top.version.minor, str(ws.registry.get("m", f"1.{MAX_PART}.0").version)) == (MAX_PART, f"1.{MAX_PART}.0")
    with pytest.raises(ValidationError, match=r"^version='1\.0\.2147483648': patch=2147483648 is too large"):
        ws.registry.register("m", "1.0.2147483648")
    with pytest.raises(ValidationError, match=r"^major=2147483648: expected an integer <= 2147483647"):
        Version(MAX_PART, 0, 0).bump("major")
    # more than 4300 digits: int() itself raises a plain ValueError; the bound is checked before it
    with pytest.raises(ValidationError, match=r"major=1111111111\d+ is too large"):
        Version.parse("1" * 5000 + ".0.0")


def test_monitor_compare_of_a_version_with_itself_is_a_one_line_error(ws):
    ws.registry.register("m", "1.0.0")
    # this was a polars DuplicateError traceback (two columns named 1.0.0)
    result = cli(ws, "monitor", "compare", "m", "1.0.0", "1.0.0", code=1)
    assert one_error_line(result) == ("version_a='1.0.0', version_b='1.0.0': the same version of m;"
                                      " expected two different versions")
    # build metadata does not make another version (semver 10)
    with pytest.raises(ValidationError, match=r"^version_a='1\.0\.0', version_b='1\.0\.0\+b\.1': the same version"):
        M.compare_versions(ws, "m", "1.0.0", "1.0.0+b.1", last="30d")


def test_tune_grid_on_a_model_without_a_detector_is_a_one_line_error(ws):
    ws.registry.register("m", "1.0.0")
    _log(ws)
    # this was a polars ColumnNotFoundError traceback ('unable to find column "duration_s"')
    result = cli(ws, "tune", "grid", "m", code=1)
    assert one_error_line(result) == (
        "model='m': no queue anomaly detector to tune: its prediction log has no duration_s, memory_mb, retries,"
        " queue_depth, job_type column(s); expected a model that logs the detector's inputs, such as queue-anomaly"
        " (`mlmm tune threshold` tunes the threshold of any model)")
    assert TU.history(ws).is_empty()


def test_tune_grid_names_a_configuration_that_is_not_a_detectors(ws):
    ws.registry.register("m", "1.0.0", config={"threshold": 1.5})
    _log(ws)
    with pytest.raises(ValidationError) as err:
        TU.grid_search_detector(ws, "m")
    assert str(err.value) == (
        "model='m' version='1.0.0': its configuration does not describe a queue anomaly detector"
        " (threshold=1.5: expected a confidence in [0, 1)); expected a model such as queue-anomaly")


# ----------------------------------------------------------------------------- 3. --daily
@pytest.mark.parametrize("daily", ["0", "-5", "nan", "inf"])
def test_ab_sample_size_refuses_a_daily_traffic_that_is_not_positive_and_finite(daily):
    # --daily 0 was taken for "not given" and the command succeeded without the days
    result = runner.invoke(app, ["ab", "sample-size", "--baseline", "0.8", "--mde", "0.02", "--daily", daily])
    assert result.exit_code == 1, result.output
    assert one_error_line(result) == f"--daily={float(daily)!r}: expected a finite number > 0 of eligible predictions per day"


def test_ab_sample_size_with_a_small_positive_daily_traffic_gives_the_days():
    result = runner.invoke(app, ["ab", "sample-size", "--baseline", "0.8", "--mde", "0.02", "--daily", "0.5", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert (out["n_a"], out["total"], out["days"]) == (6039, 12078, 24156)


# ----------------------------------------------------------------------------- 4. drift: insufficient data
def test_drift_check_of_an_empty_current_window_is_insufficient_data_and_records_nothing(ws):
    ws.registry.register("m", "1.0.0")
    _log(ws)
    ref = F.set_reference(ws, "m", window="2026-03-01..2026-03-02")
    # this said "no dataset drift: 0 of 1 columns drifted", exit 0, and recorded the check
    result = cli(ws, "drift", "check", "m", "--current", "2026-04-01..2026-04-02", code=1)
    assert one_error_line(result) == (
        "insufficient data: the current window 2026-04-01 00:00 to 2026-04-02 00:00 UTC has no predictions of m;"
        f" expected at least one to compare with {ref.reference_id}")
    with pytest.raises(ValidationError) as err:
        F.check(ws, "m", "1.0.0", current="last=24h", until="2026-05-01T00:00:00Z")
    assert str(err.value) == (
        "insufficient data: the current window last 24h (2026-04-30 00:00 to 2026-05-01 00:00 UTC) has no"
        f" predictions of m 1.0.0; expected at least one to compare with {ref.reference_id}")
    assert F.history(ws, "m").is_empty()
    assert json.loads(cli(ws, "drift", "history", "m", "--json").stdout) == []
    # a window with data still gives a verdict and is recorded
    ok = F.check(ws, "m", current="2026-03-02..2026-03-03")
    assert ok.report.n_tested == 1 and F.history(ws, "m").height == 1


def test_drift_check_against_an_empty_reference_window_is_insufficient_data(ws):
    ws.registry.register("m", "1.0.0")
    _log(ws)
    result = cli(ws, "drift", "check", "m", "--current", "2026-03-02..2026-03-03",
                 "--reference", "2026-02-01..2026-02-02", code=1)
    assert one_error_line(result) == (
        "insufficient data: the reference log 2026-02-01 00:00 to 2026-02-02 00:00 UTC has no predictions of m;"
        " expected a reference window with data")
    # "previous" before the first day of the log is empty too
    with pytest.raises(ValidationError) as err:
        F.check(ws, "m", current="2026-03-01..2026-03-02", reference="previous")
    assert str(err.value) == (
        "insufficient data: the reference log the 1d before (2026-02-28 00:00 to 2026-03-01 00:00 UTC) has no"
        " predictions of m; expected a reference window with data")
    assert F.history(ws, "m").is_empty()


def test_drift_check_where_no_column_has_values_is_insufficient_data(ws):
    ws.registry.register("m", "1.0.0")
    _log(ws, 200)
    _log(ws, 100, x=[None] * 100, start=T0 + dt.timedelta(days=2))
    F.set_reference(ws, "m", window="2026-03-01..2026-03-02")
    with pytest.raises(ValidationError) as err:
        F.check(ws, "m", current="2026-03-03..2026-03-04")
    assert str(err.value) == (
        "insufficient data: none of the 1 column(s) could be tested in the current window 2026-03-03 00:00 to"
        f" 2026-03-04 00:00 UTC against {F.get_reference(ws, 'm').reference_id}"
        " (x: no non-missing values in the current window); expected at least one column with values on both sides")
    assert F.history(ws, "m").is_empty()
