"""Settings from [tool.alembic-review] (pyproject.toml or .alembic-review.toml), then the CLI."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from pathlib import Path

from linters.errors import UsageError
from linters.findings import Severity
from linters.tomlread import load_toml

FAIL_ON = ("error", "warning", "never")


@dataclass
class Config:
    pg_version: int = 15
    fail_on: str = "error"
    select: list[str] | None = None       # only these rules (None: all)
    ignore: list[str] = field(default_factory=list)
    severity: dict[str, str] = field(default_factory=dict)
    start_after: str | None = None        # this revision and its ancestors are history, never linted
    assume_lock_timeout: bool = False     # env.py sets lock_timeout itself
    transaction_per_migration: bool | None = None  # None: read it from env.py's context.configure()
    render_timeout: float = 30.0          # seconds per revision
    downgrades: bool = False              # --all: review downgrades too (a PR check always does)
    metadata: str | list[str] | None = None  # "pkg.module:Base.metadata" (default: env.py's target_metadata)
    stats: str | None = None              # table-statistics snapshot (`python -m linters stats`), relative to the settings file
    small_table_rows: int = 10_000        # with stats: below this, findings about lock duration are info
    max_lock_seconds: float = 30.0        # with stats: a write-blocking lock expected longer is an error
    impact_speed: float = 1.0             # with stats: this machine's speed relative to bench/impact.py's
    squawk: bool = False                  # also run squawk-cli and merge its findings (linters/squawk.py)
    assume_in_transaction: bool | None = None  # `sql` command: the file runs inside a transaction (squawk's setting)
    python: str | None = None             # the interpreter revisions are rendered in (default: ours)
    source: str | None = None             # where the settings came from

    def validate(self, known_rules) -> "Config":
        if self.fail_on not in FAIL_ON:
            raise UsageError(f"fail_on must be one of {', '.join(FAIL_ON)}, not {self.fail_on!r}")
        if not isinstance(self.pg_version, int) or not 9 <= self.pg_version <= 19:
            raise UsageError(f"pg_version must be a PostgreSQL major version from 9 to 19, not {self.pg_version!r}")
        for name in (self.select or []) + list(self.ignore) + list(self.severity):
            if name not in known_rules:
                raise UsageError(f"unknown rule {name!r} (see `python -m linters rules`)")
        for name in ("assume_lock_timeout", "transaction_per_migration", "downgrades", "squawk",
                     "assume_in_transaction"):
            if getattr(self, name) is not None and not isinstance(getattr(self, name), bool):
                raise UsageError(f"{name} must be true or false, not {getattr(self, name)!r}")
        specs = [self.metadata] if isinstance(self.metadata, str) else self.metadata
        if specs is not None and not (isinstance(specs, list) and specs and all(
                isinstance(m, str) and re.fullmatch(r"[\w.]+:[\w.]+", m) for m in specs)):
            raise UsageError(f'metadata must look like "pkg.module:Base.metadata", not {self.metadata!r}')
        if self.stats is not None and not isinstance(self.stats, str):
            raise UsageError(f'stats must be a path like ".alembic-review/stats.json", not {self.stats!r}')
        for name, kind in (("small_table_rows", int), ("max_lock_seconds", (int, float)), ("impact_speed", (int, float))):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, kind) or value < 0 or (kind is not int and value == 0):
                raise UsageError(f"{name} must be {'a whole number >= 0' if kind is int else 'a number above 0'}, not {value!r}")
        if self.python is not None and not (isinstance(self.python, str) and self.python.strip()):
            raise UsageError(f"python must be the path of an interpreter, not {self.python!r}")
        for name, level in self.severity.items():
            if level not in {s.value for s in Severity}:
                raise UsageError(f"severity of {name} must be error, warning or info, not {level!r}")
        return self

    def enabled(self, rule_id: str) -> bool:
        return (self.select is None or rule_id in self.select) and rule_id not in self.ignore


def _as_list(value, key: str) -> list[str]:
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    raise UsageError(f"{key} must be a list of rule ids")


def _from_table(table: dict, source: str) -> Config:
    config = Config(source=source)
    names = {f.name for f in fields(Config)} - {"source"}
    for key, value in table.items():
        attr = key.replace("-", "_")
        if attr not in names:
            raise UsageError(f"{source}: unknown setting {key!r} in [tool.alembic-review]")
        if attr in ("select", "ignore"):
            value = _as_list(value, key)
        setattr(config, attr, value)
    return config


def with_flags(config: Config, flags) -> Config:
    """`config` with the command line on top (`flags`: parsed options, None where not given):
    --pg-version, --fail-on and --select replace the setting, --ignore adds to it, the review's switches
    (--squawk, --downgrades) and the sql command's --assume-in-transaction turn theirs on."""
    for name in ("pg_version", "fail_on", "select"):
        if getattr(flags, name) is not None:
            setattr(config, name, getattr(flags, name))
    if flags.ignore:
        config.ignore = list(config.ignore) + flags.ignore
    for name in ("squawk", "downgrades", "assume_in_transaction"):  # switches of one command each
        if getattr(flags, name, False):
            setattr(config, name, True)
    return config


def load_config(search_dirs: list[Path], explicit: Path | None = None) -> Config:
    """The first of: --config FILE, .alembic-review.toml, pyproject.toml [tool.alembic-review], and
    for teams coming from squawk, .squawk.toml (linters/squawk_settings.py)."""
    if explicit is not None:
        if not explicit.is_file():
            raise UsageError(f"config file not found: {explicit}")
        data = load_toml(explicit)
        table = data.get("tool", {}).get("alembic-review", data)
        return _from_table(table, str(explicit))
    for directory in search_dirs:
        dedicated = directory / ".alembic-review.toml"
        if dedicated.is_file():
            data = load_toml(dedicated)
            return _from_table(data.get("tool", {}).get("alembic-review", data), str(dedicated))
        pyproject = directory / "pyproject.toml"
        if pyproject.is_file():
            table = load_toml(pyproject).get("tool", {}).get("alembic-review")
            if table is not None:
                return _from_table(table, str(pyproject))
    from linters.squawk_settings import find_squawk_toml, settings_from_squawk_toml
    if (squawk_toml := find_squawk_toml(search_dirs)) is not None:
        return _from_table(settings_from_squawk_toml(squawk_toml), str(squawk_toml))
    return Config()
