"""`python -m linters` / `alembic-review`: argument parsing, exit codes, output."""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import sys
import warnings
from pathlib import Path

from linters import __version__
from linters.errors import UsageError

FORMATS = {"text": "text", "json": "jsonreport", "sarif": "sarif", "github": "github", "markdown": "markdown"}


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one clear line, exit 2 (argparse prints the whole usage otherwise)
        raise UsageError(message)


def _rule_list(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def add_report_options(p: argparse.ArgumentParser, settings_found: str = "") -> None:
    """The options a review and the `sql` command share: the report, the version, the settings, the rules."""
    p.add_argument("--format", choices=list(FORMATS), default="text")
    p.add_argument("--output", type=Path, help="write the report to FILE instead of stdout")
    p.add_argument("--pg-version", type=int, help="PostgreSQL major version of production (default 15)")
    p.add_argument("--config", type=Path, help="settings file (default: .alembic-review.toml or pyproject.toml"
                                              f"{' ' + settings_found if settings_found else ''})")
    p.add_argument("--select", type=_rule_list, help="only these rules (comma separated)")
    p.add_argument("--ignore", type=_rule_list, help="skip these rules (comma separated)")
    p.add_argument("--fail-on", choices=["error", "warning", "never"], help="exit 1 at this severity (default error)")


def review_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="alembic-review", description="Review the new Alembic revisions of a branch for PostgreSQL.",
                epilog="Other commands: `rules` lists the rules, `explain RULE` explains one, `demo` reviews the bundled example.")
    p.add_argument("path", nargs="?", default=".", help="the repository, the directory of alembic.ini, or the script directory")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--base", help="git ref to compare with (default: merge-base with the remote default branch)")
    which.add_argument("--all", action="store_true", help="review every revision, not only the new ones")
    add_report_options(p)
    live = p.add_mutually_exclusive_group()
    live.add_argument("--database-url", metavar="URL",
                      help="live mode: replay the migrations on a scratch database created on this server "
                           "(locks from pg_locks, up/down/up, drift against the models); dropped after")
    live.add_argument("--live", action="store_true",
                      help="live mode on a throwaway cluster started with this machine's initdb/pg_ctl")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.add_argument("--version", action="version", version=f"alembic-review {__version__}")
    return p


def render_report(report, fmt: str, color: bool, terminal: bool = False) -> str:
    module = importlib.import_module(f"linters.report.{FORMATS[fmt]}")
    if fmt == "text":
        return module.render(report, color=color)
    if fmt == "json":
        return module.render(report, pretty=terminal)  # indented when a person reads it
    return module.render(report)


def cmd_review(argv: list[str]) -> int:
    args = review_parser().parse_args(argv)
    from linters.render_process import default_workers, prestart
    prestart(default_workers() if args.all else 1)  # children import alembic while we read the history
    from linters.engine import Options, review
    from linters.progress import progress_for

    options = Options(path=Path(args.path), base=args.base, all=args.all, config_file=args.config,
                      pg_version=args.pg_version, fail_on=args.fail_on, select=args.select, ignore=args.ignore,
                      database_url=args.database_url, live=args.live)
    show_progress = not args.no_progress and args.format == "text" and sys.stderr.isatty()
    from linters.gcpause import cycle_collection_paused
    with cycle_collection_paused():
        with progress_for(show_progress) as on_progress:
            report, config = review(options, on_progress=on_progress,
                                    while_rendering=lambda: importlib.import_module(f"linters.report.{FORMATS[args.format]}"))
        return emit_report(report, args.format, args.output, config.fail_on)


def emit_report(report, fmt: str, output: Path | None, fail_on: str) -> int:
    """Write the report (colored on a terminal) to stdout or `output`; the exit code for `fail_on`."""
    terminal = output is None and sys.stdout.isatty()
    text = render_report(report, fmt, terminal and "NO_COLOR" not in os.environ, terminal)
    if output:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 1 if report.reaches(fail_on) else 0


def cmd_rules(argv: list[str]) -> int:
    from linters.explain import list_rules, markdown_table, write_readme
    p = _Parser(prog="alembic-review rules", description="List the rules.")
    p.add_argument("--markdown", action="store_true", help="print the README's markdown table")
    p.add_argument("--write", type=Path, metavar="README", help="with --markdown: rewrite the table between "
                   "the <!-- rules:start --> / <!-- rules:end --> markers of README")
    args = p.parse_args(argv)
    if args.write and not args.markdown:
        raise UsageError("--write needs --markdown")
    if args.write:
        write_readme(args.write)
    else:
        sys.stdout.write(markdown_table() if args.markdown else list_rules())
    return 0


def cmd_explain(argv: list[str]) -> int:
    from linters.explain import explain
    if len(argv) != 1:
        raise UsageError("usage: python -m linters explain RULE")
    sys.stdout.write(explain(argv[0]))
    return 0


def cmd_demo(argv: list[str]) -> int:
    from linters.demo import run_demo
    return run_demo(argv)


def cmd_sql(argv: list[str]) -> int:
    from linters.sqlfile import cmd_sql as run
    return run(argv)


COMMANDS = {"rules": cmd_rules, "explain": cmd_explain, "demo": cmd_demo, "sql": cmd_sql}


def subcommand(argv: list[str]):
    """The command `argv` starts with (rules, explain, demo, sql), or None: a review (of a
    directory, even one named like a command)."""
    if argv and argv[0] in COMMANDS and not Path(argv[0]).is_dir():
        return COMMANDS[argv[0]]
    return None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        if (command := subcommand(argv)) is not None:
            return command(argv[1:])
        return cmd_review(argv)
    except UsageError as exc:
        print(f"alembic-review: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # never a traceback for the user; one line, and how to get more
        if os.environ.get("ALEMBIC_REVIEW_DEBUG"):
            raise
        print(f"alembic-review: internal error: {type(exc).__name__}: {exc} "
              "(rerun with ALEMBIC_REVIEW_DEBUG=1 for details)", file=sys.stderr)
        return 2


def console_main() -> int:
    """The program (`python -m linters`, `alembic-review`): main() with the cyclic collector off
    for the whole process (linters/gcpause.py says why), and without the full collection Python
    runs at shutdown, which would walk every cached revision AST (~0.7 s after `--all` on 1,000
    revisions). Re-enabling it after the review would cost a walk over every object the review
    made (~0.1 s); the operating system takes the memory back at exit anyway."""
    gc.disable()
    # Revisions are other people's code, read with ast: the warnings Python gives while parsing
    # them ("invalid escape sequence") are not ours to print on stderr.
    warnings.filterwarnings("ignore", category=SyntaxWarning)
    warnings.filterwarnings("ignore", message="invalid escape sequence", category=DeprecationWarning)
    code = main()
    gc.freeze()
    return code
