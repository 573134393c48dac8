"""Real git repositories with small Alembic projects, built in temp dirs for the tests."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
import textwrap
import threading
from pathlib import Path

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "test@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
}
REPO_ROOT = Path(__file__).resolve().parent.parent


def revision_source(rev: str, down, upgrade: str = "pass", downgrade: str = "pass",
                    header: str = "", docstring: str | None = None) -> str:
    """A revision file as `alembic revision` writes one; bodies are dedented Python."""
    body = lambda code: textwrap.indent(textwrap.dedent(code).strip() or "pass", "    ")
    doc = docstring if docstring is not None else f"revision {rev}"
    return (
        f'"""{doc}"""\n'
        "from alembic import op\n"
        "import sqlalchemy as sa\n"
        f"{textwrap.dedent(header)}\n"
        f"revision = {rev!r}\n"
        f"down_revision = {down!r}\n"
        "branch_labels = None\n"
        "depends_on = None\n\n\n"
        f"def upgrade():\n{body(upgrade)}\n\n\n"
        f"def downgrade():\n{body(downgrade)}\n"
    )


INITIAL_UPGRADE = """
op.create_table(
    "users",
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("email", sa.Text, nullable=False),
    sa.Column("legacy_name", sa.Text),
)
op.create_table(
    "exams",
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("title", sa.Text),
)
"""


class GitRepo:
    def __init__(self, path: Path):
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main")

    def git(self, *args: str) -> str:
        env = {**os.environ, **GIT_ENV}
        return subprocess.run(["git", *args], cwd=self.path, env=env, check=True,
                              capture_output=True, text=True).stdout

    def write(self, rel: str, text: str) -> Path:
        target = self.path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        return target

    def remove(self, rel: str) -> None:
        (self.path / rel).unlink()

    def commit(self, message: str = "change") -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD").strip()

    def add_revision(self, rev: str, down, upgrade: str = "pass", downgrade: str = "pass", **kw) -> str:
        rel = f"alembic/versions/{rev}_{kw.pop('slug', 'change')}.py"
        self.write(rel, revision_source(rev, down, upgrade, downgrade, **kw))
        return rel


def alembic_project(path: Path) -> GitRepo:
    """A repo whose main branch has one clean revision (users, exams), checked out on a feature branch."""
    repo = GitRepo(path)
    repo.write("alembic.ini", "[alembic]\nscript_location = alembic\nprepend_sys_path = .\n")
    repo.write("alembic/env.py", "raise RuntimeError('env.py must never run during a review')\n")
    repo.add_revision("0001", None, INITIAL_UPGRADE, 'op.drop_table("exams")\nop.drop_table("users")', slug="init")
    repo.commit("initial schema")
    repo.git("checkout", "-q", "-b", "feature")
    return repo


def run_on_terminal(*args: str, cwd: Path | None = None, terminal: str = "stderr",
                    columns: int = 120) -> tuple[int, str, str]:
    """`python -m linters ARGS` with `terminal` ("stderr" or "stdout") on a pseudo-terminal `columns`
    wide, as in a shell, and the other stream piped: (exit code, stdout, stderr)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, columns, 0, 0))
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)
    env.pop("COLUMNS", None)  # the terminal's own size, as a shell would have it
    streams = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, terminal: slave}
    proc = subprocess.Popen([sys.executable, "-m", "linters", *args], cwd=cwd, env=env,
                            stdin=subprocess.DEVNULL, **streams)
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
    piped = proc.communicate(timeout=300)
    reader.join(timeout=10)
    os.close(master)
    shown = b"".join(chunks).decode(errors="replace").replace("\r\n", "\n")
    stdout, stderr = (shown, piped[1].decode()) if terminal == "stdout" else (piped[0].decode(), shown)
    return proc.returncode, stdout, stderr


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """`python -m linters ...` in a real child process, as a user runs it."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "linters", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)
