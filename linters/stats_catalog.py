"""A table-statistics snapshot (linters/tablestats.py) read from a live database's catalog.

Only catalog and statistics views are read (pg_class, pg_index, pg_stat_user_tables,
pg_stat_database, pg_settings and the size functions), never a table's rows, on a connection
whose every transaction is READ ONLY: the command is meant to be pointed at production.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone

import psycopg

from linters.errors import UsageError
from linters.live.scratch import connect, describe, parse_url
from linters.tablestats import TableSize, TableStats

# Tables, materialized views and partitioned tables outside the system schemas. A partitioned
# table's sizes, rows and writes are the sums over its leaf partitions (pg_partition_tree, PG 12+):
# a lock on it reaches them all. Rows: the planner's estimate (reltuples), the live-tuple count
# when the table was never analyzed (reltuples -1).
_TABLES = """
SELECT n.nspname, c.relname,
       sum(CASE WHEN p.reltuples >= 0 THEN p.reltuples ELSE coalesce(s.n_live_tup, 0) END)::bigint,
       sum(pg_relation_size(leaf.relid))::bigint,
       sum(pg_indexes_size(leaf.relid))::bigint,
       sum(pg_total_relation_size(leaf.relid))::bigint,
       sum(coalesce(s.n_tup_ins + s.n_tup_upd + s.n_tup_del, 0))::bigint
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
CROSS JOIN LATERAL {leaves} AS leaf
JOIN pg_class p ON p.oid = leaf.relid
LEFT JOIN pg_stat_user_tables s ON s.relid = leaf.relid
WHERE c.relkind IN ('r', 'p', 'm') AND NOT c.relispartition
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_)'
GROUP BY n.nspname, c.relname
"""
_LEAVES_12 = ("(SELECT relid FROM pg_partition_tree(c.oid) WHERE isleaf AND c.relkind = 'p' "
              "UNION ALL SELECT c.oid WHERE c.relkind <> 'p')")
_LEAVES_OLD = "(SELECT c.oid AS relid)"

_INDEXES = """
SELECT n.nspname, t.relname, i.relname, pg_relation_size(i.oid)
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_class t ON t.oid = x.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_)'
"""

# The write counters' time base: the database's last stats reset, else the server's start.
_SINCE_RESET = """
SELECT extract(epoch FROM clock_timestamp() - coalesce(stats_reset, pg_postmaster_start_time()))
FROM pg_stat_database WHERE datname = current_database()
"""

# PostgreSQL's own cache: a table that fits in it is scanned faster (linters/impact.py).
_SHARED_BUFFERS = "SELECT setting::bigint * pg_size_bytes(unit) FROM pg_settings WHERE name = 'shared_buffers'"


def read_only_connection(url: str) -> psycopg.Connection:
    """A connection on which every transaction is READ ONLY, with short lock and statement timeouts
    (the size functions wait behind an ACCESS EXCLUSIVE lock; better to fail than to queue)."""
    params = parse_url(url)
    conn = connect(params, options="-c default_transaction_read_only=on -c lock_timeout=5s "
                                   "-c statement_timeout=60s -c application_name=alembic-review-stats")
    conn.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
    return conn


def _sizes(conn: psycopg.Connection) -> dict[str, tuple]:
    leaves = _LEAVES_12 if conn.info.server_version >= 120000 else _LEAVES_OLD
    return {f"{schema}.{name}": row for schema, name, *row in conn.execute(_TABLES.format(leaves=leaves))}


def take_snapshot(url: str, interval: float = 0.0) -> TableStats:
    """The sizes and write rates of every table of the database at `url`. With `interval` > 0 the
    write rate is measured between two readings that many seconds apart; else it is the average
    since the statistics were last reset."""
    conn = read_only_connection(url)
    try:
        first = _sizes(conn)
        if interval > 0:
            started = time.monotonic()
            time.sleep(interval)
            last, seconds, basis = _sizes(conn), time.monotonic() - started, "interval"
        else:
            last, basis = first, "since_stats_reset"
            seconds = float(conn.execute(_SINCE_RESET).fetchone()[0] or 0.0)
        indexes: dict[str, dict[str, int]] = {}
        for schema, table, index, size in conn.execute(_INDEXES):
            indexes.setdefault(f"{schema}.{table}", {})[f"{schema}.{index}"] = size
        version = conn.info.server_version
        shared_buffers = conn.execute(_SHARED_BUFFERS).fetchone()[0]
    except psycopg.Error as exc:
        raise UsageError(f"cannot read the statistics of {describe(parse_url(url))}: "
                         f"{' '.join(str(exc).split())}") from None
    finally:
        conn.close()
    tables = {}
    for name, (rows, heap, index_bytes, total, writes) in last.items():
        counted = writes - first.get(name, (0,) * 5)[4] if basis == "interval" else writes
        tables[name] = TableSize(rows=rows, heap_bytes=heap, index_bytes=index_bytes, total_bytes=total,
                                 writes_per_second=max(counted, 0) / seconds if seconds > 0 else 0.0,
                                 indexes=indexes.get(name, {}))
    return TableStats(taken_at=datetime.now(timezone.utc), server_version=version, rate_basis=basis,
                      rate_seconds=seconds, tables=tables, shared_buffers_bytes=shared_buffers)
