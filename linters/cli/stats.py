"""`python -m linters stats --database-url URL [--output FILE]`: the table-statistics snapshot.

Reads the sizes and write rates of a database's tables (read-only, catalog and statistics views
only) and writes them as JSON (linters/tablestats.py) for `--stats FILE` / `stats = "path"`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from linters.cli.options import Parser
from linters.errors import UsageError


def _parser() -> Parser:
    p = Parser(prog="alembic-review stats",
               description="Write the sizes and write rates of a database's tables as a JSON snapshot "
                           "(read-only: catalog and statistics views, never table rows).")
    p.add_argument("--database-url", metavar="URL", required=True, help="the database to read (e.g. production)")
    p.add_argument("--output", type=Path, help="write the snapshot to FILE (default: stdout)")
    p.add_argument("--interval", type=float, default=0.0, metavar="SECONDS",
                   help="measure the write rates between two readings this far apart "
                        "(default: the average since the statistics were last reset)")
    return p


def cmd_stats(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    if not 0 <= args.interval <= 3600:
        raise UsageError("--interval must be between 0 and 3600 seconds")
    from linters.stats_catalog import take_snapshot
    stats = take_snapshot(args.database_url, args.interval)
    text = json.dumps(stats.to_json(), indent=1) + "\n"
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text, encoding="utf-8")
        print(f"alembic-review: {len(stats.tables)} tables written to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
