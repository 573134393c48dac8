"""drop-mapped-column: a migration drops or renames a column (or table) the models still map.

Static: it needs only the SQL of the new revisions and the models' tables (loaded in the
sandboxed child). The child is started only when a new revision drops or renames something.
"""

from __future__ import annotations

from linters.live.findings import at_statement
from linters.nodes import relation_name
from linters.schema_objects import drops
from linters.sql import Statement
from linters.state import RunState


def removals(stmt: Statement) -> list[tuple[str, str | None, str]]:
    """(table, column or None for the whole table, what happens to it) for DROP/RENAME statements."""
    body, out = stmt.body, []
    if stmt.kind == "AlterTableStmt" and body.get("objtype", "OBJECT_TABLE") == "OBJECT_TABLE":
        table = relation_name(body.get("relation"))
        for cmd in body.get("cmds", []):
            cmd = cmd.get("AlterTableCmd", {})
            if cmd.get("subtype") == "AT_DropColumn" and cmd.get("name"):
                out.append((table, cmd["name"], "drops"))
    elif stmt.kind == "RenameStmt" and body.get("renameType") == "OBJECT_COLUMN":
        out.append((relation_name(body.get("relation")), body.get("subname"), f"renames to {body.get('newname')}"))
    elif stmt.kind == "RenameStmt" and body.get("renameType") == "OBJECT_TABLE":
        out.append((relation_name(body.get("relation")), None, f"renames to {body.get('newname')}"))
    elif stmt.kind == "DropStmt" and body.get("removeType") == "OBJECT_TABLE":
        out += [(table, None, "drops") for _, table in drops(stmt)]
    return [r for r in out if r[0]]


def upgrade_runs(statement_lists: list[list[Statement]], one_run: bool) -> list[list[Statement]]:
    """The new revisions' upgrade statements, grouped by deploy as the engine groups them."""
    groups = [[s for stmts in statement_lists for s in stmts]] if one_run else statement_lists
    return [[s for s in g if s.direction == "upgrade"] for g in groups]


def anything_removed(runs: list[list[Statement]]) -> bool:
    return any(removals(s) for run in runs for s in run)


def mapped_column_findings(runs: list[list[Statement]], tables: dict[str, dict], root) -> list:
    findings = []
    for run in runs:
        state = RunState()
        for stmt in run:
            for table, column, what in removals(stmt):
                mapped = tables.get(table)
                if mapped is None or state.is_new(table) or (column and column not in mapped["columns"]):
                    continue
                where = _where(mapped, column, root)
                subject = f"column {table}.{column}" if column else f"table {table}"
                verb, _, rest = what.partition(" ")
                findings.append(at_statement(
                    "drop-mapped-column",
                    f"{verb} {subject}{' ' + rest if rest else ''}, which {where} still maps: "
                    "running code that queries it fails once the migration commits",
                    stmt, table=table, lock="ACCESS EXCLUSIVE"))
            state.apply(stmt)
    return findings


def _where(mapped: dict, column: str | None, root) -> str:
    from pathlib import Path
    name = mapped.get("class") or "the model"
    spot = mapped.get("column_lines", {}).get(column) if column else None
    path, line = spot if spot else (mapped.get("file"), mapped.get("line"))
    if path:
        try:
            path = Path(path).resolve().relative_to(Path(root).resolve()).as_posix()
        except ValueError:
            pass
        return f"{name} ({path}:{line})" if line else f"{name} ({path})"
    return name
