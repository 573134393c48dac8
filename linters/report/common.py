"""Helpers shared by the reporters: where a finding points, rule docs, ordering."""

from __future__ import annotations

from linters.findings import Finding, Severity
from linters.report.model import Report

SEVERITY_ICON = {Severity.ERROR: "❌", Severity.WARNING: "⚠️", Severity.INFO: "ℹ️"}


def rule_info(rule_id: str):
    """The registered Rule for `rule_id`, or None (unknown id, or the registry cannot be imported)."""
    try:
        from linters.rules import RULES
    except Exception:  # the registry is optional for reporters: a report is data
        return None
    return RULES.get(rule_id)


def finding_path(report: Report, finding: Finding) -> str | None:
    """The file a finding points at: its own path, else its revision's file (history findings)."""
    if finding.path:
        return finding.path
    if finding.revision:
        for entry in report.revisions:
            if entry.revision == finding.revision and entry.path:
                return entry.path
    return None


def finding_lines(finding: Finding) -> tuple[int, int]:
    """(start, end) lines, 1-based; a finding without a line points at the top of its file."""
    start = finding.line if finding.line and finding.line > 0 else 1
    end = finding.end_line if finding.end_line and finding.end_line >= start else start
    return start, end


def sorted_findings(findings: list[Finding]) -> list[Finding]:
    """Most severe first, then by file and line, stable otherwise."""
    return sorted(findings, key=lambda f: (-f.severity.rank, f.path or "", f.line or 0))


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")
