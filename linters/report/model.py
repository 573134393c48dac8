"""The Report: revisions looked at and findings, serialisable to the versioned JSON contract."""

from __future__ import annotations

from dataclasses import dataclass, field

from linters import __version__
from linters.findings import Finding, Severity

REPORT_VERSION = 1


@dataclass
class RevisionEntry:
    revision: str
    path: str
    status: str  # added | modified | deleted | unchanged
    down_revisions: list[str]
    sql: str | None = None  # rendered upgrade SQL, None when not rendered
    locks: list[str] = field(default_factory=list)  # "LOCK on table" summaries, for reports

    def to_json(self) -> dict:
        return {
            "revision": self.revision,
            "path": self.path,
            "status": self.status,
            "down_revisions": list(self.down_revisions),
            "sql": self.sql,
        }


@dataclass
class Report:
    base: str | None
    pg_version: int
    revisions: list[RevisionEntry] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    root: str | None = None  # repository root, for reading source lines; not part of the JSON
    # --squawk: {"both": n, "ours_only": n, "squawk_only": n} over the SQL squawk read (linters/squawk.py)
    squawk: dict | None = None

    def count(self, severity: Severity) -> int:
        return sum(1 for f in self.findings if f.severity == severity)

    @property
    def summary(self) -> dict:
        counts = {
            "errors": self.count(Severity.ERROR),
            "warnings": self.count(Severity.WARNING),
            "infos": self.count(Severity.INFO),
        }
        if self.squawk is not None:  # an optional key, only when squawk ran
            counts["squawk"] = dict(self.squawk)
        return counts

    def reaches(self, fail_on: str) -> bool:
        """True when a finding is at or above `fail_on` (error|warning|never)."""
        if fail_on == "never":
            return False
        threshold = Severity(fail_on).rank
        return any(f.severity.rank >= threshold for f in self.findings)

    def to_json(self) -> dict:
        return {
            "version": REPORT_VERSION,
            "tool": {"name": "alembic-review", "version": __version__},
            "base": self.base,
            "pg_version": self.pg_version,
            "revisions": [r.to_json() for r in self.revisions],
            "findings": [f.to_json() for f in self.findings],
            "summary": self.summary,
        }
