"""The SQL rules over deploy runs: parsed statements in, findings out.

Shared by the review (linters.engine, which re-exports these names) and the `sql` command
(linters.sqlfile). It imports only what judging statements needs: no git, no rendering, no report,
so `python -m linters sql` starts fast.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import chain
from typing import TYPE_CHECKING

from linters.envpy import read_env_file
from linters.findings import Finding, Severity
from linters.foreign_keys import ForeignKeys, history_foreign_keys
from linters.inverse import is_expected_inverse, only_on_own_tables, own_tables, upgrade_creations
from linters.rules import Hit, SqlRule, rules_of
from linters.nodes import VERSION_TABLE_KINDS, alembic_bookkeeping
from linters.sql import Statement
from linters.state import RunState

if TYPE_CHECKING:
    from linters.config import Config
    from linters.model import Reviewed
    from linters.project import Project


def _finding_from_hit(rule: SqlRule, hit: Hit, stmt: Statement, state: RunState | None = None) -> Finding:
    """Where the hit came from; table and lock default to what the lock model says of the statement."""
    table, lock = hit.table, hit.lock
    if state is not None and (table is None or lock is None):
        effect = state.effect(stmt)
        table = table or stmt.op_table or (None if _targets_an_index(stmt) else effect.table)
        lock = lock or effect.mode_on(table)
    finding = rule.finding(hit.message, path=stmt.path, line=stmt.line, hint=hit.hint, revision=stmt.revision,
                           statement=stmt.sql, table=table, lock=lock or rule.lock, suggestion=hit.suggestion,
                           direction=stmt.direction)
    finding.extra["statement_id"] = id(stmt)  # inline SQL ignores name the statement, not a line
    return finding


def name_the_others(finding: Finding) -> None:
    """The statements a once-per-run finding stands for, said in its message."""
    also = finding.extra.get("also_at")
    if not also:
        return
    here = [str(line) for path, line, _ in also if path == finding.path]
    elsewhere = [f"line {line} of revision {revision}" for path, line, revision in also if path != finding.path]
    where = ([f"line{'s' if len(here) > 1 else ''} {', '.join(here)}"] if here else []) + elsewhere
    finding.message += f"; the statement{'s' if len(also) > 1 else ''} at {', '.join(where)} also run{'' if len(also) > 1 else 's'} while it is held"


def _targets_an_index(stmt: Statement) -> bool:
    """DROP INDEX / REINDEX INDEX: the lock model's first relation is the index, not the table it locks."""
    body = stmt.body
    return (stmt.kind == "DropStmt" and body.get("removeType") == "OBJECT_INDEX") or \
        (stmt.kind == "ReindexStmt" and body.get("kind") == "REINDEX_OBJECT_INDEX")


@dataclass
class RunSetup:
    """What the project tells every run: env.py's transaction and timeouts, the history's foreign keys."""
    transaction_per_migration: bool = False
    lock_timeout: bool = False
    statement_timeout: bool = False
    foreign_keys: ForeignKeys = field(default_factory=ForeignKeys)
    in_transaction: bool = True  # Alembic runs each migration in a transaction; raw SQL files start outside
    stamped_after_revision: bool = True  # Alembic stamps the version after each revision; raw SQL where it says
    new_tables_shared_after_commit: bool = False  # raw SQL: a table the file created is everyone's once committed
    # (table, column) -> a valid CHECK (col IS NOT NULL) an earlier revision left (linters/history_checks.py)
    not_null_proven: dict = field(default_factory=dict)

    @classmethod
    def of(cls, project: Project, config: Config, history_sources: list[str]) -> "RunSetup":
        env = read_env_file(project.script_dir)
        per_migration = config.transaction_per_migration
        return cls(
            transaction_per_migration=env.transaction_per_migration if per_migration is None else per_migration,
            lock_timeout=config.assume_lock_timeout or env.lock_timeout,
            statement_timeout=config.assume_lock_timeout or env.statement_timeout,
            foreign_keys=history_foreign_keys(history_sources),
        )

    def new_state(self, config: Config) -> RunState:
        state = RunState(pg_version=config.pg_version, shared_after_commit=self.new_tables_shared_after_commit)
        state.tx.per_migration = self.transaction_per_migration
        state.tx.starts_in_transaction = self.in_transaction
        state.tx.stamped_after_revision = self.stamped_after_revision
        state.tx.assumed = {"lock_timeout": self.lock_timeout, "statement_timeout": self.statement_timeout}
        state.foreign_keys = self.foreign_keys.copy()
        state.not_null_proven = dict(self.not_null_proven)
        return state


def deploy_runs(reviewed: list[Reviewed], one_run: bool) -> list[tuple[str, list[Reviewed]]]:
    """The upgrade runs in order and downgrade runs in reverse order.

    A pull request's new revisions deploy together in one `alembic upgrade`, so they share one run
    (a table created by the first is new for the second). With --all every revision is judged as
    its own deploy against the history before it.
    """
    groups = [reviewed] if one_run else [[item] for item in reviewed]
    return [("upgrade", g) for g in groups] + [("downgrade", list(reversed(g))) for g in reversed(groups)]


# (select, ignore) -> (enabled sql rules, {dispatch key: (the enabled rules that look at such statements,
# the same without the breaking-change rules)}), in registry order: built as keys show up, shared by
# every call (a review may call sql_findings once per revision).
_DISPATCH: dict[tuple, tuple[list, dict]] = {}


def _dispatch_table(config: Config) -> tuple[list, dict]:
    key = (None if config.select is None else tuple(config.select), tuple(config.ignore))
    if key not in _DISPATCH:
        _DISPATCH[key] = ([r for r in rules_of(SqlRule) if config.enabled(r.id)], {})
    return _DISPATCH[key]


def _alter_subtypes(stmt: Statement) -> frozenset:
    """An ALTER TABLE's subcommands: its dispatch key (a third of a migration's statements, which two dozen
    rules look at for one or two subcommands each); any other statement's key is its kind."""
    return frozenset([cmd.get("AlterTableCmd", {}).get("subtype") for cmd in stmt.body.get("cmds") or ()])


def _looking(rules: list, stmt: Statement, subtypes) -> list:
    """The rules `stmt` is shown to: its kind declared (or every kind), not skipped, a subcommand they read."""
    kind = stmt.kind
    return [r for r in rules if (r.statement_kinds is None or kind in r.statement_kinds) and kind not in r.skip_kinds
            and (r.alter_subtypes is None or kind != "AlterTableStmt" or r.alter_subtypes & subtypes)]


def sql_findings(reviewed: list[Reviewed], config: Config, one_run: bool,
                 setup: RunSetup | None = None) -> list[Finding]:
    """Run the SQL rules over every statement of each run, in the order PostgreSQL would see them.

    `reviewed`: engine.Reviewed items, or anything with their `file.revision` and `parsed.statements`.
    Revision boundaries matter: with transaction_per_migration each revision commits (its locks go);
    without it the whole run is one transaction. A downgrade run starts from the schema its upgrade
    left (foreign keys), and dropping what a revision's own upgrade created is its expected inverse,
    not a breaking change.
    """
    setup = setup or RunSetup()
    rules, by_kind = _dispatch_table(config)
    findings: list[Finding] = []
    after_upgrade: dict[tuple[int, ...], ForeignKeys] = {}
    directions = {id(item): _by_direction(item.parsed.statements) for item in reviewed}
    for direction, revisions in deploy_runs(reviewed, one_run):
        state = setup.new_state(config)
        run_key = tuple(sorted(id(item) for item in revisions))
        if direction == "downgrade" and run_key in after_upgrade:
            state.foreign_keys = after_upgrade[run_key].copy()
        state.foresee(chain.from_iterable(directions[id(item)][direction] for item in revisions))
        said: dict[tuple, Finding] = {}  # (rule, Hit.once_per_run) -> the finding that says it for the run
        for item in revisions:
            statements = directions[id(item)][direction]
            created = upgrade_creations(item.parsed.statements) if direction == "downgrade" and statements else set()
            own = own_tables(item.parsed.statements) if created else (set(), set())
            state.tx.begin_revision(item.file.revision, statements)
            for stmt in statements:
                kind = stmt.kind
                # Alembic's version stamps: no rule speaks on them (a fifth of an `upgrade --sql` file); the
                # kind test first saves the call for the other statements.
                if kind in VERSION_TABLE_KINDS and alembic_bookkeeping(stmt):
                    state.apply(stmt)
                    continue
                dispatch = _alter_subtypes(stmt) if kind == "AlterTableStmt" else kind
                found = by_kind.get(dispatch)
                if found is None:
                    looking = _looking(rules, stmt, dispatch)
                    found = by_kind[dispatch] = (looking, [r for r in looking if not r.breaking])
                looking, not_breaking = found
                inverse = created and is_expected_inverse(stmt, created)  # undoes what its own upgrade created
                if inverse and only_on_own_tables(stmt, own):  # a table this revision creates: nobody uses it yet
                    state.apply(stmt)
                    continue
                for rule in not_breaking if inverse else looking:
                    for hit in rule.check(stmt, state):  # a plain loop: no list built per rule and statement
                        if hit.once_per_run is not None:
                            if (first := said.get((rule.id, hit.once_per_run))) is not None:
                                first.extra.setdefault("also_at", []).append((stmt.path, stmt.line, stmt.revision))
                                continue
                            said[(rule.id, hit.once_per_run)] = finding = _finding_from_hit(rule, hit, stmt, state)
                            findings.append(finding)
                            continue
                        findings.append(_finding_from_hit(rule, hit, stmt, state))
                state.apply(stmt)
            state.tx.end_revision()
        for finding in said.values():
            name_the_others(finding)
        if direction == "upgrade":
            after_upgrade[run_key] = state.foreign_keys
    return findings


def _by_direction(statements: list[Statement]) -> dict[str, list[Statement]]:
    """A revision's statements split by direction, in order, in one pass (a raw SQL file has thousands,
    all of them upgrade: its downgrade run need not read them again)."""
    split: dict[str, list[Statement]] = {"upgrade": [], "downgrade": []}
    for stmt in statements:
        split.setdefault(stmt.direction, []).append(stmt)
    return split


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
