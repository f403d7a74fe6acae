"""Count what one chaos run did: acknowledged, applied, lost, duplicated, dead-lettered.

Only the run's own offsets are read (high watermarks taken before the load, up to those taken
once lag is zero), so earlier data on the topics neither hides nor fakes a problem.

- lost: an acknowledged event missing from its topic, or an entity of the run whose row is
  missing or older than the topic's latest valid version;
- duplicated: orders counted more than once in the sales aggregates, from their exact comparison
  with the recomputation of the whole orders topic (``apps/verify/aggregates.py``); the sums are
  the tables a re-applied event shows in (the version-guarded entity rows hide it). Other
  differences in the sums are ``sales_mismatch``;
- duplicate_ids: an event id twice in a topic, a row whose version matches but whose event id is
  another event's, or a table with more rows than distinct ids;
- dead-lettered: distinct source coordinates (topic, partition, offset) in the dead-letter
  topics; a reject published twice after a redelivery is ``dlq_repeats``, not a second letter.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from confluent_kafka import Message
from sqlalchemy import Engine, Table, func, select

from apps.verify.aggregates import accepted, empty_state, fold
from apps.verify.sales import compare_sales
from common.entities import ORDERS
from common.settings import KafkaSettings
from database.database import make_engine
from kafka.consumer import Rejection, decode
from kafka.consumers import CONSUMERS
from kafka.dead_letter import ORIGINAL_OFFSET, ORIGINAL_PARTITION, ORIGINAL_TOPIC
from kafka.offsets import partition_offsets, read_range

Offsets = dict[str, dict[int, int]]  # topic -> partition -> offset


def high_watermarks(settings: KafkaSettings, topics: list[str]) -> Offsets:
    """Next offset of every partition of each topic."""
    return {t: {p.partition: p.high for p in partition_offsets(settings, t)} for t in topics}


@dataclass
class Counts:
    """The run's figures; ``ok`` is the scenario's pass condition."""

    acknowledged: int = 0
    applied: int = 0
    lost: int = 0
    duplicated: int = 0
    duplicate_ids: int = 0
    sales_mismatch: int = 0
    dead_lettered: int = 0
    injected: int = 0
    invalid_in_topics: int = 0
    dlq_repeats: int = 0
    ahead: int = 0
    samples: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        exact = self.duplicated == self.duplicate_ids == self.sales_mismatch == 0
        return self.lost == 0 and exact and self.dead_lettered == self.injected == self.invalid_in_topics


def read_ledger(path: Path) -> tuple[list[tuple[str, str, int, str]], int]:
    """Acknowledged events ``(topic, entity_id, version, event_id)`` and the acknowledged poison count."""
    events, poison = [], 0
    for line in path.read_text(encoding="utf-8").splitlines() if path.exists() else []:
        parts = line.split()
        if len(parts) == 5 and parts[0] == "E":
            events.append((parts[1], parts[2], int(parts[3]), parts[4]))
        elif len(parts) == 4 and parts[0] == "P":
            poison += 1
    return events, poison


def measure(settings: KafkaSettings, database_url: str, start: Offsets, end: Offsets, ledger: Path) -> Counts:
    """Compare the run's topic ranges, its ledger, the tables and the dead-letter topics."""
    counts = Counts()
    acked, counts.injected = read_ledger(ledger)
    counts.acknowledged = len(acked)
    in_topic: set[tuple[str, str]] = set()
    engine = make_engine(database_url, pool_size=1)
    try:
        for topic, spec in CONSUMERS.items():
            latest: dict[uuid.UUID, tuple[int, uuid.UUID]] = {}
            seen: Counter[uuid.UUID] = Counter()
            for message in read_range(settings, topic, start[topic], end[topic]):
                event = decode(spec.schema, message.value())
                if isinstance(event, Rejection):
                    counts.invalid_in_topics += 1
                    continue
                ident, entity, version = event.event_id, event.entity_id, event.version  # type: ignore[attr-defined]
                seen[ident] += 1
                in_topic.add((topic, str(ident)))
                if version > latest.get(entity, (0, None))[0]:
                    latest[entity] = (version, ident)
            counts.duplicate_ids += sum(n - 1 for n in seen.values() if n > 1)
            _compare(engine, spec.table, latest, counts)
    finally:
        engine.dispose()
    missing = [a for a in acked if (a[0], a[3]) not in in_topic]
    counts.lost += len(missing)
    counts.samples += [f"acknowledged {t} {e} v{v} not in the topic" for t, e, v, _ in missing[:3]]
    for topic in CONSUMERS:
        dlq = f"{topic}-dlq"
        coordinates = [_origin(m) for m in read_range(settings, dlq, start[dlq], end[dlq])]
        counts.dead_lettered += len(set(coordinates))
        counts.dlq_repeats += len(coordinates) - len(set(coordinates))
    _compare_sales(settings, database_url, end, counts)
    return counts


def _compare_sales(settings: KafkaSettings, database_url: str, end: Offsets, counts: Counts) -> None:
    """The aggregates against the whole orders topic (the sums hold every run, not only this one)."""
    state = empty_state()
    schema, topic = ORDERS.schema, ORDERS.topic
    for message in read_range(settings, topic, {}, end[topic]):
        if (event := accepted(schema, message.key(), message.value())) is not None:
            fold(state, event)
    sales = compare_sales(database_url, state)
    counts.duplicated = sales.double_counted
    counts.sales_mismatch = sales.mismatched_rows
    counts.samples += sales.samples[:3]


def _compare(engine: Engine, table: Table, latest: dict, counts: Counts) -> None:
    """Rows of the run's entities against the topic's latest valid version and event id."""
    key = next(iter(table.primary_key.columns))
    rows: dict[uuid.UUID, tuple[int, uuid.UUID]] = {}
    ids = list(latest)
    with engine.connect() as conn:
        for i in range(0, len(ids), 1_000):
            query = select(key, table.c.version, table.c.event_id).where(key.in_(ids[i : i + 1_000]))
            rows |= {k: (v, e) for k, v, e in conn.execute(query)}
        total, distinct = conn.execute(select(func.count(), func.count(key.distinct())).select_from(table)).one()
    counts.duplicate_ids += total - distinct
    for entity, (version, event_id) in latest.items():
        row = rows.get(entity)
        if row is None or row[0] < version:
            counts.lost += 1
            if len(counts.samples) < 5:
                counts.samples.append(f"{table.name} {entity}: topic v{version}, table {row and row[0]}")
        elif row[0] > version:
            counts.ahead += 1
        elif row[1] != event_id:
            counts.duplicate_ids += 1
        else:
            counts.applied += 1


def _origin(message: Message) -> tuple[str, str, str]:
    headers = {k: (v or b"").decode(errors="replace") for k, v in message.headers() or []}
    return (
        headers.get(ORIGINAL_TOPIC, "?"),
        headers.get(ORIGINAL_PARTITION, "?"),
        headers.get(ORIGINAL_OFFSET, "?"),
    )
