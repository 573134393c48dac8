"""Rule infrastructure: missing downgrades, downgrade findings, --pg-version plumbing, the rules table,
env.py and history readers, and the squawk agreement bench."""

import json
import re
import subprocess
import sys
from pathlib import Path

from linters.envpy import read_env
from linters.explain import markdown_table, readme_section, rules_doc
from linters.report.common import DOCS_URL, rule_doc_url
from linters.foreign_keys import history_foreign_keys
from linters.rules import RULES
from tests.conftest import rules_of
from tests.gitrepo import REPO_ROOT, run_cli


def of(report, rule, direction=None):
    return [f for f in report["findings"] if f["rule"] == rule and direction in (None, f["direction"])]


# -- missing-downgrade --------------------------------------------------------------------------

ADD = 'op.add_column("users", sa.Column("nickname", sa.Text))'


def test_missing_downgrade_empty_absent_or_not_implemented(repo, review):
    repo.add_revision("0002", "0001", ADD, "pass", slug="a")
    repo.add_revision("0003", "0002", 'op.add_column("exams", sa.Column("level", sa.Integer))',
                      '"""Nothing to undo."""', slug="b")
    no_function = repo.add_revision("0004", "0003", 'op.add_column("exams", sa.Column("topic", sa.Text))', slug="c")
    path = repo.path / no_function
    path.write_text(path.read_text().split("def downgrade")[0])
    repo.add_revision("0005", "0004", 'op.add_column("exams", sa.Column("code", sa.Text))',
                      'raise NotImplementedError("one way")', slug="d")
    repo.add_revision("0006", "0005", 'op.add_column("exams", sa.Column("slug", sa.Text))',
                      'if False:\n    op.drop_column("exams", "slug")', slug="e")
    code, report, _ = review("--fail-on", "warning")
    found = {f["revision"]: f for f in of(report, "missing-downgrade")}
    assert sorted(found) == ["0002", "0003", "0004", "0005", "0006"] and code == 1
    assert "empty" in found["0002"]["message"] and "empty" in found["0003"]["message"]
    assert "no downgrade()" in found["0004"]["message"]
    assert "NotImplementedError" in found["0005"]["message"]
    assert "emits no SQL" in found["0006"]["message"]
    assert all(f["severity"] == "warning" and f["direction"] == "upgrade" for f in found.values())
    assert "render-error" not in rules_of(report)  # a deliberate NotImplementedError is not a broken revision


def test_real_downgrades_and_data_only_upgrades_need_nothing(repo, review):
    repo.add_revision("0002", "0001", ADD, 'op.drop_column("users", "nickname")', slug="a")
    repo.add_revision("0003", "0002", 'op.execute("UPDATE exams SET title = \'x\' WHERE id = 1")', "pass", slug="b")
    _, report, _ = review()
    assert of(report, "missing-downgrade") == []


# -- downgrades ---------------------------------------------------------------------------------

def test_downgrade_dropping_what_its_upgrade_created_is_not_breaking(repo, review):
    repo.add_revision("0002", "0001", """
        op.execute("SET lock_timeout = '3s'")
        op.add_column("users", sa.Column("nickname", sa.Text))
        op.create_table("tags", sa.Column("id", sa.BigInteger, primary_key=True))
        op.execute("ALTER TABLE exams RENAME COLUMN title TO name")
    """, """
        op.execute("SET lock_timeout = '3s'")
        op.execute("ALTER TABLE exams RENAME COLUMN name TO title")
        op.drop_table("tags")
        op.drop_column("users", "nickname")
    """)
    _, report, _ = review()
    downgrade = [f["rule"] for f in report["findings"] if f["direction"] == "downgrade"]
    assert not [r for r in downgrade if r.startswith(("ban-drop-", "renaming-"))], downgrade
    assert of(report, "renaming-column", "upgrade")  # the upgrade's rename still breaks running code


def test_downgrade_findings_are_marked_and_lower_unless_configured(repo, review):
    repo.add_revision("0002", "0001", """
        op.execute("SET lock_timeout = '3s'")
        op.add_column("users", sa.Column("nickname", sa.Text))
    """, """
        op.execute("SET lock_timeout = '3s'")
        op.drop_column("users", "nickname")
        op.drop_column("users", "legacy_name")
    """)
    code, report, _ = review()
    [f] = of(report, "ban-drop-column")
    assert f["direction"] == "downgrade" and f["severity"] == "info" and "legacy_name" in f["message"]
    assert code == 0
    repo.write("pyproject.toml", '[tool.alembic-review.severity]\nban-drop-column = "error"\n')
    code, report, _ = review()
    assert of(report, "ban-drop-column")[0]["severity"] == "error" and code == 1


# -- --pg-version / pg_version ----------------------------------------------------------------

def test_pg_version_from_flag_and_config_changes_verdicts(repo, review):
    repo.add_revision("0002", "0001", """
        op.execute("SET lock_timeout = '3s'")
        op.add_column("users", sa.Column("active", sa.Boolean, server_default=sa.true()))
    """, 'op.drop_column("users", "active")')
    _, report, _ = review()
    assert report["pg_version"] == 15 and "adding-field-with-default" not in rules_of(report)
    _, report, _ = review("--pg-version", "10")  # before PostgreSQL 11 a constant default rewrites the table
    assert report["pg_version"] == 10
    assert {"adding-field-with-default", "require-statement-timeout"} <= set(rules_of(report))
    repo.write("pyproject.toml", "[tool.alembic-review]\npg_version = 10\n")
    _, report, _ = review()
    assert report["pg_version"] == 10 and "adding-field-with-default" in rules_of(report)
    _, report, _ = review("--pg-version", "11")  # the flag wins over the file
    assert report["pg_version"] == 11 and "adding-field-with-default" not in rules_of(report)


def test_bad_transaction_settings_are_usage_errors(repo):
    repo.write("pyproject.toml", '[tool.alembic-review]\ntransaction_per_migration = "yes"\n')
    proc = run_cli(str(repo.path), "--base", "main")
    assert proc.returncode == 2 and "transaction_per_migration must be true or false" in proc.stderr


# -- rule docs: one registry for `rules`, `explain` and the README --------------------------------

def test_readme_rules_table_is_the_generated_one():
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert readme_section(readme) == markdown_table(), \
        "README rules table is stale: run `python -m linters rules --markdown --write README.md`"
    proc = run_cli("rules", "--markdown")
    assert proc.returncode == 0 and proc.stdout == markdown_table()
    assert all(f"`{rule_id}`" in proc.stdout for rule_id in RULES)


def test_rules_doc_has_the_anchor_every_report_links_to():
    """The PR comment links each rule id to docs/rules.md#<id>: the page exists, is the generated one,
    and has one heading per rule (GitHub's anchor for `## rule-id` is the id itself)."""
    doc = (REPO_ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
    assert doc == rules_doc(), "docs/rules.md is stale: run `python -m linters rules --docs --write docs/rules.md`"
    headings = re.findall(r"^## (\S+)$", doc, flags=re.M)
    assert sorted(headings) == sorted(RULES)
    assert rule_doc_url("ban-drop-column") == DOCS_URL + "#ban-drop-column"
    assert DOCS_URL.endswith("/blob/main/docs/rules.md")


def test_rules_write_rewrites_only_the_marked_section(tmp_path):
    target = tmp_path / "README.md"
    target.write_text("# x\n\n<!-- rules:start -->\nold\n<!-- rules:end -->\n\nafter\n")
    assert run_cli("rules", "--markdown", "--write", str(target)).returncode == 0
    text = target.read_text()
    assert text.startswith("# x\n\n<!-- rules:start -->\n| rule |") and text.endswith("<!-- rules:end -->\n\nafter\n")
    missing = tmp_path / "OTHER.md"
    missing.write_text("no markers\n")
    proc = run_cli("rules", "--markdown", "--write", str(missing))
    assert proc.returncode == 2 and "no <!-- rules:start -->" in proc.stderr


def test_every_rule_explains_itself_with_an_alembic_recipe():
    for rule in RULES.values():
        assert rule.summary and rule.why and rule.recipe, rule.id
    out = run_cli("explain", "lock-held-across-statements").stdout
    assert "ACCESS EXCLUSIVE" in out and "transaction_per_migration" in out


def test_every_finding_carries_a_hint(repo, review):
    repo.add_revision("0002", "0001", """
        op.add_column("users", sa.Column("nickname", sa.Text))
        op.execute("UPDATE users SET nickname = email")
        op.create_index("ix_users_email", "users", ["email"])
        op.drop_column("users", "legacy_name")  # alembic-review: ignore[renaming-table]
    """)
    _, report, _ = review()
    assert len(report["findings"]) >= 6
    assert all(f["hint"] for f in report["findings"])


# -- static readers -----------------------------------------------------------------------------

def test_env_py_reader():
    assert read_env("context.configure(connection=c, transaction_per_migration=True)").transaction_per_migration
    assert read_env('COMMON = {"transaction_per_migration": True}\ncontext.configure(**COMMON)').transaction_per_migration
    assert not read_env("context.configure(connection=c)").transaction_per_migration
    facts = read_env('"""We might set lock_timeout = 5 one day."""\nopts = "-c lock_timeout=5s -c statement_timeout=0"\n')
    assert facts.lock_timeout and not facts.statement_timeout
    assert read_env("def broken(:\n").transaction_per_migration is False


def test_history_foreign_keys_reader():
    fks = history_foreign_keys([
        'def upgrade():\n'
        '    op.create_table("a", sa.Column("u", sa.Integer, sa.ForeignKey("users.id")),\n'
        '                    sa.ForeignKeyConstraint(["s"], ["shop.stores.id"], name="fk_a_store"))\n'
        '    op.create_foreign_key(op.f("fk_a_exam"), "a", "exams", ["e"], ["id"])\n'
        '    with op.batch_alter_table("b") as batch_op:\n'
        '        batch_op.create_foreign_key("fk_b_a", "a", ["a_id"], ["id"])\n',
        'def upgrade():\n    op.drop_constraint("fk_a_exam", "a", type_="foreignkey")\n'
        'def downgrade():\n    op.drop_table("a")\n',
    ])
    assert fks.by_child == {"a": {"a_u_fkey": "users", "fk_a_store": "shop.stores"}, "b": {"fk_b_a": "a"}}
    assert fks.children("a") == ["b"]


# -- agreement with squawk ------------------------------------------------------------------------

def test_squawk_agreement_bench_runs_on_the_corpus():
    proc = subprocess.run([sys.executable, "-m", "bench.squawk_agreement", "--json"], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["statements"] >= 60 and result["files"] == len(list(Path(REPO_ROOT, "bench/corpus").glob("*.sql")))
    assert 0 < result["overall"]["agreement"] <= 1
    assert set(result["rules"]) <= set(RULES)
    # the rules squawk does not have are exercised by the corpus too
    assert {"lock-held-across-statements", "backfill-in-migration", "drop-fk-locks-parent"} <= \
        {r for r, n in result["ours_only_rules"].items() if n}
