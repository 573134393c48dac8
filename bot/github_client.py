"""PyGithub clients with retries: secondary rate limits and 5xx are retried with backoff.

A thread may set a deadline (`with deadline(t):`, the webhook service's job does): every GitHub
call PyGithub makes from that thread then times out by it, retries stop at it, and a call started
after it fails at once with DeadlineExceeded. A hanging GitHub cannot stretch a job past its
ALEMBIC_REVIEW_JOB_TIMEOUT.
"""

from __future__ import annotations

import os
import threading
import time
from contextlib import contextmanager

import github
import requests
from github import Auth, Github, GithubRetry
from github.Requester import HTTPRequestsConnectionClass, HTTPSRequestsConnectionClass, Requester
from urllib3.util.retry import Retry

DEFAULT_BASE_URL = "https://api.github.com"


_local = threading.local()


class DeadlineExceeded(TimeoutError):
    """A GitHub call would end after the deadline of the thread's job."""


@contextmanager
def deadline(at: float):
    """GitHub calls from this thread end by time.monotonic() `at` (nested: the inner one holds)."""
    previous = getattr(_local, "deadline", None)
    _local.deadline = at
    try:
        yield
    finally:
        _local.deadline = previous


def seconds_left() -> float | None:
    at = getattr(_local, "deadline", None)
    return None if at is None else at - time.monotonic()


class _DeadlineConnection:
    """PyGithub's requests-based connection, with each call's timeout cut to the thread's deadline."""

    def getresponse(self):
        left = seconds_left()
        if left is None:
            return super().getresponse()
        if left <= 0:
            raise DeadlineExceeded(f"the job's deadline passed before {self.verb} {self.url.split('?')[0]}")
        timeout = min(self.timeout or left, left)
        try:
            response = getattr(self.session, self.verb.lower())(
                f"{self.protocol}://{self.host}:{self.port}{self.url}", headers=self.headers, data=self.input,
                timeout=timeout, verify=self.verify, allow_redirects=False)
        except requests.RequestException as exc:
            if (seconds_left() or 0) <= 0:
                raise DeadlineExceeded(f"GitHub did not answer {self.verb} {self.url.split('?')[0]} "
                                       "before the job's deadline") from exc
            raise
        return github.Requester.RequestsResponse(response)


class _DeadlineHTTP(_DeadlineConnection, HTTPRequestsConnectionClass):
    pass


class _DeadlineHTTPS(_DeadlineConnection, HTTPSRequestsConnectionClass):
    pass


# Requester.injectConnectionClasses would also turn off connection reuse; these keep it.
Requester._Requester__httpConnectionClass = _DeadlineHTTP
Requester._Requester__httpsConnectionClass = _DeadlineHTTPS


class _DeadlineRetry(GithubRetry):
    """No retry (nor a wait for one) once the thread's deadline has passed."""

    def is_exhausted(self) -> bool:
        left = seconds_left()
        return super().is_exhausted() or (left is not None and left <= 0)

    def sleep(self, response=None) -> None:
        left = seconds_left()
        if left is not None and self.get_backoff_time() >= left:
            return  # the next try would start after the deadline: is_exhausted ends it then
        super().sleep(response)


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
    return _DeadlineRetry(
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
