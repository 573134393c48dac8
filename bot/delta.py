"""What changed between two commits, read from GitHub's REST API instead of a second tarball: the
comparison's changed files (GET /repos/{repo}/compare/{base}...{head}), each changed blob
(GET /repos/{repo}/git/blobs/{sha}, checked against its id) and a commit's tree id
(GET /repos/{repo}/git/commits/{sha}), which says whether a tree built from them is the commit's.

A comparison is only used when it is exactly base -> head: GitHub diffs from the merge base, so the
merge base must be the base itself; it lists at most 300 files, so 300 means maybe more; and an entry
it cannot be sure of (a mode change, a submodule, `.gitattributes`, a `.git` path) means the
tarball, which is always right."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from urllib.parse import quote

import requests

from bot.fetch import read_capped

MAX_COMPARE_FILES = 300  # GitHub lists at most this many files of a comparison
MAX_CHANGED_BLOBS = 100  # past this many changed files, one tarball is cheaper than the blobs
STATUSES = {"added", "modified", "removed", "renamed", "copied"}


class NoDelta(Exception):
    """The comparison cannot stand in for the tarball; the message says why (for the log)."""


@dataclass(frozen=True)
class Changed:
    path: str
    status: str                   # added, modified, removed (a rename is a removal and an addition)
    blob: str | None = None       # the new content's blob id (None when removed)


def _get(api_url: str, token: str, path: str, deadline: float, accept: str = "application/vnd.github+json",
         max_bytes: int = 64 * 1024 ** 2) -> bytes:
    """The body of GET `path`, at most max_bytes (else FetchError); NoDelta when GitHub does not answer 200."""
    try:
        status, data = read_capped(f"{api_url}{path}", token, accept, deadline=deadline, max_bytes=max_bytes,
                                   name=f"GitHub's answer for {path}")
    except requests.RequestException as exc:
        raise NoDelta(f"{path}: {type(exc).__name__}") from None
    if status != 200:
        raise NoDelta(f"GitHub answered {status} for {path}")
    return data


def _json(api_url: str, token: str, path: str, deadline: float):
    try:
        return json.loads(_get(api_url, token, path, deadline))
    except ValueError:
        raise NoDelta(f"GitHub's answer for {path} is not JSON") from None


def tree_id(api_url: str, token: str, repo: str, commit: str, deadline: float) -> str:
    """The id of commit `commit`'s tree."""
    body = _json(api_url, token, f"/repos/{repo}/git/commits/{commit}", deadline)
    tree = (body.get("tree") or {}).get("sha") if isinstance(body, dict) else None
    if not isinstance(tree, str) or len(tree) != 40:
        raise NoDelta(f"no tree id for {commit[:12]}")
    return tree


def _unsafe_path(path: str) -> bool:
    """A path the tarball would not hold as this file (see fetch._strip_prefix), or one that changes
    what the tarball holds (`.gitattributes`: export-ignore, export-subst)."""
    parts = path.split("/")
    return (not path or path.startswith("/") or ".." in parts or "" in parts
            or ".git" in (p.lower() for p in parts) or parts[-1] == ".gitattributes")


def changed_files(api_url: str, token: str, repo: str, base: str, head: str, deadline: float) -> list[Changed]:
    """The files that differ from commit `base` to commit `head`; raises NoDelta when GitHub's
    comparison cannot say it exactly."""
    body = _json(api_url, token, f"/repos/{repo}/compare/{base}...{head}", deadline)
    if not isinstance(body, dict) or (body.get("merge_base_commit") or {}).get("sha") != base:
        raise NoDelta("the base is not the merge base")
    files = body.get("files")
    if not isinstance(files, list) or len(files) >= MAX_COMPARE_FILES:
        raise NoDelta("the comparison's file list is (or may be) cut short")
    if len(files) > MAX_CHANGED_BLOBS:
        raise NoDelta(f"{len(files)} files changed")
    out: list[Changed] = []
    for f in files:
        status, path, blob = f.get("status"), f.get("filename"), f.get("sha")
        if status not in STATUSES or not isinstance(path, str) or _unsafe_path(path):
            raise NoDelta(f"a change the tarball must show: {status} {path!r}")
        if status == "renamed":
            previous = f.get("previous_filename")
            if not isinstance(previous, str) or _unsafe_path(previous):
                raise NoDelta(f"a rename without a usable previous name: {path!r}")
            out.append(Changed(previous, "removed"))
            status = "added"
        if status == "removed":
            out.append(Changed(path, "removed"))
            continue
        if not isinstance(blob, str) or len(blob) != 40:
            raise NoDelta(f"no blob id for {path!r}")
        out.append(Changed(path, "added" if status == "copied" else status, blob))
    return out


def blob(api_url: str, token: str, repo: str, blob_id: str, deadline: float, max_bytes: int) -> bytes:
    """The bytes of blob `blob_id`, checked against the id (the id is their hash)."""
    data = _get(api_url, token, f"/repos/{repo}/git/blobs/{quote(blob_id)}", deadline,
                accept="application/vnd.github.raw+json", max_bytes=max_bytes)
    if hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest() != blob_id:
        raise NoDelta(f"blob {blob_id[:12]} does not hash to its id")
    return data
