"""What each reviewed revision does to existing tables, for the reports: one entry per statement
that locks a table the run did not create, with its lock (from the statement's own lock analysis,
whether or not a rule fired) and its cost (instant, scan, rewrite, index build, concurrent build).

The PR comment's revision table and its all-clear line are built from these.
"""

from __future__ import annotations

import ast

from linters.model import Reviewed
from linters.pysource import parse_python
from linters.sql import Statement, relation_name
from linters.state import RunState

# the cost of a statement on a big table, cheapest first
COSTS = ("instant", "new table", "concurrent build", "index build", "scan", "rewrite")


def title_of(source: str) -> str | None:
    """The first line of the revision's docstring (`alembic revision -m` writes the message there)."""
    tree = parse_python(source)  # the tree the sourcemap already parsed (cached)
    doc = ast.get_docstring(tree) if tree is not None else None
    first = (doc or "").strip().splitlines()
    return first[0].strip()[:120] if first and first[0].strip() else None


def _what(stmt: Statement, table: str | None) -> str:
    """A short name of the operation: ADD COLUMN users.locale, CREATE INDEX CONCURRENTLY ix ON t."""
    body = stmt.body
    if stmt.kind == "AlterTableStmt":
        names = []
        for item in body.get("cmds") or ():
            cmd = item.get("AlterTableCmd", {})
            sub = cmd.get("subtype", "")
            column = cmd.get("name") or (cmd.get("def") or {}).get("ColumnDef", {}).get("colname")
            constraint = (cmd.get("def") or {}).get("Constraint", {}).get("conname")
            words = {"AT_AddColumn": "ADD COLUMN", "AT_DropColumn": "DROP COLUMN",
                     "AT_AlterColumnType": "ALTER COLUMN TYPE", "AT_SetNotNull": "SET NOT NULL",
                     "AT_DropNotNull": "DROP NOT NULL", "AT_ColumnDefault": "ALTER COLUMN DEFAULT"}
            if sub in words and column:
                names.append(f"{words[sub]} {table}.{column}")
            elif sub in ("AT_AddConstraint", "AT_ValidateConstraint", "AT_DropConstraint"):
                verb = {"AT_AddConstraint": "ADD", "AT_ValidateConstraint": "VALIDATE", "AT_DropConstraint": "DROP"}[sub]
                names.append(f"{verb} CONSTRAINT {constraint or cmd.get('name') or ''} ON {table}".replace("  ", " "))
        if names:
            return ", ".join(names)
    if stmt.kind == "IndexStmt":
        concurrently = " CONCURRENTLY" if body.get("concurrent") else ""
        return f"CREATE INDEX{concurrently} {body.get('idxname') or ''} ON {relation_name(body.get('relation'))}".replace("  ", " ")
    if stmt.kind == "CreateStmt":
        return f"CREATE TABLE {relation_name(body.get('relation'))}"
    words = (stmt.sql or stmt.kind).split()
    head = " ".join(words[:2] if words and words[0].upper() in ("CREATE", "ALTER", "DROP") else words[:1]).upper()
    return f"{head} {table}" if table else head


def _cost(stmt: Statement, effect) -> str:
    if stmt.kind == "IndexStmt":  # a build reads the table too, but what matters is who waits meanwhile
        return "concurrent build" if stmt.body.get("concurrent") else "index build"
    if effect.rewrite:
        return "rewrite"
    if effect.scan:
        return "scan"
    return "instant"


def operations(statements: list[Statement], state: RunState) -> list[dict]:
    """The upgrade statements that lock existing tables, in order; `state` follows the run (a table
    an earlier statement of the run created is new: nobody waits on it)."""
    out = []
    for stmt in statements:
        if stmt.direction != "upgrade":
            continue
        effect = state.effect(stmt)
        locks = [(lock.table, lock.mode) for lock in effect.locks if not state.is_new(lock.table)]
        if stmt.kind in ("CreateStmt", "CreateTableAsStmt"):
            out.append({"what": _what(stmt, effect.table), "locks": [], "cost": "new table"})
        elif locks:
            out.append({"what": _what(stmt, effect.table), "line": stmt.line,
                        "locks": [{"table": t, "mode": m} for t, m in locks], "cost": _cost(stmt, effect)})
        state.apply(stmt)
    return out


def summarize(reviewed: list[Reviewed], pg_version: int, one_run: bool) -> dict[str, list[dict]]:
    """revision file path -> its operations; a PR's revisions are one run (tables created by an
    earlier revision of it are new), with --all each revision is its own."""
    out: dict[str, list[dict]] = {}
    state = RunState(pg_version=pg_version)
    for item in reviewed:
        if not one_run:
            state = RunState(pg_version=pg_version)
        try:
            out[item.file.path] = operations(item.parsed.statements, state)
        except Exception:  # a summary must never stop the review: the findings are what counts
            out[item.file.path] = []
    return out

