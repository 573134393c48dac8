"""exam attempts: proctor and ip

Revision ID: 1a0000000002
Revises: 1a0000000001
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

revision: str = "1a0000000002"
down_revision: Union[str, None] = "1a0000000001"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.execute("SET lock_timeout = '5s'")
    op.add_column("exam_attempts", sa.Column("proctor_id", sa.BigInteger(), nullable=True))
    op.add_column(
        "exam_attempts",
        sa.Column("ip_address", sa.Text(), nullable=False),
    )
    op.create_foreign_key("fk_exam_attempts_proctor_id_users", "exam_attempts", "users", ["proctor_id"], ["id"])


def downgrade() -> None:
    op.drop_constraint("fk_exam_attempts_proctor_id_users", "exam_attempts", type_="foreignkey")
    op.drop_column("exam_attempts", "ip_address")
    op.drop_column("exam_attempts", "proctor_id")
