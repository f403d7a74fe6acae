"""The catalogue's two halves: users and products, each sendable by its own process.

Building the events (pydantic models) is most of the seeder's CPU, and this machine has a
second core. Users and products come from separately seeded generators, so sending them from two
processes changes nothing in what is sent: same ids, same payloads, same order per entity (each
entity has one event in the catalogue, sent by one process). The halves are even in events, not
in entities (``split``): the parent sends the users and the first products, the child the rest
of the products, so neither waits long for the other at the end.
``ProductsChild`` forks rather than spawns: the child starts in milliseconds with the value pools
already built. A fork is safe only before this process opens a Kafka client (librdkafka's
threads do not survive it), which is why only the command line (``seed.main``) uses it.
"""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Iterable, Mapping
from itertools import chain, islice
from multiprocessing.connection import Connection
from typing import Any

from collect.pool_cache import cached_pools
from collect.product_generator import ProductGenerator
from collect.user_generator import UserGenerator
from common.entities import PRODUCTS, USERS
from common.events import Event
from common.gc_tuning import collections_paused
from common.settings import GeneratorSettings, KafkaSettings
from kafka.producer.bulk import BulkProducer, Prebuilt
from kafka.producer.producer import CloseReport

PROGRESS_EVERY = 2_000
PARTS = (USERS.topic, PRODUCTS.topic)


def part_events(settings: GeneratorSettings, part: str, start: int = 0, stop: int | None = None) -> Iterable[Event]:
    """The catalogue's users or products ``start..stop-1`` (default all), as the realtime generator rebuilds them."""
    pools = cached_pools(settings.locale, settings.seed)
    if part == USERS.topic:
        return islice(UserGenerator(pools, settings.seed).catalogue(settings.seed_users), start, stop)
    stop = settings.seed_products if stop is None else min(stop, settings.seed_products)
    return ProductGenerator(pools, settings.seed).catalogue(stop, start)


def split(settings: GeneratorSettings) -> int:
    """Products the parent sends after its users, so that both processes send as many events."""
    return max(0, (settings.seed_products - settings.seed_users) // 2)


def parent_events(settings: GeneratorSettings) -> Iterable[Event]:
    """The parent's share: every user, then the first ``split`` products."""
    return chain(part_events(settings, USERS.topic), part_events(settings, PRODUCTS.topic, 0, split(settings)))


def bulk(kafka: KafkaSettings) -> dict[str, int]:
    """Producer overrides of a bulk send: batches as full as ``bulk_linger_ms`` and ``bulk_batch_size`` allow."""
    return {"linger.ms": kafka.bulk_linger_ms, "batch.size": kafka.bulk_batch_size}


def combine(reports: Iterable[CloseReport]) -> CloseReport:
    """One close report for several producers."""
    totals = [0, 0, 0, 0]
    for report in reports:
        for i, value in enumerate((report.sent, report.acked, report.failed, report.undelivered)):
            totals[i] += value
    return CloseReport(*totals)


def _send_products(conn: Connection, sent: Any, kafka: KafkaSettings, settings: GeneratorSettings,
                   topics: Mapping[str, str] | None, flush_timeout: float) -> None:  # fmt: skip
    """The child: send the products, report back through ``conn``."""

    def progress(count: int) -> None:
        sent.value = count

    with collections_paused():
        events = Prebuilt(part_events(settings, PRODUCTS.topic, split(settings)))
        producer = BulkProducer.opened(
            kafka, topics=topics, ahead=events, client_id="initial-seeder-products", overrides=bulk(kafka)
        )
        producer.send_all(events, progress, PROGRESS_EVERY)
        sent.value = producer.stats.sent
        producer.flush(flush_timeout)
    conn.send(producer.close(timeout=1))
    conn.close()


class ProductsChild:
    """The products, sent by a forked process while the parent sends the users."""

    def __init__(self, kafka: KafkaSettings, settings: GeneratorSettings, topics: Mapping[str, str] | None,
                 flush_timeout: float) -> None:  # fmt: skip
        context = mp.get_context("fork")
        self.expected = settings.seed_products - split(settings)
        self.sent = context.Value("q", 0, lock=False)  # progress only: written by the child alone
        self._reports, child_end = context.Pipe(duplex=False)
        cached_pools(settings.locale, settings.seed)  # read (or built) once, inherited by the child
        self.process = context.Process(
            target=_send_products,
            args=(child_end, self.sent, kafka, settings, topics, flush_timeout),
            name="seeder-products",
            daemon=True,
        )
        self.process.start()
        child_end.close()

    def wait(self, timeout: float) -> bool:
        """True once the child has exited."""
        self.process.join(timeout)
        return not self.process.is_alive()

    def report(self) -> CloseReport:
        """The child's close report; a child that died reports every product as undelivered."""
        try:
            report = self._reports.recv() if self._reports.poll(5) else None
        except EOFError:
            report = None
        self.process.join(5)
        return report if report is not None else CloseReport(self.sent.value, 0, 0, self.expected)
