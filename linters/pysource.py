"""One `ast.parse` per revision source, shared by every reader that only looks at the tree.

The sourcemap, the foreign-key reader, the revision rules and the suggestions each need the
tree of the same files; parsing once saves most of the Python-side time of an `--all` run.
Callers must not modify the tree (history.py, which strips docstrings in place, parses its own).
"""

from __future__ import annotations

import ast
from functools import lru_cache


@lru_cache(maxsize=4096)
def parse_python(source: str) -> ast.Module | None:
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
