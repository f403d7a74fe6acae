"""The load driver: releases events to a handler, closed loop or on a rate schedule, and times them.

Closed loop (``times=None``) hands the next event over as soon as the previous call returns: the
application's capacity. Paced runs release event ``i`` at ``times[i]`` seconds after the start;
when the handler falls behind, the next events are released late and their latency counts from
the scheduled time (no coordinated omission): a slow database shows up as waiting callers.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from apps.benchmarks.handlers import Handler
from collect.clock import CounterClock
from collect.pools import build_pools
from collect.stream import RealtimeStream
from common.events import Event


def entity_stream(locale: str, seed: int, catalogue: int, count: int) -> list[Event]:
    """``catalogue`` users and products (created), then the load mix up to ``count`` events.

    Same seed, same events: every mode of a scenario gets exactly this list. Versions come from
    a counter clock, so the run is reproducible.
    """
    stream = RealtimeStream(build_pools(locale, seed), seed, CounterClock(), live_seed=seed)
    events: list[Event] = []
    for created in (*stream.users.catalogue(catalogue), *stream.products.catalogue(catalogue)):
        stream.catalogue.acknowledge(created)
        events.append(created)
    return events + list(stream.events(max(0, count - len(events))))


@dataclass(frozen=True)
class Phase:
    """``seconds`` at ``rate`` events/s."""

    seconds: float
    rate: float


def release_times(phases: Sequence[Phase]) -> list[float]:
    """Offsets (s) at which each event is due, evenly spaced within each phase."""
    times: list[float] = []
    start = 0.0
    for phase in phases:
        count = round(phase.seconds * phase.rate)
        times += [start + i / phase.rate for i in range(count)]
        start += phase.seconds
    return times


@dataclass
class DriveResult:
    """What the application side saw."""

    started_at: datetime
    seconds: float = 0.0
    start: float = 0.0  # perf_counter() at the start: acknowledgements are placed on the same clock
    latencies: list[float] = field(default_factory=list)  # release -> call returned, every event
    accepted_at: list[float] = field(default_factory=list)  # offsets of accepted events

    @property
    def accepted(self) -> int:
        return len(self.accepted_at)

    def rate_between(self, start_s: float, end_s: float) -> float:
        """Accepted events per second within ``[start_s, end_s)``."""
        inside = sum(1 for t in self.accepted_at if start_s <= t < end_s)
        return inside / (end_s - start_s) if end_s > start_s else float("nan")

    def per_second(self) -> list[int]:
        """Accepted events in each whole second of the run (the timeline in the chart)."""
        counts = [0] * (int(self.seconds) + 1)
        for t in self.accepted_at:
            counts[int(t)] += 1
        return counts


def drive(
    handler: Handler,
    events: Sequence[Event],
    times: Sequence[float] | None = None,
    progress: Callable[[int], None] | None = None,
) -> DriveResult:
    """Hand ``events`` over (paced when ``times`` is given); ``progress(n)`` every 500 events."""
    result = DriveResult(datetime.now(UTC))
    latencies, accepted_at = result.latencies, result.accepted_at
    clock = time.perf_counter
    start = result.start = clock()
    for i, event in enumerate(events):
        if times is None:
            release = clock()
        else:
            release = start + times[i]
            while (wait := release - clock()) > 0:
                handler.tick()
                time.sleep(min(wait, 0.002))
        ok = handler.handle(event)
        done = clock()
        latencies.append(done - release)
        if ok:
            accepted_at.append(done - start)
        if progress is not None and i % 500 == 499:
            progress(500)
    result.seconds = clock() - start
    if progress is not None:
        progress(len(events) % 500)
    return result


class Outage:
    """Stop PostgreSQL ``at_s`` after ``begin()`` for ``seconds``, on a thread (local runtime only)."""

    def __init__(self, runtime: object, at_s: float, seconds: float) -> None:
        self.runtime, self.at_s, self.seconds = runtime, at_s, seconds
        self.window: tuple[float, float] = (at_s, at_s + seconds)  # measured offsets once done
        self._thread = threading.Thread(target=self._run, name="outage", daemon=True)
        self._start = 0.0

    def begin(self) -> None:
        self._start = time.perf_counter()
        self._thread.start()

    def _run(self) -> None:
        supervisor = self.runtime.supervisor  # type: ignore[attr-defined]
        time.sleep(self.at_s)
        stopping = time.perf_counter() - self._start
        supervisor.stop("postgres")
        time.sleep(max(0.0, self.at_s + self.seconds - (time.perf_counter() - self._start)))
        supervisor.start("postgres", wait=False)
        self.runtime.wait_postgres()  # type: ignore[attr-defined]
        self.window = (stopping, time.perf_counter() - self._start)

    def join(self) -> None:
        """Wait until PostgreSQL is back (always, even if the run ended early)."""
        self._thread.join()
