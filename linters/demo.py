"""The demo's repository: a pull request in miniature, on the bundled example app.

Copies the example app (alembic.ini, alembic/, models/) into a fresh git repository, commits its
clean history on `main`, then adds examples/risky_add_exam_index.py on a branch, as a developer's
PR would (`python -m linters demo` then reviews that branch against main).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import linters
from linters.errors import UsageError

CHECKOUT = Path(linters.__file__).resolve().parent.parent
APP = ("alembic.ini", "alembic", "models", "pyproject.toml")
RISKY = "examples/risky_add_exam_index.py"
RISKY_TARGET = "alembic/versions/f00dbabe0001_add_exam_score_index.py"
GIT_ENV = {"GIT_AUTHOR_NAME": "demo", "GIT_AUTHOR_EMAIL": "demo@example.com",
           "GIT_COMMITTER_NAME": "demo", "GIT_COMMITTER_EMAIL": "demo@example.com"}


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, env={**os.environ, **GIT_ENV}, check=True, capture_output=True)


def example_app_on_main(target: Path) -> Path:
    """A git repository at `target` whose `main` holds the example app's clean history."""
    if not (CHECKOUT / "alembic.ini").is_file():
        raise UsageError(f"the demo needs a checkout of alembic-review (no example app at {CHECKOUT})")
    target.mkdir(parents=True, exist_ok=True)
    for name in APP:
        source = CHECKOUT / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif source.is_file():
            shutil.copy2(source, target / name)
    _git(target, "init", "-q", "-b", "main")
    _git(target, "add", "-A")
    _git(target, "commit", "-q", "-m", "example app: clean migration history")
    return target


def build_demo_repo(target: Path) -> Path:
    if not (CHECKOUT / RISKY).is_file():
        raise UsageError(f"the demo needs a checkout of alembic-review (no {RISKY} at {CHECKOUT})")
    example_app_on_main(target)
    _git(target, "checkout", "-q", "-b", "add-exam-score-index")
    shutil.copy2(CHECKOUT / RISKY, target / RISKY_TARGET)
    _git(target, "add", "-A")
    _git(target, "commit", "-q", "-m", "add exam score index, drop users.phone")
    return target
