"""Benchmark alembic-review against what users would run instead, on generated histories.

    python -m bench.run [--reps 7] [--readme] [--out bench/results.md] [--keep DIR] [--only ROW,...]

1. PR check (one new revision) on 2,000 revisions   vs `alembic heads` on the same repo
2. the same PR check with `--squawk`                 vs the same PR check without it (what squawk-cli costs)
3. `--all` on 1,000 revisions                        vs `alembic upgrade base:head --sql | squawk --reporter json`
4. SQL analysis of a 5,000-statement file            vs `squawk --reporter json FILE`
5. peak memory of the 2,000-revision PR check (whole process tree)

`--only` runs some rows (pr-warm, pr-cold, squawk, all, sql, in-process, instructions, memory), e.g. `--only squawk`.
`instructions` counts the in-process SQL analysis and squawk's run with valgrind (skipped without it).

Each pair runs `--reps` times, alternating which command goes first, after one untimed run of each;
the table shows medians and their ratio. The code measured is a snapshot of linters/ compiled to
bytecode (as `pip install` leaves it), run with this interpreter; alembic runs as `python -m
alembic` with the same interpreter and environment.
"""

from __future__ import annotations

import argparse
import compileall
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # `python bench/run.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.generate import build_repo, write_sql_file  # noqa: E402
from bench.measure import Command, compare, instructions, peak_memory  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent
README_START, README_END = "<!-- bench:start -->", "<!-- bench:end -->"


@dataclass
class Row:
    case: str
    ours: float
    baseline_name: str
    baseline: float
    target: float
    cpu_ratio: float | None = None  # CPU seconds (user + system, process tree), ours / theirs

    @property
    def ratio(self) -> float:
        return self.ours / self.baseline


def snapshot_package(dest: Path) -> Path:
    """A copy of linters/ with bytecode, so the run measures the code, not compiling it."""
    shutil.copytree(REPO_ROOT / "linters", dest / "linters", ignore=shutil.ignore_patterns("__pycache__"))
    compileall.compile_dir(dest / "linters", quiet=1)
    return dest


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
        mem = f"{mem_kb / 1024 ** 2:.0f} GB RAM"
    except (OSError, AttributeError):
        mem = "? RAM"
    versions = []
    for dist in ("alembic", "SQLAlchemy", "pglast"):
        try:
            from importlib.metadata import version
            versions.append(f"{dist} {version(dist)}")
        except Exception:
            pass
    squawk = subprocess.run(["squawk", "--version"], capture_output=True, text=True).stdout.strip()
    return (f"{os.cpu_count()} cores ({cpu}), {mem}, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}, {', '.join(versions)}, {squawk}")


IN_PROCESS = """
import sys, time
from pathlib import Path
from linters.config import Config
from linters.sqlfile import lint_sql
text = Path(sys.argv[1]).read_text()
lint_sql(text, "bench.sql", Config())  # imports, first-call costs
start, cpu = time.perf_counter(), time.process_time()
if len(sys.argv) < 3:  # a second argument: imports and first call only (what the instruction count subtracts)
    lint_sql(text, "bench.sql", Config())
print(time.perf_counter() - start, time.process_time() - cpu)
"""


def table(rows: list[Row], memory, reps: int, env_note: str) -> str:
    lines = [
        "| comparison | alembic-review | instead | their time | ratio | CPU ratio | target |",
        "|---|---:|---|---:|---:|---:|---|",
    ]
    for r in rows:
        met = "met" if r.ratio <= r.target else "**missed**"
        cpu = f"{r.cpu_ratio:.2f}x" if r.cpu_ratio is not None else ""
        lines.append(f"| {r.case} | {r.ours:.2f} s | {r.baseline_name} | {r.baseline:.2f} s | "
                     f"{r.ratio:.2f}x | {cpu} | ≤ {r.target:g}x, {met} |")
    for label, m in memory:
        met = "met" if m.tree_peak_mb < 300 else "**missed**"
        lines.append(f"| peak RSS, {label} | {m.tree_peak_mb:.0f} MB (largest process {m.largest_process_mb:.0f} MB) "
                     f"| | | | | < 300 MB, {met} |")
    lines.append("")
    lines.append(f"Medians of {reps} runs per command, the two commands alternating; the CPU ratio compares "
                 f"their user + system seconds (whole process tree), which others' load on a shared machine "
                 f"changes much less than the wall time. {env_note}")
    return "\n".join(lines)


def write_readme(block: str) -> None:
    readme = REPO_ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    section = f"{README_START}\n{block}\n{README_END}"
    if README_START in text and README_END in text:
        text = re.sub(re.escape(README_START) + r".*?" + re.escape(README_END), lambda _: section, text, flags=re.S)
    else:
        text = text.rstrip("\n") + "\n\n## Performance\n\n" + section + "\n"
    readme.write_text(text, encoding="utf-8")


ROWS = ("pr-warm", "pr-cold", "squawk", "all", "sql", "in-process", "instructions", "memory")


def _rows(value: str) -> set[str]:
    rows = {v.strip() for v in value.split(",") if v.strip()}
    if not rows or rows - set(ROWS):
        raise argparse.ArgumentTypeError(f"rows are {', '.join(ROWS)}, not {value!r}")
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reps", type=int, default=7)
    p.add_argument("--pr-revisions", type=int, default=2000)
    p.add_argument("--all-revisions", type=int, default=1000)
    p.add_argument("--sql-statements", type=int, default=5000)
    p.add_argument("--out", type=Path, default=REPO_ROOT / "bench" / "results.md")
    p.add_argument("--readme", action="store_true", help="also put the table in README.md under Performance")
    p.add_argument("--keep", type=Path, help="build the repos here and keep them")
    p.add_argument("--only", type=_rows, default=set(ROWS), help=f"only these rows ({', '.join(ROWS)})")
    args = p.parse_args(argv)
    if args.readme and args.only != set(ROWS):
        p.error("--readme writes the whole table: it needs every row (no --only)")

    if shutil.which("squawk") is None:
        print("squawk is not installed: pip install squawk-cli", file=sys.stderr)
        return 2
    if args.keep and args.keep.exists() and any(args.keep.iterdir()):
        print(f"--keep {args.keep}: the folder is not empty; name a new one", file=sys.stderr)
        return 2
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="alembic-review-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        return _run(args, work)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def _run(args, work: Path) -> int:
    py = sys.executable
    only = args.only
    print(f"generating histories in {work} ...", file=sys.stderr)
    pr_repo = work / f"pr{args.pr_revisions}"
    all_repo = work / f"all{args.all_revisions}"
    sql_file = work / f"statements{args.sql_statements}.sql"
    if only & {"pr-warm", "pr-cold", "squawk", "memory"}:
        build_repo(pr_repo, args.pr_revisions)
    if only & {"all", "memory"}:
        build_repo(all_repo, args.all_revisions, new_revisions=0)
    if only & {"sql", "in-process", "instructions"}:
        write_sql_file(sql_file, args.sql_statements)
    pkg = snapshot_package(work / "pkg")
    ours_env = {**os.environ, "PYTHONPATH": str(pkg), "NO_COLOR": "1"}
    env = dict(os.environ)
    cache = pr_repo / ".git" / "alembic-review"
    load = os.getloadavg()

    def ours(name, *cli, cwd=None, before=None):
        return Command(name, [py, "-m", "linters", *cli], cwd=cwd, env=ours_env, before=before)

    squawk_sql = Command("squawk --reporter json FILE", ["squawk", "--reporter", "json", str(sql_file)], env=env)
    pairs = [
        ("pr-warm", f"PR check, 1 new revision on {args.pr_revisions} (identity cache warm)",
         ours("pr-warm", str(pr_repo), "--base", "main"),
         Command("alembic heads", [py, "-m", "alembic", "heads"], cwd=pr_repo, env=env), 0.5),
        ("pr-cold", f"PR check, 1 new revision on {args.pr_revisions} (cold: no cache, a first CI run)",
         ours("pr-cold", str(pr_repo), "--base", "main", before=lambda: shutil.rmtree(cache, ignore_errors=True)),
         Command("alembic heads", [py, "-m", "alembic", "heads"], cwd=pr_repo, env=env), 0.5),
        # what --squawk costs: the same warm PR check with and without it, alternating
        ("squawk", f"PR check with `--squawk` (squawk-cli over the new revision's SQL), {args.pr_revisions} revisions",
         ours("pr-squawk", str(pr_repo), "--base", "main", "--squawk"),
         ours("PR check without --squawk", str(pr_repo), "--base", "main"), 1.2),
        ("all", f"`--all` on {args.all_revisions} revisions",
         ours("all", str(all_repo), "--all", "--format", "json"),
         Command("alembic upgrade base:head --sql \\| squawk --reporter json",
                 ["sh", "-c", f"'{py}' -m alembic upgrade base:head --sql | squawk --reporter json"],
                 cwd=all_repo, env=env), 1.0),
        ("sql", f"SQL analysis of a {args.sql_statements}-statement file",
         ours("sql", "sql", str(sql_file), "--format", "json"), squawk_sql, 1.5),
    ]
    rows = []
    for key, case, mine, theirs, target in pairs:
        if key not in only:
            continue
        print(f"timing: {case} ...", file=sys.stderr)
        a, b = compare(mine, theirs, args.reps)
        rows.append(Row(case, a.median, theirs.name, b.median, target, a.cpu_median / b.cpu_median))
        print(f"  ours {a.median:.3f} s  {theirs.name} {b.median:.3f} s  ratio {a.median / b.median:.2f}", file=sys.stderr)
    if "in-process" in only:  # one warm lint_sql per process, alternating with squawk's whole run
        a, b = compare(Command("in-process", [py, "-c", IN_PROCESS, str(sql_file)], env=ours_env, self_timed=True),
                       squawk_sql, args.reps)
        rows.append(Row("SQL analysis alone, in-process (`sqlfile.lint_sql`, no interpreter start-up)", a.median,
                        squawk_sql.name, b.median, 1.5, a.cpu_median / b.cpu_median))
        print(f"  in-process analysis {a.median:.3f} s  squawk {b.median:.3f} s  ratio {a.median / b.median:.2f}",
              file=sys.stderr)
    counted = None
    if "instructions" in only:  # the in-process row again, in instructions: what a busy machine does not change
        print("counting instructions (valgrind) ...", file=sys.stderr)
        analysis = Command("in-process", [py, "-c", IN_PROCESS, str(sql_file)], env=ours_env)
        before = Command("in-process, first call only", [py, "-c", IN_PROCESS, str(sql_file), "first"], env=ours_env)
        counts = [instructions(analysis), instructions(before), instructions(squawk_sql)]
        if None not in counts:  # (analysing thread, parser thread of a big file: linters/sqlpieces.py), squawk's
            (analysing, parser), (analysing_before, parser_before), theirs = counts
            counted = (analysing - analysing_before, parser - parser_before, sum(theirs))
    memory = []
    if "memory" in only:
        memory = [(f"PR check on {args.pr_revisions} revisions", peak_memory(ours("mem", str(pr_repo), "--base", "main"))),
                  (f"`--all` on {args.all_revisions} revisions",
                   peak_memory(ours("mem", str(all_repo), "--all", "--format", "json")))]
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        env_note = ("PYTHONDONTWRITEBYTECODE is set on this machine, so alembic compiles every revision "
                    "module on every run (no .pyc).")
    else:
        env_note = "alembic writes .pyc files of the revisions on its first run and reuses them after."
    env_note += f" Load average when the run started: {load[0]:.2f}."
    block = f"Measured on {machine()}.\n\n" + table(rows, memory, args.reps, env_note)
    if counted:
        analysing, parser, theirs = counted
        block += (f"\n\nThe in-process SQL analysis in instructions (valgrind's callgrind, the same count at any load), "
                  f"in the thread that analyses: {analysing / 1e6:.1f} M against {theirs / 1e6:.1f} M for squawk's "
                  f"whole run, {analysing / theirs:.2f}x")
        block += (f"; PostgreSQL's parser ran another {parser / 1e6:.1f} M on a second thread alongside "
                  f"({(analysing + parser) / theirs:.2f}x in all)." if parser else ".")
    print(block)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("# Benchmark results\n\n`python -m bench.run`\n\n" + block + "\n", encoding="utf-8")
    if args.readme:
        write_readme(block)
    missed = [r for r in rows if r.ratio > r.target] + [m for _, m in memory if m.tree_peak_mb >= 300]
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
