"""Kafka ON vs OFF, side by side (``make benchmark-kafka``): the same events, handled three ways.

Modes: ``off_single`` (one transaction per event), ``off_batched`` (in-memory buffer, COPY
upserts), ``on_kafka`` (EventProducer; consumer processes apply the events). Scenarios:
``steady`` (closed loop: the application's capacity), ``burst`` (a base rate, 10x for a while,
base again) and ``outage`` (the base rate while PostgreSQL is stopped in the middle; local
runtime only). Each scenario x mode runs in its own PostgreSQL schema (and, ON, its own topics
and groups, reconciled with ``verify``). Each scenario x mode also reports every process's CPU
per event (``proc_cpu``); after the scenarios each stage's ceiling is measured on the same
cluster (``stages``). Writes ``reports/benchmark_kafka_<ts>.csv`` and ``.png`` and prints a
Markdown summary. Read GUIDE/KAFKA_BENCHMARK_GUIDE.md for the figures.
"""

from __future__ import annotations

import os
import uuid
from contextlib import nullcontext
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import typer
from rich.console import Console

from apps.benchmarks import commit_times, scratch, stages
from apps.benchmarks.charts import kafka_chart
from apps.benchmarks.common import Measurement, bench_progress, local_runtime, machine_info, report_path, write_csv
from apps.benchmarks.flame import flame_graphs
from apps.benchmarks.handlers import BatchedWriter, Handler, KafkaPublisher, SingleRowWriter
from apps.benchmarks.load import Outage, Phase, drive, entity_stream, release_times
from apps.benchmarks.outcome import (
    acknowledged,
    burst_window,
    expected_versions,
    measurements,
    outage_window,
    read_rows,
    wait_caught_up,
)
from apps.benchmarks.proc_cpu import CpuLedger
from apps.benchmarks.sampler import ResourceSampler, supervised, supervises
from apps.benchmarks.summary import WARM_UP, kafka_summary
from apps.verify import verify
from common.entities import topic_of
from common.events import Event
from common.gc_tuning import tune_for_throughput
from common.settings import DatabaseSettings, GeneratorSettings, KafkaSettings, load

MODES = ("off_single", "off_batched", "on_kafka")
SCENARIOS = ("steady", "burst", "outage")
app = typer.Typer(add_completion=False, help=__doc__)


@dataclass(frozen=True)
class Sizes:
    """How much load; ``SHORT`` is the CI size (one to two minutes)."""

    events: int = 10_000  # steady, closed loop
    rate: float = 40  # base rate of burst and outage, events/s
    burst_factor: float = 10
    burst_s: float = 30
    calm_s: float = 10  # base rate before and after the burst
    outage_s: float = 20
    margin_s: float = 15  # base rate before and after the outage
    catalogue: int = 500  # users and products created first (orders refer to them)
    batch_size: int = 1_000  # off_batched
    instances: int = 3  # consumer processes per entity (ON): the production nine
    drain_timeout_s: float = 240
    ceiling_records: int = 300_000  # ProducerPerformance / ConsumerPerformance messages
    warm_up_events: int = 60_000  # steady ON once before the scenarios, not counted (``warm_up``)

    def schedules(self) -> dict[str, list[float] | None]:
        burst = [Phase(self.calm_s, self.rate), Phase(self.burst_s, self.rate * self.burst_factor)]
        return {
            "steady": None,
            "burst": release_times([*burst, Phase(self.calm_s, self.rate)]),
            "outage": release_times([Phase(2 * self.margin_s + self.outage_s, self.rate)]),
        }


SHORT = Sizes(
    events=2_000,
    rate=40,
    burst_s=4,
    calm_s=2,
    outage_s=5,
    margin_s=3,
    catalogue=200,
    instances=1,
    drain_timeout_s=120,
    ceiling_records=20_000,
    warm_up_events=0,
)


@dataclass
class Comparison:
    """One run's outputs."""

    csv: Path
    chart: Path
    measurements: list[Measurement]
    summary: str


def run_mode(
    kafka: KafkaSettings,
    url: str,
    runtime: object,
    sizes: Sizes,
    scenario: str,
    schema: str,
    mode: str,
    events: list[Event],
    times: list[float] | None,
    progress: object,
    flame: Path | None = None,
) -> tuple[list[Measurement], list[int]]:
    """One scenario x mode in ``schema`` (at ``url``); returns its rows and its per-second timeline.

    App-side figures count what the application got back: commits (single), buffered events
    (batched), acknowledgements (ON). End-to-end latency is, per event, the commit of the
    transaction that applied it minus ``produced_at`` (``apps.benchmarks.commit_times``).
    """
    fleet = None
    extra: list[Measurement] = []
    e2e, clock = [], "after_commit"
    with (
        scratch.scratch_topics(kafka, f"bench-{uuid.uuid4().hex[:8]}")
        if mode == "on_kafka"
        else nullcontext() as topics
    ):
        handler: Handler
        if topics is not None:
            commit_times.install(url, schema)
            fleet = scratch.ConsumerFleet(kafka, url, topics, sizes.instances)
            fleet.start()
            handler = KafkaPublisher(kafka, topics, warm_up=_one_per_topic(events))
        else:
            handler = SingleRowWriter(url) if mode == "off_single" else BatchedWriter(url, sizes.batch_size)
        components = {"app": lambda: [os.getpid()], "consumers": fleet.pids if fleet else list}
        components |= {"kafka": supervised(runtime, r"kafka-\d"), "postgres": supervised(runtime, "postgres")}
        outage = Outage(runtime, sizes.margin_s, sizes.outage_s) if scenario == "outage" else None
        profiled = {"app": os.getpid()}
        for i, process in enumerate(fleet.processes if fleet else []):
            profiled[f"consumer_{scratch.ENTITIES[i // sizes.instances]}_{i % sizes.instances + 1}"] = process.pid
        try:
            with (
                ResourceSampler(components) as sampler,
                CpuLedger(stages.components(runtime, fleet)) as ledger,
                flame_graphs(profiled, flame, Console()) if flame and fleet else nullcontext(),
            ):
                if outage:
                    outage.begin()
                run = drive(handler, events, times, progress)  # type: ignore[arg-type]
                if outage:
                    outage.join()
                handler.finish(sizes.drain_timeout_s)
                if fleet:
                    groups = {topics[e]: fleet.group_id(e) for e in scratch.ENTITIES}
                    caught_up = wait_caught_up(kafka, groups, sizes.drain_timeout_s)
            if fleet:
                report = verify(kafka, url, fleet.targets())
                e2e, clock = commit_times.e2e_latencies(kafka, url, schema, topics.values())
                extra += [
                    Measurement(scenario, mode, "caught_up", int(caught_up), "bool"),
                    Measurement(scenario, mode, "verify_ok", int(report.ok), "bool"),
                ]
        finally:
            if fleet:
                fleet.stop()
    queued = run.accepted / run.seconds if run.seconds else float("nan")
    run = acknowledged(run, handler)
    _, last_applied, mismatched = read_rows(url, expected_versions(events))
    e2e = e2e if topics is not None else handler.durable  # OFF: each event's own commit, timed after it
    rows = measurements(scenario, mode, len(events), run, handler, (e2e, last_applied, mismatched), sampler.usage)
    rows.append(Measurement(scenario, mode, "e2e_clock", clock))
    rows += ledger.per_event(scenario, mode, len(events))
    if topics is not None:
        rows.append(Measurement(scenario, mode, "app_queued_throughput", queued, "events/s"))
    if scenario == "burst":
        rows += burst_window(scenario, mode, run, sizes.calm_s, sizes.burst_s, sizes.rate * sizes.burst_factor)
    if outage is not None:
        rows += outage_window(scenario, mode, run, outage.window, getattr(handler, "peak_buffer", 0), sizes.rate)
    return rows + extra, run.per_second()


def warm_up(
    kafka: KafkaSettings, database_url: str, runtime: object, sizes: Sizes, events: list[Event], progress: object
) -> list[Measurement]:
    """Steady ON once on its own topics and schema before the scenarios; its rows are ``WARM_UP``, not the figures.

    Brokers started by the benchmark (or by ``make up`` just before) spend their first minutes
    compiling: the first ON run after a start cost them 2-3x the CPU per event of the same run
    once warm (GUIDE/KAFKA_BENCHMARK_GUIDE.md, "Cold brokers"), and a running service has long
    paid for that. The warm-up does all of ON's work (produce, replicate, consume, COPY, verify).
    """
    schema = f"bench_{uuid.uuid4().hex[:8]}_warm_up"
    with scratch.scratch_schema(database_url, schema) as url:
        rows, _ = run_mode(kafka, url, runtime, sizes, "steady", schema, "on_kafka", events, None, progress)
    return [replace(r, mode=WARM_UP) for r in rows]


def _one_per_topic(events: list[Event]) -> list[Event]:
    return list({topic_of(e): e for e in events}.values())


def run_comparison(
    kafka: KafkaSettings,
    database_url: str,
    runtime: object | None = None,
    sizes: Sizes = Sizes(),
    scenarios: tuple[str, ...] = SCENARIOS,
    generator: GeneratorSettings | None = None,
    out_dir: Path | None = None,
    console: Console | None = None,
    flame: bool = False,
    modes: tuple[str, ...] = MODES,
) -> Comparison:
    """Every scenario x mode, then each stage's ceiling; the outage scenario needs a local runtime.

    ``modes``: a subset for side-by-side runs of one mode (a lever's before and after).

    ``flame``: py-spy flame graphs of the application and the consumers in steady ON (``reports/``).

    The steady scenario hands events over unthrottled, as a bulk load does: its producer, its
    warm-up and Kafka's ``ProducerPerformance`` beside it send with the bulk profile
    (``bulk_linger_ms``, ``bulk_batch_size``), as the seeder and the unthrottled load mode do. With
    nine consumers the app profile's 150 ms / 256 KiB gave 3,716-4,285 acknowledged events/s, 500 ms
    / 256 KiB 5,026-8,566 and 1 s / 1 MB 7,301-7,569 (alternating, 2026-12-01): the brokers, the
    consumers and PostgreSQL all work per request, batch and transaction. The paced scenarios (burst,
    outage) send like an application, with the app profile.
    """
    console = console or Console()
    bulk = kafka.bulk()  # the steady scenario's profile, its warm-up's and the Kafka ceilings'
    if "outage" in scenarios and not supervises(runtime, "postgres"):  # external PostgreSQL: not ours to stop
        console.print("[yellow]outage scenario skipped: it stops the local runtime's own PostgreSQL[/]")
        scenarios = tuple(s for s in scenarios if s != "outage")
    schedules = {s: times for s, times in sizes.schedules().items() if s in scenarios}
    generator = generator or GeneratorSettings()
    longest = max([len(t) if t is not None else sizes.events for t in schedules.values()] + [sizes.warm_up_events])
    stream = entity_stream(generator.locale, generator.seed, sizes.catalogue, longest)
    csv_path = report_path("kafka", out_dir)
    left = scratch.leftover_partitions(kafka, console.print)
    machine = machine_info(kafka, database_url, {"benchmark": "kafka", "scratch_partitions_left": left} | asdict(sizes))
    rows: list[Measurement] = [stages.generator_cost(generator.locale, generator.seed, sizes.catalogue, sizes.events)]
    timelines: dict[tuple[str, str], list[int]] = {}
    total = sum((len(t) if t is not None else sizes.events) * len(modes) for t in schedules.values())
    warm = stream[: sizes.warm_up_events] if "on_kafka" in modes else []
    with bench_progress(console, total + len(warm)) as progress:
        if warm:
            progress.describe("warm-up (ON, not counted)")
            rows += warm_up(bulk, database_url, runtime, sizes, warm, progress.advance)
        for scenario, times in schedules.items():
            events = stream[: len(times) if times is not None else sizes.events]
            profile = kafka if times is not None else bulk  # paced scenarios send like an application
            for mode in modes:
                progress.describe(f"{scenario} / {mode}")
                schema = f"bench_{uuid.uuid4().hex[:8]}_{scenario}_{mode}"
                with scratch.scratch_schema(database_url, schema) as url:
                    flame_to = csv_path.with_name(csv_path.stem + "_flame") if flame and scenario == "steady" else None
                    out, timeline = run_mode(
                        profile, url, runtime, sizes, scenario, schema, mode, events, times, progress.advance, flame_to
                    )
                rows += out
                timelines[(scenario, mode)] = timeline
        progress.describe("ceilings")
        rows += stages.measure_ceilings(
            bulk, database_url, runtime, stream[: sizes.events], sizes.ceiling_records, console
        )
    write_csv(csv_path, "kafka", rows, machine)
    chart = kafka_chart([r for r in rows if r.mode in MODES], timelines, csv_path.with_suffix(".png"))
    summary = kafka_summary(rows, machine, sizes.ceiling_records, len(scratch.ENTITIES) * sizes.instances)
    console.print(summary, markup=False, highlight=False, soft_wrap=True)
    console.print(f"report: {csv_path}\nchart:  {chart}")
    return Comparison(csv_path, chart, rows, summary)


@app.command()
def main(
    short: bool = typer.Option(False, help="CI size: one to two minutes"),
    events: int | None = typer.Option(None, min=100, help="steady scenario: events (closed loop)"),
    rate: float | None = typer.Option(None, min=1, help="burst/outage base rate, events/s"),
    burst_seconds: float | None = typer.Option(None, min=1, help="length of the 10x burst"),
    outage_seconds: float | None = typer.Option(None, min=1, help="PostgreSQL stopped for this long"),
    instances: int | None = typer.Option(None, min=1, max=3, help="consumer processes per entity (ON)"),
    scenario: list[str] = typer.Option(list(SCENARIOS), help="steady | burst | outage (repeatable)"),
    mode: list[str] = typer.Option(list(MODES), help="off_single | off_batched | on_kafka (repeatable)"),
    ceiling_records: int | None = typer.Option(None, min=1_000, help="ProducerPerformance/ConsumerPerformance"),
    warm_up_events: int | None = typer.Option(None, min=0, help="steady ON first, not counted (0: none)"),
    flame: bool = typer.Option(False, help="py-spy flame graphs (SVG) of the app and consumers, steady ON"),
) -> None:
    """Run the comparison against the runtime's Kafka and PostgreSQL (``make up`` first)."""
    if unknown := set(scenario) - set(SCENARIOS):
        raise typer.BadParameter(f"unknown scenario(s) {', '.join(sorted(unknown))}; choose from {SCENARIOS}")
    if unknown := set(mode) - set(MODES):
        raise typer.BadParameter(f"unknown mode(s) {', '.join(sorted(unknown))}; choose from {MODES}")
    base = SHORT if short else Sizes()
    overrides = {
        "events": events,
        "rate": rate,
        "burst_s": burst_seconds,
        "outage_s": outage_seconds,
        "instances": instances,
        "ceiling_records": ceiling_records,
        "warm_up_events": warm_up_events,
    }
    sizes = replace(base, **{k: v for k, v in overrides.items() if v is not None})
    tune_for_throughput()  # the application side runs with the settings of the project's own apps
    kafka, database = load(KafkaSettings), load(DatabaseSettings)
    runtime = local_runtime(database)  # type: ignore[arg-type]
    url = runtime.database_url if runtime is not None else database.url  # type: ignore[attr-defined]
    generator = load(GeneratorSettings)
    modes = tuple(m for m in MODES if m in mode)
    run_comparison(kafka, url, runtime, sizes, tuple(scenario), generator, flame=flame, modes=modes)  # type: ignore[arg-type]


if __name__ == "__main__":
    app()
