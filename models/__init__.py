"""Example exam app ("Mathvidya-style") whose Alembic history is clean.

Importing this package registers every table on ``Base.metadata``.
"""
from .base import Base
from .evaluations import Evaluation, EvaluationStatus, ExamAttempt
from .exams import Exam, Question
from .users import User, UserRole

__all__ = [
    "Base",
    "Evaluation",
    "EvaluationStatus",
    "Exam",
    "ExamAttempt",
    "Question",
    "User",
    "UserRole",
]
