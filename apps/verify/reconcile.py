"""Reconcile Kafka with PostgreSQL at a snapshot, incrementally (``python manage.py verify``).

One run: (1) cut the source topics at their end offsets (``snapshot``); (2) read only the
messages since the last run into the saved state (``reader``, ``state``); (3) wait, bounded,
until every consumer group committed past the cut, then cut the dead-letter topics too;
(4) compare: entity rows by version and content (``entities``), dead letters by position
(``dead_letters``), orders without user or product, the sales aggregates of every target whose
consumer keeps them (``sales``), and any plug-in reconciler (``extra``, see
``apps/verify/reader.py``); (5) store the result for the console.

Runs are serialized by a PostgreSQL advisory lock: two at once would fold the same messages twice.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import Engine, text

from apps.verify import state
from apps.verify.aggregates import SalesReport
from apps.verify.dead_letters import MISMATCHES as LETTER_MISMATCHES
from apps.verify.dead_letters import DeadLetterMatcher
from apps.verify.entities import MISMATCHES as ENTITY_MISMATCHES
from apps.verify.entities import EntityReconciler, orphans_within
from apps.verify.reader import Findings, Reconciler, catch_up
from apps.verify.sales import SalesFold
from apps.verify.snapshot import Snapshot
from apps.verify.target import Target
from common.entities import ENTITIES, Entity
from common.settings import KafkaSettings
from database.crud import Orphans
from database.database import make_engine

EXIT_OK, EXIT_MISMATCH, EXIT_LAGGING = 0, 1, 3
VERIFY_LOCK_ID = 7_202_612
COUNTS = ("entities", "rows", *ENTITY_MISMATCHES, "invalid", "dead letters", *LETTER_MISMATCHES)


@dataclass
class TopicReport:
    """One topic against its table and its dead-letter topic; ``counts`` holds every finding."""

    topic: str
    table: str
    group_id: str
    read: int = 0  # messages read this run (new since the last run)
    expired: int = 0  # messages deleted by retention before any run read them
    lag: int = 0  # messages inside the snapshot the group had not committed when verify gave up
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))
    samples: list[str] = field(default_factory=list)
    ok: bool = True

    @property
    def rows(self) -> int:
        """Rows in the table."""
        return self.counts.get("rows", 0)

    @property
    def entities(self) -> int:
        """Entities in the saved state (every entity ever read, expired events included)."""
        return self.counts.get("entities", 0)


@dataclass
class VerifyReport:
    """All topics, orphan orders and plug-ins, at one snapshot."""

    topics: list[TopicReport]
    orphans: Orphans | None
    plugins: dict[str, Findings] = field(default_factory=dict)
    sales: SalesReport | None = None  # the sums against their recomputation, when a target keeps them
    snapshot_at: str = ""
    took_s: float = 0.0

    @property
    def lag(self) -> int:
        return sum(t.lag for t in self.topics)

    @property
    def caught_up(self) -> bool:
        """Every group committed past the snapshot: the comparison is final."""
        return self.lag == 0

    @property
    def ok(self) -> bool:
        orphans = self.orphans is None or self.orphans.total == 0
        return (
            self.caught_up and all(t.ok for t in self.topics) and orphans and all(f.ok for f in self.plugins.values())
        )

    @property
    def exit_code(self) -> int:
        """0 ok, 1 mismatch, 3 the groups did not commit past the snapshot in time."""
        return EXIT_OK if self.ok else EXIT_MISMATCH if self.caught_up else EXIT_LAGGING

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, with the verdicts spelled out."""
        body = asdict(self)
        body |= {"ok": self.ok, "lag": self.lag, "caught_up": self.caught_up, "exit_code": self.exit_code}
        for row, topic in zip(body["topics"], self.topics, strict=True):
            row |= topic.counts
        body["plugins"] = {name: {**f.counts, "ok": f.ok, "samples": f.samples} for name, f in self.plugins.items()}
        return body


class StateMissing(RuntimeError):
    """The database lacks verify's state tables: it was not migrated to revision 0002."""


def production_targets(entities: Sequence[Entity] = ENTITIES) -> list[Target]:
    """One target per entity, under its own names."""
    return [Target.of(entity) for entity in entities]


def verify(kafka_settings: KafkaSettings, database_url: str, targets: Sequence[Target] | None = None,
           wait_s: float = 60.0, extra: Sequence[Reconciler] = ()) -> VerifyReport:  # fmt: skip
    """Reconcile ``targets`` (default: the production topics) and ``extra`` plug-ins; store the result."""
    started = time.monotonic()
    targets = list(targets) if targets is not None else production_targets()
    engine = make_engine(database_url, pool_size=2)
    try:
        _check_state(engine)
        with engine.connect() as lock:
            lock.execute(text("SELECT pg_advisory_lock(:id)"), {"id": VERIFY_LOCK_ID})
            report = _run(kafka_settings, engine, targets, wait_s, list(extra))
            report.took_s = round(time.monotonic() - started, 2)
            with engine.begin() as conn:
                state.save_result(conn, report.took_s, report.exit_code, report.to_dict())
            lock.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": VERIFY_LOCK_ID})
            lock.commit()
        return report
    finally:
        engine.dispose()


def _check_state(engine: Engine) -> None:
    with engine.connect() as conn:
        if conn.execute(text("SELECT to_regclass('verify_positions')")).scalar_one() is None:
            raise StateMissing("verify's state tables are missing (migration 0002): run make migrate")


def _run(
    kafka: KafkaSettings, engine: Any, targets: list[Target], wait_s: float, extra: list[Reconciler]
) -> VerifyReport:
    snapshot = Snapshot(kafka)
    snapshot.take(reversed([t.topic for t in targets]))  # orders before their users and products
    entities = [EntityReconciler(t) for t in targets]
    letters = [DeadLetterMatcher(t) for t in targets]
    sales = [SalesFold(t) for t in targets if t.spec.aggregate is not None]
    extra = [*sales, *extra]
    lags = snapshot.wait_applied({t.topic: t.group_id for t in targets}, wait_s)
    snapshot.take([t.dlq_topic for t in targets])
    stats = catch_up(engine, snapshot, [*entities, *letters, *extra])
    reports = [TopicReport(t.topic, t.spec.table.name, t.group_id, stats.read[t.topic],
                           stats.expired[t.topic], lags[t.topic]) for t in targets]  # fmt: skip
    result = VerifyReport(reports, None, snapshot_at=snapshot.taken_at.isoformat())
    if any(lags.values()):
        return result  # nothing concluded: rows inside the snapshot may not be written yet
    with engine.connect() as conn:
        for report, ent, dlq in zip(reports, entities, letters, strict=True):
            for findings in (ent.compare(conn, snapshot), dlq.compare(conn, snapshot)):
                report.counts |= findings.counts
                report.samples += findings.samples
                report.ok = report.ok and findings.ok
        result.plugins = {r.name: r.compare(conn, snapshot) for r in extra}
        result.sales = next((fold.report for fold in sales), None)
        by_topic = {t.entity.topic: t for t in targets}
        for child in targets:  # the first entity with parents (orders: users, products) whose parents are here
            if child.entity.parents and set(child.entity.parents) <= by_topic.keys():
                parents = [by_topic[p].spec.table for p in child.entity.parents]
                result.orphans = Orphans(*orphans_within(conn, child, parents))
                break
    return result
