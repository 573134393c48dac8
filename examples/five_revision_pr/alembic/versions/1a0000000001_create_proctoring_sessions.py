"""create proctoring sessions

Revision ID: 1a0000000001
Revises: e8b35a0c6f19
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

revision: str = "1a0000000001"
down_revision: Union[str, None] = "e8b35a0c6f19"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "proctoring_sessions",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("attempt_id", sa.BigInteger(), sa.ForeignKey("exam_attempts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("flags", sa.Integer(), nullable=False, server_default="0"),
    )
    op.create_index("ix_proctoring_sessions_attempt_id", "proctoring_sessions", ["attempt_id"])


def downgrade() -> None:
    op.drop_index("ix_proctoring_sessions_attempt_id", table_name="proctoring_sessions")
    op.drop_table("proctoring_sessions")
