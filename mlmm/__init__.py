"""mlmm: a Jupyter-first workbench for managing classifiers in production.

>>> import mlmm, tempfile
>>> ws = mlmm.open_workspace(tempfile.mkdtemp())
>>> str(ws.registry.register("n1-detector", "1.0.0", preset="n1-detector").version)
'1.0.0'
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any

from .errors import (
    ApprovalRequiredError,
    ConflictError,
    MlmmError,
    NotFoundError,
    QueryError,
    StorageError,
    ValidationError,
    WorkspaceError,
    WorkspaceLockedError,
)

if TYPE_CHECKING:
    from . import predictions, reports
    from ._util import to_utc
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
    "QueryError",
    "Registry",
    "StorageError",
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

# Imported on first use (PEP 562), so `import mlmm` and the CLI start fast: polars, pyarrow,
# scipy and the notebook stack load only when something needs them.
_LAZY = {
    "to_utc": "._util",
    "PredictionTracker": ".predictions",
    "log_labels": ".predictions",
    "log_predictions": ".predictions",
    "ModelMetadata": ".registry",
    "ModelType": ".registry",
    "Registry": ".registry",
    "Version": ".version",
    "Workspace": ".workspace",
    "open_workspace": ".workspace",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
    elif not name.startswith("__"):
        try:  # a submodule: mlmm.monitor, mlmm.ab, ...
            value = importlib.import_module(f".{name}", __name__)
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


logging.getLogger("mlmm").addHandler(logging.NullHandler())
