"""Find the Alembic project: alembic.ini, pyproject [tool.alembic], or the script directory itself."""

from __future__ import annotations

import configparser
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from linters.errors import UsageError
from linters.tomlread import load_toml

SKIP_DIRS = {".git", ".venv", "venv", "node_modules", "__pycache__", ".tox", "build", "dist", "site-packages"}


@dataclass
class Project:
    root: Path                 # git work tree (or the project dir outside git)
    project_dir: Path          # where alembic.ini / pyproject.toml lives
    script_dir: Path           # the directory holding env.py and versions/
    version_dirs: list[Path]   # where revision files live
    recursive: bool = False    # recursive_version_locations
    sys_path: list[Path] = field(default_factory=list)  # prepend_sys_path entries

    def rel(self, path: Path) -> str:
        return path.resolve().relative_to(self.root).as_posix()


def _split_locations(value: str, separator: str | None) -> list[str]:
    if separator in (None, "", "legacy"):
        return [v for v in re.split(r"[,\s]+", value) if v]
    seps = {"os": os.pathsep, "space": " ", "newline": "\n", ":": ":", ";": ";"}
    return [v.strip() for v in value.split(seps.get(separator, separator)) if v.strip()]


def _from_ini(ini: Path) -> list[dict]:
    """The settings of every section of `ini` that names a script_location ([alembic], and the
    sections `alembic -n name` selects: one ini may hold several histories)."""
    parser = configparser.ConfigParser(defaults={"here": str(ini.parent)}, interpolation=configparser.BasicInterpolation())
    found = []
    try:
        parser.read(ini, encoding="utf-8")
        sections = sorted(parser.sections(), key=lambda name: name != "alembic")
        for name in sections:
            section = parser[name]
            script_location = section.get("script_location")
            if not script_location or name.startswith(("logger", "handler", "formatter", "post_write_hooks")):
                continue
            sep = section.get("path_separator") or section.get("version_path_separator")
            found.append({
                "script_location": script_location,
                "version_locations": _split_locations(section.get("version_locations", ""), sep),
                "recursive": section.get("recursive_version_locations", "false").lower() in ("true", "1", "yes"),
                "prepend_sys_path": _split_locations(section.get("prepend_sys_path", ""), sep),
            })
    except (configparser.Error, KeyError):
        return []
    return found


def _from_pyproject(pyproject: Path) -> dict | None:
    data = load_toml(pyproject).get("tool", {}).get("alembic")
    if not data or "script_location" not in data:
        return None
    here = str(pyproject.parent)
    sub = lambda v: v.replace("%(here)s", here)
    locations = data.get("version_locations") or []
    if isinstance(locations, str):
        locations = _split_locations(locations, None)
    return {
        "script_location": sub(data["script_location"]),
        "version_locations": [sub(v) for v in locations],
        "recursive": bool(data.get("recursive_version_locations", False)),
        "prepend_sys_path": [sub(v) for v in data.get("prepend_sys_path", [])],
    }


def _is_script_dir(path: Path) -> bool:
    return (path / "env.py").is_file() and (path / "versions").is_dir()


def _package_dir(root: Path, start: Path, package: str) -> Path | None:
    """Where package `package` lives, without importing it: an enclosing directory of that name
    (the ini sits inside its own package), or <root>/<package>, <root>/src/<package>."""
    for d in [start, *start.parents]:
        if d.name == package and (d / "__init__.py").is_file():
            return d
        if d == root:
            break
    for d in (root / package, root / "src" / package):
        if d.is_dir():
            return d
    return None


def _has_nested_revisions(versions: Path) -> bool:
    """Revision files in folders below versions/ (release folders: versions/2025.2/expand/...)."""
    try:
        return any(p.is_dir() and p.name != "__pycache__" and any(p.rglob("*.py")) for p in versions.iterdir())
    except OSError:
        return False


def _for_postgresql(versions: Path) -> Path:
    """env.py that picks versions/<dialect> at run time (versions/postgresql, versions/sqlite): PostgreSQL's."""
    return versions / "postgresql" if (versions / "postgresql").is_dir() else versions


def _build(root: Path, project_dir: Path, settings: dict) -> Project | None:
    def absolute(p: str) -> Path | None:
        path = Path(p)
        if not path.is_absolute() and ":" in p and not path.drive:
            # alembic resolves "pkg:dir" (or "pkg:a:b") through the package: importlib.resources.files(pkg) / dir
            package, *rest = p.split(":")
            base = _package_dir(root, project_dir, package)
            return base.joinpath(*"/".join(rest).split("/")).resolve() if base else None
        if path.is_absolute():
            return path.resolve()
        # alembic reads a relative path from where it runs: the ini's folder, or the repository root
        # for an ini kept in a subfolder (conf/alembic.ini with script_location = migrations)
        here = project_dir / p
        return (here if here.exists() or not (root / p).exists() else root / p).resolve()

    script_dir = absolute(settings["script_location"])
    if script_dir is None or not script_dir.is_dir():
        return None  # a template ini ("{alembic_dir}") or a package we cannot find: not this project
    versions = [v for v in map(absolute, settings["version_locations"]) if v] or [script_dir / "versions"]
    versions = [_for_postgresql(v) for v in versions]
    recursive = settings["recursive"] or any(_has_nested_revisions(v) for v in versions)
    return Project(
        root=root, project_dir=project_dir, script_dir=script_dir, version_dirs=versions,
        recursive=recursive, sys_path=[p for p in map(absolute, settings["prepend_sys_path"]) if p],
    )


def _merged(projects: list[Project]) -> Project:
    """Several histories configured in one place (ini sections): reviewed together, each its own graph of ids."""
    first = projects[0]
    for other in projects[1:]:
        first.version_dirs += [v for v in other.version_dirs if v not in first.version_dirs]
        first.recursive = first.recursive or other.recursive
        first.sys_path += [p for p in other.sys_path if p not in first.sys_path]
    return first


def _candidates(start: Path, depth: int = 5):
    """Directories under `start`, breadth first, skipping virtualenvs and build output."""
    level = [start]
    for _ in range(depth + 1):
        nxt = []
        for d in level:
            yield d
            try:
                nxt += sorted(c for c in d.iterdir() if c.is_dir() and c.name not in SKIP_DIRS and not c.name.startswith("."))
            except OSError:
                continue
        level = nxt


def _project_at(directory: Path, root: Path) -> Project | None:
    ini = directory / "alembic.ini"
    if ini.is_file() and (built := [p for s in _from_ini(ini) if (p := _build(root, directory, s))]):
        return _merged(built)
    pyproject = directory / "pyproject.toml"
    if pyproject.is_file() and (settings := _from_pyproject(pyproject)) and (built := _build(root, directory, settings)):
        return built
    if _is_script_dir(directory):
        versions = _for_postgresql(directory / "versions")
        return Project(root=root, project_dir=directory, script_dir=directory, version_dirs=[versions],
                       recursive=_has_nested_revisions(versions))
    return None


def find_project(path: Path, root: Path | None) -> Project:
    """The Alembic project at `path`, or the single one below it."""
    path = path.resolve()
    if not path.exists():
        raise UsageError(f"path not found: {path}")
    if path.is_file():
        path = path.parent
    root = root or path
    found = _project_at(path, root)
    if found:
        return found
    projects = [p for d in _candidates(path) if d != path and (p := _project_at(d, root))]
    # The script directory of an alembic.ini found here is the same project, not a second one.
    configured = {v for p in projects if p.project_dir != p.script_dir for v in p.version_dirs}
    projects = [p for p in projects if p.project_dir != p.script_dir or not set(p.version_dirs) <= configured]
    if len(projects) == 1:
        return projects[0]
    if not projects:
        # Run from inside the project (alembic/versions): the nearest enclosing project, up to the repo root.
        for parent in path.parents:
            if found := _project_at(parent, root):
                return found
            if parent == root:
                break
        raise UsageError(f"no Alembic project found in {path} (looked for alembic.ini, pyproject.toml [tool.alembic], or a directory with env.py and versions/)")
    names = ", ".join(str(p.project_dir.relative_to(path)) for p in projects)
    raise UsageError(f"several Alembic projects found in {path}: {names}; pass the one to review as PATH")
