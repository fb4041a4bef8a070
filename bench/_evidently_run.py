"""Run Evidently's ``DataDriftPreset`` on the Parquet files that ``bench/drift.py`` wrote.

``.venv-evidently/bin/python bench/_evidently_run.py IN_DIR OUT.json``

Runs in its own virtualenv (``.venv-evidently``: ``evidently`` and ``pandas<3``; Evidently 0.7.23
does not import with pandas 3), never in mlmm's: Evidently is a bench peer, not a dependency.
This file imports nothing from mlmm or bench.

``IN_DIR/spec.json`` names the numerical and categorical columns and the cases; each case is
``IN_DIR/<case>.reference.parquet`` and ``IN_DIR/<case>.current.parquet``. Cases run in the
order given, so the small ones warm up lazy imports before the big one. For each case the JSON
holds the wall time of ``Report([DataDriftPreset()], include_tests=True).run(...)`` (wrapping the
frames in ``Dataset.from_pandas`` included; import and Parquet reading excluded, reported apart),
the peak RSS increase during that run (``VmHWM`` reset through ``/proc/self/clear_refs`` after
reading, minus ``VmRSS`` then) and per column: method, score, threshold and whether drift was
detected (the status of Evidently's own per-column test, not re-derived here).
"""

from __future__ import annotations

import gc
import json
import sys
import time
import warnings
from pathlib import Path
from typing import Any


def status_kb(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def reset_peak_rss() -> bool:
    """Reset the peak RSS (VmHWM) to the current RSS; Linux >= 4.0. False when not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _verdicts(snapshot: Any) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    data = snapshot.dict()
    for metric in data["metrics"]:
        config = metric.get("config", {})
        if config.get("type", "").endswith(":ValueDrift"):
            out[config["column"]] = {
                "method": config.get("method"),
                "threshold": config.get("threshold"),
                "score": float(metric["value"]),
                "drift": None,
            }
    for test in data.get("tests", []):
        params = test.get("metric_config", {}).get("params", {})
        column = params.get("column")
        if params.get("type", "").endswith(":ValueDrift") and column in out:
            out[column]["drift"] = test["status"] == "FAIL"
    return out


def main(in_dir: Path, out_path: Path) -> None:
    warnings.simplefilter("ignore")  # Evidently's chi-square divides by zero on unseen categories
    started = time.perf_counter()
    import evidently
    import pandas as pd
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    import_s = time.perf_counter() - started
    spec = json.loads((in_dir / "spec.json").read_text())
    definition = DataDefinition(numerical_columns=spec["numerical"], categorical_columns=spec["categorical"])
    result: dict[str, Any] = {
        "evidently": evidently.__version__,
        "pandas": pd.__version__,
        "python": sys.version.split()[0],
        "import_s": import_s,
        "cases": {},
    }
    for case in spec["cases"]:
        t0 = time.perf_counter()
        reference = pd.read_parquet(in_dir / f"{case}.reference.parquet")
        current = pd.read_parquet(in_dir / f"{case}.current.parquet")
        read_s = time.perf_counter() - t0
        gc.collect()
        baseline = status_kb("VmRSS")
        reset = reset_peak_rss()
        t0 = time.perf_counter()
        report = Report([DataDriftPreset()], include_tests=True)
        snapshot = report.run(
            Dataset.from_pandas(current, data_definition=definition),
            Dataset.from_pandas(reference, data_definition=definition),
        )
        run_s = time.perf_counter() - t0
        peak = status_kb("VmHWM")
        columns = _verdicts(snapshot)
        result["cases"][case] = {
            "rows": [len(reference), len(current)],
            "read_s": read_s,
            "run_s": run_s,
            "peak_increase_bytes": (peak - baseline) * 1024 if reset and peak and baseline else None,
            "baseline_rss_bytes": baseline * 1024 if baseline else None,
            "columns": columns,
            "n_drifted": sum(1 for c in columns.values() if c["drift"]),
        }
        del reference, current, snapshot, report
    out_path.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(f"usage: {sys.argv[0]} IN_DIR OUT.json")
    main(Path(sys.argv[1]), Path(sys.argv[2]))
