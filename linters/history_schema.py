"""The schema a history has built before a revision, read off the SQL its earlier revisions render.

A revision that reflects the database (`MetaData.reflect(bind)`, `Table(..., autoload_with=bind)`,
`inspect(bind).get_columns(...)`) gets, offline, the tables and columns the revisions before it
created: the render child's recording dialect answers the inspector from this (linters/render_bind.py).
It is a plain JSON-able dict, sent to the child with the revision:

    {table: {"columns": [{"name", "type", "args", "array", "nullable"}],
             "primary_key": {"name", "columns"}, "indexes": [{"name", "columns", "unique"}],
             "unique": [{"name", "columns"}]}}

`type` is the name PostgreSQL's catalog gives (`character varying`, `timestamp with time zone`),
which is how SQLAlchemy's PostgreSQL dialect looks types up when it reflects.
"""

from __future__ import annotations

from linters.nodes import relation_name, strings
from linters.schema_objects import drops

# pglast spells built-in types by their internal names; the catalog (and SQLAlchemy) by these
CATALOG_NAMES = {
    "int2": "smallint", "int4": "integer", "int8": "bigint", "serial": "integer", "serial4": "integer",
    "bigserial": "bigint", "serial8": "bigint", "smallserial": "smallint", "serial2": "smallint",
    "float4": "real", "float8": "double precision", "bool": "boolean", "varchar": "character varying",
    "bpchar": "character", "timestamp": "timestamp without time zone", "timestamptz": "timestamp with time zone",
    "timetz": "time with time zone", "time": "time without time zone", "varbit": "bit varying",
    "decimal": "numeric",
}


def _type(type_name: dict) -> dict:
    names = strings(type_name.get("names"))
    name = names[-1] if names else "unknown"
    args = [m["A_Const"]["ival"].get("ival", 0) for m in type_name.get("typmods") or ()
            if "ival" in m.get("A_Const", {})]
    return {"type": CATALOG_NAMES.get(name, name), "args": args, "array": bool(type_name.get("arrayBounds"))}


def _column(definition: dict) -> dict:
    constraints = [c.get("Constraint", {}).get("contype") for c in definition.get("constraints") or ()]
    return {"name": definition.get("colname"), **_type(definition.get("typeName") or {}),
            "nullable": not {"CONSTR_NOTNULL", "CONSTR_PRIMARY"} & set(constraints)}


class HistorySchema:
    """Tables, columns, keys and indexes, as the upgrade statements applied so far leave them."""

    def __init__(self):
        self.tables: dict[str, dict] = {}

    def as_dict(self) -> dict:
        return self.tables

    def apply(self, stmt) -> None:
        if stmt.kind == "DropStmt":
            self._drop(stmt)
            return
        handler = getattr(self, "_" + stmt.kind, None)
        if handler is not None:
            handler(stmt.body)

    def _table(self, name: str | None) -> dict | None:
        return self.tables.get(name) if name else None

    def _used(self, name: str | None, columns=()) -> dict | None:
        """A table the history changes without having created it (the app's create_all made it): it
        exists, with at least the columns the history names (their types unknown)."""
        if not name:
            return None
        table = self.tables.setdefault(name, {"columns": [], "primary_key": {"name": None, "columns": []},
                                              "indexes": [], "unique": [], "partial": True})
        if table.get("partial"):
            known = {c["name"] for c in table["columns"]}
            table["columns"] += [{"name": c, "type": "unknown", "args": [], "array": False, "nullable": True}
                                 for c in dict.fromkeys(columns) if c and c not in known]
        return table

    def _CreateStmt(self, body: dict) -> None:
        name = relation_name(body.get("relation"))
        if not name:
            return
        table = self.tables[name] = {"columns": [], "primary_key": {"name": None, "columns": []},
                                     "indexes": [], "unique": []}
        for element in body.get("tableElts") or ():
            if "ColumnDef" in element:
                definition = element["ColumnDef"]
                table["columns"].append(_column(definition))
                for c in definition.get("constraints") or ():
                    self._constraint(name, table, c.get("Constraint", {}), [definition.get("colname")])
            elif "Constraint" in element:
                self._constraint(name, table, element["Constraint"], None)

    def _constraint(self, name: str, table: dict, con: dict, columns: list[str] | None) -> None:
        columns = columns or strings(con.get("keys"))
        short = name.rsplit(".", 1)[-1]
        if con.get("contype") == "CONSTR_PRIMARY":
            table["primary_key"] = {"name": con.get("conname") or f"{short}_pkey", "columns": columns}
            for column in table["columns"]:
                if column["name"] in columns:
                    column["nullable"] = False
        elif con.get("contype") == "CONSTR_UNIQUE":
            table["unique"].append({"name": con.get("conname") or f"{short}_{'_'.join(columns)}_key",
                                    "columns": columns})

    def _AlterTableStmt(self, body: dict) -> None:
        name = relation_name(body.get("relation"))
        if body.get("objtype") not in (None, "OBJECT_TABLE"):
            return
        cmds = [item.get("AlterTableCmd", {}) for item in body.get("cmds") or ()]
        table = self._used(name, [c.get("name") for c in cmds if c.get("subtype") not in ("AT_DropColumn", "AT_DropConstraint")])
        for cmd in cmds:
            subtype, definition = cmd.get("subtype"), cmd.get("def") or {}
            con = definition.get("Constraint", {})
            if con.get("contype") == "CONSTR_FOREIGN":
                self._used(relation_name(con.get("pktable")), strings(con.get("pk_attrs")))
                table = self.tables.get(name, table)
            column = next((c for c in table["columns"] if c["name"] == cmd.get("name")), None)
            if subtype == "AT_AddColumn" and "ColumnDef" in definition:
                table["columns"].append(_column(definition["ColumnDef"]))
            elif subtype == "AT_DropColumn":
                table["columns"] = [c for c in table["columns"] if c["name"] != cmd.get("name")]
            elif subtype == "AT_AlterColumnType" and column is not None:
                column.update(_type(definition.get("ColumnDef", {}).get("typeName") or {}))
            elif subtype in ("AT_SetNotNull", "AT_DropNotNull") and column is not None:
                column["nullable"] = subtype == "AT_DropNotNull"
            elif subtype == "AT_AddConstraint" and "Constraint" in definition:
                self._constraint(name, table, definition["Constraint"], None)
            elif subtype == "AT_DropConstraint":
                if table["primary_key"]["name"] == cmd.get("name"):
                    table["primary_key"] = {"name": None, "columns": []}
                table["unique"] = [u for u in table["unique"] if u["name"] != cmd.get("name")]

    def _RenameStmt(self, body: dict) -> None:
        name = relation_name(body.get("relation"))
        kind, new = body.get("renameType"), body.get("newname")
        if kind == "OBJECT_TABLE" and name in self.tables:
            schema = name.rsplit(".", 1)[0] + "." if "." in name else ""
            self.tables[schema + new] = self.tables.pop(name)
        elif kind == "OBJECT_COLUMN" and name in self.tables:
            for column in self.tables[name]["columns"]:
                if column["name"] == body.get("subname"):
                    column["name"] = new
        elif kind == "OBJECT_INDEX":
            for table in self.tables.values():
                for index in table["indexes"]:
                    if index["name"] == name:
                        index["name"] = new

    def _IndexStmt(self, body: dict) -> None:
        columns = [p["IndexElem"].get("name") for p in body.get("indexParams") or () if "IndexElem" in p]
        table = self._used(relation_name(body.get("relation")), columns)
        if table is None or not body.get("idxname"):
            return
        table["indexes"].append({"name": body["idxname"], "columns": columns, "unique": bool(body.get("unique"))})

    def _UpdateStmt(self, body: dict) -> None:
        self._used(relation_name(body.get("relation")),
                   [t.get("ResTarget", {}).get("name") for t in body.get("targetList") or ()])

    def _InsertStmt(self, body: dict) -> None:
        self._used(relation_name(body.get("relation")), [t.get("ResTarget", {}).get("name") for t in body.get("cols") or ()])

    def _drop(self, stmt) -> None:
        kind = stmt.body.get("removeType")
        for _, name in drops(stmt):
            if kind == "OBJECT_TABLE":
                self.tables.pop(name, None)
            elif kind == "OBJECT_INDEX":
                for table in self.tables.values():
                    table["indexes"] = [i for i in table["indexes"] if i["name"] != name.rsplit(".", 1)[-1]]


def schema_before(statements_in_order) -> dict:
    """The schema the upgrade statements `statements_in_order` (earlier revisions first) leave."""
    schema = HistorySchema()
    for stmt in statements_in_order:
        if stmt.direction == "upgrade":
            schema.apply(stmt)
    return schema.as_dict()
