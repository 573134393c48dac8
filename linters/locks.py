"""Lock model: what one SQL statement does to the tables it touches.

``lock_effect(node)`` takes one statement node as produced by
``json.loads(pglast.parser.parse_sql_json(sql))["stmts"][i]["stmt"]`` (a dict with a
single key, the node type, e.g. ``{"IndexStmt": {...}}``) and returns a
``LockEffect``: the table-level lock modes taken, whether the table is rewritten,
whether it is fully scanned while locked, and whether the statement may run inside
a transaction block.

Every row of the model is measured on a real PostgreSQL 15 by
``tests/test_locks_postgres.py`` (pg_locks, pg_class.relfilenode,
pg_stat_xact_user_tables.seq_scan).  Version differences for other majors come from
the PostgreSQL release notes and are covered by pure unit tests.

Conventions
-----------
* Relation names (``linters.nodes``): as written in the SQL, with a leading ``public.`` removed so that
  they compare equal to the names used by ``CREATE TABLE users`` (``public.users``
  -> ``users``; ``audit.log`` stays ``audit.log``).  Quoted identifiers keep their
  case, unquoted ones are already lower-cased by the parser.
* Only what the SQL text reveals is reported.  PostgreSQL sometimes locks relations
  the statement does not name (the table that owns a dropped index, the table a
  dropped foreign key references, a view's source tables...).  Those cases are
  listed in ``notes`` and in the per-handler comments below; the model never
  invents names.
* When the SQL alone cannot decide a cost, the model reports the costly answer
  (``rewrite=True`` / ``scan=True``) and explains the cheap case in ``notes``:
  ALTER COLUMN TYPE without knowing the old type, SET NOT NULL, ADD PRIMARY KEY
  USING INDEX, DEFAULT calling a function the model does not know.
  ``lock_effect(..., column_type=...)`` lets a caller that tracks the schema supply
  the old column type, so varchar widening etc. can be recognised.
* ``rewrite`` means the main relation gets new storage (pg_class.relfilenode
  changes; its indexes are rebuilt too).  ``scan`` means PostgreSQL reads the whole
  table while holding the lock (constraint validation, index build, rewrite).
  Plain DML and SELECT report ``scan=False``: how they read is up to the planner.
* Unknown statements: no locks, ``rewrite=False``, ``scan=False``,
  ``transactional=True`` and a note saying the statement is not modelled.  Rules
  must not read "no locks" as "safe" when that note is present.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable, Iterable

from linters.nodes import dotted, object_parts, option_on, relation_name, strings

__all__ = [
    "LOCK_MODES",
    "TableLock",
    "LockEffect",
    "lock_effect",
    "strongest",
    "type_change_rewrites",
]

# The 8 PostgreSQL table lock modes, weakest to strongest.
LOCK_MODES: tuple[str, ...] = (
    "ACCESS SHARE",
    "ROW SHARE",
    "ROW EXCLUSIVE",
    "SHARE UPDATE EXCLUSIVE",
    "SHARE",
    "SHARE ROW EXCLUSIVE",
    "EXCLUSIVE",
    "ACCESS EXCLUSIVE",
)
AS, RS, RE, SUE, SHARE, SRE, EXCL, AEL = LOCK_MODES
_RANK = {m: i for i, m in enumerate(LOCK_MODES)}


def strongest(modes: Iterable[str | None]) -> str | None:
    """The strongest of ``modes`` (None and unknown names ignored); None if empty."""
    best = None
    for m in modes:
        if m in _RANK and (best is None or _RANK[m] > _RANK[best]):
            best = m
    return best


@dataclass(frozen=True)
class TableLock:
    table: str  # relation as written, "public." stripped (see module docstring)
    mode: str  # one of LOCK_MODES

    def __init__(self, table: str, mode: str):
        # Frozen: the fields go into __dict__ directly, as dataclass's own __init__ does field by field
        # through object.__setattr__ (one C call each; a lock model of a file builds thousands).
        fields = self.__dict__
        fields["table"], fields["mode"] = table, mode


@dataclass(frozen=True)
class LockEffect:
    locks: tuple[TableLock, ...]  # strongest mode per table, main table first
    rewrite: bool  # the main relation gets new storage (and its indexes are rebuilt)
    scan: bool  # the whole table is read while the lock is held
    transactional: bool  # False: cannot run inside a transaction block
    notes: tuple[str, ...] = ()

    def __init__(self, locks: tuple[TableLock, ...], rewrite: bool, scan: bool, transactional: bool,
                 notes: tuple[str, ...] = ()):
        fields = self.__dict__  # frozen: as in TableLock.__init__
        fields["locks"], fields["rewrite"], fields["scan"] = locks, rewrite, scan
        fields["transactional"], fields["notes"] = transactional, notes

    @property
    def table(self) -> str | None:
        """The main table (the one the statement is about)."""
        return self.locks[0].table if self.locks else None

    @property
    def mode(self) -> str | None:
        """The strongest lock the statement takes."""
        if len(self.locks) == 1:  # most statements: their one table (a dozen rules ask)
            return self.locks[0].mode if self.locks[0].mode in _RANK else None
        return strongest(lk.mode for lk in self.locks)

    def mode_on(self, table: str | None) -> str | None:
        """The lock the statement takes on `table`, or its strongest when it takes none there."""
        if table is not None:
            for held in self.locks:
                if held.table == table:
                    return held.mode
        return self.mode


_NO_EFFECT = LockEffect(locks=(), rewrite=False, scan=False, transactional=True)


# --------------------------------------------------------------------------- helpers

ColumnType = Callable[[str, str], "str | None"]


class _Acc:
    """Mutable accumulator turned into a LockEffect at the end."""

    def __init__(self, pg: int, column_type: ColumnType | None):
        self.pg = pg
        self.column_type = column_type
        self.locks: dict[str, str] = {}  # insertion order = report order
        self.rewrite = False
        self.scan = False
        self.transactional = True
        self.notes: list[str] = []
        self.table: str | None = None  # main table of an ALTER TABLE, for subcommands
        self.objtype: str | None = None  # ALTER TABLE / INDEX / VIEW ... (OBJECT_*)

    def rewrites(self) -> None:
        """Copies every row into new storage: a rewrite reads the whole table."""
        self.rewrite = self.scan = True

    def lock(self, table: str | None, mode: str) -> None:
        """Take `mode` (one of LOCK_MODES) on `table`, keeping the stronger of it and what is already taken."""
        if not table:
            return
        taken = self.locks.get(table)
        if taken is None or _RANK[mode] > _RANK[taken]:
            self.locks[table] = mode

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def effect(self) -> LockEffect:
        if not (self.locks or self.notes or self.rewrite or self.scan) and self.transactional:
            return _NO_EFFECT  # most statements of a migration (SET, BEGIN, COMMENT ...): one shared value
        # Positional, and the locks built by map(): no keyword dict, no comprehension frame per statement.
        return LockEffect(tuple(map(TableLock, self.locks, self.locks.values())), self.rewrite, self.scan,
                          self.transactional, tuple(self.notes))


def _unwrap(node: dict) -> tuple[str, dict]:
    """{"IndexStmt": {...}} -> ("IndexStmt", {...})."""
    if "stmt" in node:
        node = node["stmt"]  # a whole parse_sql_json "stmts" entry
    if "RawStmt" in node:
        node = node["RawStmt"]["stmt"]
    ((kind, body),) = node.items()
    return kind, body or {}


# Nodes that hold only literals and names: nothing _walk looks for can be under them.
_LEAVES = frozenset({"A_Const", "String", "Integer", "Float", "Boolean", "BitString", "ColumnRef", "ParamRef",
                     "A_Star"})


def _walk(obj, key: str, skip: str = "") -> list[dict]:
    """Every dict wrapped as {key: {...}} anywhere under obj (not under skip), in document order."""
    return _walk_many(obj, (key,), skip)[key]


def _walk_many(obj, keys: tuple[str, ...], skip: str = "") -> dict[str, list[dict]]:
    """_walk for several keys in one pass: key -> the dicts wrapped as {key: {...}}, in document order.

    Lists filled by plain recursion that never descends into scalars or literals: every DML
    statement is walked, and nested generators cost a frame per level for every node.
    """
    found: dict[str, list[dict]] = {key: [] for key in keys}
    if isinstance(obj, dict):
        _visit(obj, found, skip)
    elif isinstance(obj, list):
        _visit_list(obj, found, skip)
    return found


# Module functions, not closures inside _walk_many: two closures that call each other are a reference
# cycle per walk, which only the cyclic collector frees (thousands of objects per SQL file).
# pglast's JSON is made of plain dicts and lists: exact type checks, and a list's items are looked at
# in the loop rather than with a call each (most are literals).
def _visit(node: dict, found: dict[str, list[dict]], skip: str) -> None:
    for k, v in node.items():
        if k == skip:
            continue
        kind = type(v)
        if kind is dict:
            if k in found:
                found[k].append(v)
            if k not in _LEAVES:
                _visit(v, found, skip)
        elif kind is list and k not in _LEAVES:
            _visit_list(v, found, skip)


def _visit_list(items: list, found: dict[str, list[dict]], skip: str) -> None:
    for v in items:
        kind = type(v)
        if kind is dict:
            _visit(v, found, skip)
        elif kind is list:
            _visit_list(v, found, skip)


def _query_tables(query) -> list[str]:
    """Relations read by a query (RangeVars), CTE names excluded."""
    # One pass for both; a LockingClause holds no CTE, only the OF names, which may be aliases.
    found = _walk_many(query, ("CommonTableExpr", "RangeVar"), skip="lockingClause")
    ctes = {c.get("ctename") for c in found["CommonTableExpr"]}
    out: list[str] = []
    for rv in found["RangeVar"]:
        name = relation_name(rv)
        if name and not ("schemaname" not in rv and name in ctes) and name not in out:
            out.append(name)
    return out


def _read_query(acc: _Acc, query) -> None:
    """ACCESS SHARE on every table a query reads; ROW SHARE for FOR UPDATE/SHARE."""
    for t in _query_tables(query):
        acc.lock(t, AS)
    sel = query.get("SelectStmt") if isinstance(query, dict) else None
    for lc in (sel or {}).get("lockingClause") or ():
        frm = sel.get("fromClause")
        aliases = {rv["alias"]["aliasname"]: relation_name(rv) for rv in _walk(frm, "RangeVar") if rv.get("alias")}
        named = [relation_name(r) for r in lc["LockingClause"].get("lockedRels") or ()]
        # FOR UPDATE/SHARE OF x: x may be an alias; without OF: every table in FROM
        for t in [aliases.get(n, n) for n in named] or _query_tables(frm):
            acc.lock(t, RS)


# ------------------------------------------------------------- expression volatility

# Functions that make a DEFAULT volatile (PostgreSQL then rewrites the table on ADD
# COLUMN).  Everything not listed here or in _NON_VOLATILE is assumed volatile.
_VOLATILE_FUNCS = frozenset({
    "random", "random_normal", "setseed", "gen_random_uuid", "uuidv4", "uuidv7",
    "uuid_generate_v1", "uuid_generate_v1mc", "uuid_generate_v4", "gen_random_bytes",
    "clock_timestamp", "timeofday", "nextval", "currval", "lastval", "setval",
})
# Stable or immutable built-ins that commonly appear in defaults (checked in pg_proc).
_NON_VOLATILE = frozenset({
    "now", "transaction_timestamp", "statement_timestamp", "timezone", "date_trunc",
    "lower", "upper", "btrim", "trim", "ltrim", "rtrim", "replace", "substr", "left",
    "right", "length", "md5", "concat", "format", "to_char", "to_date", "to_timestamp",
    "to_json", "to_jsonb", "json_build_object", "jsonb_build_object",
    "json_build_array", "jsonb_build_array", "array_fill", "make_date", "make_time",
    "make_timestamp", "make_timestamptz", "make_interval", "current_setting",
    "current_database", "current_schema", "txid_current", "pg_current_xact_id",
    "abs", "round", "floor", "ceil", "greatest", "least", "age", "date_part",
    "extract", "justify_interval", "int4", "int8", "text", "numeric",
})
# Of those, the ones pg_proc has only without arguments: now(123) is some other function (or none).
_NO_ARGUMENTS = frozenset({"now", "transaction_timestamp", "statement_timestamp", "current_database",
                           "current_schema", "txid_current", "pg_current_xact_id"})


def _volatile_calls(expr) -> tuple[list[str], list[str]]:
    """(known volatile functions, unknown functions assumed volatile) in expr."""
    volatile, unknown = [], []
    for fc in _walk(expr, "FuncCall"):
        fname = strings(fc.get("funcname"))[-1].lower()
        if fname in _VOLATILE_FUNCS:
            volatile.append(fname)
        elif fname not in _NON_VOLATILE or (fname in _NO_ARGUMENTS and fc.get("args")):
            unknown.append(fname)
    return volatile, unknown


# ------------------------------------------------------------------- column types

def _parse_type(text: str) -> dict | None:
    from pglast.parser import parse_sql_json  # lazy: only needed with column_type

    try:
        stmt = json.loads(parse_sql_json(f"SELECT NULL::{text}"))["stmts"][0]["stmt"]
        return stmt["SelectStmt"]["targetList"][0]["ResTarget"]["val"]["TypeCast"]["typeName"]
    except Exception:  # noqa: BLE001 - any parse problem means "unknown type"
        return None


def _norm_type(tn: dict) -> tuple[str, tuple, int]:
    """TypeName -> (name, typmods, array dims); pg_catalog. dropped."""
    names = strings(tn.get("names"))
    if len(names) > 1 and names[0] == "pg_catalog":
        names = names[1:]
    mods = []
    for m in tn.get("typmods") or ():
        ival = m.get("A_Const", {}).get("ival")
        mods.append(ival.get("ival", 0) if isinstance(ival, dict) else None)
    return ".".join(names), tuple(mods), len(tn.get("arrayBounds") or ())


_STRINGY = {"varchar", "text"}
# Types whose one typmod is a length or precision: raising it (or dropping it) keeps every stored value.
_WIDENABLE = {"varchar", "varbit", "timestamp", "timestamptz", "time", "timetz"}
# Binary-coercible pairs PostgreSQL relabels without touching the rows.
_RELABELS = {("cidr", "inet")}


def type_change_rewrites(old: str | dict | None, new: dict) -> bool:
    """Does ALTER COLUMN TYPE from ``old`` (SQL text or TypeName node) to ``new``
    (TypeName node) rewrite the table?  Unknown old type -> True.

    No rewrite, measured (relfilenode before/after on PostgreSQL 15): same type; varchar(n) ->
    varchar(m >= n) / varchar / text; text -> varchar (no length); numeric(p,s) -> numeric(q >= p, s)
    / numeric; varbit, timestamp(tz) and time(tz) precision raised or dropped; cidr -> inet.
    Everything else (int -> bigint, text -> varchar(n), shrinking, char(n) -> anything, timestamp ->
    timestamptz whose cost depends on the TimeZone setting, arrays...) -> True.
    """
    if isinstance(old, str):
        old = _parse_type(old)
    if not old:
        return True
    (on, om, oa), (nn, nm, na) = _norm_type(old), _norm_type(new)
    if (on, om, oa) == (nn, nm, na):
        return False
    if oa or na:
        return True
    if (on, nn) in _RELABELS:
        return False
    if on in _STRINGY and nn in _STRINGY:
        if nn == "text" or not nm:  # to text / unbounded varchar
            return False
        return not (on == "varchar" and om and None not in om + nm and nm[0] >= om[0])
    if on == nn and on in _WIDENABLE:
        return bool(nm) and not (om and None not in om + nm and nm[0] >= om[0])
    if on == nn == "numeric" and om:
        if not nm:
            return False
        same_scale = (om[1:] or (0,)) == (nm[1:] or (0,))
        return not (same_scale and None not in om + nm and nm[0] >= om[0])
    return True


# ------------------------------------------------------------ ALTER TABLE subcommands

def _add_column(acc: _Acc, cmd: dict) -> None:
    acc.lock(acc.table, AEL)
    col = cmd["def"]["ColumnDef"]
    cname = col.get("colname", "?")
    tname = strings(col.get("typeName", {}).get("names"))[-1:] or [""]
    cons, kinds, defaults = [], set(), []
    for item in col.get("constraints") or ():  # one loop, no comprehensions: most added columns have none
        if "Constraint" in item:
            con = item["Constraint"]
            cons.append(con)
            kinds.add(con["contype"])
            if con["contype"] == "CONSTR_DEFAULT":
                defaults.append(con.get("raw_expr"))
    default = defaults[0] if defaults else None
    if default and default.get("A_Const", {}).get("isnull"):
        default = None  # DEFAULT NULL is no default

    if tname[0] in ("serial", "serial2", "serial4", "serial8", "smallserial", "bigserial"):
        acc.rewrites()
        acc.note(f"column {cname}: serial fills every row from a sequence (rewrite)")
    if "CONSTR_IDENTITY" in kinds:
        acc.rewrites()
        acc.note(f"column {cname}: identity fills every row (rewrite)")
    if "CONSTR_GENERATED" in kinds and any(c["contype"] == "CONSTR_GENERATED" and c.get("generated_kind", "s") == "s"
                                           for c in cons):
        acc.rewrites()
        acc.note(f"column {cname}: GENERATED ... STORED computes every row (rewrite)")
    if default is not None:
        volatile, unknown = _volatile_calls(default)
        if acc.pg < 11:
            acc.rewrites()
            acc.note(f"column {cname}: before PostgreSQL 11 any non-null default rewrites the table")
        elif volatile or unknown:
            acc.rewrites()
            if volatile:
                acc.note(f"column {cname}: rewrites with a volatile default ({', '.join(volatile)}())")
            if unknown:
                acc.note(f"column {cname}: default calls {', '.join(unknown)}(), assumed volatile (rewrite)")
    if "CONSTR_NOTNULL" in kinds and default is None and not acc.rewrite:
        acc.scan = True
        acc.note(f"column {cname}: NOT NULL without a default fails on a non-empty table")
    if "CONSTR_CHECK" in kinds:
        acc.scan = True
    if not kinds.isdisjoint(("CONSTR_PRIMARY", "CONSTR_UNIQUE")):
        acc.lock(acc.table, SHARE)
        acc.scan = True
    for c in cons:
        if c["contype"] == "CONSTR_FOREIGN":
            acc.lock(relation_name(c.get("pktable")), SRE)
            if default is not None:  # all-NULL new column: PostgreSQL skips validation
                acc.scan = True


def _alter_column_type(acc: _Acc, cmd: dict) -> None:
    acc.lock(acc.table, AEL)
    col = cmd["def"]["ColumnDef"]
    using = col.get("raw_default")
    if using and strings(using.get("ColumnRef", {}).get("fields")) == [cmd.get("name")]:
        using = None  # USING col is the same as no USING
    old = acc.column_type(acc.table, cmd.get("name")) if acc.column_type else None
    if using is not None or type_change_rewrites(old, col["typeName"]):
        acc.rewrites()
        if old is None:
            acc.note("ALTER COLUMN TYPE: old type unknown, assumed to rewrite; no rewrite for "
                     "varchar widening, varchar -> text, numeric precision increase")


def _add_constraint(acc: _Acc, cmd: dict) -> None:
    con = cmd["def"]["Constraint"]
    kind = con["contype"]
    not_valid = con.get("skip_validation", False)
    if kind == "CONSTR_FOREIGN":  # triggers on both tables: SHARE ROW EXCLUSIVE on both
        acc.lock(acc.table, SRE)
        acc.lock(relation_name(con.get("pktable")), SRE)
        if not not_valid:
            acc.scan = True
            acc.note("FOREIGN KEY validation scans the table; use NOT VALID then VALIDATE CONSTRAINT")
    elif kind in ("CONSTR_PRIMARY", "CONSTR_UNIQUE", "CONSTR_EXCLUSION"):
        acc.lock(acc.table, AEL)
        if con.get("indexname"):  # ... USING INDEX: the index exists already
            if kind == "CONSTR_PRIMARY":
                acc.scan = True
                acc.note("PRIMARY KEY USING INDEX scans to set NOT NULL unless the key "
                         "columns are already NOT NULL")
        else:
            acc.scan = True  # builds the index (SHARE, under the ACCESS EXCLUSIVE)
            acc.note("builds an index under ACCESS EXCLUSIVE; use CREATE UNIQUE INDEX "
                     "CONCURRENTLY then ADD CONSTRAINT ... USING INDEX")
    else:  # CHECK, NOT NULL (PG18 syntax) and anything else: ACCESS EXCLUSIVE
        acc.lock(acc.table, AEL)
        if not not_valid:
            acc.scan = True


def _set_not_null(acc: _Acc, cmd: dict) -> None:
    acc.lock(acc.table, AEL)
    acc.scan = True
    if acc.pg >= 12:
        acc.note("SET NOT NULL skips the scan when a valid CHECK (col IS NOT NULL) exists")


def _validate(acc: _Acc, cmd: dict) -> None:
    acc.lock(acc.table, SUE)
    acc.scan = True
    acc.note("VALIDATE of a foreign key also reads the referenced table (ROW SHARE)")


def _drop_constraint(acc: _Acc, cmd: dict) -> None:
    acc.lock(acc.table, AEL)
    acc.note("dropping a foreign key also takes ACCESS EXCLUSIVE on the referenced table")


def _rewrite_ael(acc: _Acc, cmd: dict) -> None:
    acc.lock(acc.table, AEL)
    acc.rewrites()


def _set_tablespace(acc: _Acc, cmd: dict) -> None:
    acc.lock(acc.table, AEL)
    acc.rewrite = True  # copies the files (no row-by-row scan) to the new tablespace
    acc.note("SET TABLESPACE copies every file of the relation under ACCESS EXCLUSIVE")


def _attach_partition(acc: _Acc, cmd: dict) -> None:
    part = relation_name(cmd["def"]["PartitionCmd"].get("name"))
    acc.lock(acc.table, SUE if acc.pg >= 12 else AEL)
    acc.lock(part, AEL)
    if acc.objtype == "OBJECT_INDEX":  # ALTER INDEX ... ATTACH PARTITION: catalog only
        return
    acc.scan = True
    acc.note("ATTACH PARTITION scans the partition unless a CHECK constraint implies the "
             "bound; a DEFAULT partition is scanned and ACCESS EXCLUSIVE locked too")


def _detach_partition(acc: _Acc, cmd: dict) -> None:
    pc = cmd["def"]["PartitionCmd"]
    part = relation_name(pc.get("name"))
    if pc.get("concurrent"):
        # Measured: SHARE UPDATE EXCLUSIVE on both in a first transaction, then
        # ACCESS EXCLUSIVE on the partition in a second one.
        acc.lock(acc.table, SUE)
        acc.lock(part, AEL)
        acc.transactional = False
        if acc.pg < 14:
            acc.note("DETACH PARTITION CONCURRENTLY needs PostgreSQL 14+")
    else:
        acc.lock(acc.table, AEL)
        acc.lock(part, AEL)


def _detach_finalize(acc: _Acc, cmd: dict) -> None:  # not measured: needs an interrupted detach
    acc.lock(acc.table, SUE)
    acc.lock(relation_name(cmd["def"]["PartitionCmd"].get("name")), AEL)


def _set_reloptions(acc: _Acc, cmd: dict) -> None:
    # AlterTableGetRelOptionsLockLevel: storage/vacuum knobs take SHARE UPDATE
    # EXCLUSIVE, anything else (view options, unknown) ACCESS EXCLUSIVE.
    opts = [d["DefElem"] for d in _walk_list(cmd.get("def"))]
    weak = all(o.get("defnamespace") == "toast" or o["defname"] in _SUE_RELOPTIONS for o in opts)
    acc.lock(acc.table, SUE if opts and weak else AEL)


def _walk_list(d) -> list:
    if isinstance(d, dict) and "List" in d:
        return [i for i in d["List"].get("items") or () if "DefElem" in i]
    return [i for i in d or () if isinstance(i, dict) and "DefElem" in i]


_SUE_RELOPTIONS = frozenset({
    "fillfactor", "toast_tuple_target", "parallel_workers", "vacuum_index_cleanup",
    "vacuum_truncate", "log_autovacuum_min_duration", "autovacuum_enabled",
    "autovacuum_vacuum_threshold", "autovacuum_vacuum_insert_threshold",
    "autovacuum_vacuum_scale_factor", "autovacuum_vacuum_insert_scale_factor",
    "autovacuum_analyze_threshold", "autovacuum_analyze_scale_factor",
    "autovacuum_vacuum_cost_delay", "autovacuum_vacuum_cost_limit",
    "autovacuum_freeze_min_age", "autovacuum_freeze_max_age", "autovacuum_freeze_table_age",
    "autovacuum_multixact_freeze_min_age", "autovacuum_multixact_freeze_max_age",
    "autovacuum_multixact_freeze_table_age",
})


def _mode(mode: str) -> Callable[[_Acc, dict], None]:
    def handler(acc: _Acc, cmd: dict) -> None:
        acc.lock(acc.table, mode)
    return handler


def _inherit(acc: _Acc, cmd: dict) -> None:
    acc.lock(acc.table, AEL)
    acc.lock(relation_name(cmd.get("def")), SUE)


_ACCESS_EXCLUSIVE = _mode(AEL)

# AlterTableCmd.subtype -> handler, after AlterTableGetLockLevel() in PostgreSQL 15.
# Subtypes not listed take ACCESS EXCLUSIVE (PostgreSQL's default for ALTER TABLE).
_ALTER_CMDS: dict[str, Callable[[_Acc, dict], None]] = {
    "AT_AddColumn": _add_column,
    "AT_AddColumnToView": _add_column,
    "AT_AlterColumnType": _alter_column_type,
    "AT_ColumnDefault": _ACCESS_EXCLUSIVE,  # SET / DROP DEFAULT: catalog only
    "AT_DropNotNull": _ACCESS_EXCLUSIVE,
    "AT_SetNotNull": _set_not_null,
    "AT_DropColumn": _ACCESS_EXCLUSIVE,  # catalog only, the data stays until rewritten
    "AT_AddConstraint": _add_constraint,
    "AT_ValidateConstraint": _validate,
    "AT_DropConstraint": _drop_constraint,
    "AT_SetLogged": _rewrite_ael,
    "AT_SetUnLogged": _rewrite_ael,
    "AT_SetAccessMethod": _rewrite_ael,
    "AT_SetExpression": _rewrite_ael,  # PG17: recomputes a stored generated column
    "AT_SetTableSpace": _set_tablespace,
    "AT_AttachPartition": _attach_partition,
    "AT_DetachPartition": _detach_partition,
    "AT_DetachPartitionFinalize": _detach_finalize,
    "AT_SetRelOptions": _set_reloptions,
    "AT_ResetRelOptions": _set_reloptions,
    "AT_AddInherit": _inherit,
    "AT_DropInherit": _inherit,
    # planner/maintenance settings: SHARE UPDATE EXCLUSIVE
    "AT_SetStatistics": _mode(SUE),
    "AT_SetOptions": _mode(SUE),
    "AT_ResetOptions": _mode(SUE),
    "AT_ClusterOn": _mode(SUE),
    "AT_DropCluster": _mode(SUE),
    # ENABLE / DISABLE TRIGGER: writes only
    "AT_EnableTrig": _mode(SRE),
    "AT_EnableAlwaysTrig": _mode(SRE),
    "AT_EnableReplicaTrig": _mode(SRE),
    "AT_EnableTrigAll": _mode(SRE),
    "AT_EnableTrigUser": _mode(SRE),
    "AT_DisableTrig": _mode(SRE),
    "AT_DisableTrigAll": _mode(SRE),
    "AT_DisableTrigUser": _mode(SRE),
}


# --------------------------------------------------------------- statement handlers

def _alter_table(acc: _Acc, s: dict) -> None:
    if s.get("objtype") == "OBJECT_TYPE":  # ALTER TYPE composite ... ATTRIBUTE
        return
    acc.table, acc.objtype = relation_name(s.get("relation")), s.get("objtype")
    acc.lock(acc.table, AS)  # placeholder keeps the main table first; raised below
    for c in s.get("cmds") or ():
        cmd = c["AlterTableCmd"]
        _ALTER_CMDS.get(cmd["subtype"], _ACCESS_EXCLUSIVE)(acc, cmd)


def _create_index(acc: _Acc, s: dict) -> None:
    table = relation_name(s.get("relation"))
    acc.scan = True
    if s.get("concurrent"):
        acc.lock(table, SUE)
        acc.transactional = False
        acc.note("CREATE INDEX CONCURRENTLY: a failure leaves an INVALID index to drop")
        if acc.pg == 14:
            acc.note("PostgreSQL 14.0-14.3 can corrupt indexes built CONCURRENTLY: upgrade to 14.4+")
    else:
        acc.lock(table, SHARE)
        acc.note("CREATE INDEX blocks writes for the whole build; use CONCURRENTLY")


def _reindex(acc: _Acc, s: dict) -> None:
    kind = s.get("kind", "")
    concurrent = option_on(s.get("params"), "concurrently")
    rel = relation_name(s.get("relation"))
    if concurrent:
        acc.transactional = False
        if acc.pg < 12:
            acc.note("REINDEX CONCURRENTLY needs PostgreSQL 12+")
    if kind == "REINDEX_OBJECT_INDEX":
        # The index is reported; its table (unknown from the SQL) gets SHARE,
        # or SHARE UPDATE EXCLUSIVE when CONCURRENTLY.
        acc.lock(rel, SUE if concurrent else AEL)
        acc.rewrites()  # the index gets new storage (CONCURRENTLY: a new index swapped in)
        acc.note("REINDEX INDEX also locks the index's table "
                 + ("SHARE UPDATE EXCLUSIVE" if concurrent else "SHARE (blocks writes)"))
    elif kind == "REINDEX_OBJECT_TABLE":
        acc.lock(rel, SUE if concurrent else SHARE)
        acc.scan = True
        acc.note("REINDEX TABLE rebuilds every index of the table"
                 + ("" if concurrent else " (each locked ACCESS EXCLUSIVE: reads using them block)"))
    else:  # SCHEMA / DATABASE / SYSTEM: every table, cannot run in a transaction
        acc.transactional = False
        acc.note(f"{kind.replace('REINDEX_OBJECT_', 'REINDEX ')} locks every table it reindexes")


def _drop(acc: _Acc, s: dict) -> None:
    kind = s.get("removeType")
    names = [object_parts(o) for o in s.get("objects") or ()]
    if kind in ("OBJECT_TABLE", "OBJECT_VIEW", "OBJECT_MATVIEW", "OBJECT_FOREIGN_TABLE"):
        for n in names:
            acc.lock(dotted(n), AEL)
        if kind == "OBJECT_TABLE":
            acc.note("DROP TABLE also takes ACCESS EXCLUSIVE on every table its foreign keys reference")
    elif kind == "OBJECT_INDEX":
        concurrent = bool(s.get("concurrent"))
        for n in names:  # the index is reported; its table is unknown from the SQL
            acc.lock(dotted(n), SUE if concurrent else AEL)
        acc.transactional = not concurrent
        acc.note("DROP INDEX takes the same lock on the index's table ("
                 + ("SHARE UPDATE EXCLUSIVE" if concurrent else "ACCESS EXCLUSIVE") + ")")
    elif kind in ("OBJECT_TRIGGER", "OBJECT_POLICY", "OBJECT_RULE"):
        for n in names:  # [schema.]table.name
            acc.lock(dotted(n[:-1]), AEL)
    if s.get("behavior") == "DROP_CASCADE":
        acc.note("CASCADE also drops (and locks) dependent objects")


def _create_table(acc: _Acc, s: dict) -> None:
    acc.lock(relation_name(s.get("relation")), AEL)  # the new, invisible table
    parents = [relation_name(r) for r in s.get("inhRelations") or ()]
    for p in parents:  # PARTITION OF changes the parent's partition descriptor
        acc.lock(p, AEL if s.get("partbound") else SUE)
    for elt in s.get("tableElts") or ():
        if "TableLikeClause" in elt:
            acc.lock(relation_name(elt["TableLikeClause"].get("relation")), AS)
    for con in _walk(s.get("tableElts"), "Constraint"):
        if con.get("contype") == "CONSTR_FOREIGN":
            acc.lock(relation_name(con.get("pktable")), SRE)
    if s.get("partbound"):
        acc.note("CREATE TABLE ... PARTITION OF takes ACCESS EXCLUSIVE on the parent; "
                 "CREATE TABLE then ATTACH PARTITION takes only SHARE UPDATE EXCLUSIVE")


def _create_table_as(acc: _Acc, s: dict) -> None:
    acc.lock(relation_name(s.get("into", {}).get("rel")), AEL)
    _read_query(acc, s.get("query"))


def _create_view(acc: _Acc, s: dict) -> None:
    acc.lock(relation_name(s.get("view")), AEL)
    _read_query(acc, s.get("query"))


def _alter_enum(acc: _Acc, s: dict) -> None:
    if s.get("newVal") and not s.get("oldVal"):  # ADD VALUE (not RENAME VALUE)
        if acc.pg < 12:
            acc.transactional = False
        else:
            acc.note("a value added by ALTER TYPE ... ADD VALUE cannot be used until the "
                     "transaction commits")


def _create_trigger(acc: _Acc, s: dict) -> None:
    acc.lock(relation_name(s.get("relation")), SRE)


def _refresh_matview(acc: _Acc, s: dict) -> None:
    view = relation_name(s.get("relation"))
    acc.scan = True
    if s.get("concurrent"):
        acc.lock(view, EXCL)  # reads go on; the view is updated row by row
        acc.note("REFRESH ... CONCURRENTLY needs a unique index on the view")
    else:
        acc.lock(view, AEL)
        acc.rewrites()
    acc.note("the view's query runs while the lock is held (ACCESS SHARE on its tables)")


def _truncate(acc: _Acc, s: dict) -> None:
    for r in s.get("relations") or ():
        acc.lock(relation_name(r), AEL)
    acc.rewrite = True
    acc.note("TRUNCATE swaps in new, empty storage: instant, every row is gone")
    if s.get("behavior") == "DROP_CASCADE":
        acc.note("CASCADE also truncates every table with a foreign key to it")


def _vacuum(acc: _Acc, s: dict) -> None:
    rels = [relation_name(v["VacuumRelation"].get("relation")) for v in s.get("rels") or ()]
    if not s.get("is_vacuumcmd"):  # ANALYZE: samples the table, allowed in a transaction
        for r in rels:
            acc.lock(r, SUE)
    else:
        acc.transactional = False
        full = option_on(s.get("options"), "full")
        for r in rels:
            acc.lock(r, AEL if full else SUE)
        if full and rels:
            acc.rewrites()
    if not rels:
        acc.note("without a table list it processes every table of the database")


def _cluster(acc: _Acc, s: dict) -> None:
    rel = relation_name(s.get("relation"))
    if rel:
        acc.lock(rel, AEL)
        acc.rewrites()
    else:
        acc.transactional = False
        acc.note("CLUSTER without a table re-clusters every previously clustered table")


def _lock_table(acc: _Acc, s: dict) -> None:
    mode = LOCK_MODES[int(s.get("mode", 8)) - 1]  # LOCKMODE 1..8
    for r in s.get("relations") or ():
        acc.lock(relation_name(r), mode)


def _dml(acc: _Acc, s: dict) -> None:
    acc.lock(relation_name(s.get("relation")), RE)
    rest = {k: v for k, v in s.items() if k != "relation"}
    _read_query(acc, rest)
    acc.note("foreign key checks on written rows lock the other table ROW SHARE")


def _select(acc: _Acc, s: dict) -> None:
    into = s.get("intoClause")
    if into:  # SELECT ... INTO new_table
        acc.lock(relation_name(into.get("rel")), AEL)
    _read_query(acc, {"SelectStmt": s})


def _copy(acc: _Acc, s: dict) -> None:
    if s.get("relation"):
        acc.lock(relation_name(s["relation"]), RE if s.get("is_from") else AS)
    if s.get("query"):
        _dispatch(acc, s["query"])


def _explain(acc: _Acc, s: dict) -> None:
    _dispatch(acc, s["query"])  # plans (and with ANALYZE runs) the query: same locks


def _comment(acc: _Acc, s: dict) -> None:
    # COMMENT / SECURITY LABEL on a relation or one of its parts: SHARE UPDATE EXCLUSIVE
    kind = s.get("objtype")
    obj = object_parts(s.get("object") or {})
    if kind in _RELATION_KINDS:
        acc.lock(dotted(obj), SUE)
    elif kind in ("OBJECT_COLUMN", "OBJECT_TABCONSTRAINT", "OBJECT_TRIGGER", "OBJECT_POLICY",
                  "OBJECT_RULE"):
        acc.lock(dotted(obj[:-1]), SUE)


_RELATION_KINDS = frozenset({"OBJECT_TABLE", "OBJECT_INDEX", "OBJECT_VIEW", "OBJECT_MATVIEW",
                             "OBJECT_SEQUENCE", "OBJECT_FOREIGN_TABLE"})


def _rename(acc: _Acc, s: dict) -> None:
    kind = s.get("renameType")
    rel = relation_name(s.get("relation"))
    if kind == "OBJECT_INDEX":
        acc.lock(rel, SUE if acc.pg >= 12 else AEL)
    elif kind in _RELATION_KINDS or kind in ("OBJECT_COLUMN", "OBJECT_TABCONSTRAINT",
                                             "OBJECT_TRIGGER", "OBJECT_POLICY", "OBJECT_RULE"):
        acc.lock(rel, AEL)
        if kind in ("OBJECT_TABLE", "OBJECT_COLUMN", "OBJECT_VIEW", "OBJECT_MATVIEW"):
            acc.note("the rename is instant but breaks running code that uses the old name")
    # other renames (type, schema, function...) lock no table


def _set_schema(acc: _Acc, s: dict) -> None:
    if s.get("objectType") in _RELATION_KINDS:
        acc.lock(relation_name(s.get("relation")), AEL)


def _on_table(mode: str, field: str = "relation") -> Callable[[_Acc, dict], None]:
    def handler(acc: _Acc, s: dict) -> None:
        acc.lock(relation_name(s.get(field)), mode)
    return handler


def _create_stats(acc: _Acc, s: dict) -> None:
    for r in s.get("relations") or ():
        acc.lock(relation_name(r), SUE)


def _alter_seq(acc: _Acc, s: dict) -> None:
    acc.lock(relation_name(s.get("sequence")), SRE)


def _not_transactional(acc: _Acc, s: dict) -> None:
    acc.transactional = False


def _runs_code(acc: _Acc, s: dict) -> None:
    acc.note("runs procedural code: the locks it takes are not known")


def _create_extension(acc: _Acc, s: dict) -> None:
    acc.note("CREATE EXTENSION runs the extension's script, which may create or alter tables")


def _alter_domain(acc: _Acc, s: dict) -> None:
    not_valid = (s.get("def") or {}).get("Constraint", {}).get("skip_validation")
    if s.get("subtype") in ("C", "N", "V") and not not_valid:  # ADD CONSTRAINT / SET NOT NULL / VALIDATE
        acc.scan = True
        acc.note("checks every column of this domain in every table (SHARE lock on each)")


def _nothing(acc: _Acc, s: dict) -> None:
    """Statements that take no table lock."""


_HANDLERS: dict[str, Callable[[_Acc, dict], None]] = {
    "AlterTableStmt": _alter_table,
    "IndexStmt": _create_index,
    "ReindexStmt": _reindex,
    "DropStmt": _drop,
    "RenameStmt": _rename,
    "CreateStmt": _create_table,
    "CreateTableAsStmt": _create_table_as,
    "ViewStmt": _create_view,
    "AlterEnumStmt": _alter_enum,
    "CreateTrigStmt": _create_trigger,
    "RefreshMatViewStmt": _refresh_matview,
    "TruncateStmt": _truncate,
    "VacuumStmt": _vacuum,
    "ClusterStmt": _cluster,
    "LockStmt": _lock_table,
    "InsertStmt": _dml,
    "UpdateStmt": _dml,
    "DeleteStmt": _dml,
    "MergeStmt": _dml,
    "SelectStmt": _select,
    "CopyStmt": _copy,
    "ExplainStmt": _explain,
    "CommentStmt": _comment,
    "SecLabelStmt": _comment,
    "AlterObjectSchemaStmt": _set_schema,
    "CreatePolicyStmt": _on_table(AEL, "table"),
    "AlterPolicyStmt": _on_table(AEL, "table"),
    "RuleStmt": _on_table(AEL),
    "CreateStatsStmt": _create_stats,
    "AlterSeqStmt": _alter_seq,
    "CreateExtensionStmt": _create_extension,
    "AlterDomainStmt": _alter_domain,
    "DoStmt": _runs_code,
    "CallStmt": _runs_code,
    # cannot run inside a transaction block, no table lock
    "CreatedbStmt": _not_transactional,
    "DropdbStmt": _not_transactional,
    "AlterSystemStmt": _not_transactional,
    "CreateTableSpaceStmt": _not_transactional,
    "DropTableSpaceStmt": _not_transactional,
    # no table lock
    **dict.fromkeys((
        "VariableSetStmt", "VariableShowStmt", "TransactionStmt", "GrantStmt", "GrantRoleStmt",
        "AlterDefaultPrivilegesStmt", "CreateEnumStmt", "CompositeTypeStmt",
        "CreateDomainStmt", "CreateRangeStmt", "DefineStmt", "CreateSchemaStmt",
        "CreateSeqStmt", "CreateFunctionStmt", "AlterFunctionStmt", "CreateRoleStmt",
        "AlterRoleStmt", "DropRoleStmt", "AlterOwnerStmt", "AlterExtensionStmt",
        "AlterExtensionContentsStmt", "CreateCastStmt", "CreateConversionStmt",
        "NotifyStmt", "ListenStmt", "UnlistenStmt", "CheckPointStmt", "DiscardStmt",
        "ConstraintsSetStmt", "CreatePLangStmt", "AlterDatabaseSetStmt",
        "AlterTSDictionaryStmt", "AlterTSConfigurationStmt", "CreateOpClassStmt",
        "CreateOpFamilyStmt", "AlterOpFamilyStmt", "AlterCollationStmt",
        "CreateEventTrigStmt", "AlterEventTrigStmt", "AlterTypeStmt",
    ), _nothing),
}

# The statement kinds whose handler may say transactional=False: the rule non-transactional-in-transaction
# looks only at these (tests/test_rule_kinds.py checks that no other kind of statement is refused).
MAY_BE_NON_TRANSACTIONAL = frozenset(
    {kind for kind, handler in _HANDLERS.items() if handler is _not_transactional}
    | {"IndexStmt", "ReindexStmt", "DropStmt", "AlterTableStmt", "AlterEnumStmt", "VacuumStmt", "ClusterStmt"})


def _dispatch(acc: _Acc, node: dict) -> None:
    kind, body = _unwrap(node)
    handler = _HANDLERS.get(kind)
    if handler is None:
        acc.note(f"{kind} is not modelled: its locks are unknown")
        return
    handler(acc, body)


def lock_effect(node: dict, pg_version: int = 15, *,
                column_type: ColumnType | None = None) -> LockEffect:
    """Lock, rewrite and scan effect of one parsed statement on PostgreSQL ``pg_version``.

    ``node`` is one ``stmt`` of ``json.loads(pglast.parser.parse_sql_json(sql))``.
    ``column_type(table, column)``, optional, returns the current SQL type of a column
    (e.g. ``"varchar(20)"``) or None; it only refines ALTER COLUMN TYPE.
    """
    kind = next(iter(node), None)
    handler = _HANDLERS.get(kind)
    if handler is _nothing:
        return _NO_EFFECT  # BEGIN, COMMIT, SET ...: half the statements of an `alembic upgrade --sql` file
    acc = _Acc(int(pg_version), column_type)
    if handler is not None and len(node) == 1:
        handler(acc, node[kind] or {})  # a statement's own {kind: body}: _dispatch() without unwrapping
    else:
        _dispatch(acc, node)
    return acc.effect()
