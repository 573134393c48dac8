"""action.yml's steps end to end (bench/action_steps.py runs them as a runner would): alembic-review
is installed into a venv of its own, the workflow's Python is left as it was, and the revisions
are rendered by that Python, here one still on SQLAlchemy 1.4 and alembic 1.8."""

import json
import subprocess

from bench.action_steps import job_env, run_steps
from tests.gitrepo import alembic_project
from tests.test_render_environments import ENVIRONMENTS
from tests.venvs import built_venv


def freeze(python) -> str:
    return subprocess.run([str(python), "-m", "pip", "freeze", "--all"], capture_output=True, text=True,
                          check=True).stdout


def test_the_action_renders_with_the_workflows_python_and_installs_nothing_into_it(tmp_path, tmp_path_factory):
    python = built_venv(tmp_path_factory, "sqlalchemy14-alembic18", *ENVIRONMENTS["sqlalchemy14-alembic18"])
    repo = alembic_project(tmp_path / "repo")
    base_sha = repo.git("rev-parse", "main").strip()
    repo.add_revision("0002", "0001", """
        op.execute("SELECT 'rendered with SQLAlchemy %s'" % sa.__version__)
        op.create_index("ix_users_email", "users", ["email"])
        """, 'op.drop_index("ix_users_email", table_name="users")')
    head_sha = repo.commit("email index")
    job = tmp_path / "job"
    job.mkdir()
    (job / "event.json").write_text(json.dumps({"pull_request": {
        "number": 3, "head": {"sha": head_sha}, "base": {"sha": base_sha}}}))
    before = freeze(python)

    steps = run_steps({"github-token": ""}, job_env(
        repo.path, job, python.parent, GITHUB_EVENT_PATH=str(job / "event.json"),
        GITHUB_OUTPUT=str(job / "output"), GITHUB_STEP_SUMMARY=str(job / "summary.md")))

    install, review = steps[0], steps[-1]  # between them: finding the history cache (no install)
    assert install.returncode == 0, install.stderr
    assert review.returncode == 1, review.stdout + review.stderr  # the unsafe index is an error
    assert freeze(python) == before  # the workflow's Python kept its packages: SQLAlchemy 1.4 stays
    outputs = dict(line.split("=", 1) for line in (job / "output").read_text().splitlines())
    report = json.loads(open(outputs["report"]).read())
    assert "rendered with SQLAlchemy 1.4." in report["revisions"][0]["sql"]
    assert [f["rule"] for f in report["findings"] if f["severity"] == "error"] == ["require-concurrent-index-creation"]
    assert (job / "alembic-review" / "venv" / "bin" / "alembic-review").exists()


def test_the_action_says_so_when_the_workflow_has_no_such_python(tmp_path):
    repo = alembic_project(tmp_path / "repo")
    job = tmp_path / "job"
    job.mkdir()
    [install] = run_steps({"python": "python-of-nobody"}, job_env(repo.path, job, tmp_path))
    assert install.returncode == 2
    assert "::error title=alembic-review::no Python 'python-of-nobody'" in install.stdout
