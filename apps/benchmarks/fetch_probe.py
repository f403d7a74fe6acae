"""How long until an event can be fetched: the Kafka share of the realtime end-to-end latency.

An event's end-to-end latency is the producer's linger and send, replication to the in-sync
replicas (a consumer sees a message only once the high watermark passes it), the fetch, then
the consumer's decode and its PostgreSQL transaction. This probe reads the same topics with the
consumers' own fetch settings (``consumer_config``: read_committed, fetch.min.bytes,
fetch.wait.max.ms), in its own group from the end, and records for every message the moment it
arrived minus its ``produced_at``. End to end minus this is what the consumer and PostgreSQL add.

The probe is a process of its own, as each consumer is. As a thread of the benchmark it shared
the interpreter lock with the OFF writer and the samplers, and its arrival stamps waited for
them: in one run a product burst that the pipeline's consumers had at 39 ms reached the probe at
103 ms, and Kafka's "share" came out larger than the whole end-to-end time.
"""

from __future__ import annotations

import json
import multiprocessing
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event

from confluent_kafka import OFFSET_END, TopicPartition

from common.settings import KafkaSettings
from kafka import clients
from kafka.fetch import take

START_TIMEOUT_S = 60.0
Arrival = tuple[str, int, int, float, float]  # topic, partition, offset, produced_at epoch, arrival epoch


class FetchProbe:
    """A process that times every new message of ``topics`` from ``produced_at`` to its arrival.

    ``arrivals`` is filled when the block ends.
    """

    def __init__(self, kafka: KafkaSettings, topics: Iterable[str], metadata_timeout_s: float = 10.0) -> None:
        self.topics = list(topics)
        self.arrivals: list[Arrival] = []  # one per message produced after the probe started
        context = multiprocessing.get_context("spawn")  # no fork of a process with Kafka clients' threads
        self._stop, self._ready = context.Event(), context.Event()
        self._results, results = context.Pipe(duplex=False)
        self._process = context.Process(
            target=_probe,
            args=(kafka, self.topics, metadata_timeout_s, self._stop, self._ready, results),
            name="fetch-probe",
            daemon=True,
        )

    def __enter__(self) -> FetchProbe:
        self._process.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._ready.wait(0.5):  # a probe that failed (no broker answered) has ended: say so then
            if not self._process.is_alive() or time.monotonic() > deadline:
                self._process.kill()
                self._process.join(5)
                raise RuntimeError(f"the fetch probe did not start (exit code {self._process.exitcode})")
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        if self._results.poll(START_TIMEOUT_S):
            self.arrivals = self._results.recv()
        self._process.join(10)
        if self._process.is_alive():
            self._process.kill()


def _probe(
    kafka: KafkaSettings, topics: list[str], metadata_timeout_s: float, stop: Event, ready: Event, results: Connection
) -> None:
    """The probe process: assign every partition at its end, time what arrives, send it all back at ``stop``."""
    consumer = clients.consumer(kafka, f"bench-fetch-probe-{uuid.uuid4().hex[:8]}", "bench-fetch-probe")
    arrivals: list[Arrival] = []
    try:
        partitions = []
        for topic in topics:
            metadata = consumer.list_topics(topic, timeout=metadata_timeout_s).topics[topic]
            partitions += [TopicPartition(topic, p, OFFSET_END) for p in metadata.partitions]
        consumer.assign(partitions)
        since = datetime.now(UTC)
        ready.set()
        while not stop.is_set():
            batch = take(consumer, 1_000, 0.2)
            arrived = time.time()  # once per batch: they arrived together, parsing one must not delay the next
            for message in batch:
                if message.error() is not None or message.value() is None:
                    continue
                try:
                    produced = datetime.fromisoformat(json.loads(message.value())["produced_at"])
                except (ValueError, KeyError, TypeError):
                    continue  # not a pipeline event: the consumers dead-letter it
                if produced >= since:
                    where = (message.topic(), message.partition(), message.offset())
                    arrivals.append((*where, produced.timestamp(), arrived))
    finally:
        consumer.close()
        results.send(arrivals)
