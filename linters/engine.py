"""The review pipeline, one direction: project -> histories -> change set -> render -> parse -> rules -> Report."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from linters import gitio
from linters.changes import Change, compare
from linters.config import Config, load_config
from linters.errors import UsageError
from linters.findings import Finding, Severity
from linters.history import Graph, RevisionFile, parse_revision
from linters.project import Project, find_project
from linters.render import Renderer, RenderResult
from linters.revision_files import RevisionLoader
from linters.report.model import Report, RevisionEntry
from linters.rules import RULES, Hit, rules_of_kind
from linters.rules.history_rules import History
from linters.sql import ParsedRevision, Statement, parse_chunks
from linters.state import RunState


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


@dataclass
class Reviewed:
    """One revision that was rendered and parsed."""
    file: RevisionFile
    render: RenderResult
    parsed: ParsedRevision = field(default_factory=ParsedRevision)


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
    config = load_config([project.project_dir, project.root], options.config_file)
    for name in ("pg_version", "fail_on", "select"):
        if getattr(options, name) is not None:
            setattr(config, name, getattr(options, name))
    if options.ignore:
        config.ignore = list(config.ignore) + options.ignore
    return config.validate(RULES)


def _finding_from_hit(rule, hit: Hit, stmt: Statement) -> Finding:
    return Finding(
        rule=rule.id, severity=rule.severity, message=hit.message, path=stmt.path, line=stmt.line or 1,
        revision=stmt.revision, statement=stmt.sql, table=hit.table, lock=hit.lock or rule.lock,
        hint=hit.hint or rule.recipe, suggestion=hit.suggestion, direction=stmt.direction,
    )


def deploy_runs(reviewed: list[Reviewed], one_run: bool) -> list[tuple[str, list[Reviewed]]]:
    """The upgrade runs in order and downgrade runs in reverse order.

    A pull request's new revisions deploy together in one `alembic upgrade`, so they share one run
    (a table created by the first is new for the second). With --all every revision is judged as
    its own deploy against the history before it.
    """
    groups = [reviewed] if one_run else [[item] for item in reviewed]
    return [("upgrade", g) for g in groups] + [("downgrade", list(reversed(g))) for g in reversed(groups)]


def sql_findings(reviewed: list[Reviewed], config: Config, one_run: bool) -> list[Finding]:
    """Run the SQL rules over every statement of each run, in the order PostgreSQL would see them."""
    rules = [r for r in rules_of_kind("sql") if config.enabled(r.id)]
    findings: list[Finding] = []
    for direction, revisions in deploy_runs(reviewed, one_run):
        state = RunState(pg_version=config.pg_version)
        for item in revisions:
            for stmt in item.parsed.statements:
                if stmt.direction != direction:
                    continue
                for rule in rules:
                    findings += [_finding_from_hit(rule, hit, stmt) for hit in rule.check(stmt, state)]
                state.apply(stmt)
    return findings


def render_findings(item: Reviewed) -> list[Finding]:
    rule = RULES["render-error"]
    out = []
    for error in item.render.errors:
        stage = error["stage"]
        out.append(Finding(
            rule=rule.id, severity=rule.severity, path=item.file.path, line=error.get("line") or 1,
            revision=item.file.revision, hint=rule.recipe,
            direction="downgrade" if stage == "downgrade" else "upgrade",
            message=f"could not render {'the revision' if stage in ('import', 'timeout', 'crash') else stage + '()'}: {error['message']}",
        ))
    for failure in item.parsed.failures:
        out.append(Finding(
            rule=rule.id, severity=rule.severity, path=item.file.path, line=failure.line or 1,
            revision=item.file.revision, hint=rule.recipe, statement=failure.sql, direction=failure.direction,
            message=f"PostgreSQL cannot parse the SQL this call emits: {failure.message}",
        ))
    return out


def unreadable_findings(files: list[RevisionFile]) -> list[Finding]:
    rule = RULES["render-error"]
    return [Finding(rule=rule.id, severity=rule.severity, path=f.path, line=f.error_line or 1,
                    revision=f.revision, hint=rule.recipe, message=f"could not read the revision: {f.error}")
            for f in files if f.error]


def apply_config(findings: list[Finding], config: Config) -> list[Finding]:
    kept = []
    for f in findings:
        if not config.enabled(f.rule):
            continue
        if f.rule in config.severity:
            f.severity = Severity(config.severity[f.rule])
        elif f.direction == "downgrade":
            f.severity = Severity.INFO  # downgrades run rarely, by hand: tell, don't block
        kept.append(f)
    return kept


def review(options: Options, on_progress=None) -> tuple[Report, Config]:
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
    for rule in rules_of_kind("history"):
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
    results = renderer.render([project.root / f.path for f in ordered], on_done=on_progress)
    reviewed = []
    for f in ordered:
        item = Reviewed(f, results[str(project.root / f.path)])
        item.parsed = parse_chunks(item.render.chunks)
        for stmt in item.parsed.statements:
            stmt.revision, stmt.path = f.revision, f.path
        reviewed.append(item)
        findings += render_findings(item)
    findings += sql_findings(reviewed, config, one_run=base is not None)
    from linters.live.review import model_and_database_findings  # models check; live mode when asked
    findings += model_and_database_findings(options, project, config, head_graph, reviewed, one_run=base is not None)
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
