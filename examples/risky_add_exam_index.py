"""add exam score index, drop users phone

Revision ID: f00dbabe0001
Revises: e8b35a0c6f19
Create Date: 2024-05-02 17:21:44.190355

"""
# Demo only: the risky revision a developer would naively open a PR with.
# Copy it to alembic/versions/f00dbabe0001_add_exam_score_index.py and run the
# reviewer: it should flag both operations below.
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = "f00dbabe0001"
down_revision: Union[str, None] = "e8b35a0c6f19"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    # Not CONCURRENTLY: blocks every write to evaluations while the index builds.
    op.create_index("ix_evaluations_exam_id_score", "evaluations", ["exam_id", "score"])
    # Running app servers still SELECT users.phone: they break on deploy.
    op.drop_column("users", "phone")


def downgrade() -> None:
    op.add_column("users", sa.Column("phone", sa.Text(), nullable=True))
    op.drop_index("ix_evaluations_exam_id_score", table_name="evaluations")
