"""The review pipeline, one direction: project -> histories -> change set -> render -> parse -> rules ->
settle -> size (--stats) -> Report.

`review(scope)` runs these stages in order; the entry point (linters/cli/review.py) decides the
scope once: the project, its settings, the git base, live mode, the table sizes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from linters import gitio
from linters.changes import Change, compare
from linters.config import Config
from linters.envpy import imported_modules
from linters.errors import UsageError
from linters.existing_type import note_old_types
from linters.findings import Finding
from linters.history import Graph, RevisionFile
from linters.impact import with_impact
from linters.judge import Judge, locate_and_suggest
from linters.live.mapped import absorb_drop_column
from linters.model import History, LiveTarget, RenderResult, Reviewed
from linters.project import Project, find_project
from linters.render import Renderer
from linters.render_retry import needs_history_schema, render_with_history_schema
from linters.report.model import Report, RevisionEntry
from linters.revision_files import RevisionLoader
from linters.revision_summary import summarize, title_of
from linters.rules import RULES, HistoryRule, RevisionRule, rules_of
from linters.render_notes import deliberate_raise, render_notes
from linters.rules.revision_rules import downgrade_raises_not_implemented
from linters.sourcemap import RevisionSource
from linters.sql import parse_chunks
from linters.sqlrun import RunSetup, apply_config
from linters.suggest import load_libcst, may_suggest
from linters.suppress import suppress
from linters.tablestats import TableStats


@dataclass
class Scope:
    """What one review covers, decided once by the entry point."""
    project: Project
    config: Config
    base: str | None                 # the commit the branch is compared with; None: every revision is new
    live: LiveTarget | None = None   # live mode: where to replay the migrations
    stats: TableStats | None = None  # production table sizes and write rates (--stats)


def locate(path: Path) -> tuple[Path | None, Project]:
    """The git repository root (None outside one) and the Alembic project at or above `path`."""
    if not path.exists():
        raise UsageError(f"path not found: {path}")
    root = gitio.repo_root(path.resolve() if path.is_dir() else path.resolve().parent)
    return root, find_project(path, root)


def resolve_base(path: Path, root: Path | None, ref: str | None, every_revision: bool) -> str | None:
    """The commit to compare with: --base REF, else the merge-base with the remote default branch;
    None with --all (every revision is new)."""
    if every_revision:
        return None
    if ref:
        if root is None:
            raise UsageError(f"--base {ref} needs a git repository, and {path} is not in one")
        return gitio.resolve_commit(root, ref)
    return gitio.default_base(root) if root else None


@dataclass
class Histories:
    """The revision files of head (the work tree) and base, their graphs and what changed."""
    head_files: list[RevisionFile]
    history: History


def read_histories(scope: Scope) -> Histories:
    loader = RevisionLoader(scope.project, scope.base)  # reads each distinct file once, cached by git blob id
    head_files = loader.work_tree()  # as in the work tree: uncommitted edits count, as a developer expects
    base_files = loader.at_commit() if scope.base else []
    loader.close()
    changes = compare(base_files, head_files) if scope.base else [Change("added", f, None) for f in head_files]
    history = History(head=Graph(head_files), base=Graph(base_files) if scope.base else None, changes=changes)
    return Histories(head_files, history)


def history_findings(history: History) -> list[Finding]:
    return [f for rule in rules_of(HistoryRule) for f in rule.check(history)]


def history_verdicts(scope: Scope) -> list[Finding]:
    """The findings that need no code run: the revision graph, edited or deleted revisions, heads
    (ast and git only), with inline ignores and the settings applied. The fork pattern's
    privileged workflow computes these itself rather than trust a report made by the PR's code."""
    histories = read_histories(scope)
    sources = {f.path: RevisionSource(f.source) for f in histories.head_files}
    return settle(history_findings(histories.history), [], sources, scope.config)


def new_revisions(scope: Scope, history: History) -> list[RevisionFile]:
    """The added revision files to review, after start_after, unreadable ones included."""
    targets = [c.head for c in history.changes if c.status == "added"]
    if scope.config.start_after:
        anchor = history.head.resolve(scope.config.start_after)
        if anchor is None:
            raise UsageError(f"start_after names {scope.config.start_after!r}, which is not a revision of this history")
        old = history.head.ancestors(anchor)
        targets = [f for f in targets if f.revision not in old]
    return targets


def upgrade_ordered(targets: list[RevisionFile], graph: Graph) -> list[RevisionFile]:
    """The readable targets in upgrade order; duplicates of a revision id keep their place after."""
    readable = {f.revision: f for f in targets if not f.error and f.revision}
    ordered = [readable[r] for r in graph.upgrade_order(set(readable))]
    placed = {id(f) for f in ordered}  # by identity: comparing dataclasses field by field is quadratic
    return ordered + [f for f in readable.values() if id(f) not in placed]


def unreadable_findings(files: list[RevisionFile]) -> list[Finding]:
    rule = RULES["render-error"]
    return [rule.finding(f"could not read the revision: {f.error}", path=f.path, line=f.error_line,
                         revision=f.revision)
            for f in files if f.error]


def mark_managed(item: Reviewed, source: RevisionSource) -> None:
    """COMMIT/BEGIN rendered at a `with ...autocommit_block():` line are Alembic's own, not the revision's."""
    lines = source.autocommit_lines
    for stmt in item.parsed.statements:
        if stmt.kind == "TransactionStmt" and stmt.line in lines:
            stmt.managed = True


def _prepare(targets: list[RevisionFile], sources: dict[str, RevisionSource], fixes: bool, also=None,
             precompile=None) -> None:
    """What the steps after rendering need and can have before it: run while the children render.
    `precompile(f, source)`: hands the children each revision's code, compiled from the tree parsed here."""
    from linters.live import review as _live  # noqa: F401  (the models check, run after the rules)
    for f in targets:
        source = sources[f.path]
        source.tree, source.autocommit_lines  # noqa: B018  (parsed once, cached)
        if precompile is not None:
            precompile(f, source)
    if fixes and any(may_suggest(f.source) for f in targets):
        load_libcst()  # ~130 ms: only when a fix may be written
    if also is not None:
        also()


def render_and_parse(scope: Scope, ordered: list[RevisionFile], sources: dict[str, RevisionSource],
                     judge: Judge, on_progress=None, while_rendering=None) -> tuple[list[Reviewed], list[Finding]]:
    """Render `ordered` in the sandboxed children and parse each revision's SQL as it arrives. With
    --all (no base) each revision is also judged then, as its own deploy: those findings come back
    with the reviewed revisions."""
    project, config = scope.project, scope.config
    # A PR's downgrades are reviewed; --all reviews them only when asked (a fifth of its time), or
    # in live mode, whose round trip runs them.
    both = scope.base is not None or config.downgrades or scope.live is not None
    directions = ("upgrade", "downgrade") if both else ("upgrade",)
    renderer = Renderer([project.root, project.project_dir, project.script_dir, *project.sys_path],
                        timeout=config.render_timeout, pg_version=config.pg_version, directions=directions,
                        python=config.python, env_imports=imported_modules(project.script_dir))
    by_path = {str(project.root / f.path): f for f in ordered}
    parsed: dict[str, Reviewed] = {}
    judged: list[Finding] = []

    def parse(path: str, result: RenderResult) -> None:
        f = by_path[path]
        item = parsed[path] = Reviewed(f, result, parse_chunks(result.chunks))
        for stmt in item.parsed.statements:
            stmt.revision, stmt.path = f.revision, f.path
        mark_managed(item, sources[f.path])
        note_old_types(item.parsed.statements, f.source)
        if scope.base is None:  # its own deploy: judged, and summed up, while the children render the rest
            judged.extend(judge.alone(item))
            item.operations = summarize([item], config.pg_version, one_run=False)[f.path]

    def precompile(f: RevisionFile, source: RevisionSource) -> None:
        renderer.precompile(str(project.root / f.path), f.blob, f.source, source.tree)

    renderer.render(list(by_path), on_done=on_progress, on_result=parse,
                    while_waiting=lambda: _prepare(ordered, sources, scope.base is not None, while_rendering,
                                                   precompile))
    if again := [item for item in parsed.values() if needs_history_schema(item)]:
        retried = {item.file.path for item in again}
        judged[:] = [f for f in judged if f.path not in retried]
        render_with_history_schema(renderer, again, list(parsed.values()), judge.graph, project.root, parse)
    return [parsed[path] for path in by_path], judged


MEMORY_ADDRESS = re.compile(r" (?:object )?at 0x[0-9a-fA-F]+")


def render_findings(item: Reviewed) -> list[Finding]:
    rule = RULES["render-error"]
    out = render_notes(item)
    for error in item.render.errors:
        stage = error["stage"]
        if downgrade_raises_not_implemented(error) or deliberate_raise(item.file.source, error):
            continue  # a deliberate one-way revision: irreversible-downgrade and missing-downgrade say so
        # `<... object at 0x7f...>` in an exception (SQLAlchemy's) differs on every run: the comment would change
        message = MEMORY_ADDRESS.sub("", error["message"])
        out.append(rule.finding(
            f"could not render {'the revision' if stage in ('import', 'timeout', 'crash') else stage + '()'}: {message}",
            path=item.file.path, line=error.get("line"), revision=item.file.revision,
            direction="downgrade" if stage == "downgrade" else "upgrade",
        ))
    for failure in item.parsed.failures:
        out.append(rule.finding(
            f"PostgreSQL cannot parse the SQL this call emits: {failure.message}",
            path=item.file.path, line=failure.line, revision=item.file.revision, statement=failure.sql,
            direction=failure.direction,
        ))
    return out


def revision_findings(reviewed: list[Reviewed], config: Config) -> list[Finding]:
    """Rules about a revision as a whole (missing-downgrade)."""
    return [f for rule in rules_of(RevisionRule) if config.enabled(rule.id) for item in reviewed for f in rule.check(item)]


def judged_after_rendering(scope: Scope, history: History, reviewed: list[Reviewed], judge: Judge,
                           sources: dict[str, RevisionSource]) -> list[Finding]:
    """A PR's run judged together, the revision rules, and the models check (live mode when asked)."""
    from linters.live.review import model_and_database_findings
    one_run = scope.base is not None  # a PR's new revisions deploy together; with --all each on its own
    found = judge.together(reviewed) if one_run else []
    found += revision_findings(reviewed, scope.config)
    found += model_and_database_findings(scope.live, scope.project, scope.config, history.head, reviewed,
                                         one_run=one_run)
    locate_and_suggest(found, sources, fixes=one_run)
    return found


def settle(findings: list[Finding], reviewed: list[Reviewed], sources: dict[str, RevisionSource],
           config: Config) -> list[Finding]:
    """Inline ignores, then the settings (enabled rules, severities), in report order."""
    fully_reviewed = {item.file.path for item in reviewed if not item.render.errors and not item.parsed.failures}
    findings = suppress(findings, {p: sources[p] for p in {f.path for f in findings} | fully_reviewed if p in sources},
                        {item.file.path: item.parsed.statements for item in reviewed}, fully_reviewed, config.enabled)
    findings = absorb_drop_column(apply_config(findings, config))
    findings.sort(key=_report_order)
    return findings


def _report_order(f: Finding) -> tuple:
    return f.path or "", f.line or 0, -f.severity.rank, f.rule


def sized(findings: list[Finding], reviewed: list[Reviewed], scope: Scope) -> list[Finding]:
    """With a table-statistics snapshot: each finding's impact, and the severity its table's size calls for."""
    if scope.stats is None:
        return findings
    return sorted(with_impact(findings, reviewed, scope.stats, scope.config, one_run=scope.base is not None),
                  key=_report_order)
def squawk_findings(scope: Scope, reviewed: list[Reviewed], findings: list[Finding],
                    sources: dict[str, RevisionSource], setup: RunSetup):
    """--squawk: squawk-cli over the same SQL (linters/squawk.py). Marks our findings it agrees with;
    returns the opinion (for the tally) and its findings that are not ours, located like ours."""
    from linters.squawk import second_opinion
    timeouts = {"lock_timeout": setup.lock_timeout, "statement_timeout": setup.statement_timeout}
    opinion, theirs = second_opinion(reviewed, findings, [scope.project.project_dir, scope.project.root],
                                     scope.config.pg_version, timeouts)
    locate_and_suggest(theirs, sources, fixes=scope.base is not None)
    return opinion, theirs


def build_report(scope: Scope, history: History, reviewed: list[Reviewed], findings: list[Finding],
                 setup: RunSetup) -> Report:
    sql_by_path = {
        item.file.path: "\n".join(s.sql + ";" for s in item.parsed.statements if s.direction == "upgrade")
        for item in reviewed
    }
    ops = {item.file.path: item.operations for item in reviewed if item.operations is not None}
    ops.update(summarize([item for item in reviewed if item.operations is None], scope.config.pg_version,
                         one_run=scope.base is not None))
    entries = [
        RevisionEntry(revision=c.current.revision or "", path=c.current.path, status=c.status,
                      down_revisions=list(c.current.down_revisions), sql=sql_by_path.get(c.current.path),
                      title=title_of(c.current.source), operations=ops.get(c.current.path, []))
        for c in history.changes if c.status != "unchanged" or scope.base is None
    ]
    return Report(base=scope.base, pg_version=scope.config.pg_version, revisions=entries, findings=findings,
                  root=str(scope.project.root),
                  project={"transaction_per_migration": setup.transaction_per_migration,
                           "lock_timeout": setup.lock_timeout})


def review(scope: Scope, on_progress=None, while_rendering=None) -> Report:
    """Review the project of `scope`; `while_rendering()` (e.g. importing the reporter) runs while
    the render children work."""
    histories = read_histories(scope)
    history = histories.history
    findings = history_findings(history)
    targets = new_revisions(scope, history)
    findings += unreadable_findings(targets)
    ordered = upgrade_ordered(targets, history.head)

    sources = {f.path: RevisionSource(f.source) for f in histories.head_files}
    setup = RunSetup.of(scope.project, scope.config, [])
    judge = Judge(scope.config, setup, history.head, sources)
    reviewed, judged = render_and_parse(scope, ordered, sources, judge, on_progress, while_rendering)
    for item in reviewed:
        findings += render_findings(item)
    findings += judged + judged_after_rendering(scope, history, reviewed, judge, sources)
    opinion = None
    if scope.config.squawk:
        opinion, theirs = squawk_findings(scope, reviewed, findings, sources, judge.setup)
        findings += theirs
    findings = sized(settle(findings, reviewed, sources, scope.config), reviewed, scope)
    report = build_report(scope, history, reviewed, findings, setup)
    if opinion is not None:
        report.squawk = opinion.tally(report.findings)
    return report
