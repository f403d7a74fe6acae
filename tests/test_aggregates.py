"""Sales aggregates and offsets at the database level: the sink's deltas equal verify's fold,
a batch applied twice is reported, a fenced batch leaves nothing behind, bad input is set aside."""

from __future__ import annotations

import json
import random
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import text

from apps.verify.aggregates import as_tables, compare, empty_state, fold
from common.entities import event_row
from database.aggregates import order_deltas, sales_rows
from database.database import make_engine
from database.errors import FencedSinkError, RejectedRecords, TerminalSinkError
from database.migrate import upgrade
from database.models import TABLES
from database.offsets import Checkpoint, Move, OffsetFenced, advance, stored_offsets
from database.pipeline import driver
from kafka.sinks.postgres_sink import PostgresSink
from tests.consumer_events import order_events
from tests.exactly_once_support import lifecycle_history

ORDERS = TABLES["orders"]


@pytest.fixture
def db(pg_schema):
    url, _schema = pg_schema
    upgrade(url)
    engine = make_engine(url, pool_size=2)
    sink = PostgresSink(url, ORDERS, aggregate=order_deltas)
    yield url, engine, sink
    sink.close()
    engine.dispose()


def _recomputed(events):
    state = empty_state()
    for event in events:
        state = fold(state, event)
    return state


def _tables(engine):
    with engine.connect() as conn:
        return as_tables(*sales_rows(conn))


def _cancel(event, version):
    payload = event.payload.model_copy(update={"status": "cancelled"})
    return event.model_copy(
        update={"event_id": uuid.uuid4(), "version": version, "event_type": "order.cancelled", "payload": payload}
    )


def test_fold_rules_paid_counts_cancel_after_payment_reverses():
    user, product = uuid.uuid4(), uuid.uuid4()
    paid = order_events(user, product, 2)  # created, paid
    cancelled = _cancel(paid[1], 3)
    state = json.loads(json.dumps(_recomputed(paid)))  # the state persists as JSON between verify runs
    assert state["customers"][str(user)][:2] == [1, "39.80"]
    state = fold(state, cancelled)
    assert state["customers"][str(user)][:2] == [0, "0.00"]
    never_paid = order_events(user, product, 1)[0]
    assert fold(fold(state, never_paid), _cancel(never_paid, 2))["customers"][str(user)][:2] == [0, "0.00"]
    assert sum(p[0] for p in state["product_minutes"].values()) == 0


def test_sums_are_sent_sorted_by_key_so_concurrent_writers_lock_in_one_order():
    """PostgreSQL upserts the sums in array order (no ``ORDER BY``): members sharing customers and
    product-minutes must each lock them in key order, or two batches can deadlock."""
    rows = [event_row(event) for event in lifecycle_history(400)]
    _ctes, params = order_deltas.deltas(rows, {}).statement()

    def elements(array, width):  # binary array: 20-byte header, then (length, value) per element
        body = bytes(array)[20:]
        return [body[i + 4 : i + 4 + width] for i in range(0, len(body), 4 + width)]

    products = list(zip(elements(params["p_product"], 16), elements(params["p_minute"], 8), strict=True))
    customers = elements(params["c_user"], 16)
    assert len(products) > 100 and len(customers) > 100
    assert products == sorted(products) and customers == sorted(customers)  # uuid and (2000+) times: bytes order


def test_sink_deltas_equal_the_fold_in_any_batching(db):
    _url, engine, sink = db
    events = lifecycle_history(400)
    assert {e.payload.status for e in events} >= {"paid", "cancelled", "shipped", "delivered"}
    rng, i = random.Random(5), 0
    while i < len(events):
        size = rng.randint(1, 120)
        sink.write(events[i : i + size])
        i += size
    report = compare(_recomputed(events), _tables(engine))
    assert report.ok and report.customers > 0 and report.products > 0, report


def test_a_batch_applied_twice_is_reported_as_double_counted(db):
    _url, engine, sink = db
    events = lifecycle_history(200)
    sink.write(events)
    sink.write([e for e in events if e.payload.status == "paid"][:7])  # a redelivery without offsets
    report = compare(_recomputed(events), _tables(engine))
    assert not report.ok and report.double_counted == 7 and report.samples


def test_offsets_compare_and_set(db):
    _url, engine, _sink = db
    with engine.begin() as conn:
        advance(conn, Checkpoint("g", "t", (Move(0, None, 10), Move(1, None, 5))))
    with pytest.raises(OffsetFenced), engine.begin() as conn:
        advance(conn, Checkpoint("g", "t", (Move(0, None, 20),)))  # first store happened elsewhere
    with engine.begin() as conn:
        advance(conn, Checkpoint("g", "t", (Move(0, 10, 20),)))
    with pytest.raises(OffsetFenced) as fenced, engine.begin() as conn:
        advance(conn, Checkpoint("g", "t", (Move(1, 5, 9), Move(0, 10, 30))))  # a zombie's batch
    assert fenced.value.partitions == [0]
    with engine.connect() as conn:
        assert stored_offsets(conn, "g", "t") == {0: 20, 1: 5}


def test_fenced_batch_leaves_no_row_no_sum_no_offset(db):
    _url, engine, sink = db
    events = lifecycle_history(50)
    sink.write(events[:100], Checkpoint("g", "t", (Move(0, None, 100),)))
    with pytest.raises(FencedSinkError):
        sink.write(events[100:], Checkpoint("g", "t", (Move(0, 40, 300),)))
    assert compare(_recomputed(events[:100]), _tables(engine)).ok
    assert sink.stored_offsets("g", "t") == {0: 100}


def test_an_error_of_the_upsert_beside_the_sums_fails_the_batch_whole(db):
    """The orders upsert runs while the writer's second thread builds the sums (``database/writer.py``):
    its error is still the batch's, and nothing of the batch stays: rows, sums or offsets."""
    _url, engine, sink = db
    events = lifecycle_history(50)
    order = next(e.payload.order_id for e in events if e.payload.status == "paid")

    def broken(event):  # every event of one paid order, so its newest version, the one upserted, is broken
        if event.payload.order_id != order:
            return event
        return event.model_copy(update={"payload": event.payload.model_copy(update={"total_amount": Decimal(0)})})

    with pytest.raises(TerminalSinkError, match="orders_amounts_add_up"):  # no validation: the table's check
        sink.write([broken(e) for e in events], Checkpoint("g", "t", (Move(0, None, len(events)),)))
    assert sink.stored_offsets("g", "t") == {} and compare(_recomputed([]), _tables(engine)).ok
    sink.write(events, Checkpoint("g", "t", (Move(0, None, len(events)),)))  # the next transaction is clean
    assert compare(_recomputed(events), _tables(engine)).ok


def test_a_member_frozen_after_locking_the_sums_is_idle_in_transaction(db, monkeypatch):
    """The zombie flake's cause, at the database level: with the sums and the orders locked, the
    server must see the session idle in transaction (so ``idle_in_transaction_session_timeout``
    ends it if the member freezes there); a pipelined, unsynced statement left it "active" for good."""
    _url, engine, sink = db
    states, riders = [], []

    def seen(conn):
        with engine.connect() as other:
            query = text("SELECT state FROM pg_stat_activity WHERE pid = :pid")
            states.append(other.execute(query, {"pid": driver(conn).info.backend_pid}).scalar_one())

    def state_then_advance(conn, checkpoint, *sums):
        seen(conn)  # the orders are upserted
        riders.append(bool(sums and sums[0]))
        advance(conn, checkpoint, *sums)  # the real one: the sums ride in the compare-and-set's statement
        seen(conn)  # the orders, the sums and the offsets are locked

    monkeypatch.setattr("database.writer.advance", state_then_advance)
    events = lifecycle_history(50)
    sink.write(events, Checkpoint("g", "t", (Move(0, None, len(events)),)))
    assert states == ["idle in transaction", "idle in transaction"]
    assert sink.stored_offsets("g", "t") == {0: len(events)}
    assert riders == [True] and compare(_recomputed(events), _tables(engine)).ok  # the sums rode along


def test_version_conflict_is_rejected_first_applied_wins(db):
    _url, engine, sink = db
    created, paid = order_events(uuid.uuid4(), uuid.uuid4(), 2)
    sink.write([created, paid])
    impostor = paid.model_copy(update={"event_id": uuid.uuid4(), "payload": paid.payload.model_copy(
        update={"quantity": 3, "total_amount": Decimal("59.70")})})  # fmt: skip
    twin = created.model_copy(update={"event_id": uuid.uuid4()})
    with pytest.raises(RejectedRecords) as rejected:
        sink.write([paid, impostor])  # the redelivered original is fine, the impostor is not
    assert [(i, kind) for i, _, kind in rejected.value.rejects] == [(1, "version_conflict")]
    other = order_events(uuid.uuid4(), uuid.uuid4(), 1)[0]
    twin_of_other = other.model_copy(update={"event_id": uuid.uuid4()})
    with pytest.raises(RejectedRecords) as in_batch:
        sink.write([other, twin_of_other, twin])
    assert [i for i, _, _ in in_batch.value.rejects] == [1]  # ``twin`` is only stale: a no-op
    assert compare(_recomputed([created, paid]), _tables(engine)).ok
