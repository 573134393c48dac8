"""The durable job queue (huey): SQLite in the data dir by default, Redis when REDIS_URL is set.

The web process only enqueues (`enqueue(job)`); consumers run the jobs: threads inside
`python -m bot serve` (one machine) and/or `python -m bot worker` processes (any machine, Redis).
A queued job survives restarts (it is in the database). A job taken by a worker that then died is
lost to huey, but not to us: its pull request stays "running" in the ledger without a live holder,
and the reconciler (a periodic task, also run when a consumer starts) queues it again.
"""

from __future__ import annotations

import logging
import re
import threading

from huey import Huey, RedisHuey, crontab
from huey.consumer import Consumer
from huey.storage import SqliteStorage

from bot import ledger
from bot.settings import Settings, load

log = logging.getLogger("alembic_review.queue")

BUSY_DELAY = 2.0       # seconds before a job that found no free slot is tried again
RETRIES, RETRY_DELAY = 2, 10


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


SETTINGS = load(need_app=False)  # where the queue is; the App's credentials are checked by the commands
huey = make_huey(SETTINGS)

_runtime = None
_runtime_lock = threading.Lock()


def runtime():
    """What jobs need in this process (settings, store, App auth), built once on first use."""
    global _runtime
    with _runtime_lock:
        if _runtime is None:
            from bot.app_auth import AppAuth
            from bot.jobs import Runtime
            from bot.store import open_store

            settings = load()
            _runtime = Runtime(settings=settings, store=open_store(settings), auth=AppAuth(settings))
        return _runtime


def check_reachable() -> None:
    """At start-up: the queue and the store answer, or one clear line (SettingsError)."""
    from bot.settings import SettingsError

    where = re.sub(r"//[^@/]*@", "//***@", SETTINGS.redis_url) if SETTINGS.redis_url else str(SETTINGS.data_dir)
    try:
        runtime().store.ping()
        huey.pending_count()
    except Exception as exc:
        raise SettingsError(f"cannot use the queue at {where}: {type(exc).__name__}: {exc}") from None


def enqueue(job: ledger.Job) -> None:
    review_task(job.as_dict())


@huey.task(retries=RETRIES, retry_delay=RETRY_DELAY, context=True)
def review_task(job_data: dict, task=None):
    from bot.jobs import run_job

    job = ledger.Job.from_dict(job_data)
    outcome = run_job(runtime(), job, last_attempt=task is None or task.retries == 0)
    if outcome == "busy":
        review_task.schedule(args=(job_data,), delay=BUSY_DELAY)
    return None


def reconcile_now() -> int:
    from bot.isolation import clean_stale_jobs
    from bot.jobs import reconcile

    try:
        rt = runtime()
        clean_stale_jobs(rt.settings.work_dir, 2 * rt.settings.job_timeout + 60)
        return reconcile(rt, enqueue)
    except Exception as exc:
        log.warning("reconciler failed: %s: %s", type(exc).__name__, exc)
        return 0


@huey.periodic_task(crontab(minute="*"))
def reconcile_task():
    reconcile_now()


class EmbeddedConsumer(Consumer):
    """Consumer threads inside the web process: uvicorn keeps its own signal handling."""

    def _set_signal_handlers(self):
        pass


def consumer(workers: int, *, embedded: bool) -> Consumer:
    cls = EmbeddedConsumer if embedded else Consumer
    return cls(huey, workers=workers, worker_type="thread", periodic=True, initial_delay=0.05,
               backoff=1.5, max_delay=1.0, check_worker_health=True, shutdown_timeout=30)
