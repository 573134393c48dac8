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


def _from_ini(ini: Path) -> dict | None:
    parser = configparser.ConfigParser(defaults={"here": str(ini.parent)}, interpolation=configparser.BasicInterpolation())
    try:
        parser.read(ini, encoding="utf-8")
        section = parser["alembic"]
        script_location = section.get("script_location")
    except (configparser.Error, KeyError):
        return None
    if not script_location:
        return None
    sep = section.get("path_separator") or section.get("version_path_separator")
    return {
        "script_location": script_location,
        "version_locations": _split_locations(section.get("version_locations", ""), sep),
        "recursive": section.get("recursive_version_locations", "false").lower() in ("true", "1", "yes"),
        "prepend_sys_path": _split_locations(section.get("prepend_sys_path", ""), sep),
    }


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


def _build(root: Path, project_dir: Path, settings: dict) -> Project:
    def absolute(p: str) -> Path:
        path = Path(p)
        if not path.is_absolute():
            # alembic resolves a "pkg:dir" script_location through the package; a plain path from the ini dir
            path = project_dir / p.replace(":", "/") if ":" in p and not Path(p).drive else project_dir / p
        return path.resolve()

    script_dir = absolute(settings["script_location"])
    versions = [absolute(v) for v in settings["version_locations"]] or [script_dir / "versions"]
    return Project(
        root=root, project_dir=project_dir, script_dir=script_dir, version_dirs=versions,
        recursive=settings["recursive"],
        sys_path=[absolute(p) for p in settings["prepend_sys_path"]],
    )


def _candidates(start: Path, depth: int = 3):
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
    if ini.is_file() and (settings := _from_ini(ini)):
        return _build(root, directory, settings)
    pyproject = directory / "pyproject.toml"
    if pyproject.is_file() and (settings := _from_pyproject(pyproject)):
        return _build(root, directory, settings)
    if _is_script_dir(directory):
        return Project(root=root, project_dir=directory, script_dir=directory, version_dirs=[directory / "versions"])
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
    configured = {p.script_dir for p in projects if p.project_dir != p.script_dir}
    projects = [p for p in projects if p.project_dir != p.script_dir or p.script_dir not in configured]
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
