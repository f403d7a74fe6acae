"""Database layer against a real PostgreSQL: migration, version-guarded upsert, dedupe, orphans."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import inspect, select, text

from common.entities import event_row
from database.crud import latest_per_key, orphan_orders, row_count, row_versions, upsert_latest
from database.database import make_engine
from database.errors import TerminalSinkError, TransientSinkError
from database.migrate import upgrade
from database.models import TABLES
from database.pipeline import driver
from kafka.sinks.postgres_sink import PostgresSink
from tests.consumer_events import order_events, product_event, user_event

METHODS = ["copy", "values"]


@pytest.fixture
def db(pg_schema):
    url, _schema = pg_schema
    upgrade(url)
    engine = make_engine(url, pool_size=2)
    yield url, engine
    engine.dispose()


def _rows(events):
    return [event_row(e) for e in events]


def test_migration_creates_tables_without_foreign_keys(db):
    _url, engine = db
    inspector = inspect(engine)
    assert {"users", "products", "orders", "alembic_version"} <= set(inspector.get_table_names())
    assert inspector.get_foreign_keys("orders") == []
    assert {"version", "event_id", "applied_at", "produced_at", "occurred_at"} <= {
        c["name"] for c in inspector.get_columns("orders")
    }


def test_latest_per_key_keeps_highest_version():
    a, b = uuid.UUID(int=2), uuid.UUID(int=1)
    rows = [{"k": a, "version": 3}, {"k": a, "version": 1}, {"k": b, "version": 2}, {"k": a, "version": 5}]
    assert latest_per_key(rows, "k") == [{"k": a, "version": 5}, {"k": b, "version": 2}]


@pytest.mark.parametrize("method", METHODS)
def test_upsert_insert_redeliver_and_version_guard(db, method):
    _url, engine = db
    users = TABLES["users"]
    uid = uuid.uuid4()
    v1, v2, v3 = (user_event(uid, v, city=f"city {v}") for v in (1, 2, 3))
    with engine.begin() as conn:
        first = upsert_latest(conn, users, _rows([v1, v2]), method)  # dedupe: v2 wins
    assert (first.received, first.unique, first.applied) == (2, 1, 1)
    with engine.begin() as conn:
        again = upsert_latest(conn, users, _rows([v2, v1]), method)  # redelivery and an older event
    assert again.applied == 0 and again.stale == 1
    with engine.begin() as conn:
        newer = upsert_latest(conn, users, _rows([v3]), method)
        row = conn.execute(select(users).where(users.c.user_id == uid)).mappings().one()
    assert newer.applied == 1
    assert (row["version"], row["event_id"], row["city"]) == (3, v3.event_id, "city 3")
    assert row["applied_at"] is not None


@pytest.mark.parametrize("method", METHODS)
def test_batch_of_many_entities_matches_latest(db, method):
    _url, engine = db
    orders = TABLES["orders"]
    history = [e for _ in range(50) for e in order_events(uuid.uuid4(), uuid.uuid4(), 4)]
    with engine.begin() as conn:
        result = upsert_latest(conn, orders, _rows(reversed(history)), method)
        assert row_count(conn, orders) == 50
        assert set(row_versions(conn, orders).values()) == {4}
    assert (result.received, result.unique, result.applied) == (200, 50, 50)


def test_orphan_orders_counts_missing_parents(db):
    _url, engine = db
    user_id, product_id = uuid.uuid4(), uuid.uuid4()
    with engine.begin() as conn:
        upsert_latest(conn, TABLES["orders"], _rows(order_events(user_id, product_id, 1)))
        assert orphan_orders(conn).missing_user == 1 and orphan_orders(conn).missing_product == 1
        upsert_latest(conn, TABLES["users"], _rows([user_event(user_id, 1)]))
        upsert_latest(conn, TABLES["products"], _rows([product_event(product_id, 1)]))
        assert orphan_orders(conn).total == 0


def test_sink_translates_errors(db):
    url, engine = db
    sink = PostgresSink(url, TABLES["orders"], to_row=lambda e: {**event_row(e), "total_amount": 1})
    with pytest.raises(TerminalSinkError, match="23514"):  # check constraint: the data is at fault
        sink.write(order_events(uuid.uuid4(), uuid.uuid4(), 1))
    sink.close()
    down = PostgresSink("postgresql+psycopg://nobody:x@127.0.0.1:1/none", TABLES["orders"])
    with pytest.raises(TransientSinkError):
        down.write(order_events(uuid.uuid4(), uuid.uuid4(), 1))
    down.close()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM orders")).scalar_one() == 0


def test_sink_add_flush_keeps_buffer_on_failure(db):
    url, _engine = db
    events = order_events(uuid.uuid4(), uuid.uuid4(), 3)
    sink = PostgresSink(url, TABLES["orders"])
    for event in events:
        sink.add(event)
    assert sink.pending == 3 and sink.flush() == 1 and sink.pending == 0
    sink.close()


def test_sink_stages_into_a_table_its_session_made_at_connect(pg_schema):
    """The temp table is made once per connection, committed (``database.crud.create_stage``): no
    batch asks for it again, a rolled-back batch cannot take it away, and a table that does not
    exist yet (migrations still running) is a transient error, not a crash."""
    url, _schema = pg_schema
    sink = PostgresSink(url, TABLES["orders"])
    with pytest.raises(TransientSinkError, match="42P01"):  # no orders table yet
        sink.write(order_events(uuid.uuid4(), uuid.uuid4(), 1))
    upgrade(url)
    notices = []
    with sink.writer.engine.connect() as conn:
        driver(conn).add_notice_handler(lambda notice: notices.append(notice.message_primary))
        assert conn.execute(text("SELECT to_regclass('pg_temp._stage_orders')")).scalar() is not None
    broken = [e.model_copy(update={"payload": e.payload.model_copy(update={"total_amount": 1})}) for e in
              order_events(uuid.uuid4(), uuid.uuid4(), 1)]  # fmt: skip
    with pytest.raises(TerminalSinkError):  # rolled back
        sink.write(broken)
    assert sink.write(order_events(uuid.uuid4(), uuid.uuid4(), 2)) == 1
    assert not [n for n in notices if "already exists" in (n or "")]  # CREATE ... IF NOT EXISTS: never sent
    sink.close()
