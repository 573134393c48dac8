"""linters/rules/robust_rules.py at the SQL level: statements outside the transaction that a re-run trips over.

Outside BEGIN ... COMMIT each statement commits on its own (an autocommit_block); inside, a failure
rolls everything back and a re-run starts clean.
"""

from tests.sqllint import lint, lint_errors, lint_ok


def test_an_unguarded_concurrent_index_build_outside_the_transaction_is_a_warning():
    [f] = lint_errors("\nCREATE INDEX CONCURRENTLY users_email_idx ON users (email);", "prefer-robust-stmts")
    assert (f.severity, f.line) == ("warning", 2)
    assert "users_email_idx" in f.message and "drop_index" in f.message


def test_unguarded_statements_outside_the_transaction_say_which_guard_to_add():
    for statement, guard in (("CREATE TABLE t (id bigint)", "IF NOT EXISTS"),
                             ("DROP INDEX CONCURRENTLY users_email_idx", "IF EXISTS"),
                             ("ALTER TYPE mood ADD VALUE 'meh' AFTER 'ok'", "IF NOT EXISTS"),
                             ("ALTER TABLE users ADD COLUMN nickname text", "IF NOT EXISTS"),
                             ("ALTER TABLE users ADD CONSTRAINT ck CHECK (id > 0) NOT VALID",
                              "DROP CONSTRAINT IF EXISTS")):
        [f] = lint_errors(statement + ";", "prefer-robust-stmts")
        assert f"add {guard}" in f.message or f"preceding {guard}" in f.message, statement


def test_what_cannot_be_guarded_is_told_to_stay_in_the_transaction():
    [f] = lint_errors("ALTER TABLE users RENAME COLUMN email TO email_address;", "prefer-robust-stmts")
    assert "cannot be guarded" in f.message


def test_the_recipe_drop_if_exists_then_build_concurrently_is_quiet():
    lint_ok("""\
        DROP INDEX CONCURRENTLY IF EXISTS users_email_idx;
        CREATE INDEX CONCURRENTLY users_email_idx ON users (email);
        """, "prefer-robust-stmts")


def test_guarded_statements_outside_the_transaction_are_quiet():
    lint_ok("""\
        CREATE TABLE IF NOT EXISTS t (id bigint);
        CREATE INDEX CONCURRENTLY IF NOT EXISTS users_name_idx ON users (name);
        ALTER TYPE mood ADD VALUE IF NOT EXISTS 'meh' AFTER 'ok';
        ALTER TABLE users ADD COLUMN IF NOT EXISTS nickname text;
        ALTER TABLE users DROP COLUMN IF EXISTS legacy;
        ALTER TABLE users DROP CONSTRAINT IF EXISTS ck;
        ALTER TABLE users ADD CONSTRAINT ck CHECK (id > 0) NOT VALID;
        DROP TABLE IF EXISTS scratch;
        """, "prefer-robust-stmts")


def test_idempotent_statements_outside_the_transaction_are_quiet():
    lint_ok("""\
        SET lock_timeout = '2s';
        ALTER TABLE users VALIDATE CONSTRAINT ck;
        ALTER TABLE users ALTER COLUMN email SET DEFAULT '';
        """, "prefer-robust-stmts")


def test_statements_inside_the_transaction_are_quiet():
    lint_ok("""\
        BEGIN;
        CREATE TABLE t (id bigint);
        ALTER TABLE users RENAME COLUMN email TO email_address;
        ALTER TABLE users ADD CONSTRAINT ck CHECK (id > 0) NOT VALID;
        DROP INDEX users_email_idx;
        COMMIT;
        """, "prefer-robust-stmts")


def test_temporary_tables_and_unnamed_concurrent_indexes_survive_a_rerun():
    lint_ok("SELECT 1; CREATE TEMP TABLE scratch (id int) ON COMMIT DROP; "
            "CREATE INDEX CONCURRENTLY ON users (email);", "prefer-robust-stmts")
    lint_errors("SELECT 1; CREATE TABLE scratch (id int);", "prefer-robust-stmts")


def test_an_unguarded_rename_outside_the_transaction_names_the_object():
    [f] = lint_errors("ALTER AGGREGATE total(int) RENAME TO sum_of;", "prefer-robust-stmts")
    assert "RENAME total to sum_of" in f.message


def test_a_drop_if_exists_guards_one_add_not_a_second():
    # squawk's double_add_after_drop_err: the second ADD fails on a re-run... and on the first run
    [f] = lint_errors("""\
        ALTER TABLE users DROP CONSTRAINT IF EXISTS users_email_key;
        ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE USING INDEX users_email_idx;
        ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE USING INDEX users_email_idx;
        """, "prefer-robust-stmts")
    assert f.line == 3
    [f] = lint_errors("""\
        DROP INDEX CONCURRENTLY IF EXISTS users_email_idx;
        CREATE INDEX CONCURRENTLY users_email_idx ON users (email);
        CREATE INDEX CONCURRENTLY users_email_idx ON users (email);
        """, "prefer-robust-stmts")
    assert f.line == 3


def test_statements_committed_before_an_autocommit_block_are_not_rerunnable():
    # `alembic upgrade --sql` of a revision with an autocommit_block: the COMMIT that opens the block makes
    # the ADD COLUMN permanent; if the index build then fails, the version is not stamped and the re-run
    # stops at "column already exists". (In a review, Alembic's stamp after the revision is implicit:
    # tests/test_transactions.py.)
    sql = """\
        BEGIN;
        ALTER TABLE users ADD COLUMN nickname text;
        COMMIT;
        CREATE INDEX CONCURRENTLY IF NOT EXISTS users_nickname_idx ON users (nickname);
        BEGIN;
        {stamp}
        COMMIT;
        """
    [f] = lint_errors(sql.format(stamp="UPDATE alembic_version SET version_num = 'b' WHERE version_num = 'a';"),
                      "prefer-robust-stmts")
    assert f.line == 2 and "committed before the revision's last statement" in f.message
    assert "IF NOT EXISTS" in f.message
    # a raw SQL file that stamps nothing: whether it is re-run whole is not something the SQL says
    lint_ok(sql.format(stamp="SELECT 1;"), "prefer-robust-stmts")


def test_statements_in_the_transaction_that_stamps_the_version_are_rerunnable():
    lint_ok("""\
        BEGIN;
        ALTER TABLE users ADD COLUMN nickname text;
        UPDATE alembic_version SET version_num = 'b' WHERE version_num = 'a';
        COMMIT;
        BEGIN;
        ALTER TABLE users ADD COLUMN avatar text;
        UPDATE alembic_version SET version_num = 'c' WHERE version_num = 'b';
        COMMIT;
        """, "prefer-robust-stmts")
    # rolled back, not committed: nothing to trip over on a re-run
    lint_ok("BEGIN; ALTER TABLE users ADD COLUMN nickname text; ROLLBACK; SELECT 1;", "prefer-robust-stmts")
    # committed last: nothing after it can fail
    lint_ok("BEGIN; ALTER TABLE users ADD COLUMN nickname text; COMMIT;", "prefer-robust-stmts")


def test_alembics_own_version_table_statements_get_no_finding():
    """`alembic upgrade --sql` creates its version table before the first BEGIN and writes it once per
    revision: the user did not write those statements and cannot change them."""
    sql = ("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
           "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num));\n"
           "BEGIN;\nINSERT INTO alembic_version (version_num) VALUES ('a1');\nCOMMIT;\n"
           "BEGIN;\nUPDATE alembic_version SET version_num='b2' WHERE alembic_version.version_num = 'a1';\nCOMMIT;\n")
    assert lint(sql) == []


def test_a_table_created_outside_the_transaction_is_still_not_robust():
    lint_errors("CREATE TABLE audit (id int);", "prefer-robust-stmts")
