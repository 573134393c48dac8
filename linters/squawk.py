"""`--squawk`: squawk-cli's own verdict on each new revision's SQL, merged with ours.

Each reviewed revision's upgrade statements are written to one file, statement after statement,
and squawk lints all the files in one run (`squawk --reporter json`) with what it would get in this
project: its .squawk.toml, our PostgreSQL version, the timeouts env.py sets for the session (as SET
statements first), and --assume-in-transaction, since Alembic runs each migration inside its
transaction. The COMMIT/BEGIN Alembic emits around an autocommit_block() are written too, so squawk
follows the statements that run outside it; what squawk says about those two (they are Alembic's,
not the revision's) is dropped. squawk reports lines of the file it read (from 0); each line maps
back to the statement written there, so to its op.* call.

A violation with the rule id and statement of one of our findings is that finding; any other
becomes a finding of its own, `source: "squawk"`. The tally says how many findings each side had
that the other did not, over the statements squawk read.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from linters.errors import UsageError
from linters.findings import Finding, Severity

if TYPE_CHECKING:
    from linters.model import Reviewed
    from linters.sql import Statement

MISSING = "--squawk needs the squawk binary: pip install 'alembic-review[squawk]' (the squawk-cli package)"
COMMENT = re.compile(r"--[^\n]*|/\*.*?\*/", re.S)
AGREES = "squawk_agrees"  # Finding.extra key: squawk reported the same rule on the same statement


def find_binary() -> str:
    """squawk next to this interpreter (the [squawk] extra installs it there), else on PATH."""
    beside = Path(sys.executable).parent / "squawk"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("squawk")
    if found is None:
        raise UsageError(MISSING)
    return found


@dataclass
class SquawkFile:
    """One revision's upgrade SQL as squawk reads it, and which statement each line belongs to."""
    name: str
    text: str
    statement_at: dict[int, Statement]  # 1-based line -> the statement written there (its comments included)

    @classmethod
    def of(cls, name: str, statements: list[Statement], preamble: str = "") -> "SquawkFile":
        """`preamble`: what every migration runs under (env.py's timeouts), on lines of no statement."""
        parts, statement_at, line = [preamble], {}, 1 + preamble.count("\n")
        for stmt in statements:
            # a statement's text may end in a `--` comment, which would swallow its `;`
            sql = stmt.sql + ("\n;" if "--" in stmt.sql.rsplit("\n", 1)[-1] else ";")
            # the comments before it, where squawk looks for `-- squawk-ignore`
            piece = "\n".join([*COMMENT.findall(stmt.comments), sql]) + "\n"
            lines = piece.count("\n")
            statement_at.update((n, stmt) for n in range(line, line + lines))
            parts.append(piece)
            line += lines
        return cls(name, "".join(parts), statement_at)


def run_squawk(binary: str, files: list[SquawkFile], squawk_toml: Path | None, pg_version: int) -> list[dict]:
    """squawk's violations over `files`, in one run; UsageError when squawk cannot do its job."""
    with tempfile.TemporaryDirectory(prefix="alembic-review-squawk-") as tmp:
        for f in files:
            Path(tmp, f.name).write_text(f.text, encoding="utf-8")
        if squawk_toml is None:  # an empty one: squawk would otherwise look for one above the temp dir
            squawk_toml = Path(tmp, "empty.squawk.toml")
            squawk_toml.write_text("", encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if k != "GITHUB_ACTIONS"}
        env["SQUAWK_DISABLE_GITHUB_ANNOTATIONS"] = "1"  # in an Action it would print its own annotations
        try:
            proc = subprocess.run(
                [binary, "--reporter", "json", "--config", str(squawk_toml), f"--pg-version={pg_version}.0",
                 "--assume-in-transaction", *(f.name for f in files)],
                cwd=tmp, env=env, capture_output=True, text=True)
        except OSError as exc:
            raise UsageError(f"squawk could not start: {exc.strerror}") from None
    try:
        violations = json.loads(proc.stdout) if proc.returncode in (0, 1) and proc.stdout.strip() else None
    except ValueError:
        violations = None
    if not isinstance(violations, list):
        why = (proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"])[0]
        raise UsageError(f"squawk failed: {why}")
    return violations


@dataclass
class SecondOpinion:
    """What squawk said, merged into our findings, and the tally once the ignores and settings ran."""
    read: set[int] = field(default_factory=set)  # id() of every statement squawk read

    def merge(self, findings: list[Finding], files: list[SquawkFile], violations: list[dict],
              pg_version: int) -> list[Finding]:
        """Mark our findings squawk agrees with; return squawk's others as findings of their own."""
        from linters.rules import RULES
        from linters.suppress import SQUAWK_NAMES

        ours = {(f.rule, f.extra["statement_id"]): f for f in findings if "statement_id" in f.extra}
        by_name = {f.name: f for f in files}
        added: dict[tuple[str, int], Finding] = {}
        for v in violations:
            rule_id = SQUAWK_NAMES.get(v.get("rule_name"), v.get("rule_name"))
            squawk_file, line = by_name.get(Path(str(v.get("file"))).name), v.get("line")
            stmt = squawk_file.statement_at.get(line + 1) if squawk_file and isinstance(line, int) else None
            if stmt is None or stmt.managed:
                continue
            key = (rule_id, id(stmt))
            if key in ours:
                ours[key].extra[AGREES] = True
            elif key not in added:
                added[key] = _finding(rule_id, v, stmt, RULES.get(rule_id), pg_version)
        return list(added.values())

    def tally(self, findings: list[Finding]) -> dict:
        """How many findings both had, and each side's that the other did not (after ignores and settings)."""
        squawk_only = sum(1 for f in findings if f.source == "squawk")
        both = sum(1 for f in findings if f.extra.get(AGREES))
        read = [f for f in findings if f.source is None and f.extra.get("statement_id") in self.read]
        return {"both": both, "ours_only": len(read) - both, "squawk_only": squawk_only}


def _finding(rule_id: str, violation: dict, stmt: Statement, rule, pg_version: int) -> Finding:
    """A finding only squawk reported: our rule's severity and Alembic recipe where we have the rule."""
    message = str(violation.get("message") or rule_id)
    help_text = violation.get("help") or None
    effect = stmt.lock_effect(pg_version)
    fields = dict(path=stmt.path, line=stmt.line, revision=stmt.revision, statement=stmt.sql, table=effect.table,
                  direction=stmt.direction, source="squawk")
    if rule is not None:  # the lock as the lock model sees the statement, as for our findings
        finding = rule.finding(message, lock=effect.mode or rule.lock, **fields)
    else:  # one of squawk's rules we do not have (an opt-in one, say): squawk's own level and help
        finding = Finding(rule=rule_id, severity=Severity.WARNING, message=message, hint=help_text, **fields)
    finding.extra["statement_id"] = id(stmt)  # inline ignores name the statement; the op.* call's span
    return finding


def session_preamble(timeouts: dict[str, bool]) -> str:
    """The timeouts env.py (or `assume_lock_timeout`) sets for every migration, as SQL squawk reads
    first: it cannot see env.py, and would ask each revision for what the session already has."""
    return "".join(f"SET {name} = '1s';\n" for name, on in timeouts.items() if on)


def second_opinion(reviewed: list[Reviewed], findings: list[Finding], search_dirs: list[Path],
                   pg_version: int, timeouts: dict[str, bool]) -> tuple[SecondOpinion, list[Finding]]:
    """squawk over every reviewed revision's upgrade SQL: the opinion (for the tally) and squawk's findings
    that are not ours. `timeouts`: {"lock_timeout": bool, "statement_timeout": bool} set for every session."""
    from linters.squawk_settings import find_squawk_toml

    opinion = SecondOpinion()
    files = []
    preamble = session_preamble(timeouts)
    for index, item in enumerate(reviewed):
        statements = [s for s in item.parsed.statements if s.direction == "upgrade"]
        if statements:
            files.append(SquawkFile.of(f"{index:05d}.sql", statements, preamble))
            opinion.read.update(id(s) for s in statements)
    if not files:
        return opinion, []
    violations = run_squawk(find_binary(), files, find_squawk_toml(search_dirs), pg_version)
    return opinion, opinion.merge(findings, files, violations, pg_version)
