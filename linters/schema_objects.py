"""What one statement creates and what it drops, read once per statement.

The run's state (what is new), the downgrade check (does it undo its upgrade?), the foreign keys and
the rules all ask these questions of the same statements. Objects are (DropStmt removeType, name)
pairs, names spelled by linters.nodes: a creation and the DROP that undoes it compare equal.
"""

from __future__ import annotations

from linters.nodes import derived, dotted, object_name, qualified, relation_name, strings

TABLE_KINDS = ("OBJECT_TABLE", "OBJECT_MATVIEW")  # relations that hold rows, and so take table locks

SchemaObject = tuple[str, "str | None"]  # (DropStmt removeType, name)


def creates(stmt) -> tuple[SchemaObject, ...]:
    """The objects `stmt` brings into being (an index PostgreSQL names itself is left out)."""
    return derived(stmt, _creates)


def created_table(stmt) -> str | None:
    """The table or materialized view `stmt` creates."""
    return next((name for kind, name in creates(stmt) if kind in TABLE_KINDS), None)


def drops(stmt) -> tuple[SchemaObject, ...]:
    """The objects a DROP statement removes, one per name it lists."""
    if stmt.kind != "DropStmt":
        return ()
    return derived(stmt, _drops)


def _drops(stmt) -> tuple[SchemaObject, ...]:
    kind = stmt.body.get("removeType")
    return tuple((kind, object_name(obj)) for obj in stmt.body.get("objects") or ())


def _creates(stmt) -> tuple[SchemaObject, ...]:
    created = _created(stmt)
    return (created,) if created else ()


def _created(stmt) -> SchemaObject | None:
    body, kind = stmt.body, stmt.kind
    if kind == "CreateStmt":
        return "OBJECT_TABLE", relation_name(body.get("relation"))
    if kind == "CreateTableAsStmt":
        return ("OBJECT_MATVIEW" if body.get("objtype") == "OBJECT_MATVIEW" else "OBJECT_TABLE",
                relation_name(body.get("into", {}).get("rel")))
    if kind == "IndexStmt":
        name = body.get("idxname")
        return ("OBJECT_INDEX", qualified(name, (body.get("relation") or {}).get("schemaname"))) if name else None
    if kind == "ViewStmt":
        return "OBJECT_VIEW", relation_name(body.get("view"))
    if kind in ("CreateEnumStmt", "CreateRangeStmt"):
        return "OBJECT_TYPE", dotted(strings(body.get("typeName")))
    if kind == "CompositeTypeStmt":
        return "OBJECT_TYPE", relation_name(body.get("typevar"))
    if kind == "CreateDomainStmt":
        return "OBJECT_DOMAIN", dotted(strings(body.get("domainname")))
    if kind == "CreateSeqStmt":
        return "OBJECT_SEQUENCE", relation_name(body.get("sequence"))
    if kind == "CreateFunctionStmt":
        return ("OBJECT_PROCEDURE" if body.get("is_procedure") else "OBJECT_FUNCTION"), \
            dotted(strings(body.get("funcname")))
    if kind == "CreateSchemaStmt":
        return "OBJECT_SCHEMA", body.get("schemaname")
    if kind == "CreateExtensionStmt":
        return "OBJECT_EXTENSION", body.get("extname")
    if kind == "CreateTrigStmt":  # DROP TRIGGER names it [schema.]table.trigger
        return "OBJECT_TRIGGER", f"{relation_name(body.get('relation'))}.{body.get('trigname')}"
    return None
