"""One `ast.parse` per revision source, shared by every reader that only looks at the tree, and
the small readers of `op.*(...)` calls in it that those readers share.

The sourcemap, the foreign-key reader, the revision rules and the suggestions each need the
tree of the same files; parsing once saves most of the Python-side time of an `--all` run.
Callers must not modify the tree (history.py, which strips docstrings in place, parses its own).
"""

from __future__ import annotations

import ast
from functools import lru_cache

from linters.nodes import qualified  # noqa: F401  (`schema=` of an op.* call, spelled as the SQL rules spell names)


@lru_cache(maxsize=4096)
def parse_python(source: str) -> ast.Module | None:
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def func_name(call: ast.Call) -> str | None:
    """`create_table` of `op.create_table(...)`, `Column` of `sa.Column(...)` or `Column(...)`."""
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None


def literal_str(node: ast.AST | None) -> str | None:
    """A name written as a string literal, or as op.f("name") (a name the naming convention must not touch)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Call) and func_name(node) == "f" and node.args:
        return literal_str(node.args[0])
    return None


def keyword(call: ast.Call, name: str) -> ast.AST | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def argument(call: ast.Call, index: int, name: str) -> ast.AST | None:
    """The argument at position `index`, or passed as keyword `name`."""
    return call.args[index] if len(call.args) > index else keyword(call, name)


# SQLAlchemy type names (any dialect module) -> the PostgreSQL type they render; `None` length: no typmod.
_SA_TYPES = {
    "String": "varchar", "VARCHAR": "varchar", "Unicode": "varchar", "NVARCHAR": "varchar",
    "Text": "text", "TEXT": "text", "UnicodeText": "text", "CITEXT": "citext",
    "Numeric": "numeric", "NUMERIC": "numeric", "DECIMAL": "numeric",
    "Integer": "integer", "INTEGER": "integer", "BigInteger": "bigint", "BIGINT": "bigint",
    "SmallInteger": "smallint", "SMALLINT": "smallint", "Boolean": "boolean", "BOOLEAN": "boolean",
    "Date": "date", "DATE": "date", "Float": "double precision", "JSON": "json", "JSONB": "jsonb",
    "UUID": "uuid", "Uuid": "uuid", "INET": "inet", "CIDR": "cidr", "CHAR": "char", "BIT": "bit",
}
_PRECISION_TYPES = {"DateTime": "timestamp", "TIMESTAMP": "timestamp", "Time": "time", "TIME": "time"}


def sqlalchemy_type_sql(node: ast.AST | None) -> str | None:
    """The PostgreSQL type an SQLAlchemy type expression renders (`sa.String(50)` -> "varchar(50)",
    `sa.DateTime(timezone=True)` -> "timestamptz"), or None when the source does not say it plainly."""
    call = node if isinstance(node, ast.Call) else None
    target = call.func if call else node
    name = target.attr if isinstance(target, ast.Attribute) else target.id if isinstance(target, ast.Name) else None
    args = [a.value for a in call.args if isinstance(a, ast.Constant)] if call else []
    sizes = [k.value for k in call.keywords if k.arg in ("length", "precision", "scale")] if call else []
    if call and (len(args) != len(call.args) or not all(isinstance(v, ast.Constant) for v in sizes)):
        return None  # a length given by a variable: unknown
    if name in _PRECISION_TYPES:
        tz = call is not None and isinstance(keyword(call, "timezone"), ast.Constant) and keyword(call, "timezone").value
        precision = keyword(call, "precision") if call else None
        base = _PRECISION_TYPES[name] + ("tz" if tz else "")
        return f"{base}({precision.value})" if isinstance(precision, ast.Constant) else base
    if name not in _SA_TYPES:
        return None
    mods = args or [v.value for k in ("length", "precision", "scale")
                    if call and (v := keyword(call, k)) is not None and v.value is not None]
    mods = [m for m in mods if isinstance(m, int)]
    return f"{_SA_TYPES[name]}({', '.join(map(str, mods))})" if mods else _SA_TYPES[name]
