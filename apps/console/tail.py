"""Follow a topic live: every message written after the tail started, filtered, as it arrives.

A ``Follower`` assigns every partition at its end offset (read explicitly, so a message written
once ``open`` returned is never missed), without group membership or commits, and hands out
rendered messages from ``poll``. ``poll`` runs in a worker thread; ``close`` waits for a poll in
flight, so the client is never closed under it.
"""

from __future__ import annotations

import threading
from typing import Any

from confluent_kafka import TopicPartition

from apps.console.errors import kafka_errors
from apps.console.message_filter import MessageFilter
from apps.console.message_reader import MessageReader, render


class Follower:
    """One live tail; ``open`` before ``poll``, ``close`` exactly once."""

    def __init__(self, reader: MessageReader, topic: str, where: MessageFilter) -> None:
        self.topic, self.where = topic, where
        self.consumer = reader._consumer()  # noqa: SLF001 - the reader owns the client settings
        self.reader = reader
        self.partitions: dict[int, int] = {}
        self._lock = threading.Lock()
        self._closed = False

    def open(self) -> dict[int, int]:
        """Start at the end of every partition; the start offsets. ``NotFound`` for a missing topic."""
        with self._lock, kafka_errors(f"tailing {self.topic}"):
            marks = self.reader._windows(self.consumer, self.topic, None)  # noqa: SLF001
            self.partitions = {p: high for p, (_, high) in marks.items()}
            self.consumer.assign([TopicPartition(self.topic, p, high) for p, high in self.partitions.items()])
        return self.partitions

    def poll(self, timeout_s: float = 0.5, max_messages: int = 500) -> list[dict[str, Any]]:
        """Messages that arrived since the last poll and match the filter, oldest first."""
        with self._lock:
            if self._closed:
                return []
            with kafka_errors(f"tailing {self.topic}"):
                batch = self.consumer.consume(max_messages, timeout_s)
        return [render(m) for m in batch if m.error() is None and self.where.matches(m)]

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self.consumer.close()
