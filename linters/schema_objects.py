"""What one statement creates and what it drops, read once per statement.

The run's state (what is new), the downgrade check (does it undo its upgrade?), the foreign keys and
the rules all ask these questions of the same statements. Objects are (DropStmt removeType, name)
pairs, names spelled by linters.nodes: a creation and the DROP that undoes it compare equal.
"""

from __future__ import annotations

from typing import Callable

from linters.nodes import derived, dotted, object_name, qualified, relation_name, strings

TABLE_KINDS = ("OBJECT_TABLE", "OBJECT_MATVIEW")  # relations that hold rows, and so take table locks

SchemaObject = tuple[str, "str | None"]  # (DropStmt removeType, name)


def creates(stmt) -> tuple[SchemaObject, ...]:
    """The objects `stmt` brings into being (an index PostgreSQL names itself is left out)."""
    if stmt.kind not in _CREATORS:
        return ()  # most statements: nothing to read, nothing to cache
    return derived(stmt, _creates)


def created_table(stmt) -> str | None:
    """The table or materialized view `stmt` creates."""
    if stmt.kind not in _CREATORS:
        return None  # most statements; asked several times of each
    for kind, name in derived(stmt, _creates):
        if kind in TABLE_KINDS:
            return name
    return None


def drops(stmt) -> tuple[SchemaObject, ...]:
    """The objects a DROP statement removes, one per name it lists."""
    if stmt.kind != "DropStmt":
        return ()
    return derived(stmt, _drops)


def _drops(stmt) -> tuple[SchemaObject, ...]:
    kind = stmt.body.get("removeType")
    return tuple((kind, object_name(obj)) for obj in stmt.body.get("objects") or ())


def _creates(stmt) -> tuple[SchemaObject, ...]:
    created = _CREATORS[stmt.kind](stmt.body)
    return (created,) if created else ()


def _index(body: dict) -> SchemaObject | None:
    name = body.get("idxname")
    return ("OBJECT_INDEX", qualified(name, (body.get("relation") or {}).get("schemaname"))) if name else None


# statement kind -> what it creates, read off its body
_CREATORS: dict[str, Callable[[dict], SchemaObject | None]] = {
    "CreateStmt": lambda body: ("OBJECT_TABLE", relation_name(body.get("relation"))),
    "CreateTableAsStmt": lambda body: ("OBJECT_MATVIEW" if body.get("objtype") == "OBJECT_MATVIEW" else "OBJECT_TABLE",
                                       relation_name(body.get("into", {}).get("rel"))),
    "SelectStmt": lambda body: ("OBJECT_TABLE", relation_name(body["intoClause"].get("rel")))  # SELECT ... INTO t
    if body.get("intoClause") else None,
    "IndexStmt": _index,
    "ViewStmt": lambda body: ("OBJECT_VIEW", relation_name(body.get("view"))),
    "CreateEnumStmt": lambda body: ("OBJECT_TYPE", dotted(strings(body.get("typeName")))),
    "CreateRangeStmt": lambda body: ("OBJECT_TYPE", dotted(strings(body.get("typeName")))),
    "CompositeTypeStmt": lambda body: ("OBJECT_TYPE", relation_name(body.get("typevar"))),
    "CreateDomainStmt": lambda body: ("OBJECT_DOMAIN", dotted(strings(body.get("domainname")))),
    "CreateSeqStmt": lambda body: ("OBJECT_SEQUENCE", relation_name(body.get("sequence"))),
    "CreateFunctionStmt": lambda body: ("OBJECT_PROCEDURE" if body.get("is_procedure") else "OBJECT_FUNCTION",
                                        dotted(strings(body.get("funcname")))),
    "DefineStmt": lambda body: ("OBJECT_AGGREGATE", dotted(strings(body.get("defnames"))))  # CREATE AGGREGATE
    if body.get("kind") == "OBJECT_AGGREGATE" else None,
    "CreateSchemaStmt": lambda body: ("OBJECT_SCHEMA", body.get("schemaname")),
    "CreateExtensionStmt": lambda body: ("OBJECT_EXTENSION", body.get("extname")),
    # DROP TRIGGER names a trigger [schema.]table.trigger
    "CreateTrigStmt": lambda body: ("OBJECT_TRIGGER", f"{relation_name(body.get('relation'))}.{body.get('trigname')}"),
}
