"""The seed's realtime rates, Kafka ON vs OFF (``make benchmark-realtime``): latency and lag over time.

Both modes run at once, for ``--duration`` seconds, driven by the realtime generator's own
schedule (``run_default``: a few orders every 2-8 s, 100 product updates every 10-20 s, sign-ups,
lifecycle steps every 2 s), each with its own catalogue:

- ``on_kafka``: an ``EventProducer`` on scratch topics, ``--instances`` consumer processes per
  entity into a scratch schema (3: the nine consumers); ``--live`` measures the runtime's own
  services instead (``make start-all``: production topics, groups and tables).
- ``off_direct``: the same schedule written straight to PostgreSQL, one transaction per event.

Reports the end-to-end latency distribution (the applying transaction's commit time minus
``produced_at``), Kafka's share of it (``on_kafka_fetched``: produced_at until a consumer with the
pipeline's fetch settings had the event, ``fetch_probe.py``), Kafka alone on the same product
bursts afterwards (``kafka_burst_anchor``: the p99's anchor, ``ceilings.burst_latencies``),
consumer lag sampled every ``--lag-every`` seconds, CPU and memory; writes
``reports/benchmark_realtime_<ts>.csv`` (and ``_lag.csv``) and ``.png``.
"""

from __future__ import annotations

import csv
import os
import random
import threading
import time
import uuid
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.console import Console

from apps.benchmarks import commit_times, scratch
from apps.benchmarks.ceilings import burst_latencies
from apps.benchmarks.charts import realtime_chart
from apps.benchmarks.common import Measurement, bench_progress, local_runtime, machine_info, report_path, write_csv
from apps.benchmarks.fetch_probe import FetchProbe
from apps.benchmarks.handlers import BatchedWriter, KafkaPublisher, SingleRowWriter
from apps.benchmarks.outcome import wait_caught_up
from apps.benchmarks.realtime_probes import (
    DirectSender,
    LagSeries,
    realtime_rows,
    realtime_summary,
    rows_since,
    sample_lag,
    seeded_stream,
)
from apps.benchmarks.realtime_stages import row_stages, stage_rows, stages_summary, write_events
from apps.benchmarks.sampler import ResourceSampler, supervised
from apps.pipeline.produce import PRODUCT_BURST, run_default
from apps.verify import Target, verify
from collect.pools import Pools, build_pools
from common.entities import ENTITIES
from common.settings import DatabaseSettings, GeneratorSettings, KafkaSettings, load
from kafka.consumers import CONSUMERS

app = typer.Typer(add_completion=False, help=__doc__)


@dataclass
class Setup:
    """One run: where each side writes, what ON reconciles, and (own pipeline) its consumers."""

    off_url: str
    on_url: str
    targets: list[Target]
    topics: dict[str, str]
    fleet: scratch.ConsumerFleet | None
    runtime: object | None
    schema: str | None = None  # own pipeline: ON's scratch schema, whose commits time every event

    @property
    def groups(self) -> dict[str, str]:
        return {t.topic: t.group_id for t in self.targets}


def run_realtime(
    kafka: KafkaSettings,
    database_url: str,
    runtime: object | None = None,
    duration_s: float = 300,
    instances: int = 3,
    catalogue: int = 300,
    live: bool = False,
    lag_every_s: float = 2.0,
    generator: GeneratorSettings | None = None,
    out_dir: Path | None = None,
    console: Console | None = None,
    anchor_bursts: int = 30,
) -> tuple[Path, Path, list[Measurement]]:
    """Run both modes at once; returns the CSV, the chart and the measurements."""
    console, generator = console or Console(), generator or GeneratorSettings()
    options = {"benchmark": "realtime", "duration_s": duration_s, "instances": instances, "live": live}
    machine = machine_info(kafka, database_url, options)
    tag = f"rt_{uuid.uuid4().hex[:8]}"
    with (
        scratch.scratch_schema(database_url, f"{tag}_off") as off_url,
        nullcontext(database_url) if live else scratch.scratch_schema(database_url, f"{tag}_on") as on_url,
        nullcontext({}) if live else scratch.scratch_topics(kafka, tag.replace("_", "-")) as topics,
    ):
        fleet = None if live else scratch.ConsumerFleet(kafka, on_url, topics, instances)
        targets = fleet.targets() if fleet else [Target.production(s) for s in CONSUMERS.values()]
        setup = Setup(off_url, on_url, targets, topics, fleet, runtime, None if live else f"{tag}_on")
        if setup.schema is not None:
            commit_times.install(on_url, setup.schema)
        try:
            latencies, lag, facts, usage, stages, arrivals = _measure(
                kafka,
                setup,
                build_pools(generator.locale, generator.seed),
                generator.seed,
                catalogue,
                duration_s,
                lag_every_s,
                console,
                anchor_bursts,
            )
        finally:
            if fleet:
                fleet.stop()
    rows = realtime_rows(latencies, lag, usage, facts) + stage_rows(stages)
    csv_path = write_csv(report_path("realtime", out_dir), "realtime", rows, machine)
    with csv_path.with_name(csv_path.stem + "_lag.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["seconds", "group", "lag"])
        writer.writerows((round(t, 2), group, n) for group, points in lag.items() for t, n in points)
    write_events(csv_path.with_name(csv_path.stem + "_events.csv"), stages, arrivals)
    chart = realtime_chart(latencies, lag, csv_path.with_suffix(".png"))
    summary = realtime_summary(rows, machine) + stages_summary(rows)
    console.print(summary, markup=False, highlight=False, soft_wrap=True)
    console.print(f"report: {csv_path}\nchart:  {chart}")
    return csv_path, chart, rows


def _measure(
    kafka: KafkaSettings,
    setup: Setup,
    pools: Pools,
    seed: int,
    catalogue: int,
    duration_s: float,
    lag_every_s: float,
    console: Console,
    anchor_bursts: int,
) -> tuple[dict, LagSeries, dict, dict, list, list]:
    """Seed both sides, run both schedules for ``duration_s``, drain, verify, read the rows."""
    off_stream, off_seed = seeded_stream(pools, seed, catalogue)
    seeding = BatchedWriter(setup.off_url)
    for event in off_seed:
        seeding.handle(event)
    seeding.finish(60)
    direct, stop, lag = SingleRowWriter(setup.off_url), threading.Event(), {}
    schedules = [(off_stream, DirectSender(direct, off_stream))]
    publisher = None
    if setup.fleet is not None:  # own pipeline: consumers up, catalogue published and applied first
        setup.fleet.start()
        on_stream, on_seed = seeded_stream(pools, seed, catalogue)
        # the realtime generator's shop mode sends with its own short linger (apps/pipeline/produce.py)
        shop = {"linger.ms": kafka.realtime_linger_ms}
        warm_up, acked = [on_seed[0], on_seed[-1]], on_stream.catalogue.acknowledge
        publisher = KafkaPublisher(kafka, setup.topics, warm_up, acked, shop)
        for event in on_seed:
            publisher.handle(event)
        publisher.producer.flush(60)
        wait_caught_up(kafka, setup.groups, 120)
        schedules.append((on_stream, publisher.producer))
    # live: a backlog (a fresh seed) is not realtime latency; the running generator keeps a few in flight
    elif not wait_caught_up(kafka, setup.groups, 300, at_most=50):
        console.print("[yellow]the running consumers did not catch up within 300 s; measuring anyway[/]")
    threads = [
        threading.Thread(target=run_default, args=(s, p, stop, random.Random(seed)), daemon=True) for s, p in schedules
    ]
    threads.append(
        threading.Thread(target=sample_lag, args=(kafka, setup.targets, lag_every_s, stop, lag), daemon=True)
    )
    consumers = setup.fleet.pids if setup.fleet else supervised(setup.runtime, r".+-consumer-\d")
    components = {
        "app": lambda: [os.getpid()],
        "consumers": consumers,
        "kafka": supervised(setup.runtime, r"kafka-\d"),
        "postgres": supervised(setup.runtime, "postgres"),
        "producer": supervised(setup.runtime, "producer"),  # --live: the generator service
        "console": supervised(setup.runtime, "kafka-ui"),
    }
    probed = list(setup.topics.values()) or [e.topic for e in ENTITIES]
    with (
        # sparse sampling: at realtime rates the samplers' own CPU would land in the latency it measures
        ResourceSampler(components, interval_s=1.0, relist_s=15.0) as sampler,
        FetchProbe(kafka, probed) as probe,
        bench_progress(console, int(duration_s)) as progress,
    ):
        # The window: events produced once the probe runs, until the schedules stop. With --live the
        # generator goes on publishing; its events while the probe started (a new interpreter) or
        # while the anchor ran (its own bursts) would measure the benchmark's load, not the pipeline's.
        since = datetime.now(UTC)
        progress.describe("realtime: ON and OFF")
        for thread in threads:
            thread.start()
        for _ in range(int(duration_s)):
            time.sleep(1)
            progress.advance(1)
        until = datetime.now(UTC)
        stop.set()
        for thread in threads:
            thread.join(60)
        if publisher is not None:
            publisher.finish(60)
        caught_up = wait_caught_up(kafka, setup.groups, 120)
    direct.finish(10)
    # Kafka alone on the same bursts, every service still running: what the p99 is held against
    console.print(f"realtime: Kafka alone on {anchor_bursts} bursts of {PRODUCT_BURST} product events")
    anchor = burst_latencies(kafka, (off_stream.product_updates(PRODUCT_BURST) for _ in range(anchor_bursts)))
    facts = {("on_kafka", "caught_up"): int(caught_up), ("off_direct", "errors"): direct.errors}
    if setup.fleet is not None:  # live: the generator service keeps publishing, verify would race it
        facts[("on_kafka", "verify_ok")] = int(verify(kafka, setup.on_url, setup.targets).ok)
    # Every event: its commit, timed after it (OFF: the writer's own clock; ON: the commit log).
    # --live reads the production tables: each row's own commit time, for the latest version of each row.
    on = rows_since(setup.on_url, since, until)
    if setup.schema is not None:
        on, _ = commit_times.e2e_latencies(kafka, setup.on_url, setup.schema, setup.topics.values(), since, until)
    cutoff = until.timestamp()
    arrivals = [(*where, produced, at) for *where, produced, at in probe.arrivals if produced < cutoff]
    latencies = {
        "off_direct": direct.durable,
        "on_kafka": on,
        "on_kafka_fetched": [at - produced for *_, produced, at in arrivals],
        "kafka_burst_anchor": anchor,
    }
    return latencies, lag, facts, sampler.usage, row_stages(setup.on_url, since, until), arrivals


@app.command()
def main(
    duration: float = typer.Option(300, min=5, help="seconds at the realtime rates"),
    short: bool = typer.Option(False, help="CI size: 20 s, one consumer per entity, 5 anchor bursts"),
    instances: int = typer.Option(3, min=1, max=3, help="consumer processes per entity (ON)"),
    live: bool = typer.Option(False, help="measure the runtime's running services (make start-all) as ON"),
    lag_every: float = typer.Option(2.0, min=0.5, help="seconds between lag samples"),
) -> None:
    """Run against the runtime's services; ``--live`` needs ``make start-all`` first."""
    kafka, database, generator = load(KafkaSettings), load(DatabaseSettings), load(GeneratorSettings)
    runtime = local_runtime(database)  # type: ignore[arg-type]
    url = runtime.database_url if runtime is not None else database.url  # type: ignore[attr-defined]
    duration, instances, bursts = (20, 1, 5) if short else (duration, instances, 30)
    run_realtime(kafka, url, runtime, duration, instances, live=live, lag_every_s=lag_every, generator=generator,  # type: ignore[arg-type]
                 anchor_bursts=bursts)  # fmt: skip


if __name__ == "__main__":
    app()
