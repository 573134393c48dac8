"""The store's step for a webhook delivery (store.mutate with Effects), on real SQLite and real
Redis with real huey queues: the delivery id, the pull request's record, the job counter and the
queued job change together or not at all."""

from __future__ import annotations

import sqlite3
import uuid

import pytest
import redis

from bot import ledger
from bot.queue import open_queue
from bot.settings import load
from bot.store import DUPLICATE, Effects

REDIS_URL = "redis://127.0.0.1:6379/0"
REPO = "octo/store"


@pytest.fixture(params=["sqlite", "redis"])
def queue(request, tmp_path):
    env = {"ALEMBIC_REVIEW_DATA_DIR": str(tmp_path / "data"),
           "ALEMBIC_REVIEW_QUEUE": "teststore" + uuid.uuid4().hex[:12]}  # no dash: huey drops them from its keys
    if request.param == "redis":
        env["REDIS_URL"] = REDIS_URL
    q = open_queue(load(env, need_app=False))
    yield q
    if request.param == "redis":
        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(f"*{env['ALEMBIC_REVIEW_QUEUE']}*"):
            client.delete(key)


def deliver(q, delivery: str, head: str):
    """What the webhook does with a pull_request delivery asking for a review."""
    effects = Effects(once=("delivery", delivery, 3600), counter="jobs:enqueued", enqueue=q.enqueue, message=q.message)
    return ledger.request_review(q.rt.store, repo=REPO, number=7, installation_id=77, head_sha=head,
                                 base_sha="0" * 40, effects=effects)


def test_one_job_per_head_however_often_it_is_delivered(queue):
    store = queue.rt.store
    job = deliver(queue, "d-1", "a" * 40)
    assert isinstance(job, ledger.Job) and job.gen == 1
    assert deliver(queue, "d-1", "a" * 40) is DUPLICATE       # the same delivery again
    assert deliver(queue, "d-2", "a" * 40) is None            # another delivery of the same head
    assert queue.pending() == 1 and store.counters() == {"jobs:enqueued": 1}
    assert store.get(ledger.PULL, job.key)["state"] == "queued"

    newer = deliver(queue, "d-3", "b" * 40)
    assert newer.gen == 2 and queue.pending() == 2 and store.counters() == {"jobs:enqueued": 2}
    assert ledger.verdict(store, job, lease=60) == "superseded"  # the worker drops the old head's job
    assert ledger.verdict(store, newer, lease=60) == "run"


def test_a_job_that_cannot_be_queued_leaves_the_delivery_unseen(queue):
    store = queue.rt.store
    if queue.rt.settings.redis_url:  # huey's list is not a list: the push fails
        redis.Redis.from_url(REDIS_URL).set(queue.huey.storage.queue_key, b"not a list")
        error = redis.ResponseError
    else:  # huey's table is gone: the insert fails
        sqlite3.connect(queue.rt.settings.sqlite_path).execute("DROP TABLE task")
        error = sqlite3.OperationalError
    with pytest.raises(error):
        deliver(queue, "d-1", "a" * 40)
    assert store.counters().get("jobs:enqueued", 0) == 0
    if queue.rt.settings.redis_url:  # one script: the record is as it was
        assert store.get(ledger.PULL, ledger.pull_key(REPO, 7)) is None
    assert store.first_time("delivery", "d-1", 3600)  # GitHub's redelivery will be taken, not a duplicate


@pytest.mark.parametrize("queue", ["redis"], indirect=True)
def test_a_record_changed_between_read_and_write_is_read_again(queue):
    """Redis gives the record to fn, then writes what fn made of it: a change in between (a worker
    claiming the job, another web process) is not overwritten, fn is given the record again."""
    store = queue.rt.store
    job = deliver(queue, "d-1", "a" * 40)
    seen = []

    def fn(rec):
        seen.append(rec and (rec["head_sha"], rec["gen"]))
        if rec and rec["head_sha"] == "a" * 40:  # meanwhile, another web process takes a newer head
            ledger.request_review(store, repo=REPO, number=7, installation_id=77, head_sha="c" * 40, base_sha="0" * 40)
        return (dict(rec, note="mine") if rec else {"note": "mine"}), None

    effects = Effects(once=("delivery", "d-2", 3600), counter="jobs:enqueued", enqueue=queue.enqueue,
                      message=queue.message)
    assert store.mutate(ledger.PULL, job.key, fn, effects) is None
    assert seen[-2:] == [("a" * 40, 1), ("c" * 40, 2)]
    rec = store.get(ledger.PULL, job.key)
    assert (rec["head_sha"], rec["gen"], rec["note"]) == ("c" * 40, 2, "mine")
    assert not store.first_time("delivery", "d-2", 3600)  # remembered with the change
