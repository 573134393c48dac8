"""linters/rules/type_rules.py at the SQL level: advice on the column types a migration chooses.

These fire on new tables too: a type is cheapest to get right at CREATE TABLE.
"""

from tests.sqllint import lint_errors, lint_ok

CREATE = """\
    BEGIN;
    CREATE TABLE accounts (
        id bigint GENERATED ALWAYS AS IDENTITY,
        name varchar(100),
        code char(2),
        created timestamp,
        seats int,
        level smallint,
        legacy_id serial,
        note text,
        kind "char",
        updated timestamptz,
        tags varchar(20)[],
        price numeric(10, 2)
    );
    COMMIT;
    """


def _columns(found: list) -> list[str]:
    """The columns the findings of a type rule report, as they appear in its messages."""
    for f in found:
        assert (f.severity, f.table) == ("info", "accounts")
    return [f.message.split()[0] for f in found]


def test_prefer_text_field_reports_varchar_with_a_length():
    assert _columns(lint_errors(CREATE, "prefer-text-field")) == ["accounts.name", "accounts.tags"]


def test_ban_char_field_reports_char_n_but_not_the_internal_char_type():
    assert _columns(lint_errors(CREATE, "ban-char-field")) == ["accounts.code"]


def test_prefer_timestamptz_reports_timestamp_without_time_zone():
    assert _columns(lint_errors(CREATE, "prefer-timestamptz")) == ["accounts.created"]


def test_prefer_bigint_over_int_reports_int_and_serial():
    assert _columns(lint_errors(CREATE, "prefer-bigint-over-int")) == ["accounts.seats", "accounts.legacy_id"]


def test_prefer_bigint_over_smallint_reports_smallint():
    assert _columns(lint_errors(CREATE, "prefer-bigint-over-smallint")) == ["accounts.level"]


def test_prefer_identity_reports_serial_columns():
    assert _columns(lint_errors(CREATE, "prefer-identity")) == ["accounts.legacy_id"]


def test_type_advice_covers_added_and_retyped_columns():
    lint_errors("BEGIN; ALTER TABLE users ADD COLUMN code char(2); COMMIT;", "ban-char-field")
    lint_errors("BEGIN; ALTER TABLE users ALTER COLUMN created TYPE timestamp; COMMIT;", "prefer-timestamptz")
    lint_errors("BEGIN; ALTER TABLE users ADD COLUMN n smallserial; COMMIT;", "prefer-identity")


# The recommended types: text, timestamptz, bigint, IDENTITY.
RECOMMENDED = """\
    BEGIN;
    CREATE TABLE accounts (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        name text CHECK (char_length(name) <= 100),
        code varchar,
        created timestamptz,
        seats bigint
    );
    ALTER TABLE users ADD COLUMN nickname text;
    COMMIT;
    """


def test_the_recommended_types_are_quiet():
    lint_ok(RECOMMENDED, "prefer-text-field")
    lint_ok(RECOMMENDED, "ban-char-field")
    lint_ok(RECOMMENDED, "prefer-timestamptz")
    lint_ok(RECOMMENDED, "prefer-bigint-over-int")
    lint_ok(RECOMMENDED, "prefer-bigint-over-smallint")
    lint_ok(RECOMMENDED, "prefer-identity")


def test_alembic_version_varchar_32_is_quiet():
    sql = ("BEGIN; CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
           "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)); COMMIT;")
    lint_ok(sql, "prefer-text-field")


# -- require-enum-value-ordering ---------------------------------------------------------------

def test_adding_an_enum_value_without_before_or_after_is_advice():
    [f] = lint_errors("BEGIN; ALTER TYPE mood ADD VALUE 'meh'; COMMIT;", "require-enum-value-ordering")
    assert f.severity == "info" and "'meh'" in f.message and "mood" in f.message


def test_adding_an_enum_value_at_a_stated_place_is_quiet():
    lint_ok("BEGIN; ALTER TYPE mood ADD VALUE 'meh' AFTER 'ok'; ALTER TYPE mood ADD VALUE 'great' BEFORE 'ok'; "
            "COMMIT;", "require-enum-value-ordering")
