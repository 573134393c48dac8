"""`--format json`: the versioned report contract (DESIGN.md)."""

import json

from linters.report.model import Report


def render(report: Report) -> str:
    return json.dumps(report.to_json(), indent=2) + "\n"
