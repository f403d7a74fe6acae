"""Read-only views of topics and groups: watermarks, committed offsets, lag, a full topic read.

``verify`` and the console use these; none of them joins a group or commits anything.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Message, TopicPartition

from common.settings import KafkaSettings
from kafka import clients
from kafka.fetch import take

RETRY_CODES = {  # a coordinator or a partition leader on the move: the next try finds the new one
    KafkaError.NOT_COORDINATOR,
    KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
    KafkaError.COORDINATOR_NOT_AVAILABLE,
    KafkaError.NOT_LEADER_FOR_PARTITION,
    KafkaError.LEADER_NOT_AVAILABLE,
}

T = TypeVar("T")


@dataclass(frozen=True)
class PartitionOffsets:
    """One partition: earliest and next offsets, and the group's committed offset (None: none)."""

    partition: int
    low: int
    high: int
    committed: int | None = None

    @property
    def messages(self) -> int:
        """Messages currently stored."""
        return self.high - self.low

    @property
    def lag(self) -> int:
        """Messages the group has not committed yet (all stored ones when it never committed)."""
        start = self.low if self.committed is None else max(self.committed, self.low)
        return self.high - start


def _reader(settings: KafkaSettings, group_id: str | None = None, client_id: str = "pipeline-reader") -> Consumer:
    group = group_id or f"pipeline-reader-{uuid.uuid4().hex[:8]}"
    return clients.consumer(settings, group, client_id, {"logger": logging.getLogger("librdkafka")})


def topic_exists(settings: KafkaSettings, topic: str, timeout_s: float = 10.0) -> bool:
    """Whether the cluster knows ``topic``."""
    consumer = _reader(settings)
    try:
        metadata = consumer.list_topics(topic, timeout=timeout_s).topics.get(topic)
        return metadata is not None and metadata.error is None
    finally:
        consumer.close()


def partition_offsets(
    settings: KafkaSettings, topic: str, group_id: str | None = None, timeout_s: float = 10.0
) -> list[PartitionOffsets]:
    """Watermarks of every partition of ``topic``, plus ``group_id``'s committed offsets if given."""
    consumer = _reader(settings, group_id)
    try:
        return read_offsets(consumer, topic, with_committed=bool(group_id), timeout_s=timeout_s)
    finally:
        consumer.close()


@contextmanager
def group_readers(settings: KafkaSettings, group_ids: Iterable[str], client_id: str) -> Iterator[dict[str, Consumer]]:
    """One reader per group (for ``read_offsets``), kept while a caller watches lag over time.

    A client built per look costs connections, metadata and a coordinator lookup on every broker,
    which is load on the very cluster being watched.
    """
    readers = {group: _reader(settings, group, client_id) for group in set(group_ids)}
    try:
        yield readers
    finally:
        for reader in readers.values():
            reader.close()


def read_offsets(
    consumer: Consumer, topic: str, with_committed: bool = True, timeout_s: float = 10.0
) -> list[PartitionOffsets]:
    """``partition_offsets`` through a reader the caller keeps (its group's committed offsets if asked)."""
    metadata = consumer.list_topics(topic, timeout=timeout_s).topics[topic]
    if metadata.error is not None:
        raise KafkaException(metadata.error)
    partitions = [TopicPartition(topic, p) for p in sorted(metadata.partitions)]
    committed: dict[int, int | None] = dict.fromkeys(range(len(partitions)))
    if with_committed:
        for tp in _committed(consumer, partitions, timeout_s):
            committed[tp.partition] = tp.offset if tp.offset >= 0 else None
    result = []
    for tp in partitions:
        low, high = watermarks(consumer, tp, timeout_s)
        result.append(PartitionOffsets(tp.partition, low, high, committed.get(tp.partition)))
    return result


def committed_topics(
    settings: KafkaSettings, group_id: str, partitions: dict[str, int], timeout_s: float = 10.0
) -> set[str]:
    """Which of ``partitions``' topics (name -> partition count) ``group_id`` committed on, in one request.

    The console asks this of every group without members: a reader per topic and group made a
    cluster with many idle groups and topics (the test suite's) take minutes per sample.
    """
    consumer = _reader(settings, group_id)
    try:
        wanted = [TopicPartition(topic, p) for topic, count in partitions.items() for p in range(count)]
        return {tp.topic for tp in _committed(consumer, wanted, timeout_s) if tp.offset >= 0} if wanted else set()
    finally:
        consumer.close()


def _committed(consumer: Consumer, partitions: list[TopicPartition], timeout_s: float) -> list[TopicPartition]:
    """Committed offsets, retrying while the group coordinator moves or loads (common under load)."""
    return retrying(lambda: consumer.committed(partitions, timeout=timeout_s), timeout_s)


def watermarks(consumer: Consumer, partition: TopicPartition, timeout_s: float = 10.0) -> tuple[int, int]:
    """Low and high watermark of one partition, retrying while its leader moves (after a broker restart)."""
    return retrying(lambda: consumer.get_watermark_offsets(partition, timeout=timeout_s), timeout_s)


def retrying(call: Callable[[], T], timeout_s: float, pause_s: float = 0.5) -> T:
    """``call()``, tried again for up to ``timeout_s`` while it fails with an error that passes by itself.

    Such errors are the cluster moving a coordinator or a partition leader, as after a broker
    restart: a reader that gives up on the first one fails a whole ``verify`` or chaos count.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return call()
        except KafkaException as exc:
            error = exc.args[0] if exc.args else None
            passes = isinstance(error, KafkaError) and (error.retriable() or error.code() in RETRY_CODES)
            if not passes or time.monotonic() > deadline:
                raise
            time.sleep(pause_s)


def read_topic(settings: KafkaSettings, topic: str, timeout_s: float = 120.0) -> Iterator[Message]:
    """Every message stored in ``topic`` now, from the beginning up to today's high watermarks."""
    offsets = [p for p in partition_offsets(settings, topic) if p.high > p.low]
    start = {p.partition: p.low for p in offsets}
    yield from read_range(settings, topic, start, {p.partition: p.high for p in offsets}, timeout_s)


def read_range(
    settings: KafkaSettings, topic: str, start: dict[int, int], end: dict[int, int], timeout_s: float = 120.0
) -> Iterator[Message]:
    """Messages of ``topic`` from ``start`` (inclusive) to ``end`` (exclusive), per partition."""
    ends = {p: e for p, e in end.items() if e > start.get(p, 0)}
    if not ends:
        return
    consumer = _reader(settings)
    try:
        consumer.assign([TopicPartition(topic, p, start.get(p, OFFSET_BEGINNING)) for p in ends])
        deadline = time.monotonic() + timeout_s
        while ends:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{topic}: partitions {sorted(ends)} not read to their end offsets in {timeout_s:.0f}s"
                )
            messages = take(consumer, 10_000, 1.0)
            if not messages:  # skipped offsets (transaction markers): trust the position instead
                for tp in consumer.position([TopicPartition(topic, p) for p in ends]):
                    if tp.offset >= ends[tp.partition]:
                        del ends[tp.partition]
            for message in messages:
                if message.error() is not None:
                    raise KafkaException(message.error())
                partition = message.partition()
                if partition in ends and message.offset() < ends[partition]:
                    yield message
                if partition in ends and message.offset() >= ends[partition] - 1:
                    del ends[partition]
    finally:
        consumer.close()
