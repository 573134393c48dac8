"""Column types that cost later: advice (severity info) about the types a migration chooses.

As in squawk, these fire on new tables too (a type is cheapest to get right at CREATE TABLE), for
every column a migration defines: CREATE TABLE, ADD COLUMN and ALTER COLUMN ... TYPE. Alembic's own
`alembic_version` table (VARCHAR(32)) is never reported.
"""

from linters.rules import Hit, sql_rule
from linters.rules.nodes import DEFINING_COLUMNS, DEFINING_SUBTYPES, column_definitions, derived, dotted, is_bookkeeping, strings

SERIALS = {"serial", "serial2", "serial4", "serial8", "smallserial", "bigserial"}


def _typed_columns(stmt) -> tuple:
    """(table, column, base type, typmods) of each column defined, pg_catalog. dropped (six rules ask)."""
    return derived(stmt, _column_types)


def _column_types(stmt) -> tuple:
    out = []
    for table, column, coldef in column_definitions(stmt):
        if is_bookkeeping(table):
            continue
        type_name = coldef.get("typeName", {})
        names = strings(type_name.get("names"))
        # The last name is the type (pg_catalog. or a schema before it); "char" alone is the one-byte internal
        # type, not character(n).
        base = '"char"' if names == ["char"] else names[-1].lower() if names else ""
        out.append((table, column, base, type_name.get("typmods") or []))
    return tuple(out)


def _type_rule(types: set[str], message: str, needs_length: bool = False):
    def check(stmt, state):
        columns = stmt.derived.get(_column_types)  # _typed_columns() without two calls: six rules ask, per statement
        for table, column, base, typmods in columns if columns is not None else _typed_columns(stmt):
            if base in types and (typmods or not needs_length):
                yield Hit(message.format(table=table, column=column, type=base), table=table)
    return check


sql_rule(
    "prefer-text-field", "info",
    summary="varchar(n) limits are costly to change later; prefer text.",
    why="In PostgreSQL varchar(n) and text are stored the same way. Raising the limit later is an ALTER COLUMN "
        "TYPE under ACCESS EXCLUSIVE, and lowering it rewrites the table. A CHECK constraint can be changed "
        "online (NOT VALID, then VALIDATE).",
    recipe="Use `sa.Text` (or `sa.String` without a length); if the limit is a business rule, add "
           "`sa.CheckConstraint('char_length(x) <= 100')`.",
    kinds=DEFINING_COLUMNS,
    subtypes=DEFINING_SUBTYPES,
)(_type_rule({"varchar"}, "{table}.{column} is varchar with a length limit: prefer text", needs_length=True))

sql_rule(
    "ban-char-field", "info",
    summary="char(n) pads values with spaces; it is almost always a mistake.",
    why="character(n) stores and compares blank-padded values, which surprises applications (length, equality, "
        "LIKE) and saves no space over text or varchar.",
    recipe="Use `sa.Text` (or `sa.String`) instead of `sa.CHAR(n)`.",
    kinds=DEFINING_COLUMNS,
    subtypes=DEFINING_SUBTYPES,
)(_type_rule({"bpchar", "character"}, "{table}.{column} is char(n): use text"))

sql_rule(
    "prefer-timestamptz", "info",
    summary="timestamp without time zone drops the offset; prefer timestamptz.",
    why="A `timestamp` column stores wall-clock time without an offset, so values written from different time "
        "zones (servers, users, DST) become ambiguous. timestamptz stores an instant. squawk 2.70 prints this "
        "rule as prefer-timestamp-tz.",
    recipe="Use `sa.DateTime(timezone=True)` instead of `sa.DateTime`.",
    kinds=DEFINING_COLUMNS,
    subtypes=DEFINING_SUBTYPES,
)(_type_rule({"timestamp"}, "{table}.{column} is timestamp without time zone: use timestamptz"))

sql_rule(
    "prefer-bigint-over-int", "info",
    summary="32-bit integer columns run out at 2.1 billion; prefer bigint.",
    why="Ids and counters in int overflow at 2,147,483,647, and widening to bigint later is a full-table "
        "rewrite under ACCESS EXCLUSIVE (changing-column-type). bigint costs 4 more bytes per row.",
    recipe="Use `sa.BigInteger` (ids: `sa.Column('id', sa.BigInteger, sa.Identity(), primary_key=True)`).",
    kinds=DEFINING_COLUMNS,
    subtypes=DEFINING_SUBTYPES,
)(_type_rule({"int4", "int", "integer", "serial", "serial4"}, "{table}.{column} is a 32-bit {type}: prefer bigint"))

sql_rule(
    "prefer-bigint-over-smallint", "info",
    summary="16-bit smallint columns run out at 32767; prefer bigint.",
    why="smallint overflows at 32,767 and widening later rewrites the table under ACCESS EXCLUSIVE; the bytes "
        "saved rarely matter once alignment padding is counted.",
    recipe="Use `sa.BigInteger` instead of `sa.SmallInteger`.",
    kinds=DEFINING_COLUMNS,
    subtypes=DEFINING_SUBTYPES,
)(_type_rule({"int2", "smallint", "smallserial", "serial2"}, "{table}.{column} is a 16-bit {type}: prefer bigint"))

sql_rule(
    "prefer-identity", "info",
    summary="serial columns own a loose sequence; prefer IDENTITY.",
    why="serial creates a separate sequence with its own ownership and permissions, which dumps, grants and "
        "copies get wrong; IDENTITY columns are the SQL-standard replacement. SQLAlchemy renders an Integer "
        "primary key without sa.Identity() as SERIAL.",
    recipe="`sa.Column('id', sa.BigInteger, sa.Identity(), primary_key=True)`.",
    kinds=DEFINING_COLUMNS,
    subtypes=DEFINING_SUBTYPES,
)(_type_rule(SERIALS, "{table}.{column} is {type}: use an IDENTITY column"))


@sql_rule(
    "require-enum-value-ordering", "info",
    summary="ALTER TYPE ... ADD VALUE without BEFORE/AFTER appends the value at the end of the enum.",
    why="Enum values sort in declaration order, so ORDER BY and comparisons on the column follow it; a value "
        "appended at the end may sort where nobody meant it to.",
    recipe="Say where it goes: `op.execute(\"ALTER TYPE mood ADD VALUE 'meh' AFTER 'ok'\")`.",
    kinds=("AlterEnumStmt",),
)
def require_enum_value_ordering(stmt, state):
    body = stmt.body
    if stmt.kind == "AlterEnumStmt" and body.get("newVal") and not body.get("oldVal") \
            and not body.get("newValNeighbor"):
        yield Hit(f"value {body['newVal']!r} is appended at the end of enum "
                  f"{dotted(strings(body.get('typeName')))}")
