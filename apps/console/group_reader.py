"""Consumer groups: state, members and their partitions, committed offset and lag per partition.

Two sources, kept apart because one of them can crash a process (librdkafka #4605):
- committed offsets and lag come from ``kafka/offsets.py`` (a plain consumer's OffsetFetch),
  the project's one implementation of lag, read per topic the group consumes;
- state and members come from ``apps/console/membership.py`` (DescribeConsumerGroups in a
  child process); when it is unavailable the last known members are shown marked stale.
A group's topics are those its members are assigned; for a group without members they are
found once a minute from the committed offsets of every topic.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from apps.console.errors import NotFound, SourceUnavailable, kafka_errors
from apps.console.kafka_admin import KafkaAdmin
from apps.console.membership import Membership, Snapshot
from kafka.offsets import PartitionOffsets, committed_topics, partition_offsets

GONE = ("dead", "GROUP_ID_NOT_FOUND")


@dataclass
class GroupOffsets:
    """The group's partitions on each topic it consumes; topics that could not be read are in ``errors``."""

    partitions: list[tuple[str, PartitionOffsets]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def lag(self) -> int | None:
        return None if self.errors else sum(p.lag for _, p in self.partitions)

    @property
    def committed(self) -> dict[tuple[str, int], int]:
        return {(t, p.partition): p.committed for t, p in self.partitions if p.committed is not None}


class GroupReader:
    """The Groups view; ``offsets`` is also what the pipeline sampler records."""

    def __init__(self, admin: KafkaAdmin, membership: Membership, probe_every_s: float = 60.0) -> None:
        self.admin = admin
        self.membership = membership
        self.probe_every_s = probe_every_s
        self._topics: dict[str, tuple[set[str], float]] = {}  # group -> (topics, when last probed)

    def topics_of(self, group_id: str, description: dict[str, Any] | None) -> list[str]:
        """Assigned topics plus those it committed on; probes every topic when it has no members."""
        assigned = {t for m in (description or {}).get("members") or [] for t, _ in m["assignment"]}
        known, probed_at = self._topics.get(group_id, (set(), 0.0))
        if not assigned and time.monotonic() - probed_at > self.probe_every_s:
            metadata = self.admin.metadata()
            counts = {t: len(m.partitions) for t, m in metadata.topics.items() if not t.startswith("__")}
            with kafka_errors(f"reading the offsets {group_id} committed"):
                known = committed_topics(self.admin.settings, group_id, counts, self.admin.timeout_s)
            probed_at = time.monotonic()
        self._topics[group_id] = (known | assigned, probed_at)
        return sorted(known | assigned)

    def _read(self, topic: str, group_id: str) -> list[PartitionOffsets]:
        with kafka_errors(f"reading offsets of {group_id} on {topic}"):
            return partition_offsets(self.admin.settings, topic, group_id=group_id, timeout_s=self.admin.timeout_s)

    def offsets(self, group_id: str, description: dict[str, Any] | None) -> GroupOffsets:
        """Watermarks and committed offsets of every partition of the group's topics."""
        result = GroupOffsets()
        try:
            topics = self.topics_of(group_id, description)
        except SourceUnavailable as exc:  # no metadata to find the group's topics in
            return GroupOffsets(errors=[exc.detail])
        for topic in topics:
            try:
                result.partitions += [(topic, p) for p in self._read(topic, group_id)]
            except SourceUnavailable as exc:
                result.errors.append(exc.detail)
        return result

    def _summary(self, group_id: str, description: dict[str, Any] | None, snapshot: Snapshot) -> dict[str, Any]:
        described = description is not None and description.get("error") is None
        members = description["members"] if described else []
        member_of = {(t, p): m["client_id"] for m in members for t, p in m["assignment"]}
        offsets = self.offsets(group_id, description if described else None)
        rows = [
            {
                "topic": topic,
                "partition": p.partition,
                "committed_offset": p.committed,
                "end_offset": p.high,
                "lag": p.lag,
                "member": member_of.get((topic, p.partition)),
            }
            for topic, p in offsets.partitions
        ]
        membership = snapshot.status()
        if description is not None and not described:  # the coordinator answered with an error for this group
            membership["detail"] = description["error"]
        return {
            "group_id": group_id,
            "state": description["state"] if described else "unknown",
            "type": description["type"] if described else None,
            "partition_assignor": description["partition_assignor"] if described else None,
            "coordinator": description["coordinator"] if described else None,
            "members": len(members) if described else None,
            "membership": membership,
            "topics": sorted({r["topic"] for r in rows}),
            "lag": offsets.lag,
            "offsets_error": "; ".join(offsets.errors) or None,
            "members_detail": {"data": members, "count": len(members)},
            "partitions": {"data": rows, "count": len(rows)},
        }

    def groups(self) -> dict[str, Any]:
        """Every group with state, members, topics and lag; ``membership`` says how fresh the members are."""
        ids = self.admin.group_ids()
        snapshot = self.membership.describe(ids)
        # in parallel: a partition leader that just died costs one timeout, not one per group
        with ThreadPoolExecutor(4, thread_name_prefix="group-offsets") as pool:
            summaries = list(pool.map(lambda gid: self._summary(gid, snapshot.groups.get(gid), snapshot), ids))
        data = [{k: v for k, v in s.items() if k not in ("members_detail", "partitions")} for s in summaries]
        return {"data": data, "count": len(data), "membership": snapshot.status()}

    def group(self, group_id: str) -> dict[str, Any]:
        """One group in detail; 404 when the coordinator does not know it and it is not listed."""
        snapshot = self.membership.describe([group_id])
        description = snapshot.groups.get(group_id)
        if snapshot.state == "ok" and description is not None:
            gone = description.get("state") in GONE or description.get("code") in GONE
            if gone and not self._listed(group_id):
                raise NotFound(f"consumer group {group_id!r} does not exist")
        return self._summary(group_id, description, snapshot)

    def _listed(self, group_id: str) -> bool:
        try:
            return group_id in self.admin.group_ids()
        except SourceUnavailable:  # cannot tell: show what we have rather than a 404
            return True
