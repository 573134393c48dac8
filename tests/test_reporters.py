"""The sarif, github and markdown reporters, on Reports built in memory."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import jsonschema
import pytest

from linters.findings import Finding, Severity
from linters.report import github, markdown, sarif
from linters.report.common import rule_doc_url
from linters.report.model import Report, RevisionEntry

SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_text())
REV_PATH = "alembic/versions/1a2b3c4d5e6f_add_email_index.py"


def index_finding(line: int = 14, **kw) -> Finding:
    data = dict(
        rule="require-concurrent-index-creation", severity=Severity.ERROR,
        message="CREATE INDEX on existing table `users` blocks writes until the index is built",
        path=REV_PATH, line=line, end_line=line, revision="1a2b3c4d5e6f",
        statement="CREATE INDEX ix_users_email ON users (email)", table="users", lock="SHARE",
        hint="Build it with postgresql_concurrently=True inside op.get_context().autocommit_block().",
        suggestion="    with op.get_context().autocommit_block():\n"
                   "        op.create_index('ix_users_email', 'users', ['email'], postgresql_concurrently=True)",
    )
    data.update(kw)
    return Finding(**data)


def sample_report() -> Report:
    return Report(
        base="0123456789abcdef0123456789abcdef01234567", pg_version=15,
        revisions=[
            RevisionEntry("1a2b3c4d5e6f", REV_PATH, "added", ["ffff00001111"],
                          "BEGIN;\nCREATE INDEX ix_users_email ON users (email);\nCOMMIT;\n"),
            RevisionEntry("ffff00001111", "alembic/versions/ffff00001111_init.py", "unchanged", []),
        ],
        findings=[
            index_finding(),
            Finding("ban-drop-column", Severity.WARNING, "Dropping `users.legacy` breaks running code\nthat still reads it",
                    path=REV_PATH, line=20, end_line=22, revision="1a2b3c4d5e6f", table="users",
                    lock="ACCESS EXCLUSIVE", hint="Stop reading the column in a release first."),
            # a history finding without a file: must still get a location (its revision file)
            Finding("multiple-heads", Severity.ERROR, "Two heads: 1a2b3c4d5e6f, 99aa", revision="1a2b3c4d5e6f"),
            Finding("prefer-text-field", Severity.INFO, "varchar(255) could be text", path=REV_PATH, line=30),
        ],
    )


# --- SARIF ------------------------------------------------------------------------------------

def test_sarif_validates_against_the_2_1_0_schema():
    log = json.loads(sarif.render(sample_report()))
    jsonschema.Draft7Validator.check_schema(SCHEMA)
    errors = sorted(jsonschema.Draft7Validator(SCHEMA).iter_errors(log), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors]


def test_sarif_has_what_github_code_scanning_requires():
    log = json.loads(sarif.render(sample_report()))
    run = log["runs"][0]
    rule_ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert sorted(rule_ids) == ["ban-drop-column", "multiple-heads", "prefer-text-field",
                                "require-concurrent-index-creation"]
    assert len(run["results"]) == 4
    for result in run["results"]:
        assert result["ruleId"] == rule_ids[result["ruleIndex"]]
        assert result["level"] in ("error", "warning", "note")
        loc = result["locations"][0]["physicalLocation"]
        assert not loc["artifactLocation"]["uri"].startswith("/")
        assert loc["artifactLocation"]["uri"] == REV_PATH
        assert loc["region"]["startLine"] >= 1
        assert result["partialFingerprints"]
    levels = {r["ruleId"]: r["level"] for r in run["results"]}
    assert levels["prefer-text-field"] == "note"
    index = next(r for r in run["results"] if r["ruleId"] == "require-concurrent-index-creation")
    assert index["locations"][0]["physicalLocation"]["region"]["startLine"] == 14
    assert index["fixes"][0]["artifactChanges"][0]["replacements"][0]["deletedRegion"]["startLine"] == 14
    drop = next(r for r in run["results"] if r["ruleId"] == "ban-drop-column")
    assert drop["locations"][0]["physicalLocation"]["region"]["endLine"] == 22


def test_sarif_fingerprints_do_not_depend_on_line_numbers():
    moved = sample_report()
    moved.findings[0].line = moved.findings[0].end_line = 40
    fp = lambda rep: [r["partialFingerprints"] for r in json.loads(sarif.render(rep))["runs"][0]["results"]]
    assert fp(sample_report()) == fp(moved)
    twice = Report(base=None, pg_version=15, findings=[index_finding(14), index_finding(30)])
    a, b = fp(twice)
    assert a != b  # identical findings in one file stay two alerts


def test_sarif_uris_are_percent_encoded_and_fingerprints_keep_the_path():
    odd = "alembic/versions/0002 add é#1 100%.py"
    report = Report(base=None, pg_version=15, findings=[index_finding(path=odd)])
    log = json.loads(sarif.render(report))
    assert not list(jsonschema.Draft7Validator(SCHEMA).iter_errors(log))
    [result] = log["runs"][0]["results"]
    uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == "alembic/versions/0002%20add%20%C3%A9%231%20100%25.py"
    assert log["runs"][0]["artifacts"][0]["location"]["uri"] == uri
    plain = json.loads(sarif.render(Report(base=None, pg_version=15, findings=[index_finding()])))
    assert plain["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == REV_PATH


def test_sarif_automation_id_comes_from_the_category():
    """upload-sarif only fills automationDetails.id from its `category` when the file has none."""
    assert "automationDetails" not in json.loads(sarif.render(sample_report()))["runs"][0]
    log = json.loads(sarif.render(sample_report(), category="alembic-review/billing"))
    assert log["runs"][0]["automationDetails"] == {"id": "alembic-review/billing/"}
    assert not list(jsonschema.Draft7Validator(SCHEMA).iter_errors(log))


def test_sarif_of_an_empty_report_is_valid():
    log = json.loads(sarif.render(Report(base=None, pg_version=16)))
    assert not list(jsonschema.Draft7Validator(SCHEMA).iter_errors(log))
    assert log["runs"][0]["results"] == []


# --- workflow commands ------------------------------------------------------------------------

def test_github_commands_escape_newlines_and_properties():
    report = Report(base=None, pg_version=15, findings=[
        Finding("ban-drop-column", Severity.WARNING, "line one\nline two\r\n100% sure",
                path="alembic/versions/a,b:c.py", line=3, end_line=4, hint="do\nthat"),
        Finding("multiple-heads", Severity.INFO, "no file at all"),
    ])
    out = github.render(report).splitlines()
    assert len(out) == 2  # every finding is exactly one line
    assert out[0] == ("::warning file=alembic/versions/a%2Cb%3Ac.py,line=3,endLine=4,"
                      "title=alembic-review%3A ban-drop-column::"
                      "line one%0Aline two%0D%0A100%25 sure%0ASafe way: do%0Athat")
    assert out[1] == "::notice title=alembic-review%3A multiple-heads::no file at all"


def test_github_commands_levels():
    out = github.render(sample_report())
    assert out.count("::error ") == 2 and out.count("::warning ") == 1 and out.count("::notice ") == 1
    assert f"::error file={REV_PATH},line=14,endLine=14," in out
    # the history finding points at its revision's file
    assert re.search(rf"::error file={re.escape(REV_PATH)},line=1,endLine=1,title=alembic-review%3A multiple-heads", out)


# --- markdown ---------------------------------------------------------------------------------

def test_markdown_summary_contents():
    md = markdown.render(sample_report())
    # the verdict first: one line per problem (the warning is not one), then the revision table
    assert md.startswith("### ❌ alembic-review: 2 problems to fix before merge")
    visible = markdown.visible_part(md)
    assert "- ❌ `1a2b3c4d5e6f` L14 🔧 CREATE INDEX on existing table `users` blocks writes" in visible
    assert "- ❌ `1a2b3c4d5e6f` L1 Two heads" in visible  # a history finding: its revision file's top
    assert "⚠️ 1 warning: [`ban-drop-column`]" in visible
    assert "| ❌ | `1a2b3c4d5e6f` | — | — |" in visible  # no lock analysis in this report: no claim
    assert "ffff00001111 |" not in visible  # unchanged revisions are not listed
    # folded: notes, each finding with its lock in plain words, the recipes, the SQL
    assert "<summary>ℹ️ 1 note on style (not blocking)</summary>" in md
    assert "🔒 `SHARE` on `users`: blocks INSERT/UPDATE/DELETE, reads go on" in md
    assert "[`require-concurrent-index-creation`](" + rule_doc_url("require-concurrent-index-creation") + ")" in md
    assert "<summary>Rendered SQL of 1 revision</summary>" in md
    assert "```sql\nBEGIN;\nCREATE INDEX ix_users_email ON users (email);\nCOMMIT;\n```" in md


def test_markdown_problem_lines_link_to_the_diff_when_the_pr_is_known():
    md = markdown.render(sample_report(), pr_url="https://github.com/o/r/pull/7")
    anchor = "https://github.com/o/r/pull/7/files#diff-" + hashlib.sha256(REV_PATH.encode()).hexdigest()
    assert f"[L14]({anchor}R14)" in markdown.visible_part(md)


def test_markdown_revision_table_from_the_lock_analysis():
    report = sample_report()
    report.revisions[0].title = "add email index"
    report.revisions[0].operations = [
        {"what": "CREATE INDEX ix ON users", "line": 14, "cost": "index build",
         "locks": [{"table": "users", "mode": "SHARE"}]},
        {"what": "ALTER TABLE orders", "line": 20, "cost": "instant",
         "locks": [{"table": "orders", "mode": "ACCESS EXCLUSIVE"}, {"table": "users", "mode": "ROW SHARE"}]},
    ]
    report.findings.append(Finding("require-concurrent-index-deletion", Severity.INFO, "drop index",
                                   path=REV_PATH, line=40, revision="1a2b3c4d5e6f", lock="ACCESS EXCLUSIVE",
                                   table="orders", direction="downgrade"))
    md = markdown.render(report)
    # strongest lock per table, strongest first; the worst cost; downgrade findings are not in it
    assert ("| ❌ | `1a2b3c4d5e6f` add email index | `ACCESS EXCLUSIVE` orders · `SHARE` users | "
            "index build on users (writes wait) |") in md
    assert "<summary>ℹ️ 2 notes on downgrade paths and style (not blocking)</summary>" in md


def test_markdown_all_clear():
    report = sample_report()
    report.findings = []
    assert markdown.render(report) == "✅ **alembic-review: safe to merge**\n"
    report.revisions[0].operations = [{"what": "ADD COLUMN users.tz", "line": 3, "cost": "instant",
                                       "locks": [{"table": "users", "mode": "ACCESS EXCLUSIVE"}]}]
    assert markdown.render(report, head_sha="abcdef0123") == \
        "✅ **alembic-review: safe to merge** at `abcdef0`: ADD COLUMN users.tz (instant)\n"


def test_markdown_defuses_untrusted_text():
    report = Report(base=None, pg_version=15, findings=[Finding(
        "render-error", Severity.ERROR, "boom <!-- alembic-review:sticky --> <img src=x> @admin",
        path="a|b.py", line=1)])
    md = markdown.render(report)
    assert "<!--" not in md and "<img" not in md
    assert "@admin" not in md  # no notification
    report.findings[0].hint = "keep `a <> b` and `x & y` as written, escape <b>this</b>"
    md = markdown.render(report)
    assert "keep `a <> b` and `x & y` as written, escape &lt;b&gt;this&lt;/b&gt;" in md
    report.findings[0].hint = "unbalanced ` <img src=x> `` <script>"
    assert "<img" not in markdown.render(report) and "<script" not in markdown.render(report)
    report.findings[0].hint = "\\`<img src=x>`"  # an escaped backtick opens no code span
    assert "<img" not in markdown.render(report)
    report.revisions = [RevisionEntry("r1", "x.py", "added", [], "SELECT '```';\n")]
    md = markdown.render(report)
    assert "````sql\nSELECT '```';\n````" in md


@pytest.mark.parametrize("limit", [65536, 20000, 3000])
def test_markdown_stays_under_the_limit_however_big(limit):
    revisions = [RevisionEntry(f"rev{i:04d}", f"alembic/versions/rev{i:04d}_x.py", "added", [],
                               "\n".join(f"ALTER TABLE t{i} ADD COLUMN c{j} integer;" for j in range(3000)))
                 for i in range(20)]
    findings = [index_finding(line=i % 500 + 1, revision=f"rev{i % 20:04d}",
                              path=f"alembic/versions/rev{i % 20:04d}_x.py",
                              rule=f"rule-{i % 13}", message="x" * 300 + f" #{i}")
                for i in range(2000)]
    report = Report(base=None, pg_version=15, revisions=revisions, findings=findings)
    md = markdown.render(report, max_chars=limit)
    assert len(md) <= limit
    assert md.startswith("### ❌ alembic-review: 260 problems to fix before merge")  # 13 rules x 20 revisions
    assert "not shown here" in md  # what was left out is counted
    assert md.count("<details>") == md.count("</details>")


def test_markdown_trims_sql_before_dropping_findings():
    revisions = [RevisionEntry("big", "alembic/versions/big.py", "added", [],
                               "\n".join(f"INSERT INTO t VALUES ({j});" for j in range(20000)))]
    report = Report(base=None, pg_version=15, revisions=revisions,
                    findings=[index_finding(revision="big", path="alembic/versions/big.py")])
    md = markdown.render(report)
    assert len(md) <= 65536
    assert "(trimmed)" in md and "more lines cut to fit" in md
    assert "How to fix each rule (1 recipe)" in md  # the finding keeps its recipe


def test_markdown_many_revisions_table_is_capped():
    revisions = [RevisionEntry(f"r{i:05d}", f"alembic/versions/r{i:05d}.py", "added", []) for i in range(5000)]
    md = markdown.render(Report(base=None, pg_version=15, revisions=revisions,
                                findings=[index_finding(revision="r00000", path="alembic/versions/r00000.py")]))
    assert len(md) <= 65536
    assert "more revisions not listed" in md
