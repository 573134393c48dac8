"""Rules reported by live mode (linters/live/) and by the models check; the engine produces them itself."""

from linters.rules import engine_rule

MODELS_FIRST = (
    "Stop using the column in the code first: remove it from the model (or the attribute from "
    "the mapped class) and deploy that; drop the column in a later migration, once no running "
    "process selects it. To rename, add the new column, write both, backfill, switch reads, "
    "then drop the old one in a later release."
)

engine_rule(
    "drop-mapped-column", "error",
    summary="The migration drops or renames a column (or table) that a SQLAlchemy model still maps.",
    why="Every ORM query on the model selects all mapped columns. The moment the migration commits, "
        "the app servers still running (and the new code, if the model was not changed) fail with "
        "UndefinedColumn on any query of that table.",
    recipe=MODELS_FIRST,
    lock="ACCESS EXCLUSIVE",
)

engine_rule(
    "schema-drift", "error",
    summary="After upgrading to head, the database and the SQLAlchemy models differ (live mode).",
    why="A model change with no migration means the app expects a schema that deploys never create; "
        "a migration with no model change means the models lie about the database. Both break at "
        "runtime, and the next `alembic revision --autogenerate` picks up the difference by surprise.",
    recipe="Run `alembic revision --autogenerate` against a database at head, review the generated "
           "operations, and commit them with the model change (or revert the model).",
)

engine_rule(
    "irreversible-revision", "error",
    summary="Upgrade -> downgrade -> upgrade on a real database fails, or the downgrade does not "
            "restore the schema (live mode).",
    why="A rollback during an incident runs the downgrade: if it fails, or leaves a column, index, "
        "constraint or enum behind, the database is in a state no revision describes, and the next "
        "upgrade fails too.",
    recipe="Make downgrade() the exact inverse of upgrade(): drop what upgrade created (types "
           "created by create_table included: `op.execute('DROP TYPE ...')`), re-create what it "
           "dropped, and restore NOT VALID / VALID flags. If a revision truly cannot be undone, "
           "raise in downgrade() and silence this rule on that line.",
)

engine_rule(
    "live-apply-error", "error",
    summary="A statement of a new revision failed on a real PostgreSQL database (live mode).",
    why="What fails on a scratch database fails in production too: the deploy stops at this "
        "statement, and with autocommit blocks it may stop half applied.",
    recipe="Fix the statement shown; reproduce with `alembic upgrade head` on a fresh database.",
)

engine_rule(
    "live-incomplete", "warning",
    summary="Live mode could not check everything: a revision could not be rendered or applied, "
            "or the models could not be loaded.",
    why="Live checks replay the rendered SQL of the whole history on a scratch database and import "
        "the models in a sandbox. What could not be replayed or imported was not checked.",
    recipe="Fix the reason shown (often a data migration that needs a live connection: guard it "
           "with `if context.is_offline_mode():`), or set `metadata = \"pkg.module:Base.metadata\"` "
           "in [tool.alembic-review].",
)

engine_rule(
    "live-lock-trace", "info",
    summary="What PostgreSQL really did for this statement: locks taken and how long they were held, "
            "rewrites, invalid indexes (live mode).",
    why="Static analysis predicts; the scratch database shows. Locks are read from pg_locks of the "
        "migrating backend after each statement, inside the migration's transaction, and are held "
        "until it commits: every later statement of the same transaction extends them.",
    recipe="Keep ACCESS EXCLUSIVE locks short: one risky operation per revision, "
           "`transaction_per_migration=True` in env.py, and a lock_timeout.",
)

engine_rule(
    "lock-prediction-mismatch", "info",
    summary="The static lock model predicted a different lock or rewrite than PostgreSQL showed (live mode).",
    why="Findings rely on the lock model (linters/locks.py). Where the real database disagrees, "
        "the prediction is a bug in the model, to be fixed there.",
    recipe="Report it with the statement; the live observation is what production will see.",
)
