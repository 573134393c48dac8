"""schema-drift: the database at head against the models, as alembic autogenerate sees them.

The comparison itself is alembic's `compare_metadata`, run in the models child
(linters/live/models_child.py) on the scratch database after every revision was applied.
Each difference is reported where a developer fixes it: at the model's column or class when
the model has it, else at the head revision (a migration the models never followed).
"""

from __future__ import annotations

from pathlib import Path

from linters.live.findings import finding

SIDE = {
    "model": "a model change with no migration",
    "database": "a migration with no model change",
    "both": "the models and the migrations disagree",
}


def _rel(path: str | None, root: Path) -> str | None:
    if not path:
        return None
    try:
        return Path(path).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return None


def drift_findings(diffs: list[dict], tables: dict[str, dict], root: Path, fallback: tuple[str | None, int]) -> list:
    """`fallback`: (path, line) for differences no model holds (the head revision's upgrade())."""
    out = []
    for diff in diffs:
        mapped = tables.get(diff.get("table") or "", {})
        spot = mapped.get("column_lines", {}).get(diff.get("column") or "")
        path, line = (spot[0], spot[1]) if spot else (mapped.get("file"), mapped.get("line"))
        rel = _rel(path, root)
        if rel is None:
            rel, line = fallback
        out.append(finding("schema-drift", f"{diff['message']}: {SIDE.get(diff.get('side'), SIDE['both'])}",
                           path=rel, line=line, table=diff.get("table")))
    return out
