"""Constraints: validation scans under strong locks, index builds hidden in ADD CONSTRAINT, domain checks.

Lock rules here are silent for tables created earlier in the same run: an empty table is validated
and indexed instantly, and nobody is waiting on it.
"""

from linters.rules import Hit, sql_rule
from linters.suggest import NOT_VALID
from linters.rules.nodes import (ALTER_TABLE, EXEMPT_NEW_TABLES, alter_table_commands, column_constraints,
                                 command_lock, derived, dotted, relation_commands, strings)
from linters.sql import relation_name

NOT_VALID_RECIPE = (
    "Add it with `postgresql_not_valid=True` (`op.create_foreign_key(..., postgresql_not_valid=True)` / "
    "`op.create_check_constraint(..., postgresql_not_valid=True)`): only new rows are checked and the lock is "
    "brief. Then validate in a separate transaction, inside `with op.get_context().autocommit_block():` (or in "
    "a migration deployed later, or with transaction_per_migration=True): "
    "`op.execute('ALTER TABLE t VALIDATE CONSTRAINT name')`, which scans under SHARE UPDATE EXCLUSIVE and lets "
    "reads and writes go on."
)


# The ALTER TABLE subcommands _added_constraints reads: ADD CONSTRAINT, and constraints written on ADD COLUMN.
ADDED_CONSTRAINTS = ("AT_AddConstraint", "AT_AddColumn")


def _added_constraints(stmt, state) -> tuple:
    """(table, constraint, command, via) for constraints an ALTER TABLE adds to an existing table.

    `via` is "column" for a constraint written on an ADD COLUMN, "table" for ADD CONSTRAINT. Read off the
    statement once for the four rules that ask; every command is on the statement's one table.
    """
    added = derived(stmt, _constraints_added) if stmt.kind == "AlterTableStmt" else ()
    return added if added and state.is_shared(added[0][0]) else ()


def _constraints_added(stmt) -> tuple:
    added = []
    for table, subtype, cmd in alter_table_commands(stmt):
        definition = cmd.get("def") or {}
        if subtype == "AT_AddConstraint" and "Constraint" in definition:
            added.append((table, definition["Constraint"], cmd, "table"))
        elif subtype == "AT_AddColumn" and "ColumnDef" in definition:
            added += [(table, con, cmd, "column") for con in column_constraints(definition["ColumnDef"])]
    return tuple(added)


def _label(con: dict) -> str:
    """The constraint's name with a leading space, or nothing when Alembic let PostgreSQL name it."""
    return f" {con['conname']}" if con.get("conname") else ""


@sql_rule(
    "adding-foreign-key-constraint", "error",
    summary="Adding a foreign key without NOT VALID blocks writes to both tables while it scans.",
    why="ADD FOREIGN KEY takes SHARE ROW EXCLUSIVE on the table and on the referenced table, then reads "
        "every row to check it: no INSERT, UPDATE or DELETE on either table until the scan ends. This is also "
        "reported for ADD COLUMN ... REFERENCES. (squawk also reports constraint-missing-not-valid on the "
        "same statement; we report a foreign key once, here.)" + EXEMPT_NEW_TABLES,
    recipe=NOT_VALID_RECIPE,
    lock="SHARE ROW EXCLUSIVE",
    kinds=ALTER_TABLE,
    subtypes=ADDED_CONSTRAINTS,
    fix=NOT_VALID,
)
def adding_foreign_key_constraint(stmt, state):
    for table, con, cmd, _ in _added_constraints(stmt, state):
        if con.get("contype") == "CONSTR_FOREIGN" and not con.get("skip_validation"):
            parent = relation_name(con.get("pktable"))
            yield Hit(f"foreign key{_label(con)} on {table} -> {parent} blocks writes to both tables "
                      f"while every row of {table} is checked",
                      table=table, lock=command_lock(stmt, cmd, state, table))


@sql_rule(
    "constraint-missing-not-valid", "error",
    summary="A CHECK constraint added without NOT VALID (or validated in the same transaction) scans under "
            "ACCESS EXCLUSIVE.",
    why="ADD CONSTRAINT ... CHECK holds ACCESS EXCLUSIVE (no reads, no writes) while it reads every row. "
        "Adding it NOT VALID is instant, and VALIDATE CONSTRAINT then needs only SHARE UPDATE EXCLUSIVE, "
        "but only if it runs in a later transaction: Alembic runs the whole upgrade (every revision of the "
        "run, by default) in one transaction, so a VALIDATE in that same transaction still holds the "
        "lock the ADD took, and is reported too. Differences from squawk: UNIQUE, PRIMARY KEY and "
        "EXCLUDE cannot be NOT VALID and are covered by disallowed-unique-constraint and "
        "adding-serial-primary-key-field; foreign keys are reported by adding-foreign-key-constraint." + EXEMPT_NEW_TABLES,
    recipe=NOT_VALID_RECIPE,
    lock="ACCESS EXCLUSIVE",
    kinds=ALTER_TABLE,
    subtypes=ADDED_CONSTRAINTS + ("AT_ValidateConstraint",),
    fix=NOT_VALID,
)
def constraint_missing_not_valid(stmt, state):
    for table, con, cmd, via in _added_constraints(stmt, state):
        if via == "table" and con.get("contype") == "CONSTR_CHECK" and not con.get("skip_validation"):
            yield Hit(f"CHECK constraint{_label(con)} on {table} scans every row while holding ACCESS EXCLUSIVE",
                      table=table, lock=command_lock(stmt, cmd, state, table))
        elif via == "column" and con.get("contype") == "CONSTR_CHECK":  # measured: scans, default or not
            column = cmd["def"]["ColumnDef"].get("colname")
            yield Hit(f"CHECK constraint{_label(con)} written on the new column {table}.{column} scans every row "
                      "while holding ACCESS EXCLUSIVE (a column constraint cannot be NOT VALID)",
                      table=table, lock=command_lock(stmt, cmd, state, table),
                      hint="Add the column without the CHECK, then add the constraint with "
                           "`op.create_check_constraint(..., postgresql_not_valid=True)` and VALIDATE it later.")
    for table, subtype, cmd in alter_table_commands(stmt):
        key = (table, cmd.get("name"))
        if subtype == "AT_ValidateConstraint" and stmt.in_transaction and _added_in_this_transaction(state, key, stmt.revision):
            foreign = state.not_valid_in_transaction[key][0] == "CONSTR_FOREIGN"
            held = "SHARE ROW EXCLUSIVE" if foreign else "ACCESS EXCLUSIVE"
            yield Hit(f"VALIDATE CONSTRAINT {key[1]} runs in the same transaction that added it NOT VALID, so "
                      f"the {held} lock of the ADD is held during the validating scan of {table}",
                      table=table, lock=held,
                      hint="Move the VALIDATE into `with op.get_context().autocommit_block():` (after the ADD "
                           "has committed) or into a later migration deployed separately.")


def _added_in_this_transaction(state, key, revision) -> bool:
    """Was constraint `key` added NOT VALID in the transaction still open?

    RunState forgets at COMMIT (autocommit_block). With transaction_per_migration (known to the
    transaction model, state.tx) each revision commits, so only the same revision shares a transaction.
    """
    if key not in state.not_valid_in_transaction:
        return False
    per_migration = getattr(getattr(state, "tx", None), "per_migration", False)
    return not per_migration or state.not_valid_in_transaction[key][1] == revision


def _index_constraint(contype: str, stmt, state) -> list:
    return [(table, con, command_lock(stmt, cmd, state, table)) for table, con, cmd, _ in _added_constraints(stmt, state)
            if con.get("contype") == contype and not con.get("indexname")]


@sql_rule(
    "disallowed-unique-constraint", "error",
    summary="ADD CONSTRAINT ... UNIQUE builds its index while holding ACCESS EXCLUSIVE.",
    why="Without USING INDEX, PostgreSQL builds the unique index inside the ALTER TABLE, with the table locked "
        "ACCESS EXCLUSIVE: no reads or writes for the whole build. Also reported for ADD COLUMN ... UNIQUE." + EXEMPT_NEW_TABLES,
    recipe="Build the index first: inside `with op.get_context().autocommit_block():` call "
           "`op.create_index('uq_t_x', 't', ['x'], unique=True, postgresql_concurrently=True)`, then "
           "`op.execute('ALTER TABLE t ADD CONSTRAINT uq_t_x UNIQUE USING INDEX uq_t_x')` (instant).",
    lock="ACCESS EXCLUSIVE",
    kinds=ALTER_TABLE,
    subtypes=ADDED_CONSTRAINTS,
)
def disallowed_unique_constraint(stmt, state):
    for table, con, lock in _index_constraint("CONSTR_UNIQUE", stmt, state):
        yield Hit(f"UNIQUE constraint{_label(con)} builds an index on {table} while holding ACCESS EXCLUSIVE",
                  table=table, lock=lock)


@sql_rule(
    "adding-serial-primary-key-field", "error",
    summary="Adding a PRIMARY KEY to an existing table builds its index while holding ACCESS EXCLUSIVE.",
    why="ADD PRIMARY KEY (or ADD COLUMN ... PRIMARY KEY) builds a unique index and checks NOT NULL inside the "
        "ALTER TABLE, holding ACCESS EXCLUSIVE for the whole build: the table is offline." + EXEMPT_NEW_TABLES,
    recipe="Inside `with op.get_context().autocommit_block():` build `op.create_index('t_pkey', 't', ['id'], "
           "unique=True, postgresql_concurrently=True)`, make the column NOT NULL cheaply (see "
           "adding-not-nullable-field), then `op.execute('ALTER TABLE t ADD CONSTRAINT t_pkey PRIMARY KEY "
           "USING INDEX t_pkey')`.",
    lock="ACCESS EXCLUSIVE",
    kinds=ALTER_TABLE,
    subtypes=ADDED_CONSTRAINTS,
)
def adding_serial_primary_key_field(stmt, state):
    for table, con, lock in _index_constraint("CONSTR_PRIMARY", stmt, state):
        yield Hit(f"PRIMARY KEY{_label(con)} builds an index on {table} while holding ACCESS EXCLUSIVE",
                  table=table, lock=lock)


@sql_rule(
    "ban-drop-constraint", "warning",
    summary="Dropping a constraint removes a guarantee running code and other writers rely on.",
    why="Code written against a UNIQUE, CHECK or FOREIGN KEY constraint assumes the database enforces it; "
        "once dropped, bad rows can arrive. The drop takes ACCESS EXCLUSIVE (a foreign key: on the "
        "referenced table too). Constraints added earlier in the same run are not reported.",
    recipe="Make sure nothing depends on the guarantee, then `op.drop_constraint(...)` and mark the line "
           "`# alembic-review: ignore[ban-drop-constraint]`.",
    lock="ACCESS EXCLUSIVE",
    kinds=ALTER_TABLE + ("AlterDomainStmt",),
    subtypes=("AT_DropConstraint",),
    breaking=True,
)
def ban_drop_constraint(stmt, state):
    if stmt.kind == "AlterDomainStmt" and stmt.body.get("subtype") == "X":  # ALTER DOMAIN ... DROP CONSTRAINT
        domain = dotted(strings(stmt.body.get("typeName")))
        if not state.created("OBJECT_DOMAIN", domain):
            yield Hit(f"dropping constraint {stmt.body.get('name')} of domain {domain} removes a guarantee every "
                      "column of that domain relied on")
        return
    for table, subtype, cmd in relation_commands(stmt):
        name = cmd.get("name")
        if subtype == "AT_DropConstraint" and state.is_existing(table) and (table, name) not in state.added_constraints \
                and not (cmd.get("missing_ok") and (table, name) in state.added_in_run):  # dropped to be re-added
            yield Hit(f"dropping constraint {name} on {table} removes a guarantee code may rely on",
                      table=table, lock=command_lock(stmt, cmd, state, table))


DOMAIN_WHY = ("A constraint on a domain cannot be added NOT VALID-then-validated per table, and PostgreSQL "
              "checks it against every column of that domain in every table (locking each) when it is "
              "added or changed. Table CHECK constraints can be changed online.")
DOMAIN_RECIPE = ("Use a plain type and a table CHECK constraint: `op.create_check_constraint(..., "
                 "postgresql_not_valid=True)` followed by VALIDATE in a separate transaction.")
CHECKING = {"CONSTR_CHECK", "CONSTR_NOTNULL"}


@sql_rule(
    "ban-create-domain-with-constraint", "warning",
    summary="A domain with a CHECK or NOT NULL constraint is hard to change online later.",
    why=DOMAIN_WHY + " (Unlike squawk, a domain with only a DEFAULT is not reported: a default is not a check.)",
    recipe=DOMAIN_RECIPE,
    kinds=("CreateDomainStmt",),
)
def ban_create_domain_with_constraint(stmt, state):
    if stmt.kind == "CreateDomainStmt":
        kinds = {c["Constraint"].get("contype") for c in stmt.body.get("constraints") or () if "Constraint" in c}
        if kinds & CHECKING:
            yield Hit(f"domain {dotted(strings(stmt.body.get('domainname')))} carries a constraint")


@sql_rule(
    "ban-alter-domain-with-add-constraint", "warning",
    summary="ALTER DOMAIN ... ADD CONSTRAINT checks every column of that domain in every table.",
    why=DOMAIN_WHY + " Domains created earlier in the same run are not reported.",
    recipe=DOMAIN_RECIPE,
    kinds=("AlterDomainStmt",),
)
def ban_alter_domain_with_add_constraint(stmt, state):
    if stmt.kind == "AlterDomainStmt" and stmt.body.get("subtype") == "C":
        name = dotted(strings(stmt.body.get("typeName")))
        if not state.created("OBJECT_DOMAIN", name):
            yield Hit(f"adding a constraint to domain {name} checks every column that uses it")
