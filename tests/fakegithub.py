"""A fake GitHub REST (and a sliver of GraphQL) server for tests, on 127.0.0.1.

A real HTTP server in a thread, driven through PyGithub with `base_url=fake.base_url`. It speaks
the request/response shapes GitHub documents for the endpoints alembic-review uses, keeps its
state in memory, records every request, and can be told to fail (a 502 then a 200, a secondary
rate limit, a 403 on check runs, a request carried out whose answer is lost). Like GitHub it
rejects, with 422, a review whose comment is on a line outside the diff hunks, a comment body over
65,536 characters, a check-run output summary or text over 65,535 bytes (GitHub counts bytes
there) and more than 50 check-run annotations in one request. With `permissions` set (a workflow's
`permissions:` block, e.g. {"contents": "read", "checks": "write"}) every request needs its scope,
reads only on private repositories, as for a GITHUB_TOKEN: 403 "Resource not accessible by
integration" otherwise. Check runs remember the app that made them: the fake App's for its
installation tokens, GitHub Actions' for any other token. Review comment ids are past 2**31, as
on GitHub: GraphQL's 32-bit `databaseId` of one is an error, `fullDatabaseId` (a string) works.

Endpoints:
  GET   /repos/{o}/{r}                                   GET /repos/{o}/{r}/installation
  GET   /repos/{o}/{r}/pulls (state, base)               GET /repos/{o}/{r}/pulls/{n}
  GET   /repos/{o}/{r}/pulls/{n}/files
  GET   /repos/{o}/{r}/issues/{n}/comments (paginated)   POST same
  GET|PATCH /repos/{o}/{r}/issues/comments/{id}
  GET|POST /repos/{o}/{r}/pulls/{n}/reviews              GET /repos/{o}/{r}/pulls/{n}/comments
  GET|PATCH /repos/{o}/{r}/pulls/comments/{id}
  GET   /repos/{o}/{r}/commits/{ref}                     GET /repos/{o}/{r}/commits/{ref}/check-runs
  POST  /repos/{o}/{r}/check-runs                        GET|PATCH /repos/{o}/{r}/check-runs/{id}
  GET   /repos/{o}/{r}/check-runs/{id}/annotations
  POST  /repos/{o}/{r}/statuses/{sha}                    GET /repos/{o}/{r}/commits/{ref}/statuses
  GET   /repos/{o}/{r}/statuses/{ref}
  GET   /repos/{o}/{r}/commits/{ref}/status
  GET   /repos/{o}/{r}/tarball/{ref}  (302 to /_codeload/..., a .tar.gz of a registered directory)
  GET   /repos/{o}/{r}/compare/{base}...{head}  (merge base: fake.merge_bases, default the base; the
        changed files of registered trees, at most 300 as on GitHub)
  GET   /repos/{o}/{r}/git/commits/{sha}   GET /repos/{o}/{r}/git/blobs/{sha}  (of registered trees)
  GET   /app   GET /app/installations/{id}   POST /app/installations/{id}/access_tokens
  GET   /installation/repositories               POST /graphql (reviewThreads, (un)resolveReviewThread)

Usage (pytest):  from tests.fakegithub import fake_github  # the fixture
    fake_github.add_pull("octo/app", 7, files={"alembic/versions/x.py": (None, text)})
    gh = github.Github(auth=github.Auth.Token("t"), base_url=fake_github.base_url)
"""

from __future__ import annotations

import base64
import difflib
import hashlib
import io
import itertools
import json
import re
import tarfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest

from tests.git_objects import Tree, blob_bytes, tree_of

COMMENT_LIMIT = 65536
COMPARE_FILES = 300  # GitHub lists at most 300 changed files of a comparison
CHECK_OUTPUT_BYTES = 65535
ANNOTATION_BYTES = 64 * 1024
BOT = {"login": "github-actions[bot]", "id": 41898282, "type": "Bot"}
ACTIONS_APP = {"id": 15368, "slug": "github-actions", "name": "GitHub Actions",
               "owner": {"login": "github", "id": 9919, "type": "Organization"}}
DOCS = "https://docs.github.com/rest"


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def unified_patch(old: str | None, new: str | None, context: int = 3) -> str:
    """The `patch` GitHub returns for a file: unified diff hunks, without the ---/+++ header."""
    a = (old or "").splitlines()
    b = (new or "").splitlines()
    lines = list(difflib.unified_diff(a, b, lineterm="", n=context))
    return "\n".join(lines[2:])


def parse_hunks(patch: str | None) -> list[dict]:
    """[{"right": {line numbers}, "left": {...}}] per hunk; RIGHT = added + context lines."""
    hunks: list[dict] = []
    if not patch:
        return hunks
    left = right = 0
    for line in patch.split("\n"):
        m = re.match(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@", line)
        if m:
            left, right = int(m.group(1)), int(m.group(3))
            hunks.append({"left": set(), "right": set()})
            continue
        if not hunks or line.startswith("\\"):
            continue
        if line.startswith("+"):
            hunks[-1]["right"].add(right)
            right += 1
        elif line.startswith("-"):
            hunks[-1]["left"].add(left)
            left += 1
        else:
            hunks[-1]["right"].add(right)
            hunks[-1]["left"].add(left)
            left += 1
            right += 1
    return hunks


class HTTPError(Exception):
    def __init__(self, status: int, message: str, errors: list | None = None, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.errors, self.headers = status, message, errors, headers or {}


@dataclass
class Recorded:
    method: str
    path: str
    query: dict
    body: Any
    headers: dict
    status: int = 0


@dataclass
class Failure:
    method: str
    pattern: re.Pattern
    status: int
    times: int
    body: Any
    headers: dict
    after: bool = False  # carried out first, then the answer is `status` (a lost answer)
    delay: float = 0.0  # seconds the request hangs before the answer (a GitHub that stopped answering)


@dataclass
class Repo:
    owner: str
    name: str
    id: int
    default_branch: str = "main"
    private: bool = False
    pulls: dict = field(default_factory=dict)        # number -> pull dict (internal)
    commits: dict = field(default_factory=dict)      # sha -> commit dict
    check_runs: dict = field(default_factory=dict)   # id -> run
    annotations: dict = field(default_factory=dict)  # run id -> [annotation]
    statuses: list = field(default_factory=list)
    tarballs: dict = field(default_factory=dict)     # ref -> directory
    installation_id: int | None = None

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


class FakeGitHub:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.repos: dict[str, Repo] = {}
        self.issue_comments: dict[int, dict] = {}     # id -> comment (+ "_repo", "_number")
        self.review_comments: dict[int, dict] = {}
        self.reviews: dict[int, dict] = {}
        self.resolved_threads: set[int] = set()       # ids of the first comment of a resolved thread
        self.installations: dict[int, dict] = {}
        self.app = {"id": 4242, "slug": "alembic-review", "name": "alembic-review",
                    "owner": {"login": "alembic-review", "id": 1, "type": "Organization"}}
        self.requests: list[Recorded] = []
        self.failures: list[Failure] = []
        self.tokens: set[str] = set()
        self.accept_any_token = True
        self.forbid_checks = False
        self.forbid_statuses = False
        self.token_user: dict[str, dict] = {}        # token -> user dict (default: github-actions[bot])
        self.app_jwt_check: Callable[[str], bool] | None = None
        self.merge_bases: dict[tuple[str, str], str] = {}  # (base, head) -> merge base; default: base
        self._trees: dict[Path, Tree] = {}  # a registered directory's git objects (directories never change)
        self.permissions: dict[str, str] | None = None  # a GITHUB_TOKEN's scopes; None: all
        self._ids = itertools.count(1000)
        self._review_comment_ids = itertools.count(2**31 + 1000)  # GitHub's are past the 32-bit range
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> "FakeGitHub":
        fake = self

        class Handler(_Handler):
            pass
        Handler.fake = fake
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    @property
    def base_url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # --- state set-up -------------------------------------------------------------------------

    def new_id(self) -> int:
        return next(self._ids)

    def add_repo(self, full_name: str, default_branch: str = "main", private: bool = False) -> Repo:
        with self.lock:
            if full_name not in self.repos:
                owner, name = full_name.split("/")
                self.repos[full_name] = Repo(owner, name, self.new_id(), default_branch, private)
            return self.repos[full_name]

    def add_commit(self, full_name: str, sha: str, message: str = "commit", parents: list[str] | None = None) -> dict:
        repo = self.add_repo(full_name)
        with self.lock:
            commit = repo.commits.setdefault(sha, {"sha": sha, "message": message, "parents": []})
            if parents is not None:
                commit["parents"] = list(parents)
            return commit

    def set_merge_commit(self, full_name: str, number: int, merge_sha: str, base_tip: str) -> None:
        """GitHub's test merge of a pull request (refs/pull/N/merge): its head merged into the base
        branch's tip. Build it with real git and register its tarball; this records it."""
        pull = self.repos[full_name].pulls[number]
        self.add_commit(full_name, base_tip)
        self.add_commit(full_name, merge_sha, "Merge", parents=[base_tip, pull["head_sha"]])
        pull["merge_sha"] = merge_sha

    def add_pull(self, full_name: str, number: int, *, files: dict[str, tuple[str | None, str | None]],
                 head_sha: str | None = None, base_sha: str | None = None, head_ref: str = "feature",
                 base_ref: str = "main", fork: str | None = None, title: str = "A pull request") -> dict:
        """files: path -> (old text or None when added, new text or None when removed)."""
        repo = self.add_repo(full_name)
        head_sha = head_sha or hashlib.sha1(f"{full_name}#{number}head".encode()).hexdigest()
        base_sha = base_sha or hashlib.sha1(f"{full_name}#{number}base".encode()).hexdigest()
        with self.lock:
            pull = {"number": number, "id": self.new_id(), "title": title, "state": "open",
                    "head_sha": head_sha, "base_sha": base_sha, "head_ref": head_ref,
                    "base_ref": base_ref, "fork": fork, "files": {}}
            repo.pulls[number] = pull
            self._set_files(repo, pull, files)
            self.add_commit(full_name, head_sha)
            self.add_commit(full_name, base_sha)
            return pull

    def push(self, full_name: str, number: int, *, files: dict[str, tuple[str | None, str | None]],
             head_sha: str) -> None:
        """Move the PR head. Like GitHub, review comments follow their line when it moved unchanged
        and become outdated (line: null) when it was changed, removed or left the diff."""
        repo = self.repos[full_name]
        with self.lock:
            pull = repo.pulls[number]
            before = {path: (entry["new"] or "").splitlines() for path, entry in pull["files"].items()}
            self._set_files(repo, pull, files)
            pull["head_sha"] = head_sha
            self.add_commit(full_name, head_sha)
            for c in self.review_comments.values():
                if c["_repo"] != full_name or c["_number"] != number or c["line"] is None:
                    continue
                entry = pull["files"].get(c["path"])
                new_lines = (entry["new"] or "").splitlines() if entry else []
                moved = self._follow(before.get(c["path"], []), new_lines, c["line"])
                start = self._follow(before.get(c["path"], []), new_lines, c["start_line"]) \
                    if c["start_line"] else None
                in_diff = entry is not None and any(moved in h["right"] for h in parse_hunks(entry["patch"]))
                if moved is None or not in_diff or (c["start_line"] and start is None):
                    c["line"] = c["position"] = c["start_line"] = None
                else:
                    c["line"], c["start_line"] = moved, start

    @staticmethod
    def _follow(old: list[str], new: list[str], line: int | None) -> int | None:
        """Where 1-based `line` of `old` is in `new`, if it survived unchanged."""
        if not line:
            return None
        matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
        for a, b, size in matcher.get_matching_blocks():
            if a < line <= a + size:
                return b + (line - a)
        return None

    def _set_files(self, repo: Repo, pull: dict, files: dict) -> None:
        pull["files"] = {}
        for path, (old, new) in files.items():
            status = "added" if old is None else "removed" if new is None else "modified"
            patch = unified_patch(old, new)
            pull["files"][path] = {"status": status, "old": old, "new": new, "patch": patch}

    def add_issue_comment(self, full_name: str, number: int, body: str, user: dict | None = None) -> dict:
        with self.lock:
            return self._new_issue_comment(self.repos[full_name], number, body, user or
                                           {"login": "someone", "id": 7, "type": "User"})

    def register_tarball(self, full_name: str, ref: str, directory: str | Path) -> None:
        """Serve `directory` as GET /repos/{o}/{r}/tarball/{ref} (GitHub's prefix dir included) and as
        commit `ref`'s tree. Its git ids are computed once: the directory must not change afterwards."""
        self.add_repo(full_name).tarballs[ref] = Path(directory)

    def add_installation(self, installation_id: int, account: str, repos: list[str],
                         permissions: dict | None = None) -> dict:
        with self.lock:
            inst = {"id": installation_id, "app_id": self.app["id"], "app_slug": self.app["slug"],
                    "target_type": "Organization", "repository_selection": "selected",
                    "account": {"login": account, "id": self.new_id(), "type": "Organization"},
                    "permissions": permissions or {"checks": "write", "pull_requests": "write",
                                                   "contents": "read", "statuses": "write",
                                                   "metadata": "read"},
                    "events": ["pull_request"], "repos": list(repos),
                    "created_at": now(), "updated_at": now()}
            self.installations[installation_id] = inst
            for full in repos:
                self.add_repo(full).installation_id = installation_id
            return inst

    # --- failure injection and inspection -----------------------------------------------------

    def fail(self, method: str, path_regex: str, status: int = 502, times: int = 1,
             body: Any = None, headers: dict | None = None) -> None:
        """The next `times` requests matching method + path regex (search) get `status`."""
        with self.lock:
            self.failures.append(Failure(method.upper(), re.compile(path_regex), status, times,
                                         body if body is not None else {"message": "Server Error"},
                                         headers or {}))

    def lose_answer(self, method: str, path_regex: str, status: int = 502, times: int = 1) -> None:
        """The next `times` matching requests are carried out, then answered with `status`, as when
        GitHub created a review but the answer timed out."""
        self.fail(method, path_regex, status, times)
        self.failures[-1].after = True

    def add_job_check_run(self, full_name: str, sha: str, name: str, conclusion: str = "success") -> dict:
        """The check run GitHub Actions makes for a workflow job (named after the job)."""
        repo = self.add_repo(full_name)
        with self.lock:
            run = {"id": self.new_id(), "name": name, "head_sha": sha, "status": "completed",
                   "conclusion": conclusion, "started_at": now(), "completed_at": now(),
                   "output": {"title": None, "summary": None}, "app": ACTIONS_APP}
            repo.check_runs[run["id"]] = run
            return run

    def hang(self, method: str, path_regex: str, seconds: float, times: int = 1000) -> None:
        """The next `times` matching requests get no answer for `seconds` (then a 504)."""
        with self.lock:
            self.failures.append(Failure(method.upper(), re.compile(path_regex), 504, times,
                                         {"message": "Gateway Timeout"}, {}, delay=seconds))

    def recover(self) -> None:
        """Every failure injected so far is over."""
        with self.lock:
            self.failures.clear()

    def secondary_rate_limit(self, method: str, path_regex: str, times: int = 1, retry_after: int = 1) -> None:
        self.fail(method, path_regex, 403, times,
                  {"message": "You have exceeded a secondary rate limit. Please wait a few minutes "
                              "before you try again.",
                   "documentation_url": f"{DOCS}/overview/rate-limits-for-the-rest-api"},
                  {"Retry-After": str(retry_after)})

    def calls(self, method: str | None = None, path_regex: str | None = None) -> list[Recorded]:
        with self.lock:
            return [r for r in self.requests
                    if (method is None or r.method == method.upper())
                    and (path_regex is None or re.search(path_regex, r.path))]

    def comments_on(self, full_name: str, number: int) -> list[dict]:
        return [c for c in self.issue_comments.values() if c["_repo"] == full_name and c["_number"] == number]

    def review_comments_on(self, full_name: str, number: int) -> list[dict]:
        return [c for c in self.review_comments.values()
                if c["_repo"] == full_name and c["_number"] == number]

    def reviews_on(self, full_name: str, number: int) -> list[dict]:
        return [r for r in self.reviews.values() if r["_repo"] == full_name and r["_number"] == number]

    def check_runs_for(self, full_name: str, sha: str | None = None) -> list[dict]:
        runs = self.repos[full_name].check_runs.values()
        return [r for r in runs if sha is None or r["head_sha"] == sha]

    # --- JSON shapes --------------------------------------------------------------------------

    def user_json(self, user: dict) -> dict:
        login = user["login"]
        return {"login": login, "id": user["id"], "node_id": f"U_{user['id']}", "type": user["type"],
                "site_admin": False, "url": f"{self.base_url}/users/{login}",
                "html_url": f"https://github.com/{login}"}

    def repo_json(self, repo: Repo) -> dict:
        base = f"{self.base_url}/repos/{repo.full_name}"
        return {"id": repo.id, "node_id": f"R_{repo.id}", "name": repo.name, "full_name": repo.full_name,
                "private": repo.private, "fork": False, "default_branch": repo.default_branch,
                "owner": {"login": repo.owner, "id": repo.id + 1, "node_id": f"O_{repo.id}",
                          "type": "Organization", "url": f"{self.base_url}/users/{repo.owner}"},
                "url": base, "html_url": f"https://github.com/{repo.full_name}",
                "pulls_url": base + "/pulls{/number}", "issues_url": base + "/issues{/number}",
                "permissions": {"admin": False, "push": True, "pull": True}}

    def pull_json(self, repo: Repo, pull: dict) -> dict:
        base = f"{self.base_url}/repos/{repo.full_name}"
        head_repo = self.repo_json(repo)
        if pull["fork"]:
            head_repo = dict(head_repo, full_name=pull["fork"], fork=True,
                             name=pull["fork"].split("/")[1],
                             url=f"{self.base_url}/repos/{pull['fork']}")
        return {"id": pull["id"], "node_id": f"PR_{pull['id']}", "number": pull["number"],
                "state": pull["state"], "title": pull["title"], "body": "", "draft": False,
                "merged": False, "merge_commit_sha": pull.get("merge_sha"), "user": self.user_json({"login": "author", "id": 9, "type": "User"}),
                "url": f"{base}/pulls/{pull['number']}",
                "html_url": f"https://github.com/{repo.full_name}/pull/{pull['number']}",
                "issue_url": f"{base}/issues/{pull['number']}",
                "comments_url": f"{base}/issues/{pull['number']}/comments",
                "review_comments_url": f"{base}/pulls/{pull['number']}/comments",
                "commits_url": f"{base}/pulls/{pull['number']}/commits",
                "statuses_url": f"{base}/statuses/{pull['head_sha']}",
                "head": {"label": f"{repo.owner}:{pull['head_ref']}", "ref": pull["head_ref"],
                         "sha": pull["head_sha"], "repo": head_repo},
                "base": {"label": f"{repo.owner}:{pull['base_ref']}", "ref": pull["base_ref"],
                         "sha": pull["base_sha"], "repo": self.repo_json(repo)},
                "created_at": now(), "updated_at": now()}

    def file_json(self, repo: Repo, pull: dict, path: str) -> dict:
        entry = pull["files"][path]
        old, new = entry["old"] or "", entry["new"] or ""
        adds = sum(1 for l in entry["patch"].split("\n") if l.startswith("+"))
        dels = sum(1 for l in entry["patch"].split("\n") if l.startswith("-"))
        data = {"sha": hashlib.sha1(new.encode()).hexdigest(), "filename": path, "status": entry["status"],
                "additions": adds, "deletions": dels, "changes": adds + dels,
                "blob_url": f"https://github.com/{repo.full_name}/blob/{pull['head_sha']}/{path}",
                "raw_url": f"https://github.com/{repo.full_name}/raw/{pull['head_sha']}/{path}",
                "contents_url": f"{self.base_url}/repos/{repo.full_name}/contents/{path}?ref={pull['head_sha']}"}
        if entry["patch"] and len(entry["patch"]) < 1_000_000 and old != new:
            data["patch"] = entry["patch"]
        return data

    def commit_json(self, repo: Repo, sha: str) -> dict:
        base = f"{self.base_url}/repos/{repo.full_name}"
        person = {"name": "A U Thor", "email": "author@example.com", "date": now()}
        return {"sha": sha, "node_id": f"C_{sha[:10]}", "url": f"{base}/commits/{sha}",
                "html_url": f"https://github.com/{repo.full_name}/commit/{sha}",
                "commit": {"message": repo.commits.get(sha, {}).get("message", "commit"),
                           "author": person, "committer": person,
                           "tree": {"sha": self.tree_sha(repo, sha), "url": f"{base}/git/trees/{self.tree_sha(repo, sha)}"},
                           "url": f"{base}/git/commits/{sha}"},
                "author": None, "committer": None, "files": [],
                "parents": [{"sha": p, "url": f"{base}/commits/{p}",
                             "html_url": f"https://github.com/{repo.full_name}/commit/{p}"}
                            for p in repo.commits.get(sha, {}).get("parents", [])]}

    def _public(self, obj: dict) -> dict:
        return {k: v for k, v in obj.items() if not k.startswith("_")}

    def _new_issue_comment(self, repo: Repo, number: int, body: str, user: dict) -> dict:
        cid = self.new_id()
        base = f"{self.base_url}/repos/{repo.full_name}"
        comment = {"id": cid, "node_id": f"IC_{cid}", "url": f"{base}/issues/comments/{cid}",
                   "html_url": f"https://github.com/{repo.full_name}/pull/{number}#issuecomment-{cid}",
                   "issue_url": f"{base}/issues/{number}", "body": body, "user": self.user_json(user),
                   "created_at": now(), "updated_at": now(), "author_association": "NONE",
                   "_repo": repo.full_name, "_number": number}
        self.issue_comments[cid] = comment
        return comment

    # --- request handling ---------------------------------------------------------------------

    ROUTES: list[tuple[str, str, str]] = [
        ("GET", r"/repos/(?P<o>[^/]+)/(?P<r>[^/]+)", "get_repo"),
        ("GET", r"/repos/(?P<o>[^/]+)/(?P<r>[^/]+)/installation", "get_repo_installation"),
        ("GET", r"/repos/(?P<o>[^/]+)/(?P<r>[^/]+)/pulls", "list_pulls"),
        ("GET", r"/repos/(?P<o>[^/]+)/(?P<r>[^/]+)/pulls/(?P<n>\d+)", "get_pull"),
        ("GET", r"/repos/(?P<o>[^/]+)/(?P<r>[^/]+)/pulls/(?P<n>\d+)/files", "list_files"),
        ("GET", r"/repos/(?P<o>[^/]+)/(?P<r>[^/]+)/issues/(?P<n>\d+)/comments", "list_issue_comments"),
        ("POST", r"/repos/(?P<o>[^/]+)/(?P<r>[^/]+)/issues/(?P<n>\d+)/comments", "create_issue_comment"),
        ("GET", r"/repos/(?P<o>[^/]+)/(?P<r>[^/]+)/issues/comments/(?P<id>\d+)", "get_issue_comment"),
        ("PATCH", r"/repos/(?P<o>[^/]+)/(?P<r>[^/]+)/issues/comments/(?P<id>\d+)", "edit_issue_comment"),
        ("GET", r"/repos/(?P<o>[^/]+)/(?P<r>[^/]+)/pulls/(?P<n>\d+)/reviews", "list_reviews"),
        ("POST", r"/repos/(?P<o>[^/]+)/(?P<r>[^/]+)/pulls/(?P<n>\d+)/reviews", "create_review"),
        ("GET", r"/repos/(?P<o>[^/]+)/(?P<r>[^/]+)/pulls/(?P<n>\d+)/comments", "list_review_comments"),
        ("GET", r"/repos/(?P<o>[^/]+)/(?P<r>[^/]+)/pulls/comments/(?P<id>\d+)", "get_review_comment"),
        ("PATCH", r"/repos/(?P<o>[^/]+)/(?P<r>[^/]+)/pulls/comments/(?P<id>\d+)", "edit_review_comment"),
        ("GET", r"/repos/(?P<o>[^/]+)/(?P<r>[^/]+)/commits/(?P<ref>[^/]+)", "get_commit"),
        ("GET", r"/repos/(?P<o>[^/]+)/(?P<r>[^/]+)/commits/(?P<ref>[^/]+)/check-runs", "list_check_runs"),
        ("POST", r"/repos/(?P<o>[^/]+)/(?P<r>[^/]+)/check-runs", "create_check_run"),
        ("GET", r"/repos/(?P<o>[^/]+)/(?P<r>[^/]+)/check-runs/(?P<id>\d+)", "get_check_run"),
        ("PATCH", r"/repos/(?P<o>[^/]+)/(?P<r>[^/]+)/check-runs/(?P<id>\d+)", "update_check_run"),
        ("GET", r"/repos/(?P<o>[^/]+)/(?P<r>[^/]+)/check-runs/(?P<id>\d+)/annotations", "list_annotations"),
        ("POST", r"/repos/(?P<o>[^/]+)/(?P<r>[^/]+)/statuses/(?P<sha>[^/]+)", "create_status"),
        ("GET", r"/repos/(?P<o>[^/]+)/(?P<r>[^/]+)/commits/(?P<ref>[^/]+)/statuses", "list_statuses"),
        ("GET", r"/repos/(?P<o>[^/]+)/(?P<r>[^/]+)/statuses/(?P<ref>[^/]+)", "list_statuses"),
        ("GET", r"/repos/(?P<o>[^/]+)/(?P<r>[^/]+)/commits/(?P<ref>[^/]+)/status", "combined_status"),
        ("GET", r"/repos/(?P<o>[^/]+)/(?P<r>[^/]+)/tarball(?:/(?P<ref>.+))?", "tarball"),
        ("GET", r"/repos/(?P<o>[^/]+)/(?P<r>[^/]+)/contents/(?P<path>.+)", "get_contents"),
        ("GET", r"/repos/(?P<o>[^/]+)/(?P<r>[^/]+)/compare/(?P<base>[^/.]+)\.\.\.(?P<head>[^/]+)", "compare"),
        ("GET", r"/repos/(?P<o>[^/]+)/(?P<r>[^/]+)/git/commits/(?P<sha>[0-9a-f]{40})", "git_commit"),
        ("GET", r"/repos/(?P<o>[^/]+)/(?P<r>[^/]+)/git/blobs/(?P<sha>[0-9a-f]{40})", "git_blob"),
        ("GET", r"/_codeload/(?P<o>[^/]+)/(?P<r>[^/]+)/legacy\.tar\.gz/(?P<ref>.+)", "codeload"),
        ("GET", r"/app", "get_app"),
        ("GET", r"/app/installations/(?P<id>\d+)", "get_installation"),
        ("POST", r"/app/installations/(?P<id>\d+)/access_tokens", "create_access_token"),
        ("GET", r"/installation/repositories", "installation_repositories"),
        ("POST", r"/graphql", "graphql"),
    ]

    def handle(self, method: str, path: str, query: dict, body: Any, headers: dict) -> tuple[int, dict, Any]:
        lost = None
        with self.lock:
            for failure in self.failures:
                if failure.times > 0 and failure.method == method and failure.pattern.search(path):
                    failure.times -= 1
                    if not failure.after:
                        break
                    lost = failure
                    failure = None
                    break
            else:
                failure = None
        if failure is not None:
            time.sleep(failure.delay)  # outside the lock: other requests are answered meanwhile
            return failure.status, dict(failure.headers), failure.body
        answer = self._route(method, path, query, body, headers)
        return (lost.status, dict(lost.headers), lost.body) if lost else answer

    # what a GITHUB_TOKEN needs per route (read scopes only count on private repositories)
    NEEDS: dict[str, tuple[tuple[str, ...], str]] = {
        "get_pull": (("pull_requests",), "read"), "list_pulls": (("pull_requests",), "read"),
        "list_files": (("pull_requests",), "read"),
        "list_issue_comments": (("pull_requests", "issues"), "read"),
        "get_issue_comment": (("pull_requests", "issues"), "read"),
        "create_issue_comment": (("pull_requests", "issues"), "write"),
        "edit_issue_comment": (("pull_requests", "issues"), "write"),
        "list_reviews": (("pull_requests",), "read"), "create_review": (("pull_requests",), "write"),
        "list_review_comments": (("pull_requests",), "read"),
        "get_review_comment": (("pull_requests",), "read"),
        "edit_review_comment": (("pull_requests",), "write"),
        "get_commit": (("contents",), "read"), "tarball": (("contents",), "read"),
        "compare": (("contents",), "read"), "git_commit": (("contents",), "read"),
        "git_blob": (("contents",), "read"),
        "list_check_runs": (("checks",), "read"), "get_check_run": (("checks",), "read"),
        "list_annotations": (("checks",), "read"),
        "create_check_run": (("checks",), "write"), "update_check_run": (("checks",), "write"),
        "create_status": (("statuses",), "write"), "list_statuses": (("statuses",), "read"),
        "combined_status": (("statuses",), "read"),
    }

    def _allowed(self, name: str, groups: dict) -> bool:
        need = self.NEEDS.get(name)
        if self.permissions is None or need is None:
            return True
        scopes, level = need
        repo = self.repos.get(f"{groups.get('o')}/{groups.get('r')}")
        if level == "read" and (repo is None or not repo.private):
            return True
        ok = ("read", "write") if level == "read" else ("write",)
        return any(self.permissions.get(scope.replace("_", "-")) in ok for scope in scopes)

    def _route(self, method: str, path: str, query: dict, body: Any, headers: dict) -> tuple[int, dict, Any]:
        auth = headers.get("authorization", "")
        # routes authenticated with the App's JWT rather than a token
        app_route = (path == "/app" or path.startswith("/app/")
                     or re.fullmatch(r"/(repos/[^/]+/[^/]+|orgs/[^/]+|users/[^/]+)/installation", path) is not None)
        if not auth:
            raise HTTPError(401, "Requires authentication")
        if not app_route and not self.accept_any_token:
            token = auth.split(" ", 1)[-1]
            if token not in self.tokens:
                raise HTTPError(401, "Bad credentials")
        if app_route and self.app_jwt_check is not None:
            if not auth.lower().startswith("bearer ") or not self.app_jwt_check(auth.split(" ", 1)[1]):
                raise HTTPError(401, "A JSON web token could not be decoded")
        for route_method, pattern, name in self.ROUTES:
            if route_method != method:
                continue
            m = re.fullmatch(pattern, path)
            if m:
                if not app_route and not self._allowed(name, m.groupdict()):
                    raise HTTPError(403, "Resource not accessible by integration")
                with self.lock:
                    return getattr(self, "h_" + name)(query=query, body=body, headers=headers,
                                                       **m.groupdict())
        raise HTTPError(404, "Not Found")

    def _repo(self, o: str, r: str) -> Repo:
        repo = self.repos.get(f"{o}/{r}")
        if repo is None:
            raise HTTPError(404, "Not Found")
        return repo

    def _pull(self, o: str, r: str, n: str) -> tuple[Repo, dict]:
        repo = self._repo(o, r)
        pull = repo.pulls.get(int(n))
        if pull is None:
            raise HTTPError(404, "Not Found")
        return repo, pull

    def _user_for(self, headers: dict) -> dict:
        token = headers.get("authorization", "").split(" ", 1)[-1]
        return self.token_user.get(token, BOT)

    def _page(self, items: list, query: dict, path: str, wrap: Callable[[list], Any] | None = None):
        per_page = min(int(query.get("per_page", 30) or 30), 100)
        page = max(int(query.get("page", 1) or 1), 1)
        last = max(1, -(-len(items) // per_page))
        chunk = items[(page - 1) * per_page: page * per_page]
        links = []

        def url(p: int) -> str:
            q = dict(query, per_page=str(per_page), page=str(p))
            return f"<{self.base_url}{path}?{urlencode(q)}>"
        if page < last:
            links += [f'{url(page + 1)}; rel="next"', f'{url(last)}; rel="last"']
        if page > 1:
            links += [f'{url(page - 1)}; rel="prev"', f'{url(1)}; rel="first"']
        headers = {"Link": ", ".join(links)} if links else {}
        return 200, headers, wrap(chunk) if wrap else chunk

    # repos, pulls, files
    def h_get_repo(self, o, r, **_):
        return 200, {}, self.repo_json(self._repo(o, r))

    def h_list_pulls(self, o, r, query, **_):
        repo = self._repo(o, r)
        state = query.get("state", "open")
        items = [self.pull_json(repo, pull) for number, pull in sorted(repo.pulls.items(), reverse=True)
                 if state in ("all", pull["state"]) and query.get("base", pull["base_ref"]) == pull["base_ref"]]
        return self._page(items, query, f"/repos/{o}/{r}/pulls")

    def h_get_pull(self, o, r, n, **_):
        repo, pull = self._pull(o, r, n)
        return 200, {}, self.pull_json(repo, pull)

    def h_list_files(self, o, r, n, query, **_):
        repo, pull = self._pull(o, r, n)
        files = [self.file_json(repo, pull, p) for p in pull["files"]]
        return self._page(files, query, f"/repos/{o}/{r}/pulls/{n}/files")

    # issue comments
    def _check_body(self, body: dict) -> str:
        text = body.get("body") if isinstance(body, dict) else None
        if not isinstance(text, str):
            raise HTTPError(422, "Invalid request.", ["body is missing"])
        if len(text) > COMMENT_LIMIT:
            raise HTTPError(422, "Validation Failed",
                            [{"resource": "IssueComment", "code": "custom", "field": "body",
                              "message": "body is too long (maximum is 65536 characters)"}])
        return text

    def h_list_issue_comments(self, o, r, n, query, **_):
        self._pull(o, r, n)
        items = sorted((self._public(c) for c in self.comments_on(f"{o}/{r}", int(n))), key=lambda c: c["id"])
        return self._page(items, query, f"/repos/{o}/{r}/issues/{n}/comments")

    def h_create_issue_comment(self, o, r, n, body, headers, **_):
        repo, _pull = self._pull(o, r, n)
        comment = self._new_issue_comment(repo, int(n), self._check_body(body), self._user_for(headers))
        return 201, {}, self._public(comment)

    def _issue_comment(self, o, r, id) -> dict:
        comment = self.issue_comments.get(int(id))
        if comment is None or comment["_repo"] != f"{o}/{r}":
            raise HTTPError(404, "Not Found")
        return comment

    def h_get_issue_comment(self, o, r, id, **_):
        return 200, {}, self._public(self._issue_comment(o, r, id))

    def h_edit_issue_comment(self, o, r, id, body, headers, **_):
        comment = self._issue_comment(o, r, id)
        if comment["user"]["login"] != self._user_for(headers)["login"]:
            raise HTTPError(403, "Resource not accessible by integration")
        comment["body"] = self._check_body(body)
        comment["updated_at"] = now()
        return 200, {}, self._public(comment)

    # reviews and review comments
    def review_json(self, review: dict) -> dict:
        return self._public(review)

    def h_list_reviews(self, o, r, n, query, **_):
        self._pull(o, r, n)
        items = [self.review_json(x) for x in sorted(self.reviews_on(f"{o}/{r}", int(n)), key=lambda x: x["id"])]
        return self._page(items, query, f"/repos/{o}/{r}/pulls/{n}/reviews")

    def h_create_review(self, o, r, n, body, headers, **_):
        repo, pull = self._pull(o, r, n)
        body = body or {}
        event = body.get("event")
        comments = body.get("comments") or []
        text = body.get("body") or ""
        if event not in (None, "APPROVE", "REQUEST_CHANGES", "COMMENT"):
            raise HTTPError(422, "Unprocessable Entity", [f"Invalid event {event!r}"])
        if event in ("REQUEST_CHANGES", "COMMENT") and not text and not comments:
            raise HTTPError(422, "Unprocessable Entity", ["Review Can not comment without body"])
        if len(text) > COMMENT_LIMIT:
            raise HTTPError(422, "Unprocessable Entity", ["Body is too long (maximum is 65536 characters)"])
        commit_id = body.get("commit_id") or pull["head_sha"]
        if commit_id not in repo.commits:
            raise HTTPError(422, "Unprocessable Entity", ["Commit not found"])
        # validate every comment before creating anything: one bad line rejects the whole review
        for c in comments:
            path = c.get("path")
            entry = pull["files"].get(path)
            if entry is None:
                raise HTTPError(422, "Unprocessable Entity", ["Path could not be resolved"])
            if len(c.get("body") or "") > COMMENT_LIMIT:
                raise HTTPError(422, "Unprocessable Entity", ["Body is too long (maximum is 65536 characters)"])
            if "position" in c:
                continue  # legacy diff positions: not used by alembic-review
            side = c.get("side", "RIGHT").lower()
            hunks = parse_hunks(entry["patch"])
            line = c.get("line")
            hunk = next((h for h in hunks if line in h[side]), None)
            if hunk is None:
                raise HTTPError(422, "Unprocessable Entity", ["Line could not be resolved"])
            if c.get("start_line") is not None:
                start_side = c.get("start_side", c.get("side", "RIGHT")).lower()
                if c["start_line"] >= line:
                    raise HTTPError(422, "Unprocessable Entity", ["start_line must precede the end line."])
                if c["start_line"] not in hunk[start_side]:
                    raise HTTPError(422, "Unprocessable Entity",
                                    ["start_line must be part of the same hunk as the line."])
        rid = self.new_id()
        user = self.user_json(self._user_for(headers))
        base = f"{self.base_url}/repos/{repo.full_name}"
        review = {"id": rid, "node_id": f"PRR_{rid}", "user": user, "body": text,
                  "state": {"APPROVE": "APPROVED", "REQUEST_CHANGES": "CHANGES_REQUESTED",
                            "COMMENT": "COMMENTED", None: "PENDING"}[event],
                  "commit_id": commit_id, "submitted_at": now(),
                  "html_url": f"https://github.com/{repo.full_name}/pull/{n}#pullrequestreview-{rid}",
                  "pull_request_url": f"{base}/pulls/{n}", "author_association": "NONE",
                  "_repo": repo.full_name, "_number": int(n)}
        self.reviews[rid] = review
        for c in comments:
            cid = next(self._review_comment_ids)
            entry = pull["files"][c["path"]]
            new_lines = (entry["new"] or "").splitlines()
            line = c.get("line")
            self.review_comments[cid] = {
                "id": cid, "node_id": f"PRRC_{cid}", "url": f"{base}/pulls/comments/{cid}",
                "pull_request_review_id": rid, "diff_hunk": entry["patch"][:2000], "path": c["path"],
                "position": 1, "original_position": 1, "commit_id": commit_id,
                "original_commit_id": commit_id, "user": user, "body": c.get("body", ""),
                "created_at": now(), "updated_at": now(),
                "html_url": f"https://github.com/{repo.full_name}/pull/{n}#discussion_r{cid}",
                "pull_request_url": f"{base}/pulls/{n}", "author_association": "NONE",
                "line": line, "original_line": line, "side": c.get("side", "RIGHT"),
                "start_line": c.get("start_line"), "original_start_line": c.get("start_line"),
                "start_side": c.get("start_side") if c.get("start_line") else None,
                "subject_type": "line",
                "_repo": repo.full_name, "_number": int(n),
                "_content": new_lines[line - 1] if line and line <= len(new_lines) else None,
            }
        return 200, {}, self.review_json(review)

    def h_list_review_comments(self, o, r, n, query, **_):
        self._pull(o, r, n)
        items = sorted((self._public(c) for c in self.review_comments_on(f"{o}/{r}", int(n))),
                       key=lambda c: c["id"])
        return self._page(items, query, f"/repos/{o}/{r}/pulls/{n}/comments")

    def _review_comment(self, o, r, id) -> dict:
        comment = self.review_comments.get(int(id))
        if comment is None or comment["_repo"] != f"{o}/{r}":
            raise HTTPError(404, "Not Found")
        return comment

    def h_get_review_comment(self, o, r, id, **_):
        return 200, {}, self._public(self._review_comment(o, r, id))

    def h_edit_review_comment(self, o, r, id, body, headers, **_):
        comment = self._review_comment(o, r, id)
        if comment["user"]["login"] != self._user_for(headers)["login"]:
            raise HTTPError(403, "Resource not accessible by integration")
        comment["body"] = self._check_body(body)
        comment["updated_at"] = now()
        return 200, {}, self._public(comment)

    # commits, check runs, statuses
    def h_get_commit(self, o, r, ref, **_):
        repo = self._repo(o, r)
        if ref not in repo.commits:
            raise HTTPError(422, f"No commit found for SHA: {ref}")
        return 200, {}, self.commit_json(repo, ref)

    def check_run_json(self, repo: Repo, run: dict) -> dict:
        base = f"{self.base_url}/repos/{repo.full_name}"
        return {"id": run["id"], "node_id": f"CR_{run['id']}", "head_sha": run["head_sha"],
                "external_id": run.get("external_id") or "", "name": run["name"],
                "url": f"{base}/check-runs/{run['id']}",
                "html_url": f"https://github.com/{repo.full_name}/runs/{run['id']}",
                "details_url": run.get("details_url"), "status": run["status"],
                "conclusion": run.get("conclusion"), "started_at": run["started_at"],
                "completed_at": run.get("completed_at"),
                "output": {"title": run["output"].get("title"), "summary": run["output"].get("summary"),
                           "text": run["output"].get("text"),
                           "annotations_count": len(repo.annotations.get(run["id"], [])),
                           "annotations_url": f"{base}/check-runs/{run['id']}/annotations"},
                "check_suite": {"id": 1}, "app": dict(run.get("app") or self.app), "pull_requests": []}

    def _apply_run(self, repo: Repo, run: dict, body: dict, creating: bool) -> None:
        for key in ("name", "details_url", "external_id", "started_at"):
            if key in body:
                run[key] = body[key]
        status = body.get("status")
        conclusion = body.get("conclusion")
        if conclusion is not None and status is None:
            status = "completed"
        if status is not None:
            if status not in ("queued", "in_progress", "completed", "waiting", "requested", "pending"):
                raise HTTPError(422, "Invalid request.", [f"status {status!r} is not a valid value"])
            run["status"] = status
        if run["status"] == "completed":
            if conclusion is None and run.get("conclusion") is None:
                raise HTTPError(422, "Invalid request.", ["conclusion is required when status is completed"])
            if conclusion is not None:
                if conclusion not in ("action_required", "cancelled", "failure", "neutral", "success",
                                      "skipped", "stale", "timed_out"):
                    raise HTTPError(422, "Invalid request.", [f"conclusion {conclusion!r} is not valid"])
                run["conclusion"] = conclusion
            run["completed_at"] = body.get("completed_at") or run.get("completed_at") or now()
        output = body.get("output")
        if output is not None:
            if not output.get("title") or output.get("summary") is None:
                raise HTTPError(422, "Invalid request.", ["output requires title and summary"])
            for key in ("summary", "text"):
                if output.get(key) and len(output[key].encode("utf-8")) > CHECK_OUTPUT_BYTES:
                    raise HTTPError(422, "Invalid request.",
                                    [f"output.{key} is too long (maximum is 65535 characters)"])
            annotations = output.get("annotations") or []
            if len(annotations) > 50:
                raise HTTPError(422, "Invalid request.",
                                ["Only 50 annotations are allowed per request"])
            for a in annotations:
                missing = [k for k in ("path", "start_line", "end_line", "annotation_level", "message")
                           if a.get(k) in (None, "")]
                if missing or a["annotation_level"] not in ("notice", "warning", "failure"):
                    raise HTTPError(422, "Invalid request.", [f"invalid annotation {a!r}"])
                if any(len(str(a.get(k) or "").encode("utf-8")) > ANNOTATION_BYTES for k in ("message", "raw_details")):
                    raise HTTPError(422, "Invalid request.", ["annotation message is too long (maximum is 64 KB)"])
            run["output"] = {k: output.get(k) for k in ("title", "summary", "text")}
            repo.annotations.setdefault(run["id"], []).extend(annotations)  # appended, like GitHub

    def h_create_check_run(self, o, r, body, headers, **_):
        repo = self._repo(o, r)
        if self.forbid_checks:
            raise HTTPError(403, "Resource not accessible by integration")
        if not body.get("name") or not body.get("head_sha"):
            raise HTTPError(422, "Invalid request.", ["name and head_sha are required"])
        token = headers.get("authorization", "").split(" ", 1)[-1]
        run = {"id": self.new_id(), "name": body["name"], "head_sha": body["head_sha"],
               "status": "queued", "started_at": now(), "output": {},
               "app": dict(self.app) if token in self.tokens else ACTIONS_APP}
        self._apply_run(repo, run, body, creating=True)
        repo.check_runs[run["id"]] = run
        return 201, {}, self.check_run_json(repo, run)

    def _run(self, o, r, id) -> tuple[Repo, dict]:
        repo = self._repo(o, r)
        run = repo.check_runs.get(int(id))
        if run is None:
            raise HTTPError(404, "Not Found")
        return repo, run

    def h_get_check_run(self, o, r, id, **_):
        repo, run = self._run(o, r, id)
        return 200, {}, self.check_run_json(repo, run)

    def h_update_check_run(self, o, r, id, body, **_):
        repo, run = self._run(o, r, id)
        if self.forbid_checks:
            raise HTTPError(403, "Resource not accessible by integration")
        self._apply_run(repo, run, body, creating=False)
        return 200, {}, self.check_run_json(repo, run)

    def h_list_annotations(self, o, r, id, query, **_):
        repo, run = self._run(o, r, id)
        return self._page(list(repo.annotations.get(run["id"], [])), query,
                          f"/repos/{o}/{r}/check-runs/{id}/annotations")

    def h_list_check_runs(self, o, r, ref, query, **_):
        repo = self._repo(o, r)
        runs = [run for run in repo.check_runs.values() if run["head_sha"] == ref
                and ("check_name" not in query or run["name"] == query["check_name"])
                and ("status" not in query or run["status"] == query["status"])]
        runs.sort(key=lambda run: -run["id"])
        if query.get("filter", "latest") == "latest":
            latest: dict[str, dict] = {}
            for run in runs:
                latest.setdefault(run["name"], run)
            runs = list(latest.values())
        items = [self.check_run_json(repo, run) for run in runs]
        return self._page(items, query, f"/repos/{o}/{r}/commits/{ref}/check-runs",
                          wrap=lambda chunk: {"total_count": len(items), "check_runs": chunk})

    def h_create_status(self, o, r, sha, body, headers, **_):
        repo = self._repo(o, r)
        if self.forbid_statuses:
            raise HTTPError(403, "Resource not accessible by integration")
        if body.get("state") not in ("error", "failure", "pending", "success"):
            raise HTTPError(422, "Validation Failed", [{"resource": "Status", "field": "state", "code": "custom"}])
        if len(body.get("description") or "") > 140:
            raise HTTPError(422, "Validation Failed",
                            [{"resource": "Status", "field": "description", "code": "custom",
                              "message": "description is too long (maximum is 140 characters)"}])
        sid = self.new_id()
        status = {"id": sid, "node_id": f"SC_{sid}", "state": body["state"],
                  "description": body.get("description"), "target_url": body.get("target_url"),
                  "context": body.get("context") or "default", "sha": sha,
                  "url": f"{self.base_url}/repos/{repo.full_name}/statuses/{sha}",
                  "created_at": now(), "updated_at": now(),
                  "creator": self.user_json(self._user_for(headers))}
        repo.statuses.append(status)
        return 201, {}, {k: v for k, v in status.items() if k != "sha"}

    def h_list_statuses(self, o, r, ref, query, **_):
        repo = self._repo(o, r)
        items = [{k: v for k, v in s.items() if k != "sha"} for s in reversed(repo.statuses) if s["sha"] == ref]
        return self._page(items, query, f"/repos/{o}/{r}/commits/{ref}/statuses")

    def h_combined_status(self, o, r, ref, **_):
        repo = self._repo(o, r)
        latest: dict[str, dict] = {}
        for s in reversed(repo.statuses):
            if s["sha"] == ref:
                latest.setdefault(s["context"], {k: v for k, v in s.items() if k != "sha"})
        states = [s["state"] for s in latest.values()]
        state = ("failure" if any(s in ("failure", "error") for s in states)
                 else "pending" if not states or "pending" in states else "success")
        return 200, {}, {"state": state, "sha": ref, "total_count": len(latest),
                         "statuses": list(latest.values()), "repository": self.repo_json(repo)}

    def h_compare(self, o, r, base, head, **_):
        """Two commits compared (three dots): what the webhook service asks for the merge base."""
        repo = self._repo(o, r)
        for sha in (base, head):
            if sha not in repo.commits:
                raise HTTPError(404, "Not Found")
        merge_base = self.merge_bases.get((base, head), base)
        self.add_commit(repo.full_name, merge_base)
        html = f"https://github.com/{repo.full_name}/compare/{base}...{head}"
        files = self._compare_files(repo, merge_base, head)
        return 200, {}, {"url": f"{self.base_url}/repos/{repo.full_name}/compare/{base}...{head}",
                         "html_url": html, "permalink_url": html, "diff_url": html + ".diff",
                         "patch_url": html + ".patch", "base_commit": self.commit_json(repo, base),
                         "merge_base_commit": self.commit_json(repo, merge_base), "status": "ahead",
                         "ahead_by": 1, "behind_by": 0, "total_commits": 1, "commits": [], "files": files}

    def tree(self, repo: Repo, sha: str) -> Tree | None:
        directory = repo.tarballs.get(sha)
        if directory is None:
            return None
        if directory not in self._trees:
            self._trees[directory] = tree_of(directory)
        return self._trees[directory]

    def tree_sha(self, repo: Repo, sha: str) -> str:
        tree = self.tree(repo, sha)
        return tree.sha if tree else "0" * 40

    def _compare_files(self, repo: Repo, base: str, head: str) -> list[dict]:
        """What changed from `base` to `head` (when both trees are registered), as GitHub lists it:
        at most 300 files, no rename detection here (a rename is a removal and an addition)."""
        old, new = self.tree(repo, base), self.tree(repo, head)
        if old is None or new is None:
            return []
        out = []
        for path in sorted(set(old.files) | set(new.files)):
            before, after = old.files.get(path), new.files.get(path)
            if before == after:
                continue
            status = "added" if before is None else "removed" if after is None else "modified"
            if before and after and before[1] == after[1]:
                status = "changed"  # only the mode
            sha = (after or before)[1]
            out.append({"sha": sha, "filename": path, "status": status, "additions": 0, "deletions": 0,
                        "changes": 0,
                        "blob_url": f"https://github.com/{repo.full_name}/blob/{head}/{path}",
                        "raw_url": f"https://github.com/{repo.full_name}/raw/{head}/{path}",
                        "contents_url": f"{self.base_url}/repos/{repo.full_name}/contents/{path}?ref={head}"})
        return out[:COMPARE_FILES]

    def h_git_commit(self, o, r, sha, **_):
        repo = self._repo(o, r)
        if sha not in repo.commits and sha not in repo.tarballs:
            raise HTTPError(404, "Not Found")
        url = f"{self.base_url}/repos/{repo.full_name}/git"
        person = {"name": "A U Thor", "email": "author@example.com", "date": now()}
        tree = self.tree_sha(repo, sha)
        return 200, {}, {"sha": sha, "node_id": f"C_{sha[:10]}", "url": f"{url}/commits/{sha}",
                         "author": person, "committer": person,
                         "message": repo.commits.get(sha, {}).get("message", "commit"),
                         "tree": {"sha": tree, "url": f"{url}/trees/{tree}"},
                         "parents": [{"sha": p, "url": f"{url}/commits/{p}"}
                                     for p in repo.commits.get(sha, {}).get("parents", [])],
                         "verification": {"verified": False, "reason": "unsigned", "signature": None,
                                          "payload": None}}

    def h_git_blob(self, o, r, sha, headers, **_):
        """A blob of any registered tree of the repository; raw with `Accept: application/vnd.github.raw+json`."""
        repo = self._repo(o, r)
        data = next((d for ref in list(repo.tarballs) if (t := self.tree(repo, ref)) is not None
                     and (d := blob_bytes(t, sha)) is not None), None)
        if data is None:
            raise HTTPError(404, "Not Found")
        if headers.get("accept") == "application/vnd.github.raw+json":
            return 200, {"Content-Type": "application/vnd.github.raw+json"}, data
        return 200, {}, {"sha": sha, "node_id": f"B_{sha[:10]}", "size": len(data), "encoding": "base64",
                         "url": f"{self.base_url}/repos/{repo.full_name}/git/blobs/{sha}",
                         "content": base64.b64encode(data).decode()}

    # tarballs
    def h_tarball(self, o, r, ref=None, **_):
        repo = self._repo(o, r)
        ref = ref or repo.default_branch
        if ref not in repo.tarballs:
            raise HTTPError(404, "Not Found")
        return 302, {"Location": f"{self.base_url}/_codeload/{o}/{r}/legacy.tar.gz/{ref}"}, None

    def h_get_contents(self, o, r, path, query, headers, **_):
        """A file of a registered tree (register_tarball), raw with `Accept: application/vnd.github.raw+json`."""
        repo = self._repo(o, r)
        directory = repo.tarballs.get(query.get("ref") or repo.default_branch)
        target = directory / path if directory is not None else None
        if target is None or ".." in Path(path).parts or not target.is_file():
            raise HTTPError(404, "Not Found")
        data = target.read_bytes()
        if headers.get("accept") == "application/vnd.github.raw+json":
            return 200, {"Content-Type": "application/vnd.github.raw+json"}, data
        return 200, {}, {"type": "file", "encoding": "base64", "size": len(data), "name": target.name, "path": path,
                         "content": base64.b64encode(data).decode()}

    def h_codeload(self, o, r, ref, **_):
        repo = self._repo(o, r)
        directory = repo.tarballs.get(ref)
        if directory is None:
            raise HTTPError(404, "Not Found")
        short = (ref if re.fullmatch(r"[0-9a-f]{40}", ref) else hashlib.sha1(ref.encode()).hexdigest())[:7]
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz") as tar:
            tar.add(directory, arcname=f"{o}-{r}-{short}")
        return 200, {"Content-Type": "application/x-gzip",
                     "Content-Disposition": f"attachment; filename={o}-{r}-{short}.tar.gz"}, buf.getvalue()

    # GitHub App
    def installation_json(self, inst: dict) -> dict:
        out = {k: v for k, v in inst.items() if k != "repos"}
        out["access_tokens_url"] = f"{self.base_url}/app/installations/{inst['id']}/access_tokens"
        out["repositories_url"] = f"{self.base_url}/installation/repositories"
        out["html_url"] = f"https://github.com/organizations/{inst['account']['login']}/settings/installations/{inst['id']}"
        return out

    def h_get_app(self, **_):
        return 200, {}, dict(self.app, node_id="A_1", created_at=now(), updated_at=now(),
                             html_url=f"https://github.com/apps/{self.app['slug']}",
                             permissions={}, events=[])

    def h_get_installation(self, id, **_):
        inst = self.installations.get(int(id))
        if inst is None:
            raise HTTPError(404, "Not Found")
        return 200, {}, self.installation_json(inst)

    def h_get_repo_installation(self, o, r, **_):
        repo = self._repo(o, r)
        if repo.installation_id is None:
            raise HTTPError(404, "Not Found")
        return 200, {}, self.installation_json(self.installations[repo.installation_id])

    def h_create_access_token(self, id, body, **_):
        inst = self.installations.get(int(id))
        if inst is None:
            raise HTTPError(404, "Not Found")
        token = "ghs_" + base64.urlsafe_b64encode(hashlib.sha256(str(self.new_id()).encode()).digest()).decode()[:36]
        self.tokens.add(token)
        self.token_user[token] = {"login": f"{self.app['slug']}[bot]", "id": 99000 + self.app["id"], "type": "Bot"}
        expires = (datetime.now(timezone.utc) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = body or {}
        return 201, {}, {"token": token, "expires_at": expires,
                         "permissions": body.get("permissions") or inst["permissions"],
                         "repository_selection": inst["repository_selection"]}

    def h_installation_repositories(self, query, headers, **_):
        token = headers.get("authorization", "").split(" ", 1)[-1]
        repos = [self.repo_json(r) for r in self.repos.values() if r.installation_id is not None
                 and token in self.tokens]
        return self._page(repos, query, "/installation/repositories",
                          wrap=lambda chunk: {"total_count": len(repos), "repositories": chunk})

    # GraphQL: only what publishing needs (review threads and resolving them)
    def h_graphql(self, body, **_):
        query = (body or {}).get("query", "")
        variables = (body or {}).get("variables") or {}
        if re.search(r"\b(un)?resolveReviewThread\b", query):
            resolve = not re.search(r"\bunresolveReviewThread\b", query)
            thread_id = (variables.get("input") or variables).get("threadId", "")
            m = re.fullmatch(r"PRRT_(\d+)", thread_id)
            if not m or int(m.group(1)) not in self.review_comments:
                return 200, {}, {"data": None, "errors": [{"type": "NOT_FOUND", "message":
                                                           f"Could not resolve to a node with the global id of '{thread_id}'"}]}
            first = int(m.group(1))
            (self.resolved_threads.add if resolve else self.resolved_threads.discard)(first)
            name = "resolveReviewThread" if resolve else "unresolveReviewThread"
            return 200, {}, {"data": {name: {"thread": {"id": thread_id, "isResolved": resolve}}}}
        if "reviewThreads" in query:
            owner, name, number = variables.get("owner"), variables.get("name"), variables.get("number")
            repo = self.repos.get(f"{owner}/{name}")
            if repo is None or int(number or 0) not in repo.pulls:
                return 200, {}, {"data": {"repository": None},
                                 "errors": [{"type": "NOT_FOUND", "message": "Could not resolve to a Repository"}]}
            comments = sorted(self.review_comments_on(repo.full_name, int(number)), key=lambda c: c["id"])
            threads = []
            for c in comments:
                if c.get("in_reply_to_id"):
                    continue
                replies = [c] + [x for x in comments if x.get("in_reply_to_id") == c["id"]]
                threads.append({"id": f"PRRT_{c['id']}", "isResolved": c["id"] in self.resolved_threads,
                                "isOutdated": c["line"] is None, "path": c["path"], "line": c["line"],
                                "comments": {"nodes": [_graphql_comment_json(x, query) for x in replies]}})
            if any(t["comments"]["nodes"] and t["comments"]["nodes"][0] is None for t in threads):
                return 200, {}, {"data": None, "errors": [{"type": "INT_OVERFLOW",
                                                           "message": "Int cannot represent non 32-bit signed integer value"}]}
            first = int(variables.get("first") or 100)
            start = int(variables.get("cursor") or variables.get("after") or 0)
            chunk = threads[start:start + first]
            end = start + len(chunk)
            return 200, {}, {"data": {"repository": {"pullRequest": {"reviewThreads": {
                "pageInfo": {"hasNextPage": end < len(threads), "endCursor": str(end)},
                "nodes": chunk}}}}}
        return 200, {}, {"data": None, "errors": [{"message": "query not supported by the fake"}]}


def _graphql_comment_json(comment: dict, query: str) -> dict | None:
    """A review comment node as GitHub gives it; None when the query asks databaseId (a 32-bit Int)
    of a comment whose id no longer fits it, which GitHub answers with an error."""
    if re.search(r"\bdatabaseId\b", query) and comment["id"] > 2**31 - 1:
        return None
    return {"databaseId": comment["id"] if comment["id"] <= 2**31 - 1 else None,
            "fullDatabaseId": str(comment["id"]), "body": comment["body"]}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as two writes: no 40 ms delayed-ACK stalls
    fake: FakeGitHub

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def _serve(self) -> None:
        fake = self.fake
        parts = urlsplit(self.path)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        headers = {k.lower(): v for k, v in self.headers.items()}
        record = Recorded(self.command, parts.path, query, body, headers)
        with fake.lock:
            fake.requests.append(record)
        try:
            status, extra, payload = fake.handle(self.command, parts.path, query, body, headers)
        except HTTPError as e:
            status, extra = e.status, e.headers
            payload = {"message": e.message, "documentation_url": DOCS, "status": str(e.status)}
            if e.errors is not None:
                payload["errors"] = e.errors
        except Exception as e:  # a bug in the fake: say so loudly
            status, extra, payload = 500, {}, {"message": f"fake github crashed: {e!r}"}
        record.status = status
        if isinstance(payload, (bytes, bytearray)):
            data = bytes(payload)
            content_type = extra.pop("Content-Type", "application/octet-stream")
        elif payload is None:
            data, content_type = b"", "application/json; charset=utf-8"
        else:
            data, content_type = json.dumps(payload).encode(), "application/json; charset=utf-8"
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-RateLimit-Limit", "5000")
        self.send_header("X-RateLimit-Remaining", "4999")
        self.send_header("X-RateLimit-Reset", str(int(time.time()) + 3600))
        self.send_header("X-GitHub-Request-Id", f"FAKE:{id(record):x}")
        for key, value in extra.items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = _serve


@pytest.fixture
def fake_github():
    fake = FakeGitHub().start()
    try:
        yield fake
    finally:
        fake.stop()
