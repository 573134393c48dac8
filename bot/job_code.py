"""A job's code: a local git repository with the base commit and the reviewed commit on top, its
work tree at the reviewed commit, built from the worker's copy of the repository's base branch
(bot/repo_cache.py) and the pull request's changed files (bot/delta.py) when it can, else from the
two commits' tarballs (bot/fetch.py). Either way the reviewer sees the same files: the cache only
serves a tree whose id is GitHub's own for that commit.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from pathlib import Path

from bot import delta, fetch, isolation
from bot.repo_cache import MAX_ADVANCES, RepoCache, Unusable, evict
from bot.settings import Settings

log = logging.getLogger("alembic_review.jobs")


class JobCode:
    def __init__(self, settings: Settings, token, repo: str, repo_id: int | None, deadline: float, phases,
                 still_wanted):
        """token: a callable returning the installation token; still_wanted: raises when the job
        became pointless (called between downloads)."""
        self.settings, self.token, self.repo, self.deadline = settings, token, repo, deadline
        self.phases, self.still_wanted = phases, still_wanted
        self.cache = (RepoCache(settings.work_dir / "repos", repo_id)
                      if repo_id is not None and settings.cached_repos > 0 else None)
        self.linked = False  # the checkout's files are hard links into the cache

    def _download(self, ref: str, target: Path) -> Path:
        self.still_wanted()
        fetch.download_tarball(self.settings.api_url, self.token(), self.repo, ref, target,
                               max_bytes=self.settings.max_tarball_bytes, deadline=self.deadline)
        return target

    def build(self, base: str, reviewed: str, tmp: Path, checkout: Path) -> str:
        """The checkout at `checkout` (in the job's directory `tmp`); returns our base commit."""
        if self.cache is not None:
            try:
                with self.cache.locked():
                    try:
                        self._ready_base(base, tmp)
                        commit = self._from_cache(base, reviewed, checkout)
                    except TimeoutError:  # an OSError too, but the job's own end
                        raise
                    except (OSError, subprocess.CalledProcessError, fetch.FetchError) as exc:
                        self.cache.reset()  # left in a state nobody knows: fetched afresh next time
                        raise Unusable(f"{type(exc).__name__}: {exc}") from None
                self.linked = True
                return commit
            except (Unusable, delta.NoDelta) as exc:
                log.info("%s: the code of %s comes from tarballs: %s", self.repo, reviewed[:12], exc)
                shutil.rmtree(checkout, ignore_errors=True)
        base_tar = tmp / "base.tar.gz"  # downloaded already when the cache could not hold it
        tars = [base_tar if base_tar.is_file() else self._download(base, base_tar)]
        self.phases.mark("download")
        tars.append(self._download(reviewed, tmp / "head.tar.gz"))
        self.phases.mark("download")
        base_commit, _ = fetch.build_checkout(checkout, *tars, max_bytes=self.settings.max_tarball_bytes)
        for t in tars:
            t.unlink()
        self.phases.mark("checkout")
        return base_commit

    def _changes(self, old: str, new: str):
        """(changes, their blobs) from commit `old` to commit `new`."""
        api, token = self.settings.api_url, self.token()
        changes = delta.changed_files(api, token, self.repo, old, new, self.deadline)
        blobs = {c.blob: delta.blob(api, token, self.repo, c.blob, self.deadline, self.settings.max_tarball_bytes)
                 for c in changes if c.blob}
        return changes, blobs

    def _ready_base(self, base: str, tmp: Path) -> None:
        """Make the cache hold commit `base`: moved on from what it holds, or from its tarball (left
        in `tmp` for the tarball path when the cache cannot hold it)."""
        state = self.cache.state()
        if state is not None and state["commit"] == base:
            return
        if self.cache.cannot_hold(base):
            raise Unusable(f"its tarball of {base[:12]} is not the commit's tree")
        tree = delta.tree_id(self.settings.api_url, self.token(), self.repo, base, self.deadline)
        if state is not None and state.get("advances", 0) < MAX_ADVANCES:
            try:
                changes, blobs = self._changes(state["commit"], base)
                self.cache.advance(changes, blobs, base, tree)
                self.phases.mark("download")
                return
            except (Unusable, delta.NoDelta) as exc:
                log.info("%s: the cached base %s could not move on to %s: %s", self.repo,
                         state["commit"][:12], base[:12], exc)
        tar = self._download(base, tmp / "base.tar.gz")
        self.phases.mark("download")
        self.cache.fill(tar, base, tree, self.settings.max_tarball_bytes)
        evict(self.cache.root, self.settings.cached_repos)
        self.phases.mark("checkout")

    def _from_cache(self, base: str, reviewed: str, checkout: Path) -> str:
        tree = delta.tree_id(self.settings.api_url, self.token(), self.repo, reviewed, self.deadline)
        changes, blobs = self._changes(base, reviewed)
        self.phases.mark("download")
        base_commit, _ = self.cache.checkout(checkout, changes, blobs, tree)
        self.cache.lend_identities(checkout)
        self.phases.mark("checkout")
        return base_commit

    def share(self, checkout: Path, uid: int | None) -> None:
        """The checkout readable (not writable) by the job's sandbox uid."""
        (isolation.share_linked_with if self.linked else isolation.share_with)(checkout, uid)

    def keep_identities(self, checkout: Path) -> None:
        """After the lint: its parse cache, for the next job on this repository."""
        if self.linked and self.cache is not None:
            with self.cache.locked():
                self.cache.keep_identities(checkout)
