"""The progress bar: on stderr in a terminal for long text runs, never with machine formats."""

import fcntl
import json
import os
import pty
import struct
import subprocess
import sys
import termios
import threading

from bench.generate import build_repo
from tests.gitrepo import REPO_ROOT


def run_with_terminal_stderr(*args: str, cwd) -> tuple[int, str, str]:
    """`python -m linters ARGS` with stderr on a pseudo-terminal (as in a shell) and stdout piped."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 120, 0, 0))
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen([sys.executable, "-m", "linters", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL)
    os.close(slave)
    chunks = []

    def drain():
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed its end
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    stdout, _ = proc.communicate(timeout=300)
    reader.join(timeout=10)
    os.close(master)
    return proc.returncode, stdout.decode(), b"".join(chunks).decode(errors="replace")


def test_long_text_run_in_a_terminal_shows_a_bar_on_stderr(tmp_path):
    repo = build_repo(tmp_path / "repo", 14, new_revisions=0)
    code, stdout, stderr = run_with_terminal_stderr(str(repo), "--all", cwd=repo)
    assert code in (0, 1), stderr
    assert "rendering revisions" in stderr and "/14" in stderr
    assert "rendering revisions" not in stdout and "alembic-review" in stdout  # the report itself


def test_no_bar_with_json_or_sarif_or_a_short_run(tmp_path):
    repo = build_repo(tmp_path / "repo", 14, new_revisions=2)
    for fmt in ("json", "sarif"):
        code, stdout, stderr = run_with_terminal_stderr(str(repo), "--all", "--format", fmt, cwd=repo)
        assert code in (0, 1), stderr
        json.loads(stdout)  # nothing but the report on stdout
        assert "rendering revisions" not in stderr
    # a pull request of two revisions: over before a bar would tell anything
    code, _, stderr = run_with_terminal_stderr(str(repo), "--base", "main", cwd=repo)
    assert code in (0, 1) and "rendering revisions" not in stderr
