"""Test helpers: Java's murmur2 partitioner as a reference, and reading a topic to its end."""

from __future__ import annotations

import time

from confluent_kafka import Consumer, Message, TopicPartition

from common.settings import KafkaSettings
from kafka.config import consumer_config
from kafka.fetch import take
from kafka.offsets import watermarks


def java_murmur2(data: bytes) -> int:
    """org.apache.kafka.common.utils.Utils.murmur2, as a signed 32-bit int."""
    m, r, mask = 0x5BD1E995, 24, 0xFFFFFFFF
    length = len(data)
    h = (0x9747B28C ^ length) & mask
    for i in range(0, length - length % 4, 4):
        k = int.from_bytes(data[i : i + 4], "little")
        k = (k * m) & mask
        k ^= k >> r
        k = (k * m) & mask
        h = (h * m) & mask
        h ^= k
    tail = length % 4
    base = length - tail
    if tail == 3:
        h ^= data[base + 2] << 16
    if tail >= 2:
        h ^= data[base + 1] << 8
    if tail >= 1:
        h ^= data[base]
        h = (h * m) & mask
    h ^= h >> 13
    h = (h * m) & mask
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


def java_partition(key: bytes, partitions: int) -> int:
    """DefaultPartitioner / BuiltInPartitioner: toPositive(murmur2(key)) % numPartitions."""
    return (java_murmur2(key) & 0x7FFFFFFF) % partitions


def read_all(settings: KafkaSettings, topic: str, group: str, timeout_s: float = 60) -> list[Message]:
    """Every message currently in ``topic``, from the beginning to the high watermarks."""
    consumer = Consumer(consumer_config(settings, group) | {"isolation.level": "read_uncommitted"})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        ends = {p: watermarks(consumer, TopicPartition(topic, p))[1] for p in partitions}
        remaining = {p for p, high in ends.items() if high > 0}
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        messages: list[Message] = []
        deadline = time.monotonic() + timeout_s
        while remaining and time.monotonic() < deadline:
            for message in take(consumer, 1_000, 1.0):
                if message.error():
                    raise RuntimeError(message.error())
                messages.append(message)
                if message.offset() + 1 >= ends[message.partition()]:
                    remaining.discard(message.partition())
        if remaining:
            raise TimeoutError(f"{topic}: partitions {sorted(remaining)} not read to the end")
        return messages
    finally:
        consumer.close()
