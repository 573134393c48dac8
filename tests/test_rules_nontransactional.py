"""Statements PostgreSQL refuses in a transaction block, inside Alembic's migration transaction."""

import psycopg
import pytest

from tests.conftest import rules_of

RULE = "non-transactional-in-transaction"
ADD_VALUE = """op.execute("ALTER TYPE mood ADD VALUE 'elated'")"""


def test_enum_add_value_in_the_transaction_fails_before_pg12(repo, review):
    repo.add_revision("0002", "0001", ADD_VALUE)
    code, report, _ = review("--pg-version", "11")
    assert RULE in rules_of(report) and code == 1
    [f] = [f for f in report["findings"] if f["rule"] == RULE]
    assert "ALTER TYPE" in f["message"] and "PostgreSQL 11" in f["message"]


def test_enum_add_value_is_fine_in_a_transaction_from_pg12(repo, review):
    repo.add_revision("0002", "0001", ADD_VALUE)
    code, report, _ = review("--pg-version", "15")
    assert RULE not in rules_of(report)


def test_enum_add_value_in_autocommit_block_is_fine_before_pg12(repo, review):
    repo.add_revision("0002", "0001", f"with op.get_context().autocommit_block():\n    {ADD_VALUE}")
    code, report, _ = review("--pg-version", "11")
    assert RULE not in rules_of(report)


def test_vacuum_in_the_transaction_fails_and_concurrent_index_is_reported_once(repo, review):
    repo.add_revision("0002", "0001", 'op.execute("VACUUM users")\n'
                      'op.create_index("ix_users_email", "users", ["email"], postgresql_concurrently=True)')
    code, report, _ = review()
    rules = rules_of(report)
    assert rules.count(RULE) == 1
    assert rules.count("ban-concurrent-index-creation-in-transaction") == 1


def test_postgres_really_refuses_vacuum_in_a_transaction_block():
    try:
        conn = psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres")
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL on 127.0.0.1:5432 is required: {exc}")
    with conn:
        with pytest.raises(psycopg.errors.ActiveSqlTransaction):
            conn.execute("VACUUM pg_class")
