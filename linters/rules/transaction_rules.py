"""Transactions and timeouts: locks that outlive their statement, backfills under locks, missing timeouts.

All of them read RunState.tx (linters/transaction.py): what the migration transaction holds when a
statement starts, across revisions too, since Alembic runs a whole upgrade in one transaction
unless env.py sets transaction_per_migration=True.
"""

from __future__ import annotations

from linters.locks import MAY_BE_NON_TRANSACTIONAL
from linters.rules import Hit, sql_rule
from linters.rules.index_rules import ban_concurrent_index_creation_in_transaction
from linters.schema_objects import drops
from linters.sql import TRANSACTION_ENDS, TRANSACTION_STARTS, relation_name
from linters.transaction import BLOCKING_MODES, ROW_KINDS, is_bulk_dml

AEL = "ACCESS EXCLUSIVE"
SET_LOCK_TIMEOUT = "op.execute(\"SET lock_timeout = '5s'\")"


def _slow(stmt, effect) -> str | None:
    """How the statement takes time on a big table: it rewrites or scans it (TRUNCATE's new storage is instant)."""
    if stmt.kind == "TruncateStmt":
        return None
    return "rewrites" if effect.rewrite else "scans" if effect.scan else None


def _where(held, stmt) -> str:
    if held.revision and held.revision != stmt.revision:
        return f"line {held.line} of revision {held.revision}"
    return f"line {held.line}" if held.line else "an earlier statement"


# Transaction control and SET take no lock on a table: the rules about locks never speak on them.
CONTROL_KINDS = ("TransactionStmt", "VariableSetStmt")


def _verb(stmt) -> str:
    """CREATE INDEX, ALTER TABLE, UPDATE ...: how the statement starts."""
    words = stmt.sql.split(None, 4)[:4] if stmt.sql else [stmt.kind]
    if words[0].upper() not in ("CREATE", "ALTER", "DROP") or len(words) < 2:
        return words[0].upper()
    size = 3 if words[1].upper() in ("UNIQUE", "OR", "MATERIALIZED", "TEMPORARY", "TEMP", "UNLOGGED") else 2
    return " ".join(words[:size]).upper()


@sql_rule(
    "lock-held-across-statements", "warning",
    summary="A statement runs or waits while the migration transaction holds ACCESS EXCLUSIVE on a busy table.",
    why="A lock lasts until COMMIT, not until its statement ends. After `op.add_column(\"users\", ...)` every "
        "query on users waits until the transaction commits, so whatever runs next in the same transaction "
        "(an index build, a table scan, a backfill, or a wait for another table's lock) blocks users for its "
        "whole duration. Alembic runs every revision of `alembic upgrade` in ONE transaction unless env.py "
        "passes transaction_per_migration=True, so the lock of one revision is still held by the next.",
    recipe="Commit before the slow step: put it in its own revision and pass `transaction_per_migration=True` "
           "to context.configure() in env.py (or set `transaction_per_migration = true` in "
           "[tool.alembic-review] if your env.py does it in a way the reviewer cannot see), or end the "
           "transaction with `with op.get_context().autocommit_block():` before it. Keep ACCESS EXCLUSIVE "
           "steps short and last.",
    recipe_per_migration="Commit before the slow step: move it to its own revision (env.py already commits after "
                         "each revision), or end the transaction with `with op.get_context().autocommit_block():` "
                         "before it. Keep ACCESS EXCLUSIVE steps short and last.",
    lock=AEL,
    skip_kinds=CONTROL_KINDS,
)
def lock_held_across_statements(stmt, state):
    tx = state.tx
    if not stmt.in_transaction or stmt.kind in ("TransactionStmt", "VariableSetStmt") or not tx.held:
        return  # (nothing held: the first statement of each transaction)
    held = tx.exclusive_held()
    if not held:
        return
    effect = state.effect(stmt)
    main = effect.table
    own = {lock.table: lock.mode for lock in effect.locks}
    waits = [f"waits for {lock.mode} on {lock.table}" for lock in effect.locks
             if lock.mode in BLOCKING_MODES and state.is_existing(lock.table, stmt)
             and not tx.covered(lock.table, lock.mode)] if not tx.timeout("lock_timeout") else []
    long = None
    if state.is_existing(main, stmt) and is_bulk_dml(stmt):
        long = f"changes rows of {main}"
    elif state.is_existing(main, stmt) and (slow := _slow(stmt, effect)):
        long = f"{slow} {main}"
    harmed = []
    for h in held:
        if waits:
            harmed.append(h)
        elif long and h.table != main:
            harmed.append(h)
        elif long and h.table == main and own.get(main) != AEL and not is_bulk_dml(stmt):
            harmed.append(h)  # e.g. a plain CREATE INDEX: its build now blocks reads, not only writes
    if not harmed:
        return
    if not long and not tx.once("lock-held-across-statements:wait"):
        return  # a second wait in the same revision says nothing new: the fix (lock_timeout, split) is the same
    what = " and ".join(waits[:1] + ([long] if long else []))
    tables = ", ".join(f"{h.table} (taken at {_where(h, stmt)})" for h in harmed)
    message = (f"{_verb(stmt)} {what} while the transaction holds ACCESS EXCLUSIVE on {tables}: "
               f"every query on {harmed[0].table} waits until the migration commits")
    hint = None
    if any(h.revision and h.revision != stmt.revision for h in harmed) and not tx.per_migration:
        hint = ("The lock comes from an earlier revision of the same `alembic upgrade`: Alembic runs them all in "
                "one transaction because env.py does not pass transaction_per_migration=True to "
                "context.configure(). Pass it, so each revision commits and releases its locks.")
    first = harmed[0]
    yield Hit(message, table=first.table, lock=AEL, hint=hint, once_per_run=(first.table, first.revision, first.line))


@sql_rule(
    "backfill-in-migration", "warning",
    summary="UPDATE/DELETE of a whole table, or bulk DML in the same transaction as DDL that locks that table.",
    why="An UPDATE or DELETE without WHERE touches every row in one transaction: every row stays locked until "
        "the migration commits, writers block, WAL and replication lag spike, and the table bloats. Run after "
        "DDL that took ACCESS EXCLUSIVE on the table (ADD COLUMN, SET NOT NULL ...) in the same transaction, a "
        "backfill keeps that lock for its whole duration: nobody can even read the table.",
    recipe="Backfill outside the schema migration: a separate revision that runs after the DDL has committed "
           "(transaction_per_migration=True in env.py), inside `with op.get_context().autocommit_block():`, in "
           "batches (`UPDATE ... WHERE id BETWEEN :a AND :b`), or as a job run by the application.",
    lock="ROW EXCLUSIVE",
    skip_kinds=CONTROL_KINDS,
)
def backfill_in_migration(stmt, state):
    tx = state.tx
    dml = stmt.kind in ROW_KINDS
    if not dml and not tx.written:
        return  # DDL with no backfill before it in the transaction (nearly every statement): nothing to say
    effect = state.effect(stmt)
    table = effect.table
    if not state.is_existing(table):
        return
    if dml and is_bulk_dml(stmt):
        held = tx.held.get(table) if stmt.in_transaction else None
        under_lock = held is not None and held.exclusive
        if under_lock:
            yield Hit(f"{_verb(stmt)} of {table} runs while this transaction holds ACCESS EXCLUSIVE on {table} "
                      f"(taken at {_where(held, stmt)}): nobody can read or write {table} until the backfill "
                      "and the rest of the migration are done", table=table, lock=AEL)
        elif stmt.kind in ("UpdateStmt", "DeleteStmt") and not stmt.body.get("whereClause"):
            yield Hit(f"{_verb(stmt)} without WHERE changes every row of {table} in one statement: each row "
                      "stays locked until the migration commits", table=table)
        return
    if stmt.in_transaction and effect.mode == AEL:
        for lock in effect.locks:
            earlier = tx.written.get(lock.table)
            if lock.mode == AEL and earlier is not None:
                yield Hit(f"{_verb(stmt)} takes ACCESS EXCLUSIVE on {lock.table} in the same transaction as the "
                          f"{_verb(earlier)} at line {earlier.line}: the rows it changed stay locked, and now the "
                          "whole table, until the migration commits", table=lock.table, lock=AEL)


@sql_rule(
    "drop-fk-locks-parent", "warning",
    summary="Dropping a foreign key, or a table that has one, locks the referenced table too.",
    why="DROP CONSTRAINT on a foreign key and DROP TABLE take ACCESS EXCLUSIVE on the referenced (parent) table "
        "as well, to remove its internal triggers. The parent is usually the busiest table (users, accounts): the "
        "drop queues behind any long query on it, and every query on it queues behind the drop.",
    recipe="Set a short lock timeout first (`op.execute(\"SET lock_timeout = '2s'\")`, retried on failure) and "
           "drop foreign keys at a quiet time, one per revision; drop the foreign key in its own revision before "
           "dropping the table.",
    lock=AEL,
    kinds=("DropStmt", "AlterTableStmt"),
    subtypes=("AT_DropConstraint",),
)
def drop_fk_locks_parent(stmt, state):
    fks = state.foreign_keys
    body = stmt.body
    if stmt.kind == "DropStmt" and body.get("removeType") == "OBJECT_TABLE":
        dropped = [name for _, name in drops(stmt)]
        for table in dropped:
            parents = [p for p in fks.parents(table) if p not in dropped and state.is_existing(p)]
            if parents:
                names = ", ".join(parents)
                keys = "foreign keys reference" if len(parents) > 1 else "foreign key references"
                yield Hit(f"DROP TABLE {table} also takes ACCESS EXCLUSIVE on {names}, which its {keys}: "
                          f"every query on {names} waits for it", table=parents[0], lock=AEL)
            if body.get("behavior") == "DROP_CASCADE":
                for child in fks.children(table):
                    if child not in dropped and state.is_existing(child):
                        yield Hit(f"DROP TABLE {table} CASCADE drops the foreign key of {child} and takes "
                                  f"ACCESS EXCLUSIVE on {child}", table=child, lock=AEL)
    elif stmt.kind == "AlterTableStmt":
        table = relation_name(body.get("relation"))
        for item in body.get("cmds") or ():
            cmd = item.get("AlterTableCmd", {})
            if cmd.get("subtype") != "AT_DropConstraint":
                continue
            parent = fks.parent_of(table, cmd.get("name"))
            if parent and parent != table and state.is_existing(parent):
                yield Hit(f"dropping foreign key {cmd.get('name')} of {table} also takes ACCESS EXCLUSIVE on "
                          f"{parent}: every query on {parent} waits for it", table=parent, lock=AEL)


@sql_rule(
    "require-lock-timeout", "warning",
    summary="A statement that takes a blocking lock on an existing table runs without a lock_timeout.",
    why="A DDL statement waiting for its lock (behind one long-running query or an idle-in-transaction "
        "session) makes every later query on the table queue behind it: a brief ALTER becomes an outage. "
        "lock_timeout makes it give up instead, and the migration can be retried.",
    recipe=f"Start upgrade() with `{SET_LOCK_TIMEOUT}`, or set it once for every migration in env.py "
           "(`connection.execute(text(\"SET lock_timeout = '5s'\"))`, or `-c lock_timeout=5s` in connect_args "
           "options) and tell the reviewer with `assume_lock_timeout = true` in [tool.alembic-review] "
           "(a literal `lock_timeout` setting in env.py is detected on its own). Tables created in the same "
           "migration never need it.",
    skip_kinds=CONTROL_KINDS,
)
def require_lock_timeout(stmt, state):
    tx = state.tx
    if tx.timeout("lock_timeout") or stmt.kind == "TransactionStmt":
        return
    locks = [lock for lock in state.effect(stmt).locks
             if lock.mode in BLOCKING_MODES and state.is_existing(lock.table, stmt)
             and not (stmt.in_transaction and tx.covered(lock.table, lock.mode))]
    if locks and tx.once("require-lock-timeout"):
        lock = locks[0]
        yield Hit(f"{_verb(stmt)} takes {lock.mode} on {lock.table} with no lock_timeout: if a long query holds "
                  f"{lock.table}, this statement waits and every query on {lock.table} queues behind it "
                  "(said once per revision)", table=lock.table, lock=lock.mode)


@sql_rule(
    "require-statement-timeout", "warning",
    summary="A statement that scans or rewrites an existing table under a blocking lock runs without a statement_timeout.",
    why="A rewrite or a validating scan holds its lock for as long as it takes on the production table's size, "
        "not the size of a developer's database. statement_timeout bounds how long the table can stay blocked.",
    recipe="Start upgrade() with `op.execute(\"SET statement_timeout = '5min'\")` (or set it in env.py and "
           "`assume_lock_timeout = true`), and prefer the forms that do not hold the lock while scanning "
           "(NOT VALID then VALIDATE, CONCURRENTLY).",
    skip_kinds=CONTROL_KINDS,
)
def require_statement_timeout(stmt, state):
    tx = state.tx
    if tx.timeout("statement_timeout"):
        return
    effect = state.effect(stmt)
    slow = _slow(stmt, effect) if effect.rewrite or effect.scan else None  # most statements: neither, no call
    if not slow:
        return  # nothing to bound
    table = effect.table
    mode = effect.locks[0].mode if effect.locks else None  # the mode on its main table, the first one
    if mode in BLOCKING_MODES and state.is_existing(table, stmt) and tx.once("require-statement-timeout"):
        yield Hit(f"{_verb(stmt)} {slow} {table} while holding {mode}, "
                  "with no statement_timeout to bound it (said once per revision)", table=table, lock=mode)


@sql_rule(
    "ban-uncommitted-transaction", "warning",
    summary="The migration's SQL opens a transaction (BEGIN) that it never commits or rolls back.",
    why="A BEGIN issued through op.execute without its COMMIT leaves a transaction open where Alembic expects "
        "none (inside autocommit_block) or merges into Alembic's own: statements that must run outside a "
        "transaction (CREATE INDEX CONCURRENTLY) fail, and locks stay held until Alembic finally commits.",
    recipe="Let Alembic manage transactions: remove the BEGIN, and use `with op.get_context().autocommit_block():` "
           "for statements that must run outside a transaction.",
    kinds=("TransactionStmt",),
)
def ban_uncommitted_transaction(stmt, state):
    if stmt.body.get("kind") in TRANSACTION_STARTS and state.tx.never_closed(stmt):  # only a BEGIN can be
        yield Hit("BEGIN without a COMMIT or ROLLBACK later in this migration")


@sql_rule(
    "transaction-nesting", "warning",
    summary="BEGIN or COMMIT inside the transaction Alembic manages, or a COMMIT with none open.",
    why="Alembic runs each migration inside a transaction. A BEGIN there does nothing (PostgreSQL only warns) "
        "so the statements are not isolated as the author thought; a COMMIT or ROLLBACK ends Alembic's "
        "transaction: what ran before is committed (or lost) on its own, the rest runs without a transaction, "
        "and a failure leaves the database half-migrated with the old version stamp.",
    recipe="Remove the BEGIN/COMMIT. For statements that cannot run in a transaction use "
           "`with op.get_context().autocommit_block():`, which commits and reopens the transaction for Alembic.",
    kinds=("TransactionStmt",),
)
def transaction_nesting(stmt, state):
    if stmt.kind != "TransactionStmt" or stmt.managed:
        return  # Alembic's own (autocommit_block's COMMIT and BEGIN)
    kind = stmt.body.get("kind")
    tx = state.tx
    if kind in TRANSACTION_STARTS and tx.in_transaction:
        yield Hit("BEGIN inside a transaction that is already open: PostgreSQL ignores it"
                  + (" (Alembic's migration transaction)" if tx.user_begin is None else ""))
    elif kind in TRANSACTION_ENDS and tx.in_transaction and tx.user_begin is None:
        yield Hit(f"{_verb(stmt)} ends the transaction Alembic manages: the rest of the migration runs "
                  "without one, and a failure leaves it half applied")
    elif kind in TRANSACTION_ENDS and not tx.in_transaction:
        yield Hit(f"{_verb(stmt)} with no transaction open: PostgreSQL only warns ('there is no transaction in "
                  "progress'); the statements before it were not grouped as the author thought")


@sql_rule(
    "non-transactional-in-transaction", "error",
    summary="A statement PostgreSQL refuses inside a transaction block runs inside the migration's transaction.",
    why="Alembic runs each migration in a transaction. Some statements cannot run in one: ALTER TYPE ... "
        "ADD VALUE before PostgreSQL 12, VACUUM, CREATE/DROP DATABASE, CREATE/DROP TABLESPACE, ALTER SYSTEM. "
        "The deploy stops with an error at this statement. (The CONCURRENTLY forms are reported by "
        "ban-concurrent-index-creation-in-transaction.)",
    recipe="Run the op.execute(...) inside `with op.get_context().autocommit_block():`; for an enum value "
           "before PostgreSQL 12, that is the only way to add it from a migration.",
    kinds=MAY_BE_NON_TRANSACTIONAL,
    subtypes=("AT_DetachPartition",),  # the one ALTER TABLE subcommand that may refuse a transaction (CONCURRENTLY)
)
def non_transactional_in_transaction(stmt, state):
    if not stmt.in_transaction or stmt.kind == "TransactionStmt":
        return
    if state.effect(stmt).transactional:  # the statement's cached lock effect, as every rule sees it
        return
    if any(True for _ in ban_concurrent_index_creation_in_transaction(stmt, state)):
        return  # said already, with the CONCURRENTLY recipe
    yield Hit(f"{_verb(stmt)} cannot run inside a transaction block on PostgreSQL {state.pg_version}: "
              "the migration fails here")
