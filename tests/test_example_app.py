"""The bundled example app (alembic.ini, alembic/, models/) against real PostgreSQL.

Up, down to base, up again, then autogenerate compare and offline rendering.
Postgres at 127.0.0.1:5432 is required: a missing server fails the test.
"""
import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest

REPO = Path(__file__).resolve().parents[1]
ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=5"
HEAD = "e8b35a0c6f19"


@pytest.fixture(scope="module")
def database_url():
    name = f"ar_example_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(ADMIN_DSN, autocommit=True)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL at 127.0.0.1:5432 is required: {exc}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def alembic(url, *args):
    env = {**os.environ, "DATABASE_URL": url}
    proc = subprocess.run(
        [sys.executable, "-m", "alembic", *args],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, f"alembic {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout + proc.stderr


def test_round_trip_and_models_match_head(database_url):
    alembic(database_url, "upgrade", "head")
    alembic(database_url, "downgrade", "base")
    alembic(database_url, "upgrade", "head")
    assert HEAD in alembic(database_url, "current")
    # Models and migrations describe the same schema.
    assert "No new upgrade operations detected" in alembic(database_url, "check")

    # The safe forms really ended up valid: no NOT VALID leftovers, no INVALID index.
    with psycopg.connect(database_url.replace("+asyncpg", "")) as conn:
        not_valid = conn.execute(
            "SELECT conname FROM pg_constraint"
            " WHERE connamespace = 'public'::regnamespace AND NOT convalidated"
        ).fetchall()
        invalid = conn.execute(
            "SELECT indexrelid::regclass::text FROM pg_index WHERE NOT indisvalid"
        ).fetchall()
    assert not_valid == [] and invalid == []


def test_offline_sql(database_url):
    sql = alembic(database_url, "upgrade", "head", "--sql")
    assert "SET lock_timeout = '5s';" in sql
    assert "CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_exam_attempts_user_id_submitted_at" in sql
    assert "NOT VALID" in sql and "VALIDATE CONSTRAINT" in sql


def test_history_is_linear_with_one_head(database_url):
    out = alembic(database_url, "heads")
    assert out.split() == [HEAD, "(head)"]
