"""Suggested fixes: libcst rewrites of the op.* call, applied as a reviewer would, then re-reviewed and run."""

import json
import subprocess
import sys
import textwrap
import uuid

import psycopg
import pytest

from linters.rules import RULES
from linters.suggest import suggest
from tests.gitrepo import run_cli

PG = "postgresql://postgres@127.0.0.1:5432/"

REVISION = '''\
def upgrade():
    # a comment above stays above
    op.create_index(
        "ix_a",
        "users",
        ["email"],
    )  # trailing comment kept
    op.create_foreign_key(op.f("fk_o_u"), "orders", "users", ["user_id"], ["id"], source_schema="shop")
    with op.get_context().autocommit_block():
        op.drop_index("ix_b", table_name="users")
    op.create_check_constraint("ck_amount", "orders", "amount > 0")
    with op.batch_alter_table("users") as batch_op:
        batch_op.create_index("ix_c", ["email"])
    op.create_foreign_key(None, "orders", "users", ["user_id"], ["id"])
'''


def fix_for(source: str, line: int, rule: str):
    """The suggestion the review writes for a finding of `rule` at `line`: the rule's own fix."""
    return suggest(source, line, RULES[rule].fix)


def test_index_build_goes_concurrent_inside_autocommit_block_keeping_layout():
    fix = fix_for(REVISION, 3, "require-concurrent-index-creation")
    assert (fix.start, fix.end) == (3, 7)
    # a named build first drops the INVALID index a failed run may have left (prefer-robust-stmts' recipe)
    assert fix.text == textwrap.indent(textwrap.dedent('''\
        with op.get_context().autocommit_block():
            op.drop_index(
                "ix_a", table_name="users", postgresql_concurrently=True, if_exists=True
            )
            op.create_index(
                "ix_a",
                "users",
                ["email"],
                postgresql_concurrently=True,
            )  # trailing comment kept'''), "    ")
    assert fix_for(REVISION, 5, "require-concurrent-index-creation").text == fix.text  # any line of the call


def test_already_in_autocommit_block_only_the_flags_are_added_and_wrapped_as_black_would():
    fix = fix_for(REVISION, 10, "require-concurrent-index-deletion")
    # if_exists=True, as the rule's recipe says: outside a transaction a failed run is re-run;
    # 94 characters on one line: the arguments go on their own line, as black puts them
    assert fix.text == textwrap.indent(textwrap.dedent('''\
        op.drop_index(
            "ix_b", table_name="users", postgresql_concurrently=True, if_exists=True
        )'''), "        ")


def test_constraints_become_not_valid_then_validated_after_a_commit():
    fk = fix_for(REVISION, 8, "adding-foreign-key-constraint")
    # too long for one line even with the arguments on their own: one per line, trailing comma (black)
    # the ADD commits before the VALIDATE block: a guarded drop first, so a re-run after a failed VALIDATE works
    assert fk.text.splitlines() == [
        "    op.drop_constraint(",
        '        op.f("fk_o_u"), "orders", type_="foreignkey", schema="shop", if_exists=True',
        "    )",
        "    op.create_foreign_key(",
        '        op.f("fk_o_u"),',
        '        "orders",',
        '        "users",',
        '        ["user_id"],',
        '        ["id"],',
        '        source_schema="shop",',
        "        postgresql_not_valid=True,",
        "    )",
        "    with op.get_context().autocommit_block():",
        '        op.execute("ALTER TABLE shop.orders VALIDATE CONSTRAINT fk_o_u")',
    ]
    assert max(len(line) for line in fk.text.splitlines()) <= 88
    check = fix_for(REVISION, 11, "constraint-missing-not-valid")
    assert check.text.splitlines()[:4] == [  # 91 characters: the arguments fit on one line of their own
        '    op.drop_constraint("ck_amount", "orders", type_="check", if_exists=True)',
        "    op.create_check_constraint(",
        '        "ck_amount", "orders", "amount > 0", postgresql_not_valid=True',
        "    )"]
    assert "VALIDATE CONSTRAINT ck_amount" in check.text


def test_no_suggestion_where_the_fix_is_not_mechanical():
    assert fix_for(REVISION, 13, "require-concurrent-index-creation") is None  # batch_op: inside a batch
    assert fix_for(REVISION, 14, "adding-foreign-key-constraint") is None      # no name to VALIDATE
    assert fix_for(REVISION, 3, "ban-drop-column") is None                     # not this rule's fix
    assert fix_for("def upgrade(:\n", 1, "require-concurrent-index-creation") is None


def test_cli_reports_the_call_range_and_applying_the_suggestion_fixes_the_finding(repo, review):
    rel = repo.add_revision("0002", "0001", """
        op.execute("SET lock_timeout = '3s'")
        op.create_index(
            "ix_users_email",
            "users",
            ["email"],
        )
    """, 'op.drop_index("ix_users_email", table_name="users")')
    _, report, _ = review()
    [f] = [f for f in report["findings"] if f["rule"] == "require-concurrent-index-creation"]
    lines = (repo.path / rel).read_text().splitlines()
    assert lines[f["line"] - 1].strip() == "op.create_index(" and lines[f["end_line"] - 1].strip() == ")"
    fixed = lines[:f["line"] - 1] + f["suggestion"].splitlines() + lines[f["end_line"]:]
    (repo.path / rel).write_text("\n".join(fixed) + "\n")
    _, report, _ = review()
    assert not [f for f in report["findings"] if f["direction"] == "upgrade" and f["severity"] == "error"]


def test_all_gives_the_recipe_but_no_edit_of_a_revision_that_already_ran(repo, review):
    """--all reviews history: editing a deployed revision changes nothing where it ran (and is itself an
    error on the next pull request), so its findings carry the recipe and the call's range, no rewrite."""
    rel = repo.add_revision("0002", "0001", """
        op.execute("SET lock_timeout = '3s'")
        op.create_index("ix_users_email", "users", ["email"])
    """, 'op.drop_index("ix_users_email", table_name="users")')
    _, pr, _ = review()
    every = json.loads(run_cli(str(repo.path), "--all", "--format", "json").stdout)
    [in_pr] = [f for f in pr["findings"] if f["rule"] == "require-concurrent-index-creation"]
    [in_all] = [f for f in every["findings"] if f["rule"] == "require-concurrent-index-creation"]
    assert "postgresql_concurrently=True" in in_pr["suggestion"]
    assert in_all["suggestion"] is None and in_all["hint"] and (in_all["path"], in_all["line"]) == (rel, in_pr["line"])


@pytest.fixture
def database():
    name = f"ar_suggest_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG + "postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield name
    with psycopg.connect(PG + "postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_applied_suggestions_migrate_a_real_database(repo, review, database):
    """The suggested revision runs on PostgreSQL: index valid, foreign key and check validated."""
    repo.write("alembic/env.py", textwrap.dedent(f"""
        from alembic import context
        from sqlalchemy import create_engine
        engine = create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/{database}")
        with engine.connect() as connection:
            context.configure(connection=connection, transaction_per_migration=True)
            with context.begin_transaction():
                context.run_migrations()
    """))
    rel = repo.add_revision("0002", "0001", """
        op.execute("SET lock_timeout = '3s'")
        op.add_column("exams", sa.Column("user_id", sa.BigInteger))
        op.create_foreign_key("fk_exams_user", "exams", "users", ["user_id"], ["id"])
        op.create_check_constraint("ck_exams_title", "exams", "title <> ''")
        op.create_index("ix_exams_user", "exams", ["user_id"])
    """)
    for _ in range(6):  # each pass applies one suggestion; line numbers move after a fix
        _, report, _ = review()
        fixable = [f for f in report["findings"] if f["suggestion"] and f["direction"] == "upgrade"]
        if not fixable:
            break
        f = fixable[0]
        lines = (repo.path / rel).read_text().splitlines()
        (repo.path / rel).write_text("\n".join(lines[:f["line"] - 1] + f["suggestion"].splitlines()
                                               + lines[f["end_line"]:]) + "\n")
    assert {f["rule"] for f in report["findings"] if f["severity"] == "error"} == set()
    proc = subprocess.run([sys.executable, "-m", "alembic", "upgrade", "head"], cwd=repo.path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    with psycopg.connect(PG + database) as conn:
        validated = dict(conn.execute("SELECT conname, convalidated FROM pg_constraint "
                                      "WHERE conname IN ('fk_exams_user', 'ck_exams_title')").fetchall())
        valid_index = conn.execute("SELECT indisvalid FROM pg_index WHERE indexrelid = 'ix_exams_user'::regclass"
                                   ).fetchone()[0]
    assert validated == {"fk_exams_user": True, "ck_exams_title": True} and valid_index


def _apply_all(path, findings) -> list[tuple[dict, int, int]]:
    """Every suggestion applied at once, as a reviewer clicking each one: (finding, first, last line
    of its replacement in the new file)."""
    lines = path.read_text().splitlines()
    fixes = sorted((f for f in findings if f["suggestion"]), key=lambda f: f["line"])
    spans, shift, out, at = [], 0, [], 0
    for f in fixes:
        new = f["suggestion"].splitlines()
        out += lines[at:f["line"] - 1] + new
        at = f["end_line"]
        spans.append((f, f["line"] + shift, f["line"] + shift + len(new) - 1))
        shift += len(new) - (f["end_line"] - f["line"] + 1)
    path.write_text("\n".join(out + lines[at:]) + "\n")
    return spans


def test_applying_every_suggestion_leaves_nothing_new_to_say_about_the_suggested_code(repo, review):
    """The suggestions are a fixed point: after applying them all, a second review finds nothing on
    the suggested lines that the first did not already say about those ops (and not the fixed rule)."""
    repo.add_revision("0002", "0001", """
        op.add_column("exams", sa.Column("user_id", sa.BigInteger))
        op.create_index("ix_exams_title", "exams", ["title"])
    """, slug="before")
    repo.commit("on main")
    repo.git("branch", "-f", "main", "HEAD")
    rel = repo.add_revision("0003", "0002", """
        op.execute("SET LOCAL lock_timeout = '3s'")
        op.create_index("ix_users_email", "users", ["email"])
        op.drop_index("ix_exams_title", table_name="exams")
        op.create_foreign_key("fk_exams_user", "exams", "users", ["user_id"], ["id"])
        op.create_check_constraint("ck_exams_title", "exams", "title <> ''")
        op.create_index("ix_users_legacy", "users", ["legacy_name"], unique=True)
    """, slug="fixable")
    _, before, _ = review()
    fixed = {f["rule"] for f in before["findings"] if f["suggestion"]}
    assert fixed == {"require-concurrent-index-creation", "require-concurrent-index-deletion",
                     "adding-foreign-key-constraint", "constraint-missing-not-valid"}
    spans = _apply_all(repo.path / rel, [f for f in before["findings"] if f["path"] == rel])
    _, after, _ = review()
    for f, first, last in spans:
        said_before = {g["rule"] for g in before["findings"] if g["path"] == rel and g["line"] == f["line"]}
        new = [(g["rule"], g["line"], g["message"]) for g in after["findings"]
               if g["path"] == rel and g["direction"] == "upgrade" and first <= g["line"] <= last
               and (g["rule"] not in said_before or g["rule"] == f["rule"])]
        assert new == [], f"after applying the {f['rule']} suggestion"


def test_a_new_autocommit_block_sets_again_the_lock_timeout_a_set_local_gave_only_to_the_transaction():
    source = 'def upgrade():\n    op.execute("SET LOCAL lock_timeout = \'3s\'")\n    op.create_index(None, "users", ["email"])\n'
    fix = fix_for(source, 3, "require-concurrent-index-creation")
    assert fix.text.splitlines()[:2] == ["    with op.get_context().autocommit_block():",
                                         "        op.execute(\"SET lock_timeout TO '3s'\")"]
    # a session-wide SET outlives the block's COMMIT: nothing to repeat (and an unnamed index needs no drop)
    session = source.replace("SET LOCAL", "SET")
    assert fix_for(session, 3, "require-concurrent-index-creation").text == (
        '    with op.get_context().autocommit_block():\n'
        '        op.create_index(None, "users", ["email"], postgresql_concurrently=True)')
