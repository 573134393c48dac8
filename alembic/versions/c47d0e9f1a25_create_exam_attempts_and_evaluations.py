"""create exam attempts and evaluations

Revision ID: c47d0e9f1a25
Revises: 8b1e4d6a2c93
Create Date: 2024-02-05 09:47:55.120934

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = "c47d0e9f1a25"
down_revision: Union[str, None] = "8b1e4d6a2c93"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "exam_attempts",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("exam_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["exam_id"], ["exams.id"],
            name=op.f("fk_exam_attempts_exam_id_exams"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"],
            name=op.f("fk_exam_attempts_user_id_users"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exam_attempts")),
    )
    # New tables: plain CREATE INDEX is fine, nobody writes to them yet.
    op.create_index(op.f("ix_exam_attempts_exam_id"), "exam_attempts", ["exam_id"], unique=False)
    op.create_index(op.f("ix_exam_attempts_user_id"), "exam_attempts", ["user_id"], unique=False)
    op.create_table(
        "evaluations",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("attempt_id", sa.BigInteger(), nullable=False),
        sa.Column("exam_id", sa.BigInteger(), nullable=False),
        sa.Column("evaluator_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "status",
            sa.Enum("pending", "in_review", "completed", name="evaluation_status"),
            server_default="pending",
            nullable=False,
        ),
        sa.Column("score", sa.Numeric(precision=6, scale=2), nullable=True),
        sa.Column("feedback", sa.Text(), nullable=True),
        sa.Column("evaluated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["attempt_id"], ["exam_attempts.id"],
            name=op.f("fk_evaluations_attempt_id_exam_attempts"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["evaluator_id"], ["users.id"],
            name=op.f("fk_evaluations_evaluator_id_users"), ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["exam_id"], ["exams.id"],
            name=op.f("fk_evaluations_exam_id_exams"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evaluations")),
        sa.UniqueConstraint("attempt_id", name=op.f("uq_evaluations_attempt_id")),
    )
    op.create_index(op.f("ix_evaluations_evaluator_id"), "evaluations", ["evaluator_id"], unique=False)
    op.create_index(op.f("ix_evaluations_exam_id"), "evaluations", ["exam_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_evaluations_exam_id"), table_name="evaluations")
    op.drop_index(op.f("ix_evaluations_evaluator_id"), table_name="evaluations")
    op.drop_table("evaluations")
    op.drop_index(op.f("ix_exam_attempts_user_id"), table_name="exam_attempts")
    op.drop_index(op.f("ix_exam_attempts_exam_id"), table_name="exam_attempts")
    op.drop_table("exam_attempts")
    op.execute("DROP TYPE evaluation_status")
