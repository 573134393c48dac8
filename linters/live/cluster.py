"""--live: a throwaway PostgreSQL cluster from the machine's own initdb and pg_ctl.

The cluster lives in a temporary directory, listens on 127.0.0.1 on a free port (and on a Unix
socket in that directory), runs without fsync (nothing in it is worth keeping), and is stopped
and deleted when the review ends.

PostgreSQL refuses to run initdb and the server as root. When we are root we run both as the
`postgres` OS user (Popen(user=..., group=...): the setuid/setgid that runuser or setpriv would
do) and hand the directory to that user.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from linters.errors import UsageError

RUN_AS = "postgres"
START_TIMEOUT = 60


def find_bindir() -> Path:
    """The directory of initdb and pg_ctl: PATH, then pg_config --bindir, then Debian/RPM layouts."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl", path=str(Path(found).parent)):
        return Path(found).parent
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True).stdout.strip()
        if out and (Path(out) / "initdb").is_file():
            return Path(out)
    candidates = glob.glob("/usr/lib/postgresql/*/bin/initdb") + glob.glob("/usr/pgsql-*/bin/initdb")
    candidates.sort(key=lambda p: [int(x) for x in p.split("/") if x.isdigit()] or [0])
    if candidates:
        return Path(candidates[-1]).parent
    raise UsageError("--live needs PostgreSQL's initdb and pg_ctl (not found on PATH or by pg_config); "
                     "install the server package or pass --database-url")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_as() -> dict:
    """Popen arguments that drop root to the postgres user; nothing when we are not root."""
    if os.geteuid() != 0:
        return {}
    try:
        user = pwd.getpwnam(RUN_AS)
    except KeyError:
        raise UsageError("--live: PostgreSQL will not run as root and there is no `postgres` OS user "
                         "to run it as; create one or pass --database-url") from None
    return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}


def _run(cmd: list[str], as_user: dict, what: str, timeout: float = START_TIMEOUT) -> None:
    env = {"PATH": os.defpath, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout, cwd="/", **as_user)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UsageError(f"--live: {what} failed: {exc}") from None
    if proc.returncode != 0:
        last = (proc.stderr.strip() or proc.stdout.strip()).splitlines()[-1:] or ["no output"]
        raise UsageError(f"--live: {what} failed: {last[0]}")


@contextmanager
def throwaway_cluster() -> Iterator[str]:
    """Start a cluster, yield its URL (user postgres, trust auth), stop and delete it after."""
    bindir = find_bindir()
    as_user = _run_as()
    tmp = Path(tempfile.mkdtemp(prefix="alembic-review-pg-"))
    data = tmp / "data"
    started = False
    try:
        if as_user:
            os.chown(tmp, as_user["user"], as_user["group"])
        _run([str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust",
              "-E", "UTF8", "--no-sync"], as_user, "initdb")
        for attempt in range(3):  # the free port may be taken between probe and start
            port = free_port()
            options = (f"-p {port} -c listen_addresses=127.0.0.1 -k {tmp} -c fsync=off "
                       "-c full_page_writes=off -c synchronous_commit=off")
            try:
                _run([str(bindir / "pg_ctl"), "-D", str(data), "-l", str(tmp / "server.log"), "-w",
                      "-t", str(START_TIMEOUT), "-o", options, "start"], as_user, "pg_ctl start")
                started = True
                break
            except UsageError:
                if attempt == 2:
                    raise
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        if started:
            try:
                _run([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"], as_user, "pg_ctl stop")
            except UsageError:
                pass
        shutil.rmtree(tmp, ignore_errors=True)
