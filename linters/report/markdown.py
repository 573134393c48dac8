"""The pull-request summary (`--format markdown`, the sticky comment, `$GITHUB_STEP_SUMMARY`).

Headline, a table of the new revisions with the locks each takes, every finding with its safe
recipe, and the rendered SQL of each revision in a collapsible block. GitHub rejects comment
bodies over 65,536 characters, so the output is always at most `max_chars` long: when it would not
fit, the SQL is trimmed first (then left out), then findings lose their recipes, then the list is
cut with a per-rule count of what was left out.

Everything taken from the report is treated as untrusted text: HTML is escaped, @mentions are
defused and code spans/fences are sized to their content, so a report cannot inject markup,
hidden markers or notifications into the comment.
"""

from __future__ import annotations

import re
from collections import Counter

from linters.findings import Finding, Severity
from linters.report.common import SEVERITY_ICON, finding_lines, finding_path, impact_line, plural, sorted_findings
from linters.report.model import Report, RevisionEntry

GITHUB_COMMENT_LIMIT = 65536
_MIN_SQL_SHARE = 400        # below this many characters per revision, SQL is left out altogether
_MAX_TABLE_ROWS = 200       # more revisions than this are counted, not listed, when space is short


# --- escaping ---------------------------------------------------------------------------------

_CODE_SPAN = re.compile(r"(?<![`\\])(`+)(?!`)(.+?)(?<!`)\1(?!`)", re.S)


def _escape_html(value: str) -> str:
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return re.sub(r"@(?=\w)", "@\u200b", value)


def text(value: str | None) -> str:
    """Prose from the report: no HTML, no @mentions. Code spans (`...`) are kept as they are:
    GitHub shows their content literally, so `a <> b` stays readable."""
    if not value:
        return ""
    out, pos = [], 0
    for m in _CODE_SPAN.finditer(value):
        out.append(_escape_html(value[pos:m.start()]))
        out.append(m.group(0))
        pos = m.end()
    out.append(_escape_html(value[pos:]))
    return "".join(out)


def code(value: str | None) -> str:
    """An inline code span that holds any text (backticks included) on one line."""
    value = (value or "").replace("\r", " ").replace("\n", " ")
    longest = max((len(m) for m in re.findall(r"`+", value)), default=0)
    ticks = "`" * (longest + 1)
    pad = " " if value.startswith("`") or value.endswith("`") or not value else ""
    return f"{ticks}{pad}{value}{pad}{ticks}"


def cell(value: str) -> str:
    """Text safe inside a table cell."""
    return value.replace("\r", " ").replace("\n", " ").replace("|", "\\|")


def fence(body: str, lang: str = "") -> str:
    longest = max((len(m) for m in re.findall(r"`{3,}", body)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{lang}\n{body.rstrip()}\n{ticks}"


# --- pieces -----------------------------------------------------------------------------------

def headline(report: Report) -> str:
    s = report.summary
    if s["errors"] or s["warnings"]:
        parts = []
        if s["errors"]:
            parts.append(f"❌ {plural(s['errors'], 'error')}")
        if s["warnings"]:
            parts.append(f"⚠️ {plural(s['warnings'], 'warning')}")
        if s["infos"]:
            parts.append(f"ℹ️ {plural(s['infos'], 'note')}")
        return "### alembic-review: " + " · ".join(parts)
    if s["infos"]:
        return f"### alembic-review: ✅ no risky operations (ℹ️ {plural(s['infos'], 'note')})"
    return "### alembic-review: ✅ all clear, no risky operations found"


def _shown_revisions(report: Report) -> list[RevisionEntry]:
    with_findings = {f.revision for f in report.findings if f.revision}
    shown = [r for r in report.revisions
             if r.status != "unchanged" or r.revision in with_findings]
    return shown or list(report.revisions)


def _locks(report: Report, entry: RevisionEntry) -> list[str]:
    if entry.locks:
        return list(dict.fromkeys(entry.locks))
    locks = []
    for f in report.findings:
        if f.revision == entry.revision and f.lock and f.direction != "downgrade":
            locks.append(f"{f.lock} on {f.table}" if f.table else f.lock)
    return list(dict.fromkeys(locks))


def meta_line(report: Report) -> str:
    shown = _shown_revisions(report)
    new = sum(1 for r in shown if r.status == "added")
    bits = [f"{plural(len(shown), 'revision')} reviewed" + (f" ({new:,} new)" if new else "")]
    if report.base:
        bits.append(f"base {code(report.base[:12])}")
    bits.append(f"PostgreSQL {report.pg_version}")
    if report.squawk is not None:  # --squawk: what each side found that the other did not
        t = report.squawk
        bits.append(f"squawk: {t['both']:,} in both, {t['squawk_only']:,} only squawk's, {t['ours_only']:,} only ours")
    return "<sub>" + " · ".join(bits) + "</sub>"


def revision_table(report: Report, max_rows: int | None = None) -> str:
    shown = _shown_revisions(report)
    if not shown:
        return ""
    worst: dict[str, Severity] = {}
    for f in report.findings:
        if f.revision and (f.revision not in worst or f.severity.rank > worst[f.revision].rank):
            worst[f.revision] = f.severity
    rows = ["| | revision | file | status | locks taken |", "|---|---|---|---|---|"]
    listed = shown if max_rows is None else shown[:max_rows]
    for entry in listed:
        icon = SEVERITY_ICON[worst[entry.revision]] if entry.revision in worst else "✅"
        locks = _locks(report, entry)
        lock_text = ", ".join(code(lock) for lock in locks) if locks else "—"
        rows.append("| " + " | ".join(cell(c) for c in (
            icon, code(entry.revision), code(entry.path), text(entry.status), lock_text)) + " |")
    out = "#### Revisions\n\n" + "\n".join(rows)
    if len(listed) < len(shown):
        out += f"\n\n…and {plural(len(shown) - len(listed), 'more revision')} not listed."
    return out


def _where(report: Report, f: Finding) -> str:
    path = finding_path(report, f)
    if not path:
        return ""
    start, _ = finding_lines(f)
    return code(f"{path}:{start}")


def finding_block(report: Report, f: Finding) -> str:
    head = [f"{SEVERITY_ICON[f.severity]} **{code(f.rule)}**" + (" (squawk)" if f.source == "squawk" else "")]
    where = _where(report, f)
    if where:
        head.append(where)
    if f.revision:
        head.append(f"revision {code(f.revision)}")
    if f.direction and f.direction != "upgrade":
        head.append(text(f.direction))
    lines = [" · ".join(head), "", text(f.message.strip())]
    if f.lock or f.table:
        takes = f"takes {code(f.lock)}" if f.lock else ""
        on = f"on {code(f.table)}" if f.table else ""
        lines.append(f"<sub>{' '.join(p for p in (takes, on) if p)}</sub>")
    if (impact := impact_block(f)) is not None:
        lines.append(impact)
    if f.hint:
        hint = text(f.hint.strip()).replace("\n", "\n> ")
        lines += ["", f"> **Safe way:** {hint}"]
    return "\n".join(lines)


def impact_block(f: Finding) -> str | None:
    """The production impact of a finding (--stats): size, lock time, writes blocked."""
    line = impact_line(f)
    return None if line is None else f"<sub>📊 {text(line)}</sub>"


def finding_line(report: Report, f: Finding) -> str:
    where = _where(report, f)
    message = text(f.message.strip().splitlines()[0] if f.message.strip() else "")
    if len(message) > 200:
        message = message[:200] + "…"
    return f"- {SEVERITY_ICON[f.severity]} {code(f.rule)} {where} {message}".rstrip()


def rest_summary(rest: list[Finding]) -> str:
    if not rest:
        return ""
    counts = Counter(f.rule for f in rest)
    top = ", ".join(f"{code(rule)} ×{n:,}" for rule, n in counts.most_common(10))
    more = f", and {plural(len(counts) - 10, 'more rule')}" if len(counts) > 10 else ""
    return (f"…and {plural(len(rest), 'more finding')} not shown here ({top}{more}). "
            "Run `alembic-review` locally or see its JSON report for the full list.")


def sql_block(entry: RevisionEntry, limit: int | None = None) -> str:
    sql = (entry.sql or "").rstrip()
    note = ""
    if limit is not None and len(sql) > limit:
        cut = sql[:limit]
        if "\n" in cut:
            cut = cut[:cut.rindex("\n")]
        dropped = sql[len(cut):].count("\n") + 1
        sql = cut + f"\n-- … {plural(dropped, 'more line')} cut to fit GitHub's comment size limit"
        note = " (trimmed)"
    # inside <summary> markdown is not rendered: use HTML code tags, escaped
    summary = (f"Rendered SQL of <code>{text(entry.revision)}</code> · "
               f"<code>{text(entry.path)}</code>{note}")
    return f"<details><summary>{summary}</summary>\n\n{fence(sql, 'sql')}\n\n</details>"


def _fair_shares(sizes: list[int], budget: int) -> list[int]:
    """Water-filling: small blocks stay whole, the big ones share what is left equally."""
    shares = [0] * len(sizes)
    order = sorted(range(len(sizes)), key=lambda i: sizes[i])
    left, remaining = budget, len(sizes)
    for i in order:
        share = left // remaining if remaining else 0
        shares[i] = min(sizes[i], share)
        left -= shares[i]
        remaining -= 1
    return shares


# --- assembly ---------------------------------------------------------------------------------

def _join(parts: list[str]) -> str:
    return "\n\n".join(p for p in parts if p) + "\n"


def render(report: Report, max_chars: int = GITHUB_COMMENT_LIMIT) -> str:
    head = [headline(report), meta_line(report)]
    table = revision_table(report)
    findings = sorted_findings(report.findings)
    blocks = [finding_block(report, f) for f in findings]
    findings_part = ("#### Findings\n\n" + "\n\n".join(blocks)) if blocks else ""
    sql_entries = [r for r in _shown_revisions(report) if r.sql]

    full_sql = [sql_block(e) for e in sql_entries]
    sql_head = "#### Rendered SQL" if sql_entries else ""
    out = _join(head + [table, findings_part, sql_head, *full_sql])
    if len(out) <= max_chars:
        return out

    # 1. trim the SQL, then leave it out
    base = _join(head + [table, findings_part])
    if sql_entries:
        overhead = sum(len(sql_block(RevisionEntry(e.revision, e.path, e.status, [], "")))
                       + 120 for e in sql_entries) + len(sql_head) + 4
        budget = max_chars - len(base) - overhead
        if budget >= _MIN_SQL_SHARE * len(sql_entries):
            shares = _fair_shares([len(e.sql or "") for e in sql_entries], budget)
            trimmed = [sql_block(e, limit=s) for e, s in zip(sql_entries, shares)]
            out = _join(head + [table, findings_part, sql_head, *trimmed])
            if len(out) <= max_chars:
                return out
    omitted = ("<sub>Rendered SQL left out to fit the size limit; "
               "`alembic-review --format json` has it in full.</sub>") if sql_entries else ""
    out = _join(head + [table, findings_part, omitted])
    if len(out) <= max_chars:
        return out

    # 2. shorten the revision table when it alone is huge
    table = revision_table(report, max_rows=_MAX_TABLE_ROWS)
    fixed = _join(head + [table, "#### Findings", omitted])
    reserve = 1200  # room for the "and N more" line
    budget = max_chars - len(fixed) - reserve
    if budget < 0:
        table = revision_table(report, max_rows=10)
        fixed = _join(head + [table, "#### Findings", omitted])
        budget = max_chars - len(fixed) - reserve

    # 3. full findings while they fit, then one line each, then a count
    shown: list[str] = []
    used = 0
    i = 0
    for i_full, f in enumerate(findings):
        block = finding_block(report, f)
        if used + len(block) + 2 > budget * 0.6:
            i = i_full
            break
        shown.append(block)
        used += len(block) + 2
    else:
        i = len(findings)
    compact: list[str] = []
    while i < len(findings):
        line = finding_line(report, findings[i])
        if used + len(line) + 1 > budget:
            break
        compact.append(line)
        used += len(line) + 1
        i += 1
    body = "\n\n".join(shown)
    if compact:
        body = (body + "\n\n" if body else "") + "\n".join(compact)
    out = _join(head + [table, "#### Findings\n\n" + body, rest_summary(findings[i:]), omitted])
    if len(out) <= max_chars:
        return out
    # last resort (pathological sizes, tiny max_chars): a hard cut that says so
    tail = "\n\n…(cut to fit the size limit)\n"
    return out[: max(0, max_chars - len(tail))] + tail if max_chars > len(tail) else out[:max_chars]
