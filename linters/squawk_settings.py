""".squawk.toml, for teams coming from squawk.

The file squawk itself reads (`excluded_rules`, `pg_version = "13.0"`, `assume_in_transaction`; its
other keys are squawk's own business). Without [tool.alembic-review] settings our rules follow it
(linters/config.py), and `--squawk` hands it to the squawk binary (linters/squawk.py).
"""

from __future__ import annotations

import re
from pathlib import Path

from linters.errors import UsageError
from linters.tomlread import load_toml

FILE_NAME = ".squawk.toml"


def find_squawk_toml(search_dirs: list[Path]) -> Path | None:
    """The first .squawk.toml in `search_dirs` (the Alembic project's directory, then the repository root)."""
    for directory in search_dirs:
        candidate = directory / FILE_NAME
        if candidate.is_file():
            return candidate
    return None


def _major(value, path: Path) -> int:
    """squawk writes versions as "13.0" (or "9.6"); we keep the major version."""
    found = re.fullmatch(r"\s*(\d+)(?:\.\d+)*\s*", str(value))
    if not found or isinstance(value, bool):
        raise UsageError(f'{path}: pg_version must look like "15.0", not {value!r}')
    return int(found.group(1))


def settings_from_squawk_toml(path: Path) -> dict:
    """Our settings from `path`: excluded_rules -> ignore (only the rules we have, under our ids),
    pg_version -> pg_version, assume_in_transaction -> assume_in_transaction."""
    from linters.rules import RULES
    from linters.suppress import SQUAWK_NAMES

    data = load_toml(path)
    settings: dict = {}
    excluded = data.get("excluded_rules", [])
    if not (isinstance(excluded, list) and all(isinstance(r, str) for r in excluded)):
        raise UsageError(f"{path}: excluded_rules must be a list of rule names")
    # squawk's opt-in rules (ban-drop-trigger, ...) are not ours: nothing of ours to exclude there
    settings["ignore"] = [r for r in (SQUAWK_NAMES.get(n, n) for n in excluded) if r in RULES]
    if "pg_version" in data:
        settings["pg_version"] = _major(data["pg_version"], path)
    if "assume_in_transaction" in data:
        settings["assume_in_transaction"] = data["assume_in_transaction"]
    return settings
