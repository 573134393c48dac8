"""The sandboxed render processes themselves: starting one, its limits, and the line protocol.

Kept apart from linters.render (the pool) and light to import: `python -m linters` starts a child
before it imports anything else, because the child's import of alembic and SQLAlchemy (~0.3 s) is
the longest step of a pull-request check. The child (linters/render_child.py) imports revision
code, which is not ours to trust: it runs with an emptied environment, a temporary working
directory, rlimits on CPU, memory, file size, and, where the kernel lets us, in a network
namespace of its own with no interfaces up.
"""

from __future__ import annotations

import atexit
import collections
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import linters
from linters import sandbox

MAX_REPLY_BYTES = 8 * 1024 ** 2  # a revision emitting more SQL than this is cut off


# The child loads render_child.py by its path and nothing else of ours: in the project's own
# interpreter (--python) neither our package nor our dependencies are installed, and adding our
# site-packages to its path would mix our alembic and SQLAlchemy with the project's.
CHILD_SOURCE = str(Path(linters.__file__).resolve().parent / "render_child.py")
BOOTSTRAP = (
    "import importlib.util, sys; "
    f"spec = importlib.util.spec_from_file_location('_alembic_review_render_child', {CHILD_SOURCE!r}); "
    "child = importlib.util.module_from_spec(spec); sys.modules[spec.name] = child; "
    "spec.loader.exec_module(child); child.main()"
)


class _Child:
    """One sandboxed render process, in `python` (default: ours), and a line reader over its replies."""

    def __init__(self, workdir: str, python: str | None = None):
        self.python = python or sys.executable
        env = {"PATH": os.defpath, "LANG": "C.UTF-8", "HOME": workdir, "TMPDIR": workdir,
               "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0"}
        # -I ignores PYTHON* variables, PYTHONDONTWRITEBYTECODE too: -B keeps the revisions' bytecode
        # out of the project (a __pycache__ beside them), as the variable meant to.
        self.proc = subprocess.Popen(
            [self.python, "-I", "-B", "-c", BOOTSTRAP], cwd=workdir, env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            preexec_fn=sandbox.isolate, close_fds=True,
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
        for pipe in (self.proc.stdin, self.proc.stdout):
            try:
                pipe.close()
            except OSError:  # a request still buffered for the dead child: nobody will read it
                pass


def default_workers() -> int:
    """Render children for a long run: one core per child but one, which the main process needs
    (it parses and judges revisions while they render); ALEMBIC_REVIEW_WORKERS overrides.

    On 2 cores, 1 child: on `--all` over 1,000 revisions a second one costs ~0.9 s more CPU (its
    alembic import, two processes sharing two cores with the main one); at load 9 it still ended
    sooner (8.5 s against 9.9 s, medians of 4), for the larger share of a busy machine it took."""
    configured = os.environ.get("ALEMBIC_REVIEW_WORKERS", "")
    if configured.isdigit() and int(configured) > 0:
        return min(int(configured), 64)
    return max(1, min((os.cpu_count() or 1) - 1, 8))


_warm: list[_Child] = []
_warm_dir: tempfile.TemporaryDirectory | None = None


def prestart(count: int = 1, python: str | None = None) -> None:
    """Start `count` render children now, before the project is known.

    A child spends ~0.3 s importing alembic and SQLAlchemy; started first thing, that overlaps
    with reading the history instead of adding to the run. A Renderer takes these children
    before starting new ones; the ones nobody takes are killed when the process exits.
    """
    global _warm_dir
    if _warm_dir is None:
        _warm_dir = tempfile.TemporaryDirectory(prefix="alembic-review-")
        atexit.register(_warm_dir.cleanup)  # runs after discard_prestarted (atexit is last in, first out)
        atexit.register(discard_prestarted)
    for _ in range(count - len(_warm)):  # the ones already waiting count
        try:
            _warm.append(_Child(_warm_dir.name, python))
        except OSError:
            return


def discard_prestarted() -> None:
    while _warm:
        _warm.pop().kill()


def take_prestarted(python: str | None = None):
    """A child started by prestart() in `python` (default: ours), or None. Children started in
    another interpreter are of no use: they are killed."""
    wanted = python or sys.executable
    while _warm:
        child = _warm.pop()
        if child.python == wanted:
            return child
        child.kill()
    return None


def find_python(value: str, relative_to: Path) -> str | None:
    """The interpreter `value` names, as an absolute path: a path (relative to `relative_to`), or a
    command looked up on PATH; None when it is not an executable file. Symlinks are kept: a venv's
    bin/python is one, and resolving it would leave the venv."""
    if os.sep in value or (os.altsep and os.altsep in value):
        found = os.path.abspath(os.path.join(relative_to, os.path.expanduser(value)))
    else:
        found = shutil.which(value)
    return found if found and os.path.isfile(found) and os.access(found, os.X_OK) else None


def python_option(argv: list[str]) -> str | None:
    """The value of --python in `argv`, read before argparse runs; None when absent."""
    for i, arg in enumerate(argv):
        if arg == "--python" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--python="):
            return arg.split("=", 1)[1]
    return None


def prestart_for(argv: list[str]) -> None:
    """First thing in `python -m linters`: start the render children a review with `argv` will want."""
    if any(a in ("-h", "--help", "--version") for a in argv):
        return
    python = python_option(argv)
    if python is not None:
        python = find_python(python, Path.cwd())
        if python is None:
            return  # the command line says why, once it is parsed
    prestart(default_workers() if "--all" in argv else 1, python)
