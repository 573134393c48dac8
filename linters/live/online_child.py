"""Runs inside the sandboxed child (started by linters/live/online.py): apply one revision
online, through Alembic's Operations on a live connection to the scratch database, the way
`alembic upgrade` runs it. For base revisions that cannot be rendered offline: data migrations
that read through op.get_bind().
"""

from __future__ import annotations

import traceback

from linters.render_child import call_with_op, load_revision


def run(request: dict) -> dict:
    path = request["path"]
    try:
        import psycopg
        import sqlalchemy as sa
        from alembic.operations import Operations
        from alembic.runtime.migration import MigrationContext

        fn = getattr(load_revision(path, "_alembic_review_online"), request.get("direction", "upgrade"))
        params = request["database"]
        engine = sa.create_engine("postgresql+psycopg://", creator=lambda: psycopg.connect(**params),
                                  poolclass=sa.pool.NullPool)
        try:
            with engine.connect() as conn:
                context = MigrationContext.configure(conn)
                with context.begin_transaction():
                    call_with_op(fn, Operations(context))
        finally:
            engine.dispose()
        return {"ok": True}
    except BaseException as exc:  # noqa: BLE001 - anything the revision raises, SystemExit included
        lines = [f.lineno for f in traceback.extract_tb(exc.__traceback__) if f.filename == path]
        return {"ok": False, "message": f"{type(exc).__name__}: {exc}"[:1500], "line": lines[-1] if lines else None}


def main() -> None:
    from linters.live.sandbox import serve
    serve(run)


if __name__ == "__main__":
    main()
