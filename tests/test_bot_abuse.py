"""Abuse of the webhook endpoint, with and without the secret, against the real service: what the
sender controls (headers, bodies, their pace, replays of a signed delivery) must not grow the
metrics, the memory or the log, nor queue work."""

from __future__ import annotations

import json
import signal
import socket
import uuid

import pytest
import requests

from tests.bot_service import pull_request_event
from tests.bot_service import service  # noqa: F401  (fixture)
from tests.fakegithub import fake_github  # noqa: F401  (fixture)

REPO = "octo/abuse"


def raw_upload(port: int, length: int, sent: int) -> socket.socket:
    """A POST /webhook announcing `length` bytes of body and sending only `sent` of them."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall((f"POST /webhook HTTP/1.1\r\nHost: x\r\nX-GitHub-Event: pull_request\r\n"
                  f"Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n").encode())
    sock.sendall(b" " * sent)
    return sock


def status_of(sock: socket.socket) -> int:
    answer = sock.recv(4096).decode(errors="replace")
    sock.close()
    return int(answer.split()[1])


def test_random_event_names_do_not_grow_the_metrics(service):
    service.serve(workers=0)
    for _ in range(30):
        requests.post(service.url + "/webhook", data=b"{}", timeout=10,
                      headers={"X-GitHub-Event": uuid.uuid4().hex, "X-Hub-Signature-256": "sha256=0"})
    metrics = requests.get(service.url + "/metrics", timeout=5).text
    lines = [line for line in metrics.splitlines() if line.startswith("alembic_review_webhook_deliveries_total{")]
    assert lines == ['alembic_review_webhook_deliveries_total{event="other",result="bad-signature"} 30']


def test_bytes_in_flight_are_bounded_and_stalled_uploads_time_out(service):
    service.env.update(ALEMBIC_REVIEW_MAX_BODY_BYTES=str(1024 ** 2), ALEMBIC_REVIEW_MAX_INFLIGHT_BYTES=str(2 * 1024 ** 2))
    proc = service.serve(workers=0)
    uploads = [raw_upload(service.port, 1000_000, 900_000) for _ in range(3)]  # each held, never finished
    # whichever body passes the 2 MiB of all bodies together is refused at once (503); the stalled
    # others end when their time is up (408)
    assert sorted(status_of(s) for s in uploads) == [408, 408, 503]
    event = pull_request_event(REPO, 1, "a" * 40, "b" * 40, action="labeled")
    assert service.send("pull_request", event).json()["result"] == "ignored"  # their bytes were given back
    assert "Traceback" not in proc.output()


def test_clients_disconnecting_mid_upload_leave_no_traceback(service):
    proc = service.serve(workers=0)
    for _ in range(20):
        raw_upload(service.port, 100_000, 50_000).close()
    event = pull_request_event(REPO, 1, "a" * 40, "b" * 40, action="labeled")
    assert service.send("pull_request", event).status_code == 202
    assert "Traceback" not in proc.output() and "ERROR" not in proc.output()


@pytest.mark.parametrize("body, reason", [
    (b'{"a": ' + b"[" * 200_000 + b"]" * 200_000 + b"}", "nested too deeply"),
    (json.dumps(pull_request_event(REPO, 1, "a" * 40, "b" * 40) | {"pull_request": {"number": "1"}}).encode(),
     "pull_request/number is not a int"),
    (json.dumps({"action": "rerequested", "repository": {"full_name": REPO}, "installation": {"id": 77},
                 "check_suite": {"head_sha": "a" * 40, "pull_requests": 5}}).encode(), "pull_requests is not a list"),
    (json.dumps(pull_request_event("octo/\ud800", 1, "a" * 40, "b" * 40)).encode(), "lone UTF-16 surrogate"),
])
def test_signed_malformed_payloads_are_400_with_a_reason(service, body, reason):
    proc = service.serve(workers=0)
    event = "check_suite" if b"rerequested" in body else "pull_request"
    answer = service.send(event, body)
    assert answer.status_code == 400 and reason in answer.json()["reason"]
    assert "Traceback" not in proc.output()


def test_a_replayed_rerequest_makes_one_job(service, fake_github):
    service.serve(workers=0)  # no job threads: the queue shows what was queued
    event = pull_request_event(REPO, 9, "c" * 40, "d" * 40)
    fake_github.add_pull(REPO, 9, files={}, head_sha="c" * 40, base_sha="d" * 40)
    assert service.send("pull_request", event).json()["result"] == "queued"
    rerun = {"action": "rerequested", "repository": {"full_name": REPO}, "installation": {"id": 77},
             "check_suite": {"head_sha": "c" * 40, "app": {"id": 4242}, "pull_requests": [{"number": 9}]}}
    body = json.dumps(rerun).encode()
    results = [service.send("check_suite", body).json()["result"] for _ in range(5)]  # new delivery ids
    assert results == ["queued"] + ["already-queued"] * 4
    assert requests.get(service.url + "/healthz", timeout=5).json()["pending"] == 2


def test_sigint_with_a_stalled_upload_stops_cleanly(service):
    proc = service.serve(workers=1)
    stalled = raw_upload(service.port, 100_000, 10)
    proc.proc.send_signal(signal.SIGINT)
    assert proc.proc.wait(timeout=30) == 0  # not held up by the upload, nor killed
    stalled.close()
    assert "Traceback" not in proc.output()
