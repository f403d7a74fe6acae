"""Pieces of the realtime benchmark: the direct-write stand-in, the lag sampler, rows and summary."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import text

from apps.benchmarks.common import REALTIME_P99_GOAL_MS, Measurement, fmt, percentiles
from apps.benchmarks.handlers import SingleRowWriter
from apps.benchmarks.sampler import Usage
from apps.verify import Target
from collect.clock import VersionClock
from collect.pools import Pools
from collect.stream import RealtimeStream
from common.entities import ENTITIES
from common.events import Event
from common.settings import KafkaSettings
from database.database import make_engine
from kafka.offsets import group_readers, read_offsets
from kafka.producer.producer import DeliveryStats

LagSeries = dict[str, list[tuple[float, int]]]


class DirectSender:
    """Stands in for the producer in ``run_default``: each ``send`` is a committed transaction."""

    def __init__(self, writer: SingleRowWriter, stream: RealtimeStream) -> None:
        self.writer, self.stream = writer, stream
        self.stats = DeliveryStats()  # run_default logs these

    def send(self, event: Event) -> None:
        self.stats.sent += 1
        if self.writer.handle(event):
            self.stats.acked += 1
            self.stream.catalogue.acknowledge(event)  # a new user can order once it is stored
        else:
            self.stats.failed += 1

    def poll(self, timeout: float = 0) -> int:
        time.sleep(timeout)
        return 0

    def flush(self, timeout: float = 0) -> int:
        """Every send is already committed: nothing to wait for."""
        return 0


def seeded_stream(pools: Pools, seed: int, catalogue: int) -> tuple[RealtimeStream, list[Event]]:
    """A realtime stream and its catalogue (users, twice as many products), as the seeder makes it."""
    stream = RealtimeStream(pools, seed, VersionClock(), live_seed=seed)
    seeded = [*stream.users.catalogue(catalogue), *stream.products.catalogue(2 * catalogue)]
    for event in seeded:
        stream.catalogue.acknowledge(event)
    return stream, seeded


def rows_since(url: str, since: datetime, until: datetime) -> list[float]:
    """End-to-end seconds of every row produced in [``since``, ``until``), its latest version's commit.

    The commit time is ``pg_xact_commit_timestamp(xmin)`` (``track_commit_timestamp``, as the local
    runtime runs); elsewhere ``applied_at``, the transaction's start.
    """
    engine = make_engine(url, pool_size=1)
    query = (
        "SELECT extract(epoch FROM {clock} - produced_at) FROM {table}"
        " WHERE produced_at >= :since AND produced_at < :until"
    )
    try:
        with engine.connect() as conn:
            tracked = conn.execute(text("SHOW track_commit_timestamp")).scalar_one() == "on"
            clock = "pg_xact_commit_timestamp(xmin)" if tracked else "applied_at"
            window = {"since": since, "until": until}
            rows = (conn.execute(text(query.format(clock=clock, table=e.table)), window) for e in ENTITIES)
            return [float(s) for result in rows for (s,) in result]
    finally:
        engine.dispose()


def sample_lag(
    kafka: KafkaSettings, targets: Sequence[Target], every_s: float, stop: threading.Event, series: LagSeries
) -> None:
    """Thread body: each group's lag every ``every_s`` seconds until ``stop``.

    One reader per group for the whole run: a client built per sample (connections, metadata,
    coordinator lookup on three brokers every 2 s) is load the pipeline itself never carries.
    """
    start = time.monotonic()
    with group_readers(kafka, (t.group_id for t in targets), "bench-lag") as readers:
        while not stop.wait(every_s):
            for target in targets:
                try:
                    lag = sum(p.lag for p in read_offsets(readers[target.group_id], target.topic))
                except Exception:  # a slow coordinator: skip this point
                    continue
                series.setdefault(target.group_id, []).append((time.monotonic() - start, lag))


def realtime_rows(
    latencies: Mapping[str, list[float]],
    lag: LagSeries,
    usage: Mapping[str, Usage],
    facts: Mapping[tuple[str, str], int],
) -> list[Measurement]:
    """Latency distribution per mode, lag, the given facts ((mode, metric) -> n), CPU and memory."""
    rows = []
    for mode, values in latencies.items():
        cuts = percentiles(values, (50, 95, 99)) | {100: max(values, default=float("nan"))}
        rows.append(Measurement("realtime", mode, "rows", len(values), "rows"))
        rows += [
            Measurement("realtime", mode, f"e2e_latency_{'max' if c == 100 else f'p{c}'}", v * 1000, "ms")
            for c, v in cuts.items()
        ]
    points = [n for series in lag.values() for _, n in series]
    rows.append(Measurement("realtime", "on_kafka", "lag_max", max(points, default=0), "messages"))
    rows += [Measurement("realtime", mode, metric, value) for (mode, metric), value in facts.items()]
    for component, samples in usage.items():
        if samples.cpu:
            rows += [
                Measurement("realtime", "both", f"cpu_{component}", samples.cpu_mean, "% of a core"),
                Measurement("realtime", "both", f"rss_{component}", samples.rss_peak_mb, "MB"),
            ]
    return rows


def realtime_summary(rows: Sequence[Measurement], machine: Mapping[str, object]) -> str:
    """Markdown: latency per mode and the realtime goal (``REALTIME_P99_GOAL_MS``)."""
    v = {(r.mode, r.metric): r.value for r in rows}
    lines = [
        f"## Realtime rates, ON vs OFF ({machine['cpu_count']} CPUs, load {machine['load_avg_1m']} at start)",
        "",
        "| mode | rows | e2e p50 | e2e p95 | e2e p99 | max |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for mode in ("off_direct", "on_kafka", "on_kafka_fetched", "kafka_burst_anchor"):
        if (mode, "rows") not in v:
            continue
        cells = [fmt(float(v[(mode, f"e2e_latency_{m}")]), "ms") for m in ("p50", "p95", "p99", "max")]
        lines.append(f"| {mode} | {v[(mode, 'rows')]} | " + " | ".join(cells) + " |")
    p99, ok = float(v[("on_kafka", "e2e_latency_p99")]), v.get(("on_kafka", "verify_ok"))
    checked = "n/a (live: stop the producer, then make verify)" if ok is None else "ok" if ok else "FAILED"
    lines += [
        "",
        f"- [{'PASS' if p99 <= REALTIME_P99_GOAL_MS else 'MISS'}] realtime e2e p99 <= {REALTIME_P99_GOAL_MS} ms"
        f" (ON): {fmt(p99, 'ms')};"
        f" lag max {v[('on_kafka', 'lag_max')]}, verify {checked}",
        "- on_kafka_fetched: produced_at until a consumer with the pipeline's fetch settings had it (Kafka's"
        " share: linger, replication, fetch); on_kafka minus it is the consumer's decode and transaction",
        "- kafka_burst_anchor (rows: bursts): the generator's product bursts through Kafka alone, after the run"
        " (a topic like ours, the realtime producer settings, a fetch probe with the consumers' settings), first"
        " send until the burst's last event arrived: ON's p99 is its slowest burst's last commit, held against it",
    ]
    anchor_p99 = float(v.get(("kafka_burst_anchor", "e2e_latency_p99"), "nan"))
    if not math.isnan(anchor_p99):  # no burst arrived whole: the anchor's row count says so
        lines.append(_anchor_line(p99, anchor_p99))
    return "\n".join(lines) + "\n"


def _anchor_line(on_p99: float, anchor_p99: float) -> str:
    """ON's p99 against Kafka alone on the same bursts, and what that leaves of the goal's budget."""
    budget = REALTIME_P99_GOAL_MS - anchor_p99
    verdict = (
        f"{fmt(budget, 'ms')} of the {REALTIME_P99_GOAL_MS} ms left for the consumers' decode and transaction"
        if budget > 0
        else f"above the {REALTIME_P99_GOAL_MS} ms goal before any consumer work"
    )
    ratio = f"{on_p99 / anchor_p99:.2f}x" if anchor_p99 > 0 else "n/a"
    return f"- [limit] Kafka alone on the same bursts: p99 {fmt(anchor_p99, 'ms')}, {verdict}; ON's p99 is {ratio} it"
