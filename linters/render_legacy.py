"""SQLAlchemy 1.x spellings that 2.0 removed, accepted in the render child so that old revisions of a
long history still render with our SQLAlchemy 2 (the project's own interpreter, `--python`, has 1.x):

- `MetaData(bind=conn)`: the bind is kept as `metadata.bind`, as 1.x did;
- `Table("queries", metadata, autoload=True)`: reflected with the metadata's bind (`autoload_with`);
- `select([col, ...])`: `select(col, ...)`.

Each keeps its 1.x meaning; nothing is accepted that 1.x would have refused. Under SQLAlchemy 1.4
these spellings exist already and nothing is changed.

Runs inside the render child: only the standard library, alembic and SQLAlchemy here.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.sql.selectable import Select


def install() -> None:
    if sa.__version__.split(".")[0] in ("0", "1") or getattr(sa.MetaData, "_ar_legacy", False):
        return
    metadata_init = sa.MetaData.__init__

    def metadata(self, *args, bind=None, **kw):
        metadata_init(self, *args, **kw)
        if bind is not None:
            self.bind = bind
    sa.MetaData.__init__ = metadata
    sa.MetaData._ar_legacy = True

    table_new = sa.Table._new.__func__

    def table(cls, *args, **kw):
        if kw.pop("autoload", False) and kw.get("autoload_with") is None and len(args) > 1:
            bound = getattr(args[1], "bind", None)
            if bound is not None:
                kw["autoload_with"] = bound
        return table_new(cls, *args, **kw)
    sa.Table._new = classmethod(table)
    table_init = sa.Table.__init__

    def table_again(self, *args, **kw):  # Python calls __init__ again with Table()'s own arguments
        kw.pop("autoload", None)
        table_init(self, *args, **kw)
    sa.Table.__init__ = table_again

    select_init = Select.__init__

    def select(self, *entities, **kw):
        if len(entities) == 1 and isinstance(entities[0], (list, tuple)):
            entities = tuple(entities[0])
        select_init(self, *entities, **kw)
    Select.__init__ = select
