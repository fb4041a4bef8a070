"""Local disk vs S3-compatible object storage: reading a 24 h window, and a bulk import.

The S3 side is moto's server mode on 127.0.0.1 (the ``test`` extra installs it), started
here; nothing leaves the machine. The same generated log (``bench.bulk.make_frame``: one
model, two versions, 30 days, 70 % labelled at import) goes into a local workspace and into
one in a bucket (``open_workspace("s3://...", registry=...)``), plus late labels for part of
the last two days, so a window needs the label join. Operations:

- bulk import of the polars frame (fresh workspace each run);
- ``ws.predictions(model, since=..., until=...).collect()`` of the newest 24 h, warm (this process has read the window
  before: file schemas known, the per-day joined cache on local disk) and cold (both
  dropped first, as in a new CLI process);
- ``monitor.metrics`` of the same 24 h and a 30-day hourly ``monitor.trends``.

moto is a Python server: its requests take milliseconds where AWS S3 in the same region
takes tens of milliseconds for a LIST and streams faster, so the ratio says how much of a
read is round trips, not what a given cloud costs. The "requests" column counts what the
server saw per run.

Run alone with ``python -m bench.s3 [--quick]`` (or ``python -m bench --only s3`` once the
area is registered in ``bench/__init__.py``).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import logging
import os
import shutil
import sys
import uuid
from collections.abc import Iterator
from typing import Any

from ._util import Cell, Sizes, Table, fmt_rate, fmt_ratio, fmt_time, repeat, scratch_dir

__all__ = ["run"]

MODEL = "bench-bulk"
VERSIONS = ("1.0.0", "1.1.0")


class _Requests(logging.Handler):
    """Counts the requests moto's server logs (werkzeug writes one line per request)."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "HTTP/1.1" in record.getMessage():
            self.count += 1


@contextlib.contextmanager
def _s3_server() -> Iterator[tuple[str, _Requests]]:
    from moto.server import ThreadedMotoServer

    counter = _Requests()
    web = logging.getLogger("werkzeug")
    old = (web.level, web.propagate)
    web.setLevel(logging.INFO)
    web.propagate = False
    web.addHandler(counter)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION",
                                           "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_REGION", "AWS_PROFILE")}
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1",
                      AWS_ENDPOINT_URL=f"http://{host}:{port}")
    for name in ("AWS_ENDPOINT_URL_S3", "AWS_REGION", "AWS_PROFILE"):
        os.environ.pop(name, None)
    try:
        yield f"http://{host}:{port}", counter
    finally:
        server.stop()
        web.removeHandler(counter)
        web.setLevel(old[0])
        web.propagate = old[1]
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def run(sizes: Sizes) -> Table:
    table = Table(
        "s3",
        f"local disk vs S3 (moto server on 127.0.0.1): {sizes.bulk_rows:,} predictions over {sizes.bulk_days} days",
        ["operation", "local", "S3", "S3 / local", "requests", "rows"],
    )
    try:
        import boto3
        import moto.server  # noqa: F401
    except ImportError as exc:
        table.footnotes.append(f"not run: {exc} (pip install 'moto[server]'; it is in the test extra)")
        table.extra = {"unavailable": str(exc)}
        return table

    import polars as pl

    import mlmm
    from mlmm import monitor as M
    from mlmm import predictions as P

    from .bulk import make_frame

    n = sizes.bulk_rows
    frame = make_frame(n, sizes.bulk_days)
    # late labels: a third of the still unlabelled rows of the last two days
    newest = frame.get_column("timestamp").max()
    until = newest + _dt.timedelta(microseconds=1)  # a fixed window end: both sides read the same rows
    late = (frame.filter(pl.col("actual").is_null() & (pl.col("timestamp") > newest - pl.duration(days=2)))
            .gather_every(3).select("prediction_id", (1 - pl.col("prediction")).alias("actual")))
    results: dict[str, Any] = {}

    with _s3_server() as (endpoint, requests), scratch_dir("s3") as tmp:
        s3 = boto3.client("s3")
        counter = iter(range(1_000_000))

        def open_ws(where: str) -> Any:
            i = next(counter)
            if where == "local":
                ws = mlmm.open_workspace(tmp / f"local{i}")
            else:
                bucket = f"bench-{uuid.uuid4().hex[:12]}"
                s3.create_bucket(Bucket=bucket)
                ws = mlmm.open_workspace(f"s3://{bucket}/log", registry=tmp / f"registry{i}")
            for v in VERSIONS:
                ws.registry.register(MODEL, v)
            return ws

        def drop_ws(ws: Any) -> None:
            ws.close()
            shutil.rmtree(ws.path, ignore_errors=True)

        def timed(name: str, where: str, fn: Any, reps: int, **kw: Any) -> None:
            before = requests.count
            timing, outs = repeat(fn, reps, **kw)
            results.setdefault(name, {})[where] = {**timing.to_dict(), "requests": (requests.count - before) / reps,
                                                   "rows": outs[-1]}

        # warm-up of both code paths (first S3 connection, polars' object store), not measured
        for where in ("local", "s3"):
            ws = open_ws(where)
            P.log_predictions(ws, frame.head(1_000), model=MODEL)
            ws.predictions(MODEL).collect()
            drop_ws(ws)

        for where in ("local", "s3"):
            timed("bulk import (polars frame)", where,
                  lambda ws: P.log_predictions(ws, frame, model=MODEL).accepted, sizes.bulk_repeat,
                  setup=lambda where=where: open_ws(where), teardown=drop_ws)

        reps = sizes.monitor_repeat
        for where in ("local", "s3"):
            ws = open_ws(where)
            P.log_predictions(ws, frame, model=MODEL)
            P.log_labels(ws, MODEL, late)

            def cold(ws: Any = ws) -> Any:
                P.layout._SCHEMA_CACHE.clear()
                shutil.rmtree(ws.path / "cache", ignore_errors=True)
                return ws

            def window(ws: Any) -> int:
                return ws.predictions(MODEL, since=until - _dt.timedelta(hours=24), until=until).collect().height

            timed("24 h window, warm", where, window, reps, setup=lambda ws=ws: ws)
            timed("metrics, last 24 h (warm)", where,
                  lambda ws: M.metrics(ws, MODEL, last="24h", until=until).count, reps, setup=lambda ws=ws: ws)
            M.trends(ws, MODEL, interval="1h", last="30d", until=until)  # fills the hourly cache of the full days
            timed("hourly trend, 30 days (warm)", where,
                  lambda ws: M.trends(ws, MODEL, interval="1h", last="30d", until=until).height, max(1, reps // 3),
                  setup=lambda ws=ws: ws)
            timed("24 h window, cold", where, window, reps, setup=cold)  # last: it drops the caches
            drop_ws(ws)

    problems = []
    for name, r in results.items():
        local, remote = r["local"], r["s3"]
        if local["rows"] != remote["rows"]:
            problems.append(f"{name}: local gave {local['rows']}, S3 {remote['rows']}")
        ratio = remote["median_s"] / local["median_s"]
        rows = local["rows"]
        shown = fmt_rate(rows / local["median_s"]) + " / " + fmt_rate(rows / remote["median_s"]) if "import" in name else f"{rows:,}"
        table.add(
            name,
            Cell(fmt_time(local["median_s"]), local["median_s"]),
            Cell(fmt_time(remote["median_s"]), remote["median_s"]),
            Cell(fmt_ratio(ratio), ratio),
            Cell(f"{remote['requests']:.0f}", remote["requests"]),
            Cell(shown, rows),
        )
    table.footnotes += [
        f"medians of {sizes.bulk_repeat} import run(s) (a fresh workspace or bucket each) and {sizes.monitor_repeat} "
        "read runs (the 30-day trend: a third as many).",
        "warm: this process read the window before (file schemas known; per-day joined cache and hourly counts on "
        "local disk; S3 still lists every directory of the window). cold: both dropped first, as in a new CLI process.",
        "requests: per run, as seen by the S3 server (LIST per directory, ranged GETs per file; an import: one PUT "
        "per file plus its record). rows: for the imports, rows/s local / S3.",
        f"moto server at {endpoint}: a Python process on this machine. Its latency per request is lower than AWS "
        "S3's (~10-30 ms per LIST in-region), its throughput lower than S3's: read the ratio as the cost of round "
        "trips, not as a cloud forecast.",
    ]
    if problems:
        table.footnotes.append("PROBLEMS: " + "; ".join(problems))
    table.extra = {"results": results, "problems": problems}
    return table


def main(argv: list[str] | None = None) -> int:
    quick = "--quick" in (argv if argv is not None else sys.argv[1:])
    table = run(Sizes.for_mode(quick))
    print(table.render())
    return 1 if table.extra.get("problems") else 0


if __name__ == "__main__":
    sys.exit(main())
