"""Consumer groups: state, members and their partitions, committed offset and lag per partition.

Lag is the partition's end offset minus the group's committed offset; a partition the group
never committed counts from the start offset (everything stored is still to be read), which
matches ``kafka-consumer-groups --describe`` once the group has committed once.
"""

from __future__ import annotations

from typing import Any

from confluent_kafka.admin import ConsumerGroupDescription

from apps.console.errors import NotFound
from apps.console.kafka_admin import KafkaAdmin, Partition


def _state(description: ConsumerGroupDescription) -> str:
    return str(getattr(description.state, "name", description.state)).lower()


class GroupReader:
    """The Groups view; ``lag_rows`` is also what the pipeline sampler records."""

    def __init__(self, admin: KafkaAdmin) -> None:
        self.admin = admin

    def lag_rows(self, group_id: str, assigned: dict[Partition, str] | None = None) -> list[dict[str, Any]]:
        """One row per partition the group committed or is assigned: committed, end, lag, member."""
        committed = self.admin.committed(group_id)
        assigned = assigned or {}
        keys = sorted(set(committed) | set(assigned))
        ends = self.admin.offsets(keys, "latest")
        starts = self.admin.offsets([k for k in keys if k not in committed], "earliest")
        rows = []
        for key in keys:
            end, done = ends.get(key), committed.get(key, starts.get(key))
            rows.append(
                {
                    "topic": key[0],
                    "partition": key[1],
                    "committed_offset": committed.get(key),
                    "end_offset": end,
                    "lag": None if end is None or done is None else max(end - done, 0),
                    "member": assigned.get(key),
                }
            )
        return rows

    @staticmethod
    def _members(description: ConsumerGroupDescription) -> tuple[list[dict[str, Any]], dict[Partition, str]]:
        members, assigned = [], {}
        for m in sorted(description.members, key=lambda m: (m.client_id, m.member_id)):
            parts = sorted((tp.topic, tp.partition) for tp in (m.assignment.topic_partitions if m.assignment else []))
            members.append(
                {
                    "member_id": m.member_id,
                    "client_id": m.client_id,
                    "host": m.host,
                    "group_instance_id": m.group_instance_id,
                    "assignment": [{"topic": t, "partition": p} for t, p in parts],
                }
            )
            assigned |= {part: m.client_id for part in parts}
        return members, assigned

    def _summary(self, group_id: str, description: ConsumerGroupDescription) -> dict[str, Any]:
        members, assigned = self._members(description)
        partitions = self.lag_rows(group_id, assigned)
        lags = [p["lag"] for p in partitions]
        coordinator = description.coordinator
        return {
            "group_id": group_id,
            "state": _state(description),
            "type": str(getattr(description.type, "name", description.type)).lower(),
            "partition_assignor": description.partition_assignor,
            "coordinator": coordinator.id if coordinator is not None else None,
            "members": len(members),
            "topics": sorted({p["topic"] for p in partitions}),
            "lag": None if None in lags else sum(lags),
            "members_detail": {"data": members, "count": len(members)},
            "partitions": {"data": partitions, "count": len(partitions)},
        }

    def groups(self) -> dict[str, Any]:
        ids = self.admin.group_ids()
        descriptions = self.admin.describe_groups(ids)
        data = []
        for gid in ids:
            summary = self._summary(gid, descriptions[gid])
            data.append({k: v for k, v in summary.items() if k not in ("members_detail", "partitions")})
        return {"data": data, "count": len(data)}

    def group(self, group_id: str) -> dict[str, Any]:
        description = self.admin.describe_groups([group_id])[group_id]
        if _state(description) == "dead" and not self.admin.committed(group_id):
            raise NotFound(f"consumer group {group_id!r} does not exist")
        return self._summary(group_id, description)
