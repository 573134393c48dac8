"""Dropping objects and data: what running code still uses disappears.

Objects created earlier in the same run are not reported: no released code knows them yet.
"""

from linters.rules import Hit, sql_rule
from linters.rules.nodes import EXEMPT_NEW_OBJECTS, is_bookkeeping, lock_of, object_name
from linters.sql import relation_name

LATER_RELEASE = ("Release the code that stops using it first, drop it in a later migration, and mark that line "
                 "`# alembic-review: ignore[{id}]`.")


def _dropped(stmt, state, kinds: set[str]):
    """Names of old objects of DropStmt removeType in `kinds` that `stmt` drops."""
    if stmt.kind != "DropStmt" or stmt.body.get("removeType") not in kinds:
        return
    kind = stmt.body["removeType"]
    for obj in stmt.body.get("objects") or ():
        name = object_name(obj)
        if name and not state.created(kind, name) and not is_bookkeeping(name):
            yield name


def _drop_rule(kinds: set[str], what: str, with_lock: bool = False):
    def check(stmt, state):
        for name in _dropped(stmt, state, kinds):
            yield Hit(f"dropping {what} {name} breaks code that still uses it",
                      table=name if with_lock else None,
                      lock=lock_of(stmt.node, state, name) if with_lock else None)
    return check


@sql_rule(
    "ban-drop-database", "error",
    summary="A migration that drops a database destroys everything in it.",
    why="DROP DATABASE removes every table and row of that database, cannot run in a transaction, and "
        "cannot be rolled back.",
    recipe="Do not drop databases from Alembic migrations; do it by hand, deliberately, outside the deploy.",
    kinds=("DropdbStmt",),
    breaking=True,
)
def ban_drop_database(stmt, state):
    if stmt.kind == "DropdbStmt":
        yield Hit(f"dropping database {stmt.body.get('dbname')}")


sql_rule(
    "ban-drop-table", "error",
    summary="Dropping a table breaks the code that still reads or writes it.",
    why="The running release still queries the table during the deploy and fails as soon as it is gone; the "
        "data is gone with it. DROP TABLE takes ACCESS EXCLUSIVE on the table and on every table its "
        "foreign keys reference." + EXEMPT_NEW_OBJECTS,
    recipe=LATER_RELEASE.format(id="ban-drop-table"),
    lock="ACCESS EXCLUSIVE",
    kinds=("DropStmt",),
    breaking=True,
)(_drop_rule({"OBJECT_TABLE"}, "table", with_lock=True))


@sql_rule(
    "ban-truncate-cascade", "error",
    summary="TRUNCATE ... CASCADE also empties every table that references the truncated ones.",
    why="CASCADE follows foreign keys recursively: truncating `a` empties `b` that references `a`, and `c` "
        "that references `b`, whatever is in them.",
    recipe="Name exactly the tables to empty, without CASCADE: `op.execute('TRUNCATE a, b')`.",
    lock="ACCESS EXCLUSIVE",
    kinds=("TruncateStmt",),
)
def ban_truncate_cascade(stmt, state):
    if stmt.kind == "TruncateStmt" and stmt.body.get("behavior") == "DROP_CASCADE":
        tables = [relation_name(r) for r in stmt.body.get("relations") or ()]
        yield Hit(f"TRUNCATE {', '.join(tables)} CASCADE also empties every table that references them",
                  table=tables[0] if tables else None, lock=lock_of(stmt.node, state))


for _id, _kinds, _what, _why in (
    ("ban-drop-view", {"OBJECT_VIEW", "OBJECT_MATVIEW"}, "view",
     "Queries of the running release that read the view fail once it is gone."),
    ("ban-drop-function", {"OBJECT_FUNCTION", "OBJECT_PROCEDURE"}, "function",
     "Queries, triggers, defaults and other functions that call it fail once it is gone."),
    ("ban-drop-type", {"OBJECT_TYPE"}, "type",
     "Code that casts to the type or binds parameters of it fails once it is gone."),
    ("ban-drop-schema", {"OBJECT_SCHEMA"}, "schema",
     "Every query naming an object in the schema fails; with CASCADE every object in it is dropped too."),
    ("ban-drop-sequence", {"OBJECT_SEQUENCE"}, "sequence",
     "Defaults and code that call nextval() on it fail once it is gone."),
    ("ban-drop-domain", {"OBJECT_DOMAIN"}, "domain",
     "Code that casts to the domain fails once it is gone."),
    ("ban-drop-extension", {"OBJECT_EXTENSION"}, "extension",
     "Dropping an extension also drops its functions, types and operators, which running code may use."),
):
    sql_rule(_id, "warning",
         summary=f"Dropping {'an' if _what[0] in 'aeiou' else 'a'} {_what} breaks the code that still uses it.",
         why=_why + EXEMPT_NEW_OBJECTS, recipe=LATER_RELEASE.format(id=_id),
         kinds=("DropStmt",), breaking=True)(_drop_rule(_kinds, _what))
