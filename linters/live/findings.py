"""Findings of live mode and the models check, built from the rule registry like the engine's."""

from __future__ import annotations

from linters.findings import Finding
from linters.rules import RULES
from linters.sql import Statement


def finding(rule_id: str, message: str, *, path: str | None, line: int | None, **fields) -> Finding:
    return RULES[rule_id].finding(message, path=path, line=line, **fields)


def at_statement(rule_id: str, message: str, stmt: Statement, **fields) -> Finding:
    """A finding at the op.* line that emitted `stmt`."""
    return finding(rule_id, message, path=stmt.path, line=stmt.line, revision=stmt.revision,
                   statement=stmt.sql, **fields)
