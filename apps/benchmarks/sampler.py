"""CPU and memory per component, sampled with psutil on a background thread while a run lasts.

A component is a name and a function returning its PIDs now (consumers come and go, PostgreSQL
forks a backend per connection), so the PID list is refreshed on every sample. CPU is in percent
of one core (200 % = both cores of a 2-core machine); memory is the summed RSS.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import psutil

PidSource = Callable[[], Iterable[int]]


@dataclass
class Usage:
    """Samples of one component: CPU percent of one core, RSS in MB."""

    cpu: list[float] = field(default_factory=list)
    rss_mb: list[float] = field(default_factory=list)

    @property
    def cpu_mean(self) -> float:
        return sum(self.cpu) / len(self.cpu) if self.cpu else float("nan")

    @property
    def rss_peak_mb(self) -> float:
        return max(self.rss_mb) if self.rss_mb else float("nan")


def with_children(pids: Iterable[int]) -> list[int]:
    """The PIDs and all their descendants (PostgreSQL backends, supervisord children)."""
    found: list[int] = []
    for pid in pids:
        try:
            process = psutil.Process(pid)
            found += [pid, *(c.pid for c in process.children(recursive=True))]
        except psutil.Error:
            continue
    return found


class ResourceSampler:
    """``with ResourceSampler({"app": lambda: [os.getpid()]}) as s: ...``; then ``s.usage``."""

    def __init__(self, components: dict[str, PidSource], interval_s: float = 0.5) -> None:
        self.components = components
        self.interval_s = interval_s
        self.usage: dict[str, Usage] = {name: Usage() for name in components}
        self._processes: dict[int, psutil.Process] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="resource-sampler", daemon=True)

    def __enter__(self) -> ResourceSampler:
        self._sample(record=False)  # prime every CPU counter: the first sample covers a real interval
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sample()  # a run shorter than the interval still gets one sample

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._sample()

    def _sample(self, record: bool = True) -> None:
        """One reading of every component; a process seen for the first time only primes its counter."""
        for name, source in self.components.items():
            try:
                pids = list(source())
            except Exception:  # a component that cannot be listed right now (restarting)
                continue
            cpu = rss = 0.0
            for pid in pids:
                try:
                    process = self._processes.get(pid)
                    if process is None:
                        process = self._processes[pid] = psutil.Process(pid)
                    cpu += process.cpu_percent(None)  # since the previous call on this object
                    rss += process.memory_info().rss / 1e6
                except psutil.Error:
                    self._processes.pop(pid, None)
            if pids and record:
                self.usage[name].cpu.append(cpu)
                self.usage[name].rss_mb.append(rss)


def supervised(runtime: object, pattern: str) -> PidSource:
    """PIDs (with children) of the runtime's running programs whose name matches ``pattern``."""
    name = re.compile(pattern)

    def pids() -> list[int]:
        supervisor = getattr(runtime, "supervisor", None)
        if supervisor is None:
            return []
        return with_children(i["pid"] for i in supervisor.info() if name.fullmatch(i["name"]) and i["pid"])

    return pids


def supervises(runtime: object | None, program: str) -> bool:
    """Whether ``runtime``'s supervisord runs ``program``: on external services it runs no ``postgres``."""
    supervisor = getattr(runtime, "supervisor", None)
    return supervisor is not None and any(i["name"] == program for i in supervisor.info())
