"""End to end: `python -m bot serve` (uvicorn on 127.0.0.1, embedded job threads, SQLite queue)
against the fake GitHub server, driven by signed webhook deliveries."""

from __future__ import annotations

import re

import requests

from bot.publish import MARKER
from tests.bot_service import PullRequest, export_tree, pull_request_event, wait_for
from tests.bot_service import service  # noqa: F401  (fixture)
from tests.fakegithub import fake_github  # noqa: F401  (fixture)

REPO = "octo/shop"
RISKY = 'op.create_index("ix_users_email", "users", ["email"])'
SAFE_DOWN = 'op.drop_index("ix_users_email", table_name="users")'


def completed_runs(fake, sha):
    return [r for r in fake.check_runs_for(REPO, sha) if r["status"] == "completed"]


def jobs_total(service, outcome: str) -> int:
    """alembic_review_jobs_total{outcome=...} as /metrics shows it (0 when absent)."""
    text = requests.get(service.url + "/metrics", timeout=5).text
    found = re.search(rf'^alembic_review_jobs_total\{{outcome="{outcome}"\}} (\d+)$', text, re.M)
    return int(found.group(1)) if found else 0


def test_risky_revision_gets_check_comment_and_review(service, fake_github, tmp_path):
    service.serve()
    pr = PullRequest(tmp_path, fake_github, REPO, 7)
    pr.add_revision("0002", "0001", RISKY, downgrade=SAFE_DOWN, slug="email_index")
    head = pr.commit()
    answer = pr.open(service)
    assert answer.status_code == 202 and answer.json()["result"] == "queued"
    assert answer.elapsed.total_seconds() < 1

    [run] = wait_for(lambda: completed_runs(fake_github, head), 120, what="the check run to complete")
    assert run["conclusion"] == "failure" and run["name"] == "alembic-review"
    assert "require-concurrent-index-creation" in run["output"]["summary"]
    assert len(fake_github.check_runs_for(REPO, head)) == 1  # the in-progress run was completed, not doubled
    created = fake_github.calls("POST", r"/check-runs$")[0]
    assert created.body["status"] == "in_progress"
    [comment] = fake_github.comments_on(REPO, 7)
    assert MARKER in comment["body"] and comment["user"]["login"] == "alembic-review[bot]"
    [inline] = [c for c in fake_github.review_comments_on(REPO, 7)
                if "require-concurrent-index-creation" in c["body"]]
    assert inline["line"] == (pr.repo.path / inline["path"]).read_text().splitlines().index(
        "    " + RISKY) + 1
    # the App authenticated with its JWT and worked with an installation token
    assert fake_github.calls("POST", r"/app/installations/77/access_tokens$")
    assert all(r.headers["authorization"].split()[1] in fake_github.tokens
               for r in fake_github.calls(path_regex=r"^/repos/"))


def test_bad_signature_is_401_and_nothing_is_queued(service, fake_github, tmp_path):
    service.serve()
    event = pull_request_event(REPO, 3, "a" * 40, "b" * 40)
    assert service.send("pull_request", event, secret="not-the-secret").status_code == 401
    assert service.send("pull_request", event, signature="sha256=" + "0" * 64).status_code == 401
    assert service.send("pull_request", event, signature="").status_code == 401
    assert service.send("pull_request", event, signature="sha1=abc").status_code == 401
    metrics = requests.get(service.url + "/metrics", timeout=5).text
    assert 'alembic_review_webhook_deliveries_total{event="pull_request",result="bad-signature"} 4' in metrics
    assert "jobs_total" not in metrics.split("alembic_review_jobs_total counter")[1].split("#")[0]
    assert fake_github.calls(path_regex=r"^/repos/") == []


def test_oversized_body_is_413(service, fake_github):
    service.env["ALEMBIC_REVIEW_MAX_BODY_BYTES"] = "4096"
    service.serve()
    event = pull_request_event(REPO, 3, "a" * 40, "b" * 40, padding="x" * 5000)
    assert service.send("pull_request", event).status_code == 413


def test_duplicate_delivery_is_processed_once(service, fake_github, tmp_path):
    service.serve()
    pr = PullRequest(tmp_path, fake_github, REPO, 8)
    pr.write("README.md", "docs only\n")
    head = pr.commit()
    fake_github.add_repo(REPO).installation_id = 77
    fake_github.add_pull(REPO, 8, files=pr.files, head_sha=head, base_sha=pr.base)
    event = pull_request_event(REPO, 8, head, pr.base)
    first = service.send("pull_request", event, delivery="delivery-1")
    again = service.send("pull_request", event, delivery="delivery-1")
    assert (first.status_code, first.json()["result"]) == (202, "queued")
    assert (again.status_code, again.json()["result"]) == (200, "duplicate")
    wait_for(lambda: completed_runs(fake_github, head), 60, what="the check")
    # a different delivery of the same head is not a second job either
    assert service.send("pull_request", dict(event, action="reopened")).json()["result"] == "already-queued"
    assert jobs_total(service, "enqueued") == 1
    wait_for(lambda: jobs_total(service, "completed") == 1, 30, what="the completed counter")
    assert len(fake_github.calls("POST", r"/check-runs$")) == 1


def test_no_migration_touched_concludes_success_without_fetching_code(service, fake_github, tmp_path):
    service.serve()
    pr = PullRequest(tmp_path, fake_github, REPO, 9)
    pr.write("app/views.py", "def index():\n    return 'hi'\n")
    head = pr.commit()
    assert pr.open(service).status_code == 202
    [run] = wait_for(lambda: completed_runs(fake_github, head), 60, what="the check")
    assert run["conclusion"] == "success" and run["output"]["title"] == "No migration changes"
    assert fake_github.calls("GET", r"/tarball/") == [] and fake_github.comments_on(REPO, 9) == []


def test_new_head_drops_the_job_of_the_old_head(service, fake_github, tmp_path):
    service.serve(workers=0)  # nothing runs yet: both jobs wait in the queue
    pr = PullRequest(tmp_path, fake_github, REPO, 10)
    pr.add_revision("0002", "0001", RISKY, downgrade=SAFE_DOWN, slug="email_index")
    old = pr.commit()
    pr.open(service)
    pr.add_revision("0002", "0001", 'op.add_column("users", sa.Column("nick", sa.Text))',
                    downgrade='op.drop_column("users", "nick")', slug="email_index")
    new = pr.commit()
    assert pr.open(service, action="synchronize").json()["result"] == "queued"
    service.procs[0].stop()
    # same queue (SQLite in the data dir): both jobs survived the restart. One job thread takes
    # them in order, so the old head's job is settled before the new head's begins.
    service.serve(workers=1)
    [run] = wait_for(lambda: completed_runs(fake_github, new), 120, what="the new head's check")
    assert run["conclusion"] != "failure" and "require-concurrent-index-creation" not in run["output"]["summary"], run["output"]
    assert jobs_total(service, "dropped") == 1
    # no work was spent on the old head: no check run, no code fetched
    assert fake_github.check_runs_for(REPO, old) == []
    def code_fetched(sha):  # its tarball, or its tree id and changed files (the repository cache)
        return fake_github.calls("GET", f"/tarball/{sha}$") + fake_github.calls("GET", f"/git/commits/{sha}$")
    assert code_fetched(new) and not code_fetched(old)


def test_closed_pull_request_is_not_reviewed(service, fake_github, tmp_path):
    service.serve(workers=0)
    pr = PullRequest(tmp_path, fake_github, REPO, 11)
    pr.write("app/x.py", "x = 1\n")
    head = pr.commit()
    pr.open(service)
    closed = pull_request_event(REPO, 11, head, pr.base, action="closed")
    assert service.send("pull_request", closed).json()["result"] == "closed"
    service.procs[0].stop()
    service.serve(workers=1)
    wait_for(lambda: jobs_total(service, "dropped") == 1, 30, what="the job to be dropped")
    assert fake_github.check_runs_for(REPO, head) == []


def reviewed_app_change(service, fake_github, tmp_path, number: int) -> tuple[str, dict]:
    """A pull request changing application code only, opened and reviewed: (head, its check run)."""
    service.serve()
    pr = PullRequest(tmp_path, fake_github, REPO, number)
    pr.write("app/x.py", "x = 1\n")
    head = pr.commit()
    pr.open(service)
    [run] = wait_for(lambda: completed_runs(fake_github, head), 60, what="the first check")
    return head, run


def test_check_run_rerequested_reviews_again(service, fake_github, tmp_path):
    head, run = reviewed_app_change(service, fake_github, tmp_path, 12)
    event = {"action": "rerequested", "check_run": {"id": run["id"], "name": "alembic-review", "head_sha": head,
                                                   "app": {"id": 4242}, "pull_requests": [{"number": 12}]},
             "repository": {"full_name": REPO}, "installation": {"id": 77}}
    assert service.send("check_run", event).json()["result"] == "queued"
    runs = wait_for(lambda: [r for r in fake_github.check_runs_for(REPO, head) if r["status"] == "completed"
                             and r["id"] != run["id"]], 60, what="a new check run")
    assert [r["conclusion"] for r in runs] == ["success"]
    other_app = dict(event, check_run=dict(event["check_run"], app={"id": 1}))
    assert service.send("check_run", other_app).json()["result"] == "ignored"


def test_installation_events_and_health(service, fake_github):
    service.serve()
    event = {"action": "created", "installation": {"id": 91, "account": {"login": "acme"}},
             "repositories": [{"full_name": "acme/api"}, {"full_name": "acme/web"}]}
    assert service.send("installation", event).json()["result"] == "recorded"
    assert service.send("ping", {"zen": "Keep it logically awesome.", "hook_id": 1}).json()["result"] == "pong"
    health = requests.get(service.url + "/healthz", timeout=5).json()
    assert health["status"] == "ok" and health["queue"] == "sqlite"
    assert any("seccomp" in line for line in health["sandbox"])
    assert any(line.startswith("can read the App's private key file: no") for line in health["sandbox"])
    assert service.send("pull_request", b"{not json").status_code == 400


def test_table_statistics_come_from_the_default_branch(service, fake_github, tmp_path):
    """The settings name a stats file; the App reads it as on the default branch (refreshed there),
    not the older copy the pull request's branch carries."""
    import json
    from datetime import datetime, timezone

    def snapshot(rows):
        size = {"rows": rows, "heap_bytes": rows * 100, "index_bytes": rows * 40, "total_bytes": rows * 140,
                "indexes": {}, "writes_per_second": 5}
        return json.dumps({"format": "alembic-review-table-stats", "version": 1, "server_version": 150020,
                           "taken_at": datetime.now(timezone.utc).isoformat(),
                           "write_rate": {"basis": "interval", "seconds": 60}, "tables": {"public.users": size}})

    service.serve()
    pr = PullRequest(tmp_path, fake_github, REPO, 9)
    pr.write(".alembic-review.toml", 'stats = ".alembic-review/stats.json"\n')
    pr.write(".alembic-review/stats.json", snapshot(12))  # the branch's old copy: a tiny table
    pr.add_revision("0002", "0001", RISKY, downgrade=SAFE_DOWN, slug="email_index")
    head = pr.commit()
    default = tmp_path / "default-branch" / ".alembic-review"
    default.mkdir(parents=True)
    (default / "stats.json").write_text(snapshot(48_000_000))
    fake_github.register_tarball(REPO, "main", default.parent)
    pr.open(service)

    [run] = wait_for(lambda: completed_runs(fake_github, head), 120, what="the check run to complete")
    assert run["conclusion"] == "failure"
    [comment] = fake_github.comments_on(REPO, 9)
    assert "users: 48 M rows, 6.3 GB; SHARE lock ~" in comment["body"]
    assert fake_github.calls("GET", r"/contents/\.alembic-review/stats\.json$")


# --- pull requests found on GitHub: open before the App, re-run unseen, a base that moves ----------

def unseen_pull(tmp_path, fake_github, number: int, upgrade: str = RISKY) -> tuple[PullRequest, str]:
    """A pull request GitHub has but the service never heard of."""
    pr = PullRequest(tmp_path, fake_github, REPO, number)
    pr.add_revision("0002", "0001", upgrade, downgrade=SAFE_DOWN, slug="email_index")
    head = pr.commit()
    fake_github.add_pull(REPO, number, files=pr.files, head_sha=head, base_sha=pr.base)
    fake_github.add_repo(REPO).installation_id = 77
    return pr, head


def test_installation_with_pull_requests_already_open_reviews_them(service, fake_github, tmp_path):
    service.serve()
    _, head = unseen_pull(tmp_path, fake_github, 21)
    event = {"action": "created", "installation": {"id": 77, "account": {"login": "octo"}},
             "repositories": [{"full_name": REPO}]}
    assert service.send("installation", event).json()["result"] == "recorded"
    [run] = wait_for(lambda: completed_runs(fake_github, head), 120, what="the open PR's check")
    assert run["conclusion"] == "failure" and fake_github.comments_on(REPO, 21)


def test_rerun_on_a_pull_request_never_seen_reviews_it(service, fake_github, tmp_path):
    service.serve()
    _, head = unseen_pull(tmp_path, fake_github, 22)
    event = {"action": "rerequested", "check_run": {"id": 1, "name": "alembic-review", "head_sha": head,
                                                   "app": {"id": 4242}, "pull_requests": []},  # a fork's
             "repository": {"full_name": REPO}, "installation": {"id": 77}}
    assert service.send("check_run", event).json()["result"] == "queued"
    [run] = wait_for(lambda: completed_runs(fake_github, head), 120, what="the check")
    assert run["conclusion"] == "failure"
    other = dict(event, check_run=dict(event["check_run"], head_sha="f" * 40))
    assert service.send("check_run", other).json()["result"] == "ignored"  # no open PR at that head


def test_base_branch_push_with_revisions_reviews_open_pull_requests_again(service, fake_github, tmp_path):
    head, _ = reviewed_app_change(service, fake_github, tmp_path, 23)
    push = {"ref": "refs/heads/main", "before": "a" * 40, "after": "b" * 40, "deleted": False,
            "commits": [{"id": "b" * 40, "added": ["app/y.py"], "modified": [], "removed": []}],
            "repository": {"full_name": REPO}, "installation": {"id": 77}}
    assert service.send("push", push).json()["result"] == "ignored"  # no migration moved on main
    push["commits"][0]["added"] = ["alembic/versions/0003_other.py"]
    other_branch = dict(push, ref="refs/heads/release")
    assert service.send("push", other_branch).json()["result"] == "ignored"  # no PR onto it
    assert service.send("push", push).json()["result"] == "queued"
    wait_for(lambda: len(completed_runs(fake_github, head)) == 2, 60, what="the second review")


def test_ready_for_review_queues_a_review(service, fake_github, tmp_path):
    service.serve()
    event = pull_request_event(REPO, 24, "c" * 40, "d" * 40, action="ready_for_review")
    assert service.send("pull_request", event).json()["result"] == "queued"


def test_base_that_moved_is_reviewed_through_githubs_test_merge(service, fake_github, tmp_path):
    """The pull request's revision is fine alone; main then gets another revision on the same
    parent. The push re-reviews the open pull request, through refs/pull/N/merge (built with real
    git): two heads together fail it, and main's revision is not taken for the PR's."""
    service.serve()
    pr = PullRequest(tmp_path, fake_github, REPO, 25)
    pr.add_revision("0002", "0001", "op.add_column('users', sa.Column('nickname', sa.Text))",
                    downgrade="op.drop_column('users', 'nickname')", slug="nickname")
    head = pr.commit()
    pr.open(service)
    [first] = wait_for(lambda: completed_runs(fake_github, head), 60, what="the first check")
    assert first["conclusion"] != "failure"

    repo = pr.repo
    repo.git("checkout", "-q", "main")
    repo.add_revision("0003", "0001", RISKY, downgrade=SAFE_DOWN, slug="email_index")
    tip = repo.commit("another pull request, merged")
    repo.git("checkout", "-q", "--detach", tip)
    repo.git("merge", "-q", "--no-ff", "-m", "Merge", head)
    merge = repo.git("rev-parse", "HEAD").strip()
    for sha in (tip, merge):
        fake_github.register_tarball(REPO, sha, export_tree(repo, sha, tmp_path / f"tree-{sha[:12]}"))
    fake_github.set_merge_commit(REPO, 25, merge, tip)
    push = {"ref": "refs/heads/main", "before": pr.base, "after": tip, "deleted": False,
            "commits": [{"id": tip, "added": ["alembic/versions/0003_email_index.py"], "modified": [], "removed": []}],
            "repository": {"full_name": REPO}, "installation": {"id": 77}}
    assert service.send("push", push).json()["result"] == "queued"
    second = wait_for(lambda: [r for r in completed_runs(fake_github, head) if r["id"] != first["id"]], 120,
                      what="the review after the base moved")
    [run] = second
    assert run["conclusion"] == "failure" and "multiple-heads" in run["output"]["summary"]
    assert "require-concurrent-index-creation" not in run["output"]["summary"]  # main's, not the PR's


def test_in_progress_check_whose_answer_is_lost_is_not_made_twice(service, fake_github, tmp_path):
    service.serve()
    fake_github.lose_answer("POST", r"/check-runs$", 502)
    pr = PullRequest(tmp_path, fake_github, REPO, 26)
    pr.add_revision("0002", "0001", RISKY, downgrade=SAFE_DOWN, slug="email_index")
    head = pr.commit()
    pr.open(service)
    [run] = wait_for(lambda: completed_runs(fake_github, head), 120, what="the check run to complete")
    assert run["conclusion"] == "failure"
    assert len(fake_github.check_runs_for(REPO, head)) == 1  # found by its app and name, completed
    assert len(fake_github.calls("POST", r"/check-runs$")) == 1
