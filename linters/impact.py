"""What a finding costs in production, from the table-statistics snapshot (linters/tablestats.py).

For a finding on an existing table: its rows and bytes, the lock, how long the lock is expected to
be held and how many writes wait meanwhile. The lock model (linters/locks.py) says what kind of
work the statement does under its lock (the cost class); the class's measured throughput turns the
table's bytes into seconds. The throughputs come from `bench/impact.py` on a real PostgreSQL
(2 shared cores); `impact_speed` in the settings scales them for other hardware. Scans run faster
when the table's heap fits in the server's shared_buffers (recorded in the snapshot): its pages
are then PostgreSQL's own, not copied in from the operating system's cache.

Then the severity follows the size: on a table under `small_table_rows`, a finding whose harm is
the time a lock is held drops to info; a lock expected to last over `max_lock_seconds` is an error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from linters.findings import Finding, Severity
from linters.locks import LOCK_MODES
from linters.nodes import qualified
from linters.sql import Statement, relation_name

if TYPE_CHECKING:
    from linters.config import Config
    from linters.model import Reviewed
    from linters.tablestats import TableSize, TableStats

REWRITE, INDEX_BUILD, FK_VALIDATION, FULL_SCAN, CATALOG_ONLY = (
    "rewrite", "index build", "foreign key validation", "full scan", "catalog only")

# Bytes per second of each cost class, measured by bench/impact.py on this project's machine
# (PostgreSQL 15, 2 shared cores shared with other work, tables in the OS cache): the middle of
# the range several runs gave (docs/table-stats.md, Calibrate). Rewrites copy the heap and
# rebuild every index, so they count heap and index bytes; the others read the heap once.
# Bytes per second, measured by bench/impact.py on this project's machine when idle (2 cores,
# PostgreSQL 15, tables in RAM), taken at about 0.85x the measured medians: an estimate errs long.
THROUGHPUT = {
    REWRITE: 60e6,
    INDEX_BUILD: 170e6,
    FK_VALIDATION: 400e6,  # against a referenced table that fits in memory; a large one is slower
    FULL_SCAN: 880e6,
}
# The same when the heap fits in shared_buffers. Only the scans gain: a rewrite's time goes to
# writing, an index build's to sorting, whatever the cache.
IN_SHARED_BUFFERS = {**THROUGHPUT, FK_VALIDATION: 470e6, FULL_SCAN: 1200e6}

# Modes that make INSERT/UPDATE/DELETE wait (they conflict with ROW EXCLUSIVE).
WRITE_BLOCKING = frozenset(LOCK_MODES[LOCK_MODES.index("SHARE"):])

# Rules whose harm is how long a lock is held on the table: on a small table it is over at once.
# Breaking changes and statements that fail whatever the size keep their severity.
SIZE_DRIVEN = frozenset({
    "require-concurrent-index-creation", "require-concurrent-index-deletion", "require-concurrent-reindex",
    "adding-field-with-default", "adding-not-nullable-field", "changing-column-type",
    "adding-foreign-key-constraint", "constraint-missing-not-valid", "disallowed-unique-constraint",
    "adding-serial-primary-key-field", "require-concurrent-partition-detach", "prefer-repack",
    "lock-held-across-statements", "drop-fk-locks-parent", "require-statement-timeout",
})


def cost_class(stmt: Statement, rewrite: bool, scan: bool) -> str:
    """The work `stmt` does under its lock, from the lock model's rewrite/scan verdict."""
    if rewrite:
        return REWRITE
    if not scan:
        return CATALOG_ONLY
    if stmt.kind in ("IndexStmt", "ReindexStmt"):
        return INDEX_BUILD
    constraints = [c.get("AlterTableCmd", {}).get("def", {}).get("Constraint", {})
                   for c in stmt.body.get("cmds", ()) if stmt.kind == "AlterTableStmt"]
    if any(c.get("contype") in ("CONSTR_PRIMARY", "CONSTR_UNIQUE", "CONSTR_EXCLUSION") and not c.get("indexname")
           for c in constraints):
        return INDEX_BUILD
    if any(c.get("contype") == "CONSTR_FOREIGN" for c in constraints):
        return FK_VALIDATION
    return FULL_SCAN


def in_shared_buffers(size: TableSize, shared_buffers: int | None) -> bool:
    """Whether the table's heap fits in the server's shared_buffers (unknown: as if it did not)."""
    return shared_buffers is not None and size.heap_bytes <= shared_buffers


def lock_seconds(cost: str, size: TableSize, speed: float = 1.0, shared_buffers: int | None = None) -> float:
    """Expected seconds of work under the lock for a statement of class `cost` on a table of `size`,
    on a server with `shared_buffers` bytes of cache (None: not known)."""
    if cost == CATALOG_ONLY:
        return 0.0
    work = size.heap_bytes + size.index_bytes if cost == REWRITE else size.heap_bytes
    throughput = (IN_SHARED_BUFFERS if in_shared_buffers(size, shared_buffers) else THROUGHPUT)[cost]
    return work / (throughput * speed)


def estimate(lock: str, table: TableSize, scanned: TableSize, cost: str, speed: float,
             shared_buffers: int | None = None) -> dict:
    """The `impact` object of a finding taking `lock` on `table` while the statement works on `scanned`."""
    seconds = lock_seconds(cost, scanned, speed, shared_buffers)
    blocked = round(table.writes_per_second * seconds) if lock in WRITE_BLOCKING else 0
    return {"rows": table.rows, "bytes": table.total_bytes, "lock": lock,
            "lock_seconds": round(seconds, 3), "blocked_writes": blocked}


def _created_relations(statements: list[Statement]) -> set[str]:
    """The tables and indexes `statements` create: none of them is in a snapshot of production."""
    created = set()
    for s in statements:
        if s.direction != "upgrade":
            continue
        if s.kind in ("CreateStmt", "CreateTableAsStmt"):
            target = s.body.get("relation") or s.body.get("into", {}).get("IntoClause", {}).get("rel")
            if name := relation_name(target):
                created.add(name)
        elif s.kind == "IndexStmt" and s.body.get("idxname"):  # an index lives in its table's schema
            relation = s.body.get("relation") or {}
            created.add(qualified(s.body["idxname"], relation.get("RangeVar", relation).get("schemaname")))
    return created


def _statements_and_new_tables(reviewed: list[Reviewed], one_run: bool) -> dict[int, tuple[Statement, set[str]]]:
    """id(statement) -> (statement, the tables and indexes its deploy run creates): one run for a pull
    request's revisions, one per revision with --all."""
    runs = [[s for item in reviewed for s in item.parsed.statements]] if one_run else \
        [item.parsed.statements for item in reviewed]
    out = {}
    for statements in runs:
        created = _created_relations(statements)
        out.update({id(s): (s, created) for s in statements})
    return out


def _reseverity(f: Finding, config: Config) -> None:
    if f.direction != "upgrade" or f.rule in config.severity:  # downgrades stay info; the user's word wins
        return
    impact = f.impact
    if impact["lock"] in WRITE_BLOCKING and impact["lock_seconds"] > config.max_lock_seconds:
        f.severity = Severity.ERROR
    elif f.rule in SIZE_DRIVEN and impact["rows"] < config.small_table_rows:
        f.severity = Severity.INFO


def with_impact(findings: list[Finding], reviewed: list[Reviewed], stats: TableStats, config: Config,
                one_run: bool) -> list[Finding]:
    """Every finding on an existing table that takes a lock gets its impact, and the severity the
    table's size calls for; a table missing from the snapshot keeps its verdict and says so."""
    statements = _statements_and_new_tables(reviewed, one_run)
    for f in findings:
        stmt, created = statements.get(f.extra.get("statement_id"), (None, set()))
        if stmt is None or not f.lock or not f.table or f.table in created:
            continue
        table = stats.table(f.table) or stats.table_with_index(f.table)  # a DROP INDEX's lock names the index
        if table is None:
            f.message += f" (size unknown: {f.table} is not in the table-statistics snapshot)"
            continue
        effect = stmt.lock_effect(config.pg_version)
        scanned = stats.table(effect.table) or table
        f.impact = estimate(f.lock, table, scanned, cost_class(stmt, effect.rewrite, effect.scan), config.impact_speed,
                            stats.shared_buffers_bytes)
        _reseverity(f, config)
    return findings
