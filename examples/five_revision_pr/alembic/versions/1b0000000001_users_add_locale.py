"""users: add locale

Revision ID: 1b0000000001
Revises: e8b35a0c6f19
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

revision: str = "1b0000000001"
down_revision: Union[str, None] = "e8b35a0c6f19"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.add_column("users", sa.Column("locale", sa.Text(), nullable=True))
    op.drop_column("users", "phone")


def downgrade() -> None:
    op.add_column("users", sa.Column("phone", sa.Text(), nullable=True))
    op.drop_column("users", "locale")
