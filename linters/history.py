"""The revision graph, read statically with `ast`: revision files are never imported here."""

from __future__ import annotations

import ast
import hashlib
from dataclasses import dataclass, field

IDENTITY_FIELDS = ("revision", "down_revision", "branch_labels", "depends_on")


@dataclass
class RevisionFile:
    path: str                       # repo-relative
    source: str
    revision: str | None = None
    down_revisions: tuple[str, ...] = ()
    branch_labels: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()
    lines: dict[str, int] = field(default_factory=dict)  # identity field -> line of its assignment
    error: str | None = None        # why the file could not be read (syntax error, ...)
    error_line: int | None = None
    tree: ast.Module | None = None

    @property
    def key(self) -> str:
        """The identity of a revision: its id, or its path when it has none we can read."""
        return self.revision or f"path:{self.path}"

    @property
    def fingerprint(self) -> str:
        """Hash of the normalized AST: formatting, comments and docstrings do not change it."""
        if self.tree is None:
            return hashlib.sha1(self.source.encode()).hexdigest()
        return hashlib.sha1(normalized_dump(self.tree).encode()).hexdigest()


def _as_tuple(value) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, (list, tuple, set, frozenset)):
        return tuple(str(v) for v in value)
    return (str(value),)


def strip_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
                    and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]
    return tree


def normalized_dump(tree: ast.AST) -> str:
    return ast.dump(tree, annotate_fields=False, include_attributes=False)


def parse_revision(path: str, source: str) -> RevisionFile | None:
    """Read the identity of a revision file; None when the file is not a revision at all."""
    rev = RevisionFile(path=path, source=source)
    try:
        tree = ast.parse(source, filename=path)
    except (SyntaxError, ValueError) as exc:
        rev.error = f"{type(exc).__name__}: {getattr(exc, 'msg', exc)}"
        rev.error_line = getattr(exc, "lineno", None) or 1
        return rev
    rev.tree = strip_docstrings(tree)
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name, value = node.targets[0].id, node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            name, value = node.target.id, node.value
        else:
            continue
        if name not in IDENTITY_FIELDS:
            continue
        rev.lines[name] = node.lineno
        try:
            literal = ast.literal_eval(value)
        except ValueError:
            rev.error = f"{name} is not a literal; it cannot be read without running the file"
            rev.error_line = node.lineno
            continue
        if name == "revision":
            rev.revision = str(literal) if literal is not None else None
        elif name == "down_revision":
            rev.down_revisions = _as_tuple(literal)
        elif name == "branch_labels":
            rev.branch_labels = _as_tuple(literal)
        else:
            rev.depends_on = _as_tuple(literal)
    if "revision" not in rev.lines and not any(
        isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == "upgrade" for n in tree.body
    ):
        return None  # a helper module or __init__.py living next to the revisions
    if rev.revision is None and rev.error is None:
        rev.error = "no `revision = \"...\"` found"
        rev.error_line = 1
    return rev


@dataclass
class Graph:
    """Revisions by id, with the edges Alembic would build from down_revision and depends_on."""

    files: list[RevisionFile]
    by_id: dict[str, RevisionFile] = field(default_factory=dict)
    duplicates: dict[str, list[RevisionFile]] = field(default_factory=dict)
    children: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self):
        for f in self.files:
            if f.revision is None:
                continue
            if f.revision in self.by_id:
                self.duplicates.setdefault(f.revision, [self.by_id[f.revision]]).append(f)
                continue
            self.by_id[f.revision] = f
        for f in self.by_id.values():
            for parent in f.down_revisions:
                self.children.setdefault(parent, []).append(f.revision)

    @property
    def heads(self) -> list[str]:
        return sorted(r for r in self.by_id if not self.children.get(r))

    @property
    def bases(self) -> list[str]:
        return sorted(r for r, f in self.by_id.items() if not f.down_revisions)

    def resolve(self, ref: str) -> str | None:
        """A revision id or branch label, as depends_on may name either."""
        if ref in self.by_id:
            return ref
        for rid, f in self.by_id.items():
            if ref in f.branch_labels:
                return rid
        return None

    def missing_parents(self, f: RevisionFile) -> list[str]:
        return [r for r in f.down_revisions if r not in self.by_id] + \
            [d for d in f.depends_on if self.resolve(d) is None]

    def needs(self, f: RevisionFile) -> list[str]:
        """Ids `f` must come after: its parents and what depends_on names."""
        return list(f.down_revisions) + [r for d in f.depends_on if (r := self.resolve(d))]

    def ancestors(self, rid: str) -> set[str]:
        """`rid` and every revision it needs (down_revision and depends_on), as Alembic upgrades them."""
        seen: set[str] = set()
        stack = [rid]
        while stack:
            cur = stack.pop()
            if cur in seen or cur not in self.by_id:
                continue
            seen.add(cur)
            stack += self.needs(self.by_id[cur])
        return seen

    def upgrade_order(self, ids: set[str] | None = None) -> list[str]:
        """Revision ids, dependencies first (the order `alembic upgrade` applies them)."""
        order: list[str] = []
        state: dict[str, int] = {}
        for start in sorted(self.by_id):
            stack = [(start, False)]
            while stack:
                rid, done = stack.pop()
                if done:
                    state[rid] = 2
                    order.append(rid)
                    continue
                if state.get(rid) or rid not in self.by_id:
                    continue  # visited, in progress (a cycle), or missing
                state[rid] = 1
                stack.append((rid, True))
                stack += [(d, False) for d in sorted(self.needs(self.by_id[rid]), reverse=True)]
        return [r for r in order if ids is None or r in ids]
