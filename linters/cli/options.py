"""What every command shares: the argument parser that fails in one line, the report and rule
options, the settings resolved once from the files and the flags, and writing the report."""

from __future__ import annotations

import argparse
import importlib
import os
import shutil
import sys
from pathlib import Path

from linters.errors import UsageError

FORMATS = {"text": "text", "json": "jsonreport", "sarif": "sarif", "github": "github", "markdown": "markdown"}


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one clear line, exit 2 (argparse prints the whole usage otherwise)
        raise UsageError(message)


def _rule_list(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _output_file(value: str) -> Path:
    path = Path(value)
    if path.is_dir():  # found now, not after the review when writing fails
        raise argparse.ArgumentTypeError(f"{value} is a directory; give a file, e.g. {path / 'report.json'}")
    return path


def add_report_options(p: argparse.ArgumentParser, settings_found: str = "") -> None:
    """The options a review and the `sql` command share: the report, the version, the settings, the rules."""
    p.add_argument("--format", choices=list(FORMATS), default="text")
    p.add_argument("--output", type=_output_file, metavar="FILE", help="write the report to FILE instead of stdout")
    p.add_argument("--pg-version", type=int, help="PostgreSQL major version of production (default 15)")
    p.add_argument("--config", type=Path, help="settings file (default: .alembic-review.toml or pyproject.toml"
                                              f"{' ' + settings_found if settings_found else ''})")
    p.add_argument("--select", type=_rule_list, help="only these rules (comma separated)")
    p.add_argument("--ignore", type=_rule_list, help="skip these rules (comma separated)")
    p.add_argument("--fail-on", choices=["error", "warning", "never"], help="exit 1 at this severity (default error)")


def resolve_config(search_dirs: list[Path], args: argparse.Namespace):
    """The settings of this run: the first settings file found in `search_dirs` (or --config), with
    the command line's report options on top, checked against the rule registry."""
    from linters.config import load_config, with_flags
    from linters.rules import RULES
    return with_flags(load_config(search_dirs, args.config), args).validate(RULES)


def import_reporter(fmt: str):
    return importlib.import_module(f"linters.report.{FORMATS[fmt]}")


def render_report(report, fmt: str, color: bool, terminal: bool = False) -> str:
    module = import_reporter(fmt)
    if fmt == "text":  # wrapped between words to the terminal's width; whole lines into a file or pipe
        return module.render(report, color=color, width=shutil.get_terminal_size().columns if terminal else None)
    if fmt == "json":
        return module.render(report, pretty=terminal)  # indented when a person reads it
    return module.render(report)


def emit_report(report, fmt: str, output: Path | None, fail_on: str) -> int:
    """Write the report (colored on a terminal) to stdout or `output`; the exit code for `fail_on`."""
    terminal = output is None and sys.stdout.isatty()
    text = render_report(report, fmt, terminal and "NO_COLOR" not in os.environ, terminal)
    if output:
        try:
            output.parent.mkdir(parents=True, exist_ok=True)
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot write the report to {output}: {exc.strerror}") from None
    else:
        sys.stdout.write(text)
    return 1 if report.reaches(fail_on) else 0
