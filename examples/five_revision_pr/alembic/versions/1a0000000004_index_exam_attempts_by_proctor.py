"""index exam attempts by proctor

Revision ID: 1a0000000004
Revises: 1a0000000003
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

revision: str = "1a0000000004"
down_revision: Union[str, None] = "1a0000000003"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.get_context().autocommit_block():
        op.create_index(
            "ix_exam_attempts_proctor_id",
            "exam_attempts",
            ["proctor_id"],
            postgresql_concurrently=True,
            if_not_exists=True,
        )


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.drop_index("ix_exam_attempts_proctor_id", table_name="exam_attempts", postgresql_concurrently=True)
