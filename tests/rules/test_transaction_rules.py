"""linters/rules/transaction_rules.py at the SQL level: locks held until COMMIT, backfills, timeouts, BEGIN/COMMIT.

The SQL starts outside a transaction: BEGIN ... COMMIT stands for the migration's transaction, and
the whole SQL is one revision (rules that speak once per revision speak once here).
"""

from tests.sqllint import lint, lint_errors, lint_ok

# -- lock-held-across-statements ---------------------------------------------------------------


def test_a_slow_statement_after_access_exclusive_on_another_table_is_a_warning():
    [f] = lint_errors("""\
        BEGIN;
        ALTER TABLE users ADD COLUMN nickname text;
        CREATE INDEX orders_user_idx ON orders (user_id);
        COMMIT;
        """, "lock-held-across-statements")
    assert (f.severity, f.table, f.lock, f.line) == ("warning", "users", "ACCESS EXCLUSIVE", 3)
    assert "scans orders" in f.message and "users (taken at line 2)" in f.message


def test_waiting_for_another_tables_lock_while_holding_access_exclusive_is_a_warning():
    [f] = lint_errors("BEGIN; ALTER TABLE users ADD COLUMN a text; ALTER TABLE orders ADD COLUMN b text; COMMIT;",
                      "lock-held-across-statements")
    assert "waits for ACCESS EXCLUSIVE on orders" in f.message


def test_a_backfill_of_another_table_under_access_exclusive_is_a_warning():
    [f] = lint_errors("BEGIN; ALTER TABLE users ADD COLUMN a text; UPDATE orders SET total = 0; COMMIT;",
                      "lock-held-across-statements")
    assert "changes rows of orders" in f.message


def test_committing_before_the_slow_step_is_quiet():
    lint_ok("""\
        BEGIN;
        ALTER TABLE users ADD COLUMN nickname text;
        COMMIT;
        BEGIN;
        CREATE INDEX orders_user_idx ON orders (user_id);
        COMMIT;
        """, "lock-held-across-statements")


def test_the_access_exclusive_step_last_is_quiet():
    lint_ok("BEGIN; UPDATE orders SET total = 0 WHERE id = 5; ALTER TABLE users ADD COLUMN a text; COMMIT;",
            "lock-held-across-statements")


def test_with_a_lock_timeout_waiting_for_the_next_lock_is_quiet():
    lint_ok("BEGIN; SET LOCAL lock_timeout = '2s'; ALTER TABLE users ADD COLUMN a text; "
            "ALTER TABLE orders ADD COLUMN b text; COMMIT;", "lock-held-across-statements")


def test_locks_on_tables_the_run_created_are_quiet():
    lint_ok("BEGIN; CREATE TABLE t (id bigint); ALTER TABLE t ADD COLUMN a text; "
            "CREATE INDEX orders_user_idx ON orders (user_id); COMMIT;", "lock-held-across-statements")


# -- backfill-in-migration ---------------------------------------------------------------------

def test_an_update_without_where_is_a_warning():
    [f] = lint_errors("BEGIN; UPDATE users SET plan = 'free'; COMMIT;", "backfill-in-migration")
    assert (f.severity, f.table) == ("warning", "users")
    assert "without WHERE" in f.message
    lint_errors("BEGIN; DELETE FROM sessions; COMMIT;", "backfill-in-migration")


def test_a_backfill_under_the_access_exclusive_lock_of_its_own_ddl_is_a_warning():
    [f] = lint_errors("""\
        BEGIN;
        ALTER TABLE users ADD COLUMN plan text;
        UPDATE users SET plan = 'free' WHERE id BETWEEN 1 AND 1000;
        COMMIT;
        """, "backfill-in-migration")
    assert (f.table, f.lock, f.line) == ("users", "ACCESS EXCLUSIVE", 3)
    assert "taken at line 2" in f.message


def test_ddl_after_a_backfill_in_the_same_transaction_is_a_warning():
    [f] = lint_errors("""\
        BEGIN;
        UPDATE users SET plan = 'free' WHERE plan IS NULL;
        ALTER TABLE users ALTER COLUMN plan SET NOT NULL;
        COMMIT;
        """, "backfill-in-migration")
    assert (f.table, f.line) == ("users", 3)
    assert "UPDATE at line 2" in f.message


def test_a_batched_backfill_after_the_ddl_committed_is_quiet():
    lint_ok("""\
        BEGIN;
        ALTER TABLE users ADD COLUMN plan text;
        COMMIT;
        UPDATE users SET plan = 'free' WHERE id BETWEEN 1 AND 1000;
        UPDATE users SET plan = 'free' WHERE id BETWEEN 1001 AND 2000;
        """, "backfill-in-migration")


def test_fixing_up_known_rows_and_inserting_values_is_quiet():
    lint_ok("BEGIN; ALTER TABLE users ADD COLUMN plan text; UPDATE users SET plan = 'admin' WHERE id = 1; "
            "INSERT INTO users (id, plan) VALUES (2, 'free'); COMMIT;", "backfill-in-migration")


def test_filling_a_table_the_run_created_is_quiet():
    lint_ok("BEGIN; CREATE TABLE plans (id bigint, name text); UPDATE plans SET name = 'free'; COMMIT;",
            "backfill-in-migration")


# -- drop-fk-locks-parent ----------------------------------------------------------------------

# The SQL knows a foreign key orders -> users once it adds one (there is no history in a raw file).
ORDERS_FK = ("BEGIN; ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id) "
             "NOT VALID; COMMIT;\n")


def test_dropping_a_foreign_key_locks_the_referenced_table():
    [f] = lint_errors(ORDERS_FK + "BEGIN; ALTER TABLE orders DROP CONSTRAINT orders_user_fk; COMMIT;",
                      "drop-fk-locks-parent")
    assert (f.severity, f.table, f.lock, f.line) == ("warning", "users", "ACCESS EXCLUSIVE", 2)
    assert "orders_user_fk" in f.message


def test_dropping_a_table_with_a_foreign_key_locks_the_referenced_table():
    [f] = lint_errors(ORDERS_FK + "BEGIN; DROP TABLE orders; COMMIT;", "drop-fk-locks-parent")
    assert (f.table, f.lock) == ("users", "ACCESS EXCLUSIVE")
    assert "DROP TABLE orders" in f.message


def test_dropping_a_referenced_table_with_cascade_locks_the_referencing_table():
    [f] = lint_errors(ORDERS_FK + "BEGIN; DROP TABLE users CASCADE; COMMIT;", "drop-fk-locks-parent")
    assert f.table == "orders" and "CASCADE" in f.message


def test_the_recipe_dropping_the_foreign_key_before_the_table_leaves_the_drop_table_quiet():
    findings = lint_errors(ORDERS_FK + """\
        SET lock_timeout = '2s';
        BEGIN; ALTER TABLE orders DROP CONSTRAINT orders_user_fk; COMMIT;
        BEGIN; DROP TABLE orders; COMMIT;
        """, "drop-fk-locks-parent")
    assert [f.line for f in findings] == [3]  # the DROP CONSTRAINT only


def test_dropping_other_constraints_or_both_tables_is_quiet():
    lint_ok(ORDERS_FK + "BEGIN; ALTER TABLE orders DROP CONSTRAINT orders_total_positive; COMMIT;",
            "drop-fk-locks-parent")
    lint_ok(ORDERS_FK + "BEGIN; DROP TABLE orders, users; COMMIT;", "drop-fk-locks-parent")


def test_dropping_a_table_whose_parent_the_run_created_is_quiet():
    lint_ok("BEGIN; CREATE TABLE p (id bigint PRIMARY KEY); CREATE TABLE c (id bigint, p_id bigint REFERENCES p (id)); "
            "COMMIT; BEGIN; DROP TABLE c; COMMIT;", "drop-fk-locks-parent")


# -- require-lock-timeout ----------------------------------------------------------------------

def test_a_blocking_lock_on_an_existing_table_without_lock_timeout_is_said_once():
    [f] = lint_errors("""\
        BEGIN;
        ALTER TABLE users ADD COLUMN a text;
        ALTER TABLE orders ADD COLUMN b text;
        COMMIT;
        """, "require-lock-timeout")
    assert (f.severity, f.table, f.lock, f.line) == ("warning", "users", "ACCESS EXCLUSIVE", 2)
    assert "lock_timeout" in f.hint


def test_a_lock_timeout_that_is_off_or_gone_does_not_count():
    lint_errors("BEGIN; SET lock_timeout = 0; ALTER TABLE users ADD COLUMN a text; COMMIT;", "require-lock-timeout")
    lint_errors("BEGIN; SET LOCAL lock_timeout = '2s'; COMMIT; BEGIN; ALTER TABLE users ADD COLUMN a text; COMMIT;",
                "require-lock-timeout")


def test_setting_lock_timeout_first_is_quiet():
    lint_ok("SET lock_timeout = '2s'; BEGIN; ALTER TABLE users ADD COLUMN a text; COMMIT;", "require-lock-timeout")
    lint_ok("BEGIN; SET LOCAL lock_timeout = '2s'; ALTER TABLE users ADD COLUMN a text; COMMIT;",
            "require-lock-timeout")


def test_tables_the_run_created_and_non_blocking_locks_are_quiet():
    lint_ok("BEGIN; CREATE TABLE t (id bigint); ALTER TABLE t ADD COLUMN a text; COMMIT; "
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS users_name_idx ON users (name);", "require-lock-timeout")


def test_assume_lock_timeout_is_quiet():
    lint_ok("BEGIN; ALTER TABLE users ADD COLUMN a text; COMMIT;", "require-lock-timeout", assume_lock_timeout=True)
    lint_ok("BEGIN; ALTER TABLE users ALTER COLUMN id TYPE bigint; COMMIT;", "require-statement-timeout",
            assume_lock_timeout=True)


# -- require-statement-timeout -----------------------------------------------------------------

def test_a_rewrite_of_an_existing_table_without_statement_timeout_is_a_warning():
    [f] = lint_errors("BEGIN; ALTER TABLE users ALTER COLUMN id TYPE bigint; COMMIT;", "require-statement-timeout")
    assert (f.severity, f.table, f.lock) == ("warning", "users", "ACCESS EXCLUSIVE")
    assert "rewrites users" in f.message


def test_a_validating_scan_without_statement_timeout_is_a_warning():
    [f] = lint_errors("BEGIN; CREATE INDEX orders_user_idx ON orders (user_id); COMMIT;", "require-statement-timeout")
    assert (f.table, f.lock) == ("orders", "SHARE") and "scans orders" in f.message


def test_setting_statement_timeout_first_is_quiet():
    lint_ok("BEGIN; SET statement_timeout = '5min'; ALTER TABLE users ALTER COLUMN id TYPE bigint; COMMIT;",
            "require-statement-timeout")


def test_instant_changes_and_tables_the_run_created_are_quiet():
    lint_ok("BEGIN; ALTER TABLE users ADD COLUMN a text DEFAULT 'x'; CREATE TABLE t (id int); "
            "ALTER TABLE t ALTER COLUMN id TYPE bigint; COMMIT;", "require-statement-timeout")


def test_set_not_null_proven_by_a_validated_check_does_not_scan():
    lint_ok("""\
        BEGIN; ALTER TABLE users ADD CONSTRAINT ck CHECK (email IS NOT NULL) NOT VALID; COMMIT;
        ALTER TABLE users VALIDATE CONSTRAINT ck;
        BEGIN; ALTER TABLE users ALTER COLUMN email SET NOT NULL; COMMIT;
        """, "require-statement-timeout")


# -- ban-uncommitted-transaction ---------------------------------------------------------------

def test_a_begin_without_commit_is_a_warning():
    [f] = lint_errors("SET lock_timeout = '2s';\nBEGIN;\nALTER TABLE users ADD COLUMN a text;\n",
                      "ban-uncommitted-transaction")
    assert (f.severity, f.line) == ("warning", 2)


def test_a_begin_ended_by_commit_or_rollback_is_quiet():
    lint_ok("BEGIN; ALTER TABLE users ADD COLUMN a text; COMMIT;", "ban-uncommitted-transaction")
    lint_ok("START TRANSACTION; ALTER TABLE users ADD COLUMN a text; ROLLBACK;", "ban-uncommitted-transaction")


# -- transaction-nesting -----------------------------------------------------------------------

def test_a_statement_identical_to_the_one_before_gets_its_own_line():
    [f] = lint_errors("BEGIN;\nBEGIN;\nCOMMIT;\n", "transaction-nesting")
    assert f.line == 2


def test_a_trailing_ignore_comment_belongs_to_the_statement_it_ends():
    findings = [f for f in lint("DROP TABLE a; -- alembic-review: ignore[ban-drop-table]\nDROP TABLE b;\n")
                if f.rule == "ban-drop-table"]
    assert [f.line for f in findings] == [2]

def test_a_begin_inside_an_open_transaction_is_a_warning():
    [f] = lint_errors("BEGIN;\nSTART TRANSACTION;\nALTER TABLE users ADD COLUMN a text;\nCOMMIT;\n",
                      "transaction-nesting")
    assert (f.severity, f.line) == ("warning", 2)
    assert "already open" in f.message


def test_a_commit_with_no_transaction_open_is_a_warning():
    # PostgreSQL 15: "WARNING: there is no transaction in progress"
    [f] = lint_errors("BEGIN;\nSELECT 1;\nCOMMIT;\nCOMMIT;\n", "transaction-nesting")
    assert f.line == 4 and "no transaction open" in f.message


def test_transactions_one_after_the_other_are_quiet():
    lint_ok("BEGIN; ALTER TABLE users ADD COLUMN a text; COMMIT; BEGIN; ALTER TABLE orders ADD COLUMN b text; "
            "COMMIT;", "transaction-nesting")


# -- non-transactional-in-transaction ----------------------------------------------------------

def test_statements_postgresql_refuses_in_a_transaction_are_errors():
    for statement in ("VACUUM users", "CREATE DATABASE scratch", "ALTER SYSTEM SET work_mem = '64MB'",
                      "REINDEX SCHEMA billing"):
        [f] = lint_errors(f"BEGIN; {statement}; COMMIT;", "non-transactional-in-transaction")
        assert f.severity == "error" and statement.split()[0] in f.message, statement


def test_adding_an_enum_value_in_a_transaction_fails_before_postgresql_12():
    sql = "BEGIN; ALTER TYPE mood ADD VALUE 'meh' AFTER 'ok'; COMMIT;"
    [f] = lint_errors(sql, "non-transactional-in-transaction", pg_version=11)
    assert "PostgreSQL 11" in f.message
    lint_ok(sql, "non-transactional-in-transaction", pg_version=12)


def test_the_same_statements_outside_the_transaction_are_quiet():
    lint_ok("VACUUM users; CREATE DATABASE scratch; ALTER TYPE mood ADD VALUE IF NOT EXISTS 'meh' AFTER 'ok';",
            "non-transactional-in-transaction", pg_version=11)


def test_concurrently_forms_are_left_to_their_own_rule():
    lint_ok("BEGIN; CREATE INDEX CONCURRENTLY users_email_idx ON users (email); COMMIT;",
            "non-transactional-in-transaction")


def test_a_rollback_undoes_what_the_run_created():
    # the table created and rolled back does not exist: the one used after it is someone else's
    lint_errors("BEGIN; CREATE TABLE t (id int); ROLLBACK; BEGIN; CREATE INDEX t_id_idx ON t (id); COMMIT;",
                "require-concurrent-index-creation")
    lint_ok("BEGIN; CREATE TABLE t (id int); CREATE INDEX t_id_idx ON t (id); COMMIT;",
            "require-concurrent-index-creation")


def test_a_table_the_run_created_is_exempt_from_lock_rules_until_its_transaction_commits():
    # After the COMMIT every session sees the table (squawk's created_table_after_commit_err): the new
    # release may already use it, and its locks queue like any table's. Renaming or dropping it still
    # breaks nothing: the release running before this deploy never knew it.
    for sql, rule in (("CREATE INDEX t_id_idx ON t (id)", "require-concurrent-index-creation"),
                      ("ALTER TABLE t ADD CHECK (id > 0)", "constraint-missing-not-valid"),
                      ("ALTER TABLE t ADD UNIQUE (id)", "disallowed-unique-constraint"),
                      ("ALTER TABLE t ADD FOREIGN KEY (id) REFERENCES users (id)", "adding-foreign-key-constraint"),
                      ("ALTER TABLE t ADD PRIMARY KEY (id)", "adding-serial-primary-key-field")):
        lint_ok(f"BEGIN; CREATE TABLE t (id int); {sql}; COMMIT;", rule)
        lint_errors(f"BEGIN; CREATE TABLE t (id int); COMMIT; BEGIN; {sql}; COMMIT;", rule)
        lint_errors(f"CREATE TABLE t (id int); {sql};", rule)  # no transaction: each statement commits
    lint_ok("BEGIN; CREATE TABLE t (id int); COMMIT; ALTER TABLE t RENAME TO t2;", "renaming-table")


def test_squawks_disable_assume_in_transaction_comment_runs_the_file_outside_a_transaction():
    sql = """\
        {comment}
        CREATE INDEX CONCURRENTLY users_email_idx ON users (email);
        ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE USING INDEX users_email_idx;
        """
    lint_errors(sql.format(comment="-- squawk wraps this file"), "ban-concurrent-index-creation-in-transaction",
                assume_in_transaction=True)
    lint_ok(sql.format(comment="-- squawk-disable-assume-in-transaction"),
            "ban-concurrent-index-creation-in-transaction", assume_in_transaction=True)
    lint_ok("-- squawk-disable-assume-in-transaction\nBEGIN;\nSELECT 1;\nCOMMIT;\n", "transaction-nesting",
            assume_in_transaction=True)


def test_commit_and_chain_opens_the_next_transaction_at_once():
    # squawk's chained_transactions tests: the table created after COMMIT AND CHAIN is in a new, open transaction
    lint_ok("BEGIN; COMMIT AND CHAIN; CREATE TABLE t (id int); ALTER TABLE t ADD CHECK (id > 0); COMMIT;",
            "constraint-missing-not-valid")
    lint_errors("BEGIN; CREATE TABLE t (id int); COMMIT AND CHAIN; ALTER TABLE t ADD CHECK (id > 0); COMMIT;",
                "constraint-missing-not-valid")
    lint_ok("BEGIN; COMMIT AND CHAIN; ALTER TABLE users ADD COLUMN a text; COMMIT;", "prefer-robust-stmts")
