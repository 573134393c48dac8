"""Statements outside the migration's transaction that cannot be re-run after a partial failure."""

from linters.rules import Hit, sql_rule
from linters.rules.nodes import alter_table_commands, object_name
from linters.sql import relation_name

# ALTER TABLE subcommands that fail when re-run, with the guard that makes them re-runnable (None: none).
ALTER_GUARDS = {
    "AT_AddColumn": "IF NOT EXISTS (op.add_column(..., if_not_exists=True))",
    "AT_DropColumn": "IF EXISTS (op.drop_column(..., if_exists=True))",
    "AT_DropConstraint": "IF EXISTS (op.drop_constraint(..., if_exists=True))",
    "AT_DropIdentity": "IF EXISTS",
    "AT_DropExpression": "IF EXISTS",
    "AT_AddIdentity": None,
    "AT_AttachPartition": None,
    "AT_DetachPartition": None,
}


def _unguarded(stmt, state):
    """What in `stmt` fails when the migration is re-run after it already happened, and the missing guard."""
    body = stmt.body
    if stmt.kind == "CreateStmt" and not body.get("if_not_exists") \
            and (body.get("relation") or {}).get("relpersistence") != "t":  # a temporary table ends with the session
        yield f"CREATE TABLE {relation_name(body.get('relation'))}", \
            "IF NOT EXISTS (op.create_table(..., if_not_exists=True))"
    elif stmt.kind == "IndexStmt" and not body.get("if_not_exists") and body.get("idxname") not in state.guarded_indexes \
            and (body.get("idxname") or not body.get("concurrent")):  # unnamed: a re-run builds one more, and succeeds
        yield f"CREATE INDEX {body.get('idxname') or ''}".rstrip(), (
            "a preceding op.drop_index(<name>, table_name=..., postgresql_concurrently=True, if_exists=True): a "
            "failed CONCURRENTLY build leaves an INVALID index behind, which if_not_exists=True would keep")
    elif stmt.kind == "DropStmt" and not body.get("missing_ok"):
        kind = body.get("removeType", "").removeprefix("OBJECT_").lower()
        names = ", ".join(filter(None, (object_name(o) for o in body.get("objects") or ())))
        yield f"DROP {kind.upper()} {names}", \
            "IF EXISTS (op.drop_index(..., if_exists=True), op.drop_table(..., if_exists=True))"
    elif stmt.kind == "RenameStmt" and not body.get("missing_ok"):
        old = body.get("subname") or relation_name(body.get("relation")) or object_name(body.get("object") or {}) or ""
        yield f"RENAME {old} to {body.get('newname')}", None
    elif stmt.kind == "AlterEnumStmt" and body.get("newVal") and not body.get("oldVal") \
            and not body.get("skipIfNewValExists"):
        yield f"ALTER TYPE ... ADD VALUE {body['newVal']!r}", "IF NOT EXISTS (ADD VALUE IF NOT EXISTS '...')"
    for table, subtype, cmd in alter_table_commands(stmt):
        if subtype == "AT_AddConstraint":
            name = (cmd.get("def") or {}).get("Constraint", {}).get("conname")
            if (table, name) not in state.guarded_constraints:
                yield f"ADD CONSTRAINT {name or ''} on {table}", \
                    "a preceding DROP CONSTRAINT IF EXISTS (op.drop_constraint(..., if_exists=True))"
        elif subtype in ALTER_GUARDS and not cmd.get("missing_ok") and not _must_run_outside(cmd):
            yield f"{subtype.removeprefix('AT_')} on {table}", ALTER_GUARDS[subtype]


def _must_run_outside(cmd: dict) -> bool:
    """DETACH ... CONCURRENTLY has no guard and cannot run in a transaction: nothing better to advise."""
    return bool((cmd.get("def") or {}).get("PartitionCmd", {}).get("concurrent"))


@sql_rule(
    "prefer-robust-stmts", "warning",
    summary="A statement outside the migration's transaction, or committed before an autocommit_block, that fails "
            "when the migration is re-run.",
    why="Inside Alembic's transaction a failure rolls everything back, so a re-run starts clean: those "
        "statements are not reported (squawk's own rule also accepts statements wrapped in a transaction, "
        "but `alembic upgrade --sql | squawk` cannot see Alembic's transaction and reports every statement). "
        "Statements inside `op.get_context().autocommit_block()` commit one by one, and the COMMIT that opens "
        "the block commits the statements before it, while Alembic stamps the version only after the "
        "revision's last statement: if a later one fails, the re-run trips over what already happened "
        "('already exists', 'does not exist') and the deploy is stuck until someone edits the database by "
        "hand. Idempotent statements (VALIDATE CONSTRAINT, SET NOT NULL, SET/DROP DEFAULT, SET lock_timeout) are not reported. Beyond squawk, ALTER TYPE ... "
        "ADD VALUE without IF NOT EXISTS is reported: it is the other common autocommit_block statement.",
    recipe="Guard every statement in an autocommit_block. Building an index: first "
           "`op.drop_index('ix', table_name='t', postgresql_concurrently=True, if_exists=True)`, then "
           "`op.create_index('ix', 't', [...], postgresql_concurrently=True)`, so a re-run also replaces the "
           "INVALID index a failed build leaves (`if_not_exists=True` is accepted too, but would keep that "
           "index). Dropping: `if_exists=True`. Enum values: `ALTER TYPE ... ADD VALUE IF NOT EXISTS`. Keep "
           "what cannot be guarded (renames, ADD CONSTRAINT without a preceding DROP CONSTRAINT IF EXISTS) "
           "inside the migration's transaction, after the autocommit_block or in a revision of its own.",
    kinds=("CreateStmt", "IndexStmt", "DropStmt", "RenameStmt", "AlterEnumStmt", "AlterTableStmt"),  # _unguarded
    subtypes=("AT_AddConstraint", *ALTER_GUARDS),  # the ALTER TABLE subcommands _unguarded reads
)
def prefer_robust_stmts(stmt, state):
    if stmt.kind == "TransactionStmt" or getattr(stmt, "managed", False):
        return
    if stmt.in_transaction and not state.tx.committed_early(stmt):
        return
    where = ("is committed before the revision's last statement (a COMMIT or an autocommit_block follows), so "
             "the version is not stamped if a later statement fails" if stmt.in_transaction
             else "runs outside the migration's transaction")
    for what, guard in _unguarded(stmt, state):
        how = f"add {guard}" if guard else "it cannot be guarded: keep it inside the migration's transaction"
        if stmt.in_transaction and not guard:
            how = "it cannot be guarded: move it after the autocommit_block, or into a revision of its own"
        yield Hit(f"{what} {where}, and fails if the migration is re-run; {how}")
