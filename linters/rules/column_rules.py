"""Column changes that break the code still running during a deploy."""

from linters.rules import Hit, rule
from linters.sql import relation_name


def alter_table_commands(stmt):
    """(table, subtype, command body) for each subcommand of an ALTER TABLE."""
    if stmt.kind != "AlterTableStmt" or stmt.body.get("objtype") not in (None, "OBJECT_TABLE"):
        return
    table = relation_name(stmt.body.get("relation"))
    for cmd in stmt.body.get("cmds", []):
        body = cmd.get("AlterTableCmd", {})
        yield table, body.get("subtype"), body


@rule(
    "ban-drop-column", "error", "sql",
    summary="Dropping a column breaks the application code that still reads or writes it.",
    why="During a deploy the old release keeps running: its queries name the column (SQLAlchemy "
        "selects every mapped column) and fail as soon as it is gone. DROP COLUMN also takes an "
        "ACCESS EXCLUSIVE lock, queued behind any long-running query.",
    recipe="Release the code that stops using the column first (remove it from the model), then drop it "
           "in a later migration and mark that line `# alembic-review: ignore[ban-drop-column]`.",
    lock="ACCESS EXCLUSIVE",
)
def ban_drop_column(stmt, state):
    for table, subtype, body in alter_table_commands(stmt):
        if subtype == "AT_DropColumn" and not state.is_new(table):
            yield Hit(f"dropping column {table}.{body.get('name')} breaks code that still uses it",
                      table=table, lock="ACCESS EXCLUSIVE")
