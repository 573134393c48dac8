"""Run action.yml's own shell steps, in order, as a runner does for a composite action: each `run`
in bash with its `env`, `${{ inputs.* }}` from the given inputs (else the defaults), steps that
`uses:` another action skipped (the history cache). For the Action's end-to-end test and its
timing in bench/install.py; not a GitHub runner, only the part of one our steps rely on."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
EXPRESSION = re.compile(r"\$\{\{\s*([\w.-]+)\s*\}\}")


def _value(expression: str, inputs: dict[str, str], action: dict) -> str:
    scope, _, name = expression.partition(".")
    if scope == "inputs":
        return inputs.get(name, str(action["inputs"][name].get("default", "")))
    if expression == "github.action_path":
        return str(ROOT)
    if expression in ("github.token", "github.workspace"):
        return ""
    raise ValueError(f"action.yml uses ${{{{ {expression} }}}}, which this runner does not know")


def run_steps(inputs: dict[str, str], env: dict[str, str], timeout: float = 900,
              each=None) -> list[subprocess.CompletedProcess]:
    """Each shell step's result; stops at the first that fails. `env` is the job's environment
    (PATH with the workflow's python, RUNNER_TEMP, GITHUB_* ...); `each()` is called after each step."""
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    fill = lambda text: EXPRESSION.sub(lambda m: _value(m.group(1), inputs, action), str(text))
    done = []
    for step in action["runs"]["steps"]:
        if "run" not in step:
            continue
        step_env = {**env, "GITHUB_ACTION_PATH": str(ROOT),
                    **{k: fill(v) for k, v in (step.get("env") or {}).items()}}
        cwd = fill(step.get("working-directory", env.get("GITHUB_WORKSPACE", ".")))
        proc = subprocess.run(["bash", "-e", "-c", fill(step["run"])], cwd=cwd, env=step_env,
                              capture_output=True, text=True, timeout=timeout)
        done.append(proc)
        if each is not None:
            each()
        if proc.returncode != 0:
            break
    return done


def job_env(workspace: Path, runner_temp: Path, path_first: Path, **extra: str) -> dict[str, str]:
    """A job's environment: `path_first` (the workflow's python's bin) leads PATH."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "INPUT_", "RUNNER_", "VIRTUAL_ENV"))}
    return {**base, "PATH": f"{path_first}:/usr/local/bin:/usr/bin:/bin", "RUNNER_TEMP": str(runner_temp),
            "GITHUB_WORKSPACE": str(workspace), "NO_COLOR": "1", **extra}
