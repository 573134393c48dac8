import json

import pytest

from tests.gitrepo import alembic_project, run_cli


@pytest.fixture
def repo(tmp_path):
    return alembic_project(tmp_path / "repo")


@pytest.fixture
def review(repo):
    """Run the reviewer on `repo` against main; returns (exit code, report dict, stderr)."""
    def run(*extra: str):
        proc = run_cli(str(repo.path), "--base", "main", "--format", "json", *extra)
        report = json.loads(proc.stdout) if proc.stdout.strip() else None
        return proc.returncode, report, proc.stderr
    return run


def rules_of(report) -> list[str]:
    return [f["rule"] for f in report["findings"]]
