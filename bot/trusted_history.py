"""The fork pattern's publishing workflow: verdicts it computes itself instead of trusting the report.

The report of a fork's pull request is made by a workflow that runs the pull request's code, so
its author can write anything in it. What needs no code run (the revision graph, edited or deleted
revisions, several heads: `ast` and git only, never importing a file) is recomputed here from a
checkout of the pull request's head, read as data, and replaces those findings of the report.
What needs rendering (the SQL rules) can only come from the report.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from bot.checkout import merge_base, resolve_ref
from linters.config import load_config
from linters.engine import Scope, history_verdicts, locate
from linters.errors import UsageError
from linters.report.model import Report
from linters.rules import RULES, HistoryRule, rules_of


def history_rule_ids() -> set[str]:
    return {rule.id for rule in rules_of(HistoryRule)}


def recheck(report: Report, path: Path, base_branch: str) -> Report:
    """`report` with its history findings replaced by ours, computed on the checkout at `path`
    against its fork point from `base_branch`. Raises UsageError (no project, no base)."""
    root, project = locate(path)
    if root is None:
        raise UsageError(f"{path} is not a git checkout")
    base = merge_base(root, "HEAD", resolve_ref(root, base_branch))
    if base is None:
        raise UsageError(f"no common history with {base_branch!r}: check out with fetch-depth: 0")
    config = load_config([project.project_dir, project.root]).validate(RULES)
    ours = history_verdicts(Scope(project, config, base))
    ids = history_rule_ids()
    kept = [f for f in report.findings if f.rule not in ids]
    return dataclasses.replace(report, findings=kept + ours)
