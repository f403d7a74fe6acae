"""When a consumer batch should wait to fill: only under load, never at the shop's own rates.

A batch costs one PostgreSQL transaction of six to eight statements whatever its size. At low
rates the consumer writes what it has at once (latency first). Under load the member used to
write whatever had arrived since its last write, a few dozen rows, so nine members ran
hundreds of transactions per second and their overhead starved the producers on 2 cores.
``busy`` measures the member's own intake over about a second; above ``BUSY_RATE`` messages/s
the batch waits up to ``wait_s`` for more (fewer, larger transactions).
"""

from __future__ import annotations

import time
from collections.abc import Callable

Clock = Callable[[], float]
BUSY_RATE = 500.0  # messages/s per member; the realtime shop peaks at a few dozen per member
WINDOW_S = 1.0


class BatchFill:
    """Counts what one member receives and says whether the next batch should wait to fill."""

    def __init__(self, wait_s: float, busy_rate: float = BUSY_RATE, clock: Clock = time.monotonic) -> None:
        self.wait_s, self.busy_rate, self._clock = wait_s, busy_rate, clock
        self._window_start = clock()
        self._count = 0
        self.rate = 0.0  # messages/s over the last full window

    def record(self, received: int) -> None:
        """Count messages taken from the consumer; the rate is renewed about once a second."""
        self._count += received
        now = self._clock()
        if (elapsed := now - self._window_start) >= WINDOW_S:
            self.rate = self._count / elapsed
            self._window_start, self._count = now, 0

    @property
    def busy(self) -> bool:
        """True when waiting ``wait_s`` for more messages is worth it (the member is under load)."""
        return self.wait_s > 0 and self.rate >= self.busy_rate
