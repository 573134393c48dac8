"""What the catalogue rules claim about PostgreSQL, measured on the real server at 127.0.0.1:5432.

The lock model (tests/test_locks_postgres.py) measures locks, rewrites and scans. These tests measure
the rest the rules rely on: which CHECK constraints let SET NOT NULL skip its scan (RunState's PG12
trick), which statements fail outright (error severity), how PostgreSQL truncates long identifiers,
and which identity changes break inserts. A missing server fails the tests.
"""

from __future__ import annotations

import os
import secrets

import psycopg
import pytest
from psycopg import sql as pgsql

from linters.sql import Chunk
from linters.rules.naming_rules import _truncated
from linters.sql import parse_chunks
from linters.state import RunState

PG_DSN = os.environ.get("ALEMBIC_REVIEW_PG_DSN", "host=127.0.0.1 port=5432 user=postgres")


@pytest.fixture(scope="module")
def dsn():
    name = f"ar_rules_{secrets.token_hex(4)}"
    try:
        admin = psycopg.connect(PG_DSN + " dbname=postgres connect_timeout=5", autocommit=True)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL at 127.0.0.1:5432 is required: {exc}")
    admin.execute(pgsql.SQL("CREATE DATABASE {}").format(pgsql.Identifier(name)))
    try:
        yield f"{PG_DSN} dbname={name}"
    finally:
        admin.execute(pgsql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(pgsql.Identifier(name)))
        admin.close()


@pytest.fixture
def conn(dsn):
    """A connection in a transaction that is rolled back: every test starts from an empty schema."""
    with psycopg.connect(dsn) as connection:
        yield connection
        connection.rollback()


def _table_with_rows(conn) -> None:
    conn.execute("CREATE TABLE t (id bigint, a int, b int)")
    conn.execute("INSERT INTO t SELECT g, g, g FROM generate_series(1, 50) g")
    conn.execute("SELECT pg_stat_clear_snapshot()")


def _seq_scans(conn) -> int:
    return conn.execute("SELECT seq_scan FROM pg_stat_xact_user_tables WHERE relname = 't'").fetchone()[0]


def _state_after(sql: str) -> RunState:
    """RunState after our parser and state tracking saw `sql` (one migration, in its transaction)."""
    state = RunState(pg_version=15)
    for stmt in parse_chunks([Chunk("upgrade", 1, sql)]).statements:
        state.apply(stmt)
    return state


@pytest.mark.parametrize("check, skips_scan", [
    ("CHECK (a IS NOT NULL)", True),
    ("CHECK (a IS NOT NULL AND b > 0)", True),
    ("CHECK (b IS NOT NULL)", False),  # another column proves nothing about a
    ("CHECK (a > 0)", False),          # NULL passes a > 0: not a NOT NULL proof
])
def test_set_not_null_skips_its_scan_exactly_when_run_state_says_so(conn, check, skips_scan):
    _table_with_rows(conn)
    setup = f"ALTER TABLE t ADD CONSTRAINT ck {check} NOT VALID; ALTER TABLE t VALIDATE CONSTRAINT ck;"
    conn.execute(setup)
    before = _seq_scans(conn)
    conn.execute("ALTER TABLE t ALTER COLUMN a SET NOT NULL")
    measured_skip = _seq_scans(conn) == before
    assert measured_skip == skips_scan
    assert (("t", "a") in _state_after(setup).not_null_proven) == skips_scan


def test_a_not_valid_check_does_not_spare_the_scan(conn):
    _table_with_rows(conn)
    setup = "ALTER TABLE t ADD CONSTRAINT ck CHECK (a IS NOT NULL) NOT VALID;"
    conn.execute(setup)
    before = _seq_scans(conn)
    conn.execute("ALTER TABLE t ALTER COLUMN a SET NOT NULL")
    assert _seq_scans(conn) > before
    assert ("t", "a") not in _state_after(setup).not_null_proven


@pytest.mark.parametrize("statement, fails", [
    ("UPDATE t SET a = 1, a = 2", True),
    ("INSERT INTO t (a, a) VALUES (1, 2)", True),
    ("UPDATE t SET a = 1, b = 2", False),
])
def test_duplicate_column_assignments_fail(conn, statement, fails):
    _table_with_rows(conn)
    if fails:
        with pytest.raises((psycopg.errors.SyntaxError, psycopg.errors.DuplicateColumn)):
            conn.execute(statement)
    else:
        conn.execute(statement)


@pytest.mark.parametrize("column, fails", [
    ("c bigint NOT NULL", True),
    ("c bigint NOT NULL DEFAULT 0", False),
    ("c bigint NOT NULL GENERATED ALWAYS AS IDENTITY", False),
    ("c bigserial NOT NULL", False),
    ("c bigint NOT NULL GENERATED ALWAYS AS (a * 2) STORED", False),
])
def test_required_column_fails_only_without_a_way_to_fill_rows(conn, column, fails):
    _table_with_rows(conn)
    conn.execute("UPDATE t SET a = 1 WHERE a IS NULL")
    statement = f"ALTER TABLE t ADD COLUMN {column}"
    if fails:
        with pytest.raises(psycopg.errors.NotNullViolation):
            conn.execute(statement)
    else:
        conn.execute(statement)


@pytest.mark.parametrize("name", ["x" * 64, "é" * 33, "ab" + "é" * 31])
def test_identifiers_are_truncated_to_63_bytes_as_the_rule_says(conn, name):
    conn.execute(pgsql.SQL("CREATE TABLE {} (id bigint)").format(pgsql.Identifier(name)))
    stored = conn.execute("SELECT relname FROM pg_class WHERE relname LIKE %s", [name[:5] + "%"]).fetchone()[0]
    assert stored == _truncated(name) != name


@pytest.mark.parametrize("change, insert, breaks", [
    ("SET GENERATED ALWAYS", "INSERT INTO t (id, a) VALUES (100, 1)", True),
    ("SET GENERATED BY DEFAULT", "INSERT INTO t (id, a) VALUES (100, 1)", False),
    ("DROP IDENTITY", "INSERT INTO t (a) VALUES (1)", True),
])
def test_identity_changes_the_rule_reports_break_inserts(conn, change, insert, breaks):
    conn.execute("CREATE TABLE t (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, a int)")
    conn.execute(insert.replace("100", "50"))  # works before the change
    conn.execute(f"ALTER TABLE t ALTER COLUMN id {change}")
    if breaks:
        with pytest.raises((psycopg.errors.GeneratedAlways, psycopg.errors.NotNullViolation)):
            conn.execute(insert)
    else:
        conn.execute(insert)
