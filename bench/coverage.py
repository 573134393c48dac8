"""How much of real projects' migration histories alembic-review can review with no app installed.

    python -m bench.coverage [CORPUS] [--markdown FILE]

CORPUS (default /work/corpus) holds one folder per project: the sources of a public repository
with an Alembic history (see DEVELOPERS.md; the corpus stays outside this checkout). For each,
this runs `python -m linters <folder> --all --format json` as a new user would (nothing of the
project installed) and counts:

- revision files: every .py file below the folder that reads as a revision (history.read_identity),
  found by the review or not (except versions/sqlite and the like: histories PostgreSQL never runs);
- reviewed: revision files the review found whose upgrade() rendered without a render-error;
- causes: why the others were not reviewed (the render-error's exception, or the discovery failure),
  and how many files needed a stand-in import, read live data, or skipped a plugin op (each file once).
"""

from __future__ import annotations

import argparse
import collections
import itertools
import json
import os
import re
import subprocess
import sys
from pathlib import Path

if __package__ in (None, ""):  # `python bench/coverage.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from linters.history import read_identity  # noqa: E402
from linters.project import SKIP_DIRS  # noqa: E402

OTHER_DIALECTS = {"sqlite", "mysql", "mssql", "oracle"}  # versions/<dialect> histories PostgreSQL never runs
START, END = "<!-- coverage:start -->", "<!-- coverage:end -->"


def revision_files(folder: Path) -> set[str]:
    """Paths (relative to `folder`) of every file that reads as an Alembic revision."""
    found = set()
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS and not d.startswith(".")
                       and not (Path(dirpath).name == "versions" and d in OTHER_DIALECTS)]
        for name in filenames:
            if not name.endswith(".py") or name in ("env.py", "__init__.py"):
                continue
            path = Path(dirpath) / name
            source = path.read_text(encoding="utf-8", errors="replace")
            if "down_revision" not in source:
                continue
            ident = read_identity(source)
            if ident is not None and "revision" in ident["lines"] and "down_revision" in ident["lines"]:
                found.add(path.relative_to(folder).as_posix())
    return found


def cause(message: str) -> str:
    """The kind of a render-error message: its exception type and the gist of it."""
    text = re.sub(r"^could not (render|read) [^:]+: ", "", message)
    text = re.sub(r"'[^']*'", "'…'", text.split(" (", 1)[0])
    return text[:90]


def undiscovered(folder: Path, path: str) -> str:
    """Why discovery missed a revision file: its folder belongs to no script directory (no env.py above
    it, no alembic.ini naming it) when the application runs that history itself (CTFd's plugins)."""
    below = itertools.takewhile(lambda d: d != folder, (folder / path).parents)
    if not any((d / "env.py").is_file() for d in below):
        return "not found by discovery: no env.py or alembic.ini for its folder (a history the application runs itself)"
    return "not found by discovery"


def review(folder: Path) -> dict:
    proc = subprocess.run([sys.executable, "-m", "linters", str(folder), "--all", "--format", "json",
                           "--fail-on", "never"], capture_output=True, text=True, cwd=folder)
    files = revision_files(folder)
    row = {"project": folder.name, "files": len(files), "found": 0, "reviewed": 0,
           "causes": collections.Counter(), "notes": collections.Counter()}
    if proc.returncode == 2 or not proc.stdout.strip():
        row["causes"][f"discovery: {proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else '?'}"] += len(files)
        return row
    report = json.loads(proc.stdout)
    found = {r["path"] for r in report["revisions"]}
    root = Path(report.get("root") or folder)
    prefix = folder.resolve().relative_to(root.resolve()).as_posix() + "/" if folder.resolve() != root.resolve() else ""
    found_here = {p[len(prefix):] if p.startswith(prefix) else p for p in found}
    row["found"] = len(found_here & files) if files else len(found)
    failed: dict[str, str] = {}
    noted: dict[str, set] = collections.defaultdict(set)  # rule -> files it was said of (once per file)
    for f in report["findings"]:
        path = f["path"][len(prefix):] if f.get("path", "").startswith(prefix) else f.get("path")
        if f["rule"] == "render-error" and f.get("direction", "upgrade") == "upgrade":
            failed.setdefault(path, cause(f["message"]))
        elif f["rule"] in ("import-stand-in", "live-data-dependency", "unreviewed-operation"):
            noted[f["rule"]].add(path)
    row["notes"].update({rule: len(paths) for rule, paths in noted.items()})
    for path, why in failed.items():
        row["causes"][why] += 1
    for path in files - found_here:
        row["causes"][undiscovered(folder, path)] += 1
    row["reviewed"] = len((found_here & files) - set(failed))
    return row


def table(rows: list[dict]) -> str:
    total_files = sum(r["files"] for r in rows)
    total_reviewed = sum(r["reviewed"] for r in rows)
    out = [f"**{total_reviewed} of {total_files} revision files ({100 * total_reviewed / max(total_files, 1):.1f}%) "
           f"reviewed with no app installed**, across {len(rows)} projects.", "",
           "| project | revision files | found | reviewed | files with stand-in imports | read live data | skipped a plugin op |",
           "|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        n = r["notes"]
        out.append(f"| {r['project']} | {r['files']} | {r['found']} | {r['reviewed']} | {n['import-stand-in']} | "
                   f"{n['live-data-dependency']} | {n['unreviewed-operation']} |")
    causes = collections.Counter()
    where = collections.defaultdict(set)
    for r in rows:
        for why, count in r["causes"].items():
            causes[why] += count
            where[why].add(r["project"])
    out += ["", "| why a revision file was not reviewed | files | projects |", "|---|---:|---|"]
    out += [f"| {why} | {count} | {', '.join(sorted(where[why]))} |" for why, count in causes.most_common()] or \
        ["| (none) | 0 | |"]
    return "\n".join(out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", nargs="?", default="/work/corpus")
    parser.add_argument("--markdown", help="replace the table between coverage markers in this file")
    args = parser.parse_args(argv)
    corpus = Path(args.corpus)
    if not corpus.is_dir():
        print(f"corpus not found: {corpus}", file=sys.stderr)
        return 2
    rows = [review(folder) for folder in sorted(p for p in corpus.iterdir() if p.is_dir())]
    rows = [r for r in rows if r["files"] or r["found"]]
    text = table(rows)
    print(text)
    if args.markdown:
        doc = Path(args.markdown)
        old = doc.read_text(encoding="utf-8")
        if START not in old:
            print(f"{doc} has no {START} marker", file=sys.stderr)
            return 2
        doc.write_text(old.split(START)[0] + START + "\n" + text + "\n" + END + old.split(END, 1)[1], encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
