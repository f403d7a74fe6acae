"""The seeder's bulk path: the same messages as ``send``, every delivery report counted, failures loud."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from apps.pipeline.parallel_seed import PARTS, part_events
from apps.runtime.checks import free_port
from common.settings import GeneratorSettings, KafkaSettings
from kafka.producer.bulk import BulkProducer, Prebuilt, ProducerIdRefused
from kafka.producer.errors import ProducerClosedError
from kafka.producer.producer import EventProducer
from kafka.producer.serializers import key_from_value, key_of, serialize, stamp
from tests.kafka_readback import read_all

CATALOGUE = GeneratorSettings(seed=11, seed_users=300, seed_products=600)


def test_key_cut_from_the_value_is_the_entity_id_for_every_catalogue_event() -> None:
    now = datetime.now(UTC)
    for part in PARTS:
        for event in part_events(CATALOGUE, part):
            stamped = stamp(event, now)
            assert key_from_value(serialize(stamped), stamped) == key_of(stamped)


def test_key_falls_back_to_the_uuid_when_the_value_is_laid_out_otherwise() -> None:
    event = stamp(next(iter(part_events(CATALOGUE, "users"))), datetime.now(UTC))
    reordered = json.dumps({"entity_id": str(event.entity_id), "event_id": str(event.event_id)}).encode()
    assert key_from_value(reordered, event) == key_of(event)


def _without_produced_at(value: bytes) -> str:
    fields = json.loads(value)
    assert fields.pop("produced_at") is not None
    return json.dumps(fields, sort_keys=True)


def test_bulk_send_writes_what_send_writes(kafka_settings, make_topic, unique_name) -> None:
    events = [e for part in PARTS for e in part_events(CATALOGUE, part)]
    written = {}
    for cls, label in ((EventProducer, "send"), (BulkProducer, "send_all")):
        topics = {"users": make_topic(partitions=3), "products": make_topic(partitions=3)}
        producer = cls(kafka_settings, topics=topics, overrides={"linger.ms": 50})
        progress: list[int] = []
        if label == "send":
            for event in events:
                producer.send(event)
        else:
            assert producer.send_all(events, progress.append, every=250) == len(events)
            assert progress == list(range(250, len(events) + 1, 250))
        report = producer.close(30)
        assert report.ok and report.sent == report.acked == len(events), report
        written[label] = {
            (m.partition(), m.key(), _without_produced_at(m.value()), tuple(m.headers() or []))
            for topic in topics.values()
            for m in read_all(kafka_settings, topic, unique_name("g"))
        }
    assert written["send_all"] == written["send"] and len(written["send"]) == len(events)


def test_failed_deliveries_are_counted_and_the_report_is_not_ok(kafka_settings, make_topic) -> None:
    """Break it on purpose: a topic no event fits; every report is a failure, none is an ack."""
    tiny = make_topic(partitions=1, config={"min.insync.replicas": "2", "max.message.bytes": "64"})
    events = list(part_events(GeneratorSettings(seed=3, seed_users=20, seed_products=0), "users"))
    producer = BulkProducer(kafka_settings, topics={"users": tiny})
    producer.send_all(events)
    report = producer.close(30)
    assert (report.sent, report.acked, report.failed, report.undelivered) == (20, 0, 20, 0)
    assert not report.ok
    with pytest.raises(ProducerClosedError):
        producer.send_all(events)


def test_opened_returns_once_the_cluster_gave_the_producer_its_id(kafka_settings) -> None:
    producer = BulkProducer.opened(kafka_settings, timeout_s=60)
    assert producer._id_state == "Assigned"
    producer.close(5)


def test_prebuilt_builds_ahead_up_to_its_limit_and_yields_everything_in_order() -> None:
    events = list(part_events(CATALOGUE, "users"))
    ahead = Prebuilt(iter(events), limit=250)
    assert ahead.take(100) and ahead.take(200) and not ahead.take(100)  # 250 built: the limit
    assert list(ahead) == events
    assert not Prebuilt([]).take(10)


def test_events_built_while_waiting_for_the_id_are_sent_first_and_in_order(
    kafka_settings, make_topic, unique_name
) -> None:
    events = list(part_events(CATALOGUE, "users"))
    topic = make_topic(partitions=1)
    ahead = Prebuilt(events)
    producer = BulkProducer.opened(kafka_settings, timeout_s=60, ahead=ahead, topics={"users": topic})
    assert producer.send_all(ahead) == len(events)
    report = producer.close(30)
    assert report.ok and report.acked == len(events)
    read = [json.loads(m.value())["event_id"] for m in read_all(kafka_settings, topic, unique_name("g"))]
    assert read == [str(e.event_id) for e in events]


def test_no_producer_id_is_an_error_not_a_silent_wait() -> None:
    """Break it on purpose: nothing listens at the bootstrap address, so no id ever comes."""
    nowhere = KafkaSettings(bootstrap_servers=f"127.0.0.1:{free_port()}")
    with pytest.raises(ProducerIdRefused, match="no producer id after"):
        BulkProducer.opened(nowhere, timeout_s=3)
