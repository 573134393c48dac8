"""`python -m linters [PATH]` / `alembic-review`: review the new revisions of a branch."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from linters import __version__
from linters.cli.options import Parser, add_report_options, emit_report, import_reporter, resolve_config
from linters.errors import UsageError
from linters.extras import require


def review_parser() -> Parser:
    p = Parser(prog="alembic-review", description="Review the new Alembic revisions of a branch for PostgreSQL.",
               epilog="Other commands: `rules` lists the rules, `explain RULE` explains one, `demo` reviews the bundled example.")
    p.add_argument("path", nargs="?", default=".", help="the repository, the directory of alembic.ini, or the script directory")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--base", help="git ref to compare with (default: merge-base with the remote default branch)")
    which.add_argument("--all", action="store_true", help="review every revision, not only the new ones")
    p.add_argument("--downgrades", action="store_true",
                   help="with --all: review downgrades too (a PR check always does; setting: downgrades = true)")
    add_report_options(p)
    live = p.add_mutually_exclusive_group()
    live.add_argument("--database-url", metavar="URL",
                      help="live mode: replay the migrations on a scratch database created on this server "
                           "(locks from pg_locks, up/down/up, drift against the models); dropped after")
    live.add_argument("--live", action="store_true",
                      help="live mode on a throwaway cluster started with this machine's initdb/pg_ctl")
    p.add_argument("--stats", metavar="FILE|URL",
                   help="table-statistics snapshot of production (`alembic-review stats`), or a database URL "
                        "to read the sizes from (read-only): findings get the table's size, lock time and "
                        "blocked writes, and a severity that follows them")
    p.add_argument("--squawk", action="store_true",
                   help="also run squawk-cli over each revision's SQL and merge its findings "
                        "(setting squawk = true; needs the [squawk] extra)")
    p.add_argument("--python", metavar="PATH",
                   help="render revisions with this interpreter: the project's own, with its packages and its "
                        "alembic/SQLAlchemy (default: the `python` setting, else the one running alembic-review)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.add_argument("--version", action="version", version=f"alembic-review {__version__}")
    return p


def table_stats(flag: str | None, config):
    """The table sizes of this run: --stats FILE, --stats URL (read from that database, read-only:
    e.g. the one live mode's URL names), else the `stats` setting; None, after one line on stderr,
    when they cannot be had."""
    from linters.tablestats import load_or_warn, stats_path, warn_unused
    if flag and re.match(r"postgres(ql)?(\+[\w-]+)?://", flag):
        from linters.errors import UsageError
        from linters.live.scratch import describe, parse_url
        from linters.stats_catalog import take_snapshot
        try:
            return take_snapshot(flag)
        except UsageError as exc:
            warn_unused(describe(parse_url(flag)), exc)
            return None
    return load_or_warn(stats_path(Path(flag) if flag else None, config.stats, config.source))


def render_python(args, config) -> str | None:
    """The interpreter revisions are rendered in: --python (relative to here), else the `python`
    setting (relative to its settings file), as an absolute path; None: ours."""
    from linters.render_process import find_python
    if args.python:
        value, relative_to, named = args.python, Path.cwd(), f"--python {args.python}"
    elif config.python:
        value, relative_to = config.python, Path(config.source or ".").parent
        named = f"python = {config.python!r} in {config.source}"
    else:
        return None
    found = find_python(value, relative_to)
    if found is None:
        raise UsageError(f"{named}: no such Python interpreter (give the path of the project's own, "
                         "e.g. .venv/bin/python)")
    return found


def note_no_base(path: Path, root: Path | None) -> None:
    """Without a base every revision is new: say so once, and how to review only a branch's revisions."""
    if root is None:
        print(f"alembic-review: note: {path} is not in a git repository, so every revision is reviewed as new "
              "(in a git repository, --base REF reviews only what a branch adds)", file=sys.stderr)
    else:
        print("alembic-review: note: no origin/main or origin/master to compare with, so every revision is "
              "reviewed as new; pass --base REF (e.g. --base main) to review only what this branch adds",
              file=sys.stderr)


def cmd_review(argv: list[str]) -> int:
    args = review_parser().parse_args(argv)
    if args.database_url or args.live:
        require("live", "live mode (--database-url, --live)")
    from linters.render_process import default_workers, find_python, prestart
    python = find_python(args.python, Path.cwd()) if args.python else None
    if python or not args.python:  # a --python that is not found is reported below, once the settings are read
        prestart(default_workers() if args.all else 1, python)  # children import alembic while we read the history
    from linters.engine import Scope, locate, resolve_base, review
    from linters.gcpause import cycle_collection_paused
    from linters.model import LiveTarget
    from linters.progress import progress_for

    path = Path(args.path)
    root, project = locate(path)
    config = resolve_config([project.project_dir, project.root], args)
    if config.squawk:
        from linters.squawk import find_binary
        find_binary()  # missing: one line and exit 2 now, not after rendering
    config.python = render_python(args, config)
    live = LiveTarget(args.database_url, args.live) if args.database_url or args.live else None
    base = resolve_base(path, root, args.base, args.all)
    if base is None and not args.all:
        note_no_base(path, root)
    scope = Scope(project, config, base, live, table_stats(args.stats, config))
    show_progress = not args.no_progress and args.format == "text" and sys.stderr.isatty()
    with cycle_collection_paused():
        with progress_for(show_progress) as on_progress:
            report = review(scope, on_progress=on_progress, while_rendering=lambda: import_reporter(args.format))
        return emit_report(report, args.format, args.output, config.fail_on)
