"""Rules the engine reports about how a revision was rendered offline (linters/render_notes.py):
what it could not run, what it stood in for, what it asked the database, downgrades that refuse."""

from linters.rules import engine_rule

engine_rule(
    "unreviewed-operation", "warning",
    summary="An operation the renderer could not run (a plugin's op that is not installed); the rest of the revision is reviewed.",
    why="`op.sync_enum_values(...)`, `op.create_entity(...)` and other operations registered by plugins "
        "(alembic_postgresql_enum, alembic_utils, Operations.register_operation in env.py) emit SQL "
        "only when the plugin is loaded. Without it the operation was skipped, so the locks it takes "
        "and what it changes were not checked.",
    recipe="Install the plugin where the review runs (`pip install alembic_utils` next to alembic-review, "
           "or `--python` pointing at the project's interpreter), or check the SQL of this call by hand "
           "(`alembic upgrade <rev> --sql`).",
)

engine_rule(
    "irreversible-downgrade", "info",
    summary="downgrade() raises on purpose: this revision cannot be rolled back with `alembic downgrade`.",
    why="A revision whose downgrade raises (`raise NotImplementedError`, `raise RuntimeError(\"no downgrade\")`) "
        "stops `alembic downgrade` there: a rollback past it needs a restore or a new forward revision. "
        "That is often a deliberate choice; the review says so, so that nobody finds out during an incident.",
    recipe="Keep it if the change cannot be undone (dropping data), and plan rollbacks as forward revisions; "
           "otherwise write the inverse in downgrade().",
)

engine_rule(
    "live-data-dependency", "info",
    summary="The revision reads the database (rows, or the schema through an inspector); offline it saw an empty one.",
    why="Rendering offline, queries return no rows, and the inspector sees an empty database (or, for a "
        "revision that failed on an empty one, the tables the history before it creates, without rows). What "
        "the revision does with what it finds (a data migration looping over rows, DDL guarded by `has_table`) "
        "was rendered for that database: on the real one it may emit more, or other, statements.",
    recipe="Review the branches that depend on data by hand, or run live mode (`--database-url`) on a "
           "copy of the schema. Prefer set-based SQL (`op.execute(\"UPDATE ... WHERE ...\")`), which is reviewed as written.",
)

engine_rule(
    "import-stand-in", "info",
    summary="The revision imports what cannot be imported where it is rendered; stand-ins took its place.",
    why="The application package, a module whose own dependency is missing, or a custom column type "
        "(`GUID()`, `EncryptedType(...)`) was replaced by a permissive stand-in so the revision could "
        "still be rendered. A stand-in used as a column type renders as a placeholder type "
        "(`\"stand-in:GUID\"`): the DDL and its locks are reviewed, the exact column type is not.",
    recipe="Nothing to do when the report looks right. To review with the real types, render with the "
           "project's own interpreter (`--python`), or keep revisions free of application imports "
           "(copy the type into the revision).",
)
