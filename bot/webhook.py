"""`python -m bot serve`: the GitHub App's webhook endpoint (FastAPI on uvicorn), with consumer
threads in the same process unless --workers 0.

POST /webhook  X-Hub-Signature-256 checked (HMAC-SHA256 of the raw body, constant-time compare;
               401 otherwise), bodies over ALEMBIC_REVIEW_MAX_BODY_BYTES refused (413), each
               X-GitHub-Delivery handled once (remembered in the store for 7 days), then 202
               once the job is in the durable queue.
GET /healthz   200 with the queue, its backlog and the sandbox in force; 503 if the store is down.
GET /metrics   Prometheus text (bot/metrics.py).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import hmac
import json
import logging
import re
import time
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from bot import ledger, open_pulls
from bot.metrics import Metrics
from bot.service import start
from bot.settings import Settings
from bot.store import DUPLICATE, Effects

log = logging.getLogger("alembic_review.webhook")

DELIVERY_TTL = 7 * 24 * 3600
PR_ACTIONS = {"opened", "synchronize", "reopened", "ready_for_review"}
REREQUEST_WINDOW = 60  # seconds: re-run requests for the same head in this window make one job
BODY_SECONDS = 10.0    # a whole body must arrive in this long (GitHub itself gives up after 10 s)
SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")  # a \uD800-\uDFFF escape: maybe a lone surrogate


class BadPayload(Exception):
    pass


def parse_payload(body: bytes) -> dict:
    """The delivery's JSON object, or BadPayload saying in one line what is wrong with it."""
    try:
        payload = json.loads(body)
    except RecursionError:
        raise BadPayload("the JSON is nested too deeply") from None
    except ValueError as exc:
        raise BadPayload(f"not JSON ({str(exc)[:100]})") from None
    if not isinstance(payload, dict):
        raise BadPayload("not a JSON object")
    if SURROGATE_ESCAPE.search(body):
        try:
            json.dumps(payload, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise BadPayload("a string holds a lone UTF-16 surrogate") from None
    return payload


def signature_ok(secret: str, body: bytes, header: str | None) -> bool:
    if not header or not header.startswith("sha256="):
        return False
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), header.strip().encode(errors="replace"))


def _get(data, *path, kind=None):
    for key in path:
        if not isinstance(data, dict):
            raise BadPayload(f"{'/'.join(map(str, path))} is missing")
        data = data.get(key)
    if kind is not None and (not isinstance(data, kind) or isinstance(data, bool)):
        raise BadPayload(f"{'/'.join(map(str, path))} is not a {kind.__name__}")
    return data


def _list(data: dict, key: str) -> list:
    value = data.get(key)
    if value is not None and not isinstance(value, list):
        raise BadPayload(f"{key} is not a list")
    return value or []


class Handler:
    """Turns one verified delivery into ledger changes and queued jobs."""

    def __init__(self, settings: Settings, store, enqueue, forget_token=None, github=None, message=None):
        self.settings, self.store, self.enqueue = settings, store, enqueue
        self.message = message or (lambda job: None)  # job -> (Redis list, message): see bot/queue.py
        self.forget_token = forget_token or (lambda installation_id: None)
        self.github = github  # installation id -> PyGithub client, to find open pull requests

    def _queue_open(self, repo: str, installation_id: int, **which) -> str:
        if self.github is None:
            return "ignored"
        jobs = open_pulls.queue_open_pulls(self.store, self.github(installation_id), repo, installation_id, **which)
        results = [self._queue(job) for job in jobs]
        return "queued" if results else "ignored"

    async def handle(self, event: str, payload: dict, delivery: str = "") -> str:
        """What became of the delivery: "duplicate" when its id was handled before (ids are remembered
        for DELIVERY_TTL, and forgotten again when handling fails, so that GitHub's redelivery is
        not taken for a duplicate).

        A pull request asking for a review (nearly every delivery) is handled on the event loop:
        the id, the ledger, the counter and the queue in one step of the store (a local SQLite
        transaction, or two Redis round trips: ≈ 0.1-0.3 ms). The hop to a worker thread cost more
        than that, and with 10 deliveries in flight the threads' waits for the GIL made most of the
        tail. The other events may call GitHub (installations, pushes, re-runs): they go to a
        thread."""
        review = self._review_asked(payload) if event == "pull_request" else None
        if review is None:
            return await run_in_threadpool(self._handle_in_thread, event, payload, delivery)
        effects = Effects(once=("delivery", delivery, DELIVERY_TTL) if delivery else None,
                          counter="jobs:enqueued", enqueue=self.enqueue, message=self.message)
        job = ledger.request_review(self.store, **review, effects=effects)
        return "duplicate" if job is DUPLICATE else "queued" if job else "already-queued"

    def _handle_in_thread(self, event: str, payload: dict, delivery: str) -> str:
        if delivery and not self.store.first_time("delivery", delivery, DELIVERY_TTL):
            return "duplicate"
        try:
            return self._dispatch(event, payload)
        except Exception:
            if delivery:
                self.store.forget("delivery", delivery)
            raise

    def _dispatch(self, event: str, payload: dict) -> str:
        if event == "ping":
            return "pong"
        if event == "pull_request":
            return self.pull_request(payload)
        if event in ("check_run", "check_suite"):
            return self.rerequested(event, payload)
        if event in ("installation", "installation_repositories"):
            return self.installation(event, payload)
        if event == "push":
            return self.push(payload)
        return "ignored"

    def _queue(self, job: ledger.Job | None) -> str:
        if job is None:
            return "already-queued"
        self.enqueue(job)
        self.store.incr("jobs:enqueued")
        return "queued"

    @staticmethod
    def _review_asked(p: dict) -> dict | None:
        """ledger.request_review's arguments when a pull_request event asks for a review, else None."""
        action = _get(p, "action", kind=str)
        base_changed = action == "edited" and isinstance(p.get("changes"), dict) and "base" in p["changes"]
        if action not in PR_ACTIONS and not base_changed:
            return None
        updated_at = _get(p, "pull_request", "updated_at")
        return dict(repo=_get(p, "repository", "full_name", kind=str), number=_get(p, "pull_request", "number", kind=int),
                    installation_id=_get(p, "installation", "id", kind=int),
                    head_sha=_get(p, "pull_request", "head", "sha", kind=str),
                    base_sha=_get(p, "pull_request", "base", "sha", kind=str),
                    updated_at=updated_at if isinstance(updated_at, str) else "", force=base_changed)

    def pull_request(self, p: dict) -> str:
        """The actions that ask for no review (those that do go through _review_asked)."""
        repo = _get(p, "repository", "full_name", kind=str)
        number = _get(p, "pull_request", "number", kind=int)
        if _get(p, "action", kind=str) == "closed":
            ledger.close(self.store, repo, number)
            return "closed"
        return "ignored"

    def rerequested(self, event: str, p: dict) -> str:
        if _get(p, "action", kind=str) != "rerequested":
            return "ignored"
        obj = _get(p, event, kind=dict)
        app_id = _get(obj, "app", "id") if isinstance(obj.get("app"), dict) else None
        if app_id is not None and str(app_id) != self.settings.app_id:
            return "ignored"  # another app's check
        if event == "check_run" and obj.get("name") not in (None, self.settings.check_name):
            return "ignored"
        repo = _get(p, "repository", "full_name", kind=str)
        head = _get(obj, "head_sha", kind=str)
        numbers = [pr.get("number") for pr in _list(obj, "pull_requests") if isinstance(pr, dict)]
        if not numbers:  # fork PRs are not listed: find the PRs at that head in the ledger
            numbers = [rec["number"] for _, rec in self.store.items(ledger.PULL)
                       if rec.get("repo") == repo and rec.get("head_sha") == head]
        results = [self._rerequest(repo, n, head) for n in numbers if isinstance(n, int) and not isinstance(n, bool)]
        if "queued" not in results and "already-queued" not in results and isinstance(p.get("installation"), dict):
            # a pull request the service has never seen (opened before the App was installed, or
            # its event lost): find it on GitHub by its head
            return self._queue_open(repo, _get(p, "installation", "id", kind=int), head_sha=head, force=True)
        return "queued" if "queued" in results else ("already-queued" if results else "ignored")

    def _rerequest(self, repo: str, number: int, head: str) -> str:
        """One job per pull request and head per REREQUEST_WINDOW, however often a (captured, signed)
        re-run request is sent again under new delivery ids."""
        key = f"{ledger.pull_key(repo, number)}@{head}"
        if not self.store.first_time("rerequest", key, REREQUEST_WINDOW):
            return "already-queued"
        try:
            return self._queue(ledger.rerequest(self.store, repo, number, head))
        except Exception:
            self.store.forget("rerequest", key)
            raise

    def push(self, p: dict) -> str:
        """The base branch of open pull requests moved: those whose review could change (the push
        touched migrations) are reviewed again against it."""
        ref = p.get("ref")
        if not isinstance(ref, str) or not ref.startswith("refs/heads/") or p.get("deleted"):
            return "ignored"
        repo = _get(p, "repository", "full_name", kind=str)
        if not open_pulls.push_touches_migrations(p, open_pulls.known_version_dirs(self.store, repo)):
            return "ignored"
        return self._queue_open(repo, _get(p, "installation", "id", kind=int),
                                base=ref[len("refs/heads/"):], force=True)

    def installation(self, event: str, p: dict) -> str:
        action = _get(p, "action", kind=str)
        installation_id = _get(p, "installation", "id", kind=int)
        if action in ("deleted", "suspend"):
            self.forget_token(installation_id)
            for _, rec in self.store.items(ledger.PULL):  # their queued jobs would only fail
                if rec.get("installation_id") == installation_id and rec.get("state") != "closed":
                    ledger.close(self.store, rec["repo"], rec["number"])
        repos = [r.get("full_name") for key in ("repositories", "repositories_added")
                 for r in _list(p, key) if isinstance(r, dict)]
        removed = {r.get("full_name") for r in _list(p, "repositories_removed") if isinstance(r, dict)}

        def fn(rec):
            rec = dict(rec or {}, id=installation_id, last_action=action, updated=time.time())
            known = set(rec.get("repos", [])) | {r for r in repos if isinstance(r, str)}
            known -= removed
            rec["repos"] = sorted(known)[:10_000]
            rec["active"] = action not in ("deleted", "suspend")
            return rec, None
        self.store.mutate("installation", str(installation_id), fn)
        log.info("installation %s: %s (%d repositories)", installation_id, action, len(repos))
        if action in ("created", "added", "unsuspend"):  # pull requests already open get reviewed too
            for repo in repos:
                if not isinstance(repo, str):
                    continue
                try:
                    self._queue_open(repo, installation_id)
                except Exception as exc:  # the installation is recorded all the same
                    log.warning("installation %s: open pull requests of %s not listed: %s", installation_id, repo, exc)
        return "recorded"


def create_app(settings: Settings, store, enqueue, *, pending=lambda: 0, isolation_lines=(),
               on_start=None, on_stop=None, forget_token=None, github=None, message=None) -> FastAPI:
    metrics = Metrics()
    handler = Handler(settings, store, enqueue, forget_token, github, message)

    @asynccontextmanager
    async def lifespan(app):
        if on_start:
            on_start()
        # the ≈ 90,000 objects of the loaded service out of the collector's sight: a full collection
        # scanned them all (≈ 80 ms, every delivery in flight waiting) once every few hundred deliveries
        gc.freeze()
        yield
        if on_stop:
            await run_in_threadpool(on_stop)

    app = FastAPI(title="alembic-review", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.metrics = metrics

    def answer(event: str, result: str, started: float, status: int, **extra) -> JSONResponse:
        metrics.delivery(event, result, time.perf_counter() - started)
        return JSONResponse({"result": result, **extra}, status_code=status)

    async def process(event: str, delivery: str, body: bytes) -> tuple[int, str, str | None]:
        try:  # on the event loop: json.loads holds the GIL, a worker thread would not spare the loop
            payload = parse_payload(body)
        except BadPayload as exc:
            log.warning("delivery %s (%s): %s", delivery, event, exc)
            return 400, "bad-request", str(exc)
        try:
            result = await handler.handle(event, payload, delivery)
            return (200 if result == "duplicate" else 202), result, None
        except BadPayload as exc:  # the handler forgot the delivery id again
            log.warning("delivery %s (%s): unexpected payload: %s", delivery, event, exc)
            return 400, "bad-request", str(exc)
        except Exception:
            log.exception("delivery %s (%s) could not be queued", delivery, event)
            return 503, "error", None

    inflight = {"bytes": 0}  # bodies being received, all requests together (one event loop: no lock)

    async def read_body(request: Request, budget: list[int]) -> bytes | str:
        """The body, or why not: "too-large", "busy" (the bytes in flight would pass their cap),
        "timeout" (not all there within BODY_SECONDS), "disconnected", "stopping"."""
        chunks, size = [], 0
        try:
            async with asyncio.timeout(BODY_SECONDS):
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > settings.max_body_bytes:
                        return "too-large"
                    if inflight["bytes"] + len(chunk) > settings.max_inflight_bytes:
                        return "busy"
                    inflight["bytes"] += len(chunk)
                    budget[0] += len(chunk)
                    chunks.append(chunk)
        except TimeoutError:
            return "timeout"
        except ClientDisconnect:
            return "disconnected"
        except asyncio.CancelledError:  # the service stops (uvicorn's graceful shutdown timed out)
            return "stopping"
        return b"".join(chunks)

    @app.post("/webhook")
    async def webhook(request: Request):
        started = time.perf_counter()
        event = request.headers.get("x-github-event", "")[:64] or "unknown"
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > settings.max_body_bytes:
            return answer(event, "too-large", started, 413)
        budget = [0]
        try:
            body = await read_body(request, budget)
            if isinstance(body, str):
                status = {"too-large": 413, "busy": 503, "timeout": 408, "disconnected": 400, "stopping": 503}[body]
                return answer(event, body, started, status)
            if not signature_ok(settings.webhook_secret, body, request.headers.get("x-hub-signature-256")):
                return answer(event, "bad-signature", started, 401)
        finally:
            inflight["bytes"] -= budget[0]
        delivery = request.headers.get("x-github-delivery", "")[:100]
        status, result, reason = await process(event, delivery, body)
        return answer(event, result, started, status, **({"reason": reason} if reason else {}))

    @app.get("/healthz")
    def healthz():
        try:
            store.ping()
            backlog = pending()
        except Exception as exc:
            return JSONResponse({"status": "unavailable", "error": type(exc).__name__}, status_code=503)
        return {"status": "ok", "queue": "redis" if settings.redis_url else "sqlite",
                "queue_name": settings.queue_name, "pending": backlog, "sandbox": list(isolation_lines)}

    @app.get("/metrics")
    def metrics_endpoint():
        try:
            counters, backlog = store.counters(), pending()
        except Exception:
            counters, backlog = {}, -1
        return PlainTextResponse(metrics.render(counters, {"queue_pending_jobs": backlog}),
                                 media_type="text/plain; version=0.0.4")

    return app


# --- the command ----------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot serve",
                                     description="Run the alembic-review GitHub App webhook service.")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--workers", type=int, default=2,
                        help="job threads in this process (0: only receive webhooks; run `python -m bot worker`)")
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    started = start("serve", args.log_level)
    if started is None:
        return 2
    settings, queue, rt = started.settings, started.queue, started.queue.rt
    consumer = queue.consumer(args.workers, embedded=True) if args.workers > 0 else None

    def on_start():
        if consumer is not None:
            consumer.start()
            queue.reconcile_in_background()
        log.info("alembic-review listening on %s:%d (%s queue %r, %d job thread(s))", args.host, args.port,
                 "redis" if settings.redis_url else "sqlite", settings.queue_name, args.workers)

    def on_stop():
        if consumer is not None:
            consumer.stop(graceful=True)

    app = create_app(settings, rt.store, queue.enqueue, pending=queue.pending, isolation_lines=started.sandbox_lines,
                     on_start=on_start, on_stop=on_stop, forget_token=rt.auth.forget, github=rt.auth.github,
                     message=queue.message)
    import uvicorn

    # a stalled upload ends within BODY_SECONDS anyway; running jobs finish in on_stop, after this
    server = uvicorn.Server(uvicorn.Config(app, host=args.host, port=args.port, log_level="warning",
                                           access_log=False, lifespan="on", timeout_graceful_shutdown=5))
    try:
        server.run()
    except KeyboardInterrupt:  # uvicorn re-raises the SIGINT it handled: the shutdown went fine
        log.info("alembic-review stopped")
    return 0
