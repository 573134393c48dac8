"""`--format text`: findings grouped by file, with the source line, the lock and the safe way."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console
from rich.padding import Padding
from rich.text import Text

from linters import __version__
from linters.report.common import impact_line, plural
from linters.report.model import Report

INDENT = 7  # where a finding's message, source line, lock and fix start

STYLE = {"error": "bold red", "warning": "bold yellow", "info": "cyan"}


def _source_line(report: Report, path: str | None, line: int | None) -> str | None:
    if not (report.root and path and line):
        return None
    try:
        lines = (Path(report.root) / path).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    return lines[line - 1].rstrip() if 0 < line <= len(lines) else None


def _body(console: Console, text: str, style: str = "") -> None:
    """A line under a finding's head, indented; when the console wraps, continuation lines keep the
    indent and break between words."""
    console.print(Padding(Text(text, style=style), (0, 0, 0, INDENT), expand=False))


def write(report: Report, console: Console) -> None:
    new = sum(1 for r in report.revisions if r.status == "added")
    base = report.base[:10] if report.base else "none (every revision is new)"
    console.print(Text(f"alembic-review {__version__} · base {base} · PostgreSQL {report.pg_version} · "
                       f"{new} new revision{'s' * (new != 1)}", style="dim"))
    current = None
    for f in report.findings:
        if f.path != current:
            current = f.path
            console.print()
            console.print(Text(f.path or "(history)", style="bold underline"))
        head = Text(f"  {f.line or '':>4} ")
        head.append(f"{f.severity.value:<7}", style=STYLE[f.severity.value])
        head.append(f" {f.rule}", style="bold")
        if f.direction == "downgrade":
            head.append(" (downgrade)", style="dim")
        if f.source == "squawk":
            head.append(" (squawk)", style="dim")
        console.print(head)
        _body(console, f.message)
        if (src := _source_line(report, f.path, f.line)) is not None:
            _body(console, f"│ {src.strip()}", "dim")
        if f.lock:
            _body(console, f"lock: {f.lock}" + (f" on {f.table}" if f.table else ""), "magenta")
        if (impact := impact_line(f)) is not None:
            _body(console, f"impact: {impact}", "magenta")
        if f.hint:
            _body(console, f"fix: {f.hint}", "green")
        if f.suggestion:
            _body(console, "suggested:", "green")
            for line in f.suggestion.splitlines():
                _body(console, f"+ {line}", "green")
    s = report.summary
    console.print()
    mark, style = ("✖", "bold red") if s["errors"] else (("!", "bold yellow") if s["warnings"] else ("✔", "bold green"))
    console.print(Text(f"{mark} {plural(s['errors'], 'error')}, {plural(s['warnings'], 'warning')}, "
                       f"{plural(s['infos'], 'info')}", style=style))
    if report.squawk is not None:
        console.print(Text(squawk_line(report.squawk), style="dim"))


def squawk_line(tally: dict) -> str:
    """--squawk: what each side found that the other did not, on the SQL squawk read."""
    return (f"squawk: {tally['both']} findings in both, {tally['squawk_only']} only squawk's (marked (squawk)), "
            f"{tally['ours_only']} only ours")


def render(report: Report, color: bool = False, width: int | None = None) -> str:
    """The report as text; `width` (a terminal's) wraps long lines between words, None keeps each
    line whole (a file or a pipe: one finding's message per line, for grep)."""
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=color, no_color=not color, width=width or 100_000,
                      highlight=False)
    write(report, console)
    return "\n".join(line.rstrip() for line in buffer.getvalue().split("\n"))
