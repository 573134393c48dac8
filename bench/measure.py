"""Wall time and peak memory of a command, the way a user would see them.

Peak memory is the resident set of the whole process tree (our CLI starts render children), read
from /proc every few milliseconds and summed over the processes alive at that moment; the largest
single process (getrusage's ru_maxrss, children included) is reported next to it.
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Command:
    name: str
    argv: list[str]
    cwd: Path | None = None
    env: dict | None = None
    before: object = None          # callable run (untimed) before each timed run, e.g. to empty a cache
    ok_codes: tuple[int, ...] = (0, 1)
    self_timed: bool = False       # prints "wall cpu" seconds of what it measures (its last stdout line): those are the times


@dataclass
class Timing:
    command: Command
    seconds: list[float] = field(default_factory=list)
    cpu_seconds: list[float] = field(default_factory=list)  # user + system, the whole process tree

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def cpu_median(self) -> float:
        return statistics.median(self.cpu_seconds)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_once(cmd: Command) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the processes it waited for). On a shared, busy machine the
    wall time grows with everybody else's load; the CPU time much less."""
    if cmd.before:
        cmd.before()
    cpu = _children_cpu()
    start = time.perf_counter()
    proc = subprocess.run(cmd.argv, cwd=cmd.cwd, env=cmd.env,
                          stdout=subprocess.PIPE if cmd.self_timed else subprocess.DEVNULL,
                          stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    elapsed = time.perf_counter() - start
    cpu = _children_cpu() - cpu
    if proc.returncode not in cmd.ok_codes:
        raise RuntimeError(f"{cmd.name} exited {proc.returncode}: {proc.stderr.decode(errors='replace')[-2000:]}")
    if cmd.self_timed:
        wall, cpu = proc.stdout.decode().split()[-2:]
        return float(wall), float(cpu)
    return elapsed, cpu


def compare(ours: Command, theirs: Command, reps: int) -> tuple[Timing, Timing]:
    """Both commands `reps` times, alternating which goes first, after one untimed run of each."""
    a, b = Timing(ours), Timing(theirs)
    run_once(ours)
    run_once(theirs)
    for i in range(reps):
        pair = (a, b) if i % 2 == 0 else (b, a)
        for timing in pair:
            wall, cpu = run_once(timing.command)
            timing.seconds.append(wall)
            timing.cpu_seconds.append(cpu)
    return a, b


def _children(pid: int) -> list[int]:
    kids = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                kids += [int(k) for k in f.read().split()]
    except OSError:
        pass
    return kids


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_rss_kb(pid: int) -> int:
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        total += _rss_kb(p)
        stack += _children(p)
    return total


@dataclass
class Memory:
    tree_peak_mb: float     # sum over the process tree, at its highest sample
    largest_process_mb: float
    seconds: float


def peak_memory(cmd: Command, interval: float = 0.005) -> Memory:
    if cmd.before:
        cmd.before()
    start = time.perf_counter()
    proc = subprocess.Popen(cmd.argv, cwd=cmd.cwd, env=cmd.env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    peak = 0
    done = threading.Event()

    def sample():
        nonlocal peak
        while not done.is_set():
            peak = max(peak, tree_rss_kb(proc.pid))
            time.sleep(interval)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    # wait4's rusage covers the process and the descendants it waited for: ru_maxrss is the
    # largest of them (the CLI or one render child)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.perf_counter() - start
    done.set()
    sampler.join()
    return Memory(peak / 1024, usage.ru_maxrss / 1024, elapsed)


def instructions(cmd: Command) -> tuple[int, int] | None:
    """Instructions the command executes (valgrind's callgrind, children not followed): the same count
    however busy the machine is, unlike seconds. (its first thread, its other threads); None without
    valgrind."""
    if shutil.which("valgrind") is None:
        return None
    with tempfile.TemporaryDirectory() as out:
        subprocess.run(["valgrind", "--tool=callgrind", "--separate-threads=yes", f"--callgrind-out-file={out}/cg",
                        *cmd.argv], cwd=cmd.cwd, env=cmd.env, capture_output=True, text=True)
        counts = {}  # callgrind writes one file per thread: cg-01 (the first), cg-02, ...
        for path in Path(out).glob("cg-*"):
            found = re.search(r"^totals: (\d+)", path.read_text(errors="replace"), re.M)
            if found:
                counts[path.name] = int(found.group(1))
    if "cg-01" not in counts:
        return None
    return counts.pop("cg-01"), sum(counts.values())
