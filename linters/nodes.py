"""Readers of pglast JSON nodes, and the one spelling of names that every module compares.

A name is spelled as written, without the default schema: `public.users` and `users` are the same
table, spelled `users`; `audit.log` stays `audit.log`. Whatever turns a node (or an op.* call's
`schema=`) into a name goes through qualified(), so names from different statements compare equal.

Bottom of the import graph: imports nothing of ours (sql, locks, state and the rules read nodes here).
"""

from __future__ import annotations

from typing import Callable

DEFAULT_SCHEMA = "public"

# Alembic's own bookkeeping table: its VARCHAR(32) and its writes are not the user's schema.
ALEMBIC_VERSION = "alembic_version"


def qualified(name: str, schema: str | None) -> str:
    """`schema.name`, or `name` alone in the default schema."""
    return f"{schema}.{name}" if schema and schema != DEFAULT_SCHEMA else name


def dotted(parts: list[str]) -> str:
    """["public", "t"] -> "t", ["s", "t"] -> "s.t", ["t"] -> "t": a name given as a list of identifiers."""
    if len(parts) < 2:
        return "".join(parts)
    return qualified(".".join(parts[1:]), parts[0])


def strings(items: list | None) -> list[str]:
    """[{"String": {"sval": "a"}}, ...] -> ["a", ...]."""
    return [i["String"]["sval"] for i in items or () if "String" in i]


def relation_name(rangevar: dict | None) -> str | None:
    """A RangeVar (wrapped or bare) as `schema.table`; its catalog, always ours, is left out."""
    if not rangevar:
        return None
    rv = rangevar.get("RangeVar", rangevar)
    name, schema = rv.get("relname"), rv.get("schemaname")
    if not name:
        return None
    return qualified(name, schema) if schema else name  # most names are written without a schema


def object_parts(obj: dict) -> list[str]:
    """The identifiers of a DropStmt / CommentStmt object: {"List": {"items": [...]}} or a bare String."""
    if "List" in obj:
        return strings(obj["List"].get("items"))
    if "String" in obj:
        return [obj["String"]["sval"]]
    return []


def object_name(obj: dict) -> str | None:
    """The name of one DropStmt / RenameStmt object, whatever node spells it."""
    if "List" in obj or "String" in obj:
        return dotted(object_parts(obj))
    if "TypeName" in obj:
        return dotted(strings(obj["TypeName"].get("names")))
    if "ObjectWithArgs" in obj:
        return dotted(strings(obj["ObjectWithArgs"].get("objname")))
    return None


_OFF = {"false", "off", "0", "no"}


def option_on(options: list | None, name: str) -> bool:
    """Is DefElem option `name` given and not switched off? `(FULL)`, `(FULL true)` yes; `(FULL false)`,
    `(CONCURRENTLY off)`, `(FULL 0)` no: PostgreSQL reads the value as a boolean."""
    for item in options or ():
        elem = item.get("DefElem", {})
        if elem.get("defname") == name:
            arg = elem.get("arg") or {}
            value = arg.get("String", {}).get("sval") or arg.get("Boolean", {}).get("boolval")
            if "Integer" in arg:
                value = str(arg["Integer"].get("ival", 0))
            elif "Boolean" in arg:
                value = "true" if arg["Boolean"].get("boolval") else "false"
            return str(value).lower() not in _OFF if value is not None else True
    return False


def is_bookkeeping(table: str | None) -> bool:
    """Alembic's version table, in any schema."""
    return table is not None and (table == ALEMBIC_VERSION or table.endswith(_IN_A_SCHEMA))


_IN_A_SCHEMA = "." + ALEMBIC_VERSION


VERSION_TABLE_KINDS = frozenset({"InsertStmt", "UpdateStmt", "DeleteStmt", "CreateStmt"})


def alembic_bookkeeping(stmt) -> bool:
    """Alembic's own statements on its version table (`alembic upgrade --sql` creates it, then writes
    it once per revision): the user did not write them and cannot change them."""
    if stmt.kind not in VERSION_TABLE_KINDS:
        return False
    # relation_name() without spelling the schema: the table's own name alone says whether it is Alembic's
    # (asked of every statement, and again of each write by the run's state).
    relation = stmt.body.get("relation")
    return bool(relation) and is_bookkeeping(relation.get("RangeVar", relation).get("relname"))


def derived(stmt, compute: Callable):
    """compute(stmt), once per statement: what many readers take off the same node (a tuple, not to change)."""
    found = stmt.derived.get(compute)
    if found is None:
        found = stmt.derived[compute] = compute(stmt)
    return found
