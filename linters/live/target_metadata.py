"""What env.py says about the models, read with `ast` (env.py is never run by us: it wants a
database, settings, sometimes an event loop). Transaction settings are linters/envpy.py's job.

- target_metadata: `target_metadata = Base.metadata` and the import that binds `Base`, turned
  into a "module:attr.path" spec the models child can import ("models:Base.metadata");
- the local modules env.py imports (imported first in the child: model modules often register
  their tables on a shared metadata only when imported);
- the context.configure() options that change what autogenerate compares: compare_type,
  compare_server_default, include_schemas (as keywords or dict entries).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

OPTIONS = {"compare_type": True, "compare_server_default": False, "include_schemas": False,
           "transaction_per_migration": False}  # the last only if linters/envpy.py is missing


@dataclass
class MetadataFacts:
    path: Path | None = None
    metadata: list[str] = field(default_factory=list)   # "module:attr.path" specs
    metadata_line: int | None = None                     # line of `target_metadata = ...`
    unresolved: str | None = None                        # a target_metadata we could not follow
    preload: list[str] = field(default_factory=list)    # local modules env.py imports
    options: dict[str, bool] = field(default_factory=lambda: dict(OPTIONS))


def _bindings(tree: ast.Module) -> dict[str, str]:
    """Local name -> "module" or "module:attr" for every import in env.py."""
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    names[alias.asname] = alias.name
                else:
                    head = alias.name.split(".")[0]
                    names[head] = head
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                if alias.name != "*":
                    names[alias.asname or alias.name] = f"{node.module}:{alias.name}"
    return names


def _dotted(node: ast.AST) -> list[str] | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return [node.id, *reversed(parts)]


def _spec(node: ast.AST, bindings: dict[str, str]) -> str | None:
    parts = _dotted(node)
    if not parts or parts[0] not in bindings:
        return None
    bound = bindings[parts[0]]
    module, _, attr = bound.partition(":")
    path = ([attr] if attr else []) + parts[1:]
    return f"{module}:{'.'.join(path)}" if path else None


def _is_local(module: str, roots: list[Path]) -> bool:
    """A module file of the project (not alembic/ the script directory, not site-packages)."""
    rel = Path(*module.split("."))
    return any((r / rel.with_suffix(".py")).is_file() or (r / rel / "__init__.py").is_file() for r in roots)


def read_target_metadata(env_py: Path, roots: list[Path]) -> MetadataFacts:
    facts = MetadataFacts(path=env_py)
    try:
        tree = ast.parse(env_py.read_text(encoding="utf-8", errors="replace"))
    except (OSError, SyntaxError, ValueError):
        return facts
    bindings = _bindings(tree)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and not facts.metadata:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "target_metadata" for t in targets) and node.value is not None:
                values = node.value.elts if isinstance(node.value, (ast.List, ast.Tuple)) else [node.value]
                specs = [_spec(v, bindings) for v in values]
                if specs and all(specs):
                    facts.metadata, facts.metadata_line, facts.unresolved = specs, node.lineno, None
                elif not (isinstance(node.value, ast.Constant) and node.value.value is None):
                    facts.metadata_line, facts.unresolved = node.lineno, ast.unparse(node.value)
        elif isinstance(node, ast.keyword) and node.arg in OPTIONS and isinstance(node.value, ast.Constant):
            facts.options[node.arg] = bool(node.value.value)
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values):
                if isinstance(key, ast.Constant) and key.value in OPTIONS and isinstance(value, ast.Constant):
                    facts.options[key.value] = bool(value.value)
    modules = []
    for bound in bindings.values():
        module, _, attr = bound.partition(":")
        for name in (module, f"{module}.{attr}" if attr else None):
            if name and name not in modules and _is_local(name, roots):
                modules.append(name)
    facts.preload = modules
    return facts
