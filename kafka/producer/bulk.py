"""The seeder's path: a long run of events sent as fast as the client takes them.

``EventProducer.send`` does per event what a long-running service needs: a poll after every
send (so listeners hear at once) and each report's delivery latency into the metrics. In the
seed's 30,000 events in a row, with no listener, those cost microseconds that buy nothing; the
seeder's flame graph had ``poll(0)`` alone at 5 % of its samples. ``send_all`` polls every
``POLL_EVERY`` events (and whenever the local queue is full) and counts delivery reports with a
bare callback (failures still go through the full accounting and its warning). Every report is still counted:
``stats.acked`` only grows by a report without an error, and ``close()`` names what never came.

``opened`` returns a producer only once the cluster has given it its producer id. On a young
secured cluster a broker may refuse the id (its authorizer has not yet applied the new ACLs):
librdkafka makes that fatal, but nothing was sent, since an idempotent producer sends nothing
before it has an id, so ``opened`` builds a new producer and asks again. The id takes about
0.6 s (librdkafka asks for it half a second after the start), a third of a whole seed's time, so
the events are built meanwhile (``Prebuilt``): not stamped, serialized or queued, only built,
and kept across a replaced producer; ``send_all`` sends them first, in order.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from itertools import chain, islice
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message

from common.events import Event
from common.settings import KafkaSettings
from kafka.metrics import PRODUCER as METRICS
from kafka.producer.errors import ProducerClosedError, ProducerError
from kafka.producer.producer import EventProducer

log = logging.getLogger(__name__)
POLL_EVERY = 1_000  # events between two polls: delivery reports are served in batches
BUILD_STEP = 100  # events built between two looks at the producer id while waiting for it


class ProducerIdRefused(ProducerError, RuntimeError):
    """The cluster did not give the producer its id: fatal for this client, nothing was sent."""


class Prebuilt:
    """``events``, of which up to ``limit`` may be built ahead (``take``); iterating yields them all, in order."""

    def __init__(self, events: Iterable[Event], limit: int = 50_000) -> None:
        self._source: Iterator[Event] = iter(events)
        self._ready: list[Event] = []
        self.limit = limit

    def take(self, count: int) -> bool:
        """Build up to ``count`` more; False once the events ran out or ``limit`` are waiting."""
        chunk = list(islice(self._source, max(0, min(count, self.limit - len(self._ready)))))
        self._ready += chunk
        return bool(chunk)

    def __iter__(self) -> Iterator[Event]:
        ready, self._ready = self._ready, []
        return chain(ready, self._source)


class BulkProducer(EventProducer):
    """An ``EventProducer`` with ``send_all``; without a listener (``on_delivery``) of its own."""

    def __init__(self, settings: KafkaSettings, *, overrides: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        self._id_state: str | None = None  # librdkafka's eos.idemp_state: "Assigned" once it has an id
        self._fatal: KafkaError | None = None
        watch = {"statistics.interval.ms": 50, "stats_cb": self._on_stats, "error_cb": self._on_error}
        super().__init__(settings, overrides=dict(overrides or {}) | watch, **kwargs)

    @classmethod
    def opened(
        cls, settings: KafkaSettings, timeout_s: float = 60, ahead: Prebuilt | None = None, **kwargs: Any
    ) -> BulkProducer:
        """A producer that has its producer id; one refused fatally is replaced until ``timeout_s``.

        ``ahead``: the events to send, built meanwhile (kept there for ``send_all``).
        """
        deadline = time.monotonic() + timeout_s
        refused: ProducerIdRefused | None = None  # the last refusal: the reason to report at the deadline
        while True:
            producer = cls(settings, **kwargs)
            try:
                producer.wait_for_id(deadline - time.monotonic(), ahead)
                return producer
            except ProducerIdRefused as exc:
                producer._producer.close()  # now: a dropped client keeps reconnecting until it is collected
                if producer._fatal is not None or refused is None:
                    refused = exc
                if time.monotonic() + 1 > deadline:
                    raise refused from None
                log.warning("producer id refused, asking again with a new producer", extra={"error": str(exc)})
                time.sleep(1)

    def wait_for_id(self, timeout_s: float, ahead: Prebuilt | None = None) -> None:
        """Block until the producer has its id, building ``ahead``'s events meanwhile.

        ``ProducerIdRefused`` on a fatal error or at ``timeout_s``.
        """
        deadline = time.monotonic() + max(timeout_s, 0)
        while self._id_state != "Assigned":
            if self._fatal is not None:
                raise ProducerIdRefused(f"producer id refused: {self._fatal.str()}")
            if time.monotonic() > deadline:
                raise ProducerIdRefused(f"no producer id after {timeout_s:.0f}s (state {self._id_state})")
            try:
                self._producer.poll(0 if ahead is not None and ahead.take(BUILD_STEP) else 0.05)
            except KafkaException as exc:  # the client raises its fatal error from poll() too, not only to error_cb
                error = exc.args[0] if exc.args and isinstance(exc.args[0], KafkaError) else None
                if error is None or not error.fatal():
                    raise
                self._fatal = error

    def _on_stats(self, stats_json: str) -> None:
        if self._id_state != "Assigned":
            self._id_state = json.loads(stats_json).get("eos", {}).get("idemp_state")

    def _on_error(self, error: KafkaError) -> None:
        if error.fatal():
            self._fatal = error
        log.warning("producer error", extra={"error": error.str(), "fatal": error.fatal()})

    def send_all(
        self, events: Iterable[Event], progress: Callable[[int], None] | None = None, every: int = 2_000
    ) -> int:
        """Queue every event on its entity topic; returns how many. ``progress(count)`` every ``every`` events.

        Raises what ``send`` raises on misuse; delivery is reported later, to ``stats``.
        """
        if self._closed:
            raise ProducerClosedError("send_all() after close()")
        if self._listener is not None:
            raise TypeError("send_all() reports to stats only: send() events that have a listener")
        poll, stats = self._producer.poll, self.stats
        sent: dict[str, int] = {}
        count = 0
        try:
            for event in events:
                stamped, topic, value, key = self._encode(event, None)
                self._produce(stamped, topic, value, key, self._acked)
                stats.sent += 1
                count += 1
                sent[topic] = sent.get(topic, 0) + 1
                if count % POLL_EVERY == 0:
                    poll(0)
                if progress is not None and count % every == 0:
                    progress(count)
        finally:
            for topic, n in sent.items():
                METRICS.produced[topic] += n
        return count

    def _acked(self, error: KafkaError | None, message: Message) -> None:
        if error is None:
            self.stats.acked += 1
        else:
            self._count(error, message)
