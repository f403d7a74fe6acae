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
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, text

COUNTED = ("paid", "shipped", "delivered")
_PRIOR = text("SELECT order_id, version, status FROM orders WHERE order_id = ANY(:ids)")
_PRODUCTS = text(
    "INSERT INTO product_minute_sales AS t (product_id, minute, orders, units, revenue)"
    " SELECT * FROM unnest(CAST(:product AS uuid[]), CAST(:minute AS timestamptz[]), CAST(:orders AS bigint[]),"
    " CAST(:units AS bigint[]), CAST(:revenue AS numeric[])) ORDER BY 1, 2"
    " ON CONFLICT (product_id, minute) DO UPDATE SET orders = t.orders + excluded.orders,"
    " units = t.units + excluded.units, revenue = t.revenue + excluded.revenue"
)
_CUSTOMERS = text(
    "INSERT INTO customer_sales AS t (user_id, orders, spend, last_order_at)"
    " SELECT * FROM unnest(CAST(:user AS uuid[]), CAST(:orders AS bigint[]), CAST(:spend AS numeric[]),"
    " CAST(:last AS timestamptz[])) ORDER BY 1"
    " ON CONFLICT (user_id) DO UPDATE SET orders = t.orders + excluded.orders, spend = t.spend + excluded.spend,"
    " last_order_at = GREATEST(t.last_order_at, excluded.last_order_at)"
)
Row = Mapping[str, Any]


def minute_of(moment: datetime) -> datetime:
    """The UTC minute an event is booked in."""
    return moment.astimezone(UTC).replace(second=0, microsecond=0)


@dataclass
class SalesDeltas:
    """What one batch adds to the sums, computed before the orders upsert, applied after it."""

    products: list[list[Any]] = field(default_factory=list)  # [product_id, minute, orders, units, revenue]
    customers: list[list[Any]] = field(default_factory=list)  # [user_id, orders, spend, last_order_at]
    events: int = 0  # events that moved a sum

    def apply(self, conn: Connection) -> int:
        """Add the deltas (row locks on the sums are taken here, late in the transaction)."""
        if self.products:
            conn.execute(_PRODUCTS, _arrays(("product", "minute", "orders", "units", "revenue"), self.products))
        if self.customers:
            conn.execute(_CUSTOMERS, _arrays(("user", "orders", "spend", "last"), self.customers))
        return self.events


def order_deltas(conn: Connection, rows: Sequence[Row]) -> SalesDeltas:
    """The batch's payments and cancellations as deltas; call before the orders upsert (reads only).

    The statuses before the batch come from the orders table; within the batch they follow the
    events in offset order, newest version winning. Only orders cancelled in this batch need
    them. Dicts are keyed by ``UUID.int``: hashing a ``UUID`` runs in Python, several times slower.
    """
    cancelled = [r["order_id"] for r in rows if r["status"] == "cancelled"]
    watched = {order.int for order in cancelled}
    status: dict[int, tuple[int, str]] = {}
    if cancelled:
        status = {o.int: (v, s) for o, v, s in conn.execute(_PRIOR, {"ids": cancelled})}
    products: dict[tuple[int, int], list[Any]] = {}
    customers: dict[int, list[Any]] = {}
    deltas = SalesDeltas()
    for row in rows:
        kind, before = row["status"], None
        if watched and (order := row["order_id"].int) in watched:
            before = status.get(order)
            if before is None or row["version"] > before[0]:
                status[order] = (row["version"], kind)
        sign = 1 if kind == "paid" else -1 if kind == "cancelled" and _counted(before) else 0
        if not sign:
            continue
        deltas.events += 1
        at = row["occurred_at"].timestamp()
        key = (row["product_id"].int, int(at // 60))  # plain ints: an aware datetime hashes slowly
        product = products.get(key)
        if product is None:
            product = products[key] = [row["product_id"], minute_of(row["occurred_at"]), 0, 0, Decimal(0)]
        product[2] += sign
        product[3] += sign * row["quantity"]
        product[4] += sign * row["total_amount"]
        customer = customers.get(row["user_id"].int)
        if customer is None:
            customer = customers[row["user_id"].int] = [row["user_id"], 0, Decimal(0), None, 0.0]
        customer[1] += sign
        customer[2] += sign * row["total_amount"]
        if sign > 0 and (customer[3] is None or at > customer[4]):
            customer[3], customer[4] = row["occurred_at"], at
    deltas.products, deltas.customers = list(products.values()), [c[:4] for c in customers.values()]
    return deltas


def _arrays(names: Sequence[str], rows: list[list[Any]]) -> dict[str, list[Any]]:
    """Rows to one list per column (a list is sent as an array; a tuple would be a record)."""
    return {name: list(column) for name, column in zip(names, zip(*rows, strict=True), strict=True)}


def _counted(before: tuple[int, str] | None) -> bool:
    return before is not None and before[1] in COUNTED


def sales_rows(conn: Connection) -> tuple[list[Any], list[Any]]:
    """Every product-minute row and every customer row, for ``verify``'s comparison."""
    products = conn.execute(text("SELECT product_id, minute, orders, units, revenue FROM product_minute_sales"))
    customers = conn.execute(text("SELECT user_id, orders, spend, last_order_at FROM customer_sales"))
    return list(products), list(customers)
