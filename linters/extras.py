"""Optional parts of the install: the core is what `python -m linters` needs; publishing on GitHub,
the webhook service and live mode each come with an extra (pyproject.toml's optional
dependencies). An entry point whose extra is missing says which one to install, in one line."""

from __future__ import annotations

import importlib.util

from linters.errors import UsageError

# The modules each extra brings, as imported (not as named on PyPI).
EXTRAS: dict[str, tuple[str, ...]] = {
    "github": ("github",),
    "app": ("github", "fastapi", "uvicorn", "huey", "redis", "requests"),
    "live": ("psycopg",),
}


class MissingExtra(UsageError):
    """An entry point needs an extra that is not installed (exit 2, one line)."""


def missing(extra: str) -> list[str]:
    return [name for name in EXTRAS[extra] if importlib.util.find_spec(name) is None]


def require(extra: str, what: str) -> None:
    """Raise MissingExtra when a module of `extra` cannot be imported; `what` names what needs it."""
    absent = missing(extra)
    if absent:
        raise MissingExtra(f"{what} needs the [{extra}] extra (missing: {', '.join(absent)}); "
                           f"install it with: pip install 'alembic-review[{extra}]'")
