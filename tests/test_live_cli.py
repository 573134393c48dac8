"""Live mode from the command line: flags, exit 2 when there is no database, --live (a throwaway
cluster from this machine's initdb), the scratch database, and the bundled example app."""

import json
import secrets

import psycopg
from psycopg import sql

from linters.live.scratch import scratch_database
from tests.gitrepo import REPO_ROOT, run_cli
from tests.test_live_trace import DATABASE_URL, of_rule

ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=5"


def test_unreachable_database_is_exit_2_with_one_line(repo):
    proc = run_cli(str(repo.path), "--base", "main", "--database-url", "postgresql://postgres@127.0.0.1:1/postgres")
    assert proc.returncode == 2 and proc.stdout == ""
    [line] = proc.stderr.splitlines()
    assert line.startswith("alembic-review: error: cannot reach the database at postgres@127.0.0.1:1/postgres:")


def test_bad_url_and_conflicting_flags_are_exit_2(repo):
    for args in (["--database-url", "no such=thing=here"],
                 ["--database-url", DATABASE_URL, "--live"]):
        proc = run_cli(str(repo.path), "--base", "main", *args)
        assert proc.returncode == 2, args
        assert len(proc.stderr.splitlines()) == 1 and "Traceback" not in proc.stderr


def test_sqlalchemy_urls_are_accepted(repo):
    repo.add_revision("0002", "0001", 'op.add_column("users", sa.Column("a", sa.Text))', 'op.drop_column("users", "a")')
    proc = run_cli(str(repo.path), "--base", "main", "--format", "json",
                   "--database-url", DATABASE_URL.replace("postgresql://", "postgresql+asyncpg://"))
    assert proc.returncode == 0, proc.stderr
    assert of_rule(json.loads(proc.stdout), "live-lock-trace")


def test_live_starts_and_removes_a_throwaway_cluster(repo):
    repo.add_revision("0002", "0001", 'op.create_index("ix_users_email", "users", ["email"])',
                      'op.drop_index("ix_users_email", table_name="users")')
    proc = run_cli(str(repo.path), "--base", "main", "--format", "json", "--live")
    assert proc.returncode == 1, proc.stderr  # require-concurrent-index-creation
    report = json.loads(proc.stdout)
    [trace] = of_rule(report, "live-lock-trace")
    assert trace["lock"] == "SHARE" and trace["table"] == "users"


def test_scratch_database_is_created_and_dropped_and_the_named_one_is_untouched():
    own = f"ar_user_{secrets.token_hex(4)}"
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(own)))
        try:
            with psycopg.connect(ADMIN.replace("dbname=postgres", f"dbname={own}"), autocommit=True) as conn:
                conn.execute("CREATE TABLE precious (id int); INSERT INTO precious VALUES (1)")
            with scratch_database(f"postgresql://postgres@127.0.0.1:5432/{own}") as db:
                assert db.name.startswith("alembic_review_") and db.name != own
                with db.connect() as conn:
                    assert conn.execute("SELECT current_database()").fetchone()[0] == db.name
                    assert conn.execute("SELECT count(*) FROM pg_class WHERE relname = 'precious'").fetchone()[0] == 0
            names = {r[0] for r in admin.execute("SELECT datname FROM pg_database")}
            assert db.name not in names
            with psycopg.connect(ADMIN.replace("dbname=postgres", f"dbname={own}")) as conn:
                assert conn.execute("SELECT count(*) FROM precious").fetchone()[0] == 1
        finally:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(own)))


def test_example_app_history_round_trips_and_matches_its_models():
    proc = run_cli(str(REPO_ROOT), "--all", "--format", "json", "--database-url", DATABASE_URL, timeout=300)
    assert proc.returncode == 0, proc.stderr or proc.stdout
    report = json.loads(proc.stdout)
    assert len(report["revisions"]) == 7
    for rule in ("schema-drift", "irreversible-revision", "live-apply-error", "live-incomplete",
                 "lock-prediction-mismatch", "drop-mapped-column"):
        assert of_rule(report, rule) == [], rule
    # the two CONCURRENTLY builds really took SHARE UPDATE EXCLUSIVE, outside a transaction
    concurrent = [f for f in of_rule(report, "live-lock-trace") if f["lock"] == "SHARE UPDATE EXCLUSIVE"
                  and "outside a transaction" in f["message"]]
    assert {f["table"] for f in concurrent} == {"exam_attempts", "evaluations"}
