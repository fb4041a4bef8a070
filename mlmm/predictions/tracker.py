"""``PredictionTracker``: one prediction at a time from serving code, buffered and written in batches."""

from __future__ import annotations

import atexit
import datetime as _dt
import itertools
import logging
import numbers
import os
import threading
import time
import uuid
import weakref
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import polars as pl

from .._util import (
    UTC,
)
from ..errors import MlmmError, ValidationError
from .ingest import ImportSummary, ingest_frame
from .inputs import json_text, to_frame
from .schema import FEATURE_RE, RESERVED
from .validate import Facts, registered_facts

if TYPE_CHECKING:
    from ..workspace import Workspace


log = logging.getLogger("mlmm")

_TRACKERS: weakref.WeakSet[PredictionTracker] = weakref.WeakSet()

_BACKLOG_FACTOR = 5  # a backlogged tracker writes up to this many flush_rows per file


class PredictionTracker:
    """Log predictions one at a time from serving code, cheaply and without blocking.

    ``track()`` appends to an in-memory buffer (about a microsecond); a background thread
    writes the buffer to an immutable Parquet file when it reaches ``flush_rows`` rows
    (default 10,000) or when its oldest row is ``max_age`` seconds old (default 1 s), and on
    :meth:`flush`, :meth:`close`, context exit and interpreter exit. Rows that fail
    validation at flush go to quarantine; see :meth:`stats`.

    **What a crash can lose.** A ``kill -9`` (or a power cut with ``durable=False``) loses the
    rows still in the buffer: at a steady rate below ``flush_rows`` per ``max_age``, those
    tracked in the last ``max_age`` seconds plus the time one write takes; a file is written
    whole or not at all (:mod:`mlmm.predictions.batches`).

    **Bounded memory.** The buffer holds at most ``max_buffer`` rows (default 1,000,000),
    e.g. while the disk is full or slower than the callers. Then ``on_full`` decides:
    ``"block"`` (default) makes ``track()`` wait up to ``block_timeout`` seconds (default
    1 s) for the writer and drops the new row if there is still no room (after one such
    wait, rows are dropped at once until the writer has made room); ``"drop_oldest"``
    drops the oldest row not being written at once. Every dropped row is counted in
    ``stats()["dropped"]`` and logged (warning, once per second at most).

    >>> import tempfile, mlmm
    >>> ws = mlmm.open_workspace(tempfile.mkdtemp())
    >>> _ = ws.registry.register("n1-detector", "1.0.0")
    >>> with PredictionTracker(ws) as tracker:
    ...     pid = tracker.track("n1-detector", "1.0.0", prediction=True, confidence=0.93,
    ...                         features={"query_count": 41, "endpoint": "/orders"})
    >>> ws.predictions("n1-detector").select("prediction", "confidence", "query_count", "endpoint").collect().row(0)
    (1, 0.93, 41.0, '/orders')
    """

    def __init__(
        self,
        ws: Workspace,
        *,
        flush_rows: int = 10_000,
        max_age: float = 1.0,
        strict: bool = True,
        durable: bool = True,
        max_buffer: int = 1_000_000,
        on_full: str = "block",
        block_timeout: float = 1.0,
    ) -> None:
        if flush_rows < 1:
            raise ValidationError(f"flush_rows={flush_rows!r}: expected a positive integer")
        if max_age <= 0:
            raise ValidationError(f"max_age={max_age!r}: expected a positive number of seconds")
        if isinstance(max_buffer, bool) or not isinstance(max_buffer, int) or max_buffer < 1:
            raise ValidationError(f"max_buffer={max_buffer!r}: expected a positive number of rows")
        if on_full not in ("block", "drop_oldest"):
            raise ValidationError(f"on_full={on_full!r}: expected 'block' or 'drop_oldest'")
        if not block_timeout >= 0:
            raise ValidationError(f"block_timeout={block_timeout!r}: expected a number of seconds >= 0")
        self.max_buffer = max_buffer
        self.on_full = on_full
        self.block_timeout = float(block_timeout)
        self._buf_lock = threading.Lock()  # structural changes of the buffer (not appends)
        self._inflight = 0  # rows at the front of the buffer that a write holds
        self._dropped_logged_at = 0.0
        self._shedding = False
        self._count_lock = threading.Lock()
        self.ws = ws
        self.flush_rows = flush_rows
        self.max_age = max_age
        self.strict = strict
        self.durable = durable
        self._buf: list[tuple[Any, ...]] = []
        self._write_lock = threading.Lock()
        self._wake = threading.Event()
        self._first = 0.0
        self._prefix = uuid.uuid4().hex[:12] + "-"
        self._counter = itertools.count()
        self._closed = False
        self._known: Facts | None = None
        self._known_at = 0.0
        self._asked: set[tuple[str, str]] = set()  # unregistered (model, version) pairs already asked about
        self._settings: dict[str, Any] | None = None
        self._settings_at = 0.0
        self._stats = {"tracked": 0, "written": 0, "quarantined": 0, "files": 0, "flushes": 0, "errors": 0,
                       "dropped": 0}
        self.last_error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="mlmm-tracker-flush", daemon=True)
        self._pid = os.getpid()
        self._thread.start()
        _TRACKERS.add(self)

    def track(
        self,
        model: str,
        version: str,
        prediction: Any,
        actual: Any = None,
        confidence: float | None = None,
        features: Mapping[str, Any] | None = None,
        prediction_id: str | None = None,
        timestamp: Any = None,
    ) -> str:
        """Buffer one prediction; returns its ``prediction_id`` (generated when not given),
        which :func:`log_labels` uses when the ground truth arrives."""
        if prediction_id is None:
            prediction_id = self._prefix + str(next(self._counter))
        if self._closed:
            raise MlmmError("tracker is closed; expected track() before close()")
        buf = self._buf
        if not buf:
            self._first = time.monotonic()
        elif len(buf) >= self.max_buffer and not self._make_room():
            return prediction_id  # counted as dropped
        # list.append is atomic under the GIL; the flusher copies then deletes the first n
        # rows, so no lock is needed here and no row can be lost between the two
        if timestamp is None:
            timestamp = time.time_ns() // 1000  # ints in the buffer are epoch microseconds
        elif type(timestamp) is not float:
            timestamp = _given_stamp(timestamp)
        buf.append((model, version, prediction, actual, confidence, features, prediction_id, timestamp))
        if len(buf) >= self.flush_rows:
            self._wake.set()
        return prediction_id

    def _make_room(self) -> bool:
        """The buffer is full: apply ``on_full``; True when the new row may be appended."""
        self._wake.set()
        if self.on_full == "block":
            # one wait per episode: once a wait timed out, new rows are dropped at once until
            # the writer has made room, so callers are not slowed down by a second each
            deadline = time.monotonic() + (0.0 if self._shedding else self.block_timeout)
            while len(self._buf) >= self.max_buffer and time.monotonic() < deadline and not self._closed:
                time.sleep(0.0005)
            if len(self._buf) < self.max_buffer:
                self._shedding = False
                return True
            self._shedding = True
            self._dropped(1, "new rows (the buffer stayed full for block_timeout)")
            return False
        with self._buf_lock:
            excess = len(self._buf) - self.max_buffer + 1
            start = self._inflight
            if excess > 0 and len(self._buf) > start:
                del self._buf[start:start + excess]
                self._dropped(excess, "the oldest row")
        return True

    def _dropped(self, n: int, what: str) -> None:
        with self._count_lock:  # callers' threads count here
            self._stats["dropped"] += n
        if time.monotonic() - self._dropped_logged_at > 1:
            self._dropped_logged_at = time.monotonic()
            log.warning("prediction tracker buffer full (%d rows, on_full=%s): dropped %s; %d dropped so far"
                        " (last write error: %s)", self.max_buffer, self.on_full, what, self._stats["dropped"],
                        self.last_error)

    @property
    def pending(self) -> int:
        return len(self._buf)

    def stats(self) -> dict[str, Any]:
        """Counters: tracked, written, quarantined, dropped (buffer full), files, flushes,
        errors, pending."""
        out = dict(self._stats)
        out["tracked"] = out["written"] + out["quarantined"] + out["dropped"] + self.pending
        out["pending"] = self.pending
        out["last_error"] = repr(self.last_error) if self.last_error else None
        return out

    def flush(self) -> ImportSummary | None:
        """Write what is buffered now (in the calling thread). Raises if writing fails."""
        return self._flush(raise_errors=True)

    def close(self) -> None:
        """Flush and stop the background thread. Further ``track()`` calls raise."""
        if self._closed:
            return
        try:
            self._flush(raise_errors=True)
        finally:
            self._closed = True
            self._wake.set()
            if threading.current_thread() is not self._thread and self._thread.is_alive():
                self._thread.join(timeout=5)
        if self._buf:
            self._flush(raise_errors=True)

    def __enter__(self) -> PredictionTracker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- background ------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._closed:
            self._wake.wait(self.max_age / 4)
            self._wake.clear()
            if self._closed:
                break
            if self._buf and (len(self._buf) >= self.flush_rows or time.monotonic() - self._first >= self.max_age):
                self._flush(raise_errors=False)

    def _flush(self, raise_errors: bool) -> ImportSummary | None:
        if os.getpid() != self._pid:
            return None  # a forked child does not own this buffer
        summary = None
        with self._write_lock:
            first = True
            # an explicit flush drains the buffer; the background one writes what is due and
            # then only full batches (a backlog), so rows that arrive during a write wait for
            # their own age instead of going out in a file of a few rows each
            while self._buf and (raise_errors or first or len(self._buf) >= self.flush_rows):
                first = False
                # a backlog (a caller faster than the writer) goes out in bigger files: the
                # fixed cost per file (validation passes, fsync) is then paid less often
                started = time.monotonic()
                with self._buf_lock:
                    n = min(len(self._buf), self.flush_rows * _BACKLOG_FACTOR)
                    rows = self._buf[:n]
                    self._inflight = n
                try:
                    summary = self._write(rows)
                except BaseException as exc:
                    self._inflight = 0
                    self._stats["errors"] += 1
                    self.last_error = exc
                    log.error("prediction tracker could not write %d rows (kept for the next try): %s", n, exc)
                    if raise_errors:
                        raise
                    time.sleep(min(5.0, 0.1 * 2 ** min(self._stats["errors"], 6)))
                    return None
                with self._buf_lock:
                    del self._buf[:n]  # only now: a crash in _write keeps the rows buffered
                    self._inflight = 0
                    if self._buf:
                        self._first = started  # the rows left arrived after the write began
                self.last_error = None
                self._stats["written"] += summary.accepted
                self._stats["quarantined"] += summary.quarantined
                self._stats["files"] += summary.files
                self._stats["flushes"] += 1
        return summary

    def _write(self, rows: list[tuple[Any, ...]]) -> ImportSummary:
        # one pass per column (zip(*rows) over 10^5 tuples is several times slower)
        models, versions, preds, actuals, confs, feats, pids, stamps = (
            [r[i] for r in rows] for i in range(8)
        )
        try:
            # the tracker's own stamps are int epoch microseconds; anything else fails here
            ts = pl.Series("timestamp", stamps, dtype=pl.Int64, strict=True).cast(pl.Datetime("us", "UTC"))
        except (TypeError, OverflowError, pl.exceptions.PolarsError):
            # given datetimes, dates and text go through the same parsing and checks as a bulk
            # import, so an unparseable one is quarantined rather than replaced by "now"
            ts = pl.Series("timestamp", [_stamp_text(t) for t in stamps], dtype=pl.String)
        columns: dict[str, Any] = {
            "model_name": _text_series(models),
            "version": _text_series(versions),
            "prediction": _mixed_series(preds),
            "actual": _mixed_series(actuals),
            "confidence": _mixed_series(confs),
            "prediction_id": _text_series(pids),  # an int id (a database key) is kept as its text
            "timestamp": ts,
        }
        frame = pl.DataFrame(columns)
        misnamed = None
        if any(feats):
            # features of mixed types across rows are widened, never a flush that fails forever
            feature_frame, _, _ = to_frame([f if type(f) is dict else dict(f) if f else {} for f in feats])
            clash = [c for c in feature_frame.columns if c in RESERVED]
            if clash:
                feature_frame = feature_frame.rename({c: f"feature_{c}" for c in clash})
            frame = pl.concat([frame, feature_frame], how="horizontal")
            wrong = [c for c in feature_frame.columns if not FEATURE_RE.fullmatch(c)]
            if wrong:
                # a name that cannot be a column: those rows go to quarantine, the others are written
                hit = pl.any_horizontal(pl.col(wrong).is_not_null())
                misnamed = frame.with_row_index("row").filter(hit).select(
                    "row", *[pl.col(c).map_elements(json_text, return_dtype=pl.String)
                             if isinstance(t, (pl.List, pl.Struct, pl.Array)) else pl.col(c).cast(pl.String, strict=False)
                             for c, t in frame.schema.items()],
                    pl.lit("bad feature name").alias("rule"),
                    pl.coalesce([pl.when(pl.col(c).is_not_null()).then(pl.lit(
                        f"feature {c!r}: expected a feature name of letters, digits and '_'"
                        " (at most 64, not starting with a digit)")) for c in wrong]).alias("reason"),
                )
                frame = frame.filter(~hit).drop(wrong)
        if self._settings is None or time.monotonic() - self._settings_at > 30:
            self._settings, self._settings_at = self.ws.settings(), time.monotonic()
        needed = {(m, str(v)) for m, v in set(zip(models, versions, strict=True))}
        # the registry is asked again after 30 s, or for a version not seen before (once)
        unknown = {p for p in needed if self._known is None or p[1] not in self._known.versions.get(p[0], ())}
        if self._known is None or time.monotonic() - self._known_at > 30 or unknown - self._asked:
            self._known, self._known_at = registered_facts(self.ws), time.monotonic()
            self._asked = {p for p in needed if p[1] not in self._known.versions.get(p[0], ())}
        batch = "t" + uuid.uuid4().hex
        return ingest_frame(self.ws, frame, source="tracker", batch_id=batch, strict=self.strict,
                       registered=self._known, durable=self.durable, settings=self._settings, rejects=misnamed,
                       own_ids=self._prefix)


def _text_series(values: list[Any]) -> pl.Series:
    try:
        return pl.Series(values, dtype=pl.String)
    except (TypeError, pl.exceptions.PolarsError):
        return pl.Series([None if v is None else str(v) for v in values], dtype=pl.String)


def _stamp_text(value: Any) -> str | None:
    """A buffered timestamp as text for validation: ints are the tracker's own epoch
    microseconds, floats epoch seconds given by the caller."""
    try:
        if type(value) is int:
            return _dt.datetime.fromtimestamp(value / 1e6, UTC).isoformat()
        if type(value) is float:
            return _dt.datetime.fromtimestamp(value, UTC).isoformat()
    except (OverflowError, ValueError, OSError):
        return str(value)
    if isinstance(value, (_dt.datetime, _dt.date)):
        return value.isoformat()
    return None if value is None else str(value)


def _given_stamp(value: Any) -> Any:
    """A caller's timestamp for the buffer, where ints mean the tracker's own epoch
    microseconds: numbers are epoch seconds (as floats), a bool is text that fails validation."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, numbers.Real):
        return float(value)
    return value


def _mixed_series(values: list[Any]) -> pl.Series:
    """A column from Python values of possibly mixed types; odd ones become text for validation."""
    for dtype in (None, pl.Float64):  # inferred from the values, then ints and floats mixed
        try:
            return pl.Series(values, dtype=dtype, strict=True)
        except (TypeError, OverflowError, pl.exceptions.PolarsError):
            pass
    return pl.Series([None if v is None else str(v) for v in values], dtype=pl.String)


@atexit.register
def _flush_all_trackers() -> None:
    for tracker in list(_TRACKERS):
        try:
            tracker.close()
        except Exception as exc:  # at exit there is nobody left to raise to
            log.error("prediction tracker lost rows at exit: %s", exc)
