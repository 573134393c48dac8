"""Open pull requests to review again, found on GitHub rather than in a pull_request event: when
their base branch moved (a push to it that touched migrations), when the App is installed on
repositories that already have open pull requests, and when a re-run is asked for on one the
service has never seen.

The webhook handler calls these (a few API calls, in its thread pool); each pull request found goes
through ledger.request_review like one from an event, so a review already queued is not doubled.
"""

from __future__ import annotations

import posixpath

from bot import ledger
from bot.jobs import CONFIG_FILES, REPO

MAX_PUSH_COMMITS = 20  # a push event lists at most 20 commits: beyond that, assume migrations moved


def known_version_dirs(store, repo_full_name: str) -> set[str]:
    """Version directories learned from earlier reviews of this repository (bot.jobs)."""
    return set((store.get(REPO, repo_full_name) or {}).get("version_dirs", []))


def push_touches_migrations(payload: dict, version_dirs: set[str]) -> bool:
    """Whether a push could change a review of pull requests onto its branch: it added, changed or
    removed a revision (a .py under a `versions` directory, or one seen before) or a config file."""
    commits = payload.get("commits")
    if not isinstance(commits, list) or len(commits) >= MAX_PUSH_COMMITS:
        return True
    for commit in commits:
        if not isinstance(commit, dict):
            return True
        for key in ("added", "modified", "removed"):
            for path in commit.get(key) or []:
                if not isinstance(path, str):
                    continue
                name, parent = posixpath.basename(path), posixpath.dirname(path)
                if name in CONFIG_FILES or (name.endswith(".py") and
                                            ("versions" in parent.split("/") or parent in version_dirs)):
                    return True
    return False


def queue_open_pulls(store, gh, repo_full_name: str, installation_id: int, *, base: str | None = None,
                     head_sha: str | None = None, force: bool = False) -> list[ledger.Job]:
    """Reviews for the repository's open pull requests (onto `base`, or at `head_sha`, when given);
    force: even at a head already reviewed (its base moved, or a re-run was asked for)."""
    repo = gh.get_repo(repo_full_name)
    pulls = repo.get_pulls(state="open", base=base) if base else repo.get_pulls(state="open")
    jobs = []
    for pr in pulls:
        if head_sha is not None and pr.head.sha != head_sha:
            continue
        updated = pr.updated_at.strftime("%Y-%m-%dT%H:%M:%SZ") if pr.updated_at else ""
        job = ledger.request_review(store, repo=repo_full_name, number=pr.number,
                                    installation_id=installation_id, head_sha=pr.head.sha,
                                    base_sha=pr.base.sha, updated_at=updated, force=force)
        if job is not None:
            jobs.append(job)
    return jobs
