"""Names: renames and schema moves that break running code, identifiers PostgreSQL truncates.

Renames of tables, columns and objects created earlier in the same run are not reported.
"""

import re

from pglast import parser as pg_parser

from linters.rules import Hit, sql_rule
from linters.nodes import object_parts
from linters.rules.nodes import (EXEMPT_NEW_COLUMNS, EXEMPT_NEW_OBJECTS, alter_table_commands, dotted, lock_of,
                                  object_name, strings)
from linters.sql import relation_name

EXPAND_CONTRACT = ("Expand and contract: add the new {what} next to the old one, make the application use the "
                   "new one (for a table, a view with the old name can bridge the gap), and remove the old one "
                   "in a later release. If nothing running uses the old name, mark the line "
                   "`# alembic-review: ignore[{id}]`.")

# RenameStmt.renameType -> (DropStmt removeType used by RunState.created, words for the message)
OBJECT_KINDS = {
    "OBJECT_INDEX": ("OBJECT_INDEX", "index"),
    "OBJECT_SEQUENCE": ("OBJECT_SEQUENCE", "sequence"),
    "OBJECT_VIEW": ("OBJECT_VIEW", "view"),
    "OBJECT_MATVIEW": ("OBJECT_MATVIEW", "materialized view"),
    "OBJECT_TYPE": ("OBJECT_TYPE", "type"),
    "OBJECT_DOMAIN": ("OBJECT_DOMAIN", "domain"),
    "OBJECT_FUNCTION": ("OBJECT_FUNCTION", "function"),
    "OBJECT_PROCEDURE": ("OBJECT_PROCEDURE", "procedure"),
    "OBJECT_ROUTINE": ("OBJECT_FUNCTION", "routine"),
    "OBJECT_AGGREGATE": ("OBJECT_AGGREGATE", "aggregate"),
    "OBJECT_SCHEMA": ("OBJECT_SCHEMA", "schema"),
    "OBJECT_TABCONSTRAINT": (None, "constraint"),
    "OBJECT_DOMCONSTRAINT": (None, "domain constraint"),
    "OBJECT_TRIGGER": (None, "trigger"),
    "OBJECT_FOREIGN_TABLE": ("OBJECT_FOREIGN_TABLE", "foreign table"),
}


@sql_rule(
    "renaming-column", "error",
    summary="Renaming a column breaks the running code that uses the old name.",
    why="The release still running during the deploy selects and writes the column by its old name "
        "(SQLAlchemy names every mapped column) and fails the moment the rename commits." + EXEMPT_NEW_COLUMNS,
    recipe=EXPAND_CONTRACT.format(what="column", id="renaming-column"),
    lock="ACCESS EXCLUSIVE",
    kinds=("RenameStmt",),
    breaking=True,
)
def renaming_column(stmt, state):
    body = stmt.body
    if stmt.kind == "RenameStmt" and body.get("renameType") == "OBJECT_COLUMN":
        table = relation_name(body.get("relation"))
        if state.is_existing(table) and (table, body.get("subname")) not in state.added_columns:
            yield Hit(f"renaming column {table}.{body.get('subname')} to {body.get('newname')} breaks code "
                      "that uses the old name", table=table, lock=lock_of(stmt.node, state, table))


@sql_rule(
    "renaming-table", "error",
    summary="Renaming a table breaks the running code that uses the old name.",
    why="The release still running during the deploy queries the table by its old name and fails the moment "
        "the rename commits." + EXEMPT_NEW_OBJECTS,
    recipe=EXPAND_CONTRACT.format(what="table", id="renaming-table"),
    lock="ACCESS EXCLUSIVE",
    kinds=("RenameStmt",),
    breaking=True,
)
def renaming_table(stmt, state):
    body = stmt.body
    if stmt.kind == "RenameStmt" and body.get("renameType") == "OBJECT_TABLE":
        table = relation_name(body.get("relation"))
        if state.is_existing(table):
            yield Hit(f"renaming table {table} to {body.get('newname')} breaks code that uses the old name",
                      table=table, lock=lock_of(stmt.node, state, table))


def _renamed_object(stmt, state):
    """(kind words, old name, table or None) of an old non-table, non-column object being renamed."""
    body = stmt.body
    if stmt.kind == "AlterEnumStmt" and body.get("oldVal"):
        type_name = dotted(strings(body.get("typeName")))
        if not state.created("OBJECT_TYPE", type_name):
            yield "enum value", f"{type_name}.{body['oldVal']}", None
        return
    if stmt.kind != "RenameStmt" or body.get("renameType") not in OBJECT_KINDS:
        return
    created_kind, words = OBJECT_KINDS[body["renameType"]]
    relation = relation_name(body.get("relation"))
    if body["renameType"] in ("OBJECT_TABCONSTRAINT", "OBJECT_TRIGGER"):
        if state.is_existing(relation) and (relation, body.get("subname")) not in state.added_constraints:
            yield words, f"{relation}.{body.get('subname')}", relation
        return
    name = relation or body.get("subname") or object_name(body.get("object") or {})
    if not state.created(created_kind, name):
        yield words, name, None


@sql_rule(
    "renaming-object", "warning",
    summary="Renaming an index, sequence, view, type, constraint, function, aggregate or schema breaks code using the old name.",
    why="Queries, hints, monitoring and other migrations that name the object by its old name fail once it "
        "is renamed (an enum value rename breaks code that writes the old value)." + EXEMPT_NEW_OBJECTS,
    recipe=EXPAND_CONTRACT.format(what="object", id="renaming-object"),
    kinds=("RenameStmt", "AlterEnumStmt"),
    breaking=True,
)
def renaming_object(stmt, state):
    for words, name, table in _renamed_object(stmt, state):
        yield Hit(f"renaming {words} {name} breaks code that uses the old name",
                  table=table, lock=lock_of(stmt.node, state, table) if table else None)


@sql_rule(
    "ban-set-schema", "warning",
    summary="Moving an object to another schema breaks code that finds it by its old schema.",
    why="Code and search_path settings that reach the object through its current schema stop finding it "
        "the moment SET SCHEMA commits." + EXEMPT_NEW_OBJECTS,
    recipe="Create the object in the new schema (or a view there), move the application over, then drop the "
           "old one in a later release; or mark the line `# alembic-review: ignore[ban-set-schema]`.",
    kinds=("AlterObjectSchemaStmt",),
)
def ban_set_schema(stmt, state):
    body = stmt.body
    if stmt.kind != "AlterObjectSchemaStmt":
        return
    kind = body.get("objectType", "")
    table = relation_name(body.get("relation"))
    name = table or object_name(body.get("object") or {})
    if (table and not state.is_existing(table)) or state.created(kind, name):
        return
    yield Hit(f"moving {kind.removeprefix('OBJECT_').lower()} {name} to schema {body.get('newschema')} "
              "breaks code that uses the old schema", table=table,
              lock=lock_of(stmt.node, state, table) if table else None)


MAX_IDENTIFIER_BYTES = 63
NAME_KEYS = {"colname", "conname", "idxname", "newname", "trigname", "newschema"}
DEFINED_RELATION = {"CreateStmt": "relation", "ViewStmt": "view", "CreateSeqStmt": "sequence",
                    "CompositeTypeStmt": "typevar"}
DEFINED_NAME_LIST = {"CreateEnumStmt": "typeName", "CreateRangeStmt": "typeName", "CreateDomainStmt": "domainname",
                     "CreateFunctionStmt": "funcname"}
DEFINING = {"AlterTableStmt", "DropStmt", "IndexStmt", "RenameStmt", "CreateSchemaStmt", "CreateTableAsStmt",
            "CreateTrigStmt", "AlterObjectSchemaStmt", *DEFINED_RELATION, *DEFINED_NAME_LIST}


def _defined_names(stmt) -> list[str]:
    """Identifiers a DDL statement gives to something new: tables, columns, constraints, indexes, renames..."""
    body = stmt.body
    names: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key in NAME_KEYS and isinstance(value, str):
                    names.append(value)
                elif key not in ("pktable", "query", "raw_expr", "cooked_expr"):  # references, not definitions
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk({k: v for k, v in body.items() if k not in ("relation",)})
    relation = body.get(DEFINED_RELATION.get(stmt.kind, "")) or (
        body.get("into", {}).get("rel") if stmt.kind == "CreateTableAsStmt" else None)
    if relation:
        names += [relation.get("relname") or "", relation.get("schemaname") or ""]
    if stmt.kind in DEFINED_NAME_LIST:
        names += strings(body.get(DEFINED_NAME_LIST[stmt.kind]))
    if stmt.kind == "CreateSchemaStmt":
        names.append(body.get("schemaname") or "")
    return [n for n in names if n]


def _truncated(name: str) -> str:
    """What PostgreSQL keeps of an identifier: its first 63 bytes, cut at a character boundary."""
    return name.encode("utf-8")[:MAX_IDENTIFIER_BYTES].decode("utf-8", "ignore")


# In ASCII text an identifier over 63 bytes is a run of 64+ identifier characters, or a quoted one of 64+
# characters ("" counts once): without such a run there is nothing to tokenize for.
_MAYBE_LONG = re.compile(r'[A-Za-z0-9_$]{64}|"(?:[^"]|""){64}')


def _may_hold_long_identifier(sql: str) -> bool:
    """False when the text cannot hold an identifier over 63 bytes (nearly every statement)."""
    if not sql.isascii():
        return True
    if len(sql) <= MAX_IDENTIFIER_BYTES:
        return False  # most DDL statements are shorter than one identifier too long
    if '"' not in sql and max(map(len, sql.split()), default=0) <= MAX_IDENTIFIER_BYTES:
        return False  # a run of identifier characters has no space in it: no word is long enough (no regex)
    return _MAYBE_LONG.search(sql) is not None


def _long_identifiers(sql: str) -> list[str]:
    """Identifiers in the SQL text longer than 63 bytes (the parse tree only holds them truncated)."""
    if not _may_hold_long_identifier(sql):
        return []
    out = []
    for token in pg_parser.scan(sql):
        if token.name != "IDENT":
            continue
        raw = sql[token.start:token.end + 1]
        name = raw[1:-1].replace('""', '"') if raw.startswith('"') else raw.lower()
        if len(name.encode("utf-8")) > MAX_IDENTIFIER_BYTES:
            out.append(name)
    return out


@sql_rule(
    "identifier-too-long", "warning",
    summary="PostgreSQL silently truncates identifiers longer than 63 bytes.",
    why="A name over 63 bytes is cut to 63 with only a NOTICE: the database then holds a different name than "
        "the model and the migration, so a later `op.drop_constraint('<full name>')` or `op.drop_index(...)` "
        "fails, and two long names sharing their first 63 bytes collide. A DROP naming an object by a name over "
        "63 bytes looks up its first 63 bytes, not the hashed short name SQLAlchemy gave a long generated name.",
    recipe="Choose a shorter name, or give the MetaData a `naming_convention` that produces short names "
           "(SQLAlchemy shortens names generated from a convention when they are too long).",
    kinds=DEFINING,
)
def identifier_too_long(stmt, state):
    if stmt.kind not in DEFINING:
        return
    long_names = _long_identifiers(stmt.sql)
    if not long_names:
        return  # the common case: no need to collect the names the statement defines
    defined, dropped = set(_defined_names(stmt)), set(_dropped_names(stmt))
    for name in dict.fromkeys(long_names):
        if _truncated(name) in defined:  # a name this statement gives, not one it merely refers to
            yield Hit(f"{name} is {len(name.encode('utf-8'))} bytes long; PostgreSQL keeps only the first "
                      f"{MAX_IDENTIFIER_BYTES}: {_truncated(name)}")
        elif _truncated(name) in dropped:
            yield Hit(f"{name} is {len(name.encode('utf-8'))} bytes long; PostgreSQL drops the object named by its "
                      f"first {MAX_IDENTIFIER_BYTES}, {_truncated(name)}, which is not the name SQLAlchemy gave a "
                      "long convention-generated name (it shortens those with a hash)")


def _dropped_names(stmt) -> list[str]:
    """The names a DROP, or an ALTER TABLE ... DROP CONSTRAINT, looks up."""
    if stmt.kind == "DropStmt":
        return [part for obj in stmt.body.get("objects") or () for part in object_parts(obj)]
    return [cmd.get("name") for _, subtype, cmd in alter_table_commands(stmt) if subtype == "AT_DropConstraint"]
