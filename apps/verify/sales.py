"""verify's plug-in for the sales aggregates: the pure fold of ``aggregates.py``, kept between runs.

The fold's state is saved with verify's positions (``JsonFold``), so a repeated run folds only
new order events and the sums stay checkable after retention deleted the events behind them.

The compare is exact on a live pipeline. The consumers write the sums and their offsets in one
transaction (``database/offsets.py``), so in one repeatable-read transaction this reads the
orders group's stored offsets and the sum tables: the tables hold exactly the events below those
offsets. A copy of the state is folded forward from the snapshot to them, then compared row by
row. A group whose offsets live only in Kafka (the at-least-once test mode) is read up to its
Kafka committed offsets instead.
"""

from __future__ import annotations

import copy

from sqlalchemy import Connection

from apps.verify.aggregates import SalesReport, accepted, as_tables, compare, empty_state, fold
from apps.verify.reader import Findings, JsonFold, Record
from apps.verify.snapshot import Snapshot
from apps.verify.target import Target
from database.aggregates import sales_rows
from database.database import make_engine
from database.offsets import stored_offsets
from kafka.offsets import partition_offsets, read_range

MISMATCHES = ("rows differ",)


class SalesFold(JsonFold):
    """The sums recomputed from one orders topic, compared with the aggregate tables."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.name = f"sales/v2:{target.topic}"  # v2: state keys renamed; a new name starts a fresh fold
        self.sources = {target.topic: target.spec.schema}
        self.report: SalesReport | None = None

    def load(self, conn: Connection) -> None:
        super().load(conn)
        self.state = self.state or empty_state()

    def fold(self, record: Record) -> None:
        if record.event is not None:  # the reader already set aside rejects and key mismatches
            fold(self.state, record.event)  # type: ignore[arg-type]

    def compare(self, conn: Connection, snapshot: Snapshot) -> Findings:
        consistent = conn.engine.connect().execution_options(isolation_level="REPEATABLE READ")
        with consistent, consistent.begin():
            applied = stored_offsets(consistent, self.target.group_id, self.target.topic)
            tables = as_tables(*sales_rows(consistent))
        if not applied:  # offsets in Kafka only: what the group committed there
            committed = partition_offsets(snapshot.kafka, self.target.topic, self.target.group_id)
            applied = {p.partition: p.committed or 0 for p in committed}
        state = copy.deepcopy(self.state)
        start = snapshot.ends.get(self.target.topic, {})
        for message in read_range(snapshot.kafka, self.target.topic, start, applied):
            if (event := accepted(self.target.spec.schema, message.key(), message.value())) is not None:
                fold(state, event)
        self.report = report = compare(state, tables)
        counts = {
            "product-minutes": report.products,
            "customers": report.customers,
            "rows differ": report.mismatched_rows,
            "counted twice": report.double_counted,
            "not counted": report.missing_counts,
        }
        return Findings(counts=counts, mismatches=MISMATCHES, samples=list(report.samples))


def compare_sales(database_url: str, state: dict) -> SalesReport:
    """The aggregate tables against a recomputation ``state``, for a pipeline that stands still."""
    engine = make_engine(database_url, pool_size=1)
    try:
        with engine.connect() as conn:
            return compare(state, as_tables(*sales_rows(conn)))
    finally:
        engine.dispose()
