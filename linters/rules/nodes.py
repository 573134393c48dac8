"""Small readers for pglast JSON nodes that several rule families share.

The readers of names (strings, dotted, object_name, ...) live in linters.nodes, below the rules;
they are imported here so that a rule module finds its whole vocabulary in one place.
"""

from __future__ import annotations

from linters.locks import lock_effect
from linters.nodes import derived, relation_name
from linters.nodes import dotted, is_bookkeeping, object_name, option_on, strings  # noqa: F401  (re-exported for the rules)

# What the rule docs say about the run's own creations (RunState), appended to their `why`.
EXEMPT_NEW_TABLES = " Not reported for tables created earlier in the same run: they are empty and nobody uses them yet."
EXEMPT_NEW_COLUMNS = (" Not reported for tables created, or columns added, earlier in the same run: no running code "
                      "uses them yet.")
EXEMPT_NEW_OBJECTS = " Not reported for objects created earlier in the same run: no running code uses them yet."

ALTER_TABLE = ("AlterTableStmt",)  # the `kinds` of rules that read only alter_table_commands()


def alter_table_commands(stmt) -> tuple[tuple[str | None, str, dict], ...]:
    """(table, subtype, command body) for each subcommand of an ALTER TABLE (a dozen rules ask)."""
    if stmt.kind != "AlterTableStmt":
        return ()
    found = stmt.derived.get(_alter_table_commands)  # derived() without its call: asked per rule and statement
    return found if found is not None else derived(stmt, _alter_table_commands)


def _alter_table_commands(stmt) -> tuple[tuple[str | None, str, dict], ...]:
    if stmt.body.get("objtype") not in (None, "OBJECT_TABLE"):
        return ()
    table = relation_name(stmt.body.get("relation"))
    bodies = [cmd.get("AlterTableCmd", {}) for cmd in stmt.body.get("cmds", [])]
    return tuple([(table, body.get("subtype"), body) for body in bodies])  # a list comprehension: no generator


def relation_commands(stmt) -> tuple[tuple[str | None, str, dict], ...]:
    """alter_table_commands, plus those of ALTER FOREIGN TABLE and of ALTER TYPE on a composite type
    (DROP / ALTER ATTRIBUTE): their columns are read by code too (the drop and type rules ask)."""
    if stmt.kind != "AlterTableStmt":
        return ()
    return derived(stmt, _relation_commands)


def _relation_commands(stmt) -> tuple[tuple[str | None, str, dict], ...]:
    if stmt.body.get("objtype") not in (None, "OBJECT_TABLE", "OBJECT_FOREIGN_TABLE", "OBJECT_TYPE"):
        return ()
    table = relation_name(stmt.body.get("relation"))
    return tuple((table, c.get("AlterTableCmd", {}).get("subtype"), c.get("AlterTableCmd", {}))
                 for c in stmt.body.get("cmds", []))


def column_constraints(coldef: dict) -> list[dict]:
    return [c["Constraint"] for c in coldef.get("constraints") or () if "Constraint" in c]


DEFINING_COLUMNS = ("CreateStmt", "AlterTableStmt")  # the statements column_definitions() reads
DEFINING_SUBTYPES = ("AT_AddColumn", "AT_AlterColumnType")  # and the ALTER TABLE subcommands


def column_definitions(stmt) -> list[tuple[str | None, str | None, dict]]:
    """(table, column, ColumnDef) for columns a statement defines or retypes.

    CREATE TABLE columns, ALTER TABLE ... ADD COLUMN and ALTER COLUMN ... TYPE: the places a
    column gets a type, which is what the type-style rules look at. A list, not a generator: resuming
    a generator per column costs more than the list.
    """
    found = []
    if stmt.kind == "CreateStmt":
        table = relation_name(stmt.body.get("relation"))
        found += [(table, elt["ColumnDef"].get("colname"), elt["ColumnDef"])
                  for elt in stmt.body.get("tableElts") or () if "ColumnDef" in elt]
    for table, subtype, cmd in alter_table_commands(stmt):
        coldef = (cmd.get("def") or {}).get("ColumnDef")
        if subtype == "AT_AddColumn" and coldef:
            found.append((table, coldef.get("colname"), coldef))
        elif subtype == "AT_AlterColumnType" and coldef:
            found.append((table, cmd.get("name"), coldef))
    return found


def type_name(coldef: dict) -> tuple[str, list, bool]:
    """(base type name without pg_catalog., typmods, is_array) of a ColumnDef or TypeName."""
    tn = coldef.get("typeName", coldef)
    names = strings(tn.get("names"))
    if len(names) > 1 and names[0] == "pg_catalog":
        names = names[1:]
    return ".".join(names).lower(), list(tn.get("typmods") or ()), bool(tn.get("arrayBounds"))


def single_command(stmt, cmd: dict) -> dict:
    """An ALTER TABLE node holding only `cmd`, so the lock model judges that subcommand alone."""
    body = dict(stmt.body, cmds=[{"AlterTableCmd": cmd}])
    return {"AlterTableStmt": body}


def command_lock(stmt, cmd: dict, state, table: str | None) -> str | None:
    """The lock subcommand `cmd` of ALTER TABLE `stmt` takes on `table`: lock_of(single_command(...))."""
    cmds = stmt.body.get("cmds") or ()
    if len(cmds) == 1 and cmds[0].get("AlterTableCmd") is cmd and cmd.get("subtype") != "AT_AlterColumnType":
        # The statement is that one subcommand: its own effect, computed once (the old type it may be
        # given aside, which only ALTER COLUMN TYPE reads).
        return stmt.lock_effect(state.pg_version).mode_on(table)
    return lock_of(single_command(stmt, cmd), state, table)


def lock_of(node: dict, state, table: str | None = None) -> str | None:
    """The lock `node` takes on `table` (or its strongest lock), from the lock model."""
    return lock_effect(node, state.pg_version).mode_on(table)
