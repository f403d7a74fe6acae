"""CPU and memory per component, sampled with psutil on a background thread while a run lasts.

A component is a name and a function returning its PIDs now (consumers come and go, PostgreSQL
forks a backend per connection), so the PID list is refreshed on every sample. CPU is in percent
of one core (200 % = both cores of a 2-core machine); memory is the summed RSS.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import psutil

from apps.benchmarks.periodic import PeriodicReader, PidSource


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


class ResourceSampler(PeriodicReader):
    """``with ResourceSampler({"app": lambda: [os.getpid()]}) as s: ...``; then ``s.usage``."""

    thread_name = "resource-sampler"

    def __init__(self, components: dict[str, PidSource], interval_s: float = 0.5, relist_s: float = 0) -> None:
        super().__init__(components, interval_s, relist_s)
        self.usage: dict[str, Usage] = {name: Usage() for name in components}
        self._processes: dict[int, psutil.Process] = {}

    def _read(self, first: bool = False) -> None:
        """One sample of every component; ``first`` (on entry) and a new process only prime CPU counters.

        So every recorded sample covers a real interval.
        """
        for name, pids in self._listed():
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
            if pids and not first:
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
