"""The data the review pipeline passes between its stages, at the bottom of the import graph.

Only dataclasses: what a render gave (RenderResult), one rendered and parsed revision
(Reviewed), and the graphs and change set the history rules read (History). The stages that
make them (render, engine, judge, sqlrun, the rules) import them from here, never from each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from linters.sql import Chunk, ParsedRevision

if TYPE_CHECKING:  # annotations only: the sql command reads no history
    from linters.changes import Change
    from linters.history import Graph, RevisionFile


@dataclass
class RenderResult:
    path: str                      # absolute path of the revision file
    chunks: list[Chunk] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)   # {"stage", "message", "line"}
    missing: list[str] = field(default_factory=list)   # directions with no function
    directions: tuple[str, ...] = ("upgrade", "downgrade")  # the directions that were rendered
    stand_ins: dict[str, str] = field(default_factory=dict)   # what was stood in for -> why (render_standins)
    stand_ins_line: int | None = None                         # the revision's line that first needed one
    unreviewed: list[dict] = field(default_factory=list)      # {"op", "line"}: operations alembic did not know
    live_data: dict | None = None                             # {"line", "what"}: it read the database

    def error(self, stage: str, message: str, line: int | None = None) -> None:
        self.errors.append({"stage": stage, "message": message, "line": line})


@dataclass
class Reviewed:
    """One revision that was rendered and parsed."""
    file: RevisionFile
    render: RenderResult
    parsed: ParsedRevision = field(default_factory=ParsedRevision)
    operations: list[dict] | None = None  # with --all, its summary for the report, made as it arrived


@dataclass
class History:
    head: Graph
    base: Graph | None     # None when every revision counts as new (--all, or no git base)
    changes: list[Change]

    @property
    def added(self) -> set[str]:
        return {c.head.key for c in self.changes if c.status == "added"}


@dataclass(frozen=True)
class LiveTarget:
    """Live mode: where the migrations are replayed (linters/live/)."""
    database_url: str | None = None  # a scratch database created on this server
    throwaway_cluster: bool = False  # or a cluster started with this machine's initdb/pg_ctl
