"""The verdict a reviewer reads first: the distinct problems that block the merge, the warnings,
and the notes (info, downgrade paths) that wait in a fold.

One problem is one rule in one revision (two type changes of one revision are one problem with two
lines); a `lock-held-across-statements` warning on an op that already has a blocking finding is
folded into that problem (it is the same operation, seen from the lock it keeps).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from linters.findings import Finding, Severity
from linters.report.common import sorted_findings
from linters.report.model import Report

FOLDED_RULE = "lock-held-across-statements"
# rules about the history graph, not about what a revision's own operations do
GRAPH_RULES = frozenset({"multiple-heads"})
_TAKEN_AT = re.compile(r"\(taken at line (\d+)\)")


@dataclass
class Problem:
    findings: list[Finding]                               # one rule, one revision, in line order
    folded: list[Finding] = field(default_factory=list)  # lock-held-across-statements on the same ops

    @property
    def first(self) -> Finding:
        return self.findings[0]

    @property
    def has_suggestion(self) -> bool:
        return any(f.suggestion is not None for f in self.findings)


@dataclass
class Verdict:
    problems: list[Problem]
    warnings: list[Finding]
    notes: list[Finding]

    @property
    def blocking(self) -> bool:
        return bool(self.problems)


def blocking_rank(fail_on: str) -> int:
    """The lowest severity that blocks a merge (`never` still calls errors problems: they are)."""
    return Severity.WARNING.rank if fail_on == "warning" else Severity.ERROR.rank


def is_note(f: Finding, rank: int) -> bool:
    return f.severity.rank < rank and (f.severity == Severity.INFO or f.direction == "downgrade")


def held_since(f: Finding) -> int | None:
    """The line a lock-held-across-statements finding says the lock was taken at (same revision)."""
    m = _TAKEN_AT.search(f.message)
    return int(m.group(1)) if m else None


def verdict(report: Report, fail_on: str = "error") -> Verdict:
    rank = blocking_rank(fail_on)
    order = {entry.revision: i for i, entry in enumerate(report.revisions)}
    findings = sorted(sorted_findings(report.findings),
                      key=lambda f: (order.get(f.revision or "", len(order)), f.line or 0))
    blocking = [f for f in findings if f.severity.rank >= rank]
    groups: dict[tuple, Problem] = {}
    for f in blocking:
        key = (f.revision, f.path, f.rule, f.direction)
        if key in groups:
            groups[key].findings.append(f)
        else:
            groups[key] = Problem([f])
    at_op = {(f.path, f.line, f.direction): p for p in groups.values() for f in p.findings}
    warnings, notes = [], []
    for f in findings:
        if f.severity.rank >= rank:
            continue
        if f.rule == FOLDED_RULE and (f.path, f.line, f.direction) in at_op:
            at_op[(f.path, f.line, f.direction)].folded.append(f)
        elif is_note(f, rank):
            notes.append(f)
        else:
            warnings.append(f)
    return Verdict(list(groups.values()), warnings, notes)


def revision_severity(report: Report, revision: str) -> Severity | None:
    """The worst severity of what a revision's own upgrade does (the graph's problems, such as
    two heads, are not the revision's; notes do not count)."""
    worst = None
    for f in report.findings:
        if (f.revision == revision and f.direction != "downgrade" and f.severity != Severity.INFO
                and f.rule not in GRAPH_RULES and (worst is None or f.severity.rank > worst.rank)):
            worst = f.severity
    return worst
