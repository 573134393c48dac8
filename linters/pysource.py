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
