"""The fixes of linters/suggest.py written as text, for a call statement spelled plainly on one line.

Most calls a fix rewrites look like `op.create_check_constraint("ck", "t", "x > 0")`: one line, the
arguments separated by ", ", no comment. For those, the statements libcst would render are known
from the `ast` positions alone, and importing libcst (~0.25 s) and parsing each call with it cost
more than the rest of the suggestion. `read_plain` accepts a call only when its text is rebuilt
exactly from its arguments' texts; anything else (comments, other spacing, parentheses around an
argument, several lines, strings libcst splits differently) goes to the libcst path. The output is
the same text, character for character: tests/test_suggest.py checks both paths against each other.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

LINE_LENGTH = 88  # black's: what GitHub's suggestion box shows without clipping, and what most projects use
SIMPLE_NAME = re.compile(r"[a-z_][a-z0-9_$]*")
# One string token on one line: what libcst calls a SimpleString (not concatenated, not triple-quoted).
SIMPLE_STRING = re.compile(r"""[rRbBuU]{0,2}(?:"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')""")


class NotPlain(Exception):
    """The call is not one this module writes exactly as libcst would: use libcst."""


def quote_name(identifier: str) -> str:
    return identifier if SIMPLE_NAME.fullmatch(identifier) else '"' + identifier.replace('"', '""') + '"'


def string_literal(text: str, quote: str) -> str:
    """`text` as a Python string literal, in the quote style of the call's own strings."""
    if quote == '"' and '"' not in text and "\\" not in text:
        return f'"{text}"'
    return repr(text)


def layout(indent: str, func: str, args: list[str]) -> str:
    """A call too long for one line, laid out as black would: its arguments on one indented line if
    they fit there, else one per line with a trailing comma."""
    inner = indent + " " * 4
    hugged = inner + ", ".join(args)
    if len(hugged) <= LINE_LENGTH or len(args) == 1:  # one argument: black leaves it long on its own line
        return f"{indent}{func}(\n{hugged}\n{indent})"
    return f"{indent}{func}(\n" + "".join(f"{inner}{a},\n" for a in args) + f"{indent})"


@dataclass
class Arg:
    keyword: str | None
    value: ast.expr
    value_text: str

    @property
    def text(self) -> str:
        return self.value_text if self.keyword is None else f"{self.keyword}={self.value_text}"


@dataclass
class PlainCall:
    func: str         # `op.create_index`, as written
    args: list[Arg]   # in the order written
    quote: str        # the quote of its first string argument; '"' when it has none

    def argument(self, index: int, keyword: str) -> Arg | None:
        positional = [a for a in self.args if a.keyword is None]
        if len(positional) > index:
            return positional[index]
        return self.keyword(keyword)

    def keyword(self, *names: str) -> Arg | None:
        return next((a for a in self.args if a.keyword in names), None)


def _is_string(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes))


def read_plain(line: str, stmt: ast.Expr, indent: str) -> PlainCall | None:
    """The call statement `stmt`, alone on `line`, if it is spelled plainly; else None."""
    call = stmt.value
    if not line.isascii() or stmt.col_offset != len(indent) or stmt.end_col_offset != len(line) \
            or stmt.lineno != stmt.end_lineno:
        return None  # (ast offsets count bytes: ASCII keeps them character offsets)
    args = []
    for item in sorted([*call.args, *call.keywords], key=lambda n: (n.lineno, n.col_offset)):
        if isinstance(item, ast.Starred) or (isinstance(item, ast.keyword) and item.arg is None):
            return None
        value = item.value if isinstance(item, ast.keyword) else item
        arg = Arg(item.arg if isinstance(item, ast.keyword) else None, value,
                  line[value.col_offset:value.end_col_offset])
        if line[item.col_offset:item.end_col_offset] != arg.text:
            return None  # `name = value`, or parentheses around the value
        if _is_string(value) and not SIMPLE_STRING.fullmatch(arg.value_text):
            return None
        args.append(arg)
    func = line[call.func.col_offset:call.func.end_col_offset]
    if line[len(indent):] != f"{func}({', '.join(a.text for a in args)})":
        return None
    quote = next((a.value_text.lstrip("rRbBuU")[0] for a in args if _is_string(a.value)), '"')
    return PlainCall(func, args, quote)


def _name(arg: Arg | None, line: str) -> str | None:
    """A name spelled as a string literal, or op.f("name"); None when it is not spelled out."""
    node = arg.value if arg is not None else None
    if _is_string(node):
        return node.value if isinstance(node.value, str) else None
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "f" \
            and (node.args or node.keywords):
        if node.keywords or len(node.args) != 1 or isinstance(node.args[0], ast.Starred):
            raise NotPlain
        inner = node.args[0]
        text = line[inner.col_offset:inner.end_col_offset]
        if _is_string(inner) and not SIMPLE_STRING.fullmatch(text):
            raise NotPlain
        return _name(Arg(None, inner, text), line)
    return None


@dataclass
class Statement:
    func: str
    args: list[str]
    depth: int = 0   # blocks it is nested in

    def text(self, indent: str) -> str:
        indent += "    " * self.depth
        line = f"{indent}{self.func}({', '.join(self.args)})"
        return layout(indent, self.func, self.args) if len(line) > LINE_LENGTH and self.args else line


def _with_keyword(args: list[Arg], name: str) -> list[Arg]:
    """`args` with `name=True`, replacing an existing value."""
    true = ast.Constant(True)
    if any(a.keyword == name for a in args):
        return [Arg(name, true, "True") if a.keyword == name else a for a in args]
    return [*args, Arg(name, true, "True")]


def _in_block(receiver: str, body: list[Statement], reset: str | None, quote: str) -> list:
    """`body` in `with op.get_context().autocommit_block():`, after the session-wide lock_timeout."""
    if reset is not None:
        body = [Statement(f"{receiver}.execute", [string_literal(reset, quote)]), *body]
    return [f"with {receiver}.get_context().autocommit_block():",
            *(Statement(s.func, s.args, s.depth + 1) for s in body)]


def plain_fix(call: PlainCall, line: str, receiver: str, name: str, concurrently: bool, in_autocommit: bool,
              reset: str | None) -> list | None:
    """The statements replacing `call` (a `with` header as a str); None when the fix does not apply."""
    if concurrently:
        args = _with_keyword(call.args, "postgresql_concurrently")
        if name == "drop_index":
            args = _with_keyword(args, "if_exists")
        body = [Statement(call.func, [a.text for a in args])]
        fixed = PlainCall(call.func, args, call.quote)
        index, table = fixed.argument(0, "index_name"), fixed.argument(1, "table_name")
        if name == "create_index" and index is not None and table is not None and index.value_text != "None":
            schema = fixed.keyword("schema")
            body.insert(0, Statement(f"{receiver}.drop_index", [
                index.value_text, f"table_name={table.value_text}",
                *([f"schema={schema.value_text}"] if schema else []),
                "postgresql_concurrently=True", "if_exists=True"]))
        return body if in_autocommit else _in_block(receiver, body, reset, call.quote)
    constraint_arg = call.argument(0, "constraint_name")
    constraint = _name(constraint_arg, line)
    table = _name(call.argument(1, "source_table" if name == "create_foreign_key" else "table_name"), line)
    if not constraint or not table:
        return None  # the VALIDATE step needs the names spelled out
    schema = _name(call.keyword("source_schema", "schema"), line)
    qualified = f"{quote_name(schema)}.{quote_name(table)}" if schema else quote_name(table)
    validate = Statement(f"{receiver}.execute", [
        string_literal(f"ALTER TABLE {qualified} VALIDATE CONSTRAINT {quote_name(constraint)}", call.quote)])
    fixed = Statement(call.func, [a.text for a in _with_keyword(call.args, "postgresql_not_valid")])
    kind = string_literal("foreignkey" if name == "create_foreign_key" else "check", call.quote)
    drop = Statement(f"{receiver}.drop_constraint", [
        constraint_arg.value_text, string_literal(table, call.quote), f"type_={kind}",
        *([f"schema={string_literal(schema, call.quote)}"] if schema else []), "if_exists=True"])
    return [drop, fixed, validate] if in_autocommit else \
        [drop, fixed, *_in_block(receiver, [validate], reset, call.quote)]


def render(statements: list, indent: str) -> str:
    return "\n".join(indent + s if isinstance(s, str) else s.text(indent) for s in statements)
