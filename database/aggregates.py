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
from uuid import UUID

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

    products: dict[tuple[UUID, datetime], list[Any]] = field(default_factory=dict)
    customers: dict[UUID, list[Any]] = field(default_factory=dict)
    events: int = 0  # events that moved a sum

    def apply(self, conn: Connection) -> int:
        """Add the deltas (row locks on the sums are taken here, late in the transaction)."""
        if self.products:
            keys, sums = list(self.products), list(self.products.values())
            conn.execute(_PRODUCTS, {"product": [k[0] for k in keys], "minute": [k[1] for k in keys],
                                     "orders": [s[0] for s in sums], "units": [s[1] for s in sums],
                                     "revenue": [s[2] for s in sums]})  # fmt: skip
        if self.customers:
            ids, sums = list(self.customers), list(self.customers.values())
            conn.execute(_CUSTOMERS, {"user": ids, "orders": [s[0] for s in sums], "spend": [s[1] for s in sums],
                                      "last": [s[2] for s in sums]})  # fmt: skip
        return self.events


def order_deltas(conn: Connection, rows: Sequence[Row]) -> SalesDeltas:
    """The batch's payments and cancellations as deltas; call before the orders upsert (reads only).

    The statuses before the batch come from the orders table; within the batch they follow the
    events in offset order, newest version winning.
    """
    cancelled = [r["order_id"] for r in rows if r["status"] == "cancelled"]
    status: dict[UUID, tuple[int, str]] = {}
    if cancelled:
        status = {o: (v, s) for o, v, s in conn.execute(_PRIOR, {"ids": cancelled})}
    deltas = SalesDeltas()
    products, customers = deltas.products, deltas.customers
    for row in rows:
        before = status.get(row["order_id"])
        sign = 1 if row["status"] == "paid" else -1 if row["status"] == "cancelled" and _counted(before) else 0
        if before is None or row["version"] > before[0]:
            status[row["order_id"]] = (row["version"], row["status"])
        if not sign:
            continue
        deltas.events += 1
        product = products.setdefault((row["product_id"], minute_of(row["occurred_at"])), [0, 0, Decimal(0)])
        product[0] += sign
        product[1] += sign * row["quantity"]
        product[2] += sign * row["total_amount"]
        customer = customers.setdefault(row["user_id"], [0, Decimal(0), None])
        customer[0] += sign
        customer[1] += sign * row["total_amount"]
        if sign > 0 and (customer[2] is None or row["occurred_at"] > customer[2]):
            customer[2] = row["occurred_at"]
    return deltas


def _counted(before: tuple[int, str] | None) -> bool:
    return before is not None and before[1] in COUNTED


def sales_rows(conn: Connection) -> tuple[list[Any], list[Any]]:
    """Every product-minute row and every customer row, for ``verify``'s comparison."""
    products = conn.execute(text("SELECT product_id, minute, orders, units, revenue FROM product_minute_sales"))
    customers = conn.execute(text("SELECT user_id, orders, spend, last_order_at FROM customer_sales"))
    return list(products), list(customers)
