"""Measure every row of linters.locks on a real PostgreSQL server.

For each case a fresh schema in a throwaway database gets the tables it needs, then:

* statements that may run in a transaction block run inside ``BEGIN ... ROLLBACK``;
  we read ``pg_locks`` for our own backend (relation locks only), compare
  ``pg_class.relfilenode`` of the main relation before/after (rewrite) and the
  ``seq_scan`` counter of ``pg_stat_xact_user_tables`` (scan).
* statements the model calls non-transactional (CONCURRENTLY, VACUUM...) must be
  refused inside a transaction block -- that is the fact ``transactional=False``
  encodes.  Their locks are measured from a second connection while they run: a
  blocker holds a lock on one relation and we read the lock the statement waits for
  (see ``_measure_outside_transaction``).  Rewrite and scan come from pg_class and
  ``pg_stat_user_tables`` once the statement's backend has exited (exit flushes its
  statistics).

The measured strongest mode per relation must equal ``lock_effect(stmt)``, plus the
``extra`` locks a case lists: relations PostgreSQL locks but the SQL text does not
name (the table of a dropped index, the table a dropped foreign key references...).
Relations counted: tables, partitioned tables, views, materialized views, foreign
tables, and any other relation (index, sequence) the prediction or ``extra`` names.

PostgreSQL must be reachable (``ALEMBIC_REVIEW_PG_DSN``, default
``host=127.0.0.1 port=5432 user=postgres``): when it is not, these tests fail.
"""
from __future__ import annotations

import json
import os
import secrets
import threading
import time
from dataclasses import dataclass, field

import psycopg
import pytest
from psycopg import sql as pgsql
from psycopg.conninfo import make_conninfo
from pglast.parser import parse_sql_json

from linters.locks import LOCK_MODES, LockEffect, TableLock, lock_effect, strongest, type_change_rewrites

PG_DSN = os.environ.get("ALEMBIC_REVIEW_PG_DSN", "host=127.0.0.1 port=5432 user=postgres")

PG_MODE_NAMES = {
    "AccessShareLock": "ACCESS SHARE",
    "RowShareLock": "ROW SHARE",
    "RowExclusiveLock": "ROW EXCLUSIVE",
    "ShareUpdateExclusiveLock": "SHARE UPDATE EXCLUSIVE",
    "ShareLock": "SHARE",
    "ShareRowExclusiveLock": "SHARE ROW EXCLUSIVE",
    "ExclusiveLock": "EXCLUSIVE",
    "AccessExclusiveLock": "ACCESS EXCLUSIVE",
}
TABLE_KINDS = set("rpmvf")  # table, partitioned, matview, view, foreign table
AS, RS, RE, SUE, SHARE, SRE, EXCL, AEL = LOCK_MODES
WAIT_LIMIT = 30.0  # seconds a probe may take before the test gives up


def parse_one(sql: str) -> dict:
    stmts = json.loads(parse_sql_json(sql))["stmts"]
    assert len(stmts) == 1, f"a case must hold exactly one statement: {sql!r}"
    return stmts[0]["stmt"]


# --------------------------------------------------------------------------- cases

BASE = """
CREATE TABLE o (id int PRIMARY KEY);
CREATE TABLE t (id int, a int NOT NULL, n int, v varchar(10), tx text, num numeric(10,2), o_id int);
CREATE TABLE e (id int);
INSERT INTO o VALUES (1), (2);
INSERT INTO t SELECT g, g, g, 'x', 'x', g, 1 + g % 2 FROM generate_series(1, 100) g;
"""
FK = "ALTER TABLE t ADD CONSTRAINT t_o_fk FOREIGN KEY (o_id) REFERENCES o (id);"
IDX = "CREATE INDEX t_a_idx ON t (a);"
PARTS = """
CREATE TABLE p (k int, x int) PARTITION BY RANGE (k);
CREATE TABLE p1 PARTITION OF p FOR VALUES FROM (10) TO (20);
CREATE TABLE p_new (k int, x int);
INSERT INTO p VALUES (11, 1);
INSERT INTO p_new VALUES (1, 1);
"""
MATVIEW = "CREATE MATERIALIZED VIEW mv AS SELECT id, a FROM t; CREATE UNIQUE INDEX mv_id ON mv (id);"
TRIGGER_FN = ("CREATE FUNCTION trg_noop() RETURNS trigger LANGUAGE plpgsql "
              "AS $$ BEGIN RETURN NEW; END $$;")


@dataclass(frozen=True)
class Case:
    id: str
    sql: str
    setup: str = ""
    # Locks PostgreSQL takes on relations the SQL does not name: measured, not predicted.
    extra: dict = field(default_factory=dict)
    # Table whose seq_scan counter shows the scan (default: the main table).
    scan_table: str | None = None
    # Where the model is knowingly conservative (it cannot know from the SQL),
    # the value PostgreSQL shows for this setup; `why` says what the SQL hides.
    measured_rewrite: bool | None = None
    measured_scan: bool | None = None
    why: str = ""
    # Scan not asserted: DML and SELECT read rows as the planner likes.
    no_scan_check: bool = False
    # Old column types for lock_effect(column_type=...): {(table, column): type}.
    column_types: dict | None = None

    def predict(self) -> LockEffect:
        lookup = (lambda t, c: self.column_types.get((t, c))) if self.column_types else None
        return lock_effect(parse_one(self.sql), 15, column_type=lookup)


PLANNER = dict(no_scan_check=True)
UNKNOWN_OLD_TYPE = "the SQL does not say the old type; the model assumes a rewrite"

CASES = [
    # ---- ADD COLUMN
    Case("add-column-no-default", "ALTER TABLE t ADD COLUMN b int"),
    Case("add-column-default-constant", "ALTER TABLE t ADD COLUMN b int DEFAULT 5"),
    Case("add-column-default-now", "ALTER TABLE t ADD COLUMN b timestamptz DEFAULT now()"),
    Case("add-column-default-current-timestamp",
         "ALTER TABLE t ADD COLUMN b timestamptz DEFAULT CURRENT_TIMESTAMP"),
    Case("add-column-default-null", "ALTER TABLE t ADD COLUMN b int DEFAULT NULL"),
    Case("add-column-not-null-default", "ALTER TABLE t ADD COLUMN b int NOT NULL DEFAULT 0"),
    Case("add-column-default-random", "ALTER TABLE t ADD COLUMN b float8 DEFAULT random()"),
    Case("add-column-default-gen-random-uuid", "ALTER TABLE t ADD COLUMN b uuid DEFAULT gen_random_uuid()"),
    Case("add-column-default-clock-timestamp",
         "ALTER TABLE t ADD COLUMN b timestamptz DEFAULT clock_timestamp()"),
    Case("add-column-default-uuid-generate-v4",
         "ALTER TABLE t ADD COLUMN b uuid DEFAULT uuid_generate_v4()"),
    Case("add-column-default-unknown-function", "ALTER TABLE t ADD COLUMN b int DEFAULT seven()",
         setup="CREATE FUNCTION seven() RETURNS int IMMUTABLE LANGUAGE sql AS 'SELECT 7';",
         measured_rewrite=False, measured_scan=False,
         why="seven() is IMMUTABLE, but the SQL does not say so: unknown functions are assumed volatile"),
    Case("add-column-serial", "ALTER TABLE t ADD COLUMN b serial"),
    Case("add-column-bigserial", "ALTER TABLE t ADD COLUMN b bigserial"),
    Case("add-column-identity", "ALTER TABLE t ADD COLUMN b bigint GENERATED ALWAYS AS IDENTITY"),
    Case("add-column-generated-stored", "ALTER TABLE t ADD COLUMN b int GENERATED ALWAYS AS (a * 2) STORED"),
    Case("add-column-not-null-no-default", "ALTER TABLE e ADD COLUMN b int NOT NULL"),  # e is empty
    Case("add-column-check", "ALTER TABLE t ADD COLUMN b int CHECK (b > 0)"),
    Case("add-column-references", "ALTER TABLE t ADD COLUMN b int REFERENCES o (id)"),
    Case("add-column-unique", "ALTER TABLE t ADD COLUMN b int UNIQUE"),
    # ---- ALTER COLUMN TYPE
    Case("alter-type-int-to-bigint", "ALTER TABLE t ALTER COLUMN n TYPE bigint"),
    Case("alter-type-text-to-varchar-n", "ALTER TABLE t ALTER COLUMN tx TYPE varchar(20)"),
    Case("alter-type-using", "ALTER TABLE t ALTER COLUMN v TYPE int USING length(v)"),
    Case("alter-type-varchar-widen-old-type-unknown", "ALTER TABLE t ALTER COLUMN v TYPE varchar(20)",
         measured_rewrite=False, measured_scan=False, why=UNKNOWN_OLD_TYPE),
    Case("alter-type-varchar-to-text-old-type-unknown", "ALTER TABLE t ALTER COLUMN v TYPE text",
         measured_rewrite=False, measured_scan=False, why=UNKNOWN_OLD_TYPE),
    Case("alter-type-varchar-widen", "ALTER TABLE t ALTER COLUMN v TYPE varchar(20)",
         column_types={("t", "v"): "varchar(10)"}),
    Case("alter-type-varchar-to-text", "ALTER TABLE t ALTER COLUMN v TYPE text",
         column_types={("t", "v"): "character varying(10)"}),
    Case("alter-type-varchar-to-unbounded-varchar", "ALTER TABLE t ALTER COLUMN v TYPE varchar",
         column_types={("t", "v"): "varchar(10)"}),
    Case("alter-type-varchar-widen-using-same-column",
         "ALTER TABLE t ALTER COLUMN v TYPE varchar(20) USING v",
         column_types={("t", "v"): "varchar(10)"}),
    Case("alter-type-varchar-shrink", "ALTER TABLE t ALTER COLUMN v TYPE varchar(5)",
         column_types={("t", "v"): "varchar(10)"}),
    Case("alter-type-text-to-varchar-known", "ALTER TABLE t ALTER COLUMN tx TYPE varchar(20)",
         column_types={("t", "tx"): "text"}),
    Case("alter-type-numeric-widen", "ALTER TABLE t ALTER COLUMN num TYPE numeric(12,2)",
         column_types={("t", "num"): "numeric(10,2)"}),
    Case("alter-type-numeric-scale-change", "ALTER TABLE t ALTER COLUMN num TYPE numeric(12,4)",
         column_types={("t", "num"): "numeric(10,2)"}),
    Case("alter-type-same-type", "ALTER TABLE t ALTER COLUMN n TYPE integer",
         column_types={("t", "n"): "int"}),
    # ---- NOT NULL, DEFAULT
    Case("set-not-null", "ALTER TABLE t ALTER COLUMN n SET NOT NULL"),
    Case("set-not-null-with-valid-check", "ALTER TABLE t ALTER COLUMN n SET NOT NULL",
         setup="ALTER TABLE t ADD CONSTRAINT n_nn CHECK (n IS NOT NULL);", measured_scan=False,
         why="a valid CHECK (n IS NOT NULL) lets PostgreSQL 12+ skip the scan; the SQL does not show it"),
    Case("drop-not-null", "ALTER TABLE t ALTER COLUMN a DROP NOT NULL"),
    Case("set-default", "ALTER TABLE t ALTER COLUMN n SET DEFAULT 0"),
    Case("set-default-volatile", "ALTER TABLE t ALTER COLUMN n SET DEFAULT floor(random() * 10)::int"),
    Case("drop-default", "ALTER TABLE t ALTER COLUMN n DROP DEFAULT",
         setup="ALTER TABLE t ALTER COLUMN n SET DEFAULT 0;"),
    # ---- constraints
    Case("add-foreign-key", "ALTER TABLE t ADD CONSTRAINT t_o_fk FOREIGN KEY (o_id) REFERENCES o (id)"),
    Case("add-foreign-key-not-valid",
         "ALTER TABLE t ADD CONSTRAINT t_o_fk FOREIGN KEY (o_id) REFERENCES o (id) NOT VALID"),
    Case("validate-foreign-key", "ALTER TABLE t VALIDATE CONSTRAINT t_o_fk",
         setup="ALTER TABLE t ADD CONSTRAINT t_o_fk FOREIGN KEY (o_id) REFERENCES o (id) NOT VALID;",
         extra={"o": RS}),
    Case("add-check", "ALTER TABLE t ADD CONSTRAINT n_pos CHECK (n > 0)"),
    Case("add-check-not-valid", "ALTER TABLE t ADD CONSTRAINT n_pos CHECK (n > 0) NOT VALID"),
    Case("validate-check", "ALTER TABLE t VALIDATE CONSTRAINT n_pos",
         setup="ALTER TABLE t ADD CONSTRAINT n_pos CHECK (n > 0) NOT VALID;"),
    Case("add-primary-key", "ALTER TABLE t ADD PRIMARY KEY (id)"),
    Case("add-unique", "ALTER TABLE t ADD CONSTRAINT t_a_key UNIQUE (a)"),
    Case("add-exclusion", "ALTER TABLE t ADD CONSTRAINT t_a_excl EXCLUDE USING btree (a WITH =)"),
    Case("add-unique-using-index", "ALTER TABLE t ADD CONSTRAINT t_a_key UNIQUE USING INDEX t_a_uidx",
         setup="CREATE UNIQUE INDEX t_a_uidx ON t (a);"),
    Case("add-primary-key-using-index-nullable",
         "ALTER TABLE t ADD CONSTRAINT t_pk PRIMARY KEY USING INDEX t_id_uidx",
         setup="CREATE UNIQUE INDEX t_id_uidx ON t (id);"),
    Case("add-primary-key-using-index-not-null",
         "ALTER TABLE t ADD CONSTRAINT t_pk PRIMARY KEY USING INDEX t_a_uidx",
         setup="CREATE UNIQUE INDEX t_a_uidx ON t (a);", measured_scan=False,
         why="column a is already NOT NULL; the SQL does not show it"),
    Case("drop-constraint-check", "ALTER TABLE t DROP CONSTRAINT n_pos",
         setup="ALTER TABLE t ADD CONSTRAINT n_pos CHECK (n > 0);"),
    Case("drop-constraint-foreign-key", "ALTER TABLE t DROP CONSTRAINT t_o_fk", setup=FK,
         extra={"o": AEL}),
    # ---- indexes
    Case("create-index", "CREATE INDEX t_a_idx ON t (a)"),
    Case("create-unique-index", "CREATE UNIQUE INDEX t_a_idx ON t (a)"),
    Case("create-index-concurrently", "CREATE INDEX CONCURRENTLY t_a_idx ON t (a)"),
    Case("create-index-partitioned", "CREATE INDEX p_k_idx ON p (k)", setup=PARTS,
         extra={"p1": SHARE}, scan_table="p1"),
    Case("alter-index-attach-partition", "ALTER INDEX p_k_idx ATTACH PARTITION p1_k_idx",
         setup=PARTS + "CREATE INDEX p_k_idx ON ONLY p (k); CREATE INDEX p1_k_idx ON p1 (k);",
         extra={"p": AS, "p1": AS}, scan_table="p1"),
    Case("create-unique-index-concurrently", "CREATE UNIQUE INDEX CONCURRENTLY t_a_idx ON t (a)"),
    Case("drop-index", "DROP INDEX t_a_idx", setup=IDX, extra={"t": AEL}, scan_table="t"),
    Case("drop-index-concurrently", "DROP INDEX CONCURRENTLY t_a_idx", setup=IDX,
         extra={"t": SUE}, scan_table="t"),
    Case("reindex-index", "REINDEX INDEX t_a_idx", setup=IDX, extra={"t": SHARE}, scan_table="t"),
    Case("reindex-table", "REINDEX TABLE t", setup=IDX, extra={"t_a_idx": AEL}),
    Case("reindex-index-concurrently", "REINDEX INDEX CONCURRENTLY t_a_idx", setup=IDX,
         extra={"t": SUE}, scan_table="t"),
    Case("reindex-table-concurrently", "REINDEX TABLE CONCURRENTLY t", setup=IDX),
    # an option switched off is the plain form (issue 13: read as on before)
    Case("reindex-concurrently-false", "REINDEX (CONCURRENTLY false) TABLE t", setup=IDX, extra={"t_a_idx": AEL}),
    # ---- renames, drops
    Case("rename-column", "ALTER TABLE t RENAME COLUMN n TO n2"),
    Case("rename-table", "ALTER TABLE t RENAME TO t2"),
    Case("rename-constraint", "ALTER TABLE t RENAME CONSTRAINT n_pos TO n_positive",
         setup="ALTER TABLE t ADD CONSTRAINT n_pos CHECK (n > 0);"),
    Case("rename-index", "ALTER INDEX t_a_idx RENAME TO t_a_idx2", setup=IDX, scan_table="t"),
    Case("drop-column", "ALTER TABLE t DROP COLUMN n"),
    Case("drop-table", "DROP TABLE e"),
    Case("drop-table-with-foreign-key", "DROP TABLE t", setup=FK, extra={"o": AEL}),
    Case("drop-table-several", "DROP TABLE t, e"),
    # ---- CREATE TABLE / VIEW
    Case("create-table", "CREATE TABLE n1 (id int PRIMARY KEY, name text)"),
    Case("create-table-foreign-keys",
         "CREATE TABLE n1 (id int, o_id int REFERENCES o, o2 int, FOREIGN KEY (o2) REFERENCES o (id))"),
    Case("create-table-partition-of", "CREATE TABLE p3 PARTITION OF p FOR VALUES FROM (30) TO (40)",
         setup=PARTS),
    Case("create-table-inherits", "CREATE TABLE t_child () INHERITS (t)"),
    Case("create-table-like", "CREATE TABLE n1 (LIKE t)"),
    Case("create-table-as", "CREATE TABLE n1 AS SELECT * FROM t"),
    Case("select-into", "SELECT * INTO n1 FROM t"),
    Case("create-materialized-view", "CREATE MATERIALIZED VIEW mv2 AS SELECT * FROM t"),
    Case("create-view", "CREATE VIEW v1 AS SELECT t.*, o.id AS o_key FROM t JOIN o ON o.id = t.o_id"),
    # ---- types, triggers, materialized views
    Case("alter-type-add-value", "ALTER TYPE mood ADD VALUE 'happy'",
         setup="CREATE TYPE mood AS ENUM ('sad');"),
    Case("create-trigger", "CREATE TRIGGER t_trg BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION trg_noop()",
         setup=TRIGGER_FN),
    Case("drop-trigger", "DROP TRIGGER t_trg ON t",
         setup=TRIGGER_FN + "CREATE TRIGGER t_trg BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION trg_noop();"),
    Case("disable-trigger", "ALTER TABLE t DISABLE TRIGGER ALL"),
    Case("refresh-materialized-view", "REFRESH MATERIALIZED VIEW mv", setup=MATVIEW,
         extra={"t": AS}, scan_table="t"),
    Case("refresh-materialized-view-concurrently", "REFRESH MATERIALIZED VIEW CONCURRENTLY mv",
         setup=MATVIEW, extra={"t": AS}, scan_table="t"),
    # ---- TRUNCATE, VACUUM, CLUSTER, persistence
    Case("truncate", "TRUNCATE t"),
    Case("truncate-several", "TRUNCATE t, e"),
    Case("vacuum-full", "VACUUM FULL t"),
    Case("vacuum-full-false", "VACUUM (FULL false) t"),
    Case("vacuum", "VACUUM t"),
    Case("analyze", "ANALYZE t"),
    Case("cluster", "CLUSTER t USING t_a_idx", setup=IDX),
    Case("set-unlogged", "ALTER TABLE t SET UNLOGGED"),
    Case("set-logged", "ALTER TABLE t SET LOGGED", setup="ALTER TABLE t SET UNLOGGED;"),
    # ---- partitions
    Case("attach-partition", "ALTER TABLE p ATTACH PARTITION p_new FOR VALUES FROM (0) TO (10)",
         setup=PARTS, scan_table="p_new"),
    Case("attach-partition-with-check", "ALTER TABLE p ATTACH PARTITION p_new FOR VALUES FROM (0) TO (10)",
         setup=PARTS + "ALTER TABLE p_new ADD CONSTRAINT bound CHECK (k IS NOT NULL AND k >= 0 AND k < 10);",
         scan_table="p_new", measured_scan=False,
         why="a CHECK constraint implying the bound lets PostgreSQL skip the scan"),
    Case("detach-partition", "ALTER TABLE p DETACH PARTITION p1", setup=PARTS),
    Case("detach-partition-concurrently", "ALTER TABLE p DETACH PARTITION p1 CONCURRENTLY", setup=PARTS),
    # ---- DML and queries
    Case("insert", "INSERT INTO t (id, a) VALUES (101, 101)", **PLANNER),
    Case("insert-select", "INSERT INTO e SELECT id FROM t", **PLANNER),
    Case("insert-with-foreign-key", "INSERT INTO t (id, a, o_id) VALUES (101, 101, 1)", setup=FK,
         extra={"o": RS}, **PLANNER),
    Case("update", "UPDATE t SET n = 0 WHERE id = 1", **PLANNER),
    Case("update-from", "UPDATE t SET n = 0 FROM o WHERE o.id = t.o_id", **PLANNER),
    Case("delete-using", "DELETE FROM t USING o WHERE o.id = t.o_id", **PLANNER),
    Case("merge", "MERGE INTO t USING o ON t.id = o.id WHEN MATCHED THEN DELETE", **PLANNER),
    Case("select", "SELECT * FROM t JOIN o ON o.id = t.o_id", **PLANNER),
    Case("select-cte-subquery",
         "WITH c AS (SELECT * FROM o) SELECT * FROM t WHERE o_id IN (SELECT id FROM c)", **PLANNER),
    Case("select-for-update-of", "SELECT * FROM t AS x JOIN o ON true FOR UPDATE OF x", **PLANNER),
    Case("select-for-share", "SELECT * FROM t FOR SHARE", **PLANNER),
    Case("explain", "EXPLAIN SELECT * FROM t", **PLANNER),
    *[Case(f"lock-table-{m.lower().replace(' ', '-')}", f"LOCK TABLE t, o IN {m} MODE") for m in LOCK_MODES],
    Case("lock-table-default-mode", "LOCK TABLE t"),
    # ---- no table lock, or a weak one
    Case("set-lock-timeout", "SET lock_timeout = '2s'"),
    Case("savepoint", "SAVEPOINT s1"),
    Case("comment-on-table", "COMMENT ON TABLE t IS 'hello'"),
    Case("comment-on-column", "COMMENT ON COLUMN t.n IS 'hello'"),
    Case("create-type-enum", "CREATE TYPE colour AS ENUM ('red')"),
    Case("create-extension", "CREATE EXTENSION pgcrypto"),
    Case("create-sequence", "CREATE SEQUENCE s1"),
    Case("create-function", "CREATE FUNCTION one() RETURNS int LANGUAGE sql AS 'SELECT 1'"),
    Case("grant", "GRANT SELECT ON t TO PUBLIC"),
    # ---- other ALTER TABLE forms
    Case("set-fillfactor", "ALTER TABLE t SET (fillfactor = 70)"),
    Case("set-autovacuum-option", "ALTER TABLE t SET (autovacuum_enabled = false, toast.autovacuum_enabled = false)"),
    Case("set-statistics", "ALTER TABLE t ALTER COLUMN n SET STATISTICS 500"),
    Case("owner-to", "ALTER TABLE t OWNER TO postgres"),
    Case("set-schema", "ALTER TABLE t SET SCHEMA public"),
    Case("enable-row-level-security", "ALTER TABLE t ENABLE ROW LEVEL SECURITY"),
    Case("create-policy", "CREATE POLICY t_all ON t USING (true)"),
    Case("create-statistics", "CREATE STATISTICS t_stats ON n, a FROM t"),
    Case("add-inherit", "ALTER TABLE e INHERIT par", setup="CREATE TABLE par (id int);"),
    Case("alter-domain-add-constraint", "ALTER DOMAIN posint ADD CONSTRAINT pos CHECK (VALUE > 0)",
         setup="CREATE DOMAIN posint AS int; ALTER TABLE t ADD COLUMN d posint;",
         extra={"t": SHARE}, scan_table="t"),
    Case("alter-domain-add-constraint-not-valid",
         "ALTER DOMAIN posint ADD CONSTRAINT pos CHECK (VALUE > 0) NOT VALID",
         setup="CREATE DOMAIN posint AS int; ALTER TABLE t ADD COLUMN d posint;", scan_table="t"),
    Case("alter-sequence", "ALTER SEQUENCE s1 INCREMENT BY 2", setup="CREATE SEQUENCE s1;"),
    Case("several-subcommands",
         "ALTER TABLE t ADD COLUMN b int, ALTER COLUMN n SET NOT NULL, "
         "ADD CONSTRAINT t_o_fk FOREIGN KEY (o_id) REFERENCES o NOT VALID"),
    Case("several-subcommands-rewrite",
         "ALTER TABLE t ADD COLUMN b int DEFAULT 1, ADD COLUMN c float8 DEFAULT random()"),
    # ---- cannot run in a transaction block, no table named
    Case("vacuum-database", "VACUUM"),
    Case("cluster-database", "CLUSTER"),
    Case("reindex-schema", "REINDEX SCHEMA public"),
    Case("create-database", "CREATE DATABASE ar_locks_never_created"),
    Case("drop-database", "DROP DATABASE IF EXISTS ar_locks_never_created"),
]


# ------------------------------------------------------------------------ database

class Unreachable(str):
    """The reason PostgreSQL could not be reached: every measured case fails with it."""


@pytest.fixture(scope="session")
def pg_db():
    """A throwaway database for the session, dropped at the end."""
    try:
        admin = psycopg.connect(make_conninfo(PG_DSN, dbname="postgres", connect_timeout=5), autocommit=True)
    except psycopg.OperationalError as exc:
        yield Unreachable(f"PostgreSQL is required for the lock tests and is not reachable "
                          f"({PG_DSN!r}; set ALEMBIC_REVIEW_PG_DSN): {exc}")
        return
    name = f"ar_locks_{secrets.token_hex(4)}"
    admin.execute(pgsql.SQL("CREATE DATABASE {}").format(pgsql.Identifier(name)))
    try:
        with psycopg.connect(make_conninfo(PG_DSN, dbname=name), autocommit=True) as conn:
            conn.execute('CREATE EXTENSION IF NOT EXISTS "uuid-ossp" WITH SCHEMA public')
        yield name
    finally:
        admin.execute(pgsql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(pgsql.Identifier(name)))
        admin.close()


class Sandbox:
    """One schema of the session database holding one case's tables."""

    def __init__(self, db: str, case: Case):
        self.db = db
        self.schema = f"c_{secrets.token_hex(4)}"
        with self.connect(search_path=False) as conn:
            conn.execute(pgsql.SQL("CREATE SCHEMA {}").format(pgsql.Identifier(self.schema)))
        with self.connect() as conn:
            conn.execute(BASE + case.setup)  # simple protocol: several statements
            pid = conn.info.backend_pid
        self.wait_backend_exit(pid)  # its statistics are flushed once it has exited

    def connect(self, search_path: bool = True) -> psycopg.Connection:
        opts = f"-c search_path={self.schema},public" if search_path else ""
        return psycopg.connect(make_conninfo(PG_DSN, dbname=self.db, options=opts), autocommit=True)

    def wait_backend_exit(self, pid: int) -> None:
        with self.connect() as conn:
            deadline = time.monotonic() + WAIT_LIMIT
            while conn.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone():
                assert time.monotonic() < deadline, f"backend {pid} did not exit"
                time.sleep(0.01)


def relations(conn) -> dict[int, tuple[str, str]]:
    """oid -> (name, relkind) of the relations of the connection's first schema."""
    rows = conn.execute(
        "SELECT oid::int, relname, relkind FROM pg_class WHERE relnamespace = current_schema()::regnamespace"
    ).fetchall()
    return {oid: (name, kind) for oid, name, kind in rows}


def relfilenode(conn, name: str | None, oid: int | None = None) -> int | None:
    """relfilenode of oid if it still exists, else of whatever is now called name."""
    row = None
    if oid is not None:
        row = conn.execute("SELECT relfilenode::int FROM pg_class WHERE oid = %s", (oid,)).fetchone()
    if row is None and name:
        row = conn.execute("SELECT relfilenode::int FROM pg_class WHERE oid = to_regclass(%s)", (name,)).fetchone()
    return row[0] if row else None


def regclass(conn, name: str | None) -> int | None:
    if not name:
        return None
    return conn.execute("SELECT to_regclass(%s)::int", (name,)).fetchone()[0]


def _rewritten(main: tuple[str, str] | None, node_before, node_after) -> bool:
    """A rewrite: the main relation existed before and has new storage now.  Only
    tables, materialized views and indexes count (most ALTER SEQUENCE forms replace
    a sequence's one-page storage, which is no rewrite in the model's sense).  A
    relation the statement creates has no rows to scan or rewrite."""
    if main is None or main[1] not in TABLE_KINDS | {"i"}:
        return False
    return node_before is not None and node_after is not None and node_before != node_after


def expected_locks(case: Case, predicted: LockEffect) -> dict[str, str]:
    out = {lk.table: lk.mode for lk in predicted.locks}
    for table, mode in case.extra.items():
        out[table] = strongest((out.get(table), mode))
    return out


# ------------------------------------------------------------ inside a transaction

def _measure_in_transaction(db: str, case: Case, predicted: LockEffect, named: set[str]):
    sb = Sandbox(db, case)
    main = predicted.table
    scan_name = case.scan_table or main
    with sb.connect() as conn:
        conn.execute("BEGIN")
        before = relations(conn)
        main_oid = regclass(conn, main)
        node_before = relfilenode(conn, main, main_oid)
        scan_oid = regclass(conn, scan_name)
        scans_before = conn.execute("SELECT pg_stat_get_xact_numscans(%s)", (scan_oid,)).fetchone()[0] or 0
        conn.execute(case.sql)
        held = conn.execute(
            "SELECT relation::int, mode FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'relation'"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        ).fetchall()
        after = relations(conn)
        node_after = relfilenode(conn, main, main_oid)
        scans_after = conn.execute("SELECT pg_stat_get_xact_numscans(%s)", (scan_oid,)).fetchone()[0] or 0
        conn.execute("ROLLBACK")
    locks: dict[str, str] = {}
    for oid, mode in held:
        name, kind = before.get(oid) or after.get(oid) or (None, None)
        if name and (kind in TABLE_KINDS or name in named):
            locks[name] = strongest((locks.get(name), PG_MODE_NAMES[mode]))
    rewrite = _rewritten(before.get(main_oid), node_before, node_after)
    return locks, rewrite, scan_oid is not None and scans_after > scans_before


# ------------------------------------------------------- outside a transaction

# To see that a statement's strongest lock on a relation is M, a blocker holds a mode
# that conflicts with M and with no mode weaker than M: the statement's weaker locks
# go through and it waits for M.  (No such mode exists for SHARE ROW EXCLUSIVE: it
# gets SHARE ROW EXCLUSIVE itself, which also stops SHARE UPDATE EXCLUSIVE and SHARE.)
BLOCKER = {AS: AEL, RS: EXCL, RE: SHARE, SUE: SUE, SHARE: RE, SRE: SRE, EXCL: RS, AEL: AS}


def _hold(conn, rel: str, mode: str) -> None:
    """In conn's open transaction, hold `mode` on rel.  Tables: LOCK TABLE.  Indexes
    cannot be locked by LOCK TABLE: an index scan holds ACCESS SHARE on one, COMMENT ON
    INDEX holds SHARE UPDATE EXCLUSIVE."""
    kind = conn.execute("SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)", (rel,)).fetchone()[0]
    ident = pgsql.Identifier(rel)
    if kind in TABLE_KINDS:
        conn.execute(pgsql.SQL("LOCK TABLE {} IN {} MODE").format(ident, pgsql.SQL(mode)))
    elif kind == "i" and mode == SUE:
        conn.execute(pgsql.SQL("COMMENT ON INDEX {} IS 'probe'").format(ident))
    elif kind == "i" and mode == AS:  # an index scan holds ACCESS SHARE on the index until commit
        table, col = conn.execute(
            "SELECT indrelid::regclass::text, a.attname FROM pg_index i JOIN pg_attribute a"
            " ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] WHERE i.indexrelid = to_regclass(%s)",
            (rel,),
        ).fetchone()
        conn.execute("SET LOCAL enable_seqscan = off")
        conn.execute("SET LOCAL enable_bitmapscan = off")
        conn.execute(pgsql.SQL("SELECT {c} FROM {t} ORDER BY {c} LIMIT 1").format(
            c=pgsql.Identifier(col), t=pgsql.Identifier(table)))
    else:
        raise AssertionError(f"cannot hold a lock on {rel} (relkind {kind})")
    held = conn.execute(
        "SELECT mode FROM pg_locks WHERE pid = pg_backend_pid() AND relation = to_regclass(%s) AND granted",
        (rel,),
    ).fetchall()
    assert mode in {PG_MODE_NAMES[m] for (m,) in held}, f"the blocker does not hold {mode} on {rel}"


def _first_wait(db: str, case: Case, rel: str, hold: str):
    """Run case.sql while another session holds `hold` on rel.  Returns the first
    lock the statement waits for, (locktype, relation name or None, mode), or None
    when it completes without waiting."""
    sb = Sandbox(db, case)
    blocker, runner, observer = sb.connect(), sb.connect(), sb.connect()
    errors: list[BaseException] = []

    def run():
        try:
            runner.execute(case.sql)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    try:
        blocker.execute("BEGIN")
        _hold(blocker, rel, hold)
        pid = runner.info.backend_pid
        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        wait = None
        deadline = time.monotonic() + WAIT_LIMIT
        while thread.is_alive() and wait is None:
            assert time.monotonic() < deadline, f"{case.sql!r} neither waited nor finished"
            row = observer.execute(
                "SELECT locktype, (SELECT relname FROM pg_class WHERE oid = l.relation), mode"
                " FROM pg_locks l WHERE pid = %s AND NOT granted", (pid,),
            ).fetchone()
            if row:
                wait = (row[0], row[1], PG_MODE_NAMES.get(row[2], row[2]))
            else:
                time.sleep(0.005)
    finally:
        blocker.execute("ROLLBACK")  # lets the statement finish
    thread.join(WAIT_LIMIT)
    assert not thread.is_alive(), f"{case.sql!r} did not finish after the blocker let go"
    assert not errors, f"{case.sql!r} failed: {errors[0]}"
    for conn in (blocker, runner, observer):
        conn.close()
    return wait


def _measure_outside_transaction(db: str, case: Case, predicted: LockEffect, expected: dict[str, str]):
    """Locks, by probing each expected relation twice.  Behind a reader holding ACCESS
    SHARE the statement must wait for ACCESS EXCLUSIVE on it exactly when ACCESS
    EXCLUSIVE is expected (otherwise it finishes or waits for the reader's transaction
    to end, which some CONCURRENTLY phases do).  Behind BLOCKER[M] it must wait for M."""
    measured: dict[str, str] = {}
    for rel, mode in expected.items():
        behind_reader = _first_wait(db, case, rel, AS)
        if behind_reader == ("relation", rel, AEL):
            measured[rel] = AEL
            continue
        behind_blocker = _first_wait(db, case, rel, BLOCKER[mode]) if mode != AEL else behind_reader
        if behind_blocker and behind_blocker[:2] == ("relation", rel):
            measured[rel] = behind_blocker[2]
        else:
            measured[rel] = f"no lock seen (behind {BLOCKER[mode]}: {behind_blocker})"

    # rewrite and scan: run it alone, then read pg_class and the flushed statistics
    sb = Sandbox(db, case)
    main, scan_name = predicted.table, case.scan_table or predicted.table
    with sb.connect() as reader:
        reader.execute("SET stats_fetch_consistency = none")
        main_oid, scan_oid = regclass(reader, main), regclass(reader, scan_name)
        main_rel = relations(reader).get(main_oid)
        node_before = relfilenode(reader, main, main_oid)
        scans_before = reader.execute("SELECT pg_stat_get_numscans(%s)", (scan_oid,)).fetchone()[0] or 0
        with sb.connect() as runner:
            runner.execute(case.sql)
            pid = runner.info.backend_pid
        sb.wait_backend_exit(pid)
        node_after = relfilenode(reader, main, main_oid)
        scans_after = reader.execute("SELECT pg_stat_get_numscans(%s)", (scan_oid,)).fetchone()[0] or 0
    rewrite = _rewritten(main_rel, node_before, node_after)
    return measured, rewrite, scan_oid is not None and scans_after > scans_before


def _refused_in_transaction(db: str, case: Case) -> None:
    sb = Sandbox(db, case)
    with sb.connect() as conn:
        conn.execute("BEGIN")
        with pytest.raises(psycopg.errors.ActiveSqlTransaction):
            conn.execute(case.sql)
        conn.execute("ROLLBACK")


# --------------------------------------------------------------------------- tests

@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_lock_model_matches_postgres(pg_db, case: Case):
    if isinstance(pg_db, Unreachable):
        pytest.fail(pg_db, pytrace=False)
    assert (case.measured_rewrite is None and case.measured_scan is None) or case.why, \
        f"{case.id}: an override needs a reason"
    predicted = case.predict()
    expected = expected_locks(case, predicted)
    named = set(expected)

    if predicted.transactional:
        locks, rewrite, scan = _measure_in_transaction(pg_db, case, predicted, named)
    else:
        _refused_in_transaction(pg_db, case)
        if not expected:  # nothing named: the refusal is the whole fact
            return
        locks, rewrite, scan = _measure_outside_transaction(pg_db, case, predicted, expected)

    assert locks == expected, f"{case.id}: measured {locks}, model+extra {expected}"
    want_rewrite = predicted.rewrite if case.measured_rewrite is None else case.measured_rewrite
    assert rewrite == want_rewrite, f"{case.id}: rewrite measured {rewrite}, expected {want_rewrite}"
    if not case.no_scan_check:
        want_scan = predicted.scan if case.measured_scan is None else case.measured_scan
        assert scan == want_scan, f"{case.id}: scan measured {scan}, expected {want_scan}"
    if case.measured_rewrite is not None or case.measured_scan is not None:
        # a knowingly conservative row: the model must say the costly thing
        assert predicted.rewrite >= rewrite and predicted.scan >= scan, case.why


# ------------------------------------------------------------- pure unit tests

def effect(sql: str, pg: int = 15) -> LockEffect:
    return lock_effect(parse_one(sql), pg)


@pytest.mark.parametrize("sql", ["ALTER TABLE t ADD COLUMN b int DEFAULT 5",
                                 "ALTER TABLE t ADD COLUMN b timestamptz DEFAULT now()"])
def test_pg10_any_default_rewrites(sql):
    assert effect(sql, 10).rewrite and effect(sql, 10).scan
    assert not effect(sql, 11).rewrite


def test_pg10_no_default_does_not_rewrite():
    assert not effect("ALTER TABLE t ADD COLUMN b int", 10).rewrite
    assert not effect("ALTER TABLE t ADD COLUMN b int DEFAULT NULL", 10).rewrite


@pytest.mark.parametrize("pg", [12, 15, 18])
def test_reindex_concurrently_is_not_transactional(pg):
    e = effect("REINDEX INDEX CONCURRENTLY i", pg)
    assert not e.transactional and e.mode == SUE
    assert effect("REINDEX INDEX i", pg).transactional


def test_reindex_concurrently_before_pg12_is_flagged():
    assert any("12+" in n for n in effect("REINDEX TABLE CONCURRENTLY t", 11).notes)


def test_enum_add_value_transactional_from_pg12():
    assert not effect("ALTER TYPE mood ADD VALUE 'x'", 11).transactional
    assert effect("ALTER TYPE mood ADD VALUE 'x'", 12).transactional
    assert effect("ALTER TYPE mood RENAME VALUE 'a' TO 'b'", 11).transactional


def test_pre_pg12_lock_levels():
    assert effect("ALTER TABLE p ATTACH PARTITION c FOR VALUES IN (1)", 11).locks[0] == TableLock("p", AEL)
    assert effect("ALTER INDEX i RENAME TO j", 11).mode == AEL
    assert effect("ALTER INDEX i RENAME TO j", 12).mode == SUE


def test_detach_concurrently_needs_pg14():
    assert any("14+" in n for n in effect("ALTER TABLE p DETACH PARTITION c CONCURRENTLY", 13).notes)


def test_api_shape():
    assert len(LOCK_MODES) == 8 and LOCK_MODES[0] == AS and LOCK_MODES[-1] == AEL
    assert strongest([AS, None, SHARE, RE]) == SHARE and strongest([]) is None
    e = effect("ALTER TABLE public.t ADD CONSTRAINT fk FOREIGN KEY (o_id) REFERENCES audit.o (id)")
    assert e.table == "t" and [lk.table for lk in e.locks] == ["t", "audit.o"]
    assert e.mode == SRE
    unknown = lock_effect({"CreateForeignServerStmt": {}})
    assert unknown.locks == () and unknown.transactional and "not modelled" in unknown.notes[0]
    assert unknown.table is None and unknown.mode is None
    # a whole parse_sql_json "stmts" entry is accepted too
    entry = json.loads(parse_sql_json("TRUNCATE t"))["stmts"][0]
    assert lock_effect(entry).mode == AEL


def test_type_change_rewrites_table():
    new = json.loads(parse_sql_json("SELECT NULL::varchar(30)"))["stmts"][0]["stmt"]
    tn = new["SelectStmt"]["targetList"][0]["ResTarget"]["val"]["TypeCast"]["typeName"]
    assert not type_change_rewrites("varchar(20)", tn)
    assert type_change_rewrites("varchar(40)", tn)
    assert type_change_rewrites("text", tn)
    assert type_change_rewrites(None, tn)
    assert type_change_rewrites("not a type ((", tn)


@pytest.mark.parametrize("old,new", [
    ("varchar(10)", "text"), ("varchar(10)", "varchar(20)"), ("varchar(10)", "varchar"), ("text", "varchar"),
    ("varchar(20)", "varchar(10)"), ("text", "varchar(10)"), ("cidr", "inet"), ("timestamp(3)", "timestamp(6)"),
    ("timestamp(6)", "timestamp(3)"), ("timestamptz(3)", "timestamptz"), ("varbit(5)", "varbit(10)"),
    ("int", "bigint"), ("numeric(10,2)", "numeric(12,2)"), ("numeric(10,2)", "numeric(12,3)"),
    ("char(5)", "char(10)"), ("char(5)", "text"), ("time(3)", "time(6)"),
])
def test_type_change_rewrite_matches_relfilenode(pg_db, old, new):
    """type_change_rewrites says what PostgreSQL does: a new relfilenode after ALTER COLUMN TYPE is a rewrite."""
    if isinstance(pg_db, Unreachable):
        pytest.fail(pg_db)
    with psycopg.connect(make_conninfo(PG_DSN, dbname=pg_db), autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS ty; CREATE TABLE ty (c {old}); INSERT INTO ty VALUES (NULL)")
        before = conn.execute("SELECT relfilenode FROM pg_class WHERE relname = 'ty'").fetchone()[0]
        conn.execute(f"ALTER TABLE ty ALTER COLUMN c TYPE {new}")
        after = conn.execute("SELECT relfilenode FROM pg_class WHERE relname = 'ty'").fetchone()[0]
    tn = json.loads(parse_sql_json(f"SELECT NULL::{new}"))["stmts"][0]["stmt"]
    tn = tn["SelectStmt"]["targetList"][0]["ResTarget"]["val"]["TypeCast"]["typeName"]
    assert type_change_rewrites(old, tn) == (before != after)
