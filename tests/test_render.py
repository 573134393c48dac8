"""Rendering revisions offline in the sandboxed child: line tagging, transactions, and bad input."""

import json

from tests.gitrepo import run_cli


def errors(report) -> list[dict]:
    """The blocking findings: these tests are about rendering, not the warnings of the whole catalogue."""
    return [f for f in report["findings"] if f["severity"] == "error"]


def rules_of(report) -> list[str]:
    return [f["rule"] for f in errors(report)]


def line_of(repo, finding):
    return (repo.path / finding["path"]).read_text().splitlines()[finding["line"] - 1].strip()


def test_batch_ops_nested_helpers_and_raw_sql_point_at_their_own_lines(repo, review):
    rel = repo.add_revision("0002", "0001", header='''
        def _drop_legacy():
            op.drop_column("users", "legacy_name")
        ''', upgrade='''
        with op.batch_alter_table("exams") as batch_op:
            batch_op.add_column(sa.Column("due", sa.Text))
            batch_op.drop_column("title")
        _drop_legacy()
        op.execute("UPDATE users SET email = lower(email) WHERE id > 0; ALTER TABLE users DROP COLUMN email")
        ''')
    code, report, _ = review()
    lines = [line_of(repo, f) for f in errors(report)]
    assert rules_of(report) == ["ban-drop-column"] * 3
    assert lines == ['op.drop_column("users", "legacy_name")', 'batch_op.drop_column("title")',
                     'op.execute("UPDATE users SET email = lower(email) WHERE id > 0; ALTER TABLE users DROP COLUMN email")']
    statements = [f["statement"] for f in errors(report)]
    assert statements[2] == "ALTER TABLE users DROP COLUMN email"


def test_concurrent_index_inside_autocommit_block_is_clean(repo, review):
    repo.add_revision("0002", "0001", '''
        with op.get_context().autocommit_block():
            op.create_index("ix_users_email", "users", ["email"], postgresql_concurrently=True)
        ''')
    code, report, _ = review()
    assert code == 0 and rules_of(report) == []
    assert "COMMIT;\nCREATE INDEX CONCURRENTLY ix_users_email ON users (email);\nBEGIN;" in report["revisions"][0]["sql"]


def test_concurrent_index_inside_the_transaction_fails(repo, review):
    repo.add_revision("0002", "0001",
                      'op.create_index("ix_users_email", "users", ["email"], postgresql_concurrently=True)')
    code, report, _ = review()
    assert rules_of(report) == ["ban-concurrent-index-creation-in-transaction"]
    assert code == 1


def test_index_on_a_table_created_earlier_in_the_same_revision_is_fine(repo, review):
    repo.add_revision("0002", "0001", '''
        op.create_table("grades", sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
                        sa.Column("score", sa.Integer))
        op.create_index("ix_grades_score", "grades", ["score"])
        op.drop_column("grades", "score")
        ''')
    code, report, _ = review()
    assert "require-concurrent-index-creation" not in rules_of(report)
    assert "ban-drop-column" not in rules_of(report)


def test_index_on_a_table_created_by_an_earlier_revision_of_the_same_branch_is_fine(repo, review):
    repo.add_revision("0002", "0001", 'op.create_table("grades", sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True))')
    repo.add_revision("0003", "0002", 'op.create_index("ix_grades_id", "grades", ["id"])')
    code, report, _ = review()
    assert rules_of(report) == [] and code == 0


def test_revision_that_imports_app_code_from_the_repo_root(repo, review):
    repo.write("myapp/__init__.py", "")
    repo.write("myapp/names.py", 'LEGACY = "legacy_name"\n')
    repo.add_revision("0002", "0001", 'op.drop_column("users", LEGACY)', header="from myapp.names import LEGACY")
    code, report, _ = review()
    assert rules_of(report) == ["ban-drop-column"]


def test_syntax_error_is_a_render_error_and_other_revisions_still_run(repo, review):
    repo.write("alembic/versions/0002_broken.py", 'revision = "0002"\ndown_revision = "0001"\ndef upgrade(:\n    pass\n')
    repo.add_revision("0003", "0002", 'op.drop_column("users", "legacy_name")')
    code, report, _ = review()
    errors = [f for f in report["findings"] if f["rule"] == "render-error"]
    assert len(errors) == 1 and errors[0]["path"] == "alembic/versions/0002_broken.py"
    assert errors[0]["line"] == 3 and "SyntaxError" in errors[0]["message"]
    assert "ban-drop-column" in rules_of(report)
    assert code == 1


def test_import_of_a_missing_module_is_stood_in_and_said(repo, review):
    repo.add_revision("0002", "0001", 'op.drop_column("users", "legacy_name")', header="import not_a_module_anywhere")
    code, report, _ = review()
    assert rules_of(report) == ["ban-drop-column"]
    [note] = [f for f in report["findings"] if f["rule"] == "import-stand-in"]
    assert "not_a_module_anywhere" in note["message"] and line_of(repo, note) == "import not_a_module_anywhere"


def test_a_revision_that_fails_on_what_the_database_returned_says_so(repo, review):
    repo.add_revision("0002", "0001", '''
        op.drop_column("users", "legacy_name")
        count = op.get_bind().execute(sa.text("SELECT count(*) FROM users")).scalar() + 1
        ''')
    code, report, _ = review()
    assert rules_of(report) == ["ban-drop-column", "render-error"]  # what ran before the failure is still linted
    error = errors(report)[1]
    assert "no rows" in error["message"] and line_of(repo, error).startswith("count = op.get_bind()")


def test_exception_in_upgrade_keeps_statements_before_it(repo, review):
    repo.add_revision("0002", "0001", '''
        op.create_index("ix_users_email", "users", ["email"])
        raise ValueError("forgot something")
        ''')
    code, report, _ = review()
    assert rules_of(report) == ["require-concurrent-index-creation", "render-error"]
    assert "ValueError: forgot something" in errors(report)[1]["message"]


def test_endless_loop_times_out_and_the_run_goes_on(repo, review):
    repo.write("pyproject.toml", "[tool.alembic-review]\nrender_timeout = 2\n")
    repo.add_revision("0002", "0001", 'op.drop_column("users", "legacy_name")\nwhile True:\n    pass')
    repo.add_revision("0003", "0002", 'op.create_index("ix_users_email", "users", ["email"])')
    code, report, _ = review()  # the loop is cut at render_timeout: the message says so, the run goes on
    rules = rules_of(report)
    assert "require-concurrent-index-creation" in rules and "ban-drop-column" in rules
    [timeout] = [f for f in report["findings"] if f["rule"] == "render-error"]
    assert "longer than 2s" in timeout["message"] and timeout["path"].endswith("0002_change.py")


def test_revision_that_kills_its_process_is_a_render_error(repo, review):
    repo.add_revision("0002", "0001", 'import os\nos._exit(3)')
    repo.add_revision("0003", "0002", 'op.drop_column("users", "legacy_name")')
    code, report, _ = review()
    assert sorted(rules_of(report)) == ["ban-drop-column", "render-error"]
    crash = [f for f in report["findings"] if f["rule"] == "render-error"][0]
    assert "exit code 3" in crash["message"]


# A hostile revision can reach the render process's own request and reply pipes. These use them to
# force, without timing, the states a busy machine produces by chance.
FIND_PIPES = """
import gc, io, os
pipes = [o for o in gc.get_objects() if isinstance(o, io.TextIOWrapper) and isinstance(o.name, int) and not o.closed]
requests = next(p for p in pipes if p.readable())
replies = next(p for p in pipes if p.writable())
"""


def test_revision_queued_behind_one_that_kills_the_process_is_rendered_in_a_fresh_one(repo, review, monkeypatch):
    """The killer returns only once the next revision's request is surely queued in its process."""
    monkeypatch.setenv("ALEMBIC_REVIEW_WORKERS", "1")  # one render process: the next revision queues behind
    repo.add_revision("0002", "0001", FIND_PIPES + "requests.readline()  # the next request, taken away\nos._exit(3)")
    repo.add_revision("0003", "0002", 'op.drop_column("users", "legacy_name")')
    code, report, _ = review()
    assert sorted(rules_of(report)) == ["ban-drop-column", "render-error"]
    [crash] = [f for f in report["findings"] if f["rule"] == "render-error"]
    assert "exit code 3" in crash["message"] and crash["path"].endswith("0002_change.py")


def test_revision_queued_behind_one_that_times_out_is_rendered(repo, review, monkeypatch):
    monkeypatch.setenv("ALEMBIC_REVIEW_WORKERS", "1")
    repo.write("pyproject.toml", "[tool.alembic-review]\nrender_timeout = 2\n")
    repo.add_revision("0002", "0001", FIND_PIPES + "requests.readline()\nwhile True:\n    pass")
    repo.add_revision("0003", "0002", 'op.drop_column("users", "legacy_name")')
    code, report, _ = review()
    assert sorted(rules_of(report)) == ["ban-drop-column", "render-error"]
    [timeout] = [f for f in report["findings"] if f["rule"] == "render-error"]
    assert "longer than 2s" in timeout["message"] and timeout["path"].endswith("0002_change.py")


def test_process_that_dies_between_revisions_loses_none_of_the_next(repo, review, monkeypatch):
    """The process dies right after the first revision's last reply, before the next request is
    written: sending it breaks the pipe. Nothing was running, so nobody is blamed and nothing is lost."""
    monkeypatch.setenv("ALEMBIC_REVIEW_WORKERS", "1")
    repo.add_revision("0002", "0001", 'op.create_index("ix_users_email", "users", ["email"])' + FIND_PIPES + """
def write_then_die(text, write=replies.write):
    if '"done"' not in text:
        return write(text)
    os.close(requests.fileno())  # no reader left: the parent's next request gets a broken pipe
    write(text)
    replies.flush()
    os._exit(3)
replies.write = write_then_die
""")
    repo.add_revision("0003", "0002", 'op.drop_column("users", "legacy_name")')
    repo.add_revision("0004", "0003", 'op.drop_column("exams", "title")')
    code, report, _ = review()
    found = {(f["rule"], f["revision"]) for f in report["findings"]}
    assert "render-error" not in rules_of(report), report["findings"]
    assert {("require-concurrent-index-creation", "0002"), ("ban-drop-column", "0003"),
            ("ban-drop-column", "0004")} <= found


def test_revision_printing_to_stdout_does_not_corrupt_the_report(repo, review):
    repo.add_revision("0002", "0001", 'print("noise"); import sys; sys.stdout.write("{bad json")\n'
                                      'op.drop_column("users", "legacy_name")')
    code, report, _ = review()
    assert rules_of(report) == ["ban-drop-column"]


def test_revision_sees_an_emptied_environment_and_no_network(repo, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", "ghs_secret_token_value")
    repo.add_revision("0002", "0001", """
        import os, socket
        try:
            socket.create_connection(("127.0.0.1", 5432), timeout=2).close()
            network = "reached"
        except OSError:
            network = "unreachable"
        op.execute("SELECT '" + ",".join(sorted(os.environ)) + "|" + network + "'")
        """)
    proc = run_cli(str(repo.path), "--base", "main", "--format", "json")
    sql = json.loads(proc.stdout)["revisions"][0]["sql"]
    names, network = sql.removeprefix("SELECT '").removesuffix("';").split("|")
    assert "GITHUB_TOKEN" not in names and "ghs_secret" not in sql
    assert set(names.split(",")) <= {"PATH", "LANG", "HOME", "TMPDIR", "PYTHONDONTWRITEBYTECODE", "PYTHONHASHSEED", "LC_CTYPE"}
    assert network == "unreachable"  # Postgres listens on 127.0.0.1:5432 on this machine, but not in the sandbox


def test_env_py_is_never_run(repo, review):
    # tests/gitrepo.py's env.py raises if imported; a review works without it.
    repo.add_revision("0002", "0001", 'op.drop_column("users", "legacy_name")')
    code, report, _ = review()
    assert rules_of(report) == ["ban-drop-column"]


def test_review_leaves_no_bytecode_in_the_project(repo, review):
    # The revisions are imported to render them: their __pycache__ would be new untracked files.
    repo.add_revision("0002", "0001", 'op.drop_column("users", "legacy_name")')
    code, report, _ = review()
    assert rules_of(report) == ["ban-drop-column"]
    assert list(repo.path.rglob("__pycache__")) == []


def test_nonstandard_upgrade_signature_gets_op(repo, review):
    repo.write("alembic/versions/0002_sig.py",
               'revision = "0002"\ndown_revision = "0001"\n'
               'def upgrade(op):\n    op.drop_column("users", "legacy_name")\n')
    code, report, _ = review()
    assert rules_of(report) == ["ban-drop-column"]


def test_render_process_that_cannot_start_is_a_finding_per_revision_not_a_crash(repo, tmp_path):
    """An interpreter without alembic for the children: every new revision says so, the graph checks still run."""
    import subprocess
    import sys
    import venv

    from tests.gitrepo import REPO_ROOT

    bare = tmp_path / "bare"
    venv.EnvBuilder(with_pip=False).create(bare)  # a Python with nothing installed
    repo.add_revision("0002", "0001", 'op.drop_column("users", "legacy_name")', slug="a")
    repo.add_revision("0003", "0002", 'op.drop_column("users", "email")', slug="b")
    script = (f"import sys; sys.executable = {str(bare / 'bin' / 'python')!r}\n"
              "from linters.cli import console_main\n"
              f"raise SystemExit(console_main())")
    proc = subprocess.run([sys.executable, "-c", script, str(repo.path), "--base", "main", "--format", "json"],
                          capture_output=True, text=True, timeout=120, cwd=REPO_ROOT)
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr, proc.stderr
    report = json.loads(proc.stdout)
    crashes = [f for f in report["findings"] if f["rule"] == "render-error"]
    assert sorted(f["revision"] for f in crashes) == ["0002", "0003"]
    assert all("did not start" in f["message"] for f in crashes)
    assert proc.returncode == 1


def test_ctrl_c_stops_a_long_run_after_the_revisions_in_flight(repo):
    """Interrupting `--all` on a slow history exits 130 at once, without rendering the rest."""
    import os
    import signal
    import subprocess
    import sys

    from linters.render import PIPELINE
    from tests.bot_service import wait_for
    from tests.gitrepo import REPO_ROOT

    rendered = repo.path.parent / "rendered"  # each revision adds its id when its upgrade() runs
    down = "0001"
    for n in range(2, 22):  # 20 revisions of 1 s each: 20 s to render them all
        rev = f"{n:04d}"
        upgrade = f"with open({str(rendered)!r}, 'a') as f:\n    f.write('{rev}\\n')\nimport time\ntime.sleep(1)"
        repo.add_revision(rev, down, upgrade, slug=f"slow{n}")
        down = rev
    proc = subprocess.Popen([sys.executable, "-m", "linters", str(repo.path), "--all", "--format", "json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO_ROOT), "ALEMBIC_REVIEW_WORKERS": "1"})
    # Ctrl-C once rendering has begun (a fixed sleep sent it, on a busy machine, while Python started)
    wait_for(rendered.exists, 120, interval=0.02, what="the first revision to render")
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    # one child with PIPELINE requests queued in it: after the first, only the revisions in flight
    # (and the one or two that end while the signal is on its way) were rendered, not the rest
    assert len(rendered.read_text().split()) <= 1 + PIPELINE + 2, "it went on rendering after Ctrl-C"


def test_a_render_error_says_the_same_on_every_run(repo, review):
    """SQLAlchemy's message names objects by memory address, which would change the PR comment on every run."""
    repo.add_revision("0002", "0001", '''
        op.drop_constraint(None, "users", type_="foreignkey")
        ''')
    code, report, _ = review()
    [error] = errors(report)
    assert "it has no name" in error["message"] and "0x" not in error["message"], error["message"]


def _render_one(tmp_path, body: str, *, compiled_from: str | None = None, edit_to: str | None = None):
    """Render one revision file; `compiled_from`: the source the reviewer compiled for it (its tree) while
    it held the file's bytes; `edit_to`: what the file says by the time the child renders it."""
    import ast

    from linters.render import Renderer
    from linters.revision_files import blob_id

    path = tmp_path / "0001_rev.py"
    path.write_text(body)
    renderer = Renderer([tmp_path], directions=("upgrade",), workers=1)
    if compiled_from is not None:
        renderer.precompile(str(path), blob_id(body.encode()), body, ast.parse(compiled_from))
    if edit_to is not None:
        path.write_text(edit_to)
    result = renderer.render([path])[str(path)]
    return [(c.line, c.sql) for c in result.chunks], [(e["stage"], e["line"]) for e in result.errors]


REVISION = 'from alembic import op\nrevision = "0001"\ndown_revision = None\n\ndef upgrade():\n    op.drop_column("users", "{column}")\n'


def test_a_revision_compiled_by_the_reviewer_renders_in_the_child_at_its_lines(tmp_path):
    body = REVISION.format(column="email")
    # the reviewer's own compile of the bytes it read is what runs (here a tree that differs, to see it)
    chunks, errors = _render_one(tmp_path, body, compiled_from=REVISION.format(column="name"))
    assert chunks == [(6, "ALTER TABLE users DROP COLUMN name;")] and errors == []
    raising = body.replace('    op.drop_column', '    raise ValueError("no")\n    op.drop_column')
    assert _render_one(tmp_path, raising, compiled_from=raising) == ([], [("upgrade", 6)])


def test_a_revision_edited_after_the_reviewer_read_it_renders_as_it_is_on_disk(tmp_path):
    chunks, _ = _render_one(tmp_path, REVISION.format(column="email"), compiled_from=REVISION.format(column="email"),
                            edit_to=REVISION.format(column="legacy_name"))
    assert chunks == [(6, "ALTER TABLE users DROP COLUMN legacy_name;")]
