"""linters/rules/index_rules.py at the SQL level: index builds, drops and rebuilds."""

from tests.sqllint import lint_errors, lint_ok

# -- require-concurrent-index-creation ---------------------------------------------------------


def test_a_plain_create_index_on_an_existing_table_blocks_writes():
    [f] = lint_errors("BEGIN; CREATE INDEX users_email_idx ON users (email); COMMIT;",
                      "require-concurrent-index-creation")
    assert (f.severity, f.table, f.lock) == ("error", "users", "SHARE")
    assert "users_email_idx" in f.message and "autocommit_block" in f.hint


def test_a_plain_unique_index_outside_a_transaction_blocks_writes_too():
    lint_errors("CREATE UNIQUE INDEX users_email_key ON users (email);", "require-concurrent-index-creation")


def test_create_index_concurrently_outside_the_transaction_is_quiet():
    sql = """\
        DROP INDEX CONCURRENTLY IF EXISTS users_email_idx;
        CREATE INDEX CONCURRENTLY users_email_idx ON users (email);
        """
    lint_ok(sql, "require-concurrent-index-creation")
    lint_ok(sql, "ban-concurrent-index-creation-in-transaction")


def test_a_plain_index_on_a_table_the_run_created_is_quiet():
    lint_ok("BEGIN; CREATE TABLE t (id bigint, a text); CREATE INDEX t_a_idx ON t (a); COMMIT;",
            "require-concurrent-index-creation")


# -- ban-concurrent-index-creation-in-transaction ----------------------------------------------

def test_create_index_concurrently_inside_a_transaction_fails():
    [f] = lint_errors("BEGIN;\nCREATE INDEX CONCURRENTLY users_email_idx ON users (email);\nCOMMIT;",
                      "ban-concurrent-index-creation-in-transaction")
    assert (f.severity, f.table, f.lock, f.line) == ("error", "users", "SHARE UPDATE EXCLUSIVE", 2)


def test_every_concurrently_form_inside_a_transaction_fails():
    for statement, said in (("DROP INDEX CONCURRENTLY users_email_idx", "DROP INDEX CONCURRENTLY"),
                            ("REINDEX INDEX CONCURRENTLY users_email_idx", "REINDEX CONCURRENTLY"),
                            ("ALTER TABLE events DETACH PARTITION events_2020 CONCURRENTLY", "DETACH PARTITION")):
        [f] = lint_errors(f"BEGIN; {statement}; COMMIT;", "ban-concurrent-index-creation-in-transaction")
        assert said in f.message, statement


def test_the_concurrently_forms_outside_a_transaction_are_quiet():
    lint_ok("""\
        DROP INDEX CONCURRENTLY IF EXISTS users_email_idx;
        REINDEX INDEX CONCURRENTLY users_name_idx;
        ALTER TABLE events DETACH PARTITION events_2020 CONCURRENTLY;
        """, "ban-concurrent-index-creation-in-transaction")


# -- require-concurrent-index-deletion ---------------------------------------------------------

def test_a_plain_drop_index_is_a_warning_naming_the_table_when_known():
    [f] = lint_errors("""\
        CREATE INDEX CONCURRENTLY users_email_idx ON users (email);
        BEGIN;
        DROP INDEX users_email_idx;
        COMMIT;
        """, "require-concurrent-index-deletion")
    assert (f.severity, f.table, f.lock, f.line) == ("warning", "users", "ACCESS EXCLUSIVE", 3)
    assert "CONCURRENTLY" in f.message


def test_a_plain_drop_of_an_existing_index_is_a_warning():
    [f] = lint_errors("BEGIN; DROP INDEX users_email_idx; COMMIT;", "require-concurrent-index-deletion")
    assert f.severity == "warning" and "users_email_idx" in f.message
    assert f.table is None  # the SQL does not say the index's table: the index is not "the locked table"


def test_drop_index_concurrently_is_quiet():
    lint_ok("DROP INDEX CONCURRENTLY IF EXISTS users_email_idx;", "require-concurrent-index-deletion")


def test_dropping_an_index_of_a_table_the_run_created_is_quiet():
    lint_ok("BEGIN; CREATE TABLE t (id bigint); CREATE INDEX t_id_idx ON t (id); DROP INDEX t_id_idx; COMMIT;",
            "require-concurrent-index-deletion")


# -- require-concurrent-reindex ----------------------------------------------------------------

def test_a_plain_reindex_blocks_writes():
    [f] = lint_errors("BEGIN; REINDEX TABLE users; COMMIT;", "require-concurrent-reindex")
    assert (f.severity, f.table, f.lock) == ("error", "users", "SHARE")
    assert "CONCURRENTLY" in f.message
    lint_errors("BEGIN; REINDEX INDEX users_email_idx; COMMIT;", "require-concurrent-reindex")


def test_before_postgresql_12_the_hint_says_concurrently_does_not_exist_yet():
    [f] = lint_errors("BEGIN; REINDEX TABLE users; COMMIT;", "require-concurrent-reindex", pg_version=11)
    assert "PostgreSQL 12+" in f.hint


def test_reindex_concurrently_is_quiet():
    lint_ok("REINDEX TABLE CONCURRENTLY users; REINDEX INDEX CONCURRENTLY users_email_idx;",
            "require-concurrent-reindex")


def test_reindexing_a_table_the_run_created_is_quiet():
    lint_ok("BEGIN; CREATE TABLE t (id bigint); CREATE INDEX t_id_idx ON t (id); REINDEX TABLE t; "
            "REINDEX INDEX t_id_idx; COMMIT;", "require-concurrent-reindex")


def test_reindex_schema_names_the_schema():
    [f] = lint_errors("REINDEX SCHEMA billing;", "require-concurrent-reindex")
    assert "schema billing" in f.message


def test_reindex_system_is_not_told_to_use_concurrently():
    # PostgreSQL: "cannot reindex system catalogs concurrently" (squawk's reindex_system_ok agrees)
    lint_ok("REINDEX SYSTEM;", "require-concurrent-reindex")


def test_an_option_switched_off_is_off():
    lint_errors("REINDEX (CONCURRENTLY false) TABLE users;", "require-concurrent-reindex")
    lint_ok("REINDEX (CONCURRENTLY true) TABLE users;", "require-concurrent-reindex")


def test_a_table_made_by_select_into_is_new():
    lint_ok("BEGIN; SELECT * INTO orders_archive FROM orders; CREATE INDEX orders_archive_id_idx ON orders_archive (id); "
            "COMMIT;", "require-concurrent-index-creation")
