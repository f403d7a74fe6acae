"""Read-only views of the cluster: brokers, watermarks, consumer-group offsets and lag.

Used by ``manage.py status``, ``verify`` and the benchmarks; every call has a short timeout so
a dead broker makes an answer incomplete, never hangs it.
"""

from __future__ import annotations

from dataclasses import dataclass

from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka.admin import AdminClient

from common.settings import KafkaSettings
from kafka.config import client_config


@dataclass(frozen=True)
class PartitionLag:
    """Where one group stands on one partition."""

    topic: str
    partition: int
    committed: int | None
    end: int

    @property
    def lag(self) -> int:
        return self.end - (self.committed or 0) if self.committed is not None and self.committed >= 0 else self.end


def admin(settings: KafkaSettings) -> AdminClient:
    return AdminClient(client_config(settings, "pipeline-inspect"))


def brokers(settings: KafkaSettings, timeout_s: float = 5) -> list[dict]:
    """Brokers the metadata lists now (a dead broker drops out of this list)."""
    metadata = admin(settings).list_topics(timeout=timeout_s)
    return [{"id": b.id, "host": b.host, "port": b.port} for b in sorted(metadata.brokers.values(), key=lambda b: b.id)]


def watermarks(settings: KafkaSettings, topics: list[str], timeout_s: float = 5) -> dict[str, list[tuple[int, int]]]:
    """Per topic, ``(low, high)`` offsets of each partition in partition order."""
    consumer = Consumer(client_config(settings, "pipeline-inspect") | {"group.id": "pipeline-inspect"})
    try:
        metadata = consumer.list_topics(timeout=timeout_s)
        result = {}
        for topic in topics:
            if topic not in metadata.topics:
                continue
            parts = sorted(metadata.topics[topic].partitions)
            result[topic] = [
                consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout_s, cached=False) for p in parts
            ]
        return result
    finally:
        consumer.close()


def message_count(settings: KafkaSettings, topic: str) -> int:
    """Messages currently retained in a topic (high - low over its partitions)."""
    return sum(high - low for low, high in watermarks(settings, [topic]).get(topic, []))


def group_lag(settings: KafkaSettings, group: str, topic: str, timeout_s: float = 10) -> list[PartitionLag]:
    """Committed offset, end offset and lag for each partition of ``topic`` in ``group``."""
    ends = watermarks(settings, [topic], timeout_s).get(topic, [])
    request = ConsumerGroupTopicPartitions(group, [TopicPartition(topic, p) for p in range(len(ends))])
    client = admin(settings)  # keep a reference: the future dies with its client
    future = client.list_consumer_group_offsets([request], request_timeout=timeout_s)[group]
    committed = {tp.partition: tp.offset for tp in future.result().topic_partitions}
    return [
        PartitionLag(topic, p, committed.get(p) if committed.get(p, -1) >= 0 else None, high)
        for p, (_low, high) in enumerate(ends)
    ]


def group_members(settings: KafkaSettings, group: str, timeout_s: float = 10) -> dict:
    """State and members (client id -> assigned partitions) of one consumer group."""
    client = admin(settings)
    description = client.describe_consumer_groups([group], request_timeout=timeout_s)[group].result()
    members = {
        m.client_id or m.member_id: sorted(f"{tp.topic}[{tp.partition}]" for tp in m.assignment.topic_partitions)
        for m in description.members
    }
    return {"group": group, "state": str(description.state.name).lower(), "members": members}
