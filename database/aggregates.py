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

Cheap on purpose (it is what exactly-once costs, ``make benchmark-sink``). Python only picks the
events that count and their sign: every payment, and a cancellation whose order was paid before
it (the stored status, read with the version-conflict check: ``watch``, then the batch's earlier
events in offset order, newest version winning). PostgreSQL folds them per product-minute and per
customer (``GROUP BY`` over the unnest'ed arrays, built in PostgreSQL's binary format in one pass
by ``database/binary_arrays.py``, amounts as one exact ``numeric[]`` literal) and upserts both sums
in data-modifying CTEs that ride in the offsets' compare-and-set statement: one round trip,
synced on its own, never pipelined (``database/pipeline.py``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text

from database import binary_arrays as arrays
from database.pipeline import driver

COUNTED = frozenset(("paid", "shipped", "delivered"))
# One row per counted event; ``s`` is its sign (+1 payment, -1 cancellation after payment).
_SUMS = (
    "sales AS (SELECT * FROM unnest(%(s_product)b::uuid[], %(s_user)b::uuid[], %(s_at)b::timestamptz[],"
    " %(s_sign)b::int[], %(s_quantity)b::int[], %(s_total)s::numeric[]) AS d(p, u, at, s, q, r)),"
    " products AS (INSERT INTO product_minute_sales AS t (product_id, minute, orders, units, revenue)"
    " SELECT p, date_trunc('minute', at, 'UTC'), sum(s), sum(s * q), sum(s * r) FROM sales GROUP BY 1, 2 ORDER BY 1, 2"
    " ON CONFLICT (product_id, minute) DO UPDATE SET orders = t.orders + excluded.orders,"
    " units = t.units + excluded.units, revenue = t.revenue + excluded.revenue),"
    " customers AS (INSERT INTO customer_sales AS t (user_id, orders, spend, last_order_at)"
    " SELECT u, sum(s), sum(s * r), max(at) FILTER (WHERE s > 0) FROM sales GROUP BY 1 ORDER BY 1"
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
        """Data-modifying CTEs that upsert the sums, and their parameters ("" when nothing moves)."""
        if not self.counted:
            return "", {}
        rows = self.counted
        return _SUMS, {
            "s_product": arrays.uuids([row["product_id"] for row in rows]),
            "s_user": arrays.uuids([row["user_id"] for row in rows]),
            "s_at": arrays.timestamptzs([row["occurred_at"] for row in rows]),
            "s_sign": arrays.int4s(self.signs),
            "s_quantity": arrays.int4s([row["quantity"] for row in rows]),
            "s_total": arrays.numeric_literal([row["total_amount"] for row in rows]),
        }

    def apply(self, conn: Connection) -> int:
        """Upsert the sums on their own (no offsets to move); their row locks are taken here."""
        ctes, params = self.statement()
        if ctes:
            driver(conn).execute(f"WITH {ctes} SELECT 1", params)
        return len(self.counted)


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
