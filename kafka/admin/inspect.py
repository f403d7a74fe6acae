"""Cluster membership views through the AdminClient: brokers and consumer-group members.

Offsets and lag are read by ``kafka/offsets.py`` with a plain consumer instead: librdkafka's
coordinator-targeted admin calls (ListConsumerGroupOffsets, DescribeConsumerGroups) can abort
the process when a broker connection drops mid-request (librdkafka issue #4605), so long-lived
processes should not depend on them for anything but membership.
"""

from __future__ import annotations

from confluent_kafka.admin import AdminClient

from common.settings import KafkaSettings
from kafka.config import client_config


def admin(settings: KafkaSettings) -> AdminClient:
    return AdminClient(client_config(settings, "pipeline-inspect") | {"log_level": 4})  # warnings and up


def brokers(settings: KafkaSettings, timeout_s: float = 5) -> list[dict]:
    """Brokers the metadata lists now (a dead broker drops out of this list)."""
    metadata = admin(settings).list_topics(timeout=timeout_s)
    return [{"id": b.id, "host": b.host, "port": b.port} for b in sorted(metadata.brokers.values(), key=lambda b: b.id)]


def group_members(settings: KafkaSettings, group: str, timeout_s: float = 10) -> dict:
    """State and members (client id -> assigned partitions) of one consumer group."""
    client = admin(settings)  # keep a reference: the future dies with its client
    description = client.describe_consumer_groups([group], request_timeout=timeout_s)[group].result()
    members = {
        m.client_id or m.member_id: sorted(f"{tp.topic}[{tp.partition}]" for tp in m.assignment.topic_partitions)
        for m in description.members
    }
    return {"group": group, "state": str(description.state.name).lower(), "members": members}
