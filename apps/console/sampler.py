"""Background sampling of end offsets and committed offsets: events/s and lag over time.

Every ``interval_s`` the sampler reads each topic's end offsets and each group's committed
offsets and lag (through ``GroupReader.offsets``, i.e. ``kafka/offsets.py``), and appends one
point to a ring buffer: per topic the events/s produced (end offsets) and applied (the
committed offsets of the topic's consumer group), per group the lag. Rates
are averaged over a short window and computed per partition, so a partition whose leader was unreachable
in either sample leaves a gap instead of a false spike.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from apps.console.errors import SourceUnavailable
from apps.console.group_reader import GroupReader
from apps.console.kafka_admin import KafkaAdmin, Partition
from kafka.topics import CONSUMER_GROUPS

log = logging.getLogger(__name__)
# A group without members commits nothing, so its committed offsets only need reading now and
# then (its lag still grows with the topic: read again every 15 s, about a Prometheus scrape).
# Every group on every 3-second sample, each read through a new Kafka client, cost the console
# 14.5% of a core with nobody watching, on a cluster with the groups of earlier benchmark runs.
IDLE_GROUP_EVERY_S = 15.0


@dataclass
class Raw:
    """One reading: end offsets per partition, committed offsets per group and partition."""

    at: float
    ends: dict[Partition, int | None] = field(default_factory=dict)
    committed: dict[str, dict[Partition, int]] = field(default_factory=dict)
    lag: dict[str, int | None] = field(default_factory=dict)
    error: str | None = None


def _rate(now: dict[Partition, int | None], before: dict[Partition, int | None], topic: str, dt: float) -> float | None:
    deltas = [
        now[k] - before[k]  # type: ignore[operator]
        for k in now
        if k[0] == topic and now[k] is not None and before.get(k) is not None
    ]
    return round(max(sum(deltas), 0) / dt, 2) if deltas and dt > 0 else None


class Sampler:
    """A ring buffer of points; ``run`` samples off the event loop until cancelled."""

    def __init__(
        self, admin: KafkaAdmin, groups: GroupReader, interval_s: float = 3.0, size: int = 200, window_s: float = 10.0
    ) -> None:
        self.admin = admin
        self.groups = groups
        self.interval_s = interval_s
        # memberless group -> when its offsets were last read, and what they were
        self._idle: dict[str, tuple[float, dict[Partition, int], int | None]] = {}
        self.points: deque[dict[str, Any]] = deque(maxlen=size)
        # rates are averaged over ``window_s``: consumers commit every few seconds, not every sample
        self._raws: deque[Raw] = deque(maxlen=max(2, round(window_s / interval_s) + 1))

    def read(self) -> Raw:
        """One blocking reading; a Kafka failure becomes ``Raw.error``."""
        raw = Raw(at=time.time())
        try:
            metadata = self.admin.metadata()
            partitions = [(t, p) for t, m in metadata.topics.items() if not t.startswith("__") for p in m.partitions]
            raw.ends = self.admin.offsets(partitions, "latest")
            ids = self.admin.group_ids()
            # members only tell which topics a group reads: a description up to 10 s old will do
            described = self.groups.membership.describe(ids, max_age_s=10.0).groups
            listed = set(ids)  # a group gone from the cluster is forgotten here too
            self._idle = {group: last for group, last in self._idle.items() if group in listed}
            for group in ids:
                description = described.get(group)
                last = self._idle.get(group)
                idle = description is not None and description.get("error") is None and not description["members"]
                if idle and last is not None and raw.at - last[0] < IDLE_GROUP_EVERY_S:
                    raw.committed[group], raw.lag[group] = last[1], last[2]
                    continue
                try:
                    offsets = self.groups.offsets(group, description)
                except SourceUnavailable:
                    continue
                raw.committed[group], raw.lag[group] = offsets.committed, offsets.lag
                if idle:
                    self._idle[group] = (raw.at, offsets.committed, offsets.lag)
                else:
                    self._idle.pop(group, None)
        except SourceUnavailable as exc:
            raw.error = exc.detail
        return raw

    @staticmethod
    def applying_group(topic: str, committed: dict[str, dict[Partition, int]]) -> str | None:
        """The pipeline's group for the topic when it has offsets, else the group furthest along."""
        on_topic = {
            group: sum(o for (t, _), o in offsets.items() if t == topic)
            for group, offsets in committed.items()
            if any(t == topic for t, _ in offsets)
        }
        preferred = CONSUMER_GROUPS.get(topic)
        if preferred in on_topic:
            return preferred
        return max(on_topic, key=on_topic.__getitem__) if on_topic else None

    def point(self, raw: Raw, before: Raw) -> dict[str, Any]:
        dt = raw.at - before.at
        topics = sorted({t for t, _ in raw.ends})
        produced = {t: _rate(raw.ends, before.ends, t, dt) for t in topics}
        applied: dict[str, float | None] = {}
        for topic in topics:
            group = self.applying_group(topic, raw.committed)
            if group is not None:
                applied[topic] = _rate(raw.committed[group], before.committed.get(group, {}), topic, dt)  # type: ignore[arg-type]
        return {"t": int(raw.at * 1000), "produced": produced, "applied": applied, "lag": raw.lag, "error": raw.error}

    def sample(self) -> None:
        """Take a reading and append the point it makes with the previous one."""
        raw = self.read()
        if raw.error is not None:
            self.points.append({"t": int(raw.at * 1000), "produced": {}, "applied": {}, "lag": {}, "error": raw.error})
            return
        if self._raws:
            self.points.append(self.point(raw, self._raws[0]))
        self._raws.append(raw)

    async def run(self) -> None:
        """Sample every ``interval_s`` in a worker thread until the app stops."""
        while True:
            started = time.monotonic()
            try:
                await asyncio.to_thread(self.sample)
            except Exception:  # noqa: BLE001 - keep sampling; the next point will show the state
                log.exception("sampling failed")
            await asyncio.sleep(max(0.2, self.interval_s - (time.monotonic() - started)))

    def partition_lag(self) -> dict[tuple[str, str, int], int]:
        """(group, topic, partition) -> lag in the latest good reading, for partitions the group committed on."""
        if not self._raws:
            return {}
        raw = self._raws[-1]
        return {
            (group, topic, partition): max(end - offset, 0)
            for group, committed in raw.committed.items()
            for (topic, partition), offset in committed.items()
            if (end := raw.ends.get((topic, partition))) is not None
        }

    def topic_lag(self) -> dict[str, dict[str, Any]]:
        """Per topic, the lag of the group that applies it (as ``applying_group`` picks it)."""
        if not self._raws:
            return {}
        raw, lags = self._raws[-1], self.partition_lag()
        result = {}
        for topic in {t for t, _ in raw.ends}:
            group = self.applying_group(topic, raw.committed)
            if group is not None:
                lag = sum(v for (g, t, _), v in lags.items() if g == group and t == topic)
                result[topic] = {"group": group, "lag": lag}
        return result

    def series(self, last: int | None = None) -> dict[str, Any]:
        points = list(self.points)[-last:] if last else list(self.points)
        return {"interval_s": self.interval_s, "data": points, "count": len(points)}
