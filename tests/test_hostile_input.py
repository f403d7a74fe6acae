"""Hostile input: whatever bytes arrive, a message is applied or dead-lettered; the consumer never dies.

The property tests drive ``kafka.consumer.decode`` (the consumer's whole decode and validate
path, a pure function) with hypothesis on a fixed budget. The integration test pushes a corpus of
the nastiest cases, without headers, through a real consumer into a real PostgreSQL table and
checks that it reaches lag zero with every message accounted for.
"""

from __future__ import annotations

import json
import threading
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from common.entities import EVENT_SCHEMAS, event_row
from kafka.consumer import Rejection, decode
from kafka.consumers import CONSUMERS
from tests.consumer_events import caught_up, order_events, produce, product_event, user_event, versions, wait_until

BUDGET = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TOPICS = sorted(EVENT_SCHEMAS)
ENCODINGS = ("utf-16", "utf-32", "latin-1", "cp949", "utf-8-sig", "utf-7")


def valid_json(topic: str) -> dict:
    """A valid event of ``topic`` as a JSON object, to be corrupted."""
    if topic == "users":
        event = user_event(uuid.uuid4(), 2, city="서울")
    elif topic == "products":
        event = product_event(uuid.uuid4(), 3)
    else:
        event = order_events(uuid.uuid4(), uuid.uuid4(), 2)[-1]
    return json.loads(event.model_dump_json())


def check(topic: str, value: bytes | None) -> object:
    """The property: a schema instance that maps to a row, or a classified rejection; never an exception."""
    result = decode(EVENT_SCHEMAS[topic], value)
    if isinstance(result, Rejection):
        assert result.kind in ("decode", "schema") and result.error
    else:
        assert isinstance(result, EVENT_SCHEMAS[topic])
        row = event_row(result)  # an accepted event must fit its table's BIGINT and INTEGER columns
        assert 1 <= row["version"] < 2**63 and row.get("stock", 0) < 2**31
    return result


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=50),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=30,
)


@BUDGET
@given(st.sampled_from(TOPICS), st.binary(max_size=4096))
def test_arbitrary_bytes(topic, value):
    check(topic, value)


@BUDGET
@given(st.sampled_from(TOPICS), json_values)
def test_arbitrary_json(topic, value):
    assert isinstance(check(topic, json.dumps(value).encode()), Rejection)


@BUDGET
@given(st.sampled_from(TOPICS), st.data())
def test_wrong_types_in_a_valid_event(topic, data):
    event = valid_json(topic)
    section = data.draw(st.sampled_from(["envelope", "payload"]))
    target = event if section == "envelope" else event["payload"]
    field = data.draw(st.sampled_from(sorted(target)))
    target[field] = data.draw(json_values)
    check(topic, json.dumps(event).encode())


@BUDGET
@given(st.sampled_from(TOPICS), st.data())
def test_missing_and_extra_fields(topic, data):
    event = valid_json(topic)
    target = event if data.draw(st.booleans()) else event["payload"]
    if data.draw(st.booleans()):
        del target[data.draw(st.sampled_from(sorted(target)))]
    else:
        target[data.draw(st.text(min_size=1, max_size=20))] = data.draw(json_values)
    check(topic, json.dumps(event).encode())


@BUDGET
@given(st.sampled_from(TOPICS), st.integers(1, 20_000), st.sampled_from(["[", '{"a":']))
def test_deeply_nested(topic, depth, opener):
    closer = "]" if opener == "[" else "}"
    assert isinstance(check(topic, (opener * depth + "1" + closer * depth).encode()), Rejection)


@settings(max_examples=20, deadline=None)
@given(st.sampled_from(TOPICS), st.integers(100_000, 2_000_000), st.sampled_from(["string", "array", "keys"]))
def test_huge(topic, size, shape):
    event = valid_json(topic)
    if shape == "string":
        event["payload"]["name"] = "x" * size
    elif shape == "array":
        event["payload"]["extra"] = list(range(size // 8))
    else:
        event.update({f"k{i}": i for i in range(size // 16)})
    assert isinstance(check(topic, json.dumps(event).encode()), Rejection)


@BUDGET
@given(st.sampled_from(TOPICS), st.sampled_from(ENCODINGS), st.text(max_size=30))
def test_wrong_encodings(topic, encoding, text):
    event = valid_json(topic)
    event["payload"]["name" if topic != "orders" else "status"] = text or "서울"
    try:
        value = json.dumps(event, ensure_ascii=False).encode(encoding)
    except UnicodeEncodeError:
        value = json.dumps(event, ensure_ascii=False).encode(encoding, errors="replace")
    check(topic, value)


@pytest.mark.parametrize("topic", TOPICS)
def test_valid_events_are_accepted_and_tombstones_rejected(topic):
    assert isinstance(check(topic, json.dumps(valid_json(topic)).encode()), EVENT_SCHEMAS[topic])
    assert check(topic, None) == Rejection("decode", "message has no value")


def _corpus() -> tuple[list[tuple[bytes, bytes]], list[bytes]]:
    """(valid, hostile) user-event messages: the valid ones keyed by their entity id, the hostile
    ones pass no check, or fail in PostgreSQL."""
    users = [user_event(uuid.uuid4(), 1) for _ in range(5)]
    valid = [(str(u.entity_id).encode(), u.model_dump_json().encode()) for u in users]
    base = valid_json("users")
    nul = json.loads(json.dumps(base)) | {"entity_id": base["entity_id"]}
    nul["payload"]["name"] = "nul\u0000byte"
    hostile = [
        b"",
        b"\x00\xff\xfe\x00",
        b"[" * 10_000,
        json.dumps(base).encode("utf-16"),
        json.dumps(base | {"version": "seven"}).encode(),
        json.dumps(base | {"version": 10**30}).encode(),  # passes the schema, out of range for BIGINT
        json.dumps(nul).encode(),  # passes the schema, PostgreSQL text cannot hold NUL
        json.dumps(base | {"payload": {"name": "x" * 900_000}}).encode(),
        b"null",
        b'"just a string"',
    ]
    return valid, hostile


def test_hostile_corpus_through_a_real_consumer(kafka_settings, schema_url, names, running):  # noqa: F811
    topic, dlq, group = names("users", partitions=1)
    valid, hostile = _corpus()
    produce(kafka_settings, topic, [], raw=[v for pair in zip(valid, hostile, strict=False) for v in pair])
    produce(kafka_settings, topic, [], raw=hostile[len(valid) :])
    consumer = running.start(
        CONSUMERS["users"].build(kafka_settings, schema_url, 1, topic=topic, group_id=group, dlq_topic=dlq)
    )
    thread = running.members[-1][1]
    assert isinstance(thread, threading.Thread)
    wait_until(lambda: caught_up(kafka_settings, topic, group), 90, "lag 0 despite hostile input")
    assert thread.is_alive(), "the consumer died"
    assert consumer.stats["consumed"] == len(valid) + len(hostile)
    assert consumer.stats["dead_lettered"] == len(hostile)
    assert len(versions(schema_url, "users")) == len(valid)
