"""Downgrades undo upgrades: dropping what the same revision's upgrade created is not a breaking change.

`op.drop_column("users", "nickname")` in the downgrade of the revision that added `nickname` is
the expected inverse: the code that would miss the column is the code being rolled back. Such a
statement still takes its locks (lock rules still speak); the rules about breaking running code
(Rule.breaking: ban-drop-*, renaming-*) stay silent on it.
"""

from __future__ import annotations

from linters.nodes import relation_name
from linters.schema_objects import creates, drops
from linters.sql import Statement

# DropStmt removeType -> what an upgrade creates and a downgrade drops (a procedure is a function here)
DROP_KINDS = {
    "OBJECT_TABLE": "table", "OBJECT_INDEX": "index", "OBJECT_VIEW": "view", "OBJECT_MATVIEW": "view",
    "OBJECT_TYPE": "type", "OBJECT_DOMAIN": "domain", "OBJECT_SEQUENCE": "sequence",
    "OBJECT_FUNCTION": "function", "OBJECT_PROCEDURE": "function", "OBJECT_SCHEMA": "schema",
    "OBJECT_EXTENSION": "extension", "OBJECT_TRIGGER": "trigger",
}


def created_by(stmt: Statement) -> set[tuple]:
    """What one upgrade statement brings into being, as comparable keys."""
    body, kind = stmt.body, stmt.kind
    out = {(DROP_KINDS[what], name) for what, name in creates(stmt)}
    if kind == "CreateStmt":
        table = relation_name(body.get("relation"))
        for elt in body.get("tableElts") or ():
            if "ColumnDef" in elt:
                out.add(("column", table, elt["ColumnDef"].get("colname")))
            elif "Constraint" in elt and elt["Constraint"].get("conname"):
                out.add(("constraint", table, elt["Constraint"]["conname"]))
    elif kind == "AlterTableStmt":
        table = relation_name(body.get("relation"))
        for item in body.get("cmds") or ():
            cmd = item.get("AlterTableCmd", {})
            sub, definition = cmd.get("subtype"), cmd.get("def") or {}
            if sub == "AT_AddColumn":
                col = definition.get("ColumnDef", {})
                out.add(("column", table, col.get("colname")))
                for con in col.get("constraints") or ():
                    contype = con.get("Constraint", {}).get("contype")
                    if contype == "CONSTR_DEFAULT":
                        out.add(("default", table, col.get("colname")))
                    elif contype == "CONSTR_NOTNULL":
                        out.add(("notnull", table, col.get("colname")))
            elif sub == "AT_AddConstraint":
                out.add(("constraint", table, definition.get("Constraint", {}).get("conname")))
            elif sub == "AT_ColumnDefault" and definition:
                out.add(("default", table, cmd.get("name")))
            elif sub == "AT_SetNotNull":
                out.add(("notnull", table, cmd.get("name")))
    elif kind == "RenameStmt":
        # renamed old -> new by the upgrade: renaming new -> old in the downgrade undoes it
        out.add(("rename", body.get("renameType"), relation_name(body.get("relation")),
                 body.get("newname"), body.get("subname") or (body.get("relation") or {}).get("relname")))
    return out


def removed_by(stmt: Statement) -> set[tuple]:
    """What one downgrade statement takes away, in the keys of created_by."""
    body, kind, out = stmt.body, stmt.kind, set()
    if kind == "DropStmt" and body.get("removeType") in DROP_KINDS:
        out |= {(DROP_KINDS[what], name) for what, name in drops(stmt)}
    elif kind == "AlterTableStmt":
        table = relation_name(body.get("relation"))
        for item in body.get("cmds") or ():
            cmd = item.get("AlterTableCmd", {})
            sub = cmd.get("subtype")
            if sub == "AT_DropColumn":
                out.add(("column", table, cmd.get("name")))
            elif sub == "AT_DropConstraint":
                out.add(("constraint", table, cmd.get("name")))
            elif sub == "AT_ColumnDefault" and not cmd.get("def"):
                out.add(("default", table, cmd.get("name")))
            elif sub == "AT_DropNotNull":
                out.add(("notnull", table, cmd.get("name")))
            else:
                out.add(("other", sub))  # anything else is not an undo of a creation
    elif kind == "RenameStmt":
        relation = relation_name(body.get("relation"))
        old = body.get("subname") or (body.get("relation") or {}).get("relname")
        if body.get("renameType") == "OBJECT_TABLE":  # the downgrade names the table by its new name
            out.add(("rename", "OBJECT_TABLE", body.get("newname"), old, body.get("newname")))
        else:
            out.add(("rename", body.get("renameType"), relation, old, body.get("newname")))
    return out


def upgrade_creations(statements: list[Statement]) -> set[tuple]:
    created: set[tuple] = set()
    for stmt in statements:
        if stmt.direction == "upgrade":
            created |= created_by(stmt)
    return created


def is_expected_inverse(stmt: Statement, created: set[tuple]) -> bool:
    removed = removed_by(stmt)
    return bool(removed) and removed <= created
