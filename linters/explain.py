"""`rules` and `explain RULE`: rule docs, read from the one registry."""

from __future__ import annotations

from pathlib import Path

from linters.errors import UsageError
from linters.rules import RULES

README_START = "<!-- rules:start -->"
README_END = "<!-- rules:end -->"


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


def _cell(text: str | None) -> str:
    return (text or "").replace("|", "\\|").replace("\n", " ")


def markdown_table() -> str:
    """The README's rule table, from the same registry as `rules` and `explain`."""
    rows = ["| rule | default | checks | lock | what it catches |", "|---|---|---|---|---|"]
    for r in sorted(RULES.values(), key=lambda r: r.id):
        rows.append(f"| `{r.id}` | {r.severity.value} | {r.checks} | "
                    f"{_cell(r.lock) or '—'} | {_cell(r.summary)} |")
    return "\n".join(rows) + "\n"


def rules_doc() -> str:
    """docs/rules.md: one section per rule, its heading the rule id (the anchor the PR comment links)."""
    out = ["# Rules", "",
           "Generated from the rule registry (`python -m linters rules --docs --write docs/rules.md`); "
           "`python -m linters explain RULE` prints the same text.", ""]
    for r in sorted(RULES.values(), key=lambda r: r.id):
        out += [f"## {r.id}", "", f"*{r.severity.value} by default · checks {r.checks}"
                + (f" · takes {r.lock}*" if r.lock else "*"), "", r.summary, "", f"**Why it hurts.** {r.why}", "",
                f"**The safe way, in Alembic.** {r.recipe}", ""]
        if r.recipe_per_migration:
            out += [f"When env.py already commits after each revision: {r.recipe_per_migration}", ""]
        out += [f"Silence one line with `# alembic-review: ignore[{r.id}]` on the `op.*` call.", ""]
    return "\n".join(out)


def readme_section(text: str) -> str | None:
    """The rule table currently between the markers of a README, None without markers."""
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < start:
        return None
    return text[start + len(README_START):end].strip("\n") + "\n"


def write_readme(path: Path) -> None:
    """Replace the table between the markers of `path` with the generated one."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}")
    if readme_section(text) is None:
        raise UsageError(f"{path} has no {README_START} ... {README_END} section")
    start, end = text.find(README_START) + len(README_START), text.find(README_END)
    path.write_text(text[:start] + "\n" + markdown_table() + text[end:], encoding="utf-8")
