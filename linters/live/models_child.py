"""Runs inside the sandboxed child (started by linters/live/models.py): import the user's models,
describe the tables they map, and in live mode compare them with the scratch database using
alembic's own autogenerate comparison.

Importing models runs the user's app code, hence the child: emptied environment, temp working
directory, rlimits, no network (the database is reached through a Unix socket the parent
forwards). Protocol: one JSON request on stdin, one JSON reply on a private copy of stdout;
the app's own prints go to /dev/null.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import os
import sys
import traceback


def resolve(spec: str):
    """"pkg.module:Base.metadata" -> the object; submodules are imported as the path needs them."""
    module_name, _, attrs = spec.partition(":")
    obj = importlib.import_module(module_name)
    for part in [p for p in attrs.split(".") if p]:
        if hasattr(obj, part):
            obj = getattr(obj, part)
        elif inspect.ismodule(obj):
            obj = importlib.import_module(f"{obj.__name__}.{part}")
        else:
            raise AttributeError(f"{spec}: {type(obj).__name__} has no attribute {part!r}")
    return obj


def as_metadata(obj, spec: str):
    import sqlalchemy as sa

    if isinstance(obj, sa.MetaData):
        return obj
    if isinstance(getattr(obj, "metadata", None), sa.MetaData):  # a declarative Base was named
        return obj.metadata
    raise TypeError(f"{spec} is a {type(obj).__name__}, not a SQLAlchemy MetaData")


def table_key(table) -> str:
    return f"{table.schema}.{table.name}" if table.schema and table.schema != "public" else table.name


class Locator:
    """Where a table's mapped class and its column attributes are written, for findings' lines."""

    def __init__(self, roots: list[str]):
        self.roots = [os.path.realpath(r) for r in roots]
        self.trees: dict[str, ast.Module | None] = {}
        self.classes: dict[int, type] = {}
        for module in list(sys.modules.values()):
            path = os.path.realpath(getattr(module, "__file__", None) or "")
            if not any(path.startswith(r + os.sep) for r in self.roots):
                continue
            for obj in list(vars(module).values()):
                try:
                    table = obj.__dict__.get("__table__") if isinstance(obj, type) else None
                except Exception:  # noqa: BLE001 - arbitrary user classes
                    table = None
                if table is not None:
                    self.classes.setdefault(id(table), obj)

    def _tree(self, path: str):
        if path not in self.trees:
            try:
                with open(path, encoding="utf-8") as f:
                    self.trees[path] = ast.parse(f.read())
            except (OSError, SyntaxError, ValueError):
                self.trees[path] = None
        return self.trees[path]

    def _class_node(self, cls):
        try:
            path = inspect.getsourcefile(cls)
        except TypeError:
            return None, None
        tree = self._tree(path) if path else None
        for node in ast.walk(tree) if tree else ():
            if isinstance(node, ast.ClassDef) and node.name == cls.__name__:
                return path, node
        return path, None

    def describe(self, table) -> dict:
        info = {"columns": [c.name for c in table.columns], "file": None, "line": None, "column_lines": {},
                "class": None}
        cls = self.classes.get(id(table))
        if cls is None:
            return info
        info["class"] = f"{cls.__module__}.{cls.__qualname__}"
        path, node = self._class_node(cls)
        info["file"], info["line"] = path, node.lineno if node else None
        keys = {}
        try:
            import sqlalchemy as sa
            mapper = sa.inspect(cls)
            for column in table.columns:
                prop = mapper.get_property_by_column(column)
                keys[column.name] = prop.key
        except Exception:  # noqa: BLE001 - not mapped the usual way: fall back to column names
            keys = {c.name: c.key for c in table.columns}
        for klass in cls.__mro__:  # a column may come from a mixin (created_at on Timestamps)
            kpath, knode = self._class_node(klass)
            if not knode:
                continue
            for stmt in knode.body:
                target = stmt.target if isinstance(stmt, ast.AnnAssign) else (
                    stmt.targets[0] if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 else None)
                if isinstance(target, ast.Name):
                    for column, key in keys.items():
                        if key == target.id and column not in info["column_lines"]:
                            info["column_lines"][column] = [kpath, stmt.lineno]
        return info


def _type(t) -> str:
    from sqlalchemy.dialects import postgresql
    try:
        return t.compile(dialect=postgresql.dialect())
    except Exception:  # noqa: BLE001
        return repr(t)


def _default(value) -> str:
    if value is None:
        return "no default"
    arg = getattr(value, "arg", value)
    return str(getattr(arg, "text", arg))


def describe_diff(diff) -> list[dict]:
    """One alembic autogenerate diff tuple -> {"op", "table", "column", "side", "message"}."""
    if isinstance(diff, list):
        return [d for item in diff for d in describe_diff(item)]
    op = diff[0]
    side = "model" if op.startswith("add") else "database" if op.startswith("remove") else "both"
    out = {"op": op, "table": None, "column": None, "side": side}
    if op in ("add_table", "remove_table"):
        table = diff[1]
        out["table"] = table_key(table)
        out["message"] = (f"table {out['table']} is in the models but not in the database" if side == "model"
                          else f"table {out['table']} is in the database but in no model")
    elif op in ("add_column", "remove_column"):
        _, schema, tname, column = diff
        out["table"] = f"{schema}.{tname}" if schema and schema != "public" else tname
        out["column"] = column.name
        where = "in the model but not in the database" if side == "model" else "in the database but not in the model"
        out["message"] = f"column {out['table']}.{column.name} ({_type(column.type)}) is {where}"
    elif op in ("add_index", "remove_index", "add_constraint", "remove_constraint", "add_fk", "remove_fk"):
        obj = diff[1]
        table = getattr(obj, "table", None) if op != "add_fk" and op != "remove_fk" else obj.parent
        out["table"] = table_key(table) if table is not None else None
        kind = {"index": "index", "constraint": type(obj).__name__, "fk": "foreign key"}[op.split("_", 1)[1]]
        where = "in the model but not in the database" if side == "model" else "in the database but not in the model"
        out["message"] = f"{kind} {obj.name or '(unnamed)'} on {out['table']} is {where}"
    elif op.startswith("modify_"):
        _, schema, tname, cname, existing, old, new = diff
        out["table"] = f"{schema}.{tname}" if schema and schema != "public" else tname
        out["column"] = cname
        what = op[len("modify_"):]
        if what == "type":
            old, new = _type(old), _type(new)
        elif what == "nullable":
            old, new = ("NULL" if old else "NOT NULL"), ("NULL" if new else "NOT NULL")
        elif what == "default":
            old, new = _default(old), _default(new)
        out["message"] = f"{out['table']}.{cname}: the database has {what} {old}, the model says {new}"
    else:
        out["message"] = f"{op}: {diff[1:]!r}"[:500]
    return [out]


def compare(metadata, request: dict) -> list[dict]:
    import psycopg
    import sqlalchemy as sa
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    params = request["database"]
    engine = sa.create_engine("postgresql+psycopg://", creator=lambda: psycopg.connect(**params),
                              poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            opts = {**request.get("options", {}), "target_metadata": metadata}
            opts.pop("transaction_per_migration", None)  # not an autogenerate option
            context = MigrationContext.configure(conn, opts=opts)
            return [d for diff in compare_metadata(context, metadata) for d in describe_diff(diff)]
    finally:
        engine.dispose()


def run(request: dict) -> dict:
    stage = "import"
    try:
        for module in request.get("preload", []):
            try:
                importlib.import_module(module)
            except Exception:  # noqa: BLE001 - side-effect imports are best effort
                pass
        specs = request["metadata"]
        metadatas = [as_metadata(resolve(spec), spec) for spec in specs]
        locator = Locator(request.get("sys_path", []))
        tables = {table_key(t): locator.describe(t) for md in metadatas for t in md.tables.values()}
        reply = {"ok": True, "tables": tables, "diffs": None}
        if request.get("database"):
            stage = "compare"
            reply["diffs"] = compare(metadatas[0] if len(metadatas) == 1 else metadatas, request)
        return reply
    except BaseException as exc:  # noqa: BLE001 - anything the app raises, SystemExit included
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if "site-packages" not in f.filename]
        where = f" ({os.path.basename(frames[-1].filename)}:{frames[-1].lineno})" if frames else ""
        return {"ok": False, "stage": stage, "message": f"{type(exc).__name__}: {exc}"[:1500] + where}


def main() -> None:
    from linters.live.sandbox import serve
    serve(run)


if __name__ == "__main__":
    main()
