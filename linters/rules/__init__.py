"""The rule registry: every rule's id, default severity and docs in one place.

The CLI (`rules`, `explain`), the reporters and the README table all read RULES.
A rule is one of three kinds:
- "sql": check(stmt, state) -> iterable of Hit, called for every parsed statement in upgrade order
  (only for statements of the pglast node kinds in `kinds`, when the rule declares them);
- "history": check(history) -> iterable of Finding, called once with the graphs and change set;
- "engine": reported by the engine itself (render-error), documented here like the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from linters.findings import Severity


@dataclass(frozen=True)
class Rule:
    id: str
    severity: Severity
    kind: str             # sql | history | engine
    summary: str          # one line
    why: str              # why it hurts production
    recipe: str           # the safe way, in Alembic terms
    lock: str | None = None
    check: Callable | None = None
    # sql rules: the statement kinds (pglast node names, "IndexStmt", ...) the check can report on;
    # None: every statement (rules that follow the run's state, or look at every statement's locks).
    # tests/test_rule_kinds.py runs each rule over statements of other kinds: it must stay silent there.
    kinds: frozenset[str] | None = None


@dataclass
class Hit:
    """What an SQL rule says about one statement; the engine adds where it came from."""
    message: str
    table: str | None = None
    lock: str | None = None
    hint: str | None = None
    suggestion: str | None = None


RULES: dict[str, Rule] = {}


def rule(id: str, severity: str, kind: str, summary: str, why: str, recipe: str, lock: str | None = None,
         kinds=None):
    """Register the decorated function as the check of rule `id` (sql rules: called only for `kinds`)."""
    def register(check: Callable | None) -> Callable | None:
        if id in RULES:
            raise ValueError(f"rule {id} registered twice")
        RULES[id] = Rule(id, Severity(severity), kind, summary, why, recipe, lock, check,
                         frozenset(kinds) if kinds is not None else None)
        return check
    return register


def rules_of_kind(kind: str) -> list[Rule]:
    return [r for r in RULES.values() if r.kind == kind and r.check is not None]


# Importing the modules registers their rules.
from linters.rules import engine_rules, history_rules, index_rules, column_rules  # noqa: E402,F401
from linters.rules import live_rules  # noqa: E402,F401  (live mode and the models check, linters/live/)
from linters.rules import (constraint_rules, drop_rules, dml_rules, naming_rules, robust_rules,  # noqa: E402,F401
                           table_rules, type_rules)
from linters.rules import revision_rules, transaction_rules  # noqa: E402,F401  (transactions, timeouts, downgrades)
