"""The service's side of the sandbox (the child's side is linters/sandbox.py).

- Each running job gets a uid/gid of its own (ALEMBIC_REVIEW_SANDBOX_UID_BASE + its slot) when the
  service runs as root; its checkout is made readable by that group only, and after the job every
  process of that uid is killed (a revision may fork and call setsid to leave its process group).
- At start-up, `probe()` runs a revision-like script through the real sandbox and reports what is
  in force: the uid it got, whether it could read the private key, our environment, the network,
  a Unix socket. The service refuses to start when the key or the secret can be read.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import linters

PACKAGE_PARENT = str(Path(linters.__file__).resolve().parent.parent)


def precompile_reviewer() -> None:
    """Bytecode of our package, written once at start-up: the reviewer runs with
    PYTHONDONTWRITEBYTECODE and its sandboxed render processes cannot write beside the code (it is
    bound read-only there), so without it every job run from a source checkout compiled our modules
    from source again. Python checks each file's mtime and size: an edited module is recompiled.
    Nothing happens where the package cannot be written (an install owned by someone else)."""
    import compileall
    try:
        compileall.compile_dir(str(Path(linters.__file__).resolve().parent), quiet=2, workers=1)
    except OSError:
        pass


def can_drop_privileges() -> bool:
    return os.geteuid() == 0


def job_uid(base: int, slot: int | None) -> int | None:
    return base + slot if slot is not None and can_drop_privileges() else None


def prepare_work_dir(work_dir: Path) -> None:
    """The checkouts' parent: traversable (not listable) by the sandbox uids, nothing else."""
    work_dir.mkdir(parents=True, exist_ok=True)
    if can_drop_privileges():
        os.chmod(work_dir, 0o711)


def share_with(tree: Path, gid: int | None) -> None:
    """Make `tree` readable (not writable) by group `gid` only: the job's sandbox user."""
    if gid is None:
        return
    os.chown(tree, 0, gid)
    os.chmod(tree, 0o750)
    for root, dirs, files in os.walk(tree):
        for name in dirs:
            path = os.path.join(root, name)
            os.lchown(path, 0, gid)
            if not os.path.islink(path):
                os.chmod(path, 0o750)
        for name in files:
            path = os.path.join(root, name)
            os.lchown(path, 0, gid)
            if not os.path.islink(path):
                os.chmod(path, 0o640)


def share_linked_with(tree: Path, gid: int | None) -> None:
    """Like share_with, for a checkout whose files are hard links into the repository cache
    (bot/repo_cache.py): only the directories, the checkout's own, become root:gid 0750; the files
    stay root's and readable by anyone who can reach them, which only gid can, through these
    directories (the cache's own is root's, 0700). Changing a file's owner here would change it in
    the cache and in every other job's checkout linked to it. `.git` (packs linked from the cache
    too) is the reviewer's, root's: no revision needs it."""
    if gid is None:
        return
    os.chmod(tree / ".git", 0o700)
    os.chown(tree, 0, gid)
    os.chmod(tree, 0o750)
    for root, dirs, _ in os.walk(tree):
        if root == str(tree):
            dirs[:] = [d for d in dirs if d != ".git"]
        for name in dirs:
            path = os.path.join(root, name)
            if not os.path.islink(path):
                os.lchown(path, 0, gid)
                os.chmod(path, 0o750)


_libc = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """preexec_fn: the reviewer is killed when the worker that started it dies (a job whose
    worker died is done again elsewhere; its reviewer must not run on, unobserved)."""
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def clean_stale_jobs(work_dir: Path, older_than: float) -> None:
    """Remove job directories left by a worker that died (other live workers may share the dir)."""
    if not work_dir.is_dir():
        return
    limit = time.time() - older_than
    for entry in work_dir.glob("job-*"):
        try:
            if entry.stat().st_mtime < limit:
                shutil.rmtree(entry, ignore_errors=True)
        except OSError:
            pass


def _uid_processes(uid: int) -> list[int]:
    """The live processes of `uid`. Not its zombies: they run nothing and hold no memory, and the
    last ones of a job (a render process's PID namespace, killed with its reviewer) wait for the
    system's init to reap them; counting them made every job's end wait up to a second for it."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid != uid:
                    continue
                with open(f"/proc/{entry}/stat", "rb") as f:
                    state = f.read().rsplit(b")", 1)[1].split()[0]
                if state not in (b"Z", b"X"):
                    pids.append(int(entry))
            except (OSError, IndexError):
                pass
    return pids


def uid_memory_bytes(uid: int | None) -> int:
    """Memory of every process of `uid` together (a job's render processes and their forks): the sum
    of their proportional set sizes, so that pages forks share copy-on-write count once."""
    if uid is None or uid == 0:
        return 0
    total = 0
    for pid in _uid_processes(uid):
        try:
            with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
                for line in f:
                    if line.startswith(b"Pss:"):
                        total += int(line.split()[1]) * 1024
                        break
        except (OSError, IndexError, ValueError):
            pass
    return total


def kill_uid(uid: int | None) -> int:
    """Kill every process of `uid` (a job's leftovers); returns how many were found."""
    if uid is None or uid == 0:
        return 0
    found = 0
    for _ in range(20):
        pids = _uid_processes(uid)
        if not pids:
            break
        found += len(pids)
        # kill(-1) from a process of that uid reaches all of them at once, forks in flight included
        subprocess.run(["kill", "-KILL", "-1"], user=uid, group=uid, extra_groups=[],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for pid in pids:
            try:
                os.kill(pid, 9)
            except OSError:
                pass
        time.sleep(0.05)
    return found


def child_env(home: Path, uid: int | None, expose: Path) -> dict[str, str]:
    """The reviewer's whole environment: nothing of ours (no token, key, secret, REDIS_URL)."""
    env = {"PATH": os.environ.get("PATH", os.defpath), "LANG": "C.UTF-8", "HOME": str(home),
           "PYTHONPATH": PACKAGE_PARENT, "NO_COLOR": "1", "PYTHONDONTWRITEBYTECODE": "1",
           "ALEMBIC_REVIEW_SANDBOX": "strict", "ALEMBIC_REVIEW_SANDBOX_EXPOSE": str(expose)}
    if uid is not None:
        env["ALEMBIC_REVIEW_SANDBOX_UID"] = str(uid)
    return env


# A revision-like script: run inside the sandbox, it tries what a hostile revision would.
_PROBE_CHILD = r"""
import json, os, socket, sys
out = {"uid": os.getuid(), "env": sorted(os.environ)}
def attempt(name, fn):
    try:
        fn()
        out[name] = "yes"
    except OSError as exc:
        out[name] = f"no ({exc.strerror or exc})"
attempt("read_key", lambda: open(sys.argv[1], "rb").read(1) if sys.argv[1] else (_ for _ in ()).throw(OSError("no key file")))
attempt("read_service_environ", lambda: open(f"/proc/{sys.argv[2]}/environ", "rb").read(1))
attempt("tcp", lambda: socket.create_connection(("1.1.1.1", 443), timeout=2).close())
attempt("loopback", lambda: socket.create_connection(("127.0.0.1", int(sys.argv[3])), timeout=2).close())
attempt("unix_socket", lambda: socket.socket(socket.AF_UNIX).close())
print(json.dumps(out))
"""

# Started like the reviewer (same environment), it launches the child exactly as linters.render does.
_PROBE_PARENT = r"""
import json, os, subprocess, sys
from linters import sandbox
try:
    proc = subprocess.run([sys.executable, "-I", "-c", sys.argv[1], *sys.argv[2:]], preexec_fn=sandbox.isolate,
                          env={"PATH": os.defpath, "LANG": "C.UTF-8"}, cwd="/", capture_output=True,
                          text=True, timeout=60)
    child = json.loads(proc.stdout.strip().splitlines()[-1])
except Exception as exc:
    child = {"error": f"{type(exc).__name__}: {exc}"}
print(json.dumps({"child": child, "plan": sandbox.describe(sandbox.PLAN)}))
"""


def probe(settings, service_port: int = 9) -> dict:
    """Run the probe through the sandbox as a job would; a dict with 'lines' (what is in force),
    'ok' (nothing of ours was reachable) and the raw answers."""
    prepare_work_dir(settings.work_dir)
    # a uid below the jobs' range, one per process: jobs running elsewhere (and their end-of-job
    # kill of their uid) must not meet this probe
    uid = settings.sandbox_uid_base - 1 - os.getpid() % 10_000 if can_drop_privileges() else None
    with tempfile.TemporaryDirectory(prefix="probe-", dir=settings.work_dir) as tmp:
        share_with(Path(tmp), uid)
        key = str(settings.private_key_path.resolve()) if settings.private_key_path else ""
        proc = subprocess.run([sys.executable, "-c", _PROBE_PARENT, _PROBE_CHILD, key, str(os.getpid()),
                               str(service_port)],
                              env=child_env(Path(tmp), uid, Path(tmp)), cwd=tmp, capture_output=True,
                              text=True, timeout=120)
    kill_uid(uid)
    try:
        answer = json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        return {"ok": False, "lines": [f"the sandbox probe failed: {proc.stderr.strip()[-300:]}"]}
    child = answer["child"]
    if "error" in child:
        return {"ok": False, "lines": [f"the sandbox could not start a child: {child['error']}"], **answer}
    lines = list(answer["plan"])
    lines.append(f"revisions run as uid {child['uid']}")
    lines.append(f"environment seen by a revision: {', '.join(child['env']) or 'empty'}")
    for name, label in (("read_key", "read the App's private key file"),
                        ("read_service_environ", "read the service's environment"),
                        ("tcp", "reach the internet"), ("loopback", "reach this service on 127.0.0.1"),
                        ("unix_socket", "open a Unix socket")):
        lines.append(f"can {label}: {child[name]}")
    leaked = any(child[name] == "yes" for name in ("read_key", "read_service_environ"))
    return {"ok": not leaked, "lines": lines, **answer}


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
