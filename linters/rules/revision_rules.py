"""Rules about a revision as a whole (RevisionRule: check(reviewed) -> Findings), and unused ignores."""

from __future__ import annotations

import ast

from linters.rules import RULES, engine_rule, revision_rule
from linters.pysource import parse_python

# Statements that change data or session settings, not the schema.
NOT_SCHEMA = {"InsertStmt", "UpdateStmt", "DeleteStmt", "MergeStmt", "SelectStmt", "CopyStmt", "TransactionStmt",
              "VariableSetStmt", "VariableShowStmt", "ExplainStmt", "NotifyStmt", "DoStmt", "CallStmt",
              "VacuumStmt", "CheckPointStmt", "DiscardStmt", "LockStmt"}


def _function(source: str, name: str) -> ast.FunctionDef | None:
    tree = parse_python(source)
    if tree is None:
        return None
    return next((n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == name), None)


def _trivial(fn: ast.FunctionDef) -> bool:
    """Only `pass`, `...` and docstrings: what `alembic revision` leaves when nobody wrote the downgrade."""
    return all(isinstance(s, ast.Pass) or (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))
               for s in fn.body)


def downgrade_raises_not_implemented(error: dict) -> bool:
    return error.get("stage") == "downgrade" and str(error.get("message", "")).startswith("NotImplementedError")


@revision_rule(
    "missing-downgrade", "warning",
    summary="The upgrade changes the schema but downgrade() is missing, empty, or emits no SQL.",
    why="`alembic downgrade` is how a bad deploy is rolled back. With an empty downgrade it reports success, "
        "moves the version stamp back, and leaves the schema as the upgrade made it: the next upgrade then "
        "fails on objects that already exist, in the middle of an incident.",
    recipe="Write the inverse in downgrade(): drop what the upgrade created, re-create what it dropped "
           "(`alembic revision --autogenerate` writes both). If the change truly cannot be undone, say so "
           "with `raise NotImplementedError(\"why\")` and mark the file "
           "`\"\"\"... alembic-review: ignore[missing-downgrade]\"\"\"`.",
)
def missing_downgrade(item):
    schema_changes = [s for s in item.parsed.statements if s.direction == "upgrade" and s.kind not in NOT_SCHEMA]
    if not schema_changes:
        return
    if any(e.get("stage") in ("import", "timeout", "crash") for e in item.render.errors):
        return  # render-error already says the revision was not reviewed
    fn = _function(item.file.source, "downgrade")
    upgrade = _function(item.file.source, "upgrade")
    line = fn.lineno if fn else (upgrade.lineno if upgrade else 1)
    errors = [e for e in item.render.errors if e.get("stage") == "downgrade"]
    if "downgrade" in item.render.missing or fn is None:
        message = "the upgrade changes the schema but the revision has no downgrade()"
    elif "downgrade" not in item.render.directions and not _trivial(fn):
        return  # not rendered (--all without --downgrades): only an empty downgrade() is known
    elif any(downgrade_raises_not_implemented(e) for e in errors):
        message = "downgrade() raises NotImplementedError: this revision cannot be rolled back"
        line = next((e.get("line") for e in errors if e.get("line")), line)
    elif errors:
        return  # it failed for another reason: render-error reports it
    elif any(s.direction == "downgrade" for s in item.parsed.statements) or \
            any(f.direction == "downgrade" for f in item.parsed.failures):
        return
    elif _trivial(fn):
        message = "the upgrade changes the schema but downgrade() is empty"
    else:
        message = "the upgrade changes the schema but downgrade() emits no SQL"
    first = schema_changes[0]
    yield RULES["missing-downgrade"].finding(message, path=item.file.path, line=line, revision=item.file.revision,
                                             statement=first.sql)


engine_rule(
    "unused-ignore", "info",
    summary="An `alembic-review: ignore[...]` (or `squawk-ignore`) comment that silences nothing.",
    why="An ignore left behind after the risky line changed would silently hide the next real problem on "
        "that line, and one naming a rule that does not exist never worked.",
    recipe="Remove the comment, or fix the rule id in it (`python -m linters rules` lists them).",
)
