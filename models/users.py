"""Students, teachers and admins."""
import enum
from datetime import datetime

from sqlalchemy import Enum, UniqueConstraint, true
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, Timestamps, identity_pk


class UserRole(str, enum.Enum):
    student = "student"
    teacher = "teacher"
    admin = "admin"


class User(Timestamps, Base):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("email"),)

    id: Mapped[int] = identity_pk()
    email: Mapped[str]
    full_name: Mapped[str]
    phone: Mapped[str | None]
    role: Mapped[UserRole] = mapped_column(
        Enum(UserRole, name="user_role", values_callable=lambda e: [m.value for m in e]),
        server_default=UserRole.student.value,
    )
    # Added later (revision 5e9a3b7c8d12) as nullable with a constant default:
    # no rewrite, no NOT NULL on a populated table.
    is_active: Mapped[bool | None] = mapped_column(server_default=true())
    last_login_at: Mapped[datetime | None]
