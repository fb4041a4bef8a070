"""Session set-up shared by unit tests, doctests and notebooks (nbval).

Notebooks read their workspace from ``MLMM_HOME``: point it at a small demo workspace built
once per test session in a temporary directory, so `make test` never touches data/.
"""

from __future__ import annotations

import os
import shutil
import tempfile


def pytest_configure(config):  # noqa: ANN001
    if os.environ.get("MLMM_TEST_KEEP_HOME"):
        return
    from mlmm.demo import build_demo

    home = tempfile.mkdtemp(prefix="mlmm-test-home-")
    build_demo(home, rows=30_000, seed=7, end="2026-11-01T00:00:00Z")
    config._mlmm_home = home  # type: ignore[attr-defined]
    config._mlmm_old_home = os.environ.get("MLMM_HOME")  # type: ignore[attr-defined]
    os.environ["MLMM_HOME"] = home


def pytest_unconfigure(config):  # noqa: ANN001
    home = getattr(config, "_mlmm_home", None)
    if home:
        old = getattr(config, "_mlmm_old_home", None)
        if old is None:
            os.environ.pop("MLMM_HOME", None)
        else:
            os.environ["MLMM_HOME"] = old
        shutil.rmtree(home, ignore_errors=True)
