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

from linters.live.apply import ApplyError, Executor, NoTracer
from linters.live.catalog import snapshot
from linters.live.drift import drift_findings
from linters.live.findings import at_statement, finding
from linters.live.mapped import anything_removed, mapped_column_findings, upgrade_runs
from linters.live.models import Models, load_models, metadata_facts, metadata_specs, project_roots
from linters.live.plan import Plan, RevisionSql, build_plan
from linters.live.roundtrip import round_trip
from linters.live.sandbox import run_child
from linters.live.scratch import ScratchDatabase, scratch_database
from linters.live.trace import Observation, Tracer, describe, mismatches, strongest, worth_reporting
from linters.render import Renderer


@contextmanager
def database_url(options) -> Iterator[str]:
    """--database-url as given, or --live: a throwaway cluster for the length of the review."""
    if options.database_url:
        yield options.database_url
        return
    from linters.live.cluster import throwaway_cluster
    with throwaway_cluster() as url:
        yield url


def _transaction_per_migration(project, config) -> bool:
    """As the static run decides it: [tool.alembic-review] transaction_per_migration, else env.py."""
    configured = getattr(config, "transaction_per_migration", None)
    if configured is not None:
        return configured
    try:
        from linters.envpy import read_env_file  # shared with the transaction rules
    except ImportError:  # an engine without the transaction rules: our own keyword reading
        return metadata_facts(project).options["transaction_per_migration"]
    return read_env_file(project.script_dir).transaction_per_migration


class _Recorder(Tracer):
    """The tracer, plus catalog snapshots around each new revision's first upgrade."""

    def __init__(self, pg_version: int, observer):
        super().__init__(pg_version, observer)
        self.schema_before: dict[str, dict] = {}
        self.schema_after: dict[str, dict] = {}

    def revision_start(self, conn, revision, direction) -> None:
        self.schema_before[revision.revision] = snapshot(conn)

    def revision_end(self, conn, revision, direction) -> None:
        self.schema_after[revision.revision] = snapshot(conn)


def trace_findings(observations: list[Observation]) -> list:
    out = []
    for obs in observations:
        existing = obs.touched_existing()
        table = existing[0] if existing else None
        if worth_reporting(obs):
            out.append(at_statement("live-lock-trace", describe(obs), obs.stmt, table=table,
                                    lock=strongest(obs.took.get(table, ())) if table else None))
        if wrong := mismatches(obs):
            out.append(at_statement("lock-prediction-mismatch", "; ".join(wrong) + f". {describe(obs)}",
                                    obs.stmt, table=table))
    return out


def _stopped(rev: RevisionSql, why: str, line: int | None = None, *, base: bool):
    what = f"base revision {rev.revision}" if base else f"revision {rev.revision}"
    return finding("live-incomplete", f"{what} {why}; live checks after it were skipped",
                   path=rev.file.path, line=line or rev.line_of("upgrade"), revision=rev.file.revision)


class LiveRun:
    def __init__(self, db: ScratchDatabase, plan: Plan, *, one_run: bool, per_migration: bool, apply_online=None):
        self.db, self.plan, self.one_run, self.per_migration = db, plan, one_run, per_migration
        self.apply_online = apply_online  # (revision) -> (ok, message, line): Alembic on a live connection
        self.findings: list = []

    def _apply_untraced(self, executor: Executor, revisions: list[RevisionSql], base: bool) -> bool:
        for rev in revisions:
            if "upgrade" in rev.problems:
                why, line = rev.problems["upgrade"]
                if self.apply_online is not None:
                    # A data migration that reads through op.get_bind() renders only online:
                    # run it the way `alembic upgrade` would, on the scratch database.
                    ok, message, online_line = self.apply_online(rev)
                    if ok:
                        continue
                    why, line = f"{why}, and fails when run online too: {message}", online_line or line
                self.findings.append(_stopped(rev, why, line, base=base))
                return False
            try:
                executor.run([rev], "upgrade")
            except ApplyError as exc:
                self.findings.append(_stopped(rev, f"fails on PostgreSQL: {exc.message}", exc.stmt.line, base=base))
                return False
        return True

    def _deploys(self) -> list[list[RevisionSql]]:
        groups = [self.plan.targets] if self.one_run else [[t] for t in self.plan.targets]
        return [run for group in groups for run in ([[r] for r in group] if self.per_migration else [group]) if run]

    def upgrade(self, executor: Executor) -> tuple[list[RevisionSql], _Recorder, bool]:
        """Apply the new revisions, traced. Returns (applied, recorder, reached head)."""
        recorder = _Recorder(self.db.major, observer=self.db.connect)
        executor.tracer = recorder
        applied: list[RevisionSql] = []
        try:
            for run in self._deploys():
                broken = next((r for r in run if "upgrade" in r.problems), None)
                if broken is not None:
                    run = run[:run.index(broken)]
                recorder.start_run(executor.conn)
                try:
                    executor.run(run, "upgrade")
                except ApplyError as exc:
                    self.findings.append(at_statement("live-apply-error", f"fails on PostgreSQL: {exc.message}", exc.stmt))
                    return applied, recorder, False
                applied += run
                if broken is not None:
                    why, line = broken.problems["upgrade"]
                    self.findings.append(_stopped(broken, why, line, base=False))
                    return applied, recorder, False
        finally:
            executor.tracer = NoTracer()
        return applied, recorder, True


def live_review(db: ScratchDatabase, plan: Plan, *, one_run: bool, per_migration: bool,
                load_at_head, apply_online=None) -> tuple[list, Models | None]:
    """Steps 1-4 on `db`; returns the findings and the models compared at head (None if not reached)."""
    run = LiveRun(db, plan, one_run=one_run, per_migration=per_migration, apply_online=apply_online)
    conn = db.connect()
    try:
        executor = Executor(conn)
        if not run._apply_untraced(executor, plan.before, base=True):
            return run.findings, None
        applied, recorder, complete = run.upgrade(executor)
        run.findings += trace_findings(recorder.observations)
        if not complete or not run._apply_untraced(executor, plan.after, base=True):
            return run.findings, None
        models = load_at_head(db)
        run.findings += round_trip(executor, applied, recorder.schema_before, recorder.schema_after)
        return run.findings, models
    finally:
        conn.close()


def model_and_database_findings(options, project, config, graph, reviewed, one_run: bool) -> list:
    """The models check (static, when the models can be loaded) and, when asked, live mode."""
    facts = metadata_facts(project)
    configured = getattr(config, "metadata", None)
    specs, source = metadata_specs(configured, facts, project)
    preload = [] if configured else facts.preload
    runs = upgrade_runs([item.parsed.statements for item in reviewed], one_run)
    live = bool(getattr(options, "database_url", None) or getattr(options, "live", False))
    env_rel = project.rel(facts.path) if facts.path and facts.path.is_file() else None
    where = (_config_path(config, project), 1) if configured else (env_rel, facts.metadata_line)
    findings: list = []
    models: Models | None = None

    if live:
        renderer = Renderer([project.root, project.project_dir, project.script_dir, *project.sys_path],
                            timeout=config.render_timeout, pg_version=config.pg_version, directions=("upgrade",))
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

        with database_url(options) as url, scratch_database(url) as db:
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
