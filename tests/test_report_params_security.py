"""Report parameters never run code: the CLI parses ``-p`` values safely, only plain data
reaches Papermill (from the CLI, the Python API and scheduled jobs), and what Papermill
would inject is read back before the notebook runs.

Papermill writes parameters into the notebook as Python source. It writes a str with
escapes, but a value of another type (bytes, a tuple, a set, an object) as its ``repr``
between double quotes, so ``b'"+code+"'`` ends the string and runs ``code``. Every trick
below tries to create ``MARK``, a file that must never appear.
"""

from __future__ import annotations

import ast
import datetime as dt
import json
from pathlib import Path
from typing import Any

import nbformat
import papermill
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from papermill.translators import PythonTranslator
from typer.testing import CliRunner

import mlmm
from mlmm import config as C
from mlmm import reports as R
from mlmm.cli import app
from mlmm.cli.report import _value
from mlmm.reports import execute as RX
from mlmm.reports import params as RP
from mlmm.reports import schedule as S

PLAIN = r"expected a str, int, float, bool, None, or a list or dict \(str keys\) of those"
TOUCH = '__import__("pathlib").Path("MARK").touch()'

# text as typed after `-p value`, and what the notebook must receive; MARK is the marker file
TRICKS: dict[str, tuple[str, Any]] = {
    "bytes literal": (f"b'\"+str({TOUCH})+\"'", "same text"),
    "f-string": ("f\"{__import__('pathlib').Path('MARK').touch()}\"", "same text"),
    "triple single quotes": (f"'''+str({TOUCH})+'''", f"+str({TOUCH})+"),  # a quoted string: its content
    "triple double quotes": (f'"""+str({TOUCH})+"""', f"+str({TOUCH})+"),  # a quoted string: its content
    "double quote breakout": (f'"+str({TOUCH})+"', "same text"),
    "single quote breakout": (f"'+str({TOUCH})+'", f"+str({TOUCH})+"),  # a quoted string: its content
    "backslash at the end": ("C:\\temp\\", "same text"),
    "backslash before a quote": (f'\\"+str({TOUCH})+"\\', "same text"),
    "newline": (f'x"\n{TOUCH}\n"', "same text"),
    "carriage return": (f'x"\r{TOUCH}\r"', "same text"),
    "line separator U+2028": (f'x"\u2028{TOUCH}\u2028"', "same text"),
    "NUL": (f'x\x00"+str({TOUCH})+"', "same text"),
    "comment then code": (f'# "\n{TOUCH}', "same text"),
    "__import__ text": (TOUCH, "same text"),
    "dict with a non-str key": ('{1: "MARK"}', "same text"),
    "dict key with quotes": ("{\"k'\\\"\": 'v', 'x\"+y': [1, None]}", {"k'\"": "v", 'x"+y': [1, None]}),
    "list of quote tricks": ("[\"'''\", '\"\"\"', '\\\\']", ["'''", '"""', "\\"]),
    "tuple": ('("MARK", 1)', "same text"),
    "set": ('{"MARK", 1}', "same text"),
    "nested list with bytes": (f"[1, [b'\"+str({TOUCH})+\"']]", "same text"),
    "nan": ("float('nan')", "same text"),
    "infinity": ("1e999", "same text"),
    "complex": ("1j", "same text"),
    "Ellipsis": ("...", "same text"),
    "number": ("-0.5", -0.5),
}

# values given to mlmm.reports.run(parameters=...) that must be refused before anything runs
REFUSED: dict[str, tuple[Any, str]] = {
    "bytes": (f'"+str({TOUCH})+"'.encode(), rf"^parameter value=b'.*': {PLAIN}, got bytes$"),
    "bytearray": (bytearray(b"x"), rf"^parameter value=bytearray\(b'x'\): {PLAIN}, got bytearray$"),
    "tuple": ((f'"+str({TOUCH})+"',), rf"^parameter value=\(.*,\): {PLAIN}, got tuple$"),
    "set": ({"a", "b"}, rf"^parameter value={{.*}}: {PLAIN}, got set$"),
    "frozenset": (frozenset({1}), rf"^parameter value=frozenset\(\{{1\}}\): {PLAIN}, got frozenset$"),
    "non-str dict key": ({1: "a"}, r"^parameter value={1: 'a'}: value has the key 1 of type int; expected str keys$"),
    "bytes dict key": ({b"k": 1}, r"^parameter value={b'k': 1}: value has the key b'k' of type bytes; expected str keys$"),
    "nested bytes": ([1, [f'"+str({TOUCH})+"'.encode()]], rf"^parameter value=\[1, \[b'.*'\]\]: value\[1\]\[0\] is bytes; {PLAIN}$"),
    "tuple in a dict": ({"k": (1, 2)}, rf"^parameter value={{'k': \(1, 2\)}}: value\['k'\] is tuple; {PLAIN}$"),
    "complex": (1j, rf"^parameter value=1j: {PLAIN}, got complex$"),
    "Ellipsis": (..., rf"^parameter value=Ellipsis: {PLAIN}, got ellipsis$"),
    "nan": (float("nan"), r"^parameter value=nan: expected a finite number$"),
    "inf": (float("inf"), r"^parameter value=inf: expected a finite number$"),
    "-inf in a list": ([1.0, float("-inf")], r"^parameter value=\[1.0, -inf\]: value\[1\]=-inf; expected a finite number$"),
    "object": (object(), rf"^parameter value=<object object at 0x[0-9a-f]+>: {PLAIN}, got object$"),
    "date": (dt.date(2026, 1, 1), rf"^parameter value=datetime.date\(2026, 1, 1\): {PLAIN}, got date \(quote a date"),
    # a notebook is a UTF-8 file: a lone surrogate (from an undecodable command-line byte) cannot be stored
    "lone surrogate": (f'\ud800"+str({TOUCH})+"', r"^parameter value='\\ud800.*': expected text UTF-8 can encode,"
                                                  r" got the lone surrogate '\\ud800' at index 0$"),
    "surrogate in a key": ({"a\udcff": 1}, r"^parameter value={'a\\udcff': 1}: value key 'a\\udcff' holds the lone"
                                           r" surrogate '\\udcff' at index 1; expected text UTF-8 can encode$"),
    "str subclass": (type("Evil", (str,), {})("x"), rf"^parameter value='x': {PLAIN}, got Evil$"),
    "int subclass": (type("Evil", (int,), {})(1), rf"^parameter value=1: {PLAIN}, got Evil$"),
}

ECHO = "import mlmm\nmlmm.reports.record('none', 'echo', figures={'text': repr(text), 'value': repr(value)})\n"


def _notebook(path: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('text = "x"  # a str\nvalue = None  # any plain value')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(ECHO)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def _mark(value: Any, marker: Path) -> Any:
    """``value`` with MARK replaced by the marker file's path, inside bytes, lists, tuples, dicts too."""
    kind = type(value)
    if kind is str:
        return value.replace("MARK", str(marker))
    if kind is bytes:
        return value.replace(b"MARK", str(marker).encode())
    if kind in (list, tuple):
        return kind(_mark(v, marker) for v in value)
    if kind is dict:
        return {_mark(k, marker): _mark(v, marker) for k, v in value.items()}
    return value


@pytest.fixture(scope="module")
def place(tmp_path_factory):
    root = tmp_path_factory.mktemp("params")
    return {"root": root, "nb": _notebook(root / "echo.ipynb"), "ws": str(root / "ws")}


@pytest.fixture
def marker(tmp_path):
    """The file every trick tries to create: one per test, so one that gets through fails alone."""
    return tmp_path / "MARKER"


@pytest.fixture
def in_process(monkeypatch):
    """Papermill injects the parameters for real (``prepare_only``), then the cells run here
    with ``exec`` instead of in a kernel: what a kernel would run, in a fraction of the time."""
    real = papermill.execute_notebook

    def execute(input_path, output_path, parameters=None, **kw):
        nb = real(input_path, output_path, parameters=parameters, kernel_name=kw["kernel_name"], prepare_only=True,
                  progress_bar=False)
        namespace: dict[str, Any] = {"__name__": "__main__"}
        for cell in nb.cells:
            if cell.cell_type == "code":
                exec(compile(cell.source, "<cell>", "exec"), namespace)  # what the kernel would do
        return nb

    monkeypatch.setattr(papermill, "execute_notebook", execute)
    monkeypatch.setattr(RX, "_html", lambda nb, target, show_code: Path(target).write_text(""))


def _cli(place: dict[str, Any], *params: str) -> Any:
    args = ["report", "run", str(place["nb"]), "-o", str(place["root"] / "reports"), "-w", place["ws"]]
    for name, value in zip(params[::2], params[1::2], strict=True):
        args += ["-p", name, value]
    return CliRunner().invoke(app, args)


@pytest.mark.parametrize(("text", "expected"), [
    ("42", 42), ("-0.5", -0.5), ("1_000", 1000), ("'24h'", "24h"), ('"7d"', "7d"), ("24h", "24h"),
    ("True", True), ("false", False), ("NONE", None), ("None", None), ("[1, 'a', None]", [1, "a", None]),
    ("{'a': [1.5, {'b': True}]}", {"a": [1.5, {"b": True}]}),
    # literals of types that are not plain data stay the text they were typed as
    ("b'x'", "b'x'"), ("(1, 2)", "(1, 2)"), ("{1, 2}", "{1, 2}"), ("{1: 'a'}", "{1: 'a'}"), ("1j", "1j"),
    ("...", "..."), ("1e999", "1e999"), ("-1e999", "-1e999"), ("[1, b'x']", "[1, b'x']"), ("{'k': (1,)}", "{'k': (1,)}"),
    ("{[1]: 2}", "{[1]: 2}"), ("f'{1}'", "f'{1}'"), ("float('nan')", "float('nan')"), ("1" * 5000, "1" * 5000),
    ("[" * 300 + "]" * 300, "[" * 300 + "]" * 300), ("x\\", "x\\"), ("", ""),
])
def test_cli_values_parse_to_plain_data_or_stay_text(text, expected):
    value = _value(text)
    assert value == expected and type(value) is type(expected)


def _latest(place: dict[str, Any]) -> dict[str, Any]:
    """The newest report run's result.json."""
    ws = mlmm.open_workspace(place["ws"])
    try:
        path = R.runs(ws).row(0, named=True)["path"]
    finally:
        ws.close()
    return json.loads((Path(path) / "result.json").read_text())


def test_a_bytes_literal_from_the_cli_runs_no_code_in_a_real_kernel(place, marker):
    """The report that matters: before the fix ``-p value "b'...'"`` became bytes, which
    Papermill wrote as ``value = "b'"+code+"'"``, and the kernel ran ``code``."""
    text = _mark(TRICKS["bytes literal"][0], marker)
    newline = _mark(TRICKS["line separator U+2028"][0], marker)
    result = _cli(place, "value", text, "text", newline)
    assert result.exit_code == 0, result.output
    assert not marker.exists()
    ran = _latest(place)
    assert ran["status"] == "ok" and ran["figures"] == {"value": repr(text), "text": repr(newline)}


@pytest.mark.parametrize("case", list(TRICKS))
def test_quoting_tricks_through_the_cli_arrive_as_data(place, in_process, case, marker):
    text, expected = (_mark(x, marker) for x in TRICKS[case])
    expected = text if expected == "same text" else expected
    result = _cli(place, "value", text)
    assert result.exit_code == 0, result.output
    assert not marker.exists()
    ran = _latest(place)
    assert ran["status"] == "ok" and ran["figures"]["value"] == repr(expected)


@pytest.mark.parametrize("case", [c for c, (_, expected) in TRICKS.items() if expected == "same text"])
def test_quoting_tricks_through_the_python_api_arrive_as_data(place, in_process, case, marker):
    text = _mark(TRICKS[case][0], marker)
    ws = mlmm.open_workspace(place["ws"])
    try:
        out = R.run(place["nb"], {"text": text, "value": [text, {text: text}]}, ws=ws, output=place["root"] / "reports")
    finally:
        ws.close()
    assert not marker.exists()
    assert out.status == "ok" and out.figures == {"text": repr(text), "value": repr([text, {text: text}])}


@pytest.mark.parametrize("case", list(REFUSED))
@pytest.mark.parametrize("name", ["value", "text"])
def test_values_that_are_not_plain_data_are_refused_before_anything_runs(place, in_process, case, name, marker):
    value, message = _mark(REFUSED[case][0], marker), REFUSED[case][1]
    ws = mlmm.open_workspace(place["ws"])
    try:
        before = R.runs(ws).height
        with pytest.raises(mlmm.ValidationError, match=message.replace("parameter value", f"parameter {name}")
                           .replace(": value", f": {name}")):
            R.run(place["nb"], {name: value}, ws=ws, output=place["root"] / "reports")
        assert R.runs(ws).height == before  # refused, not a failed run
    finally:
        ws.close()
    assert not marker.exists()


def test_the_default_none_accepts_any_plain_value_and_only_those(place, in_process):
    ws = mlmm.open_workspace(place["ws"])
    try:
        for value in (None, 1, 2.5, True, "s", [1, "a", None], {"k": {"n": [False]}}):
            assert R.run(place["nb"], {"value": value}, ws=ws, output=place["root"] / "reports").figures["value"] == repr(value)
        with pytest.raises(mlmm.ValidationError, match=r"^parameter text=1: expected a str \(default 'x'\)$"):
            R.run(place["nb"], {"text": 1}, ws=ws, output=place["root"] / "reports")
    finally:
        ws.close()


def test_the_cli_reports_a_refused_value_on_one_line(place, in_process):
    # a literal of a plain type that is not the default's: the type check names it
    result = _cli(place, "text", "[1, 2]")
    assert result.exit_code == 1
    assert result.stderr == "error: parameter text=[1, 2]: expected a str (default 'x')\n"
    result = _cli(place, "not a name; import os", "1")
    assert result.exit_code == 1 and result.stderr.startswith("error: parameter 'not a name; import os' is not a parameter")


def test_an_escaping_bug_in_papermill_is_caught_before_the_notebook_runs(place, in_process, monkeypatch, marker):
    payload = _mark(f'"+str({TOUCH})+"', marker)
    ws = mlmm.open_workspace(place["ws"])
    try:
        with monkeypatch.context() as m:  # a translator that forgets to escape: the value does not read back
            m.setattr(PythonTranslator, "translate_str", classmethod(lambda cls, val: f'"{val}"'))
            with pytest.raises(mlmm.ValidationError, match=r"^parameter text='.*': Papermill would write it as"
                                                           r" '\"\"\+str\(.*which does not read back as the same value;"
                                                           r" not run$"):
                R.run(place["nb"], {"text": payload}, ws=ws, output=place["root"] / "reports")
        with monkeypatch.context() as m:  # an injected cell with more than assignments: the values read back, it does not
            m.setattr(PythonTranslator, "assign",
                      classmethod(lambda cls, name, val: f"{name} = {val}; {_mark(TOUCH, marker)}"))
            with pytest.raises(mlmm.ValidationError, match=r"^parameters of echo: Papermill would inject"
                                                           r" '__import__\(\"pathlib\"\).*' \(line 2\), expected only"
                                                           r" name = value for text; not run$"):
                R.run(place["nb"], {"text": "x"}, ws=ws, output=place["root"] / "reports")
    finally:
        ws.close()
    assert not marker.exists()


@pytest.mark.parametrize(("parameters", "message"), [
    ("{ until = 2026-01-01 }", rf"parameter until=datetime.date\(2026, 1, 1\): {PLAIN}, got date \(quote a date or time"
                               r" to pass it as text\)"),
    ("{ min_improvement = nan }", r"parameter min_improvement=nan: expected a finite number"),
    ("{ threshold = -inf }", r"parameter threshold=-inf: expected a finite number"),
    ('{ columns = ["a", 1979-05-27T07:32:00Z] }',
     rf"parameter columns=\['a', datetime.datetime\(1979, .*\)\]: columns\[1\] is datetime; {PLAIN}"
     r" \(quote a date or time to pass it as text\)"),
    ('{ "a b" = 1 }', r"parameter 'a b': expected a Python identifier as the name"),
    ('{ "x=1;import os;y" = 1 }', r"parameter 'x=1;import os;y': expected a Python identifier as the name"),
])
def test_a_scheduled_job_with_a_bad_parameter_is_named_when_the_config_loads(tmp_path, parameters, message):
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "mlmm.toml").write_text(f'[schedule.nap]\nevery = "1h"\nnotebook = "echo"\nfor_each = "none"\n'
                                  f"parameters = {parameters}\n")
    with pytest.raises(mlmm.ValidationError, match=rf"^\[schedule.nap\] {message}$"):
        C.load_config(ws)
    with pytest.raises(mlmm.ValidationError, match=rf"^\[schedule.nap\] {message}$"):
        S.jobs(mlmm.open_workspace(ws))
    for command in (["schedule", "list"], ["schedule", "run-due", "-o", str(tmp_path / "reports")]):
        result = CliRunner().invoke(app, [*command, "-w", str(ws)])
        assert result.exit_code == 1 and len(result.stderr.splitlines()) == 1
        assert ast.literal_eval(repr(result.stderr))  # one line, and it names the job and the parameter
        assert result.stderr.startswith("error: [schedule.nap] parameter ")
    assert not (tmp_path / "reports").exists()


def test_plain_scheduled_job_parameters_load(tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "mlmm.toml").write_text('[schedule.nap]\nevery = "1h"\nnotebook = "echo"\nfor_each = "none"\n'
                                  'parameters = { text = "b\'x\'", value = [1, 2.5, true, { k = "v" }] }\n')
    [job] = [j for j in S.jobs(mlmm.open_workspace(ws)) if j.name == "nap"]
    assert job.parameters == {"text": "b'x'", "value": [1, 2.5, True, {"k": "v"}]}


PLAIN_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(codec="utf-8")),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(st.characters(codec="utf-8"), max_size=5), inner, max_size=4),
    max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(PLAIN_VALUES)
def test_every_accepted_value_reads_back_from_papermills_rendering(value):
    R.check_parameter("value", value)
    code = PythonTranslator.translate(value)
    assert RP._same(ast.literal_eval(code), value)


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(codec="utf-8")) | st.from_regex(r"[bfru]?['\"].*['\"]|[\[{(].*[\]})]"))
def test_any_cli_text_becomes_plain_data_or_stays_text(text):
    value = _value(text)
    R.check_parameter("value", value)
    if value != text and text.strip().lower() not in ("true", "false", "none"):
        assert RP._same(value, ast.literal_eval(text))
