"""Render revisions to SQL in a pool of sandboxed child processes (linters.render_process), in
parallel, with a timeout each."""

from __future__ import annotations

import base64
import collections
import importlib.util
import marshal
import queue
import tempfile
import threading
import time
from pathlib import Path
from typing import NamedTuple

from linters.model import RenderResult
from linters.revision_files import blob_id
from linters.sql import Chunk
from linters.render_process import _Child, default_workers, discard_prestarted, take_prestarted

# Requests queued in each child: it starts the next while we read the last. The thread feeding it
# shares the interpreter (and, on a busy machine, the CPU) with the main thread judging revisions,
# so it answers late: with 2 queued, a child on `--all` over 1,000 revisions found none waiting
# after 30-50% of them and sat idle 0.4-0.9 s in all; with 4, under 0.05 s. Ctrl-C still lets the
# ones queued finish (milliseconds each, as revisions go).
PIPELINE = 4


class Job(NamedTuple):
    index: int
    path: str
    resent: bool = False  # sent again after a child died with it queued, before it started


MAGIC = importlib.util.MAGIC_NUMBER.hex()  # changes with the bytecode (and marshal) format


def _drain(jobs: queue.Queue) -> None:
    while True:
        try:
            jobs.get_nowait()
        except queue.Empty:
            return


class Renderer:
    """A pool of sandboxed children sharing a queue of revisions."""

    def __init__(self, sys_path: list[Path], *, workers: int | None = None, timeout: float = 30.0,
                 pg_version: int = 15, directions: tuple[str, ...] = ("upgrade", "downgrade"),
                 python: str | None = None, env_imports: list[str] | None = None):
        self.sys_path = [str(p) for p in sys_path]
        self.python = python  # the interpreter the children run in (None: ours)
        self.env_imports = list(env_imports or [])  # what env.py imports: installed plugins are loaded
        self.workers = workers or default_workers()
        self.timeout = timeout
        self.pg_version = pg_version
        self.directions = directions
        self.schemas: dict[str, dict] = {}  # path -> the schema the history built before it (history_schema)
        self.compiled: dict[str, dict] = {}  # path -> the revision's code, compiled here (precompile)

    def precompile(self, path: str, blob: str | None, source: str, tree) -> None:
        """Compile a revision in this process, from the tree it parsed anyway, while the children render
        the ones before it. Compiling is a tenth of a child's time per revision, and with --all the child
        is what the run waits for. The child runs this code only if the file still has these bytes (`blob`)
        and its Python reads this marshal format; otherwise it imports the file itself, as before."""
        if tree is None or blob is None or self.python is not None:  # --python: maybe another Python
            return
        if blob_id(source.encode("utf-8")) != blob:  # bytes that are not plain UTF-8: the child decodes them
            return
        try:
            code = compile(tree, path, "exec", dont_inherit=True)
        except (SyntaxError, ValueError):
            return
        self.compiled[path] = {"blob": blob, "magic": MAGIC, "code": base64.b64encode(marshal.dumps(code)).decode()}

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
            jobs.put(Job(i, str(path)))
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
                    results[path] = RenderResult(path=path, directions=self.directions)
                    results[path].error("crash", f"no render process could run it: {failures[-1] if failures else '?'}")
                    if on_result is not None:
                        on_result(path, results[path])
        discard_prestarted()  # more were started than there were revisions
        return results

    def _work(self, jobs: queue.Queue, results: dict, workdir: str, on_done, finished: queue.Queue,
              failures: list[str]) -> None:
        """Feed one child, keeping PIPELINE requests queued in it so it never waits for us.

        The child renders its requests in order and says when it starts one, so when it dies (or
        is killed at a timeout) only the revision that was running is blamed; the ones queued
        behind it go back to the queue for a fresh child. A revision the child never started is
        sent again once; if a child dies before starting it a second time, it is blamed.
        """
        child: _Child | None = None
        inflight: collections.deque = collections.deque()
        try:
            while True:
                while len(inflight) < PIPELINE:
                    try:
                        job = jobs.get_nowait()
                    except queue.Empty:
                        break
                    inflight.append(job)  # before starting a child: if none starts, the job goes back
                    if child is None:
                        child = self._start(workdir)
                    if not self._send(child, job):
                        if len(inflight) > 1:
                            break  # a revision in flight ended it: reading its replies says which
                        # Nothing was running: it died after its last reply (something a revision left
                        # behind ended it). Not this revision's fault: a fresh child, and if that
                        # one takes no request either, no child can render here.
                        child.kill()
                        child = self._start(workdir)
                        if not self._send(child, job):
                            raise RuntimeError("the render process ended before it was given a revision")
                if not inflight:
                    return
                job = inflight.popleft()
                result, healthy, started = self._collect(child, job.path)
                if not healthy:
                    child.kill()
                    child = None
                    for queued in inflight:  # sent to the dead child, never started: render them again
                        jobs.put(queued)
                    inflight.clear()
                    if not started and not job.resent:  # it was not running: not its fault
                        jobs.put(job._replace(resent=True))
                        continue
                path = job.path
                results[path] = result
                finished.put(path)
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
        child = take_prestarted(self.python) or _Child(workdir, self.python)
        ready = child.read(time.monotonic() + max(self.timeout, 60))
        if not ready or ready.get("type") != "ready":
            child.kill()
            why = ready.get("message") if ready and ready.get("type") == "unavailable" else "is alembic installed?"
            raise RuntimeError(f"the render process did not start ({child.python}: {why})")
        child.send({"sys_path": self.sys_path, "env_imports": self.env_imports})
        return child

    def _send(self, child: _Child, job: Job) -> bool:
        """Queue a request in the child; False when the child is already gone (a broken pipe)."""
        try:
            request = {"path": job.path, "module": f"_alembic_review_rev_{job.index}",
                       "directions": list(self.directions), "pg_version": self.pg_version}
            if job.path in self.schemas:
                request["schema"] = self.schemas[job.path]
            if (compiled := self.compiled.get(job.path)) is not None:
                request["compiled"] = compiled
            child.send(request)
        except OSError:
            return False
        return True

    def _collect(self, child: _Child, path: str) -> tuple[RenderResult, bool, bool]:
        """The replies to the oldest request: (result, the child is still healthy, the child started
        rendering it). Its timeout runs from when the one before it ended."""
        result = RenderResult(path=path, directions=self.directions)
        deadline = time.monotonic() + self.timeout
        started = False
        while True:
            message = child.read(deadline)
            if message is None:
                if child.proc.poll() is None and time.monotonic() >= deadline:
                    result.error("timeout", f"rendering took longer than {self.timeout:g}s (an endless loop, or waiting on something)")
                else:
                    child.proc.wait()
                    result.error("crash", f"the revision ended the render process (exit code {child.proc.returncode})")
                return result, False, started
            kind = message.get("type")
            if kind == "start":
                started = True
            elif kind == "done":
                return result, True, started
            elif kind == "sql":
                result.chunks.append(Chunk(message["direction"], message.get("line"), message["sql"]))
            elif kind == "error":
                result.error(message.get("stage", "render"), message.get("message", ""), message.get("line"))
                if message.get("message") == "output too large":
                    return result, False, started
            elif kind == "missing":
                result.missing.append(message["direction"])
            elif kind == "standins" and isinstance(message.get("names"), dict):
                result.stand_ins.update({str(k): str(v) for k, v in message["names"].items()})
                result.stand_ins_line = message.get("line") if isinstance(message.get("line"), int) else None
            elif kind == "unreviewed" and isinstance(message.get("line"), (int, type(None))):
                result.unreviewed.append({"op": str(message.get("op")), "line": message.get("line")})
            elif kind == "live_data" and isinstance(message.get("line"), (int, type(None))):
                result.live_data = {"line": message.get("line"), "what": str(message.get("what", "")),
                                    "schema": message.get("schema") is True}
