"""Timing, formatting and the result table shared by the benchmark areas.

Every area returns a :class:`Table`: a title, column names, rows of cells (numbers are kept
raw for ``results/latest.json`` and formatted for the console) and footnotes. Tables print
as GitHub pipe tables, so the console output can be pasted into an issue note as is.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

__all__ = [
    "Cell",
    "Sizes",
    "Table",
    "Timing",
    "fmt_bytes",
    "fmt_rate",
    "fmt_ratio",
    "fmt_time",
    "gc_disabled",
    "latency_summary",
    "load_average",
    "machine_info",
    "repeat",
    "scratch_dir",
    "timer_overhead_ns",
]


# ----------------------------------------------------------------------------- sizes
@dataclasses.dataclass(frozen=True)
class Sizes:
    """How big each area runs; :meth:`quick` shrinks everything for a < 30 s smoke run."""

    quick: bool = False
    track_calls: int = 200_000
    track_repeat: int = 5
    row_commit_rows: int = 3_000  # sqlite / duckdb: one commit per row is slow, a few thousand suffice
    bulk_rows: int = 2_000_000
    bulk_days: int = 30
    bulk_repeat: int = 3
    registry_versions: int = 200
    registry_reads: int = 200
    registry_cold_reads: int = 10
    monitor_rows: int = 10_000_000  # issue 4 §1: 3 models x 2 versions x 30 days
    monitor_repeat: int = 15
    drift_rows: int = 1_000_000  # issue 6: 20 numeric + 5 categorical, 1 M vs 1 M rows
    drift_repeat: int = 5
    router_ids: int = 1_000_000  # issue 5: >= 5 M assignments/s vectorized
    router_repeat: int = 5
    ab_rows: int = 10_000_000  # issue 5: evaluation of a test over 10 million logged predictions
    ab_repeat: int = 7
    tuning_scores: int = 1_000_000  # issue 7: exact sweep of 1 M scores <= 0.1 s
    tuning_repeat: int = 7
    tuning_grid_points: int = 16
    tuning_point_seconds: float = 0.2
    tuning_grid_repeat: int = 2
    report_rows: int = 100_000  # issue 8: a report run on a demo workspace
    report_repeat: int = 3

    @classmethod
    def for_mode(cls, quick: bool) -> Sizes:
        if not quick:
            return cls()
        return cls(
            quick=True, track_calls=20_000, track_repeat=2, row_commit_rows=300,
            bulk_rows=200_000, bulk_repeat=1, registry_versions=30, registry_reads=30, registry_cold_reads=3,
            monitor_rows=300_000, monitor_repeat=3, drift_rows=50_000, drift_repeat=1,
            router_ids=100_000, router_repeat=2, ab_rows=300_000, ab_repeat=3,
            tuning_scores=100_000, tuning_repeat=3, tuning_grid_points=4, tuning_point_seconds=0.05, tuning_grid_repeat=1,
            report_rows=20_000, report_repeat=1,
        )


# ----------------------------------------------------------------------------- timing
@dataclasses.dataclass(frozen=True)
class Timing:
    """Wall-clock seconds of repeated runs of the same work."""

    values: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def min(self) -> float:
        return min(self.values)

    def to_dict(self) -> dict[str, Any]:
        return {"median_s": self.median, "min_s": self.min, "runs_s": list(self.values)}


def repeat(
    fn: Callable[[Any], Any],
    n: int,
    *,
    setup: Callable[[], Any] | None = None,
    teardown: Callable[[Any], Any] | None = None,
) -> tuple[Timing, list[Any]]:
    """Run ``fn(setup())`` ``n`` times; time only ``fn``. Returns the timing and what ``fn`` returned."""
    values, results = [], []
    for _ in range(n):
        state = setup() if setup is not None else None
        gc.collect()
        started = time.perf_counter()
        result = fn(state)
        values.append(time.perf_counter() - started)
        results.append(result)
        if teardown is not None:
            teardown(state)
    return Timing(tuple(values)), results


@contextlib.contextmanager
def gc_disabled() -> Iterator[None]:
    """Switch Python's cyclic GC off for the block (after a full collection), as a server might."""
    was = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def timer_overhead_ns(n: int = 100_000) -> float:
    """Median cost of an empty ``perf_counter_ns()`` pair, to read per-call latencies against."""
    clock = time.perf_counter_ns
    samples = []
    for _ in range(n):
        t0 = clock()
        samples.append(clock() - t0)
    return float(statistics.median(samples))


def latency_summary(ns: list[int]) -> dict[str, float]:
    """p50 / p99 / p99.9 / max in seconds, and how many calls took more than 1 ms."""
    import numpy as np

    arr = np.asarray(ns, dtype=np.int64)
    p50, p99, p999 = np.percentile(arr, [50, 99, 99.9])
    return {
        "calls": int(arr.size),
        "p50_s": float(p50) / 1e9,
        "p99_s": float(p99) / 1e9,
        "p99_9_s": float(p999) / 1e9,
        "max_s": float(arr.max()) / 1e9,
        "over_1ms": int((arr > 1_000_000).sum()),
        "mean_s": float(arr.mean()) / 1e9,
    }


# ----------------------------------------------------------------------------- places
@contextlib.contextmanager
def scratch_dir(prefix: str) -> Iterator[Path]:
    """A temporary directory (under ``TMPDIR``), removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix=f"mlmm-bench-{prefix}-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _filesystem(path: str) -> str:
    """The mount type holding ``path`` (ext4, tmpfs, ...): fsync costs differ by orders of magnitude."""
    best, kind = "", "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/mounts").read_text().splitlines():
            parts = line.split()
            if len(parts) >= 3 and path.startswith(parts[1]) and len(parts[1]) > len(best):
                best, kind = parts[1], parts[2]
    return kind


def load_average() -> list[float] | None:
    """1/5/15-minute load averages: above the CPU count, other work is competing with the bench."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def machine_info() -> dict[str, Any]:
    from importlib import metadata

    versions = {}
    for dist in ("mlmm", "polars", "pyarrow", "duckdb", "numpy", "pandas", "mlflow"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = None
    cpu = platform.processor() or ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    tmp = tempfile.gettempdir()
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "tmpdir": tmp,
        "tmpdir_fs": _filesystem(os.path.realpath(tmp)),
        "loadavg": load_average(),
        "versions": versions,
    }


# ----------------------------------------------------------------------------- formatting
def fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    if seconds < 1e-6:
        return f"{seconds * 1e9:.0f} ns"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.2f} µs" if seconds < 1e-5 else f"{seconds * 1e6:.1f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms" if seconds < 1e-2 else f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def fmt_rate(per_second: float | None) -> str:
    if per_second is None:
        return "n/a"
    if per_second >= 1e6:
        return f"{per_second / 1e6:.2f} M/s"
    if per_second >= 1e3:
        return f"{per_second / 1e3:.1f} k/s"
    return f"{per_second:.0f} /s"


def fmt_ratio(value: float | None) -> str:
    if value is None:
        return "n/a"
    if value >= 100:
        return f"{value:.0f}×"
    if value >= 10:
        return f"{value:.1f}×"
    return f"{value:.2f}×"


def fmt_bytes(n: int | None) -> str:
    if n is None:
        return "n/a"
    return f"{n / 1e6:.1f} MB"


@dataclasses.dataclass
class Cell:
    """One table cell: the text shown and the raw value kept in the JSON."""

    text: str
    value: Any = None


@dataclasses.dataclass
class Table:
    area: str
    title: str
    columns: list[str]
    rows: list[list[Cell]] = dataclasses.field(default_factory=list)
    footnotes: list[str] = dataclasses.field(default_factory=list)
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)

    def add(self, *cells: Cell | str) -> None:
        row = [c if isinstance(c, Cell) else Cell(c) for c in cells]
        if len(row) != len(self.columns):
            raise ValueError(f"row has {len(row)} cells; expected {len(self.columns)} ({self.columns})")
        self.rows.append(row)

    def render(self) -> str:
        texts = [self.columns] + [[c.text for c in row] for row in self.rows]
        widths = [max(len(r[i]) for r in texts) for i in range(len(self.columns))]

        def line(cells: list[str]) -> str:
            return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

        out = [f"### {self.title}", "", line(self.columns), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
        out += [line(r) for r in texts[1:]]
        if self.footnotes:
            out.append("")
            out += [f"{note}" for note in self.footnotes]
        return "\n".join(out)

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "columns": self.columns,
            "rows": [{col: (c.value if c.value is not None else c.text) for col, c in zip(self.columns, row, strict=True)}
                     for row in self.rows],
            "footnotes": self.footnotes,
            **self.extra,
        }
