"""Data statements in migrations that PostgreSQL rejects."""

from collections import Counter

from linters.rules import Hit, sql_rule
from linters.rules.nodes import is_bookkeeping
from linters.sql import relation_name


def _targets(items) -> list[tuple[str, bool]]:
    """(column, assigns a part of it: `a.x`, `a[1]`) of each SET / column-list target."""
    return [(t["ResTarget"].get("name"), bool(t["ResTarget"].get("indirection"))) for t in items or () if "ResTarget" in t]


def _repeated(targets: list[tuple[str, bool]]) -> dict[str, int]:
    """Columns assigned more than once as a whole, or as a whole and in part: PostgreSQL allows only
    several parts of one column (`SET a.x = 1, a.y = 2`, `SET a[1] = 1, a[2] = 2`)."""
    whole = Counter(name for name, part in targets if not part)
    parts = Counter(name for name, part in targets if part)
    return {name: n + parts[name] for name, n in whole.items() if name and (n > 1 or parts[name])}


@sql_rule(
    "ban-duplicate-column-assignments", "error",
    summary="Assigning the same column twice in one UPDATE or INSERT fails.",
    why="PostgreSQL rejects `UPDATE t SET a = 1, a = 2` (and an INSERT column list naming a column twice, and "
        "ON CONFLICT DO UPDATE SET with a repeat) with 'multiple assignments to same column': the migration "
        "stops at this statement.",
    recipe="Assign each column once in the op.execute(...) / sa.update(...).values(...) statement.",
    lock="ROW EXCLUSIVE",
    kinds=("UpdateStmt", "InsertStmt"),
)
def ban_duplicate_column_assignments(stmt, state):
    body = stmt.body
    if stmt.kind == "UpdateStmt":
        lists = [_targets(body.get("targetList"))]
    elif stmt.kind == "InsertStmt":
        lists = [_targets(body.get("cols")), _targets((body.get("onConflictClause") or {}).get("targetList"))]
    else:
        return
    table = relation_name(body.get("relation"))
    if is_bookkeeping(table):
        return
    for names in lists:
        for column, count in _repeated(names).items():
            yield Hit(f"column {column} of {table} is assigned {count} times", table=table)
