"""CPU seconds per process from ``/proc/<pid>/stat``, read before and after a run: where the time goes.

psutil's sampled percentages (``sampler.py``) show load over time; this ledger gives the exact
``utime + stime`` each process spent inside a window, every thread included (librdkafka's,
the JVM's), so a stage's CPU per event is ``seconds / events``. A process that appears during
the window counts from zero; one that ends inside it is counted up to its last reading.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from apps.benchmarks.common import Measurement
from apps.benchmarks.periodic import PeriodicReader, PidSource

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float | None:
    """``utime + stime`` of ``pid`` in seconds (all its threads); None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / TICKS  # fields 14 and 15 of proc(5), after pid and comm


class CpuLedger(PeriodicReader):
    """``with CpuLedger({"kafka-1": pids, ...}) as ledger: run()``; then ``ledger.seconds``.

    Re-reads every 0.5 s so processes that start or end within the window are counted too.
    """

    thread_name = "cpu-ledger"

    def __init__(self, components: Mapping[str, PidSource], interval_s: float = 0.5) -> None:
        super().__init__(components, interval_s)
        self._first: dict[tuple[str, int], float] = {}
        self._last: dict[tuple[str, int], float] = {}

    def _read(self, first: bool = False) -> None:
        for name, pids in self._listed():
            for pid in pids:
                seconds = cpu_seconds(pid)
                if seconds is None:
                    continue
                self._first.setdefault((name, pid), seconds if first else 0.0)
                self._last[(name, pid)] = seconds

    @property
    def observed(self) -> bool:
        """At least one process was read (False when no component had a PID, e.g. brokers not ours)."""
        return bool(self._last)

    @property
    def seconds(self) -> dict[str, float]:
        """CPU seconds each component spent inside the window."""
        spent: dict[str, float] = dict.fromkeys(self.components, 0.0)
        for key, last in self._last.items():
            spent[key[0]] += max(0.0, last - self._first.get(key, 0.0))
        return spent

    def per_event(self, scenario: str, mode: str, events: int) -> list[Measurement]:
        """``cpu_us_per_event_<component>`` rows (and the total), for components that ran."""
        spent = {name: s for name, s in self.seconds.items() if any(k[0] == name for k in self._last)}
        rows = [
            Measurement(scenario, mode, f"cpu_us_per_event_{name}", s / events * 1e6, "us/event")
            for name, s in spent.items()
        ]
        total = sum(spent.values()) / events * 1e6 if events else float("nan")
        return [*rows, Measurement(scenario, mode, "cpu_us_per_event_total", total, "us/event")]
