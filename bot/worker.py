"""`python -m bot worker`: job consumers without the web endpoint, on any machine that reaches the
queue (REDIS_URL; with SQLite, only on the machine that holds the data dir)."""

from __future__ import annotations

import argparse
import logging
import sys

from bot.service import start

log = logging.getLogger("alembic_review.worker")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot worker", description="Run alembic-review review jobs.")
    parser.add_argument("--workers", type=int, default=2, help="job threads (default 2)")
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    if args.workers < 1:
        print("alembic-review worker: error: --workers must be at least 1", file=sys.stderr)
        return 2
    started = start("worker", args.log_level)
    if started is None:
        return 2
    settings, queue = started.settings, started.queue
    log.info("alembic-review worker: %d job thread(s) on the %s queue %r", args.workers,
             "redis" if settings.redis_url else "sqlite", settings.queue_name)
    consumer = queue.consumer(args.workers, embedded=False)
    queue.reconcile_in_background()
    consumer.run()
    return 0
