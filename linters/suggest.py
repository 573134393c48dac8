"""Mechanical fixes in Alembic terms, written with libcst: the replacement source of an op.* call.

The call statement at the finding's line is found with `ast`; libcst parses that statement alone,
transforms it and renders it again at the author's indentation: quoting, layout and comments on
the call stay as they were.

- op.create_index / op.drop_index -> `postgresql_concurrently=True` (drop_index: and
  `if_exists=True`, so a failed run can be re-run; a named create_index: after a guarded
  concurrent drop_index of the same index, which replaces the INVALID index a failed build leaves),
  inside `with op.get_context().autocommit_block():` unless already in one;
- a call longer than 88 characters is laid out as black would (GitHub's suggestion box clips longer
  lines);
- op.create_foreign_key / op.create_check_constraint -> `postgresql_not_valid=True` after a guarded
  drop_constraint (the ADD is committed before the block: a re-run after a failed VALIDATE must not
  trip on it), followed by the VALIDATE CONSTRAINT in an autocommit block (after a COMMIT, so the lock the ADD took is gone
  before the validating scan starts).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from functools import lru_cache

from linters.pysource import func_name, literal_str, parse_python

cst = None  # libcst takes ~130 ms to import: loaded by suggest() only when a fix is written

# The fixes a rule can name (Rule.fix), and the op functions each one rewrites.
CONCURRENTLY = "concurrently"
NOT_VALID = "not_valid"
FIXED_OPS: dict[str, frozenset[str]] = {
    CONCURRENTLY: frozenset({"create_index", "drop_index"}),
    NOT_VALID: frozenset({"create_foreign_key", "create_check_constraint"}),
}
SIMPLE_NAME = re.compile(r"[a-z_][a-z0-9_$]*")


def load_libcst() -> None:
    global cst
    if cst is None:
        import libcst
        cst = libcst


def may_suggest(source: str) -> bool:
    """Whether a finding in `source` could get a fix (cheap: the op names appear in it)."""
    return any(name in source for names in FIXED_OPS.values() for name in names)


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


def locate_call(tree: ast.Module, line: int) -> tuple[ast.Expr, bool] | None:
    """The `op.<name>(...)` expression statement spanning `line`, and whether an autocommit_block encloses it.

    Located with `ast` (fast); libcst then parses only that statement, not the whole revision. The
    calls of a tree are indexed by line once, so locating every finding of a revision is linear in its size.
    """
    index = getattr(tree, "_calls_by_line", None)
    if index is None:
        index = _index_calls(tree)
        tree._calls_by_line = index  # the tree is shared (pysource.parse_python) and never modified otherwise
    return index.get(line)


def _index_calls(tree: ast.Module) -> dict[int, tuple[ast.Expr, bool]]:
    """line -> (the call statement spanning it, inside an autocommit_block?); where two calls share a
    line, the first one written."""
    index: dict[int, tuple[ast.Expr, bool]] = {}
    stack = [(tree, False)]
    while stack:
        node, inside = stack.pop()
        if isinstance(node, (ast.With, ast.AsyncWith)) and any(
                isinstance(i.context_expr, ast.Call) and isinstance(i.context_expr.func, ast.Attribute)
                and i.context_expr.func.attr == "autocommit_block" for i in node.items):
            inside = True
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            for line in range(node.lineno, (node.end_lineno or node.lineno) + 1):
                index[line] = (node, inside)
        stack += [(child, inside) for child in ast.iter_child_nodes(node) if isinstance(child, ast.stmt)]
    return index


@lru_cache(maxsize=16)
def _lines(source: str) -> tuple[str, ...]:
    """The source's lines, split once per revision however many of its calls get a suggestion."""
    return tuple(source.splitlines())


def suggest(source: str, line: int, fix: str) -> Suggestion | None:
    """The op.* call statement at `line` rewritten by `fix` (a rule's Rule.fix), or None when that fix
    does not apply to the call."""
    tree = parse_python(source)
    located = locate_call(tree, line) if tree else None
    if located is None:
        return None
    node, in_autocommit = located
    func = node.value.func
    if not (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)):
        return None
    receiver, name = func.value.id, func.attr
    if name not in FIXED_OPS.get(fix, ()) or receiver != "op":
        return None  # batch_op.* cannot leave its batch; other receivers are not Alembic's op
    lines = _lines(source)
    start, end = node.lineno, node.end_lineno or node.lineno
    if start != end and any(('"""' in l or "'''" in l) for l in lines[start - 1:end]):
        return None  # re-indenting would change a multi-line string's text
    first = lines[start - 1]
    indent = first[:len(first) - len(first.lstrip())]
    snippet = "\n".join(l[len(indent):] if l.startswith(indent) else l for l in lines[start - 1:end]) + "\n"
    load_libcst()
    try:
        statement = cst.parse_module(snippet).body[0]
    except cst.ParserSyntaxError:
        return None
    reset = None if in_autocommit else _local_lock_timeout(tree, node)
    replacement = _transform(statement, receiver, name, fix, in_autocommit, reset)
    if replacement is None:
        return None
    code = cst.Module(body=replacement).code.rstrip("\n")
    text = "\n".join(_wrapped(indent + l) if l else l for l in code.split("\n"))
    return Suggestion(start, end, text)


LINE_LENGTH = 88  # black's: what GitHub's suggestion box shows without clipping, and what most projects use


def _wrapped(line: str) -> str:
    """A one-line call longer than LINE_LENGTH laid out as black would: its arguments on one
    indented line if they fit there, else one per line with a trailing comma."""
    if len(line) <= LINE_LENGTH:
        return line
    indent = line[:len(line) - len(line.lstrip())]
    try:
        call = cst.parse_expression(line.strip())
    except cst.ParserSyntaxError:
        return line
    if not isinstance(call, cst.Call) or not call.args:
        return line
    render = cst.Module(body=[]).code_for_node
    func = render(call.func)
    args = [render(arg.with_changes(comma=cst.MaybeSentinel.DEFAULT)).strip() for arg in call.args]
    inner = indent + " " * 4
    hugged = inner + ", ".join(args)
    if len(hugged) <= LINE_LENGTH or len(args) == 1:  # one argument: black leaves it long on its own line
        return f"{indent}{func}(\n{hugged}\n{indent})"
    return f"{indent}{func}(\n" + "".join(f"{inner}{a},\n" for a in args) + f"{indent})"


def _drop_before_build(call: cst.Call, receiver: str) -> cst.SimpleStatementLine | None:
    """`op.drop_index(<the index>, table_name=..., postgresql_concurrently=True, if_exists=True)`: what
    prefer-robust-stmts asks before a named concurrent build, so a re-run after a failed build replaces
    the INVALID index it left. None for an unnamed index (its re-run builds another) or unknown names."""
    index = _argument(call, 0, "index_name")
    table = _argument(call, 1, "table_name")
    if index is None or table is None or (isinstance(index, cst.Name) and index.value == "None"):
        return None
    render = cst.Module(body=[]).code_for_node
    schema = next((a.value for a in call.args if a.keyword and a.keyword.value == "schema"), None)
    arguments = f"{render(index)}, table_name={render(table)}" + (f", schema={render(schema)}" if schema else "")
    return cst.parse_statement(
        f"{receiver}.drop_index({arguments}, postgresql_concurrently=True, if_exists=True)\n")


def _local_lock_timeout(tree: ast.Module, node: ast.stmt) -> str | None:
    """`SET lock_timeout = ...` when the function around `node` set it with SET LOCAL before it: a new
    autocommit_block commits, which ends a SET LOCAL, so the block (and what follows it) would run
    without it. Inside the block it is set for the session: SET LOCAL means nothing outside a transaction."""
    function = next((f for f in tree.body if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
                     and f.lineno <= node.lineno <= (f.end_lineno or f.lineno)), None)
    reset = None
    for stmt in function.body if function else ():
        if stmt.lineno >= node.lineno:
            break
        call = stmt.value if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call) else None
        sql = literal_str(call.args[0]) if call is not None and func_name(call) == "execute" and call.args else None
        setting = _lock_timeout_set(sql) if sql else None
        if setting is not None:
            reset = setting[1] if setting[0] else None  # a session-wide SET outlives the COMMIT itself
    return reset


def _lock_timeout_set(sql: str) -> tuple[bool, str] | None:
    """(is it SET LOCAL?, the same SET for the session) when `sql` is one SET of lock_timeout."""
    from pglast import ast as pg, parse_sql
    from pglast.stream import RawStream

    try:
        statements = parse_sql(sql)
    except Exception:  # noqa: BLE001  (not SQL we can read: no reset written)
        return None
    if len(statements) != 1 or not isinstance(stmt := statements[0].stmt, pg.VariableSetStmt) \
            or stmt.name != "lock_timeout":
        return None
    local = bool(stmt.is_local)
    stmt.is_local = False
    return local, RawStream()(stmt)


def _transform(statement, receiver: str, name: str, fix: str, in_autocommit: bool,
               reset: str | None = None) -> list | None:
    call = statement.body[0].value
    if fix == CONCURRENTLY:
        call = _with_keyword(call, "postgresql_concurrently")
        if name == "drop_index":  # outside a transaction a failed run is re-run: the recipe's if_exists=True
            call = _with_keyword(call, "if_exists")
        fixed = statement.with_changes(body=[statement.body[0].with_changes(value=call)])
        body = [fixed]
        if name == "create_index" and (drop := _drop_before_build(call, receiver)) is not None:
            body.insert(0, drop)
        return body if in_autocommit else [_autocommit(receiver, _after_reset(body, receiver, reset, call))]
    constraint = _string(_argument(call, 0, "constraint_name"))
    table = _string(_argument(call, 1, "source_table" if name == "create_foreign_key" else "table_name"))
    if not constraint or not table:
        return None  # the VALIDATE step needs the names spelled out
    schema = _string(next((a.value for a in call.args if a.keyword and a.keyword.value in
                           ("source_schema", "schema")), None))
    qualified = f"{_quote(schema)}.{_quote(table)}" if schema else _quote(table)
    sql = f"ALTER TABLE {qualified} VALIDATE CONSTRAINT {_quote(constraint)}"
    fixed = statement.with_changes(body=[statement.body[0].with_changes(
        value=_with_keyword(call, "postgresql_not_valid"))])
    validate = cst.parse_statement(f"{receiver}.execute({_literal(sql, call)})\n")
    # The ADD is committed before the VALIDATE block runs: if VALIDATE fails, the re-run must not trip on it.
    render = cst.Module(body=[]).code_for_node
    kind = _literal("foreignkey" if name == "create_foreign_key" else "check", call)
    where = f", schema={_literal(schema, call)}" if schema else ""
    drop = cst.parse_statement(
        f"{receiver}.drop_constraint({render(_argument(call, 0, 'constraint_name'))}, {_literal(table, call)}, "
        f"type_={kind}{where}, if_exists=True)\n")
    return [drop, fixed, validate] if in_autocommit else \
        [drop, fixed, _autocommit(receiver, _after_reset([validate], receiver, reset, call))]


def _after_reset(body: list, receiver: str, reset: str | None, like: cst.Call) -> list:
    return body if reset is None else [cst.parse_statement(f"{receiver}.execute({_literal(reset, like)})\n"), *body]
