"""SARIF 2.1.0 for GitHub code scanning (`--format sarif`).

GitHub accepts a subset of SARIF: every result needs a physical location with a repo-relative
`artifactLocation.uri` and a `region.startLine`; rules live in `tool.driver.rules`; `level` is
error/warning/note. Findings without a file (history findings) point at their revision file, and
failing that at the first revision of the report, so no result is ever dropped.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter

from linters import __version__
from linters.findings import Finding, Severity
from linters.report.common import finding_lines, finding_path, rule_info
from linters.report.model import Report

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
FINGERPRINT_KEY = "alembicReview/v1"
_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def _uri(path: str) -> str:
    path = path.replace("\\", "/")
    while path.startswith("./"):
        path = path[2:]
    return path.lstrip("/")


def _fallback_path(report: Report) -> str:
    for entry in report.revisions:
        if entry.path:
            return entry.path
    return "alembic.ini"


def _rule_descriptor(rule_id: str, findings: list[Finding]) -> dict:
    worst = max(findings, key=lambda f: f.severity.rank)
    info = rule_info(rule_id)
    summary = info.summary if info else worst.message.splitlines()[0] if worst.message else rule_id
    full = info.why if info and info.why else summary
    recipe = info.recipe if info else next((f.hint for f in findings if f.hint), None)
    help_text = recipe or summary
    descriptor = {
        "id": rule_id,
        "name": "".join(part.capitalize() for part in rule_id.replace("_", "-").split("-")),
        "shortDescription": {"text": summary},
        "fullDescription": {"text": full},
        "help": {"text": help_text, "markdown": f"**{rule_id}**: {summary}\n\n{help_text}"},
        "defaultConfiguration": {"level": _LEVEL[info.severity if info else worst.severity]},
        "properties": {"tags": ["alembic", "postgresql", "migrations"],
                       "precision": "high",
                       "problem.severity": _LEVEL[worst.severity] if worst.severity != Severity.INFO
                       else "recommendation"},
    }
    if info and info.lock:
        descriptor["properties"]["lock"] = info.lock
    return descriptor


def _fingerprint(rule: str, path: str, finding: Finding) -> str:
    """Stable across line moves: rule, file, revision and what was done (statement or message)."""
    what = (finding.statement or finding.message or "").strip()
    text = "\0".join([rule, path, finding.revision or "", finding.direction or "", what])
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def build(report: Report) -> dict:
    """The SARIF log as a dict (render() serialises it)."""
    by_rule: dict[str, list[Finding]] = {}
    for f in report.findings:
        by_rule.setdefault(f.rule, []).append(f)
    rule_ids = sorted(by_rule)
    rule_index = {rule_id: i for i, rule_id in enumerate(rule_ids)}
    rules = [_rule_descriptor(rule_id, by_rule[rule_id]) for rule_id in rule_ids]

    fallback = _fallback_path(report)
    seen: Counter[str] = Counter()
    results = []
    artifacts: dict[str, int] = {}
    for f in report.findings:
        path = _uri(finding_path(report, f) or fallback)
        start, end = finding_lines(f)
        base = _fingerprint(f.rule, path, f)
        seen[base] += 1  # identical findings in one file stay distinct alerts
        text = f.message.strip() or f.rule
        if f.hint:
            text = f"{text}\nSafe way: {f.hint.strip()}"
        region = {"startLine": start}
        if end > start:
            region["endLine"] = end
        if path not in artifacts:
            artifacts[path] = len(artifacts)
        result = {
            "ruleId": f.rule,
            "ruleIndex": rule_index[f.rule],
            "level": _LEVEL[f.severity],
            "kind": "fail",
            "message": {"text": text},
            "locations": [{
                "physicalLocation": {
                    "artifactLocation": {"uri": path, "uriBaseId": "%SRCROOT%",
                                         "index": artifacts[path]},
                    "region": region,
                }
            }],
            "partialFingerprints": {FINGERPRINT_KEY: f"{base}:{seen[base]}"},
            # no "security-severity": these are reliability findings, shown as error/warning/note
            "properties": {},
        }
        props = result["properties"]
        for key in ("revision", "table", "lock", "statement", "direction", "impact"):
            value = getattr(f, key)
            if value:
                props[key] = value
        if f.suggestion is not None:
            result["fixes"] = [{
                "description": {"text": f.hint or "Suggested change"},
                "artifactChanges": [{
                    "artifactLocation": {"uri": path, "uriBaseId": "%SRCROOT%"},
                    "replacements": [{
                        "deletedRegion": {"startLine": start, "endLine": end},
                        "insertedContent": {"text": f.suggestion},
                    }],
                }],
            }]
        results.append(result)

    run = {
        "tool": {"driver": {
            "name": "alembic-review",
            "version": __version__,
            "semanticVersion": __version__,
            "rules": rules,
        }},
        "automationDetails": {"id": "alembic-review/"},
        "originalUriBaseIds": {"%SRCROOT%": {"description": {"text": "The repository root."}}},
        "artifacts": [{"location": {"uri": p, "uriBaseId": "%SRCROOT%"}} for p in artifacts],
        "columnKind": "utf16CodeUnits",
        "results": results,
        "properties": {"pg_version": report.pg_version, "base": report.base},
    }
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}


def render(report: Report) -> str:
    return json.dumps(build(report), indent=2, ensure_ascii=False) + "\n"
