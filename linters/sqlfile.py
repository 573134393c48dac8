"""The SQL rules alone on raw SQL text (`python -m linters sql FILE.sql`, linters/cli/sql.py).

What a squawk user runs on `alembic upgrade --sql` output, and what the benchmark compares with
squawk. The file is parsed once (pglast's C parser, JSON out), each statement keeps the line it
starts on, and the same SQL rules and inline ignores as a revision review run over it, in order,
as one deploy that starts outside a transaction (the file says BEGIN/COMMIT itself), or inside one
with `assume_in_transaction = true`.
"""

from __future__ import annotations

import re


def lint_sql(text: str, path: str, config) -> list:
    """Findings of the SQL rules on `text`, located at lines of `path`."""
    from linters.gcpause import cycle_collection_paused

    # The parsed file is tens of thousands of dicts that reference counting frees: the cyclic
    # collector would walk them again and again (a tenth of the analysis) and find nothing.
    with cycle_collection_paused():
        return _lint_sql(text, path, config)


def _lint_sql(text: str, path: str, config) -> list:
    from linters.rules import RULES
    from linters.history import RevisionFile
    from linters.model import RenderResult, Reviewed
    from linters.sql import Chunk, parse_chunks
    from linters.sqlrun import RunSetup, sql_findings
    from linters.suppress import apply_ignores, disables_assume_in_transaction, may_name_sql_ignores, sql_ignores

    # The file is one upgrade chunk, and the one revision of one run; it starts outside a transaction
    # unless the settings say a migration tool wraps it in one (squawk's assume_in_transaction, which a
    # `-- squawk-disable-assume-in-transaction` comment turns off for the file, as in squawk).
    in_transaction = bool(config.assume_in_transaction) and not disables_assume_in_transaction(text)
    parsed = parse_chunks([Chunk("upgrade", 1, text)], in_transaction=in_transaction, sql_lines=True)
    for stmt in parsed.statements:
        stmt.path = path
    findings = []
    for failure in parsed.failures:  # pglast stops at the first syntax error of the file
        rule = RULES["render-error"]
        findings.append(rule.finding(f"PostgreSQL cannot parse this SQL: {failure.message}", path=path,
                                     line=_error_line(text, failure.message)))
    item = Reviewed(RevisionFile(path=path, source=text), RenderResult(path), parsed)
    # assume_lock_timeout: the deploy sets the timeouts itself (as env.py does for a review).
    setup = RunSetup(in_transaction=in_transaction, lock_timeout=config.assume_lock_timeout,
                     statement_timeout=config.assume_lock_timeout, stamped_after_revision=False,
                     new_tables_shared_after_commit=True)
    findings += sql_findings([item], config, one_run=True, setup=setup)
    if not may_name_sql_ignores(text):  # no inline ignore anywhere in the file
        return findings
    return apply_ignores(findings, sql_ignores(path, parsed.statements))


def _error_line(text: str, message: str) -> int:
    """pglast's message ends with `at index N` (a character offset) when it knows where."""
    found = re.search(r"at (?:index|location) (\d+)", message)
    return text.count("\n", 0, int(found.group(1))) + 1 if found else 1
