"""Virtual environments built by the tests, once per run and shared by the xdist workers: the
environments users have (a core install, a project still on SQLAlchemy 1.4 and alembic 1.8, one on
the newest releases). They install from PyPI (the pip cache makes a rerun quick); without it the
tests that need them fail, as CI must."""

from __future__ import annotations

import fcntl
import glob
import os
import shutil
import subprocess
import venv
from pathlib import Path

import pytest


def _shared_dir(tmp_path_factory) -> Path:
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base  # one per run, not per worker


def interpreter(version: str) -> str | None:
    """A working `pythonX.Y` on this machine: on PATH, or one pyenv installed; None if there is none."""
    candidates = [shutil.which(f"python{version}"),
                  *sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/{version}.*/bin/python{version}")))]
    for candidate in filter(None, candidates):
        if subprocess.run([candidate, "-c", ""], capture_output=True).returncode == 0:  # a pyenv shim may not be
            return candidate
    return None


def built_venv(tmp_path_factory, name: str, *requirements: str, base: str | None = None) -> Path:
    """The python of a fresh venv named `name` (made by `base`, default ours) with `requirements`
    pip-installed (nothing if none)."""
    shared = _shared_dir(tmp_path_factory)
    target = shared / f"venv-{name}"
    with open(shared / f"venv-{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the other worker waits for this one's build, then reuses it
        if not (target / "built").exists():
            shutil.rmtree(target, ignore_errors=True)
            if base:
                subprocess.run([base, "-m", "venv", str(target)], check=True, capture_output=True)
            else:
                venv.EnvBuilder(with_pip=bool(requirements)).create(target)
            if requirements:
                proc = subprocess.run([str(target / "bin" / "python"), "-m", "pip", "install", "--quiet",
                                       "--disable-pip-version-check", *requirements],
                                      capture_output=True, text=True, timeout=900)
                if proc.returncode != 0:
                    pytest.fail(f"pip install {' '.join(requirements)} failed:\n{proc.stderr[-3000:]}")
            (target / "built").write_text("")
    return target / "bin" / "python"
