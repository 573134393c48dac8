"""Redis storage: the web process only queues (`serve --workers 0`), two `python -m bot worker`
processes share the jobs, and every job is done exactly once."""

from __future__ import annotations

import re
import time

import pytest
import redis
import requests

from tests.bot_service import INSTALLATION, Service, pull_request_event, wait_for
from tests.fakegithub import fake_github  # noqa: F401  (fixture)

REDIS_URL = "redis://127.0.0.1:6379/0"
JOBS = 50


@pytest.fixture
def service(tmp_path, fake_github):
    client = redis.Redis.from_url(REDIS_URL)
    client.ping()  # Redis must be there: fail, not skip
    svc = Service(tmp_path, fake_github, redis_url=REDIS_URL)
    yield svc
    svc.close()
    for pattern in (svc.queue, svc.queue.replace("-", "")):  # huey drops the dash from its keys
        for key in client.scan_iter(f"*{pattern}*"):
            client.delete(key)


def test_two_workers_share_fifty_jobs_each_done_once(service, fake_github):
    service.serve(workers=0)
    workers = [service.worker(workers=2), service.worker(workers=2)]
    repos = [f"octo/svc{i % 5}" for i in range(JOBS)]
    heads = {}
    for i, repo in enumerate(repos):
        fake_github.add_repo(repo).installation_id = INSTALLATION
        pull = fake_github.add_pull(repo, 100 + i, files={f"app/m{i}.py": (None, f"x = {i}\n")})
        heads[(repo, 100 + i)] = pull["head_sha"]
    started = time.monotonic()
    for (repo, number), head in heads.items():
        answer = service.send("pull_request", pull_request_event(repo, number, head, "b" * 40))
        assert answer.status_code == 202 and answer.json()["result"] == "queued"

    def all_completed():
        return all(any(r["status"] == "completed" for r in fake_github.check_runs_for(repo, head))
                   for (repo, _), head in heads.items())
    wait_for(all_completed, 180, interval=0.5, what="all 50 checks")
    elapsed = time.monotonic() - started

    creates = fake_github.calls("POST", r"/check-runs$")
    assert sorted(c.body["head_sha"] for c in creates) == sorted(heads.values())  # one run per job, no more
    for (repo, _), head in heads.items():
        [run] = fake_github.check_runs_for(repo, head)
        assert run["conclusion"] == "success"
    count = lambda: [len(re.findall(r"job \S+ completed", w.output())) for w in workers]
    done_by = wait_for(lambda: sum(count()) >= JOBS and count(), 30, what="the workers' logs")
    assert sum(done_by) == JOBS and all(n > 0 for n in done_by), done_by  # both took a share
    metrics = requests.get(service.url + "/metrics", timeout=5).text
    assert f'alembic_review_jobs_total{{outcome="completed"}} {JOBS}' in metrics
    assert 'outcome="dropped"' not in metrics and 'outcome="failed"' not in metrics
    print(f"50 jobs on 2 workers x 2 threads: {elapsed:.1f}s, {JOBS / elapsed * 60:.0f} jobs/minute; split {done_by}")


def test_on_redis_each_delivery_is_one_job_and_a_killed_web_process_loses_none(service, fake_github):
    web = service.serve(workers=0)  # no job threads: the queue shows what was queued
    repo, head, base = "octo/once", "c" * 40, "d" * 40
    fake_github.add_repo(repo).installation_id = INSTALLATION
    fake_github.add_pull(repo, 9, files={"app/m.py": (None, "x = 1\n")}, head_sha=head, base_sha=base)
    event = pull_request_event(repo, 9, head, base)
    answers = [service.send("pull_request", event, delivery="delivery-1") for _ in range(2)]
    assert [(a.status_code, a.json()["result"]) for a in answers] == [(202, "queued"), (200, "duplicate")]
    assert service.send("pull_request", dict(event, action="reopened")).json()["result"] == "already-queued"
    rerun = {"action": "rerequested", "repository": {"full_name": repo}, "installation": {"id": INSTALLATION},
             "check_suite": {"head_sha": head, "app": {"id": 4242}, "pull_requests": [{"number": 9}]}}
    results = [service.send("check_suite", rerun).json()["result"] for _ in range(3)]  # new delivery ids
    assert results == ["queued", "already-queued", "already-queued"]
    assert requests.get(service.url + "/healthz", timeout=5).json()["pending"] == 2

    web.kill()  # acknowledged deliveries are in Redis, not in the web process
    service.serve(workers=0)
    service.worker(workers=2)
    wait_for(lambda: [r for r in fake_github.check_runs_for(repo, head) if r["status"] == "completed"], 60,
             what="the check")
    # the first job was for a generation the re-run replaced: dropped, one check run in all
    def metrics_once_dropped():
        text = requests.get(service.url + "/metrics", timeout=5).text
        return text if 'alembic_review_jobs_total{outcome="dropped"} 1' in text else None
    metrics = wait_for(metrics_once_dropped, 30, what="the dropped job")
    assert 'alembic_review_jobs_total{outcome="enqueued"} 2' in metrics
    assert len(fake_github.calls("POST", r"/check-runs$")) == 1
