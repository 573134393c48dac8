"""PyGithub clients with retries: secondary rate limits and 5xx are retried with backoff."""

from __future__ import annotations

import os

import github
from github import Auth, Github, GithubRetry
from urllib3.util.retry import Retry

DEFAULT_BASE_URL = "https://api.github.com"


def make_retry(*, total: int | None = None, backoff_factor: float | None = None,
               secondary_rate_wait: float | None = None, max_rate_limit_wait: float = 300) -> GithubRetry:
    """GithubRetry for every method we use (PATCH included: our edits are idempotent).

    `backoff_factor` (seconds; 0, f, 2f, 4f... between tries) and `secondary_rate_wait` default to
    the environment (ALEMBIC_REVIEW_RETRY_BACKOFF, ALEMBIC_REVIEW_SECONDARY_RATE_WAIT) so tests and
    impatient users can shorten them.
    """
    if total is None:
        total = int(os.environ.get("ALEMBIC_REVIEW_RETRIES", "5"))
    if backoff_factor is None:
        backoff_factor = float(os.environ.get("ALEMBIC_REVIEW_RETRY_BACKOFF", "1.0"))
    if secondary_rate_wait is None:
        secondary_rate_wait = float(os.environ.get("ALEMBIC_REVIEW_SECONDARY_RATE_WAIT", "60"))
    return GithubRetry(
        total=total,
        backoff_factor=backoff_factor,
        secondary_rate_wait=secondary_rate_wait,
        max_rate_limit_wait=max(max_rate_limit_wait, secondary_rate_wait),
        allowed_methods=Retry.DEFAULT_ALLOWED_METHODS | {"GET", "POST", "PATCH"},
    )


def make_github(token: str, base_url: str | None = None, *, retry: GithubRetry | None = None,
                backoff_factor: float | None = None, secondary_rate_wait: float | None = None,
                per_page: int = 100, timeout: int = 30,
                seconds_between_writes: float | None = None) -> Github:
    """A Github client for a token (PAT, GITHUB_TOKEN or installation token) with retries.

    base_url: the REST API root (GITHUB_API_URL in Actions; https://ghe.example/api/v3 on GHES).
    seconds_between_writes: PyGithub's write throttle (default 1s, GitHub's advice against
    secondary rate limits); ALEMBIC_REVIEW_SECONDS_BETWEEN_WRITES overrides it.
    """
    if seconds_between_writes is None:
        seconds_between_writes = float(os.environ.get("ALEMBIC_REVIEW_SECONDS_BETWEEN_WRITES",
                                                      github.Consts.DEFAULT_SECONDS_BETWEEN_WRITES))
    return Github(
        auth=Auth.Token(token),
        base_url=(base_url or DEFAULT_BASE_URL).rstrip("/"),
        retry=retry or make_retry(backoff_factor=backoff_factor, secondary_rate_wait=secondary_rate_wait),
        per_page=per_page,
        timeout=timeout,
        seconds_between_requests=None,
        seconds_between_writes=seconds_between_writes or None,
        user_agent="alembic-review",
    )
