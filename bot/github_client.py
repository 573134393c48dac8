"""PyGithub clients with retries: secondary rate limits and 5xx are retried with backoff."""

from __future__ import annotations

import os
import time
from typing import Callable, TypeVar

import github
import requests
from github import Auth, Github, GithubException, GithubRetry
from urllib3.util.retry import Retry

T = TypeVar("T")

DEFAULT_BASE_URL = "https://api.github.com"


class _Retry(GithubRetry):
    """GithubRetry that never repeats a POST GitHub may have carried out.

    A POST answered with a 5xx, or whose answer timed out, may have created its review or comment
    all the same (a review with many comments can take longer than the timeout): repeating it
    blindly posts it twice. Only rate limits (403 with Retry-After, 429), which GitHub answers
    before doing anything, are retried here; bot.github_client.create_once does the rest.
    """

    def _is_method_retryable(self, method: str) -> bool:
        return method.upper() != "POST" and super()._is_method_retryable(method)

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        if method.upper() == "POST":
            return status_code in (403, 429) and status_code in (self.status_forcelist or ())
        return super().is_retry(method, status_code, has_retry_after)


def make_retry(*, total: int | None = None, backoff_factor: float | None = None,
               secondary_rate_wait: float | None = None, max_rate_limit_wait: float = 300) -> GithubRetry:
    """Retries for every method we use: PATCH too (our edits are idempotent), POST only on rate
    limits (see _Retry).

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
    return _Retry(
        total=total,
        backoff_factor=backoff_factor,
        secondary_rate_wait=secondary_rate_wait,
        max_rate_limit_wait=max(max_rate_limit_wait, secondary_rate_wait),
        allowed_methods=Retry.DEFAULT_ALLOWED_METHODS | {"GET", "PATCH"},
        status_forcelist=list(range(500, 600)) + [429],
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


def _maybe_done(exc: BaseException) -> bool:
    """An error after which GitHub may still have carried the request out."""
    if isinstance(exc, GithubException):
        return exc.status >= 500
    return isinstance(exc, (requests.exceptions.Timeout, requests.exceptions.ConnectionError))


def backoff_of(gh: Github) -> float:
    """The client's retry backoff (seconds), for the retries we do ourselves."""
    return float(getattr(gh.requester.kwargs.get("retry"), "backoff_factor", 1.0) or 0)


def create_once(create: Callable[[], T], find: Callable[[], T | None], *, backoff: float,
                attempts: int = 3) -> T:
    """POST through `create`, never twice: after an error that may hide a success (5xx, timeout),
    `find` looks for what it would have created (by our hidden marker) before trying again."""
    for attempt in range(attempts):
        try:
            return create()
        except Exception as exc:
            if not _maybe_done(exc) or attempt == attempts - 1:
                raise
        time.sleep(backoff * 2 ** attempt)
        found = find()
        if found is not None:
            return found
    raise AssertionError("unreachable")
