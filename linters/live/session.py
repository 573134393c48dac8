"""One live session on a scratch database: the base history untraced, the new revisions traced,
the models compared at head, then the round trip (steps 1-4 of linters/live/review.py).

Kept apart from review.py so a static review never imports psycopg.
"""

from __future__ import annotations

from linters.live.apply import ApplyError, Executor, NoTracer
from linters.live.catalog import snapshot
from linters.live.findings import at_statement, finding
from linters.live.models import Models
from linters.live.plan import Plan, RevisionSql
from linters.live.roundtrip import round_trip
from linters.live.scratch import ScratchDatabase
from linters.live.trace import Observation, Tracer, describe, mismatches, strongest, worth_reporting


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
