"""The three ways the application can hand an event over, behind one small interface.

- ``single`` (Kafka OFF): one transaction per event, as a web handler would; the call returns
  once PostgreSQL committed. A failed call is an error, and the event is lost (the handler has
  nowhere to keep it).
- ``batched`` (Kafka OFF): events are buffered in memory and written with the consumers' COPY
  upsert when ``batch_size`` is reached or the oldest is ``max_age_s`` old. A failed write keeps
  the buffer and retries a second later: nothing is lost unless the process dies meanwhile.
- ``kafka`` (Kafka ON): ``EventProducer.send``; the call returns once the event is queued, and
  the acknowledgement (all in-sync replicas) arrives later.

``durable`` collects, per event, the seconds from hand-over to durable (commit or ack).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from common.entities import ENTITIES, entity_of, event_row, topic_of
from common.events import Event
from common.settings import KafkaSettings
from database.crud import upsert_latest
from database.database import make_engine
from database.models import table_named
from kafka.producer.producer import EventProducer

RETRY_AFTER_S = 1.0


class Handler(Protocol):
    """What the load driver calls."""

    errors: int
    lost: int
    durable: list[float]

    def handle(self, event: Event) -> bool:
        """Hand one event over; True when the application accepted it."""
        ...

    def tick(self) -> None:
        """Idle time between paced events: serve callbacks, flush by age."""
        ...

    def finish(self, timeout_s: float) -> None:
        """Drain whatever is still buffered or in flight."""
        ...


def _connected(database_url: str) -> Engine:
    """An engine whose one connection is already open: a running service has long paid for it."""
    engine = make_engine(database_url, pool_size=1, connect_args={"connect_timeout": 3})
    with engine.connect():
        pass
    return engine


class SingleRowWriter:
    """Kafka OFF: one version-guarded upsert, one transaction, per event."""

    def __init__(self, database_url: str) -> None:
        self.engine = _connected(database_url)
        self.errors = self.lost = 0
        self.durable: list[float] = []

    def handle(self, event: Event) -> bool:
        started = time.perf_counter()
        row = event_row(event.stamped())
        try:
            with self.engine.begin() as conn:
                upsert_latest(conn, table_named(entity_of(topic_of(event)).table), [row], method="values")
        except SQLAlchemyError:
            self.errors += 1
            self.lost += 1
            return False
        self.durable.append(time.perf_counter() - started)
        return True

    def tick(self) -> None:
        """Nothing runs in the background."""

    def finish(self, timeout_s: float) -> None:
        self.engine.dispose()


class BatchedWriter:
    """Kafka OFF, batched: an in-memory buffer written with COPY upserts."""

    def __init__(self, database_url: str, batch_size: int = 1_000, max_age_s: float = 0.2) -> None:
        self.engine = _connected(database_url)
        self.batch_size, self.max_age_s = batch_size, max_age_s
        self.errors = self.lost = self.peak_buffer = 0
        self.durable: list[float] = []
        self._rows: list[tuple[str, dict, float]] = []
        self._retry_at = 0.0

    def handle(self, event: Event) -> bool:
        self._rows.append((topic_of(event), event_row(event.stamped()), time.perf_counter()))
        self.peak_buffer = max(self.peak_buffer, len(self._rows))
        if len(self._rows) >= self.batch_size:
            self.flush()
        return True

    def tick(self) -> None:
        if self._rows and time.perf_counter() - self._rows[0][2] >= self.max_age_s:
            self.flush()

    def flush(self) -> bool:
        """Write the buffer in one transaction; keep it on failure (retried after a second)."""
        now = time.perf_counter()
        if not self._rows or now < self._retry_at:
            return not self._rows
        try:
            with self.engine.begin() as conn:
                for entity in ENTITIES:
                    rows = [row for t, row, _ in self._rows if t == entity.topic]
                    upsert_latest(conn, table_named(entity.table), rows, method="copy")
        except SQLAlchemyError:
            self.errors += 1
            self._retry_at = now + RETRY_AFTER_S
            return False
        done = time.perf_counter()
        self.durable += [done - at for _, _, at in self._rows]
        self._rows.clear()
        return True

    def finish(self, timeout_s: float) -> None:
        deadline = time.perf_counter() + timeout_s
        while not self.flush() and time.perf_counter() < deadline:
            time.sleep(0.1)
        self.lost = len(self._rows)
        self.engine.dispose()


class KafkaPublisher:
    """Kafka ON: publish through the producer wrapper; consumers apply the events."""

    def __init__(
        self,
        kafka: KafkaSettings,
        topics: Mapping[str, str],
        warm_up: Sequence[Event] = (),
        on_acked: Callable[[Event], None] | None = None,
        overrides: Mapping[str, object] | None = None,
    ) -> None:
        self.on_acked = on_acked
        self.producer = EventProducer(
            kafka, topics=topics, on_delivery=self._delivered, client_id="bench-app", overrides=overrides
        )
        self.errors = self.lost = 0
        self.durable: list[float] = []
        self.acked_at: list[float] = []  # perf_counter() of each acknowledgement: the app-side ON rate
        for event in warm_up:
            # The wrapper looks each topic up once, on first use; a running service has long paid
            # for that, so the benchmark pays it before the clock starts (nothing is sent).
            self.producer._resolve(event, None)

    def _delivered(self, event: Event, error: object) -> None:
        if error is None:
            self.acked_at.append(time.perf_counter())
            self.durable.append((datetime.now(UTC) - event.produced_at).total_seconds())  # type: ignore[operator]
            if self.on_acked is not None:
                self.on_acked(event)

    def handle(self, event: Event) -> bool:
        self.producer.send(event)
        return True

    def tick(self) -> None:
        self.producer.poll(0)

    def finish(self, timeout_s: float) -> None:
        report = self.producer.close(timeout_s)
        self.errors, self.lost = report.failed, report.failed + report.undelivered
