"""A revision's Python source as the reviewer needs it: statement ranges, comments, docstring.

Findings point at the line of an op.* call; suppressions and suggestions need the whole statement
that line belongs to (a call spread over several lines), and the comments written on it.
"""

from __future__ import annotations

import ast
import io
import tokenize
from functools import cached_property
from linters.pysource import parse_python

COMPOUND = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.With, ast.AsyncWith, ast.If, ast.For,
            ast.AsyncFor, ast.While, ast.Try, getattr(ast, "TryStar", ast.Try), getattr(ast, "Match", ast.If))


STATEMENT_LISTS = ("body", "orelse", "finalbody", "handlers", "cases")


def walk_statements(tree: ast.AST):
    """Every statement of `tree`, without descending into expressions (much faster than ast.walk)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.stmt):
            yield node
        for name in STATEMENT_LISTS:
            stack.extend(getattr(node, name, None) or ())


class RevisionSource:
    def __init__(self, source: str):
        self.source = source

    @cached_property
    def tree(self) -> ast.Module | None:
        return parse_python(self.source)

    @cached_property
    def comments(self) -> dict[int, str]:
        """line -> the text of the `#` comment on it."""
        out: dict[int, str] = {}
        try:
            for tok in tokenize.generate_tokens(io.StringIO(self.source).readline):
                if tok.type == tokenize.COMMENT:
                    out[tok.start[0]] = tok.string
        except (tokenize.TokenError, IndentationError, SyntaxError):
            pass
        return out

    @cached_property
    def docstring(self) -> tuple[str, int] | None:
        """(module docstring, its first line)."""
        if self.tree and self.tree.body:
            first = self.tree.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                return first.value.value, first.lineno
        return None

    @cached_property
    def _statements(self) -> list[tuple[int, int, bool]]:
        """(first line, last line, compound?) of every statement; a compound one spans its header only."""
        out = []
        for node in walk_statements(self.tree) if self.tree else ():
            if isinstance(node, COMPOUND):
                body = getattr(node, "body", None) or [node]
                end = max(node.lineno, body[0].lineno - 1) if body[0] is not node else node.lineno
                decorators = getattr(node, "decorator_list", [])
                start = min([node.lineno] + [d.lineno for d in decorators])
                out.append((start, end, True))
            else:
                out.append((node.lineno, node.end_lineno or node.lineno, False))
        return out

    @cached_property
    def _innermost(self) -> dict[int, tuple[int, int]]:
        """line -> the shortest statement span containing it; built once, so locating every finding of a
        revision is linear in its size (compound statements span their header only: spans barely overlap)."""
        best: dict[int, tuple[int, int]] = {}
        for start, end, _ in self._statements:
            for line in range(start, end + 1):
                known = best.get(line)
                if known is None or end - start < known[1] - known[0]:
                    best[line] = (start, end)
        return best

    def statement_range(self, line: int) -> tuple[int, int]:
        """The innermost statement containing `line` (a compound statement: its header lines)."""
        return self._innermost.get(line, (line, line))

    @cached_property
    def autocommit_lines(self) -> set[int]:
        """Lines of `with op.get_context().autocommit_block():`: Alembic's own COMMIT/BEGIN come from there."""
        lines = set()
        if "autocommit_block" not in self.source:
            return lines
        for node in walk_statements(self.tree) if self.tree else ():
            if isinstance(node, (ast.With, ast.AsyncWith)):
                for item in node.items:
                    expr = item.context_expr
                    if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute) \
                            and expr.func.attr == "autocommit_block":
                        lines.update(range(node.lineno, (node.body[0].lineno if node.body else node.lineno)))
                        lines.add(node.lineno)
        return lines
