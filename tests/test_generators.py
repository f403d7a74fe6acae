from __future__ import annotations

import re
import time
from collections import deque
from datetime import timedelta

from collect.catalogue import Catalogue
from collect.clock import EPOCH, CounterClock, VersionClock
from collect.order_generator import OrderGenerator
from collect.pools import build_pools
from collect.product_generator import ProductGenerator
from collect.stream import RealtimeStream
from collect.user_generator import UserGenerator
from common.events import ORDER_TRANSITIONS, OrderEvent, ProductEvent, UserEvent

POOLS = build_pools("ko_KR", 42)


def _dump(events) -> list[dict]:
    return [event.model_dump() for event in events]


def test_catalogue_is_deterministic_and_a_prefix() -> None:
    first = _dump(UserGenerator(POOLS, 42).catalogue(300)) + _dump(ProductGenerator(POOLS, 42).catalogue(300))
    again = _dump(UserGenerator(build_pools("ko_KR", 42), 42).catalogue(300))
    again += _dump(ProductGenerator(POOLS, 42).catalogue(300))
    assert first == again
    assert _dump(UserGenerator(POOLS, 42).catalogue(50)) == first[:50]
    other = _dump(UserGenerator(POOLS, 43).catalogue(300))
    assert not {e["entity_id"] for e in other} & {e["entity_id"] for e in first[:300]}
    assert all(e["version"] == 1 for e in first)


def test_products_from_start_are_the_tail_of_the_catalogue() -> None:
    """The parallel seeder's child starts its products where the parent's stop: same events, none twice."""
    whole = _dump(ProductGenerator(POOLS, 42).catalogue(300))
    assert _dump(ProductGenerator(POOLS, 42).catalogue(300, start=120)) == whole[120:]
    assert _dump(ProductGenerator(POOLS, 42).catalogue(120)) + whole[120:] == whole


def test_realtime_stream_is_deterministic_for_a_seed_and_clock() -> None:
    def run(live_seed: int) -> list[dict]:
        stream = RealtimeStream(POOLS, 42, CounterClock(), live_seed=live_seed)
        stream.load_catalogue(100, 100)
        return _dump(stream.events(3_000))

    assert run(7) == run(7)
    assert run(7) != run(8)


def test_values_look_korean_and_valid() -> None:
    users = list(UserGenerator(POOLS, 1).catalogue(200))
    assert all(re.fullmatch(r"[가-힣]{2,5}", u.payload.name) for u in users)
    assert all(re.fullmatch(r"010-\d{4}-\d{4}", u.payload.phone) for u in users)
    assert len({u.payload.email for u in users}) == 200
    assert len({u.payload.name for u in users}) > 150
    products = list(ProductGenerator(POOLS, 1).catalogue(200))
    for event in (*users, *products):  # built without validation (collect/built.py): still valid
        type(event).model_validate(event.model_dump())
    assert all(p.payload.price % 100 == 0 and p.payload.price > 0 for p in products)
    assert len({p.payload.category for p in products}) >= 8
    english = build_pools("en_US", 1)
    product = next(ProductGenerator(english, 1).catalogue(1))
    assert product.payload.price.as_tuple().exponent == -2
    assert " " in next(UserGenerator(english, 1).catalogue(1)).payload.name


def test_referential_integrity_and_lifecycle_over_100k_events() -> None:
    """Acks arrive 500 events late; no order may reference an entity before its ack."""
    stream = RealtimeStream(POOLS, 42, CounterClock(), live_seed=3)
    stream.load_catalogue(1_000, 2_000)
    acked_users = set(stream.users.users)
    seeded_users = set(acked_users)
    acked_prices = dict(stream.catalogue.prices)
    in_flight: deque = deque()
    versions: dict = {}
    statuses: dict = {}
    orders_of_new_users = 0
    for event in stream.events(100_000):
        assert versions.get(event.entity_id, 0) < event.version
        versions[event.entity_id] = event.version
        type(event).model_validate(event.model_dump())  # amounts add up, types match statuses
        if isinstance(event, OrderEvent):
            payload = event.payload
            previous = statuses.get(payload.order_id)
            if previous is None:
                assert payload.status == "created"
                assert payload.user_id in acked_users and payload.product_id in acked_prices
                assert payload.unit_price == acked_prices[payload.product_id]
                orders_of_new_users += payload.user_id not in seeded_users
            else:
                assert payload.status in ORDER_TRANSITIONS[previous]
            statuses[payload.order_id] = payload.status
        in_flight.append(event)
        if len(in_flight) > 500:
            acked = in_flight.popleft()
            stream.catalogue.acknowledge(acked)
            if isinstance(acked, UserEvent):
                acked_users.add(acked.entity_id)
            elif isinstance(acked, ProductEvent):
                acked_prices[acked.entity_id] = acked.payload.price
    assert len(statuses) > 25_000
    assert len(acked_users) > 1_000 + 4_000  # realtime sign-ups became orderable
    assert set(statuses.values()) == set(ORDER_TRANSITIONS)
    assert orders_of_new_users > 1_000


def test_no_order_without_acknowledged_entities() -> None:
    orders = OrderGenerator(Catalogue(), 1)
    assert orders.create(CounterClock()) is None
    assert orders.advance(CounterClock()) is None


def test_version_clock_is_strictly_increasing_and_wall_clock_based() -> None:
    clock = VersionClock()
    before = time.time_ns() // 1_000
    ticks = [clock.tick() for _ in range(10_000)]
    versions = [v for v, _ in ticks]
    assert all(a < b for a, b in zip(versions, versions[1:], strict=False))
    assert versions[0] >= before and versions[-1] < before + 60_000_000
    assert all((at - EPOCH) // timedelta(microseconds=1) == v for v, at in ticks[:100])
