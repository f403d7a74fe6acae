"""Consumer offsets in PostgreSQL: read on assignment, advanced by compare-and-set with each batch.

A batch's transaction carries a ``Checkpoint``: for every partition it read, the offset it
started from (what this member believes is stored) and the next offset after it. ``advance``
moves each partition only from that start; if another member moved it meanwhile (the partition
changed hands while this one was paused), nothing matches, ``OffsetFenced`` is raised and the
caller's transaction, rows and aggregates included, rolls back. So a batch commits once at most.
The moves are sent in one pipeline with whatever the caller queued before (one round trip).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, text

from database.pipeline import pipeline

_UPDATE = (
    "UPDATE consumer_offsets SET next_offset = %(next)s, updated_at = now()"
    " WHERE group_id = %(group)s AND topic = %(topic)s AND partition = %(partition)s AND next_offset = %(start)s"
)
_INSERT = (
    "INSERT INTO consumer_offsets (group_id, topic, partition, next_offset)"
    " VALUES (%(group)s, %(topic)s, %(partition)s, %(next)s) ON CONFLICT DO NOTHING"
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


def advance(conn: Connection, checkpoint: Checkpoint) -> None:
    """Compare-and-set every partition of the batch, inside the caller's transaction.

    A row being moved by another transaction is locked until that one ends; PostgreSQL then
    re-checks ``next_offset = :start`` against the committed value, so two writers cannot both win.
    """
    sent = []
    with pipeline(conn) as raw:  # the block's end syncs: every rowcount is known after it
        for move in checkpoint.moves:
            params = {"group": checkpoint.group_id, "topic": checkpoint.topic, "partition": move.partition,
                      "start": move.start, "next": move.next_offset}  # fmt: skip
            sent.append((move.partition, raw.execute(_INSERT if move.start is None else _UPDATE, params)))
    fenced = [partition for partition, cursor in sent if cursor.rowcount != 1]
    if fenced:
        raise OffsetFenced(checkpoint.topic, fenced)
