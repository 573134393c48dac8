"""alembic-review: review Alembic migrations for PostgreSQL before they reach production."""

__version__ = "0.1.0"
