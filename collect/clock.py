"""Where event versions and timestamps come from.

Consumers apply an event only when its ``version`` is higher than the stored row's, so every
event of an entity must carry a higher version than the one before it, across restarts too.
The seeder's ``*.created`` events all have version 1. Every realtime event takes its version from
``VersionClock``: microseconds since the epoch, made strictly increasing in this process with
``max(last + 1, now_us)``. A restarted generator starts above anything it sent before (the wall
clock has moved on), without keeping any state on disk. It relies on the host clock not jumping
back by more than the restart takes; see GUIDE/KAFKA_PRODUCER_GUIDE.md.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# The seeded catalogue is dated before this instant, so re-seeding yields identical events.
CATALOGUE_EPOCH = datetime(2025, 1, 1, tzinfo=UTC)


class Clock(Protocol):
    """Gives the version and the ``occurred_at`` of the next realtime event."""

    def tick(self) -> tuple[int, datetime]:
        """A version strictly higher than the previous one, and the matching instant."""
        ...


class VersionClock:
    """Wall-clock versions: microseconds since the epoch, strictly increasing in-process."""

    def __init__(self) -> None:
        self._last = 0

    def tick(self) -> tuple[int, datetime]:
        """Called once per realtime event, just before it is built."""
        now_us = time.time_ns() // 1_000
        self._last = max(self._last + 1, now_us)
        return self._last, EPOCH + timedelta(microseconds=self._last)


class CounterClock:
    """Deterministic clock for tests and reproducible runs: versions 2, 3, 4 ..., one ms apart."""

    def __init__(self, start: datetime = CATALOGUE_EPOCH, first_version: int = 2) -> None:
        self._start = start
        self._next = first_version

    def tick(self) -> tuple[int, datetime]:
        """The next counter value; ``occurred_at`` moves 1 ms per event."""
        version = self._next
        self._next += 1
        return version, self._start + timedelta(milliseconds=version)
