"""A throwaway database on the server a URL names: created for one review, dropped after.

We never touch the database the URL names (it may hold data): we connect to it only to run
CREATE DATABASE alembic_review_<random> and, at the end, DROP DATABASE of that one.
"""

from __future__ import annotations

import re
import secrets
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import psycopg
from psycopg import conninfo as pg_conninfo
from psycopg import sql

from linters.errors import UsageError

SCRATCH_PREFIX = "alembic_review_"
CONNECT_TIMEOUT = "10"


def normalize_url(url: str) -> str:
    """libpq does not know SQLAlchemy's `postgresql+asyncpg://`: drop the driver part."""
    return re.sub(r"^(postgres(?:ql)?)\+[\w-]+://", r"\1://", url.strip())


def parse_url(url: str) -> dict:
    """The connection parameters of URL (or of a key=value conninfo string)."""
    try:
        params = pg_conninfo.conninfo_to_dict(normalize_url(url))
    except psycopg.ProgrammingError as exc:
        raise UsageError(f"invalid database URL: {str(exc).splitlines()[0]}") from None
    params.setdefault("connect_timeout", CONNECT_TIMEOUT)
    return params


def describe(params: dict) -> str:
    """user@host:port/dbname, never the password."""
    user = params.get("user") or "(default user)"
    host = params.get("host") or params.get("hostaddr") or "localhost"
    return f"{user}@{host}:{params.get('port') or 5432}/{params.get('dbname') or user}"


def connect(params: dict, **overrides) -> psycopg.Connection:
    """An autocommit connection; one clear line (exit 2) when the server cannot be reached."""
    target = {**params, **overrides}
    try:
        return psycopg.connect(**target, autocommit=True)
    except psycopg.Error as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise UsageError(f"cannot reach the database at {describe(target)}: {reason}") from None


@dataclass
class ScratchDatabase:
    name: str
    params: dict                # connection parameters of the scratch database
    server_version: int         # e.g. 150020

    @property
    def major(self) -> int:
        return self.server_version // 10000

    def connect(self) -> psycopg.Connection:
        return connect(self.params)


@contextmanager
def scratch_database(url: str) -> Iterator[ScratchDatabase]:
    """Create alembic_review_<random> on the server of `url`, yield it, drop it whatever happens."""
    params = parse_url(url)
    admin = connect(params)
    name = SCRATCH_PREFIX + secrets.token_hex(6)
    try:
        try:
            admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'").format(sql.Identifier(name)))
        except psycopg.Error as exc:
            reason = " ".join(str(exc).split())
            raise UsageError(f"cannot create a scratch database on {describe(params)} "
                             f"(live mode needs CREATEDB): {reason}") from None
        try:
            yield ScratchDatabase(name, {**params, "dbname": name}, admin.info.server_version)
        finally:
            drop_database(admin, name)
    finally:
        admin.close()


def drop_database(admin: psycopg.Connection, name: str) -> None:
    force = " WITH (FORCE)" if admin.info.server_version >= 130000 else ""
    admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}" + force).format(sql.Identifier(name)))
