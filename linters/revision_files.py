"""The revision files of the work tree and of a git base, each distinct content parsed once.

A file is known by its git blob id (the hash of its bytes). A base file whose blob equals a
work-tree file's is the same text: it is neither read from git nor parsed again. What parsing
learns (history.read_identity) is cached by blob id in the repository's git directory, so the
next run parses only files it has not seen; the cache holds the entries of the last run only,
so it never grows past the size of the history.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path

from linters import gitio, history
from linters.history import RevisionFile, from_identity, read_identity
from linters.project import Project

CACHE_FORMAT = 1
NO_CACHE_ENV = "ALEMBIC_REVIEW_NO_CACHE"


def blob_id(data: bytes) -> str:
    """The id git gives these bytes (`git hash-object`)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _decode(data: bytes) -> str:
    # Same decoding for the work tree and for git, so that equal bytes are equal sources.
    return data.decode("utf-8", "replace")


def _parser_stamp() -> str:
    """Changes whenever the code that reads identities (or Python's own parser) changes."""
    code = Path(history.__file__).read_bytes()
    return f"{CACHE_FORMAT}-{sys.version_info[0]}.{sys.version_info[1]}-{hashlib.sha1(code).hexdigest()[:12]}"


def _git_dir(root: Path | None) -> Path | None:
    if root is None:
        return None
    dot_git = root / ".git"
    if dot_git.is_dir():
        return dot_git
    if dot_git.is_file():  # a worktree or submodule: "gitdir: <path>"
        text = dot_git.read_text(encoding="utf-8", errors="replace").strip()
        if text.startswith("gitdir:"):
            target = Path(text[len("gitdir:"):].strip())
            target = target if target.is_absolute() else root / target
            return target if target.is_dir() else None
    return None


class IdentityCache:
    """blob id -> read_identity() result, loaded from and saved to one JSON file."""

    def __init__(self, path: Path | None):
        self.path = path
        self.stamp = _parser_stamp() if path else ""
        self.entries: dict[str, dict | None] = {}
        self.used: set[str] = set()
        self.dirty = False
        if path is not None:
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                if isinstance(data, dict) and data.get("stamp") == self.stamp and isinstance(data.get("entries"), dict):
                    self.entries = data["entries"]
            except (OSError, ValueError):
                pass  # no cache yet, or a broken one: start over

    @classmethod
    def for_repo(cls, root: Path | None) -> "IdentityCache":
        if os.environ.get(NO_CACHE_ENV):
            return cls(None)
        git_dir = _git_dir(root)
        return cls(git_dir / "alembic-review" / "identities.json" if git_dir else None)

    def identity(self, blob: str, source: str, header_only: bool = False) -> dict | None:
        self.used.add(blob)
        ident = self.entries.get(blob, False)
        if ident is False or (ident is not None and not header_only and not ident.get("full")):
            ident = self.entries[blob] = read_identity(source, header_only)
            self.dirty = True
        return ident

    def save(self) -> None:
        if self.path is None or not (self.dirty or set(self.entries) - self.used):
            return
        kept = {b: self.entries[b] for b in self.used if b in self.entries}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".identities-")
            with os.fdopen(fd, "w", encoding="utf-8") as out:  # dumps, not dump: only dumps uses the C encoder
                out.write(json.dumps({"stamp": self.stamp, "entries": kept}, separators=(",", ":")))
            os.replace(tmp, self.path)  # atomic: a concurrent run reads the old or the new file
        except OSError:
            pass  # a read-only checkout still gets reviewed, only without the cache


def is_revision_path(rel: str, version_dirs: list[str], recursive: bool) -> bool:
    if not rel.endswith(".py"):
        return False
    for d in version_dirs:
        prefix = d.rstrip("/") + "/"
        if rel.startswith(prefix) and (recursive or "/" not in rel[len(prefix):]):
            return True
    return False


class RevisionLoader:
    """Reads the work tree and the base, sharing what the two have in common.

    A file that is byte for byte the same at the base and in the work tree is unchanged history:
    it is not reviewed, it only places a revision in the graph, so its identity is read from its
    header (history.read_identity's header_only). Every other file is parsed in full.
    """

    def __init__(self, project: Project, base: str | None = None, cache: IdentityCache | None = None):
        self.project = project
        self.base = base
        self.cache = cache or IdentityCache.for_repo(project.root)
        self.sources: dict[str, str] = {}  # blob id -> source of every file read so far
        self.dirs = [project.rel(d) for d in project.version_dirs if d.resolve().is_relative_to(project.root)]
        self.base_entries = self._base_entries() if base else []
        self.shared = {b for _, b in self.base_entries}  # trimmed to the blobs also in the work tree

    def _base_entries(self) -> list[tuple[str, str]]:
        return [(p, b) for p, b in gitio.list_blobs(self.project.root, self.base, self.dirs)
                if is_revision_path(p, self.dirs, self.project.recursive)]

    def _load(self, path: str, blob: str, source: str) -> RevisionFile | None:
        self.sources.setdefault(blob, source)
        return from_identity(path, source, self.cache.identity(blob, source, header_only=blob in self.shared), blob)

    def _work_tree_paths(self):
        """(path, repo-relative path) of the .py files of the version directories, sorted."""
        for directory in self.project.version_dirs:
            if not directory.is_dir():
                continue
            rel_dir = self.project.rel(directory)  # resolved once, not once per file
            prefix = "" if rel_dir == "." else rel_dir + "/"
            if self.project.recursive:
                found = [(p, p.relative_to(directory).as_posix()) for p in sorted(directory.glob("**/*.py"))]
            else:  # os.scandir: pathlib's glob and sort cost more than reading the files on a big history
                with os.scandir(directory) as entries:
                    names = sorted(e.name for e in entries if e.name.endswith(".py"))
                found = [(directory / name, name) for name in names]
            for path, below in found:
                rel = prefix + below
                if path.is_symlink():
                    try:
                        rel = self.project.rel(path)  # where it points, as before
                    except ValueError:
                        continue  # outside the repository
                yield path, rel

    def work_tree(self) -> list[RevisionFile]:
        """Revision files as they are in the work tree (uncommitted edits count, as a developer expects)."""
        read = []
        for path, rel in self._work_tree_paths():
            try:
                data = path.read_bytes()
            except OSError:
                continue
            read.append((rel, blob_id(data), data))
        self.shared &= {b for _, b, _ in read}
        return [rev for rel, blob, data in read if (rev := self._load(rel, blob, _decode(data))) is not None]

    def at_commit(self, ref: str | None = None) -> list[RevisionFile]:
        """Revision files at commit `ref` (default: the base); blobs the work tree holds are not read again."""
        entries = self.base_entries if ref is None or ref == self.base else \
            [(p, b) for p, b in gitio.list_blobs(self.project.root, ref, self.dirs)
             if is_revision_path(p, self.dirs, self.project.recursive)]
        missing = list(dict.fromkeys(b for _, b in entries if b not in self.sources))
        for blob, data in gitio.read_blobs(self.project.root, missing).items():
            self.sources[blob] = _decode(data)
        return [rev for p, b in entries
                if b in self.sources and (rev := self._load(p, b, self.sources[b])) is not None]

    def close(self) -> None:
        self.cache.save()
