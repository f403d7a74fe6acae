"""How long until an event can be fetched: the Kafka share of the realtime end-to-end latency.

An event's end-to-end latency is the producer's linger and send, replication to the in-sync
replicas (a consumer sees a message only once the high watermark passes it), the fetch, then
the consumer's decode and its PostgreSQL transaction. This probe reads the same topics with the
consumers' own fetch settings (``consumer_config``: read_committed, fetch.min.bytes,
fetch.wait.max.ms), in its own group from the end, and records for every message the moment it
arrived minus its ``produced_at``. End to end minus this is what the consumer and PostgreSQL add.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime

from confluent_kafka import OFFSET_END, TopicPartition

from common.settings import KafkaSettings
from kafka import clients
from kafka.fetch import take


class FetchProbe:
    """A thread that times every new message of ``topics`` from ``produced_at`` to its arrival."""

    def __init__(self, kafka: KafkaSettings, topics: Iterable[str]) -> None:
        self.topics = list(topics)
        self.latencies: list[float] = []  # seconds, one per message produced after ``since``
        # (topic, partition, offset, produced_at epoch, arrival epoch): which partition a slow one was on
        self.arrivals: list[tuple[str, int, int, float, float]] = []
        self.since = datetime.now(UTC)
        self._consumer = clients.consumer(kafka, f"bench-fetch-probe-{uuid.uuid4().hex[:8]}", "bench-fetch-probe")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fetch-probe", daemon=True)

    def __enter__(self) -> FetchProbe:
        partitions = []
        for topic in self.topics:
            metadata = self._consumer.list_topics(topic, timeout=10).topics[topic]
            partitions += [TopicPartition(topic, p, OFFSET_END) for p in metadata.partitions]
        self._consumer.assign(partitions)
        self.since = datetime.now(UTC)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(10)
        self._consumer.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            for message in take(self._consumer, 1_000, 0.2):
                arrived = time.time()
                if message.error() is not None or message.value() is None:
                    continue
                try:
                    produced = datetime.fromisoformat(json.loads(message.value())["produced_at"])
                except (ValueError, KeyError, TypeError):
                    continue  # not a pipeline event: the consumers dead-letter it
                if produced >= self.since:
                    self.latencies.append(arrived - produced.timestamp())
                    where = (message.topic(), message.partition(), message.offset())
                    self.arrivals.append((*where, produced.timestamp(), arrived))
