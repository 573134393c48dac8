"""The core install (`pip install -e .`, no extras) reviews; each entry point that needs an extra
says which one, in one line, with exit code 2."""

import subprocess

import pytest

from tests.gitrepo import REPO_ROOT
from tests.venvs import built_venv


@pytest.fixture(scope="module")
def core_python(tmp_path_factory):
    return built_venv(tmp_path_factory, "core-install", "-e", str(REPO_ROOT))


def run(python, *args, cwd):
    return subprocess.run([str(python), *args], capture_output=True, text=True, timeout=300, cwd=cwd,
                          env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1", "HOME": str(cwd)})


def test_the_core_install_has_no_extras_and_runs_the_readme_demo(core_python, tmp_path):
    absent = run(core_python, "-c", "import importlib.util as u; print([m for m in "
                 "('github', 'fastapi', 'uvicorn', 'huey', 'redis', 'requests', 'psycopg') if u.find_spec(m)])",
                 cwd=tmp_path)
    assert absent.stdout.strip() == "[]"
    demo = run(core_python, "-m", "linters", "demo", cwd=tmp_path)
    assert demo.returncode == 0, demo.stderr
    assert "require-concurrent-index-creation" in demo.stdout and "2 errors" in demo.stdout  # drop-column folded into drop-mapped-column


@pytest.mark.parametrize("args, extra", [
    (["-m", "bot", "action"], "github"),
    (["-m", "bot", "serve"], "app"),
    (["-m", "bot", "worker"], "app"),
    (["-m", "linters", ".", "--database-url", "postgresql://postgres@127.0.0.1/postgres"], "live"),
    (["-m", "linters", ".", "--live"], "live"),
])
def test_an_entry_point_without_its_extra_names_it(core_python, tmp_path, args, extra):
    proc = run(core_python, *args, cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert f"pip install 'alembic-review[{extra}]'" in proc.stderr
