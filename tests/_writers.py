"""Writer processes for the multi-process tests of the prediction log.

Run as a script: ``python tests/_writers.py COMMAND WORKSPACE [ARGS...]``.

``import WS FILE``
    ``log_predictions(ws, FILE)`` (the kill -9 test kills this one mid-import).
``mixed WS WORKER BATCHES ROWS TRACKED GO``
    After ``GO`` exists: ``BATCHES`` bulk imports of ``ROWS`` rows each (ids ``w<W>-b<B>-<i>``),
    and between them a :class:`PredictionTracker` with small, frequent flushes tracks
    ``TRACKED`` rows in all (ids ``t<W>-<i>``).
``import-kill WS FILE POINT``
    ``log_predictions(ws, FILE)`` that kills itself (``SIGKILL``) at ``POINT``: ``parts:K`` after
    the K-th part file, ``before-record`` after every part file, ``after-record`` between the
    import record and the commit.
``track-steady WS RATE PROGRESS``
    Tracks ids ``s-<i>`` at ``RATE`` a second until killed, writing the count to ``PROGRESS``
    every 100 rows.
``track-exit WS ROWS``
    Tracks ids ``x-<i>`` and exits without ``close()``: the interpreter-exit hook must flush.

Workers that wait for ``GO`` first write ``GO.ready-<W>`` so the test can start them all at once.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from pathlib import Path

import polars as pl

import mlmm
from mlmm import predictions as P

START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _wait_for(go: Path, worker: int) -> None:
    Path(f"{go}.ready-{worker}").touch()
    deadline = time.monotonic() + 60
    while not go.exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"worker {worker}: {go} never appeared")
        time.sleep(0.002)


def _batch(worker: int, b: int, rows: int) -> pl.DataFrame:
    return pl.DataFrame({
        "prediction_id": [f"w{worker}-b{b}-{i}" for i in range(rows)],
        "version": "1.0.0",
        "prediction": [i % 2 for i in range(rows)],
        "confidence": 0.5,
        # every worker writes into the same three day-partitions
        "timestamp": [START + dt.timedelta(hours=(i * 7) % 72) for i in range(rows)],
        "worker": float(worker),
    })


def main(argv: list[str]) -> int:
    command, path, *rest = argv
    ws = mlmm.open_workspace(path)
    if command == "import":
        P.log_predictions(ws, rest[0])
    elif command == "mixed":
        worker, batches, rows, tracked = (int(x) for x in rest[:4])
        _wait_for(Path(rest[4]), worker)
        with P.PredictionTracker(ws, flush_rows=40, max_age=0.05) as tracker:
            per_batch = -(-tracked // batches)
            for b in range(batches):
                for i in range(b * per_batch, min(tracked, (b + 1) * per_batch)):
                    tracker.track("m", "1.0.0", i % 2, confidence=0.25, prediction_id=f"t{worker}-{i}",
                                  features={"worker": worker})
                P.log_predictions(ws, _batch(worker, b, rows), model="m")
    elif command == "import-kill":
        # kill -9 this process at a chosen point of an import: "parts:K" after the K-th part
        # file is in place, "before-record" after every part file, "after-record" between the
        # import record and the commit
        file, point = rest[0], rest[1]
        import os
        import signal

        def die() -> None:
            os.kill(os.getpid(), signal.SIGKILL)

        if point.startswith("parts:"):
            limit, done = int(point.partition(":")[2]), [0]
            lock = __import__("threading").Lock()
            write = P.ingest.write_parquet_atomic

            def counted(frame, path, **kw):
                write(frame, path, **kw)
                with lock:
                    done[0] += 1
                    if done[0] >= limit:
                        die()

            P.ingest.write_parquet_atomic = counted
        else:
            record = P.ingest.write_json

            def at_record(path, obj):
                if point == "after-record":
                    record(path, obj)
                die()

            P.ingest.write_json = at_record
        P.log_predictions(ws, file)
    elif command == "track-steady":
        # track at a steady rate until killed; every 100 rows, say how many were tracked
        rate, progress = float(rest[0]), Path(rest[1])
        tracker = P.PredictionTracker(ws, max_age=1.0)
        start, i = time.monotonic(), 0
        while True:
            tracker.track("m", "1.0.0", i % 2, confidence=0.5, prediction_id=f"s-{i}")
            i += 1
            if i % 100 == 0:
                tmp = progress.with_suffix(".tmp")
                tmp.write_text(str(i))
                tmp.replace(progress)  # the reader never sees half a number
            time.sleep(max(0.0, start + i / rate - time.monotonic()))
    elif command == "track-exit":
        tracker = P.PredictionTracker(ws, flush_rows=10_000, max_age=60)
        for i in range(int(rest[0])):
            tracker.track("m", "1.0.0", 1, confidence=0.5, prediction_id=f"x-{i}", features={"i": i})
        # no close(): the atexit hook must write the buffer
    else:
        raise SystemExit(f"unknown command {command!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
