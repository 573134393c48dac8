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
