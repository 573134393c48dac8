"""Rules the engine reports itself; registered here so `rules` and `explain` know them."""

from linters.rules import engine_rule

engine_rule(
    "render-error", "error",
    summary="A revision could not be loaded, rendered or parsed, so it was not reviewed.",
    why="What could not be rendered offline was not checked: syntax errors, imports that fail, "
        "revisions that need a live connection (op.get_bind().execute(...).scalar()), endless loops, "
        "or SQL PostgreSQL cannot parse. Statements rendered before the failure are still reviewed.",
    recipe="Fix the error shown. Keep data lookups out of migrations (or guard them with "
           "`if context.is_offline_mode():`), and make app imports in revisions side-effect free.",
)
