"""Exams written by teachers and their questions."""
from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, Timestamps, identity_pk


class Exam(Timestamps, Base):
    __tablename__ = "exams"

    id: Mapped[int] = identity_pk()
    title: Mapped[str]
    subject: Mapped[str]
    description: Mapped[str | None]
    duration_minutes: Mapped[int]
    total_marks: Mapped[Decimal]
    created_by_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT"), index=True
    )
    published_at: Mapped[datetime | None]


class Question(Timestamps, Base):
    __tablename__ = "questions"
    # One question per position within an exam.
    __table_args__ = (UniqueConstraint("exam_id", "position"),)

    id: Mapped[int] = identity_pk()
    exam_id: Mapped[int] = mapped_column(ForeignKey("exams.id", ondelete="CASCADE"))
    position: Mapped[int]
    prompt: Mapped[str]
    max_marks: Mapped[Decimal]
