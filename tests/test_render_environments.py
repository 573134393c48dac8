"""Revisions rendered by the project's own interpreter (--python, the `python` setting): its
packages and its own alembic and SQLAlchemy, SQLAlchemy 1.4 with alembic 1.8 (on our Python and on
Python 3.7, the oldest alembic 1.8 supports) as well as the newest releases, each in a venv the
tests build (tests/venvs.py)."""

import json
import subprocess

import pytest

from tests.gitrepo import run_cli
from tests.venvs import built_venv, interpreter

ENVIRONMENTS = {
    "sqlalchemy14-alembic18": ("SQLAlchemy<2", "alembic==1.8.*"),
    "newest": ("SQLAlchemy", "alembic"),
}
OLDEST_PYTHON = "3.7"  # the oldest alembic 1.8 runs on

# The versions the interpreter rendering it has, written into the SQL; a table reflected from the
# schema the history built; a batch operation (its line is found by our patch of alembic's batch
# machinery); a plain and a CONCURRENTLY index.
REVISION = dict(
    header="import alembic\n",
    upgrade="""
    op.execute("SELECT 'rendered with SQLAlchemy %s, alembic %s'" % (sa.__version__, alembic.__version__))
    users = sa.Table("users", sa.MetaData(), autoload_with=op.get_bind())
    op.execute(users.update().values(email=sa.func.lower(users.c.email)))
    op.create_index("ix_users_email", "users", ["email"])
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("legacy_name")
    with op.get_context().autocommit_block():
        op.create_index("ix_exams_title", "exams", ["title"], postgresql_concurrently=True)
    """,
    downgrade='op.drop_index("ix_users_email", table_name="users")',
)


def versions_of(python) -> tuple[str, str]:
    out = subprocess.run([str(python), "-c", "import sqlalchemy, alembic; print(sqlalchemy.__version__, alembic.__version__)"],
                         capture_output=True, text=True, check=True).stdout.split()
    return out[0], out[1]


@pytest.fixture(scope="session", params=[*ENVIRONMENTS, "python37-sqlalchemy14-alembic18"])
def project_python(request, tmp_path_factory):
    if request.param.startswith("python37"):
        base = interpreter(OLDEST_PYTHON)
        if base is None:
            pytest.skip(f"no python{OLDEST_PYTHON} on this machine")
        return built_venv(tmp_path_factory, request.param, *ENVIRONMENTS["sqlalchemy14-alembic18"], base=base)
    return built_venv(tmp_path_factory, request.param, *ENVIRONMENTS[request.param])


def review_json(repo, *extra):
    proc = run_cli(str(repo.path), "--base", "main", "--format", "json", *extra)
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads(proc.stdout)


def findings(report):
    return sorted((f["rule"], f["line"], f["direction"] if "direction" in f else None) for f in report["findings"])


def test_the_projects_interpreter_renders_with_its_own_sqlalchemy_and_alembic(repo, project_python):
    """The same findings, on the same lines, as with our own interpreter; the SQL was rendered by theirs."""
    rel = repo.add_revision("0002", "0001", slug="index", **REVISION)
    ours = review_json(repo)
    theirs = review_json(repo, "--python", str(project_python))
    sqlalchemy_version, alembic_version = versions_of(project_python)
    sql = theirs["revisions"][0]["sql"]
    assert f"rendered with SQLAlchemy {sqlalchemy_version}, alembic {alembic_version}" in sql
    assert "CREATE INDEX ix_users_email ON users (email)" in sql
    assert "UPDATE users SET email=lower(users.email)" in sql
    lines = (repo.path / rel).read_text().splitlines()
    at = lambda text: next(i for i, line in enumerate(lines, 1) if text in line)
    rules = {(f["rule"], f["line"]) for f in theirs["findings"]}
    assert ("require-concurrent-index-creation", at('op.create_index("ix_users_email"')) in rules
    assert ("ban-drop-column", at('batch_op.drop_column("legacy_name")')) in rules
    assert not any(f["rule"] == "render-error" for f in theirs["findings"]), theirs["findings"]
    assert findings(theirs) == findings(ours)


def test_sqlalchemy_14_renders_when_named_by_the_python_setting(repo, tmp_path_factory):
    """`python = ".venv/bin/python"` in the settings, relative to the settings file."""
    python = built_venv(tmp_path_factory, "sqlalchemy14-alembic18", *ENVIRONMENTS["sqlalchemy14-alembic18"])
    (repo.path / ".venv").symlink_to(python.parent.parent, target_is_directory=True)
    repo.write(".alembic-review.toml", 'python = ".venv/bin/python"\n')
    repo.add_revision("0002", "0001", slug="index", **REVISION)
    report = review_json(repo)
    assert "rendered with SQLAlchemy 1.4." in report["revisions"][0]["sql"]
    assert "alembic 1.8." in report["revisions"][0]["sql"]


def test_an_interpreter_without_alembic_is_named_in_each_render_error(repo, tmp_path_factory):
    bare = built_venv(tmp_path_factory, "bare")
    repo.add_revision("0002", "0001", 'op.drop_column("users", "legacy_name")')
    report = review_json(repo, "--python", str(bare))
    errors = [f["message"] for f in report["findings"] if f["rule"] == "render-error"]
    assert len(errors) == 1
    assert str(bare) in errors[0] and "No module named 'alembic'" in errors[0]


@pytest.mark.parametrize("where", ["flag", "setting"])
def test_a_python_that_does_not_exist_is_one_line_and_exit_2(repo, where):
    repo.add_revision("0002", "0001", 'op.drop_column("users", "legacy_name")')
    extra = ["--python", "no/such/python"] if where == "flag" else []
    if where == "setting":
        repo.write(".alembic-review.toml", 'python = "no/such/python"\n')
    proc = run_cli(str(repo.path), "--base", "main", *extra)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "no/such/python" in proc.stderr
    assert "no such Python interpreter" in proc.stderr


def test_a_project_with_its_own_linters_package_renders(repo):
    """The render child loads our code by path: the project's own `linters` package is the one its
    revisions import."""
    repo.write("linters/__init__.py", "")
    repo.write("linters/sizes.py", "NICKNAME_LENGTH = 40\n")
    repo.add_revision("0002", "0001", 'op.add_column("users", sa.Column("nickname", sa.String(NICKNAME_LENGTH)))',
                      header="from linters.sizes import NICKNAME_LENGTH\n")
    report = review_json(repo)
    assert not any(f["rule"] == "render-error" for f in report["findings"]), report["findings"]
    assert "nickname VARCHAR(40)" in report["revisions"][0]["sql"]
