"""The old type of the column an `op.alter_column(..., existing_type=...)` call changes.

The rendered SQL says only the new type (`ALTER COLUMN score TYPE NUMERIC(14, 3)`), and whether
the change rewrites the table depends on both: numeric(6,2) -> numeric(14,2) or varchar(64) -> text
only touch the catalog. Autogenerate writes `existing_type` on every alter_column, so the revision
file usually says what the column was.
"""

from __future__ import annotations

import ast

from linters.pysource import argument, func_name, keyword, parse_python
from linters.suggest import locate_call

_PLAIN = {"Text": "text", "TEXT": "text", "Integer": "integer", "INTEGER": "integer", "BigInteger": "bigint",
          "BIGINT": "bigint", "SmallInteger": "smallint", "SMALLINT": "smallint", "Boolean": "boolean",
          "BOOLEAN": "boolean", "Date": "date", "DATE": "date", "Float": "double precision", "Uuid": "uuid",
          "UUID": "uuid", "JSON": "json", "JSONB": "jsonb"}


def _int(node: ast.AST | None) -> int | None:
    return node.value if isinstance(node, ast.Constant) and type(node.value) is int else None


def sql_type(node: ast.AST | None) -> str | None:
    """`sa.Numeric(precision=6, scale=2)` -> "numeric(6,2)"; None for what is not a plain SQLAlchemy type."""
    call = node if isinstance(node, ast.Call) else None
    name = func_name(call) if call else (node.attr if isinstance(node, ast.Attribute) else
                                         node.id if isinstance(node, ast.Name) else None)
    if name in ("Numeric", "NUMERIC", "DECIMAL"):
        precision = _int(argument(call, 0, "precision")) if call else None
        scale = _int(argument(call, 1, "scale")) if call else None
        if precision is None:
            return "numeric"
        return f"numeric({precision},{scale})" if scale is not None else f"numeric({precision})"
    if name in ("String", "VARCHAR", "Unicode"):
        length = _int(argument(call, 0, "length")) if call else None
        return f"varchar({length})" if length else "varchar"
    if name in ("DateTime", "TIMESTAMP"):
        zone = keyword(call, "timezone") if call else None
        return "timestamptz" if isinstance(zone, ast.Constant) and zone.value is True else "timestamp"
    return _PLAIN.get(name)


def existing_type_at(source: str, line: int | None) -> str | None:
    """The SQL type `existing_type=` names on the op.alter_column call at `line`, if it names one."""
    tree = parse_python(source) if line else None
    located = locate_call(tree, line) if tree else None
    call = located[0].value if located else None
    if call is None or func_name(call) != "alter_column":
        return None
    return sql_type(keyword(call, "existing_type"))



def note_old_types(statements: list, source: str) -> None:
    """Give each ALTER COLUMN ... TYPE statement the old type its op.alter_column names, so the lock
    analysis can tell a rewrite from a catalog-only change."""
    for stmt in statements:
        if stmt.kind == "AlterTableStmt" and any(
                cmd.get("AlterTableCmd", {}).get("subtype") == "AT_AlterColumnType" for cmd in stmt.body.get("cmds", ())):
            stmt.old_type = existing_type_at(source, stmt.line)
