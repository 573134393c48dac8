"""The one reader of alembic-review's JSON report (`--format json`), for the Action and the
service alike.

A report may come from a fork's workflow (the Action's publish-only mode) or from a reviewer that
ran a stranger's revisions (the service), so it is read as data nobody vouches for: the file's
size capped, types checked, strings capped, unknown keys dropped.
"""

from __future__ import annotations

import json
from pathlib import Path

from linters.findings import Finding, Severity
from linters.report.model import Report, RevisionEntry

MAX_REPORT_BYTES = 50 * 1024 * 1024
MAX_FINDINGS = 20_000


def read_report(path: Path) -> Report:
    """The report in the file at `path`. OSError when the file cannot be read; ValueError when it
    is too large or not a version-1 report."""
    raw = path.read_bytes()
    if len(raw) > MAX_REPORT_BYTES:
        raise ValueError("report larger than 50 MB")
    return report_from_untrusted_json(json.loads(raw))


def _s(value, limit: int = 20_000) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else json.dumps(value)
    return text[:limit]


def _i(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 10_000_000 else None


def _impact(value) -> dict | None:
    """A finding's impact (--stats) when every field has its type; else none."""
    if not isinstance(value, dict) or not isinstance(value.get("lock"), str):
        return None
    counts = {k: value.get(k) for k in ("rows", "bytes", "blocked_writes")}
    seconds = value.get("lock_seconds")
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in counts.values()) or \
            isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 <= seconds < 1e9:
        return None
    return {"rows": counts["rows"], "bytes": counts["bytes"], "lock": value["lock"][:100],
            "lock_seconds": float(seconds), "blocked_writes": counts["blocked_writes"]}


def report_from_untrusted_json(data) -> Report:
    """A Report from JSON nobody vouches for: types checked, sizes capped, unknown keys dropped."""
    if not isinstance(data, dict) or data.get("version") != 1:
        raise ValueError("not an alembic-review report (version 1)")
    findings = []
    for item in (data.get("findings") or [])[:MAX_FINDINGS]:
        if not isinstance(item, dict) or item.get("severity") not in ("error", "warning", "info"):
            raise ValueError("a finding without a valid severity")
        rule = _s(item.get("rule"), 100) or "unknown"
        if not all(c.isalnum() or c in "-_." for c in rule):
            raise ValueError(f"bad rule id {rule!r}")
        path = _s(item.get("path"), 1000)
        if path and (path.startswith("/") or ".." in Path(path).parts):
            path = None
        findings.append(Finding(
            rule=rule, severity=Severity(item["severity"]), message=_s(item.get("message")) or "",
            path=path, line=_i(item.get("line")), end_line=_i(item.get("end_line")),
            revision=_s(item.get("revision"), 200), statement=_s(item.get("statement")),
            table=_s(item.get("table"), 500), lock=_s(item.get("lock"), 100), hint=_s(item.get("hint")),
            suggestion=_s(item.get("suggestion")),
            direction="downgrade" if item.get("direction") == "downgrade" else "upgrade",
            impact=_impact(item.get("impact")),
            source="squawk" if item.get("source") == "squawk" else None))
    revisions = []
    for r in (data.get("revisions") or [])[:5000]:
        if not isinstance(r, dict):
            continue
        downs = r.get("down_revisions") if isinstance(r.get("down_revisions"), list) else []
        revisions.append(RevisionEntry(
            revision=_s(r.get("revision"), 200) or "?", path=_s(r.get("path"), 1000) or "?",
            status=r.get("status") if r.get("status") in ("added", "modified", "deleted", "unchanged") else "unchanged",
            down_revisions=[_s(d, 200) for d in downs if d is not None][:20],
            sql=_s(r.get("sql"), 2_000_000)))
    pg = data.get("pg_version")
    return Report(base=_s(data.get("base"), 100), pg_version=pg if _i(pg) else 15,
                  revisions=revisions, findings=findings, squawk=_squawk_tally(data.get("summary")))


def _squawk_tally(summary) -> dict | None:
    """--squawk's counts in the summary, when they are there and are counts."""
    tally = summary.get("squawk") if isinstance(summary, dict) else None
    if not isinstance(tally, dict):
        return None
    counts = {key: tally.get(key) for key in ("both", "ours_only", "squawk_only")}
    return counts if all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 10_000_000
                         for v in counts.values()) else None
