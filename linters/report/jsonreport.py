"""`--format json`: the versioned report contract (`"version": 1`; the fields are those of report/model.py and findings.py, and change only with a new version)."""

import json

from linters.report.model import Report


def render(report: Report, pretty: bool = True) -> str:
    """Indented for a person; compact for a program (json's C encoder: ~3x faster on a big report)."""
    if pretty:
        return json.dumps(report.to_json(), indent=2) + "\n"
    return json.dumps(report.to_json(), separators=(",", ":")) + "\n"
