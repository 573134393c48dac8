"""The webhook service as the tests run it: `python -m bot serve` / `python -m bot worker` as real
child processes (uvicorn on 127.0.0.1), configured against the fake GitHub server, and signed
webhook deliveries sent to it over HTTP."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import tarfile
import time
import uuid
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.gitrepo import REPO_ROOT, alembic_project

APP_ID = 4242
INSTALLATION = 77
SECRET = "whsec-test-" + uuid.uuid4().hex


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_app_key(path: Path) -> tuple[object, str]:
    """A throwaway RSA key for the App, written 0600 like a real deployment should."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    path.write_text(pem)
    path.chmod(0o600)
    return key, pem


def wait_for(condition, timeout: float = 60, interval: float = 0.1, what: str = "condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class Proc:
    """One `python -m bot ...` child in its own session (so a kill takes its children too)."""

    def __init__(self, args: list[str], env: dict, log: Path):
        self.log_path = log
        self.log = open(log, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "bot", *args], cwd=REPO_ROOT, env=env,
                                     stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL to the whole session: the process and the reviewer it runs, mid-job."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait(timeout=30)
        self.log.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                pass
        self.kill()


class Service:
    """The App's configuration (one per test) and the processes started with it."""

    def __init__(self, tmp: Path, fake, *, redis_url: str | None = None, **extra_env: str):
        self.tmp, self.fake = tmp, fake
        self.key_path = tmp / "app-key.pem"
        key, _ = write_app_key(self.key_path)
        public = key.public_key()
        import jwt
        fake.app_jwt_check = lambda token: str(jwt.decode(token, public, algorithms=["RS256"])["iss"]) == str(APP_ID)
        fake.accept_any_token = False  # only installation tokens the fake handed out
        self.queue = "test-" + uuid.uuid4().hex[:12]
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("GITHUB_", "ALEMBIC_REVIEW_", "INPUT_")) and k != "REDIS_URL"}
        env.update({
            "PYTHONPATH": str(REPO_ROOT), "GITHUB_APP_ID": str(APP_ID),
            "GITHUB_PRIVATE_KEY_PATH": str(self.key_path), "GITHUB_WEBHOOK_SECRET": SECRET,
            "GITHUB_API_URL": fake.base_url, "ALEMBIC_REVIEW_DATA_DIR": str(tmp / "data"),
            "ALEMBIC_REVIEW_QUEUE": self.queue, "ALEMBIC_REVIEW_RETRY_BACKOFF": "0.01",
            "ALEMBIC_REVIEW_SECONDS_BETWEEN_WRITES": "0",
            # a uid range of our own: tests running in parallel must not kill each other's sandboxes
            "ALEMBIC_REVIEW_SANDBOX_UID_BASE": str(1_900_000_000 + (uuid.uuid4().int % 50_000) * 100),
            # checkouts and the repository cache of this test's own (the fake's repository ids repeat)
            "ALEMBIC_REVIEW_WORK_DIR": str(tmp / "work"),
        })
        if redis_url:
            env["REDIS_URL"] = redis_url
        env.update(extra_env)
        self.env = env
        self.procs: list[Proc] = []
        self.port: int | None = None
        self.fake.add_installation(INSTALLATION, "octo", [])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def serve(self, workers: int = 2, port: int | None = None) -> Proc:
        self.port = port or self.port or free_port()
        proc = Proc(["serve", "--port", str(self.port), "--workers", str(workers)], self.env,
                    self.tmp / f"serve-{len(self.procs)}.log")
        self.procs.append(proc)
        wait_for(lambda: self._healthy(proc), 60, what=f"the service to start:\n{proc.output()}")
        return proc

    def worker(self, workers: int = 2) -> Proc:
        proc = Proc(["worker", "--workers", str(workers)], self.env, self.tmp / f"worker-{len(self.procs)}.log")
        self.procs.append(proc)
        wait_for(lambda: "job thread(s)" in proc.output() or proc.proc.poll() is not None, 60,
                 what="the worker to start")
        assert proc.proc.poll() is None, proc.output()
        return proc

    def _healthy(self, proc: Proc) -> bool:
        if proc.proc.poll() is not None:
            raise AssertionError(f"the service exited with {proc.proc.returncode}:\n{proc.output()}")
        try:
            return requests.get(self.url + "/healthz", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def close(self) -> None:
        """Stop gracefully (running jobs finish and clean up after themselves)."""
        for proc in self.procs:
            proc.stop()

    # --- deliveries ---------------------------------------------------------------------------

    def send(self, event: str, payload: dict | bytes, *, delivery: str | None = None,
             secret: str = SECRET, signature: str | None = None) -> requests.Response:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        if signature is None:
            signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        headers = {"X-GitHub-Event": event, "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
                   "X-Hub-Signature-256": signature, "Content-Type": "application/json",
                   "User-Agent": "GitHub-Hookshot/test"}
        return requests.post(self.url + "/webhook", data=body, headers=headers, timeout=30)


def pull_request_event(repo: str, number: int, head: str, base: str, action: str = "opened",
                       installation: int = INSTALLATION, **extra) -> dict:
    return {"action": action, "number": number,
            "pull_request": {"number": number, "state": "open", "updated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ"),
                             "head": {"sha": head, "ref": "feature"}, "base": {"sha": base, "ref": "main"}},
            "repository": {"full_name": repo, "name": repo.split("/")[1], "owner": {"login": repo.split("/")[0]}},
            "installation": {"id": installation}, "sender": {"login": "author"}, **extra}


def export_tree(repo, sha: str, dest: Path) -> Path:
    """The files of commit `sha` (no .git), as GitHub would put them in a tarball."""
    dest.mkdir(parents=True)
    archive = dest.parent / f"{dest.name}.tar"
    repo.git("archive", "--format=tar", "-o", str(archive), sha)
    with tarfile.open(archive) as tar:
        tar.extractall(dest, filter="data")
    archive.unlink()
    return dest


class PullRequest:
    """A real git repo with an Alembic project, served by the fake GitHub as a pull request."""

    def __init__(self, tmp: Path, fake, repo_name: str, number: int):
        self.tmp, self.fake, self.repo_name, self.number = tmp, fake, repo_name, number
        self.repo = alembic_project(tmp / f"src-{number}")
        self.base = self.repo.git("rev-parse", "main").strip()
        self.files: dict[str, tuple[str | None, str | None]] = {}

    def write(self, rel: str, text: str) -> None:
        old = (self.repo.path / rel).read_text() if (self.repo.path / rel).exists() else None
        self.repo.write(rel, text)
        self.files[rel] = (self.files.get(rel, (old, None))[0], text)

    def add_revision(self, rev: str, down: str, upgrade: str, **kw) -> str:
        rel = self.repo.add_revision(rev, down, upgrade, **kw)
        self.files[rel] = (None, (self.repo.path / rel).read_text())
        return rel

    def commit(self) -> str:
        self.head = self.repo.commit("change")
        for sha in {self.base, self.head}:
            if sha in self.fake.add_repo(self.repo_name).tarballs:
                continue
            self.fake.register_tarball(self.repo_name, sha, export_tree(self.repo, sha, self.tmp / f"tree-{self.number}-{sha[:12]}"))
        return self.head

    def open(self, service: Service, action: str = "opened") -> requests.Response:
        repo = self.fake.add_repo(self.repo_name)
        repo.installation_id = INSTALLATION
        if self.number in repo.pulls:
            self.fake.push(self.repo_name, self.number, files=self.files, head_sha=self.head)
        else:
            self.fake.add_pull(self.repo_name, self.number, files=self.files, head_sha=self.head, base_sha=self.base)
        return service.send("pull_request", pull_request_event(self.repo_name, self.number, self.head, self.base,
                                                               action=action))


@pytest.fixture
def service(tmp_path, fake_github):
    """The webhook service on a fresh data dir, talking to the fake GitHub; stopped after the test.
    Import it into a test module beside `fake_github` (tests/test_bot_redis.py has its own, on Redis)."""
    svc = Service(tmp_path, fake_github)
    yield svc
    svc.close()
