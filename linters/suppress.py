"""Inline suppressions, and the ones that silence nothing.

- `# alembic-review: ignore[rule-a, rule-b]` on any line of the op.* call statement;
- the same text in the revision's module docstring: the whole file (history rules included);
- `-- alembic-review: ignore[...]` in raw SQL, before or inside the statement it silences;
- `-- squawk-ignore rule-a, rule-b` / `-- squawk-ignore-file rule-a` kept working for teams coming
  from squawk (no rule list: every rule), and `-- squawk-disable-assume-in-transaction` (the `sql` command).
`ignore` without a list silences every rule at that place. Each ignore that silenced nothing in
a fully reviewed revision becomes an `unused-ignore` finding (info).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from linters.findings import Finding
from linters.rules import RULES

if TYPE_CHECKING:  # annotations only: raw SQL files (the sql command) have no Python source
    from linters.sourcemap import RevisionSource

OURS = re.compile(r"alembic-review:\s*ignore\b(?:\[(?P<rules>[^\]]*)\])?", re.IGNORECASE)
SQUAWK = re.compile(r"--\s*squawk-ignore(?P<file>-file)?\b[ \t]*(?P<rules>[^\n]*)", re.IGNORECASE)
SQL_OURS = re.compile(r"--\s*" + OURS.pattern, re.IGNORECASE)
SQUAWK_NAMES = {"prefer-timestamp-tz": "prefer-timestamptz"}  # squawk's reporters spell a few ids differently


DISABLE_ASSUME_IN_TRANSACTION = "squawk-disable-assume-in-transaction"


def disables_assume_in_transaction(sql: str) -> bool:
    """Does a comment of the file say `-- squawk-disable-assume-in-transaction`? squawk's way for one file to
    run outside the transaction `assume_in_transaction` otherwise assumes (a CREATE INDEX CONCURRENTLY one)."""
    if DISABLE_ASSUME_IN_TRANSACTION not in sql.lower():
        return False
    from pglast import parser

    try:
        tokens = parser.scan(sql)
    except parser.ParseError:  # the parse reports the file's syntax error
        return False
    for token in tokens:
        if token.name in ("SQL_COMMENT", "C_COMMENT"):
            text = sql[token.start:token.end + 1]
            body = text[2:-2] if token.name == "C_COMMENT" else text[2:]
            if body.strip().lower() == DISABLE_ASSUME_IN_TRANSACTION:
                return True
    return False


def _rule_list(text: str | None) -> frozenset[str] | None:
    """None means every rule."""
    if text is None:
        return None
    names = frozenset(n.strip() for n in re.split(r"[,\s]+", text) if n.strip())
    return names or None


@dataclass
class Ignore:
    path: str
    line: int                     # where the comment is, for unused-ignore
    rules: frozenset[str] | None  # None: every rule
    scope: str                    # "lines" | "file" | "statement"
    spelling: str                 # the comment as written, for messages
    start: int = 0                # "lines": the statement range it covers
    end: int = 0
    statement: int | None = None  # "statement": id() of the parsed Statement
    used: set[str] = field(default_factory=set)

    def covers(self, finding: Finding) -> bool:
        if finding.path != self.path or (self.rules is not None and finding.rule not in self.rules):
            return False
        if self.scope == "file":
            return True
        if self.scope == "statement":
            return finding.extra.get("statement_id") == self.statement
        first, last = finding.line or 0, finding.end_line or finding.line or 0
        return first <= self.end and last >= self.start


def python_ignores(path: str, source: RevisionSource) -> list[Ignore]:
    if not OURS.search(source.source):
        return []  # most revisions: no need to tokenize them for comments
    found = []
    for line, comment in source.comments.items():
        if m := OURS.search(comment):
            start, end = source.statement_range(line)
            found.append(Ignore(path, line, _rule_list(m.group("rules")), "lines", comment.strip(), start, end))
    if source.docstring:
        text, first_line = source.docstring
        for m in OURS.finditer(text):
            line = first_line + text.count("\n", 0, m.start())
            found.append(Ignore(path, line, _rule_list(m.group("rules")), "file", m.group(0)))
    return found


def may_name_sql_ignores(text: str) -> bool:
    """The cheap test before the SQL ignore patterns, in any case as they match (`-- ALEMBIC-REVIEW: IGNORE`)."""
    lowered = text.lower()
    return "alembic-review" in lowered or "squawk-ignore" in lowered


def sql_ignores(path: str, statements) -> list[Ignore]:
    """Ignores written in the raw SQL a revision emits (op.execute), from the parsed statements."""
    found = []
    for stmt in statements:
        text = f"{stmt.comments}\n{stmt.sql}"
        if not may_name_sql_ignores(text):
            continue
        line = stmt.line or 1
        for m in SQL_OURS.finditer(text):
            found.append(Ignore(path, line, _rule_list(m.group("rules")), "statement", m.group(0).strip(),
                                statement=id(stmt)))
        for m in SQUAWK.finditer(text):
            rules = _rule_list(m.group("rules"))
            rules = frozenset(SQUAWK_NAMES.get(r, r) for r in rules) if rules else None
            scope = "file" if m.group("file") else "statement"
            found.append(Ignore(path, line, rules, scope, m.group(0).strip(), statement=id(stmt)))
    return found


def apply_ignores(findings: list[Finding], ignores: list[Ignore]) -> list[Finding]:
    """The findings no ignore covers; marks each ignore with the rules it silenced."""
    kept = []
    for f in findings:
        covering = [ig for ig in ignores if ig.covers(f)]
        for ig in covering:
            ig.used.add(f.rule)
        if not covering:
            kept.append(f)
    return kept


def unused_ignores(ignores: list[Ignore], reviewed_paths: set[str], enabled) -> list[Finding]:
    """An info finding for every ignore (or rule named in one) that silenced nothing."""
    rule = RULES["unused-ignore"]
    out = []
    seen = set()
    for ig in ignores:
        if ig.path not in reviewed_paths:
            continue  # not every rule ran on this file (history only, or it failed to render)
        if ig.rules is None:
            idle = [] if ig.used else ["every rule"]
        else:
            idle = sorted(r for r in ig.rules - ig.used if r not in RULES or enabled(r))
        for name in idle:
            key = (ig.path, ig.line, name)
            if key in seen:
                continue
            seen.add(key)
            why = "no such rule" if name != "every rule" and name not in RULES else "nothing was reported here"
            out.append(rule.finding(f"`{ig.spelling}` does not silence {name}: {why}", path=ig.path, line=ig.line))
    return out


def suppress(findings: list[Finding], sources: dict[str, RevisionSource], statements: dict[str, list],
             reviewed_paths: set[str], enabled) -> list[Finding]:
    """Drop the findings inline ignores cover; add unused-ignore findings for the ignores that covered none.

    `sources`: path -> RevisionSource of every file findings point into; `statements`: path -> the
    parsed statements of the revisions that were rendered; `reviewed_paths`: the revisions every
    rule looked at (unused ignores are only reported there).
    """
    ignores: list[Ignore] = []
    for path, source in sources.items():
        ignores += python_ignores(path, source)
    for path, stmts in statements.items():
        ignores += sql_ignores(path, stmts)
    if not ignores:
        return findings
    kept = apply_ignores(findings, ignores)
    return kept + unused_ignores(ignores, reviewed_paths, enabled)
