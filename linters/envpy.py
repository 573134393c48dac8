"""What the project's env.py sets up for every migration run, read with `ast` (never run).

- `transaction_per_migration=True` passed to context.configure() (directly, or through a dict
  splatted into it, or assigned as a dict key): each revision commits on its own; without it
  Alembic runs the whole upgrade in one transaction and locks pile up across revisions.
- a lock_timeout / statement_timeout set for the session (`SET lock_timeout = '5s'`,
  `connect_args={"options": "-c lock_timeout=5s"}`): the timeout rules have nothing to add.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

TIMEOUT_RE = {name: re.compile(rf"\b{name}\b\s*(=|to\b|\s)\s*'?(?P<value>[0-9.]+)", re.IGNORECASE)
              for name in ("lock_timeout", "statement_timeout")}


@dataclass
class EnvFacts:
    transaction_per_migration: bool = False
    lock_timeout: bool = False
    statement_timeout: bool = False


def _docstrings(tree: ast.Module) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                ids.add(id(first.value))
    return ids


def _true(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


def read_env(source: str) -> EnvFacts:
    facts = EnvFacts()
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return facts
    docs = _docstrings(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "transaction_per_migration" and _true(node.value):
            facts.transaction_per_migration = True
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values):
                if isinstance(key, ast.Constant) and key.value == "transaction_per_migration" and _true(value):
                    facts.transaction_per_migration = True
        elif isinstance(node, ast.Assign) and _true(node.value):
            for target in node.targets:
                if isinstance(target, ast.Subscript) and isinstance(target.slice, ast.Constant) \
                        and target.slice.value == "transaction_per_migration":
                    facts.transaction_per_migration = True
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            for name, pattern in TIMEOUT_RE.items():
                if (m := pattern.search(node.value)) and float(m.group("value") or 0) > 0:
                    setattr(facts, name, True)
    return facts


def read_env_file(script_dir: Path) -> EnvFacts:
    path = script_dir / "env.py"
    try:
        return read_env(path.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return EnvFacts()


def imported_modules(script_dir: Path) -> list[str]:
    """The top-level modules env.py imports (`import alembic_postgresql_enum`, `from alembic_utils...`):
    plugins register their operations when imported, so the render child imports the installed ones
    the way env.py would, without running env.py."""
    try:
        tree = ast.parse((script_dir / "env.py").read_text(encoding="utf-8", errors="replace"))
    except (OSError, SyntaxError, ValueError):
        return []
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name.split(".")[0] for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.append(node.module.split(".")[0])
    return [n for n in dict.fromkeys(names) if n not in ("alembic", "sqlalchemy", "__future__")]
