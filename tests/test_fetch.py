"""bot.fetch unpacking GitHub's tarballs: real tar files on a real filesystem."""

from __future__ import annotations

import io
import subprocess
import tarfile

import pytest

from bot.fetch import FetchError, build_checkout, extract


def tarball(path, entries):
    """A tarball shaped like GitHub's (one `owner-repo-sha7/` directory); entries: name -> text, or
    ("link", target) for a symlink."""
    with tarfile.open(path, "w:gz") as tar:
        for name, content in entries.items():
            info = tarfile.TarInfo(f"octo-shop-abc1234/{name}")
            if isinstance(content, tuple):
                info.type, info.linkname = tarfile.SYMTYPE, content[1]
                tar.addfile(info)
            else:
                data = content.encode()
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return path


def test_links_leaving_the_tree_are_skipped_and_the_rest_unpacked(tmp_path):
    tar = tarball(tmp_path / "t.tar.gz", {
        "alembic/versions/0001_init.py": "revision = '0001'\n",
        "docs/hosts": ("link", "/etc/hosts"),            # absolute
        "dev/root": ("link", "/"),                       # absolute, a directory
        "dev/up": ("link", "../../../outside"),          # relative, out of the tree
        "dev/readme": ("link", "../alembic/versions/0001_init.py"),  # inside: kept
    })
    dest = tmp_path / "checkout"
    extract(tar, dest, max_bytes=10_000_000)
    assert (dest / "alembic/versions/0001_init.py").read_text() == "revision = '0001'\n"
    for skipped in ("docs/hosts", "dev/root", "dev/up"):
        assert not (dest / skipped).exists() and not (dest / skipped).is_symlink()
    assert (dest / "dev/readme").is_symlink() and (dest / "dev/readme").read_text().startswith("revision")


def test_a_member_with_an_absolute_path_still_fails_the_fetch(tmp_path):
    path = tmp_path / "bad.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo("octo-shop-abc1234/../../escape.py")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(FetchError):
        extract(path, tmp_path / "checkout", max_bytes=10_000_000)
    assert not (tmp_path.parent / "escape.py").exists()


def _git(repo, *args) -> str:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True).stdout


def test_checkout_commits_the_base_and_head_trees_and_leaves_the_head_checked_out(tmp_path):
    base = tarball(tmp_path / "base.tar.gz", {
        "alembic/versions/0001_init.py": "revision = '0001'\n",
        'odd "name"\nwith newline.py': "x = 1\n",
        "dev/readme": ("link", "../alembic/versions/0001_init.py"),
        "dev/hosts": ("link", "/etc/hosts"),                      # leaves the tree: left out
        ".git/config": "[core]\n\tfsmonitor = touch /tmp/pwned\n",  # never near our repository
    })
    head = tarball(tmp_path / "head.tar.gz", {
        "alembic/versions/0001_init.py": "revision = '0001'\n",
        "alembic/versions/0002_next.py": "revision = '0002'\ndown_revision = '0001'\n",
    })
    repo = tmp_path / "checkout"
    base_commit, head_commit = build_checkout(repo, base, head, max_bytes=10_000_000)
    assert _git(repo, "rev-parse", "HEAD").strip() == head_commit
    assert _git(repo, "rev-parse", "HEAD~1").strip() == base_commit
    listed = _git(repo, "ls-tree", "-r", base_commit)
    assert "120000 blob" in listed and "dev/readme" in listed and "dev/hosts" not in listed
    assert _git(repo, "show", f"{base_commit}:alembic/versions/0001_init.py") == "revision = '0001'\n"
    assert "newline.py" in _git(repo, "ls-tree", "-r", "--name-only", base_commit)
    assert "fsmonitor" not in (repo / ".git" / "config").read_text()
    # the work tree is the head, and git sees it so
    assert (repo / "alembic/versions/0002_next.py").is_file() and not (repo / "dev").exists()
    assert _git(repo, "status", "--porcelain") == ""
    assert _git(repo, "diff", "--name-only", "-z", base_commit, head_commit).split("\0")[:-1] == [
        "alembic/versions/0002_next.py", "dev/readme", 'odd "name"\nwith newline.py']
