"""Production table sizes (issue 17): the `stats` command on a real PostgreSQL, the snapshot it
writes, and reviews that read it: a large table's finding is an error with its impact, a tiny
table's the same finding is info; a snapshot that cannot be trusted is left out in one line."""

import json
import secrets
from datetime import datetime, timedelta, timezone

import psycopg
import pytest
from psycopg import sql

from bot.report_reader import report_from_untrusted_json
from linters.report import markdown
from linters.stats_catalog import read_only_connection
from tests.gitrepo import run_cli
from tests.test_live_trace import DATABASE_URL

LARGE_ROWS = 200_000
INDEX_BOTH = 'op.create_index("ix_users_email", "users", ["email"])\nop.create_index("ix_exams_title", "exams", ["title"])'
DROP_BOTH = 'op.drop_index("ix_exams_title", table_name="exams")\nop.drop_index("ix_users_email", table_name="users")'
CHECK_USERS = ('op.create_check_constraint("ck_users_id", "users", "id > 0")',  # validation: a full scan of users
               'op.drop_constraint("ck_users_id", "users", type_="check")')


@pytest.fixture(scope="module")
def production():
    """A database shaped like the test repository's schema: 200k users, 10 exams, and a partitioned
    table; its URL. Dropped after the module."""
    name = f"ar_stats_{secrets.token_hex(4)}"
    with psycopg.connect(DATABASE_URL, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = DATABASE_URL.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL, legacy_name text)")
        conn.execute(f"INSERT INTO users SELECT g, 'user' || g || '@example.com', NULL FROM generate_series(1, {LARGE_ROWS}) g")
        conn.execute("CREATE INDEX ix_users_legacy ON users (legacy_name)")
        conn.execute("CREATE TABLE exams (id bigint PRIMARY KEY, title text)")
        conn.execute("INSERT INTO exams SELECT g, 'exam ' || g FROM generate_series(1, 10) g")
        conn.execute("CREATE SCHEMA audit; CREATE TABLE audit.events (id int, at date) PARTITION BY RANGE (at)")
        conn.execute("CREATE TABLE audit.events_2024 PARTITION OF audit.events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')")
        conn.execute("CREATE TABLE audit.events_2025 PARTITION OF audit.events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')")
        conn.execute("INSERT INTO audit.events SELECT g, date '2024-06-01' + g % 365 FROM generate_series(1, 3000) g")
        conn.execute("ANALYZE")
    yield url
    with psycopg.connect(DATABASE_URL, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="module")
def snapshot(production, tmp_path_factory):
    """The snapshot the `stats` command writes of `production`."""
    path = tmp_path_factory.mktemp("stats") / ".alembic-review" / "stats.json"
    proc = run_cli("stats", "--database-url", production, "--output", str(path))
    assert proc.returncode == 0, proc.stderr
    return path


def finding_on(report, rule, table):
    [found] = [f for f in report["findings"] if f["rule"] == rule and f["table"] == table]
    return found


# --- the stats command ---------------------------------------------------------------------------

def test_stats_writes_sizes_and_rates_of_every_table_schema_qualified(snapshot):
    data = json.loads(snapshot.read_text())
    assert data["format"] == "alembic-review-table-stats" and data["version"] == 1
    assert data["server_version"] >= 120000 and data["write_rate"]["basis"] == "since_stats_reset"
    users, exams = data["tables"]["public.users"], data["tables"]["public.exams"]
    assert users["rows"] == LARGE_ROWS and exams["rows"] == 10
    assert users["heap_bytes"] > 10 * 2**20 and users["index_bytes"] > 2**20
    assert users["total_bytes"] >= users["heap_bytes"] + users["index_bytes"]
    assert set(users["indexes"]) == {"public.users_pkey", "public.ix_users_legacy"}
    assert sum(users["indexes"].values()) == users["index_bytes"]
    assert users["writes_per_second"] > 0  # 200,000 inserts since the statistics were reset
    # a partitioned table is the sum of its partitions; partitions are not listed on their own
    assert data["tables"]["audit.events"]["rows"] == 3000
    assert not any(name.startswith("audit.events_") for name in data["tables"])
    assert "example.com" not in snapshot.read_text()  # sizes and rates only, never row values


def test_stats_records_the_servers_shared_buffers(snapshot, production):
    with psycopg.connect(production) as conn:
        shared_buffers = conn.execute("SELECT pg_size_bytes(current_setting('shared_buffers'))").fetchone()[0]
    assert json.loads(snapshot.read_text())["shared_buffers_bytes"] == shared_buffers


def test_stats_connection_refuses_to_write(production):
    with read_only_connection(production) as conn:
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("CREATE TABLE written_by_stats (id int)")
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("DELETE FROM exams")
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):  # nor inside an explicit transaction
            with conn.transaction():
                conn.execute("INSERT INTO exams VALUES (99, 'x')")
    with psycopg.connect(production) as conn:
        assert conn.execute("SELECT count(*) FROM exams").fetchone()[0] == 10


def test_stats_unreachable_database_is_one_line_and_exit_2(tmp_path):
    proc = run_cli("stats", "--database-url", "postgresql://postgres@127.0.0.1:1/x", "--output", str(tmp_path / "s.json"))
    assert proc.returncode == 2 and len(proc.stderr.splitlines()) == 1
    assert proc.stderr.startswith("alembic-review: error: cannot reach the database") and not (tmp_path / "s.json").exists()


# --- reviews with the snapshot -------------------------------------------------------------------

def test_same_change_is_an_error_on_the_large_table_and_info_on_the_tiny_one(repo, review, snapshot):
    repo.add_revision("0002", "0001", INDEX_BOTH, DROP_BOTH)
    code, plain, _ = review()
    assert [f["severity"] for f in plain["findings"] if f["rule"] == "require-concurrent-index-creation"] == ["error"] * 2
    assert all("impact" not in f for f in plain["findings"])  # no snapshot: the report is as before

    code, report, stderr = review("--stats", str(snapshot))
    assert code == 1 and stderr == ""
    large = finding_on(report, "require-concurrent-index-creation", "users")
    tiny = finding_on(report, "require-concurrent-index-creation", "exams")
    assert large["severity"] == "error" and tiny["severity"] == "info"
    assert large["impact"]["rows"] == LARGE_ROWS and large["impact"]["lock"] == "SHARE"
    assert large["impact"]["bytes"] > 10 * 2**20 and large["impact"]["lock_seconds"] > 0.01
    assert large["impact"]["blocked_writes"] >= 0 and set(large["impact"]) == {
        "rows", "bytes", "lock", "lock_seconds", "blocked_writes"}
    assert tiny["impact"]["rows"] == 10 and tiny["impact"]["lock_seconds"] < 0.01


def test_text_and_markdown_show_the_impact(repo, snapshot):
    repo.add_revision("0002", "0001", INDEX_BOTH, DROP_BOTH)
    text = run_cli(str(repo.path), "--base", "main", "--stats", str(snapshot)).stdout
    assert "impact: users: 200 k rows, " in text and "SHARE lock " in text
    assert "impact: exams: 10 rows, " in text
    md = run_cli(str(repo.path), "--base", "main", "--stats", str(snapshot), "--format", "markdown").stdout
    assert "📊 users: 200 k rows, " in md


def test_a_lock_over_max_lock_seconds_is_an_error_whatever_the_rule_says(repo, review, snapshot):
    repo.add_revision("0002", "0001", INDEX_BOTH, DROP_BOTH)
    _, report, _ = review("--stats", str(snapshot))
    assert finding_on(report, "require-statement-timeout", "users")["severity"] == "warning"
    repo.write(".alembic-review.toml", "max_lock_seconds = 0.001\n")
    _, report, _ = review("--stats", str(snapshot))
    assert finding_on(report, "require-statement-timeout", "users")["severity"] == "error"
    repo.write(".alembic-review.toml", "max_lock_seconds = 0.001\n[severity]\nrequire-statement-timeout = 'warning'\n")
    _, report, _ = review("--stats", str(snapshot))  # the user's own severity wins
    assert finding_on(report, "require-statement-timeout", "users")["severity"] == "warning"


def test_settings_name_the_snapshot_and_small_table_rows(repo, review, snapshot):
    repo.add_revision("0002", "0001", INDEX_BOTH, DROP_BOTH)
    (repo.path / ".alembic-review").mkdir()
    (repo.path / ".alembic-review" / "stats.json").write_text(snapshot.read_text())
    repo.write(".alembic-review.toml", 'stats = ".alembic-review/stats.json"\nsmall_table_rows = 5\n')
    _, report, stderr = review()
    tiny = finding_on(report, "require-concurrent-index-creation", "exams")
    assert stderr == "" and tiny["impact"]["rows"] == 10 and tiny["severity"] == "error"  # 10 rows is not under 5


def test_a_scan_of_a_table_that_fits_in_shared_buffers_is_expected_shorter(repo, review, snapshot, production, tmp_path):
    repo.add_revision("0002", "0001", *CHECK_USERS)
    taken = json.loads(snapshot.read_text())
    heap = taken["tables"]["public.users"]["heap_bytes"]

    def lock_seconds(*stats):
        _, report, stderr = review("--stats", *stats)
        assert stderr == ""
        return finding_on(report, "constraint-missing-not-valid", "users")["impact"]["lock_seconds"]

    fits = lock_seconds(str(_edited(snapshot, tmp_path, lambda d: d.update(shared_buffers_bytes=heap))))
    too_small = lock_seconds(str(_edited(snapshot, tmp_path, lambda d: d.update(shared_buffers_bytes=heap - 1))))
    older = lock_seconds(str(_edited(snapshot, tmp_path, lambda d: d.pop("shared_buffers_bytes"))))
    assert 0 < fits < too_small
    assert older == too_small  # a snapshot from before the field: the estimate knows no cache, as it used to
    # sizes read live carry the server's shared_buffers too
    assert lock_seconds(production) == (fits if taken["shared_buffers_bytes"] >= heap else too_small)


def test_table_missing_from_the_snapshot_keeps_its_verdict_and_says_so(repo, review, snapshot):
    repo.add_revision("0002", "0001", 'op.create_index("ix_payments_at", "payments", ["at"])',
                      'op.drop_index("ix_payments_at", table_name="payments")')
    _, report, _ = review("--stats", str(snapshot))
    found = finding_on(report, "require-concurrent-index-creation", "payments")
    assert found["severity"] == "error" and "impact" not in found
    assert "size unknown: payments is not in the table-statistics snapshot" in found["message"]


def test_a_lock_named_by_an_index_counts_its_table_and_a_new_index_is_not_unknown(repo, review, snapshot):
    repo.add_revision("0002", "0001", 'op.drop_index("ix_users_legacy", table_name="users")\n' + INDEX_BOTH,
                      DROP_BOTH + '\nop.create_index("ix_users_legacy", "users", ["legacy_name"])')
    _, report, _ = review("--stats", str(snapshot))
    on_index = [f for f in report["findings"] if f["table"] == "ix_users_legacy"]  # DROP INDEX names only the index
    assert on_index and all(f["impact"]["rows"] == LARGE_ROWS for f in on_index)
    # the downgrade drops indexes the upgrade created: not in production, so not "unknown" either
    assert not [f for f in report["findings"] if "size unknown" in f["message"]]


def test_table_created_in_the_same_run_stays_exempt(repo, review, snapshot):
    repo.add_revision("0002", "0001", 'op.create_table("users_archive", sa.Column("id", sa.BigInteger))\n'
                                      'op.create_index("ix_archive_id", "users_archive", ["id"])',
                      'op.drop_table("users_archive")')
    repo.add_revision("0003", "0002", 'op.create_index("ix_exams_title", "exams", ["title"])',
                      'op.drop_index("ix_exams_title", table_name="exams")')
    _, report, _ = review("--stats", str(snapshot))
    assert not [f for f in report["findings"] if f["table"] == "users_archive" and f["direction"] == "upgrade"
                and ("impact" in f or f["rule"] == "require-concurrent-index-creation")]
    assert finding_on(report, "require-concurrent-index-creation", "exams")["impact"]["rows"] == 10


# --- snapshots that cannot be trusted ------------------------------------------------------------

def _edited(snapshot, tmp_path, edit):
    data = json.loads(snapshot.read_text())
    edit(data)
    path = tmp_path / "edited.json"
    path.write_text(json.dumps(data))
    return path


def _written(tmp_path, text):
    path = tmp_path / "bad.json"
    path.write_text(text)
    return path


def _huge(tmp_path):
    path = tmp_path / "huge.json"
    with open(path, "wb") as fh:
        fh.truncate(40 * 2**20)  # sparse: 40 MB on paper, nothing written
    return path


BAD_SNAPSHOTS = {
    "not JSON": (lambda snap, tmp: _written(tmp, "{not json"), "not JSON"),
    "unknown version": (lambda snap, tmp: _edited(snap, tmp, lambda d: d.update(version=2)), "unknown snapshot version 2"),
    "negative rows": (lambda snap, tmp: _edited(snap, tmp, lambda d: d["tables"]["public.users"].update(rows=-5)),
                      "table public.users: rows must be a whole number >= 0, not -5"),
    "stale": (lambda snap, tmp: _edited(snap, tmp, lambda d: d.update(
        taken_at=(datetime.now(timezone.utc) - timedelta(days=90)).isoformat())), "taken 90 days ago"),
    "huge": (lambda snap, tmp: _huge(tmp), "40 MB, more than the 32 MB"),
    "malformed shared_buffers": (lambda snap, tmp: _edited(snap, tmp, lambda d: d.update(shared_buffers_bytes="128MB")),
                                 "shared_buffers_bytes must be a whole number >= 0, not '128MB'"),
    "missing": (lambda snap, tmp: tmp / "nowhere.json", "cannot read it"),
}


@pytest.mark.parametrize("case", list(BAD_SNAPSHOTS))
def test_untrusted_snapshot_is_one_line_and_the_review_goes_on_without_it(repo, review, snapshot, tmp_path, case):
    make, reason = BAD_SNAPSHOTS[case]
    path = make(snapshot, tmp_path)
    repo.add_revision("0002", "0001", INDEX_BOTH, DROP_BOTH)
    code, report, stderr = review("--stats", str(path))
    [line] = stderr.splitlines()
    assert line.startswith(f"alembic-review: warning: table statistics {path} not used: ") and reason in line
    assert code == 1 and all("impact" not in f for f in report["findings"])
    assert {f["severity"] for f in report["findings"] if f["rule"] == "require-concurrent-index-creation"} == {"error"}


def test_bad_impact_settings_are_exit_2(repo, review):
    for setting in ("small_table_rows = -1", "max_lock_seconds = 0", "impact_speed = 'fast'", "stats = 3"):
        repo.write(".alembic-review.toml", setting + "\n")
        code, _, stderr = review()
        assert code == 2 and len(stderr.splitlines()) == 1, setting


def test_the_bot_reads_impact_from_a_report_and_shows_it():
    finding = {"rule": "require-concurrent-index-creation", "severity": "error", "message": "m", "path": "a.py",
               "line": 3, "table": "orders", "lock": "SHARE",
               "impact": {"rows": 48_000_000, "bytes": 21 * 2**30, "lock": "SHARE", "lock_seconds": 180.0,
                          "blocked_writes": 9000}}
    bad = {**finding, "table": "tags", "impact": {"rows": -1, "bytes": 1, "lock": "SHARE", "lock_seconds": 1,
                                                   "blocked_writes": 0}}
    report = report_from_untrusted_json({"version": 1, "findings": [finding, bad]})
    assert report.findings[1].impact is None
    assert "orders: 48 M rows, 21 GB; SHARE lock ~3 min; ~9,000 writes blocked" in markdown.render(report)
    assert report.findings[0].to_json()["impact"] == finding["impact"]


def test_bench_times_each_operation_in_its_cost_class():
    """bench/impact.py cannot rot: a tiny run (nothing here is timed)."""
    from bench.impact import measure, report
    results = measure(DATABASE_URL, [2000])
    assert [(r["operation"], r["cost"]) for r in results] == [
        ("CREATE INDEX", "index build"), ("ALTER TYPE (rewrite)", "rewrite"), ("ADD CHECK", "full scan"),
        ("SET NOT NULL", "full scan"), ("ADD FOREIGN KEY", "foreign key validation")]
    assert all(r["predicted"] > 0 and r["measured"] > 0 and r["size"].rows == 2000 for r in results)
    assert "impact_speed = " in report(results)


# --- cost classes: what the lock model says the statement does under its lock --------------------

@pytest.mark.parametrize("sql_text, cost", [
    ("CREATE INDEX ix ON orders (a)", "index build"),
    ("REINDEX TABLE orders", "index build"),
    ("ALTER TABLE orders ADD CONSTRAINT pk PRIMARY KEY (id)", "index build"),
    ("ALTER TABLE orders ADD CONSTRAINT u UNIQUE (a)", "index build"),
    ("ALTER TABLE orders ALTER COLUMN a TYPE bigint", "rewrite"),
    ("ALTER TABLE orders ADD COLUMN b uuid DEFAULT gen_random_uuid()", "rewrite"),
    ("VACUUM FULL orders", "rewrite"),
    ("ALTER TABLE orders ADD CONSTRAINT fk FOREIGN KEY (c) REFERENCES customers (id)", "foreign key validation"),
    ("ALTER TABLE orders ADD CONSTRAINT ck CHECK (a > 0)", "full scan"),
    ("ALTER TABLE orders ALTER COLUMN a SET NOT NULL", "full scan"),
    ("ALTER TABLE orders VALIDATE CONSTRAINT ck", "full scan"),
    ("ALTER TABLE orders ADD CONSTRAINT ck CHECK (a > 0) NOT VALID", "catalog only"),
    ("ALTER TABLE orders ADD COLUMN b text", "catalog only"),
    ("ALTER TABLE orders RENAME COLUMN a TO b", "catalog only"),
    ("DROP INDEX ix", "catalog only"),
])
def test_cost_class_follows_the_lock_model(sql_text, cost):
    from linters.impact import cost_class, lock_seconds
    from linters.sql import Chunk, parse_chunks
    from linters.tablestats import TableSize
    [stmt] = parse_chunks([Chunk("upgrade", 1, sql_text)]).statements
    effect = stmt.lock_effect(15)
    assert cost_class(stmt, effect.rewrite, effect.scan) == cost
    big = TableSize(rows=10**7, heap_bytes=10**9, index_bytes=10**8, total_bytes=11 * 10**8, writes_per_second=1)
    assert (lock_seconds(cost, big) == 0) == (cost == "catalog only")
    assert lock_seconds(cost, big, speed=2) == pytest.approx(lock_seconds(cost, big) / 2)


# --- sizes read from a database instead of a file (live mode's URL, or any) -----------------------

def test_stats_url_reads_the_sizes_from_that_database(repo, review, production):
    repo.add_revision("0002", "0001", INDEX_BOTH, DROP_BOTH)
    code, report, stderr = review("--stats", production)
    assert code == 1 and stderr == ""
    assert finding_on(report, "require-concurrent-index-creation", "users")["impact"]["rows"] == LARGE_ROWS
    assert finding_on(report, "require-concurrent-index-creation", "exams")["severity"] == "info"


def test_live_mode_uses_the_sizes_of_the_database_it_names(repo, review, production):
    repo.add_revision("0002", "0001", INDEX_BOTH, DROP_BOTH)
    code, report, stderr = review("--database-url", production, "--stats", production)
    assert code == 1, stderr
    large = finding_on(report, "require-concurrent-index-creation", "users")
    assert large["severity"] == "error" and large["impact"]["rows"] == LARGE_ROWS
    assert finding_on(report, "require-concurrent-index-creation", "exams")["severity"] == "info"
    assert any(f["rule"] == "live-lock-trace" for f in report["findings"])  # live mode ran too
    with psycopg.connect(production) as conn:  # on its scratch database: the named one is untouched
        assert conn.execute("SELECT count(*) FROM pg_indexes WHERE indexname = 'ix_users_email'").fetchone()[0] == 0


def test_unreachable_stats_database_is_one_line_and_the_review_goes_on(repo, review):
    repo.add_revision("0002", "0001", INDEX_BOTH, DROP_BOTH)
    code, report, stderr = review("--stats", "postgresql://postgres:secret@127.0.0.1:1/prod")
    [line] = stderr.splitlines()
    assert line.startswith("alembic-review: warning: table statistics postgres@127.0.0.1:1/prod not used: ")
    assert "secret" not in line and code == 1 and all("impact" not in f for f in report["findings"])
