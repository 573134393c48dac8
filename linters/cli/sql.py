"""`python -m linters sql FILE.sql`: lint a raw SQL file (or `-` for stdin) with the SQL rules."""

from __future__ import annotations

import sys
from pathlib import Path

from linters.cli.options import Parser, add_report_options, emit_report, resolve_config
from linters.errors import UsageError


def _parser() -> Parser:
    p = Parser(prog="alembic-review sql", description="Lint a raw SQL file with the SQL rules (no Alembic project needed).")
    p.add_argument("file", help="the .sql file, or - for stdin")
    p.add_argument("--assume-in-transaction", action="store_true", default=None,
                   help="the file runs inside a transaction its text does not open, as a migration tool runs it "
                        "(squawk's flag; setting assume_in_transaction)")
    add_report_options(p, settings_found="here")
    return p


def _read(name: str) -> tuple[str, str]:
    """(text, path as reported) of the file named on the command line."""
    if name == "-":
        return sys.stdin.read(), "stdin"
    path = Path(name)
    if not path.is_file():
        raise UsageError(f"SQL file not found: {name}")
    try:
        return path.read_text(encoding="utf-8", errors="replace"), name
    except OSError as exc:
        raise UsageError(f"cannot read {name}: {exc.strerror}") from None


def cmd_sql(argv: list[str]) -> int:
    from linters.report.model import Report
    from linters.sqlfile import lint_sql
    from linters.sqlrun import apply_config

    args = _parser().parse_args(argv)
    config = resolve_config([Path.cwd()], args)
    text, path = _read(args.file)
    findings = apply_config(lint_sql(text, path, config), config)  # lint_sql pauses the cyclic collector
    findings.sort(key=lambda f: (f.line or 0, -f.severity.rank, f.rule))
    report = Report(base=None, pg_version=config.pg_version, findings=findings,
                    root=str(Path.cwd()) if path != "stdin" else None)
    return emit_report(report, args.format, args.output, config.fail_on)
