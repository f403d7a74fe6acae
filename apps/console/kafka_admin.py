"""One shared AdminClient with short timeouts, and the few admin calls every view is built from.

Timeouts are a few seconds on purpose: a dead broker must cost the page one slow section, not
a hung request. Watermarks are read per partition so one unreachable leader blanks only its
own partitions (``None``) instead of failing the whole topic.

Only broker-targeted calls live here (metadata, DescribeCluster, ListOffsets, DescribeConfigs,
ListConsumerGroups). Coordinator-targeted ones can abort the process when a broker connection
drops mid-request (librdkafka #4605): committed offsets and lag are read by ``kafka/offsets.py``
and group membership by a child process (``apps/console/membership.py``).
"""

from __future__ import annotations

import logging
from typing import Any

from confluent_kafka import TopicPartition
from confluent_kafka.admin import (
    ClusterMetadata,
    ConfigResource,
    DescribeClusterResult,
    OffsetSpec,
)

from apps.console.errors import kafka_errors
from common.settings import KafkaSettings
from kafka import clients

Partition = tuple[str, int]


class KafkaAdmin:
    """Read-only admin calls; each raises ``SourceUnavailable`` when the cluster does not answer."""

    def __init__(self, settings: KafkaSettings, timeout_s: float = 4.0) -> None:
        self.settings = settings
        self.timeout_s = timeout_s
        conf = {
            "socket.connection.setup.timeout.ms": int(timeout_s * 1000),
            "logger": logging.getLogger("apps.console.librdkafka"),
        }
        self.client = clients.admin(settings, "kafka-ui", conf)

    @property
    def bootstrap_addresses(self) -> list[str]:
        return [s.strip() for s in self.settings.bootstrap_servers.split(",") if s.strip()]

    def _wait(self, future: Any) -> Any:
        return future.result(timeout=self.timeout_s + 1)

    def metadata(self) -> ClusterMetadata:
        with kafka_errors("reading cluster metadata"):
            return self.client.list_topics(timeout=self.timeout_s)

    def describe_cluster(self) -> DescribeClusterResult:
        with kafka_errors("describing the cluster"):
            return self._wait(self.client.describe_cluster(request_timeout=self.timeout_s))

    def offsets(self, partitions: list[Partition], spec: str = "latest") -> dict[Partition, int | None]:
        """Start (``earliest``) or end (``latest``) offset of each partition; ``None`` where unknown."""
        if not partitions:
            return {}
        offset_spec = OffsetSpec.earliest() if spec == "earliest" else OffsetSpec.latest()
        with kafka_errors(f"listing {spec} offsets"):
            futures = self.client.list_offsets(
                {TopicPartition(t, p): offset_spec for t, p in partitions}, request_timeout=self.timeout_s
            )
        result: dict[Partition, int | None] = {}
        for tp, future in futures.items():
            try:
                result[(tp.topic, tp.partition)] = self._wait(future).offset
            except Exception:  # noqa: BLE001 - one partition's leader is away; the rest still count
                result[(tp.topic, tp.partition)] = None
        return result

    def topic_configs(self, topic: str) -> dict[str, dict[str, Any]]:
        """Every config of ``topic``: value, whether it is the default, and where it comes from."""
        resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
        with kafka_errors(f"describing configs of {topic}"):
            entries = self._wait(self.client.describe_configs([resource], request_timeout=self.timeout_s)[resource])
        return {
            name: {"value": e.value, "default": bool(e.is_default), "source": e.source and str(e.source).split(".")[-1]}
            for name, e in sorted(entries.items())
        }

    def group_ids(self) -> list[str]:
        with kafka_errors("listing consumer groups"):
            listing = self._wait(self.client.list_consumer_groups(request_timeout=self.timeout_s))
        return sorted(g.group_id for g in listing.valid)
