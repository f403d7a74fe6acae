"""Consumer offsets in PostgreSQL: read on assignment, advanced by compare-and-set with each batch.

A batch's transaction carries a ``Checkpoint``: for every partition it read, the offset it
started from (what this member believes is stored) and the next offset after it. ``advance``
moves each partition only from that start; if another member moved it meanwhile (the partition
changed hands while this one was paused), nothing matches, ``OffsetFenced`` is raised and the
caller's transaction, rows and aggregates included, rolls back. So a batch commits once at most.
All partitions move in one statement (CTEs: stored ones by compare-and-set, never stored ones
inserted), with the batch's sums riding along, sent with its own Sync: never in a pipeline, see
``database/pipeline.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text

from database.pipeline import driver

# Each a data-modifying CTE, so the caller's (the sums) can ride in the same statement.
_MOVE = (
    "moved AS (UPDATE consumer_offsets AS o SET next_offset = m.next, updated_at = now()"
    " FROM unnest(%(partitions)s::int[], %(starts)s::bigint[], %(nexts)s::bigint[]) AS m(partition, start, next)"
    " WHERE o.group_id = %(group)s AND o.topic = %(topic)s AND o.partition = m.partition AND o.next_offset = m.start"
    " RETURNING o.partition)"
)
_CREATE = (
    "created AS (INSERT INTO consumer_offsets (group_id, topic, partition, next_offset)"
    " SELECT %(group)s, %(topic)s, p, n FROM unnest(%(fresh)s::int[], %(fresh_nexts)s::bigint[]) AS m(p, n)"
    " ON CONFLICT DO NOTHING RETURNING partition)"
)
_READ = text("SELECT partition, next_offset FROM consumer_offsets WHERE group_id = :group AND topic = :topic")


@dataclass(frozen=True)
class Move:
    """One partition of a batch: from ``start`` (None: never stored) to ``next_offset``."""

    partition: int
    start: int | None
    next_offset: int


@dataclass(frozen=True)
class Checkpoint:
    """Where a batch leaves its group's positions; written in the batch's own transaction."""

    group_id: str
    topic: str
    moves: tuple[Move, ...]


class OffsetFenced(Exception):
    """Another member moved these partitions since this batch started: the batch must not commit."""

    def __init__(self, topic: str, partitions: list[int]) -> None:
        super().__init__(f"{topic} partitions {partitions} were moved by another member; batch rolled back")
        self.topic, self.partitions = topic, partitions


def stored_offsets(conn: Connection, group_id: str, topic: str) -> dict[int, int]:
    """Partition -> next offset to read, for the partitions this group ever stored."""
    return dict(conn.execute(_READ, {"group": group_id, "topic": topic}).all())  # type: ignore[arg-type]


def advance(conn: Connection, checkpoint: Checkpoint, ctes: str = "", params: Mapping[str, Any] | None = None) -> None:
    """Compare-and-set every partition of the batch, inside the caller's transaction.

    A row being moved by another transaction is locked until that one ends; PostgreSQL then
    re-checks ``next_offset = start`` against the committed value, so two writers cannot both win.
    ``ctes`` (data-modifying, with their ``params``: the sums) run in the same statement, one round trip.
    """
    stored = [m for m in checkpoint.moves if m.start is not None]
    fresh = [m for m in checkpoint.moves if m.start is None]
    values: dict[str, Any] = {"group": checkpoint.group_id, "topic": checkpoint.topic, **(params or {})}
    parts, results = [ctes] if ctes else [], []
    if stored:
        parts.append(_MOVE)
        results.append("SELECT partition FROM moved")
        values |= {"partitions": [m.partition for m in stored], "starts": [m.start for m in stored],
                   "nexts": [m.next_offset for m in stored]}  # fmt: skip
    if fresh:
        parts.append(_CREATE)
        results.append("SELECT partition FROM created")
        values |= {"fresh": [m.partition for m in fresh], "fresh_nexts": [m.next_offset for m in fresh]}
    moved: set[int] = set()
    if parts:
        query = " UNION ALL ".join(results) or "SELECT NULL::int WHERE false"  # no partition: the sums alone
        moved = {p for (p,) in driver(conn).execute(f"WITH {', '.join(parts)} {query}", values)}
    fenced = sorted(m.partition for m in checkpoint.moves if m.partition not in moved)
    if fenced:
        raise OffsetFenced(checkpoint.topic, fenced)
