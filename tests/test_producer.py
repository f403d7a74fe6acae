from __future__ import annotations

import json
from collections import Counter

import pytest

from collect.clock import VersionClock
from collect.pools import build_pools
from collect.stream import RealtimeStream
from common.events import UserEvent
from kafka.producer.errors import MessageTooLargeError, ProducerClosedError, UnknownTopicError
from kafka.producer.producer import EventProducer
from kafka.producer.serializers import SerializationError
from tests.kafka_readback import java_murmur2, java_partition, read_all


def _stream(users: int = 200, products: int = 400) -> RealtimeStream:
    stream = RealtimeStream(build_pools("ko_KR", 42), 42, VersionClock(), live_seed=11)
    stream.load_catalogue(users, products)
    return stream


@pytest.fixture
def entity_topics(make_topic) -> dict[str, str]:
    return {name: make_topic(partitions=3) for name in ("users", "products", "orders")}


def test_reference_murmur2_matches_kafkas_test_vectors() -> None:
    # org.apache.kafka.common.utils.UtilsTest#testMurmur2
    cases = {b"21": -973932308, b"foobar": -790332482, b"a-little-bit-long-string": -985981536}
    cases |= {b"a-little-bit-longer-string": -1486304829, b"abc": 479470107}
    assert {key: java_murmur2(key) for key in cases} == cases


def test_50k_events_no_loss_no_duplicate_java_partitions(kafka_settings, entity_topics, unique_name) -> None:
    stream = _stream()
    acked: list = []
    with EventProducer(kafka_settings, topics=entity_topics, on_delivery=lambda e, err: acked.append((e, err))) as p:
        sent = [stream.next_event() for _ in range(50_000)]
        for event in sent:
            p.send(event)
    assert p.stats.sent == p.stats.acked == 50_000 and p.stats.failed == 0
    assert len(acked) == 50_000 and all(err is None and e.produced_at for e, err in acked)

    by_id = {str(e.event_id): e for e in sent}
    seen: Counter = Counter()
    for name, topic in entity_topics.items():
        for message in read_all(kafka_settings, topic, unique_name("readback")):
            body = json.loads(message.value())
            seen[body["event_id"]] += 1
            original = by_id[body["event_id"]]
            assert message.key() == str(original.entity_id).encode()
            assert message.partition() == java_partition(message.key(), 3)
            headers = dict(message.headers())
            assert headers["event_type"].decode() == original.event_type == body["event_type"]
            assert headers["content-type"] == b"application/json" and headers["schema_version"] == b"1"
            assert body["produced_at"] is not None and name in ("users", "products", "orders")
    assert set(seen) == set(by_id), "lost events"
    assert max(seen.values()) == 1, "duplicated events"


def test_tiny_queue_means_backpressure_not_loss(kafka_settings, entity_topics, unique_name) -> None:
    stream = _stream()
    tiny = {"queue.buffering.max.messages": 20, "linger.ms": 20}
    with EventProducer(kafka_settings, topics=entity_topics, overrides=tiny) as producer:
        for _ in range(5_000):
            producer.send(stream.next_event())
    report = producer.close()
    assert producer.stats.queue_full_waits > 0
    assert report.ok and report.acked == 5_000
    total = sum(len(read_all(kafka_settings, t, unique_name("readback"))) for t in entity_topics.values())
    assert total == 5_000


def test_misuse_is_a_clear_error(kafka_settings, entity_topics) -> None:
    stream = _stream(10, 10)
    user = stream.new_user()
    with pytest.raises(UnknownTopicError, match="unknown topic 'payments'"):
        EventProducer(kafka_settings, topics={"payments": "x"})
    with EventProducer(kafka_settings, topics=entity_topics, overrides={"message.max.bytes": 1_000}) as producer:
        with pytest.raises(UnknownTopicError, match="unknown topic 'payments'"):
            producer.send(user, topic="payments")
        with pytest.raises(UnknownTopicError, match="a UserEvent cannot go to topic 'orders'"):
            producer.send(user, topic="orders")
        with pytest.raises(UnknownTopicError, match="'users-dlq' is not an entity topic"):
            producer.send(user, topic="users-dlq")
        with pytest.raises(SerializationError, match="cannot send dict"):
            producer.send({"user_id": "42"})  # type: ignore[arg-type]
        huge = user.model_copy(update={"payload": user.payload.model_copy(update={"address": "서울" * 400})})
        with pytest.raises(MessageTooLargeError, match=r"message.max.bytes is 1000"):
            producer.send(huge)
        producer.send(user)
        assert producer.stats.sent == 1
    assert producer.stats.acked == 1
    with pytest.raises(ProducerClosedError):
        producer.send(user)
    missing = EventProducer(kafka_settings, topics={"users": "no-such-topic-anywhere"})
    with missing, pytest.raises(UnknownTopicError, match="'no-such-topic-anywhere' does not exist"):
        missing.send(user)
    assert isinstance(user, UserEvent)
