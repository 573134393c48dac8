"""What a first run in a new repository meets: every revision reviewed as new (said once), a
wrong --output, the summary line, long lines on a narrow terminal."""

import re
import shutil

from tests.gitrepo import run_cli, run_on_terminal

NOTE = "every revision is reviewed as new"


def test_without_an_origin_remote_a_note_says_every_revision_is_new_and_points_at_base(repo):
    repo.add_revision("0002", "0001", 'op.drop_column("users", "legacy_name")')
    proc = run_cli(str(repo.path), "--format", "json")
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and NOTE in proc.stderr and "--base" in proc.stderr


def test_a_folder_outside_git_gets_the_note_too(repo, tmp_path):
    plain = tmp_path / "plain"
    shutil.copytree(repo.path, plain, ignore=shutil.ignore_patterns(".git"))
    proc = run_cli(str(plain), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("\n") == 1 and NOTE in proc.stderr and "not in a git repository" in proc.stderr


def test_no_note_when_the_base_is_chosen(repo):
    repo.add_revision("0002", "0001", 'op.drop_column("users", "legacy_name")')
    for flags in (["--base", "main"], ["--all"]):
        proc = run_cli(str(repo.path), "--format", "json", *flags)
        assert proc.returncode == 1 and proc.stderr == "", proc.stderr


def test_output_naming_a_directory_is_a_usage_error(repo, tmp_path):
    proc = run_cli(str(repo.path), "--base", "main", "--output", str(tmp_path))
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "is a directory" in proc.stderr
    assert "internal error" not in proc.stderr


def test_the_summary_counts_one_info_in_the_singular(repo):
    repo.add_revision("0002", "0001", 'op.create_table("tags", sa.Column("name", sa.String(40)))',
                      'op.drop_table("tags")')
    proc = run_cli(str(repo.path), "--base", "main", "--select", "prefer-text-field")
    summary = proc.stdout.rstrip().splitlines()[-1]
    assert re.search(r"0 errors, 0 warnings, 1 info$", summary), proc.stdout


def test_long_lines_wrap_between_words_on_a_narrow_terminal(repo):
    repo.add_revision("0002", "0001", 'op.create_index("ix_users_email", "users", ["email"])')
    code, out, _ = run_on_terminal(str(repo.path), "--base", "main", "--no-progress", terminal="stdout", columns=60)
    assert code == 1
    shown = [re.sub(r"\x1b\[[0-9;]*m", "", line) for line in out.splitlines()]
    assert max(len(line) for line in shown) <= 60
    text = " ".join(line.strip() for line in shown)
    # every word of the hint is whole: no word was cut at the edge of the terminal
    assert "`postgresql_concurrently=True` inside `with op.get_context().autocommit_block():`" in text
    hint_lines = [line for line in shown if "postgresql_concurrently" in line]
    assert all(line.startswith("       ") for line in hint_lines)  # continuation lines keep the indent
