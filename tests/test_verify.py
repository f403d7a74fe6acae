"""``verify`` against a real cluster and PostgreSQL: each detector fires, live runs pass, runs are incremental.

Every test gets its own topics, groups and migrated schema (``pipeline``); the consumers run in
threads like the supervised ones. Detectors: a row deleted (missing), set back a version
(stale), changed at the same version (tampered), invented (extra); a rejected message without
its dead letter, and one dead-lettered twice.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from sqlalchemy import text

from apps.verify import Target, verify
from apps.verify.reconcile import EXIT_MISMATCH, EXIT_OK
from common.settings import PROJECT_ROOT, KafkaSettings
from database.database import make_engine
from kafka.config import consumer_config, producer_config
from kafka.consumers import CONSUMERS
from kafka.offsets import read_topic
from tests.consumer_events import Running, caught_up, produce, user_event, wait_until


@dataclass
class Pipeline:
    """Three entity topics with their dead-letter topics and groups, one schema, consumers in threads."""

    kafka: KafkaSettings
    url: str
    targets: dict[str, Target]
    running: Running

    def start(self) -> None:
        for t in self.targets.values():
            self.running.start(t.spec.build(self.kafka, self.url, topic=t.topic, group_id=t.group_id,
                                            dlq_topic=t.dlq_topic, batch_timeout_s=0.2))  # fmt: skip

    def drain(self) -> None:
        for t in self.targets.values():
            wait_until(lambda t=t: caught_up(self.kafka, t.topic, t.group_id), 90, f"{t.topic} lag 0")

    def verify(self, **options):
        return verify(self.kafka, self.url, list(self.targets.values()), wait_s=60, **options)

    def sql(self, statement: str, **params) -> None:
        engine = make_engine(self.url, pool_size=1)
        try:
            with engine.begin() as conn:
                conn.execute(text(statement), params)
        finally:
            engine.dispose()


@pytest.fixture
def pipeline(kafka_settings, schema_url, names, running) -> Pipeline:
    targets = {}
    for entity, spec in CONSUMERS.items():
        topic, dlq, group = names(entity)
        targets[entity] = Target(spec, topic, group, dlq)
    return Pipeline(kafka_settings, schema_url, targets, running)


@pytest.fixture
def users(pipeline) -> list[uuid.UUID]:
    """Ten users (versions 1-3) and two poison messages, applied and verified."""
    ids = [uuid.uuid4() for _ in range(10)]
    events = [user_event(u, v) for v in (1, 2, 3) for u in ids]
    produce(pipeline.kafka, pipeline.targets["users"].topic, events, raw=[b"{not json", b'{"event_id": 1}'])
    pipeline.start()
    pipeline.drain()
    report = pipeline.verify()
    assert report.exit_code == EXIT_OK, report
    assert report.topics[0].counts["invalid"] == 2 and report.topics[0].counts["dead letters"] == 2
    return ids


def finding(report, kind: str) -> int:
    return sum(t.counts.get(kind, 0) for t in report.topics)


def test_deleted_row_is_missing(pipeline, users):
    pipeline.sql("DELETE FROM users WHERE user_id = :id", id=users[0])
    report = pipeline.verify()
    assert report.exit_code == EXIT_MISMATCH and finding(report, "missing") == 1, report


def test_older_version_is_stale(pipeline, users):
    pipeline.sql("UPDATE users SET version = 2 WHERE user_id = :id", id=users[1])
    report = pipeline.verify()
    assert report.exit_code == EXIT_MISMATCH and finding(report, "stale") == 1, report


def test_row_changed_at_the_same_version_is_tampered(pipeline, users):
    pipeline.sql("UPDATE users SET name = 'someone else' WHERE user_id = :id", id=users[2])
    report = pipeline.verify()
    assert report.exit_code == EXIT_MISMATCH and finding(report, "tampered") == 1, report
    pipeline.sql("UPDATE users SET name = 'user 3' WHERE user_id = :id", id=users[2])  # put back: ok again
    assert pipeline.verify().exit_code == EXIT_OK


def test_row_without_event_is_extra(pipeline, users):
    pipeline.sql("INSERT INTO users SELECT :new, name, email, phone, address, city, signed_up_at, version, event_id,"
                 " occurred_at, produced_at, applied_at FROM users WHERE user_id = :id", new=uuid.uuid4(), id=users[3])  # fmt: skip
    report = pipeline.verify()
    assert report.exit_code == EXIT_MISMATCH and finding(report, "extra") == 1, report


def test_rejected_message_without_dead_letter_is_missing(pipeline, users):
    """A consumer that skipped a poison message without dead-lettering it: its group moved past it."""
    pipeline.running.stop()
    target = pipeline.targets["users"]
    produce(pipeline.kafka, target.topic, [], raw=[b"[]"])
    consumer = Consumer(consumer_config(pipeline.kafka, target.group_id))
    try:
        highs = [TopicPartition(target.topic, p, consumer.get_watermark_offsets(TopicPartition(target.topic, p))[1])
                 for p in range(3)]  # fmt: skip
        consumer.commit(offsets=highs, asynchronous=False)
    finally:
        consumer.close()
    report = pipeline.verify()
    assert report.exit_code == EXIT_MISMATCH and finding(report, "dlq missing") == 1, report


def test_dead_letter_written_twice(pipeline, users):
    target = pipeline.targets["users"]
    letter = next(read_topic(pipeline.kafka, target.dlq_topic))
    producer = Producer(producer_config(pipeline.kafka, "test-dlq-twice"))
    producer.produce(target.dlq_topic, value=letter.value(), key=letter.key(), headers=letter.headers())
    assert producer.flush(30) == 0
    report = pipeline.verify()
    assert report.exit_code == EXIT_MISMATCH and finding(report, "dlq twice") == 1, report


def test_second_run_reads_nothing_new_and_survives_retention(pipeline, users, kafka_settings):
    """Unchanged topics: nothing read. Then retention deletes every user event: still ok, from saved state."""
    assert sum(t.read for t in pipeline.verify().topics) == 0
    target = pipeline.targets["users"]
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": kafka_settings.bootstrap_servers})
    ends = [TopicPartition(target.topic, p, -1) for p in range(3)]  # -1: up to the high watermark
    for future in admin.delete_records(ends, request_timeout=30).values():
        future.result(timeout=30)
    produce(pipeline.kafka, target.topic, [user_event(users[0], 4)])
    pipeline.drain()
    report = pipeline.verify()
    assert report.exit_code == EXIT_OK, report
    assert report.topics[0].read == 1 and report.topics[0].expired == 0
    assert report.topics[0].entities == 10 and report.topics[0].rows == 10
