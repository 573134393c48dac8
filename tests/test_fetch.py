"""bot.fetch unpacking GitHub's tarballs: real tar files on a real filesystem."""

from __future__ import annotations

import io
import tarfile

import pytest

from bot.fetch import FetchError, extract


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
