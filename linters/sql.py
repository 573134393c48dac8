"""Rendered SQL chunks -> parsed statements, each keeping the op.* line that produced it."""

from __future__ import annotations

from dataclasses import dataclass, field

from pglast import parser as pg_parser

from linters.locks import lock_effect
from linters.sqlpieces import statement_items
from linters.nodes import relation_name  # noqa: F401  (re-exported: the rule modules read names from here)


@dataclass
class Chunk:
    """SQL one op.* call emitted while rendering (line: of that call in the revision file)."""
    direction: str
    line: int | None
    sql: str


@dataclass(slots=True)  # thousands per SQL file: slots make them smaller and quicker to build and read
class Statement:
    sql: str                      # the statement's own text
    node: dict                    # pglast JSON node: {"IndexStmt": {...}}; its *location fields count from
                                  # where pglast's parse began (in a big file, a piece: linters/sqlpieces.py)
    line: int | None              # line of the op.* call in the revision file (a raw SQL file: where it starts)
    direction: str                # upgrade | downgrade
    in_transaction: bool          # runs inside the migration's transaction block
    comments: str = ""            # comments written just before it (raw SQL), for ignores
    # The node's one key ("IndexStmt") and its body: every rule asks every statement for them, so plain
    # attributes, given by split_statements (which has them at hand) or read off the node.
    kind: str | None = field(default=None, repr=False, compare=False)
    body: dict | None = field(default=None, repr=False, compare=False)
    revision: str | None = None
    path: str | None = None       # repo-relative revision file
    managed: bool = False         # emitted by Alembic itself (autocommit_block's COMMIT/BEGIN), not the revision
    old_type: str | None = None   # ALTER COLUMN TYPE: the type op.alter_column's existing_type names (SQL text)
    # column -> its type before (op.alter_column's existing_type); None until the revision names one
    known_types: dict | None = field(default=None, compare=False)
    op_table: str | None = None   # the table its op call names where the SQL does not (op.drop_index's table_name)
    _effects: dict | None = field(default=None, repr=False, compare=False)  # pg_version -> LockEffect, once asked
    derived: dict = field(default_factory=dict, repr=False, compare=False)  # nodes.derived(): read once

    def __post_init__(self) -> None:
        if self.kind is None:
            self.kind = next(iter(self.node))
            self.body = self.node[self.kind]

    def lock_effect(self, pg_version: int = 15):
        """What the statement locks, rewrites and scans (linters.locks), computed once per version."""
        if self._effects is None:
            self._effects = {}
        effect = self._effects.get(pg_version)
        if effect is None:
            effect = self._effects[pg_version] = lock_effect(self.node, pg_version, column_type=self.column_type)
        return effect

    @property
    def column_type(self):
        """The lock model's hook for the old type of a changed column, when the revision names it."""
        return (lambda table, column: self.old_type) if self.old_type else None


@dataclass
class ParseFailure:
    line: int | None
    direction: str
    sql: str
    message: str


@dataclass
class ParsedRevision:
    statements: list[Statement] = field(default_factory=list)
    failures: list[ParseFailure] = field(default_factory=list)


TRANSACTION_ENDS = {"TRANS_STMT_COMMIT", "TRANS_STMT_ROLLBACK", "TRANS_STMT_COMMIT_PREPARED", "TRANS_STMT_PREPARE"}
TRANSACTION_STARTS = {"TRANS_STMT_BEGIN", "TRANS_STMT_START"}


def split_statements(sql: str, line: int | None = None, direction: str = "upgrade", in_transaction: bool = True,
                     sql_lines: bool = False) -> tuple[list[Statement], bool]:
    """The statements of `sql` and whether a transaction is open after them; raises pglast's ParseError.

    `in_transaction`: whether one is open before `sql`. A statement's line is `line` (the op.* call), or
    with `sql_lines` the line of `sql` its own text starts on, counted from `line` (a raw SQL file).
    """
    ascii_text = sql.isascii()  # pglast locations are byte offsets: in ASCII text, str offsets too
    raw = sql if ascii_text else sql.encode("utf-8")
    newline = "\n" if ascii_text else b"\n"
    out: list[Statement] = []
    previous_end = counted = 0
    sql_line = (line or 1) - 1
    for offset, item in statement_items(sql):
        start = offset + item.get("stmt_location", 0)
        length = item.get("stmt_len")
        end = start + length if length else len(raw)
        text, leading = raw[start:end], raw[previous_end:start]
        if not ascii_text:
            text, leading = text.decode("utf-8", "replace"), leading.decode("utf-8", "replace")
        stripped = text.lstrip()
        # pglast starts a statement after the previous ';', so comments may sit inside `text`.
        if stripped.startswith(("--", "/*")):
            stripped, leading = _comments_to_leading(stripped, leading)
        if out and "--" in leading:
            leading = _trailing_comment_to_previous(out[-1], leading)
        if sql_lines:  # the line its own text starts on: past what was stripped off the front of `text`
            begin = end - len(stripped.encode("utf-8") if not ascii_text else stripped)
            sql_line += raw.count(newline, counted, begin)
            counted = begin
        node = item["stmt"]
        kind = next(iter(node))
        stmt = Statement(stripped.rstrip(), node, sql_line + 1 if sql_lines else line, direction, in_transaction,
                         leading, kind, node[kind])
        if stmt.kind == "TransactionStmt":
            stmt.in_transaction = True
            state = stmt.body.get("kind")
            if state in TRANSACTION_ENDS:  # COMMIT/ROLLBACK AND CHAIN opens the next one at once
                in_transaction = bool(stmt.body.get("chain"))
            elif state in TRANSACTION_STARTS:
                in_transaction = True
        out.append(stmt)
        previous_end = end
    return out, in_transaction


def _comments_to_leading(stripped: str, leading: str) -> tuple[str, str]:
    """Comments at the front of a statement's text belong to what is written before it."""
    while stripped.startswith(("--", "/*")):
        cut = stripped.find("\n") + 1 if stripped.startswith("--") else stripped.find("*/") + 2
        if cut <= 0:
            break
        leading += stripped[:cut]
        stripped = stripped[cut:].lstrip()
    return stripped, leading


def _trailing_comment_to_previous(previous: Statement, leading: str) -> str:
    """`...; -- comment` ends the line of the statement before: its comment, not the next one's."""
    head, newline, rest = leading.partition("\n")
    if newline and head.lstrip("; \t").startswith("--"):
        previous.comments += f"{head.lstrip('; ')}\n"
        return rest
    return leading


def parse_chunks(chunks: list[Chunk], in_transaction: bool = True, sql_lines: bool = False) -> ParsedRevision:
    """Parse each direction's chunks in order, tracking the transaction state Alembic leaves them in.

    Alembic runs each migration in a transaction; raw SQL files (the squawk bench) start outside one.
    `sql_lines`: a statement's line is where it starts in its chunk's text (split_statements).
    """
    result = ParsedRevision()
    in_transaction = {"upgrade": in_transaction, "downgrade": in_transaction}
    for chunk in chunks:
        try:
            statements, in_transaction[chunk.direction] = split_statements(
                chunk.sql, chunk.line, chunk.direction, in_transaction[chunk.direction], sql_lines)
        except pg_parser.ParseError as exc:
            result.failures.append(ParseFailure(chunk.line, chunk.direction, chunk.sql, str(exc)))
            continue
        result.statements += statements
    return result
