"""Faults around a job, against the real service and the fake GitHub: GitHub failing after the check
run was created, GitHub hanging, the worker killed while a revision renders."""

from __future__ import annotations

import os
import signal

import pytest

from bot.isolation import kill_uid
from tests.bot_service import PullRequest, wait_for
from tests.bot_service import service  # noqa: F401  (fixture)
from tests.fakegithub import fake_github  # noqa: F401  (fixture)

REPO = "octo/faults"
RISKY = 'op.create_index("ix_users_email", "users", ["email"])'
SAFE_DOWN = 'op.drop_index("ix_users_email", table_name="users")'


def risky_pr(tmp_path, fake, number: int, upgrade: str = RISKY) -> PullRequest:
    pr = PullRequest(tmp_path, fake, REPO, number)
    pr.add_revision("0002", "0001", upgrade, downgrade=SAFE_DOWN)
    pr.commit()
    return pr


def test_check_run_left_in_progress_by_a_github_outage_concludes_when_github_is_back(service, fake_github, tmp_path):
    first = service.serve(workers=1)
    pr = risky_pr(tmp_path, fake_github, 1)
    # GitHub takes the in-progress run, then fails every attempt to conclude it
    fake_github.fail("PATCH", r"/check-runs/\d+$", 502, times=10_000)
    assert pr.open(service).status_code == 202
    wait_for(lambda: "left in progress" in first.output(), 120, what=f"the job's last attempt:\n{first.output()}")
    [run] = fake_github.check_runs_for(REPO, pr.head)
    assert run["status"] == "in_progress"
    assert "completed: success" not in first.output()  # the job does not claim a success it could not publish

    fake_github.recover()
    first.stop()
    second = service.serve(workers=1)  # starting, the service concludes the runs earlier jobs left open
    [run] = wait_for(lambda: [r for r in fake_github.check_runs_for(REPO, pr.head) if r["status"] == "completed"],
                     60, what=f"the run to be concluded:\n{second.output()}")
    # the verdict the job reached, not a generic failure
    assert run["conclusion"] == "failure"
    assert "require-concurrent-index-creation" in run["output"]["summary"]
    assert not fake_github.repos[REPO].statuses  # the run itself, not a commit status standing in


def test_a_hanging_github_cannot_stretch_a_job_past_its_deadline(service, fake_github, tmp_path):
    service.env["ALEMBIC_REVIEW_JOB_TIMEOUT"] = "5"
    proc = service.serve(workers=1)
    pr = risky_pr(tmp_path, fake_github, 2)
    fake_github.hang("GET", r"/pulls/\d+/files", seconds=600)  # longer than this test waits
    assert pr.open(service).status_code == 202
    [run] = wait_for(lambda: [r for r in fake_github.check_runs_for(REPO, pr.head) if r["status"] == "completed"],
                     60, what=f"the check to conclude:\n{proc.output()}")
    assert run["conclusion"] == "timed_out"
    assert "deadline" in run["output"]["summary"]
    fake_github.recover()


def _uid_processes(uids: range) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid in uids:
                    pids.append(int(entry))
            except OSError:
                pass
    return pids


def _cpu_seconds(pid: int) -> float:
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox gives each job a uid of its own only as root")
def test_render_processes_die_with_a_killed_worker(service, fake_github, tmp_path):
    base = int(service.env["ALEMBIC_REVIEW_SANDBOX_UID_BASE"])
    uids = range(base, base + 4)
    proc = service.serve(workers=1)
    pr = risky_pr(tmp_path, fake_github, 3, upgrade="while True:\n    pass")
    try:
        assert pr.open(service).status_code == 202
        # the revision's loop is running (a render process that merely started would end on its own,
        # reading the end of its request pipe)
        wait_for(lambda: any(_cpu_seconds(pid) > 1.5 for pid in _uid_processes(uids)), 120,
                 what=f"the revision's loop:\n{proc.output()}")
        os.kill(proc.proc.pid, signal.SIGKILL)  # the worker alone, not its process group
        proc.proc.wait(timeout=30)
        wait_for(lambda: not _uid_processes(uids), 20, what="the render processes to die with the worker")
    finally:
        for uid in uids:
            kill_uid(uid)


FORKS_ALLOCATING = '''
import os, time
for _ in range(4):
    if os.fork() == 0:
        data = b"x" * (200 * 1024 * 1024)
        time.sleep(120)
        os._exit(0)
time.sleep(120)
'''


@pytest.mark.skipif(os.geteuid() != 0, reason="the job's memory is counted over its own uid, given only as root")
def test_memory_is_bounded_per_job_not_per_process(service, fake_github, tmp_path):
    # each fork stays far below the 2 GiB per-process limit; together they pass the job's 400 MiB
    service.env["ALEMBIC_REVIEW_JOB_MEMORY_MB"] = "400"
    base = int(service.env["ALEMBIC_REVIEW_SANDBOX_UID_BASE"])
    proc = service.serve(workers=1)
    pr = risky_pr(tmp_path, fake_github, 4, upgrade=FORKS_ALLOCATING)
    assert pr.open(service).status_code == 202
    [run] = wait_for(lambda: [r for r in fake_github.check_runs_for(REPO, pr.head) if r["status"] == "completed"],
                     90, what=f"the check to conclude:\n{proc.output()}")
    assert run["conclusion"] == "failure"
    assert "more than 400 MiB of memory together" in run["output"]["summary"], run["output"]["summary"]
    assert not _uid_processes(range(base, base + 4))


def test_a_job_within_its_memory_passes(service, fake_github, tmp_path):
    service.env["ALEMBIC_REVIEW_JOB_MEMORY_MB"] = "400"
    proc = service.serve(workers=1)
    pr = risky_pr(tmp_path, fake_github, 5)
    assert pr.open(service).status_code == 202
    [run] = wait_for(lambda: [r for r in fake_github.check_runs_for(REPO, pr.head) if r["status"] == "completed"],
                     90, what=f"the check to conclude:\n{proc.output()}")
    assert "require-concurrent-index-creation" in run["output"]["summary"]
