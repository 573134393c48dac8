"""Generated Alembic histories in real git repos, and a big SQL file, for the benchmarks.

A history looks like years of a real project: tables created with foreign keys and indexes,
columns added and altered, indexes built CONCURRENTLY in autocommit blocks, batch_alter_table
blocks, raw SQL through op.execute (backfills, views, constraint validation), branches that
are merged back with a merge revision (a tuple down_revision). Everything renders offline, so
`alembic upgrade base:head --sql` works on it with the minimal env.py written next to it.
"""

from __future__ import annotations

import os
import random
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "bench@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
}

ALEMBIC_INI = """\
[alembic]
script_location = migrations
prepend_sys_path = .

[loggers]
keys = root

[handlers]
keys = console

[formatters]
keys = generic

[logger_root]
level = WARN
handlers = console

[handler_console]
class = StreamHandler
args = (sys.stderr,)
level = NOTSET
formatter = generic

[formatter_generic]
format = %(levelname)-5.5s [%(name)s] %(message)s
"""

# Offline only: `alembic upgrade --sql` renders with a URL and never connects.
ENV_PY = """\
from alembic import context

if not context.is_offline_mode():
    raise SystemExit("this benchmark project renders SQL offline only (use --sql)")

context.configure(url="postgresql://", literal_binds=True, transaction_per_migration=True)
with context.begin_transaction():
    context.run_migrations()
"""

SCRIPT_MAKO = '''\
"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
${imports if imports else ""}

revision: str = ${repr(up_revision)}
down_revision: Union[str, Sequence[str], None] = ${repr(down_revision)}
branch_labels: Union[str, Sequence[str], None] = ${repr(branch_labels)}
depends_on: Union[str, Sequence[str], None] = ${repr(depends_on)}


def upgrade() -> None:
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    ${downgrades if downgrades else "pass"}
'''

COLUMN_TYPES = ["sa.Text()", "sa.String(length=120)", "sa.Integer()", "sa.BigInteger()", "sa.Boolean()",
                "sa.DateTime(timezone=True)", "sa.Numeric(12, 2)", "sa.JSON()", "sa.Date()"]


@dataclass
class Table:
    name: str
    columns: list[str] = field(default_factory=list)
    indexes: int = 0


def _indent(lines: list[str]) -> str:
    return "\n".join("    " + line if line else "" for line in lines) or "    pass"


class HistoryWriter:
    """Builds revision sources; `ops` picks a realistic operation for each revision."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.tables: list[Table] = []
        self.serial = 0

    def new_id(self) -> str:
        return "%012x" % self.rng.getrandbits(48)

    def _name(self, prefix: str) -> str:
        self.serial += 1
        return f"{prefix}_{self.serial}"

    def create_table(self):
        table = Table(self._name("t"), ["id", "name", "created_at"])
        cols = [
            f'op.create_table("{table.name}",',
            '    sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),',
            '    sa.Column("name", sa.String(length=200), nullable=False),',
            '    sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),',
        ]
        if self.tables and self.rng.random() < 0.6:
            parent = self.rng.choice(self.tables)
            cols.append(f'    sa.Column("{parent.name}_id", sa.BigInteger(), '
                        f'sa.ForeignKey("{parent.name}.id", ondelete="CASCADE"), nullable=True),')
            table.columns.append(f"{parent.name}_id")
        cols.append(")")
        cols.append(f'op.create_index("ix_{table.name}_name", "{table.name}", ["name"], unique=False)')
        self.tables.append(table)
        return cols, [f'op.drop_index("ix_{table.name}_name", table_name="{table.name}")',
                      f'op.drop_table("{table.name}")']

    def add_column(self):
        table = self.rng.choice(self.tables)
        col = self._name("c")
        table.columns.append(col)
        kind = self.rng.choice(COLUMN_TYPES)
        return ([f'op.add_column("{table.name}", sa.Column("{col}", {kind}, nullable=True))'],
                [f'op.drop_column("{table.name}", "{col}")'])

    def concurrent_index(self):
        table = self.rng.choice(self.tables)
        col = self.rng.choice(table.columns)
        table.indexes += 1
        name = f"ix_{table.name}_{col}_{table.indexes}"
        return ([
            "with op.get_context().autocommit_block():",
            f'    op.create_index("{name}", "{table.name}", ["{col}"], postgresql_concurrently=True)',
        ], [
            "with op.get_context().autocommit_block():",
            f'    op.drop_index("{name}", table_name="{table.name}", postgresql_concurrently=True)',
        ])

    def batch(self):
        table = self.rng.choice(self.tables)
        col = self._name("c")
        table.columns.append(col)
        return ([
            f'with op.batch_alter_table("{table.name}") as batch_op:',
            f'    batch_op.add_column(sa.Column("{col}", sa.Text(), nullable=True))',
            '    batch_op.alter_column("name", existing_type=sa.String(length=200), type_=sa.String(length=250))',
        ], [
            f'with op.batch_alter_table("{table.name}") as batch_op:',
            '    batch_op.alter_column("name", existing_type=sa.String(length=250), type_=sa.String(length=200))',
            f'    batch_op.drop_column("{col}")',
        ])

    def raw_sql(self):
        table = self.rng.choice(self.tables)
        choice = self.rng.random()
        if choice < 0.4:
            return ([f'op.execute("UPDATE {table.name} SET name = lower(name) WHERE id < 1000")'], [])
        if choice < 0.7:
            view = self._name("v")
            return ([f'op.execute("CREATE VIEW {view} AS SELECT id, name FROM {table.name} WHERE created_at > now() - interval \'30 days\'")'],
                    [f'op.execute("DROP VIEW {view}")'])
        return (['op.execute("""',
                 f"    -- backfill in one go: small table",
                 f"    UPDATE {table.name} SET name = trim(name);",
                 f"    ANALYZE {table.name};",
                 '""")'], [])

    def foreign_key(self):
        child, parent = self.rng.choice(self.tables), self.rng.choice(self.tables)
        col = self._name("ref")
        child.columns.append(col)
        fk = f"fk_{child.name}_{col}"
        return ([
            f'op.add_column("{child.name}", sa.Column("{col}", sa.BigInteger(), nullable=True))',
            f'op.create_foreign_key("{fk}", "{child.name}", "{parent.name}", ["{col}"], ["id"], postgresql_not_valid=True)',
            f'op.execute("ALTER TABLE {child.name} VALIDATE CONSTRAINT {fk}")',
        ], [
            f'op.drop_constraint("{fk}", "{child.name}", type_="foreignkey")',
            f'op.drop_column("{child.name}", "{col}")',
        ])

    def alter_column(self):
        table = self.rng.choice(self.tables)
        return ([f'op.alter_column("{table.name}", "name", server_default="unnamed", existing_type=sa.String(length=200))'],
                [f'op.alter_column("{table.name}", "name", server_default=None, existing_type=sa.String(length=200))'])

    def check_constraint(self):
        table = self.rng.choice(self.tables)
        name = self._name("ck")
        return ([f'op.create_check_constraint("{name}", "{table.name}", "length(name) > 0")'],
                [f'op.drop_constraint("{name}", "{table.name}", type_="check")'])

    OPS = [("create_table", 14), ("add_column", 22), ("concurrent_index", 12), ("batch", 8), ("raw_sql", 12),
           ("foreign_key", 8), ("alter_column", 8), ("check_constraint", 6)]

    def body(self) -> tuple[str, str]:
        ups, downs = [], []
        for _ in range(self.rng.choice([1, 1, 2, 2, 3])):
            kind = "create_table" if not self.tables else \
                self.rng.choices([k for k, _ in self.OPS], [w for _, w in self.OPS])[0]
            up, down = getattr(self, kind)()
            ups += up
            downs = down + downs
        return _indent(ups), _indent(downs)

    def source(self, rev: str, down, message: str, upgrade: str = "    pass", downgrade: str = "    pass") -> str:
        revises = ", ".join(down) if isinstance(down, tuple) else (down or "")
        return (
            f'"""{message}\n\nRevision ID: {rev}\nRevises: {revises}\nCreate Date: 2021-01-01 00:00:00.000000\n\n"""\n'
            "from typing import Sequence, Union\n\n"
            "from alembic import op\n"
            "import sqlalchemy as sa\n\n\n"
            f"revision: str = {rev!r}\n"
            f"down_revision: Union[str, Sequence[str], None] = {down!r}\n"
            "branch_labels: Union[str, Sequence[str], None] = None\n"
            "depends_on: Union[str, Sequence[str], None] = None\n\n\n"
            f"def upgrade() -> None:\n{upgrade}\n\n\n"
            f"def downgrade() -> None:\n{downgrade}\n"
        )


def history_sources(count: int, seed: int = 7, merge_every: int = 40) -> list[tuple[str, str]]:
    """`count` revisions (file name, source), a single head; every `merge_every` revisions two
    branches grow from the same parent and a merge revision joins them."""
    writer = HistoryWriter(seed)
    files: list[tuple[str, str]] = []
    head = None

    def add(down, message: str, merge: bool = False) -> str:
        rev = writer.new_id()
        up, down_src = ("    pass", "    pass") if merge else writer.body()
        slug = message.lower().replace(" ", "_")[:40]
        files.append((f"{rev}_{slug}.py", writer.source(rev, down, message, up, down_src)))
        return rev

    while len(files) < count:
        n = len(files)
        if n and n % merge_every == 0 and count - n >= 3:
            left = add(head, f"branch a {n}")
            right = add(head, f"branch b {n}")
            head = add((left, right), f"merge {n}", merge=True)
        else:
            head = add(head, f"change {n}")
    return files


def git(path: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=path, env={**os.environ, **GIT_ENV}, check=True,
                          capture_output=True, text=True).stdout


def head_of(sources: list[tuple[str, str]]) -> str:
    """The revision id of the last file (the single head of a generated history)."""
    return sources[-1][0].split("_", 1)[0]


NEW_REVISION_UPGRADE = """\
    op.add_column("t_1", sa.Column("nickname", sa.Text(), nullable=True))
    op.create_index("ix_t_1_nickname", "t_1", ["nickname"])"""


def build_repo(path: Path, count: int, *, seed: int = 7, new_revisions: int = 1) -> Path:
    """A git repo whose `main` holds `count` revisions, checked out on `feature`, which adds
    `new_revisions` more on top (a pull request)."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    (path / "alembic.ini").write_text(ALEMBIC_INI)
    scripts = path / "migrations"
    versions = scripts / "versions"
    versions.mkdir(parents=True)
    (scripts / "env.py").write_text(ENV_PY)
    (scripts / "script.py.mako").write_text(SCRIPT_MAKO)
    sources = history_sources(count, seed)
    for name, text in sources:
        (versions / name).write_text(text)
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", f"{count} revisions")
    git(path, "checkout", "-q", "-b", "feature")
    writer = HistoryWriter(seed + 1)
    head = head_of(sources)
    for i in range(new_revisions):
        rev = writer.new_id()
        (versions / f"{rev}_pull_request_{i}.py").write_text(
            writer.source(rev, head, f"pull request {i}", NEW_REVISION_UPGRADE,
                          '    op.drop_index("ix_t_1_nickname", table_name="t_1")\n'
                          '    op.drop_column("t_1", "nickname")'))
        head = rev
    if new_revisions:
        git(path, "add", "-A")
        git(path, "commit", "-q", "-m", "pull request")
    return path


# ---- a big SQL file, for the SQL analysis alone -------------------------------------------------

def _ddl(rng: random.Random, tables: list[str], serial: int) -> list[str]:
    """The statements of one migration, referring to tables created earlier."""
    roll = rng.random()
    if not tables or roll < 0.12:
        name = f"t_{serial}"
        ref = f",\n    parent_id BIGINT REFERENCES {rng.choice(tables)} (id)" if tables and rng.random() < 0.5 else ""
        tables.append(name)
        return [f"CREATE TABLE {name} (\n    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,\n"
                f"    name VARCHAR(200) NOT NULL,\n    created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL{ref}\n)",
                f"CREATE INDEX ix_{name}_name ON {name} (name)"]
    t = rng.choice(tables)
    if roll < 0.35:
        return [f"ALTER TABLE {t} ADD COLUMN c_{serial} TEXT"]
    if roll < 0.45:  # alembic's autocommit_block() ends the transaction around it
        return ["COMMIT", f"CREATE INDEX CONCURRENTLY ix_{t}_{serial} ON {t} (created_at)", "BEGIN"]
    if roll < 0.50:
        return [f"CREATE INDEX ix_{t}_{serial} ON {t} (created_at)"]
    if roll < 0.60:
        return [f"UPDATE {t} SET name = lower(name) WHERE id < {rng.randint(10, 10000)}"]
    if roll < 0.68:
        return [f"ALTER TABLE {t} ADD CONSTRAINT fk_{serial} FOREIGN KEY (id) REFERENCES {rng.choice(tables)} (id) NOT VALID",
                f"ALTER TABLE {t} VALIDATE CONSTRAINT fk_{serial}"]
    if roll < 0.74:
        return [f"ALTER TABLE {t} ALTER COLUMN name SET DEFAULT 'unnamed'"]
    if roll < 0.80:
        return [f"ALTER TABLE {t} ADD CONSTRAINT ck_{serial} CHECK (length(name) > 0)"]
    if roll < 0.85:
        return [f"CREATE VIEW v_{serial} AS SELECT id, name FROM {t} WHERE created_at > now() - interval '30 days'"]
    if roll < 0.89:
        return [f"ALTER TABLE {t} ALTER COLUMN name TYPE VARCHAR(250)"]
    if roll < 0.94:
        return [f"INSERT INTO {t} (name) VALUES ('seed {serial}')"]
    if roll < 0.97:
        return [f"ALTER TABLE {t} DROP COLUMN IF EXISTS c_{serial - 1}"]
    return [f"COMMENT ON TABLE {t} IS 'table {serial}'"]


def sql_statements(count: int, seed: int = 11) -> list[str]:
    """`count` statements laid out as `alembic upgrade --sql` writes them: one transaction per
    migration (transaction_per_migration), the version table updated at the end of each."""
    rng = random.Random(seed)
    tables: list[str] = []
    out = ["CREATE TABLE alembic_version (\n    version_num VARCHAR(32) NOT NULL,\n"
           "    CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)\n)"]
    serial, previous = 0, None
    while True:
        serial += 1
        rev = "%012x" % rng.getrandbits(48)
        body = _ddl(rng, tables, serial)
        version = (f"INSERT INTO alembic_version (version_num) VALUES ('{rev}')" if previous is None else
                   f"UPDATE alembic_version SET version_num='{rev}' WHERE alembic_version.version_num = '{previous}'")
        migration = ["BEGIN", *body, version, "COMMIT"]
        if len(out) + len(migration) > count:
            break
        out += migration
        previous = rev
    while len(out) < count:  # top up to exactly `count` with small statements
        out.append(f"COMMENT ON TABLE alembic_version IS 'padding {len(out)}'")
    return out


def write_sql_file(path: Path, count: int, seed: int = 11) -> Path:
    path.write_text("".join(s + ";\n\n" for s in sql_statements(count, seed)))
    return path
