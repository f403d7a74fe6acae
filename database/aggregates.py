"""Sales aggregates kept in the consumer's transaction: additive deltas, never a recomputation.

Semantics (GUIDE/DB_README.md): an ``order.paid`` event adds its order once (1 order, its
quantity, its total) to its product's minute (the event's ``occurred_at``, UTC, to the minute)
and to its customer (orders, spend, ``last_order_at`` = latest payment). An ``order.cancelled``
event of an order that had been paid (its status before the event was paid, shipped or
delivered) subtracts the same amounts, in the minute of the cancellation; ``last_order_at``
stays. Other statuses change nothing.

The deltas are not guarded by the order's version: each event must be processed exactly once,
which the offsets committed in the same transaction guarantee (``database/offsets.py``). A
batch processed twice would count twice; ``verify`` recomputes the sums to show it.

Cheap on purpose (it is what exactly-once costs, ``make benchmark-sink``): one row per key per
batch, folded in one pass over the batch; the arrays are sent in PostgreSQL's binary format
(the text format quotes every element through a regular expression, 4x slower here), minutes as
epoch minutes; both upserts go in one statement (one round trip, synced on its own: never pipelined,
see ``database/pipeline.py``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, text

from database.pipeline import driver

COUNTED = frozenset(("paid", "shipped", "delivered"))
_PRIOR = "SELECT order_id, version, status FROM orders WHERE order_id = ANY(%b)"
_PRODUCTS = (
    "INSERT INTO product_minute_sales AS t (product_id, minute, orders, units, revenue)"
    " SELECT p, to_timestamp(m * 60), o, u, r FROM unnest(%b::uuid[], %b::bigint[], %b::bigint[], %b::bigint[],"
    " %b::numeric[]) AS d(p, m, o, u, r) ORDER BY 1, 2"
    " ON CONFLICT (product_id, minute) DO UPDATE SET orders = t.orders + excluded.orders,"
    " units = t.units + excluded.units, revenue = t.revenue + excluded.revenue"
)
_CUSTOMERS = (
    "INSERT INTO customer_sales AS t (user_id, orders, spend, last_order_at)"
    " SELECT * FROM unnest(%b::uuid[], %b::bigint[], %b::numeric[], %b::timestamptz[]) ORDER BY 1"
    " ON CONFLICT (user_id) DO UPDATE SET orders = t.orders + excluded.orders, spend = t.spend + excluded.spend,"
    " last_order_at = GREATEST(t.last_order_at, excluded.last_order_at)"
)
# Every counted event moves both a product-minute and a customer: one statement, one round trip.
_SUMS = f"WITH products AS ({_PRODUCTS}) {_CUSTOMERS}"
Row = Mapping[str, Any]


@dataclass
class SalesDeltas:
    """What one batch adds to the sums, computed before the orders upsert, applied after it."""

    products: list[list[Any]] = field(default_factory=list)  # [product_id, epoch minute, orders, units, revenue]
    customers: list[list[Any]] = field(default_factory=list)  # [user_id, orders, spend, last_order_at]
    events: int = 0  # events that moved a sum

    def apply(self, conn: Connection) -> int:
        """Upsert the sums (their row locks are taken here, late in the transaction)."""
        if self.products:
            driver(conn).execute(_SUMS, _columns(self.products) + _columns(self.customers))
        return self.events


def order_deltas(conn: Connection, rows: Sequence[Row]) -> SalesDeltas:
    """The batch's payments and cancellations as deltas; call before the orders upsert (reads only).

    The statuses before the batch come from the orders table; within the batch they follow the
    events in offset order, newest version winning. Only orders cancelled in this batch need
    them. Dicts are keyed by ``UUID.int`` and epoch minutes: hashing a ``UUID`` or an aware
    datetime runs in Python, several times slower.
    """
    cancelled = [r["order_id"] for r in rows if r["status"] == "cancelled"]
    status: dict[int, tuple[int, str]] = {}
    if cancelled:
        status = {o.int: (v, s) for o, v, s in driver(conn).execute(_PRIOR, (cancelled,))}
    watched = {order.int for order in cancelled}
    products: dict[tuple[int, int], list[Any]] = {}
    customers: dict[int, list[Any]] = {}
    events = 0
    for row in rows:
        kind = row["status"]
        if watched and (order := row["order_id"].int) in watched:
            before = status.get(order)
            if before is None or row["version"] > before[0]:
                status[order] = (row["version"], kind)
            if kind == "cancelled" and before is not None and before[1] in COUNTED:
                sign = -1
            elif kind != "paid":
                continue
            else:
                sign = 1
        elif kind != "paid":
            continue
        else:
            sign = 1
        events += 1
        at = row["occurred_at"].timestamp()
        quantity, total = row["quantity"] * sign, row["total_amount"] if sign > 0 else -row["total_amount"]
        key = (row["product_id"].int, int(at // 60))  # plain ints: an aware datetime hashes slowly
        product = products.get(key)
        if product is None:
            products[key] = [row["product_id"], key[1], sign, quantity, total]
        else:
            product[2] += sign
            product[3] += quantity
            product[4] += total
        customer = customers.get(key := row["user_id"].int)
        if customer is None:
            customers[key] = [row["user_id"], sign, total, row["occurred_at"] if sign > 0 else None, at]
        else:
            customer[1] += sign
            customer[2] += total
            if sign > 0 and (customer[3] is None or at > customer[4]):
                customer[3], customer[4] = row["occurred_at"], at
    return SalesDeltas(list(products.values()), [c[:4] for c in customers.values()], events)


def _columns(rows: list[list[Any]]) -> list[list[Any]]:
    """Rows to one list per column (a list is sent as an array; a tuple would be a record)."""
    return [list(column) for column in zip(*rows, strict=True)]


def sales_rows(conn: Connection) -> tuple[list[Any], list[Any]]:
    """Every product-minute row and every customer row, for ``verify``'s comparison."""
    products = conn.execute(text("SELECT product_id, minute, orders, units, revenue FROM product_minute_sales"))
    customers = conn.execute(text("SELECT user_id, orders, spend, last_order_at FROM customer_sales"))
    return list(products), list(customers)
