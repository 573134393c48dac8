"""irreversible-revision: upgrade -> downgrade -> upgrade of every new revision.

After the traced upgrade, the new revisions are downgraded one by one, newest first, each in
its own transaction; after each downgrade the catalog must equal the snapshot taken before
that revision's upgrade. Then they are upgraded again, oldest first, and the catalog must
equal the snapshot taken after the first upgrade. The first failure stops the walk: what
comes after it would only repeat it.
"""

from __future__ import annotations

from linters.live.apply import ApplyError, Executor
from linters.live.catalog import differences, snapshot
from linters.live.findings import at_statement, finding
from linters.live.plan import RevisionSql


def _at_downgrade(rev: RevisionSql, message: str):
    return finding("irreversible-revision", message, path=rev.file.path, line=rev.line_of("downgrade"),
                   revision=rev.file.revision)


def round_trip(executor: Executor, applied: list[RevisionSql], before: dict, after: dict) -> list:
    """`before`/`after`: catalog snapshots around each revision's first upgrade, by revision id."""
    conn = executor.conn
    findings, downgraded = [], []
    # The whole revision cannot be rolled back: judged like the upgrade (direction "upgrade"),
    # not demoted to info like findings about downgrade statements.
    for rev in reversed(applied):
        if "downgrade" in rev.problems:
            break  # render-error already says why; nothing to replay
        try:
            executor.run([rev], "downgrade")
        except ApplyError as exc:
            findings.append(at_statement("irreversible-revision", f"the downgrade fails on PostgreSQL: {exc.message}",
                                         exc.stmt, direction="upgrade"))
            break
        diff = differences(before[rev.revision], snapshot(conn))
        if diff:
            empty = not rev.statements.get("downgrade")
            what = "downgrade() does nothing" if empty else "the downgrade does not restore the schema"
            findings.append(_at_downgrade(rev, f"{what}: {'; '.join(diff)}"))
            return findings  # the database is now in no revision's state: stop here
        downgraded.append(rev)
    if not downgraded or differences(before[downgraded[-1].revision], snapshot(conn)):
        return findings
    for rev in reversed(downgraded):
        try:
            executor.run([rev], "upgrade")
        except ApplyError as exc:
            findings.append(at_statement("irreversible-revision",
                                         f"the upgrade fails after its downgrade: {exc.message} "
                                         "(the downgrade left something behind)", exc.stmt))
            break
        diff = differences(after[rev.revision], snapshot(conn))
        if diff:
            findings.append(_at_downgrade(rev, "upgrade -> downgrade -> upgrade gives a different schema "
                                               f"than the first upgrade: {'; '.join(diff)}"))
            break
    return findings
