"""The skeleton both resource readers share: read the components' processes now, every interval, at the end.

``ResourceSampler`` (psutil percentages over time) and ``CpuLedger`` (exact CPU seconds per window)
differ only in what one reading does; the thread, the stop and the PID listing live here.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Self

PidSource = Callable[[], Iterable[int]]


class PeriodicReader:
    """``with Reader(components) as r: run()``: read on entry, every ``interval_s``, and on exit.

    ``_read(first=True)`` on entry, ``_read()`` on a daemon thread and once more on exit, so a run
    shorter than the interval still gets a reading.
    """

    thread_name = "periodic-reader"

    def __init__(self, components: Mapping[str, PidSource], interval_s: float = 0.5) -> None:
        self.components = dict(components)
        self.interval_s = interval_s
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

    def _listed(self) -> Iterator[tuple[str, list[int]]]:
        """(component, its PIDs now); a component that cannot be listed right now (restarting) is skipped."""
        for name, source in self.components.items():
            try:
                pids = list(source())
            except Exception:
                continue
            yield name, pids

    def _read(self, first: bool = False) -> None:
        """One reading of every component; ``first`` is the reading on entry."""
        raise NotImplementedError
