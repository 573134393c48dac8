"""What installing costs, and what the Action costs on a one-revision pull request.

    python -m bench.install [--reps 3] [--readme]

1. A core install (`pip install -e .`) against the full one (`pip install -e '.[github,app,live]'`,
   what every install was before the extras): packages installed and seconds, each in a fresh venv,
   with the pip cache warm (one untimed install of each first), the two alternating.
2. The Action end to end on the bundled example app's pull request (`python -m linters demo`'s
   repository): action.yml's own steps (bench/action_steps.py), its venv install included, with a
   workflow Python that has the example's dependencies (SQLAlchemy, alembic: set up untimed, as
   setup-python and `pip install -r requirements.txt` would). No token: nothing is published.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import tempfile
import time
import venv
from pathlib import Path

from bench.action_steps import ROOT, job_env, run_steps
from linters.demo import build_demo_repo

README_START, README_END = "<!-- install-bench:start -->", "<!-- install-bench:end -->"
INSTALLS = {"core": "-e .", "full": "-e .[github,app,live]"}


def _fresh_venv(path: Path) -> Path:
    venv.EnvBuilder(with_pip=True).create(path)
    return path / "bin" / "python"


def _packages(python: Path) -> int:
    out = subprocess.run([str(python), "-m", "pip", "list", "--format", "json"], capture_output=True, text=True,
                         check=True).stdout
    return sum(1 for p in json.loads(out) if p["name"].lower() not in ("pip", "setuptools"))


def time_install(kind: str, work: Path) -> tuple[float, int]:
    """Seconds of `pip install` (venv creation excluded) and the packages it left."""
    target = work / f"{kind}-{time.monotonic_ns()}"
    python = _fresh_venv(target)
    start = time.perf_counter()
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    *INSTALLS[kind].split()], cwd=ROOT, check=True, capture_output=True)
    seconds = time.perf_counter() - start
    return seconds, _packages(python)


def time_action(work: Path, workflow_python: Path, run: int) -> tuple[float, float, float]:
    """(total, install step, review step) seconds of the Action on the demo's pull request."""
    repo = build_demo_repo(work / f"demo-{run}")
    base = subprocess.run(["git", "rev-parse", "main"], cwd=repo, capture_output=True, text=True).stdout.strip()
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True).stdout.strip()
    job = work / f"job-{run}"
    job.mkdir()
    (job / "event.json").write_text(json.dumps({"pull_request": {"number": 1, "head": {"sha": head},
                                                                 "base": {"sha": base}}}))
    env = job_env(repo, job, workflow_python.parent, GITHUB_EVENT_PATH=str(job / "event.json"),
                  GITHUB_OUTPUT=str(job / "output"), GITHUB_STEP_SUMMARY=str(job / "summary.md"))
    seconds: list[float] = []  # when each step ended
    start = time.perf_counter()
    steps = run_steps({"github-token": ""}, env, each=lambda: seconds.append(time.perf_counter()))
    total = time.perf_counter() - start
    if len(steps) != 2 or steps[0].returncode != 0 or steps[1].returncode not in (0, 1):
        raise RuntimeError(f"the Action failed: {steps[-1].stdout[-2000:]}{steps[-1].stderr[-2000:]}")
    install = seconds[0] - start
    return total, install, seconds[1] - seconds[0]


def table(installs: dict, action: list[tuple[float, float, float]], reps: int, load: float) -> str:
    med = lambda xs: statistics.median(xs)
    core_s, full_s = med([s for s, _ in installs["core"]]), med([s for s, _ in installs["full"]])
    core_n, full_n = installs["core"][0][1], installs["full"][0][1]
    total, install, review = (med([a[i] for a in action]) for i in range(3))
    lines = [
        "| what | alembic-review | instead | their cost | ratio |",
        "|---|---:|---|---:|---:|",
        f"| install, fresh venv, warm pip cache: `pip install -e .` (core) | {core_n} packages, {core_s:.1f} s "
        f"| `pip install -e '.[github,app,live]'` (everything, as before the extras) | {full_n} packages, {full_s:.1f} s "
        f"| {core_s / full_s:.2f}x |",
        f"| the Action on the example app's one-revision PR, in total | {total:.1f} s "
        f"(its venv install {install:.1f} s, the review {review:.1f} s) | | | |",
        "",
        f"`python -m bench.install --readme`; medians of {reps} runs. The Action's time is its own steps as "
        "action.yml runs them (bench/action_steps.py), without publishing; checkout and the workflow's "
        f"setup-python are not counted. Load average when the run started: {load:.2f}.",
    ]
    return "\n".join(lines)


def write_readme(block: str) -> None:
    readme = ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    section = f"{README_START}\n{block}\n{README_END}"
    if README_START not in text:
        raise SystemExit(f"README.md has no {README_START} marker")
    text = re.sub(re.escape(README_START) + r".*?" + re.escape(README_END), lambda _: section, text, flags=re.S)
    readme.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--readme", action="store_true", help="also put the table in README.md under Performance")
    args = p.parse_args(argv)
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="alembic-review-bench-install-") as tmp:
        work = Path(tmp)
        for kind in INSTALLS:  # warm the pip cache, untimed
            time_install(kind, work)
        installs: dict[str, list] = {kind: [] for kind in INSTALLS}
        for _ in range(args.reps):
            for kind in INSTALLS:
                installs[kind].append(time_install(kind, work))
        workflow_python = _fresh_venv(work / "workflow")
        subprocess.run([str(workflow_python), "-m", "pip", "install", "--quiet", "SQLAlchemy", "alembic"],
                       check=True, capture_output=True)
        time_action(work, workflow_python, 0)  # untimed: the runner's pip cache, as a cached CI job has it
        action = [time_action(work, workflow_python, run) for run in range(1, args.reps + 1)]
    block = table(installs, action, args.reps, load)
    print(block)
    if args.readme:
        write_readme(block)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
