"""The progress bar: on stderr in a terminal for long text runs, never with machine formats."""

import json

from bench.generate import build_repo
from tests.gitrepo import run_on_terminal


def test_long_text_run_in_a_terminal_shows_a_bar_on_stderr(tmp_path):
    repo = build_repo(tmp_path / "repo", 14, new_revisions=0)
    code, stdout, stderr = run_on_terminal(str(repo), "--all", cwd=repo)
    assert code in (0, 1), stderr
    assert "rendering revisions" in stderr and "/14" in stderr
    assert "rendering revisions" not in stdout and "alembic-review" in stdout  # the report itself


def test_no_bar_with_json_or_sarif_or_a_short_run(tmp_path):
    repo = build_repo(tmp_path / "repo", 14, new_revisions=2)
    for fmt in ("json", "sarif"):
        code, stdout, stderr = run_on_terminal(str(repo), "--all", "--format", fmt, cwd=repo)
        assert code in (0, 1), stderr
        json.loads(stdout)  # nothing but the report on stdout
        assert "rendering revisions" not in stderr
    # a pull request of two revisions: over before a bar would tell anything
    code, _, stderr = run_on_terminal(str(repo), "--base", "main", cwd=repo)
    assert code in (0, 1) and "rendering revisions" not in stderr
