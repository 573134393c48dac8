"""What a rule reports: one Finding per risky operation, located at the op.* call."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from enum import Enum


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {"error": 3, "warning": 2, "info": 1}[self.value]


@dataclass
class Finding:
    rule: str
    severity: Severity
    message: str
    path: str | None = None  # relative to the repository root
    line: int | None = None  # line of the op.* call in the revision file
    end_line: int | None = None
    revision: str | None = None
    statement: str | None = None
    table: str | None = None
    lock: str | None = None
    hint: str | None = None
    suggestion: str | None = None
    direction: str = "upgrade"  # "upgrade" or "downgrade"
    source: str | None = None   # "squawk": squawk-cli reported it and our rules did not (--squawk)
    extra: dict = field(default_factory=dict)
    impact: dict | None = None  # with a table-statistics snapshot: {"rows", "bytes", "lock", "lock_seconds", "blocked_writes"}

    def to_json(self) -> dict:
        # Shallow: every field but `extra` is a plain value (asdict's deep copy cost 0.3 s on big runs).
        data = {f.name: getattr(self, f.name) for f in _JSON_FIELDS}
        if data["impact"] is None:  # only when a snapshot was given: the report's shape stays as it was
            del data["impact"]
        data["severity"] = self.severity.value
        if data["end_line"] is None:
            data["end_line"] = data["line"]
        if self.source is not None:  # an optional key: reports without --squawk stay as they were
            data["source"] = self.source
        return data


_JSON_FIELDS = [f for f in fields(Finding) if f.name not in ("extra", "source")]
