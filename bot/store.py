"""The service's small durable state, next to the queue: deliveries already seen, the latest head
of every pull request and where its job stands, concurrency slots, cluster-wide counters.

Two backends with one interface: SQLite (one machine; a file in the data dir) and Redis (many
machines; keys under "alembic-review:<queue>:"). Every change of a record goes through
`mutate(kind, key, fn)`: `fn(old) -> (new, result)` runs atomically (BEGIN IMMEDIATE in SQLite,
WATCH/MULTI in Redis), which is all the job bookkeeping in bot/ledger.py needs. A webhook delivery
passes `Effects`: the delivery id is remembered and the job counted and queued in the same step (one
transaction in SQLite; in Redis one or two round trips instead of six: see RedisStore._mutate_with).
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

KEEP = object()  # returned as `new` by a mutate fn: leave the record as it is
DUPLICATE = object()  # returned by mutate when Effects.once was already seen: nothing changed

Mutator = Callable[[dict | None], tuple[Any, Any]]


@dataclass(frozen=True)
class Effects:
    """What goes with a record's change, all or nothing: `once` (namespace, key, ttl) is remembered
    unless it was seen within its ttl (then mutate changes nothing and returns DUPLICATE); when
    the change yields a job (fn's result is not None), `counter` goes up by one and the job is
    queued: Redis pushes `message(job)` (huey's list, huey's message) in the same script as the
    change; SQLite calls `enqueue(job)` once its transaction is committed, and if that fails
    forgets `once` and takes the count back (the record keeps the change, as before: the
    reconciler queues the job again)."""
    once: tuple[str, str, float] | None
    counter: str
    enqueue: Callable[[Any], None]
    message: Callable[[Any], tuple[str, bytes] | None]


class SqliteStore:
    """One connection per process behind a lock (as huey's SqliteStorage does): threads take turns
    instead of meeting SQLite's busy handler, which sleeps. WAL; `synchronous` as configured (NORMAL:
    a commit survives the process being killed, an OS crash may lose the last ones)."""

    def __init__(self, path: Path, synchronous: str = "NORMAL"):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.synchronous = synchronous
        self._lock = threading.RLock()
        self._connection: sqlite3.Connection | None = None
        with self._lock:
            self._conn().executescript("""
                CREATE TABLE IF NOT EXISTS records (kind TEXT NOT NULL, key TEXT NOT NULL,
                    value TEXT NOT NULL, PRIMARY KEY (kind, key));
                CREATE TABLE IF NOT EXISTS once (namespace TEXT NOT NULL, key TEXT NOT NULL,
                    expires REAL NOT NULL, PRIMARY KEY (namespace, key));
                CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
            """)

    def _conn(self) -> sqlite3.Connection:
        if self._connection is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={self.synchronous}")
            self._connection = conn
        return self._connection

    def _tx(self, fn):
        with self._lock:
            conn = self._conn()
            conn.execute("BEGIN IMMEDIATE")  # other processes on the same file wait for us
            try:
                result = fn(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return result

    def _run(self, sql: str, params=()) -> list:
        with self._lock:
            return self._conn().execute(sql, params).fetchall()

    @staticmethod
    def _first_time(conn, namespace: str, key: str, ttl: float) -> bool:
        now = time.time()
        row = conn.execute("SELECT expires FROM once WHERE namespace=? AND key=?", (namespace, key)).fetchone()
        if row and row[0] > now:
            return False
        conn.execute("INSERT OR REPLACE INTO once VALUES (?, ?, ?)", (namespace, key, now + ttl))
        return True

    def first_time(self, namespace: str, key: str, ttl: float) -> bool:
        return self._tx(lambda conn: self._first_time(conn, namespace, key, ttl))

    def forget(self, namespace: str, key: str) -> None:
        self._run("DELETE FROM once WHERE namespace=? AND key=?", (namespace, key))

    def prune(self) -> None:
        self._run("DELETE FROM once WHERE expires < ?", (time.time(),))

    def get(self, kind: str, key: str) -> dict | None:
        rows = self._run("SELECT value FROM records WHERE kind=? AND key=?", (kind, key))
        return json.loads(rows[0][0]) if rows else None

    def items(self, kind: str) -> list[tuple[str, dict]]:
        return [(k, json.loads(v)) for k, v in self._run("SELECT key, value FROM records WHERE kind=?", (kind,))]

    def mutate(self, kind: str, key: str, fn: Mutator, effects: Effects | None = None):
        def tx(conn):
            if effects and effects.once and not self._first_time(conn, *effects.once):
                return DUPLICATE
            row = conn.execute("SELECT value FROM records WHERE kind=? AND key=?", (kind, key)).fetchone()
            new, result = fn(json.loads(row[0]) if row else None)
            if new is None:
                conn.execute("DELETE FROM records WHERE kind=? AND key=?", (kind, key))
            elif new is not KEEP:
                conn.execute("INSERT OR REPLACE INTO records VALUES (?, ?, ?)", (kind, key, json.dumps(new)))
            if effects and result is not None:
                self._incr(conn, effects.counter, 1)
            return result
        result = self._tx(tx)
        if effects and result is not None and result is not DUPLICATE:
            # huey's own database, after our commit: a worker process must find the ledger's new
            # generation when it takes the job
            try:
                effects.enqueue(result)
            except BaseException:  # not queued: GitHub's redelivery must not be taken for a duplicate
                with contextlib.suppress(Exception):
                    if effects.once:
                        self.forget(*effects.once[:2])
                    self.incr(effects.counter, -1)
                raise
        return result

    @staticmethod
    def _incr(conn, name: str, n: int) -> None:
        conn.execute("INSERT INTO counters VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET "
                     "value = value + excluded.value", (name, n))

    def incr(self, name: str, n: int = 1) -> None:
        with self._lock:
            self._incr(self._conn(), name, n)

    def counters(self) -> dict[str, int]:
        return dict(self._run("SELECT name, value FROM counters"))

    def ping(self) -> None:
        self._run("SELECT 1")


# mutate with Effects, in one script: nothing if the delivery id was seen; else, if the record is
# still what fn was given, the job pushed onto huey's list and counted, the id remembered, the
# record written. A script that fails halfway keeps what it did: the push onto huey's list (the
# key we do not own) goes first. Answers {"duplicate"}, {"changed", record now} or {"done"}.
# KEYS: record, index of its kind, counters, queue list, delivery id (any key when unused)
# ARGV: record fn was given ("" = none), "set" / "del" / "keep", new record, its key, counter,
#       message ("" = no job), seconds the id is remembered ("" = no id)
DELIVER = """
if ARGV[7] ~= '' and redis.call('EXISTS', KEYS[5]) == 1 then return {'duplicate'} end
local current = redis.call('GET', KEYS[1]) or ''
if current ~= ARGV[1] then return {'changed', current} end
if ARGV[6] ~= '' then
  redis.call('LPUSH', KEYS[4], ARGV[6])
  redis.call('HINCRBY', KEYS[3], ARGV[5], 1)
end
if ARGV[7] ~= '' then redis.call('SET', KEYS[5], '1', 'EX', ARGV[7]) end
if ARGV[2] == 'set' then
  redis.call('SET', KEYS[1], ARGV[3])
  redis.call('SADD', KEYS[2], ARGV[4])
elseif ARGV[2] == 'del' then
  redis.call('DEL', KEYS[1])
  redis.call('SREM', KEYS[2], ARGV[4])
end
return {'done'}
"""


class RedisStore:
    def __init__(self, url: str, prefix: str):
        import redis

        self.redis = redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5)
        self.prefix = prefix
        self._deliver = self.redis.register_script(DELIVER)  # EVALSHA; loaded on first use

    def _k(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    def first_time(self, namespace: str, key: str, ttl: float) -> bool:
        return bool(self.redis.set(self._k("once", namespace, key), b"1", nx=True, ex=max(1, int(ttl))))

    def forget(self, namespace: str, key: str) -> None:
        self.redis.delete(self._k("once", namespace, key))

    def prune(self) -> None:  # Redis expires keys itself
        pass

    def get(self, kind: str, key: str) -> dict | None:
        raw = self.redis.get(self._k("rec", kind, key))
        return json.loads(raw) if raw else None

    def items(self, kind: str) -> list[tuple[str, dict]]:
        keys = sorted(k.decode() for k in self.redis.smembers(self._k("index", kind)))
        out = []
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            for key, raw in zip(chunk, self.redis.mget([self._k("rec", kind, k) for k in chunk])):
                if raw:
                    out.append((key, json.loads(raw)))
        return out

    def mutate(self, kind: str, key: str, fn: Mutator, effects: Effects | None = None):
        if effects is not None:
            return self._mutate_with(kind, key, fn, effects)
        import redis

        name = self._k("rec", kind, key)
        with self.redis.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(name)
                    raw = pipe.get(name)
                    new, result = fn(json.loads(raw) if raw else None)
                    if new is KEEP:
                        pipe.unwatch()
                        return result
                    pipe.multi()
                    if new is None:
                        pipe.delete(name)
                        pipe.srem(self._k("index", kind), key)
                    else:
                        pipe.set(name, json.dumps(new))
                        pipe.sadd(self._k("index", kind), key)
                    pipe.execute()
                    return result
                except redis.WatchError:
                    continue

    def _mutate_with(self, kind: str, key: str, fn: Mutator, effects: Effects):
        """One round trip (a delivery had six: the id, WATCH, GET, MULTI/EXEC, the queue push, the
        counter) when the record is as guessed: none, as for a pull request's first event; else
        the script answers with the record and a second round trip makes the change on it."""
        name = self._k("rec", kind, key)
        once, ttl = (self._k("once", effects.once[0], effects.once[1]), str(max(1, int(effects.once[2])))) \
            if effects.once else (name, "")
        raw = b""
        while True:
            new, result = fn(json.loads(raw) if raw else None)
            action, value = ("keep", "") if new is KEEP else ("del", "") if new is None else ("set", json.dumps(new))
            queue, message = "", b""
            if result is not None:
                pushed = effects.message(result)
                if pushed is None:
                    raise TypeError("a Redis store queues jobs on Redis: Effects.message gave no list")
                queue, message = pushed
            keys = [name, self._k("index", kind), self._k("counters"), queue or name, once]
            answer = self._deliver(keys=keys, args=[raw, action, value, key, effects.counter, message, ttl])
            if answer[0] == b"duplicate":
                return DUPLICATE
            if answer[0] == b"done":
                return result
            raw = answer[1]  # not as fn saw it: again, with what is there now

    def incr(self, name: str, n: int = 1) -> None:
        self.redis.hincrby(self._k("counters"), name, n)

    def counters(self) -> dict[str, int]:
        return {k.decode(): int(v) for k, v in self.redis.hgetall(self._k("counters")).items()}

    def ping(self) -> None:
        self.redis.ping()


Store = SqliteStore | RedisStore


def open_store(settings) -> Store:
    if settings.redis_url:
        return RedisStore(settings.redis_url, f"alembic-review:{settings.queue_name}")
    return SqliteStore(settings.state_path, settings.sqlite_synchronous)
