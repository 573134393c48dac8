"""Jobs per minute of the GitHub App with 1, 2 and 4 worker processes on one Redis.

    python -m bench.worker_scale [--processes 1,2,4] [--reviews 24] [--reps 3] [--threads 2]

Each run is `python -m bench.webhook_load --local --redis --worker-processes N --reviews K -n K`: the
fake GitHub on 127.0.0.1, a web process and N `python -m bot worker` processes (--threads job threads
each) sharing one Redis queue, and K pull requests that each add a revision, so every job fetches the
code, renders it in the sandbox, lints it and concludes the check run. The process counts alternate
(1, 2, 4, then 4, 2, 1, ...); the table gives each count's median jobs per minute, PRs per hour and
its ratio to one worker process, with the machine's load average.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def jobs_per_minute(processes: int, reviews: int, threads: int) -> float:
    cmd = [sys.executable, "-m", "bench.webhook_load", "--local", "--redis", "--worker-processes", str(processes),
           "--workers", str(threads), "--reviews", str(reviews), "-n", str(reviews), "-c", "8"]
    out = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=1800)
    found = re.search(r"= (\d+) jobs/minute", out.stdout)
    if out.returncode != 0 or not found:
        raise RuntimeError(f"webhook_load failed ({out.returncode}): {out.stdout[-1000:]}{out.stderr[-2000:]}")
    return float(found.group(1))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.worker_scale", description=__doc__.splitlines()[0])
    p.add_argument("--processes", default="1,2,4", help="worker process counts (default 1,2,4)")
    p.add_argument("--reviews", type=int, default=24, help="pull requests per run, each a full review")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--threads", type=int, default=2, help="job threads per worker process (default 2)")
    args = p.parse_args(argv)
    counts = [int(n) for n in args.processes.split(",")]
    load = os.getloadavg()
    results: dict[int, list[float]] = {n: [] for n in counts}
    for rep in range(args.reps):
        for n in counts if rep % 2 == 0 else reversed(counts):
            results[n].append(jobs_per_minute(n, args.reviews, args.threads))
            print(f"  {n} worker process(es): {results[n][-1]:.0f} jobs/minute", file=sys.stderr)
    one = statistics.median(results[counts[0]])
    lines = ["| worker processes | jobs per minute | PRs per hour | vs one worker process |", "|---:|---:|---:|---:|"]
    for n in counts:
        median = statistics.median(results[n])
        lines.append(f"| {n} | {median:.0f} | {median * 60:.0f} | {median / one:.2f}x |")
    lines.append("")
    lines.append(f"Medians of {args.reps} runs of {args.reviews} pull requests each (every one a full review), "
                 f"the counts alternating; {args.threads} job threads per worker process; {os.cpu_count()} cores; "
                 f"load average when the run started: {load[0]:.2f}.")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
