"""The benchmark cannot rot: a tiny run of its generator and harness (nothing here is timed)."""

import json
import re
import subprocess
import sys

from pglast import parser

from bench.generate import build_repo, history_sources, sql_statements
from bench.run import main as bench_main
from tests.gitrepo import REPO_ROOT, run_cli


def test_generated_history_is_realistic_and_alembic_renders_it_offline(tmp_path):
    sources = history_sources(90, seed=3)
    text = "\n".join(src for _, src in sources)
    for operation in ("op.create_table(", "op.add_column(", "postgresql_concurrently=True", "autocommit_block()",
                      "op.batch_alter_table(", "op.execute(", "sa.ForeignKey(", "op.create_foreign_key("):
        assert operation in text, operation
    assert sum("down_revision: Union[str, Sequence[str], None] = ('" in src for _, src in sources) == 2  # merges

    repo = build_repo(tmp_path / "repo", 90, seed=3)
    alembic = lambda *args: subprocess.run([sys.executable, "-m", "alembic", *args], cwd=repo,
                                           capture_output=True, text=True, timeout=300)
    heads = alembic("heads")
    assert heads.returncode == 0, heads.stderr
    assert len(heads.stdout.split()) == 2 and "(head)" in heads.stdout  # one head: the pull request's revision
    sql = alembic("upgrade", "base:head", "--sql")
    assert sql.returncode == 0, sql.stderr
    assert "CREATE INDEX CONCURRENTLY" in sql.stdout and "COMMIT;" in sql.stdout

    proc = run_cli(str(repo), "--base", "main", "--format", "json")
    assert proc.returncode in (0, 1) and "Traceback" not in proc.stderr, proc.stderr
    report = json.loads(proc.stdout)
    assert [r["status"] for r in report["revisions"]] == ["added"]
    assert {f["rule"] for f in report["findings"]} >= {"require-concurrent-index-creation"}


def test_generated_sql_file_has_exactly_the_statements_asked_for():
    statements = sql_statements(300)
    assert len(statements) == 300
    parsed = json.loads(parser.parse_sql_json(";\n".join(statements)))
    assert len(parsed["stmts"]) == 300


def test_bench_harness_runs_end_to_end_on_tiny_inputs(tmp_path):
    out = tmp_path / "results.md"
    code = bench_main(["--reps", "1", "--pr-revisions", "30", "--all-revisions", "12", "--sql-statements", "60",
                       "--out", str(out)])
    assert code in (0, 1)  # 1: a target missed, which tiny inputs say nothing about
    table = out.read_text()
    for row in ("PR check", "PR check with `--squawk`", "`--all` on 12 revisions", "SQL analysis of a 60-statement file",
                "peak RSS"):
        assert row in table
    assert "cores" in table and "alembic heads" in table
    assert (REPO_ROOT / "README.md").read_text().count("<!-- bench:start -->") <= 1  # --readme was not passed


def table_rows(results) -> list[str]:
    """The benchmark table's rows, header left out."""
    return [line for line in results.read_text().splitlines() if line.startswith("| ") and "---" not in line][1:]


def test_bench_runs_only_the_rows_asked_for(tmp_path):
    out = tmp_path / "results.md"
    code = bench_main(["--reps", "1", "--pr-revisions", "20", "--only", "squawk", "--out", str(out)])
    assert code in (0, 1)
    rows = table_rows(out)
    assert len(rows) == 1 and "PR check with `--squawk`" in rows[0] and "PR check without --squawk" in rows[0]


def test_in_process_row_alternates_with_squawk_and_stands_alone(tmp_path):
    out = tmp_path / "results.md"
    assert bench_main(["--reps", "1", "--sql-statements", "40", "--only", "in-process", "--out", str(out)]) in (0, 1)
    rows = table_rows(out)
    assert len(rows) == 1 and "in-process" in rows[0] and "squawk --reporter json FILE" in rows[0]


def test_keep_builds_in_a_new_folder_and_refuses_a_full_one(tmp_path, capsys):
    kept = tmp_path / "kept" / "bench"  # its parent does not exist either
    args = ["--reps", "1", "--sql-statements", "40", "--only", "in-process", "--out", str(tmp_path / "r.md")]
    assert bench_main([*args, "--keep", str(kept)]) in (0, 1)
    assert (kept / "statements40.sql").is_file()
    assert bench_main([*args, "--keep", str(kept)]) == 2  # a second run would mix with the first's files
    assert "not empty" in capsys.readouterr().err


def test_what_the_app_user_waits_for_is_measured_end_to_end(capsys):
    """The App row of bench.waits: a real service, the fake GitHub, a generated repository."""
    from bench.waits import main as waits_main

    assert waits_main(["--revisions", "15", "--reps", "1", "--only", "app"]) == 0
    table = capsys.readouterr().out
    row = next(line for line in table.splitlines() if line.startswith("| App:"))
    assert "1 new revision on 15 (warm worker)" in row and row.count(" s |") >= 2
    assert "load average" in table
    # where the job's seconds went, read from the service's log
    assert all(f" {phase} " in table for phase in ("queued", "download", "checkout", "lint", "publish"))


def test_instruction_count_of_the_sql_analysis_is_reported_next_to_squawks(tmp_path):
    """valgrind counts what the analysis itself executes (first call and imports subtracted)."""
    out = tmp_path / "results.md"
    bench_main(["--reps", "1", "--sql-statements", "40", "--only", "instructions", "--out", str(out)])
    found = re.search(r"in instructions .*?: ([\d.]+) M against ([\d.]+) M for squawk's whole run, ([\d.]+)x",
                      out.read_text())
    assert found, out.read_text()
    ours, theirs, ratio = float(found.group(1)), float(found.group(2)), float(found.group(3))
    assert 0 < ours and 0 < theirs and abs(ratio - ours / theirs) < 0.05 + ours / theirs * 0.05
