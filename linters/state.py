"""Schema state within one upgrade run: what the run itself created is new, and exempt from lock rules."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from linters.foreign_keys import ForeignKeys
from linters.locks import LockEffect, lock_effect
from linters.nodes import is_bookkeeping, relation_name, strings
from linters.schema_objects import created_table, creates, drops
from linters.sql import TRANSACTION_ENDS, Statement
from linters.transaction import ROW_KINDS, TransactionState


@dataclass
class RunState:
    pg_version: int = 15
    shared_after_commit: bool = False  # a table this run created is everyone's once committed (raw SQL files)
    created_tables: set[str] = field(default_factory=set)
    # Transactions (issue 3): locks held until COMMIT, timeouts in effect, revision boundaries.
    tx: TransactionState = field(default_factory=TransactionState)
    foreign_keys: ForeignKeys = field(default_factory=ForeignKeys)  # child -> {constraint: parent}
    # Catalogue rules (issue 3): what earlier statements of the run did that later verdicts depend on.
    added_columns: set[tuple[str, str]] = field(default_factory=set)       # (table, column) added by this run
    created_indexes: dict[str, str] = field(default_factory=dict)          # index -> its table, built by this run
    created_objects: set[tuple[str, str]] = field(default_factory=set)     # (DropStmt removeType, name)
    not_null_checks: dict[tuple[str, str], list[str]] = field(default_factory=dict)  # NOT VALID CHECKs: (table, name) -> columns proven NOT NULL
    not_null_proven: dict[tuple[str, str], str] = field(default_factory=dict)  # (table, column) -> valid CHECK (col IS NOT NULL)
    not_valid_in_transaction: dict[tuple[str, str], tuple[str, str | None]] = field(default_factory=dict)  # (table, constraint) added NOT VALID, uncommitted -> (contype, revision)
    added_constraints: set[tuple[str, str]] = field(default_factory=set)  # (table, constraint) added by this run
    guarded_constraints: set[tuple[str, str]] = field(default_factory=set)  # dropped IF EXISTS first: re-adding can be re-run
    guarded_indexes: set[str] = field(default_factory=set)  # indexes dropped IF EXISTS: a re-run rebuilds, even an INVALID one
    disabled_in_run: set[tuple[str, str]] = field(default_factory=set)  # (table, "trigger" | "rule") this run disabled
    column_types: dict[tuple[str, str], dict] = field(default_factory=dict)  # (table, column) -> TypeName node set by this run
    # What the whole run will do (RunState.foresee): a DROP INDEX before its table's DROP TABLE, a DROP
    # CONSTRAINT IF EXISTS before the ADD of the same name (prefer-robust-stmts' own recipe) are not losses.
    dropped_in_run: set[str] = field(default_factory=set)                 # tables some statement of the run drops
    added_in_run: set[tuple[str, str]] = field(default_factory=set)       # (table, constraint) some statement adds

    # Undo journal of the open transaction: a ROLLBACK takes back what it created (a table created and
    # rolled back does not exist, and one of the same name later is someone else's). A journal, not a copy
    # at each BEGIN: a long raw SQL file has thousands of BEGINs and hundreds of tables.
    _undo: list | None = field(default=None, repr=False)
    _judged: tuple | None = field(default=None, repr=False)  # (statement, its effect) until apply()

    def _transaction_boundary(self, stmt: Statement) -> None:
        kind = stmt.body.get("kind")
        if kind in ("TRANS_STMT_BEGIN", "TRANS_STMT_START"):
            self._undo = []
        elif kind in ("TRANS_STMT_COMMIT", "TRANS_STMT_ROLLBACK"):
            if kind == "TRANS_STMT_ROLLBACK" and self._undo:
                for container, key, had, old in reversed(self._undo):
                    if type(container) is dict:
                        if had:
                            container[key] = old
                        else:
                            container.pop(key, None)
                    elif had:
                        container.add(key)
                    else:
                        container.discard(key)
            self._undo = [] if stmt.body.get("chain") else None  # AND CHAIN: the next one begins

    def _remember(self, container: set | dict, key) -> None:
        """Before changing `key` of one of the created_* containers: what a ROLLBACK restores."""
        if self._undo is not None:
            self._undo.append((container, key, key in container,
                               container.get(key) if type(container) is dict else None))

    def foresee(self, statements) -> None:
        """Read the run's statements once before judging them: what it drops and re-adds."""
        for stmt in statements:
            if stmt.kind == "DropStmt" and stmt.body.get("removeType") == "OBJECT_TABLE":
                self.dropped_in_run.update(name for _, name in drops(stmt))
            elif stmt.kind == "AlterTableStmt":
                for item in stmt.body.get("cmds") or ():
                    cmd = item.get("AlterTableCmd", {})
                    con = (cmd.get("def") or {}).get("Constraint")
                    if cmd.get("subtype") == "AT_AddConstraint" and con:
                        self.added_in_run.add((relation_name(stmt.body.get("relation")), con.get("conname")))

    def is_new(self, table: str | None) -> bool:
        return table is not None and table in self.created_tables

    def is_existing(self, table: str | None, stmt: Statement | None = None) -> bool:
        """A table other sessions use: named, not created by this run (nor by `stmt`, the statement being
        judged, not applied yet), not Alembic's bookkeeping table."""
        if not table or table in self.created_tables or is_bookkeeping(table):  # is_new(), inline: asked per lock
            return False
        return stmt is None or table != created_table(stmt)

    def is_private(self, table: str | None) -> bool:
        """A table this run created that nothing else uses yet, so nothing can wait on its locks.

        A revision review: every table the deploy creates (the running release never knew it; a PR
        that creates a table in one revision and indexes it in the next blocks nobody). A raw SQL file
        (`sql`, squawk's reading): only until the transaction that created it commits, after which
        every session sees it."""
        if table is None or table not in self.created_tables:  # not is_new(), inline: asked per lock
            return False
        return table in self.tx.uncommitted if self.shared_after_commit else True

    def is_shared(self, table: str | None, stmt: Statement | None = None) -> bool:
        """A table other sessions can see and lock: is_existing, or created by this run in a transaction
        that has committed. The rules about locks, scans and rewrites ask this; the ones about breaking the
        running release (drops, renames) ask is_existing: that release never knew a table this deploy made."""
        if not table or is_bookkeeping(table) or (stmt is not None and table == created_table(stmt)):
            return False
        return not self.is_private(table)

    def apply(self, stmt: Statement) -> None:
        """Record what `stmt` did to the schema, after the rules have looked at it.

        The transaction (tx.apply) reads only the tables and locks of the statement's effect, which no
        change of state alters (it refines rewrite and scan): it gets the effect the rules saw, and
        effect() computes again after the change, not in between."""
        if stmt.kind == "TransactionStmt":  # half of an `upgrade --sql` file: it creates and locks nothing
            self._judged = None
            if stmt.body.get("kind") in TRANSACTION_ENDS:
                self.not_valid_in_transaction.clear()
            self._transaction_boundary(stmt)
            self.tx.apply(stmt, self)
            return
        if stmt.kind in ROW_KINDS:  # a third of an `upgrade --sql` file: no table, index or key comes or goes
            self.tx.apply(stmt, self)
            self._judged = None
            return
        self._track_catalogue(stmt)
        body = stmt.body
        if name := created_table(stmt):
            self._remember(self.created_tables, name)
            self.created_tables.add(name)
        elif stmt.kind == "DropStmt" and body.get("removeType") == "OBJECT_TABLE":
            for _, name in drops(stmt):
                self._remember(self.created_tables, name)
                self.created_tables.discard(name)
        elif stmt.kind == "RenameStmt" and body.get("renameType") == "OBJECT_TABLE":
            old = relation_name(body.get("relation"))
            if old in self.created_tables:
                self._remember(self.created_tables, old)
                self.created_tables.discard(old)
                self._remember(self.created_tables, body.get("newname"))
                self.created_tables.add(body.get("newname"))
            if old in self.tx.uncommitted:
                self.tx.uncommitted.discard(old)
                self.tx.uncommitted.add(body.get("newname"))
        self.foreign_keys.apply(stmt)
        self.tx.apply(stmt, self)
        self._judged = None

    def effect(self, stmt: Statement) -> LockEffect:
        """The lock model's verdict on `stmt` for this run's PostgreSQL version and state: asked by a dozen
        rules per statement, so kept until apply() changes the state."""
        if self._judged is not None and self._judged[0] is stmt:
            return self._judged[1]
        effect = self._effect(stmt)
        self._judged = (stmt, effect)
        return effect

    def _effect(self, stmt: Statement) -> LockEffect:
        try:
            effect = stmt.lock_effect(self.pg_version)
        except Exception:  # a node shape the model does not know must not stop the review
            return LockEffect(locks=(), rewrite=False, scan=False, transactional=True,
                              notes=(f"{stmt.kind} could not be modelled",))
        if effect.scan and self._proven_set_not_null(stmt):
            return replace(effect, scan=False)
        if effect.rewrite and stmt.kind == "AlterTableStmt" and (stmt.known_types or stmt.old_type or self.column_types):
            return lock_effect(stmt.node, self.pg_version, column_type=lambda t, c: self.old_type(stmt, t, c))
        return effect

    def old_type(self, stmt: Statement, table: str | None, column: str | None) -> str | dict | None:
        """A column's type before `stmt`: as its op call states it (existing_type), or as this run set it."""
        return (stmt.known_types or {}).get(column) or stmt.old_type or self.column_types.get((table, column))

    def _proven_set_not_null(self, stmt: Statement) -> bool:
        """Only SET NOT NULLs that a valid CHECK (col IS NOT NULL) proves: PostgreSQL 12+ skips their scan."""
        if not self.not_null_proven or self.pg_version < 12 or stmt.kind != "AlterTableStmt":
            return False  # (no such CHECK in the run: every scanning statement of most runs)
        table = relation_name(stmt.body.get("relation"))
        cmds = [c.get("AlterTableCmd", {}) for c in stmt.body.get("cmds") or ()]
        return bool(cmds) and all(c.get("subtype") == "AT_SetNotNull" and (table, c.get("name")) in self.not_null_proven
                                  for c in cmds)

    def created(self, kind: str, name: str | None) -> bool:
        """Did this run create object `name` of DropStmt kind `kind` (OBJECT_VIEW, OBJECT_INDEX, ...)?"""
        if kind in ("OBJECT_TABLE", "OBJECT_MATVIEW") and self.is_new(name):
            return True
        if kind == "OBJECT_INDEX":
            return name in self.created_indexes
        return (kind, name) in self.created_objects

    def _track_catalogue(self, stmt: Statement) -> None:
        """Columns, indexes, objects and constraints of this run, for the catalogue rules."""
        body = stmt.body
        if stmt.kind == "AlterTableStmt" and body.get("objtype") in (None, "OBJECT_TABLE"):
            table = relation_name(body.get("relation"))
            for item in body.get("cmds", []):
                self._track_alter(table, item.get("AlterTableCmd", {}), stmt.revision)
        elif stmt.kind == "RenameStmt" and body.get("renameType") == "OBJECT_COLUMN":
            key = (relation_name(body.get("relation")), body.get("subname"))
            if key in self.added_columns:
                self.added_columns.discard(key)
                self.added_columns.add((key[0], body.get("newname")))
        elif stmt.kind == "DropStmt" and body.get("removeType") == "OBJECT_INDEX":
            for _, name in drops(stmt):
                self._remember(self.created_indexes, name)
                self.created_indexes.pop(name, None)
                if body.get("missing_ok"):
                    self.guarded_indexes.add(name)
        for kind, name in creates(stmt):
            if kind == "OBJECT_INDEX":
                self._remember(self.created_indexes, name)
                self.created_indexes[name] = relation_name(body.get("relation"))
                self.guarded_indexes.discard(name)  # the DROP IF EXISTS guards one CREATE, not a second
            elif kind != "OBJECT_TABLE":  # tables: created_tables, which a DROP or a RENAME changes
                self._remember(self.created_objects, (kind, name))
                self.created_objects.add((kind, name))

    def _track_alter(self, table: str | None, cmd: dict, revision: str | None) -> None:
        subtype = cmd.get("subtype")
        definition = cmd.get("def") or {}
        if subtype.startswith(("AT_DisableTrig", "AT_DisableRule")):
            self.disabled_in_run.add((table, "rule" if "Rule" in subtype else "trigger"))
        if subtype in ("AT_AddColumn", "AT_AlterColumnType"):
            column = definition.get("ColumnDef", {})
            self.column_types[(table, column.get("colname") or cmd.get("name"))] = column.get("typeName")
        if subtype == "AT_AddColumn" and not self.is_new(table):
            self.added_columns.add((table, definition.get("ColumnDef", {}).get("colname")))
        elif subtype == "AT_DropColumn":
            self.added_columns.discard((table, cmd.get("name")))
        elif subtype == "AT_AddConstraint" and "Constraint" in definition:
            con = definition["Constraint"]
            name = con.get("conname")
            columns = _not_null_columns(con.get("raw_expr")) if con.get("contype") == "CONSTR_CHECK" else []
            self.added_constraints.add((table, name))
            self.guarded_constraints.discard((table, name))  # the DROP IF EXISTS guards one ADD, not a second
            if con.get("skip_validation"):
                self.not_valid_in_transaction[(table, name)] = (con.get("contype"), revision)
                self.not_null_checks[(table, name)] = columns
            else:
                self.not_null_proven.update({(table, c): name for c in columns})
        elif subtype == "AT_ValidateConstraint":
            name = cmd.get("name")
            self.not_null_proven.update({(table, c): name for c in self.not_null_checks.pop((table, name), [])})
        elif subtype == "AT_DropConstraint":
            name = cmd.get("name")
            if cmd.get("missing_ok"):
                self.guarded_constraints.add((table, name))
            self.not_null_checks.pop((table, name), None)
            for key in [k for k, v in self.not_null_proven.items() if k[0] == table and v == name]:
                del self.not_null_proven[key]


def _not_null_columns(expr: dict | None) -> list[str]:
    """Columns `col IS NOT NULL` proves in a CHECK (alone or ANDed): PG12+ then skips SET NOT NULL's scan."""
    if not expr:
        return []
    if "BoolExpr" in expr and expr["BoolExpr"].get("boolop") == "AND_EXPR":
        return [c for arg in expr["BoolExpr"].get("args", []) for c in _not_null_columns(arg)]
    test = expr.get("NullTest", {})
    fields = test.get("arg", {}).get("ColumnRef", {}).get("fields", [])
    if test.get("nulltesttype") == "IS_NOT_NULL" and len(fields) == 1:
        return strings(fields)  # [] for `*`
    return []
