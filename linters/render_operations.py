"""How the render child calls a revision's upgrade()/downgrade(): the arguments it passes, and the
operations it cannot run (a plugin's `op.sync_enum_values`, `op.create_entity` when the plugin is
not installed), which are recorded instead of ending the render.

Runs inside the render child: only the standard library, alembic and SQLAlchemy here.
"""

from __future__ import annotations

import contextlib
import inspect
import sys
import types

try:  # in the render child, loaded by path beside render_child.py (nothing of ours is importable there)
    from _alembic_review_render_standins import is_stand_in, stand_in
except ImportError:
    from linters.render_standins import is_stand_in, stand_in


def arguments(fn, ops) -> tuple[list, dict]:
    """`op` for the first required parameter (some projects write upgrade(op)); a stand-in for every
    other one, as env.py would pass them through context.run_migrations(**kw)."""
    code = getattr(fn, "__code__", None)
    if type(fn) is types.FunctionType and not code.co_argcount and not code.co_kwonlyargcount \
            and not code.co_flags & (inspect.CO_VARARGS | inspect.CO_VARKEYWORDS) \
            and not hasattr(fn, "__wrapped__") and not hasattr(fn, "__signature__"):
        return [], {}  # upgrade(): what nearly every revision writes, without inspect.signature's cost
    args, kwargs = [], {}
    for i, p in enumerate(inspect.signature(fn).parameters.values()):
        if p.default is not p.empty or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        value = ops if i == 0 else stand_in(f"run_migrations argument {p.name}")()
        if p.kind == p.KEYWORD_ONLY:
            kwargs[p.name] = value
        else:
            args.append(value)
    return args, kwargs


class _Unreviewed:
    """An operation alembic does not know here: recorded at its line, then nothing happens."""

    def __init__(self, name: str, send, line):
        self.name, self.send, self.line = name, send, line

    def __call__(self, *args, **kwargs):
        self.send({"type": "unreviewed", "op": self.name, "line": self.line()})


# Who records while a revision runs: (send, line) or None. The patches below are installed once per
# child: setting an attribute on alembic's Operations class rebuilds the `op` module's proxies (a
# compiled function per method, about a millisecond each time), too slow to do per revision.
_RECORDING: list = [None]


def _install_recording() -> None:
    from alembic.operations import base as ops_base
    from alembic.operations.base import Operations
    AbstractOperations = getattr(ops_base, "AbstractOperations", Operations)  # alembic < 1.11: Operations
    if getattr(AbstractOperations, "_ar_recording", False):
        return
    op_module = sys.modules["alembic.op"]

    def unknown(name: str):
        if name.startswith("_") or _RECORDING[0] is None:
            raise AttributeError(name)
        send, line = _RECORDING[0]
        return _Unreviewed(name, send, line)

    execute = Operations.execute

    def execute_known(self, sqltext, *args, **kwargs):
        if _RECORDING[0] is not None and is_stand_in(sqltext):  # SQL from a module stood in for: unknowable
            send, line = _RECORDING[0]
            send({"type": "unreviewed", "op": f"execute({sqltext})", "line": line()})
            return None
        return execute(self, sqltext, *args, **kwargs)

    op_module.__getattr__ = unknown
    AbstractOperations.__getattr__ = lambda self, name: unknown(name)
    Operations.execute = execute_known
    AbstractOperations._ar_recording = True


@contextlib.contextmanager
def recording_unknown(ops, send, line):
    """While a revision runs, `op.<unknown>` and `ops.<unknown>` (batch_op too) are recorded, not AttributeErrors."""
    _install_recording()
    _RECORDING[0] = (send, line)
    try:
        yield
    finally:
        _RECORDING[0] = None
