"""linters/rules/dml_rules.py at the SQL level: data statements PostgreSQL rejects."""

from tests.sqllint import lint_errors, lint_ok


def test_an_update_assigning_a_column_twice_is_an_error():
    [f] = lint_errors("BEGIN; UPDATE users SET name = 'a', name = 'b' WHERE id = 1; COMMIT;",
                      "ban-duplicate-column-assignments")
    assert (f.severity, f.table) == ("error", "users")
    assert "name" in f.message and "2 times" in f.message


def test_an_insert_naming_a_column_twice_is_an_error():
    lint_errors("BEGIN; INSERT INTO users (id, name, name) VALUES (1, 'a', 'b'); COMMIT;",
                "ban-duplicate-column-assignments")


def test_on_conflict_do_update_assigning_a_column_twice_is_an_error():
    lint_errors("BEGIN; INSERT INTO users (id, name) VALUES (1, 'a') ON CONFLICT (id) DO UPDATE "
                "SET name = 'x', name = 'y'; COMMIT;", "ban-duplicate-column-assignments")


def test_a_row_assignment_repeating_a_column_is_an_error():
    lint_errors("BEGIN; UPDATE users SET (name, name) = ('a', 'b') WHERE id = 1; COMMIT;",
                "ban-duplicate-column-assignments")


def test_assigning_each_column_once_is_quiet():
    lint_ok("BEGIN; UPDATE users SET name = 'a', email = 'b' WHERE id = 1; COMMIT;", "ban-duplicate-column-assignments")
    lint_ok("BEGIN; INSERT INTO users (id, name) VALUES (1, 'a') ON CONFLICT (id) DO UPDATE "
            "SET name = excluded.name; COMMIT;", "ban-duplicate-column-assignments")


def test_assigning_several_parts_of_one_column_is_quiet():
    # PostgreSQL accepts these (squawk's distinct_and_partial_assignments_ok)
    lint_ok("BEGIN; UPDATE k SET a.x = 1, a.y = 2; UPDATE k SET a[1] = 1, a[2] = 2; COMMIT;",
            "ban-duplicate-column-assignments")
    lint_errors("BEGIN; UPDATE k SET a = 1, a[2] = 2; COMMIT;", "ban-duplicate-column-assignments")


def test_merge_assigning_or_inserting_a_column_twice_is_an_error():
    # PostgreSQL 15: "multiple assignments to same column" / "column specified more than once"
    lint_errors("BEGIN; MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET a = 1, a = 2; COMMIT;",
                "ban-duplicate-column-assignments")
    lint_errors("BEGIN; MERGE INTO t USING s ON t.id = s.id WHEN NOT MATCHED THEN INSERT (a, a) VALUES (1, 2); COMMIT;",
                "ban-duplicate-column-assignments")
    lint_ok("BEGIN; MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET a = 1 "
            "WHEN NOT MATCHED THEN INSERT (a) VALUES (1); COMMIT;", "ban-duplicate-column-assignments")


def test_a_new_table_or_view_defining_a_column_twice_is_an_error():
    for sql in ("CREATE TABLE t (a int, a text);",
                "CREATE FOREIGN TABLE t (a int, a text) SERVER s;",
                "CREATE VIEW v (a, a) AS SELECT 1, 2;",
                "CREATE VIEW v AS SELECT 1 AS a, 2 AS a;",
                "CREATE VIEW v AS SELECT 1, 2;",  # both are named ?column?
                "CREATE VIEW v AS SELECT count(*), count(x) FROM t;",
                "CREATE TABLE z (x, x) AS SELECT 1, 2;",
                "SELECT 1 AS a, 2 AS a INTO z;"):
        [f] = lint_errors(f"BEGIN; {sql} COMMIT;", "ban-duplicate-column-assignments")
        assert "defined 2 times" in f.message, sql


def test_a_new_table_or_view_with_distinct_column_names_is_quiet():
    for sql in ("CREATE TABLE t (a int, b text);",
                "CREATE VIEW v AS SELECT t.a, s.b FROM t, s;",
                "CREATE VIEW v AS SELECT 1 AS a, 2 AS b UNION SELECT 1, 1;",  # the first branch names them
                "CREATE VIEW v AS SELECT t.*, s.* FROM t, s;",  # what * brings is unknown here
                "SELECT 1 AS a, 2 AS b INTO z;"):
        lint_ok(f"BEGIN; {sql} COMMIT;", "ban-duplicate-column-assignments")
