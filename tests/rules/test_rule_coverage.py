"""Every SQL rule has SQL-level tests: a case that makes it fire and a case that keeps it quiet.

A rule registered in linters/rules/<module>.py is tested in tests/rules/test_<module>.py, with
`lint_errors(sql, "<rule-id>")` (it fires) and `lint_ok(sql, "<rule-id>")` (its safe form is quiet),
the rule id written out as a string so that this test can find it.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.sqllint import sql_rules

HERE = Path(__file__).resolve().parent
RULES_DIR = HERE.parent.parent / "linters" / "rules"


def rule_module(rule) -> str:
    """`column_rules` for a rule whose check lives in linters/rules/column_rules.py."""
    return rule.check.__module__.rsplit(".", 1)[-1]


def calls_by_rule(source: str) -> dict[str, set[str]]:
    """{"lint_errors": {rule ids}, "lint_ok": {rule ids}} named as string literals in `source`."""
    found: dict[str, set[str]] = {"lint_errors": set(), "lint_ok": set()}
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in found):
            continue
        args = node.args[1:2] + [k.value for k in node.keywords if k.arg == "rule"]
        found[node.func.id] |= {a.value for a in args if isinstance(a, ast.Constant) and isinstance(a.value, str)}
    return found


def test_the_scan_finds_rule_ids_passed_by_position_or_keyword():
    found = calls_by_rule('lint_errors("SQL", "a")\nlint_ok(sql, rule="b")\nlint_ok(SQL, some_rule)\nlint("c")')
    assert found == {"lint_errors": {"a"}, "lint_ok": {"b"}}


def test_every_sql_rule_has_a_case_that_fires_and_one_that_stays_quiet():
    missing = []
    for rule in sql_rules():
        module = rule_module(rule)
        test_file = HERE / f"test_{module}.py"
        source = test_file.read_text() if test_file.is_file() else ""
        found, where = calls_by_rule(source), f"tests/rules/{test_file.name}"
        if rule.id not in found["lint_errors"]:
            missing.append(f"{rule.id} (linters/rules/{module}.py): add a case that makes it fire, "
                           f'`lint_errors(sql, "{rule.id}")`, to {where}')
        if rule.id not in found["lint_ok"]:
            missing.append(f"{rule.id} (linters/rules/{module}.py): add a case where its safe form stays quiet, "
                           f'`lint_ok(sql, "{rule.id}")`, to {where}')
    assert not missing, "SQL rules without SQL-level tests:\n" + "\n".join(missing)


def test_rule_test_modules_are_named_after_a_rule_module():
    for test_file in HERE.glob("test_*_rules.py"):
        module = test_file.name.removeprefix("test_")
        assert (RULES_DIR / module).is_file(), f"{test_file.name} tests no linters/rules/{module}"
