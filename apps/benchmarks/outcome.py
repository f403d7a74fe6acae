"""End to end: wait until every event is in PostgreSQL, then turn one run into report rows.

End-to-end latency of an event is the commit of the transaction that applied it minus its
``produced_at``, for every event: ON from the consumers' commit log (``commit_times``), OFF from
the writer's own clock read after each commit. The rows' ``applied_at`` (PostgreSQL's ``now()``,
the transaction's start) still gives the last write of the run for ``e2e_throughput``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from uuid import UUID

from sqlalchemy import text

from apps.benchmarks.common import Measurement, percentiles
from apps.benchmarks.handlers import Handler
from apps.benchmarks.load import DriveResult
from apps.benchmarks.sampler import Usage
from common.entities import ENTITIES, entity_of, topic_of
from common.events import Event
from common.settings import KafkaSettings
from database.crud import row_versions
from database.database import make_engine
from database.models import table_named
from kafka.offsets import group_readers, read_offsets

Expected = dict[str, dict[UUID, int]]


def expected_versions(events: Sequence[Event]) -> Expected:
    """Per table, the latest version of every entity in the stream: what the rows must hold."""
    expected: Expected = {entity.table: {} for entity in ENTITIES}
    for event in events:
        latest = expected[entity_of(topic_of(event)).table]
        if event.version > latest.get(event.entity_id, 0):
            latest[event.entity_id] = event.version
    return expected


def wait_caught_up(kafka: KafkaSettings, groups: dict[str, str], timeout_s: float, at_most: int = 0) -> bool:
    """Until every group (topic -> group id) is within ``at_most`` of its topic's end; False on timeout."""
    deadline = time.monotonic() + timeout_s
    with group_readers(kafka, groups.values(), "bench-drain") as readers:
        while time.monotonic() < deadline:
            try:
                lag = sum(p.lag for topic, group in groups.items() for p in read_offsets(readers[group], topic))
            except Exception:  # a coordinator moving under load: ask again
                lag = -1
            if 0 <= lag <= at_most:
                return True
            time.sleep(0.5)
    return False


def read_rows(url: str, expected: Expected) -> tuple[list[float], datetime | None, int]:
    """(``applied_at - produced_at`` of the rows in s, last ``applied_at``, rows missing or stale)."""
    latencies: list[float] = []
    last: datetime | None = None
    mismatched = 0
    engine = make_engine(url, pool_size=1)
    try:
        with engine.connect() as conn:
            for name in (entity.table for entity in ENTITIES):
                query = f"SELECT extract(epoch FROM applied_at - produced_at), applied_at FROM {name}"
                for seconds, applied_at in conn.execute(text(query)):
                    latencies.append(float(seconds))
                    last = applied_at if last is None else max(last, applied_at)
                actual = row_versions(conn, table_named(name))
                mismatched += sum(1 for key, version in expected[name].items() if actual.get(key) != version)
    finally:
        engine.dispose()
    return latencies, last, mismatched


def measurements(
    scenario: str,
    mode: str,
    events: int,
    run: DriveResult,
    handler: Handler,
    rows: tuple[list[float], datetime | None, int],
    usage: dict[str, Usage],
) -> list[Measurement]:
    """The common metrics of one scenario x mode."""
    latencies, last_applied, mismatched = rows
    stored = events - handler.lost
    e2e_s = (last_applied - run.started_at).total_seconds() if last_applied else float("nan")
    app, durable, e2e = percentiles(run.latencies), percentiles(handler.durable), percentiles(latencies)

    def m(metric: str, value: float | int, unit: str = "") -> Measurement:
        return Measurement(scenario, mode, metric, value, unit)

    rows_out = [
        m("events", events, "events"),
        m("accepted", run.accepted, "events"),
        m("errors", handler.errors, "errors"),
        m("lost_events", handler.lost, "events"),
        m("rows_mismatched", mismatched, "rows"),
        m("app_seconds", run.seconds, "s"),
        m("app_throughput", run.accepted / run.seconds if run.seconds else float("nan"), "events/s"),
        *(m(f"app_latency_p{cut}", value * 1000, "ms") for cut, value in app.items()),
        *(m(f"durable_latency_p{cut}", value * 1000, "ms") for cut, value in durable.items()),
        m("e2e_seconds", e2e_s, "s"),
        m("e2e_throughput", stored / e2e_s if e2e_s and e2e_s == e2e_s else float("nan"), "events/s"),
        *(m(f"e2e_latency_p{cut}", value * 1000, "ms") for cut, value in e2e.items()),
    ]
    for component, samples in usage.items():
        if samples.cpu:
            rows_out += [
                m(f"cpu_{component}", samples.cpu_mean, "% of a core"),
                m(f"rss_{component}", samples.rss_peak_mb, "MB"),
            ]
    return rows_out


def acknowledged(run: DriveResult, handler: Handler) -> DriveResult:
    """ON: the run as acknowledged events (delivery reports), not events put into the client's queue.

    OFF modes are returned as they are: their calls return once committed (single) or buffered (batched).
    """
    acked = getattr(handler, "acked_at", None)
    if acked is None:
        return run
    offsets = sorted(t - run.start for t in acked)
    return replace(run, accepted_at=offsets, seconds=max(run.seconds, offsets[-1] if offsets else 0.0))


def burst_window(scenario: str, mode: str, run: DriveResult, calm_s: float, burst_s: float, offered: float) -> list:
    """Accepted events/s before and during the burst, next to the offered burst rate."""
    return [
        Measurement(scenario, mode, "offered_burst_rate", offered, "events/s"),
        Measurement(scenario, mode, "app_throughput_calm", run.rate_between(0, calm_s), "events/s"),
        Measurement(scenario, mode, "app_throughput_burst", run.rate_between(calm_s, calm_s + burst_s), "events/s"),
    ]


def outage_window(
    scenario: str, mode: str, run: DriveResult, window: tuple[float, float], peak_buffer: int, offered: float
) -> list:
    """Events/s while PostgreSQL was down vs before it, at the same offered rate (``outage_ratio``).

    The window before the outage is the steady state at the offered load; ON counts acknowledged events.
    """
    (start, end), before = window, run.rate_between(0, window[0])
    during = run.rate_between(start, min(end, run.seconds))
    return [
        Measurement(scenario, mode, "offered_rate", offered, "events/s"),
        Measurement(scenario, mode, "outage_start", start, "s"),
        Measurement(scenario, mode, "outage_end", end, "s"),
        Measurement(scenario, mode, "app_throughput_before", before, "events/s"),
        Measurement(scenario, mode, "app_throughput_during", during, "events/s"),
        Measurement(scenario, mode, "outage_ratio", during / before if before else float("nan"), "ratio"),
        Measurement(scenario, mode, "peak_buffer", peak_buffer, "events"),
    ]
