"""GitHub side of alembic-review: the Action entry, publishers, and (later) the webhook app."""
