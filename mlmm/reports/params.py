"""Report parameters: which notebook, what it accepts, and the checks that keep a value plain data.

:func:`check_parameter` accepts plain data only (str, int, float, bool, None, and lists and
str-keyed dicts of those): Papermill writes parameters into the notebook as Python code, and
a value of any other type can come out as code rather than a literal. :func:`check_parameters`
compares the values with the notebook's ``parameters`` cell (``papermill.inspect_notebook``);
:func:`check_injection` renders the cell Papermill will inject and reads it back
(``ast.literal_eval``) as exactly the given values, one plain assignment each, else nothing runs.
"""

from __future__ import annotations

import ast
import datetime as _dt
import keyword
import math
import reprlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import NotFoundError, ValidationError

__all__ = ["PLAIN_TYPES", "check_injection", "check_parameter", "check_parameters", "notebook_parameters",
           "resolve_notebook"]

PLAIN_TYPES = "a str, int, float, bool, None, or a list or dict (str keys) of those"
_MAX_DEPTH = 20  # nesting of lists and dicts in one parameter value
_LITERAL_ERRORS = (ValueError, TypeError, SyntaxError, MemoryError, RecursionError)
_short = reprlib.Repr()
_short.maxstring, _short.maxother, _short.maxlist, _short.maxdict, _short.maxlevel = 80, 80, 8, 8, 3


def _notebooks_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "notebooks"


def resolve_notebook(notebook: str | Path) -> Path:
    """The report notebook's file: ``notebook`` as a path, else by name in the project's ``notebooks/``.

    Parameters
    ----------
    notebook : str or Path
        A path or a name (``"monitoring_report"``; ``.ipynb`` is added).

    Returns
    -------
    Path
        The resolved path.

    Raises
    ------
    NotFoundError
        No such notebook; the message lists the known ones.
    """
    path = Path(notebook)
    if path.suffix != ".ipynb":
        path = path.with_suffix(".ipynb")
    for candidate in (path, _notebooks_dir() / path.name):
        if candidate.exists():
            return candidate.resolve()
    known = sorted(p.stem for p in _notebooks_dir().glob("*.ipynb"))
    raise NotFoundError(f"notebook={str(notebook)!r}: no such notebook (known: {', '.join(known)})")


def notebook_parameters(notebook: str | Path) -> dict[str, dict[str, Any]]:
    """The notebook's parameters: name -> {default, type, help} from its ``parameters`` cell."""
    import papermill as pm

    out = {}
    for name, info in pm.inspect_notebook(str(resolve_notebook(notebook))).items():
        try:
            default = ast.literal_eval(info.get("default", "None"))
        except (ValueError, SyntaxError):
            default = None
        out[name] = {"default": default, "type": None if default is None else type(default).__name__,
                     "help": info.get("help", "")}
    return out


def _problem(value: Any, where: str, depth: int = 0) -> str | None:
    """What keeps ``value`` from being plain data, with where it is and what was expected; or None."""
    kind = type(value)
    if kind is str:
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:  # the notebook, result.json and index.html are UTF-8 files
            got = f"the lone surrogate {value[exc.start]!r} at index {exc.start}"
            return (f"expected text UTF-8 can encode, got {got}" if depth == 0
                    else f"{where} holds {got}; expected text UTF-8 can encode")
        return None
    if value is None or kind in (bool, int):  # exact types: a subclass may render itself as code
        return None
    if kind is float:
        if math.isfinite(value):
            return None
        return "expected a finite number" if depth == 0 else f"{where}={value!r}; expected a finite number"
    if kind in (list, dict) and depth >= _MAX_DEPTH:
        return f"{where} is nested deeper than {_MAX_DEPTH} levels; expected {PLAIN_TYPES}"
    if kind is list:
        for i, item in enumerate(value):
            found = _problem(item, f"{where}[{i}]", depth + 1)
            if found:
                return found
        return None
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str:
                return f"{where} has the key {_short.repr(key)} of type {type(key).__name__}; expected str keys"
            found = _problem(key, f"{where} key {_short.repr(key)}", depth + 1)
            if found:
                return found
            found = _problem(item, f"{where}[{key!r}]", depth + 1)
            if found:
                return found
        return None
    hint = " (quote a date or time to pass it as text)" if isinstance(value, (_dt.date, _dt.time)) else ""
    if depth == 0:
        return f"expected {PLAIN_TYPES}, got {kind.__name__}{hint}"
    return f"{where} is {kind.__name__}; expected {PLAIN_TYPES}{hint}"


def check_parameter(name: str, value: Any, *, prefix: str = "") -> None:
    """Raise unless ``name = value`` can be handed to a notebook as plain data.

    A report parameter is a str (that UTF-8 can encode: no lone surrogates), int, float
    (finite), bool or None, or a list or a dict with str keys of those, nested at most 20
    levels; its name is a Python identifier. Nothing else is accepted: Papermill writes
    parameters into the notebook as Python source, and it writes a value of another type
    (bytes, a tuple, a set, an object) as its ``repr`` between double quotes, which can end
    the string and run the rest as code. NaN and infinity are written as ``float('nan')``
    calls, not literals, and are refused too. Exact types: a subclass of str or int could
    render itself as anything.

    Parameters
    ----------
    name : str
        The parameter's name.
    value : Any
        Its value.
    prefix : str
        Put before the message, e.g. ``"[schedule.drift] "``.

    Raises
    ------
    ValidationError
        Naming the parameter, the value and what was expected.

    Examples
    --------
    >>> check_parameter("columns", ["a", {"b": None}])
    >>> check_parameter("until", b"2026")
    Traceback (most recent call last):
    ...
    mlmm.errors.ValidationError: parameter until=b'2026': expected a str, int, float, bool, None, or a list or dict (str keys) of those, got bytes
    >>> check_parameter("columns", ["a", float("nan")])
    Traceback (most recent call last):
    ...
    mlmm.errors.ValidationError: parameter columns=['a', nan]: columns[1]=nan; expected a finite number
    """
    if type(name) is not str or not name.isidentifier() or keyword.iskeyword(name):
        raise ValidationError(f"{prefix}parameter {_short.repr(name)}: expected a Python identifier as the name")
    found = _problem(value, name)
    if found is not None:
        raise ValidationError(f"{prefix}parameter {name}={_short.repr(value)}: {found}")


def check_parameters(notebook: Path, params: Mapping[str, Any]) -> None:
    """Raise unless every value in ``params`` is a parameter of ``notebook`` of the default's type.

    Each value must also pass :func:`check_parameter`, also where the default is ``None``.
    An int is accepted where the default is a float.

    Parameters
    ----------
    notebook : Path
        The notebook (see :func:`resolve_notebook`).
    params : Mapping[str, Any]
        The parameters given for the run.

    Raises
    ------
    ValidationError
        An unknown name (the message lists what the notebook accepts), or a value of another type.
    """
    accepted = notebook_parameters(notebook)
    listing = "; ".join(f"{k} ({v['type'] or 'any'}, default {v['default']!r})" for k, v in accepted.items())
    for name, value in params.items():
        if name not in accepted:
            raise ValidationError(f"parameter {name!r} is not a parameter of {notebook.stem}; expected one of: {listing}")
        check_parameter(name, value)  # also where the default is None: any plain value, nothing else
        kind = accepted[name]["type"]
        ok = (kind is None or value is None or type(value).__name__ == kind
              or (kind == "float" and isinstance(value, int) and not isinstance(value, bool)))
        if not ok:
            raise ValidationError(f"parameter {name}={_short.repr(value)}: expected a {kind}"
                                  f" (default {accepted[name]['default']!r})")


def _same(a: Any, b: Any) -> bool:
    """Equal and of the same types all the way down (``True == 1`` and ``1 == 1.0`` do not count)."""
    if type(a) is not type(b):
        return False
    if type(a) is list:
        return len(a) == len(b) and all(map(_same, a, b))
    if type(a) is dict:
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    return bool(a == b)


def check_injection(notebook: Path, params: Mapping[str, Any], kernel: str) -> None:
    """Render the parameters as Papermill will inject them and read the code back.

    Each value must come back from ``ast.literal_eval`` of Papermill's Python rendering as an
    equal value of the same types, and the whole injected cell must be nothing but one
    ``name = <literal>`` per parameter. :func:`check_parameter` already keeps out the types
    Papermill renders unsafely; this closes any escaping bug in Papermill itself (quotes,
    backslashes, line breaks, NUL, lone surrogates) before the notebook runs.

    Parameters
    ----------
    notebook : Path
        The notebook the parameters are for.
    params : Mapping[str, Any]
        The parameters, as they will be given to Papermill.
    kernel : str
        The kernel name the run will use (Papermill needs it to pick the language).

    Raises
    ------
    ValidationError
        A value that does not read back as itself, or an injected cell that is more than
        ``name = value`` assignments.
    """
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook
    from papermill.translators import PythonTranslator

    for name, value in params.items():
        try:
            code = PythonTranslator.translate(value)
        except Exception as exc:  # e.g. an int longer than Python's str conversion limit
            raise ValidationError(f"parameter {name}={_short.repr(value)}: Papermill cannot write it into the notebook"
                                  f" ({type(exc).__name__}: {exc}); expected {PLAIN_TYPES}") from None
        try:
            same = _same(ast.literal_eval(code), value)
        except _LITERAL_ERRORS:
            same = False
        if not same:
            raise ValidationError(f"parameter {name}={_short.repr(value)}: Papermill would write it as"
                                  f" {_short.repr(code)}, which does not read back as the same value; not run")
    try:
        nb = parameterize_notebook(load_notebook_node(str(notebook)), dict(params), kernel_name=kernel)
    except Exception:  # a notebook without a language: execute_notebook fails the same way, injecting nothing
        return
    code = next(c.source for c in nb.cells if "injected-parameters" in c.metadata.get("tags", []))
    try:
        body = ast.parse(code).body
    except _LITERAL_ERRORS as exc:
        raise ValidationError(f"parameters of {notebook.stem}: Papermill would inject code that does not parse"
                              f" ({exc}); not run") from None
    assigned: list[str] = []
    for node in body:
        name = (node.targets[0].id if isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name) else None)
        try:
            ok = name in params and name not in assigned and _same(ast.literal_eval(node.value), params[name])
        except _LITERAL_ERRORS:
            ok = False
        if not ok:
            line = _short.repr(ast.get_source_segment(code, node) or "")
            raise ValidationError(f"parameters of {notebook.stem}: Papermill would inject {line} (line {node.lineno}),"
                                  f" expected only name = value for {', '.join(params)}; not run")
        assigned.append(name)
    if sorted(assigned) != sorted(params):
        missing = ", ".join(sorted(set(params) - set(assigned)))
        raise ValidationError(f"parameters of {notebook.stem}: Papermill would not inject {missing}; not run")

