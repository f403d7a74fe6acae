"""The one runner every chaos scenario shares.

``run_scenario(chaos, scenario)``: make the runtime healthy with all nine consumers, note the
topics' end offsets, start the load (``apps.chaos.load``), inject the scenario's fault a quarter
into the load, restore the runtime (always, in ``finally``), wait for the load to end and the
lag to reach zero, then measure the run (``apps.chaos.measure``) and run ``verify``.

Recovery time is the seconds from the moment the fault is lifted (broker restarted or resumed,
database started, consumers started, producer killed) until the consumer groups have committed
everything that had been produced by then: the backlog the fault left is worked off. The same
moment is also given from the fault's start (what a user of the pipeline lives through).

A scenario passes only when its counts are right, the load delivered every event (exit 0) and
``verify`` passed (when it runs: ``Chaos.verify``).
The runtime is left with the consumers it had before.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from apps.chaos import health
from apps.chaos.measure import Counts, high_watermarks, measure
from apps.runtime.local import LocalRuntime
from apps.verify import verify
from common.settings import PROJECT_ROOT, KafkaSettings
from kafka.offsets import partition_offsets
from kafka.topics import ALL_TOPICS, CONSUMER_GROUPS

CATALOGUE = 30  # fresh users and products the load publishes first


@dataclass
class Chaos:
    """What every scenario runs against, and how hard."""

    runtime: LocalRuntime
    kafka: KafkaSettings
    database_url: str
    rate: float = 200.0
    duration_s: float = 60.0
    fault_s: float = 30.0
    timeout_s: float = 300.0
    verify: bool = True
    tail_s: float | None = None  # set: the load stops this long after the runtime is restored, at the latest

    @property
    def workdir(self) -> Path:
        path = self.runtime.settings.runtime_dir / "chaos"
        path.mkdir(parents=True, exist_ok=True)
        return path


@dataclass
class Run:
    """One scenario in progress; a fault calls ``lifted()`` when the broken part is given back."""

    chaos: Chaos
    load: subprocess.Popen
    fault_at: float | None = None
    lifted_at: float | None = None

    def lifted(self) -> None:
        self.lifted_at = time.monotonic()


@dataclass(frozen=True)
class Scenario:
    """A named fault; ``poison`` makes the load mix 1% rejects into every topic."""

    name: str
    fault: Callable[[Run], None]
    summary: str
    poison: bool = False
    kills_load: bool = False  # the fault SIGKILLs the load: what it had acknowledged is all it owes


@dataclass
class ChaosResult:
    """One row of the chaos table."""

    scenario: str
    counts: Counts
    recovery_s: float | None
    drain_s: float
    max_lag: int
    load_exit: int | None
    verify_ok: bool | None = None  # None: verify was not run
    recovery_from_start_s: float | None = None
    delivered: bool = True  # the load exited 0: every event it sent was acknowledged

    @property
    def ok(self) -> bool:
        """Counts right, every event delivered by the load, and verify passed (if it ran)."""
        return self.counts.ok and self.delivered and self.verify_ok is not False


class LagMonitor(threading.Thread):
    """Samples every group's position once a second; a failed sample (broker down) is skipped."""

    def __init__(self, settings: KafkaSettings) -> None:
        super().__init__(daemon=True, name="lag-monitor")
        self.settings, self.done = settings, threading.Event()
        self.samples: list[tuple[float, dict[tuple[str, int], int], dict[tuple[str, int], int]]] = []

    def run(self) -> None:
        while not self.done.wait(1.0):
            highs, positions = {}, {}
            try:
                for topic, group in CONSUMER_GROUPS.items():
                    for p in partition_offsets(self.settings, topic, group):
                        highs[(topic, p.partition)], positions[(topic, p.partition)] = p.high, p.high - p.lag
            except Exception:  # noqa: BLE001, S112 - a broker is down or frozen: no sample this second
                continue
            self.samples.append((time.monotonic(), highs, positions))

    @property
    def max_lag(self) -> int:
        return max((sum(h.values()) - sum(c.values()) for _, h, c in self.samples), default=0)

    def recovered_after(self, since: float) -> float | None:
        """Seconds from ``since`` until the groups have committed everything produced before ``since``.

        The end offsets of the first sample taken after ``since`` stand for "before": recovery is
        the backlog the fault left behind, worked off, independent of the steady-state lag.
        """
        later = [(t, h, c) for t, h, c in self.samples if t >= since]
        if not later:
            return None
        target = later[0][1]
        return next((round(t - since, 1) for t, _, c in later if all(c[k] >= v for k, v in target.items())), None)


def start_load(chaos: Chaos, ledger: Path, poison: bool) -> subprocess.Popen:
    """The load as a child process, so ``producer-kill`` can SIGKILL it like the real generator."""
    argv = [sys.executable, "-m", "apps.chaos.load", "--rate", str(chaos.rate), "--duration", str(chaos.duration_s),
            "--ledger", str(ledger), "--catalogue", str(CATALOGUE),
            "--poison-every", "100" if poison else "0"]  # fmt: skip
    env = {**os.environ, "PIPELINE_KAFKA_BOOTSTRAP_SERVERS": chaos.kafka.bootstrap_servers}
    with ledger.with_suffix(".log").open("w") as log:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(argv, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def _lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def _end_load(run: Run) -> int:
    """The load's exit code once it ends: at its duration, or ``tail_s`` after the restore.

    With ``tail_s`` the load still runs before, during and after the fault; it is stopped with
    SIGTERM (it flushes, and exits 0 when Kafka acknowledged everything it sent) instead of
    producing on for the rest of a duration sized for the longest fault. A fault that lifts
    nothing (``poison``) keeps the whole duration.
    """
    chaos = run.chaos
    if chaos.tail_s is not None and run.lifted_at is not None:
        try:
            return run.load.wait(chaos.tail_s)
        except subprocess.TimeoutExpired:
            run.load.send_signal(signal.SIGTERM)
    return run.load.wait(chaos.duration_s + chaos.timeout_s)


def run_scenario(chaos: Chaos, scenario: Scenario) -> ChaosResult:
    """Load, fault, recover, wait for lag zero, measure; the runtime is restored even on failure."""
    runtime, settings = chaos.runtime, chaos.kafka
    consumers_before = health.running(runtime, "consumers")
    every_consumer = set(runtime.names("consumers"))
    topics = [spec.name for spec in ALL_TOPICS]
    ledger = chaos.workdir / f"{scenario.name}-{datetime.now(UTC):%Y%m%dT%H%M%S}.ledger"
    monitor = LagMonitor(settings)
    try:
        health.restore(runtime, settings, every_consumer, chaos.timeout_s)
        health.wait_for(lambda: set(health.members(settings).values()) == {3}, 120, "three members in every group")
        start = high_watermarks(settings, topics)
        monitor.start()
        run = Run(chaos, start_load(chaos, ledger, scenario.poison))
        try:
            health.wait_for(lambda: _lines(ledger) >= 2 * CATALOGUE, 120, "the load's catalogue to be acknowledged")
            time.sleep(chaos.duration_s / 4)
            run.fault_at = time.monotonic()
            scenario.fault(run)
        except BaseException:
            run.load.kill()  # a failed scenario must not leave its load running
            raise
        finally:
            health.restore(runtime, settings, every_consumer, chaos.timeout_s)
        try:
            load_exit = _end_load(run)
        finally:
            if run.load.poll() is None:
                run.load.kill()
        load_ended = time.monotonic()
        health.wait_for(lambda: health.total_lag(settings) == 0, chaos.timeout_s, "consumer lag zero", 1.0)
        caught_up = time.monotonic()
        drain_s = round(caught_up - load_ended, 1)
        health.wait_for(lambda: monitor.samples[-1][0] > caught_up, 60, "a position sample at lag zero")
        monitor.done.set()
        end = high_watermarks(settings, topics)
        counts = measure(settings, chaos.database_url, start, end, ledger)
        recovery = monitor.recovered_after(run.lifted_at) if run.lifted_at else None
        result = ChaosResult(scenario.name, counts, recovery, drain_s, monitor.max_lag, load_exit)
        result.delivered = load_exit == 0 or (scenario.kills_load and load_exit == -signal.SIGKILL)
        if recovery is not None and run.fault_at is not None and run.lifted_at is not None:
            result.recovery_from_start_s = round(run.lifted_at - run.fault_at + recovery, 1)
        if chaos.verify:
            result.verify_ok = verify(settings, chaos.database_url).exit_code == 0
        return result
    finally:
        monitor.done.set()
        health.restore(runtime, settings, consumers_before, chaos.timeout_s)
