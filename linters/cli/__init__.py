"""`python -m linters` / `alembic-review`: which command runs, exit codes, never a traceback.

One module per command: review.py (the default), catalog.py (`rules`, `explain`), demo.py,
sql.py, stats.py; options.py holds what they share (report options, settings, writing the report).
"""

from __future__ import annotations

import gc
import os
import sys
import warnings
from pathlib import Path

from linters.errors import UsageError


# Each command's module is imported only when it runs: `rules` must not pay for the review's imports.
def cmd_review(argv: list[str]) -> int:
    from linters.cli.review import cmd_review as run
    return run(argv)


def cmd_rules(argv: list[str]) -> int:
    from linters.cli.catalog import cmd_rules as run
    return run(argv)


def cmd_explain(argv: list[str]) -> int:
    from linters.cli.catalog import cmd_explain as run
    return run(argv)


def cmd_demo(argv: list[str]) -> int:
    from linters.cli.demo import cmd_demo as run
    return run(argv)


def cmd_sql(argv: list[str]) -> int:
    from linters.cli.sql import cmd_sql as run
    return run(argv)


def cmd_stats(argv: list[str]) -> int:
    from linters.cli.stats import cmd_stats as run
    return run(argv)


COMMANDS = {"rules": cmd_rules, "explain": cmd_explain, "demo": cmd_demo, "sql": cmd_sql, "stats": cmd_stats}


def subcommand(argv: list[str]):
    """The command `argv` starts with (rules, explain, demo, sql, stats), or None: a review (of a
    directory, even one named like a command)."""
    if argv and argv[0] in COMMANDS and not Path(argv[0]).is_dir():
        return COMMANDS[argv[0]]
    return None


def start_early(argv: list[str]) -> None:
    """Before anything heavier, for a review: the render process, whose import of alembic is the
    longest step of a PR check (`python -m linters` and the App's reviewer both start here)."""
    if subcommand(argv) is None:
        from linters.render_process import prestart_for
        prestart_for(argv)


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
