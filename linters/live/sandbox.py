"""Run one of our child scripts on the user's code, in the renderer's sandbox, one request and
one reply. Used to import the models (models_child.py) and to apply a revision online
(online_child.py).

The sandbox is linters/sandbox.py's `isolate` (rlimits, a network namespace of its own) plus an
emptied environment and a temporary working directory. When the child needs the scratch
database, it gets a Unix socket to that one server (linters/live/proxy.py): no other network.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import linters
from linters.live.proxy import UnixProxy
from linters.sandbox import isolate


def _child_env(workdir: str) -> dict:
    return {"PATH": os.defpath, "LANG": "C.UTF-8", "HOME": workdir, "TMPDIR": workdir,
            "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0"}


def run_child(module: str, request: dict, *, timeout: float, database: dict | None = None) -> dict:
    """The child's JSON reply; {"ok": False, "message": ...} when it timed out or died."""
    package_parent = str(Path(linters.__file__).resolve().parent.parent)
    bootstrap = f"import sys; sys.path.append({package_parent!r}); from {module} import main; main()"
    request = dict(request)
    with tempfile.TemporaryDirectory(prefix="alembic-review-child-") as workdir:
        proxy = None
        if database:
            host = database.get("host") or "localhost"
            port = int(database.get("port") or 5432)
            if host.startswith("/"):  # already a Unix socket directory: the child can use it as is
                request["database"] = database
            else:
                proxy = UnixProxy(Path(workdir), port, database.get("hostaddr") or host, port)
                request["database"] = {**{k: v for k, v in database.items() if k not in ("hostaddr", "sslmode")},
                                       "host": workdir, "port": str(port)}
        try:
            proc = subprocess.run([sys.executable, "-I", "-c", bootstrap], cwd=workdir, env=_child_env(workdir),
                                  input=json.dumps(request) + "\n", capture_output=True, text=True,
                                  timeout=timeout, preexec_fn=isolate)
        except subprocess.TimeoutExpired:
            return {"ok": False, "stage": "timeout", "message": f"took longer than {timeout:g}s"}
        finally:
            if proxy:
                proxy.close()
    try:
        return json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        return {"ok": False, "stage": "crash", "message": f"the process ended without an answer (exit code {proc.returncode})"}


def serve(run) -> None:
    """Child side: read one request, answer run(request) on a private copy of stdout; the user's
    code prints to /dev/null and cannot disturb the protocol."""
    request_stream = os.fdopen(os.dup(0), "r", encoding="utf-8")
    reply_stream = os.fdopen(os.dup(1), "w", encoding="utf-8")
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    sys.stdin = open(os.devnull)
    sys.stdout = sys.stderr = open(os.devnull, "w")
    request = json.loads(request_stream.readline() or "{}")
    sys.path[:0] = request.get("sys_path", [])
    reply = run(request)
    reply_stream.write(json.dumps(reply, default=str) + "\n")
    reply_stream.flush()
