"""CPU and memory per component, sampled with psutil on a background thread while a run lasts.

A component is a name and a function returning its PIDs now (consumers come and go, PostgreSQL
forks a backend per connection), so the PID list is refreshed on every sample. CPU is in percent
of one core (200 % = both cores of a 2-core machine); memory is the summed RSS.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterable, Mapping
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


def children_map() -> dict[int, list[int]]:
    """Parent PID -> child PIDs of every process on the machine, from one pass over ``/proc``."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as handle:
                parent = int(handle.read().rsplit(b")", 1)[1].split(maxsplit=2)[1])
        except (OSError, IndexError, ValueError):  # gone meanwhile, or not ours to read
            continue
        children.setdefault(parent, []).append(int(entry.name))
    return children


def with_children(pids: Iterable[int], children: Mapping[int, list[int]]) -> list[int]:
    """The PIDs and all their descendants (PostgreSQL backends, supervisord children)."""
    found: list[int] = []
    stack = list(pids)
    while stack:
        pid = stack.pop()
        found.append(pid)
        stack += children.get(pid, ())
    return found


class ProcessSnapshot:
    """Supervisord's programs and the machine's process tree, read at most every ``max_age_s``.

    Both resource readers list every component at each reading, within a few milliseconds of each
    other. When each component asked supervisord and walked ``/proc`` on its own (eight times a
    reading in a Kafka ON run), the listing took a third of the benchmark process's CPU, which the
    report counts as the application's (py-spy, 2026-12-01); one snapshot now serves them all.
    """

    def __init__(self, runtime: object, max_age_s: float = 0.4) -> None:
        self.runtime, self.max_age_s = runtime, max_age_s
        self._lock = threading.Lock()
        self._read_at = float("-inf")
        self._programs: list[dict] = []
        self._children: dict[int, list[int]] = {}

    def read(self) -> tuple[list[dict], dict[int, list[int]]]:
        """(supervisord's program infos, parent -> children), at most ``max_age_s`` old."""
        with self._lock:
            if time.monotonic() - self._read_at >= self.max_age_s:
                supervisor = getattr(self.runtime, "supervisor", None)
                self._programs = supervisor.info() if supervisor is not None else []
                self._children = children_map()
                self._read_at = time.monotonic()
            return self._programs, self._children


# one per runtime, shared by all its sources; each holds its runtime, so the id is never reused
_snapshots: dict[int, ProcessSnapshot] = {}


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
    snapshot = _snapshots.setdefault(id(runtime), ProcessSnapshot(runtime))

    def pids() -> list[int]:
        programs, children = snapshot.read()
        return with_children((i["pid"] for i in programs if name.fullmatch(i["name"]) and i["pid"]), children)

    return pids


def supervises(runtime: object | None, program: str) -> bool:
    """Whether ``runtime``'s supervisord runs ``program``: on external services it runs no ``postgres``."""
    supervisor = getattr(runtime, "supervisor", None)
    return supervisor is not None and any(i["name"] == program for i in supervisor.info())
