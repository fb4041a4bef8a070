"""The model registry: versions, configuration revisions, metrics, deployments, full history.

Everything that changes is an append-only event (who, when, why) in ``registry.duckdb``;
"current" is a query over the events, so history, audit, rollback and time travel
(:meth:`Registry.state_as_of`) come for free. Deletes are soft and can be undone with
:meth:`Registry.restore`.

>>> import tempfile
>>> tmp = tempfile.TemporaryDirectory()
>>> from mlmm import open_workspace
>>> reg = open_workspace(tmp.name).registry
>>> _ = reg.register(ModelMetadata.for_n1_detector("1.0.0"), actor="alice")
>>> _ = reg.register("n1-detector", "1.1.0", preset="n1-detector", config={"threshold": 0.75}, actor="alice")
>>> _ = reg.deploy("n1-detector", "1.0.0", env="production", actor="alice", reason="first release")
>>> _ = reg.deploy("n1-detector", "1.1.0", env="production", actor="alice", reason="better F1")
>>> str(reg.rollback("n1-detector", env="production", actor="bob", reason="latency").version)
'1.0.0'
>>> reg.config_diff("n1-detector", "1.0.0", "1.1.0").changed
{'threshold': (0.7, 0.75)}
>>> tmp.cleanup()
"""

from __future__ import annotations

from ._common import ENVIRONMENTS
from .configs import ConfigDiff, ConfigsMixin, diff_configs
from .deployments import DeploymentsMixin
from .history import HistoryMixin
from .metadata import ModelMetadata, ModelType
from .models import ModelsMixin
from .presets import PRESETS

__all__ = [
    "ModelType",
    "ModelMetadata",
    "ConfigDiff",
    "Registry",
    "ENVIRONMENTS",
    "PRESETS",
    "diff_configs",
]


class Registry(ModelsMixin, ConfigsMixin, DeploymentsMixin, HistoryMixin):
    """The model registry of a workspace (``ws.registry``).

    Every method that changes something takes ``actor`` (default ``MLMM_USER`` or the OS
    user) and ``reason``, recorded with the event. The methods come by concern from
    :mod:`~mlmm.registry.models` (versions), :mod:`~mlmm.registry.configs` (configuration
    revisions), :mod:`~mlmm.registry.deployments` (approvals, deployments, what serves where)
    and :mod:`~mlmm.registry.history`; the events they write and read are in
    :mod:`mlmm.registry.store`.
    """
