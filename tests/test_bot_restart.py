"""The service is killed in the middle of a job (SIGKILL: no chance to clean up) and started again:
the job is done again and the check completes."""

from __future__ import annotations

import time


from tests.bot_service import PullRequest, wait_for
from tests.bot_service import service  # noqa: F401  (fixture)
from tests.fakegithub import fake_github  # noqa: F401  (fixture)

REPO = "octo/slow"
# the revision takes a while to render: long enough to kill the service while it runs
SLOW = 'import time\ntime.sleep(4)\nop.create_index("ix_users_email", "users", ["email"])'


def test_killed_mid_job_then_restarted_the_check_still_completes(service, fake_github, tmp_path):
    # one slot in all: the dead worker's slot must be freed at once, not after the 90 s lease
    service.env.update(ALEMBIC_REVIEW_MAX_JOBS="1", ALEMBIC_REVIEW_MAX_JOBS_PER_REPO="1",
                       # the killed job's directory stays behind: keep it where pytest cleans up
                       ALEMBIC_REVIEW_WORK_DIR=str(tmp_path / "work"))
    first = service.serve(workers=1)
    pr = PullRequest(tmp_path, fake_github, REPO, 5)
    pr.add_revision("0002", "0001", SLOW, downgrade='op.drop_index("ix_users_email", table_name="users")')
    head = pr.commit()
    assert pr.open(service).status_code == 202

    # mid-job: the check run is in progress and the code has been fetched (the reviewer is running)
    # (the base's tarball, into the repository cache, and the changed file: `git/blobs`)
    wait_for(lambda: fake_github.calls("GET", r"/_codeload/") and fake_github.calls("GET", r"/git/blobs/"), 60,
             what="the code to be fetched")
    [run] = fake_github.check_runs_for(REPO, head)
    assert run["status"] == "in_progress"
    first.kill()
    assert fake_github.check_runs_for(REPO, head)[0]["status"] == "in_progress"

    restarted = time.monotonic()
    second = service.serve(workers=1)  # same data dir: the ledger knows the job's worker is gone
    done = wait_for(lambda: [r for r in fake_github.check_runs_for(REPO, head) if r["status"] == "completed"],
                    120, what=f"the check to complete after the restart:\n{second.output()}")
    assert time.monotonic() - restarted < 60
    assert [r["id"] for r in done] == [run["id"]]  # the same check run, completed
    assert done[0]["conclusion"] == "failure" and "require-concurrent-index-creation" in done[0]["output"]["summary"]
    assert "queued again" in second.output()
    assert len(fake_github.comments_on(REPO, 5)) == 1
