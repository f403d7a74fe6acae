"""The one way the pipeline writes events to Kafka: durable, ordered per entity, never dropping.

Settings come from ``kafka.config.producer_config``: ``acks=all``, idempotence (retries never
duplicate or reorder), LZ4, and the ``murmur2_random`` partitioner, the Java client's hashing.
A full local queue makes ``send()`` wait (serving delivery reports) and retry; nothing is dropped.
Every send is counted, and so is every delivery report (acknowledged or failed).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message

from common.entities import ENTITIES, Entity, topic_of
from common.events import Event
from common.settings import KafkaSettings
from kafka import clients
from kafka.metrics import PRODUCER as METRICS
from kafka.producer.errors import MessageTooLargeError, ProducerClosedError, UnknownTopicError
from kafka.producer.serializers import SerializationError, headers_of, key_from_value, serialize, stamp
from kafka.topics import spec_for

log = logging.getLogger(__name__)
DeliveryListener = Callable[[Event, KafkaError | None], None]
TOPIC_WAIT_S = 5.0  # how long a missing topic is looked for before UnknownTopicError
_RECORD_OVERHEAD = 128  # record and batch headers, counted against message.max.bytes


@dataclass
class DeliveryStats:
    """Counters since the producer was created; ``in_flight`` is sent but not yet reported."""

    sent: int = 0
    acked: int = 0
    failed: int = 0
    queue_full_waits: int = 0
    last_error: str | None = None

    @property
    def in_flight(self) -> int:
        return self.sent - self.acked - self.failed


@dataclass(frozen=True)
class CloseReport:
    """What ``close()`` found: ``undelivered`` events were still queued when the timeout ran out."""

    sent: int
    acked: int
    failed: int
    undelivered: int

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.undelivered == 0


class EventProducer:
    """Send pipeline events; learn about acknowledgements through ``on_delivery``.

    ``entities`` are the ones it may send (``common/entities.py``); ``topics`` maps their topic
    names to the names actually used, e.g. unique topics in tests. ``on_delivery(event, error)``
    runs inside ``send``/``poll``/``flush`` for every report, with the event as sent
    (``produced_at`` stamped); ``error`` is None once all in-sync replicas have it.
    """

    def __init__(
        self,
        settings: KafkaSettings,
        *,
        entities: Iterable[Entity] = ENTITIES,
        topics: Mapping[str, str] | None = None,
        on_delivery: DeliveryListener | None = None,
        client_id: str | None = None,
        overrides: Mapping[str, Any] | None = None,
    ) -> None:
        self._entities = tuple(entities)
        self._schemas = {e.topic: e.schema for e in self._entities}
        for name in topics or {}:
            self._entity_topic(name)
        self._topics = dict(topics or {})
        # librdkafka's own log lines go through Python logging (logfmt), not straight to stderr
        librdkafka_log = {"logger": logging.getLogger("librdkafka")}
        extra = librdkafka_log | dict(overrides or {})
        self.max_message_bytes = int(extra.get("message.max.bytes", 1_000_000))
        self._producer = clients.producer(settings, client_id, extra)
        METRICS.queues.add(self)
        self._listener = on_delivery
        self._routes: dict[tuple[type, str | None], str] = {}
        self._closed = False
        self.stats = DeliveryStats()

    def send(self, event: Event, topic: str | None = None) -> None:
        """Queue one event (default topic: its entity topic); waits while the local queue is full.

        Raises ``SerializationError``, ``UnknownTopicError`` or ``MessageTooLargeError`` on misuse;
        delivery itself is reported later, to ``stats`` and ``on_delivery``.
        """
        if self._closed:
            raise ProducerClosedError("send() after close()")
        stamped, physical, value, key = self._encode(event, topic)
        callback = self._count if self._listener is None else partial(self._report, stamped)
        self._produce(stamped, physical, value, key, callback)
        self.stats.sent += 1
        METRICS.produced[physical] += 1
        self._producer.poll(0)

    def _encode(self, event: Event, topic: str | None) -> tuple[Event, str, bytes, bytes]:
        """The event stamped now, its physical topic, its serialized value and its key."""
        stamped = stamp(event, datetime.now(UTC))
        physical = self._resolve(stamped, topic)
        value = serialize(stamped)
        return stamped, physical, value, key_from_value(value, stamped)

    def _produce(self, event: Event, topic: str, value: bytes, key: bytes, callback: Callable[..., None]) -> None:
        """Queue one serialized event; waits while the local queue is full, raises when it cannot fit."""
        if len(value) + len(key) + _RECORD_OVERHEAD > self.max_message_bytes:
            raise MessageTooLargeError(
                f"{event.event_type} {event.entity_id} is {len(value)} bytes;"
                f" message.max.bytes is {self.max_message_bytes}"
            )
        while True:
            try:
                self._producer.produce(topic, value, key, headers=headers_of(event), on_delivery=callback)
                return
            except BufferError:  # local queue full: serve delivery reports, then try again
                self.stats.queue_full_waits += 1
                self._producer.poll(0.05)
            except KafkaException as exc:
                if exc.args[0].code() == KafkaError.MSG_SIZE_TOO_LARGE:
                    raise MessageTooLargeError(f"{event.event_type} {event.entity_id}: {exc}") from exc
                raise

    def poll(self, timeout: float = 0) -> int:
        """Serve delivery reports; call it in idle loops so acknowledgements arrive."""
        return self._producer.poll(timeout)

    def flush(self, timeout: float = 30) -> int:
        """Wait until everything is delivered or ``timeout`` passes; returns what is still queued."""
        return self._producer.flush(timeout)

    def close(self, timeout: float = 30) -> CloseReport:
        """Flush and report; anything still queued after ``timeout`` is ``undelivered``."""
        undelivered = self.flush(timeout) if not self._closed else 0
        self._closed = True
        report = CloseReport(self.stats.sent, self.stats.acked, self.stats.failed, undelivered)
        if not report.ok:
            log.error("producer closed with losses", extra=vars(report) | {"last_error": self.stats.last_error})
        return report

    def queue_depth(self) -> int:
        """Messages in the local queue: not yet acknowledged or failed (the queue-depth gauge)."""
        return len(self._producer)

    def __enter__(self) -> EventProducer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _resolve(self, event: Event, topic: str | None) -> str:
        """Entity topic for the event -> the name in use; checked once per (event class, topic)."""
        route = self._routes.get((type(event), topic))
        if route is not None:
            return route
        try:
            logical = topic or topic_of(event, self._entities)
        except TypeError as exc:
            raise SerializationError(str(exc)) from exc
        if not isinstance(event, self._entity_topic(logical)):
            raise UnknownTopicError(f"a {type(event).__name__} cannot go to topic {logical!r}")
        physical = self._topics.get(logical, logical)
        self._verify_exists(physical)
        self._routes[(type(event), topic)] = physical
        return physical

    def _verify_exists(self, topic: str) -> None:
        """Once per topic: fail fast instead of letting librdkafka retry for delivery.timeout.ms.

        Metadata lags a fresh topic by a moment, so a miss is retried for ``TOPIC_WAIT_S``.
        """
        deadline = time.monotonic() + TOPIC_WAIT_S
        while True:
            metadata = self._producer.list_topics(timeout=10).topics.get(topic)
            if metadata is not None and metadata.error is None:
                return
            if time.monotonic() >= deadline:
                raise UnknownTopicError(f"topic {topic!r} does not exist on the cluster (run `make topics`)")
            time.sleep(0.25)

    def _entity_topic(self, name: str) -> type:
        schema = self._schemas.get(name)
        if schema is not None:
            return schema
        try:
            spec_for(name)
        except ValueError as exc:
            raise UnknownTopicError(str(exc)) from None
        raise UnknownTopicError(f"{name!r} is not an entity topic; events go to {', '.join(self._schemas)}")

    def _count(self, error: KafkaError | None, message: Message) -> None:
        METRICS.delivered(message.topic(), message.latency(), error is None)
        if error is None:
            self.stats.acked += 1
            return
        self.stats.failed += 1
        self.stats.last_error = error.str()
        log.warning("delivery failed", extra={"topic": message.topic(), "key": message.key(), "error": error.str()})

    def _report(self, event: Event, error: KafkaError | None, message: Message) -> None:
        self._count(error, message)
        try:
            self._listener(event, error)  # type: ignore[misc]  # set whenever _report is used
        except Exception:
            log.exception("on_delivery listener failed", extra={"event_id": str(event.event_id)})
