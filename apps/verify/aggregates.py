"""The sales aggregates recomputed from the order events alone: a pure fold and an exact compare.

Written apart from the consumers' code (``database/aggregates.py``) on purpose: two paths to the
same sums, so a double count or a lost event in one shows as a difference. ``fold(state, event)``
takes one accepted order event (schema-valid, key = entity id) in topic order and returns the
state; the state is plain JSON (strings, ints, lists), so ``verify`` can persist it between runs
and survive the topic's retention. ``compare(state, tables)`` diffs it with the tables, exactly.

Rules (GUIDE/DB_README.md): ``order.paid`` counts the order (1, quantity, total) in its product's
UTC minute and for its customer (``last_order_at`` = latest payment); ``order.cancelled`` of an
order whose latest status was paid, shipped or delivered takes the same amounts back, in the
cancellation's minute. An event at the order's latest version with another event id is a
version conflict (dead-lettered by the consumer) and counts nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ValidationError

from common.events import OrderEvent

State = dict[str, dict[str, list[Any]]]  # orders / products / customers -> key -> values
PAID_STATES = {"paid", "shipped", "delivered"}
SAMPLES = 5


def accepted(schema: type[BaseModel], key: bytes | None, value: bytes | None) -> Any:
    """The event a consumer applies from this message, or None: schema-valid and keyed by its entity id."""
    try:
        event = schema.model_validate_json(value or b"")
    except ValidationError:
        return None
    return event if key == str(event.entity_id).encode() else None  # type: ignore[attr-defined]


def empty_state() -> State:
    """The state before the first event."""
    return {"order_states": {}, "product_minutes": {}, "customers": {}}


def fold(state: State, event: OrderEvent) -> State:
    """Apply one order event; updates ``state`` in place and returns it (no I/O)."""
    order = str(event.entity_id)
    payload = event.payload
    known = state["order_states"].get(order)  # [version, status, event_id]
    if known is not None and known[0] == event.version and known[2] != str(event.event_id):
        return state  # version conflict: set aside by the consumer
    was_paid = known is not None and known[1] in PAID_STATES
    sign = 1 if payload.status == "paid" else (-1 if payload.status == "cancelled" and was_paid else 0)
    if known is None or event.version > known[0]:
        state["order_states"][order] = [event.version, payload.status, str(event.event_id)]
    if sign:
        at = event.occurred_at.astimezone(UTC)
        minute = at.replace(second=0, microsecond=0).isoformat()
        product = state["product_minutes"].setdefault(f"{payload.product_id}|{minute}", [0, 0, "0"])
        product[0] += sign
        product[1] += sign * payload.quantity
        product[2] = str(Decimal(product[2]) + sign * payload.total_amount)
        customer = state["customers"].setdefault(str(payload.user_id), [0, "0", None])
        customer[0] += sign
        customer[1] = str(Decimal(customer[1]) + sign * payload.total_amount)
        if sign > 0 and (customer[2] is None or at.isoformat() > customer[2]):
            customer[2] = at.isoformat()
    return state


@dataclass
class SalesReport:
    """The aggregate tables against the recomputation."""

    products: int = 0  # product-minute rows expected (non-zero)
    customers: int = 0
    mismatched_rows: int = 0
    double_counted: int = 0  # orders counted more than once (customer order counts above the expected)
    missing_counts: int = 0  # orders counted too few times
    samples: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every sum equal."""
        return self.mismatched_rows == 0


Tables = dict[str, dict[str, tuple[Any, ...]]]  # as read by ``read_tables``: same keys as the state


def compare(state: State, tables: Tables) -> SalesReport:
    """Exact comparison; a row that is zero on one side and absent on the other is equal."""
    report = SalesReport()
    expected_products = {k: (v[0], v[1], Decimal(v[2])) for k, v in state["product_minutes"].items()}
    expected_customers = {k: (v[0], Decimal(v[1]), v[2]) for k, v in state["customers"].items()}
    report.products = sum(1 for v in expected_products.values() if any(v[:2]) or v[2])
    report.customers = len(expected_customers)
    zeros = {"product_minutes": (0, 0, Decimal(0)), "customers": (0, Decimal(0), None)}
    for name, expected in (("product_minutes", expected_products), ("customers", expected_customers)):
        actual = tables[name]
        for key in sorted(expected.keys() | actual.keys()):
            want, got = expected.get(key, zeros[name]), actual.get(key, zeros[name])
            if name == "customers" and got[0] == want[0] == 0:
                want, got = want[:2], got[:2]  # no standing order: when it last paid is not compared
            if want != got:
                report.mismatched_rows += 1
                if name == "customers":
                    report.double_counted += max(0, got[0] - want[0])
                    report.missing_counts += max(0, want[0] - got[0])
                if len(report.samples) < SAMPLES:
                    report.samples.append(f"{name} {key}: expected {_show(want)}, table {_show(got)}")
    return report


def table_key(product_id: Any, minute: datetime) -> str:
    """The state's key of a product-minute row read from PostgreSQL."""
    return f"{product_id}|{minute.astimezone(UTC).isoformat()}"


def _show(values: tuple[Any, ...]) -> str:
    return "(" + ", ".join(str(v) for v in values) + ")"


def as_tables(products: list[Any], customers: list[Any]) -> Tables:
    """Rows from ``database.aggregates.sales_rows`` keyed like the state."""
    return {
        "product_minutes": {table_key(p, m): (o, u, r) for p, m, o, u, r in products},
        "customers": {
            str(u): (o, s, None if last is None else last.astimezone(UTC).isoformat()) for u, o, s, last in customers
        },
    }
