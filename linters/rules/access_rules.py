"""Who may see and change what: privileges, row-level security, logical replication, sequence values.

None of these takes a long lock; each changes, the moment it commits, what the running release's
sessions (or a replication subscriber) can do. Tables the run created are not reported.
"""

from linters.rules import Hit, sql_rule
from linters.rules.nodes import ALTER_TABLE, alter_table_commands, command_lock, strings
from linters.sql import relation_name

EXEMPT_NEW = " Not reported for tables (and sequences) created earlier in the same run: no running code uses them yet."


def _roles(specs) -> str:
    return ", ".join(s.get("RoleSpec", {}).get("rolename") or s.get("RoleSpec", {}).get("roletype", "?")
                     .removeprefix("ROLESPEC_").lower() for s in specs or ())


@sql_rule(
    "ban-revoke", "warning",
    summary="REVOKE takes privileges away from roles the running release may connect as.",
    why="The application's next query on the object fails with 'permission denied' once the REVOKE commits; "
        "ALTER DEFAULT PRIVILEGES ... REVOKE does the same to every object created later, and removing a role "
        "from a group (REVOKE group FROM role, ALTER GROUP ... DROP USER) takes away everything the group "
        "grants." + EXEMPT_NEW,
    recipe="Revoke in a release after the code no longer needs the privilege, and check which roles the "
           "application connects as; or mark the line `# alembic-review: ignore[ban-revoke]` when it never did.",
    kinds=("GrantStmt", "AlterDefaultPrivilegesStmt", "GrantRoleStmt", "AlterRoleStmt"),
)
def ban_revoke(stmt, state):
    body = stmt.body
    if stmt.kind == "GrantStmt" and not body.get("is_grant"):
        tables = [relation_name(o) for o in body.get("objects") or () if "RangeVar" in o]
        if tables and not any(state.is_existing(t) for t in tables):
            return
        privileges = ", ".join(p["AccessPriv"].get("priv_name", "") for p in body.get("privileges") or ()) or "ALL"
        on = ", ".join(filter(None, tables)) or body.get("objtype", "").removeprefix("OBJECT_").lower()
        yield Hit(f"REVOKE {privileges.upper()} ON {on} FROM {_roles(body.get('grantees'))}: their queries fail "
                  "with 'permission denied' once it commits", table=tables[0] if len(tables) == 1 else None)
    elif stmt.kind == "AlterDefaultPrivilegesStmt" and not (body.get("action") or {}).get("is_grant"):
        yield Hit(f"ALTER DEFAULT PRIVILEGES ... REVOKE from {_roles((body.get('action') or {}).get('grantees'))}: "
                  "objects created from now on are closed to them")
    elif stmt.kind == "GrantRoleStmt" and not body.get("is_grant"):
        granted = ", ".join(p["AccessPriv"].get("priv_name", "") for p in body.get("granted_roles") or ())
        yield Hit(f"REVOKE {granted} FROM {_roles(body.get('grantee_roles'))}: they lose every privilege {granted} "
                  "grants")
    elif stmt.kind == "AlterRoleStmt" and body.get("action") == -1:  # ALTER GROUP g DROP USER ...
        for option in body.get("options") or ():
            if option.get("DefElem", {}).get("defname") == "rolemembers":
                members = option["DefElem"].get("arg", {}).get("List", {}).get("items")
                yield Hit(f"ALTER GROUP {body.get('role', {}).get('rolename')} DROP USER {_roles(members)}: they "
                          "lose every privilege the group grants")


ROW_SECURITY = {
    "AT_EnableRowSecurity": "enables row-level security on {table}: roles other than the owner see and change only "
                            "the rows a policy allows, none while no policy exists",
    "AT_DisableRowSecurity": "disables row-level security on {table}: every role with privileges on it sees every "
                             "row, whatever the policies say",
}


@sql_rule(
    "ban-alter-row-level-security", "warning",
    summary="Enabling or disabling row-level security changes which rows the running release sees.",
    why="With row-level security enabled, a role that neither owns the table nor has BYPASSRLS sees only the "
        "rows a policy lets through, and none at all while the table has no policy: the application's queries "
        "return nothing and its writes fail. Disabling it shows every row to every role with privileges on the "
        "table. (FORCE / NO FORCE are reported by ban-disable-trigger.)" + EXEMPT_NEW,
    recipe="Create the policies (op.execute('CREATE POLICY ...')) before enabling row-level security, check "
           "which role the application connects as, and ship it with the release that expects it.",
    lock="ACCESS EXCLUSIVE",
    kinds=ALTER_TABLE,
    subtypes=tuple(ROW_SECURITY),
)
def ban_alter_row_level_security(stmt, state):
    for table, subtype, cmd in alter_table_commands(stmt):
        if subtype in ROW_SECURITY and state.is_existing(table):
            yield Hit(ROW_SECURITY[subtype].format(table=table), table=table,
                      lock=command_lock(stmt, cmd, state, table))


@sql_rule(
    "ban-replica-identity", "warning",
    summary="Changing a table's REPLICA IDENTITY, or a publication's tables, changes logical replication.",
    why="REPLICA IDENTITY decides what UPDATE and DELETE write to the WAL for logical replication: NOTHING (or an "
        "index that goes away) makes PostgreSQL reject UPDATE and DELETE on a table a publication replicates "
        "('cannot update table ... because it does not have a replica identity'), FULL logs whole old rows "
        "(more WAL, slower subscribers). Dropping a publication, or dropping or replacing its tables, stops "
        "replication for the subscribers that read it." + EXEMPT_NEW,
    recipe="Agree the change with whoever runs the subscribers (CDC, read replicas via logical replication), "
           "and keep a replica identity (the primary key, DEFAULT) on every table a publication replicates.",
    kinds=("AlterTableStmt", "DropStmt", "AlterPublicationStmt"),
    subtypes=("AT_ReplicaIdentity",),
)
def ban_replica_identity(stmt, state):
    body = stmt.body
    if stmt.kind == "AlterTableStmt":
        for table, subtype, cmd in alter_table_commands(stmt):
            if subtype == "AT_ReplicaIdentity" and state.is_existing(table):
                identity = {"d": "DEFAULT", "f": "FULL", "n": "NOTHING", "i": "USING INDEX"}.get(
                    (cmd.get("def") or {}).get("ReplicaIdentityStmt", {}).get("identity_type"), "")
                yield Hit(f"REPLICA IDENTITY {identity} on {table} changes what logical replication can do with "
                          "its updates and deletes", table=table, lock=command_lock(stmt, cmd, state, table))
    elif stmt.kind == "DropStmt" and body.get("removeType") == "OBJECT_PUBLICATION":
        names = [n for o in body.get("objects") or () for n in strings([o])]
        if not any(state.created("OBJECT_PUBLICATION", n) for n in names):
            yield Hit(f"DROP PUBLICATION {', '.join(names)} stops replication for its subscribers")
    elif stmt.kind == "AlterPublicationStmt" and (
            body.get("action") in ("AP_DropObjects", "AP_SetObjects") or body.get("options")):
        what = "options" if body.get("options") else "tables"
        yield Hit(f"ALTER PUBLICATION {body.get('pubname')} changes its {what}: subscribers stop receiving what it "
                  "no longer publishes")


@sql_rule(
    "ban-alter-sequence-values", "warning",
    summary="ALTER SEQUENCE ... RESTART can hand out ids that rows already have.",
    why="RESTART (to the sequence's start, or WITH a value) makes nextval() return values it may have returned "
        "before: the next INSERT that takes an id from it fails with a duplicate key, or, without a unique "
        "constraint, silently reuses an id. The SQL alone cannot tell whether the new value is above every "
        "id in use." + EXEMPT_NEW,
    recipe="Set the sequence past the ids in use, from the data: "
           "`SELECT setval('seq', (SELECT max(id) FROM t))`, or leave it alone.",
    kinds=("AlterSeqStmt",),
)
def ban_alter_sequence_values(stmt, state):
    sequence = relation_name(stmt.body.get("sequence"))
    restarts = any(o.get("DefElem", {}).get("defname") == "restart" for o in stmt.body.get("options") or ())
    if stmt.kind != "AlterSeqStmt" or not restarts or state.created("OBJECT_SEQUENCE", sequence):
        return
    yield Hit(f"ALTER SEQUENCE {sequence} RESTART: nextval() may return ids rows already have")
