"""Index builds: CREATE INDEX blocks writes for the whole build unless CONCURRENTLY."""

from linters.rules import Hit, sql_rule
from linters.suggest import CONCURRENTLY
from linters.rules.nodes import EXEMPT_NEW_TABLES, lock_of, object_name, option_on
from linters.sql import relation_name

CONCURRENT_RECIPE = (
    "Build the index with `postgresql_concurrently=True` inside "
    "`with op.get_context().autocommit_block():` (CONCURRENTLY cannot run in a transaction). "
    "If the build fails it leaves an INVALID index: drop it with "
    "`op.drop_index(..., postgresql_concurrently=True, if_exists=True)` and retry."
)


@sql_rule(
    "require-concurrent-index-creation", "error",
    summary="CREATE INDEX on an existing table without CONCURRENTLY blocks writes while it builds.",
    why="A plain CREATE INDEX takes a SHARE lock: every INSERT, UPDATE and DELETE on the table waits "
        "until the whole index is built, minutes to hours on a large table." + EXEMPT_NEW_TABLES,
    recipe=CONCURRENT_RECIPE,
    lock="SHARE",
    kinds=("IndexStmt",),
    fix=CONCURRENTLY,
)
def require_concurrent_index_creation(stmt, state):
    body = stmt.body
    if stmt.kind != "IndexStmt" or body.get("concurrent"):
        return
    table = relation_name(body.get("relation"))
    if state.is_private(table):
        return  # nobody else can see a table created in this transaction
    index = body.get("idxname") or "index"
    yield Hit(f"CREATE INDEX {index} on {table} blocks writes to {table} while the index builds",
              table=table, lock="SHARE")


@sql_rule(
    "ban-concurrent-index-creation-in-transaction", "error",
    summary="CONCURRENTLY index work (and DETACH ... CONCURRENTLY) inside the migration's transaction fails.",
    why="PostgreSQL refuses CREATE INDEX CONCURRENTLY in a transaction block, and Alembic runs every "
        "migration in one: the deploy stops with an error at this statement. Beyond squawk, which checks "
        "only CREATE INDEX, this also reports DROP INDEX CONCURRENTLY, REINDEX ... CONCURRENTLY and "
        "ALTER TABLE ... DETACH PARTITION ... CONCURRENTLY, which fail the same way.",
    recipe="Put the op.create_index(..., postgresql_concurrently=True) call (or "
           "op.drop_index(..., postgresql_concurrently=True), or the op.execute of the REINDEX/DETACH) inside "
           "`with op.get_context().autocommit_block():`.",
    lock="SHARE UPDATE EXCLUSIVE",
    kinds=("IndexStmt", "DropStmt", "ReindexStmt", "AlterTableStmt"),
    subtypes=("AT_DetachPartition",),
    fix=CONCURRENTLY,
)
def ban_concurrent_index_creation_in_transaction(stmt, state):
    if not stmt.in_transaction:
        return
    body = stmt.body
    if stmt.kind == "IndexStmt" and body.get("concurrent"):
        table = relation_name(body.get("relation"))
        yield Hit("CREATE INDEX CONCURRENTLY cannot run inside the migration's transaction block",
                  table=table, lock="SHARE UPDATE EXCLUSIVE")
    elif stmt.kind == "DropStmt" and body.get("removeType") == "OBJECT_INDEX" and body.get("concurrent"):
        names = [object_name(o) for o in body.get("objects") or ()]
        yield Hit("DROP INDEX CONCURRENTLY cannot run inside the migration's transaction block",
                  table=state.created_indexes.get(names[0]) if names else None, lock="SHARE UPDATE EXCLUSIVE")
    elif stmt.kind == "ReindexStmt" and _reindex_concurrently(body):
        yield Hit("REINDEX CONCURRENTLY cannot run inside the migration's transaction block",
                  table=_reindexed_table(body, state), lock="SHARE UPDATE EXCLUSIVE")
    elif stmt.kind == "AlterTableStmt":
        for cmd in body.get("cmds") or ():
            partition = cmd.get("AlterTableCmd", {}).get("def", {}).get("PartitionCmd", {})
            if cmd["AlterTableCmd"].get("subtype") == "AT_DetachPartition" and partition.get("concurrent"):
                yield Hit("DETACH PARTITION ... CONCURRENTLY cannot run inside the migration's transaction block",
                          table=relation_name(body.get("relation")), lock="SHARE UPDATE EXCLUSIVE")


def _reindex_concurrently(body: dict) -> bool:
    return option_on(body.get("params"), "concurrently")


def _reindexed_table(body: dict, state) -> str | None:
    name = relation_name(body.get("relation"))
    if body.get("kind") == "REINDEX_OBJECT_INDEX":
        return state.created_indexes.get(name)
    return name if body.get("kind") == "REINDEX_OBJECT_TABLE" else None


@sql_rule(
    "require-concurrent-index-deletion", "warning",
    summary="DROP INDEX without CONCURRENTLY locks the table ACCESS EXCLUSIVE.",
    why="A plain DROP INDEX takes ACCESS EXCLUSIVE on the index's table: it waits behind every running query "
        "and blocks every read and write queued after it. The drop itself is quick, so this is a warning. "
        "Indexes of tables created earlier in the same run are not reported.",
    recipe="Inside `with op.get_context().autocommit_block():` call "
           "`op.drop_index('ix_name', table_name='t', postgresql_concurrently=True, if_exists=True)`.",
    lock="ACCESS EXCLUSIVE",
    kinds=("DropStmt",),
    fix=CONCURRENTLY,
)
def require_concurrent_index_deletion(stmt, state):
    body = stmt.body
    if stmt.kind != "DropStmt" or body.get("removeType") != "OBJECT_INDEX" or body.get("concurrent"):
        return
    for obj in body.get("objects") or ():
        index = object_name(obj)
        table = state.created_indexes.get(index) or stmt.op_table
        if not state.is_private(table) and table not in state.dropped_in_run:  # its table goes anyway
            yield Hit(f"DROP INDEX {index} locks {table or 'its table'} ACCESS EXCLUSIVE; drop it CONCURRENTLY",
                      table=table, lock="ACCESS EXCLUSIVE")


@sql_rule(
    "require-concurrent-reindex", "error",
    summary="REINDEX without CONCURRENTLY blocks writes (and reads that use the index) while it rebuilds.",
    why="REINDEX holds SHARE on the table (no writes) and ACCESS EXCLUSIVE on each index it rebuilds (no "
        "queries using it) for the whole rebuild. REINDEX ... CONCURRENTLY (PostgreSQL 12+) builds a new "
        "index next to the old one and swaps them. Tables created earlier in the same run are not reported.",
    recipe="Inside `with op.get_context().autocommit_block():` run "
           "`op.execute('REINDEX INDEX CONCURRENTLY ix_name')` (PostgreSQL 12+).",
    lock="SHARE",
    kinds=("ReindexStmt",),
)
def require_concurrent_reindex(stmt, state):
    body = stmt.body
    if stmt.kind != "ReindexStmt" or _reindex_concurrently(body):
        return
    table = _reindexed_table(body, state)
    if state.is_private(table):
        return
    hint = None
    if state.pg_version < 12:
        hint = ("REINDEX CONCURRENTLY needs PostgreSQL 12+. Before that, build a replacement with "
                "op.create_index(..., postgresql_concurrently=True) in an autocommit_block, then drop the old "
                "index CONCURRENTLY and rename the new one.")
    kind = body.get("kind", "")
    if kind == "REINDEX_OBJECT_SYSTEM":  # PostgreSQL cannot reindex system catalogs concurrently: no advice to give
        return
    what = kind.removeprefix("REINDEX_OBJECT_").lower()
    target = relation_name(body.get("relation")) or (f"{what} {body['name']}" if body.get("name") else f"the {what}")
    yield Hit(f"REINDEX of {target} blocks writes while it rebuilds; use CONCURRENTLY",
              table=table, hint=hint,
              lock=lock_of(stmt.node, state, table) if body.get("kind") == "REINDEX_OBJECT_TABLE" else "SHARE")
