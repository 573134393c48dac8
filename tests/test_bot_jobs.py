"""run_job's bookkeeping before any GitHub work, on a real SQLite store: which job waits for a
concurrency slot and which one is dropped at once."""

from __future__ import annotations

from bot import ledger
from bot.app_auth import AppAuth
from bot.jobs import Runtime, run_job
from bot.settings import load
from bot.store import open_store

REPO = "octo/shop"


def runtime(tmp_path) -> Runtime:
    settings = load({"ALEMBIC_REVIEW_DATA_DIR": str(tmp_path / "data"), "ALEMBIC_REVIEW_MAX_JOBS": "1"},
                    need_app=False)
    return Runtime(settings=settings, store=open_store(settings), auth=AppAuth(settings))


def push(rt: Runtime, head: str) -> ledger.Job:
    return ledger.request_review(rt.store, repo=REPO, number=4, installation_id=77, head_sha=head,
                                 base_sha="0" * 40)


def test_a_superseded_job_is_dropped_at_once_while_every_slot_is_taken(tmp_path):
    rt = runtime(tmp_path)
    old, new = push(rt, "a" * 40), push(rt, "b" * 40)
    # another job (alive: this process) holds the only slot
    assert ledger.acquire_slot(rt.store, "global", 1, ledger.new_holder(), ttl=600) == 0

    assert run_job(rt, old) == "superseded"  # not "busy": it must not be re-queued until a slot frees up
    assert rt.store.counters() == {"jobs:dropped": 1}

    assert run_job(rt, new) == "busy"  # the wanted job still waits for its slot
    assert rt.store.counters() == {"jobs:dropped": 1}
    assert rt.store.get(ledger.PULL, new.key)["state"] == "queued"
