"""History rules on real git repositories: heads, broken links, duplicates, edits, deletions, renames."""

import json

from tests.gitrepo import run_cli


def rules_of(report) -> list[str]:
    """The blocking findings: these tests are about history and rendering, not the catalogue's warnings."""
    return [f["rule"] for f in report["findings"] if f["severity"] == "error"]


def findings_of(report, rule):
    return [f for f in report["findings"] if f["rule"] == rule]


def test_two_prs_on_the_same_parent_leave_two_heads(repo, review):
    repo.add_revision("0002", "0001", slug="merged_first")
    repo.commit("first PR, merged")
    repo.git("branch", "-f", "main", "HEAD")  # main now has 0002 as its head
    repo.git("checkout", "-q", "-b", "second", "main~1")
    rel = repo.add_revision("0003", "0001", slug="second_pr")
    repo.git("checkout", "-q", "main", "--", "alembic/versions/0002_merged_first.py")  # rebased on main's files
    code, report, _ = review()
    [heads] = findings_of(report, "multiple-heads")
    assert code == 1
    assert heads["path"] == rel and heads["severity"] == "error"
    assert "0002" in heads["message"] and "0003" in heads["message"]
    line = (repo.path / rel).read_text().splitlines()[heads["line"] - 1]
    assert line.startswith("down_revision")
    # The mechanical fix: point the new revision at the current head.
    assert heads["suggestion"] == "down_revision = '0002'"
    # Applied, the history has one head again and nothing new is said about that line.
    lines = (repo.path / rel).read_text().splitlines()
    lines[heads["line"] - 1] = heads["suggestion"]
    (repo.path / rel).write_text("\n".join(lines) + "\n")
    code, report, _ = review()
    assert [f for f in report["findings"] if f["path"] == rel and f["line"] == heads["line"]] == [] and code == 0


def test_merge_revision_and_branch_labels_are_one_head(repo, review):
    repo.add_revision("0002", "0001", slug="a")
    repo.add_revision("0003", "0001", slug="b")
    repo.add_revision("0004", ("0002", "0003"), slug="merge")
    code, report, _ = review()
    assert findings_of(report, "multiple-heads") == []
    assert code == 0


def test_independent_labelled_branches_are_not_multiple_heads(repo):
    repo.write("alembic/versions/b001_other.py",
               'revision = "b001"\ndown_revision = None\nbranch_labels = ("analytics",)\n'
               'depends_on = "0001"\nfrom alembic import op\ndef upgrade():\n    pass\n')
    proc = run_cli(str(repo.path), "--all", "--format", "json")
    report = json.loads(proc.stdout)
    assert findings_of(report, "multiple-heads") == []
    assert findings_of(report, "missing-down-revision") == []


def test_depends_on_an_unknown_revision_and_missing_down_revision(repo, review):
    rel = repo.add_revision("0002", "nope", slug="orphan")
    repo.write("alembic/versions/0003_dep.py",
               'revision = "0003"\ndown_revision = "0002"\ndepends_on = "ghost"\nfrom alembic import op\n'
               'def upgrade():\n    pass\n')
    code, report, _ = review()
    missing = findings_of(report, "missing-down-revision")
    assert {(f["path"], f["message"].split()[0]) for f in missing} == {
        (rel, "down_revision"), ("alembic/versions/0003_dep.py", "depends_on")}
    assert code == 1


def test_depends_on_by_branch_label_is_understood(repo, review):
    repo.write("alembic/versions/0001_init.py",
               (repo.path / "alembic/versions/0001_init.py").read_text().replace("branch_labels = None", "branch_labels = ('core',)"))
    repo.commit("label")
    repo.write("alembic/versions/0002_dep.py",
               'revision = "0002"\ndown_revision = "0001"\ndepends_on = "core"\nfrom alembic import op\n'
               'def upgrade():\n    pass\n')
    code, report, _ = review()
    assert findings_of(report, "missing-down-revision") == []


def test_duplicate_revision_ids(repo, review):
    repo.add_revision("0002", "0001", slug="one")
    dup = repo.add_revision("0002", "0001", slug="two")
    code, report, _ = review()
    [f] = findings_of(report, "duplicate-revision")
    assert f["path"] == dup and code == 1


def test_edited_revision_code_change_is_an_error_at_the_changed_line(repo, review):
    path = repo.path / "alembic/versions/0001_init.py"
    text = path.read_text()
    path.write_text(text.replace('sa.Column("title", sa.Text),', 'sa.Column("title", sa.Text, nullable=False),'))
    code, report, _ = review()
    [f] = findings_of(report, "edited-revision")
    assert f["severity"] == "error" and code == 1
    assert f["path"] == "alembic/versions/0001_init.py"
    assert path.read_text().splitlines()[f["line"] - 1].strip().startswith('op.create_table(')


def test_cosmetic_edit_is_at_most_info(repo, review):
    path = repo.path / "alembic/versions/0001_init.py"
    text = path.read_text().replace('"""revision 0001"""', '"""Initial schema: users and exams."""')
    text = text.replace("def upgrade():\n", "# reviewed in 2024\ndef upgrade():\n")
    text = text.replace('op.drop_table("exams")', "op.drop_table( 'exams' )  # reformatted")
    path.write_text(text)
    code, report, _ = review()
    assert [f["severity"] for f in findings_of(report, "edited-revision")] == ["info"]
    assert code == 0


def test_changed_down_revision_is_an_error(repo, review):
    repo.add_revision("0002", "0001", slug="two")
    repo.add_revision("0003", "0002", slug="three")
    repo.commit("two more")
    repo.git("branch", "-f", "main", "HEAD")
    path = repo.path / "alembic/versions/0003_three.py"
    path.write_text(path.read_text().replace("down_revision = '0002'", "down_revision = '0001'"))
    code, report, _ = review()
    edited = findings_of(report, "edited-revision")
    assert edited and "down_revision" in edited[0]["message"]
    assert path.read_text().splitlines()[edited[0]["line"] - 1].startswith("down_revision")


def test_deleted_revision_is_an_error(repo, review):
    repo.add_revision("0002", "0001", slug="two")
    repo.commit("two")
    repo.git("branch", "-f", "main", "HEAD")
    repo.remove("alembic/versions/0002_two.py")
    code, report, _ = review()
    [f] = findings_of(report, "deleted-revision")
    assert f["path"] == "alembic/versions/0002_two.py" and code == 1
    assert [r["status"] for r in report["revisions"]] == ["deleted"]


def test_renamed_revision_file_is_not_an_edit(repo, review):
    repo.git("mv", "alembic/versions/0001_init.py", "alembic/versions/0001_initial_schema.py")
    code, report, _ = review()
    assert rules_of(report) == [] and code == 0


def test_uncommitted_work_counts_as_part_of_the_branch(repo, review):
    repo.add_revision("0002", "0001", 'op.drop_column("users", "legacy_name")')  # not committed
    code, report, _ = review()
    assert rules_of(report) == ["ban-drop-column"]


def _two_more_on_main(repo):
    repo.add_revision("0002", "0001", slug="two")
    repo.add_revision("0003", "0002", slug="three")
    repo.commit("two more")
    repo.git("branch", "-f", "main", "HEAD")


def test_renamed_revision_file_whose_down_revision_changed_is_an_error(repo, review):
    _two_more_on_main(repo)
    repo.git("mv", "alembic/versions/0003_three.py", "alembic/versions/0003_reordered.py")
    path = repo.path / "alembic/versions/0003_reordered.py"
    path.write_text(path.read_text().replace("down_revision = '0002'", "down_revision = '0001'"))
    repo.git("mv", "alembic/versions/0002_two.py", "alembic/versions/0002_moved.py")
    path = repo.path / "alembic/versions/0002_moved.py"
    path.write_text(path.read_text().replace("down_revision = '0001'", "down_revision = '0003'"))
    code, report, _ = review()
    edited = findings_of(report, "edited-revision")
    assert code == 1 and len(edited) == 2 and all("down_revision" in f["message"] for f in edited)
    assert {f["path"] for f in edited} == {"alembic/versions/0002_moved.py", "alembic/versions/0003_reordered.py"}


def test_import_reordering_and_a_formatter_run_are_cosmetic(repo, review):
    path = repo.path / "alembic/versions/0001_init.py"
    text = path.read_text().replace("from alembic import op\nimport sqlalchemy as sa\n",
                                    "import sqlalchemy as sa\nfrom alembic import op\n")
    text = text.replace('sa.Column("title", sa.Text),', "sa.Column(\n        u'title',\n        sa.Text,\n    ),")
    path.write_text(text)
    code, report, _ = review()
    assert [f["severity"] for f in findings_of(report, "edited-revision")] == ["info"] and code == 0


def test_a_revision_that_is_its_own_down_revision_is_a_cycle(repo, review):
    rel = repo.add_revision("0002", "0002", slug="self")
    code, report, _ = review()
    [f] = findings_of(report, "revision-cycle")
    assert code == 1 and f["severity"] == "error" and f["path"] == rel and "0002" in f["message"]


def test_new_revisions_forming_a_loop_are_a_cycle(repo, review):
    repo.add_revision("0002", ("0001", "0003"), slug="two")
    repo.add_revision("0003", "0002", slug="three")
    code, report, _ = review()
    cycles = findings_of(report, "revision-cycle")
    assert code == 1 and len(cycles) == 1
    assert "0002" in cycles[0]["message"] and "0003" in cycles[0]["message"]


def test_a_history_without_loops_has_no_cycle(repo, review):
    _two_more_on_main(repo)
    repo.add_revision("0004", ("0002", "0003"), slug="merge")
    code, report, _ = review()
    assert findings_of(report, "revision-cycle") == []


def test_removing_an_unused_import_is_cosmetic_and_using_a_new_one_is_not(repo, review):
    path = repo.path / "alembic/versions/0001_init.py"
    original = path.read_text()
    path.write_text(original.replace("import sqlalchemy as sa\n", "import sqlalchemy as sa\nimport os\n"))
    repo.commit("an unused import")
    repo.git("branch", "-f", "main", "HEAD")
    path.write_text(original)  # ruff's F401 fix
    code, report, _ = review()
    assert [f["severity"] for f in findings_of(report, "edited-revision")] == ["info"] and code == 0
    path.write_text(original.replace("import sqlalchemy as sa\n", "import sqlalchemy as sa\nimport os\n")
                    .replace('op.drop_table("exams")', 'op.drop_table(os.environ["T"])'))
    code, report, _ = review()
    assert [f["severity"] for f in findings_of(report, "edited-revision")] == ["error"]


def test_lint_autofixes_are_cosmetic(repo, review):
    path = repo.path / "alembic/versions/0001_init.py"
    text = path.read_text().replace("branch_labels = None", "branch_labels: str | None = None")
    text = text.replace('op.drop_table("users")', 'op.drop_table("users")\n    pass')  # ruff PIE790 removes it
    path.write_text(text)
    code, report, _ = review()
    assert [f["severity"] for f in findings_of(report, "edited-revision")] == ["info"] and code == 0


def _edit_on_main(repo, header: str = "", upgrade: str = "pass") -> str:
    """A second revision committed on main; returns its path for the branch to edit."""
    rel = repo.add_revision("0002", "0001", upgrade, header=header, slug="two")
    repo.commit("two")
    repo.git("branch", "-f", "main", "HEAD")
    return rel


def _severities(report) -> list[str]:
    return [f["severity"] for f in findings_of(report, "edited-revision")]


def test_function_annotations_added_by_a_type_checker_are_cosmetic(repo, review):
    path = repo.path / _edit_on_main(repo, upgrade='op.execute("UPDATE exams SET title = lower(title)")')
    original = path.read_text()
    path.write_text(original.replace("def upgrade():", "def upgrade() -> None:")
                    .replace("def downgrade():", "def downgrade() -> None:"))
    code, report, _ = review()
    assert _severities(report) == ["info"] and code == 0
    path.write_text(original.replace("def upgrade():", "def upgrade(*args):\n    args = None"))
    code, report, _ = review()
    assert _severities(report) == ["error"]


def test_imports_sorted_below_the_revision_identifiers_are_cosmetic(repo, review):
    # jupyterhub's revisions import after `depends_on = None`; isort sorts that run of imports too.
    rel = repo.add_revision("0002", "0001", "op.execute(json.dumps([str(datetime)]))", slug="two")
    path = repo.path / rel
    below = "depends_on = None\nfrom datetime import datetime\nimport json\n"
    path.write_text(path.read_text().replace("depends_on = None\n", below))
    repo.commit("two")
    repo.git("branch", "-f", "main", "HEAD")
    path.write_text(path.read_text().replace(below, "depends_on = None\nimport json\nfrom datetime import datetime\n"))
    code, report, _ = review()
    assert _severities(report) == ["info"] and code == 0


def test_reindented_sql_text_is_cosmetic_and_a_changed_value_is_not(repo, review):
    call = """op.execute("UPDATE exams SET title = 'x' WHERE id = 1")"""
    path = repo.path / _edit_on_main(repo, upgrade=call)
    original = path.read_text()
    assert call in original
    path.write_text(original.replace(call, 'op.execute(\n        """\n        update exams   \n        set title = \'x\'\n'
                                           '        where id = 1\n        """\n    )'))
    code, report, _ = review()
    assert _severities(report) == ["info"] and code == 0
    path.write_text(original.replace("WHERE id = 1", "WHERE id = 2"))
    code, report, _ = review()
    assert _severities(report) == ["error"] and code == 1


def test_naming_a_constant_or_tagging_a_revision_for_another_tool_is_cosmetic(repo, review):
    path = repo.path / _edit_on_main(repo, upgrade='op.add_column("users", sa.Column("nickname", sa.String(80)))')
    original = path.read_text()
    named = original.replace("\nrevision = ", "\nUSERS = 'users'\nLENGTH = 80\nrevision = ").replace(
        '"users", sa.Column("nickname", sa.String(80))', 'USERS, sa.Column("nickname", sa.String(LENGTH))')
    # neutron tags old revisions with the release they shipped in; Alembic never reads it
    tagged = named.replace("depends_on = None\n", "depends_on = None\nmilestone = [sa.types.TEXT]\n")
    path.write_text(tagged)
    code, report, _ = review()
    assert _severities(report) == ["info"] and code == 0
    path.write_text(tagged.replace("LENGTH = 80", "LENGTH = 120"))  # the constant's value is the SQL's
    code, report, _ = review()
    assert _severities(report) == ["error"] and code == 1
    path.write_text(named.replace("depends_on = None\n", "depends_on = None\nmilestone = [releases.ZED]\n"))
    code, report, _ = review()  # a tag naming nothing the file binds fails the import: an edit
    assert _severities(report) == ["error"]
