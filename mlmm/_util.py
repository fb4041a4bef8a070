"""Small helpers shared by the modules: time, names, actors, atomic files, JSON-ready values."""

from __future__ import annotations

import contextlib
import datetime as _dt
import getpass
import json
import math
import os
import re
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import StorageError, ValidationError

UTC = _dt.UTC

# used with fullmatch: "$" with match() also matches before a trailing newline, so "m\n" got through
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d|w)\s*$")
_DURATION_UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}


def now() -> _dt.datetime:
    """The current time as an aware UTC datetime (microseconds)."""
    return _dt.datetime.now(UTC)


def to_utc(value: Any, field: str = "timestamp") -> _dt.datetime:
    """Turn a datetime, date, ISO string or epoch seconds into an aware UTC datetime.

    Naive datetimes are taken to be UTC.

    >>> to_utc("2026-01-02T03:04:05Z")
    datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    >>> to_utc("yesterday")
    Traceback (most recent call last):
    ...
    mlmm.errors.ValidationError: timestamp='yesterday': expected an ISO-8601 time, a datetime or epoch seconds
    """
    if isinstance(value, _dt.datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, _dt.date):
        return _dt.datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _dt.datetime.fromtimestamp(float(value), UTC)
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            parsed = _dt.datetime.fromisoformat(text)
        except ValueError:
            pass
        else:
            return to_utc(parsed, field)
    raise ValidationError(f"{field}={value!r}: expected an ISO-8601 time, a datetime or epoch seconds")


def naive_utc(value: _dt.datetime) -> _dt.datetime:
    """An aware datetime as naive UTC, the form DuckDB TIMESTAMP columns store."""
    return value.astimezone(UTC).replace(tzinfo=None)


def parse_duration(value: str | int | float | _dt.timedelta, field: str = "duration") -> _dt.timedelta:
    """Parse ``"30d"``, ``"24h"``, ``"15m"``, ``"90s"``, ``"2w"`` or seconds into a timedelta.

    >>> parse_duration("24h")
    datetime.timedelta(days=1)
    >>> parse_duration("30d").days
    30
    >>> parse_duration("soon")
    Traceback (most recent call last):
    ...
    mlmm.errors.ValidationError: duration='soon': expected a number with a unit s, m, h, d or w (e.g. '24h', '30d')
    """
    if isinstance(value, _dt.timedelta):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _dt.timedelta(seconds=float(value))
    match = _DURATION_RE.match(str(value))
    if not match:
        raise ValidationError(
            f"{field}={value!r}: expected a number with a unit s, m, h, d or w (e.g. '24h', '30d')"
        )
    return _dt.timedelta(seconds=float(match.group(1)) * _DURATION_UNITS[match.group(2)])


def format_duration(value: _dt.timedelta) -> str:
    """A timedelta in the largest unit that divides it, as :func:`parse_duration` reads it.

    >>> format_duration(_dt.timedelta(days=1)), format_duration(_dt.timedelta(hours=36))
    ('1d', '36h')
    >>> format_duration(_dt.timedelta(seconds=90)), format_duration(_dt.timedelta(seconds=1.5))
    ('90s', '1.5s')
    """
    seconds = value.total_seconds()
    for unit in ("w", "d", "h", "m"):
        size = _DURATION_UNITS[unit]
        if seconds and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def check_name(name: Any, field: str = "model_name") -> str:
    """Validate a model name: letters, digits, ``-``, ``_``, ``.``; at most 128 characters.

    Names become directory names in the prediction log, so anything that could
    escape the directory (``..``, ``/``) is refused.

    >>> check_name("n1-detector")
    'n1-detector'
    >>> check_name("../x")
    Traceback (most recent call last):
    ...
    mlmm.errors.ValidationError: model_name='../x': expected 1-128 letters, digits, '-', '_' or '.', starting with a letter or digit
    """
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name) or ".." in name:
        raise ValidationError(
            f"{field}={name!r}: expected 1-128 letters, digits, '-', '_' or '.', starting with a letter or digit"
        )
    return name


def is_valid_name(name: Any) -> bool:
    return isinstance(name, str) and bool(_NAME_RE.fullmatch(name)) and ".." not in name


def current_actor(actor: str | None = None) -> str:
    """Who is acting: the explicit ``actor``, else ``MLMM_USER``, else the OS user."""
    if actor:
        return actor
    env = os.environ.get("MLMM_USER")
    if env:
        return env
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry in some containers
        return "unknown"


def new_id() -> str:
    return uuid.uuid4().hex


_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)


def _create_temp(folder: Path, name: str) -> tuple[int, Path]:
    """A new hidden ``.<name>.<random>.tmp`` beside the target, created with mode 0o666 so
    that the process umask (or the folder's default ACL) decides who may read it, as for any
    file the user creates: group-readable under the usual 0o022 / 0o002. ``tempfile.mkstemp``
    would make it 0o600, unreadable to the teammates sharing the workspace."""
    for _ in range(100):
        tmp = folder / f".{name}.{uuid.uuid4().hex[:12]}.tmp"
        try:
            return os.open(tmp, _CREATE_FLAGS, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"{folder}: no free temporary name for {name}")


def atomic_write_bytes(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never a part.

    The file gets the mode ``0o666 & ~umask`` (``0o644`` under the usual umask, ``0o664``
    under ``0o002``), like any file the user creates. With ``durable`` the data and the
    directory entry are fsynced before returning. An OS error (no permission, read-only or
    full file system) raises :class:`~mlmm.errors.StorageError` naming ``path``; the old file,
    if any, is left as it was and no temporary file remains.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     atomic_write_bytes(Path(tmp) / "a.txt", b"hello")
    ...     print((Path(tmp) / "a.txt").read_bytes(), [p.name for p in Path(tmp).iterdir()])
    b'hello' ['a.txt']
    """
    path = Path(path)
    tmp: Path | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = _create_temp(path.parent, path.name)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        if tmp is not None:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
        raise StorageError.from_os_error(exc, path, action="write") from exc
    except BaseException:
        if tmp is not None:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
        raise
    if durable:
        fsync_dir(path.parent)


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_bytes(path, json.dumps(obj, indent=2, sort_keys=True, default=str).encode())


def fsync_dir(path: Path) -> None:
    """Make the renames and new files in the directory ``path`` durable; best effort (some
    file systems cannot fsync a directory, and a read-only one has nothing to flush)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def json_dumps(obj: Mapping[str, Any] | list | None) -> str:
    return json.dumps(obj if obj is not None else {}, sort_keys=True, default=str)


def parse_scalar(text: str) -> Any:
    """Parse a CLI ``k=v`` value: JSON when it parses (numbers, true/false, lists), else the string.

    >>> parse_scalar("0.7"), parse_scalar("true"), parse_scalar("abc"), parse_scalar("[1, 2]")
    (0.7, True, 'abc', [1, 2])
    """
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_assignments(items: list[str] | tuple[str, ...], field: str = "config") -> dict[str, Any]:
    """Parse ``["threshold=0.7", "window_size=100"]`` into a dict (values via :func:`parse_scalar`)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValidationError(f"{field}={item!r}: expected KEY=VALUE")
        out[key.strip()] = parse_scalar(value.strip())
    return out


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON-ready Python: numpy scalars and arrays unwrapped, non-finite floats as None.

    Booleans (Python or numpy) become ``bool``, integers ``int``, finite floats ``float`` and
    ``nan`` / ``inf`` become ``None`` (JSON has no such numbers); lists, tuples and arrays
    become lists and dicts get string keys, recursively. Anything else (strings, None,
    datetimes) is returned as it is. The result dataclasses' ``to_dict()`` use it.

    Parameters
    ----------
    value : Any
        A number, a numpy scalar or array, or a list, tuple or dict of them.

    Returns
    -------
    Any
        The same value made of ``bool``, ``int``, ``float``, ``None``, ``list`` and ``dict``.

    Examples
    --------
    >>> import numpy as np
    >>> jsonable({"n": np.int64(3), "p": np.float64("nan"), "ok": np.bool_(True), "ci": (0.1, np.inf)})
    {'n': 3, 'p': None, 'ok': True, 'ci': [0.1, None]}
    >>> jsonable(np.array([1.5, 2.0]))
    [1.5, 2.0]
    """
    import numpy as np  # here, not at the top: the CLI imports this module and starts without numpy

    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, (list, tuple, np.ndarray)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    return value
