"""Git's object ids of a directory's files, as GitHub computes them for a commit of that tree: the
fake GitHub's trees (GET /git/commits/{sha}'s tree.sha), blobs and compare listings come from here."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path


def object_id(kind: str, data: bytes) -> str:
    return hashlib.sha1(b"%s %d\0" % (kind.encode(), len(data)) + data).hexdigest()


@dataclass
class Tree:
    sha: str
    files: dict[str, tuple[str, str]] = field(default_factory=dict)  # path -> (mode, blob id)
    blobs: dict[str, Path] = field(default_factory=dict)             # blob id -> a file holding it


def _blob(path: Path) -> tuple[str, bytes]:
    if path.is_symlink():
        return "120000", os.fsencode(os.readlink(path))
    return ("100755" if os.access(path, os.X_OK) else "100644"), path.read_bytes()


def tree_of(directory: Path) -> Tree:
    """The tree git would make of `directory` (empty directories and `.git` left out, as a commit has them)."""
    out = Tree("")

    def walk(d: Path, prefix: str) -> str | None:
        entries = []
        for child in d.iterdir():
            if child.name == ".git":
                continue
            rel = prefix + child.name
            if child.is_dir() and not child.is_symlink():
                sub = walk(child, rel + "/")
                if sub is not None:
                    entries.append((child.name + "/", b"40000 %s\0" % os.fsencode(child.name) + bytes.fromhex(sub)))
                continue
            mode, data = _blob(child)
            blob = object_id("blob", data)
            out.files[rel] = (mode, blob)
            out.blobs.setdefault(blob, child)
            entries.append((child.name, b"%s %s\0" % (mode.encode(), os.fsencode(child.name)) + bytes.fromhex(blob)))
        if not entries:
            return None
        entries.sort(key=lambda e: os.fsencode(e[0]))  # git sorts a directory as if named "name/"
        return object_id("tree", b"".join(e[1] for e in entries))

    out.sha = walk(Path(directory), "") or object_id("tree", b"")
    return out


def blob_bytes(tree: Tree, blob: str) -> bytes | None:
    path = tree.blobs.get(blob)
    return None if path is None else _blob(path)[1]
