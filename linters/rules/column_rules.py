"""Column changes: rewrites of existing tables, NOT NULL traps, and changes that break running code.

Every rule here is silent for tables created earlier in the same run (nobody reads or writes them
yet), and the "breaks running code" rules are also silent for columns the run itself added.
"""

from linters.locks import lock_effect
from linters.rules import Hit, sql_rule
from linters.rules.nodes import (ALTER_TABLE, EXEMPT_NEW_COLUMNS, EXEMPT_NEW_TABLES, alter_table_commands,
                                 column_constraints, command_lock, relation_commands, single_command, type_name)


def _old_column(state, table, column) -> bool:
    """A column that running code may use: on an existing table and not added by this run."""
    return state.is_existing(table) and (table, column) not in state.added_columns


@sql_rule(
    "ban-drop-column", "error",
    summary="Dropping a column breaks the application code that still reads or writes it.",
    why="During a deploy the old release keeps running: its queries name the column (SQLAlchemy "
        "selects every mapped column) and fail as soon as it is gone. DROP COLUMN also takes an "
        "ACCESS EXCLUSIVE lock, queued behind any long-running query." + EXEMPT_NEW_COLUMNS,
    recipe="Release the code that stops using the column first (remove it from the model), then drop it "
           "in a later migration and mark that line `# alembic-review: ignore[ban-drop-column]`.",
    lock="ACCESS EXCLUSIVE",
    kinds=ALTER_TABLE,
    subtypes=("AT_DropColumn",),
    breaking=True,
)
def ban_drop_column(stmt, state):
    for table, subtype, body in relation_commands(stmt):
        if subtype == "AT_DropColumn" and _old_column(state, table, body.get("name")):
            yield Hit(f"dropping column {table}.{body.get('name')} breaks code that still uses it",
                      table=table, lock="ACCESS EXCLUSIVE")


@sql_rule(
    "adding-field-with-default", "error",
    summary="Adding a column whose default PostgreSQL must compute per row rewrites the whole table.",
    why="Since PostgreSQL 11 a constant DEFAULT (a literal, now(), CURRENT_TIMESTAMP) is stored once in the "
        "catalog and ADD COLUMN is instant. A volatile default (gen_random_uuid(), random(), "
        "clock_timestamp(), a function PostgreSQL cannot prove stable), an IDENTITY or serial column, or "
        "GENERATED ... STORED makes PostgreSQL rewrite the table and every index under ACCESS EXCLUSIVE: "
        "no reads, no writes until it is done. Before PostgreSQL 11 every non-null default rewrites "
        "(set pg_version). Unlike squawk, serial columns count too (nextval() is volatile: measured rewrite)." + EXEMPT_NEW_TABLES,
    recipe="Add the column without the default (`op.add_column(..., sa.Column('x', sa.Uuid, nullable=True))`), "
           "backfill existing rows in batches outside the migration, then set the default for new rows with "
           "`op.alter_column('t', 'x', server_default=sa.text('gen_random_uuid()'))`. A constant "
           "`server_default` (e.g. `server_default=sa.text('now()')` or `server_default='0'`) needs none of this.",
    lock="ACCESS EXCLUSIVE",
    kinds=ALTER_TABLE,
    subtypes=("AT_AddColumn",),
)
def adding_field_with_default(stmt, state):
    if not state.effect(stmt).rewrite:
        return  # no command of it rewrites (most ALTERs): none to single out
    for table, subtype, cmd in alter_table_commands(stmt):
        if subtype != "AT_AddColumn" or not state.is_shared(table):
            continue
        effect = lock_effect(single_command(stmt, cmd), state.pg_version,
                             column_type=lambda t, c: state.old_type(stmt, t, c))
        if effect.rewrite:
            column = cmd.get("def", {}).get("ColumnDef", {}).get("colname")
            why = "; ".join(effect.notes) or "the default is computed for every row"
            yield Hit(f"adding column {table}.{column} rewrites all of {table} under ACCESS EXCLUSIVE ({why})",
                      table=table, lock=effect.mode)


def _fills_itself(coldef: dict) -> bool:
    """Does the column get a value for existing rows without a DEFAULT clause?"""
    kinds = {c.get("contype") for c in column_constraints(coldef)}
    return bool(kinds & {"CONSTR_IDENTITY", "CONSTR_GENERATED"}) or type_name(coldef)[0] in SERIAL_TYPES


SERIAL_TYPES = {"serial", "serial2", "serial4", "serial8", "smallserial", "bigserial"}


def _has_default(coldef: dict) -> bool:
    for con in column_constraints(coldef):
        if con.get("contype") == "CONSTR_DEFAULT" and not con.get("raw_expr", {}).get("A_Const", {}).get("isnull"):
            return True
    return False


@sql_rule(
    "adding-required-field", "error",
    summary="Adding a NOT NULL column without a default fails on a table that has rows.",
    why="PostgreSQL cannot fill existing rows of a NOT NULL column that has no default, so ALTER TABLE "
        "fails with 'column contains null values' and the deploy stops; on an empty dev table it passes, "
        "which is why it slips through review. The old release, which does not know the column, cannot "
        "insert rows either. IDENTITY, serial and GENERATED columns fill themselves and are not reported." + EXEMPT_NEW_TABLES,
    recipe="Give it a constant default: `op.add_column('t', sa.Column('x', sa.Integer, nullable=False, "
           "server_default='0'))` (instant since PostgreSQL 11), or add it `nullable=True`, backfill, and "
           "later `op.alter_column('t', 'x', nullable=False)` (see adding-not-nullable-field).",
    lock="ACCESS EXCLUSIVE",
    kinds=ALTER_TABLE,
    subtypes=("AT_AddColumn",),
)
def adding_required_field(stmt, state):
    for table, subtype, cmd in alter_table_commands(stmt):
        coldef = (cmd.get("def") or {}).get("ColumnDef")
        if subtype != "AT_AddColumn" or not coldef or not state.is_existing(table):
            continue
        not_null = any(c.get("contype") in ("CONSTR_NOTNULL", "CONSTR_PRIMARY") for c in column_constraints(coldef))
        if not_null and not _has_default(coldef) and not _fills_itself(coldef):
            yield Hit(f"adding NOT NULL column {table}.{coldef.get('colname')} without a default fails "
                      f"as soon as {table} has a row", table=table, lock=command_lock(stmt, cmd, state, table))


@sql_rule(
    "adding-not-nullable-field", "error",
    summary="SET NOT NULL on an existing column scans the whole table under ACCESS EXCLUSIVE.",
    why="ALTER COLUMN ... SET NOT NULL holds ACCESS EXCLUSIVE (no reads, no writes) while PostgreSQL reads "
        "every row to prove there is no NULL, and fails if one remains. From PostgreSQL 12 the scan is "
        "skipped when a valid CHECK (col IS NOT NULL) constraint already proves it; this rule knows about "
        "such a constraint when it was added and validated earlier in the same run.",
    recipe="PostgreSQL 12+: `op.create_check_constraint('ck_t_x_not_null', 't', 'x IS NOT NULL', "
           "postgresql_not_valid=True)`, then in a later step (inside `op.get_context().autocommit_block()` or "
           "a later migration) `op.execute('ALTER TABLE t VALIDATE CONSTRAINT ck_t_x_not_null')`, then "
           "`op.alter_column('t', 'x', nullable=False)` (no scan) and `op.drop_constraint('ck_t_x_not_null', 't')`.",
    lock="ACCESS EXCLUSIVE",
    kinds=ALTER_TABLE,
    subtypes=("AT_SetNotNull",),
)
def adding_not_nullable_field(stmt, state):
    for table, subtype, cmd in alter_table_commands(stmt):
        column = cmd.get("name")
        if subtype != "AT_SetNotNull" or not state.is_shared(table):
            continue
        if state.pg_version >= 12 and (table, column) in state.not_null_proven:
            continue  # a validated CHECK (col IS NOT NULL) lets PostgreSQL skip the scan
        hint = None
        if state.pg_version < 12:
            hint = ("Before PostgreSQL 12 SET NOT NULL always scans: keep the validated CHECK (x IS NOT NULL) "
                    "constraint (added with postgresql_not_valid=True, then VALIDATE) instead of NOT NULL, "
                    "or run this at a quiet time.")
        yield Hit(f"SET NOT NULL on {table}.{column} reads all of {table} while holding ACCESS EXCLUSIVE",
                  table=table, lock=command_lock(stmt, cmd, state, table), hint=hint)


@sql_rule(
    "changing-column-type", "error",
    summary="ALTER COLUMN ... TYPE rewrites the table under ACCESS EXCLUSIVE and breaks code using the old type.",
    why="Most type changes (int -> bigint, text -> varchar(n), timestamp -> timestamptz, anything with USING) "
        "rewrite the table and rebuild its indexes while holding ACCESS EXCLUSIVE: the table is offline for "
        "the duration. Changes that keep every stored value's bytes do not rewrite (measured by relfilenode on "
        "PostgreSQL 15): varchar(n) -> varchar(m >= n) / varchar / text, numeric precision raised at the same "
        "scale, varbit / timestamp / time precision raised, cidr -> inet. They are not reported when the old "
        "type is known: from `existing_type=` of op.alter_column, or from an earlier statement of the run. "
        "They still take ACCESS EXCLUSIVE for a moment (require-lock-timeout). The rendered SQL alone does not "
        "say the old type, so without `existing_type` every change is reported." + EXEMPT_NEW_TABLES,
    recipe="Add a new column with the new type (`op.add_column`), write to both from the application, backfill "
           "in batches, switch reads, then drop the old column in a later release. For a change that does not "
           "rewrite (varchar(n) -> text), pass the old type: `op.alter_column('t', 'x', type_=sa.Text(), "
           "existing_type=sa.String(50))`.",
    lock="ACCESS EXCLUSIVE",
    kinds=ALTER_TABLE,
    subtypes=("AT_AlterColumnType",),
)
def changing_column_type(stmt, state):
    for table, subtype, cmd in relation_commands(stmt):
        if subtype != "AT_AlterColumnType" or not state.is_shared(table):
            continue
        effect = lock_effect(single_command(stmt, cmd), state.pg_version,
                             column_type=lambda t, c: state.old_type(stmt, t, c))
        if effect.rewrite:
            new_type = _type_text(cmd.get("def", {}).get("ColumnDef", {}))
            change = f"({stmt.old_type} → {new_type})" if stmt.old_type else f"to {new_type}"
            yield Hit(f"changing the type of {table}.{cmd.get('name')} {change} rewrites {table} "
                      "under ACCESS EXCLUSIVE", table=table, lock=effect.mode)


def _type_text(coldef: dict) -> str:
    """numeric(14,3), varchar(64), int8[]: the type with its precision, as a reviewer compares them."""
    name, typmods, is_array = type_name(coldef)
    mods = [str(m["A_Const"]["ival"].get("ival", 0)) for m in typmods
            if isinstance(m, dict) and "ival" in m.get("A_Const", {})]
    return name + (f"({','.join(mods)})" if mods else "") + ("[]" if is_array else "")


def _column_change(subtype_test, message):
    """A check that reports ALTER TABLE subcommands on columns running code may rely on."""
    def check(stmt, state):
        for table, subtype, cmd in alter_table_commands(stmt):
            if subtype_test(subtype, cmd) and _old_column(state, table, cmd.get("name")):
                yield Hit(message.format(table=table, column=cmd.get("name")), table=table,
                          lock=command_lock(stmt, cmd, state, table))
    return check


sql_rule(
    "ban-drop-not-null", "warning",
    summary="Dropping NOT NULL lets NULLs in that running code does not expect.",
    why="Code (and other services, reports, exports) written against a NOT NULL column assumes a value is "
        "always there; once NULLs can be written, old readers crash or mis-handle them." + EXEMPT_NEW_COLUMNS,
    recipe="Make sure every reader handles NULL before `op.alter_column('t', 'x', nullable=True)`, then mark "
           "the line `# alembic-review: ignore[ban-drop-not-null]`.",
    lock="ACCESS EXCLUSIVE",
    kinds=ALTER_TABLE,
    subtypes=("AT_DropNotNull",),
    breaking=True,
)(_column_change(lambda subtype, cmd: subtype == "AT_DropNotNull",
                 "dropping NOT NULL on {table}.{column} may break code that assumes a value"))

sql_rule(
    "ban-drop-default", "warning",
    summary="Dropping a column default breaks inserts that relied on it.",
    why="The running release may insert rows without naming the column and rely on the server default; "
        "after DROP DEFAULT those inserts store NULL or fail on NOT NULL." + EXEMPT_NEW_COLUMNS,
    recipe="Make the application always send the value first, then `op.alter_column('t', 'x', "
           "server_default=None)` and mark the line `# alembic-review: ignore[ban-drop-default]`.",
    lock="ACCESS EXCLUSIVE",
    kinds=ALTER_TABLE,
    subtypes=("AT_ColumnDefault",),
    breaking=True,
)(_column_change(lambda subtype, cmd: subtype == "AT_ColumnDefault" and not cmd.get("def"),
                 "dropping the default of {table}.{column} breaks inserts that omit it"))

sql_rule(
    "ban-drop-generated-expression", "warning",
    summary="DROP EXPRESSION turns a generated column into a plain one that nothing fills any more.",
    why="Code that relied on PostgreSQL computing the column now reads stale values for new rows, and "
        "writers that never set it leave it NULL." + EXEMPT_NEW_COLUMNS,
    recipe="Make the application compute and write the value first, then run the DROP EXPRESSION "
           "(`op.execute('ALTER TABLE t ALTER COLUMN x DROP EXPRESSION')`) and mark it ignored.",
    lock="ACCESS EXCLUSIVE",
    kinds=ALTER_TABLE,
    subtypes=("AT_DropExpression",),
    breaking=True,
)(_column_change(lambda subtype, cmd: subtype == "AT_DropExpression",
                 "dropping the generated expression of {table}.{column} leaves it unfilled for new rows"))


def _identity_change(subtype, cmd) -> bool:
    if subtype in ("AT_AddIdentity", "AT_DropIdentity"):
        return True
    if subtype == "AT_SetIdentity":  # only SET GENERATED ALWAYS rejects explicit values
        options = (cmd.get("def") or {}).get("List", {}).get("items", [])
        return any(o.get("DefElem", {}).get("defname") == "generated"
                   and o["DefElem"].get("arg", {}).get("Integer", {}).get("ival") == ord("a") for o in options)
    return False


sql_rule(
    "ban-alter-identity", "warning",
    summary="Adding, dropping or tightening an IDENTITY breaks inserts of the running code.",
    why="ADD GENERATED ALWAYS / SET GENERATED ALWAYS rejects inserts that supply the id; DROP IDENTITY "
        "makes inserts that omit it fail on NOT NULL. SET GENERATED BY DEFAULT and sequence options "
        "(RESTART, INCREMENT) accept what worked before and are not reported." + EXEMPT_NEW_COLUMNS,
    recipe="Change how the application inserts first (omit the column for ALWAYS, supply it after DROP "
           "IDENTITY), then run the change and mark it `# alembic-review: ignore[ban-alter-identity]`.",
    lock="ACCESS EXCLUSIVE",
    kinds=ALTER_TABLE,
    subtypes=("AT_AddIdentity", "AT_DropIdentity", "AT_SetIdentity"),
)(_column_change(_identity_change, "changing the identity of {table}.{column} may break inserts of running code"))
