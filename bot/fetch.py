"""Get a pull request's code without cloning: the tarballs of its merge base and its head, through
the REST API with the installation token, unpacked into one local git repository (a base commit
and a head commit on top) so the reviewer can diff them exactly as it diffs a clone.

Tarballs come from strangers: size and member count are capped, and extraction uses tarfile's
"data" filter (no absolute paths, no `..`, no links leaving the tree, no devices, no setuid bits).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import time
from pathlib import Path
from urllib.parse import quote

import requests

MAX_MEMBERS = 100_000
GIT_ENV = {"GIT_AUTHOR_NAME": "alembic-review", "GIT_AUTHOR_EMAIL": "alembic-review@localhost",
           "GIT_COMMITTER_NAME": "alembic-review", "GIT_COMMITTER_EMAIL": "alembic-review@localhost",
           "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_TERMINAL_PROMPT": "0"}


class FetchError(Exception):
    """The code could not be fetched or unpacked; the message is safe to show on the check run."""


def _headers(token: str, accept: str) -> dict:
    return {"Authorization": f"Bearer {token}", "Accept": accept, "X-GitHub-Api-Version": "2022-11-28",
            "User-Agent": "alembic-review"}


def download_file(api_url: str, token: str, repo: str, path: str, ref: str, *, max_bytes: int,
                  deadline: float) -> bytes | None:
    """One file of `ref`, raw (GET /repos/{repo}/contents/{path}, up to GitHub's 100 MB); None when
    `ref` has no such file."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TimeoutError("the job's time ran out while downloading a file")
    try:
        with requests.get(f"{api_url}/repos/{repo}/contents/{quote(path)}", params={"ref": ref},
                          headers=_headers(token, "application/vnd.github.raw+json"), stream=True,
                          timeout=(10, min(30.0, remaining))) as resp:
            if resp.status_code == 404:
                return None
            if resp.status_code != 200:
                raise FetchError(f"GitHub answered {resp.status_code} for {path} on {ref[:40]}")
            data = resp.raw.read(max_bytes + 1, decode_content=True)
    except requests.RequestException as exc:
        raise FetchError(f"could not download {path}: {type(exc).__name__}") from None
    if len(data) > max_bytes:
        raise FetchError(f"{path} is larger than {max_bytes // 2**20} MB")
    return data


def download_tarball(api_url: str, token: str, repo: str, ref: str, target: Path, *, max_bytes: int,
                     deadline: float, attempts: int = 3) -> None:
    """GET /repos/{repo}/tarball/{ref} (a redirect to codeload) into `target`, at most max_bytes."""
    url = f"{api_url}/repos/{repo}/tarball/{ref}"
    headers = _headers(token, "application/vnd.github+json")
    for attempt in range(attempts):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the job's time ran out while downloading the code")
        try:
            # requests drops the Authorization header when the redirect leaves the API host
            with requests.get(url, headers=headers, stream=True, timeout=(10, min(60.0, remaining))) as resp:
                if resp.status_code >= 500 and attempt + 1 < attempts:
                    time.sleep(2 ** attempt)
                    continue
                if resp.status_code != 200:
                    raise FetchError(f"GitHub answered {resp.status_code} for the tarball of {ref[:12]}")
                size = 0
                with open(target, "wb") as out:
                    for chunk in resp.iter_content(1 << 16):
                        size += len(chunk)
                        if size > max_bytes:
                            raise FetchError(f"the repository is larger than {max_bytes // 2**20} MB "
                                             "(ALEMBIC_REVIEW_MAX_TARBALL_BYTES)")
                        if time.monotonic() > deadline:
                            raise TimeoutError("the job's time ran out while downloading the code")
                        out.write(chunk)
                return
        except requests.RequestException as exc:
            if attempt + 1 >= attempts:
                raise FetchError(f"could not download the code of {ref[:12]}: {type(exc).__name__}") from None
            time.sleep(2 ** attempt)


def _strip_prefix(members: list[tarfile.TarInfo]) -> list[tarfile.TarInfo]:
    """GitHub's tarballs hold one directory, `owner-repo-sha7/`; unpack what is inside it."""
    out = []
    for m in members:
        head, _, rest = m.name.partition("/")
        if not rest:
            continue
        m.name = rest
        if m.islnk() and "/" in m.linkname:  # hard links name their target with the prefix too
            m.linkname = m.linkname.partition("/")[2]
        out.append(m)
    return out


def extract(tar_path: Path, dest: Path, *, max_bytes: int) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(tar_path, "r:*") as tar:
            members = tar.getmembers()
            if len(members) > MAX_MEMBERS:
                raise FetchError(f"the repository has more than {MAX_MEMBERS} files")
            if sum(m.size for m in members) > max_bytes * 8:
                raise FetchError("the repository unpacks to too much data")
            tar.extractall(dest, members=_strip_prefix(members), filter="data")
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise FetchError(f"could not unpack the code: {type(exc).__name__}: {exc}"[:300]) from None


def git(repo: Path, *args: str) -> str:
    proc = subprocess.run(["git", "-c", "core.autocrlf=false", "-c", "core.hooksPath=/dev/null", *args],
                          cwd=repo, env={"PATH": os.environ.get("PATH", os.defpath), **GIT_ENV,
                                         "HOME": str(repo.parent)},
                          capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise FetchError(f"git {args[0]} failed: {proc.stderr.strip()[:300]}")
    return proc.stdout


def _empty_worktree(repo: Path) -> None:
    for child in repo.iterdir():
        if child.name == ".git":
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


def build_checkout(repo: Path, base_tar: Path, head_tar: Path, *, max_bytes: int) -> tuple[str, str]:
    """A git repo at `repo` with the base tree committed, then the head tree: (base, head) commits.
    The work tree is left at head."""
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "base")
    extract(base_tar, repo, max_bytes=max_bytes)
    git(repo, "add", "-A", "-f")
    git(repo, "commit", "-q", "--allow-empty", "--no-verify", "-m", "merge base")
    base = git(repo, "rev-parse", "HEAD").strip()
    _empty_worktree(repo)
    extract(head_tar, repo, max_bytes=max_bytes)
    git(repo, "add", "-A", "-f")
    git(repo, "commit", "-q", "--allow-empty", "--no-verify", "-m", "pull request head")
    head = git(repo, "rev-parse", "HEAD").strip()
    return base, head
