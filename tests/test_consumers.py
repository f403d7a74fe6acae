"""Consumers end to end against the real cluster and PostgreSQL, isolated by unique names.

Each test gets its own topics, groups and PostgreSQL schema; consumers run in threads (or as
runner subprocesses where a process must die).
"""

from __future__ import annotations

import signal
import time
import uuid

import pytest
from confluent_kafka import Consumer
from sqlalchemy import select

from apps.verify import Target, verify
from collect.clock import CounterClock
from collect.pools import build_pools
from collect.stream import RealtimeStream
from common.entities import topic_of
from database.database import make_engine
from database.models import TABLES
from kafka.consumers import CONSUMERS, ORDER_CONSUMER
from tests.consumer_events import (
    caught_up,
    latest,
    order_history,
    produce,
    product_event,
    user_event,
    versions,
    wait_until,
)
from tests.exactly_once_support import pair


def snapshot(url: str, table: str) -> list[tuple]:
    """Every column except ``applied_at``, for before/after comparisons."""
    engine = make_engine(url, pool_size=1)
    target = TABLES[table]
    columns = [c for c in target.columns if c.name != "applied_at"]
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(select(*columns).order_by(*target.primary_key.columns))]
    finally:
        engine.dispose()


def test_nine_members_end_to_end_then_replay(kafka_settings, schema_url, names, running, unique_name):
    """Seed + orders with lifecycle updates through 3 groups x 3 members; verify passes; replay is a no-op."""
    stream = RealtimeStream(build_pools("en_US", 3, 200), seed=3, clock=CounterClock())
    events = [*stream.users.catalogue(100), *stream.products.catalogue(100)]
    stream.load_catalogue(100, 100)
    events += stream.new_orders(300) + list(stream.events(1_700))
    targets = {}
    for entity, spec in CONSUMERS.items():
        topic, dlq, group = names(entity)
        targets[entity] = Target(spec, topic, group, dlq)
        produce(kafka_settings, topic, [e for e in events if topic_of(e) == entity])
    members = [
        running.start(
            t.spec.build(kafka_settings, schema_url, n, topic=t.topic, group_id=t.group_id, dlq_topic=t.dlq_topic)
        )
        for t in targets.values()
        for n in (1, 2, 3)
    ]
    for t in targets.values():
        wait_until(lambda t=t: caught_up(kafka_settings, t.topic, t.group_id), 90, f"{t.topic} lag 0")
    wait_until(lambda: all(len(m.assignment) == 1 for m in members), 30, "one partition per member")
    for entity, t in targets.items():
        assert {p for m in members if m.topic == t.topic for _, p in m.assignment} == {0, 1, 2}
        assert versions(schema_url, entity) == latest(e for e in events if topic_of(e) == entity)
    report = verify(kafka_settings, schema_url, list(targets.values()))
    assert report.ok and report.caught_up, report
    assert sum(t.rows for t in report.topics) == len({e.entity_id for e in events})
    before = {entity: snapshot(schema_url, entity) for entity in targets}
    running.stop()

    # Replay: a fresh group reads every topic from the beginning; nothing changes.
    for entity, t in targets.items():
        group = unique_name(f"{entity}-replay")
        replay = running.start(CONSUMERS[entity].build(kafka_settings, schema_url, 9, topic=t.topic, group_id=group))
        # 120 s: a new group may wait out a coordinator that is loading (CI once timed out at 60)
        wait_until(lambda t=t, g=group: caught_up(kafka_settings, t.topic, g), 120, f"replay of {t.topic}")
        running.stop()
        assert replay.stats["consumed"] == sum(1 for e in events if topic_of(e) == entity)
        assert replay.stats["applied"] == 0
        assert snapshot(schema_url, entity) == before[entity]


POISON = {
    "users": [b"{not json", b'{"event_id": "x"}'],
    "products": [b"\xff\xfe binary", b'{"event_type": "product.created"}'],
    "orders": [b"[]", b'{"event_id": 1, "payload": {}}'],
}


def _good(entity: str):
    if entity == "users":
        ids = [uuid.uuid4() for _ in range(20)]
        return [user_event(i, v) for v in (1, 2) for i in ids]
    if entity == "products":
        ids = [uuid.uuid4() for _ in range(20)]
        return [product_event(i, v, stock=v) for v in (1, 2) for i in ids]
    return order_history(20)


@pytest.mark.parametrize("entity", ["users", "products", "orders"])
def test_poison_goes_to_dlq_with_headers(entity, kafka_settings, schema_url, names, running):
    topic, dlq, group = names(entity, partitions=1)
    good = _good(entity)
    produce(kafka_settings, topic, good[:10], raw=POISON[entity])
    produce(kafka_settings, topic, good[10:])
    running.start(CONSUMERS[entity].build(kafka_settings, schema_url, 1, topic=topic, group_id=group, dlq_topic=dlq))
    wait_until(lambda: caught_up(kafka_settings, topic, group), 60, "lag 0")
    assert versions(schema_url, entity) == latest(good)

    reader = Consumer({"bootstrap.servers": kafka_settings.bootstrap_servers, "group.id": group + "-dlq-reader",
                       "auto.offset.reset": "earliest"})  # fmt: skip
    reader.subscribe([dlq])
    rejects = []
    deadline = time.monotonic() + 30
    while len(rejects) < 2 and time.monotonic() < deadline:
        message = reader.poll(1.0)
        if message is not None and message.error() is None:
            rejects.append(message)
    reader.close()
    assert [m.value() for m in rejects] == POISON[entity]
    for offset, message in zip((10, 11), rejects, strict=True):
        headers = {k: v.decode() for k, v in message.headers()}
        assert headers["original_topic"] == topic
        assert headers["original_partition"] == "0" and headers["original_offset"] == str(offset)
        assert headers["consumer_group"] == group and headers["error"] and headers["failed_at"]
        assert headers["error_type"] in ("decode", "schema")


def test_postgres_down_for_15s_nothing_lost(runtime, kafka_settings, schema_url, names, running):
    if getattr(runtime, "supervisor", None) is None:
        pytest.skip("needs the supervised local PostgreSQL")
    topic, dlq, group = names("orders")
    first, second = order_history(100, seed=1), order_history(100, seed=2)
    consumer = running.start(
        ORDER_CONSUMER.build(kafka_settings, schema_url, 1, topic=topic, group_id=group, dlq_topic=dlq, max_backoff_s=2)
    )
    produce(kafka_settings, topic, first)
    wait_until(lambda: caught_up(kafka_settings, topic, group), 60, "first half applied")
    runtime.supervisor.stop("postgres")
    try:
        produce(kafka_settings, topic, second)
        time.sleep(15)
        assert not caught_up(kafka_settings, topic, group), "committed while the database was down"
        assert consumer.stats["dead_lettered"] == 0
    finally:
        runtime.supervisor.start("postgres")
    wait_until(lambda: caught_up(kafka_settings, topic, group), 90, "recovery")
    assert versions(schema_url, "orders") == latest(first + second)


def test_sigkill_member_sibling_takes_over_and_sigterm_exits_0(kafka_settings, schema_url, names):
    topic, _dlq, group = order_names = names("orders", partitions=2)
    events = order_history(3_000, seed=5)
    victim, sibling = pair(kafka_settings, schema_url, order_names, events, under_way=200)
    try:
        assert not caught_up(kafka_settings, topic, group)
        victim.send_signal(signal.SIGKILL)
        victim.wait(10)
        wait_until(lambda: caught_up(kafka_settings, topic, group), 120, "sibling to finish")
        assert versions(schema_url, "orders") == latest(events)
        sibling.send_signal(signal.SIGTERM)
        assert sibling.wait(30) == 0
        assert b"consumer stopped" in sibling.stderr.read()
    finally:
        for process in (victim, sibling):
            if process.poll() is None:
                process.kill()
                process.wait(10)
