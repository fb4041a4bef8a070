"""The prediction log: one prediction at a time from serving code, bulk imports, late labels.

Layout (hive-partitioned Parquet, every file immutable)::

    predictions/model_name=<m>/date=<YYYY-MM-DD>/part-<batch>.parquet
    labels/model_name=<m>/part-<batch>.parquet
    quarantine/date=<YYYY-MM-DD>/part-<batch>.parquet
    imports/<batch>.json

Files are written under a hidden temporary name and renamed into place, so a reader never
sees half a file and any number of processes may append at once. On object storage
(``s3://``, see :mod:`mlmm._storage`) each file is one upload under a name nobody else
writes: an object appears whole or not at all, with no rename. A bulk import commits by
writing ``imports/<batch>.json`` last; its part files have deterministic names, so a re-run
after a crash (even ``kill -9``) replaces what the first run left and imports exactly once.

Columns of the log: ``prediction_id`` (String), ``version`` (String), ``timestamp``
(Datetime UTC), ``prediction`` (Int64 class: 0/1 for binary classifiers), ``actual``
(Int64 or null), ``confidence`` (Float64 in [0, 1]: the model's probability for the positive
class), ``batch_id`` and any feature columns (numbers as Float64, text as String, flags as
Boolean). ``model_name`` and ``date`` come from the directory names.

Rows that fail validation are never dropped: they go to ``quarantine/`` with the reason,
and every call returns a summary of what was accepted and what was not.


Modules: :mod:`~mlmm.predictions.schema` (columns), :mod:`~mlmm.predictions.layout` (files and
folders), :mod:`~mlmm.predictions.batches` (the commit protocol of an import),
:mod:`~mlmm.predictions.id_index` (the prediction-id index), :mod:`~mlmm.predictions.inputs`,
:mod:`~mlmm.predictions.validate`, :mod:`~mlmm.predictions.ingest`, :mod:`~mlmm.predictions.labels`,
:mod:`~mlmm.predictions.tracker`, :mod:`~mlmm.predictions.read` (the one label join),
:mod:`~mlmm.predictions.sql` and :mod:`~mlmm.predictions.maintenance`.
"""

from __future__ import annotations

from .ingest import ImportSummary, anonymize_rules, log_predictions, set_anonymize
from .labels import LabelSummary, log_labels
from .layout import day_files, label_files, prediction_files
from .maintenance import MaintenanceSummary, cleanup, compact, stats
from .read import read_labels, read_predictions, read_quarantine, refresh_labelled
from .schema import BASE_SCHEMA, HIVE_SCHEMA, LABEL_SCHEMA
from .sql import sql
from .tracker import PredictionTracker

__all__ = [
    "ImportSummary",
    "LabelSummary",
    "MaintenanceSummary",
    "PredictionTracker",
    "log_predictions",
    "log_labels",
    "read_predictions",
    "read_labels",
    "read_quarantine",
    "refresh_labelled",
    "prediction_files",
    "label_files",
    "day_files",
    "sql",
    "stats",
    "cleanup",
    "compact",
    "anonymize_rules",
    "set_anonymize",
    "BASE_SCHEMA",
    "HIVE_SCHEMA",
    "LABEL_SCHEMA",
]
