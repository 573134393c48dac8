"""Errors that end a run with exit code 2 and one clear line, never a traceback."""


class UsageError(Exception):
    """The tool could not do its job: bad arguments, no Alembic project, unknown git base."""
