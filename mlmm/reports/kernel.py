"""A Jupyter kernel that runs on the interpreter running mlmm, wherever it was started from.

Report runs (cron, ``mlmm report run``) call ``.venv/bin/mlmm`` without activating the
virtualenv, so ``PATH`` may lead ``python`` / ``python3`` to another interpreter, one
without mlmm. Which interpreter a kernel name launches is decided by jupyter_client
(checked against jupyter_client 8.10, jupyter_core 5.9, ipykernel 7.4):

* ``KernelSpecManager`` looks a name up in ``jupyter_path("kernels")``, first match wins:
  ``$JUPYTER_PATH`` entries, then the environment (``sys.prefix/share/jupyter``) and the user
  directory (``~/.local/share/jupyter``) - environment first when ``JUPYTER_PREFER_ENV_PATH``
  is true or, unset, when ``sys.prefix`` is a virtualenv the user owns (else the user
  directory first) - then the system directories (``/usr/local/share/jupyter``,
  ``/usr/share/jupyter``), and last ``~/.ipython/kernels`` (computing that path creates
  ``~/.ipython``, so the check below leaves it out; it cannot shadow). ``python3`` alone is
  special: when no directory has it and ipykernel is importable, it is built from
  ``sys.executable`` in memory.
* ``KernelManager.format_kernel_cmd`` rewrites ``argv[0]`` to ``sys.executable`` only when it
  is exactly ``python``, ``python3`` or ``python3.<minor>`` of the running interpreter.
  The ``python3`` spec ipykernel installs into the venv says ``"python"``, so it is
  rewritten; but an absolute path is used as it is, so a ``python3`` spec earlier on the
  search path (``$JUPYTER_PATH``, a user-level ``ipython kernel install --user`` from the
  system Python, a non-owned prefix that puts the user directory first) launches another
  interpreter. ``python3.12`` under a 3.11 client is not rewritten either.

:func:`ensure_kernel` removes the guesswork: it writes a kernelspec named ``mlmm`` whose
``argv[0]`` is this process's ``sys.executable`` (not resolved through symlinks: a venv's
``bin/python`` finds its ``pyvenv.cfg`` only under its own name) into
``sys.prefix/share/jupyter/kernels/mlmm``, never into the home directory. It rewrites the
file only when its content differs (a moved or rebuilt venv, another interpreter), writes it
atomically (concurrent report runs never read half a file), and then checks that
jupyter_client resolves the name to that file.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import sys
import uuid
from pathlib import Path
from typing import Any

from ..errors import MlmmError, ValidationError

__all__ = ["KERNEL_NAME", "ensure_kernel", "kernel_dir"]

log = logging.getLogger("mlmm")

KERNEL_NAME = "mlmm"
_NAME = re.compile(r"^[a-z0-9._-]+$")  # what jupyter_client accepts as a kernel name


def kernel_dir(name: str = KERNEL_NAME) -> Path:
    """Where :func:`ensure_kernel` writes the kernelspec: ``sys.prefix/share/jupyter/kernels/<name>``."""
    return Path(sys.prefix) / "share" / "jupyter" / "kernels" / name


def _spec() -> dict[str, Any]:
    from ipykernel.kernelspec import get_kernel_dict

    spec = get_kernel_dict()  # argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    # report runs are unattended (cron mails stderr): keep the kernel's own log to errors, which
    # drops ipykernel 7's start-up warning about TCP without encryption on 127.0.0.1
    spec["argv"] = [*spec["argv"], "--IPKernelApp.log_level=ERROR"]
    spec["display_name"] = f"Python {sys.version_info.major}.{sys.version_info.minor} (mlmm)"
    spec["metadata"] = {**spec.get("metadata", {}), "mlmm": {"prefix": sys.prefix}}
    return spec


def ensure_kernel(name: str = KERNEL_NAME) -> str:
    """Install or refresh the kernelspec ``name`` that launches ``sys.executable``; return ``name``.

    Idempotent and cheap when the spec is already right (one small file read). Pass the
    result to Papermill: ``pm.execute_notebook(..., kernel_name=ensure_kernel())``.

    Parameters
    ----------
    name
        The kernel name (lower-case letters, digits, ``.``, ``_``, ``-``).

    Returns
    -------
    str
        ``name``.

    Raises
    ------
    ValidationError
        ``name`` is not a valid kernel name.
    MlmmError
        ``sys.executable`` is unknown, ``sys.prefix`` is not writable, or jupyter_client
        resolves ``name`` to another kernelspec that shadows this one (the message names it).

    Examples
    --------
    >>> from jupyter_client.kernelspec import KernelSpecManager
    >>> name = ensure_kernel()
    >>> name, KernelSpecManager().get_kernel_spec(name).argv[0] == sys.executable
    ('mlmm', True)
    """
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
    from jupyter_core.paths import jupyter_path

    if not _NAME.fullmatch(name):
        raise ValidationError(f"name={name!r}: expected a kernel name of lower-case letters, digits, '.', '_' or '-'")
    if not sys.executable:
        raise MlmmError("sys.executable is empty: cannot tell which interpreter the kernel should run")
    want = _spec()
    folder = kernel_dir(name)
    path = folder / "kernel.json"
    try:
        have = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        have = None
    if have != want:
        try:
            _write(folder, want)
        except OSError as exc:
            raise MlmmError(f"kernelspec {name!r}: cannot write {path} ({exc}); expected a writable sys.prefix "
                            f"(a virtualenv owned by this user)") from exc
        log.info("kernelspec %r: %s %s (argv[0]=%s)", name, "rewrote" if have else "installed", path, sys.executable)
    try:
        # jupyter_client's default search path is jupyter_path("kernels") + ~/.ipython/kernels; the
        # last entry comes after sys.prefix (so it cannot shadow), and computing it creates ~/.ipython.
        resolved = KernelSpecManager(kernel_dirs=jupyter_path("kernels")).get_kernel_spec(name)
    except NoSuchKernel as exc:
        raise MlmmError(f"kernelspec {name!r}: written to {folder} but jupyter_client does not find it "
                        f"(search path without {folder.parent}?)") from exc
    if not resolved.argv or resolved.argv[0] != sys.executable:
        shadow = Path(resolved.resource_dir) / "kernel.json"
        raise MlmmError(f"kernelspec {name!r} resolves to {shadow} with argv[0]={resolved.argv[:1]}: "
                        f"expected {sys.executable} from {path}; remove that file or set JUPYTER_PREFER_ENV_PATH=1")
    return name


def _write(folder: Path, spec: dict[str, Any]) -> None:
    """Write ``kernel.json`` atomically, with ipykernel's logos when they are missing."""
    from ipykernel.kernelspec import RESOURCES

    folder.mkdir(parents=True, exist_ok=True)
    for logo in Path(RESOURCES).glob("logo-*"):
        if not (folder / logo.name).exists():
            shutil.copyfile(logo, folder / logo.name)
    tmp = folder / f".kernel.json.{uuid.uuid4().hex[:8]}.tmp"
    try:
        tmp.write_text(json.dumps(spec, indent=1) + "\n", encoding="utf-8")
        os.replace(tmp, folder / "kernel.json")
    finally:
        tmp.unlink(missing_ok=True)
