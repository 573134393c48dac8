"""How long do locks really last? The impact estimates (linters/impact.py) against a real PostgreSQL.

    python -m bench.impact [--database-url URL] [--sizes 100000,500000,2000000]

Builds an `orders` table of each size (and a `customers` table it references) in a throwaway
database on the server of URL, reads its sizes with the `stats` command's own catalog reader,
then times each operation the estimates cover, each in a transaction rolled back after:

    CREATE INDEX                      index build
    ALTER COLUMN ... TYPE bigint      rewrite (heap and both indexes)
    ADD CONSTRAINT ... CHECK          full scan (validation)
    ALTER COLUMN ... SET NOT NULL     full scan
    ADD FOREIGN KEY                   foreign key validation

and prints, per operation and size, the predicted and measured seconds and their ratio (target:
within 2x either way), then the throughput each class showed (the THROUGHPUT of linters/impact.py
come from here) and the `impact_speed` setting that would make this server's predictions right
on average: run it against a server like production's to calibrate.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import time

import psycopg
from psycopg import sql

from linters.impact import THROUGHPUT, cost_class, lock_seconds
from linters.sql import parse_chunks, Chunk
from linters.stats_catalog import take_snapshot

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"

OPERATIONS = [
    ("CREATE INDEX", "CREATE INDEX orders_customer ON orders (customer_id)"),
    ("ALTER TYPE (rewrite)", "ALTER TABLE orders ALTER COLUMN amount TYPE bigint"),
    ("ADD CHECK", "ALTER TABLE orders ADD CONSTRAINT amount_positive CHECK (amount >= 0)"),
    ("SET NOT NULL", "ALTER TABLE orders ALTER COLUMN created SET NOT NULL"),
    ("ADD FOREIGN KEY", "ALTER TABLE orders ADD CONSTRAINT orders_customer_fk "
                        "FOREIGN KEY (customer_id) REFERENCES customers (id)"),
]

BUILD = """
DROP TABLE IF EXISTS orders;
CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint, amount int, created date, note text);
INSERT INTO orders SELECT g, g % 10000 + 1, g % 1000, date '2024-01-01' + g % 700, md5(g::text)
FROM generate_series(1, {rows}) g;
CREATE INDEX orders_created ON orders (created);
"""


def statement(text: str):
    [stmt] = parse_chunks([Chunk("upgrade", 1, text)]).statements
    return stmt


def timed(conn: psycopg.Connection, text: str) -> float:
    """Seconds the statement takes, rolled back so the next one finds the same table."""
    with conn.transaction(force_rollback=True):
        started = time.perf_counter()
        conn.execute(text)
        return time.perf_counter() - started


def measure(url: str, sizes: list[int]) -> list[dict]:
    admin = psycopg.connect(url, autocommit=True)
    name = f"alembic_review_bench_{secrets.token_hex(4)}"
    admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    target = psycopg.conninfo.make_conninfo(url, dbname=name)
    rows_out = []
    try:
        with psycopg.connect(target, autocommit=True) as conn:
            conn.execute("CREATE TABLE customers (id bigint PRIMARY KEY);"
                         "INSERT INTO customers SELECT generate_series(1, 10000)")
            for rows in sizes:
                conn.execute(BUILD.format(rows=int(rows)))
                conn.execute("VACUUM ANALYZE orders")
                size = take_snapshot(target).tables["public.orders"]
                for label, text in OPERATIONS:
                    stmt = statement(text)
                    effect = stmt.lock_effect(15)
                    cost = cost_class(stmt, effect.rewrite, effect.scan)
                    measured = min(timed(conn, text) for _ in range(2))
                    rows_out.append({"operation": label, "rows": rows, "size": size, "cost": cost,
                                     "predicted": lock_seconds(cost, size), "measured": measured})
    finally:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.close()
    return rows_out


def report(results: list[dict]) -> str:
    lines = ["| operation | rows | heap + indexes | class | predicted | measured | predicted/measured |",
             "|---|---:|---:|---|---:|---:|---:|"]
    for r in results:
        s = r["size"]
        lines.append(f"| {r['operation']} | {r['rows']:,} | {s.heap_bytes / 2**20:.0f} + {s.index_bytes / 2**20:.0f} MB "
                     f"| {r['cost']} | {r['predicted']:.2f} s | {r['measured']:.2f} s "
                     f"| {r['predicted'] / r['measured']:.2f} |")
    lines += ["", "| class | measured throughput (median) | in linters/impact.py |", "|---|---:|---:|"]
    for cost in THROUGHPUT:
        shown = [r for r in results if r["cost"] == cost]
        if shown:
            work = [(r["size"].heap_bytes + (r["size"].index_bytes if cost == "rewrite" else 0)) / r["measured"]
                    for r in shown]
            lines.append(f"| {cost} | {statistics.median(work) / 1e6:.0f} MB/s | {THROUGHPUT[cost] / 1e6:.0f} MB/s |")
    ratios = [r["predicted"] / r["measured"] for r in results]
    lines += ["", f"Ratios from {min(ratios):.2f} to {max(ratios):.2f}; "
                  f"{sum(0.5 <= x <= 2 for x in ratios)} of {len(ratios)} within 2x either way.",
              f"To calibrate for this server: impact_speed = {statistics.median(ratios):.2f}"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--database-url", default=DEFAULT_URL, help="a server to create a throwaway database on")
    p.add_argument("--sizes", default="100000,500000,2000000", help="rows of the tables, comma separated")
    args = p.parse_args(argv)
    print(report(measure(args.database_url, [int(n) for n in args.sizes.split(",")])), end="")


if __name__ == "__main__":
    main()
