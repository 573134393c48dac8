"""Fuzzing with Hypothesis: generated and mutated revision files and SQL, fed to the loader
(history.read_identity / parse_revision), the renderer (end to end through the CLI on a real git
repo) and the SQL rules (sql.parse_chunks + every rule, through `python -m linters sql`'s code).

The promise under test: bad input never produces a traceback; whatever cannot be read, rendered
or parsed becomes a finding. Each test counts the cases it ran (FUZZ_COUNTS, printed at the end
of the session with -s or in the terminal summary).
"""

from __future__ import annotations

import json
import sys
import warnings
from collections import Counter

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from linters.config import Config
from linters.history import from_identity, parse_revision, read_identity
from linters.sqlfile import lint_sql
from tests.gitrepo import alembic_project, run_cli

FUZZ_COUNTS: Counter = Counter()

IDENT = st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True)
REV_ID = st.one_of(st.from_regex(r"[0-9a-f]{12}", fullmatch=True), IDENT)

# ---- revision files -------------------------------------------------------------------------------

LITERALS = st.one_of(
    st.none(), REV_ID, st.tuples(REV_ID, REV_ID), st.lists(REV_ID, max_size=3), st.integers(),
    st.sampled_from(["b'abc'", "{'a': 1}", "{1, 2}", "...", "-1", "1e400"]).map(lambda s: ("RAW", s)),
)
NON_LITERALS = st.sampled_from(["f'{x}'", "get_rev()", "os.environ['REV']", "[i for i in ()]", "lambda: 1",
                                "{[1]: 2}", "x if y else z", "'a' + 'b'", "(yield)"])


def _render_value(value) -> str:
    if isinstance(value, tuple) and value and value[0] == "RAW":
        return value[1]
    return repr(value)


SQL_SNIPPETS = [
    "CREATE INDEX ix_{t} ON {t} (a)", "ALTER TABLE {t} ADD COLUMN c integer NOT NULL DEFAULT 0",
    "ALTER TABLE {t} DROP COLUMN c", "UPDATE {t} SET a = 1", "DROP TABLE {t}", "ALTER TABLE {t} RENAME TO {t}_old",
    "CREATE TABLE {t} (id serial PRIMARY KEY, a varchar(10))", "VACUUM FULL {t}", "TRUNCATE {t} CASCADE",
    "ALTER TABLE {t} ALTER COLUMN a TYPE bigint", "SELECT 1", "LOCK TABLE {t}", "REINDEX TABLE {t}",
    "ALTER TABLE {t} ADD CONSTRAINT ck CHECK (a > 0) NOT VALID", "CREATE TYPE mood AS ENUM ('a')",
    "ALTER TYPE mood ADD VALUE 'b'", "SELEC broken FROM", "BEGIN", "COMMIT", "SET lock_timeout = '2s'",
]

OPS = [
    'op.create_table("{t}", sa.Column("id", sa.Integer, primary_key=True), sa.Column("a", sa.String(10)))',
    'op.add_column("{t}", sa.Column("{c}", sa.Text, nullable={b}))',
    'op.drop_column("{t}", "{c}")',
    'op.create_index("ix_{t}_{c}", "{t}", ["{c}"], unique={b})',
    'with op.get_context().autocommit_block():\n    op.create_index("ix2_{t}", "{t}", ["{c}"], postgresql_concurrently=True)',
    'op.create_index("ix3_{t}", "{t}", ["{c}"], postgresql_concurrently=True)',
    'op.alter_column("{t}", "{c}", nullable={b}, existing_type=sa.Text)',
    'op.execute("""{sql}""")',
    'op.execute(sa.text("UPDATE {t} SET {c} = :v").bindparams(v=1))',
    'with op.batch_alter_table("{t}") as batch_op:\n    batch_op.add_column(sa.Column("{c}", sa.Integer))\n    batch_op.drop_column("old")',
    'op.create_foreign_key("fk_{t}", "{t}", "other", ["{c}"], ["id"])',
    'op.rename_table("{t}", "{t}_new")',
    'op.drop_table("{t}")',
    'conn = op.get_bind()\nrows = conn.execute(sa.text("SELECT 1")).fetchall()',
    'raise RuntimeError("boom")',
    'import sys\nsys.exit(3)',
    'print("noise on stdout"); print("{{not json")',
    'op.nonexistent_operation("{t}")',
    'x = 1 / 0',
    'pass',
]


@st.composite
def revision_sources(draw) -> str:
    """A revision file as alembic writes one, with random identity values and operations."""
    fields = []
    for name in ("revision", "down_revision", "branch_labels", "depends_on"):
        choice = draw(st.sampled_from(["literal", "literal", "literal", "missing", "non-literal", "annotated"]))
        if choice == "missing":
            continue
        value = draw(NON_LITERALS) if choice == "non-literal" else _render_value(draw(LITERALS))
        annotation = ": Union[str, Sequence[str], None]" if choice == "annotated" else ""
        fields.append(f"{name}{annotation} = {value}")
    if draw(st.booleans()):
        fields = draw(st.permutations(fields))

    def body():
        lines = []
        for template in draw(st.lists(st.sampled_from(OPS), min_size=0, max_size=4)):
            lines.append(template.format(t=draw(IDENT), c=draw(IDENT), b=draw(st.booleans()),
                                         sql=draw(st.sampled_from(SQL_SNIPPETS)).format(t=draw(IDENT))))
        code = "\n".join(lines) or "pass"
        return "\n".join("    " + line for line in code.splitlines())

    doc = draw(st.sampled_from(['"""Add things\n\nRevision ID: x\n"""\n', "", '"""revision = \'fake\'"""\n',
                                "# comment only\n"]))
    upgrade_def = draw(st.sampled_from(["def upgrade():", "def upgrade() -> None:", "def upgrade(op):",
                                        "async def upgrade():", "def upgrade(*args, **kw):"]))
    tail = draw(st.sampled_from(["", "\ndef downgrade():\n    pass\n", "\nrevision = 'late'\n", "\nclass X:\n    pass\n"]))
    return (doc + "from typing import Sequence, Union\nfrom alembic import op\nimport sqlalchemy as sa\n\n"
            + "\n".join(fields) + f"\n\n\n{upgrade_def}\n{body()}\n" + tail)


PY_NOISE = st.text(alphabet=st.sampled_from(list("()[]{}:;'\"\\\n\t #=,.@*-+0123456789abcdefrxyz_") + ["\x00", "é", "\r"]),
                   min_size=1, max_size=12)


@st.composite
def mutated(draw, sources) -> str:
    """A source with a few random edits: slices deleted, noise inserted, lines duplicated or cut."""
    text = draw(sources)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["delete", "insert", "duplicate", "truncate"]))
        i = draw(st.integers(0, max(0, len(text))))
        if kind == "delete":
            text = text[:i] + text[i + draw(st.integers(1, 20)):]
        elif kind == "insert":
            text = text[:i] + draw(PY_NOISE) + text[i:]
        elif kind == "duplicate":
            lines = text.splitlines(keepends=True)
            if lines:
                j = draw(st.integers(0, len(lines) - 1))
                lines.insert(j, lines[j])
                text = "".join(lines)
        else:
            text = text[:i]
    return text


ANY_REVISION = st.one_of(revision_sources(), mutated(revision_sources()), st.text(max_size=300))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source=ANY_REVISION)
@example(source="\r0\nrevision=0\ndef A():0")  # a lone \r ends a line for Python: the header reading must count it
def test_loader_reads_any_file_without_raising(source):
    FUZZ_COUNTS["loader"] += 1
    rev = parse_revision("alembic/versions/x.py", source)
    if rev is None:
        return  # not a revision: no revision assignment and no upgrade()
    assert rev.revision is not None or rev.error, "a revision without an id must say why"
    if rev.error:
        assert rev.error_line and rev.error_line >= 1
    rev.fingerprint  # the lazy AST, for files whose text changed, must not raise either
    # The header-only reading (unchanged history) agrees with the full one whenever the file parses.
    full, fast = read_identity(source), read_identity(source, header_only=True)
    if full is not None and full["error"] is None:
        keys = ("revision", "down_revisions", "branch_labels", "depends_on", "lines")
        assert {k: fast[k] for k in keys} == {k: full[k] for k in keys}
    assert json.loads(json.dumps(full)) == full  # cacheable as JSON, as revision_files stores it
    assert from_identity(rev.path, source, json.loads(json.dumps(full))) == rev


# ---- SQL and the rules ------------------------------------------------------------------------------

TYPES = st.sampled_from(["integer", "bigint", "smallint", "text", "varchar(20)", "char(3)", "timestamp",
                         "timestamptz", "json", "jsonb", "serial", "bigserial", "boolean", "numeric(10,2)", "uuid"])


@st.composite
def sql_statement(draw) -> str:
    t, c, c2 = draw(IDENT), draw(IDENT), draw(IDENT)
    typ = draw(TYPES)
    templates = [
        f"CREATE TABLE {t} ({c} {typ} PRIMARY KEY, {c2} {draw(TYPES)} NOT NULL DEFAULT now())",
        f"CREATE TABLE IF NOT EXISTS {t} (LIKE other INCLUDING ALL)",
        f"ALTER TABLE {t} ADD COLUMN {c} {typ}" + draw(st.sampled_from(["", " NOT NULL", " DEFAULT 1", " NOT NULL DEFAULT random()", " REFERENCES o (id)"])),
        f"ALTER TABLE {t} DROP COLUMN {draw(st.sampled_from(['', 'IF EXISTS ']))}{c}",
        f"ALTER TABLE {t} ALTER COLUMN {c} TYPE {typ}",
        f"ALTER TABLE {t} ALTER COLUMN {c} SET NOT NULL",
        f"ALTER TABLE {t} ALTER COLUMN {c} DROP NOT NULL",
        f"ALTER TABLE {t} ALTER COLUMN {c} SET DEFAULT 0",
        f"ALTER TABLE {t} ADD CONSTRAINT {c} " + draw(st.sampled_from([
            "CHECK (a > 0)", "CHECK (a > 0) NOT VALID", "UNIQUE (a)", "PRIMARY KEY (a)",
            "FOREIGN KEY (a) REFERENCES o (id)", "FOREIGN KEY (a) REFERENCES o (id) NOT VALID",
            "UNIQUE USING INDEX ix", "EXCLUDE USING gist (a WITH &&)"])),
        f"ALTER TABLE {t} VALIDATE CONSTRAINT {c}",
        f"ALTER TABLE {t} RENAME COLUMN {c} TO {c2}",
        f"ALTER TABLE {t} RENAME TO {c2}",
        f"ALTER TABLE {t} SET SCHEMA s",
        f"ALTER TABLE {t} SET LOGGED",
        f"ALTER TABLE {t} DETACH PARTITION {c2}",
        f"CREATE {draw(st.sampled_from(['', 'UNIQUE ']))}INDEX {draw(st.sampled_from(['', 'CONCURRENTLY ']))}"
        f"{draw(st.sampled_from(['', 'IF NOT EXISTS ']))}ix_{c} ON {t} ({c})",
        f"DROP INDEX {draw(st.sampled_from(['', 'CONCURRENTLY ']))}ix_{c}",
        f"REINDEX {draw(st.sampled_from(['', '(CONCURRENTLY) ']))}TABLE {t}",
        f"DROP TABLE {t}", f"DROP TABLE IF EXISTS {t} CASCADE", f"TRUNCATE {t}", f"DROP SCHEMA {t}",
        f"DROP DATABASE {t}", f"DROP TYPE {t}", f"DROP VIEW {t}", f"DROP FUNCTION {t}()",
        f"UPDATE {t} SET {c} = {c2}", f"DELETE FROM {t}", f"INSERT INTO {t} ({c}) VALUES (1)",
        f"INSERT INTO {t} SELECT * FROM {c2}",
        f"CREATE TYPE {t} AS ENUM ('a', 'b')", f"ALTER TYPE {t} ADD VALUE 'c' BEFORE 'a'",
        f"CREATE DOMAIN {t} AS int CHECK (VALUE > 0)", f"ALTER DOMAIN {t} ADD CONSTRAINT c CHECK (VALUE > 1)",
        f"CREATE SEQUENCE {t}", f"ALTER SEQUENCE {t} RESTART",
        f"CREATE VIEW {t} AS SELECT 1", f"CREATE MATERIALIZED VIEW {t} AS SELECT 1",
        f"REFRESH MATERIALIZED VIEW CONCURRENTLY {t}",
        f"CREATE EXTENSION IF NOT EXISTS {t}", f"COMMENT ON TABLE {t} IS 'x'",
        f"LOCK TABLE {t} IN ACCESS EXCLUSIVE MODE", f"VACUUM FULL {t}", f"CLUSTER {t}",
        f"GRANT SELECT ON {t} TO {c}", f"CREATE TRIGGER {t} AFTER INSERT ON {c} FOR EACH ROW EXECUTE FUNCTION f()",
        f"CREATE FUNCTION {t}() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$",
        "BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT s", "SET lock_timeout = '1s'", "SET statement_timeout = 0",
        "SET LOCAL lock_timeout = '5s'", f"SELECT pg_advisory_lock({draw(st.integers(0, 99))})",
        f"DO $$ BEGIN PERFORM 1; END $$", f"ALTER TABLE {t} ADD COLUMN {c} {typ} GENERATED ALWAYS AS IDENTITY",
        f"ALTER TABLE {t} ALTER COLUMN {c} DROP DEFAULT", f"ALTER TABLE {t} ALTER COLUMN {c} DROP EXPRESSION",
        f"ALTER TABLE {t} ENABLE ROW LEVEL SECURITY", f"ALTER TABLE {t} ATTACH PARTITION {c2} FOR VALUES IN (1)",
    ]
    stmt = draw(st.sampled_from(templates))
    comment = draw(st.sampled_from(["", "-- alembic-review: ignore[ban-drop-column]\n", "-- squawk-ignore\n",
                                    "/* block */ ", "-- alembic-review: ignore\n"]))
    return comment + stmt


SQL_NOISE = st.text(alphabet=st.sampled_from(list("();,'\"$-*/ \n\tABCDEFGHIJKLMNOPQRSTUVWXYZabcxyz0123456789.=<>") + ["é", "\x00"]),
                    max_size=15)


@st.composite
def sql_scripts(draw) -> str:
    text = ";\n".join(draw(st.lists(sql_statement(), min_size=1, max_size=12))) + ";"
    if draw(st.booleans()):  # mutate: noise in, slices out
        for _ in range(draw(st.integers(1, 3))):
            i = draw(st.integers(0, len(text)))
            text = text[:i] + draw(SQL_NOISE) + text[i + draw(st.integers(0, 10)):]
    return text


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.one_of(sql_scripts(), SQL_NOISE), pg_version=st.sampled_from([11, 13, 15, 17]))
def test_sql_rules_never_raise_and_unparseable_sql_is_a_finding(text, pg_version):
    FUZZ_COUNTS["sql"] += 1
    findings = lint_sql(text, "fuzz.sql", Config(pg_version=pg_version))
    for f in findings:
        assert f.rule and f.message and f.line and f.line >= 1
        f.to_json()
    from pglast import parser
    try:
        parser.parse_sql_json(text)
    except parser.ParseError:
        assert any(f.rule == "render-error" for f in findings), "unparseable SQL must be reported"


# ---- the renderer, end to end through the CLI -------------------------------------------------------

@pytest.fixture(scope="module")
def fuzz_repo(tmp_path_factory):
    return alembic_project(tmp_path_factory.mktemp("fuzz") / "repo")


FILES_PER_RUN = 4


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(sources=st.lists(st.one_of(revision_sources(), mutated(revision_sources())),
                        min_size=1, max_size=FILES_PER_RUN))
def test_cli_reports_every_broken_revision_as_a_finding(fuzz_repo, sources):
    versions = fuzz_repo.path / "alembic" / "versions"
    for old in versions.glob("fuzz_*.py"):
        old.unlink()
    paths = []
    for i, source in enumerate(sources):
        rel = f"alembic/versions/fuzz_{i}.py"
        fuzz_repo.write(rel, source)
        paths.append((rel, source))
    FUZZ_COUNTS["cli runs"] += 1
    FUZZ_COUNTS["cli revision files"] += len(sources)
    proc = run_cli(str(fuzz_repo.path), "--base", "main", "--format", "json", "--fail-on", "never", timeout=300)
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    reported = {f["path"] for f in report["findings"] if f["rule"] == "render-error"}
    for rel, source in paths:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # SyntaxWarning of mutated sources, not ours to show
                compile(source, rel, "exec")
        except (SyntaxError, ValueError):
            if parse_revision(rel, source) is not None:  # not even a revision: nothing to review
                assert rel in reported, f"{rel} does not compile and no render-error says so"
    # The same files once more, now from the identity cache: the same findings.
    again = run_cli(str(fuzz_repo.path), "--base", "main", "--format", "json", "--fail-on", "never", timeout=300)
    assert json.loads(again.stdout)["findings"] == report["findings"]


def test_zz_report_fuzz_counts(capsys):
    """Last in this module: how many cases ran (pytest -s shows it; -rA lists it as a pass)."""
    with capsys.disabled():
        print(f"\nfuzz cases run: {dict(FUZZ_COUNTS)}", file=sys.stderr)
