"""Get a pull request's code without cloning: the tarballs of its merge base and its head, through
the REST API with the installation token, unpacked into one local git repository (a base commit
and a head commit on top) so the reviewer can diff them exactly as it diffs a clone.

Tarballs come from strangers: size and member count are capped, and extraction uses tarfile's
"data" filter (no absolute paths, no `..`, no devices, no setuid bits); a link leaving the tree
is left out, never followed.
"""

from __future__ import annotations

import gzip
import os
import subprocess
import tarfile
import time
import zlib
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import requests

MAX_MEMBERS = 100_000
GIT_ENV = {"GIT_AUTHOR_NAME": "alembic-review", "GIT_AUTHOR_EMAIL": "alembic-review@localhost",
           "GIT_COMMITTER_NAME": "alembic-review", "GIT_COMMITTER_EMAIL": "alembic-review@localhost",
           "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_TERMINAL_PROMPT": "0"}


class FetchError(Exception):
    """The code could not be fetched or unpacked; the message is safe to show on the check run."""


def api_headers(token: str, accept: str) -> dict:
    return {"Authorization": f"Bearer {token}", "Accept": accept, "X-GitHub-Api-Version": "2022-11-28",
            "User-Agent": "alembic-review"}


def read_capped(url: str, token: str, accept: str, *, deadline: float, max_bytes: int, name: str,
                params: dict | None = None) -> tuple[int, bytes | None]:
    """(status, body) of GET `url` within the job's deadline; the body (of a 200 only) read up to
    max_bytes, FetchError past it. requests' errors are the caller's to name."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TimeoutError(f"the job's time ran out while fetching {name}")
    with requests.get(url, params=params, headers=api_headers(token, accept), stream=True,
                      timeout=(10, min(30.0, remaining))) as resp:
        if resp.status_code != 200:
            return resp.status_code, None
        data = resp.raw.read(max_bytes + 1, decode_content=True)
    if len(data) > max_bytes:
        raise FetchError(f"{name} is larger than {max_bytes // 2**20} MB")
    return 200, data


def download_file(api_url: str, token: str, repo: str, path: str, ref: str, *, max_bytes: int,
                  deadline: float) -> bytes | None:
    """One file of `ref`, raw (GET /repos/{repo}/contents/{path}, up to GitHub's 100 MB); None when
    `ref` has no such file."""
    try:
        status, data = read_capped(f"{api_url}/repos/{repo}/contents/{quote(path)}", token,
                                   "application/vnd.github.raw+json", params={"ref": ref}, deadline=deadline,
                                   max_bytes=max_bytes, name=path)
    except requests.RequestException as exc:
        raise FetchError(f"could not download {path}: {type(exc).__name__}") from None
    if status == 404:
        return None
    if status != 200:
        raise FetchError(f"GitHub answered {status} for {path} on {ref[:40]}")
    return data


def download_tarball(api_url: str, token: str, repo: str, ref: str, target: Path, *, max_bytes: int,
                     deadline: float, attempts: int = 3) -> None:
    """GET /repos/{repo}/tarball/{ref} (a redirect to codeload) into `target`, at most max_bytes."""
    url = f"{api_url}/repos/{repo}/tarball/{ref}"
    headers = api_headers(token, "application/vnd.github+json")
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
        if ".git" in rest.lower().split("/"):  # git never commits one: never let one near ours
            continue
        m.name = rest
        if m.islnk() and "/" in m.linkname:  # hard links name their target with the prefix too
            m.linkname = m.linkname.partition("/")[2]
        out.append(m)
    return out


def _data_or_skip(member: tarfile.TarInfo, dest_path: str) -> tarfile.TarInfo | None:
    """tarfile's "data" filter, except that a link it refuses (absolute, or leading out of the
    tree) is left out instead of failing the whole review: repositories do hold such symlinks
    (to /etc/..., to a developer's home), and no revision needs one. It is never followed."""
    try:
        return tarfile.data_filter(member, dest_path)
    except (tarfile.AbsoluteLinkError, tarfile.LinkOutsideDestinationError):
        return None


def _decompressed(tar_path: Path, limit: int) -> Path:
    """A gzipped tarball unpacked once into a plain tar beside it (else tar_path itself): extracting
    seeks back to each member, and every seek back in a gzip stream decompresses it again from the
    start (quadratic: 6 to 10 s for a repository of 2,000 small files)."""
    with open(tar_path, "rb") as f:
        if f.read(2) != b"\x1f\x8b":
            return tar_path
    plain = tar_path.with_name(tar_path.name + ".tar")
    size = 0
    with gzip.open(tar_path) as src, open(plain, "wb") as out:
        while chunk := src.read(1 << 20):
            size += len(chunk)
            if size > limit:
                raise FetchError("the repository unpacks to too much data")
            out.write(chunk)
    return plain


@contextmanager
def _opened(tar_path: Path, max_bytes: int):
    """(tar, members) of a tarball within the caps; any failure to read it is a FetchError."""
    plain = tar_path
    try:
        plain = _decompressed(tar_path, max_bytes * 8 + 1024 * MAX_MEMBERS)  # the files and their headers
        with tarfile.open(plain, "r:") as tar:
            members = tar.getmembers()
            if len(members) > MAX_MEMBERS:
                raise FetchError(f"the repository has more than {MAX_MEMBERS} files")
            if sum(m.size for m in members) > max_bytes * 8:
                raise FetchError("the repository unpacks to too much data")
            yield tar, members
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise FetchError(f"could not unpack the code: {type(exc).__name__}: {exc}"[:300]) from None
    finally:
        if plain != tar_path:
            plain.unlink(missing_ok=True)


def extract(tar_path: Path, dest: Path, *, max_bytes: int) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    with _opened(tar_path, max_bytes) as (tar, members):
        tar.extractall(dest, members=_strip_prefix(members), filter=_data_or_skip)


def git(repo: Path, *args: str) -> str:
    proc = subprocess.run(["git", "-c", "core.autocrlf=false", "-c", "core.hooksPath=/dev/null", *args],
                          cwd=repo, env={"PATH": os.environ.get("PATH", os.defpath), **GIT_ENV,
                                         "HOME": str(repo.parent)},
                          capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise FetchError(f"git {args[0]} failed: {proc.stderr.strip()[:300]}")
    return proc.stdout


def git_path(name: str) -> bytes:
    """A path as fast-import reads it: C-quoted when it holds a quote, a backslash or a newline."""
    raw = os.fsencode(name)
    if not any(c in raw for c in b'"\\\n') and not raw.startswith(b'"'):
        return raw
    escaped = raw.replace(b"\\", b"\\\\").replace(b'"', b'\\"').replace(b"\n", b"\\n")
    return b'"' + escaped + b'"'


def import_tree(tar_path: Path, into, message: str, max_bytes: int) -> None:
    """One commit of the tarball's files (as tarfile's "data" filter lets them through) on a
    fast-import stream, read straight from the archive: no file is written for it."""
    with _opened(tar_path, max_bytes) as (tar, members):
        text = message.encode()
        into.write(b"commit refs/heads/base\ncommitter alembic-review <alembic-review@localhost> 0 +0000\n"
                   b"data %d\n%s\ndeleteall\n" % (len(text), text))
        for member in _strip_prefix(members):
            # nothing is written here, and git refuses a path with `..`: the "data" filter (its
            # realpath() costs more than the import) is for what else a member may be
            plain_file = member.isreg() and not member.name.startswith("/") and ".." not in member.name.split("/")
            kept = member if plain_file else _data_or_skip(member, "/nonexistent-checkout")
            if kept is None or kept.isdir():
                continue
            if kept.issym():
                mode, data = b"120000", os.fsencode(kept.linkname)
            else:
                source = tar.extractfile(member)  # a hard link reads its target
                if source is None:
                    continue
                mode, data = (b"100755" if kept.mode & 0o111 else b"100644"), source.read()
            into.write(b"M %s inline %s\ndata %d\n" % (mode, git_path(kept.name), len(data)))
            into.write(data)
            into.write(b"\n")
        into.write(b"\n")


def fast_import(git_dir: Path, home: Path, write, config: tuple[str, ...] = ()) -> None:
    """`git fast-import` in `git_dir` of what write(stream) writes; FetchError with git's own words
    when it fails (it stops reading, or exits non-zero)."""
    importer = subprocess.Popen(["git", *config, "fast-import", "--quiet", "--done"], cwd=git_dir,
                                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                env={"PATH": os.environ.get("PATH", os.defpath), **GIT_ENV, "HOME": str(home)})
    try:
        write(importer.stdin)
        importer.stdin.write(b"done\n")
        importer.stdin.close()
        err = importer.stderr.read()
        importer.wait(timeout=300)
    except OSError as exc:  # fast-import stopped reading (it said why on stderr)
        importer.kill()
        why = importer.stderr.read().decode(errors="replace").strip() or f"{type(exc).__name__}: {exc}"
        raise FetchError(f"git fast-import failed: {why}"[:300]) from None
    finally:
        if importer.poll() is None:
            importer.kill()
            importer.wait()
    if importer.returncode != 0:
        raise FetchError(f"git fast-import failed: {err.decode(errors='replace').strip()[:300]}")


def build_checkout(repo: Path, base_tar: Path, head_tar: Path, *, max_bytes: int) -> tuple[str, str]:
    """A git repo at `repo` with the base tree committed, then the head tree: (base, head) commits.
    The work tree is left at head.

    Both commits go in through one `git fast-import` (one pack file, nothing written but it); only
    the head's files are unpacked, once. Unpacking both and `git add`ing them wrote every file
    twice and every blob as a loose object: 25 s of a 36 s job on a repository of 2,000 revisions."""
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "base")

    def both(stream) -> None:
        import_tree(base_tar, stream, "merge base", max_bytes)
        import_tree(head_tar, stream, "pull request head", max_bytes)
    fast_import(repo, repo.parent, both)
    base = git(repo, "rev-parse", "base~1").strip()
    head = git(repo, "rev-parse", "base").strip()
    extract(head_tar, repo, max_bytes=max_bytes)
    git(repo, "read-tree", "base")  # the index at head, as after a checkout (no stat data: git refreshes it)
    return base, head
