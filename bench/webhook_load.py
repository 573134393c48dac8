"""Load test of the webhook service: N signed `pull_request` deliveries sent concurrently, then the
time until every job has completed.

Against a service you run (its deliveries name pull requests it will look up on its GitHub):

    python -m bench.webhook_load --url http://127.0.0.1:8080 --secret "$GITHUB_WEBHOOK_SECRET" -n 500 -c 50

Self-contained (starts the fake GitHub server of the test suite and `python -m bot serve`, or with
--redis a web process plus `python -m bot worker` processes; every delivery is a real pull
request the jobs look up, check and conclude):

    python -m bench.webhook_load --local -n 500 -c 50 [--redis --workers 2] [--reviews 20]

Reports acknowledgement latency (client side: request sent to 202 received) p50/p90/p99/max, the
delivery rate, and jobs per minute from the service's /metrics (jobs completed over the time from
the first delivery to the last completion). --reviews K makes K of the pull requests add an
Alembic revision, so those jobs fetch the code and run the full sandboxed review.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import http.client
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import requests

if __package__ in (None, ""):  # `python bench/webhook_load.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def completed_jobs(url: str) -> int:
    text = requests.get(url + "/metrics", timeout=10).text
    m = re.search(r'^alembic_review_jobs_total\{outcome="completed"\} (\d+)', text, re.M)
    return int(m.group(1)) if m else 0


def send_all(url: str, secret: str, events: list[dict], concurrency: int) -> tuple[list[float], list[int], float]:
    """Each delivery signed and sent by one of `concurrency` threads, on a keep-alive connection of
    its own (http.client: the client's own CPU per request, GIL included, stays small next to the
    service's; requests took about as much CPU as the service itself)."""
    local = threading.local()
    target = urlsplit(url)
    bodies = [json.dumps(event).encode() for event in events]

    def send(body: bytes) -> tuple[float, int]:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
        signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        headers = {"X-GitHub-Event": "pull_request", "X-GitHub-Delivery": str(uuid.uuid4()),
                   "X-Hub-Signature-256": signature, "Content-Type": "application/json"}
        started = time.perf_counter()
        conn.request("POST", target.path.rstrip("/") + "/webhook", body=body, headers=headers)
        resp = conn.getresponse()
        resp.read()
        return time.perf_counter() - started, resp.status

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(send, bodies))
    return [r[0] for r in results], [r[1] for r in results], time.perf_counter() - started


def report(latencies: list[float], statuses: list[int], send_seconds: float, jobs: int | None,
           job_seconds: float | None) -> str:
    ms = [x * 1000 for x in latencies]
    lines = [f"deliveries: {len(ms)} ({statuses.count(202)} answered 202, others: "
             f"{sorted(set(s for s in statuses if s != 202)) or 'none'})",
             f"ack latency ms: p50 {percentile(ms, 50):.1f}  p90 {percentile(ms, 90):.1f}  "
             f"p99 {percentile(ms, 99):.1f}  max {max(ms):.1f}  mean {statistics.mean(ms):.1f}",
             f"delivery rate: {len(ms) / send_seconds:.0f}/s"]
    if jobs is not None and job_seconds:
        lines.append(f"jobs: {jobs} completed in {job_seconds:.1f}s = {jobs / job_seconds * 60:.0f} jobs/minute")
    return "\n".join(lines)


def wait_jobs(url: str, target: int, timeout: float) -> int:
    end = time.monotonic() + timeout
    done = completed_jobs(url)
    while done < target and time.monotonic() < end:
        time.sleep(0.2)
        done = completed_jobs(url)
    return done


def run_remote(args) -> int:
    from tests.bot_service import pull_request_event

    events = [pull_request_event(args.repo, 1_000_000 + i, uuid.uuid4().hex + "0" * 8, "0" * 40)
              for i in range(args.n)]
    before = completed_jobs(args.url)
    start = time.monotonic()
    latencies, statuses, send_seconds = send_all(args.url, args.secret, events, args.concurrency)
    done = wait_jobs(args.url, before + args.n, args.timeout) - before if args.wait else None
    print(report(latencies, statuses, send_seconds, done, time.monotonic() - start if args.wait else None))
    return 0


def fixture(args) -> int:
    """The --local service side, in a process of its own so the load client does not share a GIL
    with the fake GitHub: start everything, write the deliveries to send, wait for stdin to close."""
    from tests.bot_service import INSTALLATION, PullRequest, Service, pull_request_event
    from tests.fakegithub import FakeGitHub

    tmp = Path(tempfile.mkdtemp(prefix="webhook-load-"))
    fake = FakeGitHub().start()
    service = Service(tmp, fake, redis_url="redis://127.0.0.1:6379/0" if args.redis else None)
    try:
        if args.phased:  # web process alone first; the workers start once every delivery is in
            service.serve(workers=0)
        elif args.redis:
            service.serve(workers=0)
            for _ in range(args.worker_processes):
                service.worker(workers=args.workers)
        else:
            service.serve(workers=args.workers)
        events = []
        for i in range(args.reviews):  # full reviews: a revision each, code fetched and rendered
            pr = PullRequest(tmp, fake, f"load/review{i % 4}", 10_000 + i)
            pr.add_revision("0002", "0001", 'op.create_index("ix_users_email", "users", ["email"])',
                            downgrade='op.drop_index("ix_users_email", table_name="users")')
            pr.commit()
            fake.add_repo(pr.repo_name).installation_id = INSTALLATION
            fake.add_pull(pr.repo_name, pr.number, files=pr.files, head_sha=pr.head, base_sha=pr.base)
            events.append(pull_request_event(pr.repo_name, pr.number, pr.head, pr.base))
        for i in range(args.n - args.reviews):  # pull requests that touch no migration
            name = f"load/app{i % 10}"
            fake.add_repo(name).installation_id = INSTALLATION
            pull = fake.add_pull(name, i + 1, files={f"app/m{i}.py": (None, f"x = {i}\n")})
            events.append(pull_request_event(name, i + 1, pull["head_sha"], pull["base_sha"]))
        (tmp / "events.json").write_text(json.dumps(events))
        print(json.dumps({"url": service.url, "secret": service.env["GITHUB_WEBHOOK_SECRET"],
                          "events": str(tmp / "events.json")}), flush=True)
        for line in sys.stdin:
            if line.strip() == "cpu":  # the web process' CPU seconds so far (user + system)
                print(json.dumps(cpu_seconds(service.procs[0].proc.pid)), flush=True)
            if line.strip() == "workers":
                for _ in range(args.worker_processes):
                    service.worker(workers=args.workers)
                print("started", flush=True)
        return 0
    finally:
        service.close()
        fake.stop()
        shutil.rmtree(tmp, ignore_errors=True)
        if args.redis:
            import redis
            client = redis.Redis.from_url("redis://127.0.0.1:6379/0")
            for key in client.scan_iter(f"*{service.queue}*"):
                client.delete(key)


def web_cpu(child) -> float:
    child.stdin.write("cpu\n")
    child.stdin.flush()
    return json.loads(child.stdout.readline())


def run_local(args) -> int:
    import subprocess

    cmd = [sys.executable, "-m", "bench.webhook_load", "--fixture", "-n", str(args.n), "--reviews", str(args.reviews),
           "--workers", str(args.workers), "--worker-processes", str(args.worker_processes)]
    if args.redis:
        cmd.append("--redis")
    if args.phased:
        cmd.append("--phased")
    child = subprocess.Popen(cmd, cwd=Path(__file__).resolve().parent.parent, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    try:
        info = json.loads(child.stdout.readline())
        events = json.loads(Path(info["events"]).read_text())
        cpu_before = web_cpu(child)
        start = time.monotonic()
        latencies, statuses, send_seconds = send_all(info["url"], info["secret"], events, args.concurrency)
        web_cpu_ms = (web_cpu(child) - cpu_before) * 1000 / len(events)
        if args.phased:
            child.stdin.write("workers\n")
            child.stdin.flush()
            assert child.stdout.readline().strip() == "started"
            start = time.monotonic()  # jobs/minute from the moment the workers run
        done = wait_jobs(info["url"], len(events), args.timeout)
        elapsed = time.monotonic() - start
        server_side = requests.get(info["url"] + "/metrics", timeout=10).text
    finally:
        child.stdin.close()
        child.wait(timeout=120)
    mode = (f"{'redis' if args.redis else 'sqlite'}, web process alone, then {args.worker_processes} worker "
            f"process(es) x {args.workers} threads" if args.phased else
            f"redis, web process + {args.worker_processes} worker process(es) x {args.workers} threads"
            if args.redis else f"sqlite, one process with {args.workers} job threads")
    print(f"local run ({mode}; {args.reviews} full reviews, {len(events) - args.reviews} without migrations; "
          f"concurrency {args.concurrency})")
    print(report(latencies, statuses, send_seconds, done, elapsed))
    print(f"web process CPU per delivery: {web_cpu_ms:.2f} ms{'' if args.phased else ' (jobs included)'}; "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    buckets = re.findall(r'alembic_review_webhook_ack_seconds_bucket\{le="([^"]+)"\} (\d+)', server_side)
    total = int(buckets[-1][1]) if buckets else 0
    under = next((int(n) for le, n in buckets if le == "0.05"), 0)
    if total:
        print(f"server side: {under}/{total} deliveries answered within 50 ms")
    return 0 if done >= len(events) else 1


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.webhook_load", description=__doc__.split("\n\n")[0])
    p.add_argument("-n", type=int, default=500, help="deliveries (default 500)")
    p.add_argument("-c", "--concurrency", type=int, default=50, help="requests in flight (default 50)")
    p.add_argument("--timeout", type=float, default=600, help="seconds to wait for the jobs")
    p.add_argument("--url", help="a running service")
    p.add_argument("--secret", help="its webhook secret")
    p.add_argument("--repo", default="octo/load", help="with --url: owner/name the deliveries name")
    p.add_argument("--wait", action="store_true", help="with --url: wait for the jobs (needs them to succeed)")
    p.add_argument("--local", action="store_true", help="start the fake GitHub and the service here")
    p.add_argument("--redis", action="store_true", help="with --local: Redis queue and worker processes")
    p.add_argument("--workers", type=int, default=2, help="job threads per process (default 2)")
    p.add_argument("--worker-processes", type=int, default=2, help="with --redis (default 2)")
    p.add_argument("--reviews", type=int, default=0, help="with --local: deliveries that need a full review")
    p.add_argument("--phased", action="store_true",
                   help="with --local: all deliveries to the web process alone, then start the workers "
                        "(ack latency without jobs competing for the CPU; jobs/minute from the workers' start)")
    p.add_argument("--fixture", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.fixture:
        return fixture(args)
    if args.local:
        return run_local(args)
    if not (args.url and args.secret):
        p.error("give --url and --secret, or --local")
    return run_remote(args)


if __name__ == "__main__":
    sys.exit(main())
