"""index exam attempts by user and submitted_at

Revision ID: a61f2d8e4b07
Revises: 5e9a3b7c8d12
Create Date: 2024-03-27 11:05:48.004712

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = "a61f2d8e4b07"
down_revision: Union[str, None] = "5e9a3b7c8d12"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    # exam_attempts is written to during every exam: build the index
    # CONCURRENTLY (no write lock), which Postgres refuses inside a
    # transaction, hence the autocommit block. If a run fails it leaves an
    # INVALID index behind: drop it before retrying.
    with op.get_context().autocommit_block():
        op.create_index(
            op.f("ix_exam_attempts_user_id_submitted_at"),
            "exam_attempts",
            ["user_id", "submitted_at"],
            unique=False,
            postgresql_concurrently=True,
            if_not_exists=True,
        )


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.drop_index(
            op.f("ix_exam_attempts_user_id_submitted_at"),
            table_name="exam_attempts",
            postgresql_concurrently=True,
            if_exists=True,
        )
