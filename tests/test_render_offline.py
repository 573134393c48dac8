"""What real revisions do offline, end to end through `python -m linters` on a git repository:
imports that cannot be satisfied, the bind, online-only revisions, extra upgrade() parameters,
plugin operations, downgrades that raise on purpose, and real layouts of projects."""

from tests.gitrepo import alembic_project, run_cli
import json


def of(report, rule):
    return [f for f in report["findings"] if f["rule"] == rule]


def line_of(repo, finding):
    return (repo.path / finding["path"]).read_text().splitlines()[finding["line"] - 1].strip()


def test_unimportable_app_types_render_as_placeholders_and_the_risky_op_after_them_is_found(repo, review):
    repo.add_revision("0002", "0001", header="from myapp.models.types import GUID\nimport sqlmodel", upgrade='''
        op.add_column("users", sa.Column("token", GUID(), nullable=True))
        op.add_column("users", sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=80)))
        op.create_index("ix_users_email", "users", ["email"])
        ''')
    code, report, _ = review()
    assert of(report, "render-error") == []
    [index] = of(report, "require-concurrent-index-creation")
    assert line_of(repo, index) == 'op.create_index("ix_users_email", "users", ["email"])'
    sql = report["revisions"][0]["sql"]
    assert 'ALTER TABLE users ADD COLUMN token "stand-in:GUID"' in sql
    assert "ALTER TABLE users ADD COLUMN title VARCHAR(80)" in sql  # a known type renders as itself
    [note] = of(report, "import-stand-in")
    assert note["severity"] == "info" and "myapp" in note["message"] and "sqlmodel" in note["message"]
    assert line_of(repo, note) == "from myapp.models.types import GUID"


def test_a_repo_module_whose_dependency_is_missing_keeps_what_it_defines(repo, review):
    repo.write("myapp/__init__.py", "")
    repo.write("myapp/schema.py", "import not_installed_anywhere\nTABLE = 'users'\nsettings = not_installed_anywhere.load()\n")
    repo.add_revision("0002", "0001", header="from myapp.schema import TABLE, settings", upgrade='''
        op.drop_column(TABLE, "legacy_name", schema=None if not settings.schema else settings.schema)
        ''')
    code, report, _ = review()
    [drop] = of(report, "ban-drop-column")
    assert "users.legacy_name" in drop["message"] and of(report, "render-error") == []


def test_an_exception_in_the_stand_ins_path_is_still_a_render_error_with_its_line(repo, review):
    rel = repo.add_revision("0002", "0001", header="from myapp.config import settings", upgrade='''
        op.drop_column("users", "legacy_name")
        port = int(settings.PORT)
        ''')
    code, report, _ = review()
    [error] = of(report, "render-error")
    assert line_of(repo, error) == "port = int(settings.PORT)"
    assert "TypeError" in error["message"] and "stand-ins for myapp" in error["message"]
    assert of(report, "ban-drop-column")  # what ran before the failure is still reviewed


def test_the_bind_records_what_the_revision_executes_and_reads_an_empty_database(repo, review):
    repo.add_revision("0002", "0001", upgrade='''
        conn = op.get_bind()
        for row in conn.execute(sa.text("SELECT id, email FROM users")).fetchall():
            conn.execute(sa.text("UPDATE users SET email = :e WHERE id = :i"), {"e": row.email.lower(), "i": row.id})
        assert conn.execute(sa.text("SELECT count(*) FROM users")).scalar() is None
        if "nickname" not in [c["name"] for c in sa.inspect(conn).get_columns("users")]:
            op.add_column("users", sa.Column("nickname", sa.Text))
        conn.execute(sa.text("UPDATE users SET nickname = :n WHERE nickname IS NULL"), {"n": "it's"})
        conn.commit()
        op.create_index("ix_users_nickname", "users", ["nickname"])
        ''')
    code, report, _ = review()
    assert of(report, "render-error") == []
    sql = report["revisions"][0]["sql"]
    assert "ALTER TABLE users ADD COLUMN nickname TEXT;\nUPDATE users SET nickname = 'it''s' WHERE nickname IS NULL;\nCOMMIT;" in sql
    assert "SELECT" not in sql
    [index] = of(report, "require-concurrent-index-creation")
    assert line_of(repo, index) == 'op.create_index("ix_users_nickname", "users", ["nickname"])'
    [live] = of(report, "live-data-dependency")
    assert live["severity"] == "info" and line_of(repo, live).startswith("for row in conn.execute(")


def test_orm_session_and_engine_from_config_work_offline(repo, review):
    repo.add_revision("0002", "0001", header="from sqlalchemy import orm", upgrade='''
        Base = orm.declarative_base()

        class User(Base):
            __tablename__ = "users"
            id = sa.Column(sa.Integer, primary_key=True)
            email = sa.Column(sa.Text)

        session = orm.Session(bind=op.get_bind())
        for user in session.query(User).filter(User.email.is_(None)).all():
            session.delete(user)
        session.commit()
        engine = sa.engine_from_config(op.get_context().config.get_section("alembic"), prefix="sqlalchemy.")
        if not sa.inspect(engine).has_table("users"):
            op.drop_column("users", "legacy_name")
        ''')
    code, report, _ = review()
    assert of(report, "render-error") == []
    assert [line_of(repo, f) for f in of(report, "ban-drop-column")] == ['op.drop_column("users", "legacy_name")']


def test_revision_that_refuses_offline_mode_is_rendered_through_its_online_path(repo, review):
    repo.add_revision("0002", "0001", header="from alembic import context", upgrade='''
        if context.is_offline_mode():
            raise RuntimeError("this migration needs a database")
        op.drop_column("users", "legacy_name")
        ''')
    code, report, _ = review()
    assert of(report, "render-error") == [] and len(of(report, "ban-drop-column")) == 1


def test_upgrade_with_parameters_env_py_passes_gets_stand_ins(repo, review):
    repo.write("alembic/versions/0002_params.py",
               'revision = "0002"\ndown_revision = "0001"\n'
               'def upgrade(op, tables, tester):\n'
               '    tester.check(tables.users)\n'
               '    op.drop_column("users", "legacy_name")\n')
    code, report, _ = review()
    assert of(report, "render-error") == [] and len(of(report, "ban-drop-column")) == 1


def test_plugin_operation_that_is_not_installed_is_unreviewed_and_the_rest_is_reviewed(repo, review):
    repo.add_revision("0002", "0001", upgrade='''
        op.sync_enum_values("public", "status", ["a", "b"], [("users", "status")])
        op.drop_column("users", "legacy_name")
        ''')
    code, report, _ = review()
    [skipped] = of(report, "unreviewed-operation")
    assert skipped["severity"] == "warning" and "op.sync_enum_values" in skipped["message"]
    assert line_of(repo, skipped).startswith("op.sync_enum_values(")
    assert len(of(report, "ban-drop-column")) == 1 and of(report, "render-error") == []


def test_a_downgrade_that_raises_on_purpose_is_irreversible_not_broken(repo, review):
    repo.add_revision("0002", "0001", 'op.execute("UPDATE users SET email = lower(email) WHERE id > 0")',
                      'raise RuntimeError("no downgrade")')
    code, report, _ = review()
    [one_way] = of(report, "irreversible-downgrade")
    assert one_way["severity"] == "info" and line_of(repo, one_way) == 'raise RuntimeError("no downgrade")'
    assert of(report, "render-error") == []


def test_a_downgrade_broken_by_accident_is_still_a_render_error(repo, review):
    repo.add_revision("0002", "0001", 'op.execute("UPDATE users SET email = lower(email) WHERE id > 0")',
                      'values = {}\nop.drop_column("users", values["column"])')
    code, report, _ = review()
    [error] = of(report, "render-error")
    assert "KeyError" in error["message"] and of(report, "irreversible-downgrade") == []


def test_ini_sections_with_package_paths_and_nested_release_folders_are_all_reviewed(tmp_path):
    repo = alembic_project(tmp_path / "repo")
    repo.write("src/myapp/__init__.py", "")
    repo.write("src/myapp/alembic.ini", "[alembic]\n\n[core]\nscript_location = myapp:db/core\n\n"
                                        "[tenant]\nscript_location = myapp:db/tenant\n")
    for rel in ("alembic.ini", "alembic/env.py", "alembic/versions/0001_init.py"):
        repo.remove(rel)
    for name in ("core", "tenant"):
        repo.write(f"src/myapp/db/{name}/env.py", "raise RuntimeError('never run')\n")
    repo.write("src/myapp/db/core/versions/c1.py",
               'revision = "c1"\ndown_revision = None\nfrom alembic import op\n'
               'def upgrade():\n    op.drop_column("users", "a")\n')
    repo.write("src/myapp/db/tenant/versions/2025.2/expand/t1.py",
               'revision = "t1"\ndown_revision = None\nfrom alembic import op\n'
               'def upgrade():\n    op.drop_column("users", "b")\n')
    proc = run_cli(str(repo.path), "--all", "--format", "json")
    report = json.loads(proc.stdout)
    assert sorted(r["path"] for r in report["revisions"]) == [
        "src/myapp/db/core/versions/c1.py", "src/myapp/db/tenant/versions/2025.2/expand/t1.py"]
    assert sorted(f["path"] for f in of(report, "ban-drop-column")) == [
        "src/myapp/db/core/versions/c1.py", "src/myapp/db/tenant/versions/2025.2/expand/t1.py"]


def test_a_plugin_env_py_imports_is_loaded_and_its_operation_reviewed(repo, review):
    # alembic_postgresql_enum is in the [test] extra; env.py imports it, and is still never run.
    repo.write("alembic/env.py", "import alembic_postgresql_enum\nraise RuntimeError('env.py must never run')\n")
    repo.add_revision("0002", "0001", upgrade='''
        op.sync_enum_values(enum_schema="public", enum_name="status", new_values=["a", "b"],
                            affected_columns=[TableReference(table_schema="public", table_name="users", column_name="status")],
                            enum_values_to_rename=[])
        op.drop_column("users", "legacy_name")
        ''', header="from alembic_postgresql_enum import TableReference")
    code, report, _ = review()
    assert of(report, "unreviewed-operation") == [] and of(report, "render-error") == []
    assert 'ALTER TYPE "public"."status" RENAME TO "status_old"' in report["revisions"][0]["sql"]
    assert len(of(report, "ban-drop-column")) == 1


def test_an_ini_in_a_subfolder_and_a_template_ini_each_find_one_project(tmp_path):
    repo = alembic_project(tmp_path / "repo")
    repo.remove("alembic.ini")
    repo.write("conf/alembic.ini", "[alembic]\nscript_location = alembic\n")  # relative to where alembic runs: the root
    repo.write("alembic/alembic.ini", "[alembic]\nscript_location = {alembic_dir}\n")  # a template a tool fills in
    repo.add_revision("0002", "0001", 'op.drop_column("users", "legacy_name")')
    proc = run_cli(str(repo.path), "--all", "--format", "json")
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    assert sorted(r["revision"] for r in report["revisions"]) == ["0001", "0002"]
    assert [f["path"] for f in of(report, "ban-drop-column")] == ["alembic/versions/0002_change.py"]
