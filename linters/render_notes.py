"""What the render of a revision says about itself, as findings: operations it could not run,
stand-ins it used, the database it read, and downgrades that raise on purpose."""

from __future__ import annotations

import ast

from linters.findings import Finding
from linters.model import Reviewed
from linters.pysource import parse_python
from linters.rules import RULES


def deliberate_raise(source: str, error: dict) -> bool:
    """The downgrade failed at a `raise` written in downgrade() itself: a one-way revision, not a broken one."""
    if error.get("stage") != "downgrade" or not error.get("line"):
        return False
    tree = parse_python(source)
    fn = next((n for n in (tree.body if tree else []) if isinstance(n, ast.FunctionDef) and n.name == "downgrade"), None)
    return fn is not None and any(isinstance(n, ast.Raise) and n.lineno == error["line"] for n in ast.walk(fn))


def render_notes(item: Reviewed) -> list[Finding]:
    f, render = item.file, item.render
    where = {"path": f.path, "revision": f.revision}
    out = [RULES["unreviewed-operation"].finding(
        f"op.{u['op']}(...) was not rendered: alembic does not know this operation here (a plugin that is not "
        "installed?), so what it does was not reviewed", line=u["line"], **where) for u in render.unreviewed]
    if render.stand_ins:
        names = "; ".join(f"{name} ({why})" for name, why in render.stand_ins.items())
        out.append(RULES["import-stand-in"].finding(
            f"rendered with stand-ins for {names}: column types from them render as placeholders",
            line=render.stand_ins_line or _first_import_line(f.source), **where))
    if render.live_data:
        held = ("holds the tables the revisions before it create, with no rows" if render.live_data.get("schema")
                else "is empty")
        out.append(RULES["live-data-dependency"].finding(
            f"the revision {render.live_data['what']} here; offline the database {held}, so what it does "
            "with the answers was rendered for that database", line=render.live_data["line"], **where))
    for error in render.errors:
        if deliberate_raise(f.source, error):
            out.append(RULES["irreversible-downgrade"].finding(
                f"downgrade() raises on purpose ({error['message'].split(' (', 1)[0]}): this revision cannot be "
                "rolled back", line=error["line"], direction="downgrade", **where))
    return out


def _first_import_line(source: str) -> int:
    tree = parse_python(source)
    return next((n.lineno for n in (tree.body if tree else []) if isinstance(n, (ast.Import, ast.ImportFrom))
                 and not (isinstance(n, ast.ImportFrom) and (n.module or "").split(".")[0] in ("alembic", "sqlalchemy", "__future__"))
                 and not (isinstance(n, ast.Import) and n.names[0].name.split(".")[0] in ("alembic", "sqlalchemy"))), 1)
