"""The durable job queue (huey): SQLite in the data dir by default, Redis when REDIS_URL is set.

The web process only enqueues (`enqueue(job)`); consumers run the jobs: threads inside
`python -m bot serve` (one machine) and/or `python -m bot worker` processes (any machine, Redis).
A queued job survives restarts (it is in the database). A job taken by a worker that then died is
lost to huey, but not to us: its pull request stays "running" in the ledger without a live holder,
and the reconciler (a periodic task, also run when a consumer starts) queues it again.

Importing this module builds nothing: `open_queue(settings)` does, at start-up.
"""

from __future__ import annotations

import logging
import re
import threading
import time

from huey import Huey, RedisHuey, crontab
from huey.consumer import Consumer
from huey.storage import RedisStorage, SqliteStorage

from bot import ledger
from bot.app_auth import AppAuth
from bot.isolation import clean_stale_jobs
from bot.jobs import Runtime, reconcile, run_job
from bot.settings import Settings, SettingsError
from bot.store import open_store

log = logging.getLogger("alembic_review.queue")

BUSY_DELAY = 2.0       # seconds before a job that found no free slot is tried again
RETRIES, RETRY_DELAY = 2, 10
POLL_MAX = 0.25        # seconds between an idle SQLite consumer's looks at the queue (huey's max_delay)


class QueueStorage(SqliteStorage):
    """huey's SQLite storage (WAL) with the `synchronous` level of ALEMBIC_REVIEW_SQLITE_SYNCHRONOUS:
    NORMAL by default, like Redis' appendfsync everysec: an acknowledged job survives the process
    being killed; FULL pays an fsync per delivery to survive an OS crash too."""

    def __init__(self, *args, synchronous: str = "NORMAL", **kwargs):
        self._synchronous = synchronous
        super().__init__(*args, **kwargs)

    def _create_connection(self):
        conn = super()._create_connection()
        conn.execute(f"pragma synchronous={self._synchronous}")
        return conn


def make_huey(settings: Settings):
    if settings.redis_url:
        return RedisHuey(settings.queue_name, url=settings.redis_url, results=False)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings.data_dir.chmod(0o700)
    return Huey(settings.queue_name, results=False, storage_class=QueueStorage,
                filename=str(settings.sqlite_path), synchronous=settings.sqlite_synchronous)


def open_queue(settings: Settings) -> JobQueue:
    """At start-up: the queue, with what its jobs need; the queue and the store answer, or one clear
    line (SettingsError)."""
    huey = make_huey(settings)
    where = re.sub(r"//[^@/]*@", "//***@", settings.redis_url) if settings.redis_url else str(settings.data_dir)
    try:
        rt = Runtime(settings=settings, store=open_store(settings), auth=AppAuth(settings))
        rt.store.ping()
        huey.pending_count()
    except Exception as exc:
        raise SettingsError(f"cannot use the queue at {where}: {type(exc).__name__}: {exc}") from None
    return JobQueue(huey, rt)


class JobQueue:
    """The queue as this process uses it: huey with our two tasks, and what the jobs need (rt)."""

    def __init__(self, huey: Huey, rt: Runtime):
        self.huey, self.rt = huey, rt
        # Queued messages name their task by module and name; these are the names the tasks had as
        # module-level functions, so that jobs queued by an older process still run.
        self.review_task = huey.task(retries=RETRIES, retry_delay=RETRY_DELAY, context=True,
                                     name="review_task")(self._review)
        huey.periodic_task(crontab(minute="*"), name="reconcile_task")(self.reconcile_now)

    def enqueue(self, job: ledger.Job) -> None:
        self.review_task(dict(job.as_dict(), queued_at=time.time()))  # from_dict ignores queued_at

    def message(self, job: ledger.Job) -> tuple[str, bytes] | None:
        """On Redis: huey's list and the message its enqueue would push there (huey's enqueue also
        sends its "enqueued" signal: this service connects none), for the store to push along with
        the ledger's change (RedisStore.mutate); None for a SQLite queue."""
        if type(self.huey.storage) is not RedisStorage:  # not its subclass with priorities
            return None
        task = self.review_task.s(dict(job.as_dict(), queued_at=time.time()))
        return self.huey.storage.queue_key, self.huey.serialize_task(task)

    def pending(self) -> int:
        return self.huey.pending_count()

    def _review(self, job_data: dict, task=None):
        job = ledger.Job.from_dict(job_data)
        outcome = run_job(self.rt, job, last_attempt=task is None or task.retries == 0,
                          queued_at=job_data.get("queued_at"))
        if outcome == "busy":
            self.review_task.schedule(args=(job_data,), delay=BUSY_DELAY)
        return None

    def reconcile_now(self) -> int:
        try:
            clean_stale_jobs(self.rt.settings.work_dir, 2 * self.rt.settings.job_timeout + 60)
            return reconcile(self.rt, self.enqueue)
        except Exception as exc:
            log.warning("reconciler failed: %s: %s", type(exc).__name__, exc)
            return 0

    def reconcile_in_background(self) -> None:
        """When a consumer starts: the jobs of workers that died are queued again now, not in a minute."""
        threading.Thread(target=self.reconcile_now, daemon=True, name="startup reconcile").start()

    def consumer(self, workers: int, *, embedded: bool) -> Consumer:
        cls = EmbeddedConsumer if embedded else Consumer
        # an idle SQLite consumer looks for work every POLL_MAX seconds at most (one indexed SELECT);
        # Redis consumers block on the list and wake at once
        return cls(self.huey, workers=workers, worker_type="thread", periodic=True, initial_delay=0.05,
                   backoff=1.5, max_delay=POLL_MAX, check_worker_health=True, shutdown_timeout=30)


class EmbeddedConsumer(Consumer):
    """Consumer threads inside the web process: uvicorn keeps its own signal handling."""

    def _set_signal_handlers(self):
        pass
