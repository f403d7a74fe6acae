"""Topics for the Topics view: partitions with leader, replicas, ISR, offsets, counts and configs.

Message counts are end minus start offset per partition (exact for our delete-policy topics,
an upper bound for compacted ones). confluent-kafka's AdminClient has no DescribeLogDirs, so
the size on disk is not available and is reported as ``None``.
"""

from __future__ import annotations

from typing import Any

from apps.console.errors import NotFound
from apps.console.kafka_admin import KafkaAdmin

SHOWN_CONFIGS = (
    "retention.ms",
    "retention.bytes",
    "min.insync.replicas",
    "compression.type",
    "cleanup.policy",
    "segment.bytes",
    "max.message.bytes",
)


def _count(start: int | None, end: int | None) -> int | None:
    return None if start is None or end is None else max(end - start, 0)


class TopicReader:
    """Topic list and one topic in detail; internal topics only when asked for."""

    def __init__(self, admin: KafkaAdmin) -> None:
        self.admin = admin

    def _partition_rows(self, topics: list[Any]) -> dict[str, list[dict[str, Any]]]:
        keys = [(t.topic, p) for t in topics for p in t.partitions]
        starts = self.admin.offsets(keys, "earliest")
        ends = self.admin.offsets(keys, "latest")
        rows: dict[str, list[dict[str, Any]]] = {}
        for topic in topics:
            for pid in sorted(topic.partitions):
                p = topic.partitions[pid]
                start, end = starts.get((topic.topic, pid)), ends.get((topic.topic, pid))
                rows.setdefault(topic.topic, []).append(
                    {
                        "partition": pid,
                        "leader": p.leader if p.leader >= 0 else None,
                        "replicas": list(p.replicas),
                        "isr": list(p.isrs),
                        "under_replicated": len(p.isrs) < len(p.replicas),
                        "start_offset": start,
                        "end_offset": end,
                        "messages": _count(start, end),
                    }
                )
        return rows

    @staticmethod
    def _summary(name: str, internal: bool, partitions: list[dict[str, Any]]) -> dict[str, Any]:
        counts = [p["messages"] for p in partitions]
        return {
            "name": name,
            "internal": internal,
            "partitions": len(partitions),
            "replication_factor": max((len(p["replicas"]) for p in partitions), default=0),
            "messages": None if None in counts else sum(counts),
            "under_replicated": sum(p["under_replicated"] for p in partitions),
            "offline": sum(p["leader"] is None for p in partitions),
            "size_bytes": None,
        }

    def topics(self, include_internal: bool = False) -> dict[str, Any]:
        metadata = self.admin.metadata()
        chosen = [t for t in metadata.topics.values() if include_internal or not t.topic.startswith("_")]
        rows = self._partition_rows(chosen)
        data = [self._summary(t.topic, t.topic.startswith("_"), rows.get(t.topic, [])) for t in chosen]
        data.sort(key=lambda r: (r["internal"], r["name"].endswith("-dlq"), r["name"]))
        return {"data": data, "count": len(data)}

    def partitions(self, names: list[str]) -> dict[str, list[dict[str, Any]]]:
        """Each named topic's partition rows (``status``); a topic that does not exist is ``NotFound``."""
        metadata = self.admin.metadata()
        missing = [n for n in names if n not in metadata.topics or metadata.topics[n].error is not None]
        if missing:
            raise NotFound(f"topic(s) {', '.join(missing)} do not exist")
        return self._partition_rows([metadata.topics[n] for n in names])

    def topic(self, name: str) -> dict[str, Any]:
        metadata = self.admin.metadata()
        topic = metadata.topics.get(name)
        if topic is None or topic.error is not None:
            raise NotFound(f"topic {name!r} does not exist")
        partitions = self._partition_rows([topic]).get(name, [])
        configs = self.admin.topic_configs(name)
        return {
            **self._summary(name, name.startswith("_"), partitions),
            "partitions_detail": {"data": partitions, "count": len(partitions)},
            "configs": {k: configs[k]["value"] for k in SHOWN_CONFIGS if k in configs},
            "all_configs": configs,
        }
