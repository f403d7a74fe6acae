"""A stopwatch for long end-to-end tests: where their minutes go, and how busy the machine was meanwhile."""

from __future__ import annotations

import time
from pathlib import Path


class Laps:
    """``lap("seed")`` closes the phase that ran since the previous lap; ``print()`` lists them all."""

    def __init__(self) -> None:
        self.started = self._last = time.monotonic()
        self.phases: list[tuple[str, float, float]] = []  # name, seconds, share of the machine's CPU busy
        self._cpu = _cpu()

    def lap(self, name: str) -> None:
        now, cpu = time.monotonic(), _cpu()
        busy = (cpu[0] - self._cpu[0]) / max(1, cpu[1] - self._cpu[1])
        self.phases.append((name, now - self._last, busy))
        self._last, self._cpu = now, cpu

    def __str__(self) -> str:
        rows = [f"{seconds:7.1f}s  {busy:4.0%} CPU  {name}" for name, seconds, busy in self.phases]
        return "\n".join([*rows, f"{time.monotonic() - self.started:7.1f}s  total"])


def _cpu() -> tuple[int, int]:
    """The machine's busy and total CPU time so far, in clock ticks (Linux; elsewhere nothing)."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except OSError:
        return 0, 0
    return sum(fields) - fields[3] - fields[4], sum(fields)  # idle and iowait are not busy
