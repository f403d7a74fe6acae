"""Where the time goes, per stage and process, and each stage's ceiling, for ``make benchmark-kafka``.

- ``components``: what the CPU ledger reads in a scenario x mode: the application process
  (in ON the producer: the wrapper, serialization and librdkafka's threads), each broker, each
  consumer group's processes, PostgreSQL (server and backends);
- ``generator_cost``: the Faker generators' CPU per event (the load is generated before the clock
  starts, so the application figures do not include it);
- ``measure_ceilings``: ProducerPerformance, ConsumerPerformance and raw binary COPY, in the run;
- ``stage_lines``: the Markdown per-stage table and the ceilings with the pipeline's ratios to them.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Sequence

from rich.console import Console

from apps.benchmarks import ceilings, scratch
from apps.benchmarks.charts import lookup
from apps.benchmarks.common import Measurement, fmt
from apps.benchmarks.load import entity_stream
from apps.benchmarks.proc_cpu import PidSource
from apps.benchmarks.sampler import supervised
from common.events import Event
from common.settings import KafkaSettings, RuntimeSettings, load

BROKERS = ("kafka-1", "kafka-2", "kafka-3")
MODES = ("off_single", "off_batched", "on_kafka")
WARM_UP = "on_kafka_warm_up"  # steady ON once before the scenarios (cold brokers): reported apart, not a figure


def components(runtime: object, fleet: scratch.ConsumerFleet | None) -> dict[str, PidSource]:
    """Ledger components: app, each broker, each entity's consumers, postgres."""
    found: dict[str, PidSource] = {"app": lambda: [os.getpid()]}
    found |= {name: supervised(runtime, name) for name in BROKERS}
    if fleet is not None:
        for i, entity in enumerate(scratch.ENTITIES):
            found[f"consumer-{entity}"] = _members(fleet, i)
    return found | {"postgres": supervised(runtime, "postgres")}


def _members(fleet: scratch.ConsumerFleet, index: int) -> PidSource:
    per = fleet.instances
    return lambda: [p.pid for p in fleet.processes[index * per : (index + 1) * per] if p.poll() is None]


def generator_cost(locale: str, seed: int, catalogue: int, count: int) -> Measurement:
    """CPU microseconds per event of building the benchmark's stream with the project's generators."""
    started = time.process_time()
    entity_stream(locale, seed, catalogue, count)
    spent = time.process_time() - started
    return Measurement("steady", "generator", "cpu_us_per_event_generator", spent / count * 1e6, "us/event")


def measure_ceilings(
    kafka: KafkaSettings, url: str, runtime: object, events: Sequence[Event], records: int, console: Console
) -> list[Measurement]:
    """Each stage's own ceiling now, on this cluster and database; a ceiling that cannot run is one line."""
    rows: list[Measurement] = []
    schema = f"bench_{uuid.uuid4().hex[:8]}_ceiling"
    try:
        with scratch.scratch_schema(url, schema) as scoped:
            rows += ceilings.raw_binary_copy(scoped, events, supervised(runtime, "postgres"))
    except Exception as exc:
        console.print(f"[yellow]raw COPY ceiling skipped: {exc}[/]")
    classpath = ceilings.tools_classpath(load(RuntimeSettings))  # type: ignore[arg-type]
    if classpath is None:
        console.print("[yellow]Kafka ceilings skipped: no kafka-tools jar provisioned (make up provisions it)[/]")
        return rows
    payloads = [e.stamped().model_dump_json().encode() for e in events]
    brokers: dict[str, Callable] = {name: supervised(runtime, name) for name in BROKERS}
    try:
        rows += ceilings.kafka_ceilings(kafka, classpath, payloads, records, brokers)
    except Exception as exc:
        console.print(f"[yellow]Kafka ceilings skipped: {_first_line(exc)}[/]")
    try:
        rows += ceilings.floor_costs(kafka, events)
    except Exception as exc:
        console.print(f"[yellow]floor skipped: {_first_line(exc)}[/]")
    return rows


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else repr(exc)


# The floor's steps (``ceilings.floor_costs``), in the order the data takes them: (metric, label).
FLOOR = (
    ("serialize_us", "serialize"),
    ("produce_client_us", "bare producer"),
    ("producer_perf_broker_cpu_us", "brokers, produce and replicate"),
    ("consumer_perf_broker_cpu_us", "brokers, fetch"),
    ("consume_client_us", "bare consumer"),
    ("decode_us", "decode"),
    ("copy_client_us", "COPY client"),
    ("copy_postgres_us", "COPY in PostgreSQL"),
)


def floor_line(v: dict, perf: float, cores: int) -> str:
    """Markdown: the floor's steps, their sum, and the end-to-end rate the cores allow at that cost."""
    found = {label: v.get(("steady", mode, metric)) for metric, label in FLOOR
             for mode in ("ceiling_floor", "ceiling_kafka_tools") if ("steady", mode, metric) in v}  # fmt: skip
    costs = {label: cost for label, cost in found.items() if cost == cost}  # NaN: a process not ours to read
    if len(costs) < len(FLOOR):
        missing = ", ".join(label for _, label in FLOOR if label not in costs)
        return f"- [info] floor: not measured ({missing}: every step is needed)"
    total = sum(costs.values())
    most = cores * 1e6 / total
    steps = " + ".join(f"{label} {fmt(cost)}" for label, cost in costs.items())
    return (
        f"- [limit] floor, the bare steps any Python pipeline of these events takes, CPU us per event: {steps}"
        f" = {fmt(total)} us; {cores} cores allow at most {fmt(most)} events/s at that cost"
        f" = {fmt(most / perf if perf else float('nan'))}x ProducerPerformance"
    )


# ProducerPerformance's record count in ../shared/ANCHORS.md: fewer records read low (the tool's own
# JVM and the brokers' batches are still ramping up: 25,880-43,783 msg/s at 50,000 records, 63,966 at
# 300,000 on the same machine), which makes every ratio to the ceiling read high.
ANCHOR_RECORDS = 300_000
# The end-to-end goal is for the production layout: three consumer processes per entity.
GOAL_CONSUMERS = 3 * len(scratch.ENTITIES)


def stage_lines(
    rows: Sequence[Measurement],
    ceiling_records: int = ANCHOR_RECORDS,
    consumers: int = GOAL_CONSUMERS,
    cores: int = os.cpu_count() or 1,
) -> list[str]:
    """Markdown: CPU us per event per process (steady, per mode) and the ceilings with ratios.

    ``consumers``: how many consumer processes ON ran; the goal is called only for the production nine.
    """
    v = lookup(rows)
    nan = float("nan")
    modes = [m for m in (*MODES, WARM_UP) if ("steady", m, "cpu_us_per_event_total") in v]
    names = list(dict.fromkeys(r.metric for r in rows if r.scenario == "steady" and r.metric.startswith("cpu_us_")))
    lines = ["Where the time goes (steady, CPU us per event from /proc, every thread):", ""]
    lines += ["| process | " + " | ".join(modes) + " |", "|---|" + "---:|" * len(modes)]
    for name in names:
        cells = [fmt(v.get(("steady", m, name), v.get(("steady", "generator", name), nan))) for m in modes]
        lines.append(f"| {name.removeprefix('cpu_us_per_event_')} | " + " | ".join(cells) + " |")
    tools = {k[2]: value for k, value in v.items() if k[:2] == ("steady", "ceiling_kafka_tools")}
    perf = tools.get("producer_perf_throughput", nan)
    copy = v.get(("steady", "ceiling_postgres", "raw_binary_copy_throughput"), nan)
    on_e2e, on_app = (
        v.get(("steady", "on_kafka", "e2e_throughput"), nan),
        v.get(("steady", "on_kafka", "app_throughput"), nan),
    )
    batched = v.get(("steady", "off_batched", "e2e_throughput"), nan)
    verdict = "PASS" if on_e2e >= 0.4 * perf else "MISS" if perf == perf else "n/a "
    # a short ceiling, or fewer consumers than production runs, decides nothing
    verdict = "info" if ceiling_records < ANCHOR_RECORDS or consumers != GOAL_CONSUMERS else verdict
    lines += [
        "",
        "Ceilings, measured in this run:",
        f"- Kafka ProducerPerformance: {fmt(perf)} msg/s,"
        f" brokers {fmt(tools.get('producer_perf_broker_cpu_us', nan))} us CPU per message",
        f"- Kafka ConsumerPerformance: {fmt(tools.get('consumer_perf_throughput', nan))} msg/s",
        f"- PostgreSQL raw binary COPY: {fmt(copy)} rows/s",
        *(
            [
                f"- [warn] the Kafka ceilings ran {ceiling_records:,} records, fewer than the anchor's"
                f" {ANCHOR_RECORDS:,}: they read low, so the ratios to them read high (not a goal figure)"
            ]
            if ceiling_records < ANCHOR_RECORDS
            else []
        ),
        *(
            [f"- [warn] ON ran {consumers} consumers, not production's {GOAL_CONSUMERS} (`--instances 3`): no goal"]
            if consumers != GOAL_CONSUMERS
            else []
        ),
        f"- [{verdict}] sustained e2e ON ({consumers} consumers) >= 0.4x"
        f" ProducerPerformance: {fmt(on_e2e)} / {fmt(perf)} = {fmt(on_e2e / perf if perf else nan)}x",
        f"- [info] ON acknowledged / ProducerPerformance: {fmt(on_app / perf if perf else nan)}x;"
        f" OFF batched e2e / raw binary COPY: {fmt(batched / copy if copy else nan)}x",
        floor_line(v, perf, cores),
    ]
    return lines
