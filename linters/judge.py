"""Judge parsed revisions with the SQL rules, in the deploy runs Alembic would make.

A pull request's new revisions deploy together in one run, against the history outside it. With
`--all` each revision is its own deploy against the revisions before it, judged as soon as it is
rendered (while the children render the rest). Findings then span their whole op.* call and carry
the libcst fix where one is mechanical.
"""

from __future__ import annotations

import ast
from dataclasses import replace
from typing import TYPE_CHECKING

from linters.findings import Finding
from linters.foreign_keys import HistoryIndex, dropped_tables, history_foreign_keys, mentions_any
from linters.history_checks import history_not_null_proofs, set_not_null_tables
from linters.pysource import argument, func_name, keyword, literal_str, qualified, sqlalchemy_type_sql
from linters.sourcemap import RevisionSource
from linters.sqlrun import RunSetup, sql_findings
from linters.rules import RULES
from linters.suggest import locate_call, suggest

if TYPE_CHECKING:
    from linters.config import Config
    from linters.model import Reviewed
    from linters.history import Graph


def _dropped_index_table(source: RevisionSource, line: int) -> str | None:
    """The table an `op.drop_index(name, table_name=...)` call at `line` names: the DROP INDEX it
    renders does not, and unless the run built the index, the SQL alone cannot tell its table."""
    located = locate_call(source.tree, line) if source.tree else None
    call = located[0].value if located else None
    if call is None or not (isinstance(call.func, ast.Attribute) and call.func.attr == "drop_index"):
        return None
    table = literal_str(argument(call, 1, "table_name"))
    return qualified(table, literal_str(keyword(call, "schema"))) if table else None


def note_source_facts(items: list[Reviewed], sources: dict[str, RevisionSource]) -> None:
    """What the op.* call says and its SQL does not: the old type of an ALTER COLUMN TYPE
    (op.alter_column's existing_type: a change that keeps the stored bytes does not rewrite) and the
    table of a DROP INDEX (op.drop_index's table_name)."""
    for item in items:
        for stmt in item.parsed.statements:
            if stmt.path not in sources or not stmt.line:
                continue
            if stmt.kind == "DropStmt" and stmt.body.get("removeType") == "OBJECT_INDEX":
                stmt.op_table = _dropped_index_table(sources[stmt.path], stmt.line)
            elif stmt.kind == "AlterTableStmt":
                columns = [c["AlterTableCmd"].get("name") for c in stmt.body.get("cmds") or ()
                           if c.get("AlterTableCmd", {}).get("subtype") == "AT_AlterColumnType"]
                tree = sources[stmt.path].tree
                located = locate_call(tree, stmt.line) if len(columns) == 1 and tree else None
                call = located[0].value if located else None
                if call is not None and func_name(call) == "alter_column":
                    if old := sqlalchemy_type_sql(keyword(call, "existing_type")):
                        stmt.known_types = {**(stmt.known_types or {}), columns[0]: old}


def locate_and_suggest(findings: list[Finding], sources: dict[str, RevisionSource], fixes: bool = True) -> None:
    """SQL findings span their whole op.* call statement, and carry the libcst fix where one is mechanical
    (unless `fixes` is False: --all reviews history, where the fix is a new revision, not an edit of one
    that already ran; an edited revision never runs again where it already has)."""
    for f in findings:
        if "statement_id" not in f.extra or f.path not in sources or not f.line:
            continue
        source = sources[f.path]
        rule_fix = RULES[f.rule].fix if fixes and f.rule in RULES else None  # --squawk: squawk's rules we do not have
        if f.suggestion is None and rule_fix and (fix := suggest(source.source, f.line, rule_fix)):
            f.line, f.end_line, f.suggestion = fix.start, fix.end, fix.text
        else:
            f.line, f.end_line = source.statement_range(f.line)


class Judge:
    def __init__(self, config: Config, setup: RunSetup, graph: Graph, sources: dict[str, RevisionSource]):
        self.config = config
        self.setup = setup  # env.py's transactions and timeouts; the history's foreign keys per run
        self.graph = graph
        self.sources = sources
        self._position: dict[str, int] | None = None
        self._index: HistoryIndex | None = None

    def alone(self, item: Reviewed) -> list[Finding]:
        """`item` as its own deploy against the revisions before it in upgrade order (--all). Only a
        revision that drops a table or foreign key asks the history's foreign keys anything, and
        only about those tables."""
        dropped = dropped_tables(item.parsed.statements)
        setup = replace(self.setup, foreign_keys=self._history().foreign_keys_before(
            self._position.get(item.file.revision, 0), dropped)) if dropped else self.setup
        if set_not_null := set_not_null_tables(item.parsed.statements):  # the proofs earlier revisions left
            before = self._history().sources[:self._position.get(item.file.revision, 0)]
            setup = replace(setup, not_null_proven=history_not_null_proofs(
                [source for source in before if mentions_any(source, set_not_null)]))
        note_source_facts([item], self.sources)
        found = sql_findings([item], self.config, one_run=False, setup=setup)
        locate_and_suggest(found, self.sources, fixes=False)
        return found

    def together(self, items: list[Reviewed]) -> list[Finding]:
        """`items` deploy in one run (a pull request's new revisions), against the rest of the history."""
        in_run = {id(item.file) for item in items}
        dropped = dropped_tables(s for item in items for s in item.parsed.statements)
        revisions = [self.graph.by_id[r] for r in self.graph.upgrade_order()] if dropped else []
        history = [f.source for f in revisions if id(f) not in in_run and mentions_any(f.source, dropped)]
        set_not_null = set_not_null_tables(s for item in items for s in item.parsed.statements)
        proofs = history_not_null_proofs([
            f.source for f in (self.graph.by_id[r] for r in self.graph.upgrade_order())
            if id(f) not in in_run and mentions_any(f.source, set_not_null)]) if set_not_null else {}
        note_source_facts(items, self.sources)
        found = sql_findings(items, self.config, one_run=True,
                             setup=replace(self.setup, foreign_keys=history_foreign_keys(history),
                                           not_null_proven=proofs))
        locate_and_suggest(found, self.sources)
        return found

    def _history(self) -> HistoryIndex:
        """Every source in upgrade order, indexed by word: built when a first revision drops something."""
        if self._index is None:
            order = self.graph.upgrade_order()
            self._position = {rid: i for i, rid in enumerate(order)}
            self._index = HistoryIndex([self.graph.by_id[rid].source for rid in order])
        return self._index
