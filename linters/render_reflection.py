"""What the offline database holds when a revision reflects it: the schema the revisions before it
built (linters/history_schema.py sends it with the revision), plus what the revision itself has
created so far. No rows: queries still return nothing (linters/render_bind.py).

The recording dialect answers SQLAlchemy's reflection (`MetaData.reflect`, `Table(autoload_with=)`,
`inspect(bind).get_columns()`) from here instead of querying pg_catalog, so the revision's own
code (`meta.tables["block_type"]`, `table.c.id`) finds the tables the history made.

Runs inside the render child: only the standard library, alembic and SQLAlchemy here (1.4 or 2.x).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql.base import ischema_names
from sqlalchemy.exc import NoSuchTableError
from sqlalchemy.types import NullType, TypeEngine

try:  # in the render child, loaded by path beside render_child.py (nothing of ours is importable there)
    from _alembic_review_render_standins import RECORD
except ImportError:
    from linters.render_standins import RECORD

DEFAULT_SCHEMA = "public"
SIZED_TYPES = ("character varying", "character", "numeric", "bit", "bit varying")  # whose args are lengths


class OfflineSchema:
    """The tables of the offline database: {name: {"columns", "primary_key", "indexes", "unique"}}."""

    def __init__(self):
        self.tables: dict[str, dict] = {}
        self.from_history = False  # the revisions before this one gave a schema (else: an empty database)

    def load(self, tables: dict | None) -> None:
        self.tables = {str(k): v for k, v in (tables or {}).items() if isinstance(v, dict)}
        self.from_history = tables is not None
        _PARTIAL.clear()

    def reflected(self, table) -> None:
        """After SQLAlchemy reflected `table`: one the history only uses (never creates) has columns the
        history never named; the revision's `table.c.<name>` gets a column of unknown type, recorded."""
        known = self.find(table.name, table.schema)
        if known is not None and known.get("partial"):
            _PARTIAL[id(table._columns)] = table

    def find(self, name: str, schema: str | None) -> dict | None:
        """A table by name; one in another schema than the default falls back to the unqualified name
        (multi-tenant histories write their DDL unqualified and run it per schema)."""
        if schema and schema != DEFAULT_SCHEMA and f"{schema}.{name}" in self.tables:
            return self.tables[f"{schema}.{name}"]
        return self.tables.get(name)

    def names(self, schema: str | None) -> list[str]:
        if schema and schema != DEFAULT_SCHEMA:
            prefix = schema + "."
            return [n[len(prefix):] for n in self.tables if n.startswith(prefix)] or \
                [n for n in self.tables if "." not in n]
        return [n for n in self.tables if "." not in n]

    def note(self, operation) -> None:
        """After an op.* call of the revision: the tables and columns it created or dropped."""
        from alembic.operations import ops

        key = _key(getattr(operation, "table_name", None), getattr(operation, "schema", None))
        if isinstance(operation, ops.CreateTableOp):
            # read off its arguments: building its Table again would re-attach their indexes
            columns = [c for c in operation.columns if isinstance(c, sa.Column)]
            keys = [c for c in operation.columns if isinstance(c, sa.PrimaryKeyConstraint)]
            pk_columns = [c.name for c in columns if c.primary_key] or \
                [getattr(c, "name", c) for k in keys for c in getattr(k, "_pending_colargs", ())]
            self.tables[key] = {"columns": [_column(c) for c in columns],
                                "primary_key": {"name": keys[0].name if keys and isinstance(keys[0].name, str) else None,
                                                "columns": [str(c) for c in pk_columns]},
                                "indexes": [], "unique": []}
        elif isinstance(operation, ops.DropTableOp):
            self.tables.pop(key, None)
        elif isinstance(operation, ops.AddColumnOp) and key in self.tables:
            self.tables[key]["columns"].append(_column(operation.column))
        elif isinstance(operation, ops.DropColumnOp) and key in self.tables:
            self.tables[key]["columns"] = [c for c in self.tables[key]["columns"] if c["name"] != operation.column_name]


SCHEMA = OfflineSchema()
_PARTIAL: dict = {}  # id(a reflected Table's column collection) -> the Table, for tables the history only uses


def _column_of_partial_table(original):
    """ColumnCollection.__getattr__: a name a partial table lacks becomes a column of unknown type."""
    def lookup(self, key):
        try:
            return original(self, key)
        except AttributeError:
            try:
                parent = object.__getattribute__(self, "_parent")  # a read-only view of the table's columns
            except AttributeError:
                parent = self
            table = _PARTIAL.get(id(parent))
            if table is None or key.startswith("_"):
                raise
            RECORD.add(f"{table.name}.{key}", "a column of a table the history uses but never creates")
            table.append_column(sa.Column(key, NullType()))
            return original(self, key)
    return lookup


def install() -> None:
    from sqlalchemy.sql.base import ColumnCollection
    if not getattr(ColumnCollection.__getattr__, "_ar_partial", False):
        ColumnCollection.__getattr__ = _column_of_partial_table(ColumnCollection.__getattr__)
        ColumnCollection.__getattr__._ar_partial = True


def _key(name, schema) -> str:
    return f"{schema}.{name}" if schema and schema != DEFAULT_SCHEMA else str(name)


def _column(column) -> dict:
    return {"name": column.name, "type": column.type, "nullable": bool(column.nullable)}


def sa_type(column: dict) -> TypeEngine:
    """The SQLAlchemy type of a column as the history spells it (a catalog name), or as the revision made it."""
    spelled = column.get("type")
    if isinstance(spelled, TypeEngine):
        return spelled
    cls = ischema_names.get(str(spelled))
    if cls is None:
        return NullType()  # an enum or a domain of the project: reflected as an unknown type, as SQLAlchemy does
    args = [a for a in column.get("args") or () if isinstance(a, int)] if spelled in SIZED_TYPES else []
    try:
        made = cls(*args, timezone=True) if "with time zone" in str(spelled) else cls(*args)
    except TypeError:
        made = cls()
    return sa.ARRAY(made) if column.get("array") else made


class SchemaReflection:
    """Reflection methods of a dialect, answered from SCHEMA. `note` says the revision inspected the database."""

    note = staticmethod(lambda: None)

    def _table(self, name: str, schema: str | None) -> dict:
        self.note()
        table = SCHEMA.find(name, schema)
        if table is None:
            raise NoSuchTableError(name)
        return table

    def get_table_names(self, connection, schema=None, **kw):
        self.note()
        return SCHEMA.names(schema)

    def has_table(self, connection, table_name, schema=None, **kw):
        self.note()
        return SCHEMA.find(table_name, schema) is not None

    def _nothing(self, *args, **kw):
        self.note()
        return []

    get_view_names = get_materialized_view_names = get_sequence_names = get_temp_table_names = _nothing
    get_temp_view_names = get_foreign_table_names = get_foreign_keys = get_check_constraints = _nothing
    get_enums = get_domains = _nothing

    def has_sequence(self, *args, **kw):
        return False

    def has_index(self, connection, table_name, index_name, schema=None, **kw):
        return any(i["name"] == index_name for i in self.get_indexes(connection, table_name, schema))

    def get_columns(self, connection, table_name, schema=None, **kw):
        return [{"name": c["name"], "type": sa_type(c), "nullable": c.get("nullable", True), "default": None,
                 "autoincrement": False, "comment": None}
                for c in self._table(table_name, schema)["columns"]]

    def get_pk_constraint(self, connection, table_name, schema=None, **kw):
        pk = self._table(table_name, schema).get("primary_key") or {}
        return {"name": pk.get("name"), "constrained_columns": list(pk.get("columns") or [])}

    def get_indexes(self, connection, table_name, schema=None, **kw):
        return [{"name": i["name"], "column_names": list(i["columns"]), "unique": bool(i["unique"]),
                 "dialect_options": {}} for i in self._table(table_name, schema).get("indexes") or ()
                if None not in i["columns"]]  # an expression index: SQLAlchemy cannot reflect it by name

    def get_unique_constraints(self, connection, table_name, schema=None, **kw):
        return [{"name": u["name"], "column_names": list(u["columns"])}
                for u in self._table(table_name, schema).get("unique") or ()]

    def get_table_comment(self, connection, table_name, schema=None, **kw):
        self._table(table_name, schema)
        return {"text": None}

    def get_table_options(self, connection, table_name, schema=None, **kw):
        return {}

    def _multi(self, single, connection, schema=None, filter_names=None, **kw):
        """SQLAlchemy 2's reflection asks for many tables at once: ((schema, name), answer) for those that exist."""
        self.note()
        names = filter_names if filter_names is not None else SCHEMA.names(schema)
        return [((schema, name), single(connection, name, schema)) for name in names
                if SCHEMA.find(name, schema) is not None]


def _many(single: str):
    def multi(self, connection, **kw):
        return self._multi(getattr(self, "get_" + single), connection, **kw)
    return multi


for _single in ("columns", "pk_constraint", "indexes", "unique_constraints", "foreign_keys", "check_constraints",
                "table_comment", "table_options"):
    setattr(SchemaReflection, "get_multi_" + _single, _many(_single))
