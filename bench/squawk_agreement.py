"""How often alembic-review and squawk agree, statement by statement, on the same SQL.

    python -m bench.squawk_agreement [--json] [--corpus DIR] [--pg-version N]

Each bench/corpus/*.sql file is one migration as `alembic upgrade --sql` would render it (BEGIN ...
COMMIT around the transactional part). squawk-cli lints every file (`squawk --reporter json`); our
SQL rules run over the same statements, in order, with one RunState per file (parse_chunks +
engine.sql_findings, squawk-ignore comments honoured the way the CLI honours them). A finding is
the triple (file, statement, rule). Per rule the agreement rate is
both / (both + squawk only + ours only) over the statements where either tool reports the rule;
the overall rate adds those counts over squawk's default rules. Rules squawk does not have are
listed apart.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from pglast import parser as pg_parser

from linters.config import Config
from linters.model import RenderResult, Reviewed
from linters.sqlrun import RunSetup, sql_findings
from linters.history import RevisionFile
from linters.sql import Chunk
from linters.sql import parse_chunks
from linters.suppress import SQUAWK_NAMES, apply_ignores, sql_ignores

CORPUS = Path(__file__).resolve().parent / "corpus"
# squawk 2.70's rules that are on by default (../shared/rules-reference.md)
SQUAWK_DEFAULT = frozenset("""
adding-field-with-default adding-foreign-key-constraint adding-not-nullable-field adding-required-field
adding-serial-primary-key-field ban-char-field ban-concurrent-index-creation-in-transaction
ban-create-domain-with-constraint ban-alter-domain-with-add-constraint ban-drop-column ban-drop-database
ban-drop-not-null ban-drop-table ban-truncate-cascade ban-uncommitted-transaction ban-duplicate-column-assignments
changing-column-type constraint-missing-not-valid disallowed-unique-constraint identifier-too-long
prefer-bigint-over-int prefer-bigint-over-smallint prefer-identity prefer-robust-stmts prefer-text-field
prefer-timestamptz renaming-column renaming-table require-concurrent-index-creation
require-concurrent-index-deletion require-concurrent-partition-detach require-concurrent-reindex
require-enum-value-ordering require-lock-timeout require-statement-timeout transaction-nesting
ban-drop-view ban-drop-function ban-drop-type ban-drop-default ban-drop-schema ban-drop-sequence
ban-drop-domain ban-drop-extension ban-drop-constraint ban-drop-generated-expression renaming-object
ban-set-schema ban-alter-identity prefer-repack
""".split())


@dataclass
class CorpusStatement:
    file: str
    index: int
    first_line: int   # 1-based line where the statement's own text starts
    last_line: int    # 1-based line of its terminating semicolon
    sql: str


def split_file(path: Path) -> tuple[list[CorpusStatement], list[Chunk]]:
    """The statements of one SQL file with their line spans, and one Chunk per statement for parse_chunks."""
    text = path.read_text(encoding="utf-8")
    raw = text.encode("utf-8")
    parsed = json.loads(pg_parser.parse_sql_json(text))
    statements, chunks = [], []
    previous_end = 0
    for index, item in enumerate(parsed.get("stmts", [])):
        start = item.get("stmt_location", 0)
        end = start + item["stmt_len"] if item.get("stmt_len") else len(raw)
        piece = raw[previous_end:end].decode("utf-8")
        body = raw[start:end].decode("utf-8")
        own = _without_leading_comments(body)
        offset = start + len(body.encode("utf-8")) - len(own.encode("utf-8"))
        first_line = raw[:offset].count(b"\n") + 1
        last_line = raw[:end].count(b"\n") + 1
        statements.append(CorpusStatement(path.name, index, first_line, last_line, own.strip()))
        chunks.append(Chunk("upgrade", first_line, piece.strip() + ";"))
        previous_end = end + 1  # past the ';'
    return statements, chunks


def _without_leading_comments(text: str) -> str:
    stripped = text.lstrip()
    while stripped.startswith(("--", "/*")):
        cut = stripped.find("\n") + 1 if stripped.startswith("--") else stripped.find("*/") + 2
        if cut <= 0:
            return ""
        stripped = stripped[cut:].lstrip()
    return stripped


def our_findings(path: Path, pg_version: int) -> tuple[list[CorpusStatement], set[tuple[int, str]]]:
    """(statements, {(statement index, rule)}) from our SQL rules over one file."""
    statements, chunks = split_file(path)
    parsed = parse_chunks(chunks, in_transaction=False)  # a raw SQL file starts outside a transaction
    by_line = {s.first_line: s.index for s in statements}
    for stmt in parsed.statements:
        stmt.revision, stmt.path = path.stem, path.name
    item = Reviewed(RevisionFile(path=path.name, source="", revision=path.stem), RenderResult(path=str(path)), parsed)
    findings = sql_findings([item], Config(pg_version=pg_version), one_run=True, setup=RunSetup(in_transaction=False, stamped_after_revision=False))
    findings = apply_ignores(findings, sql_ignores(path.name, parsed.statements))
    line_of = {id(s): s.line for s in parsed.statements}
    return statements, {(by_line[line_of[f.extra["statement_id"]]], f.rule) for f in findings}


def squawk_findings(paths: list[Path], statements: dict[str, list[CorpusStatement]], pg_version: int
                    ) -> dict[str, set[tuple[int, str]]]:
    exe = shutil.which("squawk")
    if exe is None:
        raise SystemExit("squawk-cli is not installed (pip install squawk-cli)")
    proc = subprocess.run([exe, "--reporter", "json", f"--pg-version={pg_version}.0", *map(str, paths)],
                          capture_output=True, text=True)
    if proc.returncode not in (0, 1) or not proc.stdout.strip().startswith("["):
        raise SystemExit(f"squawk failed ({proc.returncode}): {proc.stderr.strip()[:500]}")
    out: dict[str, set[tuple[int, str]]] = defaultdict(set)
    for v in json.loads(proc.stdout):
        name = Path(v["file"]).name
        line = v["line"] + 1  # squawk counts lines from 0
        match = [s for s in statements[name] if s.first_line <= line <= s.last_line]
        if not match:  # a violation on a comment line belongs to the statement that follows
            match = [s for s in statements[name] if s.first_line >= line][:1]
        if match:
            out[name].add((match[0].index, SQUAWK_NAMES.get(v["rule_name"], v["rule_name"])))
    return out


def compare(corpus: Path, pg_version: int) -> dict:
    paths = sorted(corpus.glob("*.sql"))
    statements, ours = {}, {}
    for path in paths:
        statements[path.name], ours[path.name] = our_findings(path, pg_version)
    theirs = squawk_findings(paths, statements, pg_version)
    counts: dict[str, dict[str, int]] = defaultdict(lambda: {"both": 0, "squawk_only": 0, "ours_only": 0})
    disagreements = []
    for name in statements:
        for index, rule in ours[name] | theirs.get(name, set()):
            in_ours, in_theirs = (index, rule) in ours[name], (index, rule) in theirs.get(name, set())
            key = "both" if in_ours and in_theirs else "ours_only" if in_ours else "squawk_only"
            counts[rule][key] += 1
            if key != "both":
                stmt = statements[name][index]
                disagreements.append({"file": name, "line": stmt.first_line, "rule": rule, "who": key,
                                      "statement": stmt.sql[:120]})
    shared = {r: c for r, c in counts.items() if r in SQUAWK_DEFAULT}
    total = {k: sum(c[k] for c in shared.values()) for k in ("both", "squawk_only", "ours_only")}
    rate = lambda c: c["both"] / max(1, c["both"] + c["squawk_only"] + c["ours_only"])
    return {
        "files": len(paths),
        "statements": sum(len(v) for v in statements.values()),
        "pg_version": pg_version,
        "overall": {**total, "agreement": round(rate(total), 3)},
        "rules": {r: {**c, "agreement": round(rate(c), 3)} for r, c in sorted(shared.items())},
        "ours_only_rules": {r: c["ours_only"] for r, c in sorted(counts.items()) if r not in SQUAWK_DEFAULT},
        "disagreements": sorted(disagreements, key=lambda d: (d["rule"], d["file"], d["line"])),
    }


def print_text(result: dict) -> None:
    o = result["overall"]
    print(f"{result['files']} files, {result['statements']} statements, PostgreSQL {result['pg_version']}")
    print(f"overall agreement on squawk's default rules: {o['agreement']:.1%} "
          f"(both {o['both']}, squawk only {o['squawk_only']}, ours only {o['ours_only']})\n")
    width = max([len(r) for r in result["rules"]] + [10])
    print(f"{'rule':<{width}}  both  squawk-only  ours-only  agreement")
    for rule, c in result["rules"].items():
        print(f"{rule:<{width}}  {c['both']:>4}  {c['squawk_only']:>11}  {c['ours_only']:>9}  {c['agreement']:>9.0%}")
    if result["ours_only_rules"]:
        print("\nrules squawk does not have (statements):")
        for rule, n in result["ours_only_rules"].items():
            print(f"  {rule}: {n}")
    print("\ndisagreements:")
    for d in result["disagreements"]:
        if d["rule"] in result["rules"]:
            print(f"  {d['rule']:<{width}} {d['who']:<11} {d['file']}:{d['line']}  {d['statement']}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpus", type=Path, default=CORPUS)
    p.add_argument("--pg-version", type=int, default=15)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    result = compare(args.corpus, args.pg_version)
    if args.json:
        json.dump(result, sys.stdout, indent=2)
        print()
    else:
        print_text(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
