"""Alembic environment of the example app: async engine (asyncpg), as in a FastAPI project."""
import asyncio
import os
from logging.config import fileConfig

from sqlalchemy import pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import async_engine_from_config

from alembic import context
from models import Base

config = context.config

if config.config_file_name is not None:
    fileConfig(config.config_file_name)

# The URL comes from the environment, never from alembic.ini.
DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/mathvidya"
# configparser treats "%" as interpolation: escape it (passwords may contain it).
config.set_main_option(
    "sqlalchemy.url", os.environ.get("DATABASE_URL", DEFAULT_URL).replace("%", "%%")
)

target_metadata = Base.metadata

# Session settings for every migration run: a DDL statement that waits on a
# lock gives up after 5s instead of queueing every query behind it, and a
# runaway statement cannot hold its lock forever. SET (not SET LOCAL) so they
# survive the COMMIT/BEGIN of autocommit_block(). The linter is told about
# this with `assume_lock_timeout`.
SESSION_SETTINGS = (
    "SET lock_timeout = '5s'",
    "SET statement_timeout = '10min'",
)

COMMON = {
    "target_metadata": target_metadata,
    # One transaction per revision, not one for the whole run: locks taken by
    # one revision (e.g. ADD CONSTRAINT ... NOT VALID) are released before the
    # next one (VALIDATE CONSTRAINT) starts its long scan.
    "transaction_per_migration": True,
    "compare_type": True,
    "compare_server_default": True,
}


def run_migrations_offline() -> None:
    """Render SQL (`alembic upgrade --sql`); the settings go into the script too."""
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        **COMMON,
    )
    with context.begin_transaction():
        for statement in SESSION_SETTINGS:
            context.execute(statement)
        context.run_migrations()


def do_run_migrations(connection: Connection) -> None:
    for statement in SESSION_SETTINGS:
        connection.execute(text(statement))
    # End the autobegun transaction: otherwise Alembic would join it and the
    # migrations would be rolled back when the connection closes.
    connection.commit()

    context.configure(connection=connection, **COMMON)
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations() -> None:
    connectable = async_engine_from_config(
        config.get_section(config.config_ini_section, {}),
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    async with connectable.connect() as connection:
        await connection.run_sync(do_run_migrations)
    await connectable.dispose()


def run_migrations_online() -> None:
    asyncio.run(run_async_migrations())


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
