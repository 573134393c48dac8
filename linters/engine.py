"""The review pipeline, one direction: project -> histories -> change set -> render -> parse -> rules -> Report."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from linters import gitio
from linters.changes import Change, compare
from linters.config import Config, load_config, with_flags
from linters.errors import UsageError
from linters.findings import Finding
from linters.history import Graph, RevisionFile
from linters.project import Project, find_project
from linters.render import Renderer
from linters.revision_files import RevisionLoader
from linters.report.model import Report, RevisionEntry
from linters.rules import RULES, HistoryRule, RevisionRule, rules_of
from linters.model import History, RenderResult, Reviewed
from linters.sql import ParsedRevision, parse_chunks
from linters.rules.revision_rules import downgrade_raises_not_implemented
from linters.sourcemap import RevisionSource
from linters.sqlrun import RunSetup, apply_config
from linters.judge import Judge, locate_and_suggest
from linters.suggest import load_libcst, may_suggest
from linters.suppress import suppress


@dataclass
class Options:
    path: Path = Path(".")
    base: str | None = None
    all: bool = False
    config_file: Path | None = None
    pg_version: int | None = None
    fail_on: str | None = None
    select: list[str] | None = None
    ignore: list[str] | None = None
    progress: bool = False
    database_url: str | None = None  # live mode (linters/live/): replay the migrations on this server
    live: bool = False               # live mode on a throwaway cluster from initdb/pg_ctl


def head_revision_files(project: Project) -> list[RevisionFile]:
    """Revision files as they are in the work tree (uncommitted edits count, as a developer expects)."""
    return RevisionLoader(project).work_tree()


def base_revision_files(project: Project, base: str) -> list[RevisionFile]:
    return RevisionLoader(project).at_commit(base)


def resolve_base(options: Options, root: Path | None) -> str | None:
    if options.all:
        return None
    if options.base:
        if root is None:
            raise UsageError(f"--base {options.base} needs a git repository, and {options.path} is not in one")
        return gitio.resolve_commit(root, options.base)
    return gitio.default_base(root) if root else None


def effective_config(project: Project, options: Options) -> Config:
    return with_flags(load_config([project.project_dir, project.root], options.config_file), options).validate(RULES)


def revision_findings(reviewed: list[Reviewed], config: Config) -> list[Finding]:
    """Rules about a revision as a whole (missing-downgrade)."""
    findings: list[Finding] = []
    for rule in rules_of(RevisionRule):
        if config.enabled(rule.id):
            for item in reviewed:
                findings += list(rule.check(item))
    return findings


def mark_managed(item: Reviewed, source: RevisionSource) -> None:
    """COMMIT/BEGIN rendered at a `with ...autocommit_block():` line are Alembic's own, not the revision's."""
    lines = source.autocommit_lines
    for stmt in item.parsed.statements:
        if stmt.kind == "TransactionStmt" and stmt.line in lines:
            stmt.managed = True


def render_findings(item: Reviewed) -> list[Finding]:
    rule = RULES["render-error"]
    out = []
    for error in item.render.errors:
        stage = error["stage"]
        if downgrade_raises_not_implemented(error):
            continue  # a deliberate one-way revision: missing-downgrade says so
        out.append(rule.finding(
            f"could not render {'the revision' if stage in ('import', 'timeout', 'crash') else stage + '()'}: {error['message']}",
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


def unreadable_findings(files: list[RevisionFile]) -> list[Finding]:
    rule = RULES["render-error"]
    return [rule.finding(f"could not read the revision: {f.error}", path=f.path, line=f.error_line,
                         revision=f.revision)
            for f in files if f.error]


def _prepare(targets: list[RevisionFile], sources: dict[str, RevisionSource], also=None) -> None:
    """What the steps after rendering need and can have before it: run while the children render."""
    from linters.live import review as _live  # noqa: F401  (the models check, run after the rules)
    for f in targets:
        source = sources[f.path]
        source.tree, source.autocommit_lines  # noqa: B018  (parsed once, cached)
    if any(may_suggest(f.source) for f in targets):
        load_libcst()  # ~130 ms: only when a fix may be written
    if also is not None:
        also()


def review(options: Options, on_progress=None, while_rendering=None) -> tuple[Report, Config]:
    """Review the project at options.path; `while_rendering()` (e.g. importing the reporter) runs
    while the render children work."""
    start = Path(options.path)
    if not start.exists():
        raise UsageError(f"path not found: {start}")
    root = gitio.repo_root(start.resolve() if start.is_dir() else start.resolve().parent)
    project = find_project(start, root)
    config = effective_config(project, options)
    base = resolve_base(options, root)

    loader = RevisionLoader(project, base)  # reads each distinct file once, cached by git blob id
    head_files = loader.work_tree()
    base_files = loader.at_commit() if base else []
    loader.close()
    head_graph = Graph(head_files)
    changes = compare(base_files, head_files) if base else [Change("added", f, None) for f in head_files]
    history = History(head=head_graph, base=Graph(base_files) if base else None, changes=changes)

    findings: list[Finding] = []
    for rule in rules_of(HistoryRule):
        findings += list(rule.check(history))

    targets = [c.head for c in changes if c.status == "added"]
    if config.start_after:
        anchor = head_graph.resolve(config.start_after)
        if anchor is None:
            raise UsageError(f"start_after names {config.start_after!r}, which is not a revision of this history")
        old = head_graph.ancestors(anchor)
        targets = [f for f in targets if f.revision not in old]
    findings += unreadable_findings(targets)
    readable = {f.revision: f for f in targets if not f.error and f.revision}
    ordered = [readable[r] for r in head_graph.upgrade_order(set(readable))]
    placed = {id(f) for f in ordered}  # by identity: comparing dataclasses field by field is quadratic
    ordered += [f for f in readable.values() if id(f) not in placed]  # duplicates keep their place

    renderer = Renderer([project.root, project.project_dir, project.script_dir, *project.sys_path],
                        timeout=config.render_timeout, pg_version=config.pg_version)
    sources = {f.path: RevisionSource(f.source) for f in head_files}
    by_path = {str(project.root / f.path): f for f in ordered}
    parsed: dict[str, Reviewed] = {}
    one_run = base is not None  # a PR's new revisions deploy together; with --all each on its own
    judge = Judge(config, RunSetup.of(project, config, []), head_graph, sources)
    early: list[Finding] = []  # SQL findings of runs judged while the others still render

    def parse(path: str, result: RenderResult) -> None:  # each revision's SQL, as soon as it is rendered
        f = by_path[path]
        item = parsed[path] = Reviewed(f, result, parse_chunks(result.chunks))
        for stmt in item.parsed.statements:
            stmt.revision, stmt.path = f.revision, f.path
        mark_managed(item, sources[f.path])
        if not one_run:
            early.extend(judge.alone(item))

    renderer.render(list(by_path), on_done=on_progress, on_result=parse,
                    while_waiting=lambda: _prepare(ordered, sources, while_rendering))
    reviewed = [parsed[path] for path in by_path]
    for item in reviewed:
        findings += render_findings(item)
    later = judge.together(reviewed) if one_run else []
    later += revision_findings(reviewed, config)
    from linters.live.review import model_and_database_findings  # models check; live mode when asked
    later += model_and_database_findings(options, project, config, head_graph, reviewed, one_run=one_run)
    locate_and_suggest(later, sources)
    findings += early + later
    fully_reviewed = {item.file.path for item in reviewed if not item.render.errors and not item.parsed.failures}
    findings = suppress(findings, {p: sources[p] for p in {f.path for f in findings} | fully_reviewed if p in sources},
                        {item.file.path: item.parsed.statements for item in reviewed}, fully_reviewed, config.enabled)
    findings = apply_config(findings, config)
    findings.sort(key=lambda f: (f.path or "", f.line or 0, -f.severity.rank, f.rule))

    sql_by_path = {
        item.file.path: "\n".join(s.sql + ";" for s in item.parsed.statements if s.direction == "upgrade")
        for item in reviewed
    }
    entries = [
        RevisionEntry(revision=c.current.revision or "", path=c.current.path, status=c.status,
                      down_revisions=list(c.current.down_revisions), sql=sql_by_path.get(c.current.path))
        for c in changes if c.status != "unchanged" or options.all or base is None
    ]
    report = Report(base=base, pg_version=config.pg_version, revisions=entries, findings=findings,
                    root=str(project.root))
    return report, config
