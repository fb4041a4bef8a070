"""Validation of imported rows (each failure becomes a quarantined row with its reason) and feature types."""

from __future__ import annotations

import dataclasses
import datetime as _dt
import logging
from typing import TYPE_CHECKING, Any

import polars as pl

from .._util import (
    format_duration,
    is_valid_name,
    to_utc,
)
from ..errors import ValidationError
from ..version import Version
from . import id_index
from .inputs import json_text
from .schema import BINARY, FALSE_WORDS, FEATURE_RE, RESERVED, TRUE_WORDS, TS_FORMATS

if TYPE_CHECKING:
    from ..workspace import Workspace


log = logging.getLogger("mlmm")


def class_column(col: str, dtype: pl.DataType, *, nullable: bool) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """(value as Int64, bad-row mask, message for bad rows) for a class column given as bool, int, float or text."""
    c = pl.col(col)
    expected = "expected 0/1, true/false or an integer class"
    if dtype == pl.Boolean:
        value = c.cast(pl.Int64)
    elif dtype.is_integer():
        value = c.cast(pl.Int64, strict=False)
    elif dtype.is_float():
        value = pl.when(c.is_finite() & (c == c.round(0))).then(c.cast(pl.Int64, strict=False))
    elif dtype == pl.String or dtype == pl.Categorical:
        text = c.cast(pl.String).str.strip_chars().str.to_lowercase()
        value = (
            pl.when(text.is_in(list(TRUE_WORDS))).then(pl.lit(1, pl.Int64))
            .when(text.is_in(list(FALSE_WORDS))).then(pl.lit(0, pl.Int64))
            .otherwise(pl.coalesce(
                text.cast(pl.Int64, strict=False),
                pl.when(text.cast(pl.Float64, strict=False) == text.cast(pl.Float64, strict=False).round(0))
                .then(text.cast(pl.Float64, strict=False).cast(pl.Int64, strict=False)),
            ))
        )
        value = pl.when(text == "").then(None).otherwise(value)
    elif dtype == pl.Null:
        value = pl.lit(None, pl.Int64)
    else:
        value = pl.lit(None, pl.Int64)
    present = c.is_not_null() if dtype != pl.String else (c.is_not_null() & (c.cast(pl.String).str.strip_chars() != ""))
    mask = present & value.is_null()
    message = pl.format(f"{col}='{{}}': {expected}", c.cast(pl.String, strict=False))
    if not nullable:
        mask = mask | ~present
        message = pl.when(~present).then(pl.lit(f"{col} is missing: {expected}")).otherwise(message)
    return value.alias(col), mask, message


def parse_timestamps(frame: pl.DataFrame, column: str, out: str = "_ts") -> pl.DataFrame:
    """Add ``out``: ``column`` as Datetime(us, UTC), null where it cannot be parsed.

    Datetimes (naive = UTC), dates, epoch seconds and ISO-8601 text are accepted; text in
    other forms goes through Python's parser (rare rows only).
    """
    dtype = frame.schema[column]
    c = pl.col(column)
    if isinstance(dtype, pl.Datetime):
        value = c.dt.replace_time_zone("UTC") if dtype.time_zone is None else c.dt.convert_time_zone("UTC")
        value = value.dt.cast_time_unit("us")
    elif dtype == pl.Date:
        value = c.cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    elif dtype.is_numeric():
        value = (c.cast(pl.Float64) * 1_000_000).cast(pl.Int64, strict=False).cast(pl.Datetime("us", "UTC"))
    elif dtype == pl.String:
        text = c.str.strip_chars()
        # epoch seconds written as text (a CSV column): numbers only, as the docs say
        epoch = pl.when(text.str.contains(r"^-?[0-9]{1,12}(\.[0-9]*)?$")).then(
            (text.cast(pl.Float64, strict=False) * 1_000_000).cast(pl.Int64, strict=False).cast(pl.Datetime("us", "UTC")))
        value = pl.coalesce(
            [text.str.to_datetime(fmt, strict=False, time_zone="UTC", time_unit="us") for fmt in TS_FORMATS] + [epoch]
        )
    else:
        value = pl.lit(None, pl.Datetime("us", "UTC"))
    frame = frame.with_columns(value.alias(out))
    if dtype == pl.String:
        residual = frame.filter(pl.col(out).is_null() & c.is_not_null() & (c.str.strip_chars() != ""))
        if residual.height:
            fixed = _python_timestamps(residual.get_column(column).to_list())
            patch = pl.DataFrame(
                {"_row": residual.get_column("_row"), "_fix": pl.Series(fixed, dtype=pl.Datetime("us", "UTC"))}
            )
            frame = frame.join(patch, on="_row", how="left", maintain_order="left").with_columns(pl.coalesce(out, "_fix").alias(out)).drop("_fix")
    return frame


def _python_timestamps(values: list[Any]) -> list[_dt.datetime | None]:
    out: list[_dt.datetime | None] = []
    for value in values:
        try:
            out.append(to_utc(value))
        except (ValidationError, ValueError, OverflowError, OSError):
            out.append(None)
    return out


def present_expr(column: str, dtype: pl.DataType) -> pl.Expr:
    c = pl.col(column)
    if dtype == pl.String:
        return c.is_not_null() & (c.str.strip_chars() != "")
    return c.is_not_null()


@dataclasses.dataclass(frozen=True)
class Facts:
    """What the registry says about the models of a batch."""

    versions: dict[str, set[str]]  # model -> registered versions
    classes: dict[tuple[str, str], tuple[int, ...]]  # (model, version) -> its classes, when not 0/1
    declared: dict[str, dict[str, pl.DataType]]  # model -> feature -> declared type

    def get(self, model: str, default: Any = None) -> Any:
        return self.versions.get(model, default)


def _class_rule(multi: dict[tuple[str, str], tuple[int, ...]]) -> tuple[Any, pl.Expr]:
    """(value -> in the row's classes, the text of those classes) for rows with ``model_name``
    and the canonical ``_version``: 0/1 unless a version lists its ``classes``."""
    binary_text = pl.lit("0 or 1 (a binary classifier; a model with more classes lists them in its configuration key classes)")

    def _pair(key: tuple[str, str]) -> pl.Expr:
        return (pl.col("model_name") == key[0]) & (pl.col("_version") == key[1])

    def in_classes(value: pl.Expr) -> pl.Expr:
        expr: Any = pl
        for key, classes in multi.items():
            expr = expr.when(_pair(key)).then(value.is_in(list(classes)))
        return expr.otherwise(value.is_in(list(BINARY))) if multi else value.is_in(list(BINARY))

    text: Any = pl
    for key, classes in multi.items():
        text = text.when(_pair(key)).then(pl.lit("one of " + ", ".join(map(str, classes)) + f" (the classes of {key[0]} {key[1]})"))
    return in_classes, text.otherwise(binary_text) if multi else binary_text


def registered_facts(ws: Workspace) -> Facts:
    versions: dict[str, set[str]] = {}
    classes: dict[tuple[str, str], tuple[int, ...]] = {}
    configs: dict[str, list[tuple[Version, dict[str, Any]]]] = {}
    for meta in ws.registry.all_versions(include_deleted=True):
        name, ver = meta.name, str(meta.version)
        versions.setdefault(name, set()).add(ver)
        config = dict(meta.configuration or {})
        if (found := id_index.classes_of(config, name, ver)) != BINARY:
            classes[(name, ver)] = found
        if config.get("feature_types"):
            configs.setdefault(name, []).append((meta.version, config))
    declared = {name: id_index.declared_types([c for _, c in sorted(items, key=lambda x: x[0])], name)
                for name, items in configs.items()}
    return Facts(versions, classes, declared)


def validate_rows(
    ws: Workspace,
    frame: pl.DataFrame,
    *,
    model: str | None,
    strict: bool,
    registered: Facts | None,
    max_future: _dt.timedelta,
    ingest_time: _dt.datetime,
    batch_id: str = "",
    min_time: _dt.datetime | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split ``frame`` into (accepted rows in the log schema, quarantined raw rows + reason).

    A row without a ``prediction_id`` gets ``<batch_id>-<row>``: unique, and the same again
    when the same batch is re-imported after a crash."""
    frame = frame.with_row_index("_row")
    columns = set(frame.columns)
    if model is not None:
        if "model_name" in columns:
            raise ValidationError("model=... given and the data has a model_name column; expected one or the other")
        frame = frame.with_columns(pl.lit(model).alias("model_name"))
        columns.add("model_name")
    for required in ("model_name", "version", "prediction"):
        if required not in columns:
            raise ValidationError(
                f"column {required!r} is missing; expected columns model_name (or model=...), version, prediction"
                f" and optionally timestamp, actual, confidence, prediction_id, features (got {sorted(columns - {'_row'})})"
            )
    features = [c for c in frame.columns if c not in RESERVED and c != "_row"]
    for name in features:
        if not FEATURE_RE.fullmatch(name):
            raise ValidationError(
                f"column {name!r}: expected a feature name of letters, digits and '_' (at most 64, not starting with a digit)"
            )
    for name in ("labeled_at", "ingested_at", "reason", "rule", "date", "batch_id"):
        if name in columns:
            raise ValidationError(f"column {name!r} is reserved by the log; rename it")
    schema = frame.schema
    rules: list[tuple[pl.Expr, pl.Expr, pl.Expr]] = []  # (bad-row mask, message, rule name)

    # model and version: checked per distinct value (few), then joined back as reasons
    frame = frame.with_columns(pl.col("model_name").cast(pl.String), pl.col("version").cast(pl.String))
    pairs = frame.lazy().select("model_name", "version").unique().collect()
    pair_reason: dict[tuple[Any, Any], tuple[str, str]] = {}
    canonical: dict[tuple[Any, Any], str] = {}
    for name, ver in pairs.iter_rows():
        if not is_valid_name(name):
            pair_reason[(name, ver)] = ("bad model_name", f"model_name={name!r}: expected 1-128 letters, digits, '-', '_' or '.'")
            continue
        try:
            parsed = str(Version.parse(ver))
        except ValidationError as exc:
            # the parser's own words: a malformed version, or a part too large for the registry
            pair_reason[(name, ver)] = ("bad version", str(exc))
            continue
        if strict and registered is not None and parsed not in registered.get(name, set()):
            known = ", ".join(sorted(registered.get(name, set()), key=Version.parse)) or "none"
            pair_reason[(name, ver)] = (
                "unregistered version",
                f"version={parsed!r} of model {name!r} is not registered (registered: {known}); register it or pass strict=False",
            )
        else:
            canonical[(name, ver)] = parsed
    if len(canonical) + len(pair_reason) <= 64:
        # few (model, version) pairs, the usual case: a when/then chain beats a join on two strings
        def _match(key: tuple[Any, Any]) -> pl.Expr:
            m = pl.col("model_name").is_null() if key[0] is None else pl.col("model_name") == key[0]
            v = pl.col("version").is_null() if key[1] is None else pl.col("version") == key[1]
            return m & v

        def _chain(values: dict[tuple[Any, Any], Any], dtype: pl.DataType) -> pl.Expr:
            expr: Any = pl
            for key, value in values.items():
                expr = expr.when(_match(key)).then(pl.lit(value, dtype))
            return expr.otherwise(pl.lit(None, dtype)) if values else pl.lit(None, dtype)

        frame = frame.with_columns(
            _chain(canonical, pl.String()).alias("_version"),
            _chain({k: v[0] for k, v in pair_reason.items()}, pl.String()).alias("_pair_rule"),
            _chain({k: v[1] for k, v in pair_reason.items()}, pl.String()).alias("_pair_reason"),
        )
    else:
        lookup = pl.DataFrame(
            {
                "model_name": [k[0] for k in canonical] + [k[0] for k in pair_reason],
                "version": [k[1] for k in canonical] + [k[1] for k in pair_reason],
                "_version": list(canonical.values()) + [None] * len(pair_reason),
                "_pair_rule": [None] * len(canonical) + [v[0] for v in pair_reason.values()],
                "_pair_reason": [None] * len(canonical) + [v[1] for v in pair_reason.values()],
            },
            schema={"model_name": pl.String, "version": pl.String, "_version": pl.String,
                    "_pair_rule": pl.String, "_pair_reason": pl.String},
        )
        frame = frame.join(lookup, on=["model_name", "version"], how="left", nulls_equal=True, maintain_order="left")
    rules.append((pl.col("_pair_reason").is_not_null(), pl.col("_pair_reason"), pl.col("_pair_rule")))

    pred_value, pred_mask, pred_message = class_column("prediction", schema["prediction"], nullable=False)
    rules.append((pred_mask, pred_message, pl.lit("bad prediction")))
    # the classes a version may give: 0/1 unless its configuration lists more (``classes``)
    pairs = {(n, ver) for (n, _), ver in canonical.items()}
    multi = {k: v for k, v in registered.classes.items() if k in pairs} if registered else {}
    in_classes, classes_text = _class_rule(multi)
    rules.append((pred_value.is_not_null() & ~in_classes(pred_value),
                  pl.format("prediction={}: expected {}", pred_value, classes_text), pl.lit("bad prediction")))
    if "actual" in columns:
        act_value, act_mask, act_message = class_column("actual", schema["actual"], nullable=True)
        rules.append((act_mask, act_message, pl.lit("bad actual")))
        rules.append((act_value.is_not_null() & ~in_classes(act_value),
                      pl.format("actual={}: expected {}", act_value, classes_text), pl.lit("bad actual")))
    else:
        act_value = pl.lit(None, pl.Int64).alias("actual")

    if "confidence" in columns:
        cdtype = schema["confidence"]
        c = pl.col("confidence")
        if cdtype == pl.String:
            conf = pl.when(c.str.strip_chars() == "").then(None).otherwise(c.str.strip_chars().cast(pl.Float64, strict=False))
            present = c.is_not_null() & (c.str.strip_chars() != "")
        elif cdtype.is_numeric() or cdtype == pl.Null:
            conf = c.cast(pl.Float64)
            present = c.is_not_null()
        else:
            conf = pl.lit(None, pl.Float64)
            present = c.is_not_null()
        rules.append((
            present & (conf.is_null() | conf.is_nan() | (conf < 0) | (conf > 1)),
            pl.format("confidence={}: expected a number in [0, 1]", c.cast(pl.String, strict=False)),
            pl.lit("confidence out of [0, 1]"),
        ))
        conf_value = conf.alias("confidence")
    else:
        conf_value = pl.lit(None, pl.Float64).alias("confidence")

    if "timestamp" in columns:
        frame = parse_timestamps(frame, "timestamp")
        ts_present = present_expr("timestamp", schema["timestamp"])
        limit = ingest_time + max_future
        rules.append((
            (ts_present & pl.col("_ts").is_null()) | (pl.col("_ts") > pl.lit(limit)),
            pl.when(pl.col("_ts").is_null())
            .then(pl.format("timestamp='{}': expected an ISO-8601 time", pl.col("timestamp").cast(pl.String, strict=False)))
            .otherwise(pl.format(
                f"timestamp={{}}: expected a time before {limit.isoformat(timespec='seconds')} (more than {format_duration(max_future)} in the future)",
                pl.col("_ts").dt.to_string("%Y-%m-%dT%H:%M:%SZ"),
            )),
            pl.lit("bad timestamp"),
        ))
        if min_time is not None:
            rules.append((
                pl.col("_ts") < pl.lit(min_time).dt.cast_time_unit("us"),
                pl.format(f"timestamp={{}}: expected a time after {min_time.isoformat(timespec='seconds')}"
                          " (the workspace's min_timestamp setting)", pl.col("_ts").dt.to_string("%Y-%m-%dT%H:%M:%SZ")),
                pl.lit("bad timestamp"),
            ))
        ts_final = pl.coalesce(pl.col("_ts"), pl.lit(ingest_time).dt.cast_time_unit("us")).alias("timestamp")
    else:
        ts_final = pl.lit(ingest_time).dt.cast_time_unit("us").alias("timestamp")

    if "prediction_id" in columns:
        pid = pl.col("prediction_id").cast(pl.String)
        pid = pl.when(pid.str.strip_chars() == "").then(None).otherwise(pid)
        frame = frame.with_columns(pid.alias("_pid"))
        ids = frame.select(pl.col("_pid").drop_nulls().hash().n_unique().alias("n"), pl.col("_pid").count().alias("c"))
        # distinct 64-bit hashes prove the ids distinct (the usual case, ~10x cheaper than
        # is_first_distinct on the text); a repeat or a hash collision takes the exact check
        duplicate = (pl.lit(False) if ids.item(0, "n") == ids.item(0, "c")
                     else pl.col("_pid").is_not_null() & ~pl.col("_pid").is_first_distinct())
        rules.append((
            duplicate,
            pl.format("prediction_id='{}': appears more than once in this batch", pl.col("_pid")),
            pl.lit("duplicate prediction_id"),
        ))
    else:
        frame = frame.with_columns(pl.lit(None, pl.String).alias("_pid"))

    # masks first (cheap); reason texts only for the rows that failed
    frame = frame.with_columns([mask.fill_null(False).alias(f"_m{i}") for i, (mask, _, _) in enumerate(rules)])
    failed = pl.any_horizontal([pl.col(f"_m{i}") for i in range(len(rules))])
    bad = frame.filter(failed).with_columns(
        pl.concat_str([pl.when(pl.col(f"_m{i}")).then(msg) for i, (_, msg, _) in enumerate(rules)],
                      separator="; ", ignore_nulls=True).alias("_reason"),
        pl.coalesce([pl.when(pl.col(f"_m{i}")).then(rule) for i, (_, _, rule) in enumerate(rules)]).alias("_rule"),
    )
    good = frame.filter(~failed)
    accepted = good.select(
        pl.col("_row"),
        pl.col("model_name"),
        pl.coalesce(pl.col("_pid"), pl.format(f"{batch_id}-{{}}", pl.col("_row"))).alias("prediction_id"),
        pl.col("_version").alias("version"),
        ts_final,
        pred_value,
        act_value,
        conf_value,
        *[_feature_expr(name, schema[name]) for name in features],
    )
    raw_cols = [c for c in schema if c != "_row"]
    quarantined = bad.select(
        pl.col("_row").alias("row"),
        *[pl.col(c).cast(pl.String, strict=False) if not isinstance(schema[c], (pl.List, pl.Struct, pl.Array))
          else pl.col(c).map_elements(json_text, return_dtype=pl.String) for c in raw_cols],
        pl.col("_rule").alias("rule"),
        pl.col("_reason").alias("reason"),
    )
    return accepted, quarantined


def _feature_expr(name: str, dtype: pl.DataType) -> pl.Expr:
    c = pl.col(name)
    if dtype.is_numeric():
        return c.cast(pl.Float64)
    if dtype in (pl.Boolean, pl.String):
        return c
    if dtype == pl.Null:
        return c.cast(pl.String)
    if isinstance(dtype, (pl.List, pl.Struct, pl.Array)):
        return c.map_elements(json_text, return_dtype=pl.String)
    return c.cast(pl.String, strict=False)


def as_quarantined(rows: pl.DataFrame, rule: str, reason: pl.Expr, hide: list[str] | tuple[str, ...] = ()) -> pl.DataFrame:
    """Accepted rows (typed) moved to quarantine: their values as text, with the reason (an
    expression that may use the helper columns ``hide``, which are left out)."""
    return rows.select(
        pl.col("_row").alias("row"),
        *[pl.col(c).cast(pl.String, strict=False) for c in rows.columns if c != "_row" and c not in hide],
        pl.lit(rule).alias("rule"), reason.alias("reason"),
    )


_KIND_TEXT = {pl.Float64(): "a number", pl.Boolean(): "true or false", pl.String(): "text"}


def enforce_types(ws: Workspace, model: str, frame: pl.DataFrame, declared: dict[str, pl.DataType],
                   hashed: set[str], batch_id: str,
                   ) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, tuple[pl.DataType, str]]]:
    """Give each feature column its type (declared in the configuration, else the first
    accepted one, else the one most of this batch's values have); rows with a value that
    cannot be read as that type go to quarantine. Returns (rows, quarantined, new types)."""
    features = [c for c in frame.columns if c not in RESERVED and c not in ("_row", "model_name") and c not in hashed]
    if not features:
        return frame, pl.DataFrame(), {}
    learned = id_index.feature_types(ws, model)
    new: dict[str, tuple[pl.DataType, str]] = {}
    casts: list[pl.Expr] = []
    checks: list[tuple[pl.Expr, pl.Expr]] = []
    for name in features:
        dtype = frame.schema[name]
        if name in declared:
            target, why = declared[name], f"declared in the configuration of {model} (feature_types)"
            if id_index.stored_dtype(learned.get(name, {}).get("type", "")) != target or name not in learned:
                new[name] = (target, "declared in the configuration (feature_types)")
        elif name in learned:
            info = learned[name]
            target = id_index.stored_dtype(info.get("type", "text"))
            why = f"the type of {name} in the log of {model} since {info.get('since', '?')}"
        else:
            if dtype == pl.Null or frame.get_column(name).null_count() == frame.height:
                continue  # nothing to learn from: the first values decide
            target = _infer_type(frame.get_column(name))
            why = "the type most of this batch's values have"
            new[name] = (target, f"first seen in batch {batch_id}")
        value, bad = _cast_feature(name, dtype, target)
        casts.append(value.alias(name))
        if bad is not None:
            checks.append((bad.fill_null(False), pl.format(
                f"{name}='{{}}': expected {_KIND_TEXT.get(target, 'text')} ({why}); leave it empty for a missing value",
                pl.col(name).cast(pl.String, strict=False))))
    if not casts:
        return frame, pl.DataFrame(), new
    if not checks:
        return frame.with_columns(casts), pl.DataFrame(), new
    marked = frame.with_columns([m.alias(f"_b{i}") for i, (m, _) in enumerate(checks)])
    failed = pl.any_horizontal([pl.col(f"_b{i}") for i in range(len(checks))])
    bad_rows = marked.filter(failed)
    quarantined = pl.DataFrame()
    if bad_rows.height:
        reason = pl.concat_str([pl.when(pl.col(f"_b{i}")).then(msg) for i, (_, msg) in enumerate(checks)],
                               separator="; ", ignore_nulls=True)
        quarantined = as_quarantined(bad_rows, "bad feature type", reason,
                                      hide=[f"_b{i}" for i in range(len(checks))])
    good = marked.filter(~failed).drop([f"_b{i}" for i in range(len(checks))])
    return good.with_columns(casts), quarantined, new


def _infer_type(values: pl.Series) -> pl.DataType:
    if values.dtype.is_numeric():
        return pl.Float64()
    if values.dtype == pl.Boolean:
        return pl.Boolean()
    if values.dtype != pl.String:
        return pl.String()
    if values.len() > 20_000:
        # most text columns are plainly text: a sample decides those without parsing every value
        sample = _infer_type(values.gather_every(values.len() // 10_000))
        if sample == pl.String:
            head = values.drop_nulls().head(10_000).str.strip_chars()
            if int(head.cast(pl.Float64, strict=False).is_not_null().sum()) == 0 and \
                    int(head.str.to_lowercase().is_in(["true", "false"]).sum()) == 0:
                return pl.String()
    text = values.str.strip_chars()
    present = int((text.is_not_null() & (text != "")).sum())
    if not present:
        return pl.String()
    numbers = int(text.cast(pl.Float64, strict=False).is_not_null().sum())
    if numbers * 2 >= present:  # at least half are numbers: the others are the odd ones
        return pl.Float64()
    flags = int(text.str.to_lowercase().is_in(["true", "false"]).sum())
    return pl.Boolean() if flags * 2 > present else pl.String()


def _cast_feature(name: str, dtype: pl.DataType, target: pl.DataType) -> tuple[pl.Expr, pl.Expr | None]:
    """(the column as ``target``, mask of values that cannot be read so) — never widening."""
    c = pl.col(name)
    if dtype == target:
        return c, None
    if dtype == pl.Null:
        return c.cast(target), None
    if target == pl.String:
        if isinstance(dtype, (pl.List, pl.Struct, pl.Array)):
            return c.map_elements(json_text, return_dtype=pl.String), None
        if dtype.is_float():  # a whole number reads as the integer it was (404, not 404.0)
            whole = c.is_finite() & (c == c.round(0)) & (c.abs() < 2**53)
            return pl.when(whole).then(c.cast(pl.Int64, strict=False).cast(pl.String)).otherwise(c.cast(pl.String)), None
        return c.cast(pl.String, strict=False), None
    if dtype == pl.String:
        text = c.str.strip_chars()
        present = text.is_not_null() & (text != "")
        if target == pl.Float64:
            value = pl.when(present).then(text.cast(pl.Float64, strict=False))
        else:
            low = text.str.to_lowercase()
            value = pl.when(low.is_in(list(TRUE_WORDS))).then(True).when(low.is_in(list(FALSE_WORDS))).then(False) \
                .otherwise(pl.lit(None, pl.Boolean))
        return value, present & value.is_null()
    if target == pl.Float64 and (dtype.is_numeric() or dtype == pl.Boolean):
        return c.cast(pl.Float64), None
    if target == pl.Boolean and dtype.is_numeric():
        value = pl.when(c == 1).then(True).when(c == 0).then(False).otherwise(pl.lit(None, pl.Boolean))
        return value, c.is_not_null() & value.is_null()
    return pl.lit(None, target), c.is_not_null()
