"""Each stage's own ceiling, measured in the same run as the pipeline it is held against.

- Kafka's own ``ProducerPerformance`` and ``ConsumerPerformance`` (the provisioned kafka-tools
  jar, ``.runtime/kafka-libs/<version>/``) on a topic configured like ours, with the run's real
  payloads and the producer settings of our client (acks=all, idempotence, linger, batch, lz4);
  the brokers' CPU per message is read from ``/proc`` around the producer run;
- raw COPY in the sink's own format (``FORMAT BINARY``, same column types) into the same tables,
  one transaction: PostgreSQL's ceiling for these rows, without staging or conflict handling;
- the floor (``floor_costs``): the CPU per event of the least work any Python pipeline of these
  events must do, each step bare: serialize, a bare confluent-kafka producer and consumer, the
  brokers' share (ProducerPerformance's and ConsumerPerformance's, read from ``/proc``), decode, and
  the raw COPY (client and PostgreSQL). Their sum bounds the end-to-end rate the cores allow;
- Kafka alone on the realtime generator's bursts (``burst_latencies``): the realtime p99's anchor.

See GUIDE/KAFKA_BENCHMARK_GUIDE.md and ../shared/ANCHORS.md for how they are read.
"""

from __future__ import annotations

import bisect
import re
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from confluent_kafka.admin import NewTopic
from sqlalchemy import text

from apps.benchmarks import scratch
from apps.benchmarks.common import Measurement
from apps.benchmarks.fetch_probe import Arrival, FetchProbe
from apps.benchmarks.proc_cpu import CpuLedger, PidSource
from apps.runtime.checks import java_binary
from common.entities import ENTITIES, entity_of, event_row, topic_of
from common.events import Event
from common.gc_tuning import collections_paused
from common.settings import KafkaSettings, RuntimeSettings
from database import crud
from database.database import make_engine
from database.models import table_named
from kafka import clients
from kafka.consumer import decode
from kafka.producer.serializers import key_of, serialize, stamp

Say = Callable[[str], None]


def tools_classpath(settings: RuntimeSettings) -> str | None:
    """``<libs>/<version>/*`` when the kafka-tools jar is provisioned there, else None."""
    libs = settings.kafka_libs_dir / settings.kafka_version
    return f"{libs}/*" if any(libs.glob("kafka-tools-*.jar")) else None


def _tool(classpath: str, main: str, args: Sequence[str], timeout_s: float = 600) -> str:
    argv = [java_binary(), "-Xmx512m", "-cp", classpath, f"org.apache.kafka.tools.{main}", *args]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{main} exit {done.returncode}: {(done.stderr or done.stdout).strip()[-300:]}")
    return done.stdout


@contextmanager
def _ceiling_topic(kafka: KafkaSettings) -> Iterator[str]:
    """A scratch topic configured like ours (3 partitions, RF 3, min ISR 2, lz4), deleted afterwards."""
    topic = f"ceiling-{uuid.uuid4().hex[:8]}"
    admin = clients.admin(kafka, "bench-admin")
    config = {"min.insync.replicas": "2", "compression.type": "lz4"}
    admin.create_topics([NewTopic(topic, 3, 3, config=config)])[topic].result(60)
    try:
        yield topic
    finally:
        scratch.drop_topics(admin, [topic])


def _per_message_us(ledger: CpuLedger, records: int) -> float:
    """The ledger's CPU in us per message; NaN when it read no process (brokers not ours)."""
    return sum(ledger.seconds.values()) / records * 1e6 if ledger.observed else float("nan")


def kafka_ceilings(
    kafka: KafkaSettings, classpath: str, payloads: Iterable[bytes], records: int, brokers: dict[str, Callable]
) -> list[Measurement]:
    """ProducerPerformance (msg/s, MB/s, brokers' CPU us/msg) then ConsumerPerformance on its topic."""
    with _ceiling_topic(kafka) as topic:
        return _kafka_tools(kafka, classpath, topic, payloads, records, brokers)


def _kafka_tools(
    kafka: KafkaSettings,
    classpath: str,
    topic: str,
    payloads: Iterable[bytes],
    records: int,
    brokers: dict[str, Callable],
) -> list[Measurement]:
    with tempfile.NamedTemporaryFile("wb", suffix=".txt", delete=False) as handle:
        handle.write(b"\n".join(p.replace(b"\n", b" ") for p in payloads) + b"\n")
    props = [f"bootstrap.servers={kafka.bootstrap_servers}", "acks=all", "enable.idempotence=true",
             f"compression.type={kafka.compression_type}", f"linger.ms={kafka.linger_ms}",
             f"batch.size={kafka.batch_size}"]  # fmt: skip
    produce = ["--topic", topic, "--num-records", str(records), "--throughput", "-1",
               "--payload-file", handle.name, "--producer-props", *props]  # fmt: skip
    m = lambda metric, value, unit: Measurement("steady", "ceiling_kafka_tools", metric, value, unit)  # noqa: E731
    try:
        with CpuLedger(brokers) as ledger:
            out = _tool(classpath, "ProducerPerformance", produce)
        summary = re.findall(r"([\d.]+) records/sec \(([\d.]+) MB/sec\)", out)[-1]
        rows = [
            m("producer_perf_throughput", float(summary[0]), "msg/s"),
            m("producer_perf_mb", float(summary[1]), "MB/s"),
        ]
        rows.append(m("producer_perf_broker_cpu_us", _per_message_us(ledger, records), "us/msg"))
        consume = ["--bootstrap-server", kafka.bootstrap_servers, "--topic", topic, "--messages", str(records),
                   "--group", f"{topic}-group"]  # fmt: skip
        with CpuLedger(brokers) as ledger:
            lines = _tool(classpath, "ConsumerPerformance", consume).splitlines()
        rows.append(m("consumer_perf_broker_cpu_us", _per_message_us(ledger, records), "us/msg"))
        at = next(i for i, line in enumerate(lines) if line.startswith("start.time"))  # header, then the figures
        values = dict(zip([h.strip() for h in lines[at].split(",")], lines[at + 1].split(","), strict=False))
        rows.append(m("consumer_perf_throughput", float(values["nMsg.sec"]), "msg/s"))
        rows.append(m("consumer_perf_fetch_throughput", float(values["fetch.nMsg.sec"]), "msg/s"))
        return rows
    finally:
        Path(handle.name).unlink(missing_ok=True)


def raw_binary_copy(database_url: str, events: Sequence[Event], postgres: PidSource | None = None) -> list[Measurement]:
    """Rows/s of a plain binary COPY of the events' rows into their (emptied) tables, one transaction.

    Also the CPU per row of the COPY's client (this process) and of ``postgres`` (its PIDs, when
    ours to read). Run it in a scratch schema: the tables are emptied before and after.
    """
    rows = {  # the newest version per key, as the sink keeps: a plain COPY takes each key once
        entity.table: crud.latest_per_key(
            [event_row(e.stamped()) for e in events if topic_of(e) == entity.topic],
            crud.key_of(table_named(entity.table)),
        )
        for entity in ENTITIES
    }
    engine = make_engine(database_url, pool_size=1)
    try:
        with engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {', '.join(rows)}"))
        started, client = time.perf_counter(), time.process_time()
        with CpuLedger({"postgres": postgres or list}) as ledger, engine.begin() as conn:
            raw = conn.connection.driver_connection
            for name in rows:
                plan = crud._copy_plan(table_named(name))  # the sink's own columns and binary types
                with (
                    raw.cursor() as cur,
                    cur.copy(f'COPY "{name}" ({", ".join(plan.names)}) FROM STDIN (FORMAT BINARY)') as copy,
                ):
                    copy.set_types(plan.types)
                    for row in rows[name]:
                        copy.write_row([row[n] for n in plan.names])
        seconds, client = time.perf_counter() - started, time.process_time() - client
        with engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {', '.join(rows)}"))
    finally:
        engine.dispose()
    copied = sum(len(r) for r in rows.values())
    server = ledger.seconds["postgres"] if ledger.observed else float("nan")
    return [
        Measurement("steady", "ceiling_postgres", "raw_binary_copy_throughput", copied / seconds, "rows/s"),
        Measurement("steady", "ceiling_floor", "copy_client_us", client / copied * 1e6, "us/row"),
        Measurement("steady", "ceiling_floor", "copy_postgres_us", server / copied * 1e6, "us/row"),
    ]


def floor_costs(kafka: KafkaSettings, events: Sequence[Event]) -> list[Measurement]:
    """CPU us per event of the Python steps every pipeline of ``events`` needs, each done bare.

    Serialize and decode with the pipeline's own models; send the payloads, keyed, with a bare
    confluent-kafka producer (the run's producer settings, one delivery callback, no wrapper) and
    read them back with a bare consumer in batches. This process's CPU, all threads, per event.
    """
    now = datetime.now(UTC)
    clock = time.process_time
    schemas = [entity_of(topic_of(e)).schema for e in events]
    with collections_paused():  # as the consumer decodes, a batch at a time (kafka/consumer.py)
        started = clock()
        payloads = [serialize(stamp(e, now)) for e in events]
        serialized = clock() - started
        started = clock()
        for schema, payload in zip(schemas, payloads, strict=True):
            decode(schema, payload)
        decoded = clock() - started
    with _ceiling_topic(kafka) as topic:
        producer = clients.producer(kafka, "bench-floor")
        delivered = []
        started = clock()
        for event, payload in zip(events, payloads, strict=True):
            while True:
                try:
                    producer.produce(topic, payload, key_of(event), on_delivery=lambda err, _: delivered.append(err))
                    break
                except BufferError:
                    producer.poll(0.05)
            producer.poll(0)
        producer.flush(120)
        produced = clock() - started
        if len(delivered) != len(events) or any(delivered):
            raise RuntimeError(f"bare producer: {len(delivered)} of {len(events)} delivered, some with errors")
        consumer = clients.plain_consumer(
            kafka, "bench-floor", {"group.id": f"{topic}-group", "auto.offset.reset": "earliest"}
        )
        started, read = clock(), 0
        consumer.subscribe([topic])
        deadline = time.monotonic() + 120
        while read < len(events) and time.monotonic() < deadline:
            read += len(consumer.consume(5_000, 0.5))
        consumed = clock() - started
        consumer.close()
        if read < len(events):
            raise RuntimeError(f"bare consumer: {read} of {len(events)} read back in 120 s")
    n = len(events)
    m = lambda metric, seconds: Measurement("steady", "ceiling_floor", metric, seconds / n * 1e6, "us/event")  # noqa: E731
    return [m("serialize_us", serialized), m("produce_client_us", produced), m("consume_client_us", consumed),
            m("decode_us", decoded)]  # fmt: skip


def burst_latencies(kafka: KafkaSettings, bursts: Iterable[Sequence[Event]], gap_s: float = 0.5) -> list[float]:
    """Kafka alone on the realtime generator's bursts: per burst, its first send until its last event arrived (s).

    The realtime p99 is the slowest product burst's last commit (100 events over three
    partitions, every 10-20 s). Here the same bursts go through Kafka only, on a topic configured
    like ours: stamped, serialized and keyed as the producer does, sent with the realtime
    generator's settings (its linger, then ``flush``) and timed by the ``FetchProbe``, a process of
    its own with the consumers' ``consumer_config``, as each consumer is. A burst whose events did
    not all arrive before the end is left out (the count of latencies says so).
    """
    with _ceiling_topic(kafka) as topic:
        producer = clients.producer(kafka, "bench-burst-anchor", {"linger.ms": kafka.realtime_linger_ms})
        producer.produce(topic, b"warm-up")  # the producer id and the partitions' leaders, before timing
        producer.flush(30)
        sent: list[tuple[float, int]] = []  # per burst: its first send (epoch s) and its size
        with FetchProbe(kafka, [topic]) as probe:
            for burst in bursts:
                time.sleep(gap_s)
                started = time.time()
                for event in burst:
                    stamped = stamp(event, datetime.now(UTC))
                    producer.produce(topic, serialize(stamped), key_of(stamped))
                producer.flush(30)
                sent.append((started, len(burst)))
            time.sleep(max(gap_s, 2.0))  # the last burst's stragglers
    return _burst_spans(sent, probe.arrivals)


def _burst_spans(sent: list[tuple[float, int]], arrivals: list[Arrival]) -> list[float]:
    """Per complete burst, its last arrival minus its first send; a burst is the events stamped in its window."""
    starts = [started for started, _ in sent]
    arrived: list[list[float]] = [[] for _ in sent]
    for *_, produced, at in arrivals:
        index = bisect.bisect_right(starts, produced) - 1
        if index >= 0:
            arrived[index].append(at)
    return [max(times) - started for (started, size), times in zip(sent, arrived, strict=True) if len(times) == size]
