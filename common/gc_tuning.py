"""Garbage-collector settings for long-running, allocation-heavy processes (generators, consumers).

CPython runs a young-generation collection every 700 net allocations of container objects.
Every event allocates several (pydantic models, dicts, UUIDs) and nearly all of them die young
by reference counting anyway, so at the default threshold a generator spent about 15% of its
CPU on collections that found nothing (load mix: 51k -> 55k events per CPU-second at 10,000).
Reference cycles are still collected, only in larger steps.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

YOUNG_GENERATION_THRESHOLD = 10_000


def tune_for_throughput() -> None:
    """Call once at process start: freeze what exists (imports, settings) and collect less often."""
    gc.collect()
    gc.freeze()  # start-up objects live for the whole process: never scan them again
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, middle, oldest)


@contextmanager
def collections_paused() -> Iterator[None]:
    """No cyclic collections inside the block: for a bounded burst of objects that live on (a seed).

    The seeder keeps the events it builds ahead (``kafka.producer.bulk.Prebuilt``), and every
    collection would scan them again; reference counting still frees everything else. Seeding
    10k users + 20k products: 21.0-21.5k -> 21.8-22.4k events/s (same session, 2026-12-01).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
