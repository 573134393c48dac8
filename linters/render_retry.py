"""Render again, against the schema the history built, the revisions whose upgrade failed after they
read the database.

Revisions are rendered in parallel, each against an empty offline database: a data migration that
reflects (`MetaData.reflect(bind)` then `meta.tables["block_type"]`, `Table("signal", meta,
autoload_with=bind)`) finds no table and fails. Those few are rendered a second time with the
tables and columns their ancestors' upgrade SQL creates (linters/history_schema.py). Ancestors that
were not rendered (a pull request renders only its new revisions) are rendered first, upgrade only.
"""

from __future__ import annotations

import copy
from pathlib import Path

from linters.history import Graph
from linters.history_schema import schema_before
from linters.model import Reviewed
from linters.render import Renderer
from linters.sql import parse_chunks


def needs_history_schema(item: Reviewed) -> bool:
    """Its upgrade raised after it asked the empty offline database something (a table it reflects is not
    there). Revisions that inspected the schema and rendered are not rendered again: on neutron's history
    (40 of 132 inspect) that costs a fifth more time, for the few whose DDL hangs on the answer."""
    live = item.render.live_data
    return live is not None and not live.get("schema") and any(e["stage"] == "upgrade" for e in item.render.errors)


def _ancestors_in_order(graph: Graph, revision: str) -> list[str]:
    before = graph.ancestors(revision) - {revision}
    return graph.upgrade_order(before) if before else []


def schemas_before(items: list[Reviewed], rendered: dict[str, list], graph: Graph) -> dict[str, dict]:
    """For each of `items` (by absolute render path): the schema its ancestors' statements build.
    `rendered`: revision id -> its parsed statements."""
    schemas = {}
    for item in items:
        order = _ancestors_in_order(graph, item.file.revision) if item.file.revision else []
        schemas[item.render.path] = schema_before(s for rid in order for s in rendered.get(rid, ()))
    return schemas


def render_with_history_schema(renderer: Renderer, items: list[Reviewed], reviewed: list[Reviewed],
                               graph: Graph, root: Path, on_result) -> None:
    """Render `items` again with the schema before each; `on_result(path, result)` as Renderer.render's."""
    rendered = {r.file.revision: r.parsed.statements for r in reviewed if r.file.revision}
    needed = {rid for item in items if item.file.revision for rid in _ancestors_in_order(graph, item.file.revision)}
    missing = [str(root / graph.by_id[rid].path) for rid in graph.upgrade_order(needed - set(rendered))] if needed else []
    if missing:
        upgrade_only = copy.copy(renderer)
        upgrade_only.directions, upgrade_only.schemas = ("upgrade",), {}
        by_path = {str(root / graph.by_id[rid].path): rid for rid in needed - set(rendered)}
        for path, result in upgrade_only.render(missing).items():
            rendered[by_path[path]] = parse_chunks(result.chunks).statements
    again = copy.copy(renderer)
    again.schemas = schemas_before(items, rendered, graph)
    again.render([item.render.path for item in items], on_result=on_result)
