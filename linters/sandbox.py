"""How a child that runs code not ours is confined: `isolate`, its preexec_fn, and the extra
confinement for code from strangers (the webhook service).

Every such child (the render children, the live children, the service's sandbox probe) starts
through `isolate`: a session of its own, rlimits, and, where the kernel allows, a network namespace
of its own; its starter gives it an emptied environment and a timeout. With
ALEMBIC_REVIEW_SANDBOX=strict (the webhook service sets it; the CLI and the Action run the user's
own code and leave it off) the child also gets, before it execs Python:

- when we are root: a private mount namespace in which /tmp, /var/tmp, /dev/shm and /run (Unix
  sockets of local databases, lock files) are empty size-capped tmpfs, and so is every directory
  that the sandbox user could not traverse anyway (e.g. /root, where Python may be installed);
  what the child needs there (the Python installation, our package, the directories listed in
  ALEMBIC_REVIEW_SANDBOX_EXPOSE such as the checkout under review) is bound back read-only at the
  same path; a PID namespace of its own (the child is its pid 1: when it dies, the kernel kills
  every fork of it) with its own /proc, and an /etc holding only a passwd/group of root and the
  sandbox user, hosts, and the loader's cache;
- when we are root and ALEMBIC_REVIEW_SANDBOX_UID is set: that uid and gid, no supplementary
  groups. Files of root (the App's private key, the service's data, other jobs' checkouts) and
  the memory and environment of root processes (/proc/PID/environ) are then out of reach, and
  RLIMIT_NPROC binds (it does not for root), so a fork bomb stops at SANDBOX_NPROC;
- no new privileges, and a seccomp filter under which socket() and io_uring_setup() fail with
  EACCES: no TCP, no Unix sockets (a database's socket file is world-writable), no netlink.
  socketpair() stays allowed on purpose: an anonymous pair between the child's own processes
  reaches nothing a pipe does not.

Everything is computed when this module is imported, in the parent; the child only makes
syscalls. Anything asked for that cannot be applied makes the child fail to start: fail closed.
"""

from __future__ import annotations

import ctypes
import os
import platform
import resource
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path

CLONE_NEWNS = 0x00020000
CLONE_NEWPID = 0x20000000
MS_NOEXEC = 0x8
CLONE_NEWNET = 0x40000000
CHILD_MEMORY = 2 * 1024 ** 3       # rlimits of every child started through isolate()
CHILD_FILE_SIZE = 16 * 1024 ** 2
CHILD_CPU_SECONDS = 600
MS_NOSUID, MS_NODEV, MS_RDONLY = 0x2, 0x4, 0x1
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 0x20, 0x1000, 0x4000, 0x40000
PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2
PR_SET_PDEATHSIG = 1
SANDBOX_NPROC = 64
TEMP_DIRS = ("/tmp", "/var/tmp", "/dev/shm", "/run")
TEMP_TMPFS = b"mode=1777,size=16m,nr_inodes=4096"   # the child may write a little, privately
COVER_TMPFS = b"mode=755,size=1m,nr_inodes=4096"    # only holds the mount points we bind back
ETC_KEPT = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/localtime")  # what the loader and libc read

_SECCOMP_ARCH = {  # machine -> (AUDIT_ARCH_*, socket nr, io_uring_setup nr, x32 bit)
    "x86_64": (0xC000003E, 41, 425, 0x40000000),
    "aarch64": (0xC00000B7, 198, 425, None),
}


class _SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte), ("k", ctypes.c_uint)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


def _seccomp_program():
    """BPF: wrong architecture -> ENOSYS; socket / io_uring_setup / x32 calls -> EACCES; else allow."""
    spec = _SECCOMP_ARCH.get(platform.machine())
    if spec is None:
        return None
    arch, nr_socket, nr_uring, x32 = spec
    ld, jeq, jge, ret = 0x20, 0x15, 0x35, 0x06
    errno_ = lambda e: 0x00050000 | e
    allow = 0x7FFF0000
    insns = [(ld, 0, 0, 4), (jeq, 1, 0, arch), (ret, 0, 0, errno_(38)), (ld, 0, 0, 0)]
    checks = ([(jge, x32)] if x32 else []) + [(jeq, nr_socket), (jeq, nr_uring)]
    for i, (op, k) in enumerate(checks):
        insns.append((op, len(checks) - i, 0, k))  # jump over the remaining checks and the allow
    insns += [(ret, 0, 0, allow), (ret, 0, 0, errno_(13))]
    array = (_SockFilter * len(insns))(*[_SockFilter(c, t, f, k) for c, t, f, k in insns])
    return array, _SockFprog(len(insns), array)


def _traversable_by_others(path: str) -> bool:
    try:
        return bool(os.stat(path).st_mode & stat.S_IXOTH)
    except OSError:
        return False


@dataclass
class Plan:
    uid: int | None
    covers: list[tuple[bytes, bytes]] = field(default_factory=list)        # (dir, tmpfs options)
    binds: list[str] = field(default_factory=list)                         # bound back read-only
    seccomp: object = None
    mounts: bool = False
    notes: list[str] = field(default_factory=list)


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def make_plan(env: dict) -> Plan | None:
    if env.get("ALEMBIC_REVIEW_SANDBOX", "") != "strict":
        return None
    is_root = os.geteuid() == 0
    uid = env.get("ALEMBIC_REVIEW_SANDBOX_UID", "").strip()
    plan = Plan(uid=int(uid) if uid and is_root else None, mounts=is_root, seccomp=_seccomp_program())
    if uid and not is_root:
        plan.notes.append("not root: the sandbox keeps our uid")
    if not is_root:
        return plan
    import linters
    needed = [sys.base_prefix, sys.prefix, sys.base_exec_prefix, sys.exec_prefix,
              os.path.dirname(os.path.realpath(sys.executable)),
              str(Path(linters.__file__).resolve().parent.parent),
              *[p for p in sys.path if p and os.path.isdir(p)],
              *[p for p in env.get("ALEMBIC_REVIEW_SANDBOX_EXPOSE", "").split(os.pathsep) if p]]
    needed = sorted({os.path.realpath(p) for p in needed if os.path.isdir(p)})
    covers = {os.path.realpath(d): TEMP_TMPFS for d in TEMP_DIRS if os.path.isdir(d)}
    for path in needed:  # the topmost ancestor the sandbox user could not pass through
        parts = Path(path).parts
        for i in range(2, len(parts) + 1):
            ancestor = str(Path(*parts[:i]))
            if not _traversable_by_others(ancestor):
                covers.setdefault(ancestor, COVER_TMPFS)
                break
    tops = sorted(c for c in covers if not any(_under(c, o) and c != o for o in covers))
    plan.covers = [(c.encode(), covers[c]) for c in tops]
    binds = [p for p in needed if any(_under(p, c) and p != c for c in tops)]
    binds = [p for p in binds if not any(_under(p, o) and p != o for o in binds)]
    plan.binds = binds
    return plan


_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p, ctypes.c_ulong, ctypes.c_ulong]
_libc.unshare.argtypes = [ctypes.c_int]


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"sandbox: {what}: {os.strerror(err)}")


def _pid_namespace() -> None:
    """Continue as pid 1 of a new PID namespace: this process forks, and stays behind only to wait
    for the child and end as it ended. When the namespace's pid 1 dies, the kernel kills every
    process in it: no fork of a revision outlives its render process."""
    _check(_libc.unshare(CLONE_NEWNS | CLONE_NEWPID), "unshare(CLONE_NEWNS | CLONE_NEWPID)")
    _check(_libc.prctl(PR_SET_PDEATHSIG, 9, None, 0, 0), "parent death signal")
    pid = os.fork()
    if pid == 0:
        return
    os.closerange(0, 65536)  # the pipes and our starter's descriptors are the child's business
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except InterruptedError:
            continue
    if os.WIFSIGNALED(status):
        os.kill(os.getpid(), os.WTERMSIG(status))
    os._exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 1)


def _minimal_etc(uid: int | None) -> None:
    """/etc holds only what the loader needs and a passwd naming root and the sandbox user."""
    kept = [(path, os.open(path, os.O_PATH | os.O_CLOEXEC)) for path in ETC_KEPT if os.path.isfile(path)]
    _check(_libc.mount(b"tmpfs", b"/etc", b"tmpfs", MS_NOSUID | MS_NODEV, COVER_TMPFS), "tmpfs over /etc")
    user = uid if uid is not None else os.getuid()
    files = {"passwd": f"root:x:0:0::/:/usr/sbin/nologin\nsandbox:x:{user}:{user}::/tmp:/usr/sbin/nologin\n",
             "group": f"root:x:0:\nsandbox:x:{user}:\n", "hosts": "127.0.0.1 localhost\n"}
    for name, text in files.items():
        with open(f"/etc/{name}", "w") as f:
            f.write(text)
    for path, fd in kept:
        open(path, "w").close()
        _check(_libc.mount(f"/proc/self/fd/{fd}".encode(), path.encode(), None, MS_BIND, None), f"bind {path}")
        _check(_libc.mount(None, path.encode(), None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, None),
               f"read-only {path}")
        os.close(fd)
    _check(_libc.mount(None, b"/etc", None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, None), "read-only /etc")


def apply(plan: Plan) -> None:
    """In the child, between fork and exec (called from isolate)."""
    if plan.mounts:
        _pid_namespace()
        _check(_libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "make / private")
        # handles on what we bind back, taken in the new namespace (a bind source must be one of its
        # mounts) before the tmpfs covers hide the paths
        fds = [(path, os.open(path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)) for path in plan.binds]
        for directory, options in plan.covers:
            _check(_libc.mount(b"tmpfs", directory, b"tmpfs", MS_NOSUID | MS_NODEV, options),
                   f"tmpfs over {directory.decode()}")
        for path, fd in fds:
            os.makedirs(path, exist_ok=True)
            target = path.encode()
            _check(_libc.mount(f"/proc/self/fd/{fd}".encode(), target, None, MS_BIND | MS_REC, None),
                   f"bind {path}")
            _check(_libc.mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, None),
                   f"read-only {path}")
            os.close(fd)
        _minimal_etc(plan.uid)
        # a /proc of the new PID namespace: the render's own processes, nobody else's command line
        _check(_libc.mount(b"proc", b"/proc", b"proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None), "mount /proc")
    if plan.uid is not None:
        os.setgroups([])
        os.setresgid(plan.uid, plan.uid, plan.uid)
        os.setresuid(plan.uid, plan.uid, plan.uid)
        resource.setrlimit(resource.RLIMIT_NPROC, (SANDBOX_NPROC, SANDBOX_NPROC))
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, None, 0, 0), "no_new_privs")
    if plan.seccomp is not None:
        _check(_libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(plan.seccomp[1]), 0, 0),
               "seccomp filter")


def describe(plan: Plan | None) -> list[str]:
    """What this plan enforces, in words (for the service's start-up log)."""
    if plan is None:
        return ["strict sandbox off"]
    out = []
    if plan.mounts:
        out.append("private mount namespace: " + ", ".join(d.decode() for d, _ in plan.covers)
                   + " emptied; read-only: " + ", ".join(plan.binds))
        out.append("private PID namespace and /proc; /etc: passwd, group, hosts of its own, "
                   + ", ".join(os.path.basename(p) for p in ETC_KEPT) + " read-only")
    out.append(f"uid/gid {plan.uid}, RLIMIT_NPROC {SANDBOX_NPROC}" if plan.uid is not None else "same uid as the service")
    out.append("seccomp: socket() and io_uring_setup() denied" if plan.seccomp is not None
               else f"no seccomp filter for {platform.machine()}")
    return out + plan.notes


PLAN = make_plan(os.environ)


def isolate() -> None:
    """preexec_fn of every child that runs code not ours: limits first, then drop the network where
    the kernel allows it, then the strict plan if there is one; last, the child is tied to the
    thread that started it (SIGKILL when it ends: no render process outlives a killed worker)."""
    parent = os.getppid()
    os.setsid()
    resource.setrlimit(resource.RLIMIT_AS, (CHILD_MEMORY, CHILD_MEMORY))
    resource.setrlimit(resource.RLIMIT_FSIZE, (CHILD_FILE_SIZE, CHILD_FILE_SIZE))
    resource.setrlimit(resource.RLIMIT_CPU, (CHILD_CPU_SECONDS, CHILD_CPU_SECONDS))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    try:
        ctypes.CDLL(None, use_errno=True).unshare(CLONE_NEWNET)
    except OSError:
        pass
    if PLAN is not None:  # code from strangers (the webhook service)
        apply(PLAN)
    # after apply: a change of uid clears the death signal
    _check(_libc.prctl(PR_SET_PDEATHSIG, 9, None, 0, 0), "parent death signal")
    if os.getppid() not in (parent, 0):  # the parent died before the signal was armed (0: it is
        os._exit(1)                       # outside our PID namespace, where we cannot see it)
