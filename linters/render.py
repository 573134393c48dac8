"""Render revisions to SQL in sandboxed child processes, in parallel, with a timeout each.

The child (linters/render_child.py) imports revision code, which is not ours to trust: it runs
with an emptied environment, a temporary working directory, rlimits on CPU, memory, file size,
and, where the kernel lets us, in a network namespace of its own with no interfaces up.
"""

from __future__ import annotations

import atexit
import collections
import ctypes
import json
import os
import queue
import resource
import select
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import linters
from linters import sandbox

CLONE_NEWNET = 0x40000000
CHILD_MEMORY = 2 * 1024 ** 3
CHILD_FILE_SIZE = 16 * 1024 ** 2
CHILD_CPU_SECONDS = 600
MAX_REPLY_BYTES = 8 * 1024 ** 2  # a revision emitting more SQL than this is cut off
PIPELINE = 2  # requests queued in each child: it starts the next while we read the last


@dataclass
class Chunk:
    direction: str
    line: int | None
    sql: str


@dataclass
class RenderResult:
    path: str                      # absolute path of the revision file
    chunks: list[Chunk] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)   # {"stage", "message", "line"}
    missing: list[str] = field(default_factory=list)   # directions with no function

    def error(self, stage: str, message: str, line: int | None = None) -> None:
        self.errors.append({"stage": stage, "message": message, "line": line})


def _isolate() -> None:
    """preexec_fn: limits first, then drop the network where the kernel allows it."""
    os.setsid()
    resource.setrlimit(resource.RLIMIT_AS, (CHILD_MEMORY, CHILD_MEMORY))
    resource.setrlimit(resource.RLIMIT_FSIZE, (CHILD_FILE_SIZE, CHILD_FILE_SIZE))
    resource.setrlimit(resource.RLIMIT_CPU, (CHILD_CPU_SECONDS, CHILD_CPU_SECONDS))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    try:
        ctypes.CDLL(None, use_errno=True).unshare(CLONE_NEWNET)
    except OSError:
        pass
    if sandbox.PLAN is not None:  # code from strangers (the webhook service): see linters/sandbox.py
        sandbox.apply(sandbox.PLAN)


def network_isolation_available() -> bool:
    """Whether a child can be put in its own network namespace on this machine."""
    probe = subprocess.run(
        [sys.executable, "-I", "-c", "import socket; s=socket.socket(); s.settimeout(1); s.connect(('127.0.0.1', 9))"],
        preexec_fn=_isolate, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=30,
    )
    return b"Network is unreachable" in probe.stderr or b"Errno 101" in probe.stderr


class _Child:
    """One sandboxed render process and a line reader over its replies."""

    def __init__(self, workdir: str):
        package_parent = str(Path(linters.__file__).resolve().parent.parent)
        bootstrap = (
            f"import sys; sys.path.append({package_parent!r}); "
            "from linters.render_child import main; main()"
        )
        env = {"PATH": os.defpath, "LANG": "C.UTF-8", "HOME": workdir, "TMPDIR": workdir,
               "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0"}
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-c", bootstrap], cwd=workdir, env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            preexec_fn=_isolate, close_fds=True,
        )
        self.lines: collections.deque = collections.deque()  # complete reply lines not yet read
        self.partial: list[bytes] = []  # the start of a line still arriving
        self.partial_size = 0
        self.replied = 0  # bytes of replies to the current request

    def send(self, message: dict) -> None:
        self.proc.stdin.write((json.dumps(message) + "\n").encode())
        self.proc.stdin.flush()

    def read(self, deadline: float) -> dict | None:
        """The next message, or None on timeout or when the child died."""
        fd = self.proc.stdout.fileno()
        while not self.lines:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            ready, _, _ = select.select([fd], [], [], remaining)
            if not ready:
                return None
            data = os.read(fd, 65536)
            if not data:
                return None
            if b"\n" not in data:  # a long line arriving piece by piece
                self.partial.append(data)
                self.partial_size += len(data)
                if self.partial_size > MAX_REPLY_BYTES:
                    return {"type": "error", "stage": "render", "message": "output too large", "line": None}
                continue
            # Split a whole read at once: cutting one line at a time off a 64 KB buffer copies it per line.
            *complete, rest = b"".join([*self.partial, data]).split(b"\n")
            self.lines.extend(complete)
            self.partial, self.partial_size = [rest], len(rest)
        line = self.lines.popleft()
        self.replied += len(line)
        if self.replied > MAX_REPLY_BYTES:  # many small replies add up too
            return {"type": "error", "stage": "render", "message": "output too large", "line": None}
        return self._checked(line)

    def _checked(self, line: bytes) -> dict:
        """A reply as the parent expects it; the revision can write to the reply pipe too."""
        try:
            message = json.loads(line)
        except ValueError:
            message = None
        ok = isinstance(message, dict) and isinstance(message.get("type"), str)
        if ok and message["type"] in ("sql", "missing"):
            ok = isinstance(message.get("direction"), str) and (message["type"] == "missing" or (
                isinstance(message.get("sql"), str) and isinstance(message.get("line"), (int, type(None)))))
        if not ok:
            return {"type": "error", "stage": "render", "message": "the render process sent a malformed reply",
                    "line": None}
        if message["type"] == "done":
            self.replied = 0
        return message

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, 9)
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait()


def default_workers() -> int:
    """Render children for a long run: one core per child but one, which the main process needs
    (it parses and judges revisions while they render); ALEMBIC_REVIEW_WORKERS overrides.

    On 2 cores, 1 child is as fast as 2 on `--all` over 1,000 revisions and uses ~15% less CPU
    (the second child's alembic import buys nothing: the main process is the slower side)."""
    configured = os.environ.get("ALEMBIC_REVIEW_WORKERS", "")
    if configured.isdigit() and int(configured) > 0:
        return min(int(configured), 64)
    return max(1, min((os.cpu_count() or 1) - 1, 8))


_warm: list[_Child] = []
_warm_dir: tempfile.TemporaryDirectory | None = None


def prestart(count: int = 1) -> None:
    """Start `count` render children now, before the project is known.

    A child spends ~0.3 s importing alembic and SQLAlchemy; started first thing, that overlaps
    with reading the history instead of adding to the run. A Renderer takes these children
    before starting new ones; the ones nobody takes are killed when the process exits.
    """
    global _warm_dir
    if _warm_dir is None:
        _warm_dir = tempfile.TemporaryDirectory(prefix="alembic-review-")
        atexit.register(discard_prestarted)
    for _ in range(count):
        try:
            _warm.append(_Child(_warm_dir.name))
        except OSError:
            return


def discard_prestarted() -> None:
    while _warm:
        _warm.pop().kill()


class Renderer:
    """A pool of sandboxed children sharing a queue of revisions."""

    def __init__(self, sys_path: list[Path], *, workers: int | None = None, timeout: float = 30.0,
                 pg_version: int = 15, directions: tuple[str, ...] = ("upgrade", "downgrade")):
        self.sys_path = [str(p) for p in sys_path]
        self.workers = workers or default_workers()
        self.timeout = timeout
        self.pg_version = pg_version
        self.directions = directions

    def render(self, paths: list[Path], on_done=None, while_waiting=None, on_result=None) -> dict[str, RenderResult]:
        """Render `paths`. While the children work, this thread runs `while_waiting()`, then
        `on_result(path, result)` for each revision as it finishes, in the order they finish.

        The calling thread would sit idle in join(): work that needs no results (imports, reading
        sources) or one result (parsing its SQL) costs no wall time there. It runs on the calling
        thread: importing from a second thread while the first imports too can see half-initialized
        modules.
        """
        jobs: queue.Queue = queue.Queue()
        for i, path in enumerate(paths):
            jobs.put((i, str(path)))
        results: dict[str, RenderResult] = {}
        if on_done is not None and hasattr(on_done, "start"):
            on_done.start(len(paths))  # a progress bar wants the total before the first revision
        finished: queue.Queue = queue.Queue()  # paths as they finish; None when a worker thread ends
        with tempfile.TemporaryDirectory(prefix="alembic-review-") as workdir:
            threads = [threading.Thread(target=self._work, args=(jobs, results, workdir, on_done, finished),
                                        daemon=True)
                       for _ in range(min(self.workers, max(1, len(paths))))]
            for t in threads:
                t.start()
            try:
                if while_waiting is not None:
                    while_waiting()
                running = len(threads)
                while running:
                    path = finished.get()
                    if path is None:
                        running -= 1
                    elif on_result is not None:
                        on_result(path, results[path])
            finally:
                for t in threads:
                    t.join()
        discard_prestarted()  # more were started than there were revisions
        return results

    def _work(self, jobs: queue.Queue, results: dict, workdir: str, on_done, finished: queue.Queue) -> None:
        """Feed one child, keeping PIPELINE requests queued in it so it never waits for us."""
        child: _Child | None = None
        inflight: collections.deque = collections.deque()
        try:
            while True:
                while len(inflight) < PIPELINE:
                    try:
                        job = jobs.get_nowait()
                    except queue.Empty:
                        break
                    if child is None:
                        child = self._start(workdir)
                    self._send(child, *job)
                    inflight.append(job)
                if not inflight:
                    return
                index, path = inflight.popleft()
                result, healthy = self._collect(child, path)
                results[path] = result
                finished.put(path)
                if not healthy:
                    child.kill()
                    child = None
                    for job in inflight:  # sent to the dead child, never started: render them again
                        jobs.put(job)
                    inflight.clear()
                if on_done:
                    on_done(path)
        finally:
            if child is not None:
                child.kill()
            finished.put(None)

    def _start(self, workdir: str) -> _Child:
        try:
            child = _warm.pop()
        except IndexError:
            child = _Child(workdir)
        ready = child.read(time.monotonic() + max(self.timeout, 60))
        if not ready or ready.get("type") != "ready":
            child.kill()
            raise RuntimeError("the render process did not start (is alembic installed?)")
        child.send({"sys_path": self.sys_path})
        return child

    def _send(self, child: _Child, index: int, path: str) -> None:
        child.send({"path": path, "module": f"_alembic_review_rev_{index}",
                    "directions": list(self.directions), "pg_version": self.pg_version})

    def _collect(self, child: _Child, path: str) -> tuple[RenderResult, bool]:
        """The replies to the oldest request; its timeout runs from when the one before it ended."""
        result = RenderResult(path=path)
        deadline = time.monotonic() + self.timeout
        while True:
            message = child.read(deadline)
            if message is None:
                if child.proc.poll() is None and time.monotonic() >= deadline:
                    result.error("timeout", f"rendering took longer than {self.timeout:g}s (an endless loop, or waiting on something)")
                else:
                    child.proc.wait()
                    result.error("crash", f"the revision ended the render process (exit code {child.proc.returncode})")
                return result, False
            kind = message.get("type")
            if kind == "done":
                return result, True
            if kind == "sql":
                result.chunks.append(Chunk(message["direction"], message.get("line"), message["sql"]))
            elif kind == "error":
                result.error(message.get("stage", "render"), message.get("message", ""), message.get("line"))
                if message.get("message") == "output too large":
                    return result, False
            elif kind == "missing":
                result.missing.append(message["direction"])
