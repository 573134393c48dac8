"""linters/rules/column_rules.py at the SQL level: column changes on existing tables.

`users` and `orders` stand for tables that exist and are in use; a table the SQL creates is new.
"""

from tests.sqllint import lint_errors, lint_ok


# -- ban-drop-column ------------------------------------------------------------------------

def test_dropping_a_column_of_an_existing_table_is_an_error_on_its_line():
    [f] = lint_errors("""\
        BEGIN;
        SET lock_timeout = '2s';
        ALTER TABLE users
            DROP COLUMN email;
        COMMIT;
        """, "ban-drop-column")
    assert (f.severity, f.table, f.lock, f.line) == ("error", "users", "ACCESS EXCLUSIVE", 3)
    assert "users.email" in f.message


def test_dropping_a_column_the_same_run_added_is_quiet():
    lint_ok("BEGIN; ALTER TABLE users ADD COLUMN nickname text; ALTER TABLE users DROP COLUMN nickname; COMMIT;",
            "ban-drop-column")


def test_dropping_a_column_of_a_table_the_run_created_is_quiet():
    lint_ok("BEGIN; CREATE TABLE drafts (id bigint, body text); ALTER TABLE drafts DROP COLUMN body; COMMIT;",
            "ban-drop-column")


def test_dropping_a_column_marked_ignored_in_the_sql_is_quiet():
    lint_ok("""\
        BEGIN;
        -- alembic-review: ignore[ban-drop-column]
        ALTER TABLE users DROP COLUMN email;
        COMMIT;
        """, "ban-drop-column")


# -- adding-field-with-default ----------------------------------------------------------------

def test_a_volatile_default_rewrites_the_table():
    [f] = lint_errors("BEGIN; ALTER TABLE users ADD COLUMN token uuid DEFAULT gen_random_uuid(); COMMIT;",
                      "adding-field-with-default")
    assert (f.severity, f.table, f.lock) == ("error", "users", "ACCESS EXCLUSIVE")
    assert "users.token" in f.message and "gen_random_uuid()" in f.message


def test_identity_serial_and_stored_generated_columns_rewrite_the_table():
    for column in ("n bigint GENERATED ALWAYS AS IDENTITY", "n bigserial",
                   "total numeric GENERATED ALWAYS AS (price * qty) STORED",
                   "seen timestamptz DEFAULT clock_timestamp()"):
        lint_errors(f"BEGIN; ALTER TABLE users ADD COLUMN {column}; COMMIT;", "adding-field-with-default")


def test_a_constant_default_rewrites_only_before_postgresql_11():
    sql = "BEGIN; ALTER TABLE users ADD COLUMN score bigint NOT NULL DEFAULT 0; COMMIT;"
    [f] = lint_errors(sql, "adding-field-with-default", pg_version=10)
    assert "before PostgreSQL 11" in f.message
    lint_ok(sql, "adding-field-with-default", pg_version=11)


def test_now_with_arguments_is_not_the_built_in_now():
    # pg_proc has now() only; now(123) is another (unknown) function, so it is assumed volatile
    [f] = lint_errors("BEGIN; ALTER TABLE users ADD COLUMN c timestamptz DEFAULT now(123); COMMIT;",
                      "adding-field-with-default")
    assert "now()" in f.message


def test_constant_defaults_and_now_are_quiet():
    for default in ("0", "now()", "CURRENT_TIMESTAMP", "'{}'::jsonb", "'new'"):
        lint_ok(f"BEGIN; ALTER TABLE users ADD COLUMN c text DEFAULT {default}; COMMIT;", "adding-field-with-default")


def test_the_recipe_add_then_set_the_volatile_default_is_quiet():
    lint_ok("""\
        BEGIN;
        ALTER TABLE users ADD COLUMN token uuid;
        ALTER TABLE users ALTER COLUMN token SET DEFAULT gen_random_uuid();
        COMMIT;
        """, "adding-field-with-default")


def test_a_volatile_default_on_a_table_the_run_created_is_quiet():
    lint_ok("BEGIN; CREATE TABLE t (id bigint); ALTER TABLE t ADD COLUMN token uuid DEFAULT gen_random_uuid(); COMMIT;",
            "adding-field-with-default")


# -- adding-required-field --------------------------------------------------------------------

def test_a_not_null_column_without_default_fails_on_a_table_with_rows():
    [f] = lint_errors("BEGIN; ALTER TABLE users ADD COLUMN tier bigint NOT NULL; COMMIT;", "adding-required-field")
    assert (f.severity, f.table, f.lock) == ("error", "users", "ACCESS EXCLUSIVE")
    assert "users.tier" in f.message


def test_a_primary_key_column_and_an_explicit_null_default_are_required_fields_too():
    lint_errors("BEGIN; ALTER TABLE users ADD COLUMN uid bigint PRIMARY KEY; COMMIT;", "adding-required-field")
    lint_errors("BEGIN; ALTER TABLE users ADD COLUMN tier bigint NOT NULL DEFAULT NULL; COMMIT;",
                "adding-required-field")


def test_a_not_null_column_with_a_constant_default_is_quiet():
    lint_ok("BEGIN; ALTER TABLE users ADD COLUMN tier bigint NOT NULL DEFAULT 0; COMMIT;", "adding-required-field")


def test_columns_that_fill_themselves_are_quiet():
    for column in ("n bigint GENERATED ALWAYS AS IDENTITY", "n bigserial NOT NULL"):
        lint_ok(f"BEGIN; ALTER TABLE users ADD COLUMN {column}; COMMIT;", "adding-required-field")


def test_a_nullable_column_is_quiet():
    lint_ok("BEGIN; ALTER TABLE users ADD COLUMN tier bigint; COMMIT;", "adding-required-field")


def test_a_required_field_on_a_table_the_run_created_is_quiet():
    lint_ok("BEGIN; CREATE TABLE t (id bigint); COMMIT; BEGIN; ALTER TABLE t ADD COLUMN c bigint NOT NULL; COMMIT;",
            "adding-required-field")


# -- adding-not-nullable-field ----------------------------------------------------------------

def test_set_not_null_scans_under_access_exclusive():
    [f] = lint_errors("BEGIN; ALTER TABLE users ALTER COLUMN email SET NOT NULL; COMMIT;", "adding-not-nullable-field")
    assert (f.severity, f.table, f.lock) == ("error", "users", "ACCESS EXCLUSIVE")
    assert "users.email" in f.message
    assert "create_check_constraint" in f.hint  # the recipe: prove it with a validated CHECK first


# The recipe: CHECK (col IS NOT NULL) NOT VALID, VALIDATE in a later transaction, then SET NOT NULL.
CHECK_FIRST = """\
    BEGIN;
    ALTER TABLE users ADD CONSTRAINT users_email_not_null CHECK (email IS NOT NULL) NOT VALID;
    COMMIT;
    ALTER TABLE users VALIDATE CONSTRAINT users_email_not_null;
    BEGIN;
    ALTER TABLE users ALTER COLUMN email SET NOT NULL;
    ALTER TABLE users DROP CONSTRAINT users_email_not_null;
    COMMIT;
    """


def test_set_not_null_after_a_validated_check_is_quiet_from_postgresql_12():
    lint_ok(CHECK_FIRST, "adding-not-nullable-field", pg_version=12)


def test_set_not_null_after_a_validated_check_still_scans_before_postgresql_12():
    [f] = lint_errors(CHECK_FIRST, "adding-not-nullable-field", pg_version=11)
    assert "Before PostgreSQL 12" in f.hint


def test_a_check_that_proves_another_column_or_was_dropped_does_not_help():
    lint_errors(CHECK_FIRST.replace("ALTER COLUMN email", "ALTER COLUMN name"), "adding-not-nullable-field")
    lint_errors("""\
        BEGIN;
        ALTER TABLE users ADD CONSTRAINT ck CHECK (email IS NOT NULL OR name IS NOT NULL) NOT VALID;
        COMMIT;
        ALTER TABLE users VALIDATE CONSTRAINT ck;
        BEGIN; ALTER TABLE users ALTER COLUMN email SET NOT NULL; COMMIT;
        """, "adding-not-nullable-field")
    lint_errors("""\
        BEGIN; ALTER TABLE users ADD CONSTRAINT ck CHECK (email IS NOT NULL) NOT VALID; COMMIT;
        ALTER TABLE users VALIDATE CONSTRAINT ck;
        BEGIN; ALTER TABLE users DROP CONSTRAINT ck; ALTER TABLE users ALTER COLUMN email SET NOT NULL; COMMIT;
        """, "adding-not-nullable-field")


def test_a_check_that_was_never_validated_does_not_help():
    lint_errors(CHECK_FIRST.replace("ALTER TABLE users VALIDATE CONSTRAINT users_email_not_null;", ""),
                "adding-not-nullable-field")


def test_set_not_null_on_a_table_the_run_created_is_quiet():
    lint_ok("BEGIN; CREATE TABLE t (id bigint, a text); ALTER TABLE t ALTER COLUMN a SET NOT NULL; COMMIT;",
            "adding-not-nullable-field")


# -- changing-column-type ---------------------------------------------------------------------

def test_changing_a_column_type_rewrites_the_table():
    [f] = lint_errors("BEGIN; ALTER TABLE users ALTER COLUMN id TYPE bigint; COMMIT;", "changing-column-type")
    assert (f.severity, f.table, f.lock) == ("error", "users", "ACCESS EXCLUSIVE")
    assert "users.id" in f.message


def test_a_type_change_with_using_is_reported():
    lint_errors("BEGIN; ALTER TABLE users ALTER COLUMN created TYPE timestamptz USING created AT TIME ZONE 'UTC'; "
                "COMMIT;", "changing-column-type")


def test_a_type_change_on_a_table_the_run_created_is_quiet():
    lint_ok("BEGIN; CREATE TABLE t (id int); ALTER TABLE t ALTER COLUMN id TYPE bigint; COMMIT;",
            "changing-column-type")


def test_a_type_change_that_keeps_the_bytes_is_quiet_when_the_old_type_is_known():
    # the run set the type: varchar widening and varchar -> text do not rewrite (relfilenode unchanged)
    lint_ok("BEGIN; ALTER TABLE users ADD COLUMN code varchar(10); ALTER TABLE users ALTER COLUMN code TYPE varchar(20); "
            "ALTER TABLE users ALTER COLUMN code TYPE text; COMMIT;", "changing-column-type")
    lint_ok("BEGIN; ALTER TABLE users ADD COLUMN code varchar(10); ALTER TABLE users ALTER COLUMN code TYPE text; COMMIT;",
            "require-statement-timeout")


def test_narrowing_a_known_type_is_reported():
    lint_errors("BEGIN; ALTER TABLE users ADD COLUMN code varchar(20); ALTER TABLE users ALTER COLUMN code TYPE varchar(10); "
                "COMMIT;", "changing-column-type")


# -- ban-drop-not-null, ban-drop-default, ban-drop-generated-expression -----------------------

def test_dropping_not_null_of_an_existing_column_is_a_warning():
    [f] = lint_errors("BEGIN; ALTER TABLE users ALTER COLUMN name DROP NOT NULL; COMMIT;", "ban-drop-not-null")
    assert (f.severity, f.table, f.lock) == ("warning", "users", "ACCESS EXCLUSIVE")
    assert "users.name" in f.message


def test_dropping_not_null_of_a_column_the_run_added_is_quiet():
    lint_ok("BEGIN; ALTER TABLE users ADD COLUMN n bigint NOT NULL DEFAULT 0; ALTER TABLE users ALTER COLUMN n "
            "DROP NOT NULL; COMMIT;", "ban-drop-not-null")


def test_dropping_a_default_of_an_existing_column_is_a_warning():
    [f] = lint_errors("BEGIN; ALTER TABLE users ALTER COLUMN status DROP DEFAULT; COMMIT;", "ban-drop-default")
    assert (f.severity, f.table) == ("warning", "users")
    assert "users.status" in f.message


def test_setting_a_default_or_dropping_one_the_run_added_is_quiet():
    lint_ok("BEGIN; ALTER TABLE users ALTER COLUMN status SET DEFAULT 'new'; COMMIT;", "ban-drop-default")
    lint_ok("BEGIN; ALTER TABLE users ADD COLUMN status text NOT NULL DEFAULT 'new'; "
            "ALTER TABLE users ALTER COLUMN status DROP DEFAULT; COMMIT;", "ban-drop-default")


def test_dropping_a_generated_expression_is_a_warning():
    [f] = lint_errors("BEGIN; ALTER TABLE orders ALTER COLUMN total DROP EXPRESSION; COMMIT;",
                      "ban-drop-generated-expression")
    assert (f.severity, f.table) == ("warning", "orders")
    assert "orders.total" in f.message


def test_dropping_a_generated_expression_on_a_table_the_run_created_is_quiet():
    lint_ok("BEGIN; CREATE TABLE t (a int, b int GENERATED ALWAYS AS (a * 2) STORED); "
            "ALTER TABLE t ALTER COLUMN b DROP EXPRESSION; COMMIT;", "ban-drop-generated-expression")


# -- ban-alter-identity -----------------------------------------------------------------------

def test_identity_changes_that_reject_what_running_code_inserts_are_warnings():
    for change in ("DROP IDENTITY", "SET GENERATED ALWAYS", "ADD GENERATED ALWAYS AS IDENTITY"):
        [f] = lint_errors(f"BEGIN; ALTER TABLE users ALTER COLUMN id {change}; COMMIT;", "ban-alter-identity")
        assert (f.severity, f.table) == ("warning", "users"), change
        assert "users.id" in f.message


def test_identity_changes_that_accept_what_worked_before_are_quiet():
    for change in ("SET GENERATED BY DEFAULT", "RESTART WITH 1000", "SET INCREMENT BY 2"):
        lint_ok(f"BEGIN; ALTER TABLE users ALTER COLUMN id {change}; COMMIT;", "ban-alter-identity")


def test_identity_changes_on_a_column_the_run_added_are_quiet():
    lint_ok("BEGIN; ALTER TABLE users ADD COLUMN n bigint GENERATED BY DEFAULT AS IDENTITY; "
            "ALTER TABLE users ALTER COLUMN n SET GENERATED ALWAYS; COMMIT;", "ban-alter-identity")
