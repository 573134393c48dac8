"""How long do locks really last? The impact estimates (linters/impact.py) against a real PostgreSQL.

    python -m bench.impact [--database-url URL] [--sizes 100000,500000,2000000,3000000] [--rounds 3]

Builds an `orders` table of each size (and a `customers` table they reference) in a throwaway
database on the server of URL, reads their sizes and the server's shared_buffers with the `stats`
command's own catalog reader, then times each operation the estimates cover on each table, each
in a transaction rolled back after, in rounds (the fastest of each counts; the tables that fit in
shared_buffers are read into it before each round, as a table in use would be):

    CREATE INDEX                      index build
    ALTER COLUMN ... TYPE bigint      rewrite (heap and both indexes)
    ADD CONSTRAINT ... CHECK          full scan (validation)
    ALTER COLUMN ... SET NOT NULL     full scan
    ADD FOREIGN KEY                   foreign key validation

and prints, per operation and size, the predicted and measured seconds and their ratio (target:
within 2x either way), then the throughput each class showed, apart for tables whose heap fits in
the server's shared_buffers and for larger ones (the THROUGHPUT and IN_SHARED_BUFFERS of
linters/impact.py come from here), and the `impact_speed` setting that would make this server's
predictions right on average: run it against a server like production's to calibrate.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import time

import psycopg
from psycopg import sql

from linters.impact import IN_SHARED_BUFFERS, THROUGHPUT, cost_class, in_shared_buffers, lock_seconds
from linters.sql import parse_chunks, Chunk
from linters.stats_catalog import take_snapshot

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"

OPERATIONS = [
    ("CREATE INDEX", "CREATE INDEX {table}_customer ON {table} (customer_id)"),
    ("ALTER TYPE (rewrite)", "ALTER TABLE {table} ALTER COLUMN amount TYPE bigint"),
    ("ADD CHECK", "ALTER TABLE {table} ADD CONSTRAINT {table}_amount_positive CHECK (amount >= 0)"),
    ("SET NOT NULL", "ALTER TABLE {table} ALTER COLUMN created SET NOT NULL"),
    ("ADD FOREIGN KEY", "ALTER TABLE {table} ADD CONSTRAINT {table}_customer_fk "
                        "FOREIGN KEY (customer_id) REFERENCES customers (id)"),
]

BUILD = """
CREATE TABLE {table} (id bigint PRIMARY KEY, customer_id bigint, amount int, created date, note text);
INSERT INTO {table} SELECT g, g % 10000 + 1, g % 1000, date '2024-01-01' + g % 700, md5(g::text)
FROM generate_series(1, {rows}) g;
CREATE INDEX {table}_created ON {table} (created);
"""

# Reads every heap page through the primary key: pages read that way stay in shared_buffers
# (a sequential scan of a table over a quarter of shared_buffers goes through a small ring and
# leaves it uncached), as a table in daily use would be.
WARM = "SET LOCAL enable_seqscan = off; SELECT sum(length(note)) FROM {table} WHERE id > 0"


def statement(text: str):
    [stmt] = parse_chunks([Chunk("upgrade", 1, text)]).statements
    return stmt


def timed(conn: psycopg.Connection, text: str) -> float:
    """Seconds the statement takes, rolled back so the next one finds the same table."""
    with conn.transaction(force_rollback=True):
        started = time.perf_counter()
        conn.execute(text)
        return time.perf_counter() - started


def fastest_of_rounds(conn: psycopg.Connection, cells: list[str], cached: list[str], rounds: int) -> list[float]:
    """The shortest time of each statement in `cells` over `rounds` rounds of all of them: on a
    shared machine others' work only ever adds time, and a busy minute then slows one round of
    every statement rather than every round of a few. The tables in `cached` are read into
    shared_buffers before each round."""
    best = [float("inf")] * len(cells)
    for _ in range(rounds):
        for table in cached:
            timed(conn, WARM.format(table=table))
        for i, text in enumerate(cells):
            best[i] = min(best[i], timed(conn, text))
    return best


def measure(url: str, sizes: list[int], rounds: int = 3) -> list[dict]:
    admin = psycopg.connect(url, autocommit=True)
    name = f"alembic_review_bench_{secrets.token_hex(4)}"
    admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    target = psycopg.conninfo.make_conninfo(url, dbname=name)
    try:
        with psycopg.connect(target, autocommit=True) as conn:
            conn.execute("CREATE TABLE customers (id bigint PRIMARY KEY);"
                         "INSERT INTO customers SELECT generate_series(1, 10000)")
            tables = {rows: f"orders_{rows}" for rows in sizes}
            for rows, table in tables.items():
                conn.execute(BUILD.format(table=table, rows=int(rows)))
                conn.execute(sql.SQL("VACUUM ANALYZE {}").format(sql.Identifier(table)))
            snapshot = take_snapshot(target)
            shared_buffers = snapshot.shared_buffers_bytes
            size = {rows: snapshot.tables[f"public.{table}"] for rows, table in tables.items()}
            cells = [(rows, label, text.format(table=tables[rows])) for rows in sizes for label, text in OPERATIONS]
            cached = [table for rows, table in tables.items() if in_shared_buffers(size[rows], shared_buffers)]
            measured = fastest_of_rounds(conn, [text for _, _, text in cells], cached, rounds)
    finally:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.close()
    results = []
    for (rows, label, text), seconds in zip(cells, measured):
        stmt = statement(text)
        effect = stmt.lock_effect(15)
        cost = cost_class(stmt, effect.rewrite, effect.scan)
        results.append({"operation": label, "rows": rows, "size": size[rows], "cost": cost,
                        "cached": in_shared_buffers(size[rows], shared_buffers),
                        "predicted": lock_seconds(cost, size[rows], shared_buffers=shared_buffers),
                        "measured": seconds})
    return results


def report(results: list[dict]) -> str:
    lines = [f"Load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} (at the end).", "",
             "| operation | rows | heap + indexes | in shared_buffers | class | predicted | measured | predicted/measured |",
             "|---|---:|---:|---|---|---:|---:|---:|"]
    for r in results:
        s = r["size"]
        lines.append(f"| {r['operation']} | {r['rows']:,} | {s.heap_bytes / 2**20:.0f} + {s.index_bytes / 2**20:.0f} MB "
                     f"| {'yes' if r['cached'] else 'no'} | {r['cost']} | {r['predicted']:.3f} s | {r['measured']:.3f} s "
                     f"| {r['predicted'] / r['measured']:.2f} |")
    lines += ["", "| class | heap in shared_buffers | measured throughput (median) | in linters/impact.py |",
              "|---|---|---:|---:|"]
    for cost in THROUGHPUT:
        for cached, model in ((True, IN_SHARED_BUFFERS), (False, THROUGHPUT)):
            shown = [r for r in results if r["cost"] == cost and r["cached"] == cached]
            if shown:
                work = [(r["size"].heap_bytes + (r["size"].index_bytes if cost == "rewrite" else 0)) / r["measured"]
                        for r in shown]
                lines.append(f"| {cost} | {'yes' if cached else 'no'} | {statistics.median(work) / 1e6:.0f} MB/s "
                             f"| {model[cost] / 1e6:.0f} MB/s |")
    ratios = [r["predicted"] / r["measured"] for r in results]
    lines += ["", f"Ratios from {min(ratios):.2f} to {max(ratios):.2f}; "
                  f"{sum(0.5 <= x <= 2 for x in ratios)} of {len(ratios)} within 2x either way.",
              f"To calibrate for this server: impact_speed = {statistics.median(ratios):.2f}"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--database-url", default=DEFAULT_URL, help="a server to create a throwaway database on")
    p.add_argument("--sizes", default="100000,500000,2000000,3000000", help="rows of the tables, comma separated")
    p.add_argument("--rounds", type=int, default=3, help="times each statement runs (the fastest counts)")
    args = p.parse_args(argv)
    print(report(measure(args.database_url, [int(n) for n in args.sizes.split(",")], args.rounds)), end="")


if __name__ == "__main__":
    main()
