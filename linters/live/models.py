"""The user's SQLAlchemy models, loaded in a sandboxed child (linters/live/models_child.py).

Which metadata: `[tool.alembic-review] metadata = "pkg.module:Base.metadata"` (a string or a
list), else the `target_metadata = ...` of env.py read statically (linters/live/target_metadata.py).
The child gets the same sandbox as the renderer (linters/render.py `_isolate`: rlimits, no
network, emptied environment); for the drift check it reaches the scratch database through a
Unix socket we forward (linters/live/proxy.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import linters
from linters.live.target_metadata import MetadataFacts, read_target_metadata
from linters.live.proxy import UnixProxy
from linters.project import Project
from linters.render import _isolate

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


def _child_env(workdir: str) -> dict:
    return {"PATH": os.defpath, "LANG": "C.UTF-8", "HOME": workdir, "TMPDIR": workdir,
            "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0"}


def load_models(project: Project, specs: list[str], source: str, preload: list[str], *,
                database: dict | None = None, options: dict | None = None, timeout: float = TIMEOUT) -> Models:
    """Import the models in the sandbox; with `database` (libpq parameters), also compare them."""
    models = Models(specs=specs, source=source)
    package_parent = str(Path(linters.__file__).resolve().parent.parent)
    bootstrap = f"import sys; sys.path.append({package_parent!r}); from linters.live.models_child import main; main()"
    request = {"sys_path": [str(p) for p in project_roots(project)], "metadata": specs,
               "preload": preload, "options": options or {}}
    with tempfile.TemporaryDirectory(prefix="alembic-review-models-") as workdir:
        proxy = None
        if database:
            host = database.get("host") or "localhost"
            port = int(database.get("port") or 5432)
            if host.startswith("/"):  # already a Unix socket directory: the child can use it as is
                request["database"] = database
            else:
                proxy = UnixProxy(Path(workdir), port, database.get("hostaddr") or host, port)
                request["database"] = {**{k: v for k, v in database.items() if k not in ("hostaddr", "sslmode")},
                                       "host": workdir, "port": str(port)}
        try:
            proc = subprocess.run([sys.executable, "-I", "-c", bootstrap], cwd=workdir, env=_child_env(workdir),
                                  input=json.dumps(request) + "\n", capture_output=True, text=True,
                                  timeout=timeout, preexec_fn=_isolate)
        except subprocess.TimeoutExpired:
            models.error = f"importing the models took longer than {timeout:g}s"
            return models
        finally:
            if proxy:
                proxy.close()
    try:
        reply = json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        models.error = f"the models process ended without an answer (exit code {proc.returncode})"
        return models
    if not reply.get("ok"):
        what = "load the models" if reply.get("stage") == "import" else "compare the models with the database"
        models.error = f"could not {what} ({', '.join(specs)} from {source}): {reply.get('message')}"
        return models
    models.tables = reply["tables"]
    models.diffs = reply.get("diffs")
    return models
