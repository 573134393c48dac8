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
from typing import Callable, TypeVar

import github
import requests
from github import Auth, Github, GithubException, GithubRetry
from github.Requester import HTTPRequestsConnectionClass, HTTPSRequestsConnectionClass, Requester
from urllib3.util.retry import Retry

T = TypeVar("T")

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


class _Retry(_DeadlineRetry):
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


def lacks_permission(exc: BaseException) -> bool:
    """GitHub refused for want of permission ("Resource not accessible by integration"): a 403
    that is not a rate limit (those are 403s too, and pass)."""
    if not isinstance(exc, GithubException) or isinstance(exc, github.RateLimitExceededException):
        return False
    message = exc.data.get("message", "") if isinstance(exc.data, dict) else str(exc.data)
    return exc.status == 403 and "rate limit" not in str(message).lower()


def refused_content(exc: BaseException) -> bool:
    """GitHub understood the request and refused what it carried (422 validation, 400, 413): the
    same request would be refused again; a smaller one may pass."""
    return isinstance(exc, GithubException) and exc.status in (400, 413, 422)


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
