"""validate evaluation constraints, index reviewer

Revision ID: e8b35a0c6f19
Revises: d2c84f1e9a36
Create Date: 2024-04-18 13:37:02.449610

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = "e8b35a0c6f19"
down_revision: Union[str, None] = "d2c84f1e9a36"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    # CONCURRENTLY cannot run in a transaction block. A failed build leaves an
    # INVALID index: drop it before retrying.
    with op.get_context().autocommit_block():
        op.create_index(
            op.f("ix_evaluations_reviewed_by_id"),
            "evaluations",
            ["reviewed_by_id"],
            unique=False,
            postgresql_concurrently=True,
            if_not_exists=True,
        )
    # VALIDATE scans under SHARE UPDATE EXCLUSIVE only: reads and writes go on.
    op.execute("ALTER TABLE evaluations VALIDATE CONSTRAINT fk_evaluations_reviewed_by_id_users")
    op.execute("ALTER TABLE evaluations VALIDATE CONSTRAINT ck_evaluations_score_non_negative")


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.drop_index(
            op.f("ix_evaluations_reviewed_by_id"),
            table_name="evaluations",
            postgresql_concurrently=True,
            if_exists=True,
        )
    # There is no "un-VALIDATE": re-create both constraints NOT VALID so the
    # schema is exactly what d2c84f1e9a36 left.
    op.drop_constraint(op.f("ck_evaluations_score_non_negative"), "evaluations", type_="check")
    op.create_check_constraint(
        op.f("ck_evaluations_score_non_negative"),
        "evaluations",
        "score >= 0",
        postgresql_not_valid=True,
    )
    op.drop_constraint(op.f("fk_evaluations_reviewed_by_id_users"), "evaluations", type_="foreignkey")
    op.create_foreign_key(
        op.f("fk_evaluations_reviewed_by_id_users"),
        "evaluations",
        "users",
        ["reviewed_by_id"],
        ["id"],
        ondelete="SET NULL",
        postgresql_not_valid=True,
    )
