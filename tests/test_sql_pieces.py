"""A big SQL file is parsed in pieces on a second thread (linters/sqlpieces.py): the statements,
their lines and the errors must be the ones a single parse of the file gives, wherever a `;` at
the end of a line sits inside something else."""

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pglast import parser as pg_parser
import pytest

from linters.sql import split_statements
from linters.sqlpieces import ONE_CALL_BELOW, statement_items
from tests.test_cli import run_cli

# Each has a `;` at the end of a line that does not end a statement, or ends one PostgreSQL reads on.
TRICKY = [
    "CREATE TABLE users (id bigint PRIMARY KEY, name text);\n",
    "CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n  NEW.updated_at = now();\n"
    "  RETURN NEW;\nEND;\n$$;\n",
    "CREATE FUNCTION one() RETURNS int LANGUAGE sql BEGIN ATOMIC\n  SELECT 1;\n  SELECT 2;\nEND;\n",
    "CREATE RULE keep AS ON DELETE TO users DO INSTEAD (\n  UPDATE users SET name = 'x' WHERE id = OLD.id;\n"
    "  INSERT INTO users (id) VALUES (OLD.id);\n);\n",
    "INSERT INTO users (name) VALUES ('a;\nb;\n');\n",
    "/* not yet;\nDROP TABLE users;\n*/\nCOMMENT ON TABLE users IS 'für später';\n",
    "VACUUM -- ;\nANALYZE;\n",  # one statement, VACUUM ANALYZE: both halves would parse alone
    "SELECT 1 -- x;\nFROM users;\n",
    "BEGIN;\n",
    "COMMIT;\n",
    "UPDATE alembic_version SET version_num='b' WHERE alembic_version.version_num = 'a';\n",
    "ALTER TABLE users ADD COLUMN café text;\n",
]


def without_locations(node):
    """Node locations (location, arg_location, ...) count from where a parse began: a piece's start, or the file's."""
    if isinstance(node, dict):
        return {k: without_locations(v) for k, v in node.items() if not k.endswith("location")}
    if isinstance(node, list):
        return [without_locations(v) for v in node]
    return node


def items(sql, **pieces):
    return [(offset + item.get("stmt_location", 0), item.get("stmt_len"), without_locations(item["stmt"]))
            for offset, item in statement_items(sql, **pieces)]


SMALL_PIECES = {"first": 1, "piece": 1, "one_call_below": 0}  # a piece ends at the first `;` PostgreSQL agrees with


def test_pieces_give_the_statements_of_a_single_parse_where_a_line_ending_semicolon_is_inside_something():
    sql = "".join(TRICKY * 3)
    single = items(sql, one_call_below=len(sql) + 1)
    assert len(single) == 3 * len(TRICKY)  # each is one statement, whatever its `;`s
    assert items(sql, **SMALL_PIECES) == single
    assert items(sql, first=100, piece=300, one_call_below=0) == single


def test_a_big_file_is_split_into_the_same_statements_lines_and_comments(monkeypatch):
    import linters.sqlpieces as sqlpieces

    sql = "".join(TRICKY * 400)
    assert len(sql) > ONE_CALL_BELOW  # read in pieces, on the second thread
    piped, open_after = split_statements(sql, 1, "upgrade", False, sql_lines=True)
    monkeypatch.setattr(sqlpieces, "ONE_CALL_BELOW", len(sql) + 1)  # one call, as for a small file
    single, open_single = split_statements(sql, 1, "upgrade", False, sql_lines=True)
    key = lambda s: (s.sql, s.line, s.comments, s.kind, s.in_transaction, json.dumps(without_locations(s.node)))
    assert [key(s) for s in piped] == [key(s) for s in single] and open_after == open_single
    assert piped[-1].line == sql.count("\n")  # the last statement, ALTER TABLE, on the file's last line


def test_a_file_written_on_windows_is_cut_at_its_line_ending_semicolons_too():
    sql = "".join(TRICKY * 3).replace("\n", "\r\n")
    single = items(sql, one_call_below=len(sql) + 1)
    assert items(sql, **SMALL_PIECES) == single
    pieces = list(statement_items(sql, **SMALL_PIECES))
    assert len({offset for offset, _ in pieces}) > len(TRICKY)  # many pieces, not the rest in one call


def test_a_syntax_error_far_into_a_big_file_is_the_error_a_single_parse_raises():
    sql = "".join(TRICKY * 400) + "ALTER TABLE users ADD COLUMN;\n" + "".join(TRICKY * 10)
    with pytest.raises(pg_parser.ParseError) as single:
        pg_parser.parse_sql_json(sql)
    for pieces in (SMALL_PIECES, {}):
        with pytest.raises(pg_parser.ParseError) as piped:
            list(statement_items(sql, **pieces))
        assert str(piped.value) == str(single.value)


def test_the_sql_command_reports_a_big_files_findings_and_its_late_syntax_error_at_their_lines(tmp_path):
    body = "".join(TRICKY * 400)
    path = tmp_path / "upgrade.sql"
    path.write_text(body + "CREATE INDEX ix_users_name ON users (name);\n", encoding="utf-8")
    report = json.loads(run_cli("sql", str(path), "--format", "json").stdout)
    index_lines = {f["line"] for f in report["findings"] if f["rule"] == "require-concurrent-index-creation"}
    assert index_lines == {body.count("\n") + 1}
    path.write_text(body + "ALTER TABLE users ADD COLUMN;\n", encoding="utf-8")
    report = json.loads(run_cli("sql", str(path), "--format", "json").stdout)
    assert [(f["rule"], f["line"]) for f in report["findings"]] == [("render-error", body.count("\n") + 1)]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(TRICKY), min_size=1, max_size=30), st.integers(1, 400), st.integers(1, 400))
def test_any_mix_of_statements_gives_the_single_parse_in_any_pieces(parts, first, piece):
    sql = "".join(parts)
    assert items(sql, first=first, piece=piece, one_call_below=0) == items(sql, one_call_below=len(sql) + 1)
