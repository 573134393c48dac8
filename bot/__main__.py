"""`python -m bot <command> ...`: one dispatcher for the GitHub side of alembic-review.

Each command is a module with `main(argv: list[str]) -> int`; add yours to COMMANDS. Command
modules share code through the other modules of bot/, never through each other.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from linters.extras import MissingExtra, require

COMMANDS: dict[str, tuple[str, str]] = {
    "action": ("bot.action", "run as the GitHub Action: lint once, publish on the pull request"),
    "serve": ("bot.webhook", "run the GitHub App webhook service (docs/webhook-service.md)"),
    "worker": ("bot.worker", "run review jobs from the webhook service's queue"),
}
EXTRA_OF = {"action": "github", "serve": "app", "worker": "app"}  # what each command needs installed


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="python -m bot", description="alembic-review on GitHub.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (_, help_text) in COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    args, rest = parser.parse_known_args(argv[:1])
    try:
        require(EXTRA_OF[args.command], f"`python -m bot {args.command}`")
    except MissingExtra as exc:
        print(f"alembic-review: error: {exc}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[args.command][0])
    return module.main(argv[1:] + rest)


if __name__ == "__main__":
    sys.exit(main())
