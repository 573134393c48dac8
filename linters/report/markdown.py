"""The pull-request summary (`--format markdown`, the sticky comment, the check run summary,
`$GITHUB_STEP_SUMMARY`), written for a reviewer who gives it five seconds.

Visible: the verdict (safe to merge, or one line per problem to fix, linked to its line in the
diff), the warnings in one line, and one row per revision with the strongest lock it takes on each
existing table and what that costs. Folded in `<details>`: the notes (info, downgrade paths), each
finding with the lock it takes in plain words, each rule's recipe once, and the rendered SQL. A PR
with nothing to look at gets one line. GitHub rejects comment bodies over 65,536 characters, so the
output is always at most `max_chars` long: the SQL is trimmed first (then left out), then the
details, then the notes and the table are cut with a count of what was left out.

Everything taken from the report is treated as untrusted text: HTML is escaped, @mentions are
defused and code spans/fences are sized to their content, so a report cannot inject markup,
hidden markers or notifications into the comment.
"""

from __future__ import annotations

import re
from collections import Counter

from linters.findings import Finding
from linters.report.common import (LOCK_BLOCKS, SEVERITY_ICON, diff_anchor, finding_lines, finding_path,
                                   fitted_recipe, impact_line, plural, rule_doc_url, rule_info,
                                   strongest_per_table)
from linters.report.model import Report, RevisionEntry
from linters.report.verdict import Problem, Verdict, held_since, revision_severity, verdict

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

COST_RANK = {c: i for i, c in enumerate(("new table", "instant", "concurrent build", "index build", "scan", "rewrite"))}
_MESSAGE_CHARS = 200


def rule_link(rule: str) -> str:
    return f"[{code(rule)}]({rule_doc_url(rule)})"


def line_link(report: Report, f: Finding, pr_url: str | None) -> str:
    """`L20`, linked to that line of the pull request's diff when the PR is known."""
    start, _ = finding_lines(f)
    path = finding_path(report, f)
    label = f"L{start}"
    return f"[{label}]({diff_anchor(pr_url, path, start)})" if pr_url and path else label


def short_message(f: Finding, limit: int = _MESSAGE_CHARS) -> str:
    first = f.message.strip().splitlines()[0] if f.message.strip() else f.rule
    return text(first if len(first) <= limit else first[:limit].rstrip() + "…")


def lock_line(f: Finding, folded: list[Finding] = ()) -> str:
    """What the op's lock blocks, in plain words; none for rules that take no lock (style)."""
    info = rule_info(f.rule)
    if not f.lock or not f.table or (info is not None and info.lock is None):
        return ""
    blocks = LOCK_BLOCKS.get(f.lock, "")
    line = f"🔒 {code(f.lock)} on {code(f.table)}" + (f": {blocks}" if blocks else "")
    for h in folded[:1]:  # the lock an earlier op took and still holds while this one runs
        since = held_since(h)
        if h.lock and h.table and since:
            line += (f"; and {code(h.lock)} on {code(h.table)}, held since line {since}: "
                     f"{LOCK_BLOCKS.get(h.lock, 'blocks others')} until the migration commits")
    return line


def headline(report: Report, v: Verdict) -> str:
    if v.problems:
        return f"### ❌ alembic-review: {plural(len(v.problems), 'problem')} to fix before merge"
    if v.warnings:
        return f"### ✅ alembic-review: safe to merge · ⚠️ {plural(len(v.warnings), 'warning')} to look at"
    return "### ✅ alembic-review: safe to merge"


def _shown_revisions(report: Report) -> list[RevisionEntry]:
    with_findings = {f.revision for f in report.findings if f.revision}
    shown = [r for r in report.revisions
             if r.status != "unchanged" or r.revision in with_findings]
    return shown or list(report.revisions)


def meta_line(report: Report) -> str:
    shown = _shown_revisions(report)
    counts = Counter(r.status for r in shown)
    words = {"added": "new", "modified": "edited", "deleted": "deleted", "unchanged": "unchanged"}
    parts: list[str] = []
    for status, n in counts.most_common():  # "5 new revisions, 1 edited"
        parts.append(f"{n:,} {words[status]}" if parts else plural(n, f"{words[status]} revision"))
    bits = [", ".join(parts)] if parts else []
    if report.base:
        bits.append(f"base {code(report.base[:12])}")
    bits.append(f"PostgreSQL {report.pg_version}")
    if report.squawk is not None:  # --squawk: what each side found that the other did not
        t = report.squawk
        bits.append(f"squawk: {t['both']:,} in both, {t['squawk_only']:,} only squawk's, {t['ours_only']:,} only ours")
    env = [w for k, w in (("transaction_per_migration", "a transaction per revision"),
                          ("lock_timeout", "lock_timeout set")) if report.project.get(k)]
    if env:
        bits.append("env.py: " + ", ".join(env))
    return "<sub>" + " · ".join(bits) + "</sub>"


def problem_line(report: Report, p: Problem, pr_url: str | None) -> str:
    f = p.first
    where = " ".join(x for x in (code(f.revision) if f.revision else "",
                                 ", ".join(line_link(report, g, pr_url) for g in p.findings)) if x)
    wrench = " 🔧" if p.has_suggestion else ""
    also = sorted({g.table for g in p.findings[1:] if g.table and g.table != f.table})
    more = f"; also on {', '.join(code(t) for t in also)}" if also else ""
    downgrade = " (downgrade)" if f.direction == "downgrade" else ""
    squawk = " (squawk)" if all(g.source == "squawk" for g in p.findings) else ""  # --squawk: only squawk saw it
    # the rule id and its docs link are one click away (the inline comment, the details fold)
    return f"- {SEVERITY_ICON[f.severity]} {where}{wrench} {short_message(f)}{more}{downgrade}{squawk}"


def warnings_line(report: Report, warnings: list[Finding], pr_url: str | None, shown: int = 4) -> str:
    if not warnings:
        return ""
    items = [f"{rule_link(f.rule)} in {code(f.revision or '?')} {line_link(report, f, pr_url)}" for f in warnings[:shown]]
    rest = f", and {len(warnings) - shown:,} more" if len(warnings) > shown else ""
    return f"⚠️ {plural(len(warnings), 'warning')}: " + ", ".join(items) + rest + " (details below)."


def _locks_cell(ops: list[dict]) -> str:
    per_table = strongest_per_table(ops)
    if not per_table:
        return "none: new table" if any(op["cost"] == "new table" for op in ops) else "—"
    by_mode: dict[str, list[str]] = {}
    for table, mode in per_table.items():
        by_mode.setdefault(mode, []).append(table)
    order = list(LOCK_BLOCKS)  # strongest first
    return " · ".join(f"{code(mode)} {', '.join(text(t) for t in tables)}"
                      for mode, tables in sorted(by_mode.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else 99))


def _cost_cell(ops: list[dict]) -> str:
    costed = [op for op in ops if op["cost"] != "new table"]
    if not costed:
        return "—"
    worst = max((op["cost"] for op in costed), key=lambda c: COST_RANK.get(c, 0))
    tables = list(dict.fromkeys(lock["table"] for op in costed if op["cost"] == worst for lock in op["locks"][:1]))
    names = ", ".join(text(t) for t in tables)
    return {"rewrite": f"**rewrite** of {names}", "scan": f"scan of {names}",
            "index build": f"index build on {names} (writes wait)", "concurrent build": "concurrent build (writes go on)",
            "instant": "instant (catalog only)"}.get(worst, text(worst))


def revision_table(report: Report, max_rows: int | None = None) -> str:
    shown = _shown_revisions(report)
    if not shown:
        return ""
    rows = ["| | revision | locks on existing tables | cost |", "|---|---|---|---|"]
    listed = shown if max_rows is None else shown[:max_rows]
    for entry in listed:
        worst = revision_severity(report, entry.revision)
        icon = SEVERITY_ICON[worst] if worst else "✅"
        status = {"modified": " *(edited)*", "deleted": " *(deleted)*"}.get(entry.status, "")
        title = f" {text(entry.title)}" if entry.title else ""
        rendered = entry.sql is not None or entry.operations
        rows.append("| " + " | ".join(cell(c) for c in (
            icon, f"{code(entry.revision)}{status}{title}",
            _locks_cell(entry.operations) if rendered else "—",
            _cost_cell(entry.operations) if rendered else "—")) + " |")
    out = "\n".join(rows)
    if len(listed) < len(shown):
        out += f"\n\n…and {plural(len(shown) - len(listed), 'more revision')} not listed."
    return out


def _details(summary: str, body: str) -> str:
    # inside <summary> markdown is not rendered: the summary is plain text, escaped
    return f"<details><summary>{summary}</summary>\n\n{body.strip()}\n\n</details>"


def note_line(report: Report, f: Finding, pr_url: str | None) -> str:
    where = " ".join(x for x in (code(f.revision) if f.revision else "", line_link(report, f, pr_url)) if x)
    downgrade = " (downgrade)" if f.direction == "downgrade" else ""
    return f"- {where} {rule_link(f.rule)}{downgrade}: {short_message(f, 160)}"


def notes_details(report: Report, notes: list[Finding], pr_url: str | None, max_lines: int | None = None) -> str:
    if not notes:
        return ""
    downgrade = any(f.direction == "downgrade" for f in notes)
    style = any(f.direction != "downgrade" for f in notes)
    about = " and ".join(w for w, on in (("downgrade paths", downgrade), ("style", style)) if on)
    lines = [note_line(report, f, pr_url) for f in notes[:max_lines]]
    if max_lines is not None and len(notes) > max_lines:
        lines.append(f"- …and {plural(len(notes) - max_lines, 'more note')} not shown here")
    return _details(f"ℹ️ {plural(len(notes), 'note')} on {about} (not blocking)", "\n".join(lines))


def impact_block(f: Finding) -> str | None:
    """The production impact of a finding (--stats): size, lock time, writes blocked."""
    line = impact_line(f)
    return None if line is None else f"<sub>📊 {text(line)}</sub>"


def finding_entry(report: Report, f: Finding, folded: list[Finding], pr_url: str | None) -> str:
    lines = [f"- {SEVERITY_ICON[f.severity]} **{line_link(report, f, pr_url)}** {rule_link(f.rule)}"
             f"{' (squawk)' if f.source == 'squawk' else ''}{' (downgrade)' if f.direction == 'downgrade' else ''}: {text(f.message.strip())}"]
    lock = lock_line(f, folded)
    if lock:
        lines.append(f"  {lock}")
    if (impact := impact_block(f)) is not None:
        lines.append(f"  {impact}")
    info = rule_info(f.rule)
    if f.hint and info is not None and f.hint.strip() != info.recipe.strip():
        extra = f.hint.strip()[len(info.recipe.strip()):].strip() if f.hint.startswith(info.recipe) else f.hint.strip()
        lines.append(f"  {text(fitted_recipe(f.rule, report.project, extra) or extra)}")
    if f.suggestion is not None:
        lines.append("  🔧 a one-click suggestion is on this line in the review")
    return "  \n".join(lines)


def findings_details(report: Report, v: Verdict, pr_url: str | None) -> str:
    entries: list[tuple[Finding, list[Finding]]] = [(f, [h for h in p.folded if h.line == f.line])
                                                    for p in v.problems for f in p.findings]
    entries += [(f, []) for f in v.warnings]
    if not entries:
        return ""
    titles = {e.revision: e.title for e in report.revisions}
    order = {e.revision: i for i, e in enumerate(report.revisions)}
    entries.sort(key=lambda e: (order.get(e[0].revision or "", len(order)), e[0].line or 0))
    out, current = [], object()
    for f, folded in entries:
        if f.revision != current:
            current = f.revision
            title = titles.get(f.revision)
            out.append(f"\n**{code(f.revision or 'history')}**{' ' + text(title) if title else ''}\n")
        out.append(finding_entry(report, f, folded, pr_url))
    return _details(f"Each finding with the lock it takes ({plural(len(entries), 'finding')})", "\n".join(out))


def recipes_details(report: Report, v: Verdict) -> str:
    rules = list(dict.fromkeys([f.rule for p in v.problems for f in p.findings] + [f.rule for f in v.warnings]))
    recipes = [(rule, fitted_recipe(rule, report.project)) for rule in rules]
    recipes = [(rule, recipe) for rule, recipe in recipes if recipe]
    if not recipes:
        return ""
    body = "\n\n".join(f"{rule_link(rule)}: {text(recipe.strip())}" for rule, recipe in recipes)
    return _details(f"How to fix each rule ({plural(len(recipes), 'recipe')})", body)


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
    return f"{code(entry.revision)} {code(entry.path)}{note}\n\n{fence(sql, 'sql')}"


def sql_details(entries: list[RevisionEntry], limits: list[int] | None = None) -> str:
    if not entries:
        return ""
    blocks = [sql_block(e, limits[i] if limits else None) for i, e in enumerate(entries)]
    return _details(f"Rendered SQL of {plural(len(entries), 'revision')}", "\n\n".join(blocks))


def _op_words(op: dict) -> str:
    cost = {"concurrent build": "writes go on", "instant": "instant", "scan": "scans", "rewrite": "rewrites",
            "index build": "writes wait", "new table": "new table"}.get(op["cost"], op["cost"])
    return f"{text(op['what'])} ({cost})"


def clean_line(report: Report, head_sha: str | None, max_ops: int = 4) -> str:
    """The whole verdict of a PR with nothing to fix or look at, in one line."""
    ops = [op for e in _shown_revisions(report) for op in e.operations]
    at = f" at {code(head_sha[:7])}" if head_sha else ""
    what = ", ".join(_op_words(op) for op in ops[:max_ops])
    if len(ops) > max_ops:
        what += f", and {plural(len(ops) - max_ops, 'more operation')}"
    return f"✅ **alembic-review: safe to merge**{at}" + (f": {what}" if what else "")


def rest_summary(rest: list[Problem]) -> str:
    if not rest:
        return ""
    counts = Counter(p.first.rule for p in rest)
    top = ", ".join(f"{code(rule)} ×{n:,}" for rule, n in counts.most_common(10))
    more = f", and {plural(len(counts) - 10, 'more rule')}" if len(counts) > 10 else ""
    return (f"…and {plural(len(rest), 'more problem')} not shown here ({top}{more}). "
            "Run `alembic-review` locally or see its JSON report for the full list.")


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


def visible_part(md: str) -> str:
    """What a reader sees without opening anything: the comment minus its <details> blocks."""
    return re.sub(r"<details>.*?</details>", "", md, flags=re.S)


def render(report: Report, max_chars: int = GITHUB_COMMENT_LIMIT, *, fail_on: str = "error",
           pr_url: str | None = None, head_sha: str | None = None) -> str:
    """The summary; `pr_url` (https://github.com/o/r/pull/N) links each problem to its diff line."""
    v = verdict(report, fail_on)
    notes = notes_details(report, v.notes, pr_url)
    if not v.problems and not v.warnings:
        out = _join([clean_line(report, head_sha), notes])
        return out if len(out) <= max_chars else _join([clean_line(report, head_sha, max_ops=0)])[:max_chars]

    head = [headline(report, v), meta_line(report)]
    problems = [problem_line(report, p, pr_url) for p in v.problems]
    warn = warnings_line(report, v.warnings, pr_url)
    table = revision_table(report)
    details = findings_details(report, v, pr_url)
    recipes = recipes_details(report, v)
    sql_entries = [r for r in _shown_revisions(report) if r.sql]

    def assemble(problem_lines=problems, table=table, notes=notes, details=details, recipes=recipes, sql="",
                 rest=""):
        return _join(head + ["\n".join(problem_lines), rest, warn, table, notes, details, recipes, sql])

    out = assemble(sql=sql_details(sql_entries))
    if len(out) <= max_chars:
        return out
    # 1. trim the SQL, then leave it out
    base = assemble()
    if sql_entries:
        overhead = len(sql_details([RevisionEntry(e.revision, e.path, e.status, [], "") for e in sql_entries])) \
            + 120 * len(sql_entries)
        budget = max_chars - len(base) - overhead
        if budget >= _MIN_SQL_SHARE * len(sql_entries):
            shares = _fair_shares([len(e.sql or "") for e in sql_entries], budget)
            out = assemble(sql=sql_details(sql_entries, shares))
            if len(out) <= max_chars:
                return out
    omitted = ("<sub>Rendered SQL left out to fit the size limit; "
               "`alembic-review --format json` has it in full.</sub>") if sql_entries else ""
    for out in (assemble(sql=omitted),                                     # 2. no SQL
                assemble(details="", sql=omitted),                         # 3. no per-finding details
                assemble(details="", recipes="", sql=omitted)):            # 4. no recipes
        if len(out) <= max_chars:
            return out
    # 5. fewer notes, a shorter table, then fewer problem lines with a count of the rest
    notes = notes_details(report, v.notes, pr_url, max_lines=20)
    table = revision_table(report, max_rows=_MAX_TABLE_ROWS)
    fixed = assemble(problem_lines=[], table=table, notes=notes, details="", recipes="", sql=omitted)
    reserve = 1200  # room for the "and N more" line
    if len(fixed) + reserve > max_chars:
        table = revision_table(report, max_rows=10)
        notes = notes_details(report, v.notes, pr_url, max_lines=3)
        fixed = assemble(problem_lines=[], table=table, notes=notes, details="", recipes="", sql=omitted)
    budget = max_chars - len(fixed) - reserve
    shown, used = [], 0
    for line in problems:
        if used + len(line) + 1 > budget:
            break
        shown.append(line)
        used += len(line) + 1
    out = assemble(problem_lines=shown, table=table, notes=notes, details="", recipes="", sql=omitted,
                   rest=rest_summary(v.problems[len(shown):]))
    if len(out) <= max_chars:
        return out
    # last resort (pathological sizes, tiny max_chars): a hard cut that says so
    tail = "\n\n…(cut to fit the size limit)\n"
    return out[: max(0, max_chars - len(tail))] + tail if max_chars > len(tail) else out[:max_chars]
