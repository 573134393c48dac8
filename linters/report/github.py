"""GitHub Actions workflow commands (`--format github`): one annotation per finding.

    ::error file=alembic/versions/x.py,line=14,endLine=14,title=ban-drop-column::message

Escaping follows the runner's rules: in the message `%`, CR and LF are percent-encoded; in
property values `:` and `,` are too, so a path or title can never end the property list early.
"""

from __future__ import annotations

from linters.findings import Severity
from linters.report.common import finding_lines, finding_path
from linters.report.model import Report

_COMMAND = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def escape_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(value: str) -> str:
    return escape_data(value).replace(":", "%3A").replace(",", "%2C")


def command(name: str, message: str, **properties: object) -> str:
    props = ",".join(f"{key}={escape_property(str(value))}"
                     for key, value in properties.items() if value is not None)
    return f"::{name}{' ' + props if props else ''}::{escape_data(message)}"


def render(report: Report) -> str:
    lines = []
    for f in report.findings:
        path = finding_path(report, f)
        message = f.message.strip() or f.rule
        if f.hint:
            message = f"{message}\nSafe way: {f.hint.strip()}"
        props: dict[str, object] = {}
        if path:
            start, end = finding_lines(f)
            props = {"file": path, "line": start, "endLine": end}
        props["title"] = f"alembic-review: {f.rule}"
        lines.append(command(_COMMAND[f.severity], message, **props))
    return "".join(line + "\n" for line in lines)
