"""The one entry point the engine calls after its static review: the models check, and with
--database-url / --live the replay on a real PostgreSQL.

Order on the scratch database:
  1. the base history (untraced), each revision in its own transaction; a revision that cannot
     be rendered offline (it reads through op.get_bind()) is run online through Alembic instead;
  2. the new revisions, as one deploy (one transaction, or one per revision with
     transaction_per_migration in env.py), statement by statement, traced;
  3. at head: the models compared with the database (schema-drift), and the models' columns
     against the new revisions' drops and renames (drop-mapped-column);
  4. upgrade -> downgrade -> upgrade of every new revision (irreversible-revision).
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from linters.envpy import read_env_file
from linters.live.drift import drift_findings
from linters.live.findings import finding
from linters.live.mapped import anything_removed, mapped_column_findings, upgrade_runs
from linters.live.models import Models, load_models, metadata_facts, metadata_specs, project_roots
from linters.live.plan import RevisionSql, build_plan
from linters.live.sandbox import run_child
from linters.model import LiveTarget
from linters.render import Renderer


@contextmanager
def database_url(live: LiveTarget) -> Iterator[str]:
    """--database-url as given, or --live: a throwaway cluster for the length of the review."""
    if live.database_url:
        yield live.database_url
        return
    from linters.live.cluster import throwaway_cluster
    with throwaway_cluster() as url:
        yield url


def _transaction_per_migration(project, config) -> bool:
    """As the static run decides it: [tool.alembic-review] transaction_per_migration, else env.py."""
    configured = config.transaction_per_migration
    if configured is not None:
        return configured
    return read_env_file(project.script_dir).transaction_per_migration


def model_and_database_findings(live_target: LiveTarget | None, project, config, graph, reviewed,
                                one_run: bool) -> list:
    """The models check (static, when the models can be loaded) and, with `live_target`, live mode."""
    facts = metadata_facts(project)
    configured = config.metadata
    specs, source = metadata_specs(configured, facts, project)
    preload = [] if configured else facts.preload
    runs = upgrade_runs([item.parsed.statements for item in reviewed], one_run)
    live = live_target is not None
    env_rel = project.rel(facts.path) if facts.path and facts.path.is_file() else None
    where = (_config_path(config, project), 1) if configured else (env_rel, facts.metadata_line)
    findings: list = []
    models: Models | None = None

    if live:
        from linters.live.scratch import ScratchDatabase, scratch_database  # psycopg: only for live mode
        from linters.live.session import live_review
        renderer = Renderer([project.root, project.project_dir, project.script_dir, *project.sys_path],
                            timeout=config.render_timeout, pg_version=config.pg_version, directions=("upgrade",),
                            python=config.python)
        plan = build_plan(project, graph, reviewed, renderer)
        head = plan.targets[-1] if plan.targets else (plan.before[-1] if plan.before else None)
        fallback = (head.file.path, head.line_of("upgrade")) if head else where

        def load_at_head(db: ScratchDatabase) -> Models | None:
            if not specs:
                return None
            loaded = load_models(project, specs, source, preload, database=db.params, options=facts.options)
            if loaded.diffs:
                findings.extend(drift_findings(loaded.diffs, loaded.tables, project.root, fallback))
            return loaded

        with database_url(live_target) as url, scratch_database(url) as db:
            def apply_online(rev: RevisionSql):
                reply = run_child("linters.live.online_child",
                                  {"sys_path": [str(p) for p in project_roots(project)],
                                   "path": str(project.root / rev.file.path), "direction": "upgrade"},
                                  timeout=max(config.render_timeout, 60), database=db.params)
                return reply.get("ok", False), reply.get("message"), reply.get("line")

            live_found, models = live_review(db, plan, one_run=one_run,
                                             per_migration=_transaction_per_migration(project, config),
                                             load_at_head=load_at_head, apply_online=apply_online)
            findings += live_found
        if not specs and facts.unresolved:
            findings.append(finding("live-incomplete", f"target_metadata = {facts.unresolved} cannot be followed "
                                    "without running env.py, so the models were not compared with the database; "
                                    'set metadata = "pkg.module:Base.metadata" in [tool.alembic-review]',
                                    path=where[0], line=where[1]))

    if specs and (models is None or models.error) and anything_removed(runs):
        models = load_models(project, specs, source, preload)
    if models is not None and models.error:
        if live or configured:  # asked for: say why it did not happen; plain static runs stay quiet
            findings.append(finding("live-incomplete", models.error, path=where[0], line=where[1]))
    elif models is not None:
        findings += mapped_column_findings(runs, models.tables, project.root)
    return findings


def _config_path(config, project) -> str | None:
    if not config.source:
        return None
    try:
        return Path(config.source).resolve().relative_to(project.root.resolve()).as_posix()
    except ValueError:
        return None
