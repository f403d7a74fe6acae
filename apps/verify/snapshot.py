"""The snapshot a verify run compares at: end offsets per topic, and the events after them.

A live pipeline never stands still, so verify fixes a cut: the source topics' end offsets
(``take``), taken in the order given (orders before users and products: an order is published
after its user and product, so both are inside the cut when the order is). It then waits, bounded,
until every consumer group has committed past the cut (``wait_applied``): from then on every
event inside the cut is in PostgreSQL. Dead-letter topics are cut *after* that wait, so every
dead letter of a message inside the cut is inside theirs.

A row may still be newer than the cut: ``after(topic)`` reads the events past the cut (up to the
end offsets of the moment it is called), which is where such a row's version must come from.
Call it after reading the rows: an event applied before the rows were read was produced before,
so it lies below the new end offsets.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from confluent_kafka import Message

from common.settings import KafkaSettings
from kafka.offsets import partition_offsets, read_range, topic_exists


@dataclass
class Snapshot:
    """End (and earliest) offsets per topic and partition, and when they were taken."""

    kafka: KafkaSettings
    ends: dict[str, dict[int, int]] = field(default_factory=dict)
    lows: dict[str, dict[int, int]] = field(default_factory=dict)
    taken_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    _after: dict[str, list[Message]] = field(default_factory=dict)

    def take(self, topics: Iterable[str]) -> None:
        """Add the end offsets of ``topics`` now (a topic that does not exist is empty)."""
        for topic in topics:
            offsets = partition_offsets(self.kafka, topic) if topic_exists(self.kafka, topic) else []
            self.ends[topic] = {p.partition: p.high for p in offsets}
            self.lows[topic] = {p.partition: p.low for p in offsets}

    def inside(self, topic: str, partition: int, offset: int) -> bool:
        """Whether a message is inside the cut."""
        return offset < self.ends.get(topic, {}).get(partition, 0)

    def lag(self, topic: str, group_id: str) -> int:
        """Messages inside the cut that ``group_id`` has not committed yet."""
        committed = {p.partition: p.committed for p in partition_offsets(self.kafka, topic, group_id)}
        lows = self.lows.get(topic, {})
        return sum(
            max(0, end - max(committed.get(p) or 0, lows.get(p, 0))) for p, end in self.ends.get(topic, {}).items()
        )

    def wait_applied(self, groups: dict[str, str], wait_s: float, interval_s: float = 0.5) -> dict[str, int]:
        """Wait until every group (``topic -> group``) committed past the cut; the lag left per topic."""
        deadline = time.monotonic() + wait_s
        while True:
            lags = {topic: self.lag(topic, group) for topic, group in groups.items()}
            if not any(lags.values()) or time.monotonic() >= deadline:
                return lags
            time.sleep(interval_s)

    def after(self, topic: str) -> list[Message]:
        """The messages of ``topic`` past the cut, up to its end offsets now (read once, then kept)."""
        if topic not in self._after:
            now = {p.partition: p.high for p in partition_offsets(self.kafka, topic)}
            self._after[topic] = list(read_range(self.kafka, topic, self.ends.get(topic, {}), now))
        return self._after[topic]
