"""One review job: a pull request at one head commit, from the in-progress check run to the
published review.

    claim (bot/ledger.py) -> check run "in_progress" -> list the PR's files
    -> no migration touched: check "success" at once, no code fetched
    -> else: the base branch's tip and GitHub's test merge with it (else the merge base and the
       head): from the worker's repository cache and the changed files, else from their tarballs
       (bot/job_code.py) -> local git repo (+ the default branch's table statistics, when the
       settings name a `stats` file) -> `python -m linters` in a child
       process (the repo's own [tool.alembic-review] config; revisions rendered in the strict
       sandbox as the job's own uid) -> bot.publish (comment, review, the same check run)

Limits: a slot among ALEMBIC_REVIEW_MAX_JOBS for all workers and ALEMBIC_REVIEW_MAX_JOBS_PER_REPO
per repository (a job without one is queued again a little later; a job a newer head made
pointless is dropped without waiting for one); ALEMBIC_REVIEW_JOB_TIMEOUT for the whole job. A
newer head arriving while a job runs cancels it.
"""

from __future__ import annotations

import logging
import os
import posixpath
import re
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from github import GithubException

from bot import fetch, isolation, ledger, open_checks
from bot.app_auth import AppAuth
from bot.job_code import JobCode
from bot.lint_child import effective_fail_on, left_report, lint_args, lint_command
from bot.github_client import backoff_of, create_once, deadline, lacks_permission
from bot.publish import CHECK_TEXT_LIMIT, DIGEST_PREFIX, check_outcome, cut_bytes, our_check_runs, publish
from bot.report_reader import read_report
from bot.settings import Settings
from bot.store import KEEP, Store
from linters.config import load_config
from linters.errors import UsageError
from linters.report.model import Report
from linters.tablestats import MAX_FILE_BYTES as MAX_STATS_BYTES

log = logging.getLogger("alembic_review.jobs")

CONFIG_FILES = {"alembic.ini", "env.py", "script.py.mako", "pyproject.toml", ".alembic-review.toml", "setup.cfg"}
REVISION_LINE = re.compile(r"^[+-]\s*(down_)?revision\s*(:[^=]*)?=", re.M)
MAX_LISTED_FILES = 3000  # GitHub lists at most 3000 files of a pull request
REPO = "repo"
CONCLUDE_SECONDS = 60  # concluding a run after the job's deadline (timed_out) gets this long
PUBLISHED = ("completed", "created", "unchanged", "status")
MEMORY_POLL = 0.25  # seconds between looks at the job's memory (and its deadline)


@dataclass
class Runtime:
    settings: Settings
    store: Store
    auth: AppAuth


def _repo_id(pr) -> int | None:
    """The repository's id (from the pull request we already have): what its cache is kept under."""
    try:
        repo_id = pr.base.repo.id
    except (AttributeError, GithubException):
        return None
    return repo_id if isinstance(repo_id, int) and repo_id > 0 else None


class Superseded(Exception):
    """A newer head (or a closed pull request) made this job pointless."""


def touches_migrations(files, version_dirs: set[str]) -> bool:
    """Whether a change could alter what the reviewer says, from the PR's file list alone: a .py
    under a `versions` directory or a version directory seen before in this repo, a .py whose diff
    adds or removes a `revision =` / `down_revision =` line, or an Alembic/reviewer config file."""
    if len(files) >= MAX_LISTED_FILES:
        return True  # the list is truncated: we cannot tell
    for f in files:
        for path in filter(None, (f.filename, getattr(f, "previous_filename", None))):
            name, parent = posixpath.basename(path), posixpath.dirname(path)
            if name in CONFIG_FILES:
                return True
            if not name.endswith(".py"):
                continue
            if "versions" in parent.split("/") or parent in version_dirs:
                return True
            if f.patch is None or REVISION_LINE.search(f.patch):
                return True  # no patch: too large or binary to show, so look at the code
    return False


class Heartbeat(threading.Thread):
    """Keeps the job's claim and slots alive; notices when a newer head makes the job pointless."""

    def __init__(self, rt: Runtime, job: ledger.Job, holder: dict, scopes: list[str]):
        super().__init__(daemon=True, name=f"heartbeat {job}")
        self.rt, self.job, self.holder, self.scopes = rt, job, holder, scopes
        self.stop_event = threading.Event()
        self.cancelled = threading.Event()

    def run(self) -> None:
        interval = max(0.5, self.rt.settings.lease_seconds / 4)
        while not self.stop_event.wait(interval):
            try:
                if not ledger.heartbeat(self.rt.store, self.job, self.holder):
                    self.cancelled.set()
                for scope in self.scopes:
                    ledger.renew_slot(self.rt.store, scope, self.holder["id"], self.rt.settings.lease_seconds)
            except Exception as exc:  # the store is briefly unreachable: try again next beat
                log.warning("heartbeat for %s failed: %s", self.job, exc)


class Phases:
    """Where a job's seconds went, for its log line: `mark(name)` ends the phase called name."""

    def __init__(self, start: float):
        self.last, self.spent = start, {}

    def mark(self, name: str) -> None:
        now = time.monotonic()
        self.spent[name] = self.spent.get(name, 0.0) + now - self.last
        self.last = now

    def __str__(self) -> str:
        return ", ".join(f"{name} {seconds:.2f}s" for name, seconds in self.spent.items())


class Review:
    def __init__(self, rt: Runtime, job: ledger.Job, uid: int | None, beat: Heartbeat, phases: Phases):
        self.rt, self.job, self.uid, self.beat, self.phases = rt, job, uid, beat, phases
        self.settings = rt.settings
        self.deadline = time.monotonic() + self.settings.job_timeout
        self.gh = self.repo = self.run_obj = None

    # --- the check run ------------------------------------------------------------------------

    def start_check(self) -> None:
        rec = self.rt.store.get(ledger.PULL, self.job.key) or {}
        try:
            if rec.get("check_run_id") and rec.get("check_head") == self.job.head_sha:
                self.run_obj = self.repo.get_check_run(rec["check_run_id"])  # a retry: same run
                if self.run_obj.status != "in_progress":
                    self.run_obj.edit(status="in_progress")
                return
            self.run_obj = create_once(
                lambda: self.repo.create_check_run(
                    name=self.settings.check_name, head_sha=self.job.head_sha, status="in_progress",
                    external_id=DIGEST_PREFIX + "in-progress",
                    output={"title": "Reviewing migrations…", "summary": "alembic-review is reviewing this commit."}),
                lambda: next((r for r in our_check_runs(self.repo, self.job.head_sha, self.settings.check_name,
                                                        int(self.settings.app_id)) if r.status == "in_progress"), None),
                backoff=backoff_of(self.gh))
        except GithubException as exc:
            if not lacks_permission(exc):
                raise
            log.warning("%s: no permission for check runs; a commit status is published instead", self.job)
            return
        ledger.remember_check_run(self.rt.store, self.job, self.run_obj.id)
        open_checks.note(self.rt.store, self.job, self.run_obj.id)

    def complete(self, conclusion: str, title: str, summary: str) -> None:
        if self.run_obj is not None and self._conclude_run(conclusion, title, summary):
            return
        state = "success" if conclusion in ("success", "neutral", "skipped") else "failure"
        self.repo.get_commit(self.job.head_sha).create_status(
            state=state, description=title[:140], context=self.settings.check_name)

    def _conclude_run(self, conclusion: str, title: str, summary: str) -> bool:
        """Conclude the job's run now, or leave it to the reconciler; False when only a commit status
        can say the conclusion (the App lost checks: write since it made the run)."""
        try:
            with deadline(max(self.deadline, time.monotonic() + CONCLUDE_SECONDS)):
                self.run_obj.edit(status="completed", conclusion=conclusion,
                                  output={"title": title[:255], "summary": cut_bytes(summary, CHECK_TEXT_LIMIT)})
        except Exception as exc:
            if not lacks_permission(exc):  # GitHub is down: the reconciler concludes the run when it is back
                open_checks.conclude_later(self.rt.store, self.job, self.run_obj.id, conclusion, title, summary)
                log.warning("%s: the check run could not be concluded %s now (%s: %s); it will be later",
                            self.job, conclusion, type(exc).__name__, exc)
                return True
            log.warning("%s: no permission to conclude check run %s; a commit status is published instead",
                        self.job, self.run_obj.id)
            open_checks.concluded(self.rt.store, self.job, self.run_obj.id)
            return False
        open_checks.concluded(self.rt.store, self.job, self.run_obj.id)
        return True

    # --- the job --------------------------------------------------------------------------------

    def check_wanted(self) -> None:
        if self.beat.cancelled.is_set() or not ledger.still_wanted(self.rt.store, self.job):
            raise Superseded("a newer head or request")
        if time.monotonic() > self.deadline:
            raise TimeoutError(f"the review took longer than {self.settings.job_timeout:g}s")

    def run(self) -> str:
        with deadline(self.deadline):  # every GitHub call of the job ends by its deadline
            self.gh = self.rt.auth.github(self.job.installation_id)
            self.repo = self.gh.get_repo(self.job.repo, lazy=True)
            return self._run()

    def _run(self) -> str:
        pr = self.repo.get_pull(self.job.number)
        if pr.state != "open" or pr.head.sha != self.job.head_sha:
            raise Superseded(f"the pull request is {pr.state} at {pr.head.sha[:7]}")
        self.phases.mark("pull")
        self.start_check()
        self.phases.mark("check")
        try:
            return self._review(pr)
        except Superseded:
            self.complete("cancelled", "Superseded by a newer commit", "A newer commit is being reviewed.")
            raise
        except TimeoutError as exc:
            self.complete("timed_out", "alembic-review timed out", f"{exc}. Re-run the check to try again.")
            return "timed_out"
        except fetch.FetchError as exc:
            self.complete("failure", "alembic-review could not fetch the code", str(exc))
            return "failure"

    def _review(self, pr) -> str:
        files = list(pr.get_files()[:MAX_LISTED_FILES])
        self.phases.mark("files")
        repo_rec = self.rt.store.get(REPO, self.job.repo) or {}
        if not touches_migrations(files, set(repo_rec.get("version_dirs", []))):
            if (self.rt.store.get(ledger.PULL, self.job.key) or {}).get("had_findings"):
                self._publish(Report(base=None, pg_version=15, revisions=[], findings=[]), "error", check=False)
            self.complete("success", "No migration changes",
                          "This pull request changes no Alembic revision or configuration: nothing to review.")
            self._note_findings(False)
            return "success"
        base, reviewed = self._what_to_review(pr)
        self.phases.mark("base")
        work = self.settings.work_dir
        isolation.prepare_work_dir(work)
        with tempfile.TemporaryDirectory(prefix="job-", dir=work) as tmp:
            tmp = Path(tmp)
            checkout = tmp / "checkout"
            code = JobCode(self.settings, lambda: self.rt.auth.token(self.job.installation_id), self.job.repo,
                           _repo_id(pr), self.deadline, self.phases, self.check_wanted)
            base_commit = code.build(base, reviewed, tmp, checkout)
            code.share(checkout, self.uid)
            if self.uid is not None:
                os.chown(tmp, 0, self.uid)
                os.chmod(tmp, 0o710)  # the sandbox may pass through to its checkout, not list the job dir
            self.check_wanted()
            stats = self._default_branch_stats(checkout, tmp)
            self.phases.mark("stats")
            exit_code, report, reason = self._lint(tmp, checkout, base_commit, stats)
            self.phases.mark("lint")
            code.keep_identities(checkout)
        self.check_wanted()
        if report is None:
            if "no Alembic project found" in reason:
                self.complete("neutral", "No Alembic project found", reason)
                return "neutral"
            self.complete("failure", "alembic-review could not review this pull request", reason)
            return "failure"
        self._learn_version_dirs(report)
        fail_on = effective_fail_on(report, exit_code, "")
        result = self._publish(report, fail_on, check=True)
        self.phases.mark("publish")
        self._note_findings(bool(report.findings))
        if result.check_action not in PUBLISHED:
            if self.run_obj is not None:  # the verdict is kept: the run gets it even if every retry fails
                open_checks.conclude_later(self.rt.store, self.job, self.run_obj.id, *check_outcome(report, fail_on))
            raise RuntimeError("; ".join(result.errors) or "the check run could not be published")
        if self.run_obj is not None:
            open_checks.concluded(self.rt.store, self.job, self.run_obj.id)
        return result.conclusion or "success"

    def _what_to_review(self, pr) -> tuple[str, str]:
        """(base, commit to review). GitHub's test merge (refs/pull/N/merge: the head merged into
        the base branch's tip) over that tip, so that a base that moved counts: revisions merged
        there since are not this pull request's, and two heads together are seen. When GitHub has
        no merge for this very head (conflicts, or not computed yet), the head over its merge base."""
        merge_sha = pr.merge_commit_sha
        if merge_sha:
            try:
                parents = [p.sha for p in self.repo.get_commit(merge_sha).parents]
            except GithubException as exc:
                log.warning("%s: merge commit %s unreadable (%s)", self.job, merge_sha[:7], exc.status)
                parents = []
            if len(parents) == 2 and parents[1] == self.job.head_sha:
                return parents[0], merge_sha
        return self._merge_base(pr), self.job.head_sha

    def _merge_base(self, pr) -> str:
        """What GitHub diffs the PR against: the merge base of its base branch and its head."""
        try:
            return self.repo.compare(pr.base.sha, self.job.head_sha).merge_base_commit.sha
        except GithubException as exc:
            log.warning("%s: compare failed (%s); diffing against the base branch tip", self.job, exc.status)
            return pr.base.sha

    def _default_branch_stats(self, checkout: Path, tmp: Path) -> Path | None:
        """The file the `stats` setting names (at the repository root's settings), as on the default
        branch: a scheduled workflow refreshes it there, while a pull request's branch keeps the copy
        it was cut from. None without the setting or that file (the lint then reads the branch's)."""
        try:
            config = load_config([checkout])
        except UsageError:
            return None  # the lint says what is wrong with the settings
        if not config.stats or not config.source:
            return None
        try:
            rel = (Path(config.source).parent / config.stats).resolve().relative_to(checkout.resolve())
            data = fetch.download_file(self.settings.api_url, self.rt.auth.token(self.job.installation_id),
                                       self.job.repo, rel.as_posix(), self.repo.default_branch,
                                       max_bytes=MAX_STATS_BYTES, deadline=self.deadline)
        except (ValueError, fetch.FetchError, GithubException) as exc:
            log.warning("%s: the default branch's table statistics were not read: %s", self.job, exc)
            return None
        if data is None:
            return None
        target = tmp / "default-branch-stats.json"
        target.write_bytes(data)
        if self.uid is not None:
            os.chown(target, 0, self.uid)
            os.chmod(target, 0o640)
        return target

    def _lint(self, tmp: Path, checkout: Path, base_commit: str, stats: Path | None) -> tuple[int, Report | None, str]:
        home = tmp / "home"
        home.mkdir(mode=0o700)
        report_path = tmp / "report.json"
        cmd = lint_command(lint_args(checkout, report_path, base_commit, stats))
        proc = subprocess.Popen(cmd, cwd=checkout, env=isolation.child_env(home, self.uid, checkout),
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True, preexec_fn=isolation.die_with_parent)
        over_memory = False
        try:
            while True:
                try:
                    _, err = proc.communicate(timeout=MEMORY_POLL)
                    break
                except subprocess.TimeoutExpired:
                    if self.beat.cancelled.is_set() or time.monotonic() > self.deadline:
                        os.killpg(proc.pid, 9)
                        proc.communicate()
                        self.check_wanted()  # raises Superseded or TimeoutError
                    # the job's memory, all its render processes and their forks together
                    if isolation.uid_memory_bytes(self.uid) > self.settings.job_memory_bytes:
                        over_memory = True
                        isolation.kill_uid(self.uid)
                        os.killpg(proc.pid, 9)
                        _, err = proc.communicate()
                        break
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, 9)
                proc.wait()
            isolation.kill_uid(self.uid)  # render children that outlived the reviewer
        if over_memory:
            return proc.returncode, None, (f"the revisions used more than {self.settings.job_memory_bytes >> 20} MiB "
                                           "of memory together (ALEMBIC_REVIEW_JOB_MEMORY_MB)")
        reason = (err.decode(errors="replace").strip().splitlines() or [""])[-1]
        reason = reason.replace(str(checkout), ".")[:1000]
        if not left_report(proc.returncode, report_path):
            return proc.returncode, None, reason or f"the reviewer exited with code {proc.returncode}"
        try:
            return proc.returncode, read_report(report_path), reason
        except ValueError as exc:
            return 2, None, f"the reviewer's report could not be read: {exc}"

    def _publish(self, report: Report, fail_on: str, *, check: bool):
        run_id = self.run_obj.id if (check and self.run_obj is not None) else None
        result = publish(self.gh, self.job.repo, self.job.number, report, head_sha=self.job.head_sha,
                         fail_on=fail_on, check=check, check_name=self.settings.check_name, check_run_id=run_id,
                         app_id=int(self.settings.app_id))
        for error in result.errors:
            log.warning("%s: publishing: %s", self.job, error)
        return result

    def _learn_version_dirs(self, report: Report) -> None:
        dirs = {posixpath.dirname(r.path) for r in report.revisions if r.path and r.path != "?"}
        if not dirs:
            return

        def fn(rec):
            known = set((rec or {}).get("version_dirs", []))
            if dirs <= known:
                return KEEP, None
            return {"version_dirs": sorted(known | dirs)[:50]}, None
        self.rt.store.mutate(REPO, self.job.repo, fn)

    def _note_findings(self, had: bool) -> None:
        def fn(rec):
            if rec is None or rec.get("had_findings", False) == had:
                return KEEP, None
            return dict(rec, had_findings=had), None
        self.rt.store.mutate(ledger.PULL, self.job.key, fn)


def run_job(rt: Runtime, job: ledger.Job, *, last_attempt: bool = True, queued_at: float | None = None) -> str:
    """Do `job` if it is still wanted and nobody else does it. Returns what happened: a check
    conclusion, "superseded", "duplicate" or "busy" (no slot free: queue it again later).
    Raises on errors worth a retry (the claim is released first)."""
    s, store = rt.settings, rt.store
    phases = Phases(time.monotonic())
    if queued_at is not None:  # in the queue (and waiting for a slot), from the webhook's enqueue
        phases.spent["queued"] = max(0.0, time.time() - queued_at)
    verdict = ledger.verdict(store, job, s.lease_seconds)
    if verdict != "run":  # before any slot: a pointless job is dropped now, not when a slot frees up
        return _drop(store, job, verdict)
    holder = ledger.new_holder()
    scopes = ["global", f"repo:{job.repo}"]
    slot = ledger.acquire_slot(store, scopes[0], s.max_jobs, holder, s.lease_seconds)
    if slot is None:
        return "busy"
    try:
        if ledger.acquire_slot(store, scopes[1], s.max_jobs_per_repo, holder, s.lease_seconds) is None:
            return "busy"
        verdict = ledger.claim(store, job, holder, s.lease_seconds)  # it may have changed meanwhile
        if verdict != "run":
            return _drop(store, job, verdict)
        started = time.monotonic()
        phases.mark("claim")
        beat = Heartbeat(rt, job, holder, scopes)
        beat.start()
        uid = isolation.job_uid(s.sandbox_uid_base, slot)
        isolation.kill_uid(uid)  # leftovers of a job that held this slot when its worker died
        try:
            conclusion = Review(rt, job, uid, beat, phases).run()
        except Superseded as exc:
            ledger.finish(store, job, holder, "superseded")
            store.incr("jobs:dropped")
            log.info("job %s superseded: %s", job, exc)
            return "superseded"
        except Exception as exc:
            log.warning("job %s failed (%s: %s)%s", job, type(exc).__name__, exc,
                        "" if last_attempt else "; it will be retried")
            if not last_attempt:
                ledger.release(store, job, holder, f"{type(exc).__name__}: {exc}")
                raise
            ledger.finish(store, job, holder, "error")
            store.incr("jobs:failed")
            _conclude_after_error(rt, job, exc)
            return "error"
        finally:
            beat.stop_event.set()
            isolation.kill_uid(uid)
        ledger.finish(store, job, holder, conclusion)
        store.incr("jobs:completed")
        log.info("job %s completed: %s in %.1fs (pid %d; %s)", job, conclusion, time.monotonic() - started,
                 os.getpid(), phases)
        return conclusion
    finally:
        for scope in scopes:
            ledger.release_slot(store, scope, holder["id"])


def _drop(store: Store, job: ledger.Job, verdict: str) -> str:
    store.incr("jobs:dropped")
    log.info("job %s dropped: %s", job, verdict)
    return verdict


def _conclude_after_error(rt: Runtime, job: ledger.Job, exc: Exception) -> None:
    """Last attempt failed: say so on the check run rather than leave it spinning; a verdict the job
    reached but could not publish wins over "could not finish". Retried later if GitHub is down."""
    rec = rt.store.get(ledger.PULL, job.key) or {}
    if rec.get("check_run_id") and rec.get("check_head") == job.head_sha:
        open_checks.settle(rt, job, rec["check_run_id"], {
            "conclusion": "failure", "title": "alembic-review could not finish",
            "summary": f"{type(exc).__name__}. Re-run the check to try again."})


def reconcile(rt: Runtime, enqueue) -> int:
    """Re-queue jobs nobody is doing (their worker died); returns how many. One reconciler at a
    time across all workers; a PR whose head already has a completed check is marked done."""
    s, store = rt.settings, rt.store
    me = ledger.new_holder()
    if ledger.acquire_slot(store, "reconciler", 1, me, 300) is None:
        return 0
    try:
        store.prune()
        ledger.prune(store, 30 * 24 * 3600)
        open_checks.sweep(rt, s.publish_window)
        requeued = 0
        for job, rec in ledger.orphans(store, s.lease_seconds, queued_grace=max(5 * s.lease_seconds, 300)):
            conclusion = _completed_check(rt, job)
            if conclusion is not None:
                ledger.mark_done_elsewhere(store, job, conclusion)
                continue
            ledger.touch_queued(store, job)
            enqueue(job)
            requeued += 1
            log.info("reconciler: %s queued again (was %s)", job, rec.get("state"))
        return requeued
    finally:
        ledger.release_slot(store, "reconciler", me["id"])


def _completed_check(rt: Runtime, job: ledger.Job) -> str | None:
    try:
        with deadline(time.monotonic() + open_checks.CALL_SECONDS):
            gh = rt.auth.github(job.installation_id)
            repo = gh.get_repo(job.repo, lazy=True)
            for run in our_check_runs(repo, job.head_sha, rt.settings.check_name, int(rt.settings.app_id)):
                return run.conclusion if run.status == "completed" else None
    except Exception as exc:  # GitHub unreachable: doing the job again is the safe side
        log.warning("reconciler: could not read the checks of %s: %s", job, exc)
    return None
