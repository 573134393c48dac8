"""Index builds: CREATE INDEX blocks writes for the whole build unless CONCURRENTLY."""

from linters.rules import Hit, rule
from linters.sql import relation_name

CONCURRENT_RECIPE = (
    "Build the index with `postgresql_concurrently=True` inside "
    "`with op.get_context().autocommit_block():` (CONCURRENTLY cannot run in a transaction). "
    "If the build fails it leaves an INVALID index: drop it with "
    "`op.drop_index(..., postgresql_concurrently=True, if_exists=True)` and retry."
)


@rule(
    "require-concurrent-index-creation", "error", "sql",
    summary="CREATE INDEX on an existing table without CONCURRENTLY blocks writes while it builds.",
    why="A plain CREATE INDEX takes a SHARE lock: every INSERT, UPDATE and DELETE on the table waits "
        "until the whole index is built, minutes to hours on a large table.",
    recipe=CONCURRENT_RECIPE,
    lock="SHARE",
)
def require_concurrent_index_creation(stmt, state):
    body = stmt.body
    if stmt.kind != "IndexStmt" or body.get("concurrent"):
        return
    table = relation_name(body.get("relation"))
    if state.is_new(table):
        return  # nobody writes to a table created in this same run
    index = body.get("idxname") or "index"
    yield Hit(f"CREATE INDEX {index} on {table} blocks writes to {table} while the index builds",
              table=table, lock="SHARE")


@rule(
    "ban-concurrent-index-creation-in-transaction", "error", "sql",
    summary="CREATE INDEX CONCURRENTLY inside the migration's transaction fails.",
    why="PostgreSQL refuses CREATE INDEX CONCURRENTLY in a transaction block, and Alembic runs every "
        "migration in one: the deploy stops with an error at this statement.",
    recipe="Put the op.create_index(..., postgresql_concurrently=True) call inside "
           "`with op.get_context().autocommit_block():`.",
    lock="SHARE UPDATE EXCLUSIVE",
)
def ban_concurrent_index_creation_in_transaction(stmt, state):
    if stmt.kind == "IndexStmt" and stmt.body.get("concurrent") and stmt.in_transaction:
        table = relation_name(stmt.body.get("relation"))
        yield Hit("CREATE INDEX CONCURRENTLY cannot run inside the migration's transaction block",
                  table=table, lock="SHARE UPDATE EXCLUSIVE")
