"""Runs inside the sandboxed child: import one revision file, run upgrade()/downgrade() offline
against a PostgreSQL MigrationContext in --sql mode, and stream each emitted SQL chunk tagged
with the line of the op.* call that produced it.

Protocol: one JSON request per line on a private copy of stdin; JSON messages per line on a
private copy of stdout. The child says {"type": "ready"} once alembic is imported; a request
{"sys_path": [...]} sets the import path (no reply); a request naming a revision file (and, when it
is rendered again because it reflected the database, the "schema" the history built before it) is answered
by {"type": "start"} as soon as it is read (the parent then knows which revision was running if the
process dies), {"type": "sql", ...} and {"type": "error", ...} messages ("standins", "unreviewed" and "live_data" say
what was stood in for, skipped, or read from the empty offline database), then {"type": "done"}.
The revision's own stdin/stdout/stderr are /dev/null so it cannot disturb the protocol.

It may run in the project's own interpreter (`--python`), loaded by file path: it imports only the
standard library and that interpreter's alembic (1.8 on) and SQLAlchemy (1.4 or 2.x), and keeps to
Python 3.7 syntax.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import importlib.util
import io
import json
import marshal
import os
import sys
import traceback



def _sibling(name: str):
    """A helper module beside this file, loaded by its path: under the project's own interpreter the
    child has nothing of ours on sys.path (and a `linters` package there is the project's)."""
    full = f"_alembic_review_{name}"
    if full not in sys.modules:
        spec = importlib.util.spec_from_file_location(full, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                                          f"{name}.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules[full] = module
        spec.loader.exec_module(module)
    return sys.modules[full]


# Loaded by _patch_alembic (they import SQLAlchemy: an interpreter without it must still say so).
render_standins = render_reflection = render_bind = render_operations = render_legacy = None


def _load_helpers() -> None:
    global render_standins, render_reflection, render_bind, render_operations, render_legacy
    render_standins = _sibling("render_standins")
    render_reflection = _sibling("render_reflection")
    render_bind = _sibling("render_bind")
    render_operations = _sibling("render_operations")
    render_legacy = _sibling("render_legacy")


class Tracker:
    """Knows which revision file is running, and which line of it emitted the current SQL."""

    def __init__(self):
        self.path: str | None = None
        self.forced_line: int | None = None  # set while a batch_alter_table block flushes

    def line(self) -> int | None:
        if self.forced_line is not None:
            return self.forced_line
        frame = sys._getframe(1)
        while frame is not None:
            if frame.f_code.co_filename == self.path:
                return frame.f_lineno
            frame = frame.f_back
        return None


TRACKER = Tracker()


class ChunkWriter(io.StringIO):
    """The MigrationContext's output buffer: every write is one rendered statement."""

    def __init__(self, send, direction: str):
        super().__init__()
        self.send = send
        self.direction = direction

    def write(self, text: str) -> int:
        sql = text.strip()
        if sql:
            self.send({"type": "sql", "direction": self.direction, "line": TRACKER.line(), "sql": sql})
        return len(text)


def _patch_alembic():
    import alembic  # noqa: F401  (first: an interpreter without it is named for what it lacks)
    _load_helpers()
    """Tag batch operations with the line of their batch_op.* call, not of the `with` block's end,
    and note when the revision asks for a connection (offline there is none)."""
    from alembic.operations import base as ops_base
    from alembic.operations.batch import BatchOperationsImpl

    # alembic 1.11 moved invoke() and get_bind() into AbstractOperations; before, Operations held them
    operations = getattr(ops_base, "AbstractOperations", ops_base.Operations)
    original_invoke = operations.invoke
    original_flush = BatchOperationsImpl.flush

    def invoke(self, operation):
        impl = getattr(self, "impl", None)
        if not isinstance(impl, BatchOperationsImpl):
            result = original_invoke(self, operation)
            render_reflection.SCHEMA.note(operation)  # a table it creates can be reflected later in it
            return result
        before = len(impl.batch)
        line = TRACKER.line()
        result = original_invoke(self, operation)
        impl.__dict__.setdefault("_ar_lines", []).extend([line] * (len(impl.batch) - before))
        return result

    def flush(self):
        lines = self.__dict__.get("_ar_lines", [])
        if self._should_recreate() or len(lines) != len(self.batch):
            return original_flush(self)
        batch = self.batch
        try:
            for entry, line in zip(batch, lines):
                self.batch = [entry]
                TRACKER.forced_line = line
                original_flush(self)
        finally:
            self.batch = batch
            TRACKER.forced_line = None

    operations.invoke = invoke
    BatchOperationsImpl.flush = flush
    render_bind.install(TRACKER.line)  # op.get_bind(): a connection that records, where alembic has none offline
    render_standins.install()  # what the revision imports but cannot be imported here
    render_legacy.install()  # MetaData(bind=...), Table(autoload=True): old revisions of long histories
    render_reflection.install()  # columns of tables the history uses but never creates
    _tag_autocommit_exit()


def _tag_autocommit_exit():
    """The BEGIN that closes `with ...autocommit_block():` carries the line of the `with`: Python 3.10
    and later report that line while __exit__ runs, 3.7-3.9 the last line of the block, which would
    make Alembic's own BEGIN look like the revision's."""
    from alembic.runtime.migration import MigrationContext

    original = MigrationContext.autocommit_block

    @contextlib.contextmanager
    def autocommit_block(self):
        line = TRACKER.line()
        block = original(self)
        value = block.__enter__()
        try:
            yield value
        except BaseException:
            if not block.__exit__(*sys.exc_info()):
                raise
        else:
            forced, TRACKER.forced_line = TRACKER.forced_line, line
            try:
                block.__exit__(None, None, None)
            finally:
                TRACKER.forced_line = forced

    MigrationContext.autocommit_block = autocommit_block


def _error_line(exc: BaseException, path: str) -> int | None:
    lines = [f.lineno for f in traceback.extract_tb(exc.__traceback__) if f.filename == path]
    if isinstance(exc, SyntaxError) and exc.filename == path:
        return exc.lineno
    return lines[-1] if lines else None


def _describe(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".strip()
    if render_bind.LIVE_DATA.line is not None:
        held = "has the history's tables but no rows" if render_reflection.SCHEMA.from_history else "is empty"
        text += f" (offline the database {held}: the revision {render_bind.LIVE_DATA.what} at line {render_bind.LIVE_DATA.line})"
    if render_standins.RECORD.names:
        text += f" (with stand-ins for {', '.join(sorted(render_standins.RECORD.names))})"
    return text[:2000]


_CONTEXTS: dict = {}


def _context(send, direction: str, pg_version: int):
    """One offline MigrationContext per direction and version, reused for every revision: building
    one (dialect, impl, version table) costs about as much as rendering a small revision, and in
    --sql mode a context keeps no state between migrations."""
    from alembic.runtime.migration import MigrationContext

    key = (send, direction, pg_version)
    if key not in _CONTEXTS:
        context = MigrationContext.configure(
            dialect_name="postgresql",
            opts={"as_sql": True, "output_buffer": ChunkWriter(send, direction), "literal_binds": True},
        )
        context.dialect.server_version_info = (pg_version, 0)
        _CONTEXTS[key] = context
    return _CONTEXTS[key]


def load_revision(path: str, module_name: str, compiled: dict | None = None):
    """Import the revision file at `path` as a module of its own (never from sys.modules); with the code
    the parent compiled (linters/render.py precompile), when the file still has those bytes."""
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    code = _precompiled(path, compiled) if compiled else None
    if code is None:
        spec.loader.exec_module(module)
    else:
        exec(code, module.__dict__)  # what exec_module does with the code it compiles
    return module


def _precompiled(path: str, compiled: dict):
    if compiled.get("magic") != importlib.util.MAGIC_NUMBER.hex():
        return None
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return None  # the import says why
    # git's blob id, as linters.revision_files.blob_id computes it (the child imports no linters module)
    if hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest() != compiled.get("blob"):
        return None
    return marshal.loads(base64.b64decode(compiled["code"]))


def call_with_op(fn, ops, env=None, send=None) -> None:
    """Run upgrade()/downgrade() with alembic's `op` (and `context`, when given) proxying to `ops` and
    `env`, as Alembic does; parameters beyond the first (what env.py passes through
    run_migrations(**kw)) get stand-ins. With `send`, operations alembic does not know are recorded."""
    if render_operations is None:  # imported by another child (live/online_child.py)
        _load_helpers()
    ops._install_proxy()
    if env is not None:
        env._install_proxy()
    try:
        with render_operations.recording_unknown(ops, send, TRACKER.line) if send else contextlib.nullcontext():
            args, kwargs = render_operations.arguments(fn, ops)
            fn(*args, **kwargs)
    finally:
        if env is not None:
            env._remove_proxy()
        ops._remove_proxy()


def render(request: dict, send) -> None:
    from alembic.operations import Operations

    path = request["path"]
    TRACKER.path = path
    render_bind.LIVE_DATA.line = None
    render_reflection.SCHEMA.load(request.get("schema"))
    with render_standins.standing_in(path) as stood_in:
        try:
            module = load_revision(path, request["module"], request.get("compiled"))
        except BaseException as exc:  # anything the revision raises, SystemExit included
            send({"type": "error", "stage": "import", "message": _describe(exc), "line": _error_line(exc, path)})
            return
        for direction in request.get("directions", ["upgrade"]):
            fn = getattr(module, direction, None)
            if not callable(fn):
                send({"type": "missing", "direction": direction})
                continue
            context = _context(send, direction, int(request.get("pg_version", 15)))
            try:
                call_with_op(fn, Operations(context), render_bind.environment(context), send)
            except BaseException as exc:
                send({"type": "error", "stage": direction, "message": _describe(exc), "line": _error_line(exc, path)})
            finally:
                render_bind.BINDS.reset(context)
        if stood_in.names:
            send({"type": "standins", "names": dict(sorted(stood_in.names.items())), "line": stood_in.line})
        if render_bind.LIVE_DATA.line is not None:
            send({"type": "live_data", "line": render_bind.LIVE_DATA.line, "what": render_bind.LIVE_DATA.what,
                  "schema": render_reflection.SCHEMA.from_history})


def main() -> None:
    requests = os.fdopen(os.dup(0), "r", encoding="utf-8")
    replies = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    sys.stdin = open(os.devnull)
    sys.stdout = sys.stderr = open(os.devnull, "w")

    def send(message: dict) -> None:
        replies.write(json.dumps(message) + "\n")

    # Import alembic and SQLAlchemy (most of a child's start-up time) before the project's paths
    # are known: the parent starts children early, while it is still reading the history.
    try:
        _patch_alembic()
    except ImportError as exc:  # an interpreter without alembic (--python names the wrong one)
        send({"type": "unavailable", "message": "{}: {}".format(type(exc).__name__, exc)})
        return
    send({"type": "ready"})
    for line in requests:
        request = json.loads(line)
        if "sys_path" in request:  # configuration, sent before the first revision; no reply
            sys.path[:0] = request["sys_path"]
            render_standins.preload_plugins(request.get("env_imports", []))
            continue
        send({"type": "start"})
        try:
            render(request, send)
        finally:
            send({"type": "done"})


if __name__ == "__main__":
    main()
