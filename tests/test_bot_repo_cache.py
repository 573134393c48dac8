"""The worker's repository cache (bot/repo_cache.py, bot/job_code.py): a job on a repository seen
before builds its checkout from the cached base branch and the pull request's changed files, and
the reviewer sees exactly what the two tarballs would have given it; what the cache cannot be sure
of goes the tarball way. Real git repositories, the fake GitHub over HTTP, and the real service."""

from __future__ import annotations

import os
import stat
import subprocess
import threading
import time
from pathlib import Path

import pytest

from bot.job_code import JobCode
from bot.jobs import Phases
from bot.settings import load
from tests.bot_service import PullRequest, export_tree, wait_for
from tests.bot_service import service  # noqa: F401  (fixture)
from tests.fakegithub import fake_github  # noqa: F401  (fixture)
from tests.gitrepo import GitRepo

REPO = "octo/cached"


class Project:
    """A git repository whose commits the fake GitHub serves (tarball, tree, compare, blobs)."""

    def __init__(self, tmp: Path, fake, name: str = REPO):
        self.tmp, self.fake, self.name = tmp, fake, name
        self.repo = GitRepo(tmp / f"src-{name.replace('/', '-')}")
        self.repo_id = fake.add_repo(name).id

    def export(self, sha: str) -> Path:
        """The files of commit `sha` as git archive writes them (links leaving the tree included)."""
        dest = self.tmp / f"tree-{self.name.replace('/', '-')}-{sha[:12]}"
        dest.mkdir()
        subprocess.run(f"git archive {sha} | tar -x -C '{dest}'", shell=True, cwd=self.repo.path, check=True)
        return dest

    def commit(self, message: str = "change") -> str:
        sha = self.repo.commit(message)
        if sha not in self.fake.repos[self.name].tarballs:
            self.fake.register_tarball(self.name, sha, self.export(sha))
            self.fake.add_commit(self.name, sha)
        return sha


def base_project(tmp: Path, fake, name: str = REPO) -> tuple[Project, str]:
    p = Project(tmp, fake, name)
    r = p.repo
    r.write("alembic.ini", "[alembic]\nscript_location = alembic\n")
    r.write("alembic/env.py", "# env\n")
    for i in range(5):
        r.write(f"alembic/versions/000{i}_rev.py", f"revision = '000{i}'\n")
    r.write("alembic/old/only.py", "x = 1\n")
    r.write("docs/a b.txt", "a file with a space\n")
    r.write("bin/tool.sh", "#!/bin/sh\necho hi\n")
    os.chmod(r.path / "bin/tool.sh", 0o755)
    os.symlink("../alembic.ini", r.path / "docs/ini-link")
    return p, p.commit("base")


def settings(tmp: Path, fake, cached_repos: int = 20):
    return load({"ALEMBIC_REVIEW_WORK_DIR": str(tmp / "work"), "GITHUB_API_URL": fake.base_url,
                 "ALEMBIC_REVIEW_CACHED_REPOS": str(cached_repos)}, need_app=False)


def build(tmp: Path, fake, project: Project, base: str, head: str, *, cached_repos: int = 20,
          repo_id: int | None = None) -> tuple[Path, str, JobCode]:
    s = settings(tmp, fake, cached_repos)
    job = tmp / "work" / f"job-{time.monotonic_ns()}"
    job.mkdir(parents=True)
    code = JobCode(s, lambda: "token", project.name, repo_id or project.repo_id, time.monotonic() + 120,
                   Phases(time.monotonic()), lambda: None)
    checkout = job / "checkout"
    return checkout, code.build(base, head, job, checkout), code


def snapshot(checkout: Path, base_commit: str) -> dict:
    """What the reviewer can see: every file and directory with its kind, executable bit and
    contents, and git's view (the base's tree, the head's tree, the index)."""
    files = {}
    for root, dirs, names in os.walk(checkout):
        dirs[:] = [d for d in dirs if not (root == str(checkout) and d == ".git")]
        for name in dirs + names:
            path = Path(root) / name
            rel = path.relative_to(checkout).as_posix()
            st = path.lstat()
            if stat.S_ISLNK(st.st_mode):
                files[rel] = ("link", os.readlink(path))
            elif stat.S_ISDIR(st.st_mode):
                files[rel] = ("dir",)
            else:
                files[rel] = ("file", bool(st.st_mode & 0o111), path.read_bytes())
    repo = GitRepo.__new__(GitRepo)
    repo.path = checkout
    return {"files": files, "base": repo.git("ls-tree", "-r", base_commit),
            "head": repo.git("ls-tree", "-r", "HEAD"), "index": repo.git("ls-files", "-s"),
            "diff": repo.git("diff", "--name-status", base_commit, "HEAD")}


def tarballs_fetched(fake) -> int:
    return len(fake.calls("GET", r"/tarball/"))


def change_add(r):
    r.write("alembic/versions/0009_new.py", "revision = '0009'\n")
    r.write("new/dir/file.py", "y = 2\n")


def change_modify(r):
    r.write("alembic/versions/0001_rev.py", "revision = '0001'  # edited\n")
    r.write("docs/a b.txt", "changed\n")


def change_remove(r):
    r.remove("alembic/old/only.py")  # and its directory with it
    r.remove("alembic/versions/0002_rev.py")


def change_rename(r):
    r.git("mv", "alembic/versions/0003_rev.py", "alembic/versions/0003_renamed.py")


def change_mode(r):
    os.chmod(r.path / "alembic/env.py", 0o755)


def change_new_executable(r):
    r.write("bin/new.sh", "#!/bin/sh\n")
    os.chmod(r.path / "bin/new.sh", 0o755)


def change_link_out(r):
    os.symlink("/etc/passwd", r.path / "alembic/versions/0010_link.py")


def change_export_ignore(r):
    r.write(".gitattributes", "docs/** export-ignore\n")


CHANGES = {"add": (change_add, True), "modify": (change_modify, True), "remove": (change_remove, True),
           "rename": (change_rename, True), "mode": (change_mode, False),
           "new-executable": (change_new_executable, False), "link-out": (change_link_out, False),
           "export-ignore": (change_export_ignore, False)}


@pytest.mark.parametrize("kind", list(CHANGES))
def test_a_cached_checkout_has_exactly_the_files_of_the_tarball_checkout(tmp_path, fake_github, kind):
    change, from_cache = CHANGES[kind]
    project, base = base_project(tmp_path, fake_github)
    change(project.repo)
    head = project.commit(kind)

    plain, plain_base, _ = build(tmp_path, fake_github, project, base, head, cached_repos=0)
    expected = snapshot(plain, plain_base)
    cold, cold_base, _ = build(tmp_path, fake_github, project, base, head)  # fills the cache
    before = tarballs_fetched(fake_github)
    warm, warm_base, code = build(tmp_path, fake_github, project, base, head)

    assert snapshot(cold, cold_base) == expected
    assert snapshot(warm, warm_base) == expected
    # the changed files alone came over the network, or (what the cache cannot vouch for) the tarballs
    assert tarballs_fetched(fake_github) - before == (0 if from_cache else 2)
    assert code.linked == from_cache


def test_the_cache_follows_the_base_branch_without_tarballs(tmp_path, fake_github):
    project, base = base_project(tmp_path, fake_github)
    build(tmp_path, fake_github, project, base, base)
    project.repo.write("alembic/versions/0005_rev.py", "revision = '0005'\n")  # merged on main
    project.repo.remove("alembic/versions/0000_rev.py")
    new_base = project.commit("main moved")
    change_add(project.repo)
    head = project.commit("pull request")

    before = tarballs_fetched(fake_github)
    checkout, base_commit, _ = build(tmp_path, fake_github, project, new_base, head)
    assert tarballs_fetched(fake_github) == before
    plain, plain_base, _ = build(tmp_path, fake_github, project, new_base, head, cached_repos=0)
    assert snapshot(checkout, base_commit) == snapshot(plain, plain_base)


def test_concurrent_jobs_of_one_repository_each_get_their_own_commit(tmp_path, fake_github):
    project, base = base_project(tmp_path, fake_github)
    heads = []
    for i in range(4):
        project.repo.git("checkout", "-q", "-B", f"pr{i}", base)
        project.repo.write(f"alembic/versions/01{i}_pr.py", f"revision = '01{i}'\n")
        heads.append(project.commit(f"pr {i}"))
    results: dict[str, dict] = {}

    def job(head: str) -> None:
        checkout, base_commit, _ = build(tmp_path, fake_github, project, base, head)
        results[head] = snapshot(checkout, base_commit)
    threads = [threading.Thread(target=job, args=(h,)) for h in heads * 2]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, head in enumerate(heads):
        plain, plain_base = build(tmp_path, fake_github, project, base, head, cached_repos=0)[:2]
        assert results[head] == snapshot(plain, plain_base)
        assert f"alembic/versions/01{i}_pr.py" in results[head]["files"]
        assert not any(f"alembic/versions/01{j}_pr.py" in results[head]["files"] for j in range(4) if j != i)


def test_a_repository_never_gets_another_repositorys_files(tmp_path, fake_github):
    one, base_one = base_project(tmp_path, fake_github, "octo/one")
    other = Project(tmp_path, fake_github, "octo/other")
    other.repo.write("alembic.ini", "[alembic]\nscript_location = elsewhere\n")
    # the same commit id on another repository (a fork, say) with other contents
    fake_github.register_tarball("octo/other", base_one, export_tree(other.repo, other.commit("x"), tmp_path / "o"))
    fake_github.add_commit("octo/other", base_one)
    build(tmp_path, fake_github, one, base_one, base_one)
    checkout, _, _ = build(tmp_path, fake_github, other, base_one, base_one)
    assert "elsewhere" in (checkout / "alembic.ini").read_text()
    assert not (checkout / "alembic/versions").exists()


def test_only_the_most_recently_used_repositories_are_kept(tmp_path, fake_github):
    for name in ("octo/a", "octo/b", "octo/c"):
        project, base = base_project(tmp_path, fake_github, name)
        build(tmp_path, fake_github, project, base, base, cached_repos=2)
        time.sleep(0.05)  # distinct last-use times
    kept = sorted(p.name for p in (tmp_path / "work" / "repos").iterdir() if p.is_dir())
    assert kept == sorted(str(fake_github.repos[n].id) for n in ("octo/b", "octo/c"))


SCRIBBLE = '''
import os
target = os.path.join(os.path.dirname(os.path.abspath(__file__)), "0001_init.py")
try:
    with open(target, "a") as f:
        f.write("# mallory was here")
    outcome = "wrote"
except OSError as exc:
    outcome = f"denied:{exc.errno}"
op.execute(f"SELECT 1 -- scribble={outcome}")
'''


def test_a_push_reviews_from_the_cache_and_a_revision_cannot_write_into_it(service, fake_github, tmp_path):
    service.serve(workers=1)
    pr = PullRequest(tmp_path, fake_github, REPO, 5)
    pr.add_revision("0002", "0001", 'op.create_index("ix_users_email", "users", ["email"])', slug="email_index")
    first = pr.commit()
    assert pr.open(service).status_code == 202
    wait_for(lambda: [r for r in fake_github.check_runs_for(REPO, first) if r["status"] == "completed"], 120,
             what="the first check")
    assert tarballs_fetched(fake_github) == 1  # the base's, into the cache; the head's changes by the API

    pr.add_revision("0003", "0002", SCRIBBLE, slug="scribble")
    second = pr.commit()
    assert pr.open(service, action="synchronize").status_code == 202
    [run] = wait_for(lambda: [r for r in fake_github.check_runs_for(REPO, second) if r["status"] == "completed"],
                     120, what=f"the second check:\n{service.procs[0].output()}")

    assert tarballs_fetched(fake_github) == 1  # nothing but the changed files this time
    assert run["conclusion"] == "failure"
    assert "require-concurrent-index-creation" in run["output"]["summary"]
    annotations = fake_github.repos[REPO].annotations[run["id"]]
    assert "scribble=denied:13" in str(annotations) + str(fake_github.reviews) + str(fake_github.issue_comments)
    cached = [p for p in (tmp_path / "work" / "repos").glob("*/tree/alembic/versions/0001_init.py")]
    assert len(cached) == 1 and "mallory" not in cached[0].read_text()
    assert cached[0].read_text() == (pr.repo.path / "alembic/versions/0001_init.py").read_text()


def test_a_base_whose_tarball_is_not_its_tree_is_never_cached(tmp_path, fake_github):
    project, _ = base_project(tmp_path, fake_github)
    change_link_out(project.repo)  # the tarball path leaves this link out: the tree differs
    base = project.commit("a link out of the tree")
    heads = []
    for i in range(2):
        project.repo.git("checkout", "-q", "-B", f"pr{i}", base)
        project.repo.write(f"alembic/versions/02{i}_pr.py", f"revision = '02{i}'\n")
        heads.append(project.commit(f"pr {i}"))

    fetched = []
    for head in heads:
        before = tarballs_fetched(fake_github)
        checkout, base_commit, code = build(tmp_path, fake_github, project, base, head)
        fetched.append(tarballs_fetched(fake_github) - before)
        assert not code.linked
        plain, plain_base, _ = build(tmp_path, fake_github, project, base, head, cached_repos=0)
        assert snapshot(checkout, base_commit) == snapshot(plain, plain_base)
        assert "alembic/versions/0010_link.py" not in snapshot(checkout, base_commit)["files"]
    assert fetched == [2, 2]  # the base's tarball tried once for the cache, then used as the tarball
