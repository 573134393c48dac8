"""add users is_active and last_login_at

Revision ID: 5e9a3b7c8d12
Revises: c47d0e9f1a25
Create Date: 2024-03-11 16:20:17.558301

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = "5e9a3b7c8d12"
down_revision: Union[str, None] = "c47d0e9f1a25"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    # users already holds data. Nullable + constant default: since PG 11 this
    # is a catalog-only change (no rewrite, no scan). NOT NULL, if wanted, comes
    # in a later revision via a NOT VALID CHECK (is_active IS NOT NULL).
    op.add_column(
        "users",
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=True),
    )
    op.add_column(
        "users",
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_column("users", "last_login_at")
    op.drop_column("users", "is_active")
