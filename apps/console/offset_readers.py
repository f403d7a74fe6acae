"""Long-lived offset readers, one per recently read group, for the sampler and the Groups view.

The console reads every group's committed offsets and watermarks every few seconds. A new Kafka
client per group and topic on each reading (connections to every broker, metadata, threads, then
a close) cost the console 14.5% of a core with no browser attached, 60 s after ``make start-all``,
on 2 cores shared with the pipeline it watches. A reader kept per group pays that once.

Readers are plain consumers that never subscribe, so they never join their group: committed
offsets come from an OffsetFetch, as in ``kafka/offsets.py`` (never the admin client's
coordinator calls, which can abort the process, librdkafka #4605). At most ``size`` readers are
kept; the least recently used one is closed when another group needs one.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from confluent_kafka import Consumer

from common.settings import KafkaSettings
from kafka.offsets import PartitionOffsets, read_offsets, reader


class OffsetReaders:
    """``readers.read(group_id, topic)``: watermarks and the group's committed offsets on ``topic``."""

    def __init__(self, settings: KafkaSettings, timeout_s: float, size: int = 8) -> None:
        self.settings, self.timeout_s, self.size = settings, timeout_s, size
        self._readers: OrderedDict[str, tuple[Consumer, threading.Lock]] = OrderedDict()
        self._lock = threading.Lock()

    def read(self, group_id: str, topic: str) -> list[PartitionOffsets]:
        consumer, lock = self._reader(group_id)
        with lock:  # one request at a time per reader; the Groups view reads groups in parallel
            return read_offsets(consumer, topic, with_committed=True, timeout_s=self.timeout_s)

    def _reader(self, group_id: str) -> tuple[Consumer, threading.Lock]:
        with self._lock:
            if group_id in self._readers:
                self._readers.move_to_end(group_id)
                return self._readers[group_id]
            entry = self._readers[group_id] = (reader(self.settings, group_id), threading.Lock())
            evicted = self._readers.popitem(last=False)[1] if len(self._readers) > self.size else None
        if evicted is not None:
            with evicted[1]:  # after its read in flight, if any
                evicted[0].close()
        return entry

    def close(self) -> None:
        """Close every reader (the console's shutdown)."""
        with self._lock:
            entries, self._readers = list(self._readers.values()), OrderedDict()
        for consumer, lock in entries:
            with lock:
                consumer.close()
