"""SET NOT NULL after a CHECK (col IS NOT NULL) that earlier revisions added and validated: the history's
proofs (linters/history_checks.py). Whether PostgreSQL skips the scan is measured in tests/test_rules_postgres.py."""

import json

from tests.conftest import rules_of
from tests.gitrepo import run_cli


def test_set_not_null_after_a_check_an_earlier_revision_validated_skips_the_scan(repo, review):
    repo.add_revision("0002", "0001", """
        op.create_check_constraint("users_legacy_name_not_null", "users", "legacy_name IS NOT NULL", postgresql_not_valid=True)
    """, slug="check")
    repo.add_revision("0003", "0002", """
        op.execute("ALTER TABLE users VALIDATE CONSTRAINT users_legacy_name_not_null")
    """, slug="validate")
    repo.commit("on main")
    repo.git("branch", "-f", "main", "HEAD")
    repo.add_revision("0004", "0003", """
        op.alter_column("users", "legacy_name", nullable=False)
    """, slug="setnn")
    _, report, _ = review()
    assert "adding-not-nullable-field" not in rules_of(report)
    every = json.loads(run_cli(str(repo.path), "--all", "--format", "json").stdout)
    assert "adding-not-nullable-field" not in rules_of(every)


def test_set_not_null_after_a_not_valid_or_dropped_check_of_an_earlier_revision_is_an_error(repo, review):
    repo.add_revision("0002", "0001", """
        op.execute("ALTER TABLE users ADD CONSTRAINT users_legacy_name_not_null CHECK (legacy_name IS NOT NULL) NOT VALID")
    """, slug="check")
    repo.commit("on main")
    repo.git("branch", "-f", "main", "HEAD")
    repo.add_revision("0003", "0002", """
        op.alter_column("users", "legacy_name", nullable=False)
    """, slug="setnn")
    assert "adding-not-nullable-field" in rules_of(review()[1])
    repo.add_revision("0003", "0002", """
        op.execute("ALTER TABLE users VALIDATE CONSTRAINT users_legacy_name_not_null")
        op.drop_constraint("users_legacy_name_not_null", "users")
        op.alter_column("users", "legacy_name", nullable=False)
    """, slug="setnn")
    assert "adding-not-nullable-field" in rules_of(review()[1])
