"""Execute rendered statements the way Alembic runs a migration.

Alembic runs a whole `alembic upgrade` in one transaction (or one per revision with
`transaction_per_migration=True` in env.py); `autocommit_block()` renders as COMMIT ... BEGIN
around the statements that cannot run in a transaction. We send exactly that: BEGIN, each
statement in order (COMMIT/BEGIN as rendered), COMMIT, on an autocommit psycopg connection so
the transaction boundaries are ours, and nothing else is implicit.
"""

from __future__ import annotations

import psycopg

from linters.live.plan import RevisionSql
from linters.sql import TRANSACTION_ENDS, TRANSACTION_STARTS, Statement

SESSION = ("SET lock_timeout = '30s'", "SET statement_timeout = '5min'")  # a scratch database never waits long


class ApplyError(Exception):
    """A statement PostgreSQL refused; the transaction it ran in was rolled back."""

    def __init__(self, stmt: Statement, revision: RevisionSql, message: str):
        super().__init__(message)
        self.stmt, self.revision, self.message = stmt, revision, message


def pg_message(exc: psycopg.Error) -> str:
    diag = getattr(exc, "diag", None)
    primary = (diag.message_primary if diag else None) or str(exc).strip().splitlines()[0]
    code = getattr(exc, "sqlstate", None)
    return f"{primary} (SQLSTATE {code})" if code else primary


class NoTracer:
    """Hooks the executor calls; trace.Tracer records pg_locks in them."""

    def begin(self, conn): ...
    def before(self, conn, stmt: Statement, in_transaction: bool): ...
    def after(self, conn, stmt: Statement, in_transaction: bool): ...
    def end(self, conn, committed: bool): ...
    def revision_start(self, conn, revision: RevisionSql, direction: str): ...
    def revision_end(self, conn, revision: RevisionSql, direction: str): ...

    def probe(self, conn, stmt: Statement, run):
        return run()


class Executor:
    def __init__(self, conn: psycopg.Connection, tracer=None):
        self.conn = conn
        self.tracer = tracer or NoTracer()
        self.in_transaction = False
        for statement in SESSION:
            conn.execute(statement)

    def run(self, revisions: list[RevisionSql], direction: str) -> None:
        """One Alembic run over `revisions` in one transaction; ApplyError after rolling back."""
        self._begin()
        try:
            for revision in revisions:
                self.tracer.revision_start(self.conn, revision, direction)
                for stmt in revision.statements.get(direction, []):
                    self._execute(stmt, revision)
                self.tracer.revision_end(self.conn, revision, direction)
            self._commit()
        finally:
            if self.in_transaction:  # an error left it open
                self.conn.execute("ROLLBACK")
                self.in_transaction = False
                self.tracer.end(self.conn, committed=False)

    def _begin(self) -> None:
        self.conn.execute("BEGIN")
        self.in_transaction = True
        self.tracer.begin(self.conn)

    def _commit(self) -> None:
        if self.in_transaction:
            self.tracer.end(self.conn, committed=True)
            self.conn.execute("COMMIT")
            self.in_transaction = False

    def _execute(self, stmt: Statement, revision: RevisionSql) -> None:
        if stmt.kind == "TransactionStmt":
            state = stmt.body.get("kind")
            if state == "TRANS_STMT_ROLLBACK" and self.in_transaction:
                self.tracer.end(self.conn, committed=False)
                self.conn.execute("ROLLBACK")
                self.in_transaction = False
                return
            if state in TRANSACTION_ENDS:
                self._commit()
                return
            if state in TRANSACTION_STARTS:
                if not self.in_transaction:
                    self._begin()
                return
        self.tracer.before(self.conn, stmt, self.in_transaction)
        run = lambda: self.conn.execute(stmt.sql, prepare=False)  # noqa: E731
        try:
            if self.in_transaction:
                run()
            else:  # its locks end with it: the tracer watches from a second session
                self.tracer.probe(self.conn, stmt, run)
        except psycopg.Error as exc:
            raise ApplyError(stmt, revision, pg_message(exc)) from None
        self.tracer.after(self.conn, stmt, self.in_transaction)
