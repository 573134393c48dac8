"""action.yml, the documented workflows and .pre-commit-hooks.yaml are valid and agree with the code."""

from __future__ import annotations

import importlib.resources
import json
import os
import re
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml
from pre_commit.clientlib import load_manifest

from bot.action import build_parser
from tests.gitrepo import alembic_project, run_cli

ROOT = Path(__file__).resolve().parent.parent
ACTION = yaml.safe_load((ROOT / "action.yml").read_text())
DOC = (ROOT / "docs" / "github-action.md").read_text()
ACTION_REF = "alembic-review/alembic-review@v1"


def vendored_schema(name: str) -> dict:
    """SchemaStore schemas vendored by the check-jsonschema package."""
    files = importlib.resources.files("check_jsonschema.builtin_schemas.vendor")
    return json.loads((files / name).read_text(encoding="utf-8"))


def schema_errors(schema: dict, document) -> list[str]:
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(document)]


def load_workflow(text: str):
    """YAML as GitHub reads it: `on:` is the key "on", not YAML 1.1's boolean True."""
    data = yaml.safe_load(text)
    if isinstance(data, dict) and True in data:
        data["on"] = data.pop(True)
    return data


def doc_workflows() -> list[dict]:
    blocks = re.findall(r"```yaml\n(.*?)```", DOC, re.S)
    return [y for y in (load_workflow(b) for b in blocks) if isinstance(y, dict) and "jobs" in y]


def test_action_yml_is_a_valid_composite_action():
    assert not schema_errors(vendored_schema("github-actions.json"), ACTION)
    assert ACTION["runs"]["using"] == "composite"
    assert set(ACTION["inputs"]) >= {"path", "base", "pg-version", "fail-on", "config", "github-token",
                                     "comment", "review", "check", "sarif-file"}
    assert set(ACTION["outputs"]) == {"errors", "warnings", "report"}


def test_every_input_reaches_the_program_and_every_output_comes_from_it():
    step = next(s for s in ACTION["runs"]["steps"] if s.get("id") == "review")
    assert step["run"].strip() == '"$RUNNER_TEMP/alembic-review/venv/bin/python" -m bot action'  # our own venv
    for name in ACTION["inputs"]:
        var = "INPUT_" + name.upper().replace("-", "_")
        assert step["env"][var] == "${{ inputs.%s }}" % name, name
    for name, out in ACTION["outputs"].items():
        assert out["value"] == "${{ steps.review.outputs.%s }}" % name
    # the entry point reads each variable
    env = {"INPUT_PATH": "sub", "INPUT_BASE": "origin/main", "INPUT_PG_VERSION": "16", "INPUT_FAIL_ON": "warning",
           "INPUT_CONFIG": "x.toml", "INPUT_GITHUB_TOKEN": "tok", "INPUT_COMMENT": "false", "INPUT_REVIEW": "false",
           "INPUT_CHECK": "false", "INPUT_SARIF_FILE": "out.sarif", "INPUT_REPORT": "r.json", "INPUT_PR_NUMBER": "5",
           "INPUT_STATS_FILE": "stats.json", "INPUT_SQUAWK": "true", "INPUT_CHECK_NAME": "migrations / alembic",
           "INPUT_MIN_INLINE_SEVERITY": "info", "INPUT_PYTHON": ".venv/bin/python"}
    assert set(env) == {"INPUT_" + n.upper().replace("-", "_") for n in ACTION["inputs"]}
    args = build_parser(env).parse_args([])
    assert (args.path, args.base, args.pg_version, args.fail_on, args.config, args.github_token) == \
        ("sub", "origin/main", "16", "warning", "x.toml", "tok")
    assert (args.comment, args.review, args.check, args.sarif_file, args.report, args.pr) == \
        (False, False, False, "out.sarif", "r.json", 5)
    assert args.python == ".venv/bin/python"
    assert args.check_name == "migrations / alembic"
    assert args.min_inline_severity == "info" and build_parser({}).parse_args([]).min_inline_severity == "warning"
    assert args.stats_file == "stats.json"
    assert args.squawk is True and build_parser({}).parse_args([]).squawk is False


def test_documented_stats_refresh_workflow_is_valid_and_writes_the_snapshot():
    [block] = re.findall(r"```yaml\n(.*?)```", (ROOT / "docs" / "table-stats.md").read_text(), re.S)
    workflow = load_workflow(block)
    assert not schema_errors(vendored_schema("github-workflows.json"), workflow)
    assert "schedule" in workflow["on"] and workflow["permissions"] == {"contents": "write"}
    run = " ".join(step.get("run", "") for step in workflow["jobs"]["stats"]["steps"])
    assert "python -m linters stats --database-url" in run and "--output .alembic-review/stats.json" in run


def test_inputs_with_hyphens_as_a_runner_passes_them():
    args = build_parser({"INPUT_SARIF-FILE": "a.sarif", "INPUT_FAIL-ON": "never"}).parse_args([])
    assert (args.sarif_file, args.fail_on, args.comment) == ("a.sarif", "never", True)


def test_documented_workflows_are_valid():
    workflows = doc_workflows()
    assert len(workflows) == 3
    schema = vendored_schema("github-workflows.json")
    for wf in workflows:
        assert not schema_errors(schema, wf), wf["name"]
        for job in wf["jobs"].values():
            assert "pull_request_target" not in json.dumps(wf)
            for step in job["steps"]:
                if step.get("uses") == ACTION_REF:
                    assert set(step.get("with", {})) <= set(ACTION["inputs"])


def test_fork_publish_workflow_runs_nothing_from_the_pull_request():
    publish = next(wf for wf in doc_workflows() if "workflow_run" in wf["on"])
    steps = publish["jobs"]["publish"]["steps"]
    # the head is checked out as data only: no token left in it, in its own directory, which no
    # `run:` step touches; the action reads it (ast) to recompute the history verdicts
    [checkout] = [s for s in steps if str(s.get("uses", "")).startswith("actions/checkout")]
    assert checkout["with"]["ref"] == "${{ github.event.workflow_run.head_sha }}"
    assert checkout["with"]["persist-credentials"] is False and checkout["with"]["path"] not in (".", "")
    assert not any(checkout["with"]["path"] in s.get("run", "") or "working-directory" in s for s in steps)
    ours = next(s for s in steps if s.get("uses") == ACTION_REF)
    assert ours["with"]["report"] and ours["with"]["pr-number"]
    assert ours["with"]["path"] == checkout["with"]["path"]


def test_pre_commit_manifest_is_valid():
    [hook] = load_manifest(str(ROOT / ".pre-commit-hooks.yaml"))
    assert hook["id"] == "alembic-review" and hook["entry"] == "alembic-review"
    assert hook["pass_filenames"] is False
    pattern = re.compile(hook["files"])
    for path in ("alembic/versions/0001_init.py", "alembic.ini", "pyproject.toml", "migrations/env.py"):
        assert pattern.search(path), path
    assert not pattern.search("app/models.py")


@pytest.mark.parametrize("name", ["errors", "warnings", "report"])
def test_outputs_are_documented(name):
    assert f"`{name}`" in DOC


def cache_steps():
    steps = ACTION["runs"]["steps"]
    find = next(s for s in steps if s.get("id") == "history-cache")
    cache = next(s for s in steps if str(s.get("uses", "")).startswith("actions/cache@"))
    return steps, find, cache


def run_find_step(workspace: Path, path: str, branch: str, tmp_path: Path) -> dict:
    """The action's own bash step, run as a runner would."""
    _, find, _ = cache_steps()
    out = tmp_path / "github_output"
    out.write_text("")
    env = {"PATH": os.environ["PATH"], "GITHUB_WORKSPACE": str(workspace), "GITHUB_OUTPUT": str(out),
           "INPUT_PATH": path, "BRANCH": branch}
    subprocess.run(["bash", "-e", "-c", find["run"]], env=env, check=True)
    return dict(line.split("=", 1) for line in out.read_text().splitlines())


def test_the_action_keeps_the_history_cache_between_runs_except_in_publish_only_mode():
    steps, find, cache = cache_steps()
    assert cache["with"]["path"] == "${{ steps.history-cache.outputs.dir }}"
    restore = cache["with"]["restore-keys"].splitlines()
    assert cache["with"]["key"].startswith(restore[0]) and restore[0].startswith(restore[1])
    assert "${{ steps.history-cache.outputs.branch }}" in restore[0]  # a PR restores its base's entry first
    assert find["if"] == "inputs.report == ''" and cache["if"].startswith("inputs.report == ''")
    assert steps.index(find) < steps.index(cache) < steps.index(next(s for s in steps if s.get("id") == "review"))


def test_history_cache_path_is_where_the_reviewer_writes_it_in_a_subdirectory_checkout(tmp_path):
    """actions/checkout with `path: app`: the cache is app/.git/alembic-review, not .git/..."""
    workspace = tmp_path / "ws"
    repo = alembic_project(workspace / "app")
    repo.add_revision("0002", "0001", "op.add_column('users', sa.Column('n', sa.Text))", slug="n")
    repo.commit("n")
    outputs = run_find_step(workspace, "app", "main", tmp_path)
    assert outputs["dir"] == str((workspace / "app" / ".git" / "alembic-review").resolve())
    assert not Path(outputs["dir"]).exists()
    proc = run_cli(str(workspace / "app"), "--base", "main", "--format", "json")
    assert proc.returncode in (0, 1), proc.stderr
    assert Path(outputs["dir"]).is_dir() and any(Path(outputs["dir"]).iterdir())


@pytest.mark.parametrize("branch, expected", [
    ("main", "main"),                                            # push to main, or a PR into main
    ("release/2.x", "release/2.x"),
    ("gh-readonly-queue/main/pr-12-0123456789abcdef0123456789abcdef01234567", "main"),  # merge queue
])
def test_history_cache_key_names_the_base_branch(tmp_path, branch, expected):
    repo = alembic_project(tmp_path / "repo")
    assert run_find_step(repo.path, ".", branch, tmp_path)["branch"] == expected
