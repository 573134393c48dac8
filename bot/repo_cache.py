"""A worker's copy of each repository's base branch, kept between jobs, so that a job on a
repository seen before fetches only what its pull request changed (bot/delta.py) instead of two
tarballs, and writes no file the copy already has.

    WORK_DIR/repos/               0700, root's: no sandbox uid can enter it
        <repo id>.lock            flock: one job at a time reads or changes this repository's copy
        <repo id>/state.json      the GitHub commit held, its tree id, our commit of it
        <repo id>/tree/           that commit's files (root's, never writable by others)
        <repo id>/git/            a bare repository holding our commit of it, in packs only
        <repo id>/identities.json the lint's parse cache (linters/revision_files.py), job to job

Keyed by the repository's id (a renamed repository keeps it; a new one with an old name does
not get it). Only commits of the base branch are kept here, only after their tree was checked
against GitHub's tree id; a pull request's own files go into its job's checkout only. A job's
checkout hard-links the files and packs (nothing of them is ever written in place: a change is a
new file), so it needs no copy and the cache can move on or be evicted while the job runs.
Bounded: MAX_ADVANCES small packs per repository before it is fetched afresh, and the
ALEMBIC_REVIEW_CACHED_REPOS most recently used repositories per work directory.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

from bot.fetch import FetchError, extract, fast_import, git, git_path, import_tree

MAX_ADVANCES = 32          # packs added by moving the base on; then it is fetched afresh
MAX_IDENTITIES_BYTES = 64 * 1024 ** 2
COMMITTER = b"committer alembic-review <alembic-review@localhost> 0 +0000\n"
# packs only, however few the objects (a checkout links the packs; loose objects it would not see)
PACKS_ONLY = ("-c", "fastimport.unpackLimit=0")


class Unusable(Exception):
    """The cache cannot give this commit exactly as its tarball would; the message says why."""


def _fast_import(git_dir: Path, write) -> None:
    try:
        fast_import(git_dir, git_dir.parent, write, PACKS_ONLY)
    except FetchError as exc:
        raise Unusable(str(exc)) from None


def _modes(git_dir: Path, commit: str, paths: list[str]) -> dict[str, str]:
    """path -> git mode at `commit`, for those of `paths` it has."""
    if not paths:
        return {}
    out = {}
    for entry in git(git_dir, "ls-tree", "-z", commit, "--", *paths).split("\0"):
        if entry:
            meta, _, path = entry.partition("\t")
            out[path] = meta.split()[0]
    return out


def commit_changes(git_dir: Path, parent: str, changes, blobs: dict[str, bytes], message: str) -> str:
    """Our commit of `parent` with `changes` (bot.delta.Changed) applied, on refs/heads/base; its id.
    A changed file keeps its mode, a new one is 100644: GitHub's tree id then says whether that was so."""
    modes = _modes(git_dir, parent, [c.path for c in changes if c.status == "modified"])
    text = message.encode()
    out = [b"commit refs/heads/base\n", COMMITTER, b"data %d\n%s\nfrom %s\n" % (len(text), text, parent.encode())]
    for c in changes:
        path = git_path(c.path)
        if c.status == "removed":
            out.append(b"D %s\n" % path)
            continue
        mode = modes.get(c.path, "100644")
        if mode not in ("100644", "100755"):
            raise Unusable(f"{c.path} is a {mode} entry")
        data = blobs[c.blob]
        out.append(b"M %s inline %s\ndata %d\n%s\n" % (mode.encode(), path, len(data), data))
    _fast_import(git_dir, lambda stream: stream.write(b"".join(out) + b"\n"))
    return git(git_dir, "rev-parse", "refs/heads/base").strip()


def tree_of(git_dir: Path, commit: str) -> str:
    return git(git_dir, "rev-parse", f"{commit}^{{tree}}").strip()


def apply_files(root: Path, changes, blobs: dict[str, bytes], git_dir: Path, commit: str) -> None:
    """Write `changes` into the files under `root`: a removed file is unlinked (and directories it
    leaves empty), a changed one replaced by a new file (never written through: it may be a hard
    link to the cache), with the mode `commit` gives it."""
    modes = _modes(git_dir, commit, [c.path for c in changes if c.status != "removed"])
    for c in changes:
        target = root / c.path
        parent = target.parent
        for ancestor in [parent, *parent.parents]:
            if ancestor == root:
                break
            if ancestor.is_symlink() or (ancestor.exists() and not ancestor.is_dir()):
                raise Unusable(f"{c.path} is below a link or a file")
        if target.is_symlink() or target.is_dir():
            raise Unusable(f"{c.path} replaces a link or a directory")
        target.unlink(missing_ok=True)
        if c.status == "removed":
            while parent != root and not any(parent.iterdir()):
                parent.rmdir()
                parent = parent.parent
            continue
        parent.mkdir(parents=True, exist_ok=True)
        mode = 0o755 if modes.get(c.path) == "100755" else 0o644
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(blobs[c.blob])
        os.chmod(target, mode)  # whatever the umask


class RepoCache:
    def __init__(self, root: Path, repo_id: int):
        self.root = root
        self.dir = root / str(int(repo_id))
        self.lock_path = root / f"{int(repo_id)}.lock"
        self.git_dir, self.tree_dir = self.dir / "git", self.dir / "tree"
        self.state_path = self.dir / "state.json"

    @contextmanager
    def locked(self):
        """This repository's copy, for this thread alone (threads and processes alike)."""
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield self
        finally:
            os.close(fd)  # releases the lock

    def state(self) -> dict | None:
        try:
            state = json.loads(self.state_path.read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(state, dict) or not all(isinstance(state.get(k), str) for k in ("commit", "tree", "local")):
            return None
        if not self.tree_dir.is_dir() or not self.git_dir.is_dir():
            return None
        return state

    def cannot_hold(self, commit: str) -> bool:
        """Whether commit's tarball was found not to be its tree (the cache cannot serve it)."""
        try:
            return (self.dir / "cannot-hold").read_text() == commit
        except OSError:
            return False

    def _save(self, state: dict) -> None:
        tmp = self.dir / ".state.json"
        tmp.write_text(json.dumps(state))
        os.replace(tmp, self.state_path)

    def reset(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

    def fill(self, tarball: Path, commit: str, tree: str, max_bytes: int) -> None:
        """Hold `commit` (GitHub's tree id `tree`) from its tarball; Unusable (and nothing held)
        when the tarball is not exactly that tree (export-ignore, submodules, links out of the tree)."""
        self.reset()
        self.dir.mkdir(mode=0o700)
        git(self.dir, "init", "-q", "--bare", "-b", "base", str(self.git_dir))
        try:
            _fast_import(self.git_dir, lambda stream: import_tree(tarball, stream, "base", max_bytes))
        except (Unusable, FetchError):
            self.reset()
            raise
        local = git(self.git_dir, "rev-parse", "refs/heads/base").strip()
        if tree_of(self.git_dir, local) != tree:
            self.reset()
            self.dir.mkdir(mode=0o700)
            (self.dir / "cannot-hold").write_text(commit)  # jobs on this base go the tarball way at once
            raise Unusable(f"the tarball of {commit[:12]} is not its tree")
        extract(tarball, self.tree_dir, max_bytes=max_bytes)
        self._save({"commit": commit, "tree": tree, "local": local, "advances": 0, "used": time.time()})

    def advance(self, changes, blobs: dict[str, bytes], commit: str, tree: str) -> None:
        """Move the held commit on to `commit` (GitHub's tree id `tree`) by `changes`; on any failure
        nothing is held (the next job fetches a tarball)."""
        state = self.state()
        assert state is not None
        self.state_path.unlink()  # a worker dying halfway leaves no state: the copy is fetched afresh
        try:
            local = commit_changes(self.git_dir, state["local"], changes, blobs, "base")
            if tree_of(self.git_dir, local) != tree:
                raise Unusable(f"the changes up to {commit[:12]} do not make its tree")
            apply_files(self.tree_dir, changes, blobs, self.git_dir, local)
        except (Unusable, FetchError, OSError) as exc:
            self.reset()
            raise Unusable(str(exc)) from None
        self._save({"commit": commit, "tree": tree, "local": local, "advances": state.get("advances", 0) + 1,
                    "used": time.time()})

    def checkout(self, dest: Path, changes, blobs: dict[str, bytes], tree: str) -> tuple[str, str]:
        """A job's repository at `dest`, as fetch.build_checkout makes it: our base commit, then the
        reviewed commit (held commit + `changes`, checked against GitHub's tree id `tree`) on top,
        its files in the work tree. Returns (base, head) commits; Unusable when it cannot."""
        state = self.state()
        assert state is not None
        subprocess.run(["cp", "-al", str(self.tree_dir), str(dest)], check=True, capture_output=True)
        git(dest, "init", "-q", "-b", "base")
        packs = self.git_dir / "objects" / "pack"
        for name in os.listdir(packs):
            if name.endswith((".pack", ".idx")):
                os.link(packs / name, dest / ".git" / "objects" / "pack" / name)
        head = commit_changes(dest / ".git", state["local"], changes, blobs, "pull request head")
        if tree_of(dest / ".git", head) != tree:
            raise Unusable("the changes do not make the reviewed commit's tree")
        apply_files(dest, changes, blobs, dest / ".git", head)
        git(dest, "read-tree", "base")  # the index at head, as after a checkout
        self._touch(state)
        return state["local"], head

    def _touch(self, state: dict) -> None:
        state["used"] = time.time()
        self._save(state)

    def lend_identities(self, checkout: Path) -> None:
        """The lint's parse cache of the last job on this repository, into the job's checkout."""
        source = self.dir / "identities.json"
        if source.is_file():
            target = checkout / ".git" / "alembic-review"
            target.mkdir(exist_ok=True)
            shutil.copyfile(source, target / "identities.json")

    def keep_identities(self, checkout: Path) -> None:
        """The parse cache the job's lint left (written by the lint, ours, never by a revision: the
        sandbox cannot write the checkout), for the next job."""
        source = checkout / ".git" / "alembic-review" / "identities.json"
        try:
            if not source.is_file() or source.is_symlink() or source.stat().st_size > MAX_IDENTITIES_BYTES:
                return
            if self.state() is None:
                return
            tmp = self.dir / ".identities.json"
            shutil.copyfile(source, tmp)
            os.replace(tmp, self.dir / "identities.json")
        except OSError:
            pass


def evict(root: Path, keep: int) -> None:
    """Remove the least recently used repositories' copies past the `keep` newest (not one in use)."""
    try:
        names = [p.name for p in root.iterdir() if p.is_dir() and p.name.isdigit()]
    except OSError:
        return
    if len(names) <= keep:
        return

    def used(name: str) -> float:
        try:
            return (root / name / "state.json").stat().st_mtime
        except OSError:
            return 0.0
    for name in sorted(names, key=used)[:len(names) - keep]:
        fd = os.open(root / f"{name}.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue  # a job is using it
        try:
            shutil.rmtree(root / name, ignore_errors=True)
        finally:
            os.close(fd)
