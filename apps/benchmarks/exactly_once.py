"""The price of exactly-once: the same batches written with and without offsets and sums.

Both sides run in one process, on one connection, over the same order lifecycle events (orders
created, paid, shipped, cancelled ...) cut into the same consumer-sized batches, each batch one
committed transaction through ``PostgresSink.write``:

* **rows only**: the version-guarded upsert of the orders (what an at-least-once sink does);
* **exactly-once**: the same, plus the sales sums' deltas and the offsets' compare-and-set in
  the batch's transaction (what the order consumers do).

The two alternate within each round (which goes first alternates too), so a busy spell on the
shared machine hits both; each side keeps its best round, and the cost is ``1 - exactly-once /
rows only`` of those, in rows committed per second.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import Engine, text

from collect.clock import CounterClock
from collect.pools import build_pools
from collect.stream import RealtimeStream
from database.aggregates import order_deltas
from database.models import TABLES
from database.offsets import Checkpoint, Move
from kafka.sinks.postgres import PostgresSink

GOAL = 0.15  # the ceiling: exactly-once may cost at most this share of the throughput
ROWS_ONLY = "sink copy, lifecycle: rows only (at-least-once)"
EXACTLY_ONCE = "sink copy, lifecycle: exactly-once (+ offsets + sums)"


@dataclass(frozen=True)
class ExactlyOnceCost:
    """Best rows/s of each side and every round's pair, for the report."""

    rows_only: float
    exactly_once: float
    rounds: list[tuple[float, float]]

    @property
    def cost(self) -> float:
        """Share of the rows-only throughput that exactly-once takes away."""
        return 1 - self.exactly_once / self.rows_only


def lifecycle(rows: int) -> list:
    """About ``rows`` order events: new orders and their lifecycle steps, interleaved."""
    stream = RealtimeStream(build_pools("en_US", 1, 300), seed=2, clock=CounterClock())
    stream.load_catalogue(1_000, 1_000)
    events: list = []
    while len(events) < rows:
        events += stream.new_orders(200) + stream.order_steps(400)
    return events[:rows]


def _rate(url: str, engine: Engine, events: list, batch: int, exact: bool) -> float:
    """Rows committed per second writing ``events`` from empty tables, one transaction per batch."""
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE orders, product_minute_sales, customer_sales, consumer_offsets"))
    sink = PostgresSink(url, TABLES["orders"], aggregate=order_deltas if exact else None)
    try:
        started = time.perf_counter()
        for i in range(0, len(events), batch):
            chunk = events[i : i + batch]
            checkpoint = Checkpoint("sink-bench", "orders", (Move(0, i or None, i + len(chunk)),))
            sink.write(chunk, checkpoint if exact else None)
        return len(events) / (time.perf_counter() - started)
    finally:
        sink.close()


def measure(url: str, engine: Engine, events: list, batch: int, rounds: int) -> ExactlyOnceCost:
    """``rounds`` pairs of runs over the same batches, the order of each pair alternating."""
    pairs = []
    for n in range(rounds):
        order = (False, True) if n % 2 == 0 else (True, False)
        rates = {exact: _rate(url, engine, events, batch, exact) for exact in order}
        pairs.append((rates[False], rates[True]))
    return ExactlyOnceCost(max(p[0] for p in pairs), max(p[1] for p in pairs), pairs)
