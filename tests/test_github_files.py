"""action.yml, the documented workflows and .pre-commit-hooks.yaml are valid and agree with the code."""

from __future__ import annotations

import importlib.resources
import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml
from pre_commit.clientlib import load_manifest

from bot.action import build_parser

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
           "INPUT_PYTHON": ".venv/bin/python"}
    assert set(env) == {"INPUT_" + n.upper().replace("-", "_") for n in ACTION["inputs"]}
    args = build_parser(env).parse_args([])
    assert (args.path, args.base, args.pg_version, args.fail_on, args.config, args.github_token) == \
        ("sub", "origin/main", "16", "warning", "x.toml", "tok")
    assert (args.comment, args.review, args.check, args.sarif_file, args.report, args.pr, args.python) == \
        (False, False, False, "out.sarif", "r.json", 5, ".venv/bin/python")


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
    assert not any(str(s.get("uses", "")).startswith("actions/checkout") for s in steps)
    ours = next(s for s in steps if s.get("uses") == ACTION_REF)
    assert ours["with"]["report"] and ours["with"]["pr-number"]


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


def test_the_action_keeps_the_history_cache_between_runs_except_in_publish_only_mode():
    steps = ACTION["runs"]["steps"]
    cache = next(s for s in steps if str(s.get("uses", "")).startswith("actions/cache@"))
    assert cache["with"]["path"].endswith("/.git/alembic-review")  # where revision_files.IdentityCache lives
    assert cache["with"]["restore-keys"] and cache["with"]["key"].startswith(cache["with"]["restore-keys"])
    assert cache["if"] == "inputs.report == ''"  # publish-only mode reads a report, no history
    assert steps.index(cache) < steps.index(next(s for s in steps if s.get("id") == "review"))
