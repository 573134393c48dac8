"""The models against the migrations: schema-drift (live, alembic's compare_metadata on the
database at head) and drop-mapped-column (static, whenever the models can be loaded).

The models are found like Alembic finds them: `target_metadata = Base.metadata` in env.py (read
statically; env.py itself is never run) or `[tool.alembic-review] metadata = "..."`.
"""

from tests.test_live_trace import of_rule, review_live, source_line

ENV_PY = """from alembic import context
from models import Base

target_metadata = Base.metadata
raise RuntimeError("env.py must never run during a review")
"""

MODELS = '''import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    email: Mapped[str] = mapped_column(sa.Text)
    legacy_name: Mapped[str | None] = mapped_column(sa.Text)
{extra}

class Exam(Base):
    __tablename__ = "exams"
    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    title: Mapped[str | None] = mapped_column(sa.Text)
'''


def with_models(repo, extra: str = "", env_py: str = ENV_PY):
    """main gets models matching 0001 and an env.py naming them; back on the feature branch."""
    repo.git("checkout", "-q", "main")
    repo.write("alembic/env.py", env_py)
    repo.write("models.py", MODELS.format(extra=""))
    repo.commit("models")
    repo.git("checkout", "-q", "feature")
    repo.git("merge", "-q", "main")
    if extra:
        repo.write("models.py", MODELS.format(extra=extra))


def test_models_matching_the_migrations_have_no_drift(repo):
    with_models(repo, '    nickname: Mapped[str | None] = mapped_column(sa.Text)')
    repo.add_revision("0002", "0001", 'op.add_column("users", sa.Column("nickname", sa.Text))',
                      'op.drop_column("users", "nickname")')
    code, report = review_live(repo)
    assert of_rule(report, "schema-drift") == [] and of_rule(report, "live-incomplete") == []
    assert code == 0, report["findings"]


def test_model_column_without_a_migration_is_drift(repo):
    with_models(repo, '    nickname: Mapped[str | None] = mapped_column(sa.Text)')
    code, report = review_live(repo)
    [drift] = of_rule(report, "schema-drift")
    assert code == 1 and drift["severity"] == "error"
    assert drift["path"] == "models.py" and "nickname: Mapped" in source_line(repo, drift)
    assert "column users.nickname (TEXT) is in the model but not in the database" in drift["message"]
    assert "a model change with no migration" in drift["message"]


def test_migration_without_a_model_change_is_drift(repo):
    with_models(repo)
    repo.add_revision("0002", "0001", 'op.add_column("users", sa.Column("score", sa.Integer))',
                      'op.drop_column("users", "score")')
    _, report = review_live(repo)
    [drift] = of_rule(report, "schema-drift")
    assert "column users.score (INTEGER) is in the database but not in the model" in drift["message"]
    assert "a migration with no model change" in drift["message"]
    assert drift["path"] == "models.py" and "class User" in source_line(repo, drift)


def test_metadata_named_in_the_config(repo):
    env_py = "from alembic import context\ntarget_metadata = None\n"
    with_models(repo, '    nickname: Mapped[str | None] = mapped_column(sa.Text)', env_py=env_py)
    repo.write("pyproject.toml", '[tool.alembic-review]\nmetadata = "models:Base.metadata"\n')
    _, report = review_live(repo)
    [drift] = of_rule(report, "schema-drift")
    assert "users.nickname" in drift["message"]


def test_models_that_cannot_be_imported_are_a_warning_not_a_crash(repo):
    with_models(repo)
    repo.write("models.py", "import os\nSECRET = os.environ['APP_SECRET']  # only the app's runtime has it\n")
    code, report = review_live(repo)
    [warning] = of_rule(report, "live-incomplete")
    assert warning["severity"] == "warning" and code == 0
    assert "could not load the models" in warning["message"] and "KeyError: 'APP_SECRET'" in warning["message"]
    assert warning["path"] == "alembic/env.py" and "target_metadata" in source_line(repo, warning)


def test_dropping_a_mapped_column_is_an_error_without_a_database(repo, review):
    with_models(repo)
    repo.add_revision("0002", "0001", 'op.drop_column("users", "legacy_name")',
                      'op.add_column("users", sa.Column("legacy_name", sa.Text))')
    code, report, _ = review()
    [finding] = of_rule(report, "drop-mapped-column")
    assert code == 1 and finding["severity"] == "error"
    assert 'op.drop_column("users", "legacy_name")' in source_line(repo, finding)
    assert "drops column users.legacy_name, which models.User (models.py:13) still maps" in finding["message"]


def test_renaming_a_mapped_column_is_an_error(repo, review):
    with_models(repo)
    repo.add_revision("0002", "0001", 'op.alter_column("users", "legacy_name", new_column_name="old_name")',
                      'op.alter_column("users", "old_name", new_column_name="legacy_name")')
    _, report, _ = review()
    [finding] = of_rule(report, "drop-mapped-column")
    assert "renames column users.legacy_name to old_name" in finding["message"]


def test_dropping_a_column_the_models_no_longer_map_is_not_this_rule(repo, review):
    with_models(repo)
    repo.write("models.py", MODELS.format(extra="").replace(
        "    legacy_name: Mapped[str | None] = mapped_column(sa.Text)\n", ""))
    repo.add_revision("0002", "0001", 'op.drop_column("users", "legacy_name")',
                      'op.add_column("users", sa.Column("legacy_name", sa.Text))')
    _, report, _ = review()
    assert of_rule(report, "drop-mapped-column") == []
