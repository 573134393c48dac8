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

import github
from github import GithubException

from linters.findings import Finding, Severity
from linters.report import markdown
from linters.report.common import finding_lines, finding_path, rule_info, sorted_findings
from linters.report.model import Report

MARKER = "<!-- alembic-review:summary -->"
_FP_RE = re.compile(r"<!-- alembic-review:finding fp=([0-9a-f]+(?:-\d+)?) rule=([\w.-]+)( resolved)? -->")
COMMENT_LIMIT = 65536
CHECK_TEXT_LIMIT = 65535
ANNOTATIONS_PER_REQUEST = 50
MAX_ANNOTATIONS = 1000
MAX_INLINE_COMMENTS = 50
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


def _suggestion_block(text: str) -> str:
    longest = max((len(m) for m in re.findall(r"`{3,}", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    body = text if text.endswith("\n") or not text else text + "\n"
    return f"{ticks}suggestion\n{body}{ticks}"


def inline_body(f: Finding, fp: str, with_suggestion: bool) -> str:
    info = rule_info(f.rule)
    parts = [f"{_ICON[f.severity]} **alembic-review · {markdown.code(f.rule)}** ({f.severity.value})", "",
             markdown.text(f.message.strip())]
    if f.lock or f.table:
        parts.append("")
        parts.append("Takes " + " ".join(p for p in (markdown.code(f.lock) if f.lock else "",
                                                      f"on {markdown.code(f.table)}" if f.table else "") if p) + ".")
    hint = f.hint or (info.recipe if info else None)
    if hint:
        parts += ["", f"**Safe way:** {markdown.text(hint.strip())}"]
    if with_suggestion and f.suggestion is not None:
        parts += ["", _suggestion_block(f.suggestion)]
    parts += ["", _marker(fp, f.rule)]
    body = "\n".join(parts)
    if len(body) > COMMENT_LIMIT and with_suggestion:  # absurd sizes: drop the suggestion first
        return inline_body(f, fp, False)
    if len(body) > COMMENT_LIMIT:
        body = body[: COMMENT_LIMIT - 200] + "\n…\n\n" + _marker(fp, f.rule)
    return body


def resolved_body(rule: str, fp: str, old_body: str, head_sha: str, superseded: bool = False) -> str:
    first = next((l for l in old_body.splitlines() if l.strip()), f"`{rule}`")
    why = ("Outdated: this finding is still reported, on a newer comment." if superseded else
           f"✅ Resolved: alembic-review no longer reports this at {head_sha[:7]}.")
    return f"~~{first.strip()}~~\n\n{why}\n\n{_marker(fp, rule, resolved=True)}"


# --- the three parts --------------------------------------------------------------------------

def _err(result: PublishResult, part: str, exc: BaseException) -> None:
    if isinstance(exc, GithubException):
        message = exc.data.get("message") if isinstance(exc.data, dict) else None
        detail = f"HTTP {exc.status}: {message or exc.data}"
        if isinstance(exc.data, dict) and exc.data.get("errors"):
            detail += f" {exc.data['errors']}"
    else:
        detail = f"{type(exc).__name__}: {exc}"
    line = f"alembic-review: could not publish the {part}: {detail}"
    result.errors.append(line)
    print(line, file=sys.stderr)


def summary_body(report: Report, head_sha: str | None) -> str:
    footer = f"\n<sub>alembic-review · commit {head_sha[:7]}</sub>\n" if head_sha else ""
    budget = COMMENT_LIMIT - len(MARKER) - 1 - len(footer)
    return MARKER + "\n" + markdown.render(report, max_chars=budget) + footer


def publish_comment(pr, report: Report, head_sha: str | None, result: PublishResult) -> None:
    body = summary_body(report, head_sha)
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
    created = pr.create_issue_comment(body)
    result.comment_id, result.comment_url, result.comment_action = created.id, created.html_url, "created"


@dataclass
class _Target:
    finding: Finding
    path: str
    fp: str
    line: int
    start_line: int | None
    suggestion: bool


def _targets(report: Report, files: dict[str, list[dict[int, str]]], result: PublishResult):
    """Findings that can carry an inline comment, and the (rule, path) of those that cannot
    (their fingerprint is unknown, so their old comments are left alone)."""
    targets: list[_Target] = []
    unknown: set[tuple[str, str]] = set()
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
        whole = all(n in hunk for n in range(start, end + 1))
        if end > start and whole:
            targets.append(_Target(f, path, fp, end, start, f.suggestion is not None))
        else:
            targets.append(_Target(f, path, fp, start, None, f.suggestion is not None and end == start))
    return targets, unknown


def _review_threads(gh: github.Github, repo_full_name: str, pr_number: int) -> dict[int, tuple[str, bool]]:
    """first comment id -> (thread node id, resolved), through GraphQL (REST has no threads)."""
    owner, name = repo_full_name.split("/", 1)
    query = """query($owner: String!, $name: String!, $number: Int!, $cursor: String) {
  repository(owner: $owner, name: $name) { pullRequest(number: $number) {
    reviewThreads(first: 100, after: $cursor) {
      pageInfo { hasNextPage endCursor }
      nodes { id isResolved comments(first: 1) { nodes { databaseId } } } } } } }"""
    threads: dict[int, tuple[str, bool]] = {}
    cursor = None
    for _ in range(50):
        _, data = gh.requester.graphql_query(query, {"owner": owner, "name": name,
                                                     "number": pr_number, "cursor": cursor})
        page = data["data"]["repository"]["pullRequest"]["reviewThreads"]
        for node in page["nodes"]:
            first = node["comments"]["nodes"]
            if first:
                threads[first[0]["databaseId"]] = (node["id"], node["isResolved"])
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


def publish_review(gh, repo, pr, report: Report, head_sha: str, result: PublishResult) -> None:
    files = {f.filename: parse_patch(f.patch) for f in pr.get_files()}
    targets, unknown = _targets(report, files, result)
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
        if fp in current:
            # the finding is still there: keep its comment (re-opened if it was marked resolved),
            # unless GitHub marked every comment for it outdated: then it gets a fresh one
            live = [e for e in entries if e[0].line is not None]
            if live:
                comment, _, resolved = live[-1]
                target = current[fp]
                body = inline_body(target.finding, fp, target.suggestion)
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
        c = {"path": t.path, "line": t.line, "side": "RIGHT", "body": inline_body(t.finding, t.fp, t.suggestion)}
        if t.start_line is not None:
            c["start_line"], c["start_side"] = t.start_line, "RIGHT"
        comments.append(c)
    body = (f"alembic-review: {len(batch)} new finding{'s' if len(batch) != 1 else ''} on the lines of this "
            "pull request; the summary comment has the full report.")
    if left:
        body += f" {len(left)} more are listed in the summary and the check run only."
    review = pr.create_review(commit=repo.get_commit(head_sha), body=body, event="COMMENT", comments=comments)
    result.review_id = review.id
    result.review_comments_created = len(comments)


def _check_digest(name: str, conclusion: str, title: str, summary: str, annotations: list[dict]) -> str:
    h = hashlib.sha256()
    for part in (name, conclusion, title, summary, repr(annotations)):
        h.update(part.encode())
        h.update(b"\0")
    return "alembic-review:" + h.hexdigest()[:32]


def _annotations(report: Report) -> list[dict]:
    out = []
    for f in sorted_findings(report.findings):
        path = finding_path(report, f)
        if not path:
            continue
        start, end = finding_lines(f)
        a = {"path": path, "start_line": start, "end_line": end,
             "annotation_level": _LEVEL[f.severity], "title": f.rule[:255],
             "message": (f.message.strip() or f.rule)[:60000]}
        details = "\n\n".join(p for p in (f"Safe way: {f.hint.strip()}" if f.hint else "",
                                          f.statement or "") if p)
        if details:
            a["raw_details"] = details[:60000]
        out.append(a)
    return out


def check_title(report: Report) -> str:
    s = report.summary
    bits = [f"{s['errors']} error{'s' if s['errors'] != 1 else ''}" if s["errors"] else "",
            f"{s['warnings']} warning{'s' if s['warnings'] != 1 else ''}" if s["warnings"] else "",
            f"{s['infos']} note{'s' if s['infos'] != 1 else ''}" if s["infos"] else ""]
    bits = [b for b in bits if b]
    return ", ".join(bits) if bits else "No risky migrations"


def check_outcome(report: Report, fail_on: str) -> tuple[str, str, str]:
    """The check run's conclusion, title and summary for `report` (also what the webhook service
    keeps to conclude the run later when GitHub is down)."""
    conclusion = "failure" if report.reaches(fail_on) else ("neutral" if report.findings else "success")
    return conclusion, check_title(report), markdown.render(report, max_chars=CHECK_TEXT_LIMIT)


def publish_check(repo, report: Report, head_sha: str, fail_on: str, check_name: str,
                  details_url: str | None, result: PublishResult, check_run_id: int | None = None) -> None:
    blocking = report.reaches(fail_on)
    conclusion, title, summary = check_outcome(report, fail_on)
    annotations = _annotations(report)
    if len(annotations) > MAX_ANNOTATIONS:
        result.notes.append(f"{len(annotations)} annotations: only the first {MAX_ANNOTATIONS} are attached")
        annotations = annotations[:MAX_ANNOTATIONS]
    digest = _check_digest(check_name, conclusion, title, summary, annotations)
    pages = [annotations[i:i + ANNOTATIONS_PER_REQUEST]
             for i in range(0, len(annotations), ANNOTATIONS_PER_REQUEST)] or [[]]
    if check_run_id is not None:  # the webhook service's in-progress run: complete it
        run = repo.get_check_run(check_run_id)
        run.edit(status="completed", conclusion=conclusion, external_id=digest,
                 output={"title": title, "summary": summary, "annotations": pages[0]},
                 **({"details_url": details_url} if details_url else {}))
        result.check_run_id, result.check_action, result.conclusion = run.id, "completed", conclusion
        for page in pages[1:]:
            run.edit(output={"title": title, "summary": summary, "annotations": page})
        return
    try:
        for run in repo.get_commit(head_sha).get_check_runs(check_name=check_name):
            if run.external_id == digest and run.status == "completed":
                result.check_run_id, result.check_action, result.conclusion = run.id, "unchanged", run.conclusion
                return
            break  # only the latest run of this name counts
    except GithubException as exc:
        if exc.status not in (403, 404):
            raise
    kwargs = {"details_url": details_url} if details_url else {}
    try:
        run = repo.create_check_run(
            name=check_name, head_sha=head_sha, status="completed", conclusion=conclusion,
            external_id=digest, output={"title": title, "summary": summary, "annotations": pages[0]},
            **kwargs)
    except GithubException as exc:
        if exc.status != 403:
            raise
        # the token cannot create check runs (e.g. a fork's read-only token, or no checks: write)
        result.notes.append("check runs are not allowed for this token: falling back to a commit status")
        publish_status(repo, report, head_sha, blocking, title, check_name, details_url, result)
        return
    result.check_run_id, result.check_action, result.conclusion = run.id, "created", conclusion
    for page in pages[1:]:  # annotations are appended by each update, 50 at a time
        run.edit(output={"title": title, "summary": summary, "annotations": page})


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


def publish(gh: github.Github, repo_full_name: str, pr_number: int, report: Report, *,
            head_sha: str | None = None, fail_on: str = "error", comment: bool = True,
            review: bool = True, check: bool = True, check_name: str = "alembic-review",
            details_url: str | None = None, check_run_id: int | None = None) -> PublishResult:
    """Publish `report` on pull request `pr_number` of `repo_full_name`; never raises.

    check_run_id: a run already created (in progress) for head_sha, completed with the report
    instead of a new run being created (the webhook service starts its run before reviewing).

    head_sha: the commit the report is about (default: the PR's current head). When the PR has
    moved on since, the comment and the review are left to the run for the newer commit (their
    lines would not match); the check still goes on `head_sha`.
    """
    result = PublishResult()
    try:
        repo = gh.get_repo(repo_full_name)
        pr = repo.get_pull(pr_number)
        current = pr.head.sha
    except Exception as exc:
        _err(result, "report (pull request not readable)", exc)
        return result
    sha = head_sha or current
    stale = head_sha is not None and head_sha != current
    if stale:
        result.notes.append(f"the pull request head is {current[:7]}, not {head_sha[:7]}: "
                            "comment and review left to the newer run")
    if comment and not stale:
        try:
            publish_comment(pr, report, sha, result)
        except Exception as exc:
            result.comment_action = "failed"
            _err(result, "summary comment", exc)
    if review and not stale:
        try:
            publish_review(gh, repo, pr, report, sha, result)
        except Exception as exc:
            _err(result, "review comments", exc)
    if check:
        try:
            publish_check(repo, report, sha, fail_on, check_name, details_url, result, check_run_id)
        except Exception as exc:
            result.check_action = "failed"
            _err(result, "check run", exc)
    return result
