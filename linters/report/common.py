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


def _quantity(n: float, units: tuple[str, ...], step: int) -> str:
    """48000000 -> "48 M" (step 1000), 21 * 2**30 -> "21 GB" (step 1024, byte units)."""
    i = 0
    while n >= step and i < len(units) - 1:
        n, i = n / step, i + 1
    text = f"{n:.1f}".removesuffix(".0") if n < 10 and i else f"{n:.0f}"
    return f"{text} {units[i]}".strip()


def _duration(seconds: float) -> str:
    if seconds < 1:
        return "<1 s"
    for limit, unit, size in ((90, "s", 1), (90 * 60, "min", 60), (48 * 3600, "h", 3600)):
        if seconds < limit:
            return f"~{seconds / size:.0f} {unit}"
    return f"~{seconds / 86400:.0f} days"


def impact_line(finding: Finding) -> str | None:
    """"orders: 48 M rows, 21 GB; SHARE lock ~3 min; ~9,000 writes blocked", for findings with an impact."""
    impact = finding.impact
    if not impact:
        return None
    rows = _quantity(impact["rows"], ("", "k", "M", "G"), 1000).strip()
    size = _quantity(impact["bytes"], ("bytes", "kB", "MB", "GB", "TB"), 1024)
    blocked = f"~{impact['blocked_writes']:,} writes blocked" if impact["blocked_writes"] else "no writes blocked"
    return (f"{finding.table}: {rows} rows, {size}; {impact['lock']} lock {_duration(impact['lock_seconds'])}; "
            f"{blocked}")
