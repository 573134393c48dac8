"""Live mode, lock trace: each revision of a branch replayed on a real PostgreSQL (127.0.0.1:5432),
statement by statement, with pg_locks / relfilenode read from the migrating backend.

Every run creates its own alembic_review_<random> database on the server and drops it after.
The server is required: when it is missing these tests fail (exit 2), they do not skip.
"""

import json

from tests.gitrepo import run_cli

DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def review_live(repo, *extra: str):
    """`python -m linters --base main --format json --database-url ...` on `repo`: (code, report)."""
    proc = run_cli(str(repo.path), "--base", "main", "--format", "json", "--database-url", DATABASE_URL, *extra)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def of_rule(report, rule: str) -> list[dict]:
    return [f for f in report["findings"] if f["rule"] == rule]


def source_line(repo, finding) -> str:
    return (repo.path / finding["path"]).read_text().splitlines()[finding["line"] - 1]


def test_non_concurrent_index_shows_share_lock_on_the_table(repo):
    repo.add_revision("0002", "0001", 'op.create_index("ix_users_email", "users", ["email"])',
                      'op.drop_index("ix_users_email", table_name="users")')
    code, report = review_live(repo)
    [trace] = of_rule(report, "live-lock-trace")
    assert trace["lock"] == "SHARE" and trace["table"] == "users"
    assert "op.create_index" in source_line(repo, trace)
    assert "live: SHARE on users held" in trace["message"] and "until COMMIT" in trace["message"]
    assert "Predicted: SHARE on users" in trace["message"]
    assert of_rule(report, "lock-prediction-mismatch") == []
    assert code == 1  # the static rule still fires: require-concurrent-index-creation


def test_concurrent_index_is_seen_from_a_second_session(repo):
    repo.add_revision("0002", "0001", """
        with op.get_context().autocommit_block():
            op.create_index("ix_users_email", "users", ["email"], postgresql_concurrently=True)
        """, """
        with op.get_context().autocommit_block():
            op.drop_index("ix_users_email", table_name="users", postgresql_concurrently=True)
        """)
    code, report = review_live(repo)
    [trace] = of_rule(report, "live-lock-trace")
    assert trace["lock"] == "SHARE UPDATE EXCLUSIVE" and trace["table"] == "users"
    assert "outside a transaction" in trace["message"]
    assert of_rule(report, "lock-prediction-mismatch") == []
    assert code == 0, report["findings"]


def test_constant_default_does_not_rewrite_and_volatile_default_does(repo):
    repo.add_revision("0002", "0001", """
        op.add_column("users", sa.Column("active", sa.Boolean, server_default=sa.text("true")))
        op.add_column("exams", sa.Column("token", sa.Float, server_default=sa.text("random()")))
        """, """
        op.drop_column("exams", "token")
        op.drop_column("users", "active")
        """)
    _, report = review_live(repo)
    traces = {f["table"]: f for f in of_rule(report, "live-lock-trace")}
    assert set(traces) == {"users", "exams"}
    assert "no rewrite" in traces["users"]["message"] and "rewrote" not in traces["users"]["message"]
    assert traces["users"]["lock"] == "ACCESS EXCLUSIVE"
    assert "rewrote exams (new relfilenode)" in traces["exams"]["message"]
    # one deploy, one transaction: the lock on users is held while exams is rewritten
    assert "through 1 later statement" in traces["users"]["message"]
    assert of_rule(report, "lock-prediction-mismatch") == []


def test_transaction_per_migration_releases_locks_at_each_revision(repo):
    repo.write("alembic/env.py", "from alembic import context\n"
                                 "context.configure(transaction_per_migration=True)\n"
                                 "raise RuntimeError('never run by the reviewer')\n")
    repo.add_revision("0002", "0001", 'op.add_column("users", sa.Column("a", sa.Text))',
                      'op.drop_column("users", "a")', slug="a")
    repo.add_revision("0003", "0002", 'op.add_column("exams", sa.Column("b", sa.Text))',
                      'op.drop_column("exams", "b")', slug="b")
    _, report = review_live(repo)
    traces = {f["table"]: f["message"] for f in of_rule(report, "live-lock-trace")}
    assert "later statement" not in traces["users"]  # committed before 0003 started


def test_prediction_that_differs_from_postgres_is_reported(repo):
    # int -> a domain over int is binary coercible: PostgreSQL keeps the storage, but the lock
    # model does not know the domain's base type and predicts a rewrite.
    repo.add_revision("0002", "0001", """
        op.execute("CREATE DOMAIN posint AS integer")
        op.add_column("users", sa.Column("score", sa.Integer))
        op.execute("ALTER TABLE users ALTER COLUMN score TYPE posint")
        """, """
        op.drop_column("users", "score")
        op.execute("DROP DOMAIN posint")
        """)
    _, report = review_live(repo, "--select", "lock-prediction-mismatch")
    [mismatch] = of_rule(report, "lock-prediction-mismatch")
    assert mismatch["severity"] == "info"
    assert "predicted a rewrite of users, but its relfilenode did not change" in mismatch["message"]
    assert "TYPE posint" in source_line(repo, mismatch)


def test_a_statement_postgres_refuses_is_an_error(repo):
    repo.add_revision("0002", "0001", 'op.add_column("users", sa.Column("n", sa.Integer))\n'
                                      'op.create_index("ix_missing", "users", ["no_such_column"])',
                      'op.drop_column("users", "n")')
    code, report = review_live(repo)
    [error] = of_rule(report, "live-apply-error")
    assert code == 1 and error["severity"] == "error"
    assert 'column "no_such_column" does not exist' in error["message"]
    assert "op.create_index" in source_line(repo, error)


def test_without_live_options_nothing_touches_a_database(repo, review):
    repo.add_revision("0002", "0001", 'op.create_index("ix_users_email", "users", ["email"])')
    code, report, _ = review()
    assert not [f for f in report["findings"] if f["rule"].startswith("live-")]


def on_main(repo, rev: str, down: str, upgrade: str, slug: str):
    """Add a revision to main's history (the base of the branch) and come back to the branch."""
    repo.git("checkout", "-q", "main")
    repo.add_revision(rev, down, upgrade, slug=slug)
    repo.commit(slug)
    repo.git("checkout", "-q", "feature")
    repo.git("merge", "-q", "main")


def test_base_data_migration_is_applied_online_through_alembic(repo):
    # Offline, op.get_bind().execute() returns None: this revision cannot be rendered, only run.
    on_main(repo, "0002", "0001", 'n = op.get_bind().execute(sa.text("SELECT count(*) FROM users")).scalar()\n'
                                  'op.add_column("users", sa.Column("seen", sa.Integer, server_default=str(n)))',
            slug="data")
    repo.add_revision("0003", "0002", 'op.create_index("ix_users_seen", "users", ["seen"])',
                      'op.drop_index("ix_users_seen", table_name="users")')
    _, report = review_live(repo)
    assert of_rule(report, "live-incomplete") == []
    [trace] = of_rule(report, "live-lock-trace")
    assert trace["revision"] == "0003" and trace["lock"] == "SHARE"


def test_base_revision_that_cannot_be_applied_stops_live_checks_with_a_warning(repo):
    on_main(repo, "0002", "0001", 'op.execute("ALTER TABLE no_such_table ADD COLUMN x int")', slug="broken")
    repo.add_revision("0003", "0002", 'op.create_index("ix_users_email", "users", ["email"])',
                      'op.drop_index("ix_users_email", table_name="users")')
    _, report = review_live(repo)
    [warning] = of_rule(report, "live-incomplete")
    assert warning["severity"] == "warning" and warning["path"].endswith("0002_broken.py")
    assert 'base revision 0002 fails on PostgreSQL: relation "no_such_table" does not exist' in warning["message"]
    assert of_rule(report, "live-lock-trace") == []
