"""Browse a topic's messages by partition and offset or newest first, and search them with a filter.

Each request uses a short-lived consumer with ``assign()`` (no group membership, never
commits), reads a bounded window per partition up to the end offset taken at the start, and
stops at a deadline, so a huge topic or a dead leader costs at most a few seconds.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from typing import Any

from confluent_kafka import Consumer, KafkaError, Message, TopicPartition

from apps.console.errors import NotFound, kafka_errors
from apps.console.message_filter import MessageFilter
from common.settings import KafkaSettings
from kafka import clients
from kafka.offsets import watermarks

MAX_LIMIT = 500


def _text(raw: bytes | None) -> str | None:
    return None if raw is None else raw.decode("utf-8", errors="replace")


def render(message: Message) -> dict[str, Any]:
    """A message as JSON: key, headers and value as text, and the value parsed when it is JSON."""
    value_text = _text(message.value())
    try:
        value = json.loads(value_text) if value_text is not None else None
    except ValueError:
        value = None
    ts_type, ts = message.timestamp()
    return {
        "topic": message.topic(),
        "partition": message.partition(),
        "offset": message.offset(),
        "timestamp": ts if ts_type else None,
        "key": _text(message.key()),
        "headers": [[k, _text(v)] for k, v in message.headers() or []],
        "value": value,
        "value_text": None if value is not None else value_text,
        "value_bytes": len(message.value() or b""),
    }


class MessageReader:
    """Read windows of messages; one consumer per request, closed before returning."""

    def __init__(self, settings: KafkaSettings, timeout_s: float = 4.0) -> None:
        self.settings = settings
        self.timeout_s = timeout_s

    def _consumer(self) -> Consumer:
        return clients.plain_consumer(
            self.settings,
            "kafka-ui-browser",
            {
                "group.id": f"kafka-ui-browser-{uuid.uuid4().hex[:8]}",  # never joined, never committed
                "enable.auto.commit": False,
                "enable.partition.eof": True,
                "socket.connection.setup.timeout.ms": int(self.timeout_s * 1000),
                "logger": logging.getLogger("apps.console.librdkafka"),
            },
        )

    def _windows(self, consumer: Consumer, topic: str, partition: int | None) -> dict[int, tuple[int, int]]:
        metadata = consumer.list_topics(topic, timeout=self.timeout_s).topics.get(topic)
        if metadata is None or metadata.error is not None:
            raise NotFound(f"topic {topic!r} does not exist")
        if partition is not None and partition not in metadata.partitions:
            raise NotFound(f"topic {topic!r} has no partition {partition}")
        chosen = [partition] if partition is not None else sorted(metadata.partitions)
        return {p: watermarks(consumer, TopicPartition(topic, p), self.timeout_s) for p in chosen}

    def _read(self, consumer: Consumer, topic: str, ranges: dict[int, tuple[int, int]]) -> list[Message]:
        """Messages in [start, end) of each partition, until every range is done or the deadline."""
        todo = {p: r for p, r in ranges.items() if r[0] < r[1]}
        if not todo:
            return []
        consumer.assign([TopicPartition(topic, p, start) for p, (start, _) in todo.items()])
        found: list[Message] = []
        deadline = time.monotonic() + self.timeout_s
        while todo and time.monotonic() < deadline:
            for message in consumer.consume(1_000, 0.2):
                p = message.partition()
                if message.error() is not None:
                    if message.error().code() == KafkaError._PARTITION_EOF:
                        todo.pop(p, None)
                    continue
                if p in todo and message.offset() < todo[p][1]:
                    found.append(message)
                if p in todo and message.offset() >= todo[p][1] - 1:
                    del todo[p]
        return found

    def browse(
        self, topic: str, partition: int | None = None, offset: int | None = None, limit: int = 20, newest: bool = True
    ) -> dict[str, Any]:
        """Newest ``limit`` messages, or ``limit`` from ``offset`` (oldest first when no offset)."""
        limit = max(1, min(limit, MAX_LIMIT))
        consumer = self._consumer()
        try:
            with kafka_errors(f"reading {topic}"):
                marks = self._windows(consumer, topic, partition)
                if offset is None and newest:
                    ranges = {p: (max(low, high - limit), high) for p, (low, high) in marks.items()}
                else:
                    first = {p: max(low, offset or 0) for p, (low, _) in marks.items()}
                    ranges = {p: (first[p], min(high, first[p] + limit)) for p, (_, high) in marks.items()}
                messages = self._read(consumer, topic, ranges)
        finally:
            consumer.close()
        if offset is None and newest:
            messages.sort(key=lambda m: (m.timestamp()[1], m.offset()), reverse=True)
        else:
            messages.sort(key=lambda m: (m.offset(), m.partition()))
        data = [render(m) for m in messages[:limit]]
        watermarks = [{"partition": p, "start_offset": low, "end_offset": high} for p, (low, high) in marks.items()]
        return {"data": data, "count": len(data), "watermarks": watermarks}

    def search(self, topic: str, where: MessageFilter, limit: int = 20, scan: int = 5_000) -> dict[str, Any]:
        """Messages matching ``where``, newest first, among ``scan`` per partition.

        Those are the last ``scan``, or with ``since_ms`` the ``scan`` from the first offset at or
        after that time; ``scanned`` says how many were read.
        """
        consumer = self._consumer()
        try:
            with kafka_errors(f"searching {topic}"):
                marks = self._windows(consumer, topic, None)
                ranges = {p: (max(low, high - scan), high) for p, (low, high) in marks.items()}
                if where.since_ms is not None:
                    starts = self._offsets_at(consumer, topic, marks, where.since_ms)
                    ranges = {p: (starts[p], min(high, starts[p] + scan)) for p, (_, high) in marks.items()}
                messages = self._read(consumer, topic, ranges)
        finally:
            consumer.close()
        matches = [m for m in messages if where.matches(m)]
        matches.sort(key=lambda m: (m.timestamp()[1], m.offset()), reverse=True)
        data = [render(m) for m in matches[: max(1, min(limit, MAX_LIMIT))]]
        return {"data": data, "count": len(data), "scanned": len(messages)}

    def _offsets_at(self, consumer: Consumer, topic: str, marks: dict[int, tuple[int, int]], ms: int) -> dict[int, int]:
        """The first offset at or after ``ms`` per partition (the end offset when there is none)."""
        found = consumer.offsets_for_times([TopicPartition(topic, p, ms) for p in marks], timeout=self.timeout_s)
        return {tp.partition: tp.offset if tp.offset >= 0 else marks[tp.partition][1] for tp in found}
