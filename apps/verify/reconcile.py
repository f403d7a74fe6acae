"""Reconcile Kafka with PostgreSQL: each topic's entities at their latest version, no orphans.

Every acknowledged event's entity must be in its table at its latest version, no order may be
orphaned, rejects must be in the dead-letter topics, and the sales aggregates must equal their
recomputation from the order events (``apps/verify/aggregates.py``).

``verify(kafka_settings, database_url)`` reads each entity topic from the beginning (up to the
high watermarks taken at the start), computes the latest version per entity id among the
messages that pass the schema, and compares with the table's rows and versions. Lag is the
group's committed offsets against the high watermarks: a mismatch only means something once the
lag is zero (``VerifyReport.caught_up``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from uuid import UUID

from apps.verify.aggregates import SalesReport, accepted, as_tables, compare, empty_state, fold
from common.settings import KafkaSettings
from database.aggregates import sales_rows
from database.crud import Orphans, orphan_orders, row_versions
from database.database import make_engine
from kafka.consumers import CONSUMERS, ConsumerSpec
from kafka.offsets import partition_offsets, read_topic, topic_exists


@dataclass(frozen=True)
class Target:
    """One entity topic to reconcile: its consumer spec, and the names actually in use."""

    spec: ConsumerSpec
    topic: str
    group_id: str
    dlq_topic: str

    @classmethod
    def production(cls, spec: ConsumerSpec) -> Target:
        """The names from ``kafka/topics.py``."""
        return cls(spec, spec.topic.name, spec.group_id, spec.topic.dlq)


@dataclass
class TopicReport:
    """One topic against one table."""

    topic: str
    table: str
    group_id: str
    messages: int = 0
    invalid: int = 0  # messages that fail the schema: they belong in the dead-letter topic
    entities: int = 0
    rows: int = 0
    missing: int = 0  # entity in the topic, no row
    extra: int = 0  # row whose entity is not in the topic
    stale: int = 0  # row older than the topic's latest version
    ahead: int = 0  # row newer than anything read (event produced after the read started)
    dlq_messages: int = 0
    lag: int = 0
    samples: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Rows match the topic exactly and every reject reached the dead-letter topic."""
        return not (self.missing or self.extra or self.stale or self.ahead) and self.dlq_messages >= self.invalid


@dataclass
class VerifyReport:
    """All topics, plus orphan orders."""

    topics: list[TopicReport]
    orphans: Orphans | None
    sales: SalesReport | None = None  # when the orders topic is among the targets

    @property
    def lag(self) -> int:
        """Total lag of every group over its topic."""
        return sum(t.lag for t in self.topics)

    @property
    def caught_up(self) -> bool:
        """Every group has committed everything: the comparison is final."""
        return self.lag == 0

    @property
    def ok(self) -> bool:
        """Every topic matches and no order lacks its user or product."""
        orphans_ok = self.orphans is None or self.orphans.total == 0
        return all(t.ok for t in self.topics) and orphans_ok and (self.sales is None or self.sales.ok)


def latest_versions(
    settings: KafkaSettings, target: Target, sales: dict | None = None
) -> tuple[dict[UUID, int], int, int]:
    """Entity id -> latest valid version in the topic; also messages read and invalid ones.

    Valid: passes the schema and is keyed by its entity id. Order events are also folded into
    ``sales`` (the aggregates' recomputation) when given.
    """
    latest: dict[UUID, int] = {}
    messages = invalid = 0
    for message in read_topic(settings, target.topic):
        messages += 1
        event = accepted(target.spec.schema, message.key(), message.value())
        if event is None:
            invalid += 1
            continue
        entity, version = event.entity_id, event.version
        if sales is not None:
            fold(sales, event)  # type: ignore[arg-type]  # the orders target's schema is OrderEvent
        if version > latest.get(entity, 0):
            latest[entity] = version
    return latest, messages, invalid


def reconcile(settings: KafkaSettings, database_url: str, target: Target, sales: dict | None = None) -> TopicReport:
    """Compare one topic with its table (and fold its order events into ``sales`` if given)."""
    report = TopicReport(target.topic, target.spec.table.name, target.group_id)
    report.lag = sum(p.lag for p in partition_offsets(settings, target.topic, target.group_id))
    expected, report.messages, report.invalid = latest_versions(settings, target, sales)
    engine = make_engine(database_url, pool_size=1)
    try:
        with engine.connect() as conn:
            actual = row_versions(conn, target.spec.table)
    finally:
        engine.dispose()
    report.entities, report.rows = len(expected), len(actual)
    for entity, version in expected.items():
        row = actual.get(entity)
        if row is None or row != version:
            report.missing += row is None
            report.stale += row is not None and row < version
            report.ahead += row is not None and row > version
            if len(report.samples) < 5:
                report.samples.append(f"{entity}: topic v{version}, table {'-' if row is None else f'v{row}'}")
    report.extra = len(actual.keys() - expected.keys())
    if topic_exists(settings, target.dlq_topic):
        report.dlq_messages = sum(p.messages for p in partition_offsets(settings, target.dlq_topic))
    return report


def verify(kafka_settings: KafkaSettings, database_url: str, targets: Sequence[Target] | None = None) -> VerifyReport:
    """Reconcile every entity topic (default: the production topics and groups) and count orphans."""
    targets = list(targets) if targets is not None else [Target.production(s) for s in CONSUMERS.values()]
    state = empty_state()
    reports = [
        reconcile(kafka_settings, database_url, t, state if t.spec.table.name == "orders" else None) for t in targets
    ]
    sales = None
    if any(t.spec.table.name == "orders" for t in targets):
        sales = compare_sales(database_url, state)
    orphans = None
    if {t.spec.table.name for t in targets} >= {"users", "products", "orders"}:
        engine = make_engine(database_url, pool_size=1)
        try:
            with engine.connect() as conn:
                orphans = orphan_orders(conn)
        finally:
            engine.dispose()
    return VerifyReport(reports, orphans, sales)


def compare_sales(database_url: str, state: dict) -> SalesReport:
    """The aggregate tables against the recomputation ``state``."""
    engine = make_engine(database_url, pool_size=1)
    try:
        with engine.connect() as conn:
            return compare(state, as_tables(*sales_rows(conn)))
    finally:
        engine.dispose()
