"""Privileges, row-level security, logical replication and sequence values (linters/rules/access_rules.py)."""

from tests.sqllint import lint_errors, lint_ok


# -- ban-revoke --------------------------------------------------------------------------------

def test_revoking_privileges_or_memberships_is_a_warning():
    for sql, said in (("REVOKE SELECT ON users FROM app", "REVOKE SELECT ON users FROM app"),
                      ("ALTER DEFAULT PRIVILEGES REVOKE SELECT ON TABLES FROM app", "created from now on"),
                      ("REVOKE writers FROM app", "every privilege writers grants"),
                      ("ALTER GROUP writers DROP USER app, worker", "DROP USER app, worker")):
        [f] = lint_errors(f"BEGIN; {sql}; COMMIT;", "ban-revoke")
        assert f.severity == "warning" and said in f.message, sql


def test_granting_and_revoking_on_a_table_the_run_created_are_quiet():
    lint_ok("BEGIN; GRANT SELECT ON users TO app; ALTER GROUP writers ADD USER app; CREATE TABLE t (id int); "
            "REVOKE ALL ON t FROM PUBLIC; COMMIT;", "ban-revoke")


# -- ban-alter-row-level-security --------------------------------------------------------------

def test_enabling_or_disabling_row_level_security_is_a_warning():
    [f] = lint_errors("BEGIN; ALTER TABLE orders ENABLE ROW LEVEL SECURITY; COMMIT;", "ban-alter-row-level-security")
    assert (f.table, f.lock) == ("orders", "ACCESS EXCLUSIVE") and "none while no policy exists" in f.message
    [f] = lint_errors("BEGIN; ALTER TABLE orders DISABLE ROW LEVEL SECURITY; COMMIT;", "ban-alter-row-level-security")
    assert "every row" in f.message


def test_row_level_security_on_a_new_table_is_quiet():
    lint_ok("BEGIN; CREATE TABLE t (id int); ALTER TABLE t ENABLE ROW LEVEL SECURITY; "
            "ALTER TABLE orders FORCE ROW LEVEL SECURITY; COMMIT;", "ban-alter-row-level-security")


# -- ban-replica-identity ----------------------------------------------------------------------

def test_replica_identity_and_publication_changes_are_warnings():
    [f] = lint_errors("BEGIN; ALTER TABLE orders REPLICA IDENTITY NOTHING; COMMIT;", "ban-replica-identity")
    assert f.table == "orders" and "REPLICA IDENTITY NOTHING" in f.message
    for sql in ("DROP PUBLICATION p", "ALTER PUBLICATION p DROP TABLE orders", "ALTER PUBLICATION p SET TABLE orders",
                "ALTER PUBLICATION p SET (publish = 'insert')"):
        lint_errors(f"BEGIN; {sql}; COMMIT;", "ban-replica-identity")


def test_adding_to_a_publication_and_new_tables_are_quiet():
    lint_ok("BEGIN; ALTER PUBLICATION p ADD TABLE orders; CREATE TABLE t (id int); ALTER TABLE t REPLICA IDENTITY FULL; "
            "COMMIT;", "ban-replica-identity")


# -- ban-alter-sequence-values -----------------------------------------------------------------

def test_restarting_a_sequence_is_a_warning():
    for sql in ("ALTER SEQUENCE orders_id_seq RESTART", "ALTER SEQUENCE orders_id_seq RESTART WITH 0"):
        [f] = lint_errors(f"BEGIN; {sql}; COMMIT;", "ban-alter-sequence-values")
        assert "orders_id_seq" in f.message


def test_other_sequence_changes_and_new_sequences_are_quiet():
    lint_ok("BEGIN; ALTER SEQUENCE orders_id_seq INCREMENT BY 10; CREATE SEQUENCE s; ALTER SEQUENCE s RESTART; "
            "COMMIT;", "ban-alter-sequence-values")
