"""Whole-table maintenance in migrations: partition detach, VACUUM FULL and CLUSTER.

Tables created earlier in the same run are not reported.
"""

from linters.rules import Hit, sql_rule
from linters.rules.nodes import (ALTER_TABLE, EXEMPT_NEW_TABLES, alter_table_commands, command_lock, lock_of,
                                  option_on)
from linters.sql import relation_name


@sql_rule(
    "require-concurrent-partition-detach", "warning",
    summary="DETACH PARTITION without CONCURRENTLY locks the whole partitioned table ACCESS EXCLUSIVE.",
    why="A plain DETACH PARTITION takes ACCESS EXCLUSIVE on the parent: every query on any partition waits, "
        "and the DETACH itself waits behind every running query. DETACH ... CONCURRENTLY (PostgreSQL 14+) "
        "needs only SHARE UPDATE EXCLUSIVE on the parent. The detach itself is quick, so this is a warning; "
        "like squawk it is reported on every version, with a different hint before 14." + EXEMPT_NEW_TABLES,
    recipe="Inside `with op.get_context().autocommit_block():` run "
           "`op.execute('ALTER TABLE parent DETACH PARTITION child CONCURRENTLY')` (PostgreSQL 14+).",
    lock="ACCESS EXCLUSIVE",
    kinds=ALTER_TABLE,
    subtypes=("AT_DetachPartition",),
)
def require_concurrent_partition_detach(stmt, state):
    for table, subtype, cmd in alter_table_commands(stmt):
        partition = (cmd.get("def") or {}).get("PartitionCmd", {})
        if subtype != "AT_DetachPartition" or partition.get("concurrent") or not state.is_shared(table):
            continue
        hint = None
        if state.pg_version < 14:
            hint = ("DETACH PARTITION CONCURRENTLY needs PostgreSQL 14+; before that, set a short lock_timeout "
                    "(op.execute(\"SET lock_timeout = '2s'\")) and retry the detach at a quiet time.")
        yield Hit(f"detaching {relation_name(partition.get('name'))} locks all of {table} ACCESS EXCLUSIVE",
                  table=table, lock=command_lock(stmt, cmd, state, table), hint=hint)


def _full_vacuum(body: dict) -> bool:
    return body.get("is_vacuumcmd") and option_on(body.get("options"), "full")


@sql_rule(
    "prefer-repack", "error",
    summary="VACUUM FULL and CLUSTER rewrite the table under ACCESS EXCLUSIVE.",
    why="Both copy the whole table and rebuild its indexes while holding ACCESS EXCLUSIVE: no reads, no writes "
        "until done. squawk reports this only for PostgreSQL 19+, where REPACK CONCURRENTLY exists; the lock "
        "is the same on every version, so this rule always reports it and adapts the hint to pg_version." + EXEMPT_NEW_TABLES,
    recipe="Do not rewrite tables from a migration. PostgreSQL 19+: `REPACK (CONCURRENTLY) t` run by hand; "
           "before that, the pg_repack extension (`pg_repack --table t`), which holds the strong lock only "
           "for a moment at the end.",
    lock="ACCESS EXCLUSIVE",
    kinds=("VacuumStmt", "ClusterStmt"),
)
def prefer_repack(stmt, state):
    body = stmt.body
    if stmt.kind == "VacuumStmt" and _full_vacuum(body):
        tables = [relation_name(r.get("VacuumRelation", {}).get("relation")) for r in body.get("rels") or ()]
        what = "VACUUM FULL"
    elif stmt.kind == "ClusterStmt":
        tables = [relation_name(body.get("relation"))] if body.get("relation") else []
        what = "CLUSTER"
    else:
        return
    hint = None
    if state.pg_version < 19:
        hint = ("Use the pg_repack extension (`pg_repack --table t`), outside the migration: it rewrites online "
                "and takes ACCESS EXCLUSIVE only briefly at the end.")
    if not tables:
        yield Hit(f"{what} without a table rewrites every table it processes under ACCESS EXCLUSIVE",
                  lock="ACCESS EXCLUSIVE", hint=hint)
    for table in tables:
        if state.is_shared(table):
            yield Hit(f"{what} {table} rewrites {table} under ACCESS EXCLUSIVE", table=table,
                      lock=lock_of(stmt.node, state, table), hint=hint)


# ALTER TABLE subcommands that change which triggers, rules and row-level security policies apply to the
# sessions of the running application, and what each does to them. ENABLE of a named trigger or rule turns
# on one that someone disabled; not after this run disabled that table's triggers / rules (our own recipe's
# second half). ENABLE TRIGGER ALL / USER is the generic restore after a bulk load, often defensive: not one.
RE_ENABLE = {"AT_EnableTrig": "trigger", "AT_EnableRule": "rule"}
FIRING_CHANGES = {
    "AT_DisableTrigAll": "disables every trigger, foreign-key checks included,",
    "AT_DisableTrigUser": "disables every user trigger",
    "AT_DisableTrig": "disables trigger {name}",
    "AT_EnableTrig": "enables trigger {name} (disabled before this run: the running release never had it fire)",
    "AT_EnableRule": "enables rule {name} (disabled before this run: the running release never had it apply)",
    "AT_EnableReplicaTrig": "makes trigger {name} replica-only (it stops firing for the application's writes)",
    "AT_EnableAlwaysTrig": "makes trigger {name} fire in replication sessions too",
    "AT_DisableRule": "disables rule {name}",
    "AT_EnableReplicaRule": "makes rule {name} replica-only (it stops applying to the application's queries)",
    "AT_EnableAlwaysRule": "makes rule {name} apply in replication sessions too",
    "AT_ForceRowSecurity": "forces row-level security on the table's owner too",
    "AT_NoForceRowSecurity": "lets the table's owner bypass row-level security",
}


@sql_rule(
    "ban-disable-trigger", "warning",
    summary="Disabling triggers or rules, or forcing row-level security on or off for the owner, changes what every "
            "session's writes and reads do; DISABLE TRIGGER ALL also turns off foreign keys.",
    why="A disabled trigger stays disabled for every session once the migration commits: audit rows, derived "
        "columns and the application's invariants stop being maintained. DISABLE TRIGGER ALL (and SYSTEM) "
        "also disables the internal triggers that enforce foreign keys: rows that break them get in and are "
        "never checked again (a later VALIDATE does not re-check them). ENABLE REPLICA makes a trigger or rule "
        "skip the application's sessions just as DISABLE does; ENABLE ALWAYS adds it to replication sessions; "
        "ENABLE of a named trigger or rule an earlier release disabled turns on what the running release never "
        "saw. "
        "FORCE / NO FORCE ROW LEVEL SECURITY change whether the table's owner, often the application's role, "
        "is held to the policies (ENABLE / DISABLE: ban-alter-row-level-security). Warning, not error: re-enabled in the "
        "same transaction, no other session ever runs without it (the SHARE ROW EXCLUSIVE lock blocks their "
        "writes meanwhile), which is the usual bulk-load recipe." + EXEMPT_NEW_TABLES,
    recipe="Re-enable it in the same transaction (`ALTER TABLE t ENABLE TRIGGER ...` before the revision ends), "
           "or change the data without disabling triggers; never disable ALL on a table with foreign keys. "
           "Row-level security: ship FORCE / NO FORCE with the release that expects it.",
    lock="SHARE ROW EXCLUSIVE",
    kinds=ALTER_TABLE,
    subtypes=tuple(FIRING_CHANGES),
)
def ban_disable_trigger(stmt, state):
    for table, subtype, cmd in alter_table_commands(stmt):
        what = FIRING_CHANGES.get(subtype)
        if what is None or not state.is_existing(table) or (table, RE_ENABLE.get(subtype)) in state.disabled_in_run:
            continue
        yield Hit(f"{what.format(name=cmd.get('name'))} on {table} for every session", table=table,
                  lock=command_lock(stmt, cmd, state, table))
