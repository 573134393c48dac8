"""linters/rules/naming_rules.py at the SQL level: renames, schema moves, identifiers PostgreSQL truncates."""

from tests.sqllint import lint_errors, lint_ok

LONG_TABLE = "customer_subscription_billing_history_entries_for_the_finance_team"  # 66 bytes
assert len(LONG_TABLE) == 66

# -- renaming-column ---------------------------------------------------------------------------


def test_renaming_an_existing_column_is_an_error():
    [f] = lint_errors("BEGIN; ALTER TABLE users RENAME COLUMN email TO email_address; COMMIT;", "renaming-column")
    assert (f.severity, f.table, f.lock) == ("error", "users", "ACCESS EXCLUSIVE")
    assert "users.email" in f.message and "email_address" in f.message


def test_renaming_a_column_the_run_added_is_quiet():
    lint_ok("BEGIN; ALTER TABLE users ADD COLUMN mail text; ALTER TABLE users RENAME COLUMN mail TO email_address; "
            "COMMIT;", "renaming-column")


def test_renaming_a_column_of_a_table_the_run_created_is_quiet():
    lint_ok("BEGIN; CREATE TABLE t (id bigint, a text); ALTER TABLE t RENAME COLUMN a TO b; COMMIT;",
            "renaming-column")


# -- renaming-table ----------------------------------------------------------------------------

def test_renaming_an_existing_table_is_an_error():
    [f] = lint_errors("BEGIN; ALTER TABLE users RENAME TO accounts; COMMIT;", "renaming-table")
    assert (f.severity, f.table, f.lock) == ("error", "users", "ACCESS EXCLUSIVE")
    assert "accounts" in f.message


def test_renaming_a_table_the_run_created_is_quiet_and_it_stays_new_under_its_new_name():
    sql = "BEGIN; CREATE TABLE t (id bigint); ALTER TABLE t RENAME TO t2; ALTER TABLE t2 RENAME TO t3; COMMIT;"
    lint_ok(sql, "renaming-table")


# -- renaming-object ---------------------------------------------------------------------------

def test_renaming_existing_objects_is_a_warning():
    for statement, said in (
            ("ALTER INDEX users_email_idx RENAME TO users_mail_idx", "index users_email_idx"),
            ("ALTER SEQUENCE invoice_number RENAME TO invoice_no", "sequence invoice_number"),
            ("ALTER VIEW active_users RENAME TO live_users", "view active_users"),
            ("ALTER TYPE mood RENAME TO feeling", "type mood"),
            ("ALTER TYPE mood RENAME VALUE 'meh' TO 'fine'", "enum value mood.meh"),
            ("ALTER TABLE users RENAME CONSTRAINT users_email_key TO users_mail_key",
             "constraint users.users_email_key"),
            ("ALTER FUNCTION touch() RENAME TO touch_row", "function touch"),
            ("ALTER SCHEMA billing RENAME TO invoicing", "schema billing"),
            ("ALTER DOMAIN email RENAME TO mail", "domain email"),
            ("ALTER AGGREGATE total(int) RENAME TO sum_of", "aggregate total"),
            ("ALTER ROUTINE touch() RENAME TO touch_row", "routine touch")):
        [f] = lint_errors(f"BEGIN; {statement}; COMMIT;", "renaming-object")
        assert f.severity == "warning" and f"renaming {said} " in f.message, statement


def test_renaming_objects_the_run_created_is_quiet():
    lint_ok("""\
        BEGIN;
        CREATE TABLE t (id bigint CONSTRAINT t_id_positive CHECK (id > 0));
        CREATE INDEX t_id_idx ON t (id);
        ALTER INDEX t_id_idx RENAME TO t_id_index;
        ALTER TABLE t RENAME CONSTRAINT t_id_positive TO t_id_above_zero;
        CREATE SEQUENCE s;
        ALTER SEQUENCE s RENAME TO s2;
        CREATE TYPE mood AS ENUM ('meh');
        ALTER TYPE mood RENAME VALUE 'meh' TO 'fine';
        CREATE AGGREGATE total(int) (sfunc = int4pl, stype = int);
        ALTER AGGREGATE total(int) RENAME TO sum_of;
        ALTER TABLE users ADD CONSTRAINT users_id_positive CHECK (id > 0) NOT VALID;
        ALTER TABLE users RENAME CONSTRAINT users_id_positive TO users_id_above_zero;
        COMMIT;
        """, "renaming-object")


# -- ban-set-schema ----------------------------------------------------------------------------

def test_moving_an_existing_table_to_another_schema_is_a_warning():
    [f] = lint_errors("BEGIN; ALTER TABLE users SET SCHEMA archive; COMMIT;", "ban-set-schema")
    assert (f.severity, f.table, f.lock) == ("warning", "users", "ACCESS EXCLUSIVE")
    assert "table users" in f.message and "archive" in f.message


def test_moving_other_existing_objects_is_a_warning():
    for statement in ("ALTER VIEW active_users SET SCHEMA archive", "ALTER TYPE mood SET SCHEMA archive",
                      "ALTER FUNCTION touch() SET SCHEMA archive"):
        lint_errors(f"BEGIN; {statement}; COMMIT;", "ban-set-schema")


def test_moving_objects_the_run_created_is_quiet():
    lint_ok("""\
        BEGIN;
        CREATE TABLE t (id bigint);
        ALTER TABLE t SET SCHEMA archive;
        CREATE VIEW v AS SELECT 1;
        ALTER VIEW v SET SCHEMA archive;
        CREATE TYPE mood AS ENUM ('ok');
        ALTER TYPE mood SET SCHEMA archive;
        CREATE FUNCTION touch() RETURNS int LANGUAGE sql AS 'SELECT 1';
        ALTER FUNCTION touch() SET SCHEMA archive;
        COMMIT;
        """, "ban-set-schema")


# -- identifier-too-long -----------------------------------------------------------------------

def test_a_table_name_over_63_bytes_is_a_warning_saying_what_postgresql_keeps():
    [f] = lint_errors(f"BEGIN; CREATE TABLE {LONG_TABLE} (id bigint); COMMIT;", "identifier-too-long")
    assert f.severity == "warning"
    assert "66 bytes" in f.message and f"keeps only the first 63: {LONG_TABLE[:63]}" in f.message


def test_index_constraint_and_column_names_over_63_bytes_are_warnings():
    long_index = "ix_users_" + "email_and_name_lowercased_for_the_case_insensitive_search_" * 2
    lint_errors(f"CREATE INDEX CONCURRENTLY {long_index} ON users (email);", "identifier-too-long")
    lint_errors(f"BEGIN; ALTER TABLE users ADD COLUMN {LONG_TABLE} text; COMMIT;", "identifier-too-long")
    lint_errors(f"BEGIN; CREATE TABLE t (id bigint, CONSTRAINT fk_{LONG_TABLE} FOREIGN KEY (id) "
                "REFERENCES users (id)); COMMIT;", "identifier-too-long")


def test_multibyte_names_count_bytes_not_characters():
    name = "tâble_" + "é" * 30  # 36 characters, 67 bytes
    [f] = lint_errors(f'BEGIN; CREATE TABLE "{name}" (id bigint); COMMIT;', "identifier-too-long")
    assert "67 bytes" in f.message


def test_a_name_of_63_bytes_is_quiet():
    lint_ok(f"BEGIN; CREATE TABLE {LONG_TABLE[:63]} (id bigint); COMMIT;", "identifier-too-long")
    lint_ok(f'BEGIN; CREATE TABLE "{"é" * 31}x" (id bigint); COMMIT;', "identifier-too-long")


def test_a_drop_naming_an_object_over_63_bytes_is_a_warning():
    [f] = lint_errors(f"BEGIN; DROP TABLE {LONG_TABLE}; COMMIT;", "identifier-too-long")
    assert f"first 63, {LONG_TABLE[:63]}" in f.message
    lint_errors(f"BEGIN; ALTER TABLE users DROP CONSTRAINT fk_{LONG_TABLE}; COMMIT;", "identifier-too-long")
    lint_ok(f"BEGIN; DROP TABLE {LONG_TABLE[:63]}; COMMIT;", "identifier-too-long")


def test_a_long_name_the_statement_only_refers_to_is_quiet():
    lint_ok(f"BEGIN; SELECT id FROM {LONG_TABLE}; "
            f"CREATE TABLE t (id bigint REFERENCES {LONG_TABLE} (id)); COMMIT;", "identifier-too-long")
