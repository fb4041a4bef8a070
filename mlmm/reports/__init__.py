"""Reports: parameterized notebooks run by Papermill, their offline HTML, the index and the schedule.

``mlmm.reports.run("monitoring_report", {"model": "n1-detector"})`` (or ``mlmm report run``)
runs a report; a report notebook ends with :func:`record`. The package's modules:

- :mod:`~mlmm.reports.execute`: :func:`run`, one report run from the parameter check to the
  recorded result (:class:`ReportRun`, :class:`ReportFailed`);
- :mod:`~mlmm.reports.params`: what a notebook accepts and the checks that keep parameters plain
  data (:func:`check_parameter`, :func:`notebook_parameters`);
- :mod:`~mlmm.reports.result`: :func:`record`, what a notebook decided, into the run's ``result.json``;
- :mod:`~mlmm.reports.index`: :func:`runs` (the registry's ``report_runs``) and :func:`rebuild_index`
  (``reports/index.html``);
- :mod:`~mlmm.reports.html`: :func:`~mlmm.reports.html.export_html`, a self-contained page per report;
- :mod:`~mlmm.reports.kernel`: :func:`~mlmm.reports.kernel.ensure_kernel`, the Jupyter kernel
  pinned to the interpreter running mlmm;
- :mod:`~mlmm.reports.schedule`: the scheduled jobs that run reports and maintenance (cron, locks,
  health).
"""

from __future__ import annotations

import importlib
from typing import Any

from .execute import ReportFailed, ReportRun, run
from .index import rebuild_index, runs
from .params import PLAIN_TYPES, check_parameter, notebook_parameters
from .result import record

__all__ = ["PLAIN_TYPES", "ReportFailed", "ReportRun", "check_parameter", "notebook_parameters", "rebuild_index",
           "record", "run", "runs"]

_SUBMODULES = ("html", "kernel", "schedule")  # imported on first use: mlmm.reports.schedule.health(ws)


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
