"""Exactly-once into PostgreSQL under faults: replay, SIGKILL loop, a zombie member, and the detector.

Each test checks the sales aggregates against ``verify``'s own recomputation from the topic
(``apps/verify/aggregates.py``), and the entity tables against the topic's latest versions.
"""

from __future__ import annotations

import signal
import time
import uuid

import pytest
from confluent_kafka import Producer

from apps.verify import Target, verify
from collect.clock import CounterClock
from collect.pools import build_pools
from collect.stream import RealtimeStream
from common.entities import topic_of
from kafka.config import producer_config
from kafka.consumers import CONSUMERS, ORDER_CONSUMER
from kafka.offsets import read_topic
from tests.consumer_events import caught_up, latest, order_history, produce, versions, wait_until
from tests.exactly_once_support import kill_loop, reset_to_earliest, runner, snapshot, stop

pytestmark = pytest.mark.slow


def test_replay_after_kafka_offsets_reset_reapplies_nothing(kafka_settings, schema_url, names, running):
    stream = RealtimeStream(build_pools("en_US", 3, 200), seed=14, clock=CounterClock())
    events = [*stream.users.catalogue(100), *stream.products.catalogue(100)]
    stream.load_catalogue(100, 100)
    events += stream.new_orders(300) + list(stream.events(1_500))
    targets = []
    for entity, spec in CONSUMERS.items():
        topic, dlq, group = names(entity)
        targets.append(Target(spec, topic, group, dlq))
        produce(kafka_settings, topic, [e for e in events if topic_of(e) == entity])

    def run_groups() -> list:
        members = [
            running.start(t.spec.build(kafka_settings, schema_url, n, topic=t.topic, group_id=t.group_id,
                                       dlq_topic=t.dlq_topic))
            for t in targets for n in (1, 2)
        ]  # fmt: skip
        for t in targets:
            wait_until(lambda t=t: caught_up(kafka_settings, t.topic, t.group_id), 90, f"{t.topic} lag 0")
        running.stop()
        return members

    run_groups()
    report = verify(kafka_settings, schema_url, targets)
    assert report.ok and report.caught_up, report
    assert report.sales is not None and report.sales.products > 0 and report.sales.customers > 0
    before = snapshot(schema_url)
    for t in targets:
        reset_to_earliest(kafka_settings, t.topic, t.group_id)
    replayed = run_groups()  # lag 0 again: the members mirrored PostgreSQL's offsets back to Kafka
    assert sum(m.stats["consumed"] for m in replayed) == 0
    assert sum(m.stats["applied"] for m in replayed) == 0
    assert snapshot(schema_url) == before
    assert verify(kafka_settings, schema_url, targets).ok


def _check(kafka_settings, schema_url, names, events):
    topic, dlq, group = names
    wait_until(lambda: caught_up(kafka_settings, topic, group), 180, "lag 0")
    assert versions(schema_url, "orders") == latest(events), "an acknowledged event is missing"
    return verify(kafka_settings, schema_url, [Target(ORDER_CONSUMER, topic, group, dlq)])


def test_sigkill_loop_aggregates_exact(kafka_settings, schema_url, names):
    order_names = names("orders")
    events = order_history(6_000, seed=21)
    members = kill_loop(kafka_settings, schema_url, order_names, events, kills=10)
    try:
        report = _check(kafka_settings, schema_url, order_names, events)
    finally:
        stop(members)
    assert report.sales is not None and report.sales.ok, report.sales
    assert report.ok, report


def test_detector_fires_with_offsets_in_kafka_only(kafka_settings, schema_url, names):
    """The same kill loop in at-least-once mode, then a replay from the group's reset Kafka offsets:
    redelivered batches count twice and verify says so. (The kills alone double-count only when one
    lands between a batch's commit in PostgreSQL and its offsets' commit in Kafka: not every run.)"""
    order_names = topic, dlq, group = names("orders")
    events = order_history(6_000, seed=21)
    at_least_once = {"PIPELINE_KAFKA_CONSUMER_OFFSETS_IN_KAFKA_ONLY": "true"}
    members = kill_loop(kafka_settings, schema_url, order_names, events, kills=10, **at_least_once)
    try:
        wait_until(lambda: caught_up(kafka_settings, topic, group), 180, "lag 0")
    finally:
        stop(members)
    reset_to_earliest(kafka_settings, topic, group)
    replay = [runner(kafka_settings, schema_url, topic, dlq, group, 1, **at_least_once)]
    try:
        report = _check(kafka_settings, schema_url, order_names, events)
    finally:
        stop(replay)
    assert report.sales is not None and not report.sales.ok
    assert report.sales.double_counted > 0, report.sales
    assert not report.ok


def test_zombie_member_batch_is_not_committed(kafka_settings, schema_url, names):
    """SIGSTOP a member mid-backlog past its session timeout; its partitions move; SIGCONT: fenced."""
    topic, dlq, group = order_names = names("orders", partitions=2)
    events = order_history(6_000, seed=8)
    produce(kafka_settings, topic, events)
    zombie, members = runner(kafka_settings, schema_url, topic, dlq, group, 1), []
    try:
        wait_until(lambda: len(versions(schema_url, "orders")) > 300, 60, "the zombie under way")
        zombie.send_signal(signal.SIGSTOP)  # frozen with a batch (or a prefetched queue) in hand
        members = [zombie, runner(kafka_settings, schema_url, topic, dlq, group, 2)]
        # The sibling gets both partitions once the zombie's session expires (6 s); PostgreSQL ends
        # a transaction the zombie left open after 10 s idle; the sibling drains the topic.
        wait_until(lambda: caught_up(kafka_settings, topic, group), 180, "the sibling to drain the topic")
        zombie.send_signal(signal.SIGCONT)
        time.sleep(8)  # the zombie writes what it holds, is fenced or told its partitions are lost
        report = _check(kafka_settings, schema_url, order_names, events)
    finally:
        zombie_log = stop(members or [zombie])[0]
    assert any(
        line in zombie_log for line in (b"batch fenced off", b"partitions lost", b"revoked with an unwritten batch")
    ), zombie_log[-3000:]
    assert report.sales is not None and report.sales.ok, report.sales
    assert report.ok, report


def test_key_mismatch_and_version_conflict_are_dead_lettered(kafka_settings, schema_url, names, running):
    topic, dlq, group = names("orders", partitions=1)
    good = order_history(20, seed=3)
    last = good[-1]  # its order's latest version: the row will hold it
    impostor = last.model_copy(update={"event_id": uuid.uuid4(), "payload": last.payload.model_copy(
        update={"quantity": 1, "total_amount": last.payload.unit_price})})  # fmt: skip
    stray = order_history(1, seed=4)[0]
    produce(kafka_settings, topic, good)
    producer = Producer(producer_config(kafka_settings, "bad-input"))
    producer.produce(topic, key=str(uuid.uuid4()), value=stray.model_dump_json())  # keyed by another id
    producer.produce(topic, key=str(impostor.entity_id), value=impostor.model_dump_json())
    assert producer.flush(30) == 0
    running.start(ORDER_CONSUMER.build(kafka_settings, schema_url, 1, topic=topic, group_id=group, dlq_topic=dlq))
    wait_until(lambda: caught_up(kafka_settings, topic, group), 60, "lag 0")
    assert versions(schema_url, "orders") == latest(good)  # the stray order is not applied
    letters = {m.offset(): dict(m.headers()) for m in read_topic(kafka_settings, dlq)}
    kinds = sorted((int(h["original_offset"]), h["error_type"].decode()) for h in letters.values())
    assert kinds == [(len(good), "key_mismatch"), (len(good) + 1, "version_conflict")]
    report = verify(kafka_settings, schema_url, [Target(ORDER_CONSUMER, topic, group, dlq)])
    assert report.ok, report  # verify agrees: the two are invalid and in the dead-letter topic
