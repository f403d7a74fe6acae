"""The skeleton both resource readers share: read the components' processes now, every interval, at the end.

``ResourceSampler`` (psutil percentages over time) and ``CpuLedger`` (exact CPU seconds per window)
differ only in what one reading does; the thread, the stop and the PID listing live here.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Self

PidSource = Callable[[], Iterable[int]]


class PeriodicReader:
    """``with Reader(components) as r: run()``: read on entry, every ``interval_s``, and on exit.

    ``_read(first=True)`` on entry, ``_read()`` on a daemon thread and once more on exit, so a run
    shorter than the interval still gets a reading.
    """

    thread_name = "periodic-reader"

    def __init__(self, components: Mapping[str, PidSource], interval_s: float = 0.5, relist_s: float = 0) -> None:
        self.components = dict(components)
        self.interval_s = interval_s
        # PID lists are reused for ``relist_s`` (0: listed at every reading): listing walks /proc and
        # asks supervisord, load a latency measurement should not add while the processes stay put
        self.relist_s = relist_s
        self._listing: list[tuple[str, list[int]]] = []
        self._listed_at = float("-inf")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)

    def __enter__(self) -> Self:
        self._read(first=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self._read()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._read()

    def _listed(self) -> list[tuple[str, list[int]]]:
        """(component, its PIDs now); a component that cannot be listed right now (restarting) is skipped."""
        if time.monotonic() - self._listed_at < self.relist_s:
            return self._listing
        listing = []
        for name, source in self.components.items():
            try:
                listing.append((name, list(source())))
            except Exception:
                continue
        self._listing, self._listed_at = listing, time.monotonic()
        return listing

    def _read(self, first: bool = False) -> None:
        """One reading of every component; ``first`` is the reading on entry."""
        raise NotImplementedError
