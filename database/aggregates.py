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

Cheap on purpose (it is what exactly-once costs, ``make benchmark-sink``). Python picks the
events that count and their sign: every payment, and a cancellation whose order was paid before
it (the stored status, read with the version-conflict check: ``watch``, then the batch's earlier
events in offset order, newest version winning). It folds them per product-minute and per
customer, in integers (``UUID.int``, microseconds), into arrays sorted by key and built in
PostgreSQL's binary format (``database/binary_arrays.py``, amounts as exact ``numeric[]``
literals). The writer does all this on a thread of its own while PostgreSQL applies the orders
upsert (``database/writer.py``), so it adds no time. PostgreSQL then only upserts one row per key,
in data-modifying CTEs that ride in the offsets' compare-and-set statement: one round trip,
synced on its own, never pipelined (``database/pipeline.py``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text

from database import binary_arrays as arrays

COUNTED = frozenset(("paid", "shipped", "delivered"))
MINUTE = 60_000_000  # in micros
# Each sum's rows folded in Python (``SalesDeltas.statement``) and sent sorted by key; PostgreSQL
# upserts them in array order, so concurrent writers lock shared rows in the same order and
# cannot deadlock.
_SUMS = (
    "products AS (INSERT INTO product_minute_sales AS t (product_id, minute, orders, units, revenue)"
    " SELECT * FROM unnest(%(p_product)b::uuid[], %(p_minute)b::timestamptz[], %(p_orders)b::int8[],"
    " %(p_units)b::int8[], %(p_revenue)s::numeric[])"
    " ON CONFLICT (product_id, minute) DO UPDATE SET orders = t.orders + excluded.orders,"
    " units = t.units + excluded.units, revenue = t.revenue + excluded.revenue),"
    " customers AS (INSERT INTO customer_sales AS t (user_id, orders, spend, last_order_at)"
    " SELECT u, o, s, NULLIF(l, '-infinity') FROM unnest(%(c_user)b::uuid[], %(c_orders)b::int8[],"
    " %(c_spend)s::numeric[], %(c_last)b::timestamptz[]) AS c(u, o, s, l)"
    " ON CONFLICT (user_id) DO UPDATE SET orders = t.orders + excluded.orders, spend = t.spend + excluded.spend,"
    " last_order_at = GREATEST(t.last_order_at, excluded.last_order_at))"
)
Row = Mapping[str, Any]


@dataclass(frozen=True)
class SalesDeltas:
    """The events of one batch that move the sums, picked before the orders upsert, applied after it."""

    counted: list[Row]
    signs: list[int]

    def statement(self) -> tuple[str, dict[str, Any]]:
        """Data-modifying CTEs that upsert the sums, and their parameters ("" when nothing moves).

        Folded here per product-minute and per customer, in integers (``UUID.int``, micros), while
        the orders upsert runs (``database/writer.py``): PostgreSQL then only upserts one row per key.
        """
        if not self.counted:
            return "", {}
        products: dict[tuple[int, int], list[Any]] = {}
        customers: dict[int, list[Any]] = {}
        for row, sign in zip(self.counted, self.signs, strict=True):
            at = arrays.micros(row["occurred_at"])
            units, amount = (
                (row["quantity"], row["total_amount"]) if sign > 0 else (-row["quantity"], -row["total_amount"])
            )
            product, user = row["product_id"], row["user_id"]
            minute = at - at % MINUTE
            total = products.get((product.int, minute))
            if total is None:
                products[(product.int, minute)] = [product, minute, sign, units, amount]
            else:
                total[2] += sign
                total[3] += units
                total[4] += amount
            last = at if sign > 0 else arrays.NEG_INFINITY
            spent = customers.get(user.int)
            if spent is None:
                customers[user.int] = [user, sign, amount, last]
            else:
                spent[1] += sign
                spent[2] += amount
                spent[3] = max(spent[3], last)
        by_product = list(zip(*(products[key] for key in sorted(products)), strict=True))
        by_customer = list(zip(*(customers[key] for key in sorted(customers)), strict=True))
        return _SUMS, {
            "p_product": arrays.uuids(by_product[0]),
            "p_minute": arrays.timestamptzs(by_product[1]),
            "p_orders": arrays.int8s(by_product[2]),
            "p_units": arrays.int8s(by_product[3]),
            "p_revenue": arrays.numeric_literal(by_product[4]),
            "c_user": arrays.uuids(by_customer[0]),
            "c_orders": arrays.int8s(by_customer[1]),
            "c_spend": arrays.numeric_literal(by_customer[2]),
            "c_last": arrays.timestamptzs(by_customer[3]),
        }


class OrderSales:
    """The orders table's aggregator: which stored statuses a batch needs, and its deltas."""

    columns = ("status",)  # read, for the watched orders, with the version-conflict check

    def watch(self, rows: Sequence[Row]) -> list[Any]:
        """Orders cancelled in the batch: their status before it decides whether the cancel counts."""
        return [row["order_id"] for row in rows if row["status"] == "cancelled"]

    def deltas(self, rows: Sequence[Row], stored: Mapping[Any, tuple[Any, ...]]) -> SalesDeltas:
        """Every payment (+1) and every cancellation of an order paid before it (-1), in any order.

        ``stored``: watched order -> (version, status) before the batch. Within the batch the
        status follows the watched orders' events in offset order, newest version winning. Sets
        and dicts are keyed by ``UUID.int``: hashing a ``UUID`` runs in Python, several times slower.
        """
        counted = [row for row in rows if row["status"] == "paid"]
        signs = [1] * len(counted)
        status = {order.int: version_status for order, version_status in stored.items()}
        watched = {order.int for order in self.watch(rows)}
        for row in [row for row in rows if row["order_id"].int in watched] if watched else ():
            order, kind = row["order_id"].int, row["status"]
            before = status.get(order)
            if before is None or row["version"] > before[0]:
                status[order] = (row["version"], kind)
            if kind == "cancelled" and before is not None and before[1] in COUNTED:
                counted.append(row)
                signs.append(-1)
        return SalesDeltas(counted, signs)


order_deltas = OrderSales()


def sales_rows(conn: Connection) -> tuple[list[Any], list[Any]]:
    """Every product-minute row and every customer row, for ``verify``'s comparison."""
    products = conn.execute(text("SELECT product_id, minute, orders, units, revenue FROM product_minute_sales"))
    customers = conn.execute(text("SELECT user_id, orders, spend, last_order_at FROM customer_sales"))
    return list(products), list(customers)
