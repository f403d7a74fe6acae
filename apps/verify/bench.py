"""Time a first and a repeated ``verify`` over a million messages (``python -m apps.verify.bench``).

Against the running runtime (``make up``): creates a scratch order topic (+ dead-letter topic), a
scratch schema and group; produces ``--orders`` orders x 4 lifecycle events with a bare
confluent-kafka producer (pre-built JSON), writes each order's latest row straight into the
scratch ``orders`` table through the sink's mapping, commits the group past the end, then runs
verify: the first run reads every message, the repeated one only what is new (nothing), a third
one after ``--more`` orders only those.
Everything scratch is removed afterwards. Prints seconds per run and messages read.
"""

from __future__ import annotations

import argparse
import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from confluent_kafka import TopicPartition
from confluent_kafka.admin import NewTopic

from apps.benchmarks.scratch import scratch_schema
from apps.verify.reconcile import verify
from apps.verify.target import Target
from common.events import OrderEvent
from common.settings import DatabaseSettings, KafkaSettings, load
from database.crud import upsert_latest
from database.database import make_engine
from kafka import clients
from kafka.consumers import ORDER_CONSUMER
from kafka.offsets import retrying, watermarks

STEPS = ("created", "paid", "shipped", "delivered")
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def order_values(orders: int) -> Iterator[tuple[bytes, bytes, int]]:
    """``(key, JSON value, version)`` of every lifecycle event, all four events of an order in a row."""
    for n in range(orders):
        order_id, user_id, product_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        for version, status in enumerate(STEPS, start=1):
            payload = {"order_id": str(order_id), "user_id": str(user_id), "product_id": str(product_id),
                       "quantity": 2, "unit_price": "19.90", "total_amount": "39.80", "status": status}  # fmt: skip
            body = {"event_id": str(uuid.uuid4()), "entity_id": str(order_id), "version": version,
                    "occurred_at": (T0 + timedelta(seconds=n)).isoformat(), "event_type": f"order.{status}",
                    "payload": payload}  # fmt: skip
            yield str(order_id).encode(), json.dumps(body).encode(), version


def produce(kafka: KafkaSettings, topic: str, orders: int) -> list[bytes]:
    """Publish every event; returns the latest event of each order (for the table)."""
    conf = {"acks": "all", "enable.idempotence": True, "linger.ms": 30, "batch.size": 262144, "compression.type": "lz4"}
    producer, latest = clients.plain_producer(kafka, "verify-bench", conf), []
    for key, value, version in order_values(orders):
        while True:
            try:
                producer.produce(topic, value=value, key=key)
                break
            except BufferError:
                producer.poll(0.05)
        if version == len(STEPS):
            latest.append(value)
    assert producer.flush(120) == 0, "messages not acknowledged"
    return latest


def apply(kafka: KafkaSettings, url: str, topic: str, group: str, orders: int) -> None:
    """Publish ``orders`` x 4 events, write their rows as the sink would, commit the group past them."""
    started = time.monotonic()
    latest = produce(kafka, topic, orders)
    print(f"produced {orders * len(STEPS):,} messages in {time.monotonic() - started:.1f}s")
    engine = make_engine(url, pool_size=1)
    with engine.begin() as conn:
        upsert_latest(
            conn, ORDER_CONSUMER.table, [ORDER_CONSUMER.to_row(OrderEvent.model_validate_json(v)) for v in latest]
        )
    engine.dispose()
    committer = clients.consumer(kafka, group)
    ends = [TopicPartition(topic, p, watermarks(committer, TopicPartition(topic, p))[1]) for p in range(3)]
    # a fresh cluster may still be loading the group coordinator
    retrying(lambda: committer.commit(offsets=ends, asynchronous=False), timeout_s=60, pause_s=1)
    committer.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="First vs repeated verify over many messages.")
    parser.add_argument("--orders", type=int, default=250_000, help="orders; each has 4 events")
    parser.add_argument("--more", type=int, default=2_500, help="orders added before the third run")
    args = parser.parse_args(argv)
    kafka, url = load(KafkaSettings), load(DatabaseSettings).url  # type: ignore[attr-defined]
    assert isinstance(kafka, KafkaSettings)
    name = f"verify-bench-{uuid.uuid4().hex[:8]}"
    admin = clients.admin(kafka, "verify-bench")
    topics = [NewTopic(name, 3, 3, config={"min.insync.replicas": "2"}), NewTopic(f"{name}-dlq", 1, 3)]
    for future in admin.create_topics(topics).values():
        future.result(30)
    try:
        with scratch_schema(url, name.replace("-", "_")) as scoped:  # the state tables are in it too
            target = Target(ORDER_CONSUMER, name, f"{name}-group", f"{name}-dlq")
            apply(kafka, scoped, name, target.group_id, args.orders)
            for run in ("first", "repeated", "after new messages"):
                if run == "after new messages":
                    apply(kafka, scoped, name, target.group_id, args.more)
                report = verify(kafka, scoped, [target], wait_s=30)
                read = report.topics[0].read
                print(f"{run} run: {report.took_s:.2f}s, {read:,} messages read, exit {report.exit_code}")
    finally:
        for future in admin.delete_topics([name, f"{name}-dlq"]).values():
            future.result(60)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
