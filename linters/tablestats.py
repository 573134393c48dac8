"""The table-statistics snapshot: the size and write rate of each production table, as JSON.

Written by `python -m linters stats` (linters/cli/stats.py, from the catalog: linters/stats_catalog.py),
read here, strictly: a snapshot is usually committed to the repository and read by a review that
must not trust it blindly. It holds sizes and rates only, never row values:

    {"format": "alembic-review-table-stats", "version": 1,
     "taken_at": "2026-12-03T09:30:00+00:00", "server_version": 150020,
     "shared_buffers_bytes": 134217728,
     "write_rate": {"basis": "interval" | "since_stats_reset", "seconds": 60.0},
     "tables": {"public.orders": {"rows": 48000000, "heap_bytes": ..., "index_bytes": ...,
                                  "total_bytes": ..., "indexes": {"public.orders_pkey": ...},
                                  "writes_per_second": 2.5}}}

`shared_buffers_bytes` (the server's shared_buffers) came after the first snapshots: one without
it is still read, and its estimates leave out whether a table fits in PostgreSQL's own cache.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

FORMAT = "alembic-review-table-stats"
VERSION = 1
MAX_FILE_BYTES = 32 * 1024 * 1024   # ~150,000 tables; more is not a snapshot we wrote
MAX_AGE_DAYS = 30                  # older: the sizes no longer say much (a scheduled refresh keeps it fresh)
MAX_NAME = 200
_SIZES = ("rows", "heap_bytes", "index_bytes", "total_bytes")


class StatsError(ValueError):
    """The snapshot cannot be used; the message is one line saying why."""


@dataclass(frozen=True)
class TableSize:
    rows: int
    heap_bytes: int           # the table's own storage (all partitions of a partitioned table)
    index_bytes: int          # all its indexes
    total_bytes: int          # heap, TOAST and indexes: what a person calls the table's size
    writes_per_second: float  # inserts + updates + deletes
    indexes: dict[str, int] = field(default_factory=dict)  # schema-qualified index name -> bytes

    def to_json(self) -> dict:
        return {"rows": self.rows, "heap_bytes": self.heap_bytes, "index_bytes": self.index_bytes,
                "total_bytes": self.total_bytes, "indexes": dict(self.indexes),
                "writes_per_second": round(self.writes_per_second, 4)}


@dataclass
class TableStats:
    taken_at: datetime
    server_version: int
    rate_basis: str               # "interval" (two readings) or "since_stats_reset"
    rate_seconds: float           # the time the write counts were divided by
    tables: dict[str, TableSize]  # "schema.table" -> its size
    source: str = ""              # where it was read from, for messages
    shared_buffers_bytes: int | None = None  # the server's shared_buffers; None in snapshots older than it
    _index_owners: dict[str, TableSize] | None = field(default=None, init=False, repr=False, compare=False)

    def table(self, name: str | None) -> TableSize | None:
        """The size of `name` as the lock model writes it: "orders" is public.orders, "audit.log" as is."""
        if not name:
            return None
        return self.tables.get(name if "." in name else f"public.{name}")

    def table_with_index(self, name: str | None) -> TableSize | None:
        """The size of the table that has the index `name` (written as in table())."""
        if not name:
            return None
        if self._index_owners is None:
            self._index_owners = {index: size for size in self.tables.values() for index in size.indexes}
        return self._index_owners.get(name if "." in name else f"public.{name}")

    def to_json(self) -> dict:
        return {"format": FORMAT, "version": VERSION, "taken_at": self.taken_at.isoformat(timespec="seconds"),
                "server_version": self.server_version,
                **({"shared_buffers_bytes": self.shared_buffers_bytes} if self.shared_buffers_bytes is not None else {}),
                "write_rate": {"basis": self.rate_basis, "seconds": round(self.rate_seconds, 3)},
                "tables": {name: size.to_json() for name, size in sorted(self.tables.items())}}


def _count(value, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise StatsError(f"{what} must be a whole number >= 0, not {value!r}")
    return value


def _rate(value, what: str) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) or value < 0:
        raise StatsError(f"{what} must be a number >= 0, not {value!r}")
    return float(value)


def _name(value, what: str) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= MAX_NAME or "." not in value:
        raise StatsError(f"{what} must be a schema-qualified name (schema.name), not {str(value)[:60]!r}")
    return value


def _table(name: str, data) -> TableSize:
    if not isinstance(data, dict):
        raise StatsError(f"table {name}: not an object")
    sizes = {key: _count(data.get(key), f"table {name}: {key}") for key in _SIZES}
    indexes = data.get("indexes", {})
    if not isinstance(indexes, dict):
        raise StatsError(f"table {name}: indexes must be an object")
    return TableSize(**sizes, writes_per_second=_rate(data.get("writes_per_second"), f"table {name}: writes_per_second"),
                     indexes={_name(i, f"table {name}: index name"): _count(b, f"index {i}: bytes")
                              for i, b in indexes.items()})


def _taken_at(value, now: datetime, max_age_days: float) -> datetime:
    try:
        taken = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        taken = None
    if taken is None or taken.tzinfo is None:
        raise StatsError(f"taken_at must be an ISO 8601 time with a UTC offset, not {str(value)[:40]!r}")
    if taken > now + timedelta(days=1):
        raise StatsError(f"taken_at {value} is in the future")
    if now - taken > timedelta(days=max_age_days):
        raise StatsError(f"taken {(now - taken).days} days ago, more than {max_age_days:g} days: refresh it with "
                         "`python -m linters stats`")
    return taken


def stats_from_json(data, now: datetime | None = None, max_age_days: float = MAX_AGE_DAYS) -> TableStats:
    """A TableStats from parsed JSON; StatsError (one line) for anything but a fresh version-1 snapshot."""
    now = now or datetime.now(timezone.utc)
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise StatsError(f'not a table-statistics snapshot (no "format": "{FORMAT}")')
    if data.get("version") != VERSION:
        raise StatsError(f"unknown snapshot version {repr(data.get('version'))[:20]} (this alembic-review reads "
                         f"version {VERSION}): write it again with `python -m linters stats`")
    rate = data.get("write_rate")
    if not isinstance(rate, dict) or rate.get("basis") not in ("interval", "since_stats_reset"):
        raise StatsError('write_rate must say its basis ("interval" or "since_stats_reset")')
    tables = data.get("tables")
    if not isinstance(tables, dict):
        raise StatsError("tables must be an object of schema.table -> sizes")
    shared_buffers = data.get("shared_buffers_bytes")
    return TableStats(
        taken_at=_taken_at(data.get("taken_at"), now, max_age_days),
        server_version=_count(data.get("server_version"), "server_version"),
        shared_buffers_bytes=None if shared_buffers is None else _count(shared_buffers, "shared_buffers_bytes"),
        rate_basis=rate["basis"], rate_seconds=_rate(rate.get("seconds"), "write_rate.seconds"),
        tables={_name(name, "a table name"): _table(name, size) for name, size in tables.items()})


def read_stats(path: Path, now: datetime | None = None, max_age_days: float = MAX_AGE_DAYS) -> TableStats:
    """The snapshot in the file at `path`; StatsError with one line saying why it cannot be used."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise StatsError(f"{size // (1024 * 1024)} MB, more than the {MAX_FILE_BYTES // (1024 * 1024)} MB "
                             "a snapshot may have")
        data = json.loads(path.read_bytes())
    except OSError as exc:
        raise StatsError(f"cannot read it: {exc.strerror}") from None
    except (ValueError, RecursionError) as exc:
        if isinstance(exc, StatsError):
            raise
        raise StatsError(f"not JSON: {str(exc).splitlines()[0][:120]}") from None
    stats = stats_from_json(data, now, max_age_days)
    stats.source = str(path)
    return stats


def stats_path(flag: Path | None, setting: str | None, settings_file: str | None) -> Path | None:
    """--stats FILE (from the working directory), else the `stats` setting (from its settings file)."""
    if flag is not None:
        return flag
    if setting is None:
        return None
    return Path(settings_file).parent / setting if settings_file else Path(setting)


def warn_unused(source, reason) -> None:
    """One line on stderr: the review goes on without table sizes."""
    print(f"alembic-review: warning: table statistics {source} not used: {reason}", file=sys.stderr)


def load_or_warn(path: Path | None) -> TableStats | None:
    """The snapshot at `path`, or None after one line on stderr: the review goes on without sizes."""
    if path is None:
        return None
    try:
        return read_stats(path)
    except StatsError as exc:
        warn_unused(path, exc)
        return None
