"""Which revisions live mode applies, in Alembic's upgrade order, as parsed SQL statements.

The base history (every revision of the head graph that is not new) is rendered with the same
sandboxed renderer as the new revisions and replayed as SQL, not run through env.py: env.py
needs the user's settings and often an async driver, and replaying the rendered SQL is exactly
what the static review judged. The new revisions reuse the engine's render.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from linters.history import Graph, RevisionFile
from linters.project import Project
from linters.model import RenderResult
from linters.render import Renderer
from linters.sql import ParsedRevision, Statement, parse_chunks


@dataclass
class RevisionSql:
    file: RevisionFile
    statements: dict[str, list[Statement]] = field(default_factory=dict)  # direction -> statements
    problems: dict[str, tuple[str, int | None]] = field(default_factory=dict)  # direction -> (why not, line)

    @property
    def revision(self) -> str:
        return self.file.revision or self.file.path

    def line_of(self, function: str) -> int:
        """Line of `def upgrade` / `def downgrade`, where whole-revision findings point."""
        for node in (self.file.tree.body if self.file.tree else []):
            if getattr(node, "name", None) == function:
                return node.lineno
        return 1


@dataclass
class Plan:
    before: list[RevisionSql]   # base history, applied first, not traced
    targets: list[RevisionSql]  # the new revisions: traced, round-tripped
    after: list[RevisionSql]    # base revisions that need a new one first (rare)


def revision_sql(file: RevisionFile, render: RenderResult, parsed: ParsedRevision) -> RevisionSql:
    item = RevisionSql(file)
    for direction in ("upgrade", "downgrade"):
        item.statements[direction] = [s for s in parsed.statements if s.direction == direction]
        for stmt in item.statements[direction]:
            stmt.revision, stmt.path = file.revision, file.path
    for error in render.errors:
        stages = ("upgrade", "downgrade") if error["stage"] in ("import", "timeout", "crash", "render") else (error["stage"],)
        for direction in stages:
            item.problems.setdefault(direction, (f"could not be rendered: {error['message']}", error.get("line")))
    # Rendered, but not replayable as it is: SQL computed from an empty database, placeholder types,
    # operations skipped. Live mode runs such a revision itself (online, through alembic) when it can.
    offline_only = []
    if render.live_data:
        offline_only.append((f"read the database (offline it was empty) at line {render.live_data['line']}",
                             render.live_data["line"]))
    if render.stand_ins:
        offline_only.append((f"was rendered with stand-ins for {', '.join(render.stand_ins)}", render.stand_ins_line))
    offline_only += [(f"skipped op.{u['op']}", u["line"]) for u in render.unreviewed]
    for why, line in offline_only[:1]:
        for direction in ("upgrade", "downgrade"):
            item.problems.setdefault(direction, (f"could not be rendered as it runs: it {why}", line))
    for failure in parsed.failures:
        item.problems.setdefault(failure.direction, (f"emits SQL PostgreSQL cannot parse: {failure.message}", failure.line))
    for direction in render.missing:
        item.statements[direction] = []
    return item


def build_plan(project: Project, graph: Graph, reviewed: list, renderer: Renderer) -> Plan:
    """`reviewed`: the engine's rendered new revisions (objects with .file, .render, .parsed)."""
    targets = [revision_sql(r.file, r.render, r.parsed) for r in reviewed if r.file.revision]
    target_ids = {t.file.revision for t in targets}
    base_ids = [rid for rid in graph.upgrade_order() if rid not in target_ids]
    files = [graph.by_id[rid] for rid in base_ids]
    results = renderer.render([project.root / f.path for f in files]) if files else {}
    base = {f.revision: revision_sql(f, res, parse_chunks(res.chunks))
            for f in files if (res := results.get(str(project.root / f.path)))}
    before, after = [], []
    for rid in base_ids:
        if rid in base:
            needs_new = bool(graph.ancestors(rid) & target_ids)
            (after if needs_new else before).append(base[rid])
    return Plan(before=before, targets=targets, after=after)
