"""Render revisions to SQL in a pool of sandboxed child processes (linters.render_process), in
parallel, with a timeout each."""

from __future__ import annotations

import collections
import queue
import tempfile
import threading
import time
from pathlib import Path

from linters.model import RenderResult
from linters.sql import Chunk
from linters.render_process import _Child, default_workers, discard_prestarted, take_prestarted

PIPELINE = 2  # requests queued in each child: it starts the next while we read the last


def _drain(jobs: queue.Queue) -> None:
    while True:
        try:
            jobs.get_nowait()
        except queue.Empty:
            return


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
        failures: list[str] = []  # why a worker thread gave up (its child would not start)
        with tempfile.TemporaryDirectory(prefix="alembic-review-") as workdir:
            threads = [threading.Thread(target=self._work, args=(jobs, results, workdir, on_done, finished, failures),
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
            except BaseException:  # Ctrl-C, or a bug in on_result: stop after the revisions in flight
                _drain(jobs)
                raise
            finally:
                for t in threads:
                    t.join()
            for path in map(str, paths):  # no child could take them: each says why, the run goes on
                if path not in results:
                    results[path] = RenderResult(path=path)
                    results[path].error("crash", f"no render process could run it: {failures[-1] if failures else '?'}")
                    if on_result is not None:
                        on_result(path, results[path])
        discard_prestarted()  # more were started than there were revisions
        return results

    def _work(self, jobs: queue.Queue, results: dict, workdir: str, on_done, finished: queue.Queue,
              failures: list[str]) -> None:
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
        except (RuntimeError, OSError) as exc:  # no child: the revisions it would have taken wait for the others
            failures.append(str(exc))
            for job in inflight:
                jobs.put(job)
        finally:
            if child is not None:
                child.kill()
            finished.put(None)

    def _start(self, workdir: str) -> _Child:
        child = take_prestarted() or _Child(workdir)
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
