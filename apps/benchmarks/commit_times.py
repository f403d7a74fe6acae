"""End-to-end latency of every ON event: its transaction's commit time minus its ``produced_at``.

A consumer writes a batch's rows and its ``consumer_offsets`` row in one transaction. In a
scratch schema a deferred trigger logs every offsets write (topic, partition, next offset); the
log row shares that transaction, so its ``xmin`` is the batch's transaction and
``pg_xact_commit_timestamp(xmin)`` is the moment it committed (taken by PostgreSQL after the
commit; the local runtime runs with ``track_commit_timestamp=on``). Where that setting is off
(a server you did not start), the trigger's ``clock_timestamp()`` at pre-commit is used instead
and ``e2e_clock`` says so. An event at offset ``o`` was committed by the first logged
transaction of its partition whose next offset is past ``o``: every event counts, also those a
later version superseded within a batch or in the table.
"""

from __future__ import annotations

import bisect
import json
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import text

from common.settings import KafkaSettings
from database.database import make_engine
from kafka.offsets import read_topic

LOG = "bench_commit_log"
INSTALL = """
CREATE TABLE "{schema}".{log} (topic text, partition int, next_offset bigint, at timestamptz);
CREATE FUNCTION "{schema}".bench_log_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO "{schema}".{log} VALUES (NEW.topic, NEW.partition, NEW.next_offset, clock_timestamp());
  RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER bench_log_commit AFTER INSERT OR UPDATE ON "{schema}".consumer_offsets
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION "{schema}".bench_log_commit();
"""


def install(database_url: str, schema: str) -> None:
    """Log every commit of ``schema``'s consumer offsets (the schema's tables exist already)."""
    engine = make_engine(database_url, pool_size=1)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(INSTALL.format(schema=schema, log=LOG))
    finally:
        engine.dispose()


def commits(database_url: str, schema: str) -> tuple[dict[tuple[str, int], list[tuple[int, datetime]]], str]:
    """Per (topic, partition), (next offset, commit time) in offset order; and which clock was used."""
    engine = make_engine(database_url, pool_size=1)
    try:
        with engine.connect() as conn:
            tracked = conn.execute(text("SHOW track_commit_timestamp")).scalar_one() == "on"
            clock = "pg_xact_commit_timestamp(xmin)" if tracked else "at"
            query = f'SELECT topic, partition, next_offset, {clock} FROM "{schema}".{LOG} ORDER BY next_offset'
            log: dict[tuple[str, int], list[tuple[int, datetime]]] = defaultdict(list)
            for topic, partition, next_offset, at in conn.execute(text(query)):
                log[(topic, partition)].append((next_offset, at))
    finally:
        engine.dispose()
    return dict(log), "commit_timestamp" if tracked else "pre_commit_clock"


def e2e_latencies(
    kafka: KafkaSettings,
    database_url: str,
    schema: str,
    topics: Iterable[str],
    since: datetime | None = None,
    until: datetime | None = None,
) -> tuple[list[float], str]:
    """Seconds from ``produced_at`` to the commit that applied it, every message of ``topics`` (in [since, until))."""
    log, clock = commits(database_url, schema)
    latencies: list[float] = []
    offsets = {key: [n for n, _ in entries] for key, entries in log.items()}
    for topic in topics:
        for message in read_topic(kafka, topic):
            key = (topic, message.partition())
            i = bisect.bisect_right(offsets.get(key, []), message.offset())
            if i == len(offsets.get(key, [])):
                continue  # never applied: the report's lost/mismatched counts say so
            produced_at = datetime.fromisoformat(json.loads(message.value())["produced_at"])
            if (since is not None and produced_at < since) or (until is not None and produced_at >= until):
                continue
            latencies.append((log[key][i][1] - produced_at).total_seconds())
    return latencies, clock
