"""Schema state within one upgrade run: what the run itself created is new, and exempt from lock rules."""

from __future__ import annotations

from dataclasses import dataclass, field

from linters.sql import Statement, relation_name


@dataclass
class RunState:
    pg_version: int = 15
    created_tables: set[str] = field(default_factory=set)

    def is_new(self, table: str | None) -> bool:
        return table is not None and table in self.created_tables

    def apply(self, stmt: Statement) -> None:
        """Record what `stmt` did to the schema, after the rules have looked at it."""
        body = stmt.body
        if stmt.kind in ("CreateStmt", "CreateTableAsStmt"):
            target = body.get("relation") or body.get("into", {}).get("IntoClause", body.get("into", {})).get("rel")
            if name := relation_name(target):
                self.created_tables.add(name)
        elif stmt.kind == "DropStmt" and body.get("removeType") == "OBJECT_TABLE":
            for obj in body.get("objects", []):
                names = [item["String"]["sval"] for item in obj.get("List", {}).get("items", []) if "String" in item]
                if names:
                    self.created_tables.discard(".".join(n for n in names if n != "public"))
        elif stmt.kind == "RenameStmt" and body.get("renameType") == "OBJECT_TABLE":
            old = relation_name(body.get("relation"))
            if old in self.created_tables:
                self.created_tables.discard(old)
                self.created_tables.add(body.get("newname"))
