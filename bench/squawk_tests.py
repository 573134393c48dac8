"""Our SQL rules on squawk's own rule tests: how often we give the verdict squawk's tests expect.

    python -m bench.squawk_tests SQUAWK_SOURCE_DIR [--json] [--differences]

SQUAWK_SOURCE_DIR is squawk-cli's unpacked sdist (it ships the Rust sources; not committed here):

    pip download --no-deps --no-binary :all: --no-clean squawk-cli==2.70.0 -d /tmp/sq
    (pip keeps the unpacked source under $TMPDIR/pip-download-*/squawk-cli_*)

Each `#[test]` of crates/squawk_linter/src/rules/*.rs holds one SQL case (`let sql = r#"..."#;`) and
one or more expectations: `lint_ok(sql, Rule::X)` (rule X must stay silent), `lint_errors(sql, Rule::X)`
(it must speak), and the `_with` forms with LinterSettings { pg_version, assume_in_transaction }. Each
case runs through our `sql` command's engine (linters.sqlfile.lint_sql) with the same settings, all
rules on; a case agrees when our rule of that name (squawk's name mapped to ours) is silent, or
speaks, as the test expects. Rules we do not have are counted apart. Snapshot tests
(`assert_snapshot!(lint_errors(...))`) count as "must speak"; fix tests (`fix_sql`) are skipped.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

from linters.config import Config
from linters.rules import RULES
from linters.sqlfile import lint_sql
from linters.suppress import SQUAWK_NAMES

TEST = re.compile(r"#\[test\]\s*fn\s+(\w+)\s*\(\)\s*\{(.*?)(?=\n\s*#\[test\]|\Z)", re.S)
SQL = re.compile(r'let\s+sql\s*=\s*r?(#*)"(.*?)"\1\s*;', re.S)
CALL = re.compile(r"\b(lint_ok|lint_errors)(?:_with)?\(\s*(?:&)?sql\s*(?:,([^;]*?))?\)\s*\)?\s*;", re.S)
RULE = re.compile(r"Rule::(\w+)")
PG = re.compile(r'pg_version:\s*"(\d+)')
IN_TX = re.compile(r"assume_in_transaction:\s*true")


def kebab(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


def module_rule(tests: str) -> str | None:
    """The rule of a test module: the one its local lint_* wrappers (and most calls) name."""
    named = Counter(RULE.findall(tests))
    return named.most_common(1)[0][0] if named else None


def cases(source: Path):
    """(file, test, sql, rule (our name), must speak, pg_version, assume_in_transaction) per expectation:
    each lint call judges the `let sql` written last before it."""
    for path in sorted((source / "crates/squawk_linter/src/rules").glob("*.rs")):
        text = path.read_text(encoding="utf-8")
        tests = text[text.find("#[cfg(test)]"):] if "#[cfg(test)]" in text else ""
        fallback = module_rule(tests)
        for test in TEST.finditer(tests):
            name, body = test.groups()
            sqls = [(m.end(), m.group(2)) for m in SQL.finditer(body)]
            for call in CALL.finditer(body):
                before = [sql for end, sql in sqls if end <= call.start()]
                if not before:
                    continue
                kind, rest = call.group(1), call.group(2) or ""
                rule = RULE.search(rest)
                rule = rule.group(1) if rule else fallback
                if rule is None:
                    continue
                pg = PG.search(rest) or PG.search(body)
                yield (path.name, name, before[-1], SQUAWK_NAMES.get(kebab(rule), kebab(rule)),
                       kind == "lint_errors", int(pg.group(1)) if pg else 15,
                       bool(IN_TX.search(rest) or IN_TX.search(body)))


def run(source: Path) -> dict:
    per_rule = defaultdict(lambda: {"agree": 0, "differ": 0})
    missing = defaultdict(int)
    differences = []
    for file, test, sql, rule, must_speak, pg, in_tx in cases(source):
        if rule not in RULES:
            missing[rule] += 1
            continue
        config = Config(pg_version=pg, assume_in_transaction=in_tx).validate(RULES)
        findings = lint_sql(sql, "case.sql", config)
        if any(f.rule == "render-error" for f in findings):
            differences.append({"rule": rule, "test": f"{file}::{test}", "expected": "unparsed", "sql": sql.strip()})
            per_rule[rule]["differ"] += 1
            continue
        spoke = any(f.rule == rule for f in findings)
        key = "agree" if spoke == must_speak else "differ"
        per_rule[rule][key] += 1
        if key == "differ":
            differences.append({"rule": rule, "test": f"{file}::{test}",
                                "expected": "speak" if must_speak else "silent", "sql": sql.strip()})
    agree = sum(c["agree"] for c in per_rule.values())
    total = agree + sum(c["differ"] for c in per_rule.values())
    return {"cases": total, "agree": agree, "agreement": round(agree / max(1, total), 3),
            "rules": dict(sorted(per_rule.items())), "rules_we_do_not_have": dict(sorted(missing.items())),
            "differences": differences}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("source", type=Path)
    p.add_argument("--json", action="store_true")
    p.add_argument("--differences", action="store_true", help="print every case where we differ")
    args = p.parse_args(argv)
    if not (args.source / "crates/squawk_linter/src/rules").is_dir():
        print(f"not squawk's source tree (no crates/squawk_linter/src/rules): {args.source}", file=sys.stderr)
        return 2
    result = run(args.source)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"{result['cases']} expectations on shared rules, {result['agree']} agree ({result['agreement']:.1%})\n")
    for rule, c in result["rules"].items():
        n = c["agree"] + c["differ"]
        print(f"  {rule:<45} {c['agree']:>3}/{n:<3} {c['agree'] / n:.0%}")
    print("\nrules we do not have: " + ", ".join(f"{r} ({n})" for r, n in result["rules_we_do_not_have"].items()))
    if args.differences:
        for d in result["differences"]:
            print(f"\n-- {d['rule']} {d['test']}: squawk expects {d['expected']}\n{d['sql'][:400]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
