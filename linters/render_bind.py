"""The bind a revision gets offline: a real SQLAlchemy Connection over a DB-API that records.

Revisions use `op.get_bind()`, `op.get_context().bind`, `alembic.context.get_bind()`, `Session(bind=...)`,
`sa.inspect(bind)` and engines built from the Alembic config. Offline there is no database, so the
bind here is a real Engine/Connection of a PostgreSQL dialect whose DB-API module records:

- what the revision executes (DML, DDL; not queries) is written into the rendered SQL at the line
  of the call, with its parameters rendered as literals by SQLAlchemy's types;
- queries return empty results (the real Result objects: fetchall() is [], first() is None); an
  INSERT of one row with RETURNING returns one row of NULLs (`inserted_primary_key` is (None,));
- commit() / begin() / rollback() are COMMIT / BEGIN / ROLLBACK in the SQL, so the transaction
  model sees them as it sees autocommit_block;
- the inspector sees the schema the revisions before it built (linters/render_reflection.py; an
  empty database when none was given), and a table that is not there has no columns, never an error.

`LIVE_DATA` counts what the revision asked the database: its answers offline are empty, so the
report says that the revision depends on live data.

Runs inside the render child: only the standard library, alembic and SQLAlchemy here.
"""

from __future__ import annotations

import importlib.util
import sys
import types

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.postgresql.base import PGDialect, PGInspector
from sqlalchemy.exc import NoSuchTableError
from sqlalchemy.sql.selectable import SelectBase

try:  # in the render child, loaded by path beside render_child.py (nothing of ours is importable there)
    from _alembic_review_render_reflection import SCHEMA, SchemaReflection
except ImportError:
    from linters.render_reflection import SCHEMA, SchemaReflection


def _orm_when_first_used() -> None:
    """`sa.orm`, as if the app had imported it (revisions write `sa.orm.Session(...)` without importing
    sqlalchemy.orm), but imported only when a revision first reads it: its import is a sixth of the
    render child's start-up, which a pull request's review waits for, and few revisions use it."""
    if "sqlalchemy.orm" in sys.modules:
        return
    spec = importlib.util.find_spec("sqlalchemy.orm")
    spec.loader = importlib.util.LazyLoader(spec.loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules["sqlalchemy.orm"] = module
    spec.loader.exec_module(module)  # LazyLoader: runs the module's code at its first attribute access
    sa.orm = module


_orm_when_first_used()

URL = "postgresql+alembic_review://"
QUERY_WORDS = ("SELECT", "SHOW", "EXPLAIN", "VALUES", "TABLE")
TEXT_COLUMNS = 16  # columns a text() query's empty result has offline
MAX_EXECUTEMANY = 50  # statements written for one executemany; the rest say nothing new


class LiveData:
    """The first line of the revision that read from the database (None: it read nothing)."""

    def __init__(self):
        self.line: int | None = None
        self.what: str = ""

    def note(self, line: int | None, what: str) -> None:
        if self.line is None:
            self.line, self.what = line, what


LIVE_DATA = LiveData()


class _Error(Exception):
    pass


class _Cursor:
    def __init__(self):
        self.description = None
        self.rowcount = 0
        self.lastrowid = None
        self.arraysize = 1

    def execute(self, statement, parameters=None):
        self.description = getattr(self, "_ar_description", None)
        self.rows = list(getattr(self, "_ar_rows", ()))

    def executemany(self, statement, parameters):
        self.description = None
        self.rows = []

    def fetchone(self):
        return self.rows.pop(0) if getattr(self, "rows", None) else None

    def fetchall(self):
        rows, self.rows = getattr(self, "rows", []), []
        return rows

    def fetchmany(self, size=None):
        rows, self.rows = getattr(self, "rows", [])[:size or 1], getattr(self, "rows", [])[size or 1:]
        return rows

    def close(self):
        pass


class _DBAPIConnection:
    def cursor(self):
        return _Cursor()

    def commit(self):
        pass

    def rollback(self):
        pass

    def close(self):
        pass


def _dbapi() -> types.ModuleType:
    module = types.ModuleType("alembic_review_recording_dbapi")
    module.paramstyle = "pyformat"
    module.apilevel = "2.0"
    module.threadsafety = 1
    module.connect = lambda *a, **kw: _DBAPIConnection()
    for name in ("Error", "Warning", "InterfaceError", "DatabaseError", "DataError", "OperationalError",
                 "IntegrityError", "InternalError", "ProgrammingError", "NotSupportedError"):
        setattr(module, name, _Error)
    return module


class EmptyInspector(PGInspector):
    """The inspector of an empty database: what a table holds is nothing, never NoSuchTableError."""

    def reflect_table(self, table, *args, **kw):
        PGInspector.reflect_table(self, table, *args, **kw)
        SCHEMA.reflected(table)

    def _empty(self, method, empty, *args, **kw):
        LIVE_DATA.note(_line(), "inspects the database schema")
        try:
            return method(self, *args, **kw)
        except NoSuchTableError:
            return empty

    def get_columns(self, *a, **kw):
        return self._empty(PGInspector.get_columns, [], *a, **kw)

    def get_indexes(self, *a, **kw):
        return self._empty(PGInspector.get_indexes, [], *a, **kw)

    def get_foreign_keys(self, *a, **kw):
        return self._empty(PGInspector.get_foreign_keys, [], *a, **kw)

    def get_unique_constraints(self, *a, **kw):
        return self._empty(PGInspector.get_unique_constraints, [], *a, **kw)

    def get_check_constraints(self, *a, **kw):
        return self._empty(PGInspector.get_check_constraints, [], *a, **kw)

    def get_pk_constraint(self, *a, **kw):
        return self._empty(PGInspector.get_pk_constraint, {"constrained_columns": [], "name": None}, *a, **kw)

    def get_table_comment(self, *a, **kw):
        return self._empty(PGInspector.get_table_comment, {"text": None}, *a, **kw)

    def get_table_options(self, *a, **kw):
        return self._empty(PGInspector.get_table_options, {}, *a, **kw)


class RecordingDialect(SchemaReflection, PGDialect):
    """PostgreSQL, over the recording DB-API; never asks the server anything when it connects, and
    answers reflection from the offline schema."""

    driver = "alembic_review"
    supports_statement_cache = False
    default_paramstyle = "pyformat"
    use_insertmanyvalues = False
    inspector = EmptyInspector
    pg_version = 15

    @classmethod
    def import_dbapi(cls):
        return _dbapi()

    def initialize(self, connection):
        self.server_version_info = (self.pg_version, 0)
        self.default_schema_name = "public"
        self.default_isolation_level = "READ COMMITTED"
        self.supports_smallserial = self.supports_identity_columns = True
        self._supports_drop_index_concurrently = True
        self._backslash_escapes = False

    def note(self):
        LIVE_DATA.note(_line(), "inspects the database schema")

    def get_isolation_level(self, dbapi_connection):
        return "READ COMMITTED"

    def set_isolation_level(self, dbapi_connection, level):
        pass

    def do_ping(self, dbapi_connection):
        return True

    def is_disconnect(self, e, connection, cursor):
        return False


if sa.__version__.split(".")[0] in ("0", "1"):  # SQLAlchemy 1.4 asks the dialect class for dbapi(), 2.x for import_dbapi()
    RecordingDialect.dbapi = classmethod(lambda cls: _dbapi())

registry.register("postgresql.alembic_review", __name__, "RecordingDialect")


_LINE = [lambda: None]  # the render child's "line of the revision running now", given to install()


def _line() -> int | None:
    return _LINE[0]()


def _is_query(statement: str, context) -> bool:
    compiled = getattr(context, "compiled", None)
    if isinstance(getattr(compiled, "statement", None), SelectBase):
        return True
    words = statement.lstrip(" \t\n(").split(None, 1)
    return bool(words) and words[0].upper() in QUERY_WORDS


def _literal(dialect, value) -> str:
    if value is None:
        return "NULL"
    try:
        return str(sa.literal(value).compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    except Exception:  # noqa: BLE001  (a value no type can render: show it as text)
        return "'" + str(value).replace("'", "''") + "'"


def _inline(statement: str, parameters, dialect) -> str:
    """The statement as the DB-API would send it: psycopg's mogrify, with SQLAlchemy's literals."""
    if isinstance(parameters, dict):
        return statement % {k: _literal(dialect, v) for k, v in parameters.items()}
    if isinstance(parameters, (list, tuple)) and parameters:
        return statement % tuple(_literal(dialect, v) for v in parameters)
    return statement


class RecordingConnection(Connection):
    """A Connection that also takes SQL as a plain string, as SQLAlchemy 1.x did (many histories do)."""

    def execute(self, statement, *args, **kwargs):
        return super().execute(sa.text(statement) if isinstance(statement, str) else statement, *args, **kwargs)


class RecordingBinds:
    """One recording Connection per MigrationContext (direction), writing into its SQL stream."""

    def __init__(self):
        self.engines: dict[int, Engine] = {}

    def engine(self, pg_version: int) -> Engine:
        if pg_version not in self.engines:
            engine = sa.create_engine(URL, poolclass=sa.pool.StaticPool)
            engine.dialect.pg_version = pg_version
            engine._connection_cls = RecordingConnection
            event.listen(engine, "before_cursor_execute", _describe)
            self.engines[pg_version] = engine
        return self.engines[pg_version]

    def connection(self, migration_context):
        """The revision's bind for this context: already in the transaction Alembic would have begun."""
        conn = getattr(migration_context, "_ar_bind", None)
        if conn is not None and not conn.closed:
            return conn
        version = (migration_context.dialect.server_version_info or (15,))[0]
        conn = self.engine(version).connect()
        conn.begin()  # Alembic's own transaction: not the revision's BEGIN
        impl = migration_context.impl
        done = migration_context._ar_bind_done = []  # not conn.info: that belongs to the pooled DB-API connection

        def recording(write):  # a revision's connection stops writing once the revision is done
            return lambda *a: None if done else write(*a)
        event.listen(conn, "before_cursor_execute", recording(lambda *a: _record(impl, *a)))
        event.listen(conn, "begin", recording(lambda c: impl.emit_begin()))
        event.listen(conn, "commit", recording(lambda c: impl.emit_commit()))
        event.listen(conn, "rollback", recording(lambda c: impl.static_output("ROLLBACK" + impl.command_terminator)))
        migration_context._ar_bind = conn
        return conn

    def reset(self, migration_context) -> None:
        """After a revision: its connection is closed without a word in the SQL."""
        conn = migration_context.__dict__.pop("_ar_bind", None)
        if conn is not None:
            migration_context._ar_bind_done.append(True)
            conn.close()


def _describe(conn, cursor, statement, parameters, context, executemany) -> None:
    """The columns an empty result has, as a real cursor would say: every connection of the engine
    (an inspector's too) needs them for SQLAlchemy's results to work."""
    compiled = getattr(context, "compiled", None)
    result_columns = getattr(compiled, "_result_columns", None)
    cursor._ar_rows = ()
    if result_columns:
        cursor._ar_description = [(c[0], None, None, None, None, None, None) for c in result_columns]
        if context is not None and context.isinsert and not executemany:
            # INSERT ... VALUES (one row) RETURNING: one row comes back, whatever the data; its values
            # (the new id) are unknown offline: NULL
            cursor._ar_rows = (tuple(None for _ in result_columns),)
    elif context is not None and (context.isddl or context.isinsert or context.isupdate or context.isdelete):
        cursor._ar_description = None
    elif _is_query(statement, context):
        # text("SELECT id FROM groups"): its columns are the server's to say; offline, enough unnamed
        # ones that result.scalars() and result.columns(0, 1) work on the rows that do not come
        cursor._ar_description = [("column_%d" % i, None, None, None, None, None, None) for i in range(TEXT_COLUMNS)]
    else:
        cursor._ar_description = []  # driver SQL: as if rows could come; none do


def _record(impl, conn, cursor, statement, parameters, context, executemany) -> None:
    compiled = getattr(context, "compiled", None)
    if _is_query(statement, context):
        LIVE_DATA.note(_line(), "reads rows")
        return
    dialect = conn.dialect
    for params in (parameters[:MAX_EXECUTEMANY] if executemany else [parameters]):
        sql = _inline(statement, params, dialect) if (params or compiled is not None) else statement
        impl.static_output(sql.strip().rstrip(";") + impl.command_terminator)


BINDS = RecordingBinds()


def environment(migration_context):
    """The `alembic.context` a revision sees: a real EnvironmentContext, online-looking (a revision
    that refuses offline mode runs its online path with the recording bind), whose config names the
    recording database so that engines built from it (engine_from_config) record too."""
    from alembic.config import Config
    from alembic.runtime.environment import EnvironmentContext

    env = getattr(migration_context, "environment_context", None)
    if getattr(env, "_ar_recording", False):  # one per context, reused: a Config parses its ini each time
        return env
    config = Config()
    config.set_main_option("sqlalchemy.url", URL)
    env = EnvironmentContext(config, None)
    env._migration_context = migration_context
    migration_context.environment_context = env
    env._ar_recording = True
    return env


def install(line) -> None:
    """op.get_bind() and MigrationContext.bind give the recording connection, not alembic's
    offline MockConnection (which has no results, no url, no commit). `line()`: the revision's current line."""
    _LINE[0] = line
    from alembic.operations import base as ops_base
    from alembic.runtime.migration import MigrationContext

    getattr(ops_base, "AbstractOperations", ops_base.Operations).get_bind = (  # alembic < 1.11: Operations
        lambda self: BINDS.connection(self.migration_context))
    MigrationContext.bind = property(lambda self: BINDS.connection(self))

    def connection(self):  # op.get_context().connection too, once the context is built (its impl renders)
        if self.__dict__.get("as_sql") and "impl" in self.__dict__:
            return BINDS.connection(self)
        return self.__dict__.get("_ar_connection")
    MigrationContext.connection = property(connection, lambda self, value: self.__dict__.__setitem__("_ar_connection", value))
