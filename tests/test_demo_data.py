"""Tests of the synthetic demo month (mlmm.demo.data)."""

from __future__ import annotations

import dataclasses
import datetime as dt

import polars as pl
import pytest

from mlmm.demo.data import MODEL_NAMES, DemoData, DemoEvent, generate

END = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
START = END - dt.timedelta(days=30)
ROWS = 30_000

FEATURES = {
    "n1-detector": {
        "query_count": pl.Float64,
        "distinct_tables": pl.Float64,
        "total_duration_ms": pl.Float64,
        "repeated_query_ratio": pl.Float64,
        "endpoint": pl.String,
    },
    "waf-behavioral": {
        "requests_per_minute": pl.Float64,
        "error_rate": pl.Float64,
        "unique_paths": pl.Float64,
        "payload_entropy": pl.Float64,
        "user_agent_class": pl.String,
    },
    "queue-anomaly": {
        "duration_s": pl.Float64,
        "memory_mb": pl.Float64,
        "retries": pl.Float64,
        "queue_depth": pl.Float64,
        "job_type": pl.String,
    },
}


@pytest.fixture(scope="module")
def data() -> DemoData:
    return generate(7, rows=ROWS, end=END)


def day(offset: float) -> dt.datetime:
    return START + dt.timedelta(days=offset)


def between(frame: pl.DataFrame, first: float, last: float) -> pl.DataFrame:
    return frame.filter(pl.col("timestamp").is_between(day(first), day(last), closed="left"))


def with_labels(data: DemoData, model: str) -> pl.DataFrame:
    """Predictions joined to their latest label (corrections win)."""
    latest = data.labels[model].sort("labeled_at").group_by("prediction_id").agg(pl.col("actual").last())
    return data.predictions[model].join(latest, on="prediction_id", how="inner")


def accuracy(frame: pl.DataFrame) -> float:
    return float((frame["prediction"] == frame["actual"]).mean())


def precision_recall(frame: pl.DataFrame) -> tuple[float, float]:
    tp = frame.filter((pl.col("prediction") == 1) & (pl.col("actual") == 1)).height
    return tp / frame["prediction"].sum(), tp / frame["actual"].sum()


def prediction_schema(model: str) -> pl.Schema:
    return pl.Schema(
        {
            "prediction_id": pl.String,
            "version": pl.String,
            "timestamp": pl.Datetime("us", "UTC"),
            "prediction": pl.Int64,
            "confidence": pl.Float64,
            **FEATURES[model],
        }
    )


def hours(moment: dt.datetime) -> float:
    return (moment - START) / dt.timedelta(hours=1)


# --------------------------------------------------------------------------- determinism and size


def test_default_volume_is_deterministic_and_seeded() -> None:
    first, second = generate(end=END), generate(end=END)
    assert {m: f.height for m, f in first.predictions.items()} == {
        "n1-detector": 45_000,
        "waf-behavioral": 180_000,
        "queue-anomaly": 18_000,
    }
    for model in MODEL_NAMES:
        assert first.predictions[model].equals(second.predictions[model])
        assert first.labels[model].equals(second.labels[model])
    assert first.malformed.equals(second.malformed)
    assert first.events == second.events
    assert first.versions == second.versions
    assert first.episodes == second.episodes

    other = generate(43, rows=3_000, end=END)
    same = generate(42, rows=3_000, end=END)
    assert not other.predictions["waf-behavioral"].equals(same.predictions["waf-behavioral"])


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        (0, [0, 0, 0]),
        (1, [0, 1, 0]),
        (5, [1, 4, 0]),
        (ROWS, [5_556, 22_222, 2_222]),
        (100_003, [18_519, 74_076, 7_408]),
    ],
)
def test_rows_are_split_proportionally_and_add_up_exactly(rows: int, expected: list[int]) -> None:
    generated = generate(1, rows=rows, end=END)
    counts = [generated.predictions[m].height for m in MODEL_NAMES]
    assert counts == expected
    assert sum(counts) == rows


def test_default_end_is_the_current_utc_hour() -> None:
    before = dt.datetime.now(dt.UTC)
    generated = generate(rows=30)
    assert generated.end.tzinfo == dt.UTC
    assert (generated.end.minute, generated.end.second, generated.end.microsecond) == (0, 0, 0)
    assert before - dt.timedelta(hours=1) < generated.end <= before
    assert generated.end - generated.start == dt.timedelta(days=30)


def test_end_in_another_zone_is_converted_to_utc() -> None:
    plus_two = dt.timezone(dt.timedelta(hours=2))
    generated = generate(rows=30, end=dt.datetime(2026, 3, 1, 2, tzinfo=plus_two))
    assert generated.end == END
    assert generated.end.tzinfo == dt.UTC
    assert generated.start == START


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rows": -1}, "rows=-1: expected None or a non-negative integer"),
        ({"rows": 2.5}, "rows=2.5: expected None or a non-negative integer"),
        ({"days": 0}, "days=0: expected a positive integer"),
        ({"end": dt.datetime(2026, 3, 1)}, "end=datetime.datetime(2026, 3, 1, 0, 0): expected an aware datetime (UTC)"),
        ({"seed": -3}, "seed=-3: expected a non-negative integer"),
    ],
)
def test_bad_arguments_are_refused_with_the_field_and_value(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError) as info:
        generate(**kwargs)
    assert str(info.value) == message


# --------------------------------------------------------------------------- frames


def test_prediction_frames_have_the_exact_columns_and_dtypes(data: DemoData) -> None:
    assert list(data.predictions) == list(MODEL_NAMES)
    for model in FEATURES:
        assert data.predictions[model].schema == prediction_schema(model)
        assert data.predictions[model].null_count().sum_horizontal().item() == 0
        assert data.labels[model].schema == pl.Schema(
            {"prediction_id": pl.String, "actual": pl.Int64, "labeled_at": pl.Datetime("us", "UTC")}
        )


def test_empty_frames_keep_their_schema() -> None:
    generated = generate(rows=0, end=END)
    assert generated.predictions["queue-anomaly"].schema == prediction_schema("queue-anomaly")
    assert generated.labels["queue-anomaly"].height == 0
    assert generated.malformed.height == 20


def test_prediction_ids_are_unique_across_models(data: DemoData) -> None:
    ids = pl.concat([frame["prediction_id"] for frame in data.predictions.values()])
    assert ids.n_unique() == ROWS
    assert data.predictions["n1-detector"]["prediction_id"][:2].to_list() == ["n1-00000000", "n1-00000001"]
    assert data.predictions["waf-behavioral"]["prediction_id"][-1] == "waf-00022221"
    assert data.predictions["queue-anomaly"]["prediction_id"][-1] == "queue-00002221"
    assert not set(data.malformed["prediction_id"]) & set(ids)


def test_prediction_is_confidence_at_the_version_threshold(data: DemoData) -> None:
    thresholds = pl.DataFrame(
        {
            "model": [v.model_name for v in data.versions],
            "version": [v.version for v in data.versions],
            "threshold": [float(v.config["threshold"]) for v in data.versions],
        }
    )
    assert thresholds.rows() == [
        ("n1-detector", "1.0.0", 0.7),
        ("n1-detector", "1.1.0", 0.75),
        ("waf-behavioral", "2.0.0", 0.7),
        ("waf-behavioral", "2.1.0", 0.7),
        ("queue-anomaly", "1.2.0", 0.6),
        ("queue-anomaly", "1.3.0", 0.55),
    ]
    for model, frame in data.predictions.items():
        joined = frame.join(thresholds.filter(pl.col("model") == model), on="version", how="left")
        assert joined["threshold"].null_count() == 0
        assert joined["confidence"].is_between(0.0, 1.0).all()
        assert (joined["prediction"] == (joined["confidence"] >= joined["threshold"]).cast(pl.Int64)).all()


def test_timestamps_are_sorted_inside_the_window_and_busier_by_day(data: DemoData) -> None:
    for frame in data.predictions.values():
        stamps = frame["timestamp"]
        assert stamps.is_sorted()
        assert stamps.min() >= START
        assert stamps.max() < END
    hour = data.predictions["waf-behavioral"]["timestamp"].dt.hour()
    afternoon = hour.is_between(12, 15).sum()  # 12:00-16:00 UTC, around the 14:00 peak
    night = hour.is_between(0, 3).sum()  # 00:00-04:00 UTC, around the 02:00 trough
    assert afternoon / night > 2.5


# --------------------------------------------------------------------------- versions and events


def test_versions_carry_configs_metrics_and_tags(data: DemoData) -> None:
    assert [(v.model_name, v.version) for v in data.versions] == [
        ("n1-detector", "1.0.0"),
        ("n1-detector", "1.1.0"),
        ("waf-behavioral", "2.0.0"),
        ("waf-behavioral", "2.1.0"),
        ("queue-anomaly", "1.2.0"),
        ("queue-anomaly", "1.3.0"),
    ]
    assert data.version("queue-anomaly", "1.2.0").config == {
        "threshold": 0.6,
        "zscore_threshold": 3.0,
        "iqr_multiplier": 1.5,
        "window_size": 100,
    }
    assert data.version("n1-detector", "1.0.0").metrics == {
        "accuracy": 0.9,
        "precision": 0.6316,
        "recall": 0.8,
        "f1_score": 0.7059,
    }
    accuracy_of = {(v.model_name, v.version): v.metrics["accuracy"] for v in data.versions}
    assert accuracy_of == {
        ("n1-detector", "1.0.0"): 0.9,
        ("n1-detector", "1.1.0"): 0.93,
        ("waf-behavioral", "2.0.0"): 0.93,
        ("waf-behavioral", "2.1.0"): 0.945,
        ("queue-anomaly", "1.2.0"): 0.85,
        ("queue-anomaly", "1.3.0"): 0.8,
    }
    for version in data.versions:
        assert set(version.tags) == {"team", "framework"}
        assert version.description.endswith(".")
        metrics = version.metrics
        p, r = metrics["precision"], metrics["recall"]
        assert metrics["f1_score"] == pytest.approx(2 * p * r / (p + r), abs=1e-4)
    first_versions = [data.version(m, v) for m, v in [("n1-detector", "1.0.0"), ("waf-behavioral", "2.0.0"), ("queue-anomaly", "1.2.0")]]
    assert all(v.registered_at <= data.start for v in first_versions)
    assert hours(data.version("n1-detector", "1.1.0").registered_at) == 9 * 24 + 2


def test_events_tell_the_rollout_story(data: DemoData) -> None:
    assert [e.at for e in data.events] == sorted(e.at for e in data.events)
    in_window = [
        (hours(e.at), e.model_name, e.version, e.environment, e.action, e.traffic_share)
        for e in data.events
        if e.at >= data.start
    ]
    assert in_window == [
        (221.0, "n1-detector", "1.1.0", "staging", "deploy", None),
        (255.0, "waf-behavioral", "2.1.0", "staging", "deploy", None),
        (273.0, "n1-detector", "1.1.0", "production", "traffic", 0.1),
        (278.0, "queue-anomaly", "1.3.0", "staging", "deploy", None),
        (297.0, "n1-detector", "1.1.0", "production", "traffic", 0.25),
        (298.0, "waf-behavioral", "2.1.0", "production", "traffic", 0.1),
        (299.0, "queue-anomaly", "1.3.0", "production", "traffic", 0.1),
        (321.0, "n1-detector", "1.1.0", "production", "traffic", 0.5),
        (322.0, "waf-behavioral", "2.1.0", "production", "traffic", 0.25),
        (345.0, "n1-detector", "1.1.0", "production", "traffic", 0.75),
        (345.0, "queue-anomaly", "1.2.0", "production", "rollback", None),
        (346.0, "waf-behavioral", "2.1.0", "production", "traffic", 0.5),
        (369.0, "n1-detector", "1.1.0", "production", "traffic", 1.0),
        (370.0, "waf-behavioral", "2.1.0", "production", "traffic", 0.75),
        (374.0, "n1-detector", "1.1.0", "production", "approve", None),
        (375.0, "n1-detector", "1.1.0", "production", "deploy", None),
        (394.0, "waf-behavioral", "2.1.0", "production", "traffic", 1.0),
        (397.0, "waf-behavioral", "2.1.0", "production", "approve", None),
        (398.0, "waf-behavioral", "2.1.0", "production", "deploy", None),
    ]
    traffic = [e for e in data.events if e.action == "traffic" and e.model_name == "n1-detector"]
    assert traffic[1].reason == "canary step 2/5: 25% of production traffic to 1.1.0"
    rollback = next(e for e in data.events if e.action == "rollback")
    assert "1.3.0" in rollback.reason and rollback.actor == "dave"


def test_every_production_deploy_follows_an_approval_by_someone_else(data: DemoData) -> None:
    deploys = [e for e in data.events if e.action == "deploy" and e.environment == "production"]
    assert len(deploys) == 5
    for deploy in deploys:
        earlier = [
            e for e in data.events
            if e.at < deploy.at and (e.model_name, e.version, e.environment) == (deploy.model_name, deploy.version, "production")
        ]
        assert earlier[-1].action == "approve"
        assert earlier[-1].actor != deploy.actor
        assert (earlier[-1].actor, deploy.actor) == ("alice", "ci-pipeline")
    assert {e.action for e in data.events} == {"deploy", "approve", "traffic", "rollback"}
    assert {e.environment for e in data.events} == {"staging", "production"}
    assert all((e.traffic_share is None) == (e.action != "traffic") for e in data.events)


@pytest.mark.parametrize(
    ("model", "new", "first_step", "tolerance"),
    [
        ("waf-behavioral", "2.1.0", 12 + 10 / 24, 0.05),  # about 700 rows a day at ROWS
        ("n1-detector", "1.1.0", 11 + 9 / 24, 0.08),  # about 180 rows a day
    ],
)
def test_version_traffic_follows_the_canary_steps(
    data: DemoData, model: str, new: str, first_step: float, tolerance: float
) -> None:
    frame = data.predictions[model]
    shares = [0.10, 0.25, 0.50, 0.75]
    assert (between(frame, 0, first_step)["version"] != new).all()
    for step, share in enumerate(shares):
        window = between(frame, first_step + step, first_step + step + 1)
        assert float((window["version"] == new).mean()) == pytest.approx(share, abs=tolerance)
    assert (between(frame, first_step + len(shares), 30)["version"] == new).all()


def test_queue_canary_is_rolled_back(data: DemoData) -> None:
    frame = data.predictions["queue-anomaly"]
    canary = between(frame, 12 + 11 / 24, 14 + 9 / 24)
    assert float((canary["version"] == "1.3.0").mean()) == pytest.approx(0.10, abs=0.04)
    assert between(frame, 0, 12 + 11 / 24)["version"].unique().to_list() == ["1.2.0"]
    assert between(frame, 14 + 9 / 24, 30)["version"].unique().to_list() == ["1.2.0"]


# --------------------------------------------------------------------------- labels


def test_labels_arrive_late_and_never_after_end(data: DemoData) -> None:
    for model, frame in data.predictions.items():
        labels = data.labels[model]
        assert labels["labeled_at"].is_sorted()
        assert labels["labeled_at"].max() < END
        first = labels.group_by("prediction_id").agg(pl.col("labeled_at").min(), pl.len().alias("count"))
        joined = frame.join(first, on="prediction_id", how="left")
        assert joined.filter(pl.col("labeled_at") <= pl.col("timestamp")).height == 0
        old = joined.filter(pl.col("timestamp") < END - dt.timedelta(days=1))
        within_day = (old["labeled_at"] - old["timestamp"] < dt.timedelta(days=1)).fill_null(False).mean()
        assert within_day == pytest.approx(0.70, abs=0.025)
        settled = joined.filter(pl.col("timestamp") < END - dt.timedelta(days=15))
        assert settled["labeled_at"].is_not_null().mean() == pytest.approx(0.88, abs=0.025)
        assert first["count"].max() == 2
    recent = pl.concat(
        [
            frame.filter(pl.col("timestamp") >= END - dt.timedelta(hours=6)).select(
                pl.col("prediction_id").is_in(data.labels[model]["prediction_id"].implode()).alias("labelled")
            )
            for model, frame in data.predictions.items()
        ]
    )
    assert recent.height == 173
    assert recent["labelled"].mean() < 0.45  # the last hours are mostly unlabelled (0.70 after a day)


def test_corrections_flip_the_first_label_later(data: DemoData) -> None:
    labels = pl.concat(list(data.labels.values()))
    twice = (
        labels.sort("labeled_at")
        .group_by("prediction_id")
        .agg(pl.col("actual"), pl.col("labeled_at"))
        .filter(pl.col("actual").list.len() == 2)
    )
    assert twice.height / ROWS == pytest.approx(0.005, abs=0.002)
    assert (twice["actual"].list.get(0) != twice["actual"].list.get(1)).all()
    assert (twice["labeled_at"].list.get(0) < twice["labeled_at"].list.get(1)).all()


# --------------------------------------------------------------------------- quality and drift


@pytest.mark.parametrize(
    ("model", "version", "first", "last"),
    [
        ("n1-detector", "1.0.0", 0, 11),
        ("n1-detector", "1.1.0", 15.7, 30),
        ("waf-behavioral", "2.1.0", 16.6, 21),
        ("queue-anomaly", "1.2.0", 0, 22),
    ],
)
def test_live_metrics_match_the_offline_baseline_before_drift(
    data: DemoData, model: str, version: str, first: float, last: float
) -> None:
    live = between(with_labels(data, model), first, last).filter(pl.col("version") == version)
    baseline = data.version(model, version).metrics
    assert accuracy(live) == pytest.approx(baseline["accuracy"], abs=0.02)
    precision, recall = precision_recall(live)
    assert precision == pytest.approx(baseline["precision"], abs=0.06)
    assert recall == pytest.approx(baseline["recall"], abs=0.06)


def test_base_rates(data: DemoData) -> None:
    rates = {m: float(between(with_labels(data, m), 0, 20)["actual"].mean()) for m in MODEL_NAMES}
    assert rates == pytest.approx({"n1-detector": 0.15, "waf-behavioral": 0.06, "queue-anomaly": 0.08}, abs=0.015)


def test_n1_release_is_better_than_the_one_it_replaces(data: DemoData) -> None:
    live = with_labels(data, "n1-detector")
    old = accuracy(between(live, 0, 11))
    new = accuracy(between(live, 15.7, 30))
    assert new - old > 0.015


def test_waf_concept_drift_lowers_accuracy_then_partly_recovers(data: DemoData) -> None:
    episode = next(e for e in data.episodes if e.kind == "concept_drift")
    assert (episode.model_name, episode.feature) == ("waf-behavioral", None)
    assert (hours(episode.start), hours(episode.end)) == (21 * 24, 26 * 24)
    live = with_labels(data, "waf-behavioral").filter(pl.col("version") == "2.1.0")
    before = accuracy(between(live, 16.6, 21))
    during = accuracy(between(live, 21.5, 26))
    after = accuracy(between(live, 26.5, 30))
    assert before == pytest.approx(0.945, abs=0.02)
    assert during == pytest.approx(0.82, abs=0.025)
    assert during < after < before - 0.02
    # the label mechanism changed, not the inputs: the score distribution barely moves
    scores_before = between(live, 16.6, 21)["confidence"].median()
    scores_during = between(live, 21.5, 26)["confidence"].median()
    assert scores_during == pytest.approx(scores_before, abs=0.05)


def test_queue_feature_shift_moves_duration_and_job_mix(data: DemoData) -> None:
    episodes = [e for e in data.episodes if e.kind == "feature_shift"]
    assert [(e.model_name, e.feature) for e in episodes] == [("queue-anomaly", "duration_s"), ("queue-anomaly", "job_type")]
    assert all(hours(e.start) == 22 * 24 and e.end == END for e in episodes)
    frame = data.predictions["queue-anomaly"]
    before, after = between(frame, 0, 22), between(frame, 22, 30)
    medians = (
        before.group_by("job_type").agg(pl.col("duration_s").median().alias("before"))
        .join(after.group_by("job_type").agg(pl.col("duration_s").median().alias("after")), on="job_type")
    )
    ratio = medians["after"] / medians["before"]
    assert ratio.min() > 1.4 and ratio.max() < 1.8
    email_share = [float((part["job_type"] == "email").mean()) for part in (before, after)]
    import_share = [float((part["job_type"] == "import").mean()) for part in (before, after)]
    assert email_share == pytest.approx([0.40, 0.25], abs=0.03)
    assert import_share == pytest.approx([0.15, 0.25], abs=0.03)
    # what makes a job anomalous did not change
    rates = [float(with_labels(data, "queue-anomaly").pipe(between, a, b)["actual"].mean()) for a, b in [(0, 22), (22, 30)]]
    assert rates[1] == pytest.approx(rates[0], abs=0.02)


def test_queue_anomalies_are_abnormal_for_their_job_type(data: DemoData) -> None:
    jobs = between(with_labels(data, "queue-anomaly"), 0, 22).with_columns(
        (pl.col("duration_s") / pl.col("duration_s").median().over("job_type")).alias("slow"),
        (pl.col("memory_mb") / pl.col("memory_mb").median().over("job_type")).alias("heavy"),
    )
    abnormal = (pl.max_horizontal("slow", "heavy") > 2.5).alias("abnormal")
    share = dict(jobs.group_by("actual").agg(abnormal.mean()).sort("actual").rows())
    assert share[1] > 0.85
    assert share[0] < 0.01


# --------------------------------------------------------------------------- malformed rows


def test_malformed_rows_are_each_broken_in_exactly_one_way(data: DemoData) -> None:
    bad = data.malformed
    assert bad.schema == pl.Schema(
        dict.fromkeys(["model_name", "version", "timestamp", "prediction", "confidence", "prediction_id", "problem"], pl.String)
    )
    assert bad.height == 20
    assert bad["prediction_id"].n_unique() == 20
    assert bad["problem"].value_counts().sort("problem").rows() == [
        ("confidence_above_one", 3),
        ("confidence_below_zero", 3),
        ("model_name_unsafe", 2),
        ("prediction_missing", 2),
        ("prediction_not_binary", 2),
        ("timestamp_in_future", 3),
        ("timestamp_unparseable", 3),
        ("version_unknown", 2),
    ]
    registered = {(v.model_name, v.version): float(v.config["threshold"]) for v in data.versions}
    for row in bad.iter_rows(named=True):
        problem = row["problem"]
        defects = []
        if row["model_name"] not in MODEL_NAMES:
            defects.append(("model_name_unsafe", row["model_name"] == "../etc"))
        elif (row["model_name"], row["version"]) not in registered:
            defects.append(("version_unknown", row["version"] == "9.9.9"))
        try:
            stamp = dt.datetime.fromisoformat(row["timestamp"])
        except ValueError:
            defects.append(("timestamp_unparseable", row["timestamp"] == "not-a-time"))
        else:
            if not START <= stamp < END:
                defects.append(("timestamp_in_future", stamp.year == 2099))
        confidence = float(row["confidence"])
        if not 0.0 <= confidence <= 1.0:
            kind = "confidence_above_one" if confidence > 1 else "confidence_below_zero"
            defects.append((kind, confidence in (1.7, -0.2)))
        if row["prediction"] is None:
            defects.append(("prediction_missing", True))
        elif row["prediction"] not in ("0", "1"):
            defects.append(("prediction_not_binary", row["prediction"] == "maybe"))
        elif problem != "version_unknown" and problem != "model_name_unsafe":
            threshold = registered[row["model_name"], row["version"]]
            assert row["prediction"] == str(int(confidence >= threshold))
        assert defects == [(problem, True)], row


# --------------------------------------------------------------------------- values


def test_values_are_frozen_and_turn_into_dicts(data: DemoData) -> None:
    event = data.events[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.actor = "mallory"  # type: ignore[misc]
    assert event.to_dict() == {
        "at": event.at,
        "model_name": "waf-behavioral",
        "version": "2.0.0",
        "environment": "staging",
        "action": "deploy",
        "actor": "carol",
        "reason": "replay of last month's traffic",
        "traffic_share": None,
    }
    assert DemoEvent(END, "m", "1", "production", "deploy", "ci", "r").traffic_share is None
    assert set(data.versions[0].to_dict()) == {"model_name", "version", "registered_at", "config", "metrics", "description", "tags"}
    assert set(data.episodes[0].to_dict()) == {"model_name", "kind", "start", "end", "feature", "description"}
    summary = data.to_dict()
    assert summary["prediction_rows"] == {"n1-detector": 5_556, "waf-behavioral": 22_222, "queue-anomaly": 2_222}
    assert summary["malformed_rows"] == 20
    assert len(summary["events"]) == len(data.events) == 28
    assert repr(data).startswith("DemoData(seed=7, 2026-01-30 00:00 to 2026-03-01 00:00 UTC, predictions: n1-detector=5,556")
    assert repr(data.events[-1]) == "DemoEvent(2026-02-15 14:00 deploy waf-behavioral 2.1.0 -> production by ci-pipeline)"


def test_a_shorter_window_scales_the_story() -> None:
    week = generate(rows=2_000, days=7, end=END)
    assert week.start == END - dt.timedelta(days=7)
    rollback = next(e for e in week.events if e.action == "rollback")
    assert rollback.at == week.start + dt.timedelta(minutes=round((14 + 9 / 24) * 7 / 30 * 1440))
    assert all(e.start < e.end <= END for e in week.episodes)
    assert sum(f.height for f in week.predictions.values()) == 2_000
