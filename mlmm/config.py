"""Workspace configuration: ``mlmm.toml`` in the workspace, overridden by environment variables.

Defaults come from the seeds (000, 001: the scheduler jobs; 002: the retraining triggers).
A workspace may hold an ``mlmm.toml``::

    [schedule.degradation]
    every = "15m"            # how often the job is due (5m, 1h, 1d, ...)
    enabled = true
    auto_apply = false       # perform the decisions the job's reports reach (deploy, roll back, ...)
    parameters = { window = "24h" }   # passed to the job's notebook: str, int, float, bool, arrays, tables

    [retraining]
    max_age = "7d"           # seed 002 retraining_schedule_days
    command = "./retrain.sh" # run on an applied "retrain requested" (MLMM_MODEL etc. in its environment)

Environment variables win over the file (the seed's style, e.g. ``AUTO_TUNING_ENABLED=true``):

=================================== ====================================================
variable                            sets
=================================== ====================================================
``MLMM_SCHEDULE_<JOB>_EVERY``       ``[schedule.<job>] every`` (JOB upper case, ``-`` as ``_``)
``MLMM_SCHEDULE_<JOB>_ENABLED``     ``[schedule.<job>] enabled``
``MLMM_SCHEDULE_<JOB>_AUTO_APPLY``  ``[schedule.<job>] auto_apply``
``AUTO_TUNING_ENABLED``             ``[schedule.tuning] enabled`` (seed 001)
``MLMM_RETRAIN_<KEY>``              ``[retraining] <key>`` (e.g. ``MLMM_RETRAIN_MAX_AGE=14d``)
=================================== ====================================================
"""

from __future__ import annotations

import copy
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._util import parse_duration
from .errors import StorageError, ValidationError
from .reports import check_parameter

if TYPE_CHECKING:
    from .workspace import Workspace

__all__ = ["CONFIG_FILE", "DEFAULT_JOBS", "config_sources", "load_config"]

CONFIG_FILE = "mlmm.toml"

# seed 001 "Monitoring Schedule Configuration" and seed 000 "Scheduler Integration"
DEFAULT_JOBS: dict[str, dict[str, Any]] = {
    "performance": {"every": "5m", "task": "alerts", "auto_apply": False, "enabled": True,
                    "description": "alert rules (accuracy floor, drift, silence, ...) for production models"},
    "degradation": {"every": "15m", "notebook": "monitoring_report", "for_each": "production_model",
                    "parameters": {"window": "24h"}, "auto_apply": False, "enabled": True,
                    "description": "monitoring report per production model: degradation, retraining triggers"},
    "ab-evaluation": {"every": "1h", "notebook": "ab_test_report", "for_each": "running_test",
                      "parameters": {}, "auto_apply": False, "enabled": True,
                      "description": "A/B report per running test"},
    "drift": {"every": "1d", "notebook": "drift_report", "for_each": "production_model",
              "parameters": {"current": "24h"}, "auto_apply": False, "enabled": True,
              "description": "feature drift report per production model (seed 000: daily)"},
    # seed 001: "Auto-apply only if improvement > 5%"; the issue runs tuning daily
    "tuning": {"every": "1d", "notebook": "tuning_report", "for_each": "tunable_model",
               "parameters": {"min_improvement": 0.05, "grid_search": False}, "auto_apply": True, "enabled": True,
               "description": "threshold tuning per production model with a threshold"},
    "cleanup": {"every": "1d", "task": "cleanup", "auto_apply": False, "enabled": True,
                "description": "prediction log retention and compaction"},
}
_JOB_KEYS = {"every", "enabled", "auto_apply", "parameters", "notebook", "task", "for_each", "description"}
_FOR_EACH = ("production_model", "tunable_model", "running_test", "none")
_TASKS = ("alerts", "cleanup")


def _retraining_defaults() -> dict[str, Any]:
    from .decisions import RETRAINING_DEFAULTS

    return dict(RETRAINING_DEFAULTS)


def _bool(value: Any, field: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValidationError(f"{field}={value!r}: expected true or false")


def _env_key(job: str) -> str:
    return job.upper().replace("-", "_")


def _read(file: Path) -> str | None:
    """The text of ``mlmm.toml``, None when there is none; a file this user cannot read (a
    teammate's, mode 0600) raises :class:`~mlmm.errors.StorageError` naming it."""
    try:
        return file.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        return None
    except UnicodeDecodeError as exc:
        raise ValidationError(f"{file}: not UTF-8 text ({exc.reason} at byte {exc.start}); expected a TOML file") from None
    except OSError as exc:
        raise StorageError.from_os_error(exc, file, action="read") from None


def config_sources(path: str | Path, environ: Mapping[str, str] | None = None) -> tuple[dict[str, Any], dict[str, str]]:
    """The effective configuration of the workspace at ``path`` and, per ``section.key``,
    where it came from (``default``, ``mlmm.toml`` or the environment variable's name)."""
    env = os.environ if environ is None else environ
    conf: dict[str, Any] = {"schedule": copy.deepcopy(DEFAULT_JOBS), "retraining": _retraining_defaults()}
    source: dict[str, str] = {}
    file = Path(path) / CONFIG_FILE
    text = _read(file)
    if text is not None:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ValidationError(f"{file}: not valid TOML ({exc})") from exc
        unknown = set(data) - {"schedule", "retraining"}
        if unknown:
            raise ValidationError(f"{file}: unknown section(s) {', '.join(sorted(unknown))}; expected schedule, retraining")
        for job, values in data.get("schedule", {}).items():
            if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,39}", job):
                raise ValidationError(f"{file}: [schedule.{job!r}]: expected a job name of lowercase letters, digits,"
                                      " '-' or '_' (at most 40)")
            if not isinstance(values, dict):
                raise ValidationError(f"{file}: [schedule.{job}] must be a table")
            bad = set(values) - _JOB_KEYS
            if bad:
                raise ValidationError(f"{file}: [schedule.{job}] unknown key(s) {', '.join(sorted(bad))};"
                                      f" expected {', '.join(sorted(_JOB_KEYS))}")
            target = conf["schedule"].setdefault(job, {"auto_apply": False, "enabled": True, "parameters": {}})
            for key, value in values.items():
                target[key] = value
                source[f"schedule.{job}.{key}"] = CONFIG_FILE
        retraining = data.get("retraining", {})
        bad = set(retraining) - set(conf["retraining"])
        if bad:
            raise ValidationError(f"{file}: [retraining] unknown key(s) {', '.join(sorted(bad))};"
                                  f" expected {', '.join(sorted(conf['retraining']))}")
        for key, value in retraining.items():
            conf["retraining"][key] = value
            source[f"retraining.{key}"] = CONFIG_FILE
    for job, values in conf["schedule"].items():
        for key in ("every", "enabled", "auto_apply"):
            name = f"MLMM_SCHEDULE_{_env_key(job)}_{key.upper()}"
            if name in env:
                values[key] = env[name]
                source[f"schedule.{job}.{key}"] = name
    if "AUTO_TUNING_ENABLED" in env and "tuning" in conf["schedule"]:
        conf["schedule"]["tuning"]["enabled"] = env["AUTO_TUNING_ENABLED"]
        source["schedule.tuning.enabled"] = "AUTO_TUNING_ENABLED"
    for key in list(conf["retraining"]):
        name = f"MLMM_RETRAIN_{key.upper()}"
        if name in env:
            conf["retraining"][key] = env[name]
            source[f"retraining.{key}"] = name
    _validate(conf, file, source)
    return conf, source


def _number(value: Any, field: str, *, kind: type, low: float, high: float | None = None) -> Any:
    try:
        if isinstance(value, bool):
            raise ValueError
        number = kind(str(value).replace("_", "")) if isinstance(value, str) else kind(value)
        if kind is int and isinstance(value, float) and not value.is_integer():
            raise ValueError
    except (TypeError, ValueError):
        number = None
    if number is None or number < low or (high is not None and number > high):
        span = f"in [{low}, {high}]" if high is not None else f">= {low}"
        raise ValidationError(f"{field}={value!r}: expected {'a whole number' if kind is int else 'a number'} {span}")
    return number


def _validate(conf: dict[str, Any], file: Path, source: Mapping[str, str] | None = None) -> None:
    source = source or {}

    def where(section: str, key: str) -> str:
        origin = source.get(f"{section}.{key}")
        label = f"[{section}] {key}"
        return label + (f" (from {origin})" if origin and origin != CONFIG_FILE else "")

    r = conf["retraining"]
    r["min_labelled"] = _number(r["min_labelled"], where("retraining", "min_labelled"), kind=int, low=1)
    r["min_new_labels"] = _number(r["min_new_labels"], where("retraining", "min_new_labels"), kind=int, low=0)
    if r["accuracy_floor"] not in (None, "", "none", "None"):
        r["accuracy_floor"] = _number(r["accuracy_floor"], where("retraining", "accuracy_floor"), kind=float, low=0.0,
                                      high=1.0)
    else:
        r["accuracy_floor"] = None
    command = r.get("command")
    if command is not None and not (isinstance(command, str) or (isinstance(command, list)
                                                                  and all(isinstance(x, str) for x in command))):
        raise ValidationError(f"{where('retraining', 'command')}={command!r}: expected a command line or a list of strings")
    for key in ("max_age", "window", "drift_window", "cooldown"):
        parse_duration(r[key], where("retraining", key))
    for job, values in conf["schedule"].items():
        values["_where"] = {k: where(f"schedule.{job}", k) for k in ("every", "enabled", "auto_apply")}
    _validate_jobs(conf, file)


def _validate_jobs(conf: dict[str, Any], file: Path) -> None:
    for job, values in conf["schedule"].items():
        names = values.pop("_where")
        where = f"[schedule.{job}]"
        from .reports.schedule import parse_every  # here: schedule imports this module

        parse_every(values.get("every", ""), names["every"])
        values["enabled"] = _bool(values.get("enabled", True), names["enabled"])
        values["auto_apply"] = _bool(values.get("auto_apply", False), names["auto_apply"])
        values.setdefault("parameters", {})
        if not isinstance(values["parameters"], dict):
            raise ValidationError(f"{where} parameters={values['parameters']!r}: expected a table")
        for name, value in values["parameters"].items():  # plain data only: they become notebook code
            check_parameter(name, value, prefix=f"{where} ")
        has_nb, has_task = bool(values.get("notebook")), bool(values.get("task"))
        if has_nb == has_task:
            raise ValidationError(f"{where} in {file}: expected exactly one of notebook = \"...\" or task = \"...\"")
        if has_task and values["task"] not in _TASKS:
            raise ValidationError(f"{where} task={values['task']!r}: expected one of {', '.join(_TASKS)}")
        values.setdefault("for_each", "none" if has_task else "production_model")
        if values["for_each"] not in _FOR_EACH:
            raise ValidationError(f"{where} for_each={values['for_each']!r}: expected one of {', '.join(_FOR_EACH)}")


def load_config(ws: Workspace | str | Path) -> dict[str, Any]:
    """The effective configuration (defaults < ``mlmm.toml`` < environment), validated."""
    path = ws.path if hasattr(ws, "path") else Path(ws)
    return config_sources(path)[0]
