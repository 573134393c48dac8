"""The command line as a user meets it: finding the project, the base, exit codes, output."""

import json

from tests.gitrepo import GitRepo, run_cli


def rules_of(report) -> list[str]:
    """The blocking findings: these tests are about the CLI, not the warnings of the whole catalogue."""
    return [f["rule"] for f in report["findings"] if f["severity"] == "error"]


def test_risky_revision_is_reported_at_the_op_line_with_exit_1(repo, review):
    rel = repo.add_revision("0002", "0001", 'op.create_index("ix_users_email", "users", ["email"])')
    code, report, _ = review()
    assert code == 1
    [finding] = [f for f in report["findings"] if f["severity"] == "error"]
    assert finding["rule"] == "require-concurrent-index-creation"
    assert finding["path"] == rel
    line = (repo.path / rel).read_text().splitlines()[finding["line"] - 1]
    assert "op.create_index" in line
    assert finding["lock"] == "SHARE" and finding["table"] == "users"
    assert "autocommit_block" in finding["hint"]
    assert report["revisions"] == [{"revision": "0002", "path": rel, "status": "added",
                                    "down_revisions": ["0001"], "sql": "CREATE INDEX ix_users_email ON users (email);",
                                    "title": "revision 0002",  # the docstring's first line
                                    # what the upgrade does to existing tables, from the lock analysis
                                    "operations": [{"what": "CREATE INDEX ix_users_email ON users", "line": 12,
                                                    "locks": [{"table": "users", "mode": "SHARE"}],
                                                    "cost": "index build"}]}]
    assert report["project"] == {"transaction_per_migration": False, "lock_timeout": False}
    assert report["summary"]["errors"] == 1
    assert report["version"] == 1 and report["tool"]["name"] == "alembic-review"


def test_clean_branch_exits_0_and_old_history_is_not_linted(repo, review):
    # 0001 created its index without CONCURRENTLY on a new table; it is history, not this branch.
    repo.add_revision("0002", "0001", 'op.add_column("users", sa.Column("nickname", sa.Text))',
                      'op.drop_column("users", "nickname")')
    code, report, _ = review()
    assert code == 0, report
    assert [f for f in report["findings"] if f["direction"] == "upgrade" and f["severity"] == "error"] == []
    assert [r["revision"] for r in report["revisions"]] == ["0002"]


def test_text_output_shows_source_line_lock_and_fix(repo):
    repo.add_revision("0002", "0001", 'op.drop_column("users", "legacy_name")')
    proc = run_cli(str(repo.path), "--base", "main")
    assert proc.returncode == 1
    out = proc.stdout
    assert "ban-drop-column" in out and 'op.drop_column("users", "legacy_name")' in out
    assert "lock: ACCESS EXCLUSIVE on users" in out
    assert "fix:" in out and "1 error," in out


def test_default_base_is_merge_base_with_remote_default_branch(repo, tmp_path):
    origin = tmp_path / "origin.git"
    repo.git("init", "-q", "--bare", str(origin))
    repo.git("remote", "add", "origin", str(origin))
    repo.git("push", "-q", "origin", "main")
    repo.git("remote", "set-head", "origin", "main")
    repo.add_revision("0002", "0001", 'op.create_index("ix_users_email", "users", ["email"])')
    repo.commit("risky")
    proc = run_cli(str(repo.path), "--format", "json")
    report = json.loads(proc.stdout)
    assert report["base"] == repo.git("rev-parse", "main").strip()
    assert [r["revision"] for r in report["revisions"]] == ["0002"]


def test_without_remote_every_revision_counts_as_new(repo):
    proc = run_cli(str(repo.path), "--format", "json")
    report = json.loads(proc.stdout)
    assert report["base"] is None
    assert {r["revision"] for r in report["revisions"]} == {"0001"}


def test_all_lints_every_revision_as_its_own_deploy(repo):
    repo.add_revision("0002", "0001", 'op.create_index("ix_users_email", "users", ["email"])')
    repo.commit("index")
    proc = run_cli(str(repo.path), "--all", "--format", "json")
    report = json.loads(proc.stdout)
    assert proc.returncode == 1
    assert {r["revision"] for r in report["revisions"]} == {"0001", "0002"}
    assert rules_of(report) == ["require-concurrent-index-creation"]


def test_finds_project_from_a_subdirectory_and_from_the_script_directory(repo):
    repo.add_revision("0002", "0001", 'op.create_index("ix_users_email", "users", ["email"])')
    for target in (repo.path / "alembic", repo.path / "alembic" / "versions"):
        proc = run_cli(str(target), "--base", "main", "--format", "json")
        assert proc.returncode == 1, proc.stderr
        assert rules_of(json.loads(proc.stdout)) == ["require-concurrent-index-creation"]


def test_project_in_a_subfolder_via_pyproject_tool_alembic(tmp_path):
    repo = GitRepo(tmp_path / "mono")
    repo.write("backend/pyproject.toml", '[tool.alembic]\nscript_location = "%(here)s/migrations"\n')
    repo.write("backend/migrations/env.py", "")
    repo.write("backend/migrations/versions/0001_x.py",
               'revision = "0001"\ndown_revision = None\nfrom alembic import op\n'
               'def upgrade():\n    op.drop_column("users", "a")\n')
    proc = run_cli(str(repo.path), "--all", "--format", "json")
    report = json.loads(proc.stdout)
    assert rules_of(report) == ["ban-drop-column"]
    assert report["findings"][0]["path"] == "backend/migrations/versions/0001_x.py"


def test_missing_project_is_exit_2_with_one_line(tmp_path):
    proc = run_cli(str(tmp_path))
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "no Alembic project found" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unknown_base_is_exit_2_with_one_line(repo):
    proc = run_cli(str(repo.path), "--base", "does-not-exist")
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"alembic-review: error: git base not found: 'does-not-exist' is not a commit in {repo.path}"


def test_bad_flag_is_exit_2_with_one_line(repo):
    for args in (["--format", "yaml"], ["--fail-on", "sometimes"], ["--bogus"], ["--select", "no-such-rule"]):
        proc = run_cli(str(repo.path), *args)
        assert proc.returncode == 2, args
        assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr


def test_fail_on_and_ignore_and_select(repo, review):
    repo.add_revision("0002", "0001", 'op.create_index("ix_users_email", "users", ["email"])\n'
                                      'op.drop_column("users", "legacy_name")')
    assert review("--fail-on", "never")[0] == 0
    code, report, _ = review("--ignore", "ban-drop-column")
    assert code == 1 and rules_of(report) == ["require-concurrent-index-creation"]
    code, report, _ = review("--select", "ban-drop-column")
    assert rules_of(report) == ["ban-drop-column"]


def test_config_from_pyproject_sets_severity_and_fail_on(repo, review):
    repo.write("pyproject.toml", '[tool.alembic-review]\nfail_on = "error"\n'
                                 '[tool.alembic-review.severity]\nban-drop-column = "warning"\n')
    repo.add_revision("0002", "0001", 'op.drop_column("users", "legacy_name")')
    code, report, _ = review()
    assert code == 0
    assert report["findings"][0]["severity"] == "warning"
    assert review("--fail-on", "warning")[0] == 1


def test_bad_config_is_exit_2(repo):
    repo.write("pyproject.toml", '[tool.alembic-review]\nfail_on = "sometimes"\n')
    proc = run_cli(str(repo.path), "--base", "main")
    assert proc.returncode == 2 and "fail_on must be one of" in proc.stderr


def test_output_file_and_rules_and_explain(repo, tmp_path):
    repo.add_revision("0002", "0001", 'op.drop_column("users", "legacy_name")')
    out = tmp_path / "out" / "report.json"
    proc = run_cli(str(repo.path), "--base", "main", "--format", "json", "--output", str(out))
    assert proc.returncode == 1 and proc.stdout == ""
    assert rules_of(json.loads(out.read_text())) == ["ban-drop-column"]
    listing = run_cli("rules").stdout
    assert "require-concurrent-index-creation" in listing and "multiple-heads" in listing
    explained = run_cli("explain", "require-concurrent-index-creation")
    assert explained.returncode == 0 and "SHARE" in explained.stdout and "autocommit_block" in explained.stdout
    assert run_cli("explain", "nope").returncode == 2


def test_start_after_treats_older_revisions_as_history_in_all_mode(repo):
    repo.add_revision("0002", "0001", 'op.create_index("ix_users_email", "users", ["email"])', slug="old_risky")
    repo.add_revision("0003", "0002", 'op.drop_column("users", "legacy_name")', slug="new_risky")
    repo.commit("two risky")
    repo.write("pyproject.toml", '[tool.alembic-review]\nstart_after = "0002"\n')
    report = json.loads(run_cli(str(repo.path), "--all", "--format", "json").stdout)
    assert {r["revision"] for r in report["revisions"]} >= {"0003"}
    errors = [f for f in report["findings"] if f["severity"] == "error"]
    assert [(f["rule"], f["revision"]) for f in errors] == [("ban-drop-column", "0003")]
    repo.write("pyproject.toml", '[tool.alembic-review]\nstart_after = "nope"\n')
    proc = run_cli(str(repo.path), "--all")
    assert proc.returncode == 2 and "start_after" in proc.stderr


def test_sql_subcommand_reviews_a_raw_sql_file(tmp_path):
    path = tmp_path / "migration.sql"
    path.write_text("CREATE INDEX ix_users_email ON users (email);\n"
                    "CREATE INDEX CONCURRENTLY ix_users_name ON users (name);\n")
    proc = run_cli("sql", str(path), "--format", "json")
    report = json.loads(proc.stdout)
    assert proc.returncode == 1
    assert [(f["rule"], f["line"]) for f in report["findings"] if f["severity"] == "error"][0] == \
        ("require-concurrent-index-creation", 1)
    path.write_text("SELECT 1;\n")
    assert run_cli("sql", str(path)).returncode == 0
    assert run_cli("sql", str(tmp_path / "missing.sql")).returncode == 2


def test_sql_findings_are_at_the_line_the_statement_starts_on(tmp_path):
    path = tmp_path / "migration.sql"
    # a comment that quotes the statement, and non-ASCII text (pglast counts bytes) before it
    path.write_text("-- café: next we run DROP TABLE users\n"
                    "COMMENT ON TABLE orders IS 'für später';\n\n"
                    "/* DROP TABLE users */\n"
                    "DROP TABLE users;\n", encoding="utf-8")
    report = json.loads(run_cli("sql", str(path), "--format", "json").stdout)
    assert {f["line"] for f in report["findings"] if f["rule"] == "ban-drop-table"} == {5}


def test_sql_assume_in_transaction_runs_the_file_as_a_migration_tool_would(tmp_path):
    path = tmp_path / "migration.sql"
    path.write_text("CREATE INDEX CONCURRENTLY ix_users_name ON users (name);\n")
    rules = lambda *flags: {f["rule"] for f in json.loads(run_cli("sql", str(path), "--format", "json", *flags).stdout)["findings"]}
    assert "ban-concurrent-index-creation-in-transaction" not in rules()
    assert "ban-concurrent-index-creation-in-transaction" in rules("--assume-in-transaction")


def test_json_is_indented_on_a_terminal_and_compact_in_a_pipe(repo):
    from tests.gitrepo import run_on_terminal

    repo.add_revision("0002", "0001", 'op.create_index("ix_users_email", "users", ["email"])')
    piped = run_cli(str(repo.path), "--base", "main", "--format", "json")
    assert piped.stdout.count("\n") == 1 and json.loads(piped.stdout)["findings"]  # one line for a program

    _, shown, _ = run_on_terminal(str(repo.path), "--base", "main", "--format", "json", terminal="stdout")
    assert shown.count("\n") > 20 and '\n  "findings": [' in shown  # indented for a person
    assert json.loads(shown) == json.loads(piped.stdout)


def test_review_in_process_gives_the_garbage_collector_back(repo, tmp_path, capsys):
    """The CLI pauses the cyclic collector while it works; a program that calls main() gets it back."""
    import gc

    from linters.cli import main

    repo.add_revision("0002", "0001", 'op.create_index("ix_users_email", "users", ["email"])')
    assert gc.isenabled()
    assert main([str(repo.path), "--base", "main", "--format", "json"]) == 1
    assert gc.isenabled()
    assert json.loads(capsys.readouterr().out)["findings"]
    assert main([str(tmp_path / "missing")]) == 2  # the error path too
    assert gc.isenabled()


def test_installed_console_script_runs(tmp_path):
    """`alembic-review`, as pip installs it next to this interpreter, is the same program."""
    import subprocess
    import sys
    from pathlib import Path

    script = Path(sys.executable).parent / "alembic-review"
    assert script.exists(), "pip install -e . puts the console script next to the interpreter"
    listed = subprocess.run([str(script), "rules"], capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0 and "require-concurrent-index-creation" in listed.stdout
    missing = subprocess.run([str(script), str(tmp_path / "nowhere")], capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1 and "path not found" in missing.stderr


def test_commands_that_never_render_are_known_to_the_early_start(tmp_path, monkeypatch):
    """`python -m linters` starts a render child before it parses arguments, unless a command that never renders is named."""
    from linters.cli import COMMANDS, subcommand

    assert all(subcommand([name, "x"]) is COMMANDS[name] for name in ("rules", "explain", "demo", "sql"))
    (tmp_path / "rules").mkdir()
    monkeypatch.chdir(tmp_path)
    assert subcommand(["rules"]) is None and subcommand(["."]) is None and subcommand([]) is None


def test_invalid_escape_sequences_in_a_revision_print_no_python_warning(repo):
    """Parsing someone's revision must not put Python's warnings about their code on our stderr."""
    import os
    import subprocess
    import sys

    from tests.gitrepo import REPO_ROOT

    rel = repo.add_revision("0002", "0001", 'op.execute("UPDATE users SET email = \'\\)\' WHERE false")')
    assert "'\\)'" in (repo.path / rel).read_text()  # an invalid escape sequence in the Python source
    proc = subprocess.run([sys.executable, "-m", "linters", str(repo.path), "--base", "main"], capture_output=True,
                          text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(REPO_ROOT),
                                                       "PYTHONWARNINGS": "default"})
    assert proc.returncode in (0, 1), proc.stderr
    assert "Warning" not in proc.stderr, proc.stderr


def test_dropping_an_index_of_the_history_names_its_table(repo, review):
    """DROP INDEX does not name its table; the op.drop_index call does, and the finding says which table locks."""
    repo.git("checkout", "-q", "main")
    repo.add_revision("0002", "0001", 'op.create_index("ix_users_email", "users", ["email"])', slug="index")
    repo.commit("index")
    repo.git("checkout", "-q", "feature")
    repo.git("merge", "-q", "main")
    repo.add_revision("0003", "0002", 'op.drop_index("ix_users_email", table_name="users")', slug="drop")
    _, report, _ = review()
    by_revision = {f["revision"]: f for f in report["findings"] if f["rule"] == "require-concurrent-index-deletion"}
    assert (by_revision["0003"]["table"], by_revision["0003"]["lock"]) == ("users", "ACCESS EXCLUSIVE")


def test_all_reviews_downgrades_only_when_asked(repo):
    """--all renders upgrades only (downgrades cost a fifth of its time); --downgrades or the
    setting brings them back. A PR check (--base) always reviews them."""
    repo.add_revision("0002", "0001", 'op.add_column("users", sa.Column("nick", sa.Text))',
                      downgrade='op.drop_column("exams", "title")', slug="nick")
    repo.add_revision("0003", "0002", 'op.add_column("users", sa.Column("bio", sa.Text))', downgrade="pass",
                      slug="bio")

    def downgrade_rules(*flags):
        proc = run_cli(str(repo.path), "--format", "json", *flags)
        report = json.loads(proc.stdout)
        return {(f["rule"], f["revision"], f["direction"]) for f in report["findings"]}

    plain = downgrade_rules("--all")
    assert not any(direction == "downgrade" for _, _, direction in plain)
    assert ("missing-downgrade", "0003", "upgrade") in plain  # an empty downgrade() is seen without rendering it
    assert ("ban-drop-column", "0002", "downgrade") in downgrade_rules("--all", "--downgrades")
    repo.write("pyproject.toml", "[tool.alembic-review]\ndowngrades = true\n")
    assert ("ban-drop-column", "0002", "downgrade") in downgrade_rules("--all")
    assert ("ban-drop-column", "0002", "downgrade") in downgrade_rules("--base", "main")
