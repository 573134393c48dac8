"""`python -m linters sql FILE.sql`: the SQL rules alone, on a raw SQL file (or `-` for stdin).

What a squawk user runs on `alembic upgrade --sql` output, and what the benchmark compares with
squawk. The file is parsed once (pglast's C parser, JSON out), each statement keeps the line it
starts on, and the same SQL rules and inline ignores as a revision review run over it, in order,
as one deploy that starts outside a transaction (the file says BEGIN/COMMIT itself).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from linters.errors import UsageError


def _parser() -> argparse.ArgumentParser:
    from linters.cli import _Parser, add_report_options

    p = _Parser(prog="alembic-review sql", description="Lint a raw SQL file with the SQL rules (no Alembic project needed).")
    p.add_argument("file", help="the .sql file, or - for stdin")
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


def _number_lines(text: str, statements) -> None:
    """Give each statement the line of the file it starts on (its text is a slice of the file)."""
    cursor, line = 0, 1
    for stmt in statements:
        found = text.find(stmt.sql, cursor) if stmt.sql else -1
        if found < 0:
            stmt.line = line
            continue
        line += text.count("\n", cursor, found)
        stmt.line, cursor = line, found


def lint_sql(text: str, path: str, config) -> list:
    """Findings of the SQL rules on `text`, located at lines of `path`."""
    from linters.rules import RULES
    from linters.history import RevisionFile
    from linters.model import RenderResult, Reviewed
    from linters.sql import Chunk, parse_chunks
    from linters.sqlrun import RunSetup, sql_findings
    from linters.suppress import apply_ignores, sql_ignores

    # The file is one upgrade chunk, and the one revision of one run.
    parsed = parse_chunks([Chunk("upgrade", 1, text)], in_transaction=False)
    _number_lines(text, parsed.statements)
    for stmt in parsed.statements:
        stmt.path = path
    findings = []
    for failure in parsed.failures:  # pglast stops at the first syntax error of the file
        rule = RULES["render-error"]
        findings.append(rule.finding(f"PostgreSQL cannot parse this SQL: {failure.message}", path=path,
                                     line=_error_line(text, failure.message)))
    item = Reviewed(RevisionFile(path=path, source=text), RenderResult(path), parsed)
    findings += sql_findings([item], config, one_run=True, setup=RunSetup(in_transaction=False))
    return apply_ignores(findings, sql_ignores(path, parsed.statements))


def _error_line(text: str, message: str) -> int:
    """pglast's message ends with `at index N` (a character offset) when it knows where."""
    found = re.search(r"at (?:index|location) (\d+)", message)
    return text.count("\n", 0, int(found.group(1))) + 1 if found else 1


def cmd_sql(argv: list[str]) -> int:
    from linters.cli import emit_report
    from linters.config import load_config, with_flags
    from linters.gcpause import cycle_collection_paused
    from linters.sqlrun import apply_config
    from linters.report.model import Report
    from linters.rules import RULES

    args = _parser().parse_args(argv)
    config = with_flags(load_config([Path.cwd()], args.config), args).validate(RULES)
    text, path = _read(args.file)
    with cycle_collection_paused():  # ~30 ms of collections on a 5000-statement file, for nothing
        findings = apply_config(lint_sql(text, path, config), config)
    findings.sort(key=lambda f: (f.line or 0, -f.severity.rank, f.rule))
    report = Report(base=None, pg_version=config.pg_version, findings=findings,
                    root=str(Path.cwd()) if path != "stdin" else None)
    return emit_report(report, args.format, args.output, config.fail_on)
