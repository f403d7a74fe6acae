from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from uuid import uuid4

import pytest
from pydantic import ValidationError

from collect.clock import CounterClock
from collect.pools import build_pools
from collect.stream import RealtimeStream
from common.entities import EVENT_SCHEMAS, entity_of, topic_of
from common.events import OrderEvent, OrderPayload, UserEvent
from kafka.consumer import Rejection, decode
from kafka.producer.serializers import (
    SerializationError,
    headers_of,
    key_of,
    serialize,
    stamp,
)

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture(scope="module")
def events() -> list:
    stream = RealtimeStream(build_pools("ko_KR", 1), 1, CounterClock())
    stream.load_catalogue(20, 20)
    sample = list(stream.users.catalogue(3)) + list(stream.products.catalogue(3))
    return sample + list(stream.events(500))


def test_every_event_type_round_trips(events: list) -> None:
    seen = set()
    for event in events:
        stamped = stamp(event, NOW)
        back = decode(entity_of(topic_of(event)).schema, serialize(stamped))  # as the consumer reads it
        assert back == stamped and back.produced_at == NOW
        seen.add(event.event_type)
    assert {"user.created", "user.updated", "product.created", "product.updated", "order.created"} <= seen
    assert {"order.paid", "order.shipped", "order.delivered", "order.cancelled"} <= seen


def test_money_is_a_decimal_string_on_the_wire(events: list) -> None:
    order = next(e for e in events if isinstance(e, OrderEvent))
    payload = json.loads(serialize(order))["payload"]
    assert isinstance(payload["unit_price"], str) and Decimal(payload["total_amount"]) == order.payload.total_amount


def test_key_and_headers(events: list) -> None:
    event = events[0]
    assert key_of(event) == str(event.entity_id).encode()
    assert dict(headers_of(event)) == {
        "event_type": b"user.created",
        "schema_version": b"1",
        "content-type": b"application/json",
    }


def _order(**changes: object) -> dict:
    order_id = uuid4()
    payload = {
        "order_id": order_id,
        "user_id": uuid4(),
        "product_id": uuid4(),
        "quantity": 2,
        "unit_price": Decimal("12900"),
        "total_amount": Decimal("25800"),
        "status": "created",
    } | changes.pop("payload", {})
    return {
        "event_id": uuid4(),
        "entity_id": order_id,
        "version": 1,
        "occurred_at": NOW,
        "event_type": "order.created",
        "payload": payload,
    } | changes


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"payload": {"total_amount": Decimal("25000")}}, "total_amount 25000 != unit_price 12900 x quantity 2"),
        ({"event_type": "order.paid"}, "event_type order.paid does not match status created"),
        ({"entity_id": uuid4()}, "does not match the payload's id"),
        ({"version": 0}, "version\n  Input should be greater than or equal to 1"),
        ({"payload": {"unit_price": Decimal("-1")}}, "unit_price\n  Input should be greater than or equal to 0"),
        ({"payload": {"unit_price": Decimal("1.234")}}, "Decimal input should have no more than 2 decimal places"),
        ({"payload": {"status": "lost"}}, "payload.status\n  Input should be 'created', 'paid'"),
        ({"surprise": 1}, "surprise\n  Extra inputs are not permitted"),
        ({"schema_version": 2}, "schema_version\n  Input should be 1"),
    ],
)
def test_bad_order_is_rejected_precisely(changes: dict, message: str) -> None:
    with pytest.raises(ValidationError) as info:
        OrderEvent.model_validate(_order(**changes))
    assert message in str(info.value)


def test_bad_email_and_unknown_topic() -> None:
    user_id = uuid4()
    user = {
        "event_id": uuid4(),
        "entity_id": user_id,
        "version": 1,
        "occurred_at": NOW,
        "event_type": "user.created",
        "payload": {
            "user_id": user_id,
            "name": "홍길동",
            "email": "not-an-address",
            "phone": "010-1234-5678",
            "address": "서울특별시 강남구 테헤란로 1",
            "city": "서울특별시",
            "signed_up_at": NOW,
        },
    }
    with pytest.raises(ValidationError, match=r"payload.email\n  String should match pattern"):
        UserEvent.model_validate(user)
    with pytest.raises(ValueError, match="'payments' is not an entity topic"):
        entity_of("payments")
    rejected = decode(OrderEvent, b"{not json")
    assert isinstance(rejected, Rejection) and rejected.kind == "decode" and "Invalid JSON" in rejected.error


def test_only_pipeline_events_are_sent() -> None:
    with pytest.raises(SerializationError, match="cannot send dict"):
        stamp({"event_id": "x"}, NOW)  # type: ignore[arg-type]
    payload = OrderPayload.model_construct(**_order()["payload"] | {"unit_price": object()})
    broken = OrderEvent.model_construct(**_order() | {"payload": payload})
    with pytest.raises(SerializationError, match="cannot serialize order.created"):
        serialize(broken)
    assert set(EVENT_SCHEMAS) == {"users", "products", "orders"}
