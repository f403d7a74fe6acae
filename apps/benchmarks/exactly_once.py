"""The price of exactly-once: the same batches written with and without offsets and sums.

Both sides run in one process over the same order lifecycle events (orders created, paid,
shipped, cancelled ...) cut into the same consumer-sized batches, each batch one committed
transaction through ``PostgresSink.write``, each side on its own connection and tables:

* **rows only**: the version-guarded upsert of the orders (what an at-least-once sink does);
* **exactly-once**: the same, plus the sales sums' deltas and the offsets' compare-and-set in
  the batch's transaction (what the order consumers do), in a second scratch schema.

The sides take turns batch by batch (which goes first alternates), so a busy spell on the
shared machine hits both alike: whole runs back to back differed by up to 60% here, more than
the price being measured. Each round's first batch is a warm-up, untimed on both sides (it
opens the connection, creates the COPY's temp table, plans the statements). Rows committed per
second of each side are its timed rows over its own write time; the pooled cost is
``1 - exactly-once / rows only`` over every round's time summed, reported with each round's cost
and their spread.
"""

from __future__ import annotations

import statistics
import time
import uuid
from dataclasses import dataclass

from sqlalchemy import text

from collect.clock import CounterClock
from collect.pools import build_pools
from collect.stream import RealtimeStream
from common.entities import ORDERS
from database.aggregates import order_deltas
from database.database import make_engine
from database.migrate import upgrade
from database.models import table_named
from database.offsets import Checkpoint, Move
from kafka.sinks.postgres_sink import PostgresSink

GOAL = 0.15  # the ceiling: exactly-once may cost at most this share of the throughput
ROWS_ONLY = "sink copy, lifecycle: rows only (at-least-once)"
EXACTLY_ONCE = "sink copy, lifecycle: exactly-once (+ offsets + sums)"
_TABLES = f"{ORDERS.table}, product_minute_sales, customer_sales, consumer_offsets"


@dataclass(frozen=True)
class ExactlyOnceCost:
    """Rows/s of each side over all rounds, and every round's pair, for the report."""

    rows_only: float
    exactly_once: float
    rounds: list[tuple[float, float]]
    batch: int

    @property
    def cost(self) -> float:
        """Share of the rows-only throughput that exactly-once takes away (all rounds pooled)."""
        return 1 - self.exactly_once / self.rows_only

    @property
    def round_costs(self) -> list[float]:
        """Each round's own cost, in order."""
        return [1 - exact / plain for plain, exact in self.rounds]

    def summary(self) -> str:
        """Pooled cost, the rounds' median and range, and every round's cost: one line."""
        costs = sorted(self.round_costs)
        each = ", ".join(f"{c:.1%}" for c in self.round_costs)
        return (
            f"exactly-once costs {self.cost:.1%} of the sink's throughput, pooled over {len(costs)} rounds"
            f" (goal: at most {GOAL:.0%}), batches of {self.batch:,}; rounds: median {statistics.median(costs):.1%},"
            f" range {costs[0]:.1%}..{costs[-1]:.1%}; each: {each}"
        )


def lifecycle(rows: int) -> list:
    """About ``rows`` order events: new orders and their lifecycle steps, interleaved."""
    stream = RealtimeStream(build_pools("en_US", 1, 300), seed=2, clock=CounterClock())
    stream.load_catalogue(1_000, 1_000)
    events: list = []
    while len(events) < rows:
        events += stream.new_orders(200) + stream.order_steps(400)
    return events[:rows]


def _in_schema(url: str, schema: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"


def _round(urls: dict[bool, str], events: list, batch: int) -> tuple[float, float]:
    """One pass over the batches from empty tables: (rows only, exactly-once) rows/s."""
    sinks = {exact: PostgresSink(url, table_named(ORDERS.table), aggregate=order_deltas if exact else None)
             for exact, url in urls.items()}  # fmt: skip
    spent, timed = {False: 0.0, True: 0.0}, 0
    try:
        for sink in sinks.values():
            with sink.writer.engine.begin() as conn:
                conn.execute(text(f"TRUNCATE {_TABLES}"))
        for n, i in enumerate(range(0, len(events), batch)):
            chunk = events[i : i + batch]
            checkpoint = Checkpoint("sink-bench", ORDERS.topic, (Move(0, i or None, i + len(chunk)),))
            for exact in (False, True) if n % 2 == 0 else (True, False):
                started = time.perf_counter()
                sinks[exact].write(chunk, checkpoint if exact else None)
                spent[exact] += (time.perf_counter() - started) if n else 0.0  # batch 0: the warm-up
            timed += len(chunk) if n else 0
    finally:
        for sink in sinks.values():
            sink.close()
    if not timed:
        raise ValueError(f"{len(events)} rows make one batch of {batch}: nothing is timed after the warm-up")
    return timed / spent[False], timed / spent[True]


def measure(base_url: str, url: str, events: list, batch: int, rounds: int) -> ExactlyOnceCost:
    """``rounds`` passes; rows only writes into ``url``, exactly-once into a scratch schema of ``base_url``.

    A run too small for a warm-up batch and timed ones (a smoke test's few hundred rows) is cut
    into four smaller batches instead; the summary says which batch size was timed.
    """
    batch = min(batch, max(1, len(events) // 4))
    schema = f"sink_bench_eo_{uuid.uuid4().hex[:8]}"
    admin = make_engine(base_url, pool_size=1)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        upgrade(_in_schema(base_url, schema))
        pairs = [_round({False: url, True: _in_schema(base_url, schema)}, events, batch) for _ in range(rounds)]
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
    plain = rounds / sum(1 / p[0] for p in pairs)  # rows over the time summed across rounds
    exact = rounds / sum(1 / p[1] for p in pairs)
    return ExactlyOnceCost(plain, exact, pairs, batch)
