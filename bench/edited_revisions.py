"""How our edited-revision verdict fares on real edits of old revisions, from real projects' git history.

    python -m bench.edited_revisions [--labels bench/edited_revisions_labels.json] [--dump DIR] MIRROR...

MIRROR is a git directory (a bare mirror such as /work/.mirror/CTFd+CTFd/repo). For every commit that
modified or renamed a revision file (a .py file under a `versions/` directory) the file at the parent
and at the commit are compared the way a review compares base and branch (linters.changes.compare):
"error" when the review would report edited-revision (or deleted-revision) as an error, "ok" when it
says nothing or only the cosmetic info. The labels file holds the verdict a reviewer gave each pair by
reading its diff ({"<repo>:<commit>:<path>": "semantic" | "cosmetic" | "refactor"}); a semantic edit must
be an error, a cosmetic one must not. "refactor" is code that changed while, by the reviewer's reading,
the SQL did not (a module renamed, a constant named, an import from elsewhere): proving that needs the
project's code, so the review calls it an edit; those pairs are counted apart. --dump writes each pair's
diff and our verdict for labelling; --labelled-only skips the pairs without a label (fast).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

from linters.changes import compare
from linters.history import parse_revision


def _git(git_dir: str, *args: str) -> str:
    return subprocess.run(["git", f"--git-dir={git_dir}", *args], capture_output=True, text=True,
                          errors="replace").stdout


def edit_pairs(git_dir: str):
    """(commit, parent, old path, new path) for each revision file a commit modified or renamed."""
    log = _git(git_dir, "log", "--all", "--no-merges", "-M", "--format=@%H %P", "--diff-filter=MR",
               "--name-status", "--", "*versions/*.py")
    commit = parent = None
    for line in log.splitlines():
        if line.startswith("@"):
            ids = line[1:].split()
            commit, parent = ids[0], ids[1] if len(ids) > 1 else None
        elif line.strip() and parent:
            status, *paths = line.split("\t")
            old, new = paths[0], paths[-1]
            if "versions/" in new and new.endswith(".py"):
                yield commit, parent, old, new


def verdict(git_dir: str, commit: str, parent: str, old: str, new: str) -> str | None:
    before = _git(git_dir, "show", f"{parent}:{old}")
    after = _git(git_dir, "show", f"{commit}:{new}")
    base, head = parse_revision(old, before), parse_revision(new, after)
    if base is None or head is None:
        return None  # not a revision file (a helper module next to them)
    [change] = [c for c in compare([base], [head]) if c.status != "deleted"] or [None]
    if change is None or change.status in ("added",):
        return "error"  # matched by neither id nor path: the review sees a deletion
    return "error" if change.status == "modified" else "ok"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("mirrors", nargs="+")
    p.add_argument("--labels", type=Path, default=Path(__file__).with_name("edited_revisions_labels.json"))
    p.add_argument("--dump", type=Path)
    p.add_argument("--labelled-only", action="store_true")
    args = p.parse_args(argv)
    labels = json.loads(args.labels.read_text()) if args.labels.is_file() else {}
    tally, wrong, ours = Counter(), [], Counter()
    for git_dir in args.mirrors:
        name = Path(git_dir).parent.name if Path(git_dir).name == "repo" else Path(git_dir).name
        for commit, parent, old, new in edit_pairs(git_dir):
            if args.labelled_only and f"{name}:{commit[:12]}:{new}" not in labels:
                continue
            said = verdict(git_dir, commit, parent, old, new)
            if said is None:
                continue
            key = f"{name}:{commit[:12]}:{new}"
            ours[said] += 1
            if args.dump:
                diff = _git(git_dir, "diff", "-U0", "-M", parent, commit, "--", old, new)
                args.dump.mkdir(parents=True, exist_ok=True)
                (args.dump / (key.replace("/", "_").replace(":", "__") + f".{said}.diff")).write_text(diff)
            if labels.get(key) == "refactor":
                tally[("refactor", said)] += 1
            elif key in labels:
                right = (labels[key] == "semantic") == (said == "error")
                tally[(labels[key], right)] += 1
                if not right:
                    wrong.append(f"{key}: {labels[key]}, we said {said}")
    print(f"pairs: {sum(ours.values())} (we say error {ours['error']}, ok {ours['ok']})")
    for kind in ("semantic", "cosmetic"):
        n = tally[(kind, True)] + tally[(kind, False)]
        if n:
            print(f"{kind} edits labelled: {n}, right {tally[(kind, True)]} ({tally[(kind, True)] / n:.1%})")
    refactors = tally[("refactor", "error")] + tally[("refactor", "ok")]
    if refactors:
        print(f"refactors labelled: {refactors} (we say error {tally[('refactor', 'error')]}, ok {tally[('refactor', 'ok')]})")
    for line in wrong:
        print("  wrong:", line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
