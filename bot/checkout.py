"""What the Action reviews: the commit it compares the checkout with, read from the event and git.

- `pull_request`: actions/checkout checks out refs/pull/N/merge, the pull request merged into its
  base branch's tip *as it was when the job started*. The event's `pull_request.base.sha` can be
  older (the base moved since the event), and comparing with it would count every revision
  merged to the base in between as this pull request's. The merge commit's first parent is
  exactly what it was built on, so that is the base. When the head itself was checked out
  (`ref: ${{ github.event.pull_request.head.sha }}`), the base is where the branch forked from
  the base commit (their merge-base).
- `merge_group` (merge queues): the queue's commit is compared with `merge_group.base_sha`; it
  holds every pull request queued ahead, so two that each pass alone but leave two heads
  together are caught there.
- anything else: no base from the event (the CLI's default: merge-base with the remote default
  branch).

The merge commit's parents are read from the commit object itself (`git cat-file`), which a
shallow clone keeps, so a checkout too shallow to hold the base says what depth it needs.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path


class CheckoutError(Exception):
    """The checkout does not hold what the review needs; the message says what to change."""


@dataclass(frozen=True)
class Target:
    base: str | None        # commit to compare with (None: the CLI's default)
    head_sha: str | None    # commit the report is about (a check run goes on it)
    pr_number: int | None   # pull request to comment on (None: check run only, or nothing)


def _git(root: Path, *args: str) -> str | None:
    proc = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
    return proc.stdout.strip() if proc.returncode == 0 else None


def commit_parents(root: Path, rev: str = "HEAD") -> list[str]:
    """The parents written in the commit object (present even when the clone is too shallow)."""
    raw = _git(root, "cat-file", "-p", rev) or ""
    header = raw.split("\n\n", 1)[0]
    return [line.split()[1] for line in header.splitlines() if line.startswith("parent ")]


def merge_base(root: Path, a: str, b: str) -> str | None:
    return _git(root, "merge-base", a, b)


def has_commit(root: Path, sha: str) -> bool:
    return _git(root, "cat-file", "-e", f"{sha}^{{commit}}") is not None


def _pull_request_base(root: Path, pull: dict) -> str | None:
    pr_head = (pull.get("head") or {}).get("sha")
    event_base = (pull.get("base") or {}).get("sha")
    head = _git(root, "rev-parse", "HEAD")
    parents = commit_parents(root)
    if len(parents) == 2 and pr_head and parents[1] == pr_head:
        if not has_commit(root, parents[0]):
            raise CheckoutError(
                f"the checkout is the pull request's merge commit, but its base parent {parents[0][:12]} "
                "is not in the clone: check out with fetch-depth: 2 (or 0)")
        return parents[0]
    if head and pr_head and head == pr_head and event_base:
        if not has_commit(root, event_base):
            raise CheckoutError(
                f"the checkout is the pull request's head, and its base commit {event_base[:12]} is not "
                "in the clone: check out with fetch-depth: 0")
        return merge_base(root, "HEAD", event_base) or event_base
    return event_base


def resolve_ref(root: Path, ref: str) -> str:
    """`ref` as the user wrote it, or `origin/<ref>` when only that exists: an Actions checkout
    has no local branch but the one checked out, so `base: main` means the remote's main."""
    if _git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}") is None \
            and _git(root, "rev-parse", "--verify", "--quiet", f"origin/{ref}^{{commit}}") is not None:
        return f"origin/{ref}"
    return ref


def target(root: Path | None, event_name: str, event: dict) -> Target:
    """The base, head commit and pull request of this run; with root None (nothing checked out,
    as in the fork pattern's publishing workflow) no base. Raises CheckoutError."""
    if event_name == "merge_group" or "merge_group" in event:
        group = event.get("merge_group") or {}
        return Target(group.get("base_sha"), group.get("head_sha"), None)
    pull = event.get("pull_request") or {}
    head_sha = (pull.get("head") or {}).get("sha") or (event.get("workflow_run") or {}).get("head_sha")
    base = _pull_request_base(root, pull) if pull and root is not None else None
    return Target(base, head_sha or None, pull.get("number"))
