"""mlmm: a Jupyter-first workbench for managing classifiers in production.

>>> import mlmm, tempfile
>>> ws = mlmm.open_workspace(tempfile.mkdtemp())
>>> str(ws.registry.register("n1-detector", "1.0.0", preset="n1-detector").version)
'1.0.0'
"""

from __future__ import annotations

import logging

from . import predictions, reports
from ._util import to_utc
from .errors import (
    ApprovalRequiredError,
    ConflictError,
    MlmmError,
    NotFoundError,
    ValidationError,
    WorkspaceError,
    WorkspaceLockedError,
)
from .predictions import PredictionTracker, log_labels, log_predictions
from .registry import ModelMetadata, ModelType, Registry
from .version import Version
from .workspace import Workspace, open_workspace

__version__ = "0.1.0"

__all__ = [
    "ApprovalRequiredError",
    "ConflictError",
    "MlmmError",
    "ModelMetadata",
    "ModelType",
    "NotFoundError",
    "PredictionTracker",
    "Registry",
    "ValidationError",
    "Version",
    "Workspace",
    "WorkspaceError",
    "WorkspaceLockedError",
    "log_labels",
    "log_predictions",
    "open_workspace",
    "predictions",
    "reports",
    "to_utc",
]

logging.getLogger("mlmm").addHandler(logging.NullHandler())
