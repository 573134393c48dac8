"""What PostgreSQL really does for each statement, next to what the lock model predicts.

Inside a transaction, after each statement, from the migrating backend itself:
  - pg_locks WHERE pid = pg_backend_pid(): the relation locks now held (a lock mode first seen
    after a statement was taken by it; all of them are held until COMMIT);
  - pg_class.relfilenode: a relation whose storage file changed was rewritten;
  - pg_index.indisvalid: indexes the statement left INVALID.
Outside a transaction (autocommit_block: CREATE INDEX CONCURRENTLY...) the locks are gone by the
time the statement returns, so we make them visible from a second session: it holds SHARE UPDATE
EXCLUSIVE on the tables the statement names while the statement runs, reads pg_locks for the
lock the statement queues for, then lets it go. That mode lets the weak locks through (VACUUM
first looks the table up under ACCESS SHARE) and stops the first one that blocks anything:
SHARE UPDATE EXCLUSIVE or stronger, which is what the lock model is about.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from linters.sql import Statement

try:  # the static lock model; live mode still traces without it
    from linters.locks import LOCK_MODES, LockEffect, lock_effect
except ImportError:  # pragma: no cover - only while the model is being written
    LOCK_MODES = ("ACCESS SHARE", "ROW SHARE", "ROW EXCLUSIVE", "SHARE UPDATE EXCLUSIVE", "SHARE",
                  "SHARE ROW EXCLUSIVE", "EXCLUSIVE", "ACCESS EXCLUSIVE")
    LockEffect = None
    lock_effect = None

MODES = {"AccessShareLock": "ACCESS SHARE", "RowShareLock": "ROW SHARE", "RowExclusiveLock": "ROW EXCLUSIVE",
         "ShareUpdateExclusiveLock": "SHARE UPDATE EXCLUSIVE", "ShareLock": "SHARE",
         "ShareRowExclusiveLock": "SHARE ROW EXCLUSIVE", "ExclusiveLock": "EXCLUSIVE",
         "AccessExclusiveLock": "ACCESS EXCLUSIVE"}
RANK = {m: i for i, m in enumerate(LOCK_MODES)}
TABLE_KINDS = {"r", "p", "m", "f", "v"}  # relkinds shown as tables (indexes, sequences: not)
PROBE_WAIT = 5.0  # seconds the probe waits for the statement to queue

RELATIONS_SQL = """
SELECT c.oid, CASE WHEN n.nspname = 'public' THEN c.relname ELSE n.nspname || '.' || c.relname END,
       c.relkind, c.relfilenode, i.indisvalid, i.indrelid
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace LEFT JOIN pg_index i ON i.indexrelid = c.oid
WHERE n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'
"""
LOCKS_SQL = """
SELECT relation, mode, granted FROM pg_locks
WHERE pid = %s AND locktype = 'relation'
  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
"""
COLUMN_TYPE_SQL = """
SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
WHERE a.attrelid = to_regclass(%s) AND a.attname = %s AND NOT a.attisdropped
"""


@dataclass(frozen=True)
class Rel:
    name: str
    kind: str
    filenode: int
    valid: bool | None  # indexes only
    table_oid: int | None  # indexes only: the table it indexes


def strongest(modes) -> str | None:
    modes = [m for m in modes if m in RANK]
    return max(modes, key=RANK.__getitem__) if modes else None


def relations(conn: psycopg.Connection) -> dict[int, Rel]:
    return {row[0]: Rel(row[1], row[2], row[3], row[4], row[5]) for row in conn.execute(RELATIONS_SQL)}


def held_locks(conn: psycopg.Connection, pid: int, granted: bool = True) -> dict[int, set[str]]:
    out: dict[int, set[str]] = {}
    for oid, mode, is_granted in conn.execute(LOCKS_SQL, (pid,)):
        if is_granted == granted and oid is not None:
            out.setdefault(oid, set()).add(MODES.get(mode, mode))
    return out


@dataclass
class Observation:
    stmt: Statement
    in_transaction: bool
    prediction: object | None                      # LockEffect, or None without the model
    existed: set[str]                              # relations (names) there when the run began
    kinds: dict[str, str] = field(default_factory=dict)            # relation -> relkind
    took: dict[str, set[str]] = field(default_factory=dict)        # relation -> modes first taken here
    already: dict[str, set[str]] = field(default_factory=dict)     # relation -> modes held before it
    present: set[str] = field(default_factory=set)                 # relations there just before it
    rewritten: list[str] = field(default_factory=list)
    new_invalid: list[str] = field(default_factory=list)
    probed: set[str] | None = None                 # outside a transaction: tables the probe blocked
    started: float = 0.0
    exec_ms: float = 0.0                           # the statement itself, our catalog queries excluded
    held_ms: float | None = None                   # until the transaction ended
    later: int = 0                                 # statements run while its locks were held
    ended_by: str = "COMMIT"

    def observable(self, table: str) -> bool:
        return self.in_transaction or (self.probed is not None and table in self.probed)

    def touched_existing(self) -> list[str]:
        """Existing tables this statement locked, strongest lock first."""
        names = [r for r in self.took if r in self.existed and self.kinds.get(r) in TABLE_KINDS]
        return sorted(names, key=lambda r: -RANK.get(strongest(self.took[r]) or "", -1))


class Tracer:
    """Executor hooks (linters/live/apply.py) that record one Observation per statement."""

    def __init__(self, pg_version: int, observer=None):
        self.pg_version = pg_version
        self.observer = observer            # a callable returning a second connection, for the probe
        self.observations: list[Observation] = []
        self.existed: set[str] = set()
        self.rels: dict[int, Rel] = {}
        self.held: dict[int, set[str]] = {}
        self.open: list[Observation] = []   # observations of the current transaction
        self.current: Observation | None = None

    # -- run and transaction boundaries
    def start_run(self, conn) -> None:
        self.rels = relations(conn)
        self.existed = {r.name for r in self.rels.values()}

    def begin(self, conn) -> None:
        self.held, self.open = {}, []

    def end(self, conn, committed: bool) -> None:
        # Held from the statement to the end of its transaction: its own run time and that of
        # every later statement (the time our catalog queries take in between is not counted).
        for i, obs in enumerate(self.open):
            obs.held_ms = sum(o.exec_ms for o in self.open[i:])
            obs.ended_by = "COMMIT" if committed else "ROLLBACK"
        self.held, self.open = {}, []

    def revision_start(self, conn, revision, direction) -> None: ...
    def revision_end(self, conn, revision, direction) -> None: ...

    # -- statements
    def before(self, conn, stmt: Statement, in_transaction: bool) -> None:
        self.rels = relations(conn)
        prediction = None
        if lock_effect is not None:
            def column_type(table: str, column: str) -> str | None:
                row = conn.execute(COLUMN_TYPE_SQL, (table, column)).fetchone()
                return row[0] if row else None
            try:
                prediction = lock_effect(stmt.node, self.pg_version, column_type=column_type)
            except Exception:  # noqa: BLE001 - a model bug must not stop the trace
                prediction = None
        self.current = Observation(stmt, in_transaction, prediction, self.existed, started=time.monotonic())

    def after(self, conn, stmt: Statement, in_transaction: bool) -> None:
        obs, before = self.current, self.rels
        obs.exec_ms = (time.monotonic() - obs.started) * 1000
        after = relations(conn)
        names = {oid: rel.name for oid, rel in {**after, **before}.items()}  # the name before a rename wins
        obs.kinds = {rel.name: rel.kind for rel in {**after, **before}.values()}
        obs.present = {rel.name for rel in before.values()}
        named = {lk.table for lk in obs.prediction.locks} if obs.prediction is not None else set()
        if in_transaction:
            now = held_locks(conn, conn.info.backend_pid)
            for oid, modes in now.items():
                if oid not in names:
                    continue  # catalogs, other databases
                new = modes - self.held.get(oid, set())
                if new:
                    obs.took[names[oid]] = new
                if self.held.get(oid) and names[oid] in named:  # it asked again for what it held
                    obs.already[names[oid]] = set(self.held[oid])
            self.held = now
            for earlier in self.open:
                earlier.later += 1
            self.open.append(obs)
        obs.rewritten = [rel.name for oid, rel in before.items()
                         if oid in after and rel.filenode and after[oid].filenode != rel.filenode]
        obs.new_invalid = [rel.name for oid, rel in after.items()
                           if rel.valid is False and (oid not in before or before[oid].valid is not False)]
        self.rels = after
        self.observations.append(obs)
        self.current = None

    # -- outside a transaction: make the lock visible from a second session
    def probe(self, conn, stmt: Statement, run) -> None:
        """Run `run()` (executes stmt on conn) while a second session blocks the tables the statement
        names, and record the lock the statement queues for. Without an observer just run it."""
        obs = self.current
        tables = self._probe_tables(obs)
        if self.observer is None or not tables or obs is None:
            return run()
        try:
            observer = self.observer()
        except Exception:  # noqa: BLE001 - no second session (connection limit...): run it unobserved
            return run()
        result: dict = {}
        try:
            observer.execute("BEGIN")
            try:
                observer.execute(sql.SQL("LOCK TABLE {} IN SHARE UPDATE EXCLUSIVE MODE").format(
                    sql.SQL(", ").join(sql.Identifier(*name.split(".")) for name in tables)))
            except psycopg.Error:  # not a table we may lock: run it unobserved (finally rolls back)
                return run()

            def target():
                try:
                    run()
                except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
                    result["error"] = exc
            worker = threading.Thread(target=target, daemon=True)
            worker.start()
            deadline = time.monotonic() + PROBE_WAIT
            pid = conn.info.backend_pid
            names = {oid: rel.name for oid, rel in self.rels.items()}
            while worker.is_alive() and time.monotonic() < deadline:
                waiting = observer.execute("SELECT count(*) FROM pg_locks WHERE pid = %s AND NOT granted",
                                           (pid,)).fetchone()[0]
                if waiting:
                    for granted in (True, False):
                        for oid, modes in held_locks(observer, pid, granted).items():
                            if oid in names:
                                obs.took.setdefault(names[oid], set()).update(modes)
                    break
                time.sleep(0.005)
            obs.probed = set(tables)
        finally:
            observer.execute("ROLLBACK")
            observer.close()
        worker.join()
        if "error" in result:
            raise result["error"]

    def _probe_tables(self, obs: Observation | None) -> list[str]:
        """Existing tables the statement names (the table of a named index counts)."""
        if obs is None or obs.prediction is None:
            return []
        by_name = {rel.name: rel for rel in self.rels.values()}
        by_oid = self.rels
        tables = []
        for lock in obs.prediction.locks:
            rel = by_name.get(lock.table)
            if rel and rel.kind == "i" and rel.table_oid in by_oid:
                rel = by_oid[rel.table_oid]
            if rel and rel.kind in ("r", "p", "m") and rel.name not in tables:
                tables.append(rel.name)
        return tables


def mismatches(obs: Observation) -> list[str]:
    """Where the lock model and PostgreSQL disagree about this statement; [] when they agree
    or when the live run could not see enough to tell."""
    pred = obs.prediction
    if pred is None:
        return []
    out = []
    predicted = {lk.table: lk.mode for lk in pred.locks}
    for table, mode in predicted.items():
        if table not in obs.kinds or not obs.observable(table):
            continue  # a name that is no relation (IF EXISTS), or not visible outside a transaction
        took = obs.took.get(table, set())
        if mode in took or mode in obs.already.get(table, set()):
            continue
        if took:
            out.append(f"predicted {mode} on {table}, PostgreSQL took {strongest(took)}")
        elif not obs.already.get(table) and obs.in_transaction:
            out.append(f"predicted {mode} on {table}, PostgreSQL took no lock on it")
    top = strongest(predicted.values())
    for table, modes in obs.took.items():
        mode = strongest(modes)
        if table in predicted or obs.kinds.get(table) not in TABLE_KINDS or table not in obs.existed:
            continue
        if RANK[mode] >= RANK["SHARE UPDATE EXCLUSIVE"] and (top is None or RANK[mode] > RANK[top]):
            out.append(f"PostgreSQL also took {mode} on {table}, which the model does not predict")
    main = pred.table
    if pred.rewrite and main in obs.present and obs.kinds.get(main) in ("r", "m") and main not in obs.rewritten:
        out.append(f"predicted a rewrite of {main}, but its relfilenode did not change")
    unexpected = [r for r in obs.rewritten if obs.kinds.get(r) in ("r", "m") and r != main]
    if not pred.rewrite and main in obs.rewritten and obs.kinds.get(main) in ("r", "m"):
        unexpected.insert(0, main)  # sequences get new storage on RESTART: nobody waits on that
    for table in unexpected:
        out.append(f"PostgreSQL rewrote {table} (new relfilenode), the model predicted no rewrite")
    if not pred.transactional and obs.in_transaction:
        out.append("the model says this cannot run in a transaction block, but it just did")
    return out


def describe(obs: Observation) -> str:
    """One line: what PostgreSQL did, then what the model predicted."""
    parts = []
    for table in obs.touched_existing():
        modes = sorted(obs.took[table], key=lambda m: -RANK[m])
        text = f"{' + '.join(modes)} on {table}"
        if obs.in_transaction and obs.held_ms is not None:
            text += (f" held {obs.held_ms:.1f} ms until {obs.ended_by}"
                     + (f", through {obs.later} later statement{'s' if obs.later != 1 else ''}" if obs.later else ""))
        elif obs.probed is not None:
            text += " (outside a transaction: queued for it, released when the statement ends)"
        parts.append(text)
    for table, modes in obs.already.items():
        if table in obs.existed and obs.kinds.get(table) in TABLE_KINDS and table not in obs.took:
            parts.append(f"{strongest(modes)} on {table} already held from an earlier statement")
    what = "; ".join(parts) or "no lock on an existing table"
    rewrites = [r for r in obs.rewritten if r in obs.existed and obs.kinds.get(r) != "i"]
    rebuilt = [r for r in obs.rewritten if r in obs.existed and obs.kinds.get(r) == "i"]
    what += f"; rewrote {', '.join(rewrites)} (new relfilenode)" if rewrites else "" if rebuilt else "; no rewrite"
    what += f"; rebuilt index {', '.join(rebuilt)}" if rebuilt else ""
    if obs.new_invalid:
        what += f"; left INVALID index {', '.join(obs.new_invalid)}"
    text = f"live: {what}."
    if obs.prediction is not None:
        locks = ", ".join(f"{lk.mode} on {lk.table}" for lk in obs.prediction.locks) or "no lock"
        text += f" Predicted: {locks}{', rewrite' if obs.prediction.rewrite else ', no rewrite'}."
    return text


def worth_reporting(obs: Observation) -> bool:
    """Statements that newly locked, rewrote or invalidated something that existed before the run
    (asking again for a lock the transaction already holds changes nothing)."""
    return bool(obs.touched_existing() or [r for r in obs.rewritten if r in obs.existed] or obs.new_invalid)
