"""SQL in, findings out: the SQL rules on a snippet, in the style of squawk's lint_ok / lint_errors.

    lint(sql, **settings)            every finding, as `python -m linters sql` reports them
    lint_ok(sql, rule, **settings)   asserts `rule` says nothing about `sql`
    lint_errors(sql, rule, **settings) -> the findings of `rule` (asserts there is at least one)

`settings` are [tool.alembic-review] settings (linters.config.Config): pg_version=11,
assume_lock_timeout=True, ...

The SQL is one deploy that starts OUTSIDE a transaction, like a raw SQL file: each statement
autocommits unless the SQL says BEGIN itself. Write `BEGIN; ... COMMIT;` around statements that
run in the migration's transaction, as Alembic runs them. Tables the SQL creates are new to the
rest of the SQL (the run created them); every other table already exists and is in use.

Rule tests live in tests/rules/test_<module>.py, one file per linters/rules/<module>.py;
tests/rules/test_rule_coverage.py checks that every SQL rule has a case that makes it fire and one
that keeps it quiet.
"""

from __future__ import annotations

import textwrap

from linters.config import Config
from linters.rules import RULES, SqlRule, rules_of
from linters.sqlfile import lint_sql

PATH = "migration.sql"


def sql_rules() -> list:
    """The rules that judge SQL statements (the ones these tests are for)."""
    return rules_of(SqlRule)


def _show(findings) -> str:
    return "\n".join(f"  {f.rule} ({f.severity.value}) line {f.line}: {f.message}" for f in findings) or "  (none)"


def lint(sql: str, **settings) -> list:
    """The findings of every SQL rule on `sql`; fails the test if PostgreSQL could not parse it."""
    config = Config(**settings).validate(RULES)
    findings = lint_sql(textwrap.dedent(sql), PATH, config)
    unparsed = [f for f in findings if f.rule == "render-error"]
    assert not unparsed, f"the test's SQL does not parse: {unparsed[0].message}"
    return findings


def _sql_rule(rule: str) -> str:
    assert rule in {r.id for r in sql_rules()}, f"{rule!r} is not an SQL rule (see `python -m linters rules`)"
    return rule


def lint_ok(sql: str, rule: str, **settings) -> None:
    """Assert that `rule` reports nothing on `sql`."""
    found = [f for f in lint(sql, **settings) if f.rule == _sql_rule(rule)]
    assert not found, f"{rule} should stay quiet, but reported:\n{_show(found)}"


def lint_errors(sql: str, rule: str, **settings) -> list:
    """The findings `rule` reports on `sql`; asserts there is at least one."""
    findings = lint(sql, **settings)
    found = [f for f in findings if f.rule == _sql_rule(rule)]
    assert found, f"{rule} should report, but did not; all findings:\n{_show(findings)}"
    return found
