"""The fake GitHub server itself, through PyGithub: the GitHub App parts the webhook service will
use (installation tokens, tarballs), pagination and failure injection."""

from __future__ import annotations

import io
import tarfile

import github
import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from github import Auth, GithubIntegration

from bot.github_client import make_github, make_retry
from tests.fakegithub import fake_github  # noqa: F401  (fixture)


@pytest.fixture
def app_key():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    return key, pem


def test_installation_token_and_tarball(fake_github, app_key, tmp_path):
    key, pem = app_key
    public = key.public_key()
    fake_github.app_jwt_check = lambda token: jwt.decode(token, public, algorithms=["RS256"],
                                                          options={"verify_aud": False})["iss"] == "4242"
    fake_github.accept_any_token = False
    fake_github.add_installation(77, "octo", ["octo/shop"])
    src = tmp_path / "src"
    (src / "alembic" / "versions").mkdir(parents=True)
    (src / "alembic.ini").write_text("[alembic]\nscript_location = alembic\n")
    fake_github.register_tarball("octo/shop", "a" * 40, src)

    integration = GithubIntegration(auth=Auth.AppAuth(4242, pem), base_url=fake_github.base_url,
                                    retry=make_retry(backoff_factor=0.01))
    assert integration.get_repo_installation("octo", "shop").id == 77
    token = integration.get_access_token(77).token
    assert token.startswith("ghs_")

    gh = make_github(token, fake_github.base_url, backoff_factor=0.01, seconds_between_writes=0)
    repo = gh.get_repo("octo/shop")
    link = repo.get_archive_link("tarball", "a" * 40)
    data = requests.get(link, headers={"Authorization": f"token {token}"}, timeout=10).content
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        names = tar.getnames()
    assert "octo-shop-aaaaaaa/alembic.ini" in names

    bad = make_github("not-a-token", fake_github.base_url, backoff_factor=0.01)
    with pytest.raises(github.BadCredentialsException):
        bad.get_repo("octo/shop")


def test_pagination_and_recorded_requests(fake_github):
    fake_github.add_pull("octo/shop", 1, files={f"f{i}.py": (None, "x = 1\n") for i in range(250)})
    gh = make_github("t", fake_github.base_url, backoff_factor=0.01, per_page=100)
    files = list(gh.get_repo("octo/shop").get_pull(1).get_files())
    assert len(files) == 250 and files[0].patch == "@@ -0,0 +1 @@\n+x = 1"
    pages = [r.query.get("page") for r in fake_github.calls("GET", r"/pulls/1/files$")]
    assert pages == [None, "2", "3"]


def test_failure_injection_exhausts_retries(fake_github):
    fake_github.add_repo("octo/shop")
    fake_github.fail("GET", r"^/repos/octo/shop$", 502, times=100)
    gh = make_github("t", fake_github.base_url, backoff_factor=0.001)
    with pytest.raises(Exception):
        gh.get_repo("octo/shop")
    assert len(fake_github.calls("GET", r"^/repos/octo/shop$")) == 6  # 1 + 5 retries


def test_git_data_of_registered_trees_as_github_gives_them(fake_github, tmp_path):
    """A commit's tree id, its blobs and a comparison's files, for the trees registered as tarballs:
    ids git itself computes, at most 300 files listed, contents: read needed on a private repository."""
    import base64
    import subprocess

    src = tmp_path / "src"
    src.mkdir()
    run = lambda *a: subprocess.run(["git", *a], cwd=src, check=True, capture_output=True, text=True).stdout  # noqa: E731
    run("init", "-q")
    for i in range(310):
        (src / f"f{i:03}.txt").write_text(f"{i}\n")
    run("add", "-A")
    run("-c", "user.name=a", "-c", "user.email=a@b", "commit", "-qm", "base")
    base = run("rev-parse", "HEAD").strip()
    for i in range(305):
        (src / f"f{i:03}.txt").write_text(f"{i} changed\n")
    run("-c", "user.name=a", "-c", "user.email=a@b", "commit", "-qam", "head")
    head = run("rev-parse", "HEAD").strip()
    for sha in (base, head):
        dest = tmp_path / sha
        dest.mkdir()
        subprocess.run(f"git archive {sha} | tar -x -C '{dest}'", shell=True, cwd=src, check=True)
        fake_github.register_tarball("octo/git", sha, dest)
        fake_github.add_commit("octo/git", sha)
    repo = github.Github(auth=Auth.Token("t"), base_url=fake_github.base_url).get_repo("octo/git")

    assert repo.get_git_commit(head).tree.sha == run("rev-parse", f"{head}^{{tree}}").strip()
    blob = run("rev-parse", f"{head}:f000.txt").strip()
    assert base64.b64decode(repo.get_git_blob(blob).content) == b"0 changed\n"
    files = repo.compare(base, head).files
    assert len(files) == 300  # of 305 changed: GitHub lists no more
    assert {(f.status, f.sha) for f in files[:1]} == {("modified", blob)}

    fake_github.add_repo("octo/git").private = True
    fake_github.permissions = {"metadata": "read"}
    with pytest.raises(github.GithubException) as denied:
        repo.get_git_blob(blob)
    assert denied.value.status == 403
