"""linters/rules/constraint_rules.py at the SQL level: validation scans, index builds in ADD CONSTRAINT, domains."""

from tests.sqllint import lint_errors, lint_ok

# -- adding-foreign-key-constraint -------------------------------------------------------------


def test_a_foreign_key_without_not_valid_blocks_writes_on_both_tables():
    [f] = lint_errors("BEGIN; ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) "
                      "REFERENCES users (id); COMMIT;", "adding-foreign-key-constraint")
    assert (f.severity, f.table, f.lock) == ("error", "orders", "SHARE ROW EXCLUSIVE")
    assert "orders_user_fk" in f.message and "orders -> users" in f.message
    assert "postgresql_not_valid=True" in f.hint


def test_a_column_added_with_references_is_a_foreign_key_too():
    [f] = lint_errors("BEGIN; ALTER TABLE orders ADD COLUMN user_id bigint REFERENCES users (id); COMMIT;",
                      "adding-foreign-key-constraint")
    assert f.table == "orders"


def test_not_valid_then_validate_in_a_later_transaction_is_quiet():
    sql = """\
        BEGIN;
        ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID;
        COMMIT;
        ALTER TABLE orders VALIDATE CONSTRAINT orders_user_fk;
        """
    lint_ok(sql, "adding-foreign-key-constraint")
    lint_ok(sql, "constraint-missing-not-valid")


def test_a_foreign_key_on_a_table_the_run_created_is_quiet():
    lint_ok("BEGIN; CREATE TABLE invoices (id bigint, user_id bigint); ALTER TABLE invoices ADD CONSTRAINT "
            "invoices_user_fk FOREIGN KEY (user_id) REFERENCES users (id); COMMIT;", "adding-foreign-key-constraint")


# -- constraint-missing-not-valid --------------------------------------------------------------

def test_a_check_constraint_without_not_valid_scans_under_access_exclusive():
    [f] = lint_errors("BEGIN; ALTER TABLE orders ADD CONSTRAINT orders_amount_positive CHECK (amount > 0); COMMIT;",
                      "constraint-missing-not-valid")
    assert (f.severity, f.table, f.lock) == ("error", "orders", "ACCESS EXCLUSIVE")
    assert "orders_amount_positive" in f.message


def test_a_check_written_on_an_added_column_scans_too():
    # measured on PostgreSQL 15: seq_scan + 1 under ACCESS EXCLUSIVE, with or without the default
    for column in ("amount int DEFAULT 5 CHECK (amount > 0)", "amount int CHECK (amount > 0)"):
        [f] = lint_errors(f"BEGIN; ALTER TABLE orders ADD COLUMN {column}; COMMIT;", "constraint-missing-not-valid")
        assert (f.table, f.lock) == ("orders", "ACCESS EXCLUSIVE") and "cannot be NOT VALID" in f.message
    lint_ok("BEGIN; ALTER TABLE orders ADD COLUMN amount int DEFAULT 5; COMMIT;", "constraint-missing-not-valid")


def test_validating_in_the_transaction_that_added_it_not_valid_is_reported():
    [f] = lint_errors("""\
        BEGIN;
        ALTER TABLE orders ADD CONSTRAINT orders_amount_positive CHECK (amount > 0) NOT VALID;
        ALTER TABLE orders VALIDATE CONSTRAINT orders_amount_positive;
        COMMIT;
        """, "constraint-missing-not-valid")
    assert (f.line, f.lock) == (3, "ACCESS EXCLUSIVE")
    assert "same transaction" in f.message and "autocommit_block" in f.hint


def test_validating_a_foreign_key_in_the_transaction_that_added_it_holds_share_row_exclusive():
    [f] = lint_errors("BEGIN; ALTER TABLE orders ADD CONSTRAINT fk FOREIGN KEY (user_id) REFERENCES users (id) "
                      "NOT VALID; ALTER TABLE orders VALIDATE CONSTRAINT fk; COMMIT;", "constraint-missing-not-valid")
    assert f.lock == "SHARE ROW EXCLUSIVE"


def test_check_not_valid_then_validate_after_commit_is_quiet():
    lint_ok("BEGIN; ALTER TABLE orders ADD CONSTRAINT orders_amount_positive CHECK (amount > 0) NOT VALID; COMMIT; "
            "ALTER TABLE orders VALIDATE CONSTRAINT orders_amount_positive;", "constraint-missing-not-valid")


def test_a_check_on_a_table_the_run_created_is_quiet():
    lint_ok("BEGIN; CREATE TABLE t (amount bigint); ALTER TABLE t ADD CONSTRAINT t_amount_positive "
            "CHECK (amount > 0); COMMIT;", "constraint-missing-not-valid")


# -- disallowed-unique-constraint --------------------------------------------------------------

def test_add_unique_constraint_builds_its_index_under_access_exclusive():
    [f] = lint_errors("BEGIN; ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email); COMMIT;",
                      "disallowed-unique-constraint")
    assert (f.severity, f.table, f.lock) == ("error", "users", "ACCESS EXCLUSIVE")
    assert "users_email_key" in f.message


def test_a_column_added_unique_builds_an_index_too():
    lint_errors("BEGIN; ALTER TABLE users ADD COLUMN handle text UNIQUE; COMMIT;", "disallowed-unique-constraint")


def test_unique_using_an_index_built_concurrently_is_quiet():
    lint_ok("""\
        CREATE UNIQUE INDEX CONCURRENTLY users_email_key ON users (email);
        BEGIN;
        ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE USING INDEX users_email_key;
        COMMIT;
        """, "disallowed-unique-constraint")


def test_a_unique_constraint_on_a_table_the_run_created_is_quiet():
    lint_ok("BEGIN; CREATE TABLE t (code text); ALTER TABLE t ADD CONSTRAINT t_code_key UNIQUE (code); COMMIT;",
            "disallowed-unique-constraint")


# -- adding-serial-primary-key-field -----------------------------------------------------------

def test_add_primary_key_builds_its_index_under_access_exclusive():
    [f] = lint_errors("BEGIN; ALTER TABLE users ADD CONSTRAINT users_pkey PRIMARY KEY (id); COMMIT;",
                      "adding-serial-primary-key-field")
    assert (f.severity, f.table, f.lock) == ("error", "users", "ACCESS EXCLUSIVE")
    assert "users_pkey" in f.message


def test_a_column_added_as_primary_key_is_reported():
    lint_errors("BEGIN; ALTER TABLE users ADD COLUMN uid bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY; COMMIT;",
                "adding-serial-primary-key-field")


def test_primary_key_using_an_index_built_concurrently_is_quiet():
    lint_ok("""\
        CREATE UNIQUE INDEX CONCURRENTLY users_pkey ON users (id);
        BEGIN;
        ALTER TABLE users ADD CONSTRAINT users_pkey PRIMARY KEY USING INDEX users_pkey;
        COMMIT;
        """, "adding-serial-primary-key-field")


def test_a_primary_key_on_a_table_the_run_created_is_quiet():
    lint_ok("BEGIN; CREATE TABLE t (id bigint NOT NULL); ALTER TABLE t ADD PRIMARY KEY (id); COMMIT;",
            "adding-serial-primary-key-field")


# -- ban-drop-constraint -----------------------------------------------------------------------

def test_dropping_an_existing_constraint_is_a_warning():
    [f] = lint_errors("BEGIN; ALTER TABLE users DROP CONSTRAINT users_email_key; COMMIT;", "ban-drop-constraint")
    assert (f.severity, f.table, f.lock) == ("warning", "users", "ACCESS EXCLUSIVE")
    assert "users_email_key" in f.message


def test_dropping_a_constraint_the_run_added_is_quiet():
    lint_ok("BEGIN; ALTER TABLE users ADD CONSTRAINT ck CHECK (id > 0) NOT VALID; ALTER TABLE users "
            "DROP CONSTRAINT ck; COMMIT;", "ban-drop-constraint")


def test_dropping_a_constraint_of_a_table_the_run_created_is_quiet():
    lint_ok("BEGIN; CREATE TABLE t (id bigint CONSTRAINT t_id_positive CHECK (id > 0)); "
            "ALTER TABLE t DROP CONSTRAINT t_id_positive; COMMIT;", "ban-drop-constraint")


# -- ban-create-domain-with-constraint ---------------------------------------------------------

def test_a_domain_with_a_check_or_not_null_is_a_warning():
    [f] = lint_errors("BEGIN; CREATE DOMAIN email AS text CHECK (VALUE LIKE '%@%'); COMMIT;",
                      "ban-create-domain-with-constraint")
    assert f.severity == "warning" and "email" in f.message
    lint_errors("BEGIN; CREATE DOMAIN email AS text NOT NULL; COMMIT;", "ban-create-domain-with-constraint")


def test_a_domain_with_only_a_default_is_quiet():
    lint_ok("BEGIN; CREATE DOMAIN label AS text DEFAULT ''; COMMIT;", "ban-create-domain-with-constraint")


# -- ban-alter-domain-with-add-constraint ------------------------------------------------------

def test_adding_a_constraint_to_an_existing_domain_is_a_warning():
    [f] = lint_errors("BEGIN; ALTER DOMAIN email ADD CONSTRAINT email_at CHECK (VALUE LIKE '%@%'); COMMIT;",
                      "ban-alter-domain-with-add-constraint")
    assert f.severity == "warning" and "email" in f.message


def test_adding_a_constraint_to_a_domain_the_run_created_is_quiet():
    lint_ok("BEGIN; CREATE DOMAIN email AS text; ALTER DOMAIN email ADD CONSTRAINT email_at "
            "CHECK (VALUE LIKE '%@%'); COMMIT;", "ban-alter-domain-with-add-constraint")


def test_dropping_a_constraint_if_exists_to_add_it_again_is_quiet():
    # prefer-robust-stmts' own recipe: a re-run drops what the failed run added, then adds it again
    lint_ok("ALTER TABLE orders DROP CONSTRAINT IF EXISTS orders_amount_positive; "
            "ALTER TABLE orders ADD CONSTRAINT orders_amount_positive CHECK (amount > 0) NOT VALID;", "ban-drop-constraint")
    lint_errors("ALTER TABLE orders DROP CONSTRAINT IF EXISTS orders_amount_positive; "
                "ALTER TABLE orders ADD CONSTRAINT orders_amount_ok CHECK (amount > 0) NOT VALID;", "ban-drop-constraint")
