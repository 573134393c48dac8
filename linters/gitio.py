"""Thin wrappers over the git CLI: where the repo is, what the base is, file contents at a ref."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from linters.errors import UsageError


def _git(cwd: Path, *args: str, check: bool = True, input: bytes | None = None) -> bytes:
    proc = subprocess.run(
        ["git", *args], cwd=cwd, input=input,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    if check and proc.returncode != 0:
        raise subprocess.CalledProcessError(proc.returncode, ["git", *args], proc.stdout, proc.stderr)
    return proc.stdout


def repo_root(path: Path) -> Path | None:
    """The top of the git work tree holding `path`, or None outside git."""
    try:
        out = _git(path, "rev-parse", "--show-toplevel")
    except (subprocess.CalledProcessError, FileNotFoundError, NotADirectoryError):
        return None
    return Path(out.decode().strip()).resolve()


def resolve_commit(root: Path, ref: str) -> str:
    try:
        return _git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").decode().strip()
    except subprocess.CalledProcessError:
        raise UsageError(f"git base not found: {ref!r} is not a commit in {root}") from None


def default_base(root: Path) -> str | None:
    """Merge-base of HEAD with the remote default branch, when there is one.

    GitHub Actions checks out the PR head and says the base branch in GITHUB_BASE_REF.
    """
    candidates = []
    if os.environ.get("GITHUB_BASE_REF"):
        candidates.append(f"origin/{os.environ['GITHUB_BASE_REF']}")
    try:
        head_ref = _git(root, "symbolic-ref", "--quiet", "refs/remotes/origin/HEAD").decode().strip()
        candidates.append(head_ref)
    except subprocess.CalledProcessError:
        pass
    candidates += ["origin/main", "origin/master"]
    for ref in candidates:
        try:
            return _git(root, "merge-base", "HEAD", ref).decode().strip()
        except subprocess.CalledProcessError:
            continue
    return None


def list_files(root: Path, ref: str, under: list[str]) -> list[str]:
    """Repo-relative paths of the files below `under` at commit `ref`."""
    if not under:
        return []
    out = _git(root, "ls-tree", "-r", "-z", "--name-only", ref, "--", *under)
    return [p for p in out.decode("utf-8", "replace").split("\0") if p]


def list_blobs(root: Path, ref: str, under: list[str]) -> list[tuple[str, str]]:
    """(repo-relative path, blob id) of the files below `under` at commit `ref`."""
    if not under:
        return []
    out = _git(root, "ls-tree", "-r", "-z", ref, "--", *under)
    entries = []
    for record in out.decode("utf-8", "replace").split("\0"):
        meta, _, path = record.partition("\t")
        parts = meta.split()
        if path and len(parts) == 3 and parts[1] == "blob":
            entries.append((path, parts[2]))
    return entries


def read_blobs(root: Path, blobs: list[str]) -> dict[str, bytes]:
    """Contents of many blobs by id in one `git cat-file --batch` call (ids, not `ref:path`:
    git resolves each `ref:path` by walking the tree, which is quadratic on a big directory)."""
    if not blobs:
        return {}
    out = _git(root, "cat-file", "--batch", input="".join(b + "\n" for b in blobs).encode())
    contents: dict[str, bytes] = {}
    pos = 0
    for blob in blobs:
        header_end = out.index(b"\n", pos)
        header = out[pos:header_end].split()
        pos = header_end + 1
        if len(header) < 3 or header[1] == b"missing":
            continue
        size = int(header[2])
        contents[blob] = out[pos:pos + size]
        pos += size + 1  # the blob is followed by a newline
    return contents
