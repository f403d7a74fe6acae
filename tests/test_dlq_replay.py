"""``apps.pipeline.dlq_replay``: dead letters go back to their topic once; a second run re-publishes nothing."""

from __future__ import annotations

from confluent_kafka import Producer

from apps.pipeline.dlq_replay import REASON_HEADERS, replay
from kafka.config import producer_config
from kafka.consumers import ORDER_CONSUMER
from kafka.offsets import partition_offsets
from tests.consumer_events import caught_up, latest, order_history, versions, wait_until
from tests.kafka_readback import read_all


def dead_letter(settings, dlq: str, topic: str, events, first_offset: int = 0) -> None:
    """Letters as the consumers write them: the original value plus the reason headers."""
    producer = Producer(producer_config(settings, "test-dlq"))
    for offset, event in enumerate(events, start=first_offset):
        headers = [("event_type", event.event_type.encode()), ("error", b"sink: column missing"),
                   ("error_type", b"sink"), ("original_topic", topic.encode()), ("original_partition", b"0"),
                   ("original_offset", str(offset).encode()), ("consumer_group", b"g"),
                   ("failed_at", b"now")]  # fmt: skip
        producer.produce(dlq, event.model_dump_json().encode(), str(event.entity_id).encode(), headers=headers)
    assert producer.flush(30) == 0


def messages(settings, topic: str) -> int:
    return sum(p.messages for p in partition_offsets(settings, topic))


def test_replay_once_then_nothing_then_only_new_letters(kafka_settings, schema_url, names, running, unique_name):  # noqa: F811
    topic, dlq, group = names("orders")
    events = order_history(30, seed=11)
    dead_letter(kafka_settings, dlq, topic, events[:40])
    replay_group = unique_name("replay")

    first = replay(kafka_settings, dlq, topic, replay_group)
    assert (first.read, first.republished, first.failed) == (40, 40, 0)
    assert messages(kafka_settings, topic) == 40
    again = replay(kafka_settings, dlq, topic, replay_group)
    assert (again.read, again.republished) == (0, 0)
    assert messages(kafka_settings, topic) == 40

    dead_letter(kafka_settings, dlq, topic, events[40:], first_offset=40)
    rest = replay(kafka_settings, dlq, topic, replay_group)
    assert rest.republished == len(events) - 40
    republished = read_all(kafka_settings, topic, unique_name("reader"))
    assert len(republished) == len(events)
    for message in republished:
        keys = {k for k, _ in message.headers()}
        assert "replayed_from" in keys and "event_type" in keys and not keys & REASON_HEADERS

    running.start(ORDER_CONSUMER.build(kafka_settings, schema_url, 1, topic=topic, group_id=group, dlq_topic=dlq))
    wait_until(lambda: caught_up(kafka_settings, topic, group), 60, "replayed letters applied")
    assert versions(schema_url, "orders") == latest(events)
