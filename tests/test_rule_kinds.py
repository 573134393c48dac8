"""SqlRule.statement_kinds: an SQL rule that declares the statement kinds it looks at is called only for those;
SqlRule.alter_subtypes: one that declares ALTER TABLE subcommands sees only the ALTER TABLEs that have one.

A wrong declaration would silently hide findings, so every rule that declares kinds or subcommands runs here over a
corpus of statements of many kinds (bench/corpus, the lock model's measured cases, and the list below),
in file order, through the states sql_findings gives them: starting in and outside a transaction, on
PostgreSQL 11 and 15. On a statement of a kind it did not declare, or an ALTER TABLE with none of its
subcommands, it must say nothing. And
sql_findings, which dispatches by kind, must report exactly what calling every rule on every statement
reports.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from linters.config import Config
from linters.model import RenderResult, Reviewed
from linters.findings import Finding
from linters.nodes import alembic_bookkeeping
from linters.sqlrun import RunSetup, _alter_subtypes, name_the_others, sql_findings
from linters.history import RevisionFile
from linters.sql import Chunk
from linters.rules import SqlRule, rules_of
from linters.sql import parse_chunks
from tests.test_locks_postgres import CASES as LOCK_CASES

REPO = Path(__file__).resolve().parent.parent
LONG = "x" * 70  # over PostgreSQL's 63-byte identifier limit

# Kinds the other sources have few or none of, in forms that make rules speak.
EXTRA = [
    "VACUUM", "VACUUM FULL t", "VACUUM (FULL, ANALYZE) t", "ANALYZE t", "CLUSTER", "CLUSTER t USING t_pkey",
    "CREATE DATABASE scratch", "DROP DATABASE scratch", "ALTER SYSTEM SET work_mem = '64MB'",
    "CREATE TABLESPACE fast LOCATION '/ssd'", "DROP TABLESPACE fast",
    "REINDEX TABLE t", "REINDEX TABLE CONCURRENTLY t", "REINDEX INDEX t_a_idx", "REINDEX DATABASE app",
    "ALTER TYPE mood ADD VALUE 'meh'", "ALTER TYPE mood ADD VALUE 'ok' AFTER 'meh'",
    "ALTER TYPE mood RENAME VALUE 'meh' TO 'fine'", "ALTER TYPE mood RENAME TO feeling",
    "DROP INDEX CONCURRENTLY t_a_idx", "DROP INDEX t_a_idx", "CREATE INDEX CONCURRENTLY t_b_idx ON t (b)",
    "ALTER DOMAIN label ADD CONSTRAINT ck CHECK (VALUE <> '')", "CREATE DOMAIN email AS text CHECK (VALUE LIKE '%@%')",
    "ALTER TABLE t RENAME TO t2", "ALTER TABLE t RENAME COLUMN a TO b", "ALTER INDEX t_a_idx RENAME TO t_b_idx",
    "ALTER TABLE t RENAME CONSTRAINT c1 TO c2", "ALTER SEQUENCE s RENAME TO s2", "ALTER TABLE t SET SCHEMA archive",
    "ALTER VIEW v SET SCHEMA archive", "ALTER TABLE p DETACH PARTITION p1",
    "ALTER TABLE p DETACH PARTITION p1 CONCURRENTLY",
    "TRUNCATE t CASCADE", "TRUNCATE t", "UPDATE t SET a = 1, a = 2", "INSERT INTO t (a, a) VALUES (1, 2)",
    "INSERT INTO t SELECT * FROM s", "UPDATE t SET a = 1", "DELETE FROM t", "DELETE FROM t WHERE id = 1",
    "MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET a = s.a",
    "SELECT * INTO t3 FROM t", "CREATE TABLE t4 AS SELECT * FROM t", "CREATE MATERIALIZED VIEW mv AS SELECT * FROM t",
    "REFRESH MATERIALIZED VIEW mv", "COPY t FROM STDIN", "EXPLAIN ANALYZE UPDATE t SET a = 1",
    "COMMENT ON TABLE t IS 'x'", "GRANT SELECT ON t TO app", "DO $$ BEGIN NULL; END $$", "CALL p()",
    "CREATE EXTENSION pgcrypto", "DROP EXTENSION pgcrypto", "CREATE SEQUENCE s", "ALTER SEQUENCE s RESTART",
    "DROP SEQUENCE s", "DROP VIEW v", "DROP TYPE mood", "DROP SCHEMA archive CASCADE", "DROP FUNCTION f()",
    "DROP DOMAIN email", "DROP TABLE t CASCADE", "DROP TRIGGER trg ON t", "LOCK TABLE t IN ACCESS EXCLUSIVE MODE",
    "CREATE POLICY p ON t USING (true)", "CREATE STATISTICS st ON a, b FROM t", "CREATE TYPE pair AS (a int, b int)",
    "CREATE TYPE mood2 AS ENUM ('a')", "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
    "CREATE TRIGGER trg BEFORE UPDATE ON t FOR EACH ROW EXECUTE FUNCTION f()", "SET lock_timeout = '2s'",
    "RESET lock_timeout", "SET LOCAL statement_timeout = 0", "SHOW work_mem",
    "REVOKE SELECT ON t FROM app", "ALTER TABLE t ENABLE ROW LEVEL SECURITY", "ALTER TABLE t REPLICA IDENTITY FULL",
    "DROP PUBLICATION p", "ALTER SEQUENCE t_id_seq RESTART", "CREATE VIEW vdup AS SELECT 1, 2",
    # Alembic's own version-table statements, as `alembic upgrade --sql` writes them (sql_findings skips them)
    "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
    "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))",
    "INSERT INTO alembic_version (version_num) VALUES ('a1')",
    "UPDATE alembic_version SET version_num='b2' WHERE alembic_version.version_num = 'a1'",
    "DELETE FROM alembic_version WHERE alembic_version.version_num = 'b2'",
    # identifiers over 63 bytes, defined and merely referenced
    f"CREATE TABLE {LONG} (id int)", f"CREATE INDEX {LONG}_ix ON t (a)", f"ALTER TABLE t ADD COLUMN {LONG} int",
    f"CREATE VIEW {LONG}_v AS SELECT 1", f"CREATE SCHEMA {LONG}", f"CREATE SEQUENCE {LONG}_seq",
    f"SELECT {LONG} FROM t", f"UPDATE t SET {LONG} = 1", f"COMMENT ON TABLE {LONG} IS 'x'", f"DROP TABLE {LONG}",
    f"CREATE TYPE {LONG}_e AS ENUM ('a')", f'CREATE TABLE "{LONG} q" (id int)', f"ALTER TABLE t RENAME TO {LONG}_r",
    f"CREATE TRIGGER {LONG}_trg BEFORE UPDATE ON t FOR EACH ROW EXECUTE FUNCTION f()",
    f"CREATE DOMAIN {LONG}_d AS text", f"CREATE FUNCTION {LONG}_f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
    f"CREATE TYPE {LONG}_rg AS RANGE (subtype = int)",
    f"CREATE TYPE {LONG}_c AS (a int)", f"CREATE TABLE {LONG}_as AS SELECT 1", f"ALTER TABLE t SET SCHEMA {LONG}_s",
    # column types on ADD COLUMN as well as CREATE TABLE
    "ALTER TABLE t ADD COLUMN code char(2), ADD COLUMN at timestamp, ADD COLUMN lvl smallint, ADD COLUMN n varchar(9)",
    # the same schema changes on a table the run created: the exemptions go through the state
    "CREATE TABLE fresh (id int)", "ALTER TABLE fresh ADD COLUMN a int NOT NULL", "CREATE INDEX fresh_ix ON fresh (a)",
    "ALTER TABLE fresh ADD CONSTRAINT fresh_ck CHECK (a > 0)", "DROP TABLE fresh",
]


def _lock_case_sql() -> list[str]:
    return [text for case in LOCK_CASES for text in (case.setup, case.sql) if text]


def corpus() -> list[tuple[str, list[str]]]:
    """(name, statements run in order as one deploy) for every source of statements."""
    files = [(p.name, [p.read_text()]) for p in sorted((REPO / "bench" / "corpus").glob("*.sql"))]
    transactions = ["BEGIN", "ALTER TABLE t ADD COLUMN z int", "CREATE INDEX t_z ON t (z)", "COMMIT", "BEGIN",
                    "ROLLBACK", "BEGIN", "SELECT 1"]
    return files + [("lock model cases", _lock_case_sql()), ("extra", EXTRA), ("transactions", transactions)]


def _statements(texts: list[str], in_transaction: bool):
    chunks = [Chunk("upgrade", i + 1, text) for i, text in enumerate(texts)]
    parsed = parse_chunks(chunks, in_transaction=in_transaction)
    assert not parsed.failures, parsed.failures[0].message
    for stmt in parsed.statements:
        stmt.revision = "r1"
    return parsed


STATES = [(in_tx, pg) for in_tx in (True, False) for pg in (11, 15)]
DECLARED = [r for r in rules_of(SqlRule) if r.statement_kinds is not None]
SKIPPING = [r for r in rules_of(SqlRule) if r.skip_kinds]
SUBTYPED = [r for r in rules_of(SqlRule) if r.alter_subtypes is not None]


def test_most_sql_rules_declare_their_kinds():
    every = {r.id for r in rules_of(SqlRule) if r.statement_kinds is None}
    assert every == {"lock-held-across-statements", "backfill-in-migration", "require-lock-timeout",
                     "require-statement-timeout"}, "a new rule on every statement: declare its kinds if it can"


@pytest.mark.parametrize("name,texts", corpus(), ids=[c[0] for c in corpus()])
@pytest.mark.parametrize("in_transaction,pg_version", STATES)
def test_rules_are_silent_on_kinds_they_do_not_declare(name, texts, in_transaction, pg_version):
    parsed = _statements(texts, in_transaction)
    state = RunSetup(in_transaction=in_transaction).new_state(Config(pg_version=pg_version))
    state.foresee(parsed.statements)  # as sql_findings does: what the run drops and re-adds
    state.tx.begin_revision("r1", parsed.statements)
    for stmt in parsed.statements:
        for rule in DECLARED:
            if stmt.kind not in rule.statement_kinds:
                hits = list(rule.check(stmt, state))
                assert not hits, \
                    f"{rule.id} reports on a {stmt.kind} ({stmt.sql!r}) but declares only {sorted(rule.statement_kinds)}"
        for rule in SKIPPING:
            if stmt.kind in rule.skip_kinds:
                hits = list(rule.check(stmt, state))
                assert not hits, f"{rule.id} reports on a {stmt.kind} ({stmt.sql!r}), a kind it skips"
        for rule in SUBTYPED:
            if stmt.kind == "AlterTableStmt" and not rule.alter_subtypes & _alter_subtypes(stmt):
                hits = list(rule.check(stmt, state))
                assert not hits, f"{rule.id} reports on {stmt.sql!r} but declares only {sorted(rule.alter_subtypes)}"
        state.apply(stmt)


def test_the_corpus_makes_every_declared_rule_speak():
    """Silence elsewhere means something only if the corpus exercises the rule where it looks."""
    spoke = set()
    for name, texts in corpus():
        for in_transaction, pg_version in STATES:
            parsed = _statements(texts, in_transaction)
            state = RunSetup(in_transaction=in_transaction).new_state(Config(pg_version=pg_version))
            state.foresee(parsed.statements)  # as sql_findings does: what the run drops and re-adds
            state.tx.begin_revision("r1", parsed.statements)
            for stmt in parsed.statements:
                spoke |= {r.id for r in DECLARED if any(True for _ in r.check(stmt, state))}
                state.apply(stmt)
    assert {r.id for r in DECLARED} - spoke == set()


def _every_rule_on_every_statement(parsed, in_transaction: bool, config: Config) -> list[tuple]:
    """The dispatch-free reference: what sql_findings reported before rules declared kinds."""
    state = RunSetup(in_transaction=in_transaction).new_state(config)
    state.foresee(parsed.statements)  # as sql_findings does: what the run drops and re-adds
    state.tx.begin_revision("r1", parsed.statements)
    out = []
    said: dict[tuple, Finding] = {}  # Hit.once_per_run: the first hit speaks for the others, as in sql_findings
    for stmt in parsed.statements:
        for rule in [] if alembic_bookkeeping(stmt) else rules_of(SqlRule):
            for hit in rule.check(stmt, state):
                first = said.get((rule.id, hit.once_per_run)) if hit.once_per_run is not None else None
                if first is not None:
                    first.extra.setdefault("also_at", []).append((stmt.path, stmt.line, stmt.revision))
                    continue
                finding = Finding(rule.id, rule.severity, hit.message, path=stmt.path, statement=stmt.sql)
                if hit.once_per_run is not None:
                    said[(rule.id, hit.once_per_run)] = finding
                out.append(finding)
        state.apply(stmt)
    for finding in said.values():
        name_the_others(finding)
    return [(f.rule, f.statement, f.message) for f in out]


@pytest.mark.parametrize("in_transaction,pg_version", STATES)
def test_dispatch_by_kind_reports_what_every_rule_on_every_statement_reports(in_transaction, pg_version):
    config = Config(pg_version=pg_version)
    for name, texts in corpus():
        parsed = _statements(texts, in_transaction)
        item = Reviewed(RevisionFile(path=name, source="", revision="r1"), RenderResult(path=name), parsed)
        found = sql_findings([item], config, one_run=True, setup=RunSetup(in_transaction=in_transaction))
        parsed = _statements(texts, in_transaction)  # fresh statements: lock effects are cached on them
        assert [(f.rule, f.statement, f.message) for f in found] == \
            _every_rule_on_every_statement(parsed, in_transaction, config), name
