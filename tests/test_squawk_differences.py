"""Where our verdict differs from squawk's own rule tests on purpose: the PostgreSQL fact behind each one,
measured on the real server at 127.0.0.1:5432, next to our verdict on squawk's case (docs/squawk-agreement.md).
"""

from __future__ import annotations

import psycopg
import pytest

from linters.config import Config
from linters.rules import RULES
from linters.sqlfile import lint_sql
from tests.sqllint import lint_errors, lint_ok
from tests.test_rules_postgres import _seq_scans, _table_with_rows, conn, dsn  # noqa: F401  (fixtures)


def _relfilenode(conn) -> int:
    return conn.execute("SELECT relfilenode FROM pg_class WHERE relname = 't'").fetchone()[0]


def test_row_level_security_and_set_not_null_can_be_run_twice(conn):
    # squawk's prefer-robust-stmts enable/disable_row_level_security_err and alter_column_set_not_null
    _table_with_rows(conn)
    conn.execute("UPDATE t SET a = 0 WHERE a IS NULL")
    for statement in ("ALTER TABLE t ENABLE ROW LEVEL SECURITY", "ALTER TABLE t DISABLE ROW LEVEL SECURITY",
                      "ALTER TABLE t ALTER COLUMN a SET NOT NULL"):
        conn.execute(statement)
        conn.execute(statement)  # the re-run: no error
        lint_ok(f"SELECT 1; {statement.replace(' t ', ' users ')};", "prefer-robust-stmts")


def test_a_temporary_table_is_gone_when_a_rerun_opens_its_session(dsn):  # noqa: F811
    # squawk's create_temp_table_without_on_commit_drop_err: a re-run is a new `alembic upgrade`, a new session
    with psycopg.connect(dsn) as first:
        first.execute("CREATE TEMP TABLE scratch (id int)")
        with psycopg.connect(dsn) as rerun:
            rerun.execute("CREATE TEMP TABLE scratch (id int)")
    lint_ok("SELECT 1; CREATE TEMP TABLE scratch (id int);", "prefer-robust-stmts")


def test_create_index_concurrently_fails_in_the_transaction_even_alone(conn):
    # squawk's assuming_in_transaction_ok: one statement, but the setting says the tool wraps it in a transaction
    _table_with_rows(conn)
    with pytest.raises(psycopg.errors.ActiveSqlTransaction):
        conn.execute("CREATE UNIQUE INDEX CONCURRENTLY t_id_idx ON t (id)")
    lint_errors("CREATE UNIQUE INDEX CONCURRENTLY t_id_idx ON users (id);",
                "ban-concurrent-index-creation-in-transaction", assume_in_transaction=True)


@pytest.mark.parametrize("constraint, reported_by", [
    ("PRIMARY KEY (id)", "adding-serial-primary-key-field"),
    ("UNIQUE (id)", "disallowed-unique-constraint"),
])
def test_primary_keys_and_unique_constraints_cannot_be_not_valid(conn, constraint, reported_by):
    # squawk's constraint-missing-not-valid new_tables_without_transaction_err (ADD PRIMARY KEY): its advice
    # cannot be followed; the rule with the recipe that works reports it instead
    _table_with_rows(conn)
    with pytest.raises(psycopg.errors.FeatureNotSupported):
        conn.execute(f"ALTER TABLE t ADD {constraint} NOT VALID")
    sql = f"BEGIN; ALTER TABLE users ADD {constraint}; COMMIT;"
    lint_ok(sql, "constraint-missing-not-valid")
    lint_errors(sql, reported_by)


def test_a_foreign_key_is_reported_once_by_its_own_rule():
    # squawk's constraint-missing-not-valid adding_fk_err: one finding per problem
    sql = "BEGIN; ALTER TABLE orders ADD CONSTRAINT fk FOREIGN KEY (user_id) REFERENCES users (id); COMMIT;"
    lint_ok(sql, "constraint-missing-not-valid")
    [f] = lint_errors(sql, "adding-foreign-key-constraint")
    assert "postgresql_not_valid=True" in f.hint


def test_add_column_without_default_neither_rewrites_nor_scans(conn):
    # squawk's require-statement-timeout err_only_statement_timeout_rule_enabled: nothing for a
    # statement_timeout to bound; the lock wait is lock_timeout's, and reported
    _table_with_rows(conn)
    before, scans = _relfilenode(conn), _seq_scans(conn)
    conn.execute("ALTER TABLE t ADD COLUMN c boolean")
    assert (_relfilenode(conn), _seq_scans(conn)) == (before, scans)
    lint_ok("ALTER TABLE users ADD COLUMN c BOOLEAN;", "require-statement-timeout")
    lint_errors("ALTER TABLE users ADD COLUMN c BOOLEAN;", "require-lock-timeout")


def test_a_constant_default_is_stored_in_the_catalog(conn):
    # squawk's adding-field-with-default docs_example_error_on_pg_11: PostgreSQL 11 introduced the stored
    # default (squawk counts only versions above 11); measured here on the server we have
    _table_with_rows(conn)
    before = _relfilenode(conn)
    conn.execute("ALTER TABLE t ADD COLUMN foo integer DEFAULT 10")
    assert _relfilenode(conn) == before
    lint_ok('ALTER TABLE "core_recipe" ADD COLUMN "foo" integer DEFAULT 10;', "adding-field-with-default", pg_version=11)
    lint_errors('ALTER TABLE "core_recipe" ADD COLUMN "foo" integer DEFAULT 10;', "adding-field-with-default",
                pg_version=10)


def test_set_not_null_after_validating_a_constraint_we_have_not_seen_may_scan(conn):
    # squawk's pg12/pg16_cross_migration_validate_then_set_not_null_ok assume the validated constraint is
    # `bar IS NOT NULL`; the SQL does not say so, and another CHECK spares nothing
    conn.execute("CREATE TABLE foo (id bigint, bar int)")
    conn.execute("INSERT INTO foo SELECT g, g FROM generate_series(1, 50) g")
    conn.execute("ALTER TABLE foo ADD CONSTRAINT foo_bar_not_null CHECK (bar > 0) NOT VALID")
    conn.execute("SELECT pg_stat_clear_snapshot()")
    conn.execute("ALTER TABLE foo VALIDATE CONSTRAINT foo_bar_not_null")
    scans = conn.execute("SELECT seq_scan FROM pg_stat_xact_user_tables WHERE relname = 'foo'").fetchone()[0]
    conn.execute("ALTER TABLE foo ALTER COLUMN bar SET NOT NULL")
    assert conn.execute("SELECT seq_scan FROM pg_stat_xact_user_tables WHERE relname = 'foo'").fetchone()[0] > scans
    lint_errors("ALTER TABLE foo VALIDATE CONSTRAINT foo_bar_not_null;\nALTER TABLE foo ALTER COLUMN bar SET NOT NULL;",
                "adding-not-nullable-field", pg_version=16)


def test_vacuum_full_rewrites_under_access_exclusive_before_postgresql_19(dsn):  # noqa: F811
    # squawk's prefer-repack vacuum_full_below_pg19_ok / cluster_below_pg19_ok: the rewrite is the same
    # before 19, only REPACK (the advice) is missing: we point to pg_repack there
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS t")
        _table_with_rows(conn)
        before = _relfilenode(conn)
        conn.execute("VACUUM FULL t")
        assert _relfilenode(conn) != before
        conn.execute("DROP TABLE t")
    [f] = lint_errors("VACUUM FULL users;", "prefer-repack", pg_version=15)
    assert f.lock == "ACCESS EXCLUSIVE" and "pg_repack" in f.hint


def test_postgresql_rejects_squawks_array_spelling(conn):
    # squawk's ban-char-field all_the_types: `int array[]` is not PostgreSQL; we report the file unparsable
    with pytest.raises(psycopg.errors.SyntaxError):
        conn.execute("CREATE TABLE t (m int array[])")
    findings = lint_sql("CREATE TABLE t (m int array[]);", "migration.sql", Config().validate(RULES))
    assert [f.rule for f in findings] == ["render-error"]


def test_replica_identity_nothing_breaks_updates_on_a_published_table(conn):
    # ban-replica-identity's claim (squawk's opt-in rule of the same name)
    _table_with_rows(conn)
    conn.execute("CREATE PUBLICATION ar_squawk_pub FOR TABLE t")
    conn.execute("ALTER TABLE t REPLICA IDENTITY NOTHING")
    with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState):
        conn.execute("UPDATE t SET a = 1 WHERE id = 1")
    lint_errors("BEGIN; ALTER TABLE users REPLICA IDENTITY NOTHING; COMMIT;", "ban-replica-identity")
