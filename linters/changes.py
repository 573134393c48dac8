"""What a branch did to the history: revisions added, modified (in meaning), deleted, renamed."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from linters.history import RevisionFile, normalized_dump


@dataclass
class Change:
    status: str                       # added | modified | deleted | unchanged
    head: RevisionFile | None         # the file in the branch (None when deleted)
    base: RevisionFile | None         # the file at the base (None when added)
    cosmetic: bool = False            # text changed, meaning did not (comments, formatting, docstrings)
    identity_changed: list[str] = field(default_factory=list)  # revision/down_revision/... that changed
    first_changed_line: int | None = None

    @property
    def renamed(self) -> bool:
        return bool(self.head and self.base and self.head.path != self.base.path)

    @property
    def current(self) -> RevisionFile:
        return self.head or self.base


def _flatten(nodes: list[ast.stmt]):
    """Statements in source order, descending into function and with-block bodies."""
    for node in nodes:
        yield node
        for attr in BODY_FIELDS:
            inner = getattr(node, attr, None)
            if isinstance(inner, list) and inner and isinstance(inner[0], (ast.stmt, ast.excepthandler)):
                yield from _flatten(inner)


BODY_FIELDS = ("body", "orelse", "finalbody", "handlers")


def first_difference(base: ast.Module, head: ast.Module) -> int | None:
    """Line (in head) of the first statement whose meaning differs from the base."""
    old = list(_flatten(base.body))
    new = list(_flatten(head.body))
    for a, b in zip(old, new):
        if normalized_dump(a) == normalized_dump(b):
            continue
        if type(a) is type(b) and hasattr(a, "body") and _header(a) == _header(b):
            continue  # same def/with/if line: the statement that differs comes further down
        return b.lineno
    if len(new) > len(old):
        return new[len(old)].lineno
    return new[-1].lineno if new else 1


def _header(node: ast.stmt) -> str:
    """A compound statement without its bodies."""
    clone = type(node)(**{f: ([] if f in BODY_FIELDS else getattr(node, f, None)) for f in node._fields})
    return normalized_dump(clone)


def compare(base_files: list[RevisionFile], head_files: list[RevisionFile]) -> list[Change]:
    """Match revisions by id (a renamed file is the same revision), else by path."""
    base_by_key = {f.key: f for f in base_files}
    base_by_path = {f.path: f for f in base_files}
    head_keys = {h.key for h in head_files}
    changes: list[Change] = []
    matched: set[str] = set()
    for head in head_files:
        base = base_by_key.get(head.key)
        if base is None and head.path in base_by_path and base_by_path[head.path].key not in head_keys:
            base = base_by_path[head.path]  # same file, its revision id was edited
        if base is None:
            changes.append(Change("added", head, None))
            continue
        matched.add(base.key)
        changes.append(_modification(base, head))
    for base in base_files:
        if base.key not in matched:
            changes.append(Change("deleted", None, base))
    return changes


def _modification(base: RevisionFile, head: RevisionFile) -> Change:
    if base.source == head.source:
        return Change("unchanged", head, base)  # same text: no need to parse either to compare
    identity = [
        name for name in ("revision", "down_revision", "branch_labels", "depends_on")
        if _identity(base, name) != _identity(head, name)
    ]
    if base.fingerprint == head.fingerprint and not identity:
        return Change("unchanged", head, base, cosmetic=base.source != head.source)
    change = Change("modified", head, base, identity_changed=identity)
    if identity:
        change.first_changed_line = head.lines.get(identity[0], 1)
    elif base.tree is not None and head.tree is not None:
        change.first_changed_line = first_difference(base.tree, head.tree)
    else:
        change.first_changed_line = head.error_line or 1
    return change


def _identity(f: RevisionFile, name: str):
    return {"revision": f.revision, "down_revision": f.down_revisions,
            "branch_labels": f.branch_labels, "depends_on": f.depends_on}[name]
