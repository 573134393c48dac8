"""The node readers (linters.nodes), what a statement creates and drops (linters.schema_objects), and
RunState.is_existing: one spelling of names, so that a creation and the DROP that undoes it compare equal."""

from types import SimpleNamespace

from linters.config import Config
from linters.nodes import dotted, object_name, qualified, relation_name
from linters.schema_objects import created_table, creates, drops
from linters.sql import parse_chunks
from linters.sqlfile import lint_sql
from linters.state import RunState


def statements(sql: str) -> list:
    return parse_chunks([SimpleNamespace(direction="upgrade", line=1, sql=sql)]).statements


def test_names_drop_only_the_default_schema():
    assert qualified("users", "public") == "users" and qualified("users", None) == "users"
    assert qualified("log", "audit") == "audit.log"
    assert dotted(["public", "t"]) == "t" and dotted(["s", "t"]) == "s.t" and dotted(["t"]) == "t"
    assert dotted(["public", "t", "trg"]) == "t.trg" and dotted([]) == ""
    # a table named "public" is a name like any other
    assert dotted(["public"]) == "public" and dotted(["s", "public"]) == "s.public"
    assert relation_name({"RangeVar": {"schemaname": "public", "relname": "t"}}) == "t"
    assert relation_name({"schemaname": "s", "relname": "t"}) == "s.t" and relation_name(None) is None
    assert object_name({"String": {"sval": "ext"}}) == "ext"
    assert object_name({"TypeName": {"names": [{"String": {"sval": "public"}}, {"String": {"sval": "mood"}}]}}) == "mood"


def test_what_a_statement_creates_is_what_its_drop_names():
    pairs = [
        ("CREATE TABLE public.t (id int)", "DROP TABLE t"),
        ("CREATE INDEX ix ON s.t (id)", "DROP INDEX s.ix"),
        ("CREATE INDEX ix ON public.t (id)", "DROP INDEX public.ix"),
        ("CREATE MATERIALIZED VIEW s.mv AS SELECT 1", "DROP MATERIALIZED VIEW s.mv"),
        ("CREATE TYPE public.mood AS ENUM ('a')", "DROP TYPE mood"),
        ("CREATE FUNCTION s.f() RETURNS int LANGUAGE sql AS 'select 1'", "DROP FUNCTION s.f()"),
        ("CREATE TRIGGER trg AFTER INSERT ON public.t FOR EACH ROW EXECUTE FUNCTION f()", "DROP TRIGGER trg ON t"),
        ("CREATE SCHEMA audit", "DROP SCHEMA audit"),
    ]
    for create, drop in pairs:
        made, dropped = statements(f"{create}; {drop}")
        assert creates(made) == drops(dropped), (create, drop)
    unnamed, = statements("CREATE INDEX ON t (id)")
    assert creates(unnamed) == ()  # PostgreSQL names it: nothing to compare a DROP with


def test_creates_is_read_once_per_statement():
    stmt, = statements("CREATE TABLE t (id int)")
    assert creates(stmt) is creates(stmt) and created_table(stmt) == "t"


def test_is_existing():
    state = RunState()
    create, alter = statements("CREATE TABLE fresh (id int); ALTER TABLE users ADD COLUMN x int")
    assert state.is_existing("users") and not state.is_existing(None) and not state.is_existing("alembic_version")
    assert not state.is_existing("fresh", create) and state.is_existing("fresh", alter)  # `create` makes it
    state.apply(create)
    assert not state.is_existing("fresh") and not state.is_new("users")


def test_a_table_named_public_is_forgotten_when_dropped_like_any_other():
    for name in ("t", "public", "s.public"):
        sql = f"CREATE TABLE {name} (id int);\nDROP TABLE {name};\nALTER TABLE {name} ADD COLUMN r int NOT NULL;\n"
        found = [f.rule for f in lint_sql(sql, "x.sql", Config()) if f.line == 3]
        assert "adding-required-field" in found, name
