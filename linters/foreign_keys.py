"""Which table references which: foreign keys of the history (read statically) and of the run (SQL).

Dropping a foreign key, or a table that has one, takes ACCESS EXCLUSIVE on the referenced table
too, and the SQL (`ALTER TABLE c DROP CONSTRAINT fk_c_user`, `DROP TABLE c`) does not name it.
The earlier revisions do: `sa.ForeignKey("users.id")`, `op.create_foreign_key(...)`. They are read
with `ast` (never imported), in upgrade order, upgrade() only.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from functools import lru_cache

from linters.nodes import dotted, object_parts, qualified, relation_name, strings
from linters.pysource import argument, func_name, keyword, literal_str, parse_python
from linters.schema_objects import drops
from linters.sql import Statement

MAX_IDENTIFIER = 63


def _default_name(table: str, columns: list[str]) -> str:
    """PostgreSQL's name for an unnamed foreign key: <table>_<cols>_fkey, cut to 63 bytes."""
    base = f"{table.rsplit('.', 1)[-1]}_{'_'.join(columns)}"
    return (base[:MAX_IDENTIFIER - 5] + "_fkey")


@dataclass
class ForeignKeys:
    """child table -> {constraint name: referenced table}."""
    by_child: dict[str, dict[str, str]] = field(default_factory=dict)
    # Copy on write: `--all` runs each revision on its own copy of the history's keys (thousands of
    # copies) and most change none of them. None: every inner dict is this object's own; a set: the
    # children whose inner dict is, the others are shared with copies.
    owned: set[str] | None = field(default=None, repr=False, compare=False)

    def _writable(self, child: str) -> dict[str, str]:
        fks = self.by_child.get(child)
        if fks is None:
            fks = self.by_child[child] = {}
        elif self.owned is not None and child not in self.owned:
            fks = self.by_child[child] = dict(fks)
        if self.owned is not None:
            self.owned.add(child)
        return fks

    def _drop_key(self, child: str | None, name: str | None) -> None:
        if child in self.by_child and name in self.by_child[child]:
            self._writable(child).pop(name)

    def add(self, child: str | None, name: str | None, parent: str | None) -> None:
        if child and parent:
            self._writable(child)[name or f"{child}_fkey"] = parent

    def drop_child(self, child: str) -> None:
        self.by_child.pop(child, None)

    def parents(self, child: str) -> list[str]:
        return sorted(set(self.by_child.get(child, {}).values()))

    def parent_of(self, child: str, name: str | None) -> str | None:
        return self.by_child.get(child, {}).get(name or "")

    def children(self, parent: str) -> list[str]:
        return sorted(c for c, fks in self.by_child.items() if parent in fks.values())

    def copy(self) -> "ForeignKeys":
        self.owned = set()  # from now on both sides share the inner dicts until they write
        return ForeignKeys(dict(self.by_child), set())

    # -- from SQL, statement by statement ------------------------------------------------------
    def apply(self, stmt: Statement) -> None:
        body = stmt.body
        if stmt.kind == "CreateStmt":
            table = relation_name(body.get("relation"))
            for elt in body.get("tableElts") or ():
                if "ColumnDef" in elt:
                    col = elt["ColumnDef"]
                    for con in col.get("constraints") or ():
                        self._constraint(table, con.get("Constraint", {}), [col.get("colname", "")])
                elif "Constraint" in elt:
                    self._constraint(table, elt["Constraint"])
        elif stmt.kind == "AlterTableStmt":
            table = relation_name(body.get("relation"))
            for item in body.get("cmds") or ():
                cmd = item.get("AlterTableCmd", {})
                if cmd.get("subtype") == "AT_AddConstraint":
                    self._constraint(table, cmd.get("def", {}).get("Constraint", {}))
                elif cmd.get("subtype") == "AT_DropConstraint":
                    self._drop_key(table, cmd.get("name"))
                elif cmd.get("subtype") == "AT_AddColumn":
                    col = cmd.get("def", {}).get("ColumnDef", {})
                    for con in col.get("constraints") or ():
                        self._constraint(table, con.get("Constraint", {}), [col.get("colname", "")])
        elif stmt.kind == "DropStmt" and body.get("removeType") == "OBJECT_TABLE":
            for _, table in drops(stmt):
                self.by_child.pop(table, None)

    def _constraint(self, table: str | None, con: dict, columns: list[str] | None = None) -> None:
        if con.get("contype") != "CONSTR_FOREIGN":
            return
        cols = columns or strings(con.get("fk_attrs"))
        self.add(table, con.get("conname") or _default_name(table or "", cols), relation_name(con.get("pktable")))

    # -- from revision sources, statically ---------------------------------------------------
    def read_revision(self, source: str) -> None:
        """Add what the upgrade() of one revision file creates (and drops) in foreign keys."""
        if "oreign" not in source:  # ForeignKey, create_foreign_key, type_="foreignkey"
            return
        tree = parse_python(source)
        if tree is None:
            return
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == "upgrade":
                _Reader(self).visit(node)


def _target_table(spec: str | None) -> str | None:
    """"users.id" -> "users", "audit.users.id" -> "audit.users"."""
    if not spec or "." not in spec:
        return None
    return dotted(spec.split(".")[:-1])


class _Reader(ast.NodeVisitor):
    def __init__(self, fks: ForeignKeys):
        self.fks = fks
        self.batch: list[str | None] = []  # tables of enclosing batch_alter_table blocks

    def visit_With(self, node: ast.With) -> None:
        tables = [self._batch_table(item.context_expr) for item in node.items]
        self.batch += tables
        self.generic_visit(node)
        del self.batch[len(self.batch) - len(tables):]

    def _batch_table(self, expr: ast.AST) -> str | None:
        if isinstance(expr, ast.Call) and func_name(expr) == "batch_alter_table":
            table = literal_str(argument(expr, 0, "table_name"))
            return qualified(table, literal_str(keyword(expr, "schema"))) if table else None
        return None

    def visit_Call(self, node: ast.Call) -> None:
        name = func_name(node)
        if name == "create_table":
            table = literal_str(argument(node, 0, "table_name"))
            if table:
                self._table_elements(qualified(table, literal_str(keyword(node, "schema"))), node.args[1:])
        elif name == "add_column":
            in_batch = self._in_batch(node)
            table = self.batch[-1] if in_batch else literal_str(argument(node, 0, "table_name"))
            column = node.args[0 if in_batch else 1] if len(node.args) > (0 if in_batch else 1) else None
            if table and column is not None:
                self._table_elements(qualified(table, literal_str(keyword(node, "schema"))), [column])
        elif name == "create_foreign_key":
            self._create_foreign_key(node)
        elif name == "drop_constraint" and literal_str(keyword(node, "type_")) == "foreignkey":
            offset = 1 if self._in_batch(node) else 0
            table = self.batch[-1] if offset else literal_str(argument(node, 1, "table_name"))
            if table:
                self.fks._drop_key(table, literal_str(argument(node, 0, "constraint_name")) or "")
        elif name == "drop_table":
            table = literal_str(argument(node, 0, "table_name"))
            if table:
                self.fks.drop_child(qualified(table, literal_str(keyword(node, "schema"))))
        self.generic_visit(node)

    def _in_batch(self, node: ast.Call) -> bool:
        return bool(self.batch) and self.batch[-1] is not None and isinstance(node.func, ast.Attribute) \
            and not (isinstance(node.func.value, ast.Name) and node.func.value.id == "op")

    def _create_foreign_key(self, node: ast.Call) -> None:
        name = literal_str(argument(node, 0, "constraint_name"))
        if self._in_batch(node):  # batch_op.create_foreign_key(name, referent_table, local, remote)
            child, parent = self.batch[-1], literal_str(argument(node, 1, "referent_table"))
        else:
            child, parent = literal_str(argument(node, 1, "source_table")), literal_str(argument(node, 2, "referent_table"))
            child = qualified(child, literal_str(keyword(node, "source_schema"))) if child else None
        if parent:
            parent = qualified(parent, literal_str(keyword(node, "referent_schema")))
        self.fks.add(child, name, parent)

    def _table_elements(self, table: str, elements: list[ast.AST]) -> None:
        for element in elements:
            if not isinstance(element, ast.Call):
                continue
            kind = func_name(element)
            if kind == "Column":
                column = literal_str(element.args[0]) if element.args else literal_str(keyword(element, "name"))
                for arg in list(element.args) + [k.value for k in element.keywords]:
                    if isinstance(arg, ast.Call) and func_name(arg) == "ForeignKey" and arg.args:
                        parent = _target_table(literal_str(arg.args[0]))
                        fk_name = literal_str(keyword(arg, "name")) or _default_name(table, [column or ""])
                        self.fks.add(table, fk_name, parent)
            elif kind == "ForeignKeyConstraint" and len(element.args) >= 2:
                columns = [literal_str(c) or "" for c in getattr(element.args[0], "elts", [])]
                refs = [literal_str(c) for c in getattr(element.args[1], "elts", [])]
                parent = _target_table(refs[0]) if refs else None
                self.fks.add(table, literal_str(keyword(element, "name")) or _default_name(table, columns), parent)


def dropped_tables(statements) -> set[str]:
    """Tables whose foreign keys matter to the run: dropped, or losing a constraint. Only their history is read."""
    names = set()
    for stmt in statements:
        body = stmt.body
        if stmt.kind == "DropStmt" and body.get("removeType") == "OBJECT_TABLE":
            for obj in body.get("objects") or ():
                names.update(object_parts(obj)[-1:])  # the bare name: what a revision source spells
        elif stmt.kind == "AlterTableStmt" and any(
                c.get("AlterTableCmd", {}).get("subtype") == "AT_DropConstraint" for c in body.get("cmds") or ()):
            names.add((body.get("relation") or {}).get("relname"))
    return {n for n in names if n}


def mentions_any(source: str, names: set[str]) -> bool:
    """Cheap text filter before parsing a revision: does it name one of these tables at all?"""
    return any(name in source for name in names)


WORD = re.compile(r"\w+")


class HistoryIndex:
    """The history's sources in upgrade order, indexed by the words in them: which ones name a table,
    without scanning them all (`--all` asks once per revision that drops a table or foreign key)."""

    def __init__(self, sources: list[str]):
        self.sources = sources
        self.by_word: dict[str, list[int]] = {}
        for i, source in enumerate(sources):
            if "oreign" in source:  # read_revision finds nothing in the others
                for word in set(WORD.findall(source)):
                    self.by_word.setdefault(word, []).append(i)

    def foreign_keys_before(self, position: int, tables: set[str]) -> ForeignKeys:
        """Foreign keys after the upgrade() of the sources before `position` that name one of `tables`.

        A source that never names a table cannot add, drop or point a foreign key at it (names are
        read from string literals), so the others can be left out for questions about these tables."""
        found: set[int] = set()
        for name in tables:
            if WORD.fullmatch(name):
                found.update(self.by_word.get(name, ()))
            else:  # a quoted name with other characters: no word to look up
                found.update(i for i, source in enumerate(self.sources) if name in source)
        return history_foreign_keys([self.sources[i] for i in sorted(found) if i < position])


class _Recorder(ForeignKeys):
    """Reads a revision like ForeignKeys does, and keeps the changes it made, to replay them."""

    def __init__(self):
        super().__init__()
        self.changes: list[tuple] = []

    def add(self, child, name, parent):
        self.changes.append(("add", child, name, parent))
        super().add(child, name, parent)

    def _drop_key(self, child, name):
        self.changes.append(("_drop_key", child, name))
        super()._drop_key(child, name)

    def drop_child(self, child):
        self.changes.append(("drop_child", child))
        super().drop_child(child)


@lru_cache(maxsize=8192)
def _revision_changes(source: str) -> tuple[tuple, ...]:
    """What reading the upgrade() of `source` does to the foreign keys: read once per source, though
    `--all` asks for the history before each revision that drops something."""
    recorder = _Recorder()
    recorder.read_revision(source)
    return tuple(recorder.changes)


def history_foreign_keys(sources: list[str]) -> ForeignKeys:
    """Foreign keys after running the upgrade() of these revision sources, in the order given."""
    fks = ForeignKeys()
    for source in sources:
        for change, *args in _revision_changes(source):
            getattr(fks, change)(*args)
    return fks
