"""The PR comment passes the five-second test: the five-revision pull request of
examples/five_revision_pr/ (a real git repository on the example app, reviewed by the CLI and read
back from its JSON report as the Action does) gives a comment whose verdict is its first line and
whose visible part fits one screen. bench/pr_comment_screens.py takes the same comment to a browser."""

from __future__ import annotations

import hashlib
import re

import pytest

from bench.pr_comment import build_pr_repo, review_pr
from bot import publish
from linters.demo import _git, example_app_on_main
from linters.existing_type import existing_type_at
from linters.report import markdown

PR_URL = "https://github.com/acme/exams/pull/42"


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    return review_pr(build_pr_repo(tmp_path_factory.mktemp("pr") / "exams"))


@pytest.fixture(scope="module")
def comment(report):
    return publish.summary_body(report, "e536aa4f00d", pr_url=PR_URL)


def test_verdict_first_and_the_visible_part_fits_one_screen(comment):
    body = comment.split(publish.MARKER + "\n", 1)[1]
    assert body.splitlines()[0] == "### ❌ alembic-review: 6 problems to fix before merge"
    visible = markdown.visible_part(body)
    assert len(visible) < 3000, len(visible)  # link targets included
    # what is folded: the notes, each finding with its lock, the recipes, the SQL
    assert re.findall(r"<details><summary>([^<]*)</summary>", body) == [
        "ℹ️ 6 notes on downgrade paths and style (not blocking)",
        "Each finding with the lock it takes (6 findings)",
        "How to fix each rule (6 recipes)",
        "Rendered SQL of 5 revisions"]


def test_one_line_per_problem_linked_to_its_line_in_the_diff(comment):
    problems = [line for line in markdown.visible_part(comment).splitlines() if line.startswith("- ❌")]
    assert len(problems) == 6
    path = "alembic/versions/1a0000000003_widen_exam_score_precision.py"
    anchor = f"{PR_URL}/files#diff-{hashlib.sha256(path.encode()).hexdigest()}"
    [types] = [line for line in problems if "1a0000000003" in line]
    # old -> new type with precision (from existing_type=); the other change, numeric(6,2) ->
    # numeric(14,2), only touches the catalog: no finding, no rewrite claim
    assert f"[L19]({anchor}R19) changing the type of evaluations.score (numeric(6,2) → numeric(14,3)) rewrites" in types
    assert "L26" not in comment.split("<summary>ℹ️")[0]
    # one finding per problem: the two heads once, with its one-click fix; the dropped column once,
    # naming the model line
    [heads] = [line for line in problems if "heads" in line]
    assert "🔧" in heads and "1a0000000004, 1b0000000001" in heads
    [dropped] = [line for line in problems if "users.phone" in line]
    assert "models/users.py:24" in dropped
    assert "- [ ]" not in comment  # plain bullets, not task lists: the comment is rewritten on each push


def test_revision_table_has_the_strongest_lock_per_table_and_the_cost(comment):
    rows = {line.split("`")[1]: line for line in comment.splitlines() if line.startswith("| ") and "`" in line}
    assert "file" not in comment.split("| revision |")[1].splitlines()[0]
    assert "none: new table" in rows["1a0000000001"] and rows["1a0000000001"].startswith("| ✅")
    assert "`ACCESS EXCLUSIVE` exam_attempts · `SHARE ROW EXCLUSIVE` users" in rows["1a0000000002"]
    assert "`ACCESS EXCLUSIVE` evaluations, exams" in rows["1a0000000003"]
    assert rows["1a0000000003"].endswith("| **rewrite** of evaluations |")
    # a correctly written concurrent index: ✅, writes go on (no rule fired: the lock analysis speaks)
    assert rows["1a0000000004"].startswith("| ✅")
    assert "`SHARE UPDATE EXCLUSIVE` exam_attempts" in rows["1a0000000004"]
    assert "concurrent build (writes go on)" in rows["1a0000000004"]
    assert "*(edited)*" in rows["5e9a3b7c8d12"]


def test_locks_said_plainly_in_the_details_and_no_lock_line_for_style(comment):
    details = comment.split("Each finding with the lock it takes")[1].split("</details>")[0]
    # the lock-held-across-statements warning is folded into the error on the same op
    assert "lock-held-across-statements" not in details
    assert ("🔒 `SHARE ROW EXCLUSIVE` on `exam_attempts`: blocks writes, reads go on; and `ACCESS EXCLUSIVE` on "
            "`exam_attempts`, held since line 19: blocks reads and writes until the migration commits") in details
    notes = comment.split("(not blocking)</summary>")[1].split("</details>")[0]
    assert "prefer-bigint-over-int" in notes and "🔒" not in notes


def test_no_findings_on_the_downgrade_of_a_table_the_revision_creates(report):
    assert [f.rule for f in report.findings if f.revision == "1a0000000001" and f.direction == "downgrade"] == []


def test_recipes_once_per_rule_and_fitted_to_env_py(report, comment):
    recipes = comment.split("How to fix each rule")[1].split("</details>")[0]
    rules = re.findall(r"^\[`([\w-]+)`\]", recipes, flags=re.M)
    assert len(rules) == len(set(rules)) == 6
    assert "#adding-foreign-key-constraint)" in recipes  # each rule id links to its docs section
    # env.py passes transaction_per_migration=True: the inline comment does not advise it
    [held] = [f for f in report.findings if f.rule == "lock-held-across-statements" and f.line == 24]
    body = publish.inline_body(held, "0" * 20, False, report.project)
    assert "env.py already commits after each revision" in body and "pass `transaction_per_migration" not in body


def test_check_summary_follows_the_same_order(report):
    summary = markdown.render(report, max_chars=publish.CHECK_TEXT_LIMIT, pr_url=PR_URL)
    assert summary.startswith("### ❌ alembic-review: 6 problems to fix before merge")
    assert publish.check_title(report) == "6 problems to fix before merge"
    assert summary.index("- ❌") < summary.index("| revision |") < summary.index("<details>")


SAFE_REVISION = """\"\"\"users: timezone, attempts by proctor\"\"\"
from alembic import op
import sqlalchemy as sa

revision = "2a0000000001"
down_revision = "e8b35a0c6f19"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("users", sa.Column("timezone", sa.Text(), nullable=True), if_not_exists=True)
    with op.get_context().autocommit_block():
        op.create_index("ix_exam_attempts_started_at", "exam_attempts", ["started_at"],
                        postgresql_concurrently=True, if_not_exists=True)


def downgrade():
    with op.get_context().autocommit_block():
        op.drop_index("ix_exam_attempts_started_at", table_name="exam_attempts",
                      postgresql_concurrently=True, if_exists=True)
    op.drop_column("users", "timezone")
"""


def test_a_pr_with_nothing_to_fix_is_one_line(tmp_path):
    repo = example_app_on_main(tmp_path / "exams")
    _git(repo, "checkout", "-q", "-b", "timezone")
    (repo / "alembic" / "versions" / "2a0000000001_users_timezone.py").write_text(SAFE_REVISION)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "timezone")
    body = publish.summary_body(review_pr(repo), "e536aa4f00d", pr_url=PR_URL)
    assert body == (publish.MARKER + "\n✅ **alembic-review: safe to merge** at `e536aa4`: ADD COLUMN users.timezone "
                    "(instant), CREATE INDEX CONCURRENTLY ix_exam_attempts_started_at ON exam_attempts (writes go on)\n")


@pytest.mark.parametrize("written, sql", [
    ("sa.Numeric(precision=6, scale=2)", "numeric(6,2)"), ("sa.Numeric(12, 2)", "numeric(12,2)"),
    ("sa.NUMERIC()", "numeric"), ("sa.String(64)", "varchar(64)"), ("sa.String(length=8)", "varchar(8)"),
    ("sa.Text()", "text"), ("sa.BigInteger", "bigint"), ("sa.DateTime(timezone=True)", "timestamptz"),
    ("postgresql.ARRAY(sa.Text())", None), ("MyType()", None)])
def test_existing_type_read_from_the_alter_column_call(written, sql):
    source = f'def upgrade():\n    op.alter_column(\n        "t", "c",\n        existing_type={written},\n    )\n'
    assert existing_type_at(source, 3) == sql
    assert existing_type_at(source.replace("alter_column", "add_column"), 3) is None
