"""--squawk: the real squawk binary (squawk-cli from PyPI) over each revision's SQL, merged with our
findings; and .squawk.toml honoured by our own rules, for teams coming from squawk."""

import json
import os
import shutil
import subprocess
import sys
import sysconfig

import pytest

from tests.conftest import rules_of
from tests.gitrepo import REPO_ROOT, run_cli


def of(report, rule):
    return [f for f in report["findings"] if f["rule"] == rule]


def line_of(repo, rel, text):
    """1-based line of the first line of the file at `rel` containing `text`."""
    return next(n for n, line in enumerate((repo.path / rel).read_text().splitlines(), 1) if text in line)


def test_a_statement_both_flag_is_reported_once(repo, review):
    rel = repo.add_revision("0002", "0001", """
        op.execute("SET lock_timeout = '3s'")
        op.create_index("ix_users_email", "users", ["email"])
    """, 'op.drop_index("ix_users_email", table_name="users")')
    _, without, _ = review()
    code, report, _ = review("--squawk")
    [index] = of(report, "require-concurrent-index-creation")
    assert index["line"] == line_of(repo, rel, "op.create_index") and "source" not in index
    assert sorted(rules_of(report)) == sorted(rules_of(without)) and code == 1  # squawk agreed on all of it
    assert report["summary"]["squawk"]["both"] >= 1 and report["summary"]["squawk"]["squawk_only"] == 0
    assert "squawk" not in without["summary"] and all("source" not in f for f in without["findings"])


def test_a_violation_only_squawk_has_appears_at_its_op_line(repo, review):
    rel = repo.add_revision("0002", "0001", """
        op.execute("SET lock_timeout = '3s'")
        op.create_table("wishlists", sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True))
        op.execute("SELECT 1")
        op.drop_table("wishlists")
    """)
    _, without, _ = review()
    assert of(without, "ban-drop-table") == []  # ours: created by this very migration, nobody uses it yet
    _, report, _ = review("--squawk")
    [dropped] = of(report, "ban-drop-table")
    assert dropped["source"] == "squawk" and dropped["line"] == line_of(repo, rel, "op.drop_table")
    assert dropped["statement"] == "DROP TABLE wishlists" and dropped["revision"] == "0002"
    theirs = [f for f in report["findings"] if f.get("source") == "squawk"]
    assert report["summary"]["squawk"]["squawk_only"] == len(theirs)  # require-statement-timeout at the drop too

    text = run_cli(str(repo.path), "--base", "main", "--squawk").stdout
    assert f"{dropped['line']:>4} error   ban-drop-table (squawk)" in text
    assert f"{len(theirs)} only squawk's" in text


def test_what_only_we_find_is_counted(repo, review):
    repo.add_revision("0002", "0001", """
        op.execute("SET lock_timeout = '3s'")
        op.execute("VACUUM FULL users")
    """)
    _, report, _ = review("--squawk")
    assert of(report, "prefer-repack") and "source" not in of(report, "prefer-repack")[0]  # squawk: only from PG 19
    assert report["summary"]["squawk"]["ours_only"] >= 1


def test_squawk_follows_autocommit_blocks_and_its_own_ignore_comments(repo, review):
    repo.add_revision("0002", "0001", '''
        op.execute("SET lock_timeout = '3s'")
        with op.get_context().autocommit_block():
            op.drop_index("ix_old", table_name="users", postgresql_concurrently=True, if_exists=True)
            op.create_index("ix_users_email", "users", ["email"], postgresql_concurrently=True)
        op.execute("""
            -- squawk-ignore ban-drop-column
            ALTER TABLE users DROP COLUMN legacy_name;
        """)
    ''', 'op.add_column("users", sa.Column("legacy_name", sa.Text))')
    _, report, _ = review("--squawk")
    squawk_only = [f["rule"] for f in report["findings"] if f.get("source") == "squawk"]
    # Alembic's own COMMIT/BEGIN around the block are not the revision's, and CONCURRENTLY runs outside
    assert not {"transaction-nesting", "ban-uncommitted-transaction",
                "ban-concurrent-index-creation-in-transaction"} & set(rules_of(report)), squawk_only
    assert "ban-drop-column" not in rules_of(report) and of(report, "unused-ignore") == []


def test_a_statement_ending_in_a_comment_keeps_its_neighbours_apart(repo, review):
    rel = repo.add_revision("0002", "0001", """
        op.execute("SET lock_timeout = '3s'")
        op.execute("ALTER TABLE users DROP COLUMN legacy_name -- nobody reads it")
        op.create_index("ix_users_email", "users", ["email"])
    """, 'op.drop_index("ix_users_email", table_name="users")')
    _, report, _ = review("--squawk")
    assert [f.get("source") for f in of(report, "ban-drop-column")] == [None]  # squawk agreed
    [index] = of(report, "require-concurrent-index-creation")
    assert "source" not in index and index["line"] == line_of(repo, rel, "op.create_index")
    assert of(report, "syntax-error") == []  # squawk did not read the two as one glued statement


def test_squawk_knows_the_timeouts_env_py_sets(repo, review):
    repo.write("pyproject.toml", "[tool.alembic-review]\nassume_lock_timeout = true\n")
    repo.add_revision("0002", "0001", 'op.create_index("ix_users_email", "users", ["email"])',
                      'op.drop_index("ix_users_email", table_name="users")')
    _, report, _ = review("--squawk")
    assert of(report, "require-concurrent-index-creation")
    assert of(report, "require-lock-timeout") == of(report, "require-statement-timeout") == []
    repo.write("pyproject.toml", "[tool.alembic-review]\nassume_lock_timeout = false\n")
    _, report, _ = review("--squawk")
    assert of(report, "require-lock-timeout")  # the same revision, when nothing sets the timeout


def test_an_op_line_ignore_silences_squawk_too(repo, review):
    repo.add_revision("0002", "0001", """
        op.execute("SET lock_timeout = '3s'")
        op.create_table("wishlists", sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True))
        op.drop_table("wishlists")  # alembic-review: ignore[ban-drop-table]
    """)
    _, report, _ = review("--squawk")
    assert of(report, "ban-drop-table") == [] and of(report, "unused-ignore") == []


SQUAWK_TOML = 'excluded_rules = ["require-concurrent-index-creation", "ban-drop-table", "ban-drop-trigger"]\n'


def test_squawk_toml_exclusions_apply_to_both(repo, review):
    repo.write(".squawk.toml", SQUAWK_TOML)
    repo.add_revision("0002", "0001", """
        op.execute("SET lock_timeout = '3s'")
        op.create_index("ix_users_email", "users", ["email"])
        op.create_table("wishlists", sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True))
        op.drop_table("wishlists")
        op.drop_column("users", "legacy_name")
    """)
    for extra in ((), ("--squawk",)):
        code, report, err = review(*extra)
        assert code == 1 and err == "", err
        assert not {"require-concurrent-index-creation", "ban-drop-table"} & set(rules_of(report)), extra
        assert "ban-drop-column" in rules_of(report)  # not excluded: still reported


def test_squawk_toml_pg_version_and_our_settings_taking_precedence(repo, review):
    repo.write(".squawk.toml", 'pg_version = "10.0"\n' + SQUAWK_TOML)
    repo.add_revision("0002", "0001", """
        op.execute("SET lock_timeout = '3s'")
        op.add_column("users", sa.Column("tier", sa.Text, server_default="free"))
    """, 'op.drop_column("users", "tier")')
    _, report, _ = review("--squawk")
    assert report["pg_version"] == 10
    assert [f.get("source") for f in of(report, "adding-field-with-default")] == [None]  # both, before PG 11
    # with [tool.alembic-review] settings, our rules follow those; squawk still reads its own file
    repo.write("pyproject.toml", "[tool.alembic-review]\nfail_on = 'warning'\n")
    _, report, _ = review()
    assert report["pg_version"] == 15 and of(report, "adding-field-with-default") == []


def test_bad_squawk_toml_is_one_line_and_exit_2(repo):
    repo.write(".squawk.toml", 'pg_version = "fifteen"\n')
    proc = run_cli(str(repo.path), "--base", "main")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "pg_version" in proc.stderr


def test_sql_command_honours_assume_in_transaction(tmp_path):
    (tmp_path / "m.sql").write_text("CREATE INDEX CONCURRENTLY ix_users_email ON users (email);\n")
    rules = lambda: [f["rule"] for f in json.loads(run_cli("sql", "m.sql", "--format", "json", cwd=tmp_path).stdout)["findings"]]
    assert "ban-concurrent-index-creation-in-transaction" not in rules()
    (tmp_path / ".squawk.toml").write_text("assume_in_transaction = true\n")
    assert "ban-concurrent-index-creation-in-transaction" in rules()


@pytest.fixture
def python_without_squawk(tmp_path):
    """An interpreter with alembic-review and its dependencies but not the [squawk] extra's binary:
    a venv whose site-packages point at this one's, and a PATH without squawk."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    with open(os.path.join(site, "ours.pth"), "w") as pth:
        pth.write(f"{sysconfig.get_paths()['purelib']}\n{REPO_ROOT}\n")
    path = os.pathsep.join(d for d in os.environ["PATH"].split(os.pathsep) if not shutil.which("squawk", path=d))
    assert shutil.which("squawk", path=path) is None
    return python, path


def test_squawk_without_the_binary_is_one_line_naming_the_extra(repo, python_without_squawk, tmp_path):
    python, path = python_without_squawk
    repo.add_revision("0002", "0001", 'op.create_index("ix_users_email", "users", ["email"])')
    env = {**os.environ, "PATH": path, "NO_COLOR": "1"}
    run = lambda *extra: subprocess.run([str(python), "-m", "linters", str(repo.path), "--base", "main", *extra],
                                        env=env, capture_output=True, text=True, timeout=120)
    missing = run("--squawk")
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1, missing.stderr
    assert "alembic-review[squawk]" in missing.stderr and "Traceback" not in missing.stderr
    assert run().returncode == 1  # without --squawk nothing needs it

    # a squawk on PATH that only leaves a mark: never started without --squawk, started with it
    bin_dir, mark = tmp_path / "bin", tmp_path / "squawk-ran"
    bin_dir.mkdir()
    (bin_dir / "squawk").write_text(f"#!/bin/sh\ntouch '{mark}'\necho '[]'\n")
    (bin_dir / "squawk").chmod(0o755)
    env["PATH"] = f"{bin_dir}{os.pathsep}{path}"
    assert run().returncode == 1 and not mark.exists()
    assert run("--squawk").returncode == 1 and mark.exists()


def test_squawk_setting_and_a_failing_squawk(repo, review, python_without_squawk, tmp_path):
    repo.write("pyproject.toml", "[tool.alembic-review]\nsquawk = true\n")
    repo.add_revision("0002", "0001", """
        op.create_table("wishlists", sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True))
        op.drop_table("wishlists")
    """)
    _, report, _ = review()
    assert [f["source"] for f in of(report, "ban-drop-table")] == ["squawk"] and "squawk" in report["summary"]

    python, path = python_without_squawk
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "squawk").write_text("#!/bin/sh\necho 'error: something broke' >&2\nexit 3\n")
    (bin_dir / "squawk").chmod(0o755)
    proc = subprocess.run([str(python), "-m", "linters", str(repo.path), "--base", "main"],
                          env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{path}"}, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2 and proc.stderr.strip().endswith("squawk failed: error: something broke")
    assert proc.stderr.count("\n") == 1


def test_squawk_toml_names_and_versions_as_squawk_writes_them(tmp_path):
    from linters.config import load_config

    (tmp_path / ".squawk.toml").write_text('excluded_rules = ["prefer-timestamp-tz", "ban-drop-trigger"]\n'
                                           'pg_version = "9.6"\n')
    config = load_config([tmp_path])
    assert (config.ignore, config.pg_version, config.source) == (["prefer-timestamptz"], 9,
                                                                 str(tmp_path / ".squawk.toml"))
    (tmp_path / ".alembic-review.toml").write_text("fail_on = 'warning'\n")
    assert load_config([tmp_path]).ignore == []  # our own settings file: .squawk.toml is squawk's alone
