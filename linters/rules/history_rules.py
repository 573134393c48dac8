"""History mistakes that break deploys: edited or deleted revisions, two heads, broken links."""

from __future__ import annotations

from typing import TYPE_CHECKING

from linters.findings import Finding, Severity
from linters.rules import RULES, history_rule

if TYPE_CHECKING:  # annotations only: the registry loads for the sql command too, which reads no history
    from linters.history import RevisionFile
    from linters.model import History


def _finding(rule_id: str, f: RevisionFile, line: int | None, message: str, **extra) -> Finding:
    return RULES[rule_id].finding(message, path=f.path, line=line, revision=f.revision, **extra)


@history_rule(
    "edited-revision", "error",
    summary="A revision that already exists on the base branch was changed.",
    why="Databases that already ran this revision never run it again: the change silently never "
        "reaches production, and fresh databases now differ from old ones.",
    recipe="Leave applied revisions as they are and put the change in a new revision "
           "(`alembic revision -m \"...\"`). Comments, docstrings, formatting, import order, type "
           "annotations and the layout of SQL text may change freely.",
)
def edited_revision(history: History):
    for change in history.changes:
        if change.status == "modified":
            head = change.head
            if change.identity_changed:
                fields = ", ".join(change.identity_changed)
                message = f"{fields} of an existing revision changed: the revision graph of deployed databases no longer matches"
            else:
                message = f"revision {head.revision} already exists on the base branch and its code changed: databases that ran it will never run the change"
            yield _finding("edited-revision", head, change.first_changed_line, message)
        elif change.status == "unchanged" and change.cosmetic:
            yield _finding("edited-revision", change.head, 1,
                           "only comments, formatting, docstrings, imports or annotations changed in an existing revision (harmless)",
                           severity=Severity.INFO, hint="Nothing to do: the code Alembic runs is the same.")


@history_rule(
    "deleted-revision", "error",
    summary="A revision that exists on the base branch was deleted.",
    why="Databases stamped with this revision can no longer find it: `alembic upgrade` fails with "
        "\"Can't locate revision\", and revisions that depend on it are orphaned.",
    recipe="Restore the file. To undo what it did, add a new revision that reverses it.",
)
def deleted_revision(history: History):
    for change in history.changes:
        if change.status == "deleted":
            yield _finding("deleted-revision", change.base, change.base.lines.get("revision"),
                           f"revision {change.base.revision or change.base.path} was deleted: databases already at it cannot upgrade")


@history_rule(
    "duplicate-revision", "error",
    summary="Two revision files declare the same revision id.",
    why="Alembic refuses to load a history where two files share an id, so no migration can run.",
    recipe="Give the newer file a fresh id (`alembic revision` generates one) and point its children at it.",
)
def duplicate_revision(history: History):
    for rid, files in sorted(history.head.duplicates.items()):
        paths = ", ".join(f.path for f in files)
        for f in files[1:]:
            yield _finding("duplicate-revision", f, f.lines.get("revision"),
                           f"revision id {rid} is declared by {len(files)} files: {paths}")


@history_rule(
    "missing-down-revision", "error",
    summary="A revision's down_revision or depends_on names a revision that does not exist.",
    why="Alembic cannot build the graph: every command fails with \"Revision ... referenced from ... is not present\".",
    recipe="Point down_revision at an existing revision (`alembic heads` shows the current head).",
)
def missing_down_revision(history: History):
    for f in history.head.by_id.values():
        for missing in history.head.missing_parents(f):
            field = "down_revision" if missing in f.down_revisions else "depends_on"
            yield _finding("missing-down-revision", f, f.lines.get(field),
                           f"{field} {missing!r} of revision {f.revision} is not a revision in this history")


@history_rule(
    "revision-cycle", "error",
    summary="Revisions whose down_revision (or depends_on) links form a loop.",
    why="Alembic cannot order a loop: every command fails (\"Cycle is detected in revisions\", or a revision "
        "that is its own down_revision), so nothing deploys.",
    recipe="Point the down_revision of the newest revision in the loop at the revision it really follows "
           "(`alembic heads` on the base branch shows it).",
)
def revision_cycle(history: History):
    added = set(history.added)
    for loop in history.head.cycles():
        at = history.head.by_id[next((r for r in loop if r in added), loop[-1])]
        what = f"revision {loop[0]} is its own down_revision" if len(loop) == 1 else \
            f"revisions {', '.join(loop)} form a loop"
        yield _finding("revision-cycle", at, at.lines.get("down_revision"),
                       f"{what}: Alembic cannot order them and every command fails")


@history_rule(
    "multiple-heads", "error",
    summary="The branch leaves the history with more heads than the base had.",
    why="`alembic upgrade head` fails with \"Multiple head revisions are present\": usually two pull "
        "requests each added a revision on the same parent.",
    recipe="Rebase the new revision onto the current head (set its down_revision to it), or add a merge "
           "revision with `alembic merge heads -m \"merge\"`.",
)
def multiple_heads(history: History):
    heads = history.head.heads
    allowed = len(history.base.heads) if history.base else len(history.head.bases)
    if len(heads) <= max(allowed, 1):
        return
    old_heads = set(history.base.heads) if history.base else set()
    new_heads = [h for h in heads if h not in old_heads] or heads
    # One finding for the one problem, on the new head that can simply follow another head: its
    # down_revision is where the branches fork, so pointing it at the other head makes one line.
    at, suggestion, target = new_heads[-1], None, None
    for rid in new_heads:
        f = history.head.by_id[rid]
        others = [h for h in heads if h != rid]
        if (rid in history.added and len(others) == 1 and len(f.down_revisions) == 1 and "down_revision" in f.lines
                and f.down_revisions[0] in history.head.ancestors(others[0])):
            line = f.source.splitlines()[f.lines["down_revision"] - 1]
            if line.count(f.down_revisions[0]) == 1:
                at, target = rid, others[0]
                suggestion = line.replace(f.down_revisions[0], target)
                break
    f = history.head.by_id[at]
    yield _finding("multiple-heads", f, f.lines.get("down_revision"),
                   f"{len(heads)} heads after this change ({', '.join(heads)}): `alembic upgrade head` refuses to run",
                   suggestion=suggestion,
                   hint=RULES["multiple-heads"].recipe + (f" The current head is {target}." if target else ""))