"""The rule registry: every rule's id, default severity and docs in one place.

The CLI (`rules`, `explain`), the reporters and the README table all read RULES. What a rule's
check reads depends on its type, and each type has its own decorator:
- SqlRule (`@sql_rule`): check(stmt, state) -> iterable of Hit, called for every parsed statement
  of a deploy run in order (only for the pglast node kinds in `statement_kinds`, when declared);
- HistoryRule (`@history_rule`): check(history: model.History) -> iterable of Finding, once per review;
- RevisionRule (`@revision_rule`): check(item: model.Reviewed) -> iterable of Finding, per revision;
- EngineRule (`engine_rule(...)`): no check; reported by the engine itself (render-error,
  live mode, the models check), documented here like the others.
Every finding of a rule is built by `Rule.finding`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, ClassVar

from linters.findings import Finding, Severity


@dataclass(frozen=True)
class Rule:
    id: str
    severity: Severity
    summary: str          # one line
    why: str              # why it hurts production
    recipe: str           # the safe way, in Alembic terms
    lock: str | None = None
    # Breaks the running release (drops, renames): silent where a downgrade undoes what its own
    # upgrade created (linters/inverse.py), since the code that would miss it is rolled back too.
    breaking: bool = False
    # The mechanical fix linters/suggest.py writes for this rule's findings (suggest.CONCURRENTLY, ...).
    fix: str | None = None
    # The recipe for projects whose env.py already commits after each revision
    # (transaction_per_migration=True), when the plain recipe would advise turning that on.
    recipe_per_migration: str | None = None
    checks: ClassVar[str] = "engine"  # the README table's "checks" column

    def finding(self, message: str, *, path: str | None, line: int | None, severity: Severity | None = None,
                hint: str | None = None, **fields) -> Finding:
        """A finding of this rule: its default severity and its recipe as the hint unless given."""
        return Finding(rule=self.id, severity=severity or self.severity, message=message, path=path,
                       line=line or 1, hint=hint or self.recipe, **fields)


@dataclass(frozen=True)
class SqlRule(Rule):
    check: Callable | None = None  # (Statement, RunState) -> Iterable[Hit]
    # The statement kinds (pglast node names, "IndexStmt", ...) the check can report on; None: every
    # statement (rules that follow the run's state, or look at every statement's locks).
    # tests/test_rule_kinds.py runs each rule over statements of other kinds: it must stay silent there.
    statement_kinds: frozenset[str] | None = None
    # Kinds a rule of every kind never reports on (transaction control, SET): not called for them.
    skip_kinds: frozenset[str] = frozenset()
    # ALTER TABLE subcommands (AT_AddColumn, ...) the check can report on; None: any. An ALTER TABLE with
    # none of them is not shown to it (tests/test_rule_kinds.py checks the rule is silent there too).
    alter_subtypes: frozenset[str] | None = None
    checks: ClassVar[str] = "SQL"


@dataclass(frozen=True)
class HistoryRule(Rule):
    check: Callable | None = None  # (History) -> Iterable[Finding]
    checks: ClassVar[str] = "history"


@dataclass(frozen=True)
class RevisionRule(Rule):
    check: Callable | None = None  # (Reviewed) -> Iterable[Finding]
    checks: ClassVar[str] = "revision"


@dataclass(frozen=True)
class EngineRule(Rule):
    check: ClassVar[None] = None


@dataclass
class Hit:
    """What an SQL rule says about one statement; the engine adds where it came from."""
    message: str
    table: str | None = None
    lock: str | None = None
    hint: str | None = None
    suggestion: str | None = None
    # Hits of one rule with the same key in one deploy run are one finding: the first, which names the
    # statements of the others (one problem with one fix, said once).
    once_per_run: tuple | None = None


RULES: dict[str, Rule] = {}


def _register(rule: Rule) -> Rule:
    if rule.id in RULES:
        raise ValueError(f"rule {rule.id} registered twice")
    RULES[rule.id] = rule
    return rule


def sql_rule(id: str, severity: str, *, summary: str, why: str, recipe: str, lock: str | None = None,
             kinds=None, skip_kinds=(), subtypes=None, breaking: bool = False, fix: str | None = None,
             recipe_per_migration: str | None = None):
    """Register the decorated function as the check of SQL rule `id`, called only for `kinds` (not `skip_kinds`),
    and for an ALTER TABLE only when it has one of `subtypes` (if given)."""
    def register(check: Callable) -> Callable:
        _register(SqlRule(id, Severity(severity), summary, why, recipe, lock, breaking, fix, recipe_per_migration,
                          check=check, statement_kinds=frozenset(kinds) if kinds is not None else None,
                          skip_kinds=frozenset(skip_kinds),
                          alter_subtypes=frozenset(subtypes) if subtypes is not None else None))
        return check
    return register


def history_rule(id: str, severity: str, *, summary: str, why: str, recipe: str):
    def register(check: Callable) -> Callable:
        _register(HistoryRule(id, Severity(severity), summary, why, recipe, check=check))
        return check
    return register


def revision_rule(id: str, severity: str, *, summary: str, why: str, recipe: str):
    def register(check: Callable) -> Callable:
        _register(RevisionRule(id, Severity(severity), summary, why, recipe, check=check))
        return check
    return register


def engine_rule(id: str, severity: str, *, summary: str, why: str, recipe: str, lock: str | None = None) -> Rule:
    return _register(EngineRule(id, Severity(severity), summary, why, recipe, lock))


def rules_of(kind: type[Rule]) -> list:
    """The registered rules of one type that have a check, in registry order."""
    return [r for r in RULES.values() if isinstance(r, kind) and r.check is not None]


# Importing the modules registers their rules.
from linters.rules import engine_rules, history_rules, index_rules, column_rules  # noqa: E402,F401
from linters.rules import live_rules  # noqa: E402,F401  (live mode and the models check, linters/live/)
from linters.rules import (constraint_rules, drop_rules, dml_rules, naming_rules, robust_rules,  # noqa: E402,F401
                           table_rules, type_rules)
from linters.rules import revision_rules, transaction_rules  # noqa: E402,F401  (transactions, timeouts, downgrades)
from linters.rules import render_rules  # noqa: E402,F401  (how a revision was rendered offline)
from linters.rules import access_rules  # noqa: E402,F401  (privileges, row-level security, replication, sequences)
