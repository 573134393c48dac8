"""linters/rules/drop_rules.py at the SQL level: dropping objects and data running code still uses.

The safe form of a drop is a drop of something the same run created (no released code knows it), or a
drop the author marks `-- alembic-review: ignore[rule]` once the code no longer uses the object.
"""

from tests.sqllint import lint_errors, lint_ok


def test_dropping_a_database_is_an_error():
    [f] = lint_errors("DROP DATABASE app;", "ban-drop-database")
    assert f.severity == "error" and "app" in f.message


def test_creating_or_altering_a_database_is_quiet():  # there is no safe way to drop one from a migration
    lint_ok("CREATE DATABASE scratch; ALTER DATABASE scratch SET timezone TO 'UTC';", "ban-drop-database")


def test_dropping_an_existing_table_is_an_error():
    [f] = lint_errors("BEGIN; DROP TABLE app.users; COMMIT;", "ban-drop-table")
    assert (f.severity, f.table, f.lock) == ("error", "app.users", "ACCESS EXCLUSIVE")
    assert "app.users" in f.message


def test_if_exists_does_not_make_dropping_a_table_safe():
    lint_errors("BEGIN; DROP TABLE IF EXISTS users; COMMIT;", "ban-drop-table")


def test_dropping_a_table_the_run_created_is_quiet_whatever_the_schema_spelling():
    lint_ok("BEGIN; CREATE TABLE scratch (id bigint); DROP TABLE scratch; COMMIT;", "ban-drop-table")
    lint_ok("BEGIN; CREATE TABLE public.scratch (id bigint); DROP TABLE scratch; COMMIT;", "ban-drop-table")
    lint_ok("BEGIN; CREATE TABLE app.scratch (id bigint); DROP TABLE app.scratch; COMMIT;", "ban-drop-table")


def test_dropping_alembic_version_is_quiet():
    lint_ok("BEGIN; DROP TABLE alembic_version; COMMIT;", "ban-drop-table")


def test_dropping_a_table_marked_ignored_is_quiet():
    lint_ok("BEGIN;\n-- alembic-review: ignore[ban-drop-table]\nDROP TABLE legacy;\nCOMMIT;", "ban-drop-table")


def test_truncate_cascade_is_an_error():
    [f] = lint_errors("BEGIN; TRUNCATE users, sessions CASCADE; COMMIT;", "ban-truncate-cascade")
    assert (f.severity, f.table, f.lock) == ("error", "users", "ACCESS EXCLUSIVE")
    assert "users, sessions" in f.message


def test_truncate_naming_every_table_without_cascade_is_quiet():
    lint_ok("BEGIN; TRUNCATE users, sessions; COMMIT;", "ban-truncate-cascade")


def _warns(findings: list, name: str) -> None:
    for f in findings:
        assert f.severity == "warning" and f"{name} breaks code" in f.message


def test_dropping_an_existing_view_or_materialized_view_is_a_warning():
    _warns(lint_errors("BEGIN; DROP VIEW active_users; COMMIT;", "ban-drop-view"), "view active_users")
    _warns(lint_errors("BEGIN; DROP MATERIALIZED VIEW user_stats; COMMIT;", "ban-drop-view"), "view user_stats")


def test_dropping_a_view_the_run_created_is_quiet():
    lint_ok("BEGIN; CREATE VIEW v AS SELECT 1; DROP VIEW v; COMMIT;", "ban-drop-view")
    lint_ok("BEGIN; CREATE MATERIALIZED VIEW mv AS SELECT 1; DROP MATERIALIZED VIEW mv; COMMIT;", "ban-drop-view")


def test_dropping_an_existing_function_or_procedure_is_a_warning():
    _warns(lint_errors("BEGIN; DROP FUNCTION touch(int); COMMIT;", "ban-drop-function"), "function touch")
    lint_errors("BEGIN; DROP PROCEDURE purge(); COMMIT;", "ban-drop-function")


def test_dropping_a_function_the_run_created_is_quiet():
    lint_ok("BEGIN; CREATE FUNCTION touch(int) RETURNS int LANGUAGE sql AS 'SELECT 1'; DROP FUNCTION touch(int); "
            "COMMIT;", "ban-drop-function")


def test_dropping_an_existing_type_is_a_warning():
    _warns(lint_errors("BEGIN; DROP TYPE mood; COMMIT;", "ban-drop-type"), "type mood")


def test_dropping_a_type_the_run_created_is_quiet():
    lint_ok("BEGIN; CREATE TYPE mood AS ENUM ('ok'); DROP TYPE mood; COMMIT;", "ban-drop-type")


def test_dropping_an_existing_schema_is_a_warning():
    _warns(lint_errors("BEGIN; DROP SCHEMA archive CASCADE; COMMIT;", "ban-drop-schema"), "schema archive")


def test_dropping_a_schema_the_run_created_is_quiet():
    lint_ok("BEGIN; CREATE SCHEMA archive; DROP SCHEMA archive; COMMIT;", "ban-drop-schema")


def test_dropping_an_existing_sequence_is_a_warning():
    _warns(lint_errors("BEGIN; DROP SEQUENCE invoice_number; COMMIT;", "ban-drop-sequence"), "sequence invoice_number")


def test_dropping_a_sequence_the_run_created_is_quiet():
    lint_ok("BEGIN; CREATE SEQUENCE invoice_number; DROP SEQUENCE invoice_number; COMMIT;", "ban-drop-sequence")


def test_dropping_an_existing_domain_is_a_warning():
    _warns(lint_errors("BEGIN; DROP DOMAIN email; COMMIT;", "ban-drop-domain"), "domain email")


def test_dropping_a_domain_the_run_created_is_quiet():
    lint_ok("BEGIN; CREATE DOMAIN email AS text; DROP DOMAIN email; COMMIT;", "ban-drop-domain")


def test_dropping_an_existing_extension_is_a_warning():
    _warns(lint_errors("BEGIN; DROP EXTENSION pgcrypto; COMMIT;", "ban-drop-extension"), "extension pgcrypto")


def test_dropping_an_extension_the_run_created_is_quiet():
    lint_ok("BEGIN; CREATE EXTENSION pgcrypto; DROP EXTENSION pgcrypto; COMMIT;", "ban-drop-extension")


def test_columns_of_foreign_tables_and_composite_types_and_domain_constraints_are_covered():
    lint_errors("ALTER TYPE address DROP ATTRIBUTE zip;", "ban-drop-column")
    lint_errors("ALTER FOREIGN TABLE remote_users DROP COLUMN email;", "ban-drop-column")
    lint_errors("ALTER DOMAIN posint DROP CONSTRAINT posint_check;", "ban-drop-constraint")
    lint_ok("CREATE DOMAIN posint AS int CONSTRAINT posint_check CHECK (VALUE > 0); "
            "ALTER DOMAIN posint DROP CONSTRAINT posint_check;", "ban-drop-constraint")


def test_a_rolled_back_transaction_takes_back_what_it_created():
    """The run's own tables are exempt from ban-drop-table; a ROLLBACK undoes the CREATE and the RENAME."""
    lint_ok("BEGIN; CREATE TABLE t (a int); COMMIT; DROP TABLE t;", "ban-drop-table")
    lint_errors("BEGIN; CREATE TABLE t (a int); ROLLBACK; DROP TABLE t;", "ban-drop-table")
    renamed_back = "BEGIN; CREATE TABLE t (a int); COMMIT; BEGIN; ALTER TABLE t RENAME TO u; ROLLBACK; "
    lint_ok(renamed_back + "DROP TABLE t;", "ban-drop-table")
    lint_errors(renamed_back + "DROP TABLE u;", "ban-drop-table")
    # AND CHAIN opens the next transaction at once: its ROLLBACK takes back only what came after
    chained = "BEGIN; CREATE TABLE t (a int); COMMIT AND CHAIN; CREATE TABLE u (a int); ROLLBACK; "
    lint_ok(chained + "DROP TABLE t;", "ban-drop-table")
    lint_errors(chained + "DROP TABLE u;", "ban-drop-table")
