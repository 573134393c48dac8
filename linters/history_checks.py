"""Validated CHECK (col IS NOT NULL) constraints of the history: PostgreSQL 12+ skips SET NOT NULL's scan.

The recipe for a NOT NULL on a big table spans revisions: CHECK (col IS NOT NULL) NOT VALID in one,
VALIDATE CONSTRAINT in a later one, SET NOT NULL in a third. The run state only sees the revisions it
judges, so the proofs the earlier revisions left are read from their sources, statically like the
history's foreign keys (linters/foreign_keys.py): op.create_check_constraint(...), op.drop_constraint(...)
and the SQL of op.execute("...") (parsed with pglast), replayed through the run state's own tracking.
"""

from __future__ import annotations

import ast
from functools import lru_cache

from pglast import parser as pg_parser

from linters.pysource import argument, func_name, keyword, literal_str, parse_python
from linters.sql import Statement, split_statements

Proofs = dict[tuple[str, str], str]  # (table, column) -> the valid CHECK constraint proving it NOT NULL


def set_not_null_tables(statements) -> set[str]:
    """The bare names of the tables a SET NOT NULL of the run changes: only their history is read."""
    names = set()
    for stmt in statements:
        if stmt.kind == "AlterTableStmt" and any(
                c.get("AlterTableCmd", {}).get("subtype") == "AT_SetNotNull" for c in stmt.body.get("cmds") or ()):
            names.add((stmt.body.get("relation") or {}).get("relname"))
    return {n for n in names if n}


def history_not_null_proofs(sources: list[str]) -> Proofs:
    """The NOT NULL proofs left by running the upgrade() of these revision sources, in the order given."""
    from linters.state import RunState  # the state imports the run's modules; this one is read first

    state = RunState()
    for source in sources:
        for stmt in _constraint_statements(source):
            state.apply(stmt)
    return dict(state.not_null_proven)


@lru_cache(maxsize=4096)
def _constraint_statements(source: str) -> tuple[Statement, ...]:
    """The ALTER TABLE statements about constraints that the upgrade() of `source` runs, in order."""
    lowered = source.lower()
    if "check" not in lowered and "validate" not in lowered and "constraint" not in lowered:
        return ()
    tree = parse_python(source)
    upgrade = next((n for n in getattr(tree, "body", ()) if isinstance(n, ast.FunctionDef) and n.name == "upgrade"),
                   None)
    if upgrade is None:
        return ()
    found: list[Statement] = []
    for call in sorted((n for n in ast.walk(upgrade) if isinstance(n, ast.Call)), key=lambda n: (n.lineno, n.col_offset)):
        name = func_name(call)
        if name == "execute":
            found += _executed(call)
        elif name == "create_check_constraint":
            found += _check_constraint(call)
        elif name == "drop_constraint":
            found += _dropped_constraint(call)
    return tuple(s for s in found if s.kind == "AlterTableStmt")


def _sql_text(node: ast.AST | None) -> str | None:
    """A string literal, or the literal inside sa.text("...")."""
    if isinstance(node, ast.Call) and func_name(node) == "text" and node.args:
        node = node.args[0]
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _statement(node: dict, line: int) -> Statement:
    return Statement(sql="", node=node, line=line, direction="upgrade", in_transaction=True)


def _executed(call: ast.Call) -> list[Statement]:
    sql = _sql_text(argument(call, 0, "sqltext"))
    if not sql:
        return []
    try:
        return split_statements(sql, call.lineno)[0]
    except pg_parser.ParseError:
        return []


def _relation(call: ast.Call, index: int) -> dict | None:
    table = literal_str(argument(call, index, "table_name"))
    if not table:
        return None
    schema = literal_str(keyword(call, "schema"))
    return {"relname": table, **({"schemaname": schema} if schema else {})}


def _check_constraint(call: ast.Call) -> list[Statement]:
    """op.create_check_constraint(name, table, condition, postgresql_not_valid=...)."""
    name, relation = literal_str(argument(call, 0, "constraint_name")), _relation(call, 1)
    condition = _sql_text(argument(call, 2, "condition"))
    if not (name and relation and condition):
        return []
    try:
        [parsed], _ = split_statements(f"SELECT {condition}")  # pglast reads the expression
    except (pg_parser.ParseError, ValueError):
        return []
    targets = parsed.body.get("targetList") or [{}]
    expr = targets[0].get("ResTarget", {}).get("val")
    not_valid = keyword(call, "postgresql_not_valid")
    constraint = {"contype": "CONSTR_CHECK", "conname": name, "raw_expr": expr,
                  "skip_validation": isinstance(not_valid, ast.Constant) and not_valid.value is True}
    return [_statement({"AlterTableStmt": {"relation": relation, "objtype": "OBJECT_TABLE", "cmds": [
        {"AlterTableCmd": {"subtype": "AT_AddConstraint", "def": {"Constraint": constraint}}}]}}, call.lineno)]


def _dropped_constraint(call: ast.Call) -> list[Statement]:
    name, relation = literal_str(argument(call, 0, "constraint_name")), _relation(call, 1)
    if not (name and relation):
        return []
    return [_statement({"AlterTableStmt": {"relation": relation, "objtype": "OBJECT_TABLE", "cmds": [
        {"AlterTableCmd": {"subtype": "AT_DropConstraint", "name": name}}]}}, call.lineno)]
