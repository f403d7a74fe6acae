"""Small, exact event sets for the consumer and database tests, built from common/events.py.

Versions are explicit so a test knows the final state it expects: the latest version of each
entity. ``produce`` sends events keyed by entity id, like the real producer.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from confluent_kafka import Producer
from sqlalchemy import select

from common.events import OrderEvent, OrderPayload, ProductEvent, ProductPayload, UserEvent, UserPayload
from common.settings import KafkaSettings
from database.database import make_engine
from database.models import TABLES
from kafka.config import producer_config
from kafka.offsets import partition_offsets

T0 = datetime(2025, 1, 1, tzinfo=UTC)
STEPS = ("created", "paid", "shipped", "delivered")


def _at(version: int) -> datetime:
    return T0 + timedelta(seconds=version)


def user_event(user_id: uuid.UUID, version: int, city: str = "Seoul") -> UserEvent:
    payload = UserPayload(
        user_id=user_id,
        name=f"user {version}",
        email=f"u{user_id.hex[:8]}@example.com",
        phone="010-1234-5678",
        address=f"{version} Main St",
        city=city,
        signed_up_at=T0,
    )
    kind = "user.created" if version == 1 else "user.updated"
    return UserEvent(
        event_id=uuid.uuid4(), entity_id=user_id, version=version, occurred_at=_at(version), event_type=kind,
        payload=payload,
    )  # fmt: skip


def product_event(product_id: uuid.UUID, version: int, stock: int = 10) -> ProductEvent:
    payload = ProductPayload(
        product_id=product_id, name="Kettle", category="Kitchen", brand="Acme", price=Decimal("19.90"), stock=stock
    )
    kind = "product.created" if version == 1 else "product.updated"
    return ProductEvent(
        event_id=uuid.uuid4(), entity_id=product_id, version=version, occurred_at=_at(version), event_type=kind,
        payload=payload,
    )  # fmt: skip


def order_events(user_id: uuid.UUID, product_id: uuid.UUID, steps: int) -> list[OrderEvent]:
    """One order moved through ``steps`` lifecycle states, versions 1..steps."""
    order_id = uuid.uuid4()
    events = []
    for version, status in enumerate(STEPS[:steps], start=1):
        payload = OrderPayload(
            order_id=order_id, user_id=user_id, product_id=product_id, quantity=2, unit_price=Decimal("19.90"),
            total_amount=Decimal("39.80"), status=status,
        )  # fmt: skip
        events.append(
            OrderEvent(
                event_id=uuid.uuid4(),
                entity_id=order_id,
                version=version,
                occurred_at=_at(version),
                produced_at=datetime.now(UTC),
                event_type=f"order.{status}",
                payload=payload,
            )  # fmt: skip
        )
    return events


def order_history(count: int, seed: int = 7) -> list[OrderEvent]:
    """``count`` orders with 1-4 lifecycle events each, interleaved but in order per order."""
    rng = random.Random(seed)
    users, products = [uuid.uuid4() for _ in range(20)], [uuid.uuid4() for _ in range(20)]
    queues = [order_events(rng.choice(users), rng.choice(products), rng.randint(1, 4)) for _ in range(count)]
    events: list[OrderEvent] = []
    while queues:
        queue = queues[rng.randrange(len(queues))]
        events.append(queue.pop(0))
        if not queue:
            queues.remove(queue)
    return events


def latest(events: Iterable[UserEvent | ProductEvent | OrderEvent]) -> dict[uuid.UUID, int]:
    """The expected table: entity id -> highest version."""
    expected: dict[uuid.UUID, int] = {}
    for event in events:
        expected[event.entity_id] = max(expected.get(event.entity_id, 0), event.version)
    return expected


def produce(
    settings: KafkaSettings, topic: str, events: Sequence[object], raw: Sequence[bytes | tuple[bytes, bytes]] = ()
) -> None:
    """Send events (and raw values, for poison tests) and wait until all are acknowledged.

    A raw value is sent with the key ``poison``; a ``(key, value)`` pair with its own key.
    """
    producer = Producer(producer_config(settings, "test-producer"))
    errors: list[object] = []

    def delivered(err: object, _msg: object) -> None:
        if err is not None:
            errors.append(err)

    for event in events:
        producer.produce(topic, key=str(event.entity_id), value=event.model_dump_json(), on_delivery=delivered)  # type: ignore[attr-defined]
        producer.poll(0)
    for item in raw:
        key, value = item if isinstance(item, tuple) else (b"poison", item)
        producer.produce(topic, key=key, value=value, on_delivery=delivered)
    assert producer.flush(30) == 0 and not errors, errors


class Running:
    """Consumers running in threads; stopped (like SIGTERM) at the end of the test."""

    def __init__(self) -> None:
        self.members: list[tuple[object, threading.Thread]] = []

    def start(self, consumer):
        thread = threading.Thread(target=consumer.run, daemon=True)
        thread.start()
        self.members.append((consumer, thread))
        return consumer

    def stop(self) -> None:
        for consumer, _ in self.members:
            consumer.stop()
        for _, thread in self.members:
            thread.join(60)
            assert not thread.is_alive()
        self.members.clear()


def wait_until(predicate, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def caught_up(settings, topic: str, group: str) -> bool:
    return sum(p.lag for p in partition_offsets(settings, topic, group)) == 0


def versions(url: str, table: str) -> dict:
    engine = make_engine(url, pool_size=1)
    try:
        with engine.connect() as conn:
            target = TABLES[table]
            key = target.primary_key.columns.values()[0]
            return dict(conn.execute(select(key, target.c.version)).all())
    finally:
        engine.dispose()
