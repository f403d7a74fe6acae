"""``verify`` against a real cluster and PostgreSQL: each detector fires, live runs pass, runs are incremental.

Every test gets its own topics, groups and migrated schema (``pipeline``); the consumers run in
threads like the supervised ones. Detectors: a row deleted (missing), set back a version
(stale), changed at the same version (tampered), invented (extra); a rejected message without
its dead letter, and one dead-lettered twice.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from rich.console import Console
from sqlalchemy import text

from apps.console.verify_hook import production_runner
from apps.verify import Findings, JsonFold, Record, Target, TopicReport, VerifyReport, print_report, verify
from apps.verify.reconcile import EXIT_MISMATCH, EXIT_OK
from apps.verify.render import main as verify_main
from common.events import OrderEvent
from common.settings import PROJECT_ROOT, KafkaSettings
from database.database import make_engine
from kafka.config import consumer_config, producer_config
from kafka.consumers import CONSUMERS
from kafka.offsets import read_topic
from tests.consumer_events import Running, caught_up, order_events, produce, user_event, wait_until


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
    """Ten users (versions 1-3) and two poison messages (one more in orders), applied and verified."""
    ids = [uuid.uuid4() for _ in range(10)]
    events = [user_event(u, v) for v in (1, 2, 3) for u in ids]
    produce(pipeline.kafka, pipeline.targets["users"].topic, events, raw=[b"{not json", b'{"event_id": 1}'])
    produce(pipeline.kafka, pipeline.targets["orders"].topic, [], raw=[b"[]"])  # two matchers save in one transaction
    pipeline.start()
    pipeline.drain()
    report = pipeline.verify()
    assert report.exit_code == EXIT_OK, report
    assert report.topics[0].counts["invalid"] == 2 and report.topics[0].counts["dead letters"] == 2
    assert report.topics[2].counts["invalid"] == 1 and report.topics[2].counts["dead letters"] == 1
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
    columns = "name, email, phone, address, city, signed_up_at, version, event_id, occurred_at, produced_at, applied_at"
    pipeline.sql(
        f"INSERT INTO users SELECT :new, {columns} FROM users WHERE user_id = :id", new=uuid.uuid4(), id=users[3]
    )
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


def _seed_and_stream(pipeline: Pipeline, rate: float | None) -> subprocess.Popen:
    """Seed a small catalogue into the pipeline's topics, then start the realtime generator on them."""
    overrides = [arg for entity, t in pipeline.targets.items() for arg in ("--topic", f"{entity}={t.topic}")]
    env = {**os.environ, "PIPELINE_SEED_USERS": "300", "PIPELINE_SEED_PRODUCTS": "500",
           "PIPELINE_KAFKA_BOOTSTRAP_SERVERS": pipeline.kafka.bootstrap_servers}  # fmt: skip
    seed = [sys.executable, "-m", "apps.pipeline.seed", *overrides]
    subprocess.run(seed, cwd=PROJECT_ROOT, env=env, check=True, capture_output=True, timeout=120)
    load = ["--rate", str(rate)] if rate else []
    argv = [sys.executable, "-m", "apps.pipeline.produce", *load, *overrides]
    return subprocess.Popen(argv, cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.mark.slow
@pytest.mark.parametrize("rate", [None, 100.0], ids=["seed-rates", "ten-times"])
def test_live_pipeline_verifies_five_times_in_a_row(pipeline, rate):
    """The generator keeps publishing (default mode: the seed's rates, about 9 events/s; or 100/s)."""
    pipeline.start()
    generator = _seed_and_stream(pipeline, rate)
    try:
        time.sleep(5)
        assert generator.poll() is None, "the realtime generator stopped"
        for run in range(5):
            report = pipeline.verify()
            assert report.exit_code == EXIT_OK, (run, report)
            time.sleep(1)
        assert sum(t.rows for t in report.topics) > 800 and generator.poll() is None
    finally:
        generator.send_signal(signal.SIGTERM)
        generator.wait(60)


def test_table_fits_80_columns_without_cutting_anything():
    report = VerifyReport([TopicReport(name, name, f"{name}-group", read=1_234_567, lag=0) for name in
                           ("users", "products", "orders-with-a-long-topic-name")], None)  # fmt: skip
    report.topics[1].counts |= {"rows": 12_345_678, "missing": 3, "stale": 2, "tampered": 1, "extra": 4}
    report.topics[2].counts |= {"dead letters": 1_000_000, "dlq missing": 5, "dlq twice": 6, "sink rejects": 1}
    for t in report.topics[1:]:
        t.ok = False
    out = io.StringIO()
    print_report(report, Console(file=out, width=80, color_system=None))
    lines = out.getvalue().splitlines()
    assert max(len(line) for line in lines) <= 80 and "…" not in out.getvalue(), out.getvalue()
    words = " ".join(out.getvalue().split())  # the result column wraps
    for word in ("MISMATCH: 3 missing", "1 tampered", "MISMATCH: 5", "dlq twice", "12,345,678", "1,000,000"):
        assert word in words, (word, out.getvalue())
    assert json.loads(json.dumps(report.to_dict()))["topics"][1]["missing"] == 3


def test_console_shows_the_last_stored_result(pipeline, users):
    _, stored, _ = production_runner(pipeline.kafka, pipeline.url)
    result = stored()
    assert result["exit_code"] == EXIT_OK and result["report"]["ok"] is True
    assert datetime.fromisoformat(result["finished_at"]) > datetime.now(UTC) - timedelta(minutes=5)


class StatusCounts(JsonFold):
    """A plug-in: orders per status, recomputed from the events, against ``orders`` (JSON state)."""

    def __init__(self, topic: str) -> None:
        self.name, self.sources = f"status-counts:{topic}", {topic: OrderEvent}
        self.folded = 0

    def fold(self, record: Record) -> None:
        if record.event is None:
            return
        self.state = self.state or {}
        key, seen = str(record.event.entity_id), self.state.get(str(record.event.entity_id))
        if seen is None or record.event.version > seen[0]:
            self.state[key] = [record.event.version, record.event.payload.status]
        self.folded += 1

    def compare(self, conn, snapshot) -> Findings:
        findings = Findings(mismatches=("wrong count",))
        expected = Counter(status for _, status in (self.state or {}).values())
        actual = dict(conn.execute(text("SELECT status, count(*) FROM orders GROUP BY status")).all())
        for status in expected.keys() | actual.keys():
            if expected.get(status, 0) != actual.get(status, 0):
                findings.note("wrong count", f"{status}: events {expected.get(status, 0)}, table {actual.get(status)}")
        return findings


def test_plugin_fold_is_saved_with_the_positions_and_compared(pipeline):
    orders = [e for _ in range(5) for e in order_events(uuid.uuid4(), uuid.uuid4(), 3)]
    produce(pipeline.kafka, pipeline.targets["orders"].topic, orders)
    pipeline.start()
    pipeline.drain()
    first = StatusCounts(pipeline.targets["orders"].topic)
    report = pipeline.verify(extra=[first])
    assert first.folded == 15 and report.plugins[first.name].ok, report.plugins
    again = StatusCounts(pipeline.targets["orders"].topic)  # a new process: state comes from PostgreSQL
    assert pipeline.verify(extra=[again]).plugins[again.name].ok and again.folded == 0
    pipeline.sql("UPDATE orders SET status = 'cancelled' WHERE order_id = :id", id=orders[0].entity_id)
    report = pipeline.verify(extra=[StatusCounts(pipeline.targets["orders"].topic)])
    assert report.exit_code == EXIT_MISMATCH and not report.plugins[again.name].ok


def test_unmigrated_database_is_one_clear_line(kafka_settings, pg_schema, capsys):
    url, _ = pg_schema  # a fresh schema without migration 0002
    assert verify_main(["--wait", "1"], kafka_settings, url) == 2
    err = capsys.readouterr().err
    assert "make migrate" in err and err.strip().count("\n") == 0, err
