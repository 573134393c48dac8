"""The lint as a child process, as the Action (on the user's own code) and the service's jobs (in
the strict sandbox) start it: `python -m linters PATH --format json --output FILE`, and what its
exit code and report mean.
"""

from __future__ import annotations

import sys
from pathlib import Path

from linters.report.model import Report

# `python -m linters` (linters.cli.start_early: the render process is started first, its import of
# alembic overlapping the reading of the history), except that the working directory (the reviewed
# repository) is not put on sys.path: a `linters/` package of theirs must not shadow ours.
LAUNCH_LINT = ("import sys; sys.path[:] = [p for p in sys.path if p not in ('', '.')]; "
               "from linters.cli import main, start_early; start_early(sys.argv[1:]); sys.exit(main(sys.argv[1:]))")


def lint_args(path, report_path: Path, base: str | None, stats: Path | None = None) -> list[str]:
    """The lint's arguments: the JSON report on `path` (against `base`, if given; with the table
    statistics in `stats`, if given) to `report_path`."""
    args = [str(path), "--format", "json", "--output", str(report_path), "--no-progress"]
    if base:
        args += ["--base", base]
    if stats:
        args += ["--stats", str(stats)]
    return args


def lint_command(args: list[str]) -> list[str]:
    """The child's argv for the lint's `args` (see lint_args)."""
    return [sys.executable, "-c", LAUNCH_LINT, *args]


def left_report(exit_code: int, report_path: Path) -> bool:
    """Whether the lint did its job: exit code 0 or 1 (2 and signals: it could not) and a report."""
    return exit_code in (0, 1) and report_path.is_file()


def effective_fail_on(report: Report, lint_exit: int, requested: str) -> str:
    """The fail-on the lint applied (it may come from the project's config): the check run
    must agree with the exit code."""
    if requested:
        return requested
    if lint_exit == 1:
        return "error" if report.reaches("error") else "warning"
    return "never" if report.reaches("error") else "error"
