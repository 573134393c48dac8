"""Put a Report on a pull request: sticky summary comment, inline review, check run (or status).

Used by the GitHub Action (bot/action.py) and by the webhook service. Everything goes through
PyGithub; the caller builds the client (bot.github_client.make_github) with retries on secondary
rate limits and 5xx. Publishing never raises: each part that fails is reported on stderr and in
PublishResult.errors, and the other parts still run.

Idempotence, so re-runs stay quiet:
- the summary is ONE issue comment carrying MARKER; it is found by listing every page of the
  PR's comments and edited in place (only when its text changes);
- each inline comment carries a fingerprint marker (rule + file + the text of the flagged line,
  not its number), so a finding already commented on is not commented again, a comment whose
  finding went away is marked resolved (body edited, thread resolved through GraphQL when the
  token may), and one whose finding came back is re-opened;
- the check run carries a digest of its content in `external_id`: a run for the same commit with
  the same content is not created again.
"""

from __future__ import annotations

import hashlib
import re
import sys
from dataclasses import dataclass, field
from typing import Callable

import github
from github import GithubException

from bot.github_client import backoff_of, create_once, lacks_permission, refused_content
from linters.findings import Finding, Severity
from linters.report import markdown
from linters.report.common import DOCS_URL, finding_lines, finding_path, fitted_recipe, sorted_findings
from linters.report.model import Report
from linters.report.verdict import FOLDED_RULE, verdict

MARKER = "<!-- alembic-review:summary -->"
_FP_RE = re.compile(r"<!-- alembic-review:finding fp=([0-9a-f]+(?:-\d+)?) rule=([\w.-]+)( resolved)? -->")
# GitHub's sizes. Check run output.summary / text are capped at 65,535 *bytes*; comment bodies are
# documented as 65,536 characters: we keep them within 65,536 UTF-8 bytes too, which fits however
# GitHub counts (bytes >= UTF-16 units >= code points).
COMMENT_LIMIT = 65536
CHECK_TEXT_LIMIT = 65535
ANNOTATION_TEXT_LIMIT = 60000  # message / raw_details: 64 KB each
ANNOTATIONS_PER_REQUEST = 50
MAX_ANNOTATIONS = 1000
MAX_INLINE_COMMENTS = 50
# not "alembic-review": that is the job id of the documented workflows, whose own check run has
# the job's name; a required check passes when ANY check of its name passes
DEFAULT_CHECK_NAME = "alembic-review/migrations"
DIGEST_PREFIX = "alembic-review:"  # our check runs' external_id starts with it
_LEVEL = {Severity.ERROR: "failure", Severity.WARNING: "warning", Severity.INFO: "notice"}
_ICON = {Severity.ERROR: "❌", Severity.WARNING: "⚠️", Severity.INFO: "ℹ️"}


@dataclass
class PublishResult:
    comment_id: int | None = None
    comment_url: str | None = None
    comment_action: str = "skipped"        # created | updated | unchanged | skipped | failed
    review_id: int | None = None
    review_comments_created: int = 0
    review_comments_updated: int = 0       # text refreshed or re-opened
    review_comments_resolved: int = 0
    findings_outside_diff: int = 0
    check_run_id: int | None = None
    check_action: str = "skipped"          # created | completed | unchanged | status | skipped | failed
    conclusion: str | None = None          # the check run's conclusion, or the status' state
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


# --- diff hunks -------------------------------------------------------------------------------

def parse_patch(patch: str | None) -> list[dict[int, str]]:
    """One {new-file line number: text} per hunk, for the lines a review comment may target
    (added and context lines: the RIGHT side of the diff)."""
    hunks: list[dict[int, str]] = []
    if not patch:
        return hunks
    right = 0
    for raw in patch.split("\n"):
        m = re.match(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,\d+)? @@", raw)
        if m:
            right = int(m.group(1))
            hunks.append({})
            continue
        if not hunks or raw.startswith("\\") or raw.startswith("-"):
            continue
        hunks[-1][right] = raw[1:] if raw[:1] in ("+", " ") else raw
        right += 1
    return hunks


def _hunk_of(hunks: list[dict[int, str]], line: int) -> dict[int, str] | None:
    return next((h for h in hunks if line in h), None)


# --- fingerprints and comment bodies ----------------------------------------------------------

def fingerprint(rule: str, path: str, line_text: str) -> str:
    normal = " ".join(line_text.split())
    return hashlib.sha256(f"{rule}\0{path}\0{normal}".encode()).hexdigest()[:20]


def _marker(fp: str, rule: str, resolved: bool = False) -> str:
    return f"<!-- alembic-review:finding fp={fp} rule={rule}{' resolved' if resolved else ''} -->"


def utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


def cut_bytes(text: str, limit: int) -> str:
    """At most `limit` UTF-8 bytes of `text`, never splitting a character."""
    return text.encode("utf-8")[:limit].decode("utf-8", errors="ignore")


def fit_bytes(render: Callable[[int], str], limit: int) -> str:
    """render(max_chars) made to fit `limit` UTF-8 bytes: the markdown renderer counts characters,
    GitHub counts bytes, and non-ASCII text (names, messages, SQL comments) takes 2 to 4 each."""
    budget = limit
    for _ in range(8):
        text = render(budget)
        size = utf8_len(text)
        if size <= limit:
            return text
        budget = max(1, budget * limit // size - 256)
    return cut_bytes(text, limit)


def _suggestion_block(text: str) -> str:
    longest = max((len(m) for m in re.findall(r"`{3,}", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    body = text if text.endswith("\n") or not text else text + "\n"
    return f"{ticks}suggestion\n{body}{ticks}"


def inline_body(f: Finding, fp: str, with_suggestion: bool, project: dict | None = None,
                folded: list[Finding] = ()) -> str:
    """One finding on its line: what goes wrong, the lock in plain words, the safe way (fitted to the
    project), the one-click suggestion. `folded`: lock-held-across-statements on the same op."""
    where = " (downgrade)" if f.direction == "downgrade" else ""
    parts = [f"{_ICON[f.severity]} **{markdown.rule_link(f.rule)}**{where} · alembic-review {f.severity.value}", "",
             markdown.text(f.message.strip())]
    lock = markdown.lock_line(f, list(folded))
    if lock:
        parts += ["", lock]
    hint = fitted_recipe(f.rule, project or {}, f.hint)
    if hint:
        parts += ["", f"**Safe way:** {markdown.text(hint.strip())}"]
    if with_suggestion and f.suggestion is not None:
        parts += ["", _suggestion_block(f.suggestion)]
    parts += ["", _marker(fp, f.rule)]
    body = "\n".join(parts)
    if utf8_len(body) > COMMENT_LIMIT and with_suggestion:  # absurd sizes: drop the suggestion first
        return inline_body(f, fp, False, project, folded)
    if utf8_len(body) > COMMENT_LIMIT:
        body = cut_bytes(body, COMMENT_LIMIT - 200) + "\n…\n\n" + _marker(fp, f.rule)
    return body


def resolved_body(rule: str, fp: str, old_body: str, head_sha: str, superseded: bool = False) -> str:
    first = next((l for l in old_body.splitlines() if l.strip()), f"`{rule}`")
    why = ("Outdated: this finding is still reported, on a newer comment." if superseded else
           f"✅ Resolved: alembic-review no longer reports this at {head_sha[:7]}.")
    return f"~~{first.strip()}~~\n\n{why}\n\n{_marker(fp, rule, resolved=True)}"


# --- the three parts --------------------------------------------------------------------------

def _detail(exc: BaseException) -> str:
    if isinstance(exc, GithubException):
        message = exc.data.get("message") if isinstance(exc.data, dict) else None
        detail = f"HTTP {exc.status}: {message or exc.data}"
        if isinstance(exc.data, dict) and exc.data.get("errors"):
            detail += f" {exc.data['errors']}"
        return detail
    return f"{type(exc).__name__}: {exc}"


def _err(result: PublishResult, part: str, exc: BaseException) -> None:
    line = f"alembic-review: could not publish the {part}: {_detail(exc)}"
    result.errors.append(line)
    print(line, file=sys.stderr)


def summary_body(report: Report, head_sha: str | None, *, pr_url: str | None = None, fail_on: str = "error") -> str:
    v = verdict(report, fail_on)
    clean = not v.problems and not v.warnings  # one line, that already names the commit
    footer = "" if clean or not head_sha else (
        f"\n<sub>alembic-review · commit {head_sha[:7]} · [rules]({DOCS_URL}) · "
        "`alembic-review explain RULE`</sub>\n")
    budget = COMMENT_LIMIT - utf8_len(MARKER) - 1 - utf8_len(footer)
    return MARKER + "\n" + fit_bytes(lambda chars: markdown.render(
        report, max_chars=chars, fail_on=fail_on, pr_url=pr_url, head_sha=head_sha), budget) + footer


def publish_comment(pr, report: Report, head_sha: str | None, result: PublishResult, fail_on: str = "error",
                    backoff: float = 1.0) -> None:
    body = summary_body(report, head_sha, pr_url=pr.html_url, fail_on=fail_on)
    ours = None
    for comment in pr.get_issue_comments():  # every page: the sticky one can be anywhere
        if MARKER in (comment.body or ""):
            ours = comment
            if comment.user is None or comment.user.type == "Bot":
                break
    if ours is not None:
        result.comment_id, result.comment_url = ours.id, ours.html_url
        if ours.body == body:
            result.comment_action = "unchanged"
            return
        try:
            ours.edit(body)
            result.comment_action = "updated"
            return
        except GithubException as exc:
            if exc.status not in (403, 404):
                raise
            result.notes.append(f"summary comment {ours.id} could not be edited ({exc.status}); posting a new one")
    elif not report.findings:
        result.notes.append("no findings and no earlier summary comment: nothing to post")
        return
    created = create_once(lambda: pr.create_issue_comment(body),
                          lambda: next((c for c in pr.get_issue_comments() if c.body == body), None),
                          backoff=backoff)
    result.comment_id, result.comment_url, result.comment_action = created.id, created.html_url, "created"


@dataclass
class _Target:
    finding: Finding
    path: str
    fp: str
    line: int
    start_line: int | None
    suggestion: bool
    folded: list[Finding] = field(default_factory=list)


def _folded_into(report: Report, min_rank: int) -> dict[int, list[Finding]]:
    """id(finding) -> the lock-held-across-statements findings folded into its comment: one thread
    per op, the lock it keeps said in the stronger finding's own comment."""
    by_op: dict[tuple, Finding] = {}
    for f in report.findings:
        if f.rule != FOLDED_RULE and f.severity.rank >= max(min_rank, Severity.WARNING.rank):
            by_op.setdefault((f.path, f.line, f.direction), f)
    out: dict[int, list[Finding]] = {}
    for f in report.findings:
        host = by_op.get((f.path, f.line, f.direction)) if f.rule == FOLDED_RULE else None
        if host is not None and host.severity.rank > f.severity.rank:
            out.setdefault(id(host), []).append(f)
            out.setdefault(id(f), [])
    return out


def _targets(report: Report, files: dict[str, list[dict[int, str]]], result: PublishResult,
             min_severity: str = "warning"):
    """Findings that carry an inline comment; the (rule, path) of those that cannot (their
    fingerprint is unknown, so their old comments are left alone); and the fingerprints of the
    findings that get no thread of their own (below `min_severity`, or folded into another
    finding's comment): their earlier comments are left alone too."""
    min_rank = Severity(min_severity).rank
    folded = _folded_into(report, min_rank)
    targets: list[_Target] = []
    unknown: set[tuple[str, str]] = set()
    quiet: set[str] = set()
    seen: dict[str, int] = {}
    for f in sorted(report.findings, key=lambda f: (finding_path(report, f) or "", f.line or 0, f.rule)):
        path = finding_path(report, f)
        if not path or not f.line:
            continue
        start, end = finding_lines(f)
        hunk = _hunk_of(files.get(path, []), start)
        if hunk is None:
            if path in files:
                unknown.add((f.rule, path))
            result.findings_outside_diff += 1
            continue
        fp = fingerprint(f.rule, path, hunk[start])
        seen[fp] = seen.get(fp, 0) + 1
        if seen[fp] > 1:
            fp = f"{fp}-{seen[fp]}"
        if f.severity.rank < min_rank or (f.rule == FOLDED_RULE and id(f) in folded):
            quiet.add(fp)
            continue
        whole = all(n in hunk for n in range(start, end + 1))
        inside = folded.get(id(f), [])
        if end > start and whole:
            targets.append(_Target(f, path, fp, end, start, f.suggestion is not None, inside))
        else:
            targets.append(_Target(f, path, fp, start, None, f.suggestion is not None and end == start, inside))
    return targets, unknown, quiet


def _review_threads(gh: github.Github, repo_full_name: str, pr_number: int) -> dict[int, tuple[str, bool]]:
    """first comment id -> (thread node id, resolved), through GraphQL (REST has no threads)."""
    owner, name = repo_full_name.split("/", 1)
    query = """query($owner: String!, $name: String!, $number: Int!, $cursor: String) {
  repository(owner: $owner, name: $name) { pullRequest(number: $number) {
    reviewThreads(first: 100, after: $cursor) {
      pageInfo { hasNextPage endCursor }
      nodes { id isResolved comments(first: 1) { nodes { fullDatabaseId } } } } } } }"""
    threads: dict[int, tuple[str, bool]] = {}
    cursor = None
    for _ in range(50):
        _, data = gh.requester.graphql_query(query, {"owner": owner, "name": name,
                                                     "number": pr_number, "cursor": cursor})
        page = data["data"]["repository"]["pullRequest"]["reviewThreads"]
        for node in page["nodes"]:
            first = node["comments"]["nodes"]
            if first:
                # fullDatabaseId (a BigInt, sent as a string): review comment ids no longer fit
                # databaseId's 32-bit Int
                threads[int(first[0]["fullDatabaseId"])] = (node["id"], node["isResolved"])
        if not page["pageInfo"]["hasNextPage"]:
            break
        cursor = page["pageInfo"]["endCursor"]
    return threads


class _LazyThreads:
    """The review threads, fetched the first time a thread has to change state."""

    def __init__(self, gh, repo_full_name: str, pr_number: int, result: PublishResult):
        self.args, self.result, self._threads = (gh, repo_full_name, pr_number), result, None

    def get(self, comment_id: int) -> tuple[str, bool] | None:
        if self._threads is None:
            try:
                self._threads = _review_threads(*self.args)
            except Exception as exc:
                self.result.notes.append(f"review threads unavailable through GraphQL: {exc}")
                self._threads = {}
        return self._threads.get(comment_id)


def _set_thread_state(gh, result: PublishResult, threads: _LazyThreads, comment_id: int, resolve: bool) -> None:
    found = threads.get(comment_id)
    if found is None:
        return
    thread_id, resolved = found
    if resolved == resolve:
        return
    mutation = "resolveReviewThread" if resolve else "unresolveReviewThread"
    try:
        gh.requester.graphql_named_mutation(mutation, {"threadId": thread_id}, "thread { id isResolved }")
    except Exception as exc:  # the body edit already tells the story
        result.notes.append(f"could not {mutation} for comment {comment_id}: {exc}")


def review_body(targets: list[_Target], left: int, comment_url: str | None) -> str:
    """What the review says above its threads: how many of each severity, and where the summary is."""
    words = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}
    counts = {sev: sum(1 for t in targets if t.finding.severity == sev) for sev in words}
    tally = " · ".join(f"{_ICON[sev]} {n} {words[sev]}{'s' if n != 1 else ''}" for sev, n in counts.items() if n)
    summary = f"[summary]({comment_url})" if comment_url else "the summary comment"
    body = f"{tally} on this pull request's lines — {summary} has the verdict and the fix for each."
    if left:
        body += f" {left} more are listed in the summary and the check run only."
    return body


def _review_marker(head_sha: str, fingerprints: list[str]) -> str:
    """Names one review: its commit and the fingerprints it comments on (found again after a
    create whose answer was lost)."""
    key = hashlib.sha256("\0".join([head_sha, *fingerprints]).encode()).hexdigest()[:20]
    return f"<!-- alembic-review:review key={key} -->"


def publish_review(gh, repo, pr, report: Report, head_sha: str, result: PublishResult,
                   min_severity: str = "warning") -> None:
    files = {f.filename: parse_patch(f.patch) for f in pr.get_files()}
    targets, unknown, quiet = _targets(report, files, result, min_severity)
    current = {t.fp: t for t in targets}

    # our earlier inline comments, by fingerprint (a fingerprint may have several: an outdated one
    # and the one that replaced it)
    existing: dict[str, list[tuple[object, str, bool]]] = {}  # fp -> [(comment, rule, resolved)]
    for comment in pr.get_review_comments():
        m = _FP_RE.search(comment.body or "")
        if m:
            existing.setdefault(m.group(1), []).append((comment, m.group(2), bool(m.group(3))))

    threads = _LazyThreads(gh, repo.full_name, pr.number, result)

    covered: set[str] = set()
    for fp, entries in existing.items():
        if fp in quiet:
            continue  # the finding is still there, it just gets no thread of its own now
        if fp in current:
            # the finding is still there: keep its comment (re-opened if it was marked resolved),
            # unless GitHub marked every comment for it outdated: then it gets a fresh one
            live = [e for e in entries if e[0].line is not None]
            if live:
                comment, _, resolved = live[-1]
                target = current[fp]
                body = inline_body(target.finding, fp, target.suggestion, report.project, target.folded)
                if comment.body != body:
                    comment.edit(body)
                    result.review_comments_updated += 1
                if resolved:
                    _set_thread_state(gh, result, threads, comment.id, resolve=False)
                covered.add(fp)
            outdated = [e for e in entries if e[0].line is None and not e[2]]
        else:
            outdated = [e for e in entries if not e[2]]
        # comments whose finding went away (or that are outdated copies): marked resolved
        for comment, rule, resolved in outdated:
            if fp not in current and (rule, comment.path) in unknown:
                continue  # that finding is outside the diff now: we cannot tell, leave it
            comment.edit(resolved_body(rule, fp, comment.body or "", head_sha, superseded=fp in current))
            result.review_comments_resolved += 1
            _set_thread_state(gh, result, threads, comment.id, resolve=True)

    new = [t for t in targets if t.fp not in covered]
    if not new:
        return
    ordered = sorted(new, key=lambda t: (-t.finding.severity.rank, t.path, t.line))
    batch, left = ordered[:MAX_INLINE_COMMENTS], ordered[MAX_INLINE_COMMENTS:]
    comments = []
    for t in batch:
        c = {"path": t.path, "line": t.line, "side": "RIGHT",
             "body": inline_body(t.finding, t.fp, t.suggestion, report.project, t.folded)}
        if t.start_line is not None:
            c["start_line"], c["start_side"] = t.start_line, "RIGHT"
        comments.append(c)
    marker = _review_marker(head_sha, [t.fp for t in batch])
    body = review_body(batch, len(left), result.comment_url) + "\n\n" + marker
    commit = repo.get_commit(head_sha)
    review = create_once(
        lambda: pr.create_review(commit=commit, body=body, event="COMMENT", comments=comments),
        lambda: next((r for r in pr.get_reviews() if marker in (r.body or "")), None),
        backoff=backoff_of(gh))
    result.review_id = review.id
    result.review_comments_created = len(comments)


def _check_digest(name: str, conclusion: str, title: str, summary: str, annotations: list[dict]) -> str:
    h = hashlib.sha256()
    for part in (name, conclusion, title, summary, repr(annotations)):
        h.update(part.encode())
        h.update(b"\0")
    return DIGEST_PREFIX + h.hexdigest()[:32]


def _annotations(report: Report) -> list[dict]:
    out = []
    for f in sorted_findings(report.findings):
        path = finding_path(report, f)
        if not path:
            continue
        start, end = finding_lines(f)
        a = {"path": path, "start_line": start, "end_line": end,
             "annotation_level": _LEVEL[f.severity], "title": f.rule[:255],
             "message": cut_bytes(f.message.strip() or f.rule, ANNOTATION_TEXT_LIMIT)}
        details = "\n\n".join(p for p in (f"Safe way: {f.hint.strip()}" if f.hint else "",
                                          f.statement or "") if p)
        if details:
            a["raw_details"] = cut_bytes(details, ANNOTATION_TEXT_LIMIT)
        out.append(a)
    return out


def check_title(report: Report, fail_on: str = "error") -> str:
    """The verdict in the checks list: what blocks the merge first."""
    v = verdict(report, fail_on)
    n, w = len(v.problems), len(v.warnings)
    warned = f", {w} warning{'s' if w != 1 else ''}" if w else ""
    if n:
        return f"{n} problem{'s' if n != 1 else ''} to fix before merge{warned}"
    return f"Safe to merge{warned}"


def our_check_runs(repo, head_sha: str, check_name: str, app_id: int | None = None) -> list:
    """Our check runs named `check_name` on head_sha, newest first. Ours carry our digest in
    external_id (and, when app_id is given, that app): the workflow job's own check run, or
    another app's check, can have the same name."""
    runs = [run for run in repo.get_commit(head_sha).get_check_runs(check_name=check_name, filter="all")
            if (run.external_id or "").startswith(DIGEST_PREFIX)
            and (app_id is None or (run.app is not None and run.app.id == app_id))]
    return sorted(runs, key=lambda run: run.id, reverse=True)


def _short_output(title: str, exc: BaseException) -> dict:
    """What a check run says when its full output was refused: the conclusion still counts."""
    return {"title": title, "summary": cut_bytes(
        f"The full report could not be attached to this check run ({_detail(exc)}). "
        "The summary comment on the pull request and the job log have it.", CHECK_TEXT_LIMIT)}


def check_outcome(report: Report, fail_on: str, pr_url: str | None = None,
                  head_sha: str | None = None) -> tuple[str, str, str]:
    """The check run's conclusion, title and summary for `report` (also what the webhook service
    keeps to conclude the run later when GitHub is down); the summary fits GitHub's byte limit."""
    conclusion = "failure" if report.reaches(fail_on) else ("neutral" if report.findings else "success")
    summary = fit_bytes(lambda chars: markdown.render(report, max_chars=chars, fail_on=fail_on, pr_url=pr_url,
                                                      head_sha=head_sha), CHECK_TEXT_LIMIT)
    return conclusion, check_title(report, fail_on), summary


def publish_check(repo, report: Report, head_sha: str, fail_on: str, check_name: str,
                  details_url: str | None, result: PublishResult, check_run_id: int | None = None,
                  pr_url: str | None = None, backoff: float = 1.0, app_id: int | None = None) -> None:
    """The check run for head_sha. A check must exist whatever happens (a required check that
    never appears blocks the pull request forever): when GitHub refuses the full output, the run
    is made with a short one; when check runs are not allowed (a 403 for permissions), a commit
    status stands in. Completing the service's run (check_run_id) during an outage (5xx, timeout)
    raises instead: the run itself must conclude once GitHub is back (bot/open_checks.py), not be
    replaced by a status. Creating a run (the Action) falls back to a status then too."""
    blocking = report.reaches(fail_on)
    conclusion, title, summary = check_outcome(report, fail_on, pr_url=pr_url, head_sha=head_sha)
    annotations = _annotations(report)
    if len(annotations) > MAX_ANNOTATIONS:
        result.notes.append(f"{len(annotations)} annotations: only the first {MAX_ANNOTATIONS} are attached")
        annotations = annotations[:MAX_ANNOTATIONS]
    digest = _check_digest(check_name, conclusion, title, summary, annotations)
    pages = [annotations[i:i + ANNOTATIONS_PER_REQUEST]
             for i in range(0, len(annotations), ANNOTATIONS_PER_REQUEST)] or [[]]
    extra = {"details_url": details_url} if details_url else {}

    if check_run_id is not None:  # the webhook service's in-progress run: complete it
        run = repo.get_check_run(check_run_id)

        def send(output: dict, external_id: str):
            run.edit(status="completed", conclusion=conclusion, external_id=external_id, output=output, **extra)
            return run
        action = "completed"
    else:
        try:
            ours = our_check_runs(repo, head_sha, check_name, app_id)
        except GithubException as exc:
            if exc.status not in (403, 404):
                raise
            ours = []
        if ours and ours[0].external_id == digest and ours[0].status == "completed":
            result.check_run_id, result.check_action, result.conclusion = ours[0].id, "unchanged", ours[0].conclusion
            return

        def send(output: dict, external_id: str):
            return create_once(
                lambda: repo.create_check_run(name=check_name, head_sha=head_sha, status="completed",
                                              conclusion=conclusion, external_id=external_id,
                                              output=output, **extra),
                lambda: next((r for r in our_check_runs(repo, head_sha, check_name, app_id)
                              if r.external_id == external_id), None),
                backoff=backoff)
        action = "created"

    try:
        try:
            run = send({"title": title, "summary": summary, "annotations": pages[0]}, digest)
        except Exception as exc:
            if not refused_content(exc):
                raise
            _err(result, "check run's full output", exc)
            pages = []
            run = send(_short_output(title, exc), digest + "-short")
    except Exception as exc:
        if lacks_permission(exc):
            # the token cannot write check runs (a fork's read-only token, or no checks: write)
            result.notes.append("check runs are not allowed for this token: falling back to a commit status")
        elif check_run_id is not None:
            # GitHub is down or slow (5xx, timeout): a status now would leave the run spinning for
            # good; the caller keeps the verdict and concludes this same run when GitHub is back
            raise
        else:  # the Action has no later: a status stands in for the check it could not make
            _err(result, "check run", exc)
            result.notes.append("no check run could be made: falling back to a commit status")
        publish_status(repo, report, head_sha, blocking, title, check_name, details_url, result)
        return
    result.check_run_id, result.check_action, result.conclusion = run.id, action, conclusion
    for page in pages[1:]:  # annotations are appended by each update, 50 at a time
        try:
            run.edit(output={"title": title, "summary": summary, "annotations": page})
        except Exception as exc:  # the run and its conclusion are there; some annotations are not
            _err(result, "check run's annotations", exc)
            break


def publish_status(repo, report: Report, head_sha: str, blocking: bool, title: str, context: str,
                   details_url: str | None, result: PublishResult) -> None:
    state = "failure" if blocking else "success"
    description = title[:140]
    commit = repo.get_commit(head_sha)
    try:
        for status in commit.get_statuses():  # newest first
            if status.context == context:
                if status.state == state and status.description == description:
                    result.check_action, result.conclusion = "status", state
                    result.notes.append("commit status unchanged")
                    return
                break
    except GithubException:
        pass
    kwargs = {"target_url": details_url} if details_url else {}
    commit.create_status(state=state, description=description, context=context, **kwargs)
    result.check_action, result.conclusion = "status", state


def publish(gh: github.Github, repo_full_name: str, pr_number: int | None, report: Report, *,
            head_sha: str | None = None, fail_on: str = "error", comment: bool = True,
            review: bool = True, check: bool = True, check_name: str = DEFAULT_CHECK_NAME,
            details_url: str | None = None, check_run_id: int | None = None,
            min_inline_severity: str = "warning", app_id: int | None = None) -> PublishResult:
    """Publish `report` on pull request `pr_number` of `repo_full_name`; never raises.

    pr_number None (a merge queue's commit): only the check run, on head_sha (required then).

    app_id: the GitHub App the token belongs to, when known: only its check runs count as ours.

    check_run_id: a run already created (in progress) for head_sha, completed with the report
    instead of a new run being created (the webhook service starts its run before reviewing).

    head_sha: the commit the report is about (default: the PR's current head). When the PR has
    moved on since, the comment and the review are left to the run for the newer commit (their
    lines would not match); the check still goes on `head_sha`.

    min_inline_severity: findings below it (by default the info notes) get no review thread; they
    stay in the summary's notes and the check run's annotations.
    """
    result = PublishResult()
    try:
        repo = gh.get_repo(repo_full_name)
    except Exception as exc:
        _err(result, "report (repository not readable)", exc)
        return result
    pr = None
    if pr_number is not None:
        try:
            pr = repo.get_pull(pr_number)
        except Exception as exc:  # the check can still go on head_sha, when we know it
            _err(result, "report (pull request not readable)", exc)
            if head_sha is None:
                return result
    current = pr.head.sha if pr is not None else head_sha
    sha = head_sha or current
    stale = pr is None or (head_sha is not None and head_sha != current)
    if pr is not None and stale:
        result.notes.append(f"the pull request head is {current[:7]}, not {head_sha[:7]}: "
                            "comment and review left to the newer run")
    if comment and not stale:
        try:
            publish_comment(pr, report, sha, result, fail_on, backoff_of(gh))
        except Exception as exc:
            result.comment_action = "failed"
            _err(result, "summary comment", exc)
    if review and not stale:
        try:
            publish_review(gh, repo, pr, report, sha, result, min_inline_severity)
        except Exception as exc:
            _err(result, "review comments", exc)
    if check and sha:
        try:
            publish_check(repo, report, sha, fail_on, check_name, details_url, result, check_run_id,
                          pr_url=None if stale else pr.html_url, backoff=backoff_of(gh), app_id=app_id)
        except Exception as exc:
            result.check_action = "failed"
            _err(result, "check run", exc)
    return result
