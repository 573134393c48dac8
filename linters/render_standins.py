"""Stand-ins for what a revision imports but the render sandbox cannot: the application package
that is not installed, a module of the repository whose own dependency is missing (or that fails
while it is imported: settings read from the environment), custom column types (`GUID()`,
`sqlmodel.sql.sqltypes.AutoString()`, `EncryptedType(...)`).

Runs inside the render child: only the standard library, alembic and SQLAlchemy here.

A stand-in is permissive: any attribute of it is another stand-in, calling it gives one, it can
be subclassed, iterated (empty), used in `with`, and it is false. Every stand-in is also a real
SQLAlchemy type (a UserDefinedType), so used as a column type it renders as a clearly named
placeholder, `"stand-in:GUID"`, and the DDL around it is still reviewed. A few well-known types
render as what they really are on PostgreSQL (KNOWN_TYPES).

Only imports made by project code (not by the standard library, SQLAlchemy or alembic, whose
optional imports must keep failing as they expect) are stood in for, and every name stood in
for is recorded with the reason, for the report.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import sys
import sysconfig
import types

import sqlalchemy as sa
from sqlalchemy.types import UserDefinedType

# Types whose PostgreSQL rendering is known: the placeholder would hide what lock rules need.
KNOWN_TYPES = {
    "sqlmodel.sql.sqltypes.AutoString": lambda *a, **kw: sa.String(*a[:1], **{k: v for k, v in kw.items() if k == "length"}),
    "sqlmodel.sql.sqltypes.GUID": lambda *a, **kw: sa.Uuid(),
    "sqlmodel.AutoString": lambda *a, **kw: sa.String(*a[:1], **{k: v for k, v in kw.items() if k == "length"}),
    "sqlalchemy_utils.UUIDType": lambda *a, **kw: sa.Uuid(),
    "sqlalchemy_utils.types.uuid.UUIDType": lambda *a, **kw: sa.Uuid(),
    "sqlalchemy_utils.JSONType": lambda *a, **kw: sa.JSON(),
    "sqlalchemy_utils.types.json.JSONType": lambda *a, **kw: sa.JSON(),
}


class StandInRecord:
    """What was stood in for while the current revision ran: name -> why."""

    def __init__(self):
        self.names: dict[str, str] = {}
        self.path: str | None = None  # the revision file: the line of its first stood-in import
        self.line: int | None = None

    def add(self, name: str, why: str) -> None:
        self.names.setdefault(name, why)
        frame = sys._getframe(1)
        while self.line is None and frame is not None:
            if frame.f_code.co_filename == self.path:
                self.line = frame.f_lineno
            frame = frame.f_back


RECORD = StandInRecord()


class _StandInMeta(type(UserDefinedType)):
    """Class-level permissiveness: `settings.DB_SCHEMA`, `sqlmodel.sql.sqltypes.AutoString`."""

    def __getattr__(cls, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        child = stand_in(f"{cls._ar_name}.{name}")
        type.__setattr__(cls, name, child)
        return child

    def __iter__(cls):
        return iter(())

    def __call__(cls, *args, **kw):
        known = KNOWN_TYPES.get(cls._ar_name)
        if known is not None:
            return known(*args, **kw)
        if len(args) == 1 and not kw and callable(args[0]) and isinstance(args[0], types.FunctionType):
            return args[0]  # used as a decorator: keep the function it decorates
        return super().__call__(*args, **kw)

    def __str__(cls):
        return cls._ar_name

    def __len__(cls):
        return 0

    def __getitem__(cls, key):
        return stand_in(f"{cls._ar_name}[]")


class _AsSQL:
    """`__clause_element__` of a stand-in class and of its instances alike: used where SQL is expected
    (a server_default, a value in a WHERE), a stand-in is a named placeholder literal."""

    def __get__(self, obj, cls):
        return lambda: sa.literal_column("'stand-in:%s'" % cls._ar_name.replace("'", ""))


class StandIn(UserDefinedType, metaclass=_StandInMeta):
    """An instance of a stand-in: a placeholder column type, and a permissive value. It does not
    compare (<, >): a loop waiting on an unknown count would never end, a TypeError says why."""

    cache_ok = True
    _ar_name = "stand-in"
    __clause_element__ = _AsSQL()

    def __init__(self, *args, **kw):
        pass  # arguments of a type we cannot know (EncryptedType(String(200), key)) change nothing offline

    def get_col_spec(self, **kw) -> str:
        return '"stand-in:%s"' % type(self)._ar_name.rsplit(".", 1)[-1]

    def __getattr__(self, name: str):
        if name.startswith("_"):  # SQLAlchemy probes private attributes of types: they must be absent
            raise AttributeError(name)
        return stand_in(f"{type(self)._ar_name}().{name}")

    def __call__(self, *args, **kw):
        return type(self)()

    def __iter__(self):
        return iter(())

    def __bool__(self):
        return False

    def __len__(self):
        return 0

    def __getitem__(self, key):
        return stand_in(f"{type(self)._ar_name}[]")()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def __str__(self):
        return type(self)._ar_name

    def __add__(self, other):
        return self

    __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = __mod__ = __or__ = __and__ = __add__


_CLASSES: dict[str, type] = {}


def stand_in(name: str) -> type:
    """The stand-in class for dotted `name` (one per name)."""
    if name not in _CLASSES:
        _CLASSES[name] = _StandInMeta(name.rsplit(".", 1)[-1] or "StandIn", (StandIn,), {"_ar_name": name,
                                                                                          "cache_ok": True})
    return _CLASSES[name]


def is_stand_in(value) -> bool:
    return isinstance(value, (StandIn, StandInModule)) or (isinstance(value, type) and issubclass(value, StandIn))


class StandInModule(types.ModuleType):
    """A module that could not be imported (or failed while importing): names it does not hold are stand-ins."""

    __all__: list[str] = []

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        value = stand_in(f"{self.__name__}.{name}")
        setattr(self, name, value)
        return value


class _StandInLoader(importlib.abc.Loader):
    def __init__(self, why: str):
        self.why = why

    def create_module(self, spec):
        module = StandInModule(spec.name)
        module.__path__ = []  # a package: its submodules are stand-ins too
        return module

    def exec_module(self, module) -> None:
        RECORD.add(module.__name__.split(".")[0] if self.why.startswith("No module") else module.__name__, self.why)


class _GuardedLoader(importlib.abc.Loader):
    """A project module that raises while it is imported (settings read from an environment the
    sandbox emptied, a dependency that half exists) keeps what it defined before the failure; the
    rest of its names become stand-ins."""

    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module) -> None:
        try:
            self.loader.exec_module(module)
        except Exception as exc:  # noqa: BLE001  (whatever it raised, the revision can go on without it)
            module.__class__ = StandInModule
            RECORD.add(module.__name__, f"{type(exc).__name__}: {exc}"[:200])


def _library_dirs() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    dirs = {paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib") if k in paths}
    dirs |= {os.path.dirname(os.path.dirname(m.__file__)) for m in (sa, importlib.import_module("alembic"))}
    return tuple(os.path.join(os.path.realpath(d), "") for d in dirs)


class StandInFinder(importlib.abc.MetaPathFinder):
    """Last on sys.meta_path: what nothing else could find, imported by project code, is stood in for.
    A second instance, first on sys.meta_path, guards the project's own modules."""

    def __init__(self, guard: bool):
        self.guard = guard
        self.active = False
        self.library = _library_dirs()

    def _from_project(self) -> bool:
        frame = sys._getframe(2)
        while frame is not None and frame.f_code.co_filename.startswith("<frozen"):
            frame = frame.f_back
        if frame is None:
            return False
        filename = frame.f_code.co_filename
        return not filename.startswith("<") and not os.path.realpath(filename).startswith(self.library)

    def find_spec(self, fullname, path, target=None):
        if not self.active or not self._from_project():
            return None
        if not self.guard:
            return importlib.machinery.ModuleSpec(fullname, _StandInLoader(f"No module named {fullname!r}"),
                                                  is_package=True)
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.origin is None or not spec.origin.endswith(".py") \
                or os.path.realpath(spec.origin).startswith(self.library):
            return None
        spec.loader = _GuardedLoader(spec.loader)
        return spec


_FINDERS: list[StandInFinder] = []


def preload_plugins(names: list[str]) -> None:
    """Import the installed libraries env.py imports (never the project's own modules, never env.py):
    alembic_postgresql_enum, alembic_utils and the like register their op.* operations when imported."""
    import importlib.util

    library = _library_dirs()
    for name in names:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            continue
        origin = getattr(spec, "origin", None) or ""
        if spec is None or not os.path.realpath(origin).startswith(library):
            continue
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001  (a plugin that does not import here: its ops are reported unreviewed)
            pass


def _accept_stand_ins() -> None:
    """Where SQLAlchemy insists on a str or a ClauseElement (a server_default, an Enum's values), a
    stand-in constant (`server_default=constants.EGRESS`) is its named placeholder."""
    from sqlalchemy.sql import schema, sqltypes

    default_init = schema.DefaultClause.__init__

    def default_clause(self, arg, *args, **kw):
        default_init(self, arg.__clause_element__() if is_stand_in(arg) else arg, *args, **kw)
    schema.DefaultClause.__init__ = default_clause

    enum_init = sqltypes.Enum.__init__

    def enum(self, *enums, **kw):
        enum_init(self, *("stand-in:%s" % _name(e) if is_stand_in(e) else e for e in enums), **kw)
    sqltypes.Enum.__init__ = enum


def _name(value) -> str:
    if isinstance(value, types.ModuleType):
        return value.__name__
    return (value if isinstance(value, type) else type(value))._ar_name


def install() -> None:
    """Put the finders in place (inactive until a revision runs)."""
    if not _FINDERS:
        _accept_stand_ins()
        _FINDERS.extend([StandInFinder(guard=True), StandInFinder(guard=False)])
        sys.meta_path.insert(0, _FINDERS[0])
        sys.meta_path.append(_FINDERS[1])


class standing_in:
    """While a revision is imported and run: stand-ins on, a fresh record; afterwards the modules it
    imported from the project (and the stand-ins) are forgotten, so each revision is judged alone."""

    def __init__(self, path: str):
        self.path = path

    def __enter__(self):
        self.before = set(sys.modules)
        RECORD.names, RECORD.path, RECORD.line = {}, self.path, None
        for finder in _FINDERS:
            finder.active = True
        return RECORD

    def __exit__(self, *exc):
        for finder in _FINDERS:
            finder.active = False
        library = _FINDERS[0].library if _FINDERS else ()
        for name in set(sys.modules) - self.before:
            module = sys.modules.get(name)
            origin = getattr(module, "__file__", None) or ""
            if isinstance(module, StandInModule) or (origin and not os.path.realpath(origin).startswith(library)):
                del sys.modules[name]
        return False
