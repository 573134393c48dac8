"""The revision graph, read statically with `ast`: revision files are never imported here."""

from __future__ import annotations

import ast
import builtins
import copy
import hashlib
import json
import re
from dataclasses import dataclass, field

IDENTITY_FIELDS = ("revision", "down_revision", "branch_labels", "depends_on")


_UNPARSED = object()


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
    blob: str | None = None         # git blob id of the file's bytes: same blob, same file
    _tree: object = field(default=_UNPARSED, repr=False, compare=False)

    @property
    def key(self) -> str:
        """The identity of a revision: its id, or its path when it has none we can read."""
        return self.revision or f"path:{self.path}"

    @property
    def tree(self) -> ast.Module | None:
        """The AST as edits are compared (no docstrings, canonical imports and SQL text), None when
        the file does not parse.

        Parsed on first use: only files whose text differs from the base need it, and keeping
        thousands of trees alive would cost more memory than parsing the few that are compared.
        """
        if self._tree is _UNPARSED:
            try:
                tree = strip_docstrings(ast.parse(self.source, filename=self.path))
                self._tree = canonical_sql(canonical_imports(module_constants_inlined(without_lint_fixes(tree))))
            except (SyntaxError, ValueError, MemoryError, RecursionError):
                self._tree = None
        return self._tree

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


def without_lint_fixes(tree: ast.Module) -> ast.Module:
    """What linters' autofixes change without changing behaviour, undone: a `pass` next to other
    statements (ruff PIE790), type annotations of functions (`-> None`, pyupgrade, mypy) and of plain
    assignments (`branch_labels: str | None = None`, newer Alembic templates). Annotations in a class
    body stay: dataclasses and pydantic models read them."""
    for node in ast.walk(tree):
        for name in ("body", "orelse", "finalbody"):
            body = getattr(node, name, None)
            if isinstance(body, list) and len(body) > 1 and any(isinstance(b, ast.Pass) for b in body):
                setattr(node, name, [b for b in body if not isinstance(b, ast.Pass)] or [ast.Pass()])
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            node.returns = None
            for arg in (*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs,
                        node.args.vararg, node.args.kwarg):
                if arg is not None:
                    arg.annotation = None
            node.body = _unannotated(node.body)
    tree.body = _unannotated(tree.body)
    return tree


def _unannotated(body: list[ast.stmt]) -> list[ast.stmt]:
    """`x: T = v` as `x = v`: the annotation of a name assigned in a module or function is never read."""
    return [ast.copy_location(ast.Assign(targets=[n.target], value=n.value, lineno=n.lineno), n)
            if isinstance(n, ast.AnnAssign) and n.value is not None and n.simple else n for n in body]


def module_constants_inlined(tree: ast.Module) -> ast.Module:
    """Module-level names bound once, to a value without calls, and never rebound: a constant
    (`USER_TABLE = "user"`) is replaced by its value where it is read, and one nothing in the file
    reads (neutron's `neutron_milestone = [migration.WALLABY]`, tool metadata) is dropped. Naming a
    literal, or tagging a revision for another tool, does not change the SQL it runs; Alembic reads
    only the identity fields, which stay."""
    bindings: dict[str, int] = {}
    loads: dict[str, int] = {}
    for node in ast.walk(tree):
        for name in _bound_names(node):
            bindings[name] = bindings.get(name, 0) + 1
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            loads[node.id] = loads.get(node.id, 0) + 1
    constants: dict[str, ast.expr] = {}
    dropped: set[int] = set()
    for i, node in enumerate(tree.body):
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
            continue
        name = node.targets[0].id
        if name in IDENTITY_FIELDS or bindings.get(name) != 1 or not _without_calls(node.value):
            continue
        if not loads.get(name):
            if all(n.id in bindings or hasattr(builtins, n.id) for n in ast.walk(node.value) if isinstance(n, ast.Name)):
                dropped.add(i)  # (a name nothing binds would fail the import: that stays an edit)
        elif _immutable_literal(node.value):
            constants[name] = node.value
            dropped.add(i)
    if constants:
        tree = _Inline(constants).visit(tree)
    tree.body = [n for i, n in enumerate(tree.body) if i not in dropped] or [ast.Pass()]
    return tree


def _bound_names(node: ast.AST):
    """Names `node` binds (or declares global/nonlocal: then they are not constants)."""
    if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
        yield node.id
    elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        yield node.name
    elif isinstance(node, ast.arg):
        yield node.arg
    elif isinstance(node, (ast.Import, ast.ImportFrom)):
        for alias in node.names:
            yield alias.asname or alias.name.split(".")[0]
    elif isinstance(node, (ast.Global, ast.Nonlocal)):
        yield from node.names
        yield from node.names  # twice: never a constant
    elif isinstance(node, ast.ExceptHandler) and node.name:
        yield node.name


def _without_calls(value: ast.expr) -> bool:
    return all(isinstance(n, (ast.Constant, ast.Name, ast.Attribute, ast.List, ast.Tuple, ast.Set, ast.Dict,
                              ast.Load, ast.UnaryOp, ast.USub, ast.UAdd)) for n in ast.walk(value))


def _immutable_literal(value: ast.expr) -> bool:
    return all(isinstance(n, (ast.Constant, ast.Tuple, ast.Load, ast.UnaryOp, ast.USub, ast.UAdd))
               for n in ast.walk(value))


class _Inline(ast.NodeTransformer):
    def __init__(self, constants: dict[str, ast.expr]):
        self.constants = constants

    def visit_Name(self, node: ast.Name):
        value = self.constants.get(node.id) if isinstance(node.ctx, ast.Load) else None
        return ast.copy_location(copy.deepcopy(value), node) if value is not None else node


def canonical_imports(tree: ast.Module) -> ast.Module:
    """Each run of imports in the module body one name each, sorted, without repeats and without the
    unused ones: isort or ruff reordering, merging or pruning them does not change what the revision
    does. Runs are sorted in place (an import never moves past other code), wherever they are: after
    the revision identifiers, after a logger, as often as at the top."""
    is_import = lambda node: isinstance(node, (ast.Import, ast.ImportFrom))
    used = {n.id for stmt in tree.body if not is_import(stmt) for n in ast.walk(stmt) if isinstance(n, ast.Name)}
    body: list[ast.stmt] = []
    run: list[ast.stmt] = []
    for node in [*tree.body, None]:
        if node is not None and is_import(node):
            run.append(node)
            continue
        body += _canonical_run(run, used)
        run = []
        if node is not None:
            body.append(node)
    tree.body = body
    return tree


def _canonical_run(run: list[ast.stmt], used: set[str]) -> list[ast.stmt]:
    single = {}
    for node in run:
        for alias in node.names:
            bound = alias.asname or (alias.name.split(".")[0] if isinstance(node, ast.Import) else alias.name)
            if bound not in used and alias.name not in ("*", "annotations"):
                continue  # an unused import (ruff's F401 fix removes them) runs no SQL; `from __future__
                # import annotations` is not a name but turns annotations into strings
            one = ast.Import(names=[alias]) if isinstance(node, ast.Import) else \
                ast.ImportFrom(module=node.module, names=[alias], level=node.level)
            ast.copy_location(one, node)
            single.setdefault(normalized_dump(one), one)
    return [single[k] for k in sorted(single)]


def canonical_sql(tree: ast.Module) -> ast.Module:
    """String constants that are SQL, as PostgreSQL's parser reads them: re-indenting a query, trailing
    spaces or keyword case do not change the statement (pglast's parse tree, without positions)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and len(node.value) > 8 \
                and not node.value.isidentifier():
            parsed = _sql_tree(node.value)
            if parsed is not None:
                node.value = parsed
    return tree


def _sql_tree(text: str) -> str | None:
    from pglast import parser  # only edited revisions with SQL text get here

    try:
        statements = json.loads(parser.parse_sql_json(text)).get("stmts", [])
    except Exception:  # noqa: BLE001  (not SQL: a column name, a message, a format string)
        return None
    if not statements:
        return None
    return "sql:" + json.dumps([_without_positions(s.get("stmt")) for s in statements], sort_keys=True)


def _without_positions(node):
    if isinstance(node, dict):
        return {k: _without_positions(v) for k, v in node.items() if k not in ("location", "stmt_location", "stmt_len")}
    if isinstance(node, list):
        return [_without_positions(v) for v in node]
    return node


def normalized_dump(tree: ast.AST) -> str:
    """The code's meaning as text: no positions, and no `u` string prefix (Constant.kind) that formatters drop."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and node.kind is not None:
            node.kind = None
    return ast.dump(tree, annotate_fields=False, include_attributes=False)


def parse_revision(path: str, source: str, blob: str | None = None) -> RevisionFile | None:
    """Read the identity of a revision file; None when the file is not a revision at all."""
    return from_identity(path, source, read_identity(source), blob)


_FIRST_DEF = re.compile(r"^(?:def |async |class |@)", re.M)
_IDENTITY_NAME = re.compile(r"\b(?:revision|down_revision|branch_labels|depends_on)\b")
_FIRST_IDENTITY = re.compile(r"^(?:revision|down_revision|branch_labels|depends_on)\b", re.M)


def read_identity(source: str, header_only: bool = False) -> dict | None:
    """What parse_revision learns from a file's text, as plain JSON data (so it can be cached by
    content): None when the file is not a revision at all.

    With header_only, only the statements before the first top-level def/class are parsed, when
    that is enough to know the identity for sure (the rest does not name an identity field):
    about three times faster. A syntax error further down then goes unnoticed, so this is for
    files that are not reviewed themselves: unchanged history that only places revisions in the
    graph. `full` in the result says which reading it was.
    """
    if header_only:
        cut = _FIRST_DEF.search(source)
        if cut and not _IDENTITY_NAME.search(source, cut.start()):
            # From the first line that assigns an identity field: the docstring and imports above it
            # are half of what parsing a header costs, and say nothing about the identity.
            first = _FIRST_IDENTITY.search(source, 0, cut.start())
            start = first.start() if first else 0
            # Python ends a line at \r\n, \n or a lone \r: count the lines above as its parser does
            lines_before = source.count("\n", 0, start) + source.count("\r", 0, start) - source.count("\r\n", 0, start)
            ident = _read_identity(source[start:cut.start()], lines_before)
            if ident is not None and ident["error"] is None and "revision" in ident["lines"]:
                ident["full"] = False
                return ident
    ident = _read_identity(source)
    if ident is not None:
        ident["full"] = True
    return ident


def _read_identity(source: str, lines_before: int = 0) -> dict | None:
    """`lines_before`: how many lines of the file come before `source` (a header read from its middle)."""
    ident: dict = {"revision": None, "down_revisions": [], "branch_labels": [], "depends_on": [],
                   "lines": {}, "error": None, "error_line": None}
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, MemoryError, RecursionError) as exc:
        ident["error"] = f"{type(exc).__name__}: {getattr(exc, 'msg', exc)}"
        ident["error_line"] = (getattr(exc, "lineno", None) or 1) + lines_before
        return ident
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name, value = node.targets[0].id, node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            name, value = node.target.id, node.value
        else:
            continue
        if name not in IDENTITY_FIELDS:
            continue
        ident["lines"][name] = node.lineno + lines_before
        try:
            literal = ast.literal_eval(value)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            if name == "branch_labels":  # (cli.CONTRACT_BRANCH,): labels only name the branch; the graph needs none
                continue
            ident["error"] = f"{name} is not a literal; it cannot be read without running the file"
            ident["error_line"] = node.lineno + lines_before
            continue
        if name == "revision":
            ident["revision"] = str(literal) if literal is not None else None
        elif name == "down_revision":
            ident["down_revisions"] = list(_as_tuple(literal))
        elif name == "branch_labels":
            ident["branch_labels"] = list(_as_tuple(literal))
        else:
            ident["depends_on"] = list(_as_tuple(literal))
    if "revision" not in ident["lines"] and not any(
        isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == "upgrade" for n in tree.body
    ):
        return None  # a helper module or __init__.py living next to the revisions
    if ident["revision"] is None and ident["error"] is None:
        ident["error"] = "no `revision = \"...\"` found"
        ident["error_line"] = 1
    return ident


def from_identity(path: str, source: str, ident: dict | None, blob: str | None = None) -> RevisionFile | None:
    if ident is None:
        return None
    return RevisionFile(
        path=path, source=source, revision=ident["revision"],
        down_revisions=tuple(ident["down_revisions"]), branch_labels=tuple(ident["branch_labels"]),
        depends_on=tuple(ident["depends_on"]), lines=dict(ident["lines"]),
        error=ident["error"], error_line=ident["error_line"], blob=blob,
    )


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

    def cycles(self) -> list[list[str]]:
        """Loops of down_revision / depends_on edges (Alembic refuses the history), each as its sorted ids:
        the strongly connected components with more than one revision, or one that needs itself."""
        index: dict[str, int] = {}
        low: dict[str, int] = {}
        on_stack: set[str] = set()
        stack: list[str] = []
        found: list[list[str]] = []
        for start in sorted(self.by_id):
            if start in index:
                continue
            work = [(start, iter(self.needs(self.by_id[start])))]
            index[start] = low[start] = len(index)
            stack.append(start)
            on_stack.add(start)
            while work:  # Tarjan's algorithm without recursion: histories have thousands of revisions
                rid, edges = work[-1]
                nxt = next((e for e in edges if e in self.by_id), None)
                if nxt is not None:
                    if nxt not in index:
                        index[nxt] = low[nxt] = len(index)
                        stack.append(nxt)
                        on_stack.add(nxt)
                        work.append((nxt, iter(self.needs(self.by_id[nxt]))))
                    elif nxt in on_stack:
                        low[rid] = min(low[rid], index[nxt])
                    continue
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[rid])
                if low[rid] == index[rid]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == rid:
                            break
                    if len(component) > 1 or rid in self.needs(self.by_id[rid]):
                        found.append(sorted(component))
        return sorted(found)

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
