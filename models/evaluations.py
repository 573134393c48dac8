"""Attempts at an exam and their (human) evaluation."""
import enum
from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, Enum, ForeignKey, Index, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, Timestamps, identity_pk


class EvaluationStatus(str, enum.Enum):
    pending = "pending"
    in_review = "in_review"
    completed = "completed"


class ExamAttempt(Timestamps, Base):
    __tablename__ = "exam_attempts"
    # Added later CONCURRENTLY (revision a61f2d8e4b07): "my recent attempts" page.
    __table_args__ = (Index(None, "user_id", "submitted_at"),)

    id: Mapped[int] = identity_pk()
    exam_id: Mapped[int] = mapped_column(
        ForeignKey("exams.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    started_at: Mapped[datetime] = mapped_column(server_default=func.now())
    submitted_at: Mapped[datetime | None]


class Evaluation(Timestamps, Base):
    __tablename__ = "evaluations"
    __table_args__ = (
        UniqueConstraint("attempt_id"),  # one evaluation per attempt
        # Added NOT VALID (d2c84f1e9a36), validated later (e8b35a0c6f19).
        CheckConstraint("score >= 0", name="score_non_negative"),
    )

    id: Mapped[int] = identity_pk()
    attempt_id: Mapped[int] = mapped_column(
        ForeignKey("exam_attempts.id", ondelete="CASCADE")
    )
    # Denormalised from the attempt so per-exam reports need no join.
    exam_id: Mapped[int] = mapped_column(
        ForeignKey("exams.id", ondelete="CASCADE"), index=True
    )
    evaluator_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[EvaluationStatus] = mapped_column(
        Enum(
            EvaluationStatus,
            name="evaluation_status",
            values_callable=lambda e: [m.value for m in e],
        ),
        server_default=EvaluationStatus.pending.value,
    )
    score: Mapped[Decimal | None]
    feedback: Mapped[str | None]
    evaluated_at: Mapped[datetime | None]
    # Second-opinion reviewer, added later with a NOT VALID foreign key.
    reviewed_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
