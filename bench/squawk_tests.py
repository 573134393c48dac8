"""Our SQL rules on squawk's own rule tests: how often we give the verdict squawk's tests expect.

    python -m bench.squawk_tests SQUAWK_SOURCE_DIR [--json] [--differences]

SQUAWK_SOURCE_DIR is squawk-cli's unpacked sdist (it ships the Rust sources; not committed here):

    TMPDIR=/tmp/sq pip download --no-deps --no-binary :all: --no-build-isolation --no-clean \
        squawk-cli==2.70.0 -d /tmp/sq
    (pip then fails to build its metadata, without maturin, but keeps the unpacked source under
    /tmp/sq/pip-download-*/squawk-cli_*)

Each `#[test]` of crates/squawk_linter/src/rules/*.rs holds SQL cases (`let sql = r#"..."#;`, or a
literal passed to the call) and expectations: `lint_ok(sql, Rule::X)` (rule X must stay silent),
`lint_errors(sql, Rule::X)` (it must speak), the `_with` forms with LinterSettings { pg_version,
assume_in_transaction }, and the modules' own wrappers of them (`lint_ok(sql)`, `lint(sql)`). Each
case runs through our `sql` command's engine (linters.sqlfile.lint_sql) with the same settings, all
rules on; a case agrees when our rule of that name (squawk's name mapped to ours) is silent, or
speaks, as the test expects. Rules we do not have are counted apart. Snapshot tests
(`assert_snapshot!(lint_errors(...))`) count as "must speak"; fix tests (`fix_sql`) are skipped.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import sys
from collections import Counter, defaultdict
from pathlib import Path

from linters.config import Config
from linters.rules import RULES
from linters.sqlfile import lint_sql
from linters.suppress import SQUAWK_NAMES

TEST = re.compile(r"#\[test\]\s*fn\s+(\w+)\s*\(\)\s*\{(.*?)(?=\n\s*#\[test\]|\Z)", re.S)
LET_SQL = re.compile(r"let\s+sql\s*=\s*")
# The test helpers (crate::test_utils) and the modules' local wrappers around them: `lint` is
# ban_duplicate_column_assignments' wrapper of lint_errors. fix / fix_sql tests are not verdicts.
CALL = re.compile(r"\b(lint_ok_with|lint_errors_with|lint_ok|lint_errors|lint)\s*\(")
RULE = re.compile(r"Rule::(\w+)")
PG = re.compile(r'pg_version:\s*"(\d+)')
IN_TX = re.compile(r"assume_in_transaction:\s*true")
ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "0": "\0"}


def kebab(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


def module_rule(tests: str) -> str | None:
    """The rule of a test module: the one its local lint_* wrappers (and most calls) name."""
    named = Counter(RULE.findall(tests))
    return named.most_common(1)[0][0] if named else None


def string_literal(text: str, i: int) -> tuple[str, int] | None:
    """The Rust string literal starting at text[i] (r#"..."#, r"...", "..."): (its value, the index after it)."""
    raw = re.match(r'r(#*)"', text[i:])
    if raw:
        close = '"' + raw.group(1)
        end = text.find(close, i + raw.end())
        return (text[i + raw.end():end], end + len(close)) if end >= 0 else None
    if not text.startswith('"', i):
        return None
    out, j = [], i + 1
    while j < len(text):
        c = text[j]
        if c == '"':
            return "".join(out), j + 1
        if c == "\\" and j + 1 < len(text):
            nxt = text[j + 1]
            if nxt == "\n":  # a line continuation drops the newline and the next line's indent
                j += 2
                while j < len(text) and text[j] in " \t":
                    j += 1
                continue
            out.append(ESCAPES.get(nxt, nxt))
            j += 2
            continue
        out.append(c)
        j += 1
    return None


def call_arguments(text: str, i: int) -> tuple[str, str | None]:
    """(the argument text of the call whose `(` is text[i-1], the leading string literal argument or None),
    skipping parentheses inside string literals."""
    depth, j, first_literal = 1, i, None
    while j < len(text) and text[j].isspace():
        j += 1
    literal = string_literal(text, j)
    if literal:
        first_literal, j = literal
    while j < len(text) and depth:
        literal = string_literal(text, j) if text[j] in '"r' and (j == 0 or not text[j - 1].isalnum()) else None
        if literal:
            j = literal[1]
            continue
        depth += {"(": 1, ")": -1}.get(text[j], 0)
        j += 1
    return text[i:j - 1], first_literal


def literal_spans(text: str) -> list[tuple[int, int]]:
    spans, j = [], 0
    while j < len(text):
        if text[j] in '"r' and (j == 0 or not (text[j - 1].isalnum() or text[j - 1] == "_")):
            literal = string_literal(text, j)
            if literal:
                spans.append((j, literal[1]))
                j = literal[1]
                continue
        j += 1
    return spans


def cases(source: Path):
    """(file, test, sql, rule (our name), must speak, pg_version, assume_in_transaction) per expectation:
    each lint call judges its string-literal argument, or the `let sql` written last before it."""
    for path in sorted((source / "crates/squawk_linter/src/rules").glob("*.rs")):
        text = path.read_text(encoding="utf-8")
        tests = text[text.find("#[cfg(test)]"):] if "#[cfg(test)]" in text else ""
        fallback = module_rule(tests)
        for test in TEST.finditer(tests):
            name, body = test.groups()
            spans = literal_spans(body)
            sqls = []
            for m in LET_SQL.finditer(body):
                literal = string_literal(body, m.end())
                if literal:
                    sqls.append((m.start(), literal[0]))
            for call in CALL.finditer(body):
                if any(a <= call.start() < b for a, b in spans):
                    continue
                args, literal = call_arguments(body, call.end())
                if literal is None:
                    if not re.match(r"\s*&?sql\b", args):
                        continue  # format!(...) and other computed SQL
                    before = [sql for start, sql in sqls if start < call.start()]
                    if not before:
                        continue
                    literal = before[-1]
                kind = call.group(1)
                rule = RULE.search(args)
                rule = rule.group(1) if rule else fallback
                if rule is None:
                    continue
                # only the _with helpers take settings: given in the call, or as a `let settings` of the test
                settings = "" if not kind.endswith("_with") else args if "LinterSettings" in args else body
                pg = PG.search(settings)
                yield (path.name, name, literal, SQUAWK_NAMES.get(kebab(rule), kebab(rule)),
                       not kind.startswith("lint_ok"), int(pg.group(1)) if pg else 15,
                       bool(IN_TX.search(settings)))


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
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `| head` ends the output quietly
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
