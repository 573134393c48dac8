"""Start-up shared by `python -m bot serve` and `python -m bot worker`: logging, the settings, the
queue and the sandbox probe. Anything wrong there is one line on stderr and exit code 2.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass

from bot import isolation
from bot.queue import JobQueue, open_queue
from bot.settings import Settings, SettingsError, load

log = logging.getLogger("alembic_review.webhook")  # the name these lines have always had in the logs


@dataclass
class Started:
    settings: Settings
    queue: JobQueue
    sandbox_lines: list[str]  # what the sandbox enforces, for /healthz


def start(command: str, log_level: str) -> Started | None:
    """What a command needs before it takes work; None once the reason is on stderr."""
    setup_logging(log_level)
    try:
        settings = load()
        settings.read_private_key()
        queue = open_queue(settings)
        isolation.precompile_reviewer()
        lines = check_sandbox(settings)
    except SettingsError as exc:
        print(f"alembic-review {command}: error: {exc}", file=sys.stderr)
        return None
    return Started(settings, queue, lines)


def setup_logging(level: str) -> None:
    logging.basicConfig(level=getattr(logging, level.upper(), logging.INFO), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("huey").setLevel(logging.WARNING)


def check_sandbox(settings: Settings) -> list[str]:
    """Probe the sandbox as a job would use it; exit 2 if our secrets can be reached from it."""
    result = isolation.probe(settings)
    for line in result["lines"]:
        log.info("sandbox: %s", line)
    if not result["ok"]:
        raise SettingsError("the sandbox does not keep revisions away from our secrets: "
                            + "; ".join(result["lines"][-6:]))
    if settings.private_key_path and settings.private_key_path.stat().st_mode & 0o077:
        log.warning("GITHUB_PRIVATE_KEY_PATH %s is readable by group/others: chmod 600 it",
                    settings.private_key_path)
    return result["lines"]
