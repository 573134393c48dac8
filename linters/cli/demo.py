"""`python -m linters demo`: review a pull request on the bundled example app, as CI would."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from linters.cli.review import cmd_review
from linters.demo import RISKY_TARGET, build_demo_repo


def cmd_demo(argv: list[str]) -> int:
    with tempfile.TemporaryDirectory(prefix="alembic-review-demo-") as tmp:
        repo = build_demo_repo(Path(tmp) / "mathvidya")
        print(f"A pull request on the example app adds {RISKY_TARGET}\n"
              f"on top of a clean history. Reviewing it as CI would: alembic-review --base main\n", flush=True)
        code = cmd_review([str(repo), "--base", "main", *argv])
        print(f"\n(exit code {code}: in CI, a pull request with errors fails the check)", file=sys.stderr)
    return 0 if code in (0, 1) else code
