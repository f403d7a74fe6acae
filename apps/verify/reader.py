"""The incremental reader, and the protocol every reconciler plugs into.

A run reads each source topic once, from the earliest position any reconciler saved up to the
snapshot's end offsets, and hands each message to every reconciler that has not seen it yet.
Then, in ONE transaction, every reconciler saves its state and the reader saves its positions:
a repeated run reads only messages published since (its cost follows new messages, not
history), and state survives retention (events deleted by Kafka stay in the saved state).

Plug-in protocol (``Reconciler``), e.g. analytics aggregates recomputed from order events::

    class RevenueFold(JsonFold):
        name = "revenue-per-minute"
        def __init__(self, orders_topic): self.sources = {orders_topic: OrderEvent}
        def fold(self, record): ...                 # update self.state (JSON-serializable)
        def compare(self, conn, snapshot): ...      # the tables vs self.state -> Findings

    verify(kafka, url, extra=[RevenueFold(ORDERS.topic)])   # ORDERS from common/entities.py

``sources`` maps topic -> schema (``None``: raw messages, e.g. a dead-letter topic); a message that
fails the schema or whose key is not its entity id is ``rejected`` (the consumer dead-letters it). ``apply``
gets every new ``Record`` up to the snapshot, in offset order per partition. ``save`` runs in the
positions' transaction. ``compare`` runs after the consumer groups committed past the snapshot;
rows written from later events can be explained with ``snapshot.after(topic)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from confluent_kafka import Message
from pydantic import BaseModel
from sqlalchemy import Connection, Engine

from apps.verify import state
from apps.verify.snapshot import Snapshot
from kafka.consumer import Rejection, decode, key_mismatch
from kafka.offsets import read_range


@dataclass(frozen=True)
class Record:
    """One message: where it is, and its event (None when the schema rejected it or none was given)."""

    topic: str
    partition: int
    offset: int
    message: Message
    event: BaseModel | None
    rejected: bool = False


@dataclass
class Findings:
    """What one reconciler's compare found: named counts (non-zero mismatches fail) and samples."""

    counts: dict[str, int] = field(default_factory=dict)
    mismatches: tuple[str, ...] = ()  # which counts are mismatches
    samples: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        for name in self.mismatches:  # every mismatch kind is reported, zero included
            self.counts.setdefault(name, 0)

    @property
    def ok(self) -> bool:
        return not any(self.counts.get(name) for name in self.mismatches)

    def note(self, kind: str, sample: str, limit: int = 5) -> None:
        """Count one finding of ``kind`` and keep the first few as samples."""
        self.counts[kind] = self.counts.get(kind, 0) + 1
        if len(self.samples) < limit:
            self.samples.append(f"{kind}: {sample}")


class Reconciler(Protocol):
    """Something that folds messages up to a snapshot and compares the result with the tables."""

    name: str
    sources: dict[str, type[BaseModel] | None]

    def load(self, conn: Connection) -> None: ...
    def apply(self, record: Record) -> None: ...
    def save(self, conn: Connection) -> None: ...
    def compare(self, conn: Connection, snapshot: Snapshot) -> Findings: ...


class JsonFold:
    """A reconciler whose whole state is one JSON document (``self.state``): implement ``fold``."""

    name: str
    sources: dict[str, type[BaseModel] | None]
    state: Any = None

    def load(self, conn: Connection) -> None:
        self.state = state.load_fold(conn, self.name)

    def apply(self, record: Record) -> None:
        self.fold(record)

    def fold(self, record: Record) -> None:
        raise NotImplementedError

    def save(self, conn: Connection) -> None:
        state.save_fold(conn, self.name, self.state)


@dataclass
class ReadStats:
    """Per topic: messages read this run, and messages that expired before anyone read them."""

    read: dict[str, int] = field(default_factory=dict)
    expired: dict[str, int] = field(default_factory=dict)


def catch_up(engine: Engine, snapshot: Snapshot, reconcilers: Sequence[Reconciler]) -> ReadStats:
    """Feed every reconciler the messages up to ``snapshot`` it has not seen; save all atomically."""
    stats = ReadStats()
    with engine.connect() as conn:
        saved = {r.name: state.load_positions(conn, r.name) for r in reconcilers}
        for r in reconcilers:
            r.load(conn)
    for topic in dict.fromkeys(t for r in reconcilers for t in r.sources):
        readers = [r for r in reconcilers if topic in r.sources]
        ends, lows = snapshot.ends.get(topic, {}), snapshot.lows.get(topic, {})
        start = {p: min(saved[r.name].get((topic, p), 0) for r in readers) for p in ends}
        stats.expired[topic] = sum(max(0, lows.get(p, 0) - s) for p, s in start.items())
        start = {p: max(s, lows.get(p, 0)) for p, s in start.items()}
        stats.read[topic] = _dispatch(snapshot, topic, start, readers, saved)
    with engine.begin() as conn:
        for r in reconcilers:
            r.save(conn)
            state.save_positions(
                conn, r.name, {(t, p): e for t in r.sources for p, e in snapshot.ends.get(t, {}).items()}
            )
    return stats


def _dispatch(snapshot: Snapshot, topic: str, start: dict[int, int], readers: list[Reconciler],
              saved: dict[str, dict[tuple[str, int], int]]) -> int:  # fmt: skip
    schema = next((r.sources[topic] for r in readers if r.sources[topic] is not None), None)
    count = 0
    for message in read_range(snapshot.kafka, topic, start, snapshot.ends.get(topic, {})):
        count += 1
        partition, offset = message.partition(), message.offset()
        event, rejected = None, False
        if schema is not None:
            decoded = decode(schema, message.value())
            # The consumer dead-letters a message keyed by anything but its entity id: so does verify.
            if isinstance(decoded, Rejection) or key_mismatch(message.key(), decoded) is not None:
                rejected = True
            else:
                event = decoded
        record = Record(topic, partition, offset, message, event, rejected)
        for r in readers:
            if offset >= saved[r.name].get((topic, partition), 0):
                r.apply(record)
    return count
