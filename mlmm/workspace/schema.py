"""The registry file's schema: the forward-only migrations of every feature's tables, run in order
when the registry file is opened (the model registry's own tables are declared beside their queries,
in :mod:`mlmm.registry.store`)."""

from __future__ import annotations

import logging
from pathlib import Path

import duckdb

from .._util import naive_utc, now
from ..errors import WorkspaceError
from ..registry.store import REGISTRY_TABLES

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "check_schema", "check_read_only_schema", "migrate"]

log = logging.getLogger("mlmm")

# Forward-only migrations: (version, description, statements). Never edit a released entry;
# append a new one. Each runs in one transaction together with its schema_version row.
MIGRATIONS: list[tuple[int, str, list[str]]] = [
    (
        1,
        "registry: versions, append-only events, settings",
        [
            *REGISTRY_TABLES,  # versions, events, registry_info: mlmm.registry.store
            """CREATE TABLE settings (
                seq BIGINT PRIMARY KEY DEFAULT nextval('event_seq'),
                ts TIMESTAMP NOT NULL,
                key VARCHAR NOT NULL,
                value VARCHAR NOT NULL,
                actor VARCHAR NOT NULL,
                reason VARCHAR)""",
        ],
    ),
    (
        2,
        "alerts: append-only alert log (raised, worsened, acknowledged, resolved, cleared, notified)",
        [
            """CREATE TABLE alerts (
                seq BIGINT PRIMARY KEY DEFAULT nextval('event_seq'),
                ts TIMESTAMP NOT NULL,
                alert_id VARCHAR NOT NULL,
                event VARCHAR NOT NULL,
                model_name VARCHAR NOT NULL,
                version VARCHAR,
                rule VARCHAR NOT NULL,
                severity VARCHAR NOT NULL,
                value DOUBLE,
                threshold DOUBLE,
                message VARCHAR,
                actor VARCHAR NOT NULL,
                reason VARCHAR,
                details VARCHAR)""",
            "CREATE INDEX alerts_id ON alerts (alert_id)",
        ],
    ),
    (
        3,
        "feature drift: stored references (sketches) and per-column check results",
        [
            """CREATE TABLE drift_references (
                seq BIGINT PRIMARY KEY DEFAULT nextval('event_seq'),
                ts TIMESTAMP NOT NULL,
                reference_id VARCHAR NOT NULL,
                model_name VARCHAR NOT NULL,
                version VARCHAR,
                source VARCHAR NOT NULL,
                n_rows BIGINT NOT NULL,
                columns VARCHAR NOT NULL,
                sketch VARCHAR NOT NULL,
                sample_path VARCHAR,
                actor VARCHAR NOT NULL,
                reason VARCHAR)""",
            """CREATE TABLE drift_results (
                seq BIGINT PRIMARY KEY DEFAULT nextval('event_seq'),
                ts TIMESTAMP NOT NULL,
                check_id VARCHAR NOT NULL,
                model_name VARCHAR NOT NULL,
                version VARCHAR,
                reference VARCHAR NOT NULL,
                window_label VARCHAR NOT NULL,
                window_since TIMESTAMP,
                window_until TIMESTAMP,
                column_name VARCHAR NOT NULL,
                test VARCHAR,
                statistic DOUBLE,
                p_value DOUBLE,
                threshold DOUBLE,
                drifted BOOLEAN,
                dataset_drift BOOLEAN NOT NULL,
                drifted_share DOUBLE,
                actor VARCHAR NOT NULL)""",
            "CREATE INDEX drift_results_model ON drift_results (model_name)",
        ],
    ),
    (
        4,
        "A/B tests: append-only lifecycle events (created, started, stopped, decided)",
        [
            """CREATE TABLE ab_tests (
                seq BIGINT PRIMARY KEY DEFAULT nextval('event_seq'),
                ts TIMESTAMP NOT NULL,
                test_id VARCHAR NOT NULL,
                event VARCHAR NOT NULL,
                model_name VARCHAR NOT NULL,
                config VARCHAR,
                status VARCHAR NOT NULL,
                decision VARCHAR,
                actor VARCHAR NOT NULL,
                reason VARCHAR,
                details VARCHAR)""",
            "CREATE INDEX ab_tests_id ON ab_tests (test_id)",
        ],
    ),
    (
        5,
        "tuning runs: threshold sweeps and grid searches with their tables and what was applied",
        [
            """CREATE TABLE tuning_runs (
                seq BIGINT PRIMARY KEY DEFAULT nextval('event_seq'),
                ts TIMESTAMP NOT NULL,
                run_id VARCHAR NOT NULL,
                model_name VARCHAR NOT NULL,
                version VARCHAR,
                kind VARCHAR NOT NULL,
                objective VARCHAR NOT NULL,
                current VARCHAR,
                best VARCHAR,
                improvement DOUBLE,
                improvement_low DOUBLE,
                improvement_high DOUBLE,
                clears_minimum BOOLEAN,
                applied BOOLEAN NOT NULL,
                summary VARCHAR NOT NULL,
                result_table VARCHAR NOT NULL,
                actor VARCHAR NOT NULL,
                reason VARCHAR)""",
        ],
    ),
    (
        6,
        "report runs: notebook, parameters, status, duration, decision, where the report is",
        [
            """CREATE TABLE report_runs (
                seq BIGINT PRIMARY KEY DEFAULT nextval('event_seq'),
                ts TIMESTAMP NOT NULL,
                run_id VARCHAR NOT NULL,
                job VARCHAR,
                notebook VARCHAR NOT NULL,
                parameters VARCHAR NOT NULL,
                status VARCHAR NOT NULL,
                seconds DOUBLE NOT NULL,
                decision VARCHAR,
                reason VARCHAR,
                path VARCHAR NOT NULL,
                actor VARCHAR NOT NULL,
                error VARCHAR)""",
        ],
    ),
    (
        7,
        "schedule runs: each scheduled job's start and finish (append-only)",
        [
            """CREATE TABLE schedule_runs (
                seq BIGINT PRIMARY KEY DEFAULT nextval('event_seq'),
                ts TIMESTAMP NOT NULL,
                run_id VARCHAR NOT NULL,
                job VARCHAR NOT NULL,
                event VARCHAR NOT NULL,
                status VARCHAR,
                seconds DOUBLE,
                detail VARCHAR,
                host VARCHAR,
                pid INTEGER)""",
        ],
    ),
]
SCHEMA_VERSION = MIGRATIONS[-1][0]


def check_schema(con: duckdb.DuckDBPyConnection, path: Path) -> int:
    """The registry's schema version; raises when it is newer than this code knows."""
    current = con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0]
    if current > SCHEMA_VERSION:
        raise WorkspaceError(
            f"registry={path}: schema version {current} is newer than this mlmm understands "
            f"({SCHEMA_VERSION}); expected an mlmm release that knows it (upgrade mlmm)"
        )
    return current


def check_read_only_schema(con: duckdb.DuckDBPyConnection, path: Path, reason: str) -> None:
    """A registry opened read-only cannot be migrated: it must already be current."""
    try:
        current = check_schema(con, path)
    except duckdb.CatalogException:  # an empty file: no schema_version table
        current = 0
    if current < SCHEMA_VERSION:
        raise WorkspaceError(
            f"workspace {path.parent} is read-only ({reason}) and its registry has schema version {current},"
            f" older than this mlmm's {SCHEMA_VERSION}; expected it migrated once by someone who may write it"
            " (they open it with this mlmm), or the mlmm release that wrote it"
        )


def migrate(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    con.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at TIMESTAMP, description VARCHAR)")
    current = check_schema(con, path)
    for version, description, statements in MIGRATIONS:
        if version <= current:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            for statement in statements:
                con.execute(statement)
            con.execute(
                "INSERT INTO schema_version VALUES (?, ?, ?)", [version, naive_utc(now()), description]
            )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        log.info("migrated %s to schema version %d (%s)", path, version, description)
