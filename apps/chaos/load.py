"""The chaos load: the realtime generator's load mode, writing every acknowledgement to a ledger.

``python -m apps.chaos.load --rate 200 --duration 30 --ledger run.ledger [--poison-every 100]``

It first publishes a small fresh catalogue (new ids every run, so a run never collides with an
earlier one), then runs ``apps.pipeline.produce.run_load``. Every delivery report that
says "acknowledged" appends one line to the ledger, from the delivery callback itself:

    E <topic> <entity_id> <version> <event_id>     an acknowledged event
    P <topic> <partition> <offset>                 an acknowledged poison message

The file is line-buffered, so a SIGKILL (scenario ``producer-kill``) loses no written line: the
ledger is exactly a subset of what Kafka acknowledged, which is what ``measure`` checks against
the database. ``--poison-every N`` mixes one malformed or schema-violating message into each
topic after every N-1 good ones (N=100: 1%).
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import signal
import sys
import threading
from itertools import chain
from pathlib import Path
from typing import IO, Any

from confluent_kafka import KafkaError, Message, Producer

from apps.pipeline.produce import run_load
from collect.clock import VersionClock
from collect.pools import build_pools
from collect.stream import RealtimeStream
from common.entities import topic_of
from common.events import Event
from common.logging import configure_logging
from common.settings import GeneratorSettings, KafkaSettings, load
from kafka import clients
from kafka.producer.producer import EventProducer
from kafka.producer.serializers import key_of, serialize

log = logging.getLogger("chaos-load")


def poison_value(event: Event, kind: int) -> bytes | None:
    """One of six kinds of reject, built from a real event so its key and size look normal."""
    body = json.loads(serialize(event))
    if kind == 0:
        return serialize(event)[:-7]  # truncated JSON
    if kind == 1:
        return b"\xff\xfe\x00" + serialize(event)[:40]  # binary garbage
    if kind == 2:
        return None  # a tombstone: no value at all
    if kind == 3:
        return json.dumps(body | {"version": 0}).encode()  # violates version >= 1
    if kind == 4:
        return json.dumps(body | {"payload": "not an object"}).encode()  # wrong type
    return json.dumps(body | {"smuggled": True}).encode()  # unknown field


class PoisonedProducer:
    """Duck-types ``EventProducer`` for ``run_load``: sends events, and every Nth a raw reject."""

    def __init__(self, producer: EventProducer, raw: Producer | None, every: int, ledger: IO[str]) -> None:
        self.producer, self.raw, self.every, self.ledger = producer, raw, every, ledger
        self.counts: dict[str, int] = {}
        self.stats = producer.stats

    def send(self, event: Event) -> None:
        self.producer.send(event)
        topic = topic_of(event)
        self.counts[topic] = count = self.counts.get(topic, 0) + 1
        if self.raw is not None and count % self.every == self.every // 2:
            value = poison_value(event, count // self.every % 6)
            self.raw.produce(topic, value=value, key=key_of(event), on_delivery=self._acked)
            self.raw.poll(0)

    def _acked(self, error: KafkaError | None, message: Message) -> None:
        if error is None:
            self.ledger.write(f"P {message.topic()} {message.partition()} {message.offset()}\n")

    def poll(self, timeout: float = 0) -> int:
        if self.raw is not None:
            self.raw.poll(0)
        return self.producer.poll(timeout)

    def close(self) -> int:
        undelivered = self.raw.flush(30) if self.raw is not None else 0
        return undelivered + self.producer.close(timeout=30).undelivered


def ledger_listener(ledger: IO[str], stream: RealtimeStream) -> Any:
    """Delivery callback: record the acknowledgement, and make new entities orderable."""

    def listener(event: Event, error: KafkaError | None) -> None:
        if error is None:
            ledger.write(f"E {topic_of(event)} {event.entity_id} {event.version} {event.event_id}\n")
            stream.catalogue.acknowledge(event)

    return listener


def ignore_late_stops() -> None:
    """Ignore SIGTERM once the load has stopped producing: the request is already met.

    The runner stops the load with SIGTERM ``tail_s`` after a fault. When that signal lands
    while the interpreter is shutting down (after ``main`` returned, while librdkafka's
    clients are destroyed), Python's handler no longer runs and the default action kills the
    process: exit -15 for a load that delivered everything. An ignored signal stays ignored
    through the shutdown.
    """
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def main(argv: list[str] | None = None) -> int:
    """Publish a catalogue, run the load, flush; exit 1 if anything was not acknowledged."""
    parser = argparse.ArgumentParser(description="Chaos load with an acknowledgement ledger.")
    parser.add_argument("--rate", type=float, required=True, help="events/s")
    parser.add_argument("--duration", type=float, required=True, help="seconds of load after the catalogue")
    parser.add_argument("--ledger", type=Path, required=True)
    parser.add_argument("--catalogue", type=int, default=30, help="fresh users and products to start with")
    parser.add_argument("--poison-every", type=int, default=0, help="one reject per N messages per topic (0: none)")
    args = parser.parse_args(argv)
    configure_logging("chaos-load")
    kafka, generator = load(KafkaSettings), load(GeneratorSettings)
    assert isinstance(kafka, KafkaSettings) and isinstance(generator, GeneratorSettings)
    run_seed = random.SystemRandom().getrandbits(62)
    stream = RealtimeStream(build_pools(generator.locale, generator.seed), run_seed, VersionClock(), run_seed)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with args.ledger.open("a", buffering=1, encoding="utf-8") as ledger:
        events = EventProducer(kafka, on_delivery=ledger_listener(ledger, stream), client_id="chaos-load")
        raw = clients.producer(kafka, "chaos-poison") if args.poison_every else None
        producer = PoisonedProducer(events, raw, args.poison_every, ledger)
        for event in chain(stream.users.catalogue(args.catalogue), stream.products.catalogue(args.catalogue)):
            producer.send(event)
        events.flush(60)
        log.info("catalogue acknowledged", extra={"acked": producer.stats.acked, "seed": run_seed})
        run_load(stream, producer, stop, args.rate, args.duration, None)  # type: ignore[arg-type]
        ignore_late_stops()
        undelivered = producer.close()
    log.info("done", extra={"sent": producer.stats.sent, "acked": producer.stats.acked, "undelivered": undelivered})
    return 0 if undelivered == 0 and producer.stats.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
