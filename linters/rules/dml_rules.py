"""Data statements in migrations that PostgreSQL rejects."""

from collections import Counter

from linters.rules import Hit, sql_rule
from linters.rules.nodes import is_bookkeeping
from linters.nodes import strings
from linters.sql import relation_name


def _targets(items) -> list[tuple[str, bool]]:
    """(column, assigns a part of it: `a.x`, `a[1]`) of each SET / column-list target."""
    return [(t["ResTarget"].get("name"), bool(t["ResTarget"].get("indirection"))) for t in items or () if "ResTarget" in t]


def _repeated(targets: list[tuple[str, bool]]) -> dict[str, int]:
    """Columns assigned more than once as a whole, or as a whole and in part: PostgreSQL allows only
    several parts of one column (`SET a.x = 1, a.y = 2`, `SET a[1] = 1, a[2] = 2`)."""
    if len({name for name, _ in targets}) == len(targets):
        return {}  # each column named once (nearly every statement): nothing to count
    whole = Counter(name for name, part in targets if not part)
    parts = Counter(name for name, part in targets if part)
    return {name: n + parts[name] for name, n in whole.items() if name and (n > 1 or parts[name])}


def _inferred_name(target: dict) -> str | None:
    """The column name PostgreSQL gives a select-list item (FigureColname, for the common expressions);
    None for `*`, whose columns the SQL alone does not tell."""
    if target.get("name"):
        return target["name"]
    value = target.get("val") or {}
    while "TypeCast" in value and "ColumnRef" not in value:
        cast = value["TypeCast"]
        if not cast.get("arg") or "A_Const" in cast["arg"]:
            return (strings(cast.get("typeName", {}).get("names")) or ["?column?"])[-1]
        value = cast["arg"]
    if "ColumnRef" in value:
        fields = value["ColumnRef"].get("fields") or [{}]
        return fields[-1].get("String", {}).get("sval")
    if "FuncCall" in value:
        return (strings(value["FuncCall"].get("funcname")) or ["?column?"])[-1]
    return "?column?"


def _defined(names) -> dict[str, int]:
    """Column names a new relation defines more than once: PostgreSQL rejects them ('specified more than once')."""
    if len(set(names)) == len(names):
        return {}  # each name once (nearly every statement): nothing to count
    return {name: n for name, n in Counter(names).items() if name and n > 1}


def _select_list(query: dict | None) -> list[dict]:
    select = (query or {}).get("SelectStmt", {})
    if select.get("op", "SETOP_NONE") != "SETOP_NONE":  # UNION ...: the names are its first branch's
        return _select_list(select.get("larg") and {"SelectStmt": select["larg"]})
    return [t["ResTarget"] for t in select.get("targetList") or () if "ResTarget" in t]


def _assignments(stmt) -> tuple[str | None, list[list[tuple[str, bool]]], list[str]]:
    """(the table, its lists of assignments (UPDATE / INSERT / MERGE), the column names it defines)."""
    body = stmt.body
    if stmt.kind == "UpdateStmt":
        return relation_name(body.get("relation")), [_targets(body.get("targetList"))], []
    if stmt.kind == "InsertStmt":
        return relation_name(body.get("relation")), [
            _targets(body.get("cols")), _targets((body.get("onConflictClause") or {}).get("targetList"))], []
    if stmt.kind == "MergeStmt":
        return relation_name(body.get("relation")), [
            _targets(w["MergeWhenClause"].get("targetList")) for w in body.get("mergeWhenClauses") or ()], []
    if stmt.kind in ("CreateStmt", "CreateForeignTableStmt"):
        base = body.get("base", body)
        return relation_name(base.get("relation")), [], [
            e["ColumnDef"].get("colname") for e in base.get("tableElts") or () if "ColumnDef" in e]
    if stmt.kind == "ViewStmt":
        aliases = strings(body.get("aliases"))
        return relation_name(body.get("view")), [], aliases or [_inferred_name(t) for t in _select_list(body.get("query"))]
    if stmt.kind == "CreateTableAsStmt":
        into = body.get("into") or {}
        columns = strings(into.get("colNames")) or [_inferred_name(t) for t in _select_list(body.get("query"))]
        return relation_name(into.get("rel")), [], columns
    if stmt.kind == "SelectStmt" and body.get("intoClause"):
        return relation_name(body["intoClause"].get("rel")), [], [_inferred_name(t) for t in _select_list({"SelectStmt": body})]
    return None, [], []


@sql_rule(
    "ban-duplicate-column-assignments", "error",
    summary="Assigning or defining the same column twice in one statement fails.",
    why="PostgreSQL rejects `UPDATE t SET a = 1, a = 2` (also in MERGE, in an INSERT column list, in ON CONFLICT "
        "DO UPDATE SET) with 'multiple assignments to same column', and a new table, view or SELECT INTO whose "
        "columns repeat a name (`CREATE VIEW v AS SELECT 1, 2` names both `?column?`) with 'column specified more "
        "than once': the migration stops at this statement.",
    recipe="Assign each column once in the op.execute(...) / sa.update(...).values(...) statement, and give each "
           "column of a new table or view its own name (`SELECT 1 AS a, 2 AS b`).",
    lock="ROW EXCLUSIVE",
    kinds=("UpdateStmt", "InsertStmt", "MergeStmt", "CreateStmt", "CreateForeignTableStmt", "ViewStmt",
           "CreateTableAsStmt", "SelectStmt"),
)
def ban_duplicate_column_assignments(stmt, state):
    table, lists, defined = _assignments(stmt)
    if is_bookkeeping(table):
        return
    for names in lists:
        for column, count in _repeated(names).items():
            yield Hit(f"column {column} of {table} is assigned {count} times", table=table)
    for column, count in _defined(defined).items():
        yield Hit(f"column {column} of {table} is defined {count} times", table=table)
