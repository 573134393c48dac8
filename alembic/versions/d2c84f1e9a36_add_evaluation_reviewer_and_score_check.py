"""add evaluation reviewer and score check

Revision ID: d2c84f1e9a36
Revises: a61f2d8e4b07
Create Date: 2024-04-16 08:52:30.671985

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = "d2c84f1e9a36"
down_revision: Union[str, None] = "a61f2d8e4b07"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    # Nullable column without default: catalog-only, no rewrite.
    op.add_column("evaluations", sa.Column("reviewed_by_id", sa.BigInteger(), nullable=True))
    # NOT VALID: enforced for new rows at once, existing rows are not scanned
    # while the write-blocking lock is held. Validated in e8b35a0c6f19, in its
    # own transaction (env.py sets transaction_per_migration).
    op.create_foreign_key(
        op.f("fk_evaluations_reviewed_by_id_users"),
        "evaluations",
        "users",
        ["reviewed_by_id"],
        ["id"],
        ondelete="SET NULL",
        postgresql_not_valid=True,
    )
    op.create_check_constraint(
        op.f("ck_evaluations_score_non_negative"),
        "evaluations",
        "score >= 0",
        postgresql_not_valid=True,
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_evaluations_score_non_negative"), "evaluations", type_="check")
    op.drop_constraint(op.f("fk_evaluations_reviewed_by_id_users"), "evaluations", type_="foreignkey")
    op.drop_column("evaluations", "reviewed_by_id")
