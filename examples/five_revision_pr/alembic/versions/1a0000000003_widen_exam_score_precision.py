"""widen exam score precision

Revision ID: 1a0000000003
Revises: 1a0000000002
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

revision: str = "1a0000000003"
down_revision: Union[str, None] = "1a0000000002"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.execute("SET lock_timeout = '5s'")
    op.alter_column(
        "evaluations",
        "score",
        existing_type=sa.Numeric(precision=6, scale=2),
        type_=sa.Numeric(precision=14, scale=3),
        existing_nullable=True,
    )
    op.alter_column(
        "exams",
        "total_marks",
        existing_type=sa.Numeric(precision=6, scale=2),
        type_=sa.Numeric(precision=14, scale=2),
        existing_nullable=False,
    )


def downgrade() -> None:
    op.alter_column("exams", "total_marks", existing_type=sa.Numeric(14, 2), type_=sa.Numeric(6, 2))
    op.alter_column("evaluations", "score", existing_type=sa.Numeric(14, 3), type_=sa.Numeric(6, 2))
