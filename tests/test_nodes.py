"""The node readers (linters.nodes): one spelling of names, so that names from different statements compare equal."""

from linters.config import Config
from linters.nodes import dotted, object_name, qualified, relation_name
from linters.sqlfile import lint_sql


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


def test_a_table_named_public_is_forgotten_when_dropped_like_any_other():
    for name in ("t", "public", "s.public"):
        sql = f"CREATE TABLE {name} (id int);\nDROP TABLE {name};\nALTER TABLE {name} ADD COLUMN r int NOT NULL;\n"
        found = [f.rule for f in lint_sql(sql, "x.sql", Config()) if f.line == 3]
        assert "adding-required-field" in found, name
