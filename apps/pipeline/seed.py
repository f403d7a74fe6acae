"""Seed the catalogue: ``python -m apps.pipeline.seed`` (``make seed``).

Publishes ``user.created`` and ``product.created`` (version 1) for the seed's users and
products. Ids come from the seed, so a re-run with the same seed publishes the same entities and
the database ends with the same rows. Exits 1 when any event was not acknowledged.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import chain

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from apps.pipeline.parallel_seed import PARTS, PROGRESS_EVERY, ProductsChild, bulk, combine, parent_events, part_events
from common.events import Event
from common.gc_tuning import collections_paused, tune_for_throughput
from common.logging import configure_logging
from common.settings import GeneratorSettings, KafkaSettings, load
from kafka.producer.bulk import BulkProducer, Prebuilt
from kafka.producer.producer import CloseReport

app = typer.Typer(add_completion=False, help=__doc__)


@dataclass(frozen=True)
class SeedSummary:
    """The seeder's result: the producer's close report and the wall time including the flush."""

    report: CloseReport
    seconds: float

    @property
    def events_per_s(self) -> float:
        return self.report.acked / self.seconds if self.seconds else 0.0


def catalogue_events(settings: GeneratorSettings) -> Iterable[Event]:
    """The seed's users, then its products, exactly as the realtime generator rebuilds them."""
    return chain.from_iterable(part_events(settings, part) for part in PARTS)


def seed_catalogue(
    kafka: KafkaSettings,
    settings: GeneratorSettings,
    topics: Mapping[str, str] | None = None,
    console: Console | None = None,
    flush_timeout: float = 60,
    parallel: bool = False,
) -> SeedSummary:
    """Send the whole catalogue with a progress bar; returns once everything is acknowledged.

    ``parallel``: most products from a forked process (``ProductsChild``; this one sends the
    users and enough products to send as many events, ``split``), only where this process has no Kafka
    client yet (the command line). Both build their first events while their producer waits
    for its id (``Prebuilt``).
    """
    total = settings.seed_users + settings.seed_products
    started = time.perf_counter()
    child = ProductsChild(kafka, settings, topics, flush_timeout) if parallel and total > settings.seed_users else None
    with collections_paused():  # the events built ahead live until sent: no collection rescans them
        events = Prebuilt(parent_events(settings) if child else catalogue_events(settings))
        producer = BulkProducer.opened(
            kafka, topics=topics, ahead=events, client_id="initial-seeder", overrides=bulk(kafka)
        )
        columns = (TextColumn("seeding"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[acked]} acked"))
        with Progress(*columns, TimeRemainingColumn(), console=console, transient=False) as progress:
            task = progress.add_task("seed", total=total, acked=0)

            def show() -> None:
                progress.update(task, completed=producer.stats.sent + (child.sent.value if child else 0),
                                acked=producer.stats.acked)  # fmt: skip

            producer.send_all(events, lambda _sent: show(), PROGRESS_EVERY)
            producer.flush(flush_timeout)
            while child is not None and not child.wait(0.2):
                show()
            report = combine([producer.close(timeout=1), *([child.report()] if child else [])])
            progress.update(task, completed=report.sent, acked=report.acked)
    return SeedSummary(report, time.perf_counter() - started)


def parse_topic_overrides(pairs: list[str]) -> dict[str, str]:
    """``["NAME=ACTUAL"]`` -> ``{NAME: ACTUAL}``, an entity topic and the name to use (tests, dry runs)."""
    overrides = {}
    for pair in pairs:
        name, sep, actual = pair.partition("=")
        if not sep or not name or not actual:
            raise typer.BadParameter(f"{pair!r} is not NAME=ACTUAL", param_hint="--topic")
        overrides[name] = actual
    return overrides


@app.command()
def main(
    users: int | None = typer.Option(None, min=0, help="users to seed (default PIPELINE_SEED_USERS, 10000)"),
    products: int | None = typer.Option(None, min=0, help="products (default PIPELINE_SEED_PRODUCTS, 20000)"),
    seed: int | None = typer.Option(None, help="random seed; same seed, same ids (default PIPELINE_SEED)"),
    topic: list[str] = typer.Option([], help="NAME=ACTUAL: send NAME's events to topic ACTUAL (tests)"),
    parallel: bool = typer.Option(True, help="send the products from a second process (2 cores)"),
) -> None:
    """Publish the seed catalogue and print a summary; exit 1 if anything was not acknowledged."""
    configure_logging("initial-seeder")
    tune_for_throughput()
    overrides = {"seed_users": users, "seed_products": products, "seed": seed}
    settings = load(GeneratorSettings, **{k: v for k, v in overrides.items() if v is not None})
    kafka = load(KafkaSettings)
    assert isinstance(settings, GeneratorSettings) and isinstance(kafka, KafkaSettings)
    console = Console()
    summary = seed_catalogue(kafka, settings, parse_topic_overrides(topic), console, parallel=parallel)
    report = summary.report
    console.print(
        f"seeded users={settings.seed_users} products={settings.seed_products} seed={settings.seed}"
        f" sent={report.sent} acked={report.acked} failed={report.failed} undelivered={report.undelivered}"
        f" seconds={summary.seconds:.2f} events_per_s={summary.events_per_s:,.0f}"
    )
    raise typer.Exit(0 if report.ok else 1)


if __name__ == "__main__":
    app()
