"""Producer benchmark (a report, not a test): ``python -m apps.benchmarks.producer_bench``.

Sends the same pre-built events twice per round, once with bare confluent-kafka doing the
minimum any caller must do (stamp, JSON, key, headers, poll, retry on a full queue) and once
through ``EventProducer``, with the same librdkafka settings, to fresh temporary topics. Reports
events/s, MB/s and p50/p99 delivery latency (send -> acknowledged by all in-sync replicas), and
the generators' own rate in CPU time. Writes ``reports/producer_bench_<ts>.csv``.
"""

from __future__ import annotations

import csv
import gc
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import typer
from confluent_kafka.admin import NewTopic
from rich.console import Console
from rich.table import Table

from apps.benchmarks.scratch import drop_topics
from collect.clock import VersionClock
from collect.pools import build_pools
from collect.stream import RealtimeStream
from common.entities import ENTITIES, topic_of
from common.events import Event
from common.gc_tuning import tune_for_throughput
from common.settings import PROJECT_ROOT, GeneratorSettings, KafkaSettings, load
from kafka import clients
from kafka.producer.producer import EventProducer
from kafka.producer.serializers import headers_of, key_of

app = typer.Typer(add_completion=False, help=__doc__)


def generator_rates(settings: GeneratorSettings, events: int) -> dict[str, float]:
    """Events per CPU-second: the seeder's mix (1 user : 2 products) and the load mix.

    With the garbage-collector settings the seeder and the realtime generator run with.
    """
    tune_for_throughput()
    pools = build_pools(settings.locale, settings.seed)
    stream = RealtimeStream(pools, settings.seed, VersionClock(), live_seed=1)
    third = events // 3
    started = time.process_time()
    for _ in stream.users.catalogue(third):
        pass
    for _ in stream.products.catalogue(2 * third):
        pass
    seeder = 3 * third / (time.process_time() - started)
    stream = RealtimeStream(pools, settings.seed, VersionClock(), live_seed=1)
    stream.load_catalogue(settings.seed_users, settings.seed_products)
    started = time.process_time()
    for _ in stream.events(events):
        pass
    return {"seeder mix": seeder, "load mix": events / (time.process_time() - started)}


def _raw_run(kafka: KafkaSettings, topics: dict[str, str], events: list[Event]) -> tuple[float, float, list[float]]:
    producer, latencies = clients.producer(kafka, "bench-raw"), []

    # The same delivery callback work as the wrapper's listener below, so only the clients differ.
    def delivered(produced_at: datetime, error: object, _message: object) -> None:
        latencies.append((datetime.now(UTC) - produced_at).total_seconds())

    started, cpu = time.perf_counter(), time.thread_time()
    for event in events:
        produced_at = datetime.now(UTC)
        value = event.model_copy(update={"produced_at": produced_at}).model_dump_json().encode()
        while True:
            try:
                producer.produce(
                    topics[topic_of(event)],
                    value,
                    key_of(event),
                    headers=headers_of(event),
                    on_delivery=partial(delivered, produced_at),
                )
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    cpu = time.thread_time() - cpu
    producer.flush(120)
    return time.perf_counter() - started, cpu, latencies


def _wrapper_run(kafka: KafkaSettings, topics: dict[str, str], events: list[Event]) -> tuple[float, float, list[float]]:
    latencies: list[float] = []

    def delivered(event: Event, _error: object) -> None:
        latencies.append((datetime.now(UTC) - event.produced_at).total_seconds())  # type: ignore[operator]

    with EventProducer(kafka, topics=topics, on_delivery=delivered, client_id="bench-wrapper") as producer:
        started, cpu = time.perf_counter(), time.thread_time()
        for event in events:
            producer.send(event)
        cpu = time.thread_time() - cpu
        producer.flush(120)
        return time.perf_counter() - started, cpu, latencies


def _row(name: str, run: Callable[[], tuple[float, float, list[float]]], count: int, size: int) -> dict[str, object]:
    seconds, cpu, latencies = run()
    cuts = statistics.quantiles(latencies, n=100)
    return {
        "client": name,
        "events": count,
        "events_per_s": round(count / seconds),
        "mb_per_s": round(size / seconds / 1e6, 2),
        "p50_ms": round(cuts[49] * 1000, 2),
        "p99_ms": round(cuts[98] * 1000, 2),
        "send_cpu_us": round(cpu / count * 1e6, 2),  # sending thread only: the client's own cost
    }


@app.command()
def main(events: int = typer.Option(100_000, min=1_000), rounds: int = typer.Option(5, min=1)) -> None:
    """Run the rounds, print a table and write the CSV report."""
    kafka, settings = load(KafkaSettings), load(GeneratorSettings)
    assert isinstance(kafka, KafkaSettings) and isinstance(settings, GeneratorSettings)
    console = Console(width=max(Console().width, 110))
    rates = generator_rates(settings, events)
    stream = RealtimeStream(build_pools(settings.locale, settings.seed), settings.seed, VersionClock(), live_seed=2)
    stream.load_catalogue(settings.seed_users, settings.seed_products)
    prebuilt = list(stream.events(events))
    gc.collect()
    gc.freeze()  # the pre-built events live all run long; keep them out of both clients' GC passes
    size = sum(len(e.model_dump_json()) + 25 for e in prebuilt)  # + produced_at, stamped at send
    admin = clients.admin(kafka, "bench-admin")
    rows = []
    for round_no in range(rounds):
        for name, runner in (("confluent-kafka", _raw_run), ("EventProducer", _wrapper_run)):
            topics = {e.topic: f"bench-{e.topic}-{time.time_ns()}" for e in ENTITIES}
            new = [NewTopic(n, 3, 3, config={"min.insync.replicas": "2"}) for n in topics.values()]
            for future in admin.create_topics(new).values():
                future.result(timeout=30)
            while not set(topics.values()) <= set(admin.list_topics(timeout=10).topics):
                time.sleep(0.2)  # metadata lags a fresh topic; neither client should pay for it
            try:
                rows.append(
                    {"round": round_no + 1} | _row(name, partial(runner, kafka, topics, prebuilt), events, size)
                )
            finally:
                drop_topics(admin, list(topics.values()))
    table = Table(title=f"producer benchmark: {events:,} events of the load mix, acks=all, {kafka.compression_type}")
    for column in rows[0]:
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(*(f"{v:,}" if isinstance(v, int) else str(v) for v in row.values()))
    console.print(table)
    best = {n: max(r["events_per_s"] for r in rows if r["client"] == n) for n in ("confluent-kafka", "EventProducer")}
    cpu = {n: min(r["send_cpu_us"] for r in rows if r["client"] == n) for n in best}
    # Rounds run back to back (raw, wrapper, raw, ...): each ratio compares neighbours under similar load.
    paired = [w["events_per_s"] / r["events_per_s"] for r, w in zip(rows[::2], rows[1::2], strict=True)]
    console.print(
        f"wrapper / raw: {best['EventProducer'] / best['confluent-kafka']:.1%} of the events/s (best rounds),"
        f" {statistics.median(paired):.1%} (median of the {len(paired)} per-round ratios)"
    )
    console.print(f"  send CPU per event (best): raw {cpu['confluent-kafka']} us, wrapper {cpu['EventProducer']} us")
    for mix, rate in rates.items():
        console.print(f"generator, {mix}: {rate:,.0f} events per CPU-second")
    path = PROJECT_ROOT / "reports" / f"producer_bench_{datetime.now(UTC):%Y%m%dT%H%M%SZ}.csv"
    _write_csv(path, rows, rates)
    console.print(f"report: {path}")


def _write_csv(path: Path, rows: list[dict[str, object]], rates: dict[str, float]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*rows[0], "note"])
        writer.writeheader()
        writer.writerows(rows)
        for mix, rate in rates.items():
            writer.writerow({"client": f"generator ({mix})", "events_per_s": round(rate), "note": "CPU time"})


if __name__ == "__main__":
    app()
