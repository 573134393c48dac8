"""The service's small durable state, next to the queue: deliveries already seen, the latest head
of every pull request and where its job stands, concurrency slots, cluster-wide counters.

Two backends with one interface: SQLite (one machine; a file in the data dir) and Redis (many
machines; keys under "alembic-review:<queue>:"). Every change of a record goes through
`mutate(kind, key, fn)`: `fn(old) -> (new, result)` runs atomically (BEGIN IMMEDIATE in SQLite,
WATCH/MULTI in Redis), which is all the job bookkeeping in bot/ledger.py needs.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Callable

KEEP = object()  # returned as `new` by a mutate fn: leave the record as it is

Mutator = Callable[[dict | None], tuple[Any, Any]]


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

    def first_time(self, namespace: str, key: str, ttl: float) -> bool:
        now = time.time()

        def tx(conn):
            row = conn.execute("SELECT expires FROM once WHERE namespace=? AND key=?", (namespace, key)).fetchone()
            if row and row[0] > now:
                return False
            conn.execute("INSERT OR REPLACE INTO once VALUES (?, ?, ?)", (namespace, key, now + ttl))
            return True
        return self._tx(tx)

    def forget(self, namespace: str, key: str) -> None:
        self._run("DELETE FROM once WHERE namespace=? AND key=?", (namespace, key))

    def prune(self) -> None:
        self._run("DELETE FROM once WHERE expires < ?", (time.time(),))

    def get(self, kind: str, key: str) -> dict | None:
        rows = self._run("SELECT value FROM records WHERE kind=? AND key=?", (kind, key))
        return json.loads(rows[0][0]) if rows else None

    def items(self, kind: str) -> list[tuple[str, dict]]:
        return [(k, json.loads(v)) for k, v in self._run("SELECT key, value FROM records WHERE kind=?", (kind,))]

    def mutate(self, kind: str, key: str, fn: Mutator):
        def tx(conn):
            row = conn.execute("SELECT value FROM records WHERE kind=? AND key=?", (kind, key)).fetchone()
            new, result = fn(json.loads(row[0]) if row else None)
            if new is KEEP:
                return result
            if new is None:
                conn.execute("DELETE FROM records WHERE kind=? AND key=?", (kind, key))
            else:
                conn.execute("INSERT OR REPLACE INTO records VALUES (?, ?, ?)", (kind, key, json.dumps(new)))
            return result
        return self._tx(tx)

    def incr(self, name: str, n: int = 1) -> None:
        self._run("INSERT INTO counters VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET "
                  "value = value + excluded.value", (name, n))

    def counters(self) -> dict[str, int]:
        return dict(self._run("SELECT name, value FROM counters"))

    def ping(self) -> None:
        self._run("SELECT 1")


class RedisStore:
    def __init__(self, url: str, prefix: str):
        import redis

        self.redis = redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5)
        self.prefix = prefix

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

    def mutate(self, kind: str, key: str, fn: Mutator):
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
