"""The GitHub Action entry point: `python -m bot action` (or `python -m bot.action`).

Runs the lint once (`python -m linters --format json --output FILE`, a child process) over what
the checkout adds to its base (bot/checkout.py: the merge commit's base parent on pull_request,
the queue's base on merge_group), then from
that one JSON report: the markdown summary to $GITHUB_STEP_SUMMARY, SARIF if asked, the sticky
comment / review / check run on the pull request (bot.publish), workflow-command annotations when
no check run carries them, and the outputs (errors, warnings, report) to $GITHUB_OUTPUT.

The exit code is the lint's (0 clean, 1 findings at or above fail-on, 2 the tool could not run);
a failure to publish is reported and never changes it.

Inputs come from arguments or, as in an Action, from INPUT_* variables (INPUT_PG_VERSION and
INPUT_PG-VERSION both work). With --report (INPUT_REPORT) nothing is linted: a report written
earlier, possibly by an untrusted fork's workflow, is loaded as data and published, its history
verdicts recomputed from a checkout of the head when there is one (bot/trusted_history.py); this
is the `workflow_run` half of the fork pattern in docs/github-action.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bot import checkout
from bot.publish import DEFAULT_CHECK_NAME
from bot.lint_child import effective_fail_on, left_report, lint_args, lint_command
from bot.report_reader import read_report
from linters.report import github as github_format
from linters.report import markdown, sarif
from linters.report.model import Report

STEP_SUMMARY_LIMIT = 1_000_000  # GitHub's step summary cap is 1 MiB


def _env(env: dict, name: str, default: str = "") -> str:
    """An Action input: INPUT_<NAME> with '-' as '-' or '_' (runners keep hyphens)."""
    upper = name.upper()
    for key in (f"INPUT_{upper}", f"INPUT_{upper.replace('-', '_')}"):
        value = env.get(key)
        if value is not None and value.strip() != "":
            return value.strip()
    return default


def _bool(value: str | bool) -> bool:
    if isinstance(value, bool):
        return value
    v = value.strip().lower()
    if v in ("true", "yes", "1", "on"):
        return True
    if v in ("false", "no", "0", "off", ""):
        return False
    raise argparse.ArgumentTypeError(f"not a boolean: {value!r}")


def _pr_number(value: str) -> int | None:
    """A PR number, possibly read from an artifact written by untrusted code: digits only."""
    value = (value or "").strip()
    if not value:
        return None
    if not value.isdigit() or len(value) > 9 or int(value) == 0:
        raise argparse.ArgumentTypeError(f"not a pull request number: {value[:40]!r}")
    return int(value)


def build_parser(env: dict) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bot action",
                                description="Run alembic-review as a GitHub Action and publish the result.")
    e = lambda name, default="": _env(env, name, default)
    p.add_argument("--path", default=e("path", "."), help="repository / alembic project path")
    p.add_argument("--base", default=e("base"), help="git base ref (default: the pull request's base commit)")
    p.add_argument("--pg-version", default=e("pg-version"))
    p.add_argument("--fail-on", default=e("fail-on"), choices=["", "error", "warning", "never"])
    p.add_argument("--config", default=e("config"))
    p.add_argument("--stats-file", default=e("stats-file"), help="table-statistics snapshot (`python -m linters stats`)")
    p.add_argument("--github-token", default=e("github-token", env.get("GITHUB_TOKEN", "")))
    p.add_argument("--comment", type=_bool, default=_bool(e("comment", "true")))
    p.add_argument("--review", type=_bool, default=_bool(e("review", "true")))
    p.add_argument("--check", type=_bool, default=_bool(e("check", "true")))
    p.add_argument("--check-name", default=e("check-name", DEFAULT_CHECK_NAME),
                   help="name of the check run (and of the commit status standing in for it)")
    p.add_argument("--min-inline-severity", default=e("min-inline-severity", "warning"),
                   choices=["error", "warning", "info"], help="findings below this get no review thread")
    p.add_argument("--sarif-file", default=e("sarif-file"), help="also write SARIF here")
    p.add_argument("--squawk", type=_bool, default=_bool(e("squawk", "false")),
                   help="also run squawk-cli and merge its findings (the lint's --squawk)")
    p.add_argument("--report-file", default=e("report-file"), help="where the JSON report goes")
    p.add_argument("--report", default=e("report"),
                   help="publish this JSON report (treated as untrusted data) instead of linting")
    p.add_argument("--pr", type=_pr_number, default=e("pr-number"),  # argparse converts it too
                   help="pull request number (default: from the event)")
    p.add_argument("--head-sha", default=e("head-sha"), help="commit the report is about (default: from the event)")
    p.add_argument("--python", default=e("python"),
                   help="the interpreter that renders the revisions (the project's own; default: ours)")
    p.add_argument("--repo", default=env.get("GITHUB_REPOSITORY", ""), help="owner/name")
    p.add_argument("--api-url", default=env.get("GITHUB_API_URL", "https://api.github.com"))
    return p


# --- the run ----------------------------------------------------------------------------------

def _github_output(env: dict, values: dict[str, str]) -> None:
    target = env.get("GITHUB_OUTPUT")
    if not target:
        return
    with open(target, "a", encoding="utf-8") as out:
        for key, value in values.items():
            value = str(value)
            if "\n" in value:
                out.write(f"{key}<<__ALEMBIC_REVIEW_EOF__\n{value}\n__ALEMBIC_REVIEW_EOF__\n")
            else:
                out.write(f"{key}={value}\n")


def _append(path: str | None, text: str) -> None:
    if path:
        with open(path, "a", encoding="utf-8") as out:
            out.write(text)


def run_lint(args, env: dict, workspace: Path, report_path: Path, base: str | None) -> int:
    lint = lint_args(args.path, report_path, base)
    if args.pg_version:
        lint += ["--pg-version", str(args.pg_version)]
    if args.fail_on:
        lint += ["--fail-on", args.fail_on]
    if args.config:
        lint += ["--config", args.config]
    if args.stats_file:
        lint += ["--stats", args.stats_file]
    if args.squawk:
        lint += ["--squawk"]
    if args.python:
        lint += ["--python", args.python]
    child_env = {k: v for k, v in env.items() if not k.startswith("INPUT_") and k not in (
        "GITHUB_TOKEN", "ACTIONS_RUNTIME_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_TOKEN")}
    print("alembic-review: python -m linters " + " ".join(lint), flush=True)
    return subprocess.run(lint_command(lint), cwd=workspace, env=child_env).returncode


def _checkout_root(workspace: Path, path: str) -> Path:
    """Where to ask git about the checkout: the reviewed path's directory, else the workspace."""
    target = workspace / path
    return target if target.is_dir() else target.parent if target.parent.is_dir() else workspace


def _recheck_history(report: Report, path: Path, base_branch: str) -> Report:
    """Publish-only mode: the history verdicts recomputed from a checkout of the pull request's head
    (read as data, nothing run), when the workflow made one; the report's own otherwise."""
    from linters.errors import UsageError
    from linters.gitio import repo_root

    if not path.exists() or repo_root(path if path.is_dir() else path.parent) is None:
        print("alembic-review: no checkout of the pull request: its history verdicts are taken from the "
              "report (check it out, as data, to recompute them: docs/github-action.md)", flush=True)
        return report
    from bot.trusted_history import recheck
    try:
        report = recheck(report, path, base_branch)
    except UsageError as exc:
        print(f"::warning title=alembic-review::history verdicts not recomputed: {exc}", flush=True)
        return report
    print("alembic-review: history verdicts (revision graph, heads, edited or deleted revisions) "
          "recomputed from the checkout; the report's were set aside", flush=True)
    return report


def _could_not_run(env: dict, line: str, code: int) -> int:
    print(line, flush=True)
    _append(env.get("GITHUB_STEP_SUMMARY"),
            f"### alembic-review: could not run (exit code {code if code not in (0, 1) else 2})\n\n"
            "See the job log.\n")
    _github_output(env, {"errors": "", "warnings": "", "report": ""})
    return code if code not in (0, 1) else 2


def main(argv: list[str] | None = None, env: dict | None = None) -> int:
    env = dict(os.environ if env is None else env)
    args = build_parser(env).parse_args(argv)
    workspace = Path(env.get("GITHUB_WORKSPACE") or ".").resolve()

    event: dict = {}
    if env.get("GITHUB_EVENT_PATH") and Path(env["GITHUB_EVENT_PATH"]).is_file():
        try:
            event = json.loads(Path(env["GITHUB_EVENT_PATH"]).read_text(encoding="utf-8"))
        except ValueError:
            print("alembic-review: GITHUB_EVENT_PATH is not JSON; ignoring it", file=sys.stderr)
    root = None if args.report else _checkout_root(workspace, args.path)
    try:
        # an explicit base is the user's: the event is read for the head and the PR only
        where = checkout.target(None if args.base else root, env.get("GITHUB_EVENT_NAME", ""), event)
    except checkout.CheckoutError as exc:
        return _could_not_run(env, f"::error title=alembic-review::{exc}", 2)
    pr_number = args.pr or where.pr_number
    head_sha = args.head_sha or where.head_sha
    repo_full_name = args.repo or (event.get("repository") or {}).get("full_name", "")

    if args.report:
        report_path = (workspace / args.report).resolve()  # absolute paths stay as they are
    else:
        if args.report_file:
            report_path = (workspace / args.report_file).resolve()
        else:
            tmp = Path(env.get("RUNNER_TEMP") or tempfile.gettempdir()) / "alembic-review"
            tmp.mkdir(parents=True, exist_ok=True)
            report_path = tmp / "report.json"
        report_path.unlink(missing_ok=True)
        base = checkout.resolve_ref(root, args.base) if args.base and root else where.base
        code = run_lint(args, env, workspace, report_path, base)
        if not left_report(code, report_path):
            return _could_not_run(env, f"::error title=alembic-review::alembic-review could not run "
                                       f"(exit code {code}); see the log above", code)
    try:
        report = read_report(report_path)
    except (OSError, ValueError) as exc:
        print(f"alembic-review: error: cannot read report {args.report or report_path}: {exc}", file=sys.stderr)
        return 2
    if args.report:
        report = _recheck_history(report, workspace / args.path,
                                  args.base or (event.get("repository") or {}).get("default_branch") or "main")
        fail_on = args.fail_on or "error"
        code = 1 if report.reaches(fail_on) else 0
    else:
        fail_on = effective_fail_on(report, code, args.fail_on)

    pr_url = (event.get("pull_request") or {}).get("html_url")  # problem lines link to the diff
    _append(env.get("GITHUB_STEP_SUMMARY"), markdown.render(report, max_chars=STEP_SUMMARY_LIMIT, fail_on=fail_on,
                                                            pr_url=pr_url, head_sha=head_sha))
    if args.sarif_file:
        target = workspace / args.sarif_file
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(sarif.render(report), encoding="utf-8")
        print(f"alembic-review: SARIF written to {target}")

    check_created = False
    queued = pr_number is None and head_sha and env.get("GITHUB_EVENT_NAME") == "merge_group"
    if (pr_number and (args.comment or args.review or args.check)) or (queued and args.check):
        if not args.github_token:
            print("::warning title=alembic-review::no github-token: results not published")
        elif not repo_full_name:
            print("::warning title=alembic-review::GITHUB_REPOSITORY unknown: results not published")
        else:  # in a merge queue: the check run on the queue's commit only (no pull request to comment on)
            check_created = _publish(args, env, repo_full_name, int(pr_number) if pr_number else None,
                                     head_sha, report, fail_on)
    elif not pr_number:
        print("alembic-review: not a pull request event: nothing to publish on GitHub")

    if not check_created:  # the check run carries the annotations; otherwise workflow commands do
        sys.stdout.write(github_format.render(report))

    s = report.summary
    _github_output(env, {"errors": s["errors"], "warnings": s["warnings"], "report": str(report_path)})
    print(f"alembic-review: {s['errors']} error(s), {s['warnings']} warning(s); exit code {code}", flush=True)
    return code


def _publish(args, env: dict, repo_full_name: str, pr_number: int | None, head_sha: str | None,
             report: Report, fail_on: str) -> bool:
    """Publish; True when a check run (with the annotations) exists for this report."""
    try:
        from bot.github_client import make_github
        from bot.publish import publish

        gh = make_github(args.github_token, args.api_url)
        details_url = None
        if env.get("GITHUB_RUN_ID") and env.get("GITHUB_REPOSITORY"):
            server = env.get("GITHUB_SERVER_URL", "https://github.com")
            details_url = f"{server}/{env['GITHUB_REPOSITORY']}/actions/runs/{env['GITHUB_RUN_ID']}"
        result = publish(gh, repo_full_name, pr_number, report, head_sha=head_sha, fail_on=fail_on,
                         comment=args.comment, review=args.review, check=args.check,
                         check_name=args.check_name, details_url=details_url,
                         min_inline_severity=args.min_inline_severity)
    except Exception as exc:  # publish() does not raise; this guards the import and the client
        print(f"::warning title=alembic-review::could not publish: {type(exc).__name__}: {exc}", flush=True)
        return False
    for note in result.notes:
        print(f"alembic-review: {note}")
    for error in result.errors:
        print(f"::warning title=alembic-review publishing::{github_format.escape_data(error)}", flush=True)
    print(f"alembic-review: comment {result.comment_action}, {result.review_comments_created} new review "
          f"comment(s), {result.review_comments_resolved} resolved, check {result.check_action}"
          + (f" ({result.conclusion})" if result.conclusion else ""), flush=True)
    return result.check_action in ("created", "unchanged")


if __name__ == "__main__":
    sys.exit(main())
