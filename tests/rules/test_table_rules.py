"""linters/rules/table_rules.py at the SQL level: partition detach, VACUUM FULL and CLUSTER."""

from tests.sqllint import lint_errors, lint_ok

# -- require-concurrent-partition-detach -------------------------------------------------------


def test_a_plain_detach_locks_the_whole_partitioned_table():
    [f] = lint_errors("BEGIN; ALTER TABLE events DETACH PARTITION events_2020; COMMIT;",
                      "require-concurrent-partition-detach")
    assert (f.severity, f.table, f.lock) == ("warning", "events", "ACCESS EXCLUSIVE")
    assert "events_2020" in f.message
    assert "CONCURRENTLY" in f.hint and "needs PostgreSQL 14+" not in f.hint


def test_before_postgresql_14_the_hint_says_concurrently_does_not_exist_yet():
    [f] = lint_errors("BEGIN; ALTER TABLE events DETACH PARTITION events_2020; COMMIT;",
                      "require-concurrent-partition-detach", pg_version=13)
    assert "needs PostgreSQL 14+" in f.hint


def test_detach_concurrently_outside_the_transaction_is_quiet():
    lint_ok("ALTER TABLE events DETACH PARTITION events_2020 CONCURRENTLY; "
            "ALTER TABLE events DETACH PARTITION events_2021 FINALIZE;", "require-concurrent-partition-detach")


def test_detaching_from_a_table_the_run_created_is_quiet():
    lint_ok("""\
        BEGIN;
        CREATE TABLE ev (id bigint) PARTITION BY RANGE (id);
        CREATE TABLE ev1 PARTITION OF ev FOR VALUES FROM (1) TO (10);
        ALTER TABLE ev DETACH PARTITION ev1;
        COMMIT;
        """, "require-concurrent-partition-detach")


# -- prefer-repack -----------------------------------------------------------------------------

def test_vacuum_full_and_cluster_rewrite_under_access_exclusive():
    for statement in ("VACUUM FULL users", "VACUUM (FULL, ANALYZE) users", "CLUSTER users USING users_pkey"):
        [f] = lint_errors(statement + ";", "prefer-repack")
        assert (f.severity, f.table, f.lock) == ("error", "users", "ACCESS EXCLUSIVE"), statement
        assert "pg_repack" in f.hint


def test_vacuum_full_and_cluster_of_every_table_are_reported():
    for statement in ("VACUUM FULL", "CLUSTER"):
        [f] = lint_errors(statement + ";", "prefer-repack")
        assert "every table" in f.message


def test_from_postgresql_19_the_hint_is_repack_concurrently():
    [f] = lint_errors("VACUUM FULL users;", "prefer-repack", pg_version=19)
    assert "REPACK (CONCURRENTLY)" in f.hint


def test_a_plain_vacuum_is_quiet():
    lint_ok("VACUUM users; VACUUM (ANALYZE) users; ANALYZE users; VACUUM (FULL false) users; VACUUM (FULL off) users;",
            "prefer-repack")


def test_rewriting_a_table_the_open_transaction_created_is_quiet():
    lint_ok("BEGIN; CREATE TABLE t (id bigint PRIMARY KEY); CLUSTER t USING t_pkey; COMMIT;", "prefer-repack")
    # committed, every session sees it (VACUUM cannot run in the transaction that created the table)
    lint_errors("BEGIN; CREATE TABLE t (id bigint PRIMARY KEY); COMMIT; VACUUM FULL t;", "prefer-repack")


# -- ban-disable-trigger -----------------------------------------------------------------------

def test_disabling_triggers_is_a_warning_and_all_names_the_foreign_keys():
    [f] = lint_errors("BEGIN; ALTER TABLE orders DISABLE TRIGGER ALL; COMMIT;", "ban-disable-trigger")
    assert (f.severity, f.table) == ("warning", "orders") and "foreign-key" in f.message
    lint_errors("BEGIN; ALTER TABLE orders DISABLE TRIGGER orders_audit; COMMIT;", "ban-disable-trigger")


def test_replica_only_or_always_firing_and_row_level_security_changes_are_warnings():
    for command, said in (("ENABLE REPLICA TRIGGER orders_audit", "replica-only"),
                          ("ENABLE ALWAYS TRIGGER orders_audit", "replication sessions too"),
                          ("DISABLE RULE orders_log", "disables rule orders_log"),
                          ("ENABLE REPLICA RULE orders_log", "replica-only"),
                          ("FORCE ROW LEVEL SECURITY", "owner too"),
                          ("NO FORCE ROW LEVEL SECURITY", "bypass")):
        [f] = lint_errors(f"BEGIN; ALTER TABLE orders {command}; COMMIT;", "ban-disable-trigger")
        assert f.severity == "warning" and said in f.message, command


def test_enabling_a_trigger_disabled_before_this_run_is_a_warning():
    [f] = lint_errors("BEGIN; ALTER TABLE orders ENABLE TRIGGER orders_audit; COMMIT;", "ban-disable-trigger")
    assert "never had it fire" in f.message
    lint_errors("BEGIN; ALTER TABLE orders ENABLE RULE orders_log; COMMIT;", "ban-disable-trigger")


def test_re_enabling_what_the_run_disabled_and_new_tables_are_quiet():
    found = lint_errors("BEGIN;\nALTER TABLE orders DISABLE TRIGGER ALL;\nALTER TABLE orders ENABLE TRIGGER ALL;\n"
                        "ALTER TABLE orders DISABLE RULE orders_log;\nALTER TABLE orders ENABLE RULE orders_log;\nCOMMIT;",
                        "ban-disable-trigger")
    assert [f.line for f in found] == [2, 4]  # the DISABLEs only
    lint_ok("BEGIN; ALTER TABLE orders ENABLE TRIGGER ALL; ALTER TABLE orders ENABLE TRIGGER USER; COMMIT;",
            "ban-disable-trigger")  # the generic restore, often written defensively
    lint_ok("BEGIN; CREATE TABLE t (id int); ALTER TABLE t DISABLE TRIGGER ALL; ALTER TABLE t FORCE ROW LEVEL SECURITY; "
            "ALTER TABLE orders ENABLE ROW LEVEL SECURITY; COMMIT;", "ban-disable-trigger")
