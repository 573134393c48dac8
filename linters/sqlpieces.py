"""PostgreSQL's parser over a big SQL file in pieces, on a second thread, while this one reads them.

pglast releases the GIL while PostgreSQL's parser runs and writes its JSON: on an `alembic upgrade
--sql` file of thousands of statements that is a sixth of the analysis, which another core does
while this thread decodes and judges the pieces before. A small text is parsed in one call.

A piece ends just after a `;` that ends a line, and only where PostgreSQL agrees a statement ends
there: the piece parses and its last statement ends at that `;`. A `;` in a string, a comment, a
function body, a rule's action list or a BEGIN ATOMIC body fails that test (the piece does not
parse, or its last statement ends elsewhere), and the piece grows to the next candidate. Whatever
the pieces, the statements are the ones a single parse gives; a file with a syntax error is parsed
again whole, so the error is the one a single parse raises.
"""

from __future__ import annotations

import queue
import re
import threading
from typing import Iterator

import orjson
from pglast import parser as pg_parser

ONE_CALL_BELOW = 64 * 1024   # characters: below this the thread costs more than it saves
FIRST_PIECE = 8 * 1024       # small, so this thread starts decoding early
PIECE = 32 * 1024
TRIES = 4                    # candidate ends per piece before the rest is parsed in one call

# The last statement of pglast's JSON and where it ends: `"stmt_location":N,"stmt_len":M}]}`
# (stmt_location is left out when 0; stmt_len when the statement runs to the end of the text).
_LINE_END = re.compile(r";\r?\n")  # a `;` that ends a line, in a file written on Unix or Windows
_LAST_STATEMENT = re.compile(r'(?:"stmt_location":(\d+),)?"stmt_len":(\d+)\}\]\}$')


def statement_items(sql: str, *, first: int = FIRST_PIECE, piece: int = PIECE,
                    one_call_below: int | None = None) -> Iterator[tuple[int, dict]]:
    """pglast's statements of `sql` in order, each with the byte offset its locations count from.

    Raises pglast's ParseError, the one a single parse of `sql` raises, before or while iterating.
    """
    if len(sql) < (ONE_CALL_BELOW if one_call_below is None else one_call_below):
        for item in orjson.loads(pg_parser.parse_sql_json(sql)).get("stmts", ()):
            yield 0, item
        return
    pieces: queue.SimpleQueue = queue.SimpleQueue()
    # A thread per file, not a pool: a pool's thread would be missing in a process forked after it started.
    threading.Thread(target=_parse_pieces, args=(sql, first, piece, pieces), name="sql-pieces", daemon=True).start()
    while (got := pieces.get()) is not None:
        if isinstance(got, BaseException):
            # a syntax error (or a piece the test refused till the end): the single parse says which
            pg_parser.parse_sql_json(sql)
            raise got  # not a syntax error of the file (pieces end only where a statement does)
        offset, parsed = got
        for item in orjson.loads(parsed).get("stmts", ()):
            yield offset, item


def _parse_pieces(sql: str, first: int, size: int, out: queue.SimpleQueue) -> None:
    """Put (byte offset, pglast JSON) per piece on `out`, then None; an exception instead if any fails."""
    try:
        start, offset, target = 0, 0, first
        while start < len(sql):
            end, parsed = _next_piece(sql, start, start + target)
            out.put((offset, parsed))
            offset += _byte_length(sql, start, end)
            start, target = end, size
    except BaseException as exc:  # handed to the reading thread, which raises it
        out.put(exc)
    out.put(None)


def _next_piece(sql: str, start: int, target: int) -> tuple[int, str]:
    """(end, JSON) of the piece from `start`: to the first agreed statement end at or after `target`."""
    end = target
    for _ in range(TRIES):
        found = _LINE_END.search(sql, end)
        if found is None:
            break
        end = found.start() + 1
        piece = sql[start:end]
        try:
            parsed = pg_parser.parse_sql_json(piece)
        except pg_parser.ParseError:
            continue  # the `;` is inside something, or a real error: the next candidate or the rest says
        last = _LAST_STATEMENT.search(parsed, max(0, len(parsed) - 64))  # the suffix is under 64 characters
        if last and int(last.group(1) or 0) + int(last.group(2)) == _byte_length(piece, 0, len(piece)) - 1:
            return end, parsed
    return len(sql), pg_parser.parse_sql_json(sql[start:])


def _byte_length(sql: str, start: int, end: int) -> int:
    """pglast's locations count UTF-8 bytes."""
    text = sql[start:end]
    return len(text) if text.isascii() else len(text.encode("utf-8"))
