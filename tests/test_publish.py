"""bot.publish against the fake GitHub server, through PyGithub (base_url pointed at it)."""

from __future__ import annotations

import re

import pytest

from bot.github_client import make_github
from bot.publish import DEFAULT_CHECK_NAME, MARKER, parse_patch, publish
from linters.findings import Finding, Severity
from linters.report.model import Report, RevisionEntry
from tests.fakegithub import fake_github, parse_hunks, unified_patch  # noqa: F401  (fixture)

REPO = "octo/shop"
PR = 7
PATH = "alembic/versions/1a2b3c4d5e6f_add_email_index.py"
RISKY = '''"""add email index

Revision ID: 1a2b3c4d5e6f
Revises: ffff00001111
"""
from alembic import op

revision = "1a2b3c4d5e6f"
down_revision = "ffff00001111"


def upgrade():
    op.create_index("ix_users_email", "users", ["email"])


def downgrade():
    op.drop_index("ix_users_email", table_name="users")
'''
FIXED = RISKY.replace(
    '    op.create_index("ix_users_email", "users", ["email"])',
    '    with op.get_context().autocommit_block():\n'
    '        op.create_index("ix_users_email", "users", ["email"], postgresql_concurrently=True)')
SUGGESTION = ('    with op.get_context().autocommit_block():\n'
              '        op.create_index("ix_users_email", "users", ["email"], postgresql_concurrently=True)\n')


def line_of(text: str, needle: str) -> int:
    return next(i for i, l in enumerate(text.splitlines(), 1) if needle in l)


def index_finding(text: str = RISKY) -> Finding:
    line = line_of(text, "op.create_index")
    return Finding("require-concurrent-index-creation", Severity.ERROR,
                   "CREATE INDEX on existing table users blocks writes while the index builds",
                   path=PATH, line=line, end_line=line, revision="1a2b3c4d5e6f",
                   statement="CREATE INDEX ix_users_email ON users (email)", table="users", lock="SHARE",
                   hint="Use postgresql_concurrently=True inside op.get_context().autocommit_block().",
                   suggestion=SUGGESTION)


def report_with(*findings: Finding) -> Report:
    return Report(base="b" * 40, pg_version=15,
                  revisions=[RevisionEntry("1a2b3c4d5e6f", PATH, "added", ["ffff00001111"],
                                           "CREATE INDEX ix_users_email ON users (email);\n")],
                  findings=list(findings))


@pytest.fixture
def gh(fake_github):
    return make_github("test-token", fake_github.base_url, backoff_factor=0.01,
                       secondary_rate_wait=0.2, seconds_between_writes=0)


@pytest.fixture
def pull(fake_github):
    return fake_github.add_pull(REPO, PR, files={PATH: (None, RISKY)}, head_sha="a" * 40)


def writes(fake, path_regex: str | None = None):
    return [r for r in fake.calls(path_regex=path_regex) if r.method in ("POST", "PATCH")]


def test_fake_rejects_review_comments_outside_the_diff(fake_github, gh):
    """The fake behaves like GitHub here, so the next tests prove something."""
    old = "\n".join(f"line {i}" for i in range(1, 41)) + "\n"
    new = old.replace("line 3\n", "line three\n")
    fake_github.add_pull(REPO, 8, files={"a.py": (old, new)}, head_sha="c" * 40)
    pr = gh.get_repo(REPO).get_pull(8)
    from github import GithubException
    with pytest.raises(GithubException) as err:
        pr.create_review(commit=gh.get_repo(REPO).get_commit("c" * 40), body="x", event="COMMENT",
                         comments=[{"path": "a.py", "line": 30, "side": "RIGHT", "body": "no"}])
    assert err.value.status == 422 and "Line could not be resolved" in str(err.value.data)
    assert parse_patch(unified_patch(old, new))[0].keys() == parse_hunks(unified_patch(old, new))[0]["right"]


def test_first_run_creates_comment_review_and_check(fake_github, gh, pull):
    result = publish(gh, REPO, PR, report_with(index_finding()))
    assert result.ok, result.errors
    assert (result.comment_action, result.check_action, result.conclusion) == ("created", "created", "failure")

    [comment] = fake_github.comments_on(REPO, PR)
    assert comment["body"].startswith(MARKER)
    assert comment["body"].startswith(MARKER + "\n### ❌ alembic-review: 1 problem to fix before merge")
    assert "How to fix each rule (1 recipe)" in comment["body"]

    [review] = fake_github.reviews_on(REPO, PR)
    assert review["state"] == "COMMENTED" and review["commit_id"] == "a" * 40
    # the review says what it holds and where the verdict is
    assert review["body"].startswith(f"❌ 1 error on this pull request's lines — [summary]({comment['html_url']})")
    [inline] = fake_github.review_comments_on(REPO, PR)
    assert inline["path"] == PATH and inline["line"] == line_of(RISKY, "op.create_index")
    assert "```suggestion\n" + SUGGESTION + "```" in inline["body"]
    assert "alembic-review:finding fp=" in inline["body"]

    [run] = fake_github.check_runs_for(REPO, "a" * 40)
    assert run["name"] == DEFAULT_CHECK_NAME and run["status"] == "completed"
    assert run["conclusion"] == "failure"
    [annotation] = fake_github.repos[REPO].annotations[run["id"]]
    assert annotation == {**annotation, "path": PATH, "start_line": inline["line"],
                          "annotation_level": "failure", "title": "require-concurrent-index-creation"}


def test_one_thread_per_op_and_no_threads_for_notes(fake_github, gh, pull):
    line = line_of(RISKY, "op.create_index")
    held = Finding("lock-held-across-statements", Severity.WARNING,
                   "CREATE INDEX scans users while the transaction holds ACCESS EXCLUSIVE on users (taken at line 3): "
                   "every query on users waits until the migration commits",
                   path=PATH, line=line, revision="1a2b3c4d5e6f", table="users", lock="ACCESS EXCLUSIVE")
    note = Finding("prefer-robust-stmts", Severity.INFO, "add IF NOT EXISTS", path=PATH, line=line,
                   revision="1a2b3c4d5e6f")
    result = publish(gh, REPO, PR, report_with(index_finding(), held, note))
    assert result.ok, result.errors
    [inline] = fake_github.review_comments_on(REPO, PR)  # the error's thread; the warning folded in it
    assert "require-concurrent-index-creation" in inline["body"]
    assert ("🔒 `SHARE` on `users`: blocks INSERT/UPDATE/DELETE, reads go on; and `ACCESS EXCLUSIVE` on `users`, "
            "held since line 3: blocks reads and writes until the migration commits") in inline["body"]
    # a second run leaves the folded warning's and the note's missing threads alone
    before = len(writes(fake_github))
    publish(gh, REPO, PR, report_with(index_finding(), held, note))
    assert writes(fake_github)[before:] == []
    # asked for, notes get threads too
    result = publish(gh, REPO, PR, report_with(index_finding(), held, note), min_inline_severity="info")
    assert result.review_comments_created == 1 and "prefer-robust-stmts" in fake_github.review_comments_on(REPO, PR)[-1]["body"]


def test_second_run_with_the_same_findings_creates_nothing(fake_github, gh, pull):
    publish(gh, REPO, PR, report_with(index_finding()))
    before = len(writes(fake_github))
    result = publish(gh, REPO, PR, report_with(index_finding()))
    assert result.ok, result.errors
    assert writes(fake_github)[before:] == []
    assert (result.comment_action, result.check_action, result.review_comments_created) == ("unchanged", "unchanged", 0)
    assert len(fake_github.comments_on(REPO, PR)) == 1
    assert len(fake_github.review_comments_on(REPO, PR)) == 1
    assert len(fake_github.check_runs_for(REPO)) == 1


def test_new_commit_with_the_same_finding_moves_nothing_but_the_check(fake_github, gh, pull):
    publish(gh, REPO, PR, report_with(index_finding()))
    moved = '"""a longer docstring\n\nthat shifts every line\n"""\n' + RISKY  # same finding, new line number
    fake_github.push(REPO, PR, files={PATH: (None, moved)}, head_sha="d" * 40)
    result = publish(gh, REPO, PR, report_with(index_finding(moved)))
    assert result.ok, result.errors
    assert result.review_comments_created == 0 and result.review_comments_resolved == 0
    assert len(fake_github.review_comments_on(REPO, PR)) == 1  # fingerprint is the line text, not its number
    assert len(fake_github.comments_on(REPO, PR)) == 1 and result.comment_action == "updated"
    assert [r["conclusion"] for r in fake_github.check_runs_for(REPO, "d" * 40)] == ["failure"]


def test_third_run_after_the_fix_is_all_clear(fake_github, gh, pull):
    publish(gh, REPO, PR, report_with(index_finding()))
    fake_github.push(REPO, PR, files={PATH: (None, FIXED)}, head_sha="e" * 40)
    result = publish(gh, REPO, PR, report_with(), head_sha="e" * 40)
    assert result.ok, result.errors
    [comment] = fake_github.comments_on(REPO, PR)
    assert result.comment_action == "updated"
    # a fixed PR's comment collapses to one line, naming the commit it is about
    assert comment["body"] == MARKER + "\n✅ **alembic-review: safe to merge** at `eeeeeee`\n"
    [run] = fake_github.check_runs_for(REPO, "e" * 40)
    assert run["conclusion"] == "success" and result.conclusion == "success"
    [inline] = fake_github.review_comments_on(REPO, PR)
    assert "✅ Resolved" in inline["body"] and "```suggestion" not in inline["body"]
    assert result.review_comments_resolved == 1
    assert inline["id"] in fake_github.resolved_threads  # thread resolved through GraphQL
    assert len(fake_github.reviews_on(REPO, PR)) == 1

    # running again changes nothing
    before = len(writes(fake_github))
    publish(gh, REPO, PR, report_with(), head_sha="e" * 40)
    assert writes(fake_github)[before:] == []
    # the line coming back: the old comment is outdated (its line changed), so a new one is posted
    fake_github.push(REPO, PR, files={PATH: (None, RISKY)}, head_sha="f" * 40)
    result = publish(gh, REPO, PR, report_with(index_finding()))
    assert result.ok and result.review_comments_created == 1
    old, new = sorted(fake_github.review_comments_on(REPO, PR), key=lambda c: c["id"])
    assert old["line"] is None and "Resolved" in old["body"]
    assert new["line"] == line_of(RISKY, "op.create_index") and "Resolved" not in new["body"]


def test_finding_that_comes_back_on_an_unchanged_line_reopens_its_comment(fake_github, gh, pull):
    publish(gh, REPO, PR, report_with(index_finding()))
    result = publish(gh, REPO, PR, report_with())  # e.g. an ignore in the config, same commit
    assert result.review_comments_resolved == 1
    [inline] = fake_github.review_comments_on(REPO, PR)
    assert "Resolved" in inline["body"] and inline["id"] in fake_github.resolved_threads
    result = publish(gh, REPO, PR, report_with(index_finding()))
    assert result.ok and result.review_comments_created == 0 and result.review_comments_updated == 1
    [inline] = fake_github.review_comments_on(REPO, PR)
    assert "Resolved" not in inline["body"] and inline["id"] not in fake_github.resolved_threads
    assert "```suggestion" in inline["body"]


def test_outdated_comment_of_a_finding_still_there_is_replaced(fake_github, gh, pull):
    publish(gh, REPO, PR, report_with(index_finding()))
    [inline] = fake_github.review_comments_on(REPO, PR)
    inline["line"] = None  # GitHub decided the comment is outdated
    result = publish(gh, REPO, PR, report_with(index_finding()))
    assert result.ok and result.review_comments_created == 1 and result.review_comments_resolved == 1
    old, new = sorted(fake_github.review_comments_on(REPO, PR), key=lambda c: c["id"])
    assert "Outdated: this finding is still reported" in old["body"]
    assert new["line"] == line_of(RISKY, "op.create_index")
    before = len(writes(fake_github))
    publish(gh, REPO, PR, report_with(index_finding()))
    assert writes(fake_github)[before:] == []  # and it settles


def test_first_clean_run_posts_no_comment(fake_github, gh, pull):
    result = publish(gh, REPO, PR, report_with())
    assert result.ok and result.comment_action == "skipped"
    assert fake_github.comments_on(REPO, PR) == [] and fake_github.reviews_on(REPO, PR) == []
    assert [r["conclusion"] for r in fake_github.check_runs_for(REPO)] == ["success"]


def test_lines_outside_the_diff_never_produce_a_422(fake_github, gh):
    old = "\n".join(f"x{i} = {i}" for i in range(1, 61)) + "\n"
    new = old.replace("x5 = 5\n", "x5 = 55\n")
    edited = "alembic/versions/0000_old.py"
    fake_github.add_pull(REPO, PR, files={edited: (old, new), PATH: (None, RISKY)}, head_sha="a" * 40)
    findings = [
        Finding("edited-revision", Severity.ERROR, "an applied revision was edited", path=edited, line=50),
        Finding("edited-revision", Severity.WARNING, "inside the hunk", path=edited, line=5),
        Finding("ban-drop-column", Severity.WARNING, "multi-line", path=PATH, line=13, end_line=14),
        Finding("multiple-heads", Severity.ERROR, "two heads", path="alembic/versions/other.py", line=3),
        index_finding(),
    ]
    result = publish(gh, REPO, PR, report_with(*findings))
    assert result.ok, result.errors
    assert not [r for r in fake_github.requests if r.status == 422]
    lines = sorted((c["path"], c["line"], c["start_line"]) for c in fake_github.review_comments_on(REPO, PR))
    assert lines == sorted([(PATH, 13, None), (PATH, 14, 13), (edited, 5, None)])
    assert result.findings_outside_diff == 2
    # every finding still has an annotation on the check run
    [run] = fake_github.check_runs_for(REPO)
    assert len(fake_github.repos[REPO].annotations[run["id"]]) == 5


def test_sticky_comment_found_among_120_others(fake_github, gh, pull):
    for i in range(60):
        fake_github.add_issue_comment(REPO, PR, f"comment {i}")
    publish(gh, REPO, PR, report_with(index_finding()))
    for i in range(60, 120):
        fake_github.add_issue_comment(REPO, PR, f"comment {i} mentioning alembic-review")
    assert len(fake_github.comments_on(REPO, PR)) == 121
    gh_small_pages = make_github("test-token", fake_github.base_url, backoff_factor=0.01,
                                 seconds_between_writes=0, per_page=30)
    second = report_with(index_finding(), Finding("ban-drop-column", Severity.WARNING, "drop", path=PATH, line=16))
    result = publish(gh_small_pages, REPO, PR, second)
    assert result.ok, result.errors
    assert result.comment_action == "updated"
    assert len(fake_github.comments_on(REPO, PR)) == 121
    pages = [r.query.get("page") for r in fake_github.calls("GET", rf"/issues/{PR}/comments$")]
    assert "2" in pages  # it followed the Link header
    sticky = [c for c in fake_github.comments_on(REPO, PR) if MARKER in c["body"]]
    assert len(sticky) == 1 and "⚠️ 1 warning" in sticky[0]["body"]


def test_502_then_200_is_retried(fake_github, gh, pull):
    fake_github.fail("GET", rf"/repos/{REPO}/pulls/{PR}$", 502)
    fake_github.fail("POST", rf"/issues/{PR}/comments$", 502)
    fake_github.fail("POST", r"/pulls/\d+/reviews$", 503)
    fake_github.fail("POST", r"/check-runs$", 500)
    result = publish(gh, REPO, PR, report_with(index_finding()))
    assert result.ok, result.errors
    assert [r.status for r in fake_github.calls("POST", rf"/issues/{PR}/comments$")] == [502, 201]
    assert [r.status for r in fake_github.calls("POST", r"/check-runs$")] == [500, 201]
    assert len(fake_github.comments_on(REPO, PR)) == 1
    assert len(fake_github.reviews_on(REPO, PR)) == 1


def test_secondary_rate_limit_is_waited_out(fake_github, gh, pull):
    fake_github.secondary_rate_limit("PATCH", r"/issues/comments/\d+$", retry_after=1)
    publish(gh, REPO, PR, report_with(index_finding()))
    result = publish(gh, REPO, PR, report_with())
    assert result.ok, result.errors
    assert [r.status for r in fake_github.calls("PATCH", r"/issues/comments/")] == [403, 200]


def test_failure_to_publish_is_reported_not_raised(fake_github, pull, capsys):
    gh = make_github("test-token", fake_github.base_url, backoff_factor=0, seconds_between_writes=0)
    fake_github.fail("POST", r".*", 500, times=1000)
    result = publish(gh, REPO, PR, report_with(index_finding()))
    assert not result.ok
    assert all(any(part in e for e in result.errors) for part in ("summary comment", "review comments", "check run"))
    assert result.comment_action == "failed" and result.check_action == "failed"
    assert fake_github.calls("POST", r"/statuses/")  # the last resort for a check was tried
    assert "could not publish the summary comment" in capsys.readouterr().err
    fake_github.fail("GET", r".*", 404, times=1000)
    result = publish(gh, REPO, PR, report_with(index_finding()))
    assert not result.ok and "not readable" in result.errors[0]


def test_check_forbidden_falls_back_to_a_commit_status(fake_github, gh, pull):
    fake_github.forbid_checks = True
    result = publish(gh, REPO, PR, report_with(index_finding()), fail_on="error")
    assert result.ok, result.errors
    assert (result.check_action, result.conclusion) == ("status", "failure")
    [status] = fake_github.repos[REPO].statuses
    assert status["context"] == DEFAULT_CHECK_NAME and status["state"] == "failure"
    assert status["description"] == "1 problem to fix before merge"
    publish(gh, REPO, PR, report_with(index_finding()), fail_on="error")
    assert len(fake_github.repos[REPO].statuses) == 1  # unchanged, not posted again
    result = publish(gh, REPO, PR, report_with(index_finding()), fail_on="never")
    assert result.conclusion == "success" and fake_github.repos[REPO].statuses[-1]["state"] == "success"


def test_annotations_are_sent_50_at_a_time(fake_github, gh, pull):
    findings = [Finding("prefer-text-field", Severity.WARNING, f"column {i}", path=PATH, line=13)
                for i in range(120)]
    result = publish(gh, REPO, PR, report_with(*findings), fail_on="error", review=False, comment=False)
    assert result.ok, result.errors
    assert result.conclusion == "neutral"  # findings below fail-on: passes, but says so
    sizes = [len(r.body["output"]["annotations"]) for r in fake_github.calls(path_regex=r"/check-runs")
             if r.method in ("POST", "PATCH")]
    assert sizes == [50, 50, 20]
    [run] = fake_github.check_runs_for(REPO)
    assert len(fake_github.repos[REPO].annotations[run["id"]]) == 120


def test_warning_fail_on_and_stale_head(fake_github, gh, pull):
    report = report_with(Finding("ban-drop-column", Severity.WARNING, "drop", path=PATH, line=16))
    fake_github.add_commit(REPO, "9" * 40)
    result = publish(gh, REPO, PR, report, fail_on="warning", head_sha="9" * 40)
    assert result.conclusion == "failure"
    # the PR moved on (head is aaaa...): no comment/review for the old commit, check on it only
    assert result.comment_action == "skipped" and fake_github.reviews_on(REPO, PR) == []
    assert [r["head_sha"] for r in fake_github.check_runs_for(REPO)] == ["9" * 40]


def test_huge_report_fits_github_limits(fake_github, gh, pull):
    findings = [Finding(f"rule-{i % 7}", Severity.ERROR, "m" * 500, path=PATH, line=13, hint="h" * 300)
                for i in range(2000)]
    report = report_with(*findings)
    report.revisions[0].sql = "SELECT 1;\n" * 50000
    result = publish(gh, REPO, PR, report)
    assert result.ok, result.errors
    [comment] = fake_github.comments_on(REPO, PR)
    assert len(comment["body"]) <= 65536
    assert result.review_comments_created == 50  # one review, capped; the rest are in the summary and the check


# --- what GitHub counts, and a check that always appears ----------------------------------------

def test_fake_counts_check_output_in_bytes(fake_github, gh, pull):
    """65,535 bytes, not characters: 30,000 'é' are 60,000 bytes, 30,000 '€' are 90,000."""
    from github import GithubException
    repo = gh.get_repo(REPO)
    repo.create_check_run(name="x", head_sha="a" * 40, status="completed", conclusion="success",
                          output={"title": "t", "summary": "é" * 30000})
    with pytest.raises(GithubException) as err:
        repo.create_check_run(name="x", head_sha="a" * 40, status="completed", conclusion="success",
                              output={"title": "t", "summary": "€" * 30000})
    assert err.value.status == 422


def test_non_ascii_report_fits_the_check_run_in_bytes(fake_github, gh, pull):
    # 3-byte characters: the markdown fits 65,535 characters, not 65,535 bytes
    findings = [Finding("prefer-text-field", Severity.ERROR, "列の型を変更すると表全体が書き換えられます" * 20,
                        path=PATH, line=13 + i, revision=f"r{i}") for i in range(200)]  # 200 problems
    result = publish(gh, REPO, PR, report_with(*findings), review=False)
    assert result.ok, result.errors
    [run] = fake_github.check_runs_for(REPO)
    assert run["conclusion"] == "failure"
    assert 60000 < len(run["output"]["summary"].encode()) <= 65535
    [comment] = fake_github.comments_on(REPO, PR)
    assert len(comment["body"].encode()) <= 65536
    assert not [r for r in fake_github.requests if r.status == 422]


def test_refused_output_still_leaves_a_check_with_its_conclusion(fake_github, gh, pull):
    fake_github.fail("POST", r"/check-runs$", 422, body={"message": "Invalid request.",
                                                          "errors": ["something GitHub did not like"]})
    result = publish(gh, REPO, PR, report_with(index_finding()), comment=False, review=False)
    assert (result.check_action, result.conclusion) == ("created", "failure")
    assert any("full output" in e and "422" in e for e in result.errors)
    [run] = fake_github.check_runs_for(REPO)
    assert run["conclusion"] == "failure" and "could not be attached" in run["output"]["summary"]
    # the next run is not fooled into "unchanged" by the short run: it attaches the full report
    result = publish(gh, REPO, PR, report_with(index_finding()), comment=False, review=False)
    assert result.ok and result.check_action == "created"
    assert "How to fix each rule" in fake_github.check_runs_for(REPO)[-1]["output"]["summary"]


def test_in_progress_run_is_completed_even_when_its_output_is_refused(fake_github, gh, pull):
    run = gh.get_repo(REPO).create_check_run(name=DEFAULT_CHECK_NAME, head_sha="a" * 40, status="in_progress")
    fake_github.fail("PATCH", rf"/check-runs/{run.id}$", 422)
    result = publish(gh, REPO, PR, report_with(index_finding()), check_run_id=run.id, comment=False, review=False)
    assert result.check_action == "completed"
    [stored] = fake_github.check_runs_for(REPO)
    assert (stored["status"], stored["conclusion"]) == ("completed", "failure")


def test_in_progress_run_is_not_replaced_by_a_status_during_an_outage(fake_github, gh, pull):
    run = gh.get_repo(REPO).create_check_run(name=DEFAULT_CHECK_NAME, head_sha="a" * 40, status="in_progress")
    fake_github.fail("PATCH", rf"/check-runs/{run.id}$", 502, times=100)
    result = publish(gh, REPO, PR, report_with(index_finding()), check_run_id=run.id, comment=False, review=False)
    # the caller (the webhook service) keeps the verdict and concludes this run when GitHub is back
    assert result.check_action == "failed" and any("check run" in e for e in result.errors)
    assert fake_github.repos[REPO].statuses == []
    assert [r["status"] for r in fake_github.check_runs_for(REPO)] == ["in_progress"]


def test_in_progress_run_without_permission_falls_back_to_a_status(fake_github, gh, pull):
    run = gh.get_repo(REPO).create_check_run(name=DEFAULT_CHECK_NAME, head_sha="a" * 40, status="in_progress")
    fake_github.forbid_checks = True  # the App's checks: write was taken away since
    result = publish(gh, REPO, PR, report_with(index_finding()), check_run_id=run.id, comment=False, review=False)
    assert (result.check_action, result.conclusion) == ("status", "failure")
    assert [s["context"] for s in fake_github.repos[REPO].statuses] == [DEFAULT_CHECK_NAME]


def test_no_check_at_all_falls_back_to_a_status(fake_github, gh, pull):
    fake_github.fail("POST", r"/check-runs$", 500, times=100)
    result = publish(gh, REPO, PR, report_with(index_finding()), comment=False, review=False)
    assert (result.check_action, result.conclusion) == ("status", "failure")
    assert [s["context"] for s in fake_github.repos[REPO].statuses] == [DEFAULT_CHECK_NAME]


# --- check names: ours, not the workflow job's ----------------------------------------------------

def test_check_name_is_ours_and_the_jobs_run_is_not_taken_for_it(fake_github, gh, pull):
    publish(gh, REPO, PR, report_with(index_finding()), comment=False, review=False, check_name="migrations")
    # the workflow job named like the check, running (and passing) after ours
    fake_github.add_job_check_run(REPO, "a" * 40, "migrations", conclusion="success")
    before = len(writes(fake_github, r"/check-runs"))
    result = publish(gh, REPO, PR, report_with(index_finding()), comment=False, review=False, check_name="migrations")
    assert result.check_action == "unchanged" and result.conclusion == "failure"
    assert writes(fake_github, r"/check-runs")[before:] == []
    # the newest of OUR runs decides: a changed report makes a new one
    result = publish(gh, REPO, PR, report_with(), comment=False, review=False, check_name="migrations")
    assert (result.check_action, result.conclusion) == ("created", "success")
    queries = [r.query for r in fake_github.calls("GET", r"/check-runs$")]
    assert all(q.get("check_name") == "migrations" for q in queries)


def test_default_check_name_is_not_the_documented_job_id():
    from pathlib import Path
    docs = (Path(__file__).resolve().parent.parent / "docs" / "github-action.md").read_text()
    job_ids = set(re.findall(r"^  ([\w-]+):\n    (?:if:|runs-on:)", docs, re.M))
    assert job_ids and DEFAULT_CHECK_NAME not in job_ids


# --- a create whose answer was lost is not made twice ------------------------------------------

def test_lost_answers_do_not_post_twice(fake_github, gh, pull):
    fake_github.lose_answer("POST", rf"/issues/{PR}/comments$", 502)
    fake_github.lose_answer("POST", r"/pulls/\d+/reviews$", 504)
    fake_github.lose_answer("POST", r"/check-runs$", 502)
    result = publish(gh, REPO, PR, report_with(index_finding()))
    assert result.ok, result.errors
    assert len(fake_github.comments_on(REPO, PR)) == 1
    assert len(fake_github.reviews_on(REPO, PR)) == 1 and len(fake_github.review_comments_on(REPO, PR)) == 1
    assert len(fake_github.check_runs_for(REPO)) == 1
    assert (result.comment_action, result.check_action) == ("created", "created")
    assert result.review_id == fake_github.reviews_on(REPO, PR)[0]["id"]
    # each create was sent once: what it made was found by its marker, not posted again
    assert len(fake_github.calls("POST", r"/pulls/\d+/reviews$")) == 1
    assert len(fake_github.calls("POST", r"/check-runs$")) == 1
