"""Mechanical fixes in Alembic terms, written with libcst: the replacement source of an op.* call.

The revision is parsed with libcst, the call statement at the finding's line is transformed, the
whole module is rendered again, and the lines that replaced the statement are the suggestion: the
indentation, quoting and comments of the author stay as they were.

- op.create_index / op.drop_index -> `postgresql_concurrently=True`, inside
  `with op.get_context().autocommit_block():` unless already in one;
- op.create_foreign_key / op.create_check_constraint -> `postgresql_not_valid=True`, followed by
  the VALIDATE CONSTRAINT in an autocommit block (after a COMMIT, so the lock the ADD took is gone
  before the validating scan starts).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import libcst as cst
from libcst.metadata import MetadataWrapper, ParentNodeProvider, PositionProvider

CONCURRENTLY = "concurrently"
NOT_VALID = "not_valid"
# op function -> (transform, rules whose finding it fixes)
TRANSFORMS: dict[str, tuple[str, frozenset[str]]] = {
    "create_index": (CONCURRENTLY, frozenset({"require-concurrent-index-creation",
                                               "ban-concurrent-index-creation-in-transaction"})),
    "drop_index": (CONCURRENTLY, frozenset({"require-concurrent-index-deletion",
                                             "ban-concurrent-index-creation-in-transaction"})),
    "create_foreign_key": (NOT_VALID, frozenset({"adding-foreign-key-constraint", "constraint-missing-not-valid"})),
    "create_check_constraint": (NOT_VALID, frozenset({"constraint-missing-not-valid"})),
}
FIXED_RULES = frozenset().union(*(rules for _, rules in TRANSFORMS.values()))
SIMPLE_NAME = re.compile(r"[a-z_][a-z0-9_$]*")


@dataclass
class Suggestion:
    start: int   # first line of the statement it replaces
    end: int     # last line
    text: str    # the replacement lines


def _quote(identifier: str) -> str:
    return identifier if SIMPLE_NAME.fullmatch(identifier) else '"' + identifier.replace('"', '""') + '"'


def _literal(text: str, like: cst.Call) -> str:
    """`text` as a Python string literal, in the quote style of the call's own strings."""
    quote = next((a.value.quote for a in like.args if isinstance(a.value, cst.SimpleString)), '"')
    if quote == '"' and '"' not in text and "\\" not in text:
        return f'"{text}"'
    return repr(text)


def _string(node: cst.BaseExpression | None) -> str | None:
    """A literal string, or op.f("name") (a name the naming convention must not touch)."""
    if isinstance(node, cst.SimpleString):
        return node.evaluated_value if isinstance(node.evaluated_value, str) else None
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and node.func.attr.value == "f" and node.args:
        return _string(node.args[0].value)
    return None


def _argument(call: cst.Call, index: int, keyword: str) -> cst.BaseExpression | None:
    positional = [a for a in call.args if a.keyword is None and not a.star]
    if len(positional) > index:
        return positional[index].value
    return next((a.value for a in call.args if a.keyword and a.keyword.value == keyword), None)


def _with_keyword(call: cst.Call, name: str) -> cst.Call:
    """`call` with `name=True`, replacing an existing value, keeping the author's comma style."""
    args = list(call.args)
    for i, arg in enumerate(args):
        if arg.keyword and arg.keyword.value == name:
            args[i] = arg.with_changes(value=cst.Name("True"))
            return call.with_changes(args=args)
    new = cst.Arg(value=cst.Name("True"), keyword=cst.Name(name),
                  equal=cst.AssignEqual(whitespace_before=cst.SimpleWhitespace(""),
                                        whitespace_after=cst.SimpleWhitespace("")))
    if not args:
        return call.with_changes(args=[new])
    last = args[-1]
    between = args[-2].comma if len(args) > 1 and isinstance(args[-2].comma, cst.Comma) else \
        cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
    args[-1] = last.with_changes(comma=between)
    args.append(new.with_changes(comma=last.comma))  # a trailing comma (and newline) stays last
    return call.with_changes(args=args)


def _autocommit(receiver: str, body: list[cst.BaseStatement]) -> cst.With:
    context = cst.parse_expression(f"{receiver}.get_context().autocommit_block()")
    return cst.With(items=[cst.WithItem(item=context)], body=cst.IndentedBlock(body=body))


class _Locate(cst.CSTVisitor):
    METADATA_DEPENDENCIES = (PositionProvider, ParentNodeProvider)

    def __init__(self, line: int):
        self.line = line
        self.found: tuple[cst.SimpleStatementLine, cst.Call, bool] | None = None
        self.autocommit_depth = 0

    def visit_With(self, node: cst.With) -> None:
        if any(isinstance(i.item, cst.Call) and isinstance(i.item.func, cst.Attribute)
               and i.item.func.attr.value == "autocommit_block" for i in node.items):
            self.autocommit_depth += 1

    def leave_With(self, node: cst.With) -> None:
        if any(isinstance(i.item, cst.Call) and isinstance(i.item.func, cst.Attribute)
               and i.item.func.attr.value == "autocommit_block" for i in node.items):
            self.autocommit_depth -= 1

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        pos = self.get_metadata(PositionProvider, node)
        if self.found or not pos.start.line <= self.line <= pos.end.line or len(node.body) != 1:
            return
        expr = node.body[0]
        if isinstance(expr, cst.Expr) and isinstance(expr.value, cst.Call):
            self.found = (node, expr.value, self.autocommit_depth > 0)


class _Replace(cst.CSTTransformer):
    def __init__(self, target: cst.SimpleStatementLine, replacement: list[cst.BaseStatement]):
        self.target = target
        self.replacement = replacement

    def leave_SimpleStatementLine(self, original, updated):
        if original is self.target:
            return cst.FlattenSentinel(self.replacement)
        return updated


@lru_cache(maxsize=8)
def _parsed(source: str) -> MetadataWrapper | None:
    """One libcst parse per revision, however many findings it has (wrappers are only read)."""
    try:
        return MetadataWrapper(cst.parse_module(source))
    except (cst.ParserSyntaxError, RecursionError):
        return None


def suggest(source: str, line: int, rule: str) -> Suggestion | None:
    """The rewritten op.* call statement at `line` that fixes `rule`, or None when no mechanical fix applies."""
    wrapper = _parsed(source)
    if wrapper is None:
        return None
    finder = _Locate(line)
    wrapper.visit(finder)
    if finder.found is None:
        return None
    statement, call, in_autocommit = finder.found
    func = call.func
    if not (isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name)):
        return None
    receiver, name = func.value.value, func.attr.value
    if name not in TRANSFORMS or rule not in TRANSFORMS[name][1] or receiver != "op":
        return None  # batch_op.* cannot leave its batch; other receivers are not Alembic's op
    kind = TRANSFORMS[name][0]
    pos = wrapper.resolve(PositionProvider)[statement]
    first = statement.with_changes(leading_lines=())
    if kind == CONCURRENTLY:
        fixed = first.with_changes(body=[statement.body[0].with_changes(
            value=_with_keyword(call, "postgresql_concurrently"))])
        replacement = [fixed] if in_autocommit else [_autocommit(receiver, [fixed])]
    else:
        constraint = _string(_argument(call, 0, "constraint_name"))
        table = _string(_argument(call, 1, "source_table" if name == "create_foreign_key" else "table_name"))
        if not constraint or not table:
            return None  # the VALIDATE step needs the names spelled out
        schema = _string(next((a.value for a in call.args if a.keyword and a.keyword.value in
                               ("source_schema", "schema")), None))
        qualified = f"{_quote(schema)}.{_quote(table)}" if schema else _quote(table)
        sql = f"ALTER TABLE {qualified} VALIDATE CONSTRAINT {_quote(constraint)}"
        fixed = first.with_changes(body=[statement.body[0].with_changes(
            value=_with_keyword(call, "postgresql_not_valid"))])
        validate = cst.parse_statement(f"{receiver}.execute({_literal(sql, call)})\n")
        replacement = [fixed, validate] if in_autocommit else [fixed, _autocommit(receiver, [validate])]
    # the comments and blank lines above the statement stay above it, outside the replaced range
    replacement[0] = replacement[0].with_changes(leading_lines=statement.leading_lines)
    new_code = wrapper.module.visit(_Replace(statement, replacement)).code
    old_lines, new_lines = source.splitlines(), new_code.splitlines()
    tail = len(old_lines) - pos.end.line
    text = "\n".join(new_lines[pos.start.line - 1:len(new_lines) - tail])
    return Suggestion(pos.start.line, pos.end.line, text)
