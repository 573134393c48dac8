"""`python -m linters rules` and `python -m linters explain RULE`: the rule catalogue."""

from __future__ import annotations

import sys
from pathlib import Path

from linters.cli.options import Parser
from linters.errors import UsageError


def cmd_rules(argv: list[str]) -> int:
    from linters.explain import list_rules, markdown_table, rules_doc, write_readme
    p = Parser(prog="alembic-review rules", description="List the rules.")
    p.add_argument("--markdown", action="store_true", help="print the README's markdown table")
    p.add_argument("--docs", action="store_true", help="print docs/rules.md: a section per rule")
    p.add_argument("--write", type=Path, metavar="FILE", help="with --markdown: rewrite the table between "
                   "the <!-- rules:start --> / <!-- rules:end --> markers of FILE; with --docs: write FILE")
    args = p.parse_args(argv)
    if args.write and not (args.markdown or args.docs):
        raise UsageError("--write needs --markdown or --docs")
    if args.docs:
        if args.write:
            args.write.write_text(rules_doc(), encoding="utf-8")
        else:
            sys.stdout.write(rules_doc())
    elif args.write:
        write_readme(args.write)
    else:
        sys.stdout.write(markdown_table() if args.markdown else list_rules())
    return 0


def cmd_explain(argv: list[str]) -> int:
    from linters.explain import explain
    if len(argv) != 1:
        raise UsageError("usage: python -m linters explain RULE")
    sys.stdout.write(explain(argv[0]))
    return 0
