"""Live mode, round trip: every new revision goes upgrade -> downgrade -> upgrade on a real
PostgreSQL, and the catalog must come back the same (irreversible-revision otherwise)."""

from tests.test_live_trace import of_rule, review_live, source_line


def test_clean_revision_round_trips_quietly(repo):
    repo.add_revision("0002", "0001", """
        op.add_column("users", sa.Column("nickname", sa.Text, server_default="x"))
        op.create_check_constraint("ck_users_email", "users", "email <> ''", postgresql_not_valid=True)
        """, """
        op.drop_constraint("ck_users_email", "users", type_="check")
        op.drop_column("users", "nickname")
        """)
    code, report = review_live(repo)
    assert of_rule(report, "irreversible-revision") == []
    assert code == 0, report["findings"]


def test_downgrade_that_leaves_a_column_behind(repo):
    repo.add_revision("0002", "0001", 'op.add_column("users", sa.Column("nickname", sa.Text))', "pass")
    code, report = review_live(repo)
    [finding] = of_rule(report, "irreversible-revision")
    assert code == 1 and finding["severity"] == "error"
    assert "downgrade() does nothing" in finding["message"]
    assert "column users.nickname is left over (text NULL)" in finding["message"]
    assert source_line(repo, finding).startswith("def downgrade")


def test_downgrade_that_forgets_the_enum_type(repo):
    repo.add_revision("0002", "0001", """
        op.create_table("moods", sa.Column("id", sa.BigInteger, primary_key=True),
                        sa.Column("mood", sa.Enum("happy", "sad", name="mood")))
        """, 'op.drop_table("moods")')
    code, report = review_live(repo)
    [finding] = of_rule(report, "irreversible-revision")
    assert "the downgrade does not restore the schema" in finding["message"]
    assert "type mood is left over (enum ('happy', 'sad'))" in finding["message"]


def test_downgrade_that_fails_on_postgres(repo):
    repo.add_revision("0002", "0001", 'op.add_column("users", sa.Column("nickname", sa.Text))',
                      'op.drop_column("users", "nick_name")')
    code, report = review_live(repo)
    [finding] = of_rule(report, "irreversible-revision")
    assert code == 1
    assert 'the downgrade fails on PostgreSQL: column "nick_name" of relation "users" does not exist' in finding["message"]
    assert 'op.drop_column("users", "nick_name")' in source_line(repo, finding)


def test_validated_flag_is_part_of_the_schema(repo):
    # upgrade validates a NOT VALID constraint; a downgrade that drops it and adds it back
    # VALID is not the schema that was there before.
    repo.add_revision("0002", "0001", 'op.create_check_constraint("ck_email", "users", "email <> \'\'", '
                                      'postgresql_not_valid=True)', 'op.drop_constraint("ck_email", "users", type_="check")',
                      slug="add")
    repo.commit("not valid check")
    repo.git("checkout", "-q", "main")
    repo.git("merge", "-q", "feature")
    repo.git("checkout", "-q", "feature")
    repo.add_revision("0003", "0002", 'op.execute("ALTER TABLE users VALIDATE CONSTRAINT ck_email")', """
        op.drop_constraint("ck_email", "users", type_="check")
        op.create_check_constraint("ck_email", "users", "email <> ''")
        """, slug="validate")
    code, report = review_live(repo)
    [finding] = of_rule(report, "irreversible-revision")
    assert finding["path"].endswith("0003_validate.py")
    assert "constraint users.ck_email" in finding["message"] and "NOT VALIDATED" in finding["message"]


def test_later_revision_is_downgraded_first(repo):
    # 0003's downgrade is broken; 0002 below it is fine. The walk goes newest first and stops at 0003.
    repo.add_revision("0002", "0001", 'op.add_column("users", sa.Column("a", sa.Text))',
                      'op.drop_column("users", "a")', slug="a")
    repo.add_revision("0003", "0002", 'op.add_column("users", sa.Column("b", sa.Text))', "pass", slug="b")
    _, report = review_live(repo)
    [finding] = of_rule(report, "irreversible-revision")
    assert finding["revision"] == "0003"
