"""Recent dead letters from every ``*-dlq`` topic, with the reason headers lifted out.

The consumers' ``DeadLetterPublisher`` (kafka/dead_letter.py) adds ``error``, ``error_type``,
``original_topic``, ``original_partition``, ``original_offset``, ``consumer_group`` and
``failed_at`` headers; the page shows those next to the raw value.
"""

from __future__ import annotations

from typing import Any

from apps.console.errors import NotFound
from apps.console.kafka_admin import KafkaAdmin
from apps.console.message_reader import MessageReader
from kafka.dead_letter import REASON_HEADERS


def recent_dead_letters(admin: KafkaAdmin, reader: MessageReader, limit: int = 20) -> dict[str, Any]:
    """The newest ``limit`` dead letters over all DLQ topics, and how many each topic holds."""
    metadata = admin.metadata()
    topics = sorted(t for t in metadata.topics if t.endswith("-dlq"))
    parts = [(t, p) for t in topics for p in metadata.topics[t].partitions]
    starts, ends = admin.offsets(parts, "earliest"), admin.offsets(parts, "latest")
    totals: dict[str, int | None] = dict.fromkeys(topics, 0)
    for key in parts:
        start, end = starts.get(key), ends.get(key)
        current = totals[key[0]]
        totals[key[0]] = None if current is None or start is None or end is None else current + end - start
    letters = []
    for topic in topics:
        if not totals[topic]:
            continue
        try:
            page = reader.browse(topic, limit=limit, newest=True)
        except NotFound:  # deleted between the listing and the read
            continue
        for message in page["data"]:
            headers = dict(message["headers"])
            message["reason"] = {h: headers.get(h) for h in REASON_HEADERS}
            letters.append(message)
    letters.sort(key=lambda m: m["timestamp"] or 0, reverse=True)
    letters = letters[:limit]
    return {
        "data": letters,
        "count": len(letters),
        "topics": [{"topic": t, "messages": totals[t]} for t in topics],
    }
