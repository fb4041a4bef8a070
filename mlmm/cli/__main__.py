"""``python -m mlmm.cli``: the same as the ``mlmm`` command."""

from __future__ import annotations

import sys

from . import app

sys.exit(app())
