"""What a revision that reads the database gets offline, end to end through `python -m linters` on a
git repository: the tables the history built before it (MetaData.reflect, Table(autoload_with=...),
the inspector), empty query results it can use, and the SQLAlchemy 1.x spellings old revisions use."""

import json

from tests.gitrepo import run_cli


def of(report, rule):
    return [f for f in report["findings"] if f["rule"] == rule]


def line_of(repo, finding):
    return (repo.path / finding["path"]).read_text().splitlines()[finding["line"] - 1].strip()


def review_all(repo):
    proc = run_cli(str(repo.path), "--all", "--format", "json", "--fail-on", "never")
    return json.loads(proc.stdout)


def test_a_data_migration_that_reflects_the_schema_finds_the_history_s_tables(repo, review):
    repo.add_revision("0002", "0001", slug="nickname", upgrade='''
        op.add_column("users", sa.Column("nickname", sa.String(40)))
        ''')
    repo.add_revision("0003", "0002", upgrade='''
        conn = op.get_bind()
        meta = sa.MetaData()
        meta.reflect(conn)
        users = meta.tables["users"]
        conn.execute(users.update().where(users.c.nickname.is_(None)).values(nickname=users.c.email))
        exams = sa.Table("exams", sa.MetaData(), autoload_with=conn)
        for row in conn.execute(sa.select(exams.c.id, exams.c.title)):
            pass
        op.create_index("ix_users_nickname", "users", ["nickname"])
        ''')
    code, report, _ = review()
    assert of(report, "render-error") == []
    sql = next(r["sql"] for r in report["revisions"] if r["revision"] == "0003")
    assert "UPDATE users SET nickname=users.email WHERE users.nickname IS NULL;" in sql
    [index] = of(report, "require-concurrent-index-creation")
    assert line_of(repo, index) == 'op.create_index("ix_users_nickname", "users", ["nickname"])'
    [live] = of(report, "live-data-dependency")
    assert line_of(repo, live) == "meta.reflect(conn)"
    assert "holds the tables the revisions before it create, with no rows" in live["message"]


def test_the_inspector_names_the_primary_key_postgresql_gave_an_unnamed_one(repo):
    repo.add_revision("0002", "0001", upgrade='''
        pk = sa.inspect(op.get_bind()).get_pk_constraint("exams")
        op.drop_constraint(pk["name"], "exams", type_="primary")
        op.create_primary_key("pk_exams", "exams", ["id", "title"])
        ''')
    report = review_all(repo)
    assert of(report, "render-error") == []
    sql = next(r["sql"] for r in report["revisions"] if r["revision"] == "0002")
    assert "ALTER TABLE exams DROP CONSTRAINT exams_pkey;" in sql


def test_a_table_created_earlier_in_the_same_revision_can_be_reflected(repo):
    repo.add_revision("0002", "0001", upgrade='''
        op.create_table("project", sa.Column("id", sa.String(64), primary_key=True), sa.Column("name", sa.Text))
        project = sa.Table("project", sa.MetaData(), autoload_with=op.get_bind())
        op.execute(project.insert().values(id="root", name="<<root>>"))
        op.create_index("ix_users_email", "users", ["email"])
        ''')
    report = review_all(repo)
    assert of(report, "render-error") == []
    sql = next(r["sql"] for r in report["revisions"] if r["revision"] == "0002")
    assert "INSERT INTO project (id, name) VALUES ('root', '<<root>>');" in sql
    assert of(report, "require-concurrent-index-creation")


def test_a_table_the_history_only_alters_exists_and_a_table_it_never_names_does_not(repo):
    """Made by the application's create_all, not by a revision: reflected with what the history says of
    it, and a column the history never names is stood in for; a table it never names is a render-error
    that says where and why."""
    repo.add_revision("0002", "0001", upgrade='''
        op.add_column("legacy", sa.Column("code", sa.Text))
        ''')
    repo.add_revision("0003", "0002", upgrade='''
        legacy = sa.Table("legacy", sa.MetaData(), autoload_with=op.get_bind())
        op.get_bind().execute(legacy.update().where(legacy.c.kind == "old").values(code="x"))
        op.drop_column("users", "legacy_name")
        sa.Table("never_named", sa.MetaData(), autoload_with=op.get_bind())
        ''')
    report = review_all(repo)
    sql = next(r["sql"] for r in report["revisions"] if r["revision"] == "0003")
    assert "UPDATE legacy SET code='x' WHERE legacy.kind = 'old';" in sql and of(report, "ban-drop-column")
    [stand_in] = of(report, "import-stand-in")
    assert "legacy.kind (a column of a table the history uses but never creates)" in stand_in["message"]
    [error] = of(report, "render-error")
    assert line_of(repo, error) == 'sa.Table("never_named", sa.MetaData(), autoload_with=op.get_bind())'
    assert "NoSuchTableError: never_named" in error["message"] and "history's tables but no rows" in error["message"]


def test_sqlalchemy_1_spellings_of_reflection_render(repo, review):
    repo.add_revision("0002", "0001", upgrade='''
        conn = op.get_bind()
        meta = sa.MetaData(bind=conn)
        users = sa.Table("users", meta, autoload=True)
        for row in conn.execute(sa.select([users.c.id, users.c.email])):
            pass
        op.create_index("ix_users_email", "users", ["email"])
        ''')
    code, report, _ = review()
    assert of(report, "render-error") == []
    [index] = of(report, "require-concurrent-index-creation")
    assert line_of(repo, index) == 'op.create_index("ix_users_email", "users", ["email"])'


def test_an_insert_returns_its_new_key_as_null_and_the_next_insert_uses_it(repo, review):
    repo.add_revision("0002", "0001", upgrade='''
        exams = sa.Table("exams", sa.MetaData(), sa.Column("id", sa.BigInteger, primary_key=True), sa.Column("title", sa.Text))
        links = sa.table("exam_links", sa.column("exam_id"))
        session = sa.orm.Session(bind=op.get_bind())
        new_id = session.execute(sa.insert(exams).values(title="first")).inserted_primary_key[0]
        session.execute(sa.insert(links).values(exam_id=new_id))
        op.create_index("ix_users_email", "users", ["email"])
        ''')
    code, report, _ = review()
    assert of(report, "render-error") == []
    sql = report["revisions"][0]["sql"]
    assert "INSERT INTO exams (title) VALUES ('first') RETURNING exams.id;\nINSERT INTO exam_links (exam_id) VALUES (NULL);" in sql


def test_a_text_query_s_empty_result_gives_scalars_and_the_loop_over_it_runs_zero_times(repo, review):
    repo.add_revision("0002", "0001", upgrade='''
        session = sa.orm.Session(bind=op.get_bind())
        for exam_id in session.execute(sa.text("SELECT id FROM exams")).scalars().all():
            session.execute(sa.text("DELETE FROM exams WHERE id = :i"), {"i": exam_id})
        op.create_index("ix_users_email", "users", ["email"])
        ''')
    code, report, _ = review()
    assert of(report, "render-error") == []
    [index] = of(report, "require-concurrent-index-creation")
    assert line_of(repo, index) == 'op.create_index("ix_users_email", "users", ["email"])'
    assert "DELETE" not in report["revisions"][0]["sql"]
