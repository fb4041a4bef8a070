"""Ground-truth labels that arrive after the prediction: validated and appended as label events."""

from __future__ import annotations

import dataclasses
import datetime as _dt
import logging
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import polars as pl

from .._storage import StoragePath
from .._util import (
    is_valid_name,
    to_utc,
)
from ..errors import NotFoundError, ValidationError
from . import batches, clock
from .ingest import summarise_reasons, write_quarantine
from .inputs import check_batch_id, to_frame
from .layout import UNDATED, quarantine_path, write_parquet_atomic
from .read import read_predictions, refresh_labelled
from .schema import BINARY
from .validate import class_column, parse_timestamps, present_expr, registered_facts

if TYPE_CHECKING:
    from ..workspace import Workspace


log = logging.getLogger("mlmm")


@dataclasses.dataclass(frozen=True)
class LabelSummary:
    """What :func:`log_labels` did: labels stored, labels for unknown predictions, rejects."""

    batch_id: str
    model: str
    accepted: int
    unknown_ids: int
    quarantined: int
    reasons: dict[str, int]
    examples: dict[str, str]
    unknown_examples: tuple[str, ...] = ()
    conflicts: int = 0  # ids given different labels within this batch
    conflict_examples: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def __repr__(self) -> str:
        clash = f", {self.conflicts} ids with conflicting labels" if self.conflicts else ""
        return (
            f"<LabelSummary {self.model}: {self.accepted} accepted, {self.unknown_ids} for unknown predictions,"
            f" {self.quarantined} quarantined{clash}>"
        )


def log_labels(
    ws: Workspace,
    model: str,
    labels: Any,
    *,
    labeled_at: Any = None,
    batch_id: str | None = None,
    unknown: str = "keep",
) -> LabelSummary:
    """Record ground truth that arrived after the predictions.

    ``labels`` is ``{prediction_id: actual}`` or a frame with ``prediction_id``, ``actual`` and
    optionally ``labeled_at``. Labels are joined at query time and the latest label of a
    prediction wins, so a correction is just another label.

    ``unknown`` decides what happens to labels whose prediction is not in the log (yet):
    ``"keep"`` (default: stored and reported, joined once the prediction arrives, since a
    tracker may still hold it in its buffer) or ``"quarantine"`` (moved to quarantine with the
    reason).

    >>> import tempfile, mlmm
    >>> ws = mlmm.open_workspace(tempfile.mkdtemp())
    >>> _ = ws.registry.register("m", "1.0.0")
    >>> _ = mlmm.log_predictions(ws, {"version": ["1.0.0"] * 2, "prediction": [1, 0], "prediction_id": ["a", "b"]}, model="m")
    >>> log_labels(ws, "m", {"a": True, "b": 1, "zzz": 0})
    <LabelSummary m: 3 accepted, 1 for unknown predictions, 0 quarantined>
    >>> ws.predictions("m").select("prediction_id", "actual").sort("prediction_id").collect().rows()
    [('a', 1), ('b', 1)]
    """
    if not is_valid_name(model):
        raise ValidationError(f"model={model!r}: expected a model name")
    if unknown not in ("keep", "quarantine"):
        raise ValidationError(f"unknown={unknown!r}: expected 'keep' or 'quarantine'")
    facts = registered_facts(ws)
    if model not in facts.versions:
        raise NotFoundError(f"model={model!r} is not registered; expected a registered model (no label was written)")
    if isinstance(labels, Mapping):
        frame = pl.DataFrame(
            {"prediction_id": [str(k) for k in labels], "actual": [_label_text(v) for v in labels.values()]},
            schema={"prediction_id": pl.String, "actual": pl.String},
        )
        rejects = None
    else:
        frame, _, rejects = to_frame(labels)
    for required in ("prediction_id", "actual"):
        if required not in frame.columns:
            raise ValidationError(f"column {required!r} is missing; expected prediction_id, actual[, labeled_at]")
    batches.sweep(ws)
    when = clock.now()
    settings = ws.settings()
    limit = when + _dt.timedelta(seconds=float(settings.get("max_future_seconds", 86400)))
    default_at = to_utc(labeled_at, "labeled_at") if labeled_at is not None else when
    if default_at > limit:
        raise ValidationError(f"labeled_at={default_at.isoformat(timespec='seconds')}: expected a time before"
                              f" {limit.isoformat(timespec='seconds')} (the workspace's max_future_seconds)")
    frame = frame.with_row_index("_row")
    value, actual_mask, actual_message = class_column("actual", frame.schema["actual"], nullable=False)
    classes = sorted({c for (m, _), cs in facts.classes.items() if m == model for c in cs} or set(BINARY))
    class_text = ("0 or 1 (a binary classifier; a model with more classes lists them in its configuration key"
                  " classes)") if classes == list(BINARY) else "one of " + ", ".join(map(str, classes))
    class_mask = value.is_not_null() & ~value.is_in(classes)
    class_message = pl.format(f"actual={{}}: expected {class_text}", value)
    if "labeled_at" in frame.columns:
        frame = parse_timestamps(frame, "labeled_at")
        ts_mask = present_expr("labeled_at", frame.schema["labeled_at"]) & pl.col("_ts").is_null()
        ts_message = pl.format("labeled_at='{}': expected an ISO-8601 time", pl.col("labeled_at").cast(pl.String, strict=False))
    else:
        frame = frame.with_columns(pl.lit(None, pl.Datetime("us", "UTC")).alias("_ts"))
        ts_mask, ts_message = pl.lit(False), pl.lit(None, pl.String)
    future_mask = pl.col("_ts") > pl.lit(limit).dt.cast_time_unit("us")
    future_message = pl.format(f"labeled_at={{}}: expected a time before {limit.isoformat(timespec='seconds')}"
                               " (more than max_future_seconds in the future)",
                               pl.col("_ts").dt.to_string("%Y-%m-%dT%H:%M:%SZ"))
    pid_mask = pl.col("prediction_id").is_null() | (pl.col("prediction_id").cast(pl.String).str.strip_chars() == "")
    checks = [(pid_mask, pl.lit("prediction_id is missing"), "missing prediction_id"),
              (actual_mask, actual_message, "bad actual"), (class_mask, class_message, "bad actual"),
              (ts_mask, ts_message, "bad labeled_at"), (future_mask, future_message, "bad labeled_at")]
    frame = frame.with_columns(value.alias("_actual"), *[m.fill_null(False).alias(f"_m{i}") for i, (m, _, _) in enumerate(checks)])
    frame = frame.with_columns(
        pl.concat_str([pl.when(pl.col(f"_m{i}")).then(msg) for i, (_, msg, _) in enumerate(checks)], separator="; ", ignore_nulls=True).alias("_reason"),
        pl.coalesce([pl.when(pl.col(f"_m{i}")).then(pl.lit(rule)) for i, (_, _, rule) in enumerate(checks)]).alias("_rule"),
    ).with_columns(pl.when(pl.col("_reason") != "").then(pl.col("_reason")).alias("_reason"))
    good = frame.filter(pl.col("_reason").is_null()).select(
        pl.col("_row"),
        pl.col("prediction_id").cast(pl.String),
        pl.col("_actual").alias("actual"),
        pl.coalesce(pl.col("_ts"), pl.lit(default_at).dt.cast_time_unit("us")).alias("labeled_at"),
    )
    bad = frame.filter(pl.col("_reason").is_not_null())
    # the day of each labelled prediction: labels are stored next to their predictions' day,
    # so a query over a time window reads only those days' labels
    known = (
        read_predictions(ws, model=model, with_labels=False).select("prediction_id", "date")
        .filter(pl.col("prediction_id").is_in(good.get_column("prediction_id").implode()))
        .unique().collect()
    )
    is_known = good.get_column("prediction_id").is_in(known.get_column("prediction_id").implode())
    unknown_rows = good.filter(~is_known)
    if unknown == "quarantine" and unknown_rows.height:
        good = good.filter(is_known)
        extra = unknown_rows.select(
            pl.col("_row").alias("row"), pl.col("prediction_id"), pl.col("actual").cast(pl.String),
            pl.lit("unknown prediction_id").alias("rule"),
            pl.format(f"prediction_id='{{}}': no prediction of {model} with this id", pl.col("prediction_id")).alias("reason"),
        )
    else:
        extra = None
    batch_id = check_batch_id(batch_id or "l" + uuid.uuid4().hex)
    raw = bad.select(
        pl.col("_row").alias("row"), pl.col("prediction_id").cast(pl.String, strict=False),
        pl.col("actual").cast(pl.String, strict=False), pl.col("_rule").alias("rule"), pl.col("_reason").alias("reason"),
    )
    raw = pl.concat([raw, *[x for x in (extra, rejects) if x is not None and x.height]], how="diagonal_relaxed")
    if raw.height:
        raw = raw.with_columns(pl.lit(model).alias("model_name"))
    conflicts, conflict_examples = _label_conflicts(good)
    parts: list[tuple[StoragePath, pl.DataFrame]] = []
    touched = []
    if good.height:
        body = good.drop("_row").with_columns(pl.lit(batch_id).alias("batch_id"),
                                              pl.lit(when).dt.cast_time_unit("us").alias("ingested_at"))
        dated = body.join(known, on="prediction_id", how="left")  # an id logged on two days: both
        folder = ws.labels_dir / f"model_name={model}"
        for (day,), part in dated.partition_by("date", as_dict=True, maintain_order=True).items():
            name = UNDATED if day is None else day.isoformat()
            parts.append((folder / name / f"part-{batch_id}.parquet", part.drop("date")))
            if day is not None:
                touched.append(day)
    paths = [p for p, _ in parts] + ([quarantine_path(ws, batch_id, when)] if raw.height else [])
    with batches.Batch(ws, batch_id, paths):
        for path, part in parts:
            write_parquet_atomic(part, path)
        write_quarantine(ws, raw, batch_id, f"labels:{model}", when)
    if touched:
        refresh_labelled(ws, model, touched)
    reasons, examples = summarise_reasons(raw)
    return LabelSummary(
        batch_id=batch_id, model=model, accepted=good.height, unknown_ids=unknown_rows.height,
        quarantined=raw.height, reasons=reasons, examples=examples,
        unknown_examples=tuple(unknown_rows.get_column("prediction_id").head(5).to_list()),
        conflicts=conflicts, conflict_examples=conflict_examples,
    )


def _label_conflicts(good: pl.DataFrame) -> tuple[int, tuple[str, ...]]:
    """Ids labelled more than once in one batch with different values: how many, and for the
    first five which label won and why (the latest labeled_at; on a tie, the later row)."""
    if good.height < 2:
        return 0, ()
    groups = (good.group_by("prediction_id").agg(pl.col("actual").n_unique().alias("_k"), pl.len().alias("_n"))
              .filter(pl.col("_k") > 1))
    if groups.is_empty():
        return 0, ()
    rows = (good.filter(pl.col("prediction_id").is_in(groups.get_column("prediction_id").head(5).implode()))
            .sort("labeled_at", "_row", maintain_order=True)
            .group_by("prediction_id", maintain_order=True)
            .agg(pl.col("actual"), pl.col("_row"), pl.col("labeled_at").n_unique().alias("_t")))
    examples = []
    for pid, actuals, row_nums, times in rows.sort("prediction_id").iter_rows():
        why = "the latest labeled_at" if times > 1 else "the last row (same labeled_at)"
        examples.append(f"prediction_id={pid!r}: labels {', '.join(map(str, actuals))} in rows"
                        f" {', '.join(map(str, row_nums))}; {actuals[-1]} wins ({why})")
    return groups.height, tuple(examples)


def _label_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)
