"""Take a batch without waiting for it to fill.

``Consumer.consume(n, timeout)`` returns only when ``n`` messages have arrived or ``timeout`` has
passed, so a reader that expects fewer than ``n`` (the tail of a topic, a few dead letters) waits
out the whole timeout on every call. Waiting for the first message only and then taking what
librdkafka has already fetched returns as soon as there is something to return; at high rates
the prefetched queue fills the batch at once, so throughput is unchanged (the consumers'
``_next_batch`` takes its batches through it).
"""

from __future__ import annotations

from confluent_kafka import Consumer, Message


def take(consumer: Consumer, limit: int, timeout_s: float) -> list[Message]:
    """Up to ``limit`` messages: waits at most ``timeout_s`` for the first, none for the rest."""
    batch = consumer.consume(limit, 0)
    if batch:
        return batch
    batch = consumer.consume(1, timeout_s)
    if batch and limit > 1:
        batch += consumer.consume(limit - 1, 0)
    return batch
