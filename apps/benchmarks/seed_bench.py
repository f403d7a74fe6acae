"""The seeder's rate against its own anchors, in one run: ``python -m apps.benchmarks.seed_bench``.

Seeding is building 30,000 events, serializing them and publishing them acknowledged. Which of
those is the wall shows only side by side, on the same machine and cluster, minutes apart:

- ``generator``: building the catalogue's events, one process, nothing sent;
- ``serialize``: building plus stamping and serializing them (the producer wrapper's share);
- ``bare_client``: confluent-kafka alone on those pre-serialized bytes, keyed, the seed's
  producer settings, every delivery report counted (a fresh producer, scratch topics);
- ``producer_perf``: Kafka's own ``ProducerPerformance`` on the same payloads (the seed's linger
  and batch size), 300,000 messages so its own JVM's warm-up does not set the figure;
- ``seed``: ``python -m apps.pipeline.seed`` itself, ``--rounds`` times after ``--warm-up`` seeds
  (production topics: a re-seed publishes the same entities, which consumers apply as no-ops).

Needs Kafka up (``make up``); run it under the cluster lock on a shared machine.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime

import typer

from apps.benchmarks import ceilings, scratch
from apps.pipeline.parallel_seed import PARTS, bulk, part_events
from common.gc_tuning import tune_for_throughput
from common.settings import GeneratorSettings, KafkaSettings, RuntimeSettings, load
from kafka import clients
from kafka.producer.serializers import headers_of, key_of, serialize, stamp

app = typer.Typer(add_completion=False, help=__doc__)
Payload = tuple[str, bytes, bytes, list]


def _rate(label: str, events: int, wall_s: float, cpu_s: float | None = None) -> None:
    cpu = f" cpu_us_per_event={cpu_s / events * 1e6:.1f}" if cpu_s is not None else ""
    print(f"{label:<14} events={events} seconds={wall_s:.3f} events_per_s={events / wall_s:,.0f}{cpu}", flush=True)


def generated(settings: GeneratorSettings) -> list[Payload]:
    """Build (and time) the catalogue, then stamp and serialize it (timed again)."""
    wall, cpu = time.perf_counter(), time.process_time()
    events = [(part, e) for part in PARTS for e in part_events(settings, part)]
    _rate("generator", len(events), time.perf_counter() - wall, time.process_time() - cpu)
    wall, cpu, now = time.perf_counter(), time.process_time(), datetime.now(UTC)
    out = []
    for part, event in events:
        stamped = stamp(event, now)
        out.append((part, serialize(stamped), key_of(stamped), headers_of(stamped)))
    _rate("serialize", len(out), time.perf_counter() - wall, time.process_time() - cpu)
    return out


def bare_client(kafka: KafkaSettings, payloads: list[Payload], topics: dict[str, str]) -> None:
    """confluent-kafka alone on pre-serialized keyed events, the seed's settings, reports counted."""
    producer = clients.producer(kafka, "seed-anchor", bulk(kafka))
    acked = [0, 0]

    def report(error: object, _message: object) -> None:
        acked[error is not None] += 1

    for part, value, key, headers in payloads[:300]:  # fresh topics: leaders and metadata settle first
        producer.produce(topics[part], value, key, headers=headers, on_delivery=report)
    producer.flush(60)
    acked = [0, 0]
    wall, cpu = time.perf_counter(), time.process_time()
    for part, value, key, headers in payloads:
        while True:
            try:
                producer.produce(topics[part], value, key, headers=headers, on_delivery=report)
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    left = producer.flush(60)
    _rate("bare_client", acked[0], time.perf_counter() - wall, time.process_time() - cpu)
    if acked[1] or left:
        raise SystemExit(f"bare client: {acked[1]} failed, {left} undelivered")


def seed_rounds(rounds: int, label: str = "seed") -> None:
    """The seeder itself, as ``make seed`` runs it."""
    for _ in range(rounds):
        done = subprocess.run([sys.executable, "-m", "apps.pipeline.seed"], capture_output=True, text=True, check=False)
        found = re.search(r"seconds=([\d.]+) events_per_s=([\d,]+)", done.stdout)
        if done.returncode != 0 or found is None:
            raise SystemExit(f"seed failed (exit {done.returncode}): {(done.stdout + done.stderr)[-400:]}")
        print(f"{label:<14} seconds={found[1]} events_per_s={found[2]}", flush=True)


@app.command()
def main(
    rounds: int = typer.Option(3, min=0, help="seeds to time, after the anchors"),
    # 4: the seeds still got faster through the fifth after `make up` (14,038, 20,596, then after the
    # anchors 17,988, 23,101, 26,422 events/s on 2026-12-01), the brokers' JIT still compiling
    warm_up: int = typer.Option(4, min=0, help="seeds first, to warm the brokers' JIT (printed, not figures)"),
    perf_records: int = typer.Option(300_000, min=0, help="ProducerPerformance messages (0: skip)"),
) -> None:
    """Print each anchor's events/s (and CPU us per event where it is one process)."""
    kafka, settings = load(KafkaSettings), load(GeneratorSettings)
    assert isinstance(kafka, KafkaSettings) and isinstance(settings, GeneratorSettings)
    tune_for_throughput()  # as the seeder does
    seed_rounds(warm_up, "warm-up seed")
    payloads = generated(settings)
    with scratch.scratch_topics(kafka, f"seedbench-{uuid.uuid4().hex[:6]}") as topics:
        bare_client(kafka, payloads, topics)
    classpath = ceilings.tools_classpath(load(RuntimeSettings))  # type: ignore[arg-type]
    if perf_records and classpath:
        rows = ceilings.kafka_ceilings(kafka.bulk(), classpath, [p[1] for p in payloads], perf_records, {})
        print(f"{'producer_perf':<14} events={perf_records} events_per_s={rows[0].value:,.0f}", flush=True)
    seed_rounds(rounds)


if __name__ == "__main__":
    app()
