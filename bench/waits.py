"""What a user waits for, around the lint itself: the GitHub App and the GitHub Action on one pull request.

    python -m bench.waits [--revisions 2000] [--reps 5] [--only app,action]

The pull request adds one revision to a repository of `--revisions` revisions (bench/generate.py), served
by the fake GitHub of the test suite (tests/fakegithub.py) on 127.0.0.1. Each figure is compared with
the same lint run alone, `python -m linters REPO --base main --format json` (what the job runs), the two
alternating, medians of `--reps` runs after one untimed run of each:

- app: from the webhook's acknowledgement (202) to the check run concluded on the fake GitHub, with the
  service (`python -m bot serve`, SQLite queue) already running and warm (one job on another
  repository done before timing), and one job done on the repository (its time is printed too:
  the cost of a repository the worker has not seen).
  Each timed job is a new head commit of the same change on that repository, as a push or a new
  pull request gets. Its overhead is that time minus the lint's: fetching the code (the changed
  files, or two tarballs with `--cached-repos 0`), the sandbox, publishing.
- action: the Action's whole step: a fresh venv, `pip install` of this project from the warm pip cache
  (action.yml's install step), then `python -m bot action` (lint, comment, review, check run, SARIF) on
  the git checkout, publishing to the fake GitHub.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

if __package__ in (None, ""):  # `python bench/waits.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.generate import build_repo  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent
PR = 1


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True).stdout


def export(repo: Path, sha: str, dest: Path) -> Path:
    """The files of commit `sha`, as GitHub's tarball has them."""
    dest.mkdir(parents=True)
    subprocess.run(f"git archive {sha} | tar -x -C '{dest}'", shell=True, cwd=repo, check=True)
    return dest


def lint_alone(repo: Path, out: Path) -> float:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "linters", str(repo), "--base", "main", "--format", "json",
                           "--output", str(out), "--no-progress"], cwd=REPO_ROOT, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"the lint failed: {proc.stderr[-2000:]}")
    return elapsed


class PullRequestOnRepo:
    """The generated repository's pull request: its base and head trees, the changed file."""

    def __init__(self, repo: Path, work: Path):
        self.repo = repo
        self.base = git(repo, "rev-parse", "main").strip()
        self.head = git(repo, "rev-parse", "feature").strip()
        changed = git(repo, "diff", "--name-only", self.base, self.head).split()
        self.files = {rel: (None, (repo / rel).read_text()) for rel in changed}
        self.trees = {sha: export(repo, sha, work / f"tree-{sha[:12]}") for sha in (self.base, self.head)}


def app_run(fake, service, pr: PullRequestOnRepo, name: str, number: int) -> float:
    """Pull request `number` on repository `name`: the same change, at a head commit never seen
    before (the service skips a head it has already checked), as a new push or a new pull request
    on a repository the worker has seen gets."""
    from tests.bot_service import pull_request_event

    head = uuid.uuid4().hex + uuid.uuid4().hex[:8]
    fake.register_tarball(name, head, pr.trees[pr.head])
    fake.add_pull(name, number, files=pr.files, head_sha=head, base_sha=pr.base)
    response = service.send("pull_request", pull_request_event(name, number, head, pr.base))
    acknowledged = time.perf_counter()
    if response.status_code != 202:
        raise RuntimeError(f"the service answered {response.status_code}: {response.text[:500]}")
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if any(run.get("conclusion") for run in fake.check_runs_for(name, head)):
            return time.perf_counter() - acknowledged
        time.sleep(0.01)
    raise RuntimeError("the check run did not conclude in 10 minutes")


def new_repo(fake, pr: PullRequestOnRepo, installation: int) -> str:
    name = f"bench/big{uuid.uuid4().hex[:8]}"
    fake.add_repo(name).installation_id = installation
    fake.register_tarball(name, pr.base, pr.trees[pr.base])
    return name


def job_phases(log: str) -> list[dict[str, float]]:
    """The phases of each completed job in the service's log ("job ... completed: ... (pid N; queued
    0.41s, claim 0.01s, ...)", bot/jobs.py), in order."""
    out = []
    for m in re.finditer(r"job \S+ completed: \S+ in [\d.]+s \(pid \d+; ([^)]*)\)", log):
        out.append({name: float(sec) for name, sec in re.findall(r"(\w+) ([\d.]+)s", m.group(1))})
    return out


def measure_app(pr: PullRequestOnRepo, work: Path, reps: int, work_dir: str | None = None,
                extra_env: dict | None = None) -> tuple[list[float], list[float], list[dict], float]:
    """(App times, lint times, the timed jobs' phases, the time of the first job on the repository
    the timed jobs are on: one the worker had not seen, after a job on another)."""
    from tests.bot_service import INSTALLATION, Service
    from tests.fakegithub import FakeGitHub

    fake = FakeGitHub().start()
    (work / "app").mkdir(exist_ok=True)
    service = Service(work / "app", fake)
    service.env["ALEMBIC_REVIEW_WORK_DIR"] = work_dir or str(work / "app" / "work")
    service.env.update(extra_env or {})
    try:
        service.serve(workers=1)
        app_run(fake, service, pr, new_repo(fake, pr, INSTALLATION), 1)  # warm: the worker's first job
        lint_alone(pr.repo, work / "report.json")
        name = new_repo(fake, pr, INSTALLATION)
        first = app_run(fake, service, pr, name, 1)  # a repository new to the (warm) worker
        apps, lints = [], []
        for i in range(reps):
            for which in (("app", "lint") if i % 2 == 0 else ("lint", "app")):
                if which == "app":
                    apps.append(app_run(fake, service, pr, name, 2 + i))
                else:
                    lints.append(lint_alone(pr.repo, work / "report.json"))
        return apps, lints, job_phases(service.procs[0].output())[2:], first  # not the first two jobs
    finally:
        service.close()
        fake.stop()


def action_run(fake, pr: PullRequestOnRepo, work: Path) -> tuple[float, float]:
    """(install seconds, whole step seconds): fresh venv, pip install, `python -m bot action`."""
    job = Path(tempfile.mkdtemp(prefix="job-", dir=work))
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "venv", str(job / "venv")], check=True)
    py = str(job / "venv" / "bin" / "python")
    # what action.yml's install step runs: the package with its [github] extra, for publishing
    subprocess.run([py, "-m", "pip", "install", "--disable-pip-version-check", "--quiet", f"{REPO_ROOT}[github]"],
                   check=True, capture_output=True)
    installed = time.perf_counter()
    event = {"action": "synchronize", "number": PR,
             "pull_request": {"number": PR, "head": {"sha": pr.head, "ref": "feature"},
                              "base": {"sha": pr.base, "ref": "main"}},
             "repository": {"full_name": "bench/action"}}
    (job / "event.json").write_text(json.dumps(event))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "INPUT_", "RUNNER_", "PYTHONPATH"))}
    env.update({"NO_COLOR": "1", "GITHUB_EVENT_PATH": str(job / "event.json"), "GITHUB_EVENT_NAME": "pull_request",
                "GITHUB_REPOSITORY": "bench/action", "GITHUB_API_URL": fake.base_url,
                "GITHUB_SERVER_URL": "https://github.com", "GITHUB_RUN_ID": "4711",
                "GITHUB_WORKSPACE": str(pr.repo), "GITHUB_OUTPUT": str(job / "output"),
                "GITHUB_STEP_SUMMARY": str(job / "summary.md"), "RUNNER_TEMP": str(job),
                "INPUT_GITHUB-TOKEN": "ghs_fake_installation_token", "INPUT_BASE": "main"})
    # from the action's directory, as action.yml starts it; the installed package, not this checkout
    proc = subprocess.run([py, "-P", "-m", "bot", "action"], cwd=job, env=env, capture_output=True, text=True)
    done = time.perf_counter()
    published = fake.check_runs_for("bench/action", pr.head)
    if proc.returncode not in (0, 1) or not published or not published[-1].get("conclusion"):
        raise RuntimeError(f"the action failed ({proc.returncode}): {proc.stderr[-2000:]}")
    shutil.rmtree(job, ignore_errors=True)
    return installed - start, done - start


def measure_action(pr: PullRequestOnRepo, work: Path, reps: int) -> tuple[list[float], list[float], list[float]]:
    from tests.fakegithub import FakeGitHub

    fake = FakeGitHub().start()
    try:
        fake.add_repo("bench/action")
        fake.add_pull("bench/action", PR, files=pr.files, head_sha=pr.head, base_sha=pr.base)
        action_run(fake, pr, work)  # warm: the pip cache holds the wheel built from this checkout
        lint_alone(pr.repo, work / "report.json")
        installs, steps, lints = [], [], []
        for i in range(reps):
            for which in (("action", "lint") if i % 2 == 0 else ("lint", "action")):
                if which == "action":
                    install, step = action_run(fake, pr, work)
                    installs.append(install)
                    steps.append(step)
                else:
                    lints.append(lint_alone(pr.repo, work / "report.json"))
        return installs, steps, lints
    finally:
        fake.stop()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.waits", description=__doc__.splitlines()[0])
    p.add_argument("--revisions", type=int, default=2000)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--only", default="app,action", help="app, action or both (default)")
    p.add_argument("--work-dir", help="the App's ALEMBIC_REVIEW_WORK_DIR (default: one under the bench's "
                                      "directory, on /tmp); e.g. a directory on a tmpfs")
    p.add_argument("--cached-repos", type=int, help="the App's ALEMBIC_REVIEW_CACHED_REPOS (0: no repository "
                                                    "cache, every job fetches two tarballs)")
    args = p.parse_args(argv)
    only = {w.strip() for w in args.only.split(",")}
    work = Path(tempfile.mkdtemp(prefix="alembic-review-waits-"))
    load = os.getloadavg()[0]
    lines = ["| what the user waits for | time | the lint alone | ratio | overhead | target |",
             "|---|---:|---:|---:|---:|---|"]
    try:
        print(f"generating a {args.revisions}-revision repository in {work} ...", file=sys.stderr)
        pr = PullRequestOnRepo(build_repo(work / "repo", args.revisions), work)
        if "app" in only:
            extra = {} if args.cached_repos is None else {"ALEMBIC_REVIEW_CACHED_REPOS": str(args.cached_repos)}
            apps, lints, phases, first = measure_app(pr, work, args.reps, args.work_dir, extra)
            app, lint = statistics.median(apps), statistics.median(lints)
            met = "met" if app - lint <= 1.0 else "**missed**"
            lines.append(f"| App: webhook acknowledged → check run concluded, 1 new revision on {args.revisions} "
                         f"(warm worker{', work dir ' + args.work_dir if args.work_dir else ''}) | {app:.2f} s | {lint:.2f} s | {app / lint:.2f}x | {app - lint:+.2f} s "
                         f"| overhead ≤ 1 s, {met} |")
            lines.append(f"| App, the first job on that repository (warm worker, the repository's cache cold) | {first:.2f} s | | | "
                         f"{first - lint:+.2f} s | |")
            names = list(dict.fromkeys(name for job in phases for name in job))
            breakdown = ", ".join(f"{name} {statistics.median(job.get(name, 0.0) for job in phases):.2f} s"
                                  for name in names)
        if "action" in only:
            installs, steps, lints = measure_action(pr, work, args.reps)
            step, lint, install = statistics.median(steps), statistics.median(lints), statistics.median(installs)
            lines.append(f"| Action step: fresh venv + pip install (warm cache, {install:.1f} s of it) + lint + "
                         f"publish, 1 new revision on {args.revisions} | {step:.2f} s | {lint:.2f} s | "
                         f"{step / lint:.2f}x | {step - lint:+.2f} s | |")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if "app" in only:
        lines += ["", f"App job phases (medians, from the service's log): {breakdown}."]
    lines += ["", f"Medians of {args.reps} runs each, alternating with the lint alone; {os.cpu_count()} cores; "
                  f"load average when the run started: {load:.2f}."]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
