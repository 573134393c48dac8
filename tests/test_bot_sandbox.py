"""A pull request whose revisions attack the service that reviews them: they look for the webhook
secret and the App's private key, try the network and local sockets, fork, loop, flood the output
and kill their process. Through the real service (`python -m bot serve`, sandbox probed at start)
nothing of ours leaks into what is published, and each attack ends as a `render-error`."""

from __future__ import annotations

import json
import os

import pytest

from tests.bot_service import SECRET, PullRequest, wait_for
from tests.bot_service import service  # noqa: F401  (fixture)
from tests.fakegithub import fake_github  # noqa: F401  (fixture)

REPO = "mallory/app"

SNOOP = '''
import glob, os, re, socket
got = ["env=" + ",".join(sorted(os.environ))]
secrets = set()
for path in glob.glob("/proc/[0-9]*/environ") + glob.glob("/proc/[0-9]*/cmdline"):
    try:
        data = open(path, "rb").read()
    except OSError:
        continue
    for m in re.finditer(rb"(GITHUB_WEBHOOK_SECRET|GITHUB_PRIVATE_KEY[A-Z_]*)=([^\\0]*)", data):
        secrets.add(m.group(2).decode(errors="replace"))
got.append("secrets=" + ";".join(sorted(secrets)))
for name, path in (("key", KEY_PATH), ("state", STATE_PATH)):
    try:
        got.append(name + "=" + open(path, errors="replace").read().replace(chr(10), " "))
    except OSError as exc:
        got.append(f"{name}=denied:{exc.errno}")
for port in (FAKE_PORT, SERVICE_PORT, 5432, 6379):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        got.append(f"tcp{port}=reached")
    except OSError as exc:
        got.append(f"tcp{port}=blocked:{exc.errno}")
try:
    s = socket.socket(socket.AF_UNIX)
    s.connect("/var/run/postgresql/.s.PGSQL.5432")
    got.append("unix=reached")
except OSError as exc:
    got.append(f"unix=blocked:{exc.errno}")
op.execute("SELECT 1 -- " + " | ".join(got).replace("'", "") )
'''

FORK = '''
import os, time
children = 0
try:
    for _ in range(10000):
        if os.fork() == 0:
            os.setsid()  # leave the process group: only a kill of the whole uid gets us
            time.sleep(600)
            os._exit(0)
        children += 1
except OSError:
    pass
op.execute(f"SELECT {children} -- forked")
'''


def published_text(fake) -> str:
    parts = [c["body"] for c in fake.issue_comments.values()]
    parts += [c["body"] for c in fake.review_comments.values()]
    parts += [r["body"] for r in fake.reviews.values()]
    for repo in fake.repos.values():
        parts += [json.dumps(run["output"]) for run in repo.check_runs.values()]
        parts += [json.dumps(a) for runs in repo.annotations.values() for a in runs]
    return "\n".join(p or "" for p in parts)


def test_hostile_revisions_get_nothing_and_become_render_errors(service, fake_github, tmp_path):
    service.serve(workers=1)
    pem = service.key_path.read_text()
    pr = PullRequest(tmp_path, fake_github, REPO, 66)
    pr.write("pyproject.toml", "[tool.alembic-review]\nrender_timeout = 5\n")
    header = (f"KEY_PATH = {str(service.key_path)!r}\nSTATE_PATH = {str(tmp_path / 'data' / 'state.db')!r}\n"
              f"FAKE_PORT = {fake_github.base_url.rsplit(':', 1)[1]}\nSERVICE_PORT = {service.port}")
    pr.add_revision("0002", "0001", SNOOP, header=header, slug="snoop")
    pr.add_revision("0003", "0002", FORK, slug="fork")
    pr.add_revision("0004", "0003", "while True:\n    pass", slug="loop")
    pr.add_revision("0005", "0004", 'op.execute("SELECT 1 -- " + "x" * 1_000_000)\n' * 1 +
                    'for i in range(100):\n    op.execute("SELECT 1 -- " + "y" * 1_000_000)', slug="flood")
    pr.add_revision("0006", "0005", "import os\nos._exit(7)", slug="exit")
    head = pr.commit()
    assert pr.open(service).status_code == 202

    [run] = wait_for(lambda: [r for r in fake_github.check_runs_for(REPO, head) if r["status"] == "completed"],
                     180, what=f"the check:\n{service.procs[0].output()}")
    text = published_text(fake_github)

    # nothing of ours in anything published
    assert SECRET not in text
    pem_lines = [line for line in pem.splitlines() if "PRIVATE KEY" not in line]
    assert not any(line in text for line in pem_lines)
    assert "reached" not in text

    # what the snooping revision saw, in its own rendered SQL
    seen_env = text.split("env=", 1)[1].split(" |", 1)[0].split(",")
    assert set(seen_env) <= {"HOME", "LANG", "LC_CTYPE", "PATH", "PYTHONDONTWRITEBYTECODE", "PYTHONHASHSEED", "TMPDIR"}
    assert "secrets= |" in text  # no process' environment or command line held our secrets
    assert "key=denied" in text and "state=denied" in text
    assert text.count("=blocked:13") >= 5  # every TCP port and the Unix socket: EACCES from the sandbox
    # each attack that breaks rendering is a render-error on its own file, and the check fails
    errors = [a for a in fake_github.repos[REPO].annotations[run["id"]] if a["title"] == "render-error"]
    by_file = {a["path"].rsplit("/", 1)[1]: a["message"] for a in errors}
    assert set(by_file) >= {"0004_loop.py", "0005_flood.py", "0006_exit.py"}, by_file
    assert "longer than 5s" in by_file["0004_loop.py"]
    assert "output too large" in by_file["0005_flood.py"]
    assert "exit code 7" in by_file["0006_exit.py"]
    assert run["conclusion"] == "failure"
    # the fork bomb stopped at the sandbox's process limit, and nothing of it outlived the job
    assert "-- forked" in text
    forked = int(text.split(" -- forked")[0].rsplit("SELECT ", 1)[1])
    assert 0 < forked < 64
    wait_for(lambda: "job mallory/app#66@" in service.procs[0].output(), 30, what="the job's end")
    base = int(service.env["ALEMBIC_REVIEW_SANDBOX_UID_BASE"])
    assert sandbox_processes(range(base, base + 8)) == []


def sandbox_processes(uids) -> list[int]:
    """The live processes of these uids (a zombie is dead: it runs nothing, waiting for init to reap it)."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and os.stat(f"/proc/{entry}").st_uid in uids:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    if f.read().rsplit(b")", 1)[1].split()[0] not in (b"Z", b"X"):
                        found.append(int(entry))
        except OSError:
            pass
    return found


def strict_review(repo, uid: int) -> dict:
    """The JSON report of the CLI run as the service runs it: strict sandbox, a uid of its own."""
    import subprocess
    import sys

    from tests.gitrepo import REPO_ROOT

    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(REPO_ROOT), "ALEMBIC_REVIEW_SANDBOX": "strict",
           "ALEMBIC_REVIEW_SANDBOX_UID": str(uid), "ALEMBIC_REVIEW_SANDBOX_EXPOSE": str(repo.path)}
    proc = subprocess.run([sys.executable, "-m", "linters", str(repo.path), "--base", "main", "--format", "json"],
                          env=env, capture_output=True, text=True, timeout=120)
    return json.loads(proc.stdout)


def test_strict_sandbox_renders_normal_revisions_with_a_read_only_checkout(tmp_path):
    """The CLI as the service runs it (ALEMBIC_REVIEW_SANDBOX=strict, a uid of its own): app imports
    from the repository still work; the checkout cannot be written, root's files cannot be read."""
    from tests.gitrepo import alembic_project

    repo = alembic_project(tmp_path / "repo")
    repo.write("myapp/__init__.py", "")
    repo.write("myapp/names.py", 'LEGACY = "legacy_name"\n')
    secret_file = tmp_path / "root-only.txt"
    secret_file.write_text("root only")
    secret_file.chmod(0o600)
    repo.add_revision("0002", "0001", f'''
        import os
        got = []
        for name, path in (("write", "alembic/versions/evil.py"), ("write_abs", {str(repo.path / "evil.py")!r})):
            try:
                open(path, "w").write("x")
                got.append(name + "=done")
            except OSError as exc:
                got.append(f"{{name}}=denied:{{exc.errno}}")
        try:
            open({str(secret_file)!r}).read()
            got.append("root_file=read")
        except OSError as exc:
            got.append(f"root_file=denied:{{exc.errno}}")
        op.drop_column("users", LEGACY)
        op.execute("SELECT 1 -- " + " ".join(got) + f" uid={{os.getuid()}}")
        ''', header="from myapp.names import LEGACY")
    repo.commit("snoop")
    uid = 1_899_000_000 + os.getpid() % 1000
    report = strict_review(repo, uid)
    sql = report["revisions"][0]["sql"]
    assert "DROP COLUMN legacy_name" in sql  # app code imported from the repo root
    assert "write=denied" in sql and "write_abs=denied:30" in sql  # EROFS: the checkout is a read-only view
    assert "root_file=denied" in sql and f"uid={uid}" in sql
    assert not (repo.path / "evil.py").exists() and "render-error" not in [f["rule"] for f in report["findings"]]


def test_a_revision_sees_its_own_processes_and_a_minimal_etc(tmp_path):
    """What a revision could print into its rendered SQL (published as "Rendered SQL"): /etc/passwd
    and other processes' command lines are the sandbox's own, nothing of the host."""
    from tests.gitrepo import alembic_project

    if os.geteuid() != 0:
        pytest.skip("the mount and PID namespaces need root")
    repo = alembic_project(tmp_path / "repo")
    repo.add_revision("0002", "0001", '''
        import os
        passwd = open("/etc/passwd").read().replace(chr(10), ";")
        init = open("/proc/1/cmdline", "rb").read().replace(bytes(1), b" ").decode()
        pids = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
        etc = sorted(os.listdir("/etc"))
        import socket
        a, b = socket.socketpair()  # allowed: an anonymous pair between its own processes
        a.sendall(b"pair")
        pair = b.recv(4).decode()
        op.execute(f"SELECT 1 -- passwd={passwd} | init={init} | pids={pids} | pair={pair} | etc={etc}")
        ''')
    repo.commit("snoop")
    uid = 1_898_000_000 + os.getpid() % 1000
    sql = strict_review(repo, uid)["revisions"][0]["sql"]
    passwd = sql.split("passwd=", 1)[1].split(" |", 1)[0]
    assert [line.split(":")[0] for line in passwd.split(";") if line] == ["root", "sandbox"]
    assert f"sandbox:x:{uid}:{uid}" in passwd
    init = sql.split("init=", 1)[1].split(" |", 1)[0]
    assert "render_child" in init  # pid 1 is the render process itself, not the host's init
    assert sql.split("pids=", 1)[1].split(" |", 1)[0] == "[1]"  # no other process in sight
    assert "pair=pair" in sql
    etc = sql.split("etc=", 1)[1].split("\n", 1)[0]
    assert "shadow" not in etc and "hostname" not in etc
