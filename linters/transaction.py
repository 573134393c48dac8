"""The migration transaction as PostgreSQL lives it: locks held until COMMIT, timeouts in effect.

Alembic runs a whole `alembic upgrade` in ONE transaction unless env.py passes
`transaction_per_migration=True`: a lock taken by the first revision is held while the last one
runs. `autocommit_block()` renders as COMMIT ... BEGIN, and a revision may issue its own
BEGIN/COMMIT or SET lock_timeout through op.execute. RunState.tx follows all of that, statement by
statement, for the transaction rules (linters/rules/transaction_rules.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

from linters.nodes import VERSION_TABLE_KINDS, alembic_bookkeeping, strings
from linters.schema_objects import created_table
from linters.sql import TRANSACTION_ENDS, TRANSACTION_STARTS, Statement

# Lock modes that conflict with ordinary application traffic (SELECT: ACCESS SHARE,
# INSERT/UPDATE/DELETE: ROW EXCLUSIVE): asking for one of these can queue behind a long query.
BLOCKING_MODES = ("SHARE", "SHARE ROW EXCLUSIVE", "EXCLUSIVE", "ACCESS EXCLUSIVE")

# PostgreSQL's table-lock conflict matrix (docs, "Table-Level Locks").
CONFLICTS: dict[str, frozenset[str]] = {
    "ACCESS SHARE": frozenset({"ACCESS EXCLUSIVE"}),
    "ROW SHARE": frozenset({"EXCLUSIVE", "ACCESS EXCLUSIVE"}),
    "ROW EXCLUSIVE": frozenset({"SHARE", "SHARE ROW EXCLUSIVE", "EXCLUSIVE", "ACCESS EXCLUSIVE"}),
    "SHARE UPDATE EXCLUSIVE": frozenset({"SHARE UPDATE EXCLUSIVE", "SHARE", "SHARE ROW EXCLUSIVE",
                                         "EXCLUSIVE", "ACCESS EXCLUSIVE"}),
    "SHARE": frozenset({"ROW EXCLUSIVE", "SHARE UPDATE EXCLUSIVE", "SHARE ROW EXCLUSIVE",
                        "EXCLUSIVE", "ACCESS EXCLUSIVE"}),
    "SHARE ROW EXCLUSIVE": frozenset({"ROW EXCLUSIVE", "SHARE UPDATE EXCLUSIVE", "SHARE",
                                      "SHARE ROW EXCLUSIVE", "EXCLUSIVE", "ACCESS EXCLUSIVE"}),
    "EXCLUSIVE": frozenset({"ROW SHARE", "ROW EXCLUSIVE", "SHARE UPDATE EXCLUSIVE", "SHARE",
                            "SHARE ROW EXCLUSIVE", "EXCLUSIVE", "ACCESS EXCLUSIVE"}),
    "ACCESS EXCLUSIVE": frozenset({"ACCESS SHARE", "ROW SHARE", "ROW EXCLUSIVE", "SHARE UPDATE EXCLUSIVE",
                                   "SHARE", "SHARE ROW EXCLUSIVE", "EXCLUSIVE", "ACCESS EXCLUSIVE"}),
}
TIMEOUTS = ("lock_timeout", "statement_timeout")


@dataclass
class HeldLock:
    table: str
    modes: set[str]
    revision: str | None      # revision whose statement took the strongest mode
    line: int | None
    new: bool                 # the table was created by this run: nobody else is waiting on it

    @property
    def exclusive(self) -> bool:
        return "ACCESS EXCLUSIVE" in self.modes


def _timeout_value(stmt: Statement) -> tuple[str, bool | None, bool] | None:
    """(setting, on?, local?) for SET/RESET of lock_timeout or statement_timeout; on=None: back to default."""
    if stmt.kind != "VariableSetStmt" or stmt.body.get("name") not in TIMEOUTS:
        return None
    body = stmt.body
    local = bool(body.get("is_local"))
    if body.get("kind") != "VAR_SET_VALUE":
        return body["name"], None, local  # RESET, SET ... TO DEFAULT
    args = body.get("args") or []
    value = args[0].get("A_Const", {}) if args else {}
    raw = value.get("sval", {}).get("sval") if "sval" in value else value.get("ival", {}).get("ival", 0)
    text = str(raw if raw is not None else 0).strip().lower()
    number = "".join(ch for ch in text if ch.isdigit() or ch == ".")
    return body["name"], bool(number) and float(number) > 0, local


@dataclass
class TransactionState:
    """Where the run stands: in a transaction or not, what it holds, which timeouts are set."""
    per_migration: bool = False            # env.py: transaction_per_migration=True
    starts_in_transaction: bool = True     # Alembic opens one per migration; a raw SQL file does not
    # Alembic stamps the version after each revision's last statement; a raw SQL file is stamped only where
    # it says so (`UPDATE alembic_version ...`, as `alembic upgrade --sql` writes it), or not at all.
    stamped_after_revision: bool = True
    assumed: dict[str, bool] = field(default_factory=dict)   # timeouts env.py/config set for every session
    in_transaction: bool = True
    held: dict[str, HeldLock] = field(default_factory=dict)
    session: dict[str, bool | None] = field(default_factory=dict)  # SET by the migration itself
    local: dict[str, bool | None] = field(default_factory=dict)    # SET LOCAL: gone at COMMIT
    written: dict[str, Statement] = field(default_factory=dict)    # bulk DML of this transaction, by table
    user_begin: Statement | None = None   # a BEGIN the revision issued itself, not yet ended
    # Tables this run created in the open transaction: no other session can see them until it commits.
    uncommitted: set[str] = field(default_factory=set)
    revision: str | None = None
    statements: list[Statement] = field(default_factory=list)      # this revision, this direction
    reported: set[tuple[str, str | None]] = field(default_factory=set)  # (rule, revision) said once
    _never_closed: set[int] | None = field(default=None, repr=False)  # id(statement), for never_closed()
    _committed_early: set[int] | None = field(default=None, repr=False)  # id(statement), for committed_early()

    # -- what rules ask ------------------------------------------------------------------
    def timeout(self, name: str) -> bool:
        """Is `name` (lock_timeout / statement_timeout) in effect for the next statement?"""
        value = self.local.get(name)  # SET LOCAL first, then SET; None: not set, or back to the default
        if value is None:
            value = self.session.get(name)
        return bool(value) if value is not None else self.assumed.get(name, False)

    def covered(self, table: str, mode: str) -> bool:
        """True when what the transaction already holds on `table` means asking for `mode` cannot wait:
        nobody else can hold anything that conflicts with it."""
        held = self.held.get(table)
        if held is None:
            return False
        shut_out = set().union(*(CONFLICTS[m] for m in held.modes if m in CONFLICTS))
        return CONFLICTS.get(mode, frozenset()) <= shut_out

    def exclusive_held(self) -> list[HeldLock]:
        """ACCESS EXCLUSIVE locks this transaction holds on tables other sessions use."""
        return [h for h in self.held.values() if h.exclusive and not h.new]

    def never_closed(self, stmt: Statement) -> bool:
        """Is `stmt` a BEGIN of the revision's own SQL that the SQL never ends? No COMMIT or ROLLBACK of its
        own follows before Alembic's next transaction statement (autocommit_block's) or the end. One pass per
        revision: a scan ahead per BEGIN is quadratic on a long raw SQL file."""
        if self._never_closed is None:
            self._never_closed = _never_closed(self.statements)
        return id(stmt) in self._never_closed

    def committed_early(self, stmt: Statement) -> bool:
        """Is `stmt` committed before its revision is stamped? Its transaction ends with a COMMIT (an
        `autocommit_block()` starts with one) and more statements follow: if one of them fails, the version
        is never stamped (Alembic stamps after the revision's last statement), and the re-run meets what
        `stmt` already did. A transaction that stamps the version itself (raw `alembic upgrade --sql`
        output: `UPDATE alembic_version ...` before its COMMIT) is safe. Computed once per revision."""
        if self._committed_early is None:
            self._committed_early = _committed_early(self.statements, self.stamped_after_revision)
        return id(stmt) in self._committed_early

    def once(self, rule: str) -> bool:
        """True the first time `rule` asks in this revision: rules that say one thing per revision."""
        key = (rule, self.revision)
        if key in self.reported:
            return False
        self.reported.add(key)
        return True

    # -- what the engine tells it ----------------------------------------------------------
    def begin_revision(self, revision: str | None, statements: list[Statement]) -> None:
        self.revision, self.statements = revision, statements
        self._never_closed = None
        self._committed_early = None
        self.in_transaction = self.starts_in_transaction
        self.user_begin = None

    def end_revision(self) -> None:
        if self.per_migration:
            self.commit()  # transaction_per_migration: each revision commits, locks go

    def commit(self) -> None:
        self.held.clear()
        self.local.clear()
        self.written.clear()
        self.uncommitted.clear()

    def apply(self, stmt: Statement, run) -> None:
        """Record `stmt`; `run` (the RunState) already knows what it created."""
        if stmt.kind == "TransactionStmt":
            kind = stmt.body.get("kind")
            if kind in TRANSACTION_ENDS:
                self.commit()
                self.in_transaction = bool(stmt.body.get("chain"))  # AND CHAIN: the next one is open
                if not stmt.managed and not self.in_transaction:
                    self.user_begin = None
            elif kind in TRANSACTION_STARTS:
                self.in_transaction = True
                if not stmt.managed:
                    self.user_begin = stmt
            return
        self.in_transaction = stmt.in_transaction
        if stmt.in_transaction and (name := created_table(stmt)):
            self.uncommitted.add(name)
        if stmt.kind == "VariableSetStmt" and (setting := _timeout_value(stmt)) is not None:
            name, on, is_local = setting
            (self.local if is_local else self.session)[name] = on
            if not is_local:
                self.local.pop(name, None)
            return
        if not stmt.in_transaction:
            return  # autocommit: the statement's locks end with it
        if stmt.kind in VERSION_TABLE_KINDS and alembic_bookkeeping(stmt):  # the kind test saves a call
            return  # the version stamp's row lock on alembic_version: no rule asks what is held there
        effect = run.effect(stmt)
        bulk = stmt.kind in ROW_KINDS and is_bulk_dml(stmt) and effect.table and not run.is_new(effect.table)
        if bulk and not (effect.table in self.held and self.held[effect.table].exclusive):
            self.written.setdefault(effect.table, stmt)  # a backfill before the DDL that locks its table
        for lock in effect.locks:
            held = self.held.get(lock.table)
            if held is None:
                self.held[lock.table] = HeldLock(lock.table, {lock.mode}, stmt.revision, stmt.line,
                                                 new=run.is_new(lock.table))
            else:
                if lock.mode == "ACCESS EXCLUSIVE" and not held.exclusive:
                    held.revision, held.line = stmt.revision, stmt.line
                held.modes.add(lock.mode)


def _never_closed(statements: list[Statement]) -> set[int]:
    """id() of the BEGINs TransactionState.never_closed() is true of: backwards, remembering whether the
    nearest transaction end ahead is the SQL's own (it closes) or Alembic's (it does not)."""
    unclosed: set[int] = set()
    closes = False
    for stmt in reversed(statements):
        if stmt.kind != "TransactionStmt":
            continue
        kind = stmt.body.get("kind")
        if stmt.managed:
            closes = False
        elif kind in TRANSACTION_ENDS:
            closes = True
        elif kind in TRANSACTION_STARTS and not closes:
            unclosed.add(id(stmt))
    return unclosed


def _committed_early(statements: list[Statement], stamped_after: bool) -> set[int]:
    """id() of the statements TransactionState.committed_early() is true of: one pass to find the COMMITs of
    transactions that stamp the version, one backwards to find what more work follows each COMMIT. Without
    a stamp, in the SQL or after it, a re-run is not a question the SQL answers: nothing is early."""
    stamped, stamping = set(), False
    for stmt in statements:
        if stmt.kind == "TransactionStmt" and stmt.body.get("kind") in TRANSACTION_ENDS:
            if stamping:
                stamped.add(id(stmt))
            stamping = False
        elif stmt.kind in ("UpdateStmt", "InsertStmt") and alembic_bookkeeping(stmt):
            stamping = True
    if not stamped and not stamped_after:
        return set()
    early: set[int] = set()
    work_later = commit_then_work = False  # for the statements before the current position
    for stmt in reversed(statements):
        if stmt.kind == "TransactionStmt":
            kind = stmt.body.get("kind")
            if kind in TRANSACTION_ENDS:
                commit_then_work = kind != "TRANS_STMT_ROLLBACK" and id(stmt) not in stamped and work_later
            continue
        if commit_then_work:
            early.add(id(stmt))
        if stmt.kind != "VariableSetStmt":  # a SET after the COMMIT cannot strand anything
            work_later = True
    return early


def _point_lookup(where: dict | None) -> bool:
    """WHERE made only of `column = constant` / `column IN (constants)`, ANDed: a fix-up of known rows."""
    if not where:
        return False
    if "BoolExpr" in where:
        return where["BoolExpr"].get("boolop") == "AND_EXPR" and \
            any(_point_lookup(arg) for arg in where["BoolExpr"].get("args", []))
    expr = where.get("A_Expr")
    if not expr or expr.get("kind") not in ("AEXPR_OP", "AEXPR_IN"):
        return False
    if strings(expr.get("name")) != ["="]:
        return False
    sides = [expr.get("lexpr") or {}, expr.get("rexpr") or {}]
    constant = lambda node: "A_Const" in node or "ParamRef" in node or \
        ("List" in node and all("A_Const" in i for i in node["List"].get("items", [])))
    return any("ColumnRef" in a for a in sides) and any(constant(a) for a in sides)


# Statements that change rows and nothing else (no table, index or key comes or goes); is_bulk_dml() is
# only ever true of them.
ROW_KINDS = frozenset({"InsertStmt", "UpdateStmt", "DeleteStmt", "MergeStmt"})


def is_bulk_dml(stmt: Statement) -> bool:
    """UPDATE, DELETE, MERGE, INSERT ... SELECT: DML that may touch many rows. INSERT ... VALUES and an
    UPDATE/DELETE of rows picked by `col = constant` (a fix-up of known rows) are not bulk."""
    if stmt.kind in ("UpdateStmt", "DeleteStmt"):
        return not _point_lookup(stmt.body.get("whereClause"))
    if stmt.kind == "MergeStmt":
        return True
    if stmt.kind == "InsertStmt":
        select = (stmt.body.get("selectStmt") or {}).get("SelectStmt", {})
        return bool(select) and not select.get("valuesLists")
    return False
