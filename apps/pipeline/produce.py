"""The realtime stream: ``python -m apps.pipeline.produce`` (``make start-producer``).

Default mode imitates a shop: 1-5 new orders every 2-8 s, 100 product updates every 10-20 s,
a sign-up (sometimes a profile change) every 20-60 s, and open orders moving along their
lifecycle every 2 s. Load mode (``--rate``, ``--duration``, ``--count``) sends the load mix of
``collect.stream`` as fast as asked. SIGTERM or Ctrl-C: flush, log a summary, exit 0.

Orders reference only acknowledged entities: the seeder's catalogue, rebuilt from the same
seed and sizes (GeneratorSettings) and checked against the topics' offsets at start, plus the
users this run creates once Kafka acknowledges them. Every event's version comes from
``collect.clock.VersionClock`` (microseconds since the epoch, strictly increasing), so a
restarted generator always sends higher versions without keeping state.
"""

from __future__ import annotations

import logging
import random
import signal
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import typer
from confluent_kafka import TopicPartition

from apps.pipeline.parallel_seed import bulk
from apps.pipeline.seed import parse_topic_overrides
from collect.clock import VersionClock
from collect.pools import build_pools
from collect.stream import RealtimeStream
from common.entities import PRODUCTS, USERS
from common.events import Event
from common.gc_tuning import tune_for_throughput
from common.logging import configure_logging
from common.settings import GeneratorSettings, KafkaSettings, MetricsSettings, load
from kafka import clients, metrics
from kafka.offsets import watermarks
from kafka.producer.producer import EventProducer

app = typer.Typer(add_completion=False, help=__doc__)
log = logging.getLogger("realtime-generator")
PROGRESS_EVERY_S = 10.0
PRODUCT_BURST = 100  # product updates per round of the shop mode (the realtime benchmark's anchor sends the same)


def published_count(kafka: KafkaSettings, topic: str) -> int:
    """Messages ever written to ``topic`` (sum of high watermarks); -1 if the topic is missing."""
    consumer = clients.consumer(kafka, "realtime-generator-probe")
    try:
        metadata = consumer.list_topics(topic, timeout=10).topics.get(topic)
        if metadata is None or metadata.error is not None:
            return -1
        marks = (watermarks(consumer, TopicPartition(topic, p)) for p in metadata.partitions)
        return sum(high for _, high in marks)
    finally:
        consumer.close()


def _send_all(producer: EventProducer, events: list[Any]) -> int:
    for event in events:
        producer.send(event)
    return len(events)


def run_default(stream: RealtimeStream, producer: EventProducer, stop: threading.Event, rng: random.Random) -> None:
    """Timed batches until ``stop`` is set; the producer is polled while waiting.

    After each round of actions the wait for the next one is spent in ``flush``: librdkafka sends
    what is queued at once, linger or not, so a 100-event burst leaves as one request per
    partition (a burst split by the linger timer had its tail wait behind its head's acks=all
    round, as a broker serves one request per connection at a time) and single events skip the
    linger. The wait was idle anyway: the generator only polls until the next action is due.
    """

    def user_activity() -> int:
        sent = _send_all(producer, [stream.new_user()])
        return sent + (_send_all(producer, [stream.user_update()]) if rng.random() < 0.3 else 0)

    def lifecycle() -> int:
        return _send_all(producer, stream.order_steps(max(1, len(stream.orders.open) // 4)))

    tasks: list[tuple[tuple[float, float], Callable[[], int]]] = [
        ((2, 8), lambda: _send_all(producer, stream.new_orders(rng.randint(1, 5)))),
        ((10, 20), lambda: _send_all(producer, stream.product_updates(PRODUCT_BURST))),
        ((20, 60), user_activity),
        ((2, 2), lifecycle),
    ]
    due = [time.monotonic() + (0 if i < 2 else rng.uniform(*span)) for i, (span, _) in enumerate(tasks)]
    last_log = time.monotonic()
    while not stop.is_set():
        now, sent = time.monotonic(), 0
        for i, (span, action) in enumerate(tasks):
            if now >= due[i]:
                sent += action()
                due[i] = now + rng.uniform(*span)
        if now - last_log >= PROGRESS_EVERY_S:
            _log_progress(producer, stream)
            last_log = now
        wait = max(0.0, min(0.2, min(due) - time.monotonic()))
        if sent:
            producer.flush(wait)
        else:
            producer.poll(wait)


def run_load(
    stream: RealtimeStream,
    producer: EventProducer,
    stop: threading.Event,
    rate: float | None,
    duration: float | None,
    count: int | None,
) -> None:
    """The load mix at ``rate`` events/s (unthrottled if None) until duration, count or stop."""
    started = last_log = time.monotonic()
    sent = 0
    while not stop.is_set() and (count is None or sent < count):
        elapsed = time.monotonic() - started
        if duration is not None and elapsed >= duration:
            break
        batch = 1_000 if rate is None else min(1_000, int(elapsed * rate) + 1 - sent)
        if count is not None:
            batch = min(batch, count - sent)
        if batch <= 0:
            producer.poll(min(0.01, 1 / rate) if rate else 0)
            continue
        for _ in range(batch):
            producer.send(stream.next_event())
        sent += batch
        if time.monotonic() - last_log >= PROGRESS_EVERY_S:
            _log_progress(producer, stream)
            last_log = time.monotonic()


def _log_progress(producer: EventProducer, stream: RealtimeStream) -> None:
    stats = producer.stats
    log.info(
        "progress",
        extra={"sent": stats.sent, "acked": stats.acked, "failed": stats.failed, "in_flight": stats.in_flight}
        | {"open_orders": len(stream.orders.open), "orderable": len(stream.catalogue)},
    )


def _acknowledged(stream: RealtimeStream) -> Callable[[Event, Any], None]:
    def listener(event: Event, error: Any) -> None:
        if error is None:
            stream.catalogue.acknowledge(event)

    return listener


def generate(
    kafka: KafkaSettings,
    settings: GeneratorSettings,
    stop: threading.Event,
    *,
    topics: Mapping[str, str] | None = None,
    live_seed: int | None = None,
    load_mode: tuple[float | None, float | None, int | None] | None = None,
    check_seed: bool = True,
) -> int:
    """Run until stopped; returns the exit code (0 all acknowledged, 1 losses, 2 no catalogue)."""
    topics = dict(topics or {})
    if check_seed:
        for name, expected in ((USERS.topic, settings.seed_users), (PRODUCTS.topic, settings.seed_products)):
            found = published_count(kafka, topics.get(name, name))
            if found < expected:
                log.error("seed catalogue missing; run make seed first", extra={"topic": name, "found": found})
                return 2
    live_seed = live_seed if live_seed is not None else random.SystemRandom().getrandbits(63)
    stream = RealtimeStream(build_pools(settings.locale, settings.seed), settings.seed, VersionClock(), live_seed)
    stream.load_catalogue(settings.seed_users, settings.seed_products)
    mode = "load" if load_mode else "default"
    log.info("started", extra={"mode": mode, "seed": settings.seed, "live_seed": live_seed, "load": load_mode})
    started = time.monotonic()
    # Shop mode sends a few events at a time: batches never fill, so linger would only add latency.
    # Unthrottled load mode is a bulk send: the longer linger saves the brokers' CPU per request.
    linger = {"linger.ms": kafka.realtime_linger_ms}
    if load_mode:
        linger = bulk(kafka) if load_mode[0] is None else None
    producer = EventProducer(
        kafka, topics=topics, on_delivery=_acknowledged(stream), client_id="realtime-generator", overrides=linger
    )
    try:
        if load_mode:
            run_load(stream, producer, stop, *load_mode)
        else:
            run_default(stream, producer, stop, random.Random(live_seed))
    finally:
        report = producer.close(timeout=30)
        seconds = time.monotonic() - started
        log.info(
            "summary",
            extra=vars(report) | {"seconds": round(seconds, 2), "events_per_s": round(report.acked / seconds, 1)},
        )
    return 0 if report.ok else 1


@app.command()
def main(
    rate: float | None = typer.Option(None, min=0.001, help="load mode: events/s (default PIPELINE_REALTIME_RATE)"),
    duration: float | None = typer.Option(None, min=0, help="load mode: stop after this many seconds"),
    count: int | None = typer.Option(None, min=0, help="load mode: stop after this many events"),
    live_seed: int | None = typer.Option(None, help="seed of this run's draws (default: random); reproduces a run"),
    check_seed: bool = typer.Option(True, help="refuse to start unless the seed catalogue is on the topics"),
    topic: list[str] = typer.Option([], help="NAME=ACTUAL: send NAME's events to topic ACTUAL (tests)"),
) -> None:
    """Stream events until SIGTERM/Ctrl-C (or the load-mode limit), then flush and summarize."""
    configure_logging("realtime-generator")
    tune_for_throughput()
    settings, kafka = load(GeneratorSettings), load(KafkaSettings)
    assert isinstance(settings, GeneratorSettings) and isinstance(kafka, KafkaSettings)
    rate = rate or settings.realtime_rate
    exposed = load(MetricsSettings)
    metrics.serve(exposed.port, exposed.host)  # type: ignore[attr-defined]
    stop = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        log.info("stopping", extra={"signal": signal.Signals(signum).name})
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    load_mode = (rate, duration, count) if (rate or duration is not None or count is not None) else None
    code = generate(
        kafka,
        settings,
        stop,
        topics=parse_topic_overrides(topic),
        live_seed=live_seed,
        load_mode=load_mode,
        check_seed=check_seed,
    )
    raise typer.Exit(code)


if __name__ == "__main__":
    app()
