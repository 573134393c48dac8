"""Inline ignores, as a developer writes them in a revision, and the unused ones reported back."""

import pytest

from tests.conftest import rules_of

INDEX = 'op.create_index("ix_users_email", "users", ["email"])'


def of(report, rule):
    return [f for f in report["findings"] if f["rule"] == rule]


def test_ignore_on_the_op_line_silences_that_rule_only(repo, review):
    repo.add_revision("0002", "0001", f"""
        op.execute("SET lock_timeout = '3s'")
        {INDEX}  # alembic-review: ignore[require-concurrent-index-creation]
        op.drop_column("users", "legacy_name")
    """)
    code, report, _ = review()
    assert "require-concurrent-index-creation" not in rules_of(report)
    assert "ban-drop-column" in rules_of(report) and code == 1
    assert of(report, "unused-ignore") == []


def test_ignore_on_a_continuation_line_of_a_multi_line_call(repo, review):
    repo.add_revision("0002", "0001", """
        op.execute("SET lock_timeout = '3s'")
        op.create_index(
            "ix_users_email",
            "users",
            ["email"],  # alembic-review: ignore[require-concurrent-index-creation]
        )
        op.create_index(
            "ix_users_name",
            "users",
            ["legacy_name"],
        )
    """)
    _, report, _ = review()
    [left] = of(report, "require-concurrent-index-creation")
    assert "ix_users_name" in left["message"]


def test_ignore_on_the_line_after_the_call_does_not_reach_it(repo, review):
    repo.add_revision("0002", "0001", f"""
        op.execute("SET lock_timeout = '3s'")
        {INDEX}
        # alembic-review: ignore[require-concurrent-index-creation]
        op.add_column("users", sa.Column("nickname", sa.Text))
    """, 'op.drop_column("users", "nickname")')
    _, report, _ = review()
    assert len(of(report, "require-concurrent-index-creation")) == 1
    [unused] = of(report, "unused-ignore")
    assert unused["severity"] == "info" and "require-concurrent-index-creation" in unused["message"]


def test_module_docstring_ignores_for_the_whole_file(repo, review):
    repo.add_revision("0002", "0001", f"""
        {INDEX}
        op.drop_column("users", "legacy_name")
    """, docstring="drop legacy column\n\nalembic-review: ignore[ban-drop-column, require-concurrent-index-creation]\n")
    _, report, _ = review()
    assert "ban-drop-column" not in rules_of(report)
    assert "require-concurrent-index-creation" not in rules_of(report)


def test_bare_ignore_silences_every_rule_on_the_call(repo, review):
    repo.add_revision("0002", "0001", 'op.drop_column("users", "legacy_name")  # alembic-review: ignore',
                      'op.add_column("users", sa.Column("legacy_name", sa.Text))')
    _, report, _ = review()
    assert [f for f in report["findings"] if f["direction"] == "upgrade"] == []


@pytest.mark.parametrize("ours, squawks", [("alembic-review: ignore", "squawk-ignore"),
                                           ("ALEMBIC-REVIEW: IGNORE", "Squawk-Ignore")])  # any case, as in Python
def test_raw_sql_ignores_ours_and_squawks(repo, review, ours, squawks):
    repo.add_revision("0002", "0001", f'''
        op.execute("SET lock_timeout = '3s'")
        op.execute("""
            -- {ours}[ban-drop-column]
            ALTER TABLE users DROP COLUMN legacy_name;
            -- {squawks} renaming-column
            ALTER TABLE users RENAME COLUMN email TO mail;
            ALTER TABLE exams RENAME COLUMN title TO name;
        """)
    ''')
    _, report, _ = review()
    assert "ban-drop-column" not in rules_of(report)
    [renamed] = of(report, "renaming-column")
    assert "title" in renamed["statement"]
    assert of(report, "unused-ignore") == []


def test_the_sql_command_reads_ignores_in_any_case(tmp_path):
    import json

    from tests.test_cli import run_cli

    path = tmp_path / "upgrade.sql"
    path.write_text("-- Alembic-Review: Ignore[ban-drop-table]\nDROP TABLE users;\nDROP TABLE exams;\n")
    report = json.loads(run_cli("sql", str(path), "--format", "json").stdout)
    assert [f["statement"] for f in of(report, "ban-drop-table")] == ["DROP TABLE exams"]


def test_squawk_ignore_file(repo, review):
    repo.add_revision("0002", "0001", '''
        op.execute("""
            -- squawk-ignore-file ban-drop-column
            SET lock_timeout = '3s'
        """)
        op.drop_column("users", "legacy_name")
    ''')
    _, report, _ = review()
    assert "ban-drop-column" not in rules_of(report)


def test_history_rule_is_ignored_by_the_docstring_of_the_edited_revision(repo, review):
    path = repo.path / "alembic/versions/0001_init.py"
    edited = path.read_text().replace('"exams",\n', '"exams",\n        sa.Column("extra", sa.Text),\n', 1)
    path.write_text(edited)
    assert "edited-revision" in rules_of(review()[1])
    path.write_text(edited.replace('"""revision 0001"""',
                                   '"""revision 0001\n\nalembic-review: ignore[edited-revision]\n"""', 1))
    code, report, _ = review()
    assert "edited-revision" not in rules_of(report) and code == 0


def test_unused_and_unknown_ignores_are_reported_as_info(repo, review):
    repo.add_revision("0002", "0001", """
        op.execute("SET lock_timeout = '3s'")
        op.add_column("users", sa.Column("nickname", sa.Text))  # alembic-review: ignore[ban-drop-column, no-such-rule]
    """, 'op.drop_column("users", "nickname")')
    code, report, _ = review()
    unused = of(report, "unused-ignore")
    assert sorted(f["message"].split(": ")[-1] for f in unused) == ["no such rule", "nothing was reported here"]
    assert {f["line"] for f in unused} == {unused[0]["line"]} and code == 0
    # a rule switched off in the config never fires: its ignore is not "unused", and unused-ignore can be ignored
    _, report, _ = review("--ignore", "ban-drop-column")
    assert ["no such rule"] == [f["message"].split(": ")[-1] for f in of(report, "unused-ignore")]
    _, report, _ = review("--ignore", "unused-ignore")
    assert of(report, "unused-ignore") == []
