"""The webhook service's configuration, read once from the environment.

GitHub App: GITHUB_APP_ID, GITHUB_PRIVATE_KEY (PEM text) or GITHUB_PRIVATE_KEY_PATH,
GITHUB_WEBHOOK_SECRET, GITHUB_API_URL (https://api.github.com; https://HOST/api/v3 on GHES).
Queue: REDIS_URL (when set: Redis storage, workers on any machine; else SQLite in the data dir).
Everything else has a default; see docs/webhook-service.md.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_API_URL = "https://api.github.com"
GITHUB_MAX_PAYLOAD = 25 * 1024 * 1024  # GitHub caps webhook payloads at 25 MB


class SettingsError(Exception):
    """A missing or malformed setting: the service says which one, in one line, and exits 2."""


def _default_data_dir() -> Path:
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "alembic-review"


def _int(env: dict, name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, not {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, not {value}")
    return value


def _float(env: dict, name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number of seconds, not {raw!r}") from None
    if value <= 0:
        raise SettingsError(f"{name} must be positive, not {raw}")
    return value


def _choice(env: dict, name: str, choices: tuple[str, ...]) -> str:
    value = env.get(name, "").strip().upper() or choices[0]
    if value not in choices:
        raise SettingsError(f"{name} must be one of {', '.join(choices)}, not {value!r}")
    return value


@dataclass(frozen=True)
class Settings:
    app_id: str
    private_key: str | None          # PEM text, when given inline
    private_key_path: Path | None
    webhook_secret: str
    api_url: str
    redis_url: str | None
    queue_name: str
    data_dir: Path
    work_dir: Path                   # job checkouts (the sandbox must be able to traverse it)
    check_name: str
    max_body_bytes: int
    job_timeout: float               # seconds for a whole job, fetch to publish
    max_jobs: int                    # running jobs at once, all workers together
    max_jobs_per_repo: int
    lease_seconds: float             # a running job whose worker was silent this long is redone
    max_tarball_bytes: int
    sandbox_uid_base: int            # job N's revisions run as uid/gid base+N (when the service is root)
    sqlite_synchronous: str          # NORMAL (survives a killed process) or FULL (also an OS crash)
    publish_window: float = 86400.0  # seconds a check run's conclusion is retried while GitHub fails
    job_memory_bytes: int = 2 * 1024 ** 3  # memory (PSS) of a job's sandboxed processes together
    max_inflight_bytes: int = 4 * GITHUB_MAX_PAYLOAD  # webhook bodies being received, all together
    cached_repos: int = 20           # repositories whose base branch a work dir keeps (0: none)

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "queue.db"

    @property
    def state_path(self) -> Path:
        return self.data_dir / "state.db"

    def read_private_key(self) -> str:
        if self.private_key:
            return self.private_key
        assert self.private_key_path is not None
        try:
            return self.private_key_path.read_text(encoding="utf-8")
        except OSError as exc:
            raise SettingsError(f"GITHUB_PRIVATE_KEY_PATH: cannot read {self.private_key_path}: "
                                f"{exc.strerror or exc}") from None


def load(env: dict | None = None, *, need_app: bool = True) -> Settings:
    """Settings from `env` (default os.environ). need_app=False for tools that only queue."""
    env = dict(os.environ if env is None else env)
    app_id = env.get("GITHUB_APP_ID", "").strip()
    key = env.get("GITHUB_PRIVATE_KEY", "").strip() or None
    key_path = env.get("GITHUB_PRIVATE_KEY_PATH", "").strip() or None
    secret = env.get("GITHUB_WEBHOOK_SECRET", "")
    if need_app:
        if not app_id.isdigit():
            raise SettingsError("GITHUB_APP_ID must be set to the App's numeric id")
        if not key and not key_path:
            raise SettingsError("set GITHUB_PRIVATE_KEY (PEM text) or GITHUB_PRIVATE_KEY_PATH")
        if not secret:
            raise SettingsError("GITHUB_WEBHOOK_SECRET must be set (the App's webhook secret)")
    if key and "\\n" in key and "\n" not in key:  # PEM squeezed onto one line, as some env files do
        key = key.replace("\\n", "\n")
    data_dir = Path(env.get("ALEMBIC_REVIEW_DATA_DIR") or _default_data_dir())
    work_dir = Path(env.get("ALEMBIC_REVIEW_WORK_DIR") or "/tmp/alembic-review-work")
    return Settings(
        app_id=app_id,
        private_key=key,
        private_key_path=Path(key_path) if key_path else None,
        webhook_secret=secret,
        api_url=(env.get("GITHUB_API_URL") or DEFAULT_API_URL).rstrip("/"),
        redis_url=env.get("REDIS_URL", "").strip() or None,
        queue_name=env.get("ALEMBIC_REVIEW_QUEUE", "").strip() or "alembic-review",
        data_dir=data_dir,
        work_dir=work_dir,
        check_name=env.get("ALEMBIC_REVIEW_CHECK_NAME", "").strip() or "alembic-review",
        max_body_bytes=_int(env, "ALEMBIC_REVIEW_MAX_BODY_BYTES", GITHUB_MAX_PAYLOAD, 1024),
        job_timeout=_float(env, "ALEMBIC_REVIEW_JOB_TIMEOUT", 600.0),
        max_jobs=_int(env, "ALEMBIC_REVIEW_MAX_JOBS", 4, 1),
        max_jobs_per_repo=_int(env, "ALEMBIC_REVIEW_MAX_JOBS_PER_REPO", 2, 1),
        lease_seconds=_float(env, "ALEMBIC_REVIEW_LEASE_SECONDS", 90.0),
        max_tarball_bytes=_int(env, "ALEMBIC_REVIEW_MAX_TARBALL_BYTES", 512 * 1024 * 1024, 1024),
        sandbox_uid_base=_int(env, "ALEMBIC_REVIEW_SANDBOX_UID_BASE", 1_900_000_000, 100_000),
        sqlite_synchronous=_choice(env, "ALEMBIC_REVIEW_SQLITE_SYNCHRONOUS", ("NORMAL", "FULL")),
        publish_window=_float(env, "ALEMBIC_REVIEW_PUBLISH_WINDOW", 86400.0),
        job_memory_bytes=_int(env, "ALEMBIC_REVIEW_JOB_MEMORY_MB", 2048, 64) * 1024 ** 2,
        max_inflight_bytes=_int(env, "ALEMBIC_REVIEW_MAX_INFLIGHT_BYTES", 4 * GITHUB_MAX_PAYLOAD, 1024),
        cached_repos=_int(env, "ALEMBIC_REVIEW_CACHED_REPOS", 20, 0),
    )
