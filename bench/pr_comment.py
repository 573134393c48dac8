"""The five-revision pull request of examples/five_revision_pr/, built on the example app and
reviewed: what the PR comment, the check summary and the inline comments are looked at with
(tests/test_pr_comment.py, bench/pr_comment_screens.py)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from bot.report_reader import report_from_untrusted_json
from linters.demo import CHECKOUT, _git, example_app_on_main

PR_FILES = CHECKOUT / "examples" / "five_revision_pr" / "alembic" / "versions"
EDITED = "alembic/versions/5e9a3b7c8d12_add_users_is_active_and_last_login_at.py"
EDIT = '''    op.add_column("users", sa.Column("last_seen_ip", sa.Text(), nullable=True))
'''


def build_pr_repo(target: Path) -> Path:
    """The example app on `main`, then a branch with the five revisions and an edit of an old one."""
    example_app_on_main(target)
    _git(target, "checkout", "-q", "-b", "proctoring")
    for source in sorted(PR_FILES.glob("*.py")):
        shutil.copy2(source, target / "alembic" / "versions" / source.name)
    edited = target / EDITED
    edited.write_text(edited.read_text().replace("\n\ndef downgrade()", EDIT + "\n\ndef downgrade()", 1))
    _git(target, "add", "-A")
    _git(target, "commit", "-q", "-m", "proctoring: five revisions")
    return target


def review_pr(repo: Path):
    """The Report of the branch against main, read back from the JSON report as the Action does."""
    proc = subprocess.run([sys.executable, "-m", "linters", str(repo), "--base", "main", "--format", "json"],
                          capture_output=True, text=True, cwd=repo)
    if proc.returncode not in (0, 1):
        raise RuntimeError(proc.stderr)
    return report_from_untrusted_json(json.loads(proc.stdout))
