"""End to end: the Action entry (`python -m bot action`, a real child process) on a real git repo
with an Alembic project, publishing to the fake GitHub server."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from bot.publish import MARKER
from bot.report_reader import report_from_untrusted_json
from tests.fakegithub import fake_github  # noqa: F401  (fixture)
from tests.gitrepo import REPO_ROOT, alembic_project

REPO = "octo/shop"
PR = 12
SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_text())
RISKY_UP = 'op.create_index("ix_users_email", "users", ["email"])'
DOWN = 'op.drop_index("ix_users_email", table_name="users")'


class Workflow:
    """A pull request on a real repo plus the files a runner provides to one job."""

    def __init__(self, tmp_path: Path, fake):
        self.tmp, self.fake = tmp_path, fake
        self.repo = alembic_project(tmp_path / "repo")
        self.base_sha = self.repo.git("rev-parse", "main").strip()
        self.runs = 0

    def write_revision(self, upgrade: str, downgrade: str = DOWN) -> str:
        rel = self.repo.add_revision("0002", "0001", upgrade, downgrade, slug="email_index")
        self.head_sha = self.repo.commit("email index")
        self.rel = rel
        self.text = (self.repo.path / rel).read_text()
        return rel

    def open_pull(self):
        self.fake.add_pull(REPO, PR, files={self.rel: (None, self.text)},
                           head_sha=self.head_sha, base_sha=self.base_sha)

    def push(self):
        self.fake.push(REPO, PR, files={self.rel: (None, self.text)}, head_sha=self.head_sha)

    def run(self, *args: str, **inputs: str) -> tuple[subprocess.CompletedProcess, dict, str]:
        self.runs += 1
        job = self.tmp / f"job{self.runs}"
        job.mkdir()
        event = {"action": "synchronize", "number": PR,
                 "pull_request": {"number": PR, "head": {"sha": self.head_sha, "ref": "feature"},
                                  "base": {"sha": self.base_sha, "ref": "main"}},
                 "repository": {"full_name": REPO}}
        (job / "event.json").write_text(json.dumps(event))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "INPUT_", "RUNNER_"))}
        env.update({
            "PYTHONPATH": str(REPO_ROOT), "NO_COLOR": "1",
            "GITHUB_EVENT_PATH": str(job / "event.json"), "GITHUB_EVENT_NAME": "pull_request",
            "GITHUB_REPOSITORY": REPO, "GITHUB_API_URL": self.fake.base_url,
            "GITHUB_SERVER_URL": "https://github.com", "GITHUB_RUN_ID": "4711",
            "GITHUB_WORKSPACE": str(self.repo.path), "GITHUB_OUTPUT": str(job / "output"),
            "GITHUB_STEP_SUMMARY": str(job / "summary.md"), "RUNNER_TEMP": str(job),
            "INPUT_GITHUB-TOKEN": "ghs_fake_installation_token", "INPUT_SARIF-FILE": "alembic-review.sarif",
            "ALEMBIC_REVIEW_RETRY_BACKOFF": "0.01", "ALEMBIC_REVIEW_SECONDS_BETWEEN_WRITES": "0",
        })
        for key, value in inputs.items():
            env["INPUT_" + key.upper()] = value
        # like action.yml: started in the action's directory, the repository is GITHUB_WORKSPACE
        proc = subprocess.run([sys.executable, "-m", "bot", "action", *args], cwd=REPO_ROOT, env=env,
                              capture_output=True, text=True, timeout=180)
        outputs = {}
        if (job / "output").exists():
            outputs = dict(line.split("=", 1) for line in (job / "output").read_text().splitlines())
        summary = (job / "summary.md").read_text() if (job / "summary.md").exists() else ""
        return proc, outputs, summary


@pytest.fixture
def workflow(tmp_path, fake_github):
    return Workflow(tmp_path, fake_github)


def posts(fake):
    return [r for r in fake.requests if r.method in ("POST", "PATCH")]


def test_action_end_to_end_three_runs(workflow, fake_github):
    # pin the rules (through the `config` input) so the catalogue growing does not move the goalposts
    workflow.repo.write("ci/alembic-review.toml", 'select = ["require-concurrent-index-creation", '
                                                  '"require-concurrent-index-deletion"]\n')
    workflow.write_revision(RISKY_UP)
    workflow.open_pull()
    line = next(i for i, l in enumerate(workflow.text.splitlines(), 1) if "op.create_index" in l)

    # 1. first run: comment, review, check; exit code of the lint
    proc, outputs, summary = workflow.run(config="ci/alembic-review.toml")
    assert proc.returncode == 1, proc.stderr
    assert outputs["errors"] == "1" and outputs["warnings"] == "0"  # the downgrade's DROP INDEX is an info
    report = json.loads(Path(outputs["report"]).read_text())
    errors = [f for f in report["findings"] if f["severity"] == "error"]
    assert [(f["rule"], f["line"]) for f in errors] == [("require-concurrent-index-creation", line)]
    assert summary.startswith("### alembic-review: ❌ 1 error")
    assert "`SHARE on users`" in summary
    sarif = json.loads((workflow.repo.path / "alembic-review.sarif").read_text())
    assert not list(jsonschema.Draft7Validator(SCHEMA).iter_errors(sarif))
    [result] = [r for r in sarif["runs"][0]["results"] if r["level"] == "error"]
    assert result["locations"][0]["physicalLocation"]["region"]["startLine"] == line

    [comment] = fake_github.comments_on(REPO, PR)
    assert comment["body"].startswith(MARKER)
    inline = next(c for c in fake_github.review_comments_on(REPO, PR) if c["line"] == line)
    assert inline["path"] == workflow.rel and "require-concurrent-index-creation" in inline["body"]
    [run] = fake_github.check_runs_for(REPO, workflow.head_sha)
    assert run["conclusion"] == "failure"
    assert run["details_url"] == f"https://github.com/{REPO}/actions/runs/4711"
    assert "::error " not in proc.stdout  # the check run carries the annotations
    assert "check created (failure)" in proc.stdout

    # 2. same commit again: nothing new anywhere
    before = len(posts(fake_github))
    proc, outputs, _ = workflow.run(config="ci/alembic-review.toml")
    assert proc.returncode == 1, proc.stderr
    assert posts(fake_github)[before:] == []

    # 3. the fix, made by clicking "Commit suggestion" on every inline comment:
    #    all clear, success, the old inline comments resolved
    lines = workflow.text.splitlines(keepends=True)
    comments = sorted(fake_github.review_comments_on(REPO, PR), key=lambda c: -c["line"])
    assert len(comments) == 2
    for c in comments:  # bottom-up, like GitHub applying a batch of suggestions
        m = re.search(r"```suggestion\n(.*?)```", c["body"], re.S)
        assert m, c["body"]
        start = c["start_line"] or c["line"]
        lines[start - 1:c["line"]] = [m.group(1)]
    workflow.text = "".join(lines)
    (workflow.repo.path / workflow.rel).write_text(workflow.text)
    compile(workflow.text, workflow.rel, "exec")
    workflow.head_sha = workflow.repo.commit("apply suggestions")
    workflow.push()
    proc, outputs, summary = workflow.run(config="ci/alembic-review.toml")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert outputs["errors"] == "0"
    [comment] = fake_github.comments_on(REPO, PR)
    assert "✅ all clear" in comment["body"]
    [run] = fake_github.check_runs_for(REPO, workflow.head_sha)
    assert run["conclusion"] == "success"
    inlines = fake_github.review_comments_on(REPO, PR)
    assert inlines and all("Resolved" in c["body"] for c in inlines)
    assert len(fake_github.reviews_on(REPO, PR)) == 1
    assert not [r for r in fake_github.requests if r.status == 422]


def test_a_linters_package_in_the_reviewed_repo_does_not_shadow_ours(workflow, fake_github):
    workflow.repo.write("linters/__init__.py", "raise SystemExit('shadowed!')\n")
    workflow.repo.write("linters/cli.py", "raise SystemExit('shadowed!')\n")
    workflow.write_revision(RISKY_UP)
    workflow.open_pull()
    proc, outputs, _ = workflow.run()
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "shadowed" not in proc.stderr and int(outputs["errors"]) >= 1


def test_squawk_input_marks_what_only_squawk_found_in_the_comment(workflow, fake_github):
    workflow.write_revision("""
        op.execute("SET lock_timeout = '3s'")
        op.create_table("wishlists", sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True))
        op.drop_table("wishlists")
    """, "pass")
    workflow.open_pull()
    proc, outputs, summary = workflow.run(squawk="true")
    assert "--squawk" in proc.stdout and proc.returncode == 1, proc.stdout + proc.stderr
    report = json.loads(Path(outputs["report"]).read_text())
    assert [f["source"] for f in report["findings"] if f["rule"] == "ban-drop-table"] == ["squawk"]
    [comment] = fake_github.comments_on(REPO, PR)
    for body in (summary, comment["body"]):
        assert "**`ban-drop-table`** (squawk)" in body and "only squawk's" in body


def test_publishing_failure_keeps_the_lint_exit_code(workflow, fake_github):
    workflow.write_revision(RISKY_UP)
    workflow.open_pull()
    fake_github.fail("POST", r".*", 500, times=10_000)
    fake_github.fail("PATCH", r".*", 500, times=10_000)
    proc, outputs, summary = workflow.run()
    assert proc.returncode == 1, proc.stderr
    assert "::warning title=alembic-review publishing::" in proc.stdout
    assert "::error file=alembic/versions/0002_email_index.py,line=12" in proc.stdout  # annotations fall back
    assert int(outputs["errors"]) >= 1 and summary.startswith("### alembic-review")
    assert fake_github.comments_on(REPO, PR) == []


def test_token_without_checks_permission_gets_a_status(workflow, fake_github):
    workflow.write_revision(RISKY_UP)
    workflow.open_pull()
    fake_github.forbid_checks = True
    proc, _, _ = workflow.run(**{"fail-on": "never"})
    assert proc.returncode == 0, proc.stderr
    [status] = fake_github.repos[REPO].statuses
    assert (status["state"], status["context"], status["sha"]) == ("success", "alembic-review", workflow.head_sha)
    assert "::error file=" in proc.stdout  # no check run: the workflow commands annotate instead


def test_lint_that_cannot_run_exits_2_and_publishes_nothing(workflow, fake_github):
    workflow.write_revision(RISKY_UP)
    workflow.open_pull()
    proc, outputs, summary = workflow.run(path="no/such/dir")
    assert proc.returncode == 2
    assert "could not run" in proc.stdout and "could not run" in summary
    assert outputs["report"] == ""
    assert posts(fake_github) == []


def test_publish_only_mode_reads_the_report_as_data(workflow, fake_github, tmp_path):
    """The workflow_run half of the fork pattern: no lint, the artifact is untrusted data."""
    workflow.write_revision(RISKY_UP)
    workflow.open_pull()
    line = next(i for i, l in enumerate(workflow.text.splitlines(), 1) if "op.create_index" in l)
    artifact = {"version": 1, "base": workflow.base_sha, "pg_version": 15, "revisions": [],
                "findings": [{"rule": "require-concurrent-index-creation", "severity": "error",
                              "message": "blocks writes <!-- alembic-review:summary --> @everyone",
                              "path": workflow.rel, "line": line, "end_line": line, "extra": "ignored"}]}
    (tmp_path / "report.json").write_text(json.dumps(artifact))
    proc, outputs, _ = workflow.run("--report", str(tmp_path / "report.json"), **{"pr-number": str(PR)})
    assert proc.returncode == 1, proc.stderr
    assert "alembic-review: alembic/" not in proc.stdout and " -m linters" not in proc.stdout  # nothing linted
    [comment] = fake_github.comments_on(REPO, PR)
    assert comment["body"].count(MARKER) == 1 and "@everyone" not in comment["body"]
    assert len(fake_github.review_comments_on(REPO, PR)) == 1

    proc, _, _ = workflow.run("--report", str(tmp_path / "report.json"), **{"pr-number": "12; rm -rf /"})
    assert proc.returncode == 2 and "not a pull request number" in proc.stderr


def test_untrusted_report_validation():
    with pytest.raises(ValueError):
        report_from_untrusted_json({"version": 2})
    with pytest.raises(ValueError):
        report_from_untrusted_json({"version": 1, "findings": [{"rule": "x", "severity": "fatal"}]})
    with pytest.raises(ValueError):
        report_from_untrusted_json({"version": 1, "findings": [{"rule": "a b", "severity": "error"}]})
    report = report_from_untrusted_json({"version": 1, "pg_version": "15; drop", "findings": [
        {"rule": "r", "severity": "warning", "message": {"nested": 1}, "path": "../../etc/passwd",
         "line": "12", "end_line": True}]})
    [f] = report.findings
    assert f.path is None and f.line is None and f.end_line is None and f.message == '{"nested": 1}'
    assert report.pg_version == 15


@pytest.mark.parametrize("severities, lint_exit, requested, expected", [
    (["error"], 1, "", "error"),
    (["warning"], 1, "", "warning"),      # the project's config says fail_on = "warning"
    (["error"], 0, "", "never"),          # ... or "never"
    (["warning"], 0, "", "error"),
    ([], 0, "", "error"),
    (["warning"], 0, "warning", "warning"),  # an explicit input wins
])
def test_check_conclusion_agrees_with_the_lint_exit_code(severities, lint_exit, requested, expected):
    from bot.lint_child import effective_fail_on
    from linters.findings import Finding, Severity
    from linters.report.model import Report
    report = Report(base=None, pg_version=15, findings=[Finding("r", Severity(s), "m") for s in severities])
    fail_on = effective_fail_on(report, lint_exit, requested)
    assert fail_on == expected
    if not requested:
        assert report.reaches(fail_on) == (lint_exit == 1)


def test_push_event_lints_and_annotates_without_publishing(workflow, fake_github, tmp_path):
    workflow.write_revision(RISKY_UP)
    event = tmp_path / "push.json"
    event.write_text(json.dumps({"ref": "refs/heads/feature", "after": workflow.head_sha,
                                 "repository": {"full_name": REPO}}))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "INPUT_", "RUNNER_"))}
    env.update({"PYTHONPATH": str(REPO_ROOT), "GITHUB_EVENT_PATH": str(event), "GITHUB_REPOSITORY": REPO,
                "GITHUB_API_URL": fake_github.base_url, "GITHUB_WORKSPACE": str(workflow.repo.path),
                "RUNNER_TEMP": str(tmp_path), "INPUT_BASE": "main", "INPUT_GITHUB_TOKEN": "t"})
    proc = subprocess.run([sys.executable, "-m", "bot.action"], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 1, proc.stderr
    assert "not a pull request event" in proc.stdout
    assert "::error file=alembic/versions/0002_email_index.py,line=12" in proc.stdout
    assert fake_github.requests == []


def test_stats_file_input_reaches_the_review_and_the_comment(workflow, fake_github):
    from datetime import datetime, timezone
    snapshot = {"format": "alembic-review-table-stats", "version": 1, "server_version": 150020,
                "taken_at": datetime.now(timezone.utc).isoformat(), "write_rate": {"basis": "interval", "seconds": 60},
                "tables": {"public.users": {"rows": 48_000_000, "heap_bytes": 16 * 2**30, "index_bytes": 5 * 2**30,
                                            "total_bytes": 21 * 2**30, "indexes": {}, "writes_per_second": 50}}}
    workflow.repo.write(".alembic-review/stats.json", json.dumps(snapshot))
    workflow.write_revision(RISKY_UP)
    workflow.open_pull()
    proc, outputs, summary = workflow.run(**{"STATS-FILE": ".alembic-review/stats.json"})
    assert proc.returncode == 1, proc.stderr
    impact = next(f["impact"] for f in json.loads(Path(outputs["report"]).read_text())["findings"]
                  if f["rule"] == "require-concurrent-index-creation")
    assert impact["rows"] == 48_000_000 and impact["lock"] == "SHARE" and impact["lock_seconds"] > 60
    [comment] = fake_github.comments_on(REPO, PR)
    for text in (summary, comment["body"]):
        assert "users: 48 M rows, 21 GB; SHARE lock ~" in text
    sarif = json.loads((workflow.repo.path / "alembic-review.sarif").read_text())
    assert any(r["properties"].get("impact") == impact for r in sarif["runs"][0]["results"])
    assert not list(jsonschema.Draft7Validator(SCHEMA).iter_errors(sarif))
