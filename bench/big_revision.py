"""Time to review one revision of N op.* calls, at two sizes: the ratio says whether the review is linear.

    python -m bench.big_revision [--small 1000] [--large 4000]

Each op is an `op.create_index` without CONCURRENTLY on an existing table: one finding with a
mechanical fix per op, so every finding is located in the source and gets a suggestion (the path
that grew faster than linear: suggest.locate_call walked the whole tree per finding). A linear review
takes about large/small times as long; the script prints both times and the two ratios.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.gitrepo import alembic_project

REPO_ROOT = Path(__file__).resolve().parent.parent


def review_seconds(ops: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        repo = alembic_project(Path(tmp) / "repo")
        body = "\n".join(f'op.create_index("ix_users_{i}", "users", ["email"])' for i in range(ops))
        repo.add_revision("0002", "0001", body)
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "linters", str(repo.path), "--base", "main", "--format", "json"],
                              capture_output=True, text=True, cwd=REPO_ROOT)
        elapsed = time.perf_counter() - start
        if proc.returncode not in (0, 1):
            raise SystemExit(f"review failed ({proc.returncode}): {proc.stderr[-500:]}")
        return elapsed


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--small", type=int, default=1000)
    p.add_argument("--large", type=int, default=4000)
    args = p.parse_args(argv)
    small, large = review_seconds(args.small), review_seconds(args.large)
    print(f"{args.small} ops: {small:.1f} s; {args.large} ops: {large:.1f} s")
    print(f"size ratio {args.large / args.small:.1f}, time ratio {large / small:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
