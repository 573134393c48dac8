"""`rules` and `explain RULE`: rule docs, read from the one registry."""

from __future__ import annotations

from linters.errors import UsageError
from linters.rules import RULES


def list_rules() -> str:
    width = max(len(r) for r in RULES)
    lines = [f"{r.id:<{width}}  {r.severity.value:<7}  {r.summary}" for r in sorted(RULES.values(), key=lambda r: r.id)]
    return "\n".join(lines) + "\n"


def explain(rule_id: str) -> str:
    rule = RULES.get(rule_id)
    if rule is None:
        raise UsageError(f"unknown rule {rule_id!r} (see `python -m linters rules`)")
    parts = [f"{rule.id} ({rule.severity.value} by default)", "", rule.summary, "", "Why it hurts:", f"  {rule.why}"]
    if rule.lock:
        parts += ["", f"Lock taken: {rule.lock}"]
    parts += ["", "The safe way, in Alembic:", f"  {rule.recipe}", "",
              f"Silence one line with `# alembic-review: ignore[{rule.id}]` on the op.* call."]
    return "\n".join(parts) + "\n"
