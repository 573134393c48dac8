"""The user's SQLAlchemy models, loaded in a sandboxed child (linters/live/models_child.py).

Which metadata: `[tool.alembic-review] metadata = "pkg.module:Base.metadata"` (a string or a
list), else the `target_metadata = ...` of env.py read statically (linters/live/target_metadata.py).
The child runs in the renderer's sandbox (linters/live/sandbox.py); for the drift check it
reaches the scratch database through a Unix socket we forward (linters/live/proxy.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from linters.live.sandbox import run_child
from linters.live.target_metadata import MetadataFacts, read_target_metadata
from linters.project import Project

TIMEOUT = 120.0


@dataclass
class Models:
    specs: list[str]
    source: str                               # where the specs came from, for messages
    tables: dict[str, dict] = field(default_factory=dict)  # "schema.table" -> columns, file, line
    diffs: list[dict] | None = None           # compare_metadata results (live mode)
    error: str | None = None                  # why they could not be loaded or compared


def project_roots(project: Project) -> list[Path]:
    """The sys.path the revisions and env.py see (the same list the renderer gets)."""
    roots = []
    for p in [project.root, project.project_dir, project.script_dir, *project.sys_path]:
        if p not in roots:
            roots.append(p)
    return roots


def metadata_facts(project: Project) -> MetadataFacts:
    return read_target_metadata(project.script_dir / "env.py", project_roots(project))


def metadata_specs(configured, facts: MetadataFacts, project: Project) -> tuple[list[str], str]:
    """(specs, where they came from); no specs when neither the config nor env.py names one."""
    if configured:
        return ([configured] if isinstance(configured, str) else list(configured)), "[tool.alembic-review] metadata"
    if facts.metadata:
        return facts.metadata, f"target_metadata in {project.rel(facts.path)}"
    return [], ""


def load_models(project: Project, specs: list[str], source: str, preload: list[str], *,
                database: dict | None = None, options: dict | None = None, timeout: float = TIMEOUT) -> Models:
    """Import the models in the sandbox; with `database` (libpq parameters), also compare them."""
    models = Models(specs=specs, source=source)
    request = {"sys_path": [str(p) for p in project_roots(project)], "metadata": specs,
               "preload": preload, "options": options or {}}
    reply = run_child("linters.live.models_child", request, timeout=timeout, database=database)
    if not reply.get("ok"):
        what = "load the models" if reply.get("stage") != "compare" else "compare the models with the database"
        models.error = f"could not {what} ({', '.join(specs)} from {source}): {reply.get('message')}"
        return models
    models.tables = reply["tables"]
    models.diffs = reply.get("diffs")
    return models
